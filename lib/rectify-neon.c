/* SPDX-License-Identifier: MIT */
/*
 * rectify-neon.c — the remap kernel for arm64 (NEON is always there). Same bytes as the scalar
 * reference (rectify_expand_scalar() then rectify_row_scalar()).
 *
 * Eight output pixels at a time, as two vectors of four lanes. Each lane's cell (rectify-kernels.h:
 * a start and a slope per grid cell) is taken by a broadcast (steps of 4 and more), a zip (2) or a
 * load (1); its prediction is start + slope × its place in the cell, corrected by its 4-bit code.
 * NEON has no gather: the two bytes at the top-left neighbour and the two below it are loaded lane
 * by lane into 16-bit lanes, unzipped into left and right neighbours, blended horizontally in 16
 * bits (vmull/vmlal_u8: at most 255 · 32), vertically in 32 (vmull/vmlal_u16), and narrowed with a
 * rounding shift ((x + 512) >> 10).
 */
#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "rectify-kernels.h"

static inline uint16_t load2(const uint8_t *p) {
        uint16_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

/* the 16-bit words at src + off[i] (+ @stride) in lane i */
#define LANE(i)                                                                                                        \
        do {                                                                                                           \
                t = vsetq_lane_u16(load2(src + off[i]), t, i);                                                         \
                b = vsetq_lane_u16(load2(src + stride + off[i]), b, i);                                                \
        } while (0)

/* What the pixels of a row share. */
struct row8 {
        const struct rectify_cells *cells;
        const uint32_t *codes; /* the row's, from the chunk's first pixel */
        unsigned shift;
        int32x4_t qshift; /* −(5 + 2·shift): vshlq by it shifts right, arithmetically */
        uint32_t row_mask;
        int stride;
};

/* The values of @a for the four lanes from pixel @s (their cells). */
static inline int32x4_t per_lane(const int32_t *a, unsigned s, unsigned shift) {
        unsigned k = s >> shift;

        if (shift >= 2)
                return vdupq_n_s32(a[k]);
        if (shift == 1) {
                int32x4_t x = vld1q_s32(a + k);
                return vzip1q_s32(x, x);
        }
        return vld1q_s32(a + k);
}

/* The offsets (0 outside), the weights and the outside mask of the four pixels from @s. */
static inline void entries4(const struct row8 *w, unsigned s, uint32x4_t c, uint32_t *off, uint32x4_t *ret_fx,
                            uint32x4_t *ret_fy, uint32x4_t *ret_out) {
        static const int32_t lanes[4] = {0, 1, 2, 3};
        const struct rectify_cells *k = w->cells;
        const uint32x4_t frac = vdupq_n_u32(RECTIFY_FRAC_MASK);
        uint32x4_t f = vreinterpretq_u32_s32(vandq_s32(vaddq_s32(vdupq_n_s32((int32_t) s), vld1q_s32(lanes)),
                                                       vdupq_n_s32((int32_t) ((1u << w->shift) - 1))));
        uint32x4_t px = vmlaq_u32(vreinterpretq_u32_s32(per_lane(k->bx, s, w->shift)),
                                  vreinterpretq_u32_s32(per_lane(k->dx, s, w->shift)), f);
        uint32x4_t py = vmlaq_u32(vreinterpretq_u32_s32(per_lane(k->by, s, w->shift)),
                                  vreinterpretq_u32_s32(per_lane(k->dy, s, w->shift)), f);
        /* the starts hold the rounding and the −1 of the codes' dx + 1 */
        uint32x4_t qx = vaddq_u32(vreinterpretq_u32_s32(vshlq_s32(vreinterpretq_s32_u32(px), w->qshift)),
                                  vandq_u32(c, vdupq_n_u32(3)));
        uint32x4_t qy =
                vaddq_u32(vreinterpretq_u32_s32(vshlq_s32(vreinterpretq_s32_u32(py), w->qshift)), vshrq_n_u32(c, 2));
        uint32x4_t out = vceqq_u32(c, vdupq_n_u32(RECTIFY_CODE_OUTSIDE));
        uint32x4_t row = vmulq_u32(vandq_u32(vshrq_n_u32(qy, RECTIFY_FRAC_BITS), vdupq_n_u32(w->row_mask)),
                                   vdupq_n_u32((uint32_t) w->stride));
        vst1q_u32(off, vbicq_u32(vaddq_u32(row, vshrq_n_u32(qx, RECTIFY_FRAC_BITS)), out));
        *ret_fx = vandq_u32(qx, frac);
        *ret_fy = vandq_u32(qy, frac);
        *ret_out = out;
}

static inline uint8x8_t blend8(const struct row8 *w, unsigned s, const uint8_t *src, int stride, uint8x8_t border) {
        static const int32_t nib_lo[4] = {0, -4, -8, -12}, nib_hi[4] = {-16, -20, -24, -28};
        uint32x4_t word = vdupq_n_u32(w->codes[s / 8]), fx0, fx1, fy0, fy1, o0, o1;
        uint32x4_t c0 = vandq_u32(vshlq_u32(word, vld1q_s32(nib_lo)), vdupq_n_u32(0xf));
        uint32x4_t c1 = vandq_u32(vshlq_u32(word, vld1q_s32(nib_hi)), vdupq_n_u32(0xf));
        uint32_t off[8];

        entries4(w, s, c0, off, &fx0, &fy0, &o0);
        entries4(w, s + 4, c1, off + 4, &fx1, &fy1, &o1);
        uint16x8_t t = vdupq_n_u16(0), b = vdupq_n_u16(0);
        LANE(0);
        LANE(1);
        LANE(2);
        LANE(3);
        LANE(4);
        LANE(5);
        LANE(6);
        LANE(7);

        uint8x8_t fx = vmovn_u16(vcombine_u16(vmovn_u32(fx0), vmovn_u32(fx1)));
        uint8x8_t fy = vmovn_u16(vcombine_u16(vmovn_u32(fy0), vmovn_u32(fy1)));
        uint8x8_t ifx = vsub_u8(vdup_n_u8(32), fx);
        uint8x8x2_t tp = vuzp_u8(vget_low_u8(vreinterpretq_u8_u16(t)), vget_high_u8(vreinterpretq_u8_u16(t)));
        uint8x8x2_t bp = vuzp_u8(vget_low_u8(vreinterpretq_u8_u16(b)), vget_high_u8(vreinterpretq_u8_u16(b)));
        uint16x8_t top = vmlal_u8(vmull_u8(tp.val[0], ifx), tp.val[1], fx);
        uint16x8_t bot = vmlal_u8(vmull_u8(bp.val[0], ifx), bp.val[1], fx);

        uint16x8_t wy = vmovl_u8(fy), iwy = vsubq_u16(vdupq_n_u16(32), wy);
        uint32x4_t lo = vmlal_u16(vmull_u16(vget_low_u16(top), vget_low_u16(iwy)), vget_low_u16(bot), vget_low_u16(wy));
        uint32x4_t hi =
                vmlal_u16(vmull_u16(vget_high_u16(top), vget_high_u16(iwy)), vget_high_u16(bot), vget_high_u16(wy));
        uint8x8_t v = vmovn_u16(vcombine_u16(vrshrn_n_u32(lo, 10), vrshrn_n_u32(hi, 10)));
        uint8x8_t out = vmovn_u16(vcombine_u16(vmovn_u32(o0), vmovn_u32(o1)));
        return vbsl_u8(out, border, v);
}

/* rectify_row_cells(), four cells at a time: vld2 splits the nodes' x and y, the two rows of nodes
 * are blended, the next node's the same way (the same integers as the scalar loop). */
static void row_cells(const struct rectify_map *m, unsigned v, unsigned u0, unsigned n, struct rectify_cells *ret) {
        const unsigned g = m->shift, step = 1u << g, t = v & (step - 1), c0 = u0 >> g;
        const unsigned nc = ((u0 + n - 1) >> g) - c0 + 1;
        const int32_t *n0 = m->nodes + ((size_t) (v >> g) * m->nodes_w + c0) * 2, *n1 = n0 + (size_t) m->nodes_w * 2;
        const int32_t iw0 = (int32_t) (step - t), iwt = (int32_t) t;
        const uint32_t first = (1u << (4 + 2 * g)) - (1u << (5 + 2 * g));
        const int32x4_t shift = vdupq_n_s32((int32_t) g), start = vreinterpretq_s32_u32(vdupq_n_u32(first));
        unsigned k = 0;

        /* the last loads read one node past the cells: nodes_w holds it (rectify.h) */
        for (; k + 4 <= nc; k += 4) {
                int32x4x2_t a0 = vld2q_s32(n0 + 2 * k), a1 = vld2q_s32(n1 + 2 * k);
                int32x4x2_t b0 = vld2q_s32(n0 + 2 * k + 2), b1 = vld2q_s32(n1 + 2 * k + 2);
                for (unsigned c = 0; c < 2; c++) {
                        int32x4_t a = vmlaq_n_s32(vmulq_n_s32(a0.val[c], iw0), a1.val[c], iwt);
                        int32x4_t b = vmlaq_n_s32(vmulq_n_s32(b0.val[c], iw0), b1.val[c], iwt);
                        vst1q_s32((c ? ret->by : ret->bx) + k, vaddq_s32(vshlq_s32(a, shift), start));
                        vst1q_s32((c ? ret->dy : ret->dx) + k, vsubq_s32(b, a));
                }
        }
        for (; k < nc; k++) { /* the last few as rectify_row_cells() does them */
                uint32_t ax = (uint32_t) (n0[2 * k] * iw0 + n1[2 * k] * iwt);
                uint32_t ay = (uint32_t) (n0[2 * k + 1] * iw0 + n1[2 * k + 1] * iwt);
                uint32_t bx = (uint32_t) (n0[2 * k + 2] * iw0 + n1[2 * k + 2] * iwt);
                uint32_t by = (uint32_t) (n0[2 * k + 3] * iw0 + n1[2 * k + 3] * iwt);
                ret->bx[k] = (int32_t) ((ax << g) + first);
                ret->dx[k] = (int32_t) (bx - ax);
                ret->by[k] = (int32_t) ((ay << g) + first);
                ret->dy[k] = (int32_t) (by - ay);
        }
        for (unsigned i = nc; i < nc + 8; i++)
                ret->bx[i] = ret->dx[i] = ret->by[i] = ret->dy[i] = 0;
}

void rectify_remap_neon(const struct rectify_map *m, unsigned v, const uint8_t *src, int stride, unsigned row_mask,
                        uint8_t *dst, uint8_t border) {
        const uint8x8_t b = vdup_n_u8(border);
        struct rectify_cells cells;
        struct row8 w = {
                .cells = &cells,
                .shift = m->shift,
                .qshift = vdupq_n_s32(-(int32_t) (5 + 2 * m->shift)),
                .row_mask = row_mask,
                .stride = stride,
        };

        for (unsigned u0 = 0; u0 < m->width; u0 += RECTIFY_CHUNK) {
                unsigned n = m->width - u0 < RECTIFY_CHUNK ? m->width - u0 : RECTIFY_CHUNK, s = 0;
                row_cells(m, v, u0, n, &cells);
                w.codes = m->codes + (size_t) v * m->words + u0 / 8;
                for (; s + 8 <= n; s += 8)
                        vst1_u8(dst + u0 + s, blend8(&w, s, src, stride, b));
                rectify_remap_tail(m, v, &cells, u0, s, n, src, stride, row_mask, dst, border);
        }
}
#endif
