#include "empty/../up.h"
int main(void) { return 0; }
