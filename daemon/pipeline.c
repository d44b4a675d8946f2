/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c — one hand's pipeline as the main thread sees it: allocating every buffer and
 * starting the threads (pipeline_new), starting and stopping takes, events, counters, and
 * tearing down. The threads themselves: pipeline-source.c, pipeline-encode.c,
 * pipeline-writer.c; what they share and the lock rules: pipeline-internal.h.
 */
#include <stdio.h>
#include <string.h>
#include <turbojpeg.h>

#include "encoder.h"
#include "jpeg-bands.h"
#include "memory-budget.h"
#include "pipeline-internal.h"
#include "../lib/rectify.h"
#include "../lib/util.h"

const char *pipeline_stop_reason_to_string(enum stop_reason r) {
        static const char *const names[_STOP_MAX] = {
                [STOP_NONE] = "",
                [STOP_REQUESTED] = "requested",
                [STOP_DURATION] = "duration",
                [STOP_DEVICE_LOST] = "device-lost",
                [STOP_DISK_FULL] = "disk-full",
                [STOP_IO_ERROR] = "io-error",
                [STOP_SHUTDOWN] = "shutdown",
                [STOP_END_OF_INPUT] = "end-of-input",
                [STOP_PARTNER] = "partner-stopped",
        };
        return r < _STOP_MAX ? names[r] : "?";
}

const char *pipeline_drop_cause_to_string(enum drop_cause c) {
        static const char *const names[_DROP_MAX] = {
                [DROP_ENCODER_BUSY] = "encoder-busy",
                [DROP_QUEUE_FULL] = "queue-full",
                [DROP_ENCODE_ERROR] = "encode-error",
                [DROP_WRITE_FAILED] = "write-failed",
                [DROP_CAMERA] = "camera",
                [DROP_UNPAIRED_LEFT] = "unpaired-left",
                [DROP_UNPAIRED_RIGHT] = "unpaired-right",
        };
        return c < _DROP_MAX ? names[c] : "?";
}

void pipeline_post(struct pipeline *p, unsigned event) {
        uint64_t one = 1;

        atomic_fetch_or(&p->events, event);
        if (write(p->event_fd, &one, sizeof(one)) < 0) {
                /* EAGAIN only: the counter is already non-zero, the main thread will look */
        }
}

unsigned pipeline_take_events(struct pipeline *p) {
        return atomic_exchange(&p->events, 0);
}

bool pipeline_end_take_locked(struct pipeline *p, enum stop_reason reason, const char *error) {
        int expected = STOP_NONE;

        if (!atomic_compare_exchange_strong(&p->end_reason, &expected, (int) reason))
                return false;
        if (error && *error)
                snprintf(p->last_error, sizeof(p->last_error), "%s", error);
        pipeline_post(p, PIPELINE_EVENT_ENDING);
        pthread_cond_broadcast(&p->cv_writer);
        pthread_cond_broadcast(&p->cv_source);
        pthread_cond_broadcast(&p->cv_room);
        return true;
}

void pipeline_end_take(struct pipeline *p, enum stop_reason reason, const char *error) {
        pthread_mutex_lock(&p->lock);
        pipeline_end_take_locked(p, reason, error);
        pthread_mutex_unlock(&p->lock);
}

void pipeline_give_back_locked(struct pipeline *p, struct job *j) {
        p->free_jobs[p->n_free++] = j;
        p->in_flight--;
        pthread_cond_broadcast(&p->cv_room); /* workers wait on it too (queue room) */
        if (p->in_flight == 0)
                pthread_cond_broadcast(&p->cv_writer);
}

void pipeline_stop_because(struct pipeline *p, enum stop_reason reason, const char *error) {
        pthread_mutex_lock(&p->lock);
        if (p->take_active)
                pipeline_end_take_locked(p, reason, error);
        pthread_mutex_unlock(&p->lock);
}

void pipeline_stop(struct pipeline *p, enum stop_reason reason) {
        pipeline_stop_because(p, reason, NULL);
}

int pipeline_start(struct pipeline *p, const struct take_params *params) {
        pthread_mutex_lock(&p->lock);
        if (p->take_active) {
                pthread_mutex_unlock(&p->lock);
                return -EBUSY;
        }
        p->take = *params;
        p->take_active = true;
        p->source_done = false;
        p->last_error[0] = 0;
        p->jpeg_largest = 0;
        atomic_store(&p->end_reason, STOP_NONE);
        /* no other thread touches the counters between takes (pipeline-internal.h) */
        memset(&p->counters, 0, sizeof(p->counters));
        qc_take_init(&p->qc, p->hand->camera.fps);
        pthread_cond_broadcast(&p->cv_source);
        pthread_cond_broadcast(&p->cv_writer);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

void pipeline_stats(struct pipeline *p, struct pipeline_stats *ret) {
        struct take_counters *c = &p->counters;
        int64_t first = atomic_load(&c->first_ts), last = atomic_load(&c->last_ts);
        struct pipeline_stats s;

        /* zeroed whole, padding included: bus_emit_hand_changed() compares snapshots with memcmp() */
        memset(&s, 0, sizeof(s));
        s.captured = atomic_load(&c->captured);
        s.written = atomic_load(&c->written);
        s.bytes = atomic_load(&c->bytes);
        s.queue_depth = atomic_load(&p->queue_depth);
        s.queue_capacity = queue_capacity(p->queue);
        for (unsigned i = 0; i < _DROP_MAX; i++) {
                s.dropped[i] = atomic_load(&c->dropped[i]);
                if (drop_cause_was_captured(i))
                        s.dropped_total += s.dropped[i];
                else
                        s.missing += s.dropped[i];
        }
        s.skew_mean = (double) atomic_load(&c->skew_mean_ns) / 1e9;
        s.skew_max = (double) atomic_load(&c->skew_max_ns) / 1e9;
        s.dequeue_timestamps = atomic_load(&c->dequeue_ts);
        s.camera_fps = (double) atomic_load(&p->camera_fps_micro) / 1e6;
        if (first > 0 && last >= first) {
                s.duration = (double) (last - first) / 1e9 + 1.0 / p->hand->camera.fps;
                if (last > first && s.captured > 1)
                        s.fps = (double) (s.captured - 1) / ((double) (last - first) / 1e9);
        }
        memcpy(ret, &s, sizeof(s));
}

void pipeline_qc(struct pipeline *p, struct qc_take *ret) {
        pthread_mutex_lock(&p->lock);
        *ret = p->qc;
        pthread_mutex_unlock(&p->lock);
        qc_finish(ret, &p->config->qc);
}

enum stop_reason pipeline_result(struct pipeline *p, char *error, size_t error_len) {
        enum stop_reason r;

        pthread_mutex_lock(&p->lock);
        snprintf(error, error_len, "%s", p->last_error);
        r = atomic_load(&p->end_reason);
        pthread_mutex_unlock(&p->lock);
        return r;
}

/* How long a thread has been busy with one piece of work at @now (0: it is waiting). */
static int64_t busy_for(const atomic_int_fast64_t *since, int64_t now) {
        int64_t t = atomic_load(since);
        return t > 0 ? now - t : 0;
}

int64_t pipeline_stuck(struct pipeline *p, int64_t now, char *what, size_t len) {
        int64_t worst = busy_for(&p->writer_busy_since, now);

        snprintf(what, len, "the writer thread (in a disk write)");
        for (unsigned i = 0; i < p->n_workers; i++) {
                int64_t b = busy_for(&p->workers[i].busy_since, now);
                if (b > worst) {
                        worst = b;
                        snprintf(what, len, "encoder worker %u (on one frame)", i);
                }
        }
        return worst;
}

bool pipeline_device(struct pipeline *p, char *error, size_t error_len) {
        pthread_mutex_lock(&p->lock);
        snprintf(error, error_len, "%s", p->device_error);
        pthread_mutex_unlock(&p->lock);
        return atomic_load(&p->device_present);
}

/* ---- the preview tap ------------------------------------------------------------------------ */

int pipeline_tap_alloc(struct pipeline *p, int wake_fd) {
        const struct camera_config *cam = &p->hand->camera;
        int r = preview_tap_alloc(&p->tap, source_caps(p->source) & SOURCE_CAP_CAMERA_JPEG, p->source->jpeg_max,
                                  2 * cam->width, cam->height, wake_fd);

        if (r < 0)
                return r;
        pthread_mutex_lock(&p->lock);
        p->tap.watching = true;
        pthread_cond_broadcast(&p->cv_source); /* a per-take source opens for the preview */
        pthread_mutex_unlock(&p->lock);
        return 0;
}

void pipeline_tap_release(struct pipeline *p) {
        pthread_mutex_lock(&p->lock);
        p->tap.watching = false;
        pthread_cond_broadcast(&p->cv_source); /* a per-take source opened for the preview closes */
        pthread_mutex_unlock(&p->lock);
        preview_tap_release(&p->tap);
}

struct preview_tap *pipeline_tap(struct pipeline *p) {
        return &p->tap;
}

void pipeline_tap_want(struct pipeline *p, int64_t due_ns) {
        preview_tap_want(&p->tap, due_ns);
        /* seq_cst against the source thread's store of source_waits before it reads the state:
         * either it sees TAP_WANT, or we see it waiting and wake it (under the lock it waits with) */
        if (atomic_load(&p->tap.source_waits)) {
                pthread_mutex_lock(&p->lock);
                pthread_cond_broadcast(&p->cv_source);
                pthread_mutex_unlock(&p->lock);
        }
}

const struct rectify *pipeline_rectify(struct pipeline *p) {
        return p->rectify;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

static void init_sync(struct pipeline *p) {
        pthread_condattr_t ca;

        pthread_mutex_init(&p->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the writer's batch deadline */
        pthread_cond_init(&p->cv_source, &ca);
        pthread_cond_init(&p->cv_work, &ca);
        pthread_cond_init(&p->cv_turn, &ca);
        pthread_cond_init(&p->cv_writer, &ca);
        pthread_cond_init(&p->cv_room, &ca);
        pthread_condattr_destroy(&ca);
}

/* The frame pool: n_workers + 2 jobs, each holding what the source delivers: the camera's JPEG
 * (a JPEG buffer of source->jpeg_max) or pixels (an I420 stereo frame). */
static int alloc_jobs(struct pipeline *p, unsigned fw, unsigned fh) {
        bool camera_jpeg = source_caps(p->source) & SOURCE_CAP_CAMERA_JPEG;

        p->n_jobs = p->n_workers + 2;
        p->jobs = calloc(p->n_jobs, sizeof(*p->jobs));
        p->free_jobs = calloc(p->n_jobs, sizeof(*p->free_jobs));
        p->work = calloc(p->n_jobs, sizeof(*p->work));
        if (!p->jobs || !p->free_jobs || !p->work)
                return -ENOMEM;
        for (unsigned i = 0; i < p->n_jobs; i++) {
                int r = camera_jpeg ? frame_init_jpeg(&p->jobs[i].frame, p->source->jpeg_max)
                                    : frame_init(&p->jobs[i].frame, fw, fh);
                if (r < 0)
                        return r;
                p->free_jobs[p->n_free++] = &p->jobs[i];
        }
        return 0;
}

/* One encoder per worker; with a camera-JPEG source on a hand that rectifies, a band decoder with
 * the window of rows the maps say a band reads (jpeg-bands.h). */
static int alloc_workers(struct pipeline *p, unsigned fw, unsigned fh) {
        bool decodes = p->rectify && (source_caps(p->source) & SOURCE_CAP_CAMERA_JPEG);

        p->workers = calloc(p->n_workers, sizeof(*p->workers));
        if (!p->workers)
                return -ENOMEM;
        for (unsigned i = 0; i < p->n_workers; i++) {
                struct worker *w = &p->workers[i];
                int r;
                *w = (struct worker){.p = p, .index = i};
                r = encoder_new(fw, fh, &w->encoder);
                if (r >= 0 && (source_caps(p->source) & SOURCE_CAP_CAMERA_JPEG)) {
                        /* the look of a camera's JPEG stored as it came: a 1/8 grey decode, sampled */
                        w->qc_tj = tjInitDecompress();
                        w->qc_gray = malloc((size_t) (fw / 8 + 1) * (fh / 8 + 1));
                        r = w->qc_tj && w->qc_gray ? 0 : -ENOMEM;
                }
                if (r >= 0 && decodes)
                        r = jpeg_bands_new(fw, fh, rectify_window_rows(p->rectify), &w->bands);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The writer queue, sized by memory_budget_queue() (queue.seconds of frames, or capacity ×
 * batch_size, at 3 bits a pixel), so the configuration check counts what is allocated here.
 * Its byte ring is mapped, not touched, and rooms go to its lowest free addresses (queue.h): the
 * writer takes each frame's bytes as soon as it is committed, so the steady state holds a room
 * per worker and a frame or two, and keeps reusing the bottom of the ring, whose pages stay
 * resident (no page fault per frame), while a stalled disk can fill all of it. After a stall the
 * queue hands the pages above its working set back to the kernel: a room per worker and two
 * more, at the largest room seen. Keeping 3 s of frames resident at all times for a stall that
 * may never come would take that memory from everything else on the board. */
static int alloc_queue(struct pipeline *p) {
        unsigned entries;
        size_t ring;
        int r;

        memory_budget_queue(p->config, p->hand, &entries, &ring);
        p->batch = calloc(p->config->batch_size, sizeof(*p->batch));
        if (!p->batch)
                return -ENOMEM;
        r = queue_new(entries, ring, &p->queue);
        if (r < 0)
                return r;
        queue_set_working_set(p->queue, p->n_workers + 2);
        return 0;
}

static int start_threads(struct pipeline *p) {
        int r = -pthread_create(&p->source_thread, NULL, pipeline_source_main, p);
        if (r < 0)
                return r;
        p->source_started = true;
        r = -pthread_create(&p->writer_thread, NULL, pipeline_writer_main, p);
        if (r < 0)
                return r;
        p->writer_started = true;
        for (unsigned i = 0; i < p->n_workers; i++) {
                r = -pthread_create(&p->workers[i].thread, NULL, pipeline_worker_main, &p->workers[i]);
                if (r < 0)
                        return r;
                p->workers[i].started = true;
        }
        return 0;
}

int pipeline_new_with_source(const struct config *config, const struct hand_config *hand, struct source *source,
                             int event_fd, struct pipeline **ret) {
        const struct camera_config *cam = &hand->camera;
        unsigned fw = 2 * cam->width, fh = cam->height;
        struct pipeline *p;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p) {
                source_free(source);
                return -ENOMEM;
        }
        p->config = config;
        p->hand = hand;
        p->source = source;
        p->event_fd = event_fd;
        p->n_workers = config->workers;
        p->raw_bytes = (size_t) fw * fh * 3 / 2;
        p->dump_dir = getenv("HANDREC_DEBUG_DUMP_DIR");
        atomic_init(&p->end_reason, STOP_NONE);
        p->tap.wake_fd = -1;
        init_sync(p);

        r = alloc_jobs(p, fw, fh);
        /* the maps address planes with frame_init()'s strides, as every frame the remap reads has */
        if (r >= 0 && hand->calibration)
                r = rectify_new(hand->calibration, cam->width, cam->height, (int) fw, (int) fw / 2, &p->rectify);
        if (r >= 0)
                r = alloc_workers(p, fw, fh);
        if (r >= 0)
                r = alloc_queue(p);
        if (r < 0)
                goto fail;

        if (source_caps(p->source) & SOURCE_CAP_KEEPS_WARM)
                snprintf(p->device_error, sizeof(p->device_error), "%s", PIPELINE_NOT_OPENED_YET);
        else
                atomic_store(&p->device_present, true);
        r = start_threads(p);
        if (r < 0)
                goto fail;
        *ret = p;
        return 0;
fail:
        pipeline_free(p);
        return r;
}

/* The source the camera config names: where the pipeline chooses, the sources know nothing of each other. */
static int new_source(const struct camera_config *c, struct source **ret) {
        switch (c->source) {
        case SOURCE_SYNTHETIC: return source_synthetic_new(c, ret);
        case SOURCE_V4L2: return source_v4l2_new(c, ret);
        case SOURCE_REPLAY: return source_replay_new(c, ret);
        }
        return -EOPNOTSUPP;
}

int pipeline_new(const struct config *config, const struct hand_config *hand, int event_fd, struct pipeline **ret) {
        struct source *source;
        int r = new_source(&hand->camera, &source);

        if (r < 0)
                return r;
        return pipeline_new_with_source(config, hand, source, event_fd, ret);
}

/* Finish a take still running (its file gets status complete), then stop and join the threads. */
static void stop_threads(struct pipeline *p) {
        pthread_mutex_lock(&p->lock);
        if (p->take_active)
                pipeline_end_take_locked(p, STOP_SHUTDOWN, NULL);
        while (p->take_active && p->writer_started)
                pthread_cond_wait(&p->cv_source, &p->lock);
        p->quit = true;
        pthread_cond_broadcast(&p->cv_source);
        pthread_cond_broadcast(&p->cv_work);
        pthread_cond_broadcast(&p->cv_turn);
        pthread_cond_broadcast(&p->cv_writer);
        pthread_cond_broadcast(&p->cv_room);
        pthread_mutex_unlock(&p->lock);

        if (p->source_started)
                pthread_join(p->source_thread, NULL);
        if (p->writer_started)
                pthread_join(p->writer_thread, NULL);
        for (unsigned i = 0; p->workers && i < p->n_workers; i++)
                if (p->workers[i].started)
                        pthread_join(p->workers[i].thread, NULL);
}

struct pipeline *pipeline_free(struct pipeline *p) {
        if (!p)
                return NULL;

        stop_threads(p);
        for (unsigned i = 0; p->workers && i < p->n_workers; i++) {
                encoder_free(p->workers[i].encoder);
                jpeg_bands_free(p->workers[i].bands);
                if (p->workers[i].qc_tj)
                        tjDestroy(p->workers[i].qc_tj);
                free(p->workers[i].qc_gray);
        }
        rectify_free(p->rectify);
        preview_tap_release(&p->tap); /* (the preview is freed before its pipeline: hand_done()) */
        source_free(p->source);
        queue_free(p->queue);
        for (unsigned i = 0; p->jobs && i < p->n_jobs; i++)
                frame_release(&p->jobs[i].frame);
        free(p->jobs);
        free(p->free_jobs);
        free(p->work);
        free(p->workers);
        free(p->batch);
        pthread_cond_destroy(&p->cv_source);
        pthread_cond_destroy(&p->cv_work);
        pthread_cond_destroy(&p->cv_turn);
        pthread_cond_destroy(&p->cv_writer);
        pthread_cond_destroy(&p->cv_room);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}
