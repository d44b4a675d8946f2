/* SPDX-License-Identifier: MIT */
/* rectify.c — the packed fixed-point maps, the choice of a kernel, and the remap of bands of
 * rows of I420 frames through them; see rectify.h. The kernels are in rectify-{scalar,avx2,neon}.c. */
#include "rectify.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rectify-kernels.h"
#include "util.h"

#define ONE (1L << RECTIFY_FRAC_BITS) /* a pixel, in map units */

/* The entry of plane pixel (@u, @v) of eye @eye; @scale: plane pixels per luma pixel (1 or 1/2).
 * A plane pixel (u, v) sits at luma ((u + 0.5) / scale − 0.5, ...): for chroma, the centre of
 * its 2×2 luma block. */
static uint32_t map_entry(const struct calibration *c, unsigned eye, unsigned u, unsigned v, unsigned w, unsigned h,
                          double scale, int stride) {
        double lx, ly, x, y;

        if (!calibration_source_point(c, eye, (u + 0.5) / scale - 0.5, (v + 0.5) / scale - 0.5, &lx, &ly))
                return RECTIFY_OUTSIDE;
        x = (lx + 0.5) * scale - 0.5;
        y = (ly + 0.5) * scale - 0.5;
        if (!(x > -1 && y > -1 && x < w && y < h)) /* (NaN too) */
                return RECTIFY_OUTSIDE;
        /* the nearest 1/32 position, and inside or outside decided on it, as the remap samples
         * it: a point on the first or last column or row comes out of the projection a few 1e-15
         * either side of it, depending on how the compiler rounds (fused multiply-add on arm64),
         * and must not turn black. On the last column or row the weight of the right/lower
         * neighbour is 0; that neighbour is still read (the next row, or the frame's slack row:
         * frame_init() allocates it), never used. */
        long qx = lround(x * ONE), qy = lround(y * ONE);
        if (qx < 0 || qy < 0 || qx > (long) (w - 1) * ONE || qy > (long) (h - 1) * ONE)
                return RECTIFY_OUTSIDE;
        long sx = qx >> RECTIFY_FRAC_BITS, sy = qy >> RECTIFY_FRAC_BITS;
        return rectify_entry((uint32_t) (sy * stride + sx), (unsigned) (qx & RECTIFY_FRAC_MASK),
                             (unsigned) (qy & RECTIFY_FRAC_MASK));
}

static int map_build(struct rectify_map *m, const struct calibration *c, unsigned eye, unsigned w, unsigned h,
                     double scale, int stride) {
        m->width = w;
        m->height = h;
        m->stride = stride;
        m->entry = malloc((size_t) w * h * sizeof(*m->entry));
        if (!m->entry)
                return -ENOMEM;
        for (unsigned v = 0; v < h; v++)
                for (unsigned u = 0; u < w; u++)
                        m->entry[(size_t) v * w + u] = map_entry(c, eye, u, v, w, h, scale, stride);
        return 0;
}

/* Whether every offset into a @w × @h plane with rows @stride apart fits an entry. */
static bool offsets_fit(unsigned w, unsigned h, int stride) {
        return w > 0 && h > 0 && stride >= (int) w &&
               (uint64_t) (h - 1) * (uint64_t) stride + (w - 1) <= RECTIFY_OFFSET_MAX;
}

bool rectify_fits(unsigned width, unsigned height) {
        return offsets_fit(width, height, (int) (2 * width)) && offsets_fit(width / 2, height / 2, (int) width);
}

static bool avx2_available(void) {
#if defined(__x86_64__)
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
#else
        return false;
#endif
}

/* The best kernel this machine has, or the one HANDREC_REMAP names if it has that one. */
static void choose_kernel(struct rectify *r) {
        static const struct {
                const char *name;
                rectify_row_fn *row;
        } kernels[] = {
#if defined(__x86_64__)
                {"avx2", rectify_row_avx2},
#endif
#if defined(__aarch64__)
                {"neon", rectify_row_neon},
#endif
                {"scalar", rectify_row_scalar},
        };
        const char *want = getenv("HANDREC_REMAP");

        r->row = NULL;
        for (size_t i = 0; i < ELEMENTSOF(kernels); i++) {
                if (streq(kernels[i].name, "avx2") && !avx2_available())
                        continue;
                if (!r->row || (want && streq(want, kernels[i].name))) {
                        r->row = kernels[i].row;
                        r->kernel = kernels[i].name;
                }
        }
}

int rectify_new(const struct calibration *c, unsigned width, unsigned height, int ystride, int cstride,
                struct rectify **ret) {
        struct rectify *r;
        int e;

        if (!offsets_fit(width, height, ystride) || !offsets_fit(width / 2, height / 2, cstride))
                return -E2BIG;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        for (unsigned eye = 0; eye < 2; eye++) {
                e = map_build(&r->luma[eye], c, eye, width, height, 1.0, ystride);
                if (e >= 0)
                        e = map_build(&r->chroma[eye], c, eye, width / 2, height / 2, 0.5, cstride);
                if (e < 0) {
                        rectify_free(r);
                        return e;
                }
        }
        choose_kernel(r);
        *ret = r;
        return 0;
}

struct rectify *rectify_free(struct rectify *r) {
        if (!r)
                return NULL;
        for (unsigned e = 0; e < 2; e++) {
                free(r->luma[e].entry);
                free(r->chroma[e].entry);
        }
        free(r);
        return NULL;
}

const char *rectify_kernel(const struct rectify *r) {
        return r->kernel;
}

/* Plane rows [v0, v1) through @m from @src (the eye's origin in the source plane) into @dst
 * (where row v0 goes). */
static void remap_rows(const struct rectify *r, const struct rectify_map *m, const uint8_t *src, unsigned v0,
                       unsigned v1, uint8_t *dst, int dst_stride, uint8_t border) {
        for (unsigned v = v0; v < v1; v++)
                r->row(m->entry + (size_t) v * m->width, m->width, src, m->stride,
                       dst + (ptrdiff_t) (v - v0) * dst_stride, border);
}

void rectify_rows(const struct rectify *r, const struct frame *src, unsigned y0, unsigned n, uint8_t *const dst[3],
                  const int dst_strides[3]) {
        const unsigned w = r->luma[0].width, cw = r->chroma[0].width;
        const unsigned y1 = MIN(y0 + n, r->luma[0].height);
        const unsigned c0 = y0 / 2, c1 = MIN(y1 / 2, r->chroma[0].height);

        assert(src->strides[0] == r->luma[0].stride && src->strides[1] == r->chroma[0].stride &&
               src->strides[2] == r->chroma[0].stride);
        if (y0 >= y1)
                return;
        for (unsigned eye = 0; eye < 2; eye++) {
                remap_rows(r, &r->luma[eye], src->planes[0] + eye * w, y0, y1, dst[0] + eye * w, dst_strides[0], 0);
                for (unsigned p = 1; p < 3; p++)
                        remap_rows(r, &r->chroma[eye], src->planes[p] + eye * cw, c0, c1, dst[p] + eye * cw,
                                   dst_strides[p], 128);
        }
}

void rectify_frame(const struct rectify *r, const struct frame *src, struct frame *dst) {
        rectify_rows(r, src, 0, r->luma[0].height, dst->planes, dst->strides);
        dst->meta = src->meta;
        dst->jpeg_size = 0;
}
