#include_next <w.h>
#define FROM_A 1
