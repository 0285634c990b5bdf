#define _GNU_SOURCE  // SCHED_BATCH
#include "CMalloc.h"
#include <stdlib.h>  // defines __GLIBC__ where glibc is the C library

#if defined(__linux__)
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

int counterfoil_set_thread_batch(void) {
    struct sched_param param = { .sched_priority = 0 };
    return sched_setscheduler((pid_t)syscall(SYS_gettid), SCHED_BATCH, &param);
}
#else
int counterfoil_set_thread_batch(void) {
    return -1;
}
#endif

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
