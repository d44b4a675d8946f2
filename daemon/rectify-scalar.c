/* SPDX-License-Identifier: MIT */
/* rectify-scalar.c — the reference remap kernel, portable C; the SIMD kernels finish their rows
 * with it. See rectify-kernels.h for the arithmetic. */
#include <string.h>

#include "rectify-kernels.h"

void rectify_row_scalar(const uint32_t *restrict map, unsigned n, const uint8_t *src, int stride, uint8_t *restrict dst,
                        uint8_t border) {
        for (unsigned u = 0; u < n; u++) {
                uint32_t e = map[u];
                if (__builtin_expect(e == RECTIFY_OUTSIDE, 0)) {
                        dst[u] = border;
                        continue;
                }
                /* 4 bytes a row, as the AVX2 kernel's gathers read them: the sanitized unit tests
                 * then check that its reads stay inside the frame (AddressSanitizer does not see
                 * inside a gather) */
                const uint8_t *p = src + rectify_offset(e);
                uint8_t t[4], b[4];
                memcpy(t, p, sizeof(t));
                memcpy(b, p + stride, sizeof(b));
                unsigned fx = rectify_fx(e), fy = rectify_fy(e);
                unsigned top = t[0] * (32 - fx) + t[1] * fx, bot = b[0] * (32 - fx) + b[1] * fx;
                dst[u] = (uint8_t) ((top * (32 - fy) + bot * fy + 512) >> 10);
        }
}
