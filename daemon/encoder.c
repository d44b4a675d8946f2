/* SPDX-License-Identifier: MIT */
/* encoder.c — TurboJPEG (tj* API, libjpeg-turbo 2.0+) compression from YUV planes. */
#include "encoder.h"

#include <errno.h>
#include <stdlib.h>
#include <turbojpeg.h>

#include "util.h"

struct encoder {
        tjhandle tj;
        unsigned width, height;
        unsigned char *buf; /* tjBufSize() bytes, from tjAlloc() */
        unsigned long cap;
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
        if (!e->tj || !e->buf) {
                encoder_free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

int encoder_encode(struct encoder *e, const struct frame *f, int quality, const uint8_t **ret_data, size_t *ret_size) {
        unsigned long size = e->cap;
        unsigned char *buf = e->buf;

        /* TJFLAG_NOREALLOC: the buffer is worst-case sized, TurboJPEG must never replace it. */
        if (tjCompressFromYUVPlanes(e->tj, (const unsigned char **) f->planes, (int) f->width, f->strides,
                                    (int) f->height, TJSAMP_420, &buf, &size, quality, TJFLAG_NOREALLOC) < 0) {
                log_error("JPEG compression failed: %s", tjGetErrorStr2(e->tj));
                return -EIO;
        }
        *ret_data = buf;
        *ret_size = size;
        return 0;
}

struct encoder *encoder_free(struct encoder *e) {
        if (!e)
                return NULL;
        if (e->tj)
                tjDestroy(e->tj);
        tjFree(e->buf);
        free(e);
        return NULL;
}
