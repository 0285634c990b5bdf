// Byte-level helpers for the FIX and FAST codecs, header-only and `static inline` so
// that they are compiled into the Swift caller:
// - byte-class bitmaps for the FIX parser: a vector compare gathered into a bit mask
//   (pmovmskb on x86), which Swift cannot yet say portably; a scalar loop covers
//   other processors;
// - short copies for the encoder and the FAST decoder's output.
#ifndef COUNTERFOIL_CFIXSCAN_H
#define COUNTERFOIL_CFIXSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
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

/// Copies n bytes from src to dst. Short runs (most field values) go by two overlapping
/// loads and stores that read nothing outside [src, src + n), not by a call to memcpy.
static inline void cf_copy_short(void *dst, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    if (n >= 8 && n <= 16) {
        uint64_t head, tail;
        memcpy(&head, s, 8);
        memcpy(&tail, s + n - 8, 8);
        memcpy(d, &head, 8);
        memcpy(d + n - 8, &tail, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t head, tail;
        memcpy(&head, s, 4);
        memcpy(&tail, s + n - 4, 4);
        memcpy(d, &head, 4);
        memcpy(d + n - 4, &tail, 4);
    } else if (n >= 2 && n < 4) {
        uint16_t head, tail;
        memcpy(&head, s, 2);
        memcpy(&tail, s + n - 2, 2);
        memcpy(d, &head, 2);
        memcpy(d + n - 2, &tail, 2);
    } else if (n == 1) {
        d[0] = s[0];
    } else if (n > 16) {
        memcpy(d, s, n);
    }
}

#endif
