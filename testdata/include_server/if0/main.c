#if 0
#include "does_not_exist.h"
#endif
int main(void) { return 0; }
