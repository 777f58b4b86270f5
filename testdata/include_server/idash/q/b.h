#error "q/b.h is not on the <> path"
