/* #include "no.h" */
// #include "no2.h"
/* c */ #include "yes.h"
#inc\
lude "cont.h"
static const char *s = "/*";
#include "after_string.h"
static const char *t = "éÿ";
#include "latin1.h"
int main(void) { return s[0] + t[0]; }
