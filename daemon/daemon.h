/* SPDX-License-Identifier: MIT */
/*
 * daemon.h — main-thread state: the daemon and its hands. Everything here is touched by the main
 * thread only (sd-event, sd-bus); the pipeline threads are reached through pipeline.h.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "../lib/bus-names.h"
#include "../lib/config.h"
#include "../lib/take-reader.h"
#include "episode.h"
#include "pipeline.h"
#include "preview.h"
#include "takes.h"

enum hand_state {
        HAND_IDLE,
        HAND_WARMING,
        HAND_RECORDING,
        HAND_STOPPING,
        HAND_NO_DEVICE,
        HAND_ERROR,
        _HAND_STATE_MAX,
};

const char *hand_state_to_string(enum hand_state s);

#define MAX_STOP_WAITERS 16

/* What is still to be said on the bus about a hand. The hand marks it (hand.c never calls the bus
 * layer); bus.c says it from a deferred event, before the next bus message is read, as systemd's
 * units queue themselves and its manager sends the signals (bus_dispatch_notices()). */
enum {
        HAND_NOTICE_CHANGED = 1u << 0, /* its state changed: PropertiesChanged of every property */
        HAND_NOTICE_STARTED = 1u << 1, /* a take started: RecordingStarted */
        HAND_NOTICE_ENDED = 1u << 2,   /* a take's file is complete (ended_reason): StopRecording's waiters
                                          answered, RecordingStopped */
        HAND_NOTICE_HELD = 1u << 3,    /* the camera's first open is over, or a held call's wait: the held
                                          StartRecording and StartEpisode calls run again */
        HAND_NOTICE_ENDING = 1u << 4,  /* the take is ending (its reason: pipeline_result()): its episode told */
};
/* how long a StartRecording or StartEpisode waits for a camera still being opened after handrecd started */
#define HELD_START_SECONDS 10

/* A start call waiting for a camera's first open (hand_hold_start()), until CLOCK_MONOTONIC
 * @deadline; @method (the Manager's, called with the daemon) runs it again. */
struct held_start {
        sd_bus_message *m;
        sd_bus_message_handler_t method;
        uint64_t deadline;
};

struct daemon;

struct hand {
        struct daemon *daemon;
        const struct hand_config *config;
        char path[64];     /* D-Bus object path */
        sd_bus_slot *slot; /* its object on the bus (bus_add_hand()) */
        enum hand_state state;
        char file[PATH_MAX]; /* the current take's file, or the last one's */
        char last_error[PIPELINE_ERROR_MAX];
        char episode[TAKE_EPISODE_MAX + 1];    /* the current take's (StartRecording's options), "" */
        char task[TAKE_TASK_MAX + 1];          /* when none or when idle */
        char operator_[TAKE_OPERATOR_MAX + 1]; /* the current take's operator, "" when none */
        char label[65];                        /* the current or last take's, for ListTakes */
        char started_utc[32];
        bool had_take;

        struct pipeline *pipeline;
        struct preview *preview; /* OpenPreview's clients and thread (preview.h) */
        int event_fd;
        sd_event_source *event_source;

        /* StopRecording calls answered when the file is complete */
        sd_bus_message *waiters[MAX_STOP_WAITERS];
        unsigned n_waiters;

        /* StartRecording and StartEpisode calls that came while the camera was still being opened
         * after handrecd started: run again when that first open ends, or at the earliest deadline
         * (held_timer): each then starts, waits on (another hand's camera), or is refused */
        struct held_start held_starts[MAX_STOP_WAITERS];
        unsigned n_held_starts;
        sd_event_source *held_timer;

        struct pipeline_stats emitted; /* what the last PropertiesChanged said */

        unsigned notices;              /* HAND_NOTICE_*, for the bus layer */
        enum stop_reason ended_reason; /* with HAND_NOTICE_ENDED: why the take ended */
        /* with HAND_NOTICE_CHANGED: the states passed through since the last PropertiesChanged, in
         * order (the last is the current one), so that each is published (stopping, then idle) */
        enum hand_state passed[4];
        unsigned n_passed;
};

/* A take recovered at start, as ListRecovered and TakeRecovered tell it. */
struct recovered_take {
        char *path;
        char *note; /* where it was cut, "" when every committed frame was good */
        uint64_t frames, frames_cut;
};

struct daemon {
        struct config *config;
        sd_event *event;
        sd_bus *bus;
        sd_event_source *tick;
        struct hand hands[2];
        unsigned n_hands;
        sd_event_source *notices; /* bus.c's deferred event that says the hands' notices; NULL before bus_setup() */
        struct episode episodes[EPISODES_KEPT]; /* running, and the last ones ended (episode.h) */
        bool shutting_down;
        int exit_code;                    /* what the event loop ends with: non-zero when the bus was lost */
        struct recovered_take *recovered; /* takes recovered at start (boot-recovery.c), for the bus */
        unsigned n_recovered;
        uint64_t watchdog_usec;  /* WatchdogSec= (0: none); fed only while the hands make progress */
        int64_t watchdog_fed_ns; /* CLOCK_MONOTONIC of the last WATCHDOG=1 */
        bool watchdog_starved;   /* a thread is stuck: the watchdog is no longer fed */
        char notified_status[1024];
        uint64_t notified_usec;
        uint64_t held_deadline; /* while bus.c runs a held start again: its deadline; 0 otherwise */
        struct takes_listing *listings[TAKES_LISTINGS_MAX]; /* ListTakes calls being answered (take-list.c) */
        struct take_reader_memory damaged_takes;            /* files a take reader did not read (takes.h) */
};

struct take_options {
        double duration;
        char label[65];
        char episode[TAKE_EPISODE_MAX + 1];    /* "" when none */
        char task[TAKE_TASK_MAX + 1];          /* "" when none */
        char operator_[TAKE_OPERATOR_MAX + 1]; /* "" when none */
        int jpeg_quality;
        int rectify; /* -1: the hand's configured default */
};

/* hand.c */
/** hand_notify() - mark @what (HAND_NOTICE_*) to be said on the bus about @h (bus_dispatch_notices()). */
void hand_notify(struct hand *h, unsigned what);
int hand_init(struct hand *h, struct daemon *d, const struct hand_config *config);
void hand_done(struct hand *h);
struct hand *hand_find(struct daemon *d, const char *name);
int hand_start(struct hand *h, const struct take_options *o, sd_bus_error *error);
int hand_stop(struct hand *h, sd_bus_message *m, enum stop_reason reason, sd_bus_error *error);
/** hand_stop_because() - end @h's take (if any) for @reason, with @why as its LastError. */
void hand_stop_because(struct hand *h, enum stop_reason reason, const char *why);
/** hand_check_start() - whether @h could start a take now (busy, camera, disk). Return: 0, or negative with @error set. */
int hand_check_start(struct hand *h, sd_bus_error *error);
bool hand_is_active(const struct hand *h);
/**
 * hand_release_hdf5() - when no hand runs a take, close HDF5 and set it up again
 * (layout_library_release()): what it kept of the files the writers and the start's recovery had
 * open goes. Main thread, outside any HDF5 call; a writer touches HDF5 only while its hand is
 * active. Nothing is done when no file was opened since the last release (a reload after none).
 * Return: whether HDF5 was closed and opened again.
 */
bool hand_release_hdf5(struct daemon *d);

/** hand_disk_free() - bytes free on the file system of @h's folder, <output_dir>/<hand> (disk_free_bytes()). */
uint64_t hand_disk_free(const struct hand *h);

/**
 * hand_disk_time_left() - seconds of recording left before the reserve (save.min_free_mb) is
 * reached with @free_bytes free, at the rate of the take @s is of (the running one, or the
 * last); -1 when no take has given a rate yet (under a second recorded).
 */
double hand_disk_time_left(const struct hand *h, const struct pipeline_stats *s, uint64_t free_bytes);
/* Whether @h's camera (one kept warm) is still being opened for the first time since handrecd started. */
bool hand_camera_opening(struct hand *h);
/**
 * hand_hold_start() - keep the start call @held->m (a reference is taken) until @h's camera has
 * been opened for the first time, or until @held->deadline; then HAND_NOTICE_HELD, and the bus
 * layer runs it again.
 * Return: 1 (held), or negative with @error set.
 */
int hand_hold_start(struct hand *h, const struct held_start *held, sd_bus_error *error);
void hand_status_line(struct hand *h, char *buf, size_t len);
void hand_shutdown_all(struct daemon *d);
/**
 * hand_open_preview() - a preview of @h with @o (OpenPreview). Return: 0 and *@ret_fd (the
 * reader's end; the caller sends and closes it), or negative with @error set.
 */
int hand_open_preview(struct hand *h, const struct preview_options *o, int *ret_fd, sd_bus_error *error);

/* preflight.c */
/**
 * preflight() - handrecd --check-config, beyond the file: each replay folder opened as the daemon
 * would (an error, on stderr at its setting's line, when it cannot be played), each camera device
 * that is not there now and free space below the reserve (warnings). Return: 0, or -EINVAL.
 */
int preflight(const struct config *c);
/** preflight_replay() - hand @h's replay folder opened and listed as its source would. Return: 0,
 * or negative errno with the reason in @why. */
int preflight_replay(const struct hand_config *h, char *why, size_t len);

/* reload.c */
/**
 * daemon_reload() - SIGHUP (systemctl reload): re-read the configuration file and set the hands
 * up again from it. Refused, with a log line, while a take runs (nothing is disturbed); a file
 * with errors is reported and the running configuration kept.
 * Return: 0, or negative errno when the hands could not be set up again (the daemon must exit).
 */
int daemon_reload(struct daemon *d);

/* boot-recovery.c */
/** boot_recover_takes() - recover every unfinished take under output_dir. Return: how many. */
int boot_recover_takes(struct daemon *d);
void boot_recovered_free(struct daemon *d);
