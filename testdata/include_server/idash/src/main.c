#include "local.h"
#include <b.h>
int main(void) { return 0; }
