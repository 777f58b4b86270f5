#include_next <limits.h>
