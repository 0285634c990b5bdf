// Byte-class bitmaps for the FIX parser: a vector compare gathered into a bit mask
// (pmovmskb on x86), which Swift cannot yet say portably. Header-only and
// `static inline`, so that it is compiled into the Swift caller; a scalar loop
// covers other processors.
#ifndef COUNTERFOIL_CFIXSCAN_H
#define COUNTERFOIL_CFIXSCAN_H

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Sets bit (i % 64) of out[i / 64] for every i in [0, n) where bytes[i] == needle,
/// and clears every other bit of the (n + 63) / 64 words written.
static inline void cf_mark_bytes(const uint8_t *bytes, size_t n, uint8_t needle, uint64_t *out) {
    size_t i = 0;
    size_t w = 0;
    uint64_t word = 0;
    unsigned bit = 0;
#if defined(__SSE2__)
    const __m128i pattern = _mm_set1_epi8((char)needle);
    for (; i + 64 <= n; i += 64, w++) {
        const __m128i a = _mm_loadu_si128((const __m128i *)(bytes + i));
        const __m128i b = _mm_loadu_si128((const __m128i *)(bytes + i + 16));
        const __m128i c = _mm_loadu_si128((const __m128i *)(bytes + i + 32));
        const __m128i d = _mm_loadu_si128((const __m128i *)(bytes + i + 48));
        const uint64_t ma = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, pattern));
        const uint64_t mb = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(b, pattern));
        const uint64_t mc = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(c, pattern));
        const uint64_t md = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(d, pattern));
        out[w] = ma | (mb << 16) | (mc << 32) | (md << 48);
    }
    /* The last, partial word: sixteen bytes at a time while they last. */
    for (; i + 16 <= n; i += 16, bit += 16) {
        const __m128i a = _mm_loadu_si128((const __m128i *)(bytes + i));
        word |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, pattern)) << bit;
    }
#endif
    for (; i < n; i++) {
        word |= (uint64_t)(bytes[i] == needle) << bit;
        if (++bit == 64) {
            out[w++] = word;
            word = 0;
            bit = 0;
        }
    }
    if (bit != 0) out[w] = word;
}

#endif
