/* SPDX-License-Identifier: MIT */
/*
 * source.h — where stereo frames come from. Every source (synthetic, and later v4l2, replay)
 * sits behind these four calls and is driven by one hand's source thread only.
 *
 *   source_new()   allocate, from the camera config (nothing opened yet)
 *   source_open()  take the device / start the clock
 *   source_read()  block until the next frame; fill @dst, or drop it when @dst is NULL
 *   source_close() release the device; open again later is fine
 */
#pragma once

#include "config.h"
#include "frame.h"

struct source;

struct source_ops {
        int (*open)(struct source *s);
        int (*read)(struct source *s, struct frame *dst, struct frame_meta *ret_meta);
        void (*close)(struct source *s);
        void (*free)(struct source *s);
        /* optional: the last error as a sentence (device, what failed, what it can do) */
        const char *(*error)(struct source *s);
        /* a camera stays open and streaming between takes (warm); the synthetic one does not */
        bool keeps_warm;
};

struct source {
        const struct source_ops *ops;
        /* frames wait for room in the pipeline instead of being dropped (a replay at rate "max") */
        bool paced_by_pipeline;
        /* set by the pipeline for each take: the pixels are needed (rectification), so a camera's
         * JPEG cannot be stored as it came */
        bool want_pixels;
};

/** source_new() - the source the camera config names. Return: 0 and *@ret (caller owns). */
int source_new(const struct camera_config *c, struct source **ret);

static inline int source_open(struct source *s) {
        return s->ops->open(s);
}

/**
 * source_read() - wait for the next frame.
 * @dst: frame to fill (owned by the caller), or NULL to consume and discard the frame.
 * @ret_meta: its timestamps and sequence numbers, filled in either case.
 * Return: 0, or negative errno (-ENODEV: the camera is gone).
 */
static inline int source_read(struct source *s, struct frame *dst, struct frame_meta *ret_meta) {
        return s->ops->read(s, dst, ret_meta);
}

static inline void source_close(struct source *s) {
        s->ops->close(s);
}

/** source_free() - close and free; accepts NULL; returns NULL. */
struct source *source_free(struct source *s);

static inline const char *source_error(struct source *s) {
        return s->ops->error ? s->ops->error(s) : "";
}

int source_synthetic_new(const struct camera_config *c, struct source **ret);
int source_v4l2_new(const struct camera_config *c, struct source **ret);
int source_replay_new(const struct camera_config *c, struct source **ret);
