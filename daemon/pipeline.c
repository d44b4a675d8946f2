/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c — the threads of one hand.
 *
 * DESIGN
 *
 *   source thread ──job──► work FIFO ──► N encoder workers ──(in ticket order)──► writer queue
 *        ▲                                      │                                    │
 *        └────────────── free jobs ◄────────────┘                      writer thread ▼ HDF5
 *
 * - Every buffer is allocated in pipeline_new(): n_workers + 2 jobs (an I420 stereo frame
 *   each), one encoder (TurboJPEG handle + worst-case output buffer) per worker, the writer
 *   queue (queue.h). A take allocates nothing of ours.
 * - Ownership of a job: on the free list it belongs to no one; the source thread takes it,
 *   fills it and appends it to the work FIFO with the next ticket; a worker pops it, rectifies
 *   and encodes it outside the lock, waits until every earlier ticket is committed, reserves room
 *   in the writer queue, copies the JPEG there outside the lock, commits it and puts the job back
 *   on the free list. So the queue is in capture order whatever order the workers finish in, and
 *   no lock is held across a frame's copy, its encoding or its disk write.
 * - Entries in the writer queue belong to the writer thread until it releases them; it writes
 *   their bytes without holding the lock.
 * - Queue-full policy: a frame that finds no free job (encoders behind) or no room in the writer
 *   queue (disk behind) is dropped at once, newest first, and counted by cause. The camera is
 *   never blocked and what is already queued is never discarded, so the file stays in order
 *   and every gap is visible in the sequence numbers.
 * - A take ends when anyone sets end_reason (first one wins: main thread for requested or
 *   shutdown, source for duration or a lost device, writer for a full disk or I/O error). The
 *   source then stops producing, the workers finish what is in flight, and the writer drains the
 *   queue, finishes the file and posts PIPELINE_EVENT_ENDED.
 * - One mutex guards the lists, the take state and the queue; the condition variables say what
 *   a thread waits for. Counters the main thread reads are atomics.
 */
#include "pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/statvfs.h>

#include "capture-v4l2.h"
#include "calibration.h"
#include "encoder.h"
#include "rectify.h"
#include "queue.h"
#include "source.h"
#include "util.h"
#include "writer.h"

struct job {
        struct frame frame;
        uint64_t ticket;
};

struct worker {
        struct pipeline *p;
        struct encoder *encoder;
        struct frame rectified; /* the worker's output frame when rectifying (else unallocated) */
        pthread_t thread;
        unsigned index;
        bool started;
};

struct pipeline {
        const struct config *config;
        const struct hand_config *hand;
        int event_fd;
        atomic_uint events;

        pthread_mutex_t lock;
        pthread_cond_t cv_source; /* a take to capture */
        pthread_cond_t cv_work;   /* a job in the work FIFO */
        pthread_cond_t cv_turn;   /* next_commit moved */
        pthread_cond_t cv_writer; /* entries, end of stream, or a take */
        pthread_cond_t cv_room;   /* a free job or queue room (sources paced by the pipeline) */
        atomic_bool quit;         /* also read without the lock, between frames */

        /* the take, under lock */
        bool take_active; /* set by pipeline_start(), cleared by the writer when the file is done */
        bool source_done; /* the source will push nothing more for this take */
        struct take_params take;
        atomic_int end_reason;
        char last_error[256];

        /* jobs, under lock */
        struct job *jobs;
        unsigned n_jobs;
        struct job **free_jobs;
        unsigned n_free;
        struct job **work;
        unsigned work_head, work_count;
        uint64_t next_ticket, next_commit;
        unsigned in_flight; /* taken from the free list, not yet back */

        struct queue *queue;
        struct rectify *rectify;          /* maps, when the hand has a calibration */
        const char *dump_dir;             /* HANDREC_DEBUG_DUMP_DIR: pre-JPEG planes written here (tests) */
        const struct queue_entry **batch; /* batch_size pointers, the writer's */
        struct source *source;
        struct worker *workers;
        unsigned n_workers;
        pthread_t source_thread, writer_thread;
        bool source_started, writer_started;

        /* counters of the current (or last) take */
        atomic_uint_fast64_t captured, written, bytes, dropped[_DROP_MAX];
        atomic_int_fast64_t first_ts, last_ts;
        atomic_uint queue_depth;
        atomic_int_fast64_t skew_sum, skew_max;
        atomic_uint_fast64_t skew_n;
        atomic_bool dequeue_ts;
        atomic_int_fast64_t camera_fps_micro; /* measured at warm-up, in 1e-6 fps */

        /* the camera, for sources kept warm; device_error under lock */
        atomic_bool device_present;
        char device_error[1024];
};

const char *stop_reason_to_string(enum stop_reason r) {
        static const char *const names[_STOP_MAX] = {
                [STOP_NONE] = "",
                [STOP_REQUESTED] = "requested",
                [STOP_DURATION] = "duration",
                [STOP_DEVICE_LOST] = "device-lost",
                [STOP_DISK_FULL] = "disk-full",
                [STOP_IO_ERROR] = "io-error",
                [STOP_SHUTDOWN] = "shutdown",
                [STOP_END_OF_INPUT] = "end-of-input",
        };
        return r < _STOP_MAX ? names[r] : "?";
}

static void post(struct pipeline *p, unsigned event) {
        uint64_t one = 1;

        atomic_fetch_or(&p->events, event);
        if (write(p->event_fd, &one, sizeof(one)) < 0) {
                /* EAGAIN only: the counter is already non-zero, the main thread will look */
        }
}

unsigned pipeline_take_events(struct pipeline *p) {
        return atomic_exchange(&p->events, 0);
}

/* Called with the lock held. The first reason wins; everyone who may be waiting is woken. */
static bool end_take_locked(struct pipeline *p, enum stop_reason reason, const char *error) {
        int expected = STOP_NONE;

        if (!atomic_compare_exchange_strong(&p->end_reason, &expected, (int) reason))
                return false;
        if (error && *error)
                snprintf(p->last_error, sizeof(p->last_error), "%s", error);
        post(p, PIPELINE_EVENT_ENDING);
        pthread_cond_broadcast(&p->cv_writer);
        pthread_cond_broadcast(&p->cv_source);
        pthread_cond_broadcast(&p->cv_room);
        return true;
}

void pipeline_stop(struct pipeline *p, enum stop_reason reason) {
        pthread_mutex_lock(&p->lock);
        if (p->take_active)
                end_take_locked(p, reason, NULL);
        pthread_mutex_unlock(&p->lock);
}

/* ---- source thread ---------------------------------------------------------------------- */

static void give_back_locked(struct pipeline *p, struct job *j) {
        p->free_jobs[p->n_free++] = j;
        p->in_flight--;
        pthread_cond_signal(&p->cv_room);
        if (p->in_flight == 0)
                pthread_cond_broadcast(&p->cv_writer);
}

/* Read frames into jobs for the take until it ends. Return: 0, or the source's error (then the
 * take has been ended as device-lost). */
static int record_frames(struct pipeline *p, const struct take_params *t) {
        int64_t period = (int64_t) (1e9 / p->hand->camera.fps), duration_ns;
        struct frame_meta meta;
        int r = 0;

        duration_ns = t->duration > 0 ? (int64_t) (t->duration * 1e9) - period / 2 : INT64_MAX;
        p->source->want_pixels = t->rectify && p->rectify; /* the source thread's own field */
        while (atomic_load(&p->end_reason) == STOP_NONE) {
                struct job *j = NULL;
                int64_t first;

                pthread_mutex_lock(&p->lock);
                /* a replay at rate "max" waits for the encoders instead of dropping */
                while (p->source->paced_by_pipeline && p->n_free == 0 && atomic_load(&p->end_reason) == STOP_NONE)
                        pthread_cond_wait(&p->cv_room, &p->lock);
                if (p->n_free > 0) {
                        j = p->free_jobs[--p->n_free];
                        p->in_flight++;
                }
                pthread_mutex_unlock(&p->lock);

                r = source_read(p->source, j ? &j->frame : NULL, &meta);
                if (r == -EBADMSG) {
                        /* one frame the camera sent broken: counted, the take goes on */
                        atomic_fetch_add(&p->captured, 1);
                        atomic_fetch_add(&p->dropped[DROP_ENCODE_ERROR], 1);
                        log_warning("%s: %s", p->hand->name, source_error(p->source));
                        pthread_mutex_lock(&p->lock);
                        if (j)
                                give_back_locked(p, j);
                        pthread_mutex_unlock(&p->lock);
                        r = 0;
                        continue;
                }
                first = atomic_load(&p->first_ts);
                if (r < 0 || (first >= 0 && meta.timestamp_ns - first >= duration_ns)) {
                        pthread_mutex_lock(&p->lock);
                        if (j)
                                give_back_locked(p, j);
                        if (r == -ENODATA)
                                end_take_locked(p, STOP_END_OF_INPUT, NULL);
                        else if (r < 0) {
                                char msg[1200];
                                snprintf(msg, sizeof(msg),
                                         "The camera stopped delivering frames (%s); the take was "
                                         "ended and saved. Check the camera and its cable.",
                                         source_error(p->source));
                                end_take_locked(p, STOP_DEVICE_LOST, msg);
                        } else
                                end_take_locked(p, STOP_DURATION, NULL);
                        pthread_mutex_unlock(&p->lock);
                        break;
                }
                if (first < 0)
                        atomic_store(&p->first_ts, meta.timestamp_ns);
                else
                        atomic_fetch_add(&p->dropped[DROP_CAMERA], meta.camera_gap);
                atomic_fetch_add(&p->dropped[DROP_UNPAIRED_LEFT], meta.unpaired[0]);
                atomic_fetch_add(&p->dropped[DROP_UNPAIRED_RIGHT], meta.unpaired[1]);
                if (meta.dequeue_timestamp)
                        atomic_store(&p->dequeue_ts, true);
                if (camera_is_stereo_pair(&p->hand->camera)) {
                        int64_t skew = llabs(meta.left_timestamp_ns - meta.right_timestamp_ns);
                        atomic_fetch_add(&p->skew_sum, skew);
                        atomic_fetch_add(&p->skew_n, 1);
                        if (skew > atomic_load(&p->skew_max))
                                atomic_store(&p->skew_max, skew);
                }
                atomic_store(&p->last_ts, meta.timestamp_ns);
                atomic_fetch_add(&p->captured, 1);
                if (!j) {
                        atomic_fetch_add(&p->dropped[DROP_ENCODER_BUSY], 1);
                        continue;
                }

                pthread_mutex_lock(&p->lock);
                j->ticket = p->next_ticket++;
                p->work[(p->work_head + p->work_count++) % p->n_jobs] = j;
                pthread_cond_signal(&p->cv_work);
                pthread_mutex_unlock(&p->lock);
        }
        return r;
}

/* Read and discard @seconds of frames; log the rate measured. Return: 0 or the source's error. */
static int warm_up(struct pipeline *p, double seconds, bool log) {
        struct frame_meta meta;
        int64_t until = now_ns(CLOCK_MONOTONIC) + (int64_t) (seconds * 1e9), first = -1, last = -1;
        unsigned n = 0;
        int r = 0;

        while (seconds > 0 && !p->quit) {
                r = source_read(p->source, NULL, &meta);
                if (r == -EBADMSG)
                        continue;
                if (r < 0)
                        return r;
                if (first < 0)
                        first = meta.timestamp_ns;
                last = meta.timestamp_ns;
                n++;
                if (meta.timestamp_ns >= until || now_ns(CLOCK_MONOTONIC) >= until + NSEC_PER_SEC)
                        break;
        }
        if (n > 1 && last > first) {
                double fps = (n - 1) / ((double) (last - first) / 1e9);
                atomic_store(&p->camera_fps_micro, (int64_t) (fps * 1e6));
                if (log)
                        log_info("%s: camera open and warm; measured %.2f fps (configured %g)", p->hand->name, fps,
                                 p->hand->camera.fps);
        }
        return 0;
}

/* A source opened for each take (synthetic): open, warm up, record, close. */
static void capture_take(struct pipeline *p, const struct take_params *t) {
        int r = source_open(p->source);

        if (r < 0) {
                char msg[1200];
                snprintf(msg, sizeof(msg), "Cannot open the %s camera: %s",
                         source_kind_to_string(p->hand->camera.source),
                         source_error(p->source)[0] ? source_error(p->source) : strerror(-r));
                pthread_mutex_lock(&p->lock);
                end_take_locked(p, STOP_DEVICE_LOST, msg);
                pthread_mutex_unlock(&p->lock);
                return;
        }
        r = warm_up(p, p->hand->camera.warmup, false);
        if (r >= 0 && atomic_load(&p->end_reason) == STOP_NONE)
                post(p, PIPELINE_EVENT_RECORDING);
        if (r >= 0)
                record_frames(p, t);
        else {
                pthread_mutex_lock(&p->lock);
                end_take_locked(p, STOP_DEVICE_LOST, source_error(p->source));
                pthread_mutex_unlock(&p->lock);
        }
        source_close(p->source);
}

static void set_device(struct pipeline *p, bool present, const char *error) {
        bool was = atomic_exchange(&p->device_present, present);

        pthread_mutex_lock(&p->lock);
        snprintf(p->device_error, sizeof(p->device_error), "%s", present ? "" : error);
        pthread_mutex_unlock(&p->lock);
        if (was != present) {
                if (present)
                        log_info("%s: camera is back", p->hand->name);
                else
                        log_warning("%s: camera unavailable: %s", p->hand->name, error);
                post(p, PIPELINE_EVENT_DEVICE);
        }
}

bool pipeline_device(struct pipeline *p, char *error, size_t error_len) {
        pthread_mutex_lock(&p->lock);
        snprintf(error, error_len, "%s", p->device_error);
        pthread_mutex_unlock(&p->lock);
        return atomic_load(&p->device_present);
}

/* A camera kept open between takes: opened at start, reopened every second while missing,
 * read continuously (frames discarded while idle), so a take starts at the next frame. */
static void warm_camera_loop(struct pipeline *p) {
        bool open = false;
        struct timespec retry;
        int r;

        pthread_mutex_lock(&p->lock);
        while (!p->quit) {
                bool recording = p->take_active && !p->source_done;
                struct take_params t = p->take;
                pthread_mutex_unlock(&p->lock);

                if (!open) {
                        r = source_open(p->source);
                        if (r >= 0)
                                r = warm_up(p, p->hand->camera.warmup, true);
                        if (r < 0) {
                                source_close(p->source); /* safe on a source that did not open */
                                set_device(p, false,
                                           source_error(p->source)[0] ? source_error(p->source) : strerror(-r));
                                pthread_mutex_lock(&p->lock);
                                if (p->take_active && !p->source_done) {
                                        end_take_locked(p, STOP_DEVICE_LOST, p->device_error);
                                        p->source_done = true;
                                        pthread_cond_broadcast(&p->cv_writer);
                                }
                                retry = ns_to_timespec(now_ns(CLOCK_MONOTONIC) + NSEC_PER_SEC);
                                pthread_cond_timedwait(&p->cv_source, &p->lock, &retry);
                                continue;
                        }
                        open = true;
                        set_device(p, true, "");
                        pthread_mutex_lock(&p->lock);
                        continue;
                }

                if (!recording) {
                        struct frame_meta meta;
                        r = source_read(p->source, NULL, &meta);
                        if (r < 0 && r != -EBADMSG) {
                                source_close(p->source);
                                open = false;
                                set_device(p, false, source_error(p->source));
                        }
                        pthread_mutex_lock(&p->lock);
                        continue;
                }

                if (atomic_load(&p->end_reason) == STOP_NONE)
                        post(p, PIPELINE_EVENT_RECORDING);
                r = record_frames(p, &t);
                if (r < 0) {
                        source_close(p->source);
                        open = false;
                        set_device(p, false, source_error(p->source));
                }
                pthread_mutex_lock(&p->lock);
                p->source_done = true;
                pthread_cond_broadcast(&p->cv_writer);
        }
        pthread_mutex_unlock(&p->lock);
        if (open)
                source_close(p->source);
}

static void *source_main(void *userdata) {
        struct pipeline *p = userdata;
        char name[16];

        snprintf(name, sizeof(name), "hr-src-%s", p->hand->name);
        thread_setup(name);

        if (p->source->ops->keeps_warm) {
                warm_camera_loop(p);
                return NULL;
        }

        pthread_mutex_lock(&p->lock);
        for (;;) {
                struct take_params t;

                while (!p->quit && !(p->take_active && !p->source_done))
                        pthread_cond_wait(&p->cv_source, &p->lock);
                if (p->quit)
                        break;
                t = p->take;
                pthread_mutex_unlock(&p->lock);

                capture_take(p, &t);

                pthread_mutex_lock(&p->lock);
                p->source_done = true;
                pthread_cond_broadcast(&p->cv_writer);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* ---- encoder workers -------------------------------------------------------------------- */

/* Called with the lock held and the caller's ticket due: append to the writer queue. The bytes
 * are copied with the lock released: no other producer can reserve before this one commits (it
 * holds the turn), and the writer reads only committed entries. A source paced by the pipeline
 * waits for room (the writer signals cv_room as it releases); a camera's frame is dropped. */
static int push_or_wait(struct pipeline *p, const uint8_t *data, size_t size, const struct frame_meta *meta) {
        for (;;) {
                uint8_t *where = queue_reserve(p->queue, size);
                if (where) {
                        pthread_mutex_unlock(&p->lock);
                        memcpy(where, data, size);
                        pthread_mutex_lock(&p->lock);
                        queue_commit(p->queue, where, size, meta, now_ns(CLOCK_MONOTONIC));
                        return 0;
                }
                if (!p->source->paced_by_pipeline || queue_depth(p->queue) == 0 ||
                    atomic_load(&p->end_reason) == STOP_IO_ERROR || atomic_load(&p->end_reason) == STOP_DISK_FULL)
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

static void *worker_main(void *userdata) {
        struct worker *w = userdata;
        struct pipeline *p = w->p;
        char name[16];

        snprintf(name, sizeof(name), "hr-enc-%s-%u", p->hand->name, w->index);
        thread_setup(name);

        pthread_mutex_lock(&p->lock);
        for (;;) {
                const uint8_t *data = NULL;
                struct job *j;
                size_t size = 0;
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

                const struct frame *out = &j->frame;
                if (rectify && j->frame.jpeg_size == 0) {
                        rectify_frame(p->rectify, &j->frame, &w->rectified);
                        out = &w->rectified;
                }
                if (p->dump_dir && j->frame.jpeg_size == 0)
                        dump_planes(p, out);
                if (j->frame.jpeg_size > 0) {
                        /* the camera's own JPEG, stored as it came */
                        data = j->frame.jpeg;
                        size = j->frame.jpeg_size;
                        r = 0;
                } else
                        r = encoder_encode(w->encoder, out, quality, &data, &size);

                pthread_mutex_lock(&p->lock);
                while (p->next_commit != j->ticket)
                        pthread_cond_wait(&p->cv_turn, &p->lock);
                if (r < 0)
                        atomic_fetch_add(&p->dropped[DROP_ENCODE_ERROR], 1);
                else if (push_or_wait(p, data, size, &j->frame.meta) < 0)
                        atomic_fetch_add(&p->dropped[DROP_QUEUE_FULL], 1);
                else {
                        atomic_store(&p->queue_depth, queue_depth(p->queue));
                        pthread_cond_broadcast(&p->cv_writer);
                }
                p->next_commit++;
                pthread_cond_broadcast(&p->cv_turn);
                give_back_locked(p, j);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* ---- writer thread ---------------------------------------------------------------------- */

/* Bytes that must stay free on the output file system while a take runs. */
#define DISK_RESERVE (UINT64_C(8) * 1024 * 1024)

static bool disk_has_room(const char *path, uint64_t need) {
        char dir[PATH_MAX];
        struct statvfs sv;
        char *slash;

        snprintf(dir, sizeof(dir), "%s", path);
        slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        if (statvfs(dir, &sv) < 0)
                return true; /* cannot tell: let the write itself say */
        return (uint64_t) sv.f_bavail * sv.f_frsize >= need + DISK_RESERVE;
}

static void write_take(struct pipeline *p, const struct take_params *t) {
        struct take_info info = {
                .hand = p->hand->name,
                .label = t->label,
                .started_utc = t->started_utc,
                .monotonic_to_utc_ns = t->monotonic_to_utc_ns,
                .jpeg_quality = t->jpeg_quality,
                .rectified = t->rectify && p->rectify,
                .calibration = p->hand->calibration,
                .config = p->config,
                .hand_config = p->hand,
                .batch_size = p->config->batch_size,
                .camera_jpeg = source_v4l2_passthrough(&p->hand->camera) && !(t->rectify && p->rectify),
        };
        struct writer *w = NULL;
        char error[512] = "";
        int64_t timeout = (int64_t) (p->config->batch_timeout * 1e9);
        bool failed = false;
        int r;

        r = writer_create(t->path, &info, &w, error, sizeof(error));
        if (r < 0) {
                log_error("%s", error);
                failed = true;
                pthread_mutex_lock(&p->lock);
                end_take_locked(p, STOP_IO_ERROR, error);
                pthread_mutex_unlock(&p->lock);
        }
        r = 0; /* from here, r < 0 means a failure not yet reported */

        pthread_mutex_lock(&p->lock);
        for (;;) {
                unsigned depth, n;
                bool finished;
                uint64_t need = 0;

                /* a batch closes at batch_size frames, at the timeout, or at the end of the take */
                for (;;) {
                        depth = queue_depth(p->queue);
                        finished = p->source_done && p->in_flight == 0;
                        if (depth >= p->config->batch_size || (depth > 0 && finished))
                                break;
                        if (depth == 0 && finished)
                                goto done;
                        if (depth > 0) {
                                int64_t deadline = queue_peek(p->queue, 0)->queued_ns + timeout;
                                struct timespec ts = ns_to_timespec(deadline);
                                if (now_ns(CLOCK_MONOTONIC) >= deadline)
                                        break;
                                pthread_cond_timedwait(&p->cv_writer, &p->lock, &ts);
                        } else
                                pthread_cond_wait(&p->cv_writer, &p->lock);
                }
                n = MIN(depth, p->config->batch_size);
                for (unsigned i = 0; i < n; i++) {
                        p->batch[i] = queue_peek(p->queue, i);
                        need += p->batch[i]->size;
                }
                pthread_mutex_unlock(&p->lock);

                if (!failed && !disk_has_room(t->path, need)) {
                        snprintf(error, sizeof(error),
                                 "The disk holding %s is full (less than %llu MB free); free space or set "
                                 "save.output_dir to a larger disk",
                                 t->path, (unsigned long long) (DISK_RESERVE / 1000000));
                        r = -ENOSPC;
                        failed = true;
                } else if (!failed) {
                        r = writer_append(w, p->queue, p->batch, n, error, sizeof(error));
                        failed = r < 0;
                }
                if (failed)
                        atomic_fetch_add(&p->dropped[DROP_WRITE_FAILED], n);
                else {
                        atomic_fetch_add(&p->written, n);
                        atomic_store(&p->bytes, writer_bytes(w));
                }

                pthread_mutex_lock(&p->lock);
                if (r < 0) {
                        log_error("%s", error);
                        end_take_locked(p, r == -ENOSPC ? STOP_DISK_FULL : STOP_IO_ERROR, error);
                        r = 0;
                }
                queue_release(p->queue, n);
                atomic_store(&p->queue_depth, queue_depth(p->queue));
                pthread_cond_broadcast(&p->cv_room);
        }
done:
        pthread_mutex_unlock(&p->lock);

        if (w) {
                struct pipeline_stats s;
                char stopped[32];
                time_t now = time(NULL);
                struct take_result res = {.stopped_utc = stopped};

                strftime(stopped, sizeof(stopped), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
                pipeline_stats(p, &s);
                res.stop_reason = stop_reason_to_string(atomic_load(&p->end_reason));
                res.frames_captured = s.captured;
                res.frames_written = s.written;
                memcpy(res.dropped, s.dropped, sizeof(res.dropped));
                res.duration = s.duration;
                res.fps = s.fps;
                res.timestamp_source = s.dequeue_timestamps ? "dequeue" : "driver";
                res.pair_skew_mean_ns = (int64_t) (s.skew_mean * 1e9);
                res.pair_skew_max_ns = (int64_t) (s.skew_max * 1e9);
                pthread_mutex_lock(&p->lock);
                snprintf(error, sizeof(error), "%s", p->last_error);
                pthread_mutex_unlock(&p->lock);
                res.last_error = error;
                char ferror_[512] = "";
                r = writer_finish(w, &res, ferror_, sizeof(ferror_));
                if (r < 0) {
                        log_error("%s", ferror_);
                        pthread_mutex_lock(&p->lock);
                        if (!p->last_error[0])
                                snprintf(p->last_error, sizeof(p->last_error), "%s", ferror_);
                        pthread_mutex_unlock(&p->lock);
                }
        }
}

static void *writer_main(void *userdata) {
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
                post(p, PIPELINE_EVENT_ENDED);
                pthread_cond_broadcast(&p->cv_source); /* pipeline_free() may wait for this */
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* ---- lifetime --------------------------------------------------------------------------- */

int pipeline_new(const struct config *config, const struct hand_config *hand, int event_fd, struct pipeline **ret) {
        const struct camera_config *cam = &hand->camera;
        unsigned fw = 2 * cam->width, fh = cam->height, entries;
        size_t raw = (size_t) fw * fh * 3 / 2, ring;
        struct pipeline *p;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->config = config;
        p->hand = hand;
        p->event_fd = event_fd;
        atomic_init(&p->end_reason, STOP_NONE);
        atomic_init(&p->first_ts, -1);
        atomic_init(&p->last_ts, -1);
        atomic_init(&p->device_present, false);
        pthread_mutex_init(&p->lock, NULL);
        {
                pthread_condattr_t ca;
                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the writer's batch deadline */
                pthread_cond_init(&p->cv_source, &ca);
                pthread_cond_init(&p->cv_work, &ca);
                pthread_cond_init(&p->cv_turn, &ca);
                pthread_cond_init(&p->cv_writer, &ca);
                pthread_cond_init(&p->cv_room, &ca);
                pthread_condattr_destroy(&ca);
        }

        p->n_workers = config->workers;
        p->n_jobs = p->n_workers + 2;
        p->jobs = calloc(p->n_jobs, sizeof(*p->jobs));
        p->free_jobs = calloc(p->n_jobs, sizeof(*p->free_jobs));
        p->work = calloc(p->n_jobs, sizeof(*p->work));
        p->workers = calloc(p->n_workers, sizeof(*p->workers));
        p->batch = calloc(config->batch_size, sizeof(*p->batch));
        if (!p->jobs || !p->free_jobs || !p->work || !p->workers || !p->batch) {
                r = -ENOMEM;
                goto fail;
        }
        for (unsigned i = 0; i < p->n_jobs; i++) {
                r = frame_init(&p->jobs[i].frame, fw, fh);
                if (r >= 0 && source_v4l2_passthrough(cam))
                        r = frame_init_jpeg(&p->jobs[i].frame, raw + 65536);
                if (r < 0)
                        goto fail;
                p->free_jobs[p->n_free++] = &p->jobs[i];
        }
        if (hand->calibration) {
                r = rectify_new(hand->calibration, cam->width, cam->height, p->jobs[0].frame.strides[0],
                                p->jobs[0].frame.strides[1], &p->rectify);
                if (r < 0)
                        goto fail;
        }
        p->dump_dir = getenv("HANDREC_DEBUG_DUMP_DIR");
        for (unsigned i = 0; i < p->n_workers; i++) {
                p->workers[i] = (struct worker){.p = p, .index = i};
                r = encoder_new(fw, fh, &p->workers[i].encoder);
                if (r >= 0 && p->rectify)
                        r = frame_init(&p->workers[i].rectified, fw, fh);
                if (r < 0)
                        goto fail;
        }

        /* The queue holds capacity × batch_size frames, with room for their bytes at a
         * compression of 8:1 against raw I420 (JPEG at quality 85 is usually 10:1 or better),
         * and never less than two frames at the encoder's worst case. */
        entries = config->queue_capacity * config->batch_size;
        ring = MAX((size_t) entries * raw / 8, 2 * raw);
        r = queue_new(entries, ring, &p->queue);
        if (r < 0)
                goto fail;

        r = source_new(cam, &p->source);
        if (r < 0)
                goto fail;
        if (!p->source->ops->keeps_warm)
                atomic_store(&p->device_present, true);
        else
                snprintf(p->device_error, sizeof(p->device_error), "not opened yet");

        r = -pthread_create(&p->source_thread, NULL, source_main, p);
        if (r < 0)
                goto fail;
        p->source_started = true;
        r = -pthread_create(&p->writer_thread, NULL, writer_main, p);
        if (r < 0)
                goto fail;
        p->writer_started = true;
        for (unsigned i = 0; i < p->n_workers; i++) {
                r = -pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
                if (r < 0)
                        goto fail;
                p->workers[i].started = true;
        }
        *ret = p;
        return 0;
fail:
        pipeline_free(p);
        return r;
}

struct pipeline *pipeline_free(struct pipeline *p) {
        if (!p)
                return NULL;

        /* Finish a take still running (its file gets status complete), then stop the threads. */
        pthread_mutex_lock(&p->lock);
        if (p->take_active)
                end_take_locked(p, STOP_SHUTDOWN, NULL);
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
        for (unsigned i = 0; p->workers && i < p->n_workers; i++) {
                if (p->workers[i].started)
                        pthread_join(p->workers[i].thread, NULL);
                encoder_free(p->workers[i].encoder);
                frame_release(&p->workers[i].rectified);
        }
        rectify_free(p->rectify);
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
        atomic_store(&p->end_reason, STOP_NONE);
        atomic_store(&p->captured, 0);
        atomic_store(&p->written, 0);
        atomic_store(&p->bytes, 0);
        for (unsigned c = 0; c < _DROP_MAX; c++)
                atomic_store(&p->dropped[c], 0);
        atomic_store(&p->first_ts, -1);
        atomic_store(&p->last_ts, -1);
        atomic_store(&p->skew_sum, 0);
        atomic_store(&p->skew_max, 0);
        atomic_store(&p->skew_n, 0);
        atomic_store(&p->dequeue_ts, false);
        pthread_cond_broadcast(&p->cv_source);
        pthread_cond_broadcast(&p->cv_writer);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

void pipeline_stats(struct pipeline *p, struct pipeline_stats *ret) {
        int64_t first = atomic_load(&p->first_ts), last = atomic_load(&p->last_ts);
        struct pipeline_stats s;

        /* zeroed whole, padding included: bus_emit_hand_changed() compares snapshots with memcmp() */
        memset(&s, 0, sizeof(s));
        s.captured = atomic_load(&p->captured);
        s.written = atomic_load(&p->written);
        s.bytes = atomic_load(&p->bytes);
        s.queue_depth = atomic_load(&p->queue_depth);
        s.queue_capacity = queue_capacity(p->queue);

        for (unsigned c = 0; c < _DROP_MAX; c++) {
                s.dropped[c] = atomic_load(&p->dropped[c]);
                s.dropped_total += s.dropped[c];
        }
        uint64_t skew_n = atomic_load(&p->skew_n);
        if (skew_n > 0)
                s.skew_mean = (double) atomic_load(&p->skew_sum) / (double) skew_n / 1e9;
        s.skew_max = (double) atomic_load(&p->skew_max) / 1e9;
        s.dequeue_timestamps = atomic_load(&p->dequeue_ts);
        s.camera_fps = (double) atomic_load(&p->camera_fps_micro) / 1e6;
        if (first >= 0 && last >= first) {
                s.duration = (double) (last - first) / 1e9 + 1.0 / p->hand->camera.fps;
                if (last > first && s.captured > 1)
                        s.fps = (double) (s.captured - 1) / ((double) (last - first) / 1e9);
        }
        memcpy(ret, &s, sizeof(s));
}

enum stop_reason pipeline_result(struct pipeline *p, char *error, size_t error_len) {
        enum stop_reason r;

        pthread_mutex_lock(&p->lock);
        snprintf(error, error_len, "%s", p->last_error);
        r = atomic_load(&p->end_reason);
        pthread_mutex_unlock(&p->lock);
        return r;
}
