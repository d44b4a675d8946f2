/* SPDX-License-Identifier: MIT */
/*
 * rectify-kernels.h — the remap kernels (private to rectify*.c and the unit test).
 *
 * The scalar reference does it in two steps. The expansion (rectify_expand_scalar()): the entries
 * of pixels [u0, u0 + n) of an output row from the row's interpolated nodes @a (a[2k], a[2k + 1]:
 * x, y of node (u0 >> shift) + k, in 1/(RECTIFY_NODE_ONE << shift) pixel; u0 a multiple of the
 * step) and its codes, for a source whose rows are @stride bytes apart at (row & @row_mask). With
 * G = 1 << shift, for pixel u at s = u − u0:
 *
 *      P = a[i] · G + (a[i + 1] − a[i]) · (s mod G)      (i = s / G; modulo 2^32, exact: |P| < 2^31)
 *      q = (P + 2^(4 + 2·shift)) >> (5 + 2·shift)           the prediction, in 1/32 pixel
 *      q += the code's correction (−1, 0, +1)               the exact position: sx = q >> 5, fx = q & 31
 *      entry = ((sy & row_mask) · stride + sx) << 10 | fy << 5 | fx,  or RECTIFY_OUTSIDE
 *
 * Then the row (rectify_row_scalar()): one row of output pixels through their entries:
 *
 *      top = p[0] · (32 − fx) + p[1] · fx                (p: the top-left source neighbour)
 *      bot = p[s] · (32 − fx) + p[s + 1] · fx            (s: the source stride)
 *      out = (top · (32 − fy) + bot · fy + 512) >> 10
 *
 * which is cv2.remap's INTER_LINEAR on CV_16SC2 maps: its weights (in 1/32768) are these
 * products times 32 exactly, rounded the same way.
 *
 * The kernels the remap runs (rectify_remap_fn: scalar, AVX2, NEON) do both at once for a whole
 * output row, from the row's cells (rectify_row_cells(): per grid cell a start P(0) less 2^(5 +
 * 2·shift), which folds the −1 of the code's dx + 1 into the shift, and a slope), a chunk of
 * RECTIFY_CHUNK pixels at a time: integer arithmetic, the same bytes as the reference.
 */
#pragma once

#include "rectify.h"

#define RECTIFY_CHUNK 256 /* pixels a row's cells are laid out for at a time: a multiple of every step */

/* The cells of a chunk of a row, from cell (u0 >> shift): P of the cell's pixel f is
 * start + slope · f, in 1/(RECTIFY_NODE_ONE << 2·shift) pixel (the rounding folded in). Eight
 * zeros past the last, for 8-lane loads. */
struct rectify_cells {
        int32_t bx[RECTIFY_CHUNK + 8], dx[RECTIFY_CHUNK + 8], by[RECTIFY_CHUNK + 8], dy[RECTIFY_CHUNK + 8];
};

/* The nodes of row @v of @m interpolated between its two rows of nodes, for nodes [@i0, @i1):
 * a[2k], a[2k + 1] = x, y of node i0 + k, in 1/(RECTIFY_NODE_ONE << shift) pixel (at most
 * 4095 · 2^10 · 2^4: no overflow). The maps' builder and the reference expansion start here. */
static inline void rectify_row_nodes(const struct rectify_map *m, unsigned v, unsigned i0, unsigned i1, int32_t *a) {
        unsigned g = m->shift, step = 1u << g, t = v & (step - 1);
        const int32_t *n0 = m->nodes + (size_t) (v >> g) * m->nodes_w * 2, *n1 = n0 + (size_t) m->nodes_w * 2;

        for (unsigned k = 2 * i0; k < 2 * i1; k++)
                a[k - 2 * i0] = n0[k] * (int32_t) (step - t) + n1[k] * (int32_t) t;
}

/* The prediction of pixel @s (from the first node of @a) in 1/32 pixel, x (@coord 0) or y. */
static inline int32_t rectify_predict(const int32_t *a, unsigned shift, unsigned s, unsigned coord) {
        unsigned i = s >> shift, f = s & ((1u << shift) - 1);
        uint32_t a0 = (uint32_t) a[2 * i + coord], a1 = (uint32_t) a[2 * i + 2 + coord];
        uint32_t p = (a0 << shift) + (a1 - a0) * f + (1u << (4 + 2 * shift));

        return (int32_t) p >> (5 + 2 * shift);
}

/* The entry of a pixel whose code is @code and prediction (@px, @py). */
static inline uint32_t rectify_code_entry(uint32_t code, int32_t px, int32_t py, int stride, unsigned row_mask) {
        if (code == RECTIFY_CODE_OUTSIDE)
                return RECTIFY_OUTSIDE;
        uint32_t qx = (uint32_t) (px + (int32_t) (code & 3) - 1), qy = (uint32_t) (py + (int32_t) (code >> 2) - 1);
        uint32_t sy = qy >> RECTIFY_FRAC_BITS;
        return rectify_entry((sy & row_mask) * (uint32_t) stride + (qx >> RECTIFY_FRAC_BITS), qx & RECTIFY_FRAC_MASK,
                             qy & RECTIFY_FRAC_MASK);
}

/* rectify_row_cells() - the cells of pixels [@u0, @u0 + @n) of row @v of @m (@u0 a multiple of
 * RECTIFY_CHUNK). Every kernel lays them out with it. */
void rectify_row_cells(const struct rectify_map *m, unsigned v, unsigned u0, unsigned n, struct rectify_cells *ret);

/* rectify_remap_tail() - pixels [@s, @n) of that chunk the scalar way, from its @cells. */
void rectify_remap_tail(const struct rectify_map *m, unsigned v, const struct rectify_cells *cells, unsigned u0,
                        unsigned s, unsigned n, const uint8_t *src, int stride, unsigned row_mask, uint8_t *dst,
                        uint8_t border);

void rectify_row_scalar(const uint32_t *map, unsigned n, const uint8_t *src, int stride, uint8_t *dst, uint8_t border);
void rectify_expand_scalar(const int32_t *a, const uint32_t *codes, unsigned shift, unsigned u0, unsigned n, int stride,
                           unsigned row_mask, uint32_t *entries);
rectify_remap_fn rectify_remap_scalar;
#if defined(__x86_64__)
rectify_remap_fn rectify_remap_avx2; /* only where __builtin_cpu_supports("avx2") */
rectify_remap2_fn rectify_remap2_avx2;
#endif
#if defined(__aarch64__)
rectify_remap_fn rectify_remap_neon;
#endif
