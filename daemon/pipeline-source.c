/* SPDX-License-Identifier: MIT */
/*
 * pipeline-source.c — the source thread of one hand: the only caller of source_*(). A camera
 * that stays warm (SOURCE_CAP_KEEPS_WARM) is opened once, read continuously while idle and
 * reopened every second while missing; other sources (synthetic, replay) are opened for each
 * take, and while a preview watches. Either way a take's frames go into free jobs and onto the
 * work FIFO with a ticket. The preview tap (preview-tap.h) gets a copy of a frame only when the
 * preview wants one: the one thing the preview asks of this thread, and it never waits for it.
 * Lock rules and ownership: pipeline-internal.h.
 */
#include <stdio.h>
#include <string.h>

#include "pipeline-internal.h"
#include "../lib/util.h"

/* A warm camera giving less than this share of its configured rate is said to be short of it. */
#define CAMERA_RATE_SHORT 0.9

/* What the source must deliver for this take: a source that can hand over the camera's JPEG
 * always does (its jobs hold no planes; a worker decodes when the take rectifies); any other
 * delivers pixels, needed when the frame will be rectified. */
static enum source_want take_wants(struct pipeline *p, const struct take_params *t) {
        if (source_caps(p->source) & SOURCE_CAP_CAMERA_JPEG)
                return SOURCE_WANT_ANY;
        return t->rectify && p->rectify ? SOURCE_WANT_PIXELS : SOURCE_WANT_ANY;
}

/* A free job for the next frame, or NULL (the frame is then dropped as encoder-busy). A source
 * paced by the pipeline (a replay at rate "max") waits for one instead. */
static struct job *take_job(struct pipeline *p) {
        struct job *j = NULL;

        pthread_mutex_lock(&p->lock);
        while ((source_caps(p->source) & SOURCE_CAP_PACED) && p->n_free == 0 && !pipeline_ending(p))
                pthread_cond_wait(&p->cv_room, &p->lock);
        if (p->n_free > 0) {
                j = p->free_jobs[--p->n_free];
                p->in_flight++;
        }
        pthread_mutex_unlock(&p->lock);
        return j;
}

static void give_back(struct pipeline *p, struct job *j) {
        if (!j)
                return;
        pthread_mutex_lock(&p->lock);
        pipeline_give_back_locked(p, j);
        pthread_mutex_unlock(&p->lock);
}

/* Hand a filled job to the encoders, with the next ticket. */
static void submit(struct pipeline *p, struct job *j) {
        pthread_mutex_lock(&p->lock);
        j->ticket = p->next_ticket++;
        p->work[(p->work_head + p->work_count++) % p->n_jobs] = j;
        pthread_cond_signal(&p->cv_work);
        pthread_mutex_unlock(&p->lock);
}

/* A job's buffer: the camera's JPEG, or the I420 planes (pipeline.c alloc_jobs()). */
static uint8_t *job_buffer(struct job *j) {
        return j->frame.jpeg ? j->frame.jpeg : j->frame.data;
}

/* The source has filled @j (ours): note the bytes its buffer holds now, raise the ceiling every
 * job's buffer is kept resident to when they are more than any frame's before, and count the jobs
 * below it again (rarely: only when a buffer holds more than it ever did). */
static void note_job_bytes(struct pipeline *p, struct job *j) {
        size_t used = j->frame.jpeg ? j->frame.jpeg_size : p->raw_bytes;

        if (used <= j->resident)
                return;
        j->resident = used;
        p->job_ceiling = MAX(p->job_ceiling, used);
        p->jobs_below = 0;
        for (unsigned i = 0; i < p->n_jobs; i++)
                p->jobs_below += p->jobs[i].resident < p->job_ceiling;
}

/* While some job's buffer is below the ceiling, write one free one up to it, once. The free list
 * is a stack (take_job()): in the steady state one or two jobs carry every frame, and without this
 * the others' pages would become resident backlog by backlog, megabytes over an hour (issue 23).
 * A job below it that is in flight is written on a later frame, once it is back. */
static void touch_a_free_job(struct pipeline *p) {
        struct job *j = NULL;

        if (p->jobs_below == 0)
                return;
        pthread_mutex_lock(&p->lock);
        for (unsigned i = 0; i < p->n_free && !j; i++)
                if (p->free_jobs[i]->resident < p->job_ceiling)
                        j = p->free_jobs[i];
        pthread_mutex_unlock(&p->lock);
        if (!j)
                return;
        /* only this thread takes jobs off the free list: j stays free while its bytes are written */
        memset(job_buffer(j) + j->resident, 0, p->job_ceiling - j->resident);
        j->resident = p->job_ceiling;
        p->jobs_below--;
}

/* The counters of one frame read for the take. */
static void count_frame(struct pipeline *p, const struct frame_meta *meta) {
        struct take_counters *c = &p->counters;

        if (atomic_load(&c->first_ts) == 0)
                atomic_store(&c->first_ts, meta->timestamp_ns);
        else
                atomic_fetch_add(&c->dropped[DROP_CAMERA], meta->camera_gap);
        atomic_fetch_add(&c->dropped[DROP_UNPAIRED_LEFT], meta->unpaired[0]);
        atomic_fetch_add(&c->dropped[DROP_UNPAIRED_RIGHT], meta->unpaired[1]);
        if (meta->dequeue_timestamp)
                atomic_store(&c->dequeue_ts, true);
        atomic_store(&c->last_ts, meta->timestamp_ns);
        atomic_fetch_add(&c->captured, 1);
}

/*
 * The take ends at a frame past its duration (@past ns past it): of the frames the camera skipped
 * just before that frame (its camera_gap, slots of @period before it), those whose slots fall
 * within the take are the take's gaps, counted as the others are; those after its end are not
 * the take's. So captured + the camera's gaps = the take's slots, however late the camera was.
 */
static void count_gap_before_end(struct pipeline *p, const struct frame_meta *meta, int64_t past, int64_t period) {
        uint64_t after_end = (uint64_t) (past / period); /* the skipped slots at or past the end */

        if (meta->camera_gap > after_end)
                atomic_fetch_add(&p->counters.dropped[DROP_CAMERA], meta->camera_gap - after_end);
}

/* The source failed (r < 0): end the take with the reason that says why. */
static void end_for_source(struct pipeline *p, int r) {
        char msg[PIPELINE_ERROR_MAX];

        if (r == -ENODATA) {
                pipeline_end_take(p, STOP_END_OF_INPUT, NULL);
                return;
        }
        snprintf(msg, sizeof(msg),
                 "The camera stopped delivering frames (%.1200s); the take was ended and saved. Check the "
                 "camera and its cable.",
                 source_error(p->source));
        pipeline_end_take(p, STOP_DEVICE_LOST, msg);
}

/* Read frames into jobs for the take until it ends. Return: 0, or the source's error (then the
 * take has been ended for it). */
static int record_frames(struct pipeline *p, const struct take_params *t) {
        int64_t period = (int64_t) (1e9 / p->hand->camera.fps);
        int64_t duration_ns = t->duration > 0 ? (int64_t) (t->duration * 1e9) - period / 2 : INT64_MAX;
        enum source_want want = take_wants(p, t);

        while (!pipeline_ending(p)) {
                struct job *j = take_job(p);
                struct frame_meta meta;
                int64_t first;
                int r;

                if (!j && pipeline_ending(p))
                        break; /* stopped while waiting for a job: no frame of the take is read */
                r = source_read(p->source, j ? &j->frame : NULL, want, &meta);

                if (r == -EBADMSG) {
                        /* one frame the camera sent broken: counted, the take goes on */
                        atomic_fetch_add(&p->counters.captured, 1);
                        atomic_fetch_add(&p->counters.dropped[DROP_ENCODE_ERROR], 1);
                        log_warning("%s: %s", p->hand->name, source_error(p->source));
                        give_back(p, j);
                        continue;
                }
                if (r < 0) {
                        give_back(p, j);
                        end_for_source(p, r);
                        return r;
                }
                first = atomic_load(&p->counters.first_ts);
                if (first > 0 && meta.timestamp_ns - first >= duration_ns) {
                        count_gap_before_end(p, &meta, meta.timestamp_ns - first - duration_ns, period);
                        give_back(p, j);
                        pipeline_end_take(p, STOP_DURATION, NULL);
                        return 0;
                }
                count_frame(p, &meta);
                if (j) {
                        note_job_bytes(p, j);
                        preview_tap_offer(&p->tap, &j->frame, &meta, true); /* before the job is the workers' */
                        submit(p, j);
                        touch_a_free_job(p);
                } else
                        atomic_fetch_add(&p->counters.dropped[DROP_ENCODER_BUSY], 1);
        }
        return 0;
}

/* Whether a warm-up should end early: the daemon is quitting, or (@take) the take it warms up
 * for was stopped. */
static bool warm_up_cancelled(struct pipeline *p, bool take) {
        return atomic_load(&p->quit) || (take && pipeline_ending(p));
}

/* The rate a warm camera gives, in the log; one well below the configured rate, as a sentence
 * that says what to do: a mode its USB link cannot carry is not refused by uvcvideo (it clamps the
 * camera's request, "UVC non compliance") and streams at what the link carries (issue 21). */
static void say_warm_rate(const struct pipeline *p, double fps) {
        double want = p->hand->camera.fps;

        if (want > 0 && fps < CAMERA_RATE_SHORT * want)
                log_warning("%s: the camera gives %.1f fps, not the %g configured: its USB link cannot carry this mode "
                            "(or its exposure time is longer than a frame); configure a lower fps or a smaller size "
                            "(handrecctl devices lists its modes), or give the camera a USB port of its own",
                            p->hand->name, fps, want);
        else
                log_info("%s: camera open and warm; measured %.2f fps (configured %g)", p->hand->name, fps, want);
}

/* Read and discard @seconds of frames and keep the rate measured; @take: the warm-up belongs
 * to a take, and ends as soon as it is stopped. Return: 0 or the source's error. */
static int warm_up(struct pipeline *p, double seconds, bool take) {
        int64_t until = now_ns(CLOCK_MONOTONIC) + (int64_t) (seconds * 1e9), first = -1, last = -1;
        unsigned n = 0;

        while (seconds > 0 && !warm_up_cancelled(p, take)) {
                struct frame_meta meta;
                int r = source_read(p->source, NULL, SOURCE_WANT_ANY, &meta);
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
                if (!take)
                        say_warm_rate(p, fps);
        }
        return 0;
}

/* A source opened for each take (synthetic, replay): open (or take over the source the preview
 * holds open, *@opened_ns its opening time), warm up what is left of the warm-up since it opened,
 * record. The caller closes it. */
static void capture_take(struct pipeline *p, const struct take_params *t, int64_t *opened_ns) {
        char msg[PIPELINE_ERROR_MAX];
        double warm = p->hand->camera.warmup;
        int r = 0;

        if (*opened_ns == 0) {
                r = source_open(p->source);
                if (r < 0) {
                        snprintf(msg, sizeof(msg), "Cannot open the %s camera: %.1200s",
                                 config_source_kind_to_string(p->hand->camera.source),
                                 source_error(p->source)[0] ? source_error(p->source) : strerror(-r));
                        pipeline_end_take(p, STOP_DEVICE_LOST, msg);
                        return;
                }
                *opened_ns = now_ns(CLOCK_MONOTONIC);
        } else
                warm -= (double) (now_ns(CLOCK_MONOTONIC) - *opened_ns) / 1e9;
        r = warm_up(p, warm, true);
        if (r < 0)
                pipeline_end_take(p, STOP_DEVICE_LOST, source_error(p->source));
        else if (!pipeline_ending(p)) {
                pipeline_post(p, PIPELINE_EVENT_RECORDING);
                record_frames(p, t);
        }
}

static void set_device(struct pipeline *p, bool present, const char *error) {
        bool was = atomic_exchange(&p->device_present, present), first;

        pthread_mutex_lock(&p->lock);
        first = streq(p->device_error, PIPELINE_NOT_OPENED_YET);
        snprintf(p->device_error, sizeof(p->device_error), "%s", present ? "" : error);
        pthread_mutex_unlock(&p->lock);
        if (was != present) {
                if (present && !first) /* the first open says "camera open and warm" alone */
                        log_info("%s: camera is back", p->hand->name);
                else if (!present)
                        log_warning("%s: camera unavailable: %s", p->hand->name, error);
                pipeline_post(p, PIPELINE_EVENT_DEVICE);
        } else if (first)
                pipeline_post(p, PIPELINE_EVENT_DEVICE); /* the first open failed: a held start is answered */
}

/* A second before the camera is tried again, or less when a take starts (it broadcasts
 * cv_source) or the daemon quits. */
static void wait_to_retry(struct pipeline *p) {
        struct timespec retry = ns_to_timespec(now_ns(CLOCK_MONOTONIC) + NSEC_PER_SEC);

        pthread_mutex_lock(&p->lock);
        if (!p->quit)
                pthread_cond_timedwait(&p->cv_source, &p->lock, &retry);
        pthread_mutex_unlock(&p->lock);
}

/* The camera's format and controls in force, as it was just opened (they were set then), for the
 * writer's take attributes: the writer reads no device (pipeline-internal.h). */
static void describe_camera(struct pipeline *p) {
        struct source_camera cam; /* 12 KiB of the thread's stack: the device is asked without the lock */
        int r = source_describe(p->source, &cam);

        pthread_mutex_lock(&p->lock);
        p->camera_described = r >= 0;
        if (r >= 0)
                p->camera = cam;
        pthread_mutex_unlock(&p->lock);
}

/* Open and warm up a camera kept warm. Return: whether it is open; when not, the device is
 * marked missing, a take waiting for it ended, and the caller retries after a second. */
static bool open_warm(struct pipeline *p) {
        int r = source_open(p->source);

        if (r >= 0)
                r = warm_up(p, p->hand->camera.warmup, false);
        if (r >= 0) {
                describe_camera(p);
                set_device(p, true, "");
                return true;
        }
        source_close(p->source); /* safe on a source that did not open */
        set_device(p, false, source_error(p->source)[0] ? source_error(p->source) : strerror(-r));
        pthread_mutex_lock(&p->lock);
        if (p->take_active && !p->source_done) {
                pipeline_end_take_locked(p, STOP_DEVICE_LOST, p->device_error);
                p->source_done = true;
                pthread_cond_broadcast(&p->cv_writer);
        }
        pthread_mutex_unlock(&p->lock);
        wait_to_retry(p);
        return false;
}

/* One step of a warm camera: read and discard a frame while idle, or record the take. Return:
 * whether the camera is still open. */
static bool run_warm(struct pipeline *p, bool recording, const struct take_params *t) {
        int r;

        if (!recording) {
                /* the frame discarded while idle goes to the preview instead, when one is wanted */
                struct frame *f = preview_tap_claim(&p->tap, now_ns(CLOCK_MONOTONIC));
                struct frame_meta meta;
                r = source_read(p->source, f, SOURCE_WANT_ANY, &meta);
                if (f && r >= 0)
                        preview_tap_publish(&p->tap, &meta, false);
                else if (f)
                        preview_tap_unclaim(&p->tap);
                if (r == -EBADMSG)
                        r = 0;
        } else {
                if (!pipeline_ending(p))
                        pipeline_post(p, PIPELINE_EVENT_RECORDING);
                r = record_frames(p, t);
                pthread_mutex_lock(&p->lock);
                p->source_done = true;
                pthread_cond_broadcast(&p->cv_writer);
                pthread_mutex_unlock(&p->lock);
        }
        if (r < 0) {
                source_close(p->source);
                set_device(p, false, source_error(p->source));
        }
        return r >= 0;
}

/* A camera kept open between takes, so a take starts at the next frame. */
static void warm_camera_loop(struct pipeline *p) {
        bool open = false;

        while (!atomic_load(&p->quit)) {
                struct take_params t;
                bool recording;

                if (!open) {
                        open = open_warm(p);
                        continue;
                }
                pthread_mutex_lock(&p->lock);
                recording = p->take_active && !p->source_done;
                t = p->take;
                pthread_mutex_unlock(&p->lock);
                open = run_warm(p, recording, &t);
                if (!open)
                        wait_to_retry(p); /* the camera just went away: not back this instant */
        }
        if (open)
                source_close(p->source);
}

/* What a source opened per take does next. */
enum per_take_step {
        STEP_QUIT,
        STEP_TAKE,          /* capture the take */
        STEP_PREVIEW_FRAME, /* nobody records, a preview wants a frame: read one into the tap */
        STEP_CLOSE,         /* the source is open and nobody needs it any more */
};

/* Wait for something to do, with the lock held. A frame is read for the preview only when one
 * is wanted (a replay at "max" would otherwise spin), so an idle preview costs its own rate. */
static enum per_take_step next_step_locked(struct pipeline *p, bool open, struct take_params *ret_take) {
        for (;;) {
                enum per_take_step step;
                atomic_store(&p->tap.source_waits, true); /* before the state is read: pipeline_tap_want() */
                if (p->quit)
                        step = STEP_QUIT;
                else if (p->take_active && !p->source_done)
                        step = STEP_TAKE;
                else if (open && !p->tap.watching)
                        step = STEP_CLOSE;
                else if (p->tap.watching && atomic_load(&p->tap.state) == TAP_WANT) {
                        int64_t due = atomic_load(&p->tap.due_ns);
                        if (now_ns(CLOCK_MONOTONIC) < due) { /* not before it is due: no frame drawn in vain */
                                struct timespec until = ns_to_timespec(due);
                                pthread_cond_timedwait(&p->cv_source, &p->lock, &until);
                                continue;
                        }
                        step = STEP_PREVIEW_FRAME;
                } else {
                        pthread_cond_wait(&p->cv_source, &p->lock);
                        continue;
                }
                atomic_store(&p->tap.source_waits, false);
                if (step == STEP_TAKE)
                        *ret_take = p->take;
                return step;
        }
}

/* One frame for the preview from a source opened per take, opening it first if need be.
 * Return: whether the source is open afterwards. */
static bool preview_frame(struct pipeline *p, int64_t *opened_ns) {
        struct frame_meta meta;
        struct frame *f;
        int r;

        if (*opened_ns == 0) {
                r = source_open(p->source);
                if (r < 0) {
                        log_warning("%s: cannot open the camera for the preview: %s", p->hand->name,
                                    source_error(p->source)[0] ? source_error(p->source) : strerror(-r));
                        wait_to_retry(p);
                        return false;
                }
                *opened_ns = now_ns(CLOCK_MONOTONIC);
        }
        f = preview_tap_claim(&p->tap, INT64_MAX);
        if (!f)
                return true; /* switched off meanwhile */
        r = source_read(p->source, f, SOURCE_WANT_ANY, &meta);
        if (r >= 0) {
                preview_tap_publish(&p->tap, &meta, false);
                return true;
        }
        preview_tap_unclaim(&p->tap);
        if (r == -EBADMSG)
                return true;
        source_close(p->source); /* the end of a replay, or a failure: opened again for the next frame */
        *opened_ns = 0;
        if (r != -ENODATA)
                wait_to_retry(p);
        return false;
}

/* A source opened for each take: wait for a take, capture it, say the source is done. While a
 * preview watches, the source is opened (or kept open after a take) to feed it; a take starting
 * then takes the open source over, and its warm-up counts from the opening (docs/architecture.md). */
static void per_take_loop(struct pipeline *p) {
        int64_t opened_ns = 0; /* CLOCK_MONOTONIC of the source's opening; 0: closed */

        pthread_mutex_lock(&p->lock);
        for (;;) {
                struct take_params t;
                enum per_take_step step = next_step_locked(p, opened_ns != 0, &t);

                if (step == STEP_QUIT)
                        break;
                pthread_mutex_unlock(&p->lock);
                switch (step) {
                case STEP_TAKE:
                        capture_take(p, &t, &opened_ns); /* left open: closed next unless watched */
                        break;
                case STEP_PREVIEW_FRAME: preview_frame(p, &opened_ns); break;
                case STEP_CLOSE:
                        source_close(p->source);
                        opened_ns = 0;
                        break;
                default: break;
                }
                pthread_mutex_lock(&p->lock);
                if (step == STEP_TAKE) {
                        p->source_done = true;
                        pthread_cond_broadcast(&p->cv_writer);
                }
        }
        pthread_mutex_unlock(&p->lock);
        if (opened_ns)
                source_close(p->source);
}

void *pipeline_source_main(void *userdata) {
        struct pipeline *p = userdata;
        char name[16];

        snprintf(name, sizeof(name), "hr-src-%s", p->hand->name);
        thread_setup(name);
        if (source_caps(p->source) & SOURCE_CAP_KEEPS_WARM)
                warm_camera_loop(p);
        else
                per_take_loop(p);
        return NULL;
}
