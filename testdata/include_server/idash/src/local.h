#error "src/local.h is hidden by -I-"
