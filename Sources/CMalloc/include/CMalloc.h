#ifndef COUNTERFOIL_CMALLOC_H
#define COUNTERFOIL_CMALLOC_H

/// glibc's malloc tuning, which Swift's Glibc module does not bring in.
/// Keeps up to `bytes` of freed memory at the top of each heap instead of giving it back
/// to the kernel at once (M_TRIM_THRESHOLD). Returns 1 when set, 0 where unsupported.
int counterfoil_malloc_trim_threshold(int bytes);

/// Puts the calling thread alone in SCHED_BATCH (Linux schedules threads as tasks of
/// their own): CPU-bound work the scheduler does not let preempt others on waking, with
/// the same share of the CPU as any other thread. Returns 0 when set, -1 where
/// unsupported or refused.
int counterfoil_set_thread_batch(void);

#endif
