#include "farm/hdr.h"
#include "farm/sub/x.h"
int main(void) { return 0; }
