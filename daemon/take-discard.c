/* SPDX-License-Identifier: MIT */
/*
 * take-discard.c — DiscardTake: delete one finished take of this daemon. The path must name,
 * with no symbolic link followed, a regular file directly in <save.output_dir>/<hand>/ for a
 * configured hand, whose root attribute format is "handrec", and that no hand is recording. The
 * folders and the file are opened with openat(O_NOFOLLOW) and the name is removed only while it
 * still names the file that was checked (device and inode). Its format is read by a take reader
 * (takes.h), which the main thread waits for: TAKE_READER_CPU_MS of the child's CPU time once for
 * a damaged file, TAKE_READER_WAIT_MS at most. Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "takes.h"
#include "../lib/take-reader.h"
#include "../lib/util.h"

/* Split @file into the configured hand whose folder holds it and the file's name in it.
 * Return: the hand, or NULL when @file is not <output_dir>/<hand>/<name>. */
static const struct hand *split_path(struct daemon *d, const char *file, const char **ret_name) {
        const char *dir = d->config->output_dir, *rest, *slash;
        size_t n = strlen(dir);

        while (n > 1 && dir[n - 1] == '/')
                n--;
        if (strncmp(file, dir, n) != 0 || file[n] != '/')
                return NULL;
        rest = file + n + 1;
        slash = strchr(rest, '/');
        if (!slash || strchr(slash + 1, '/') || streq(slash + 1, "") || streq(slash + 1, ".") || streq(slash + 1, ".."))
                return NULL;
        for (unsigned i = 0; i < d->n_hands; i++) {
                const char *name = d->hands[i].config->name;
                if (strlen(name) == (size_t) (slash - rest) && strncmp(rest, name, strlen(name)) == 0) {
                        *ret_name = slash + 1;
                        return &d->hands[i];
                }
        }
        return NULL;
}

/* Whether a hand is recording (or finishing) the file @st is. */
static const struct hand *recording_hand(struct daemon *d, const struct stat *st) {
        for (unsigned i = 0; i < d->n_hands; i++) {
                const struct hand *h = &d->hands[i];
                struct stat hs;
                if (hand_is_active(h) && stat(h->file, &hs) == 0 && hs.st_dev == st->st_dev && hs.st_ino == st->st_ino)
                        return h;
        }
        return NULL;
}

static int not_a_take(sd_bus_error *error, const char *file, const char *why) {
        enum { ECHO_MAX = 512 };
        return sd_bus_error_setf(error, ERROR_NOT_A_TAKE, "%.*s%s is not a take handrecd can discard: %s.",
                                 (int) utf8_cut(file, ECHO_MAX), file, strlen(file) > ECHO_MAX ? "…" : "", why);
}

/* The file's own checks, once opened: regular, not being recorded, a handrec take. */
static int check_file(struct daemon *d, const char *file, int fd, const struct stat *st, sd_bus_error *error) {
        const struct hand *h = recording_hand(d, st);
        struct take_reader reader = TAKE_READER_INIT;
        struct take_attributes a;
        int r;

        if (!S_ISREG(st->st_mode))
                return not_a_take(error, file, "it is not a regular file");
        if (h)
                return sd_bus_error_setf(error, ERROR_TAKE_IN_USE,
                                         "Hand %s is recording %s; stop it first (handrecctl stop --hand %s), then "
                                         "discard it.",
                                         h->config->name, file, h->config->name);
        r = take_reader_read(&reader, &d->damaged_takes, fd, &a);
        take_reader_stop(&reader);
        if (r == -ETIMEDOUT || r == -EPIPE)
                return not_a_take(error, file, a.error); /* "a damaged file: HDF5 ..." */
        if (r < 0)                                       /* not the file's doing: a busy machine, no child */
                return sd_bus_error_set_errnof(error, r, "Cannot check %s now: %s.", file, a.error);
        if (a.result == -ENOMSG)
                return not_a_take(error, file, "handrecd did not write it (its format attribute is not \"handrec\")");
        if (a.result < 0)
                return not_a_take(error, file, "it cannot be read as an HDF5 file");
        return 0;
}

int takes_discard(struct daemon *d, const char *file, sd_bus_error *error) {
        _cleanup_(closep) int dirfd = -1, fd = -1;
        const struct hand *h;
        const char *name = NULL;
        struct stat st, now;
        int r;

        h = split_path(d, file, &name);
        if (!h)
                return not_a_take(error, file, "takes are files directly in a hand's folder under the output folder");
        dirfd = takes_open_hand_dir(d->config->output_dir, h->config->name);
        if (dirfd < 0)
                return not_a_take(error, file, "its hand's folder cannot be opened (or is a symbolic link)");
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return not_a_take(error, file,
                                  errno == ELOOP    ? "it is a symbolic link"
                                  : errno == ENOENT ? "there is no such file"
                                                    : strerror(errno));
        if (fstat(fd, &st) < 0)
                return sd_bus_error_set_errnof(error, errno, "Cannot check %s: %m", file);
        r = check_file(d, file, fd, &st, error);
        if (r < 0)
                return r;
        /* the name must still be that file: nothing was swapped in since it was checked */
        if (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino)
                return not_a_take(error, file, "it was replaced while being checked");
        if (unlinkat(dirfd, name, 0) < 0)
                return sd_bus_error_set_errnof(error, errno, "Cannot delete %s: %m", file);
        (void) fsync(dirfd); /* the removal survives a power cut */
        log_info("Discarded the take %s.", file);
        return 0;
}
