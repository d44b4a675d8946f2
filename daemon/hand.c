/* SPDX-License-Identifier: MIT */
/*
 * hand.c — the state machine of one hand, on the main thread: starts takes (names and reserves
 * the file, checks the disk), stops them, and turns the pipeline's events into state. What is to
 * be said on the bus about it (replies, signals, property changes) it only marks (hand_notify());
 * the bus layer above says it (bus.h).
 *
 *   idle ──Start──► warming ──(warm-up done)──► recording ──Stop/duration/error──► stopping
 *    ▲                 └──────────────Stop────────────────────────────────────────►   │
 *    └──────────────────────────────(file complete: RecordingStopped)─────────────────┘
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "process-memory.h"
#include "../lib/layout.h"
#include "../lib/status-line.h"
#include "takefile.h"
#include "../lib/upload-backlog.h"
#include "../lib/util.h"

const char *hand_state_to_string(enum hand_state s) {
        static const char *const names[_HAND_STATE_MAX] = {
                [HAND_IDLE] = "idle",         [HAND_WARMING] = "warming",     [HAND_RECORDING] = "recording",
                [HAND_STOPPING] = "stopping", [HAND_NO_DEVICE] = "no-device", [HAND_ERROR] = "error",
        };
        return s < _HAND_STATE_MAX ? names[s] : "?";
}

bool hand_is_active(const struct hand *h) {
        return h->state == HAND_WARMING || h->state == HAND_RECORDING || h->state == HAND_STOPPING;
}

/* Whether any of @d's hands runs a take (its writer may be in HDF5). */
static bool hand_any_active(const struct daemon *d) {
        for (unsigned i = 0; i < d->n_hands; i++)
                if (hand_is_active(&d->hands[i]))
                        return true;
        return false;
}

bool hand_release_hdf5(struct daemon *d) {
        int r;

        if (hand_any_active(d))
                return false;
        r = layout_library_release();
        if (r < 0 && r != -EBUSY)
                log_warning_errno(r, "Failed to close HDF5 between takes (it keeps what it holds): %m");
        return r > 0;
}

struct hand *hand_find(struct daemon *d, const char *name) {
        for (unsigned i = 0; i < d->n_hands; i++)
                if (streq(d->hands[i].config->name, name))
                        return &d->hands[i];
        return NULL;
}

void hand_notify(struct hand *h, unsigned what) {
        h->notices |= what;
        if (h->daemon->notices)
                (void) sd_event_source_set_enabled(h->daemon->notices, SD_EVENT_ONESHOT);
}

static void set_state(struct hand *h, enum hand_state s) {
        if (h->state == s)
                return;
        log_debug("%s: %s → %s", h->config->name, hand_state_to_string(h->state), hand_state_to_string(s));
        h->state = s;
        if (h->n_passed < ELEMENTSOF(h->passed))
                h->passed[h->n_passed++] = s;
        else
                h->passed[ELEMENTSOF(h->passed) - 1] = s; /* the current one is always said last */
        hand_notify(h, HAND_NOTICE_CHANGED);
}

static void take_ended(struct hand *h) {
        struct daemon *d = h->daemon;
        enum stop_reason reason;
        char error[PIPELINE_ERROR_MAX];

        reason = pipeline_result(h->pipeline, error, sizeof(error));
        if (error[0])
                snprintf(h->last_error, sizeof(h->last_error), "%s", error);
        log_info("%s: take %s ended (%s)%s%s", h->config->name, h->file, pipeline_stop_reason_to_string(reason),
                 error[0] ? ": " : "", error);

        /* StopRecording's waiters are answered and RecordingStopped sent by the bus layer */
        h->ended_reason = reason;
        hand_notify(h, HAND_NOTICE_ENDED);

        char derr[PIPELINE_ERROR_MAX];
        h->episode[0] = h->task[0] = 0; /* Episode and Task are the running take's */
        set_state(h, pipeline_device(h->pipeline, derr, sizeof(derr)) ? HAND_IDLE : HAND_NO_DEVICE);

        /* after the state: this hand no longer counts as active. With no take running, what the
         * takes held goes back, and the pages of HDF5's start, run again as it opened again (clean
         * file pages: read again from the page cache if ever needed; they stayed, +384 kB, from
         * the first take's end). Else what the take's file held, freed in the heap's middle. */
        if (hand_release_hdf5(d))
                process_memory_release();
        else
                process_memory_trim();
        if (d->shutting_down)
                hand_shutdown_all(d);
}

/* The start calls held for the camera are run again by the bus layer now (HAND_NOTICE_HELD). */
static void release_held_starts(struct hand *h) {
        if (h->n_held_starts)
                hand_notify(h, HAND_NOTICE_HELD);
        h->held_timer = sd_event_source_unref(h->held_timer);
}

static int on_pipeline_event(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
        struct hand *h = userdata;
        uint64_t n;
        unsigned events;

        if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
                return log_error_errno(errno, "Failed to read the pipeline eventfd: %m");
        events = pipeline_take_events(h->pipeline);
        if ((events & PIPELINE_EVENT_RECORDING) && h->state == HAND_WARMING)
                set_state(h, HAND_RECORDING);
        /* the take ends by itself (duration, lost device, full disk): stopping while it drains */
        if ((events & PIPELINE_EVENT_ENDING) && (h->state == HAND_WARMING || h->state == HAND_RECORDING))
                set_state(h, HAND_STOPPING);
        if (events & PIPELINE_EVENT_ENDING)
                hand_notify(h, HAND_NOTICE_ENDING); /* its episode's partners, if it has one */
        if (events & PIPELINE_EVENT_ENDED)
                take_ended(h);
        if (events & PIPELINE_EVENT_PREVIEW) {
                preview_reap(h->preview); /* joins the preview thread once nobody watches */
                hand_notify(h, HAND_NOTICE_CHANGED);
        }
        if ((events & PIPELINE_EVENT_DEVICE) && !hand_is_active(h)) {
                char error[PIPELINE_ERROR_MAX];
                if (pipeline_device(h->pipeline, error, sizeof(error)))
                        set_state(h, HAND_IDLE);
                else {
                        snprintf(h->last_error, sizeof(h->last_error), "%s", error);
                        set_state(h, HAND_NO_DEVICE);
                }
        }
        if ((events & PIPELINE_EVENT_DEVICE) && h->n_held_starts && !hand_camera_opening(h))
                release_held_starts(h); /* the first open has ended, well or not */
        return 0;
}

bool hand_camera_opening(struct hand *h) {
        char error[PIPELINE_ERROR_MAX];

        return h->state == HAND_NO_DEVICE && !h->daemon->shutting_down &&
               !pipeline_device(h->pipeline, error, sizeof(error)) && streq(error, PIPELINE_NOT_OPENED_YET);
}

static int on_held_timeout(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        release_held_starts(userdata); /* run again: those whose wait is over are refused, saying why */
        return 0;
}

/* The held calls' timer, at the earliest of their deadlines. Return: 0 or negative. */
static int arm_held_timer(struct hand *h, uint64_t deadline) {
        uint64_t at;

        if (!h->held_timer)
                return sd_event_add_time(h->daemon->event, &h->held_timer, CLOCK_MONOTONIC, deadline, 0,
                                         on_held_timeout, h);
        if (sd_event_source_get_time(h->held_timer, &at) >= 0 && at <= deadline)
                return 0;
        return sd_event_source_set_time(h->held_timer, deadline);
}

int hand_hold_start(struct hand *h, const struct held_start *held, sd_bus_error *error) {
        int r;

        if (h->n_held_starts >= MAX_STOP_WAITERS)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many start calls are waiting for the %s hand's camera to open; wait "
                                         "for them to finish.",
                                         h->config->name);
        r = arm_held_timer(h, held->deadline);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot wait for the %s hand's camera: %m", h->config->name);
        h->held_starts[h->n_held_starts] = *held;
        sd_bus_message_ref(h->held_starts[h->n_held_starts++].m);
        return 1;
}

/* A replay source opened per take: its folder looked at now, so that a folder that cannot be
 * played (a mix of side-by-side images and left/right pairs, none at all) shows in State and
 * LastError before anyone starts a take, not in a take that ends at once. Return: whether it can. */
static bool check_replay(struct hand *h) {
        char why[1200];

        if (h->config->camera.source != SOURCE_REPLAY)
                return true;
        if (preflight_replay(h->config, why, sizeof(why)) >= 0) {
                if (h->state == HAND_ERROR)
                        set_state(h, HAND_IDLE);
                return true;
        }
        snprintf(h->last_error, sizeof(h->last_error), "The replay folder cannot be played: %s.", why);
        if (h->state != HAND_ERROR) {
                log_error("%s: %s", h->config->name, h->last_error);
                set_state(h, HAND_ERROR);
        }
        return false;
}

int hand_init(struct hand *h, struct daemon *d, const struct hand_config *config) {
        int r;

        *h = (struct hand){.daemon = d, .config = config, .event_fd = -1, .state = HAND_IDLE};
        snprintf(h->path, sizeof(h->path), HAND_PATH_PREFIX "%s", config->name);

        h->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (h->event_fd < 0)
                return log_error_errno(errno, "Failed to create an eventfd: %m");
        r = sd_event_add_io(d->event, &h->event_source, h->event_fd, EPOLLIN, on_pipeline_event, h);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the eventfd: %m");
        r = pipeline_new(d->config, config, h->event_fd, &h->pipeline);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the %s hand's pipeline: %m", config->name);
        r = preview_new(config, h->pipeline, &h->preview);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the %s hand's preview: %m", config->name);
        {
                char error[PIPELINE_ERROR_MAX];
                /* a camera is no-device until it has been opened and warmed up */
                if (!pipeline_device(h->pipeline, error, sizeof(error)))
                        h->state = HAND_NO_DEVICE;
        }
        check_replay(h); /* a folder that cannot be played: error, with why, at once */
        return 0;
}

void hand_done(struct hand *h) {
        for (unsigned i = 0; i < h->n_held_starts; i++) { /* a reload while they waited */
                (void) sd_bus_reply_method_errorf(h->held_starts[i].m, ERROR_DEVICE_UNAVAILABLE,
                                                  "The configuration was read again while this take waited for the "
                                                  "%s hand's camera; start it again.",
                                                  h->config->name);
                sd_bus_message_unref(h->held_starts[i].m);
        }
        h->n_held_starts = 0;
        h->held_timer = sd_event_source_unref(h->held_timer);
        h->preview = preview_free(h->preview); /* before the pipeline whose tap it reads; EOF to readers */
        h->pipeline = pipeline_free(h->pipeline);
        for (unsigned i = 0; i < h->n_waiters; i++)
                sd_bus_message_unref(h->waiters[i]);
        h->n_waiters = 0;
        h->event_source = sd_event_source_unref(h->event_source);
        if (h->event_fd >= 0)
                close(h->event_fd);
        h->event_fd = -1;
}

/* A take starts only if it can record this long above the disk reserve; then it ends with
 * disk-full when the next batch would eat into the reserve (pipeline-writer.c). */
#define START_SECONDS 3

/* Bytes START_SECONDS of the hand's recording take, at one eighth of raw I420 a frame: what a
 * JPEG of quality 85 usually is (10:1 or better). Not the queue's raw/4, which bounds memory for
 * the worst frames (memory-budget.c); this is the disk a typical take fills. */
static uint64_t start_room(const struct hand_config *hc) {
        const struct camera_config *cam = &hc->camera;
        uint64_t raw = (uint64_t) 2 * cam->width * cam->height * 3 / 2;
        return (uint64_t) (START_SECONDS * cam->fps * (double) (raw / 8));
}

uint64_t hand_disk_free(const struct hand *h) {
        char dir[PATH_MAX];

        snprintf(dir, sizeof(dir), "%s/%s", h->daemon->config->output_dir, h->config->name);
        return disk_free_bytes(dir);
}

double hand_disk_time_left(const struct hand *h, const struct pipeline_stats *s, uint64_t free_bytes) {
        uint64_t reserve = h->daemon->config->min_free_bytes;
        double rate = s->duration >= 1.0 && s->bytes > 0 ? (double) s->bytes / s->duration : 0;

        if (rate <= 0 || free_bytes == UINT64_MAX)
                return -1;
        return free_bytes > reserve ? (double) (free_bytes - reserve) / rate : 0;
}

/* The source thread has just opened the camera, and the event that says so (on_pipeline_event())
 * is not dispatched yet: the hand is idle from now, so that a start landing in between is not
 * refused "not available" with the camera open. Only this way round: a camera lost meanwhile ends
 * the take it starts by itself, with device-lost. */
static void catch_up_with_camera(struct hand *h) {
        char derr[PIPELINE_ERROR_MAX];

        if (h->state == HAND_NO_DEVICE && pipeline_device(h->pipeline, derr, sizeof(derr)))
                set_state(h, HAND_IDLE);
}

/* A take cannot start in this state: the error says why and what to do. Return: 0 when it can. */
static int refuse_if_busy(struct hand *h, sd_bus_error *error) {
        const char *name = h->config->name;
        char derr[PIPELINE_ERROR_MAX];

        catch_up_with_camera(h);
        if (h->daemon->shutting_down)
                return sd_bus_error_setf(error, ERROR_DEVICE_UNAVAILABLE,
                                         "handrecd is shutting down; start the take once it is back.");
        switch (h->state) {
        case HAND_WARMING:
        case HAND_RECORDING:
                return sd_bus_error_setf(
                        error, ERROR_ALREADY_RECORDING,
                        "Hand %s is already recording to %s; stop it first (handrecctl stop --hand %s).", name, h->file,
                        name);
        case HAND_STOPPING:
                return sd_bus_error_setf(error, ERROR_ALREADY_RECORDING,
                                         "Hand %s is still finishing %s; try again when it is idle.", name, h->file);
        case HAND_NO_DEVICE:
        case HAND_ERROR:
                pipeline_device(h->pipeline, derr, sizeof(derr));
                if (hand_camera_opening(h))
                        return sd_bus_error_setf(error, ERROR_DEVICE_UNAVAILABLE,
                                                 "The %s hand's camera is still being opened since handrecd started "
                                                 "(a start waits %d s for it). Try again once handrecctl status "
                                                 "says idle.",
                                                 name, HELD_START_SECONDS);
                return sd_bus_error_setf(error, ERROR_DEVICE_UNAVAILABLE,
                                         "The %s hand's camera is not available (%s); check that it is plugged in "
                                         "and that the config names it (handrecctl devices lists cameras).",
                                         name, derr[0] ? derr : "no device");
        default: break;
        }
        return 0;
}

/* The one free-space rule at the start of a take: the reserve plus START_SECONDS of recording. */
static int refuse_if_no_room(struct hand *h, sd_bus_error *error) {
        const struct config *c = h->daemon->config;
        uint64_t free_bytes = hand_disk_free(h), need = c->min_free_bytes + start_room(h->config);
        char backlog[512];

        if (free_bytes >= need)
                return 0;
        upload_backlog_sentence(c, backlog, sizeof(backlog));
        return sd_bus_error_setf(error, ERROR_STORAGE_FULL,
                                 "Only %llu MB are free in %s/%s; a take needs the reserve (save.min_free_mb = %llu "
                                 "MB) plus room for %d s of recording, %llu MB in all.%s Free some space or point "
                                 "save.output_dir elsewhere.",
                                 (unsigned long long) (free_bytes / 1000000), c->output_dir, h->config->name,
                                 (unsigned long long) (c->min_free_bytes / 1000000), START_SECONDS,
                                 (unsigned long long) (need / 1000000), backlog);
}

/* What the pipeline needs to know of the take, with its reserved file. */
static void fill_params(struct hand *h, const struct take_options *o, const struct takefile *file, time_t now,
                        struct take_params *t) {
        struct tm tm;

        *t = (struct take_params){.jpeg_quality = o->jpeg_quality,
                                  .duration = o->duration,
                                  .rectify = o->rectify < 0 ? h->config->rectify : o->rectify,
                                  .fd = file->fd,
                                  .monotonic_to_utc_ns = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC),
                                  .started_monotonic_ns = now_ns(CLOCK_MONOTONIC)};
        boot_id(t->boot_id, sizeof(t->boot_id));
        snprintf(t->label, sizeof(t->label), "%s", o->label);
        snprintf(t->episode, sizeof(t->episode), "%s", o->episode);
        snprintf(t->task, sizeof(t->task), "%s", o->task);
        snprintf(t->operator_, sizeof(t->operator_), "%s", o->operator_);
        snprintf(t->path, sizeof(t->path), "%s", file->path);
        strftime(t->started_utc, sizeof(t->started_utc), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
}

int hand_start(struct hand *h, const struct take_options *o, sd_bus_error *error) {
        const char *name = h->config->name;
        char msg[PATH_MAX + 256];
        struct take_params t;
        struct takefile file;
        time_t now = time(NULL);
        int r;

        r = hand_check_start(h, error);
        if (r < 0)
                return r;
        r = takefile_reserve(h->daemon->config->output_dir, name, o->label, now, &file, msg, sizeof(msg));
        if (r < 0)
                return sd_bus_error_setf(error, ERROR_STORAGE_UNAVAILABLE, "%s", msg);
        fill_params(h, o, &file, now, &t);
        r = pipeline_start(h->pipeline, &t); /* from here the file's descriptor is the pipeline's */
        if (r < 0) {
                takefile_discard(&file);
                return sd_bus_error_setf(error, ERROR_ALREADY_RECORDING,
                                         "Hand %s is still finishing its last take; try again in a moment.", name);
        }
        snprintf(h->file, sizeof(h->file), "%s", t.path);
        snprintf(h->episode, sizeof(h->episode), "%s", o->episode);
        snprintf(h->task, sizeof(h->task), "%s", o->task);
        snprintf(h->operator_, sizeof(h->operator_), "%s", o->operator_);
        snprintf(h->label, sizeof(h->label), "%s", t.label);
        snprintf(h->started_utc, sizeof(h->started_utc), "%s", t.started_utc);
        h->last_error[0] = 0;
        h->had_take = true;
        memset(&h->emitted, 0, sizeof(h->emitted));
        log_info("%s: recording to %s (quality %d%s%s)", name, h->file, t.jpeg_quality,
                 t.duration > 0 ? ", with a duration" : "", t.rectify ? ", rectified" : "");
        set_state(h, HAND_WARMING);
        hand_notify(h, HAND_NOTICE_STARTED);
        return 0;
}

void hand_stop_because(struct hand *h, enum stop_reason reason, const char *why) {
        if (!hand_is_active(h))
                return;
        snprintf(h->last_error, sizeof(h->last_error), "%s", why);
        pipeline_stop_because(h->pipeline, reason, why);
        set_state(h, HAND_STOPPING);
}

int hand_check_start(struct hand *h, sd_bus_error *error) {
        int r;

        if (!hand_is_active(h) && !check_replay(h))
                return sd_bus_error_setf(error, ERROR_DEVICE_UNAVAILABLE,
                                         "Hand %s: %s Fix the folder, then start again.", h->config->name,
                                         h->last_error);
        r = refuse_if_busy(h, error);

        return r < 0 ? r : refuse_if_no_room(h, error);
}

int hand_stop(struct hand *h, sd_bus_message *m, enum stop_reason reason, sd_bus_error *error) {
        const char *name = h->config->name;

        if (!hand_is_active(h))
                return sd_bus_error_setf(error, ERROR_NOT_RECORDING,
                                         "Hand %s is not recording; start a take with handrecctl start --hand %s.",
                                         name, name);
        if (m) {
                if (h->n_waiters >= MAX_STOP_WAITERS)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                 "Too many StopRecording calls are waiting for hand %s; wait for "
                                                 "them to finish.",
                                                 name);
                h->waiters[h->n_waiters++] = sd_bus_message_ref(m);
        }
        pipeline_stop(h->pipeline, reason);
        set_state(h, HAND_STOPPING);
        return 1;
}

void hand_status_line(struct hand *h, char *buf, size_t len) {
        struct pipeline_stats s;
        uint64_t free_bytes = hand_disk_free(h);

        pipeline_stats(h->pipeline, &s);
        status_line_format(buf, len,
                           &(struct status_values){
                                   .hand = h->config->name,
                                   .state = hand_state_to_string(h->state),
                                   .captured = s.captured,
                                   .written = s.written,
                                   .dropped = s.dropped_total,
                                   .missing = s.missing,
                                   .bytes = s.bytes,
                                   .disk_free = free_bytes == UINT64_MAX ? 0 : free_bytes,
                                   .disk_time_left = hand_disk_time_left(h, &s, free_bytes),
                                   .queue = s.queue_depth,
                                   .queue_capacity = s.queue_capacity,
                                   .resident_memory = process_resident_memory(),
                                   .duration = s.duration,
                                   .fps = s.fps,
                           });
}

/* SIGTERM/SIGINT: end every take as "shutdown"; exit once every file is complete. */
void hand_shutdown_all(struct daemon *d) {
        bool busy = false;

        if (!d->shutting_down) {
                log_info("Shutting down: finishing every open take.");
                sd_notify(false, "STOPPING=1");
        }
        d->shutting_down = true;
        for (unsigned i = 0; i < d->n_hands; i++) {
                struct hand *h = &d->hands[i];
                release_held_starts(h); /* refused: handrecd is shutting down */
                if (h->state == HAND_WARMING || h->state == HAND_RECORDING)
                        hand_stop(h, NULL, STOP_SHUTDOWN, NULL);
                busy = busy || hand_is_active(h);
        }
        if (!busy)
                sd_event_exit(d->event, d->exit_code);
}

int hand_open_preview(struct hand *h, const struct preview_options *o, int *ret_fd, sd_bus_error *error) {
        const char *name = h->config->name;
        char derr[PIPELINE_ERROR_MAX];
        int r;

        if (h->daemon->shutting_down)
                return sd_bus_error_setf(error, ERROR_DEVICE_UNAVAILABLE,
                                         "handrecd is shutting down; open the preview once it is back.");
        if (!pipeline_device(h->pipeline, derr, sizeof(derr)))
                return sd_bus_error_setf(error, ERROR_DEVICE_UNAVAILABLE,
                                         "The %s hand's camera is not connected (%s): check the cable; the preview "
                                         "opens once the camera is back.",
                                         name, derr[0] ? derr : "no device");
        r = preview_open(h->preview, o, ret_fd);
        if (r == -EUSERS)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "%d previews of hand %s are open already; close one first.",
                                         PREVIEW_MAX_CLIENTS, name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot open a preview of hand %s: %s", name, strerror(-r));
        hand_notify(h, HAND_NOTICE_CHANGED);
        return 0;
}
