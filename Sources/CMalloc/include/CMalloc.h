#ifndef COUNTERFOIL_CMALLOC_H
#define COUNTERFOIL_CMALLOC_H

/// glibc's malloc tuning, which Swift's Glibc module does not bring in.
/// Keeps up to `bytes` of freed memory at the top of each heap instead of giving it back
/// to the kernel at once (M_TRIM_THRESHOLD). Returns 1 when set, 0 where unsupported.
int counterfoil_malloc_trim_threshold(int bytes);

#endif
