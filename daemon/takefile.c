/* SPDX-License-Identifier: MIT */
/*
 * takefile.c — a take's file name and its safe reservation (see takefile.h). The folders are
 * walked with openat(O_NOFOLLOW|O_DIRECTORY), so a symbolic link planted where a hand folder or
 * a take file should be is refused, never followed.
 */
#include "takefile.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/util.h"

/* mkdir -p */
static int mkdir_parents(const char *path, mode_t mode) {
        char buf[PATH_MAX];

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Open (creating it with @mode if missing) the folder @name under @dirfd, not following links. */
static int open_dir_at(int dirfd, const char *name, mode_t mode) {
        int fd;

        if (mkdirat(dirfd, name, mode) >= 0)
                (void) fsync(dirfd); /* a new folder: its name must survive a power cut too */
        else if (errno != EEXIST)
                return -errno;
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                return fd;
        if (errno == ENOTDIR) {
                /* O_DIRECTORY wins over O_NOFOLLOW: say which it is */
                struct stat st;
                if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                        return -ELOOP;
                return -ENOTDIR;
        }
        return -errno;
}

/* A hand folder others can write to lets them plant names: ours is made 0750; one that is not
 * ours and writable by others is refused. */
static int tighten_dir(int fd) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if ((st.st_mode & 07777) == TAKEFILE_DIR_MODE || !(st.st_mode & (S_IWGRP | S_IWOTH | S_IROTH | S_IXOTH)))
                return 0;
        if (st.st_uid == geteuid()) {
                if (fchmod(fd, TAKEFILE_DIR_MODE) < 0)
                        return -errno;
                log_notice("Made the hand folder mode 0750 (it was %04o): takes are not for everyone.",
                           (unsigned) (st.st_mode & 07777));
                return 0;
        }
        return st.st_mode & (S_IWGRP | S_IWOTH) ? -EPERM : 0;
}

/* The output folder itself is the administrator's (a link there is theirs to make); below it,
 * the hand folder is handrecd's and is opened without following links. */
static int open_hand_dir(const char *output_dir, const char *hand, char *error, size_t error_len) {
        _cleanup_(closep) int top = -1;
        int fd, r;

        r = mkdir_parents(output_dir, TAKEFILE_DIR_MODE);
        if (r >= 0) {
                top = open(output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = top < 0 ? -errno : 0;
        }
        if (r < 0) {
                snprintf(error, error_len,
                         "Cannot create the output folder %s: %s; check save.output_dir and its "
                         "permissions.",
                         output_dir, strerror(-r));
                return r;
        }
        fd = open_dir_at(top, hand, TAKEFILE_DIR_MODE);
        r = fd >= 0 ? tighten_dir(fd) : 0;
        if (r == -EROFS) {
                snprintf(error, error_len,
                         "%s/%s is on a read-only file system: no take can be written there; mount it "
                         "read-write, or set save.output_dir to a writable disk.",
                         output_dir, hand);
                close(fd);
                return r;
        }
        if (fd >= 0 && r < 0) {
                snprintf(error, error_len,
                         "%s/%s can be written by others and is not handrecd's to fix (%s); make it "
                         "mode 0750 and owned by the user handrecd runs as.",
                         output_dir, hand, strerror(-r));
                close(fd);
                return r;
        }
        if (fd == -ELOOP || fd == -ENOTDIR)
                snprintf(error, error_len,
                         "%s/%s is not a folder (a symbolic link or a file is there); handrecd "
                         "will not write through it. Remove it.",
                         output_dir, hand);
        else if (fd < 0)
                snprintf(error, error_len, "Cannot create the folder %s/%s: %s; check the permissions of %s.",
                         output_dir, hand, strerror(-fd), output_dir);
        return fd;
}

/* The newest take name's time (its first 15 characters, "yyyymmdd-HHMMSS") in any hand folder of
 * @output_dir, or 0 when there is none. */
static time_t newest_name_time(int top) {
        _cleanup_(closep) int fd = dup(top);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        char newest[16] = "";
        struct dirent *e;

        if (!d)
                return 0;
        fd = -1; /* the stream owns it */
        while ((e = readdir(d))) {
                DIR *h;
                struct dirent *t;
                int hfd;

                if (e->d_name[0] == '.' ||
                    (hfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                        continue;
                if (!(h = fdopendir(hfd))) {
                        close(hfd);
                        continue;
                }
                while ((t = readdir(h))) {
                        size_t n = strlen(t->d_name);
                        if (n >= 18 && streq(t->d_name + n - 3, ".h5") && t->d_name[8] == '-' &&
                            strspn(t->d_name, "0123456789") == 8 && strspn(t->d_name + 9, "0123456789") == 6 &&
                            strncmp(t->d_name, newest, 15) > 0)
                                snprintf(newest, sizeof(newest), "%.15s", t->d_name);
                }
                closedir(h);
        }
        closedir(d);
        struct tm tm = {0};
        return newest[0] && strptime(newest, "%Y%m%d-%H%M%S", &tm) ? timegm(&tm) : 0;
}

static void format_name(char *buf, size_t len, const char *stamp, unsigned n, const char *label) {
        char seq[12] = "";

        if (n > 1)
                snprintf(seq, sizeof(seq), "_%02u", n);
        snprintf(buf, len, "%s%s%s%s.h5", stamp, seq, *label ? "-" : "", label);
}

int takefile_reserve(const char *output_dir, const char *hand, const char *label, time_t now, struct takefile *ret,
                     char *error, size_t error_len) {
        _cleanup_(closep) int dir = -1, top = -1;
        char stamp[32], name[128];
        struct stat st;
        struct tm tm;
        time_t newest;

        dir = open_hand_dir(output_dir, hand, error, error_len);
        if (dir < 0)
                return dir;
        /* names sort in the order takes began even when the clock stepped back (an RTC put right by
         * NTP at boot): never a time before the newest take's, one second after it instead */
        top = open(output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        newest = top >= 0 ? newest_name_time(top) : 0;
        if (newest > 0 && now < newest) {
                log_notice("The clock (%lld) is behind the newest take's name (%lld): naming the take one second "
                           "after it, so that names keep the order takes began in (started_utc says the clock).",
                           (long long) now, (long long) newest);
                now = newest + 1;
        }
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        for (unsigned n = 1; n < 100; n++) {
                int fd;

                format_name(name, sizeof(name), stamp, n, label);
                fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, TAKEFILE_MODE);
                if (fd < 0 && errno == EEXIST)
                        continue;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        int r = -errno;
                        snprintf(error, error_len,
                                 "Cannot create a file in %s/%s: %s; check its permissions and "
                                 "free space.",
                                 output_dir, hand, strerror(-r));
                        if (fd >= 0) {
                                unlinkat(dir, name, 0);
                                close(fd);
                        }
                        return r;
                }
                /* the new name itself must survive a power cut, not only the file's data */
                if (fsync(dir) < 0)
                        log_warning("Cannot sync the folder %s/%s, ignoring: %s", output_dir, hand, strerror(errno));
                *ret = (struct takefile){.fd = fd, .dev = st.st_dev, .ino = st.st_ino};
                snprintf(ret->path, sizeof(ret->path), "%s/%s/%s", output_dir, hand, name);
                return 0;
        }
        snprintf(error, error_len, "%s/%s already holds 99 takes named %s; wait a second.", output_dir, hand, stamp);
        return -EEXIST;
}

const char *takefile_proc_path(const struct takefile *t, char *buf, size_t len) {
        snprintf(buf, len, "/proc/self/fd/%d", t->fd);
        return buf;
}

bool takefile_is_same(const struct takefile *t, int fd) {
        struct stat st;
        return fstat(fd, &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino;
}

bool takefile_remove(const char *path, int fd) {
        struct stat a, b;

        /* only if the name still leads to the file we hold: never what a link put there */
        if (fd < 0 || fstat(fd, &a) < 0 || lstat(path, &b) < 0 || !S_ISREG(b.st_mode) || a.st_dev != b.st_dev ||
            a.st_ino != b.st_ino)
                return false;
        return unlink(path) == 0;
}

void takefile_discard(struct takefile *t) {
        takefile_remove(t->path, t->fd);
        takefile_close(t);
}

void takefile_close(struct takefile *t) {
        if (t->fd >= 0)
                close(t->fd);
        t->fd = -1;
}
