/* SPDX-License-Identifier: MIT */
/* rectify-scalar.c — the reference remap kernel, portable C; the SIMD kernels finish their rows
 * with it. See rectify-kernels.h for the arithmetic. */
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
