/* SPDX-License-Identifier: MIT */
/*
 * rectify-avx2.c — the remap kernel for x86-64 CPUs with AVX2, chosen at run time by rectify.c
 * (this file is built without -mavx2: only these functions use AVX2 instructions). Same bytes as
 * rectify_row_scalar().
 *
 * Eight output pixels at a time: two gathers fetch the 32-bit words at the top-left neighbour
 * and at the one below it; a byte shuffle spreads each word's first two bytes into 16-bit lanes,
 * and three pmaddwd blend them: horizontally with (32 − fx, fx), then top and bottom with
 * (32 − fy, fy). Every product fits: a pixel times 32 in 16 bits, the final sum (at most
 * 255 · 1024) in 32.
 */
#if defined(__x86_64__)
#include <immintrin.h>

#include "rectify-kernels.h"

#define AVX2 __attribute__((target("avx2")))

static inline AVX2 __m256i blend8(const uint32_t *map, const uint8_t *src, int stride, __m256i border) {
        const __m256i outside = _mm256_set1_epi32(-1), mask = _mm256_set1_epi32(RECTIFY_FRAC_MASK);
        const __m256i c32 = _mm256_set1_epi32(32), round = _mm256_set1_epi32(512);
        /* bytes 0 and 1 of each 32-bit word into its two 16-bit halves */
        const __m256i spread = _mm256_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1, 0, -1, 1, -1,
                                                4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1);
        __m256i e = _mm256_loadu_si256((const __m256i *) map);
        __m256i out = _mm256_cmpeq_epi32(e, outside);
        /* pixels outside read the plane's first bytes instead, and are replaced by @border */
        __m256i off = _mm256_andnot_si256(out, _mm256_srli_epi32(e, RECTIFY_OFFSET_SHIFT));
        __m256i t = _mm256_i32gather_epi32((const int *) src, off, 1);
        __m256i b = _mm256_i32gather_epi32((const int *) (src + stride), off, 1);
        __m256i fx = _mm256_and_si256(e, mask), fy = _mm256_and_si256(_mm256_srli_epi32(e, RECTIFY_FRAC_BITS), mask);
        __m256i wx = _mm256_or_si256(_mm256_sub_epi32(c32, fx), _mm256_slli_epi32(fx, 16));
        __m256i wy = _mm256_or_si256(_mm256_sub_epi32(c32, fy), _mm256_slli_epi32(fy, 16));
        __m256i top = _mm256_madd_epi16(_mm256_shuffle_epi8(t, spread), wx);
        __m256i bot = _mm256_madd_epi16(_mm256_shuffle_epi8(b, spread), wx);
        __m256i v = _mm256_madd_epi16(_mm256_or_si256(top, _mm256_slli_epi32(bot, 16)), wy);
        v = _mm256_srli_epi32(_mm256_add_epi32(v, round), 10);
        return _mm256_blendv_epi8(v, border, out);
}

AVX2 void rectify_row_avx2(const uint32_t *restrict map, unsigned n, const uint8_t *src, int stride,
                           uint8_t *restrict dst, uint8_t border) {
        const __m256i b = _mm256_set1_epi32(border);
        unsigned u = 0;

        for (; u + 16 <= n; u += 16) {
                __m256i lo = blend8(map + u, src, stride, b), hi = blend8(map + u + 8, src, stride, b);
                /* 16 values of 32 bits to 16 bytes; packus works within 128-bit lanes, hence the permute */
                __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
                __m128i px = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
                _mm_storeu_si128((__m128i *) (dst + u), px);
        }
        rectify_row_scalar(map + u, n - u, src, stride, dst + u, border);
}
#endif
