#if __has_include("maybe.h")
#define HAVE_MAYBE 1
#endif
int main(void) { return 0; }
