/* SPDX-License-Identifier: MIT */
/* rectify.c — fixed-point maps and bilinear remap of I420 planes; see rectify.h. */
#include "rectify.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void map_free(struct rectify_map *m) {
        free(m->offset);
        free(m->frac);
        memset(m, 0, sizeof(*m));
}

/* @scale: plane pixels per luma pixel (1 or 1/2). A plane pixel (u, v) sits at luma
 * ((u + 0.5) / scale − 0.5, ...): for chroma, the centre of its 2×2 luma block. */
static int map_build(struct rectify_map *m, const struct calibration *c, unsigned eye, unsigned w, unsigned h,
                     double scale, int stride) {
        size_t n = (size_t) w * h;

        m->width = w;
        m->height = h;
        m->offset = malloc(n * sizeof(*m->offset));
        m->frac = malloc(n * sizeof(*m->frac));
        if (!m->offset || !m->frac)
                return -ENOMEM;
        for (unsigned v = 0; v < h; v++)
                for (unsigned u = 0; u < w; u++) {
                        size_t i = (size_t) v * w + u;
                        double lx, ly, x, y;
                        if (!calibration_source_point(c, eye, (u + 0.5) / scale - 0.5, (v + 0.5) / scale - 0.5, &lx,
                                                      &ly)) {
                                m->offset[i] = RECTIFY_OUTSIDE;
                                continue;
                        }
                        x = (lx + 0.5) * scale - 0.5;
                        y = (ly + 0.5) * scale - 0.5;
                        if (!(x > -1 && y > -1 && x < w && y < h)) { /* (NaN too) */
                                m->offset[i] = RECTIFY_OUTSIDE;
                                continue;
                        }
                        /* the nearest 1/256 position, and inside or outside decided on it, as the
                         * remap samples it: a point on the first or last column or row comes out
                         * of the projection a few 1e-15 either side of it, depending on how the
                         * compiler rounds (fused multiply-add on arm64), and must not turn black.
                         * On the last column or row the weight of the right/lower neighbour is 0;
                         * that neighbour is still read (the next row, or the frame's slack row:
                         * frame_init() allocates it), never used. */
                        long qx = lround(x * 256), qy = lround(y * 256);
                        if (qx < 0 || qy < 0 || qx > (long) (w - 1) * 256 || qy > (long) (h - 1) * 256) {
                                m->offset[i] = RECTIFY_OUTSIDE;
                                continue;
                        }
                        int sx = (int) (qx >> 8), sy = (int) (qy >> 8);
                        long fx = qx - sx * 256L, fy = qy - sy * 256L;
                        m->offset[i] = sy * stride + sx;
                        m->frac[i] = (uint16_t) (fy << 8 | fx);
                }
        return 0;
}

int rectify_new(const struct calibration *c, unsigned width, unsigned height, int ystride, int cstride,
                struct rectify **ret) {
        struct rectify *r = calloc(1, sizeof(*r));
        int e;

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
        *ret = r;
        return 0;
}

struct rectify *rectify_free(struct rectify *r) {
        if (!r)
                return NULL;
        for (unsigned e = 0; e < 2; e++) {
                map_free(&r->luma[e]);
                map_free(&r->chroma[e]);
        }
        free(r);
        return NULL;
}

/* Rows [v0, v0 + n) of the plane through @m, from @src (the eye's origin, @sstride a row) into
 * @dst (the band's first row, @dstride a row). */
static void remap_rows(const struct rectify_map *m, const uint8_t *src, int sstride, unsigned v0, unsigned n,
                       uint8_t *dst, int dstride, uint8_t border) {
        const unsigned w = m->width;

        for (unsigned v = v0; v < v0 + n && v < m->height; v++) {
                const int32_t *restrict off = m->offset + (size_t) v * w;
                const uint16_t *restrict frac = m->frac + (size_t) v * w;
                uint8_t *restrict out = dst + (size_t) (v - v0) * dstride;
                for (unsigned u = 0; u < w; u++) {
                        int32_t o = off[u];
                        if (__builtin_expect(o == RECTIFY_OUTSIDE, 0)) {
                                out[u] = border;
                                continue;
                        }
                        const uint8_t *p = src + o;
                        unsigned fx = frac[u] & 0xff, fy = frac[u] >> 8;
                        /* rows blended in 16 bits (255 × 256 fits), columns in 32 */
                        unsigned top = (unsigned) (p[0] << 8) + (p[1] - p[0]) * (int) fx;
                        unsigned bot = (unsigned) (p[sstride] << 8) + (p[sstride + 1] - p[sstride]) * (int) fx;
                        out[u] = (uint8_t) (((top << 8) + ((int) bot - (int) top) * (int) fy + 32768) >> 16);
                }
        }
}

void rectify_plane(const struct rectify_map *m, const uint8_t *src, uint8_t *dst, int dst_stride, uint8_t border) {
        /* source and destination planes share their stride: the maps were built with it */
        remap_rows(m, src, dst_stride, 0, m->height, dst, dst_stride, border);
}

void rectify_rows(const struct rectify *r, const struct frame *src, unsigned y0, unsigned n, uint8_t *const dst[3],
                  const int dst_strides[3]) {
        unsigned w = r->luma[0].width;

        for (unsigned eye = 0; eye < 2; eye++) {
                unsigned x0 = eye * w;
                remap_rows(&r->luma[eye], src->planes[0] + x0, src->strides[0], y0, n, dst[0] + x0, dst_strides[0], 0);
                for (unsigned p = 1; p < 3; p++)
                        remap_rows(&r->chroma[eye], src->planes[p] + x0 / 2, src->strides[p], y0 / 2, n / 2,
                                   dst[p] + x0 / 2, dst_strides[p], 128);
        }
}

void rectify_frame(const struct rectify *r, const struct frame *src, struct frame *dst) {
        rectify_rows(r, src, 0, src->height, dst->planes, dst->strides);
        dst->meta = src->meta;
        dst->jpeg_size = 0;
}
