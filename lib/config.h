/* SPDX-License-Identifier: MIT */
/*
 * config.h — the daemon's configuration, read once from a libconfig file and validated whole.
 * A struct config is plain data: the daemon copies what it needs and never re-reads it.
 */
#pragma once

#include "qc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/handrec/handrecd.conf"

enum source_kind {
        SOURCE_SYNTHETIC,
        SOURCE_V4L2,
        SOURCE_REPLAY,
};

/* A V4L2 control the configuration sets (camera.controls): v4l2-ctl's name and the value. */
#define CAMERA_CONTROL_NAME_MAX 32 /* a V4L2 control's name is at most 31 characters */
#define CAMERA_CONTROLS_MAX 32
struct camera_control {
        char name[CAMERA_CONTROL_NAME_MAX];
        int64_t value; /* booleans are 0 and 1, menus the item's index */
};

struct camera_config {
        enum source_kind source;
        unsigned width; /* one eye */
        unsigned height;
        double fps;
        double warmup;      /* seconds of frames discarded before a take's first frame */
        unsigned disparity; /* synthetic only: right eye's horizontal shift, pixels */
        /* v4l2: one side-by-side device, or one device per eye */
        char *device;
        char *left_device;
        char *right_device;
        /* v4l2: V4L2_PIX_FMT_YUYV (default), _MJPEG or _YUV420; replay: V4L2_PIX_FMT_MJPEG
         * (side-by-side files passed through) or 0 (decoded, the default) */
        uint32_t pixelformat;
        unsigned buffers; /* driver buffers to stream with */
        /* replay: a folder of JPEG images */
        char *path;
        bool rate_max; /* as fast as the pipeline takes them, instead of at fps */
        bool loop;
        /* v4l2: set on every device of the camera each time it opens, in this order (the auto
         * controls first when applied: v4l2-controls.h) */
        struct camera_control controls[CAMERA_CONTROLS_MAX];
        unsigned n_controls;
};

struct calibration;

struct hand_config {
        const char *name; /* "left" or "right", static */
        struct camera_config camera;
        bool rectify;                    /* by default, for takes that do not say */
        struct calibration *calibration; /* NULL when none is configured */
};

/* The group offload: handrec-offload's settings (config-offload.c; docs in etc/handrecd.conf). */
#define OFFLOAD_RCLONE_CONFIG_DEFAULT "/etc/handrec/rclone.conf"
#define OFFLOAD_STATE_DIR_DEFAULT "/var/lib/handrec-offload"
struct offload_config {
        bool enabled;             /* the file has the group */
        char *remote;             /* rclone REMOTE:PATH (or a path); takes go to <remote>/<hand>/<file> */
        char *rclone_config;      /* rclone's own config file, with the remote */
        char *bwlimit;            /* rclone --bwlimit, "" for none */
        char *state_dir;          /* the uploads' state, one file per take (offload/state.c) */
        char *rclone;             /* the program */
        double keep_free_gb;      /* remove the oldest verified takes to keep this free; 0: off */
        double max_takes_gb;      /* ... or to keep at most this much of takes; 0: off */
        double retry_seconds;     /* the first wait after a failure, doubling ... */
        double retry_max_seconds; /* ... up to this */
        double stall_seconds;     /* an rclone step that makes no progress this long is stopped */
};

struct config {
        char *path;
        char *text; /* the file as read, stored in every take */

        char *output_dir;
        int jpeg_quality;
        uint64_t min_free_bytes;   /* the disk reserve: takes never eat into it */
        double sync_interval;      /* seconds: written frames are fdatasync'ed at most this long after */
        uint64_t max_memory_bytes; /* what the configuration may need at most (memory-budget.h) */

        unsigned queue_capacity; /* batches; 0: queue_seconds decides */
        double queue_seconds;    /* the queue holds this long of frames beyond the batch being written */
        unsigned batch_size;     /* frames */
        double batch_timeout;    /* seconds */
        unsigned workers;        /* encoder threads per hand */

        struct hand_config hands[2];
        unsigned n_hands;

        struct offload_config offload;
        struct qc_config qc; /* the group qc: what judges a take (qc.h) */
};

struct config_checker;
struct config_t;

/* A check of a whole configuration whose every setting parsed cleanly, owned by a module above
 * the parser (the daemon's memory: memory_budget_check()); it reports through @ck at the lines
 * of @cfg, the parsed file. */
typedef void config_check_fn(struct config_checker *ck, struct config_t *cfg, const struct config *c);

/**
 * config_load() - read and validate a configuration file.
 * @path: the file; borrowed.
 * @check: run on the whole configuration once every setting is good; NULL for none.
 * @ret: on success, a new struct config the caller owns (free with config_free()).
 * @errors: every problem found, one "file:line: setting: what is wrong" per line; may be NULL.
 *
 * Return: 0, -ENOENT/-EACCES when the file cannot be read, -EINVAL when it has errors.
 */
int config_load(const char *path, config_check_fn *check, struct config **ret, FILE *errors);

/** offload_config_free() - free the strings of @o (config-offload.c). */
void offload_config_free(struct offload_config *o);

/** config_setting_line() - the line of @setting ("right_hand.camera.path") in @c's file, 0 if it is not there. */
int config_setting_line(const struct config *c, const char *setting);

/** config_free() - free a config; accepts NULL; returns NULL. */
struct config *config_free(struct config *c);

/** config_find_hand() - the configured hand called @name, or NULL. */
const struct hand_config *config_find_hand(const struct config *c, const char *name);

const char *config_source_kind_to_string(enum source_kind k);

/** camera_is_stereo_pair() - two V4L2 devices, one per eye, paired by timestamp. */
static inline bool camera_is_stereo_pair(const struct camera_config *c) {
        return c->source == SOURCE_V4L2 && c->left_device;
}

#define JPEG_QUALITY_MIN 60
#define JPEG_QUALITY_MAX 95
