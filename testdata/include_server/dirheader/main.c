#include <thing.h>
int main(void) { return 0; }
