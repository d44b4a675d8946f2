/* SPDX-License-Identifier: MIT */
/*
 * rectify-avx2.c — the remap kernels for x86-64 CPUs with AVX2, chosen at run time by rectify.c
 * (this file is built without -mavx2: only these functions use AVX2 instructions). Same bytes as
 * the scalar reference (rectify_expand_scalar() then rectify_row_scalar()).
 *
 * Sixteen output pixels at a time, in 16-bit lanes, on grids of 8 and 16 pixels (every
 * calibration seen) and planes under 2048 pixels wide (where16(), fetch16()). A cell's start and
 * slope are split at the prediction's shift (struct cell16), so a pixel's position in 1/32 pixel
 * is three 16-bit products and sums, exactly the scalar's. The sixteen pixels' source bytes come
 * from four windows of 16 bytes, two per eight pixels: one from where the first of the eight
 * reads, one ending where the last reads, so the source row may change once among them. Each
 * window is one load (and the one below it another), each pixel's two bytes are picked with
 * pshufb, pmaddubsw blends them horizontally and pmaddwd top and bottom. Where a pixel of the
 * sixteen reads outside its two windows (a row changing twice, a grid cell folding back, the
 * borders), the eight-pixel kernel does them: blend8() in 32-bit lanes, each lane its cell's
 * start and slope (vpermd: the same cell for all eight at steps of 8 and 16, two to eight cells
 * at 4, 2, 1), the four bytes at each top-left neighbour and below it loaded lane by lane
 * (load8()), and three pmaddwd. U and V share a map: rectify_remap2_avx2() computes their positions once.
 *
 * Every product fits: a pixel times 32 in 16 bits, the final sum (at most 255 · 1024) in 32.
 * Measured on the AMD EPYC (Zen 4) of the last sessions, a 2×1280×720 frame (tests/bench/remap.py,
 * bands of 16 rows, best of 100): 3.67 ms with blend8() alone (gathering then), 2.47 ms with the
 * 16-bit path and U and V together. Expanding the entries into a buffer first and remapping them as a
 * second pass took 5.8 ms against 3.5 for the fused kernel (the Xeon, loaded).
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

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

/* The four bytes at @src + each lane of @off, loaded one by one. Not vpgatherdd: qemu 7.2's TCG
 * (Debian 12's, which runs the VM tests) takes a VSIB index in ymm4 or ymm12 for no index and
 * loads all eight lanes from @src (seen in gdb, instruction by instruction, against this CPU);
 * which registers gcc gives a gather is not ours to choose. */
static inline __attribute__((always_inline)) AVX2 __m256i load8(const uint8_t *src, __m256i off) {
        int32_t o[8], v[8];

        _mm256_storeu_si256((__m256i *) o, off);
        for (unsigned i = 0; i < 8; i++)
                memcpy(&v[i], src + o[i], sizeof(v[i]));
        return _mm256_setr_epi32(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

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
        __m256i t = _mm256_shuffle_epi8(load8(w->src, off), pair);
        __m256i b = _mm256_shuffle_epi8(load8(w->src + w->stride, off), pair);
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

/* ---- sixteen pixels in 16-bit lanes, for grids of 8 and 16 pixels ---------------------------- */

/* A cell's start and slope split at the prediction's shift S (5 + 2·shift): start = bh · 2^S + bl,
 * slope = dh · 2^S + dl, 0 ≤ bl, dl < 2^S. Over eight pixels (f < 8) of one cell the prediction
 * (start + slope · f) >> S is bh + dh · f + ((bl + dl · f) >> S), and bl + dl · f < 2^(S + 3) ≤
 * 2^16 for S ≤ 13: every term fits a 16-bit lane. A grid of 16 pixels is two cells of eight here,
 * the second starting at start + 8 · slope. x then y; the lanes of a pair of them are one load. */
struct cell16 {
        uint16_t bhx, dhx, blx, dlx, bhy, dhy, bly, dly;
};

/* What sixteen pixels of a row share. */
struct row16 {
        const struct cell16 *cells; /* the chunk's, eight pixels each */
        const uint32_t *codes;      /* the row's, from pixel u0 */
        __m256i mask, vstride;
        __m128i qshift;
};

/* Where sixteen pixels read, in any plane the map serves: the offsets of the windows of 16 bytes
 * each eight reads from (a: where its first pixel reads; b: ending where its last does), each
 * pixel's place in them, and the weights. */
struct at16 {
        int a0, a8, b7, b15;
        __m256i cta, ctb, ina, wx, wy0, fy, out;
};

/* The cells of eight pixels each for a chunk of @n pixels, from its cells of 8 or 16 (@g 3 or 4),
 * eight at a time: the eight values of each in 32-bit lanes, paired into 32 bits, then transposed. */
static AVX2 void cells16(const struct rectify_cells *k, unsigned g, unsigned n, struct cell16 *ret) {
        const __m128i qs = _mm_cvtsi32_si128((int) (5 + 2 * g));
        const __m256i low = _mm256_set1_epi32((1 << (5 + 2 * g)) - 1), word = _mm256_set1_epi32(0xffff);
        const unsigned cells = (n + 7) / 8 + 1;
        int32_t halves[4][RECTIFY_CHUNK / 8 + 16];
        const int32_t *bx = k->bx, *dx = k->dx, *by = k->by, *dy = k->dy;

        if (g == 4) { /* each cell of 16 as two of 8, the second one starting 8 pixels on */
                for (unsigned i = 0; i < (cells + 1) / 2 + 4; i++) {
                        halves[0][2 * i] = bx[i];
                        halves[0][2 * i + 1] = (int32_t) ((uint32_t) bx[i] + 8 * (uint32_t) dx[i]);
                        halves[1][2 * i] = halves[1][2 * i + 1] = dx[i];
                        halves[2][2 * i] = by[i];
                        halves[2][2 * i + 1] = (int32_t) ((uint32_t) by[i] + 8 * (uint32_t) dy[i]);
                        halves[3][2 * i] = halves[3][2 * i + 1] = dy[i];
                }
                bx = halves[0], dx = halves[1], by = halves[2], dy = halves[3];
        }
        for (unsigned i = 0; i < cells; i += 8) {
                __m256i x = _mm256_loadu_si256((const __m256i *) (bx + i));
                __m256i sx = _mm256_loadu_si256((const __m256i *) (dx + i));
                __m256i y = _mm256_loadu_si256((const __m256i *) (by + i));
                __m256i sy = _mm256_loadu_si256((const __m256i *) (dy + i));
                /* (high part, its slope's), (low part, its slope's), in 16 bits each */
                __m256i hx = _mm256_or_si256(_mm256_and_si256(_mm256_sra_epi32(x, qs), word),
                                             _mm256_slli_epi32(_mm256_sra_epi32(sx, qs), 16));
                __m256i lx =
                        _mm256_or_si256(_mm256_and_si256(x, low), _mm256_slli_epi32(_mm256_and_si256(sx, low), 16));
                __m256i hy = _mm256_or_si256(_mm256_and_si256(_mm256_sra_epi32(y, qs), word),
                                             _mm256_slli_epi32(_mm256_sra_epi32(sy, qs), 16));
                __m256i ly =
                        _mm256_or_si256(_mm256_and_si256(y, low), _mm256_slli_epi32(_mm256_and_si256(sy, low), 16));
                __m256i a = _mm256_unpacklo_epi32(hx, lx), b = _mm256_unpacklo_epi32(hy, ly);
                __m256i c = _mm256_unpackhi_epi32(hx, lx), d = _mm256_unpackhi_epi32(hy, ly);
                const __m256i r[4] = {_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b),
                                      _mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d)};
                for (unsigned j = 0; j < 4; j++) { /* r[j]: cells i + j and i + 4 + j */
                        _mm_storeu_si128((__m128i *) (ret + i + j), _mm256_castsi256_si128(r[j]));
                        _mm_storeu_si128((__m128i *) (ret + i + 4 + j), _mm256_extracti128_si256(r[j], 1));
                }
        }
}

/* Word @k of each 128-bit half in all its eight lanes. */
static inline __attribute__((always_inline)) AVX2 __m256i word(__m256i v, int k) {
        return _mm256_shuffle_epi8(v, _mm256_set1_epi16((short) (2 * k | (2 * k + 1) << 8)));
}

static inline __attribute__((always_inline)) AVX2 __m256i load2x16(const uint8_t *lo, const uint8_t *hi) {
        return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *) lo)),
                                       _mm_loadu_si128((const __m128i *) hi), 1);
}

/* Where pixels s to s + 15 of the chunk read, or false when one of them reads outside the two
 * windows of its eight (then blend8() does them). */
static inline __attribute__((always_inline)) AVX2 bool where16(const struct row16 *w, unsigned s, struct at16 *ret) {
        const __m256i f = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i fifteen = _mm256_set1_epi16(RECTIFY_CODE_OUTSIDE), three = _mm256_set1_epi16(3);
        const __m256i frac = _mm256_set1_epi16(RECTIFY_FRAC_MASK), c32 = _mm256_set1_epi16(32);
        const __m256i fourteen = _mm256_set1_epi16(14);
        __m256i cell = _mm256_loadu_si256((const __m256i *) (w->cells + s / 8));
        /* the predictions, then the codes' corrections */
        __m256i qx = _mm256_add_epi16(
                _mm256_add_epi16(word(cell, 0), _mm256_mullo_epi16(word(cell, 1), f)),
                _mm256_srl_epi16(_mm256_add_epi16(word(cell, 2), _mm256_mullo_epi16(word(cell, 3), f)), w->qshift));
        __m256i qy = _mm256_add_epi16(
                _mm256_add_epi16(word(cell, 4), _mm256_mullo_epi16(word(cell, 5), f)),
                _mm256_srl_epi16(_mm256_add_epi16(word(cell, 6), _mm256_mullo_epi16(word(cell, 7), f)), w->qshift));
        __m128i b = _mm_loadl_epi64((const __m128i *) (w->codes + s / 8)), nib = _mm_set1_epi8(15);
        __m256i c = _mm256_cvtepu8_epi16(
                _mm_unpacklo_epi8(_mm_and_si128(b, nib), _mm_and_si128(_mm_srli_epi16(b, 4), nib)));
        qx = _mm256_add_epi16(qx, _mm256_and_si256(c, three));
        qy = _mm256_add_epi16(qy, _mm256_srli_epi16(c, 2));
        __m256i out = _mm256_cmpeq_epi16(c, fifteen);
        __m256i sx = _mm256_srli_epi16(qx, RECTIFY_FRAC_BITS);
        __m256i sy = _mm256_and_si256(_mm256_srli_epi16(qy, RECTIFY_FRAC_BITS), w->mask);
        /* window a starts where the first of each eight reads, window b ends where the last does */
        __m256i sxb = _mm256_subs_epu16(sx, fourteen);
        __m256i da = _mm256_sub_epi16(sx, word(sx, 0)), db = _mm256_sub_epi16(sx, word(sxb, 7));
        __m256i ina = _mm256_and_si256(_mm256_cmpeq_epi16(sy, word(sy, 0)),
                                       _mm256_cmpeq_epi16(_mm256_min_epu16(da, fourteen), da));
        __m256i inb = _mm256_and_si256(_mm256_cmpeq_epi16(sy, word(sy, 7)),
                                       _mm256_cmpeq_epi16(_mm256_min_epu16(db, fourteen), db));
        /* the windows are read: the pixels they start from (0, 7, 8, 15) must be inside */
        if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(ina, inb), out)) != -1 ||
            (_mm256_movemask_epi8(out) & (int) 0xc003c003u))
                return false;
        /* the windows' offsets: (sx, sy) of pixels 0 and 8 (a) and 7 and 15 (b) times (1, stride) */
        __m256i oa = _mm256_madd_epi16(_mm256_unpacklo_epi16(sx, sy), w->vstride);
        __m256i ob = _mm256_madd_epi16(_mm256_unpackhi_epi16(sxb, sy), w->vstride);
        ret->a0 = _mm256_extract_epi32(oa, 0);
        ret->a8 = _mm256_extract_epi32(oa, 4);
        ret->b7 = _mm256_extract_epi32(ob, 3);
        ret->b15 = _mm256_extract_epi32(ob, 7);
        /* each pixel's two bytes, (p[0], p[1]), as one 16-bit lane */
        const __m256i next = _mm256_set1_epi16(0x0100);
        ret->cta = _mm256_add_epi16(_mm256_or_si256(da, _mm256_slli_epi16(da, 8)), next);
        ret->ctb = _mm256_add_epi16(_mm256_or_si256(db, _mm256_slli_epi16(db, 8)), next);
        ret->ina = ina;
        __m256i fx = _mm256_and_si256(qx, frac);
        ret->wx = _mm256_or_si256(_mm256_sub_epi16(c32, fx), _mm256_slli_epi16(fx, 8));
        ret->fy = _mm256_and_si256(qy, frac);
        ret->wy0 = _mm256_sub_epi16(c32, ret->fy);
        ret->out = out;
        return true;
}

/* The sixteen pixels @a says from the plane at @src into @dst. */
static inline __attribute__((always_inline)) AVX2 void fetch16(const struct at16 *a, const uint8_t *src,
                                                               ptrdiff_t stride, __m256i border, uint8_t *dst) {
        const uint8_t *a0 = src + a->a0, *a8 = src + a->a8, *b7 = src + a->b7, *b15 = src + a->b15;
        __m256i t = _mm256_blendv_epi8(_mm256_shuffle_epi8(load2x16(b7, b15), a->ctb),
                                       _mm256_shuffle_epi8(load2x16(a0, a8), a->cta), a->ina);
        __m256i u = _mm256_blendv_epi8(_mm256_shuffle_epi8(load2x16(b7 + stride, b15 + stride), a->ctb),
                                       _mm256_shuffle_epi8(load2x16(a0 + stride, a8 + stride), a->cta), a->ina);
        /* horizontally with (32 − fx, fx) in bytes (pmaddubsw), then top and bottom with (32 − fy, fy) */
        __m256i top = _mm256_maddubs_epi16(t, a->wx), bot = _mm256_maddubs_epi16(u, a->wx);
        __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(top, bot), _mm256_unpacklo_epi16(a->wy0, a->fy));
        __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(top, bot), _mm256_unpackhi_epi16(a->wy0, a->fy));
        const __m256i half = _mm256_set1_epi32(512);
        lo = _mm256_srli_epi32(_mm256_add_epi32(lo, half), 10);
        hi = _mm256_srli_epi32(_mm256_add_epi32(hi, half), 10);
        __m256i v = _mm256_blendv_epi8(_mm256_packus_epi32(lo, hi), border, a->out);
        v = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 0x08);
        _mm_storeu_si128((__m128i *) dst, _mm256_castsi256_si128(v));
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

/* Pixels s to s + 15 of a chunk the 32-bit way. */
static inline __attribute__((always_inline)) AVX2 void blend16_8(const struct row8 *w, unsigned s, uint8_t *dst) {
        __m256i lo = blend8(w, s), hi = blend8(w, s + 8);
        /* 16 values of 32 bits to 16 bytes; packus works within 128-bit lanes, hence the permute */
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
        _mm_storeu_si128((__m128i *) dst, _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1)));
}

/* Row @v of @m from @planes planes (1 or 2) that share it: @src, @dst and @src2, @dst2. */
static inline __attribute__((always_inline)) AVX2 void remap(const struct rectify_map *m, unsigned v, unsigned planes,
                                                             const uint8_t *src, const uint8_t *src2, int stride,
                                                             unsigned row_mask, uint8_t *dst, uint8_t *dst2,
                                                             uint8_t border) {
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
        struct row8 w2 = w;
        /* grids of 8 and 16 pixels (the calibrations seen) and planes narrow enough for 16 bits */
        const bool fast = g >= 3 && m->width < 2048;
        struct cell16 c16[RECTIFY_CHUNK / 8 + 8];
        struct row16 x = {
                .cells = c16,
                .mask = _mm256_set1_epi16((short) (row_mask & 0x7ff)),
                .vstride = w.vstride,
                .qshift = w.qshift,
        };
        const __m256i border16 = _mm256_set1_epi16(border);

        w2.src = src2;
        for (unsigned u0 = 0; u0 < m->width; u0 += RECTIFY_CHUNK) {
                unsigned n = m->width - u0 < RECTIFY_CHUNK ? m->width - u0 : RECTIFY_CHUNK, s = 0;
                row_cells(m, v, u0, n, &cells);
                w.codes = w2.codes = x.codes = m->codes + (size_t) v * m->words + u0 / 8;
                if (fast)
                        cells16(&cells, g, n, c16);
                for (; s + 16 <= n; s += 16) {
                        struct at16 at;
                        if (fast && where16(&x, s, &at)) {
                                fetch16(&at, src, stride, border16, dst + u0 + s);
                                if (planes == 2)
                                        fetch16(&at, src2, stride, border16, dst2 + u0 + s);
                                continue;
                        }
                        blend16_8(&w, s, dst + u0 + s);
                        if (planes == 2)
                                blend16_8(&w2, s, dst2 + u0 + s);
                }
                rectify_remap_tail(m, v, &cells, u0, s, n, src, stride, row_mask, dst, border);
                if (planes == 2)
                        rectify_remap_tail(m, v, &cells, u0, s, n, src2, stride, row_mask, dst2, border);
        }
}

AVX2 void rectify_remap_avx2(const struct rectify_map *m, unsigned v, const uint8_t *src, int stride, unsigned row_mask,
                             uint8_t *dst, uint8_t border) {
        remap(m, v, 1, src, NULL, stride, row_mask, dst, NULL, border);
}

AVX2 void rectify_remap2_avx2(const struct rectify_map *m, unsigned v, const uint8_t *src, const uint8_t *src2,
                              int stride, unsigned row_mask, uint8_t *dst, uint8_t *dst2, uint8_t border) {
        remap(m, v, 2, src, src2, stride, row_mask, dst, dst2, border);
}
#endif
