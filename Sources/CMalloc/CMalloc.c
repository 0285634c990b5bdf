#include "CMalloc.h"
#include <stdlib.h>  // defines __GLIBC__ where glibc is the C library

#if defined(__GLIBC__)
#include <malloc.h>

int counterfoil_malloc_trim_threshold(int bytes) {
    return mallopt(M_TRIM_THRESHOLD, bytes);
}
#else
int counterfoil_malloc_trim_threshold(int bytes) {
    (void)bytes;
    return 0;
}
#endif
