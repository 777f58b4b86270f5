#include "smart1,2.h"
#include "with space.h"
int main(void) { return 0; }
