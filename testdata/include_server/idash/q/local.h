/* q/local.h */
