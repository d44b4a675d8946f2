/* SPDX-License-Identifier: MIT */
/*
 * capture-v4l2.h — the V4L2 source (source_v4l2_new(), via source.h) and its frame conversion,
 * which the unit tests drive with real MJPEG and YUYV bytes.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "source.h"
#include "v4l2-describe.h"

struct capture_format {
        unsigned width, height; /* of this device's frames */
        uint32_t pixelformat;   /* V4L2_PIX_FMT_YUYV or V4L2_PIX_FMT_MJPEG */
        unsigned bytesperline;
        unsigned sizeimage;
};

struct capture_convert {
        void *tj;     /* TurboJPEG decompressor */
        uint8_t *tmp; /* decode buffer for MJPEG that is not 4:2:0 */
        size_t tmp_size;
        char error[256];
};

/** capture_convert_init() - buffers for devices up to @max_width × @height. */
int capture_convert_init(struct capture_convert *cv, unsigned max_width, unsigned height);
void capture_convert_done(struct capture_convert *cv);

/**
 * capture_convert_frame() - put one device frame (@data, @size bytes, in @fmt) into @f at
 * column @x0 as I420; with @passthrough (MJPEG only) copy the JPEG into f->jpeg instead, checking
 * only its header. Return: 0, or -EBADMSG/-EINVAL/-EMSGSIZE with cv->error set.
 */
int capture_convert_frame(struct capture_convert *cv, const struct capture_format *fmt, const uint8_t *data,
                          size_t size, struct frame *f, unsigned x0, bool passthrough);
