#include "config.h"
#define STR(x) #x
#define XSTR(x) STR(x)
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#include PLATFORM_HEADER
#include XSTR(CAT(plat_, VARIANT).h)
#define HDR(n) <n.h>
#include HDR(angled)
int main(void) { return 0; }
