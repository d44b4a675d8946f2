/* SPDX-License-Identifier: MIT */
/*
 * rectify-avx2.c — the remap kernels for x86-64 CPUs with AVX2, chosen at run time by rectify.c
 * (this file is built without -mavx2: only these functions use AVX2 instructions). Same bytes as
 * the scalar reference (rectify_expand_scalar() then rectify_row_scalar()).
 *
 * Eight output pixels at a time. The row's cells (rectify-kernels.h: a start and a slope per
 * grid cell, x and y) are laid out first; each lane takes its cell's with vpermd (the same cell
 * for all eight at steps of 8 and 16, two to eight cells at 4, 2, 1), its prediction is start +
 * slope × its place in the cell, and the eight codes of one word (vpsrlvd) correct it. The four
 * bytes at each top-left neighbour and at the one below it are gathered (two vpgatherdd of 32-bit
 * words at p and p + stride; the first two bytes of each are used), widened to one byte per 16-bit
 * half of a 32-bit lane, and three pmaddwd blend them: horizontally with (32 − fx, fx), then top
 * and bottom with (32 − fy, fy). Every product fits: a pixel times 32 in 16 bits, the final sum
 * (at most 255 · 1024) in 32. On this project's Intel Xeon the gathers take 3.5 ms a 2×1280×720
 * frame against 5.0 ms for the two bytes inserted lane by lane (pinsrw), which the whole maps'
 * kernel used (gathers were microcoded on the AMD EPYC it was written on: 2.9 ms against 1.5).
 * Expanding the entries into a buffer first and remapping them as a second pass took 5.8 ms
 * against 3.5 for the fused kernel (the same loaded machine).
 */
#if defined(__x86_64__)
#include <immintrin.h>

#include "rectify-kernels.h"

#define AVX2 __attribute__((target("avx2")))

/* What eight pixels of a row share: the source, the cells, the constants. */
struct row8 {
        const uint8_t *src;
        int stride;
        const struct rectify_cells *cells;
        const uint32_t *codes; /* the row's, from pixel u0 */
        __m256i cell_lane, frac_lane, mask, vstride, border;
        __m128i qshift;
        unsigned shift;
};

static inline __attribute__((always_inline)) AVX2 __m256i blend8(const struct row8 *w, unsigned s) {
        const __m256i nibbles = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
        const __m256i fifteen = _mm256_set1_epi32(RECTIFY_CODE_OUTSIDE), three = _mm256_set1_epi32(3);
        const __m256i frac = _mm256_set1_epi32(RECTIFY_FRAC_MASK), c32 = _mm256_set1_epi32(32);
        const struct rectify_cells *k = w->cells;
        const unsigned cell = s >> w->shift;
        /* the lanes' places in their cells: at a step of 16, the second eight are 8 on */
        __m256i f = _mm256_add_epi32(w->frac_lane, _mm256_set1_epi32((int) (s & ((1u << w->shift) - 1) & ~7u)));
        __m256i bx, dx, by, dy;
        if (w->shift >= 3) { /* one cell: broadcasts from memory */
                bx = _mm256_set1_epi32(k->bx[cell]);
                dx = _mm256_set1_epi32(k->dx[cell]);
                by = _mm256_set1_epi32(k->by[cell]);
                dy = _mm256_set1_epi32(k->dy[cell]);
        } else {
                bx = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *) (k->bx + cell)), w->cell_lane);
                dx = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *) (k->dx + cell)), w->cell_lane);
                by = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *) (k->by + cell)), w->cell_lane);
                dy = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *) (k->dy + cell)), w->cell_lane);
        }
        __m256i c = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int) w->codes[s / 8]), nibbles), fifteen);
        /* the starts hold the rounding and the −1 of the codes' (dx + 1) */
        __m256i qx = _mm256_add_epi32(_mm256_sra_epi32(_mm256_add_epi32(bx, _mm256_mullo_epi32(dx, f)), w->qshift),
                                      _mm256_and_si256(c, three));
        __m256i qy = _mm256_add_epi32(_mm256_sra_epi32(_mm256_add_epi32(by, _mm256_mullo_epi32(dy, f)), w->qshift),
                                      _mm256_srli_epi32(c, 2));
        __m256i out = _mm256_cmpeq_epi32(c, fifteen);
        /* sx + (sy & mask) · stride with one pmaddwd: both fit 16 bits (rectify_new() checks the size) */
        __m256i sxy = _mm256_or_si256(_mm256_srli_epi32(qx, RECTIFY_FRAC_BITS),
                                      _mm256_slli_epi32(_mm256_and_si256(qy, w->mask), 16 - RECTIFY_FRAC_BITS));
        __m256i off = _mm256_andnot_si256(out, _mm256_madd_epi16(sxy, w->vstride));
        /* the four bytes at each top-left neighbour and below it; its pair (p[0], p[1]) as the
         * two 16-bit halves of each 32-bit lane */
        const __m256i pair = _mm256_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1, 0, -1, 1, -1, 4,
                                              -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1);
        __m256i t = _mm256_shuffle_epi8(_mm256_i32gather_epi32((const int *) w->src, off, 1), pair);
        __m256i b = _mm256_shuffle_epi8(_mm256_i32gather_epi32((const int *) (w->src + w->stride), off, 1), pair);
        __m256i fx = _mm256_and_si256(qx, frac), fy = _mm256_and_si256(qy, frac);
        __m256i wx = _mm256_or_si256(_mm256_sub_epi32(c32, fx), _mm256_slli_epi32(fx, 16));
        __m256i wy = _mm256_or_si256(_mm256_sub_epi32(c32, fy), _mm256_slli_epi32(fy, 16));
        /* (p[0], p[1]) as the two 16-bit halves of each 32-bit lane */
        __m256i top = _mm256_madd_epi16(t, wx);
        __m256i bot = _mm256_madd_epi16(b, wx);
        __m256i v = _mm256_madd_epi16(_mm256_or_si256(top, _mm256_slli_epi32(bot, 16)), wy);
        v = _mm256_srli_epi32(_mm256_add_epi32(v, _mm256_set1_epi32(512)), 10);
        return _mm256_blendv_epi8(v, w->border, out);
}

/* rectify_row_cells(), four cells at a time: the nodes' rows blended (x, y interleaved), the next
 * node's the same way, then split into x and y (the same integers as the scalar loop). */
static AVX2 void row_cells(const struct rectify_map *m, unsigned v, unsigned u0, unsigned n,
                           struct rectify_cells *ret) {
        const unsigned g = m->shift, step = 1u << g, t = v & (step - 1), c0 = u0 >> g;
        const unsigned nc = ((u0 + n - 1) >> g) - c0 + 1;
        const int32_t *n0 = m->nodes + ((size_t) (v >> g) * m->nodes_w + c0) * 2, *n1 = n0 + (size_t) m->nodes_w * 2;
        const __m256i w0 = _mm256_set1_epi32((int) (step - t)), wt = _mm256_set1_epi32((int) t);
        const __m256i start = _mm256_set1_epi32((int) ((1u << (4 + 2 * g)) - (1u << (5 + 2 * g))));
        const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        const __m128i shift = _mm_cvtsi32_si128((int) g);
        unsigned k = 0;

        /* the last loads read one node past the cells: nodes_w holds it (rectify.h) */
        for (; k + 4 <= nc; k += 4) {
                __m256i a =
                        _mm256_add_epi32(_mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *) (n0 + 2 * k)), w0),
                                         _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *) (n1 + 2 * k)), wt));
                __m256i b = _mm256_add_epi32(
                        _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *) (n0 + 2 * k + 2)), w0),
                        _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *) (n1 + 2 * k + 2)), wt));
                __m256i base = _mm256_permutevar8x32_epi32(_mm256_add_epi32(_mm256_sll_epi32(a, shift), start), split);
                __m256i slope = _mm256_permutevar8x32_epi32(_mm256_sub_epi32(b, a), split);
                _mm_storeu_si128((__m128i *) (ret->bx + k), _mm256_castsi256_si128(base));
                _mm_storeu_si128((__m128i *) (ret->by + k), _mm256_extracti128_si256(base, 1));
                _mm_storeu_si128((__m128i *) (ret->dx + k), _mm256_castsi256_si128(slope));
                _mm_storeu_si128((__m128i *) (ret->dy + k), _mm256_extracti128_si256(slope, 1));
        }
        for (; k < nc; k++) { /* the last few as rectify_row_cells() does them */
                const int32_t iw0 = (int32_t) (step - t), iwt = (int32_t) t;
                uint32_t ax = (uint32_t) (n0[2 * k] * iw0 + n1[2 * k] * iwt);
                uint32_t ay = (uint32_t) (n0[2 * k + 1] * iw0 + n1[2 * k + 1] * iwt);
                uint32_t bx = (uint32_t) (n0[2 * k + 2] * iw0 + n1[2 * k + 2] * iwt);
                uint32_t by = (uint32_t) (n0[2 * k + 3] * iw0 + n1[2 * k + 3] * iwt);
                uint32_t first = (1u << (4 + 2 * g)) - (1u << (5 + 2 * g));
                ret->bx[k] = (int32_t) ((ax << g) + first);
                ret->dx[k] = (int32_t) (bx - ax);
                ret->by[k] = (int32_t) ((ay << g) + first);
                ret->dy[k] = (int32_t) (by - ay);
        }
        for (unsigned i = nc; i < nc + 8; i++)
                ret->bx[i] = ret->dx[i] = ret->by[i] = ret->dy[i] = 0;
}

AVX2 void rectify_remap_avx2(const struct rectify_map *m, unsigned v, const uint8_t *src, int stride, unsigned row_mask,
                             uint8_t *dst, uint8_t border) {
        static const int32_t lanes[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        const unsigned g = m->shift, step = 1u << g;
        const __m256i lane = _mm256_loadu_si256((const __m256i *) lanes);
        struct rectify_cells cells;
        struct row8 w = {
                .src = src,
                .stride = stride,
                .cells = &cells,
                /* steps of 8 and 16: every lane in one cell; finer: lane >> shift cells on */
                .cell_lane = step >= 8 ? _mm256_setzero_si256() : _mm256_srli_epi32(lane, (int) g),
                .frac_lane = step >= 8 ? lane : _mm256_and_si256(lane, _mm256_set1_epi32((int) step - 1)),
                /* the row bits of qy (1/32 pixel) kept by the row mask; (1, stride) for pmaddwd */
                .mask = _mm256_set1_epi32((int) ((row_mask & 0x7ff) << RECTIFY_FRAC_BITS)),
                .vstride = _mm256_set1_epi32((int) (1u | (uint32_t) stride << 16)),
                .border = _mm256_set1_epi32(border),
                .qshift = _mm_cvtsi32_si128((int) (5 + 2 * g)),
                .shift = g,
        };

        for (unsigned u0 = 0; u0 < m->width; u0 += RECTIFY_CHUNK) {
                unsigned n = m->width - u0 < RECTIFY_CHUNK ? m->width - u0 : RECTIFY_CHUNK, s = 0;
                row_cells(m, v, u0, n, &cells);
                w.codes = m->codes + (size_t) v * m->words + u0 / 8;
                for (; s + 16 <= n; s += 16) {
                        __m256i lo = blend8(&w, s), hi = blend8(&w, s + 8);
                        /* 16 values of 32 bits to 16 bytes; packus works within 128-bit lanes, hence the permute */
                        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
                        __m128i px = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
                        _mm_storeu_si128((__m128i *) (dst + u0 + s), px);
                }
                rectify_remap_tail(m, v, &cells, u0, s, n, src, stride, row_mask, dst, border);
        }
}
#endif
