/* SPDX-License-Identifier: MIT */
/*
 * source-synthetic.c — the built-in test camera: a textured still scene seen by two eyes (the
 * right eye's view shifted by `disparity` pixels), a bar that moves every frame, and the frame
 * number stamped into both eyes (stamp.h). Frames come at the configured fps on the
 * CLOCK_MONOTONIC schedule start + n·period; a late reader skips slots as a real camera drops
 * them, so the sequence numbers show the gap.
 *
 * The scene is rendered once at open into `scene` (one eye plus the disparity margin); a frame
 * is then row copies, the bar and the stamps: no allocation per frame.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "stamp.h"
#include "../lib/util.h"

struct synthetic {
        struct source base;
        unsigned w, h, d; /* eye size, disparity */
        int64_t period_ns;
        uint8_t *scene[3]; /* planes of (w + d) × h, I420 */
        unsigned sw;       /* scene width = w + d */
        int64_t start_ns;
        uint64_t slot; /* next frame slot since open */
        bool open;
};

static void render_scene(struct synthetic *s) {
        unsigned sw = s->sw, h = s->h;
        uint32_t rng = 0x12345678u;

        for (unsigned y = 0; y < h; y++)
                for (unsigned x = 0; x < sw; x++) {
                        double v = 128 + 50 * sin(x / 19.0) * cos(y / 27.0) + 30 * sin((x + 2.0 * y) / 61.0);
                        /* a few squares and a fixed fine texture, so JPEG sizes look like a camera's */
                        if (((x / 97) + (y / 83)) % 5 == 0)
                                v = 40 + (x % 97);
                        rng = rng * 1664525u + 1013904223u;
                        v += (int) (rng >> 28) - 8;
                        s->scene[0][(size_t) y * sw + x] = (uint8_t) (v < 16 ? 16 : v > 235 ? 235 : v);
                }
        for (unsigned y = 0; y < h / 2; y++)
                for (unsigned x = 0; x < sw / 2; x++) {
                        s->scene[1][(size_t) y * (sw / 2) + x] = (uint8_t) (128 + 40 * sin(x / 41.0));
                        s->scene[2][(size_t) y * (sw / 2) + x] = (uint8_t) (128 + 40 * cos(y / 29.0));
                }
}

static void draw_eye(struct synthetic *s, struct frame *f, unsigned eye, uint32_t number) {
        unsigned w = s->w, h = s->h, shift = eye ? s->d : 0, x0 = eye * w;

        for (unsigned y = 0; y < h; y++)
                memcpy(f->planes[0] + (size_t) y * f->strides[0] + x0, s->scene[0] + (size_t) y * s->sw + shift, w);
        for (unsigned p = 1; p < 3; p++)
                for (unsigned y = 0; y < h / 2; y++)
                        memcpy(f->planes[p] + (size_t) y * f->strides[p] + x0 / 2,
                               s->scene[p] + (size_t) y * (s->sw / 2) + shift / 2, w / 2);

        /* the moving bar, 16 px wide, at the same scene position in both eyes */
        unsigned travel = w + s->d - 16, bx = (unsigned) ((number * 8u) % travel);
        for (unsigned y = h / 4; y < h - h / 4; y++)
                for (unsigned x = bx; x < bx + 16; x++)
                        if (x >= shift && x - shift < w)
                                f->planes[0][(size_t) y * f->strides[0] + x0 + x - shift] = 235;

        stamp_write(f->planes[0] + x0, f->strides[0], f->planes[1] + x0 / 2, f->planes[2] + x0 / 2, f->strides[1], w,
                    number);
}

static int synthetic_open(struct source *base) {
        struct synthetic *s = (struct synthetic *) base;

        s->start_ns = now_ns(CLOCK_MONOTONIC);
        s->slot = 0;
        s->open = true;
        return 0;
}

static int synthetic_read(struct source *base, struct frame *dst, _unused_ enum source_want want,
                          struct frame_meta *ret_meta) {
        struct synthetic *s = (struct synthetic *) base;
        uint64_t skipped = 0;
        int64_t due, now;

        if (!s->open)
                return -EBADF;
        now = now_ns(CLOCK_MONOTONIC);
        due = s->start_ns + (int64_t) s->slot * s->period_ns;
        if (now > due + s->period_ns) {
                /* we are late by more than a frame: skip the slots a camera would have dropped,
                 * and say so as a camera does, by a gap in the sequence numbers */
                uint64_t next = (uint64_t) ((now - s->start_ns) / s->period_ns) + 1;
                skipped = next - s->slot;
                s->slot = next;
                due = s->start_ns + (int64_t) s->slot * s->period_ns;
        }
        if (due > now) {
                struct timespec ts = ns_to_timespec(due);
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                        ;
        }

        *ret_meta = (struct frame_meta){
                .number = s->slot,
                .timestamp_ns = due,
                .left_timestamp_ns = due,
                .right_timestamp_ns = due,
                .left_sequence = (uint32_t) s->slot,
                .right_sequence = (uint32_t) s->slot,
                .camera_gap = (uint32_t) MIN(skipped, UINT32_MAX),
        };
        if (dst) {
                draw_eye(s, dst, 0, (uint32_t) s->slot);
                draw_eye(s, dst, 1, (uint32_t) s->slot);
                dst->meta = *ret_meta;
        }
        s->slot++;
        return 0;
}

static void synthetic_close(struct source *base) {
        ((struct synthetic *) base)->open = false;
}

static void synthetic_free(struct source *base) {
        struct synthetic *s = (struct synthetic *) base;
        free(s->scene[0]);
        free(s);
}

static const struct source_ops synthetic_ops = {
        .open = synthetic_open,
        .read = synthetic_read,
        .close = synthetic_close,
        .free = synthetic_free,
};

int source_synthetic_new(const struct camera_config *c, struct source **ret) {
        struct synthetic *s = calloc(1, sizeof(*s));
        size_t ysize;

        if (!s)
                return -ENOMEM;
        s->base.ops = &synthetic_ops;
        s->w = c->width;
        s->h = c->height;
        s->d = c->disparity & ~1u; /* even, so the chroma shift is whole */
        s->sw = s->w + s->d;
        s->period_ns = (int64_t) llround(1e9 / c->fps);
        ysize = (size_t) s->sw * s->h;
        s->scene[0] = malloc(ysize + ysize / 2);
        if (!s->scene[0]) {
                free(s);
                return -ENOMEM;
        }
        s->scene[1] = s->scene[0] + ysize;
        s->scene[2] = s->scene[1] + ysize / 4;
        render_scene(s);
        *ret = &s->base;
        return 0;
}
