/* SPDX-License-Identifier: MIT */
/*
 * preview-tap.h — where the preview takes frames from a hand's source thread without ever making
 * it wait: one frame buffer handed back and forth by an atomic state.
 *
 * DESIGN
 *
 *   preview thread                         source thread (pipeline-source.c)
 *   ───────────────                        ─────────────────────────────────
 *   preview_tap_want(due) ── WANT ──►      preview_tap_claim(ts): WANT and ts ≥ due? → FILLING
 *                                          copies the frame it has just read (or reads into it)
 *   wakes on wake_fd, READY ◄── READY ──   preview_tap_publish(): READY, one eventfd write
 *   renders from the frame, then IDLE
 *
 * The frame belongs to the source thread only between a successful claim and publish/unclaim,
 * and to the preview thread at every other time. The source thread never waits: a claim is one
 * compare-and-swap, and when nobody wants a frame it does nothing at all. Only the preview thread
 * moves the state out of READY and IDLE; only the source thread out of FILLING.
 *
 * The buffer is allocated by the main thread when the first preview opens (preview_tap_alloc())
 * and freed when the last has closed and the preview thread has switched the tap off
 * (preview_tap_off(): it waits for a copy in progress to be published, on wake_fd).
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "../lib/frame.h"

enum preview_tap_state {
        TAP_OFF,     /* no buffer, or nobody watching */
        TAP_IDLE,    /* the preview thread has the frame (rendering, or waiting to want one) */
        TAP_WANT,    /* the preview thread wants the first frame captured at or after due_ns */
        TAP_FILLING, /* the source thread is filling it */
        TAP_READY,   /* filled: the preview thread's to render */
};

struct preview_tap {
        atomic_int state;
        atomic_int_fast64_t due_ns;
        /* the per-take source waits on the pipeline's cv_source; set while it does, so that
         * preview_tap_want() knows to wake it (pipeline_tap_want()) */
        atomic_bool source_waits;
        /* someone watches: a source opened per take is kept open for the preview (pipeline lock) */
        bool watching;
        int wake_fd; /* the preview thread's eventfd (not owned), written on publish */
        struct frame frame;
        bool recording; /* with the frame: the take was recording when it was captured */
};

/** preview_tap_alloc() - the frame buffer: a JPEG buffer of @jpeg_max bytes when @camera_jpeg,
 * else an I420 frame of @width × @height. Main thread, tap OFF. Return: 0 or -ENOMEM. */
int preview_tap_alloc(struct preview_tap *t, bool camera_jpeg, size_t jpeg_max, unsigned width, unsigned height,
                      int wake_fd);

/** preview_tap_release() - free the buffer. Main thread, tap OFF and nobody filling it. */
void preview_tap_release(struct preview_tap *t);

/** preview_tap_want() - ask for the first frame at or after @due_ns (preview thread, tap IDLE). */
void preview_tap_want(struct preview_tap *t, int64_t due_ns);

/**
 * preview_tap_claim() - source thread: the tap's frame to fill, when a frame captured at
 * @timestamp_ns is wanted; else NULL (and nothing was done). Never waits.
 */
struct frame *preview_tap_claim(struct preview_tap *t, int64_t timestamp_ns);

/** preview_tap_publish() - source thread: the claimed frame is filled (@meta, @recording). */
void preview_tap_publish(struct preview_tap *t, const struct frame_meta *meta, bool recording);

/** preview_tap_unclaim() - source thread: the claimed frame could not be filled; still wanted. */
void preview_tap_unclaim(struct preview_tap *t);

/**
 * preview_tap_offer() - source thread: copy @src (a job the source has just filled, before it goes
 * to the encoders; captured as @meta says) into the tap if a frame is wanted; @src is only read.
 * Return: whether copied.
 */
bool preview_tap_offer(struct preview_tap *t, const struct frame *src, const struct frame_meta *meta, bool recording);

/**
 * preview_tap_off() - preview thread: stop wanting frames. Waits (on wake_fd, which the caller
 * must not be reading elsewhere) for a copy in progress to finish. Afterwards the source thread
 * no longer touches the buffer.
 */
void preview_tap_off(struct preview_tap *t);

/** preview_tap_copy() - copy the frame @src into @dst (JPEG bytes or planes). Return: whether
 * @dst could hold it. Exposed for the unit test. */
bool preview_tap_copy(struct frame *dst, const struct frame *src);
