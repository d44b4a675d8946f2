/* SPDX-License-Identifier: MIT */
/* encoder.c — TurboJPEG (tj* API, libjpeg-turbo 2.0+) compression from YUV planes.
 * STAND-IN for the band encoder (being written elsewhere): bands are gathered into a scratch
 * frame, the JPEG made in the encoder's buffer and copied to dst when it fits. */
#include "encoder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "util.h"

struct encoder {
        tjhandle tj;
        unsigned width, height;
        unsigned char *buf; /* tjBufSize() bytes, from tjAlloc() */
        unsigned long cap;
        struct frame scratch; /* the bands gathered (stand-in only) */
};

int encoder_new(unsigned width, unsigned height, struct encoder **ret) {
        struct encoder *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->width = width;
        e->height = height;
        e->cap = tjBufSize((int) width, (int) height, TJSAMP_420);
        e->tj = tjInitCompress();
        e->buf = tjAlloc((int) e->cap);
        if (!e->tj || !e->buf || frame_init(&e->scratch, width, height) < 0) {
                encoder_free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

int encoder_encode(struct encoder *e, const struct frame *f, encoder_band_fn *band, void *userdata, int quality,
                   uint8_t *dst, size_t cap, const uint8_t **ret_data, size_t *ret_size) {
        unsigned long size = e->cap;
        unsigned char *buf = e->buf;
        const struct frame *src = f;

        if (band) {
                for (unsigned y = 0; y < f->height; y += 16) {
                        unsigned n = MIN(16u, f->height - y);
                        uint8_t *const rows[3] = {
                                e->scratch.planes[0] + (size_t) y * e->scratch.strides[0],
                                e->scratch.planes[1] + (size_t) (y / 2) * e->scratch.strides[1],
                                e->scratch.planes[2] + (size_t) (y / 2) * e->scratch.strides[2],
                        };
                        band(userdata, y, n, rows, e->scratch.strides);
                }
                src = &e->scratch;
        }
        /* TJFLAG_NOREALLOC: the buffer is worst-case sized, TurboJPEG must never replace it. */
        if (tjCompressFromYUVPlanes(e->tj, (const unsigned char **) src->planes, (int) f->width, src->strides,
                                    (int) f->height, TJSAMP_420, &buf, &size, quality, TJFLAG_NOREALLOC) < 0) {
                log_error("JPEG compression failed: %s", tjGetErrorStr2(e->tj));
                return -EIO;
        }
        if (dst && size <= cap) {
                memcpy(dst, buf, size);
                *ret_data = dst;
        } else
                *ret_data = buf;
        *ret_size = size;
        return 0;
}

size_t encoder_max_size(const struct encoder *e) {
        return e->cap;
}

struct encoder *encoder_free(struct encoder *e) {
        if (!e)
                return NULL;
        if (e->tj)
                tjDestroy(e->tj);
        tjFree(e->buf);
        frame_release(&e->scratch);
        free(e);
        return NULL;
}
