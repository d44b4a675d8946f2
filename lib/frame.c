/* SPDX-License-Identifier: MIT */
/* frame.c — allocation of I420 stereo frames. */
#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int frame_init(struct frame *f, unsigned width, unsigned height) {
        size_t ysize = (size_t) width * height, csize = (size_t) (width / 2) * (height / 2);

        memset(f, 0, sizeof(*f));
        /* + one row of slack: the remap reads (with weight 0) the pixel below the last row */
        f->data = aligned_alloc(64, (ysize + 2 * csize + width + 64 + 63) & ~(size_t) 63);
        if (!f->data)
                return -ENOMEM;
        f->width = width;
        f->height = height;
        f->planes[0] = f->data;
        f->planes[1] = f->data + ysize;
        f->planes[2] = f->data + ysize + csize;
        f->strides[0] = (int) width;
        f->strides[1] = f->strides[2] = (int) width / 2;
        return 0;
}

int frame_init_jpeg(struct frame *f, size_t capacity) {
        f->jpeg = malloc(capacity);
        if (!f->jpeg)
                return -ENOMEM;
        f->jpeg_capacity = capacity;
        f->jpeg_size = 0;
        return 0;
}

void frame_release(struct frame *f) {
        free(f->data);
        free(f->jpeg);
        memset(f, 0, sizeof(*f));
}
