/* SPDX-License-Identifier: MIT */
/*
 * preview-tap.c — owns the hand-over of one frame from the source thread to the preview thread
 * (the states and who may move them: preview-tap.h). Nothing here allocates after
 * preview_tap_alloc(), and nothing the source thread calls can wait.
 */
#include "preview-tap.h"

#include <poll.h>
#include <string.h>

#include "../lib/util.h"

int preview_tap_alloc(struct preview_tap *t, bool camera_jpeg, size_t jpeg_max, unsigned width, unsigned height,
                      int wake_fd) {
        int r = camera_jpeg ? frame_init_jpeg(&t->frame, jpeg_max) : frame_init(&t->frame, width, height);

        if (r < 0)
                return r;
        t->wake_fd = wake_fd;
        atomic_store(&t->state, TAP_IDLE);
        return 0;
}

void preview_tap_release(struct preview_tap *t) {
        atomic_store(&t->state, TAP_OFF);
        frame_release(&t->frame);
        t->wake_fd = -1;
}

void preview_tap_want(struct preview_tap *t, int64_t due_ns) {
        int expected = TAP_IDLE;

        atomic_store(&t->due_ns, due_ns);
        atomic_compare_exchange_strong(&t->state, &expected, TAP_WANT);
}

struct frame *preview_tap_claim(struct preview_tap *t, int64_t timestamp_ns) {
        int expected = TAP_WANT;

        if (atomic_load_explicit(&t->state, memory_order_relaxed) != TAP_WANT)
                return NULL;
        if (timestamp_ns < atomic_load(&t->due_ns))
                return NULL;
        if (!atomic_compare_exchange_strong(&t->state, &expected, TAP_FILLING))
                return NULL; /* switched off meanwhile */
        return &t->frame;
}

void preview_tap_publish(struct preview_tap *t, const struct frame_meta *meta, bool recording) {
        uint64_t one = 1;

        t->frame.meta = *meta;
        t->recording = recording;
        atomic_store(&t->state, TAP_READY);
        if (write(t->wake_fd, &one, sizeof(one)) < 0) {
                /* EAGAIN only: the counter is already non-zero, the preview thread will look */
        }
}

void preview_tap_unclaim(struct preview_tap *t) {
        atomic_store(&t->state, TAP_WANT);
}

bool preview_tap_copy(struct frame *dst, const struct frame *src) {
        if (src->jpeg_size > 0) {
                if (!dst->jpeg || src->jpeg_size > dst->jpeg_capacity)
                        return false;
                memcpy(dst->jpeg, src->jpeg, src->jpeg_size);
                dst->jpeg_size = src->jpeg_size;
                return true;
        }
        if (!dst->data || !src->data || dst->width != src->width || dst->height != src->height)
                return false;
        /* the planes are one block (frame_init()): luma, then both chroma planes */
        memcpy(dst->data, src->data,
               (size_t) (src->planes[2] - src->data) + (size_t) (src->width / 2) * (src->height / 2));
        dst->jpeg_size = 0;
        return true;
}

bool preview_tap_offer(struct preview_tap *t, const struct frame *src, const struct frame_meta *meta, bool recording) {
        struct frame *f = preview_tap_claim(t, meta->timestamp_ns);

        if (!f)
                return false;
        if (!preview_tap_copy(f, src)) {
                preview_tap_unclaim(t);
                return false;
        }
        preview_tap_publish(t, meta, recording);
        return true;
}

void preview_tap_off(struct preview_tap *t) {
        for (;;) {
                int s = atomic_load(&t->state);
                if (s == TAP_OFF)
                        return;
                if (s != TAP_FILLING) {
                        if (atomic_compare_exchange_strong(&t->state, &s, TAP_OFF))
                                return;
                        continue;
                }
                /* a copy in progress: its publish writes wake_fd (a frame's copy, well under 1 ms) */
                struct pollfd pfd = {.fd = t->wake_fd, .events = POLLIN};
                uint64_t n;
                if (poll(&pfd, 1, -1) > 0 && read(t->wake_fd, &n, sizeof(n)) < 0) {
                        /* EAGAIN: another wake-up; the state is read again */
                }
        }
}
