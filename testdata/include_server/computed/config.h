#ifndef CONFIG_H
#define CONFIG_H
#ifdef USE_A
#define PLATFORM_HEADER "plat_a.h"
#define VARIANT x
#else
#define PLATFORM_HEADER "plat_b.h"
#define VARIANT y
#endif
#endif
