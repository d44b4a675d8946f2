/* SPDX-License-Identifier: MIT */
/*
 * pipeline.h — the threads of one hand: source → encoder workers → writer queue → writer.
 * The main thread starts and stops takes and reads counters; it never waits on a thread except
 * in pipeline_free(). The threads tell it what happened through an eventfd and an event mask.
 * The threads and their lock rules: pipeline-internal.h.
 */
#pragma once

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../lib/config.h"
#include "../lib/util.h"

/* The longest error sentence a take or a camera reports (LastError): a path and what to do. */
#define PIPELINE_ERROR_MAX ERROR_SENTENCE_MAX
/* pipeline_device()'s reason while a camera kept warm has not been opened yet (just after start) */
#define PIPELINE_NOT_OPENED_YET "not opened yet"

enum stop_reason {
        STOP_NONE,
        STOP_REQUESTED,
        STOP_DURATION,
        STOP_DEVICE_LOST,
        STOP_DISK_FULL,
        STOP_IO_ERROR,
        STOP_SHUTDOWN,
        STOP_END_OF_INPUT, /* a replay that reached the end of its folder */
        STOP_PARTNER,      /* another take of its episode ended by itself (episode.c) */
        _STOP_MAX,
};

const char *pipeline_stop_reason_to_string(enum stop_reason r);

/* Why a frame did not reach the file. */
enum drop_cause {
        DROP_ENCODER_BUSY,  /* no free frame buffer: the encoders were behind the camera */
        DROP_QUEUE_FULL,    /* the writer queue was full: the disk was behind */
        DROP_ENCODE_ERROR,  /* TurboJPEG refused the frame */
        DROP_WRITE_FAILED,  /* compressed, but the file could no longer be written */
        DROP_CAMERA,        /* gaps in the camera's sequence numbers */
        DROP_UNPAIRED_LEFT, /* two devices: a left frame with no right frame within half a period */
        DROP_UNPAIRED_RIGHT,
        _DROP_MAX,
};

/* "queue-full": the name the bus, the status line and the take's attributes (dropped_queue_full) use */
const char *pipeline_drop_cause_to_string(enum drop_cause c);

/* Whether frames dropped for @c had been captured (so captured = written + these), or were
 * never captured as pairs at all (the camera's own gaps, eyes without a partner). */
static inline bool drop_cause_was_captured(enum drop_cause c) {
        return c < DROP_CAMERA;
}

/* Bits of the event mask the main thread collects with pipeline_take_events(). */
enum {
        PIPELINE_EVENT_RECORDING = 1u << 0, /* warm-up over: the take's first frame is coming */
        PIPELINE_EVENT_ENDED = 1u << 1,     /* the take's file is finished (or failed) */
        PIPELINE_EVENT_ENDING = 1u << 2,    /* the take is ending: the queue is being drained */
        PIPELINE_EVENT_DEVICE = 1u << 3,    /* the camera appeared or disappeared: pipeline_device() */
        PIPELINE_EVENT_PREVIEW = 1u << 4,   /* the preview thread ended or dropped a client (preview.h) */
};

/* StartRecording's episode (an id) and task (a sentence), stored in the take's file. */
#define TAKE_EPISODE_MAX 64
#define TAKE_TASK_MAX 1024
/* StartRecording's operator: who recorded the take (a login name, a person's name). */
#define TAKE_OPERATOR_MAX 64

struct take_params {
        char path[PATH_MAX];
        /* the reserved file (takefile.h), or -1; once pipeline_start() has accepted the take it is
         * the writer thread's, which closes it when the file is finished */
        int fd;
        char label[65];
        char episode[TAKE_EPISODE_MAX + 1];    /* "" when none */
        char task[TAKE_TASK_MAX + 1];          /* "" when none */
        char operator_[TAKE_OPERATOR_MAX + 1]; /* "" when none */
        char started_utc[32];
        int64_t monotonic_to_utc_ns;
        int64_t started_monotonic_ns; /* CLOCK_MONOTONIC when the take was started */
        char boot_id[40];             /* the kernel's boot id then: monotonic times compare within a boot */
        int jpeg_quality;
        double duration; /* seconds; 0: until stopped */
        bool rectify;
};

struct pipeline_stats {
        uint64_t captured;
        uint64_t written;
        uint64_t dropped[_DROP_MAX];
        uint64_t dropped_total; /* of the causes whose frames were captured: captured = written + this */
        uint64_t missing;       /* of the others: the camera's gaps, eyes without a partner */
        uint64_t bytes;
        unsigned queue_depth;
        unsigned queue_capacity;
        double duration;  /* seconds from the take's first frame captured to its last */
        double fps;       /* the rate frames were captured at, over the take */
        double skew_mean; /* two devices: |left − right| timestamp over the pairs stored so far, seconds */
        double skew_max;
        bool dequeue_timestamps; /* some frames had no driver timestamp */
        double camera_fps;       /* the rate measured during the camera's last warm-up, 0 if none */
};

struct pipeline;

/**
 * pipeline_new() - allocate every buffer of one hand and start its threads (idle until a take).
 * @config, @hand: borrowed; must outlive the pipeline.
 * @event_fd: borrowed eventfd the threads write to when pipeline_take_events() has news.
 */
int pipeline_new(const struct config *config, const struct hand_config *hand, int event_fd, struct pipeline **ret);

/** pipeline_free() - end any take as "shutdown", join the threads, free. Accepts NULL. */
struct pipeline *pipeline_free(struct pipeline *p);

/**
 * pipeline_start() - begin a take into @params->path (which must exist; it is truncated).
 * Return: 0, or -EBUSY while the previous take is still finishing.
 */
int pipeline_start(struct pipeline *p, const struct take_params *params);

/** pipeline_stop() - end the take for @reason (first reason wins); returns at once. */
void pipeline_stop(struct pipeline *p, enum stop_reason reason);

/** pipeline_stop_because() - pipeline_stop(), with @error as the take's last error (its LastError). */
void pipeline_stop_because(struct pipeline *p, enum stop_reason reason, const char *error);

/** pipeline_post() - add @event to the mask and wake the main thread. Any thread, any lock
 * (the pipeline's threads, and the preview thread: PIPELINE_EVENT_PREVIEW). */
void pipeline_post(struct pipeline *p, unsigned event);

/** pipeline_take_events() - the PIPELINE_EVENT_* bits posted since the last call. */
unsigned pipeline_take_events(struct pipeline *p);

void pipeline_stats(struct pipeline *p, struct pipeline_stats *ret);

/**
 * pipeline_device() - whether the camera is open and warm; when not, why, into @error.
 * A source that is not kept warm (synthetic) is always present.
 */
bool pipeline_device(struct pipeline *p, char *error, size_t error_len);

/**
 * pipeline_stuck() - how long (ns, at CLOCK_MONOTONIC @now) the thread busiest with one piece of
 * work has been at it — a disk write, a frame's encoding — and which, into @what. Waiting for
 * work is not being busy. The watchdog is fed only while this stays short (main.c).
 */
int64_t pipeline_stuck(struct pipeline *p, int64_t now, char *what, size_t len);

/* ---- the preview tap (preview-tap.h): how the preview thread gets frames from the source thread ---- */

struct preview_tap;
struct rectify;

/**
 * pipeline_tap_alloc() - allocate the tap's frame as the source delivers frames (the camera's JPEG
 * or I420 planes) and say someone watches: a source opened per take is then opened, idle, to feed
 * the preview. @wake_fd: the preview thread's eventfd (borrowed), written when a frame is ready.
 * Main thread, before the preview thread starts. Return: 0 or -ENOMEM.
 */
int pipeline_tap_alloc(struct pipeline *p, int wake_fd);

/** pipeline_tap_release() - nobody watches any more; free the tap's frame. Main thread, after the
 * preview thread has switched the tap off (preview_tap_off()) and ended. */
void pipeline_tap_release(struct pipeline *p);

/** pipeline_tap() - the tap, for the preview thread (preview-tap.h says who touches what). */
struct preview_tap *pipeline_tap(struct pipeline *p);

/** pipeline_tap_want() - preview_tap_want(), waking a per-take source that sleeps for it. */
void pipeline_tap_want(struct pipeline *p, int64_t due_ns);

/** pipeline_rectify() - the hand's rectification maps (read-only), or NULL without a calibration. */
const struct rectify *pipeline_rectify(struct pipeline *p);

/**
 * pipeline_qc() - the current (or last) take's quality so far (qc.h), finished (medians, the
 * verdict's figures) on the copy: the take goes on being counted. Any thread but the writer.
 */
void pipeline_qc(struct pipeline *p, struct qc_take *ret);

/** pipeline_result() - why the last take ended and its last error ("" if none). */
enum stop_reason pipeline_result(struct pipeline *p, char *error, size_t error_len);
