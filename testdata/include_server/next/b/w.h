#include_next <w.h>
#define FROM_B 1
