/* SPDX-License-Identifier: MIT */
/*
 * frame.h — one stereo frame in memory: an I420 (YUV 4:2:0) image of both eyes side by side,
 * left eye in columns [0, eye_width), right eye in [eye_width, 2 * eye_width). Frames are
 * allocated once when a hand is set up and recycled through the pipeline's pool.
 */
#pragma once

#include "qc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame_meta {
        uint64_t number;      /* the source's own count since it opened */
        int64_t timestamp_ns; /* capture time of the pair, CLOCK_MONOTONIC */
        int64_t left_timestamp_ns;
        int64_t right_timestamp_ns;
        uint32_t left_sequence; /* driver sequence numbers */
        uint32_t right_sequence;
        uint32_t camera_gap;    /* frames the camera skipped just before this one (sequence gap) */
        uint32_t unpaired[2];   /* left, right frames discarded without a partner since the last pair */
        bool dequeue_timestamp; /* the driver gave no CLOCK_MONOTONIC time: dequeue time used */
        struct qc_sample qc;    /* its look, measured by the encoder worker (qc.h) */
};

struct frame {
        uint8_t *data; /* owns the three planes */
        uint8_t *planes[3];
        int strides[3];
        unsigned width; /* whole stereo frame: 2 × eye width */
        unsigned height;
        struct frame_meta meta;
        /* when the camera's own JPEG is stored as it is (MJPEG, side by side, no rectification) */
        uint8_t *jpeg;
        size_t jpeg_size; /* 0: encode the planes */
        size_t jpeg_capacity;
};

/** frame_init() - allocate the planes of a @width × @height I420 frame. Return: 0 or -ENOMEM. */
int frame_init(struct frame *f, unsigned width, unsigned height);
/** frame_init_jpeg() - add a buffer of @capacity bytes for a camera's JPEG. Return: 0 or -ENOMEM. */
int frame_init_jpeg(struct frame *f, size_t capacity);
/** frame_release() - free what frame_init() allocated; safe on a zeroed or released frame. */
void frame_release(struct frame *f);
