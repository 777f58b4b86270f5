#define FROM_C 1
