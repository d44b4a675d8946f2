/* SPDX-License-Identifier: MIT */
/* rectify-scalar.c — the reference remap and expansion kernels, portable C; the SIMD kernels
 * finish their rows with them. See rectify-kernels.h for the arithmetic. */
#include "rectify-kernels.h"

void rectify_row_scalar(const uint32_t *restrict map, unsigned n, const uint8_t *src, int stride, uint8_t *restrict dst,
                        uint8_t border) {
        for (unsigned u = 0; u < n; u++) {
                uint32_t e = map[u];
                if (__builtin_expect(e == RECTIFY_OUTSIDE, 0)) {
                        dst[u] = border;
                        continue;
                }
                /* the bytes every kernel reads, and only those: the sanitized unit tests run this
                 * one on the maps' extremes and check they stay inside the frame (the slack row
                 * below the last plane holds the row under the last row) */
                const uint8_t *p = src + rectify_offset(e);
                unsigned fx = rectify_fx(e), fy = rectify_fy(e);
                unsigned top = p[0] * (32 - fx) + p[1] * fx, bot = p[stride] * (32 - fx) + p[stride + 1] * fx;
                dst[u] = (uint8_t) ((top * (32 - fy) + bot * fy + 512) >> 10);
        }
}

void rectify_expand_scalar(const int32_t *a, const uint32_t *codes, unsigned shift, unsigned u0, unsigned n, int stride,
                           unsigned row_mask, uint32_t *entries) {
        for (unsigned s = 0; s < n; s++) {
                unsigned u = u0 + s;
                uint32_t code = codes[u / 8] >> 4 * (u % 8) & 0xf;
                entries[s] = rectify_code_entry(code, rectify_predict(a, shift, s, 0), rectify_predict(a, shift, s, 1),
                                                stride, row_mask);
        }
}

void rectify_expand_row(const struct rectify_map *m, unsigned v, int stride, unsigned row_mask, uint32_t *entries) {
        int32_t a[2 * (RECTIFY_CHUNK + 2)];

        for (unsigned u0 = 0; u0 < m->width; u0 += RECTIFY_CHUNK) {
                unsigned n = m->width - u0 < RECTIFY_CHUNK ? m->width - u0 : RECTIFY_CHUNK, i0 = u0 >> m->shift;
                rectify_row_nodes(m, v, i0, ((u0 + n - 1) >> m->shift) + 2, a);
                rectify_expand_scalar(a, m->codes + (size_t) v * m->words, m->shift, u0, n, stride, row_mask,
                                      entries + u0);
        }
}

void rectify_row_cells(const struct rectify_map *m, unsigned v, unsigned u0, unsigned n, struct rectify_cells *ret) {
        const unsigned g = m->shift, step = 1u << g, t = v & (step - 1), c0 = u0 >> g;
        const unsigned nc = ((u0 + n - 1) >> g) - c0 + 1;
        const int32_t *n0 = m->nodes + ((size_t) (v >> g) * m->nodes_w + c0) * 2, *n1 = n0 + (size_t) m->nodes_w * 2;
        const int32_t wt = (int32_t) t, w0 = (int32_t) (step - t);
        /* the rounding, less one 1/32 for the codes' dx + 1 (modulo 2^32) */
        const uint32_t start = (1u << (4 + 2 * g)) - (1u << (5 + 2 * g));
        uint32_t ax = (uint32_t) (n0[0] * w0 + n1[0] * wt), ay = (uint32_t) (n0[1] * w0 + n1[1] * wt);

        for (unsigned k = 0; k < nc; k++) {
                uint32_t bx = (uint32_t) (n0[2 * k + 2] * w0 + n1[2 * k + 2] * wt);
                uint32_t by = (uint32_t) (n0[2 * k + 3] * w0 + n1[2 * k + 3] * wt);
                ret->bx[k] = (int32_t) ((ax << g) + start);
                ret->dx[k] = (int32_t) (bx - ax);
                ret->by[k] = (int32_t) ((ay << g) + start);
                ret->dy[k] = (int32_t) (by - ay);
                ax = bx;
                ay = by;
        }
        for (unsigned k = nc; k < nc + 8; k++)
                ret->bx[k] = ret->dx[k] = ret->by[k] = ret->dy[k] = 0;
}

void rectify_remap_tail(const struct rectify_map *m, unsigned v, const struct rectify_cells *cells, unsigned u0,
                        unsigned s, unsigned n, const uint8_t *src, int stride, unsigned row_mask, uint8_t *dst,
                        uint8_t border) {
        const unsigned g = m->shift, qshift = 5 + 2 * g;
        const uint32_t *codes = m->codes + (size_t) v * m->words;

        for (; s < n; s++) {
                unsigned u = u0 + s, c = s >> g, f = s & ((1u << g) - 1);
                uint32_t code = codes[u / 8] >> 4 * (u % 8) & 0xf;
                if (code == RECTIFY_CODE_OUTSIDE) {
                        dst[u] = border;
                        continue;
                }
                uint32_t qx =
                        (uint32_t) (((int32_t) ((uint32_t) cells->bx[c] + (uint32_t) cells->dx[c] * f) >> qshift) +
                                    (int32_t) (code & 3));
                uint32_t qy =
                        (uint32_t) (((int32_t) ((uint32_t) cells->by[c] + (uint32_t) cells->dy[c] * f) >> qshift) +
                                    (int32_t) (code >> 2));
                uint32_t e = rectify_entry(((qy >> RECTIFY_FRAC_BITS) & row_mask) * (uint32_t) stride +
                                                   (qx >> RECTIFY_FRAC_BITS),
                                           qx & RECTIFY_FRAC_MASK, qy & RECTIFY_FRAC_MASK);
                rectify_row_scalar(&e, 1, src, stride, dst + u, border);
        }
}

void rectify_remap_scalar(const struct rectify_map *m, unsigned v, const uint8_t *src, int stride, unsigned row_mask,
                          uint8_t *dst, uint8_t border) {
        struct rectify_cells cells;

        for (unsigned u0 = 0; u0 < m->width; u0 += RECTIFY_CHUNK) {
                unsigned n = m->width - u0 < RECTIFY_CHUNK ? m->width - u0 : RECTIFY_CHUNK;
                rectify_row_cells(m, v, u0, n, &cells);
                rectify_remap_tail(m, v, &cells, u0, 0, n, src, stride, row_mask, dst, border);
        }
}
