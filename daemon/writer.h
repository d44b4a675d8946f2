/* SPDX-License-Identifier: MIT */
/*
 * writer.h — one take's HDF5 file, layout version 1 (docs/file-format.md). Only a hand's writer
 * thread calls these; HDF5 is touched nowhere else.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "queue.h"

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

const char *writer_drop_cause_to_string(enum drop_cause c);

/* Whether frames dropped for @c had been captured (so captured = written + these), or were
 * never captured as pairs at all (the camera's own gaps, eyes without a partner). */
static inline bool drop_cause_was_captured(enum drop_cause c) {
        return c < DROP_CAMERA;
}

/* Written at creation, as root attributes. */
struct take_info {
        const char *hand;
        const char *label;   /* "" when none */
        const char *episode; /* "" or NULL: no attribute */
        const char *task;    /* "" or NULL: no attribute */
        const char *started_utc;
        int64_t monotonic_to_utc_ns;
        int jpeg_quality;
        bool rectified;
        const struct config *config;
        const struct hand_config *hand_config;
        unsigned batch_size;                   /* most frames writer_append() is given at once */
        bool camera_jpeg;                      /* frames are the camera's own JPEG (MJPEG passthrough) */
        const struct calibration *calibration; /* written to /calibration when not NULL */
};

/* Written when the take ends. */
struct take_result {
        const char *stop_reason;
        const char *stopped_utc;
        uint64_t frames_captured;
        uint64_t frames_written;
        uint64_t dropped[_DROP_MAX];
        double duration;
        double fps;
        const char *last_error;       /* "" when none */
        const char *timestamp_source; /* "driver" or "dequeue" */
        int64_t pair_skew_mean_ns, pair_skew_max_ns;
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
 * writer_append() - append @entries (n ≤ batch_size, oldest first, their bytes in @q), bytes first, then the
 * index, flushing each dataset; the `size` dataset goes last, so a frame is in the file exactly
 * when its size entry is.
 * Return: 0 or -errno (-ENOSPC when the disk is full); the file is left valid up to the last
 * successful append.
 */
int writer_append(struct writer *w, const struct queue *q, const struct queue_entry *const *entries, unsigned n,
                  char *error, size_t error_len);

/**
 * writer_finish() - close the SWMR file, reopen it to set status="complete" and the result
 * attributes, and sync it to disk. Frees @w whatever happens.
 * Return: 0 or -errno.
 */
int writer_finish(struct writer *w, const struct take_result *res, char *error, size_t error_len);

/** writer_bytes() - bytes of JPEG data written so far. */
uint64_t writer_bytes(const struct writer *w);
