/* SPDX-License-Identifier: MIT */
/*
 * rectify-neon.c — the remap kernel for arm64 (NEON is always there). Same bytes as
 * rectify_row_scalar().
 *
 * Eight output pixels at a time. NEON has no gather: the two bytes at the top-left neighbour and
 * the two below it are loaded lane by lane into 16-bit lanes, unzipped into left and right
 * neighbours, blended horizontally in 16 bits (vmull/vmlal_u8: at most 255 · 32), vertically in
 * 32 (vmull/vmlal_u16), and narrowed with a rounding shift ((x + 512) >> 10).
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

static inline uint8x8_t blend8(const uint32_t *map, const uint8_t *src, int stride, uint8x8_t border) {
        const uint32x4_t outside = vdupq_n_u32(RECTIFY_OUTSIDE);
        uint32x4_t e0 = vld1q_u32(map), e1 = vld1q_u32(map + 4);
        uint32x4_t o0 = vceqq_u32(e0, outside), o1 = vceqq_u32(e1, outside);
        uint32_t off[8];
        /* pixels outside read the plane's first bytes instead, and are replaced by @border */
        vst1q_u32(off, vbicq_u32(vshrq_n_u32(e0, RECTIFY_OFFSET_SHIFT), o0));
        vst1q_u32(off + 4, vbicq_u32(vshrq_n_u32(e1, RECTIFY_OFFSET_SHIFT), o1));
        uint16x8_t t = vdupq_n_u16(0), b = vdupq_n_u16(0);
        LANE(0);
        LANE(1);
        LANE(2);
        LANE(3);
        LANE(4);
        LANE(5);
        LANE(6);
        LANE(7);

        uint16x8_t frac = vcombine_u16(vmovn_u32(e0), vmovn_u32(e1)); /* fy << 5 | fx */
        uint8x8_t fx = vmovn_u16(vandq_u16(frac, vdupq_n_u16(RECTIFY_FRAC_MASK)));
        uint8x8_t fy = vmovn_u16(vandq_u16(vshrq_n_u16(frac, RECTIFY_FRAC_BITS), vdupq_n_u16(RECTIFY_FRAC_MASK)));
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

void rectify_row_neon(const uint32_t *restrict map, unsigned n, const uint8_t *src, int stride, uint8_t *restrict dst,
                      uint8_t border) {
        const uint8x8_t b = vdup_n_u8(border);
        unsigned u = 0;

        for (; u + 8 <= n; u += 8)
                vst1_u8(dst + u, blend8(map + u, src, stride, b));
        rectify_row_scalar(map + u, n - u, src, stride, dst + u, border);
}
#endif
