/* SPDX-License-Identifier: MIT */
/*
 * preview-render.c — owns turning one tapped frame into one preview JPEG (preview-render.h):
 * decode, rectify, box downscale, guide lines, encode. Preview thread only.
 */
#include "preview-render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "convert.h"
#include "encoder.h"
#include "../lib/rectify.h"
#include "../lib/util.h"

struct preview_scratch {
        unsigned width, height;
        struct frame full; /* the camera's JPEG decoded at full size */
        struct frame rect; /* rectified, full size */
        struct convert *convert;
        tjhandle tj; /* scaled decodes */
};

struct preview_render {
        unsigned width, height; /* of the source frame */
        unsigned scale;
        struct frame out; /* the preview image, guides drawn on it */
        struct encoder *encoder;
};

int preview_scratch_new(unsigned width, unsigned height, struct preview_scratch **ret) {
        struct preview_scratch *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->width = width;
        s->height = height;
        /* frame_init()'s pages cost nothing until a decode or a rectification writes them */
        r = frame_init(&s->full, width, height);
        if (r >= 0)
                r = frame_init(&s->rect, width, height);
        if (r >= 0)
                r = convert_new(width, height, &s->convert);
        if (r >= 0 && !(s->tj = tjInitDecompress()))
                r = -ENOMEM;
        if (r < 0) {
                preview_scratch_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct preview_scratch *preview_scratch_free(struct preview_scratch *s) {
        if (!s)
                return NULL;
        frame_release(&s->full);
        frame_release(&s->rect);
        convert_free(s->convert);
        if (s->tj)
                tjDestroy(s->tj);
        free(s);
        return NULL;
}

unsigned preview_scale_for(unsigned width, unsigned max_width) {
        if (max_width == 0)
                return 1;
        for (unsigned scale = 1; scale < 8; scale *= 2)
                if (width / scale <= max_width)
                        return scale;
        return 8;
}

int preview_render_new(unsigned width, unsigned height, unsigned scale, struct preview_render **ret) {
        struct preview_render *r = calloc(1, sizeof(*r));
        int k;

        if (!r)
                return -ENOMEM;
        *r = (struct preview_render){.width = width, .height = height, .scale = scale};
        k = frame_init(&r->out, (width / scale) & ~1u, (height / scale) & ~1u);
        if (k >= 0)
                k = encoder_new(r->out.width, r->out.height, &r->encoder);
        if (k < 0) {
                preview_render_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

struct preview_render *preview_render_free(struct preview_render *r) {
        if (!r)
                return NULL;
        frame_release(&r->out);
        encoder_free(r->encoder);
        free(r);
        return NULL;
}

void preview_render_size(const struct preview_render *r, unsigned *ret_width, unsigned *ret_height) {
        *ret_width = r->out.width;
        *ret_height = r->out.height;
}

size_t preview_render_max(const struct preview_render *r) {
        return encoder_max_size(r->encoder);
}

/* One plane: @w × @h pixels of @dst, each the mean of the @scale × @scale block of @src. */
static void downscale_plane(const uint8_t *src, int sstride, uint8_t *dst, int dstride, unsigned w, unsigned h,
                            unsigned scale) {
        unsigned area = scale * scale;

        for (unsigned y = 0; y < h; y++) {
                const uint8_t *s = src + (size_t) y * scale * sstride;
                uint8_t *d = dst + (size_t) y * dstride;
                if (scale == 1) {
                        memcpy(d, s, w);
                        continue;
                }
                for (unsigned x = 0; x < w; x++) {
                        unsigned sum = 0;
                        for (unsigned j = 0; j < scale; j++)
                                for (unsigned i = 0; i < scale; i++)
                                        sum += s[(size_t) j * sstride + x * scale + i];
                        d[x] = (uint8_t) ((sum + area / 2) / area);
                }
        }
}

void preview_downscale(const struct frame *src, struct frame *dst, unsigned scale) {
        downscale_plane(src->planes[0], src->strides[0], dst->planes[0], dst->strides[0], dst->width, dst->height,
                        scale);
        for (int p = 1; p < 3; p++)
                downscale_plane(src->planes[p], src->strides[p], dst->planes[p], dst->strides[p], dst->width / 2,
                                dst->height / 2, scale);
}

void preview_draw_guides(struct frame *f) {
        for (unsigned k = 1; k < 8; k++) {
                unsigned y = (k * f->height / 8) & ~1u; /* even: a whole chroma row under it */
                memset(f->planes[0] + (size_t) y * f->strides[0], 235, f->width);
                memset(f->planes[0] + (size_t) (y + 1) * f->strides[0], 235, f->width);
                memset(f->planes[1] + (size_t) (y / 2) * f->strides[1], 128, f->width / 2);
                memset(f->planes[2] + (size_t) (y / 2) * f->strides[2], 128, f->width / 2);
        }
}

/* A camera's 4:2:0 JPEG straight into the preview frame by TurboJPEG's scaled decode, when the
 * scaled size is exactly the preview's. Return: 1 done, 0 not possible here, -EBADMSG. */
static int scaled_decode(struct preview_render *r, struct preview_scratch *s, const struct frame *src) {
        int w, h, sub, cs;

        if (r->width % r->scale || r->height % r->scale || r->out.width != r->width / r->scale ||
            r->out.height != r->height / r->scale)
                return 0;
        if (tjDecompressHeader3(s->tj, src->jpeg, src->jpeg_size, &w, &h, &sub, &cs) < 0)
                return -EBADMSG;
        if (sub != TJSAMP_420 || (unsigned) w != r->width || (unsigned) h != r->height)
                return 0;
        if (tjDecompressToYUVPlanes(s->tj, src->jpeg, src->jpeg_size, r->out.planes, (int) r->out.width, r->out.strides,
                                    (int) r->out.height, 0) < 0)
                return -EBADMSG;
        return 1;
}

/* The full-size I420 image to scale: @src's planes, or its JPEG decoded into s->full. */
static int full_image(struct preview_scratch *s, const struct frame *src, const struct frame **ret) {
        struct convert_layout in = {.format = CONVERT_MJPEG, .width = s->width, .height = s->height};

        if (src->jpeg_size == 0) {
                *ret = src;
                return 0;
        }
        if (convert_frame(s->convert, &in, src->jpeg, src->jpeg_size, &s->full, 0) < 0)
                return -EBADMSG;
        *ret = &s->full;
        return 0;
}

int preview_render(struct preview_render *r, struct preview_scratch *s, const struct frame *src,
                   const struct rectify *rect, bool guides, int quality, uint8_t *dst, size_t cap, size_t *ret_size) {
        const struct frame *img;
        const uint8_t *data;
        size_t size;
        int k = 0;

        if (src->jpeg_size > 0 && !rect)
                k = scaled_decode(r, s, src);
        if (k < 0)
                return k;
        if (k == 0) {
                k = full_image(s, src, &img);
                if (k < 0)
                        return k;
                if (rect) {
                        rectify_frame(rect, img, &s->rect);
                        img = &s->rect;
                }
                preview_downscale(img, &r->out, r->scale);
        }
        if (guides)
                preview_draw_guides(&r->out);
        if (encoder_encode(r->encoder, &r->out, NULL, NULL, quality, dst, cap, &data, &size) < 0)
                return -EIO;
        if (data != dst) { /* outgrew @cap: cannot happen with preview_render_max() bytes */
                if (size > cap)
                        return -EIO;
                memcpy(dst, data, size);
        }
        *ret_size = size;
        return 0;
}
