/* SPDX-License-Identifier: MIT */
/*
 * take-list.c — ListTakes: the takes in each hand's folder under save.output_dir, newest first
 * (their names begin with the UTC time they started), each described from its root attributes;
 * the take a hand is recording from the daemon's own state, never by opening it. A file that
 * cannot be read is listed with status "unreadable" and why. Folders and files are opened with
 * O_NOFOLLOW. Main thread only; the HDF5 rule is in takes.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus-options.h"
#include "daemon.h"
#include "../lib/h5util.h"
#include "../lib/layout.h"
#include "takes.h"
#include "../lib/util.h"

bool takes_hdf5_usable(const struct daemon *d) {
#ifdef H5_HAVE_THREADSAFE
        (void) d;
        return true;
#else
        return !hand_any_active(d);
#endif
}

int takes_open_hand_dir(const char *output_dir, const char *hand) {
        _cleanup_(closep) int top = open(output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int fd;

        if (top < 0)
                return -errno;
        fd = openat(top, hand, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* Open the take open as @fd with HDF5 (a crashed one left with SWMR flags: read as SWMR). */
static hid_t open_fd(int fd) {
        char path[64];
        hid_t file;

        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        file = layout_open(path, H5F_ACC_RDONLY, false);
        if (file < 0) {
                H5Eclear2(H5E_DEFAULT);
                file = layout_open(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, false);
        }
        if (file < 0)
                H5Eclear2(H5E_DEFAULT);
        return file;
}

int takes_read_format(int fd) {
        char format[32] = "";
        hid_t file = open_fd(fd);

        if (file < 0)
                return -EIO;
        h5_attr_read_string(file, "format", format, sizeof(format));
        H5Fclose(file);
        return streq(format, "handrec");
}

/* A numeric attribute read as @type (HDF5 converts), or 0 when it is missing. */
static void read_number(hid_t file, const char *name, hid_t type, void *ret) {
        hid_t a;

        if (H5Aexists(file, name) <= 0)
                return;
        a = H5Aopen(file, name, H5P_DEFAULT);
        if (a >= 0) {
                if (!h5_attr_single(a) || H5Aread(a, type, ret) < 0)
                        H5Eclear2(H5E_DEFAULT);
                H5Aclose(a);
        }
}

/* A take file found in a hand's folder. */
struct take_name {
        char hand[64];
        char name[256];
};

/* What ListTakes says of one take. */
struct take_entry {
        char hand[64];
        char name[256];
        char started_utc[32], episode[TAKE_EPISODE_MAX + 1], task[TAKE_TASK_MAX + 1], label[65];
        char status[32], stop_reason[32], error[256], operator_[TAKE_OPERATOR_MAX + 1], qc_verdict[1024];
        uint64_t frames, bytes;
        double duration;
};

/* @e from the file's attributes. Return: 0, or -EIO with e->error set. */
static int read_file(int dirfd, struct take_entry *e) {
        _cleanup_(closep) int fd = openat(dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        hid_t file;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                snprintf(e->error, sizeof(e->error), "%s", fd < 0 ? strerror(errno) : "not a regular file");
                return -EIO;
        }
        e->bytes = (uint64_t) st.st_size;
        file = open_fd(fd);
        if (file < 0) {
                snprintf(e->error, sizeof(e->error), "%s",
                         st.st_size == 0 ? "an empty file, not a take" : "not an HDF5 file handrecd can read");
                return -EIO;
        }
        char format[32] = "";
        h5_attr_read_string(file, "format", format, sizeof(format));
        if (!streq(format, "handrec")) {
                H5Fclose(file);
                snprintf(e->error, sizeof(e->error), "an HDF5 file, but not a take (no format=\"handrec\")");
                return -EIO;
        }
        h5_attr_read_string(file, "started_utc", e->started_utc, sizeof(e->started_utc));
        h5_attr_read_string(file, "episode", e->episode, sizeof(e->episode));
        h5_attr_read_string(file, "task", e->task, sizeof(e->task));
        h5_attr_read_string(file, "label", e->label, sizeof(e->label));
        h5_attr_read_string(file, "status", e->status, sizeof(e->status));
        h5_attr_read_string(file, "stop_reason", e->stop_reason, sizeof(e->stop_reason));
        h5_attr_read_string(file, "operator", e->operator_, sizeof(e->operator_));
        h5_attr_read_string(file, "qc_verdict", e->qc_verdict, sizeof(e->qc_verdict));
        read_number(file, "frames", H5T_NATIVE_UINT64, &e->frames);
        read_number(file, "duration_s", H5T_NATIVE_DOUBLE, &e->duration);
        H5Fclose(file);
        return 0;
}

/* @e from @h's state, when @h is recording the file @path. Return: whether it is. */
static bool read_running(const struct hand *h, const char *path, struct take_entry *e) {
        struct pipeline_stats s;
        struct qc_take qc;

        if (!hand_is_active(h) || !streq(h->file, path))
                return false;
        pipeline_stats(h->pipeline, &s);
        snprintf(e->started_utc, sizeof(e->started_utc), "%s", h->started_utc);
        snprintf(e->episode, sizeof(e->episode), "%s", h->episode);
        snprintf(e->task, sizeof(e->task), "%s", h->task);
        snprintf(e->label, sizeof(e->label), "%s", h->label);
        snprintf(e->operator_, sizeof(e->operator_), "%s", h->operator_);
        snprintf(e->status, sizeof(e->status), "recording");
        pipeline_qc(h->pipeline, &qc);
        qc_verdict(&qc, e->qc_verdict, sizeof(e->qc_verdict));
        e->frames = s.written;
        e->duration = s.duration;
        e->bytes = s.bytes;
        return true;
}

/* Names of the takes in @hand's folder appended to *@list (grown as needed). */
static int scan_hand(struct daemon *d, const char *hand, struct take_name **list, size_t *n, size_t *cap) {
        int fd = takes_open_hand_dir(d->config->output_dir, hand);
        DIR *dir;
        struct dirent *de;

        if (fd == -ENOENT)
                return 0; /* no take yet */
        if (fd < 0)
                return fd;
        dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(dir))) {
                size_t len = strlen(de->d_name);
                if (de->d_name[0] == '.' || len < 4 || !streq(de->d_name + len - 3, ".h5") ||
                    len >= sizeof((*list)->name))
                        continue;
                if (*n == *cap) {
                        size_t c = *cap ? *cap * 2 : 64;
                        struct take_name *l = reallocarray(*list, c, sizeof(**list));
                        if (!l) {
                                closedir(dir);
                                return -ENOMEM;
                        }
                        *list = l, *cap = c;
                }
                (*list)[*n] = (struct take_name){0};
                snprintf((*list)[*n].hand, sizeof((*list)[*n].hand), "%s", hand);
                snprintf((*list)[*n].name, sizeof((*list)[*n].name), "%s", de->d_name);
                (*n)++;
        }
        closedir(dir);
        return 0;
}

/* Newest first: the names begin with the start time; then by hand, for a stable order. */
static int compare_newest(const void *a, const void *b) {
        const struct take_name *x = a, *y = b;
        int c = strcmp(y->name, x->name);
        return c ? c : strcmp(x->hand, y->hand);
}

/* @e's details, from the running take or the file. */
static void describe(struct daemon *d, struct take_entry *e, const char *path) {
        _cleanup_(closep) int dirfd = -1;
        struct hand *h = hand_find(d, e->hand);

        if (h && read_running(h, path, e))
                return;
        if (!takes_hdf5_usable(d)) {
                snprintf(e->status, sizeof(e->status), "unreadable");
                snprintf(e->error, sizeof(e->error), "not read while a take runs (this HDF5 is not thread-safe)");
                return;
        }
        dirfd = takes_open_hand_dir(d->config->output_dir, e->hand);
        if (dirfd < 0)
                snprintf(e->error, sizeof(e->error), "%s", strerror(-dirfd));
        if (dirfd < 0 || read_file(dirfd, e) < 0)
                snprintf(e->status, sizeof(e->status), "unreadable");
}

static int append_entry(sd_bus_message *m, const char *path, const struct take_entry *e) {
        int r = sd_bus_message_open_container(m, 'r', "sa{sv}");

        if (r >= 0)
                r = sd_bus_message_append(m, "s", path);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", e->error[0] ? 13 : 12, "hand", "s", e->hand, "started_utc", "s",
                                          e->started_utc, "episode", "s", e->episode, "task", "s", e->task, "label",
                                          "s", e->label, "operator", "s", e->operator_, "frames", "t", e->frames,
                                          "duration", "d", e->duration, "status", "s", e->status, "stop_reason", "s",
                                          e->stop_reason, "qc_verdict", "s", e->qc_verdict, "bytes", "t", e->bytes,
                                          "error", "s", e->error);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int list_option_hand(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct takes_list_options *o = ctx;

        if (!streq(contents, "s"))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"hand\" is a string (s) naming a hand, not of type \"%s\".",
                                         contents);
        return sd_bus_message_read(m, "s", &o->hand);
}

static int list_option_limit(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct takes_list_options *o = ctx;
        double v = 0;
        int r = options_number(m, contents, "limit", "u", &v, error);

        if (r < 0)
                return r;
        if (v != floor(v) || v < 1 || v > TAKES_LIMIT_MAX) /* (unsigned) v of -1, NaN or 1e300 is undefined */
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION, "Limit %g is out of range: list 1 to %d takes.",
                                         v, TAKES_LIMIT_MAX);
        o->limit = (unsigned) v;
        return 0;
}

/* A string option that names what a take's attribute must be (episode, task). */
static int list_option_match(sd_bus_message *m, const char *contents, const char *name, const char **ret,
                             sd_bus_error *error) {
        if (!streq(contents, "s"))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"%s\" is a string (s), not of type \"%s\".", name, contents);
        return sd_bus_message_read(m, "s", ret);
}

static int list_option_episode(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        return list_option_match(m, contents, "episode", &((struct takes_list_options *) ctx)->episode, error);
}

static int list_option_task(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        return list_option_match(m, contents, "task", &((struct takes_list_options *) ctx)->task, error);
}

/* "since": a UTC time as the takes' started_utc are written, 2026-12-06T09:30:00Z */
static int list_option_since(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct takes_list_options *o = ctx;
        int r = list_option_match(m, contents, "since", &o->since, error);
        struct tm tm = {0};
        const char *end;

        if (r < 0)
                return r;
        end = strptime(o->since, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || *end || strlen(o->since) != 20)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"since\" is a UTC time written as 2026-12-06T09:30:00Z, not \"%s\".",
                                         o->since);
        return 0;
}

static const struct option_key list_option_table[] = {
        {"episode", list_option_episode}, {"hand", list_option_hand}, {"limit", list_option_limit},
        {"since", list_option_since},     {"task", list_option_task},
};

int takes_read_options(sd_bus_message *m, struct takes_list_options *ret, sd_bus_error *error) {
        *ret = (struct takes_list_options){.limit = TAKES_LIMIT_DEFAULT};
        return options_read(m, list_option_table, ELEMENTSOF(list_option_table), "option",
                            "known options: episode (s), hand (s), limit (u, 1-1000), since (s), task (s)", ret, error);
}

/* Whether @e is one the options ask for (an unreadable file is listed unless a filter is given:
 * what it holds is not known). */
static bool wanted(const struct take_entry *e, const struct takes_list_options *o) {
        return (!o->episode || streq(e->episode, o->episode)) && (!o->task || streq(e->task, o->task)) &&
               (!o->since || strcmp(e->started_utc, o->since) >= 0);
}

int takes_append_list(struct daemon *d, sd_bus_message *reply, const struct takes_list_options *o) {
        _cleanup_(freep) struct take_name *list = NULL;
        size_t n = 0, cap = 0, listed = 0;
        int r = 0;

        for (unsigned i = 0; r >= 0 && i < d->n_hands; i++)
                if (!o->hand || streq(o->hand, d->hands[i].config->name))
                        r = scan_hand(d, d->hands[i].config->name, &list, &n, &cap);
        if (r < 0)
                return r;
        if (n > 0)
                qsort(list, n, sizeof(*list), compare_newest);
        r = sd_bus_message_open_container(reply, 'a', "(sa{sv})");
        for (size_t i = 0; r >= 0 && i < n && listed < o->limit; i++) {
                struct take_entry e = {0};
                char path[PATH_MAX];
                snprintf(e.hand, sizeof(e.hand), "%s", list[i].hand);
                snprintf(e.name, sizeof(e.name), "%s", list[i].name);
                snprintf(path, sizeof(path), "%s/%s/%s", d->config->output_dir, e.hand, e.name);
                describe(d, &e, path);
                if (!wanted(&e, o))
                        continue;
                r = append_entry(reply, path, &e);
                listed++;
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}
