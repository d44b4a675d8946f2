/* SPDX-License-Identifier: MIT */
/*
 * source.h — where stereo frames come from. Every source (synthetic, v4l2, replay) sits behind
 * these calls and is driven by one hand's source thread only.
 *
 *   source_*_new() allocate, from the camera config (nothing opened yet)
 *   source_open()  take the device / start the clock
 *   source_read()  block until the next frame; fill @dst, or drop it when @dst is NULL
 *   source_close() release the device; open again later is fine
 */
#pragma once

#include <errno.h>

#include "../lib/config.h"
#include "../lib/frame.h"

struct source;

/* What a source can do: the pipeline asks (source_caps()) instead of knowing source types. */
enum {
        /* a camera stays open and streaming between takes (warm), so a take starts at the next frame */
        SOURCE_CAP_KEEPS_WARM = 1u << 0,
        /* frames wait for room in the pipeline instead of being dropped (a replay at rate "max") */
        SOURCE_CAP_PACED = 1u << 1,
        /* can hand over the camera's own JPEG of the whole stereo frame, stored as it came; the
         * frame needs a JPEG buffer of source->jpeg_max bytes (frame_init_jpeg()) */
        SOURCE_CAP_CAMERA_JPEG = 1u << 2,
};

/* What the pipeline needs of one frame, said per read. */
enum source_want {
        SOURCE_WANT_PIXELS, /* the I420 planes (they will be rectified or encoded) */
        SOURCE_WANT_ANY,    /* the camera's JPEG when the source can give it, else the planes */
};

/* A camera described in plain text for a take's attributes (source_describe()). */
#define SOURCE_CONTROLS_MAX 4096
struct source_camera {
        char format[8];                        /* the fourcc it sends ("MJPG") */
        char controls[3][SOURCE_CONTROLS_MAX]; /* in force: side-by-side device, left, right ("" for none) */
};

struct source_ops {
        int (*open)(struct source *s);
        int (*read)(struct source *s, struct frame *dst, enum source_want want, struct frame_meta *ret_meta);
        void (*close)(struct source *s);
        void (*free)(struct source *s);
        /* optional: the last error as a sentence (device, what failed, what it can do) */
        const char *(*error)(struct source *s);
        /* optional: the open camera described (its format, the controls in force now) */
        int (*describe)(struct source *s, struct source_camera *ret);
};

struct source {
        const struct source_ops *ops;
        unsigned caps;   /* SOURCE_CAP_*, fixed by source_*_new() */
        size_t jpeg_max; /* with SOURCE_CAP_CAMERA_JPEG: the largest JPEG it may hand over */
};

/* The largest JPEG of a whole side-by-side frame a source hands over (SOURCE_CAP_CAMERA_JPEG):
 * the raw I420 frame plus 64 KiB of headers. Cameras, replays and the memory budget share it. */
static inline size_t source_camera_jpeg_max(const struct camera_config *c) {
        return (size_t) 2 * c->width * c->height * 3 / 2 + 65536;
}

static inline int source_open(struct source *s) {
        return s->ops->open(s);
}

/**
 * source_read() - wait for the next frame.
 * @dst: frame to fill (owned by the caller), or NULL to consume and discard the frame.
 * @want: pixels, or the camera's JPEG if the source has it (then dst->jpeg_size > 0).
 * @ret_meta: its timestamps and sequence numbers, filled in either case.
 * Return: 0, or negative errno (-ENODEV: the camera is gone).
 */
static inline int source_read(struct source *s, struct frame *dst, enum source_want want, struct frame_meta *ret_meta) {
        return s->ops->read(s, dst, want, ret_meta);
}

static inline unsigned source_caps(const struct source *s) {
        return s->caps;
}

static inline void source_close(struct source *s) {
        s->ops->close(s);
}

/** source_free() - close and free; accepts NULL; returns NULL. */
struct source *source_free(struct source *s);

/** source_describe() - an open camera's format and controls in force into *@ret. Return: 0, or
 * -EOPNOTSUPP for a source that is no device (synthetic, replay). */
static inline int source_describe(struct source *s, struct source_camera *ret) {
        return s->ops->describe ? s->ops->describe(s, ret) : -EOPNOTSUPP;
}

static inline const char *source_error(struct source *s) {
        return s->ops->error ? s->ops->error(s) : "";
}

/* The sources, each from its camera config (borrowed, must outlive it): 0 and *@ret (the caller
 * owns it), or negative errno. The pipeline picks the one the config names (pipeline.c). */
int source_synthetic_new(const struct camera_config *c, struct source **ret);
int source_v4l2_new(const struct camera_config *c, struct source **ret);
int source_replay_new(const struct camera_config *c, struct source **ret);
