/* SPDX-License-Identifier: MIT */
/*
 * pipeline-writer.c — the writer thread of one hand: the only caller of writer_*() (HDF5).
 * For each take it creates the file, then writes each frame's bytes as soon as it is queued
 * (checking the disk reserve, save.min_free_mb, first) and releases its queue entry at once, so
 * the queue holds only what the disk has not taken yet; a batch (batch_size frames, or the
 * oldest not yet in the file batch_timeout old, or the end of the take) is then put in the file
 * by its index. What it committed it makes durable (fdatasync) at most save.sync_interval after,
 * until the source is done and the queue is empty; then it finishes the file and posts
 * PIPELINE_EVENT_ENDED. Lock rules: pipeline-internal.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "pipeline-internal.h"
#include "takefile.h"
#include "../lib/util.h"
#include "writer.h"

/* The writer thread's view of one take's file. */
struct take_file {
        struct writer *w;       /* NULL when the file could not be created */
        bool failed;            /* a write failed: the rest are counted as write-failed */
        unsigned pending;       /* frames written, not yet committed (their metas in p->batch) */
        int64_t pending_since;  /* when the oldest of them was queued */
        int64_t unsynced_since; /* when the oldest batch not yet fdatasync'ed was committed; 0: none */
        char error[PIPELINE_ERROR_MAX];
};

/* Whether @need more bytes still leave the reserve (save.min_free_mb) free. */
static bool disk_has_room(const struct take_params *t, uint64_t need, uint64_t reserve) {
        struct statvfs sv;

        /* the file system of the file being written: through its descriptor, no path lookup */
        if ((t->fd >= 0 ? fstatvfs(t->fd, &sv) : statvfs(t->path, &sv)) < 0)
                return true; /* cannot tell: let the write itself say */
        return (uint64_t) sv.f_bavail * sv.f_frsize >= need + reserve;
}

/* Create the take's file; on failure the take ends with io-error and tf->w stays NULL. */
static void open_file(struct pipeline *p, const struct take_params *t, struct take_file *tf) {
        const struct camera_config *cam = &p->hand->camera;
        bool rectified = t->rectify && p->rectify, described;
        struct source_camera snap;
        struct take_camera camera;

        /* the source thread's description of the camera, taken when it opened it */
        pthread_mutex_lock(&p->lock);
        described = p->camera_described;
        if (described)
                snap = p->camera;
        pthread_mutex_unlock(&p->lock);
        if (described)
                camera = (struct take_camera){
                        .format = snap.format,
                        .device = cam->device,
                        .left_device = cam->left_device,
                        .right_device = cam->right_device,
                        .controls = {snap.controls[0], snap.controls[1], snap.controls[2]},
                };
        struct take_info info = {
                .hand = p->hand->name,
                .label = t->label,
                .episode = t->episode,
                .task = t->task,
                .operator_ = t->operator_,
                .started_utc = t->started_utc,
                .monotonic_to_utc_ns = t->monotonic_to_utc_ns,
                .started_monotonic_ns = t->started_monotonic_ns,
                .boot_id = t->boot_id,
                .jpeg_quality = t->jpeg_quality,
                .rectified = rectified,
                .eye_width = cam->width,
                .eye_height = cam->height,
                .fps_nominal = cam->fps,
                .sync_interval = p->config->sync_interval,
                .batch_timeout = p->config->batch_timeout,
                .config_text = p->config->text,
                .source = config_source_kind_to_string(cam->source),
                .camera = described ? &camera : NULL,
                .calibration = p->hand->calibration,
                .batch_size = p->config->batch_size,
                /* what the source thread asks for this take (pipeline-source.c: take_wants()) */
                .camera_jpeg = (source_caps(p->source) & SOURCE_CAP_CAMERA_JPEG) && !rectified,
        };

        int r = writer_create(t->path, t->fd, &info, &tf->w, tf->error, sizeof(tf->error));

        if (r >= 0)
                return;
        /* nothing of the take is in it: the reservation goes, the reason says why */
        if (takefile_remove(t->path, t->fd))
                snprintf(tf->error + strlen(tf->error), sizeof(tf->error) - strlen(tf->error),
                         "; the empty file was removed");
        log_error("%s", tf->error);
        tf->failed = true;
        pipeline_end_take(p, r == -ENOSPC ? STOP_DISK_FULL : STOP_IO_ERROR, tf->error);
}

/* The earlier of @a and @b, where 0 means none. */
static int64_t earliest(int64_t a, int64_t b) {
        return a == 0 ? b : b == 0 ? a : MIN(a, b);
}

enum next { NEXT_FRAME, NEXT_DEADLINE, NEXT_END };

/* Wait for a frame to write (*@ret_entry, still in the queue), or until @deadline (CLOCK_MONOTONIC,
 * 0: none: the batch's or the sync's), or the end of the take: the source done, nothing in
 * flight, the queue empty. */
static enum next wait_next(struct pipeline *p, int64_t deadline, const struct queue_entry **ret_entry) {
        enum next next;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                if (queue_depth(p->queue) > 0) {
                        *ret_entry = queue_peek(p->queue, 0);
                        next = NEXT_FRAME;
                        break;
                }
                if (p->source_done && p->in_flight == 0) {
                        next = NEXT_END;
                        break;
                }
                if (deadline == 0) {
                        pthread_cond_wait(&p->cv_writer, &p->lock);
                        continue;
                }
                if (now_ns(CLOCK_MONOTONIC) >= deadline) {
                        next = NEXT_DEADLINE;
                        break;
                }
                struct timespec ts = ns_to_timespec(deadline);
                pthread_cond_timedwait(&p->cv_writer, &p->lock, &ts);
        }
        pthread_mutex_unlock(&p->lock);
        return next;
}

/* A failure to write: the take ends for a full disk or an I/O error; the frames not in the file
 * and later ones are counted as write-failed. */
static void write_failed(struct pipeline *p, struct take_file *tf, int r) {
        tf->failed = true;
        atomic_fetch_add(&p->counters.dropped[DROP_WRITE_FAILED], tf->pending);
        tf->pending = 0;
        log_error("%s", tf->error);
        pipeline_end_take(p, r == -ENOSPC ? STOP_DISK_FULL : STOP_IO_ERROR, tf->error);
}

/* Put the frames written since the last commit in the file (their index), and count them. */
static void commit(struct pipeline *p, struct take_file *tf) {
        unsigned n = tf->pending;
        int r;

        if (n == 0 || tf->failed)
                return;
        r = writer_commit(tf->w, tf->error, sizeof(tf->error));
        if (r < 0) {
                write_failed(p, tf, r);
                return;
        }
        tf->pending = 0;
        struct writer_stored st;
        writer_stored(tf->w, &st);
        /* the quality of what was stored, in order (qc.h): a few µs a frame, under the lock the
         * main thread reads it with */
        pthread_mutex_lock(&p->lock);
        for (unsigned i = 0; i < n; i++) {
                const struct frame_meta *m = &p->batch[i];
                qc_account(&p->qc, &p->config->qc, &m->qc, m->timestamp_ns, m->camera_gap,
                           m->left_timestamp_ns - m->right_timestamp_ns);
        }
        pthread_mutex_unlock(&p->lock);
        atomic_fetch_add(&p->counters.written, n);
        atomic_store(&p->counters.bytes, writer_bytes(tf->w));
        atomic_store(&p->counters.skew_mean_ns, st.skew_mean_ns);
        atomic_store(&p->counters.skew_max_ns, st.skew_max_ns);
        if (tf->unsynced_since == 0)
                tf->unsynced_since = now_ns(CLOCK_MONOTONIC);
}

/* Write frame @e's bytes (lock released: the entry is the writer's until released), unless they
 * would eat into the disk reserve; a full batch is committed. */
static void write_frame(struct pipeline *p, const struct take_params *t, struct take_file *tf,
                        const struct queue_entry *e) {
        uint64_t reserve = p->config->min_free_bytes;
        int r;

        if (tf->failed) {
                atomic_fetch_add(&p->counters.dropped[DROP_WRITE_FAILED], 1);
                return;
        }
        /* HDF5 allocates whole chunks, and the index's: the reserve stays whole */
        if (!disk_has_room(t, e->size + WRITER_BATCH_SLACK, reserve)) {
                snprintf(tf->error, sizeof(tf->error),
                         "The disk holding %s is full: the next frames would leave less than save.min_free_mb = "
                         "%llu MB free; free space or set save.output_dir to a larger disk",
                         t->path, (unsigned long long) (reserve / 1000000));
                r = -ENOSPC;
        } else
                r = writer_put(tf->w, queue_data(p->queue, e), e->size, &e->meta, tf->error, sizeof(tf->error));
        if (r < 0) {
                atomic_fetch_add(&p->counters.dropped[DROP_WRITE_FAILED], 1);
                write_failed(p, tf, r);
                return;
        }
        if (tf->pending++ == 0)
                tf->pending_since = e->queued_ns;
        p->batch[tf->pending - 1] = e->meta;
        if (tf->pending >= p->config->batch_size)
                commit(p, tf);
}

/* fdatasync what was committed, once the oldest unsynced batch is sync_interval old. */
static void sync_if_due(struct pipeline *p, struct take_file *tf) {
        int64_t interval = (int64_t) (p->config->sync_interval * 1e9);
        int r;

        if (tf->failed || !tf->w || tf->unsynced_since == 0)
                return;
        if (now_ns(CLOCK_MONOTONIC) - tf->unsynced_since < interval)
                return;
        r = writer_sync(tf->w, tf->error, sizeof(tf->error));
        tf->unsynced_since = 0;
        if (r < 0)
                write_failed(p, tf, r);
}

/* The frame is written (or dropped): its entry goes back to the queue (which, after a stall,
 * hands the ring's pages above its working set back to the kernel there, under the lock). */
static void release_frame(struct pipeline *p) {
        pthread_mutex_lock(&p->lock);
        queue_release(p->queue, 1);
        atomic_store(&p->queue_depth, queue_depth(p->queue));
        pthread_cond_broadcast(&p->cv_room);
        pthread_mutex_unlock(&p->lock);
}

/* The quality's figures as the take's attributes (docs/file-format.md): QC_COUNTS counts and
 * QC_REALS figures. */
#define QC_COUNTS 11
#define QC_REALS 4
static void qc_figures(const struct qc_take *q, struct writer_count *counts, struct writer_real *reals) {
        const struct writer_count c[QC_COUNTS] = {
                {"qc_frames_measured", q->measured},
                {"qc_frozen_frames", q->frozen.frames},
                {"qc_dark_frames_left", q->dark[0].frames},
                {"qc_dark_frames_right", q->dark[1].frames},
                {"qc_overexposed_frames_left", q->bright[0].frames},
                {"qc_overexposed_frames_right", q->bright[1].frames},
                {"qc_blurred_frames_left", q->blurred[0].frames},
                {"qc_blurred_frames_right", q->blurred[1].frames},
                {"qc_camera_gap_frames", q->camera_gap_frames},
                {"qc_timestamp_gaps", q->time_gaps.frames},
                {"qc_skewed_pairs", q->skewed.frames},
        };
        const struct writer_real r[QC_REALS] = {
                {"qc_luma_mean_left", q->luma_mean[0]},
                {"qc_luma_mean_right", q->luma_mean[1]},
                {"qc_sharpness_median_left", q->sharpness_median[0]},
                {"qc_sharpness_median_right", q->sharpness_median[1]},
        };
        memcpy(counts, c, sizeof(c));
        memcpy(reals, r, sizeof(r));
}

/* Write the result attributes and close the file; a failure here becomes the take's error
 * unless it already has one. */
static void finish_file(struct pipeline *p, struct take_file *tf) {
        char stopped[32], error[PIPELINE_ERROR_MAX], ferror_[PIPELINE_ERROR_MAX] = "";
        time_t now = time(NULL);
        struct pipeline_stats s;
        struct tm tm;

        strftime(stopped, sizeof(stopped), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        pipeline_stats(p, &s);
        pthread_mutex_lock(&p->lock);
        snprintf(error, sizeof(error), "%s", p->last_error);
        pthread_mutex_unlock(&p->lock);

        struct writer_count counts[_DROP_MAX + 1 + QC_COUNTS];
        struct writer_real reals[QC_REALS];
        char names[_DROP_MAX][32], verdict[1024];
        struct qc_take qc;
        for (unsigned c = 0; c < _DROP_MAX; c++) {
                /* dropped_queue_full: the cause's name as an attribute name */
                snprintf(names[c], sizeof(names[c]), "dropped_%s", pipeline_drop_cause_to_string(c));
                for (char *q = names[c]; *q; q++)
                        if (*q == '-')
                                *q = '_';
                counts[c] = (struct writer_count){names[c], s.dropped[c]};
        }
        counts[_DROP_MAX] = (struct writer_count){"frames_dropped", s.dropped_total};
        pipeline_qc(p, &qc);
        qc_verdict(&qc, verdict, sizeof(verdict));
        qc_figures(&qc, counts + _DROP_MAX + 1, reals);
        struct take_result res = {
                .stop_reason = pipeline_stop_reason_to_string(atomic_load(&p->end_reason)),
                .stopped_utc = stopped,
                .frames_captured = s.captured,
                .counts = counts,
                .n_counts = ELEMENTSOF(counts),
                .reals = reals,
                .n_reals = ELEMENTSOF(reals),
                .qc_verdict = verdict,
                .last_error = error,
                .timestamp_source = s.dequeue_timestamps ? "dequeue" : "driver",
        };
        if (writer_finish(tf->w, &res, ferror_, sizeof(ferror_)) >= 0)
                return;
        /* the frames already written are in the file: it stays "recording" until recovered */
        log_error("%s; the file will be recovered when handrecd starts again (or: handrecctl recover FILE)", ferror_);
        pthread_mutex_lock(&p->lock);
        size_t len = strlen(p->last_error);
        snprintf(p->last_error + len, sizeof(p->last_error) - len,
                 "%s%s; the file keeps its frames and is recovered when handrecd starts again (or: handrecctl "
                 "recover FILE)",
                 len ? "; then finishing the file failed too: " : "", ferror_);
        pthread_mutex_unlock(&p->lock);
}

static void write_take(struct pipeline *p, const struct take_params *t) {
        int64_t interval = (int64_t) (p->config->sync_interval * 1e9);
        int64_t timeout = (int64_t) (p->config->batch_timeout * 1e9);
        struct take_file tf = {.w = NULL};

        atomic_store(&p->writer_busy_since, now_ns(CLOCK_MONOTONIC));
        open_file(p, t, &tf);
        atomic_store(&p->writer_busy_since, 0);
        for (;;) {
                const struct queue_entry *e = NULL;
                int64_t sync_at = tf.unsynced_since ? tf.unsynced_since + interval : 0;
                int64_t commit_at = tf.pending ? tf.pending_since + timeout : 0;
                enum next next = wait_next(p, earliest(sync_at, commit_at), &e);

                atomic_store(&p->writer_busy_since, now_ns(CLOCK_MONOTONIC));
                if (next == NEXT_FRAME) {
                        write_frame(p, t, &tf, e);
                        release_frame(p);
                }
                if (next == NEXT_END || (tf.pending && now_ns(CLOCK_MONOTONIC) >= tf.pending_since + timeout))
                        commit(p, &tf);
                sync_if_due(p, &tf);
                atomic_store(&p->writer_busy_since, 0);
                if (next == NEXT_END)
                        break;
        }
        atomic_store(&p->writer_busy_since, now_ns(CLOCK_MONOTONIC));
        if (tf.w)
                finish_file(p, &tf); /* syncs the whole file */
        atomic_store(&p->writer_busy_since, 0);
        if (t->fd >= 0)
                close(t->fd);
}

void *pipeline_writer_main(void *userdata) {
        struct pipeline *p = userdata;
        char name[16];

        snprintf(name, sizeof(name), "hr-wr-%s", p->hand->name);
        thread_setup(name);

        pthread_mutex_lock(&p->lock);
        for (;;) {
                struct take_params t;

                while (!p->quit && !p->take_active)
                        pthread_cond_wait(&p->cv_writer, &p->lock);
                if (p->quit)
                        break;
                t = p->take;
                pthread_mutex_unlock(&p->lock);

                write_take(p, &t);

                pthread_mutex_lock(&p->lock);
                p->take_active = false;
                pipeline_post(p, PIPELINE_EVENT_ENDED);
                pthread_cond_broadcast(&p->cv_source); /* pipeline_free() may wait for this */
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}
