/* SPDX-License-Identifier: MIT */
/*
 * takefile.h — naming and reserving a take's file, safely. The file is created empty with
 * O_EXCL|O_NOFOLLOW under a hand folder opened with O_NOFOLLOW, and the descriptor is kept
 * until the take is finished: every later open of the file (HDF5's create, the reopen that
 * marks it complete) goes through takefile_proc_path(), so it reaches the very file that was
 * reserved, whatever is done to its name in the folder meanwhile.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Modes: takes can show people and their homes, so they are not world-readable. */
#define TAKEFILE_MODE 0640
#define TAKEFILE_DIR_MODE 0750

struct takefile {
        int fd;    /* owned: the reserved file, open O_RDWR; -1 when none */
        dev_t dev; /* its identity, checked after every open by name */
        ino_t ino;
        char path[PATH_MAX]; /* <output_dir>/<hand>/<yyyymmdd-HHMMSS>[_NN][-label].h5 */
};

/**
 * takefile_reserve() - create the hand's folder if needed (mode 0750) and a new empty take file
 * in it (mode 0640), named by @now (UTC) and @label (may be ""). Two takes in the same second
 * get _02, _03, … after the time, so names sort in the order the takes began; a @now before the
 * newest take's name in any hand folder (a clock stepped back) names the take one second after
 * that one instead, so that the order holds whatever the clock does.
 * Return: 0 and @ret filled (its fd is the caller's: takefile_close()), or -errno with @error
 * set to a sentence for a person (-ELOOP: a symbolic link where the folder should be).
 */
int takefile_reserve(const char *output_dir, const char *hand, const char *label, time_t now, struct takefile *ret,
                     char *error, size_t error_len);

/** takefile_proc_path() - "/proc/self/fd/N" for @t's descriptor: opens exactly the reserved file. */
const char *takefile_proc_path(const struct takefile *t, char *buf, size_t len);

/** takefile_is_same() - whether descriptor @fd is the reserved file (device and inode). */
bool takefile_is_same(const struct takefile *t, int fd);

/**
 * takefile_remove() - remove @path if it still names the file open as @fd (a reserved file that
 * holds nothing of a take: its creation failed). Return: whether it was removed.
 */
bool takefile_remove(const char *path, int fd);

/** takefile_discard() - remove an unused reservation (takefile_remove()) and close it. */
void takefile_discard(struct takefile *t);

/** takefile_close() - close the descriptor (the file stays); accepts a closed one. */
void takefile_close(struct takefile *t);
