#include <w.h>
#include <limits.h>
int main(void) { return FROM_A + FROM_B + FROM_C; }
