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

void rectify_plane(const struct rectify_map *m, const uint8_t *src, uint8_t *dst, int dst_stride, uint8_t border) {
        /* source and destination planes share their stride: the maps were built with it */
        const unsigned w = m->width, h = m->height;

        for (unsigned v = 0; v < h; v++) {
                const int32_t *restrict off = m->offset + (size_t) v * w;
                const uint16_t *restrict frac = m->frac + (size_t) v * w;
                uint8_t *restrict out = dst + (size_t) v * dst_stride;
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
                        unsigned bot = (unsigned) (p[dst_stride] << 8) + (p[dst_stride + 1] - p[dst_stride]) * (int) fx;
                        out[u] = (uint8_t) (((top << 8) + ((int) bot - (int) top) * (int) fy + 32768) >> 16);
                }
        }
}

void rectify_frame(const struct rectify *r, const struct frame *src, struct frame *dst) {
        unsigned w = r->luma[0].width;

        for (unsigned eye = 0; eye < 2; eye++) {
                unsigned x0 = eye * w;
                rectify_plane(&r->luma[eye], src->planes[0] + x0, dst->planes[0] + x0, dst->strides[0], 0);
                rectify_plane(&r->chroma[eye], src->planes[1] + x0 / 2, dst->planes[1] + x0 / 2, dst->strides[1], 128);
                rectify_plane(&r->chroma[eye], src->planes[2] + x0 / 2, dst->planes[2] + x0 / 2, dst->strides[2], 128);
        }
        dst->meta = src->meta;
        dst->jpeg_size = 0;
}
