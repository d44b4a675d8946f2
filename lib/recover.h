/* SPDX-License-Identifier: MIT */
/*
 * recover.h — checking a take frame by frame, and recovering one a crash or a power cut left
 * marked "recording": made readable by any HDF5 reader (the SWMR status flags cleared), cut to
 * the frames that are complete on disk and decode, and marked status="recovered",
 * stop_reason="crash". Used by handrecd at start and by `handrecctl check|recover FILE`.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for an error of recover_*(): the path and HDF5's innermost message. */
#define RECOVER_ERROR_MAX (PATH_MAX + 512)

/* recover_scan(): a take left open whose status HDF5 has not read in this long is left as it is
 * (HDF5 1.10.8 loops forever on some damaged files: tests/fuzz/README.md) */
#define RECOVER_PROBE_SECONDS 10

struct take_check {
        char status[32];        /* the file's status attribute as found */
        uint64_t frames;        /* frames whose index, bytes and JPEG are all good, from the first */
        uint64_t index_frames;  /* entries in /stereo/size (the committed index) */
        uint64_t bytes;         /* bytes of /stereo/jpeg those good frames use */
        char problem[512];      /* the first problem found, "" when the file is good */
        uint64_t missing_bytes; /* recovery: the end the file had lost (a power cut), added as zeros */
};

/* Called every few hundred frames while a long take is checked; may be NULL. */
typedef void (*recover_progress_fn)(const char *path, uint64_t done, uint64_t total, void *userdata);

/**
 * recover_check() - verify @path without changing it: index datasets of one length, frames back
 * to back inside /stereo/jpeg, timestamps increasing, every JPEG decodes. A file still being
 * recorded is read as a SWMR reader.
 * Return: 0 when the whole file is good, -EBADMSG with @ret->problem set when not, other
 * negative errno with @error set when it cannot be read at all.
 */
int recover_check(const char *path, struct take_check *ret, recover_progress_fn progress, void *userdata, char *error,
                  size_t error_len);

/**
 * recover_file() - recover @path if it is marked "recording" (else leave it alone and return 0
 * with @ret->status as found). Frames past the first bad one are cut off; the file is synced.
 * Return: 1 when recovered, 0 when there was nothing to do, or negative errno with @error set.
 */
int recover_file(const char *path, struct take_check *ret, recover_progress_fn progress, void *userdata, char *error,
                 size_t error_len);

/**
 * recover_scan() - recover_file() on every take file in the folders one level below @dir
 * (<dir>/<hand>/NAME.h5) that a writer may have left open (its superblock says so: a finished
 * take is not opened), calling @found for each file recovered (or that failed, with r < 0 and
 * the error). Each one's status is read first in a child process (RECOVER_PROBE_SECONDS): call it
 * before the process has threads.
 * Return: the number recovered, or negative errno when @dir cannot be read (a missing @dir is 0).
 */
int recover_scan(const char *dir,
                 void (*found)(const char *path, int r, const struct take_check *c, const char *error, void *userdata),
                 recover_progress_fn progress, void *userdata);
