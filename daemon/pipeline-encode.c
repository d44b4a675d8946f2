/* SPDX-License-Identifier: MIT */
/*
 * pipeline-encode.c — the encoder workers of one hand. Each pops a job from the work FIFO,
 * rectifies and JPEG-encodes it with the lock released (or takes the camera's own JPEG as it
 * came), then commits the JPEG to the writer queue in ticket order, so the queue is in capture
 * order whatever order the workers finish in. Lock rules and ownership: pipeline-internal.h.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "encoder.h"
#include "pipeline-internal.h"
#include "rectify.h"
#include "util.h"

/* Called with the lock held and the caller's ticket due: append to the writer queue. The bytes
 * are copied with the lock released: no other producer can reserve before this one commits (it
 * holds the turn), and the writer reads only committed entries. A source paced by the pipeline
 * waits for room (the writer signals cv_room as it releases); a camera's frame is dropped. */
static int push_or_wait(struct pipeline *p, const uint8_t *data, size_t size, const struct frame_meta *meta) {
        for (;;) {
                uint8_t *where = queue_reserve(p->queue, size);
                int reason;

                if (where) {
                        pthread_mutex_unlock(&p->lock);
                        memcpy(where, data, size);
                        pthread_mutex_lock(&p->lock);
                        queue_commit(p->queue, where, size, meta, now_ns(CLOCK_MONOTONIC));
                        return 0;
                }
                reason = atomic_load(&p->end_reason);
                if (!(source_caps(p->source) & SOURCE_CAP_PACED) || queue_depth(p->queue) == 0 ||
                    reason == STOP_IO_ERROR || reason == STOP_DISK_FULL)
                        return -ENOBUFS;
                pthread_cond_broadcast(&p->cv_writer);
                pthread_cond_wait(&p->cv_room, &p->lock);
        }
}

/* Tests: the planes that go to the encoder, as raw I420 files <dir>/<hand>-<number>.i420. */
static void dump_planes(struct pipeline *p, const struct frame *f) {
        char path[PATH_MAX];
        FILE *out;

        snprintf(path, sizeof(path), "%s/%s-%06llu.i420", p->dump_dir, p->hand->name,
                 (unsigned long long) f->meta.number);
        out = fopen(path, "we");
        if (!out)
                return;
        fwrite(f->planes[0], 1, (size_t) f->strides[0] * f->height, out);
        fwrite(f->planes[1], 1, (size_t) f->strides[1] * f->height / 2, out);
        fwrite(f->planes[2], 1, (size_t) f->strides[2] * f->height / 2, out);
        fclose(out);
}

/* The JPEG of job @j into @data and @size (the worker's encoder buffer, or the camera's JPEG in
 * the job), rectified first when @rectify. No lock held. Return: 0 or the encoder's error. */
static int compress(struct worker *w, struct job *j, int quality, bool rectify, const uint8_t **data, size_t *size) {
        struct pipeline *p = w->p;
        const struct frame *out = &j->frame;

        if (j->frame.jpeg_size > 0) {
                /* the camera's own JPEG, stored as it came */
                *data = j->frame.jpeg;
                *size = j->frame.jpeg_size;
                return 0;
        }
        if (rectify) {
                rectify_frame(p->rectify, &j->frame, &w->rectified);
                out = &w->rectified;
        }
        if (p->dump_dir)
                dump_planes(p, out);
        return encoder_encode(w->encoder, out, NULL, NULL, quality, NULL, 0, data, size);
}

/* With the lock held: wait for @j's turn, queue its JPEG (or count why not), pass the turn on
 * and free the job. */
static void commit_in_order(struct pipeline *p, struct job *j, int r, const uint8_t *data, size_t size) {
        while (p->next_commit != j->ticket)
                pthread_cond_wait(&p->cv_turn, &p->lock);
        if (r < 0)
                atomic_fetch_add(&p->counters.dropped[DROP_ENCODE_ERROR], 1);
        else if (push_or_wait(p, data, size, &j->frame.meta) < 0)
                atomic_fetch_add(&p->counters.dropped[DROP_QUEUE_FULL], 1);
        else {
                atomic_store(&p->queue_depth, queue_depth(p->queue));
                pthread_cond_broadcast(&p->cv_writer);
        }
        p->next_commit++;
        pthread_cond_broadcast(&p->cv_turn);
        pipeline_give_back_locked(p, j);
}

void *pipeline_worker_main(void *userdata) {
        struct worker *w = userdata;
        struct pipeline *p = w->p;
        char name[16];

        snprintf(name, sizeof(name), "hr-enc-%s-%u", p->hand->name, w->index);
        thread_setup(name);

        pthread_mutex_lock(&p->lock);
        for (;;) {
                const uint8_t *data = NULL;
                size_t size = 0;
                struct job *j;
                int quality, r;
                bool rectify;

                while (!p->quit && p->work_count == 0)
                        pthread_cond_wait(&p->cv_work, &p->lock);
                if (p->quit)
                        break;
                j = p->work[p->work_head];
                p->work_head = (p->work_head + 1) % p->n_jobs;
                p->work_count--;
                quality = p->take.jpeg_quality;
                rectify = p->take.rectify && p->rectify;
                pthread_mutex_unlock(&p->lock);

                atomic_store(&w->busy_since, now_ns(CLOCK_MONOTONIC));
                r = compress(w, j, quality, rectify, &data, &size);

                pthread_mutex_lock(&p->lock);
                commit_in_order(p, j, r, data, size);
                atomic_store(&w->busy_since, 0);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}
