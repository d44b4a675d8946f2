/* SPDX-License-Identifier: MIT */
/*
 * pipeline-encode.c — the encoder workers of one hand. Each takes the next job from the work
 * FIFO together with room in the writer queue (reserved under the lock, so in ticket order);
 * then, with the lock released, decodes the camera's JPEG into its own frame when the take
 * needs pixels, and encodes straight into that room, the remap feeding the encoder band by band
 * when rectifying (no rectified frame), or copies the camera's JPEG there as it came. At its
 * ticket's turn it commits the frame with its real size, so the queue is in capture order
 * whatever order the workers finish in. Lock rules and ownership: pipeline-internal.h.
 */
#include <stdio.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "encoder.h"
#include "jpeg-bands.h"
#include "pipeline-internal.h"
#include "../lib/rectify.h"
#include "../lib/util.h"

/* One job in a worker's hands, from the work FIFO to its turn. */
struct task {
        struct job *job;
        int quality;
        bool rectify;   /* the take rectifies: the pixels are needed */
        bool as_came;   /* the camera's JPEG is stored as it came */
        bool have_room; /* `room` is reserved; without it the frame is dropped as queue-full */
        struct queue_room room;
        int r;               /* the decode or encode result */
        const uint8_t *data; /* the JPEG: room.data, or the encoder's buffer when it outgrew the room */
        size_t size;
};

/* A paced source's frame waits for queue room instead of being dropped, as long as someone
 * will free some: the writer (committed entries), or, before the frame has its turn, a worker
 * ahead of it that holds a room. Not once the file can no longer be written. */
static bool may_wait_for_room(struct pipeline *p, bool at_turn) {
        int reason = atomic_load(&p->end_reason);

        if (!(source_caps(p->source) & SOURCE_CAP_PACED) || reason == STOP_IO_ERROR || reason == STOP_DISK_FULL)
                return false;
        return queue_depth(p->queue) > 0 || (!at_turn && queue_open(p->queue) > 0);
}

/* The room to reserve for @t: the camera's JPEG's size, or for an encoding one and a half times
 * the largest JPEG of the take so far (raw/4 before the first), capped at what the encoder can
 * make; as little as the largest so far when the queue has no more. (Twice kept a third more of
 * the ring resident; a JPEG that outgrows its room is copied into fresh room at its turn.) Lock
 * held. */
static void room_wanted(const struct worker *w, const struct task *t, size_t *ret_min, size_t *ret_max) {
        const struct pipeline *p = w->p;
        size_t largest = p->jpeg_largest, cap = encoder_max_size(w->encoder), max;

        if (t->as_came) {
                *ret_min = *ret_max = t->job->frame.jpeg_size;
                return;
        }
        max = MIN(largest > 0 ? largest + largest / 2 : p->raw_bytes / 4, cap);
        *ret_max = max;
        *ret_min = MAX(largest > 0 ? MIN(largest, max) : max / 2, (size_t) 1);
}

/* With the lock held: wait for a job, reserve its room, take it off the work FIFO. A paced
 * source's job waits on the FIFO until its room can be had (so rooms stay in ticket order); a
 * camera's job without room is taken anyway, to be counted at its turn.
 * Return: false when the pipeline quits. */
static bool next_task(struct worker *w, struct task *t) {
        struct pipeline *p = w->p;

        for (;;) {
                size_t min, max;

                while (!p->quit && p->work_count == 0)
                        pthread_cond_wait(&p->cv_work, &p->lock);
                if (p->quit)
                        return false;
                *t = (struct task){.job = p->work[p->work_head], .quality = p->take.jpeg_quality};
                t->rectify = p->take.rectify && p->rectify;
                t->as_came = t->job->frame.jpeg_size > 0 && !t->rectify;
                room_wanted(w, t, &min, &max);
                t->have_room = queue_reserve(p->queue, min, max, &t->room) == 0;
                if (t->have_room || !may_wait_for_room(p, false))
                        break;
                pthread_cond_broadcast(&p->cv_writer);
                pthread_cond_wait(&p->cv_room, &p->lock);
        }
        p->work_head = (p->work_head + 1) % p->n_jobs;
        p->work_count--;
        return true;
}

/* ---- without the lock -------------------------------------------------------------------- */

/* What the encoder's band callback needs to rectify a frame: the source's rows, and for a camera's
 * JPEG the decoder to ask for them. */
struct band_source {
        const struct rectify *rectify;
        const struct rectify_source *src;
        struct jpeg_bands *bands; /* NULL: src holds the whole frame */
        unsigned width, height;
        int dump_fd; /* HANDREC_DEBUG_DUMP_DIR: the bands are written here too; else -1 */
};

static void rectify_band(void *userdata, unsigned y0, unsigned n, uint8_t *const dst[3], const int dst_strides[3]) {
        const struct band_source *b = userdata;

        if (b->bands) {
                unsigned luma, chroma;
                rectify_rows_needed(b->rectify, y0, n, &luma, &chroma);
                jpeg_bands_need(b->bands, luma, chroma); /* a failure shows at jpeg_bands_finish() */
        }
        rectify_rows_from(b->rectify, b->src, y0, n, dst, dst_strides);
        if (b->dump_fd >= 0)
                pipeline_dump_rows(b->dump_fd, b->width, b->height, y0, n, (const uint8_t *const *) dst, dst_strides);
}

/* Encode @src's planes into @t's room (rectified on the way when the take says so). */
static int encode(struct worker *w, const struct frame *src, struct task *t) {
        struct pipeline *p = w->p;
        const struct rectify_source whole = {
                .planes = {src->planes[0], src->planes[1], src->planes[2]},
                .strides = {src->strides[0], src->strides[1], src->strides[2]},
                .row_mask = {~0u, ~0u, ~0u},
        };
        struct band_source b = {
                .rectify = p->rectify, .src = &whole, .width = src->width, .height = src->height, .dump_fd = -1};
        int r;

        if (p->dump_dir && t->rectify)
                b.dump_fd = pipeline_dump_open(p, &src->meta);
        else if (p->dump_dir)
                pipeline_dump_frame(p, src);
        r = encoder_encode(w->encoder, src, t->rectify ? rectify_band : NULL, &b, t->quality, t->room.data, t->room.cap,
                           &t->data, &t->size);
        if (b.dump_fd >= 0)
                close(b.dump_fd);
        return r;
}

/* Decode the camera's JPEG of @t's job band by band as the encoder asks for rectified bands, into
 * @t's room. Return: 0 or the decoder's error (-EBADMSG, -EINVAL), else the encoder's. */
static int decode_and_encode(struct worker *w, struct task *t) {
        struct pipeline *p = w->p;
        struct job *j = t->job;
        struct band_source b = {.rectify = p->rectify,
                                .src = jpeg_bands_source(w->bands),
                                .bands = w->bands,
                                .width = 2 * p->hand->camera.width,
                                .height = p->hand->camera.height,
                                .dump_fd = -1};
        int r, e = jpeg_bands_begin(w->bands, j->frame.jpeg, j->frame.jpeg_size);

        if (e >= 0 && p->dump_dir)
                b.dump_fd = pipeline_dump_open(p, &j->frame.meta);
        if (e >= 0)
                e = encoder_encode(w->encoder, NULL, rectify_band, &b, t->quality, t->room.data, t->room.cap, &t->data,
                                   &t->size);
        if (b.dump_fd >= 0)
                close(b.dump_fd);
        r = jpeg_bands_finish(w->bands, &j->frame.meta.qc); /* the look, measured from the decoded rows */
        if (r < 0)
                log_warning("%s: %s", p->hand->name, jpeg_bands_error(w->bands));
        return r < 0 ? r : e;
}

/* The look of a camera's JPEG stored as it came (qc.h): its fingerprint, and on one frame in
 * qc.sample_every its pixels, from a 1/8-scale grey decode (all a frame can spare on this path). */
static void look_at_jpeg(struct worker *w, struct job *j) {
        struct frame_meta *m = &j->frame.meta;
        const struct camera_config *cam = &w->p->hand->camera;
        int width, height, sub, cs;

        m->qc = (struct qc_sample){.jpeg_hash = qc_jpeg_hash(j->frame.jpeg, j->frame.jpeg_size)};
        if (!w->qc_tj || m->number % MAX(1u, w->p->config->qc.sample_every) != 0 ||
            tjDecompressHeader3(w->qc_tj, j->frame.jpeg, j->frame.jpeg_size, &width, &height, &sub, &cs) < 0 ||
            (unsigned) width != 2 * cam->width || (unsigned) height != cam->height)
                return;
        width = TJSCALED(width, ((tjscalingfactor){1, 8}));
        height = TJSCALED(height, ((tjscalingfactor){1, 8}));
        if (tjDecompress2(w->qc_tj, j->frame.jpeg, j->frame.jpeg_size, w->qc_gray, width, width, height, TJPF_GRAY,
                          TJFLAG_FASTDCT) == 0)
                qc_measure_gray(w->qc_gray, width, (unsigned) width, (unsigned) height, &m->qc);
}

/* The JPEG of @t's job, into its room (or past it, in the encoder's buffer); its look measured on
 * the way (qc.h): from the luma there is anyway, or from the camera's JPEG. */
static void produce(struct worker *w, struct task *t) {
        struct job *j = t->job;

        if (!t->have_room)
                return;
        if (t->as_came) {
                memcpy(t->room.data, j->frame.jpeg, j->frame.jpeg_size);
                t->data = t->room.data;
                t->size = j->frame.jpeg_size;
                look_at_jpeg(w, j);
                return;
        }
        if (j->frame.jpeg_size > 0) {
                t->r = w->bands ? decode_and_encode(w, t) : -EINVAL;
        } else {
                qc_measure_planes(j->frame.planes[0], j->frame.strides[0], j->frame.width, j->frame.height,
                                  &j->frame.meta.qc);
                t->r = encode(w, &j->frame, t);
        }
}

/* ---- at the ticket's turn, lock held ----------------------------------------------------- */

/* A JPEG that outgrew its room: into fresh room, copied with the lock released (this worker
 * holds the turn: nobody else commits; the writer reads only committed entries). A paced source
 * waits for the writer to free room; a camera's frame finding none is dropped. Return: 0 or
 * -ENOBUFS. */
static int queue_spilled(struct pipeline *p, const struct task *t) {
        for (;;) {
                struct queue_room room;

                if (queue_reserve(p->queue, t->size, t->size, &room) == 0) {
                        pthread_mutex_unlock(&p->lock);
                        memcpy(room.data, t->data, t->size);
                        pthread_mutex_lock(&p->lock);
                        queue_commit(p->queue, &room, t->size, &t->job->frame.meta, now_ns(CLOCK_MONOTONIC));
                        return 0;
                }
                if (!may_wait_for_room(p, true))
                        return -ENOBUFS;
                pthread_cond_broadcast(&p->cv_writer);
                pthread_cond_wait(&p->cv_room, &p->lock);
        }
}

/* Commit @t's frame or count why not. Return: whether it was queued. */
static bool commit_task(struct pipeline *p, struct task *t) {
        struct take_counters *c = &p->counters;

        if (!t->have_room) {
                atomic_fetch_add(&c->dropped[DROP_QUEUE_FULL], 1);
                return false;
        }
        if (t->r < 0) {
                queue_cancel(p->queue, &t->room);
                atomic_fetch_add(&c->dropped[DROP_ENCODE_ERROR], 1);
                return false;
        }
        if (!t->as_came)
                p->jpeg_largest = MAX(p->jpeg_largest, t->size);
        if (t->data == t->room.data) {
                queue_commit(p->queue, &t->room, t->size, &t->job->frame.meta, now_ns(CLOCK_MONOTONIC));
                return true;
        }
        queue_cancel(p->queue, &t->room);
        if (queue_spilled(p, t) == 0)
                return true;
        atomic_fetch_add(&c->dropped[DROP_QUEUE_FULL], 1);
        return false;
}

/* Wait for @t's turn, commit it, pass the turn on and free the job. */
static void commit_in_order(struct pipeline *p, struct task *t) {
        while (p->next_commit != t->job->ticket)
                pthread_cond_wait(&p->cv_turn, &p->lock);
        if (commit_task(p, t)) {
                atomic_store(&p->queue_depth, queue_depth(p->queue));
                pthread_cond_broadcast(&p->cv_writer);
        }
        pthread_cond_broadcast(&p->cv_room); /* a room given back, or what a short frame left */
        p->next_commit++;
        pthread_cond_broadcast(&p->cv_turn);
        pipeline_give_back_locked(p, t->job);
}

void *pipeline_worker_main(void *userdata) {
        struct worker *w = userdata;
        struct pipeline *p = w->p;
        char name[16];

        snprintf(name, sizeof(name), "hr-enc-%s-%u", p->hand->name, w->index);
        thread_setup(name);

        pthread_mutex_lock(&p->lock);
        for (;;) {
                struct task t;

                if (!next_task(w, &t))
                        break;
                pthread_mutex_unlock(&p->lock);

                atomic_store(&w->busy_since, now_ns(CLOCK_MONOTONIC));
                produce(w, &t);

                pthread_mutex_lock(&p->lock);
                commit_in_order(p, &t);
                atomic_store(&w->busy_since, 0);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}
