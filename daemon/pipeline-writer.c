/* SPDX-License-Identifier: MIT */
/*
 * pipeline-writer.c — the writer thread of one hand: the only caller of writer_*() (HDF5).
 * For each take it creates the file, then waits for a batch (batch_size frames, the batch
 * timeout, or the end of the take), checks the disk reserve (save.min_free_mb), appends the
 * batch with the lock released and releases its queue entries, and makes what it wrote durable
 * (fdatasync) at most save.sync_interval after writing it, until the source is done and the
 * queue is empty; then it finishes the file and posts PIPELINE_EVENT_ENDED.
 * Lock rules: pipeline-internal.h.
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
        bool failed;            /* a batch could not be written: the rest are counted as write-failed */
        int64_t unsynced_since; /* when the oldest batch not yet fdatasync'ed was written; 0: none */
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

/* Wait until a batch closes: batch_size frames, the oldest queued frame older than the batch
 * timeout, or the end of the take; or until @sync_deadline (CLOCK_MONOTONIC, 0: none), when
 * what was written must be synced even if no batch is ready. Fills p->batch and *@ret_n (0 when
 * woken only for the sync). Return: false when the take is over and the queue is empty. */
static bool wait_for_batch(struct pipeline *p, int64_t sync_deadline, unsigned *ret_n) {
        int64_t timeout = (int64_t) (p->config->batch_timeout * 1e9);
        unsigned depth = 0, n;
        bool finished;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                int64_t deadline = sync_deadline;
                finished = p->source_done && p->in_flight == 0;
                depth = queue_depth(p->queue);
                if (depth >= p->config->batch_size || finished)
                        break;
                if (depth > 0)
                        deadline = earliest(deadline, queue_peek(p->queue, 0)->queued_ns + timeout);
                if (deadline == 0) {
                        pthread_cond_wait(&p->cv_writer, &p->lock);
                        continue;
                }
                if (now_ns(CLOCK_MONOTONIC) >= deadline)
                        break;
                struct timespec ts = ns_to_timespec(deadline);
                pthread_cond_timedwait(&p->cv_writer, &p->lock, &ts);
        }
        n = MIN(depth, p->config->batch_size);
        for (unsigned i = 0; i < n; i++)
                p->batch[i] = queue_peek(p->queue, i);
        pthread_mutex_unlock(&p->lock);
        *ret_n = n;
        return n > 0 || !finished;
}

/* A failure to write: the take ends for a full disk or an I/O error; later batches are counted
 * as write-failed. */
static void write_failed(struct pipeline *p, struct take_file *tf, int r) {
        tf->failed = true;
        log_error("%s", tf->error);
        pipeline_end_take(p, r == -ENOSPC ? STOP_DISK_FULL : STOP_IO_ERROR, tf->error);
}

/* Append the batch (lock released: the entries are the writer's until released), unless it
 * would eat into the disk reserve. */
static void append_batch(struct pipeline *p, const struct take_params *t, struct take_file *tf, unsigned n) {
        uint64_t need = 0, reserve = p->config->min_free_bytes;
        int r;

        for (unsigned i = 0; i < n; i++)
                need += p->batch[i]->size;
        need += WRITER_BATCH_SLACK; /* HDF5 allocates whole chunks: the reserve stays whole */
        if (tf->failed) {
                atomic_fetch_add(&p->counters.dropped[DROP_WRITE_FAILED], n);
                return;
        }
        if (!disk_has_room(t, need, reserve)) {
                snprintf(tf->error, sizeof(tf->error),
                         "The disk holding %s is full: the next frames would leave less than save.min_free_mb = "
                         "%llu MB free; free space or set save.output_dir to a larger disk",
                         t->path, (unsigned long long) (reserve / 1000000));
                r = -ENOSPC;
        } else
                r = writer_append(tf->w, p->queue, p->batch, n, tf->error, sizeof(tf->error));
        if (r < 0) {
                atomic_fetch_add(&p->counters.dropped[DROP_WRITE_FAILED], n);
                write_failed(p, tf, r);
                return;
        }
        struct writer_stored st;
        writer_stored(tf->w, &st);
        /* the quality of what was stored, in order (qc.h): a few µs a frame, under the lock the
         * main thread reads it with */
        pthread_mutex_lock(&p->lock);
        for (unsigned i = 0; i < n; i++) {
                const struct frame_meta *m = &p->batch[i]->meta;
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

/* fdatasync what was appended, once the oldest unsynced batch is sync_interval old. */
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

/* The batch is written (or dropped): its entries go back to the queue (which, after a stall,
 * hands the ring's pages above its working set back to the kernel there, under the lock). */
static void release_batch(struct pipeline *p, unsigned n) {
        pthread_mutex_lock(&p->lock);
        queue_release(p->queue, n);
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
        struct take_file tf = {.w = NULL};
        unsigned n;

        atomic_store(&p->writer_busy_since, now_ns(CLOCK_MONOTONIC));
        open_file(p, t, &tf);
        atomic_store(&p->writer_busy_since, 0);
        for (;;) {
                int64_t sync_at = tf.unsynced_since ? tf.unsynced_since + interval : 0;
                if (!wait_for_batch(p, sync_at, &n))
                        break;
                atomic_store(&p->writer_busy_since, now_ns(CLOCK_MONOTONIC));
                if (n > 0) {
                        append_batch(p, t, &tf, n);
                        release_batch(p, n);
                }
                sync_if_due(p, &tf);
                atomic_store(&p->writer_busy_since, 0);
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
