/* SPDX-License-Identifier: MIT */
/*
 * writer.h — one take's HDF5 file, layout version 1 (docs/file-format.md). Only a hand's writer
 * thread calls these; HDF5 is touched nowhere else.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "queue.h"

/* The JPEG bytes are stored in chunks of this size: HDF5 allocates a whole one when a batch
 * begins it. */
#define WRITER_JPEG_CHUNK (512 * 1024)

/* The most a batch may take on the disk beyond its JPEG bytes: a JPEG chunk begun, and the
 * index's chunks and the metadata growing (a few kB). What the disk reserve is checked with. */
#define WRITER_BATCH_SLACK (WRITER_JPEG_CHUNK + 64 * 1024)

struct calibration;

/* A V4L2 camera as the source thread saw it when it opened it: plain values, for the attributes. */
struct take_camera {
        const char *format;                     /* fourcc ("MJPG") */
        const char *device;                     /* "" when none (a pair) */
        const char *left_device, *right_device; /* "" when none (one side-by-side device) */
        const char *controls[3];                /* in force: side-by-side, left, right ("name=value; ...") */
};

/* Written at creation, as root attributes: plain values, the writer reads no configuration. */
struct take_info {
        const char *hand;
        const char *label;     /* "" when none */
        const char *episode;   /* "" or NULL: no attribute */
        const char *task;      /* "" or NULL: no attribute */
        const char *operator_; /* "" or NULL: no attribute */
        const char *started_utc;
        int64_t monotonic_to_utc_ns;
        int64_t started_monotonic_ns; /* CLOCK_MONOTONIC at the take's start */
        const char *boot_id;          /* the boot that clock belongs to; "" or NULL: none */
        int jpeg_quality;
        bool rectified;
        unsigned eye_width, eye_height;
        double fps_nominal;
        double sync_interval, batch_timeout;   /* the durability settings, seconds */
        const char *config_text;               /* the configuration file's text */
        const char *source;                    /* "synthetic", "replay", "v4l2" */
        const struct take_camera *camera;      /* NULL: not a V4L2 camera */
        unsigned batch_size;                   /* most frames writer_append() is given at once */
        bool camera_jpeg;                      /* frames are the camera's own JPEG (MJPEG passthrough) */
        const struct calibration *calibration; /* written to /calibration when not NULL */
};

/* A count the take's owner keeps and the writer only stores (dropped frames, by cause). */
struct writer_count {
        const char *name; /* the attribute's name */
        uint64_t value;
};

/* A figure the take's owner measured and the writer only stores (the quality's: qc_*). */
struct writer_real {
        const char *name;
        double value;
};

/* Written when the take ends, beside what the writer computes itself over the frames it stored
 * (frames, duration_s, fps_measured, pair_skew_*: writer_stored()). */
struct take_result {
        const char *stop_reason;
        const char *stopped_utc;
        uint64_t frames_captured;
        const struct writer_count *counts; /* dropped_<cause>, frames_dropped, qc_* counts */
        unsigned n_counts;
        const struct writer_real *reals; /* qc_* figures */
        unsigned n_reals;
        const char *qc_verdict;       /* the quality in a sentence ("ok"); NULL: none */
        const char *last_error;       /* "" when none */
        const char *timestamp_source; /* "driver" or "dequeue" */
};

/* What the file holds, computed over the frames stored (never over frames that were dropped). */
struct writer_stored {
        uint64_t frames;
        int64_t first_ns, last_ns; /* timestamp_ns of the first and last frame stored; 0: none */
        int64_t skew_mean_ns;      /* mean and largest |left_timestamp_ns − right_timestamp_ns| */
        int64_t skew_max_ns;
        double duration; /* seconds from the first frame to the last, plus one period at fps_nominal; 0: none */
        double fps;      /* (frames − 1) over that span less the period; 0 below two frames */
};

struct writer;

/**
 * writer_create() - create the take's file, write the attributes and the empty datasets, and
 * switch the file to SWMR writing.
 * @path: the file's name, for messages (and opened by name when @fd < 0).
 * @fd: the reserved file (takefile.h), borrowed for the writer's life: HDF5 opens it through
 *      /proc/self/fd, so it writes the very file that was reserved, and the writer checks that
 *      (device and inode) after every open. Return -EEXIST when it is not.
 * Return: 0 and *@ret (owned by the caller until writer_finish()), or -errno; @error gets a
 * sentence for a person.
 */
int writer_create(const char *path, int fd, const struct take_info *info, struct writer **ret, char *error,
                  size_t error_len);

/**
 * writer_sync() - make everything appended so far durable (fdatasync of the file).
 * Return: 0 or -errno (-ENOSPC when the disk is full), @error set.
 */
int writer_sync(struct writer *w, char *error, size_t error_len);

/**
 * writer_put() - append one frame's @size bytes at @data (the caller's) to the JPEG stream, not
 * flushed and not yet in the index: the frame is pending until writer_commit(). At most
 * batch_size frames pend at once (-EINVAL beyond). The caller may reuse @data at once: the queue
 * holds a frame only until its bytes are written, not for a whole batch.
 * Return: 0 or -errno (-ENOSPC when the disk is full), @error set.
 */
int writer_put(struct writer *w, const uint8_t *data, size_t size, const struct frame_meta *meta, char *error,
               size_t error_len);

/**
 * writer_commit() - put the pending frames in the file: the bytes flushed, then the index,
 * flushing each dataset; the `size` dataset goes last, so a frame is in the file exactly when its
 * size entry is.
 * Return: 0 or -errno (-ENOSPC when the disk is full); the file is left valid up to the last
 * successful commit.
 */
int writer_commit(struct writer *w, char *error, size_t error_len);

/** writer_pending() - frames put and not yet committed. */
unsigned writer_pending(const struct writer *w);

/**
 * writer_append() - writer_put() each of @entries (n + the pending ≤ batch_size, oldest first,
 * their bytes in @q), then writer_commit().
 */
int writer_append(struct writer *w, const struct queue *q, const struct queue_entry *const *entries, unsigned n,
                  char *error, size_t error_len);

/**
 * writer_finish() - close the SWMR file, reopen it to set status="complete" and the result
 * attributes, and sync it to disk. Frees @w whatever happens.
 * Return: 0 or -errno.
 */
int writer_finish(struct writer *w, const struct take_result *res, char *error, size_t error_len);

/** writer_bytes() - bytes of JPEG data of the frames in the file (committed) so far. */
uint64_t writer_bytes(const struct writer *w);

/** writer_stored() - the figures of the frames appended so far, into *@ret. */
void writer_stored(const struct writer *w, struct writer_stored *ret);
