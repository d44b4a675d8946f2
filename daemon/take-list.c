/* SPDX-License-Identifier: MIT */
/*
 * take-list.c — ListTakes: the takes in each hand's folder under save.output_dir, newest first
 * (their names begin with the UTC time they started), each described from its root attributes;
 * the take a hand is recording from the daemon's own state, never by opening it. A file that
 * cannot be read is listed with status "unreadable" and why. Folders and files are opened with
 * O_NOFOLLOW, here; HDF5 reads them in a child process (takes.h). Main thread only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus-options.h"
#include "daemon.h"
#include "../lib/take-reader.h"
#include "takes.h"
#include "../lib/util.h"

int takes_open_hand_dir(const char *output_dir, const char *hand) {
        _cleanup_(closep) int top = open(output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int fd;

        if (top < 0)
                return -errno;
        fd = openat(top, hand, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
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
        struct take_attributes a; /* the file's, the running take's, or why it cannot be read */
        uint64_t bytes;
};

/* the take reader's room for a take's strings is the daemon's */
_Static_assert(sizeof(((struct take_attributes *) 0)->episode) == TAKE_EPISODE_MAX + 1, "episode");
_Static_assert(sizeof(((struct take_attributes *) 0)->task) == TAKE_TASK_MAX + 1, "task");
_Static_assert(sizeof(((struct take_attributes *) 0)->operator_) == TAKE_OPERATOR_MAX + 1, "operator");

/* @e from @h's state, when @h is recording the file @path. Return: whether it is. */
static bool read_running(const struct hand *h, const char *path, struct take_entry *e) {
        struct pipeline_stats s;
        struct qc_take qc;

        if (!hand_is_active(h) || !streq(h->file, path))
                return false;
        pipeline_stats(h->pipeline, &s);
        snprintf(e->a.started_utc, sizeof(e->a.started_utc), "%s", h->started_utc);
        snprintf(e->a.episode, sizeof(e->a.episode), "%s", h->episode);
        snprintf(e->a.task, sizeof(e->a.task), "%s", h->task);
        snprintf(e->a.label, sizeof(e->a.label), "%s", h->label);
        snprintf(e->a.operator_, sizeof(e->a.operator_), "%s", h->operator_);
        snprintf(e->a.status, sizeof(e->a.status), "recording");
        pipeline_qc(h->pipeline, &qc);
        qc_verdict(&qc, e->a.qc_verdict, sizeof(e->a.qc_verdict));
        e->a.frames = s.written;
        e->a.duration = s.duration;
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

static int append_entry(sd_bus_message *m, const char *path, const struct take_entry *e) {
        int r = sd_bus_message_open_container(m, 'r', "sa{sv}");

        if (r >= 0)
                r = sd_bus_message_append(m, "s", path);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", e->a.error[0] ? 13 : 12, "hand", "s", e->hand, "started_utc", "s",
                                          e->a.started_utc, "episode", "s", e->a.episode, "task", "s", e->a.task,
                                          "label", "s", e->a.label, "operator", "s", e->a.operator_, "frames", "t",
                                          e->a.frames, "duration", "d", e->a.duration, "status", "s", e->a.status,
                                          "stop_reason", "s", e->a.stop_reason, "qc_verdict", "s", e->a.qc_verdict,
                                          "bytes", "t", e->bytes, "error", "s", e->a.error);
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
        return (!o->episode || streq(e->a.episode, o->episode)) && (!o->task || streq(e->a.task, o->task)) &&
               (!o->since || strcmp(e->a.started_utc, o->since) >= 0);
}

/* ---- one ListTakes call, answered as its files are read ---- */

/*
 * DESIGN: a listing reads each finished take's attributes through a take reader (a child
 * process, lib/take-reader.h), one file at a time, and the main loop runs between them: the
 * child's answer (io), or its judgement every TAKE_READER_CHECK_MS (timer: an answer waiting is
 * taken first), ends a file and sends the next, until the reply is full and is sent. A damaged
 * file costs its listing TAKE_READER_CPU_MS of the child's CPU once (then d->damaged_takes says
 * so at once while the file is unchanged), and nobody else anything.
 */
struct takes_listing {
        struct daemon *d;
        sd_bus_message *call, *reply; /* o's strings are the call's */
        struct takes_list_options o;
        struct take_name *names;
        size_t n, next, listed;
        struct take_entry e; /* names[next], being read */
        char path[PATH_MAX];
        struct take_reader reader;
        sd_event_source *io; /* on reader.sock while a file is being read, one for each file */
        sd_event_source *timer;
};

static void listing_free(struct takes_listing *l) {
        struct daemon *d = l->d;

        l->io = sd_event_source_unref(l->io); /* before the child's socket closes */
        take_reader_stop(&l->reader);
        sd_event_source_unref(l->timer);
        sd_bus_message_unref(l->reply);
        sd_bus_message_unref(l->call);
        free(l->names);
        for (unsigned i = 0; i < TAKES_LISTINGS_MAX; i++)
                if (d->listings[i] == l)
                        d->listings[i] = NULL;
        free(l);
}

void takes_listings_free(struct daemon *d) {
        for (unsigned i = 0; i < TAKES_LISTINGS_MAX; i++)
                if (d->listings[i])
                        listing_free(d->listings[i]);
}

static void unreadable(struct take_entry *e, const char *why) {
        snprintf(e->a.status, sizeof(e->a.status), "unreadable");
        snprintf(e->a.error, sizeof(e->a.error), "%s", why);
}

/* @e from what the child read. */
static void from_attributes(struct take_entry *e, const struct take_attributes *a) {
        if (a->result < 0)
                unreadable(e, a->error);
        else
                e->a = *a;
}

static int on_reader_answer(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_reader_check(sd_event_source *s, uint64_t usec, void *userdata);

/* The next look at the child, TAKE_READER_CHECK_MS from now. */
static int arm_check(struct takes_listing *l) {
        uint64_t now;
        int r;

        sd_event_now(l->d->event, CLOCK_MONOTONIC, &now);
        if (!l->timer) {
                r = sd_event_add_time(l->d->event, &l->timer, CLOCK_MONOTONIC, 0, 0, on_reader_check, l);
                if (r < 0)
                        return r;
        }
        r = sd_event_source_set_time(l->timer, now + TAKE_READER_CHECK_MS * UINT64_C(1000));
        return r < 0 ? r : sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
}

/* The child's answer awaited: its socket watched, the timer set. Return: 0, or negative errno
 * (then nothing is in flight: the child is gone, to be started again for the next file). */
static int await_answer(struct takes_listing *l) {
        int r = sd_event_add_io(l->d->event, &l->io, l->reader.sock, EPOLLIN, on_reader_answer, l);

        if (r >= 0)
                r = arm_check(l);
        if (r < 0) {
                l->io = sd_event_source_unref(l->io);
                take_reader_stop(&l->reader);
        }
        return r;
}

/* names[next] described: from the running take, at once when it cannot be read, or sent to the
 * child. Return: 1 when the child's answer is awaited, 0 when l->e is complete, 2 when the file
 * is gone (not listed). */
static int begin_entry(struct takes_listing *l) {
        struct daemon *d = l->d;
        _cleanup_(closep) int dirfd = -1, fd = -1;
        struct hand *h;
        struct stat st;
        bool timed_out;
        int r;

        l->e = (struct take_entry){0};
        snprintf(l->e.hand, sizeof(l->e.hand), "%s", l->names[l->next].hand);
        snprintf(l->e.name, sizeof(l->e.name), "%s", l->names[l->next].name);
        snprintf(l->path, sizeof(l->path), "%s/%s/%s", d->config->output_dir, l->e.hand, l->e.name);
        h = hand_find(d, l->e.hand);
        if (h && read_running(h, l->path, &l->e))
                return 0;
        dirfd = takes_open_hand_dir(d->config->output_dir, l->e.hand);
        if (dirfd < 0) {
                unreadable(&l->e, strerror(-dirfd));
                return 0;
        }
        fd = openat(dirfd, l->e.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return 2; /* discarded since the folder was read */
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                unreadable(&l->e, fd < 0 ? strerror(errno) : "not a regular file");
                return 0;
        }
        l->e.bytes = (uint64_t) st.st_size;
        if (take_reader_remembered(&d->damaged_takes, &st, &timed_out)) {
                unreadable(&l->e, take_reader_damage_text(timed_out));
                return 0;
        }
        r = take_reader_send(&l->reader, fd);
        if (r >= 0)
                r = await_answer(l);
        if (r < 0) {
                char why[128];
                snprintf(why, sizeof(why), "handrecd could not start reading it: %s", strerror(-r));
                unreadable(&l->e, why);
                return 0;
        }
        return 1;
}

/* The reply's end, sent; or the call refused when the reply could not be made. */
static void answer(struct takes_listing *l, int r) {
        if (r >= 0)
                r = sd_bus_message_close_container(l->reply);
        if (r >= 0)
                r = sd_bus_send(NULL, l->reply, NULL);
        else
                r = sd_bus_reply_method_errnof(l->call, r, "Cannot list the takes in %s: %m", l->d->config->output_dir);
        if (r < 0)
                log_warning_errno(r, "Failed to answer ListTakes: %m");
        listing_free(l);
}

/* The entries from names[next] on, until one waits for the child or the reply is full. */
static void run(struct takes_listing *l, bool entry_done) {
        int r = 0;

        for (;;) {
                if (entry_done) {
                        if (wanted(&l->e, &l->o)) {
                                r = append_entry(l->reply, l->path, &l->e);
                                l->listed++;
                        }
                        l->next++;
                }
                if (r < 0 || l->next >= l->n || l->listed >= l->o.limit)
                        break;
                switch (begin_entry(l)) {
                case 1: return;
                case 2:
                        l->next++;
                        entry_done = false;
                        break;
                default: entry_done = true;
                }
        }
        answer(l, r);
}

/* Whether the file being read is one d->damaged_takes holds already (another listing found it). */
static bool known_damaged(const struct takes_listing *l) {
        bool timed_out;
        return take_reader_remembered(&l->d->damaged_takes, &l->reader.sent, &timed_out);
}

/* The file being read is done with: @r is take_reader_receive()'s or take_reader_check()'s end,
 * @a what it says. The child stops unless it answered; a damaged file is said once in the log
 * (not again by a listing that found it meanwhile), with what to do. */
static void file_done(struct takes_listing *l, int r, bool known, const struct take_attributes *a) {
        sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
        l->io = sd_event_source_unref(l->io); /* one a file: none watches a socket that may close */
        if (r < 0)
                take_reader_stop(&l->reader);
        if ((r == -ETIMEDOUT || r == -EPIPE) && !known)
                log_warning("%s: %s; it is listed as unreadable. Move it out of the output folder, then handrecctl "
                            "check it.",
                            l->path, a->error);
        else if (r < 0 && r != -ETIMEDOUT && r != -EPIPE)
                log_warning("%s: %s.", l->path, a->error);
        from_attributes(&l->e, a);
        run(l, true);
}

static int on_reader_answer(sd_event_source *s _unused_, int fd _unused_, uint32_t revents _unused_, void *userdata) {
        struct takes_listing *l = userdata;
        bool known = known_damaged(l);
        struct take_attributes a;
        int r = take_reader_receive(&l->reader, &l->d->damaged_takes, &a);

        if (r != -EAGAIN)
                file_done(l, r, known, &a);
        return 0;
}

static int on_reader_check(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        struct takes_listing *l = userdata;
        bool known = known_damaged(l);
        struct take_attributes a;
        int r = take_reader_receive(&l->reader, &l->d->damaged_takes, &a); /* an answer waiting comes first */

        if (r == -EAGAIN) {
                r = take_reader_check(&l->reader, &l->d->damaged_takes, &a);
                if (r == 0) {
                        r = arm_check(l); /* wait on */
                        if (r >= 0)
                                return 0;
                        a = (struct take_attributes){.result = -EIO};
                        snprintf(a.error, sizeof(a.error), "handrecd could not wait for its take reader: %s",
                                 strerror(-r));
                        r = -ECHILD;
                }
        }
        file_done(l, r, known, &a);
        return 0;
}

int takes_list_start(struct daemon *d, sd_bus_message *m, const struct takes_list_options *o, sd_bus_error *error) {
        struct takes_listing *l;
        size_t cap = 0;
        unsigned slot = 0;
        int r = 0;

        while (slot < TAKES_LISTINGS_MAX && d->listings[slot])
                slot++;
        if (slot == TAKES_LISTINGS_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "%d ListTakes calls are being answered already; try again when one is.",
                                         TAKES_LISTINGS_MAX);
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (struct takes_listing){.d = d, .o = *o, .reader = TAKE_READER_INIT, .call = sd_bus_message_ref(m)};
        d->listings[slot] = l;
        for (unsigned i = 0; r >= 0 && i < d->n_hands; i++)
                if (!o->hand || streq(o->hand, d->hands[i].config->name))
                        r = scan_hand(d, d->hands[i].config->name, &l->names, &l->n, &cap);
        if (r >= 0 && l->n > 0)
                qsort(l->names, l->n, sizeof(*l->names), compare_newest);
        if (r >= 0)
                r = sd_bus_message_new_method_return(m, &l->reply);
        if (r >= 0)
                r = sd_bus_message_open_container(l->reply, 'a', "(sa{sv})");
        if (r < 0) {
                listing_free(l);
                return sd_bus_error_set_errnof(error, r, "Cannot list the takes in %s: %s", d->config->output_dir,
                                               strerror(-r));
        }
        run(l, false);
        return 1;
}
