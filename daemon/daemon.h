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

#include "config.h"
#include "pipeline.h"

#define BUS_NAME "org.handrec1"
#define MANAGER_PATH "/org/handrec1"
#define MANAGER_INTERFACE "org.handrec1.Manager"
#define HAND_PATH_PREFIX "/org/handrec1/hand/"
#define HAND_INTERFACE "org.handrec1.Hand"

#define ERROR_NO_SUCH_HAND "org.handrec1.Error.NoSuchHand"
#define ERROR_ALREADY_RECORDING "org.handrec1.Error.AlreadyRecording"
#define ERROR_NOT_RECORDING "org.handrec1.Error.NotRecording"
#define ERROR_DEVICE_UNAVAILABLE "org.handrec1.Error.DeviceUnavailable"
#define ERROR_STORAGE_FULL "org.handrec1.Error.StorageFull"
#define ERROR_STORAGE_UNAVAILABLE "org.handrec1.Error.StorageUnavailable"
#define ERROR_INVALID_OPTION "org.handrec1.Error.InvalidOption"

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

struct daemon;

struct hand {
        struct daemon *daemon;
        const struct hand_config *config;
        char path[64]; /* D-Bus object path */
        enum hand_state state;
        char file[PATH_MAX]; /* the current take's file, or the last one's */
        char last_error[512];
        bool had_take;

        struct pipeline *pipeline;
        int event_fd;
        sd_event_source *event_source;

        /* StopRecording calls answered when the file is complete */
        sd_bus_message *waiters[MAX_STOP_WAITERS];
        unsigned n_waiters;

        struct pipeline_stats emitted; /* what the last PropertiesChanged said */
};

struct daemon {
        struct config *config;
        sd_event *event;
        sd_bus *bus;
        sd_event_source *tick;
        struct hand hands[2];
        unsigned n_hands;
        bool shutting_down;
        char notified_status[1024];
        uint64_t notified_usec;
};

struct take_options {
        double duration;
        char label[65];
        int jpeg_quality;
        int rectify; /* -1: the hand's configured default */
};

/* hand.c */
int hand_init(struct hand *h, struct daemon *d, const struct hand_config *config);
void hand_done(struct hand *h);
struct hand *daemon_find_hand(struct daemon *d, const char *name);
int hand_start(struct hand *h, const struct take_options *o, sd_bus_error *error);
int hand_stop(struct hand *h, sd_bus_message *m, enum stop_reason reason, sd_bus_error *error);
bool hand_is_active(const struct hand *h);
void hand_status_line(struct hand *h, char *buf, size_t len);
void daemon_shutdown(struct daemon *d);

/* bus.c */
int bus_setup(struct daemon *d, bool user_bus);
int bus_append_status(sd_bus_message *m, struct hand *h);
int bus_append_summary(sd_bus_message *m, struct hand *h, enum stop_reason reason);
void bus_emit_hand_changed(struct hand *h, bool all);
int bus_emit_started(struct hand *h);
int bus_emit_stopped(struct hand *h, enum stop_reason reason);
