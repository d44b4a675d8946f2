/* SPDX-License-Identifier: MIT */
/*
 * handrecctl — command-line client of handrecd (the D-Bus API of daemon/bus-names.h). One
 * run_<command>() per subcommand; every daemon error is printed as the daemon's own sentence.
 * Exit status: 0 success, 1 the daemon or the bus said no, 2 bad usage.
 */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "../daemon/bus-names.h"
#include "../daemon/pipeline.h"
#include "../daemon/status-line.h"
#include "../daemon/util.h"
#include "../daemon/v4l2-describe.h"
#include "handrecctl.h"
#include "../daemon/version.h"

#define STOP_TIMEOUT_USEC (120 * USEC_PER_SEC)
#define MAX_HANDS 2
#define HAND_NAME_MAX 16

static bool arg_user = false;

static int usage_error(const char *command, const char *what) {
        fprintf(stderr, "handrecctl: %s; try 'handrecctl %s%s--help'.\n", what, command ?: "", command ? " " : "");
        return 2;
}

/* ---- connection, calls and errors ------------------------------------------------------- */

/* Print why a call failed, in words a person can act on. Return: 1, the exit status. */
static int bus_error(const sd_bus_error *e, int r) {
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                fprintf(stderr, "handrecctl: handrecd is not running on the %s bus; start it with %s.\n",
                        arg_user ? "session" : "system", arg_user ? "handrecd --user" : "systemctl start handrecd");
        else if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED))
                fprintf(stderr,
                        "handrecctl: %s\nOnly root and members of group handrec may start and stop takes; "
                        "ask an administrator to run: usermod -aG handrec $USER\n",
                        e->message ?: "access denied");
        else if (e && e->message)
                fprintf(stderr, "handrecctl: %s\n", e->message);
        else
                fprintf(stderr, "handrecctl: %s\n", strerror(-r));
        return 1;
}

/* Return: 0, or 1 (printed). */
static int connect_bus(sd_bus **ret) {
        int r = arg_user ? sd_bus_open_user(ret) : sd_bus_open_system(ret);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot connect to the %s bus: %s%s\n", arg_user ? "session" : "system",
                        strerror(-r), arg_user ? " (is DBUS_SESSION_BUS_ADDRESS set?)" : "");
                return 1;
        }
        return 0;
}

/* A new call of the Manager's method @member. Return: 0, or 1 (printed). */
static int new_call(sd_bus *bus, const char *member, sd_bus_message **ret) {
        int r = sd_bus_message_new_method_call(bus, ret, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, member);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot build the request: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

/* Send @m and wait up to @usec (0: sd-bus' default) for @ret_reply. Return: 0, or 1 (printed). */
static int call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_call(bus, m, usec, &error, ret_reply);

        return r < 0 ? bus_error(&error, r) : 0;
}

/* ---- reading a{sv} dictionaries --------------------------------------------------------- */

/* One key of an a{sv}, read into a member of a struct: "t", "u", "d" into uint64_t, uint32_t,
 * double; "s" copied into a char array; "a{st}" written into a char array as the non-zero counts,
 * "camera:3, queue-full:1". Keys that are not listed, or of another type, are skipped. */
struct dict_field {
        const char *key;
        const char *signature;
        size_t offset, size;
};

#define DICT_FIELD(type, member, key, signature)                                                                       \
        { key, signature, offsetof(type, member), sizeof(((type *) NULL)->member) }

static int read_counts(sd_bus_message *m, char *buf, size_t size) {
        const char *cause;
        uint64_t n;
        int r;

        buf[0] = 0;
        r = sd_bus_message_enter_container(m, 'a', "{st}");
        while (r >= 0 && (r = sd_bus_message_read(m, "{st}", &cause, &n)) > 0)
                if (n > 0)
                        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s:%llu", buf[0] ? ", " : "", cause,
                                 (unsigned long long) n);
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

static int read_field(sd_bus_message *m, const struct dict_field *f, void *base) {
        char *p = (char *) base + f->offset;
        const char *s;
        int r;

        if (streq(f->signature, "a{st}"))
                return read_counts(m, p, f->size);
        if (!streq(f->signature, "s")) {
                assert(f->size == (f->signature[0] == 'u' ? sizeof(uint32_t) : sizeof(uint64_t)));
                return sd_bus_message_read_basic(m, f->signature[0], p);
        }
        r = sd_bus_message_read_basic(m, 's', &s);
        if (r >= 0)
                snprintf(p, f->size, "%s", s);
        return r;
}

/* Read the {sv} entry the message is in. */
static int read_entry(sd_bus_message *m, const struct dict_field *fields, size_t n_fields, void *base) {
        const char *key, *contents;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r >= 0)
                r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_fields; i++)
                if (streq(key, fields[i].key) && streq(contents, fields[i].signature)) {
                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r >= 0)
                                r = read_field(m, &fields[i], base);
                        return r < 0 ? r : sd_bus_message_exit_container(m);
                }
        return sd_bus_message_skip(m, "v");
}

/* Read an a{sv} into the struct at @base, as @fields say. */
static int read_dict(sd_bus_message *m, const struct dict_field *fields, size_t n_fields, void *base) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = read_entry(m, fields, n_fields, base);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

/* ---- hand status ------------------------------------------------------------------------ */

/* What the client knows of a hand: from Status, then from PropertiesChanged. */
struct hand_view {
        char name[HAND_NAME_MAX];
        char state[16];
        char file[PATH_MAX];
        char last_error[PIPELINE_ERROR_MAX];
        uint64_t captured, written, dropped, bytes;
        uint32_t queue;
        double fps, duration, skew_mean, skew_max, camera_fps;
};

#define VIEW_FIELD(member, key, signature) DICT_FIELD(struct hand_view, member, key, signature)
static const struct dict_field hand_view_fields[] = {
        VIEW_FIELD(name, "Name", "s"),
        VIEW_FIELD(state, "State", "s"),
        VIEW_FIELD(file, "File", "s"),
        VIEW_FIELD(last_error, "LastError", "s"),
        VIEW_FIELD(captured, "FramesCaptured", "t"),
        VIEW_FIELD(written, "FramesWritten", "t"),
        VIEW_FIELD(dropped, "FramesDropped", "t"),
        VIEW_FIELD(bytes, "BytesWritten", "t"),
        VIEW_FIELD(queue, "QueueDepth", "u"),
        VIEW_FIELD(fps, "Fps", "d"),
        VIEW_FIELD(duration, "Duration", "d"),
        VIEW_FIELD(skew_mean, "PairSkewMean", "d"),
        VIEW_FIELD(skew_max, "PairSkewMax", "d"),
        VIEW_FIELD(camera_fps, "CameraFps", "d"),
};

/* Read one a{sv} of Hand properties (a Status reply or a PropertiesChanged body) into @v. */
static int read_properties(sd_bus_message *m, struct hand_view *v) {
        return read_dict(m, hand_view_fields, ELEMENTSOF(hand_view_fields), v);
}

/* Return: 0, or 1 (printed). */
static int get_status(sd_bus *bus, const char *hand, struct hand_view *v) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if ((r = new_call(bus, "Status", &m)))
                return r;
        r = sd_bus_message_append(m, "s", hand);
        if (r < 0)
                return bus_error(NULL, r);
        if ((r = call(bus, m, 0, &reply)))
                return r;
        snprintf(v->name, sizeof(v->name), "%s", hand);
        r = read_properties(reply, v);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot parse the Status reply: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

static char *view_line(const struct hand_view *v, char *buf, size_t len) {
        if (v->file[0] == 0 && streq(v->state, "idle")) {
                char upper[HAND_NAME_MAX];
                snprintf(buf, len, "[%s] idle: no take yet", status_line_hand_label(upper, sizeof(upper), v->name));
                return buf;
        }
        return status_line_format(buf, len,
                                  &(struct status_values){.hand = v->name,
                                                          .state = v->state,
                                                          .captured = v->captured,
                                                          .written = v->written,
                                                          .dropped = v->dropped,
                                                          .bytes = v->bytes,
                                                          .queue = v->queue,
                                                          .duration = v->duration,
                                                          .fps = v->fps});
}

/* The configured hands (ListHands). Return: 0, or 1 (printed). */
static int list_hands(sd_bus *bus, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *s;
        unsigned n = 0;
        int r;

        if ((r = new_call(bus, "ListHands", &m)) || (r = call(bus, m, 0, &reply)))
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read(reply, "s", &s)) > 0)
                if (n < MAX_HANDS)
                        snprintf(hands[n++], HAND_NAME_MAX, "%s", s);
        *ret_n = n;
        return 0;
}

/* The hand given with --hand, or else every configured hand. Return: 0, or 1 (printed). */
static int resolve_hands(sd_bus *bus, const char *hand, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n) {
        if (!hand)
                return list_hands(bus, hands, ret_n);
        snprintf(hands[0], HAND_NAME_MAX, "%s", hand);
        *ret_n = 1;
        return 0;
}

/* ---- summary ---------------------------------------------------------------------------- */

/* The summary of a take (StopRecording's reply, RecordingStopped). */
struct summary {
        char reason[32], last_error[PIPELINE_ERROR_MAX], causes[256];
        uint64_t captured, written, dropped, bytes;
        double duration, fps;
};

#define SUMMARY_FIELD(member, key, signature) DICT_FIELD(struct summary, member, key, signature)
static const struct dict_field summary_fields[] = {
        SUMMARY_FIELD(reason, "reason", "s"),
        SUMMARY_FIELD(last_error, "last_error", "s"),
        SUMMARY_FIELD(causes, "dropped_by_cause", "a{st}"),
        SUMMARY_FIELD(captured, "frames_captured", "t"),
        SUMMARY_FIELD(written, "frames_written", "t"),
        SUMMARY_FIELD(dropped, "frames_dropped", "t"),
        SUMMARY_FIELD(bytes, "bytes", "t"),
        SUMMARY_FIELD(duration, "duration", "d"),
        SUMMARY_FIELD(fps, "fps", "d"),
};

/* Read the a{sv} summary @m is at and print it as one line (two with a last error). */
static int print_summary(const char *hand, sd_bus_message *m) {
        struct summary s = {};
        char upper[HAND_NAME_MAX], size[32];
        int r;

        r = read_dict(m, summary_fields, ELEMENTSOF(summary_fields), &s);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot parse the take's summary: %s\n", strerror(-r));
                return 1;
        }
        status_line_hand_label(upper, sizeof(upper), hand);
        printf("[%s] stopped (%s): %llu frames written of %llu captured, %llu dropped%s%s%s, %.1fs, %.1ffps, %s\n",
               upper, s.reason, (unsigned long long) s.written, (unsigned long long) s.captured,
               (unsigned long long) s.dropped, s.causes[0] ? " (" : "", s.causes, s.causes[0] ? ")" : "", s.duration,
               s.fps, format_bytes(size, sizeof(size), s.bytes));
        if (s.last_error[0])
                printf("[%s] last error: %s\n", upper, s.last_error);
        return 0;
}

/* ---- watch ------------------------------------------------------------------------------ */

/*
 * Following takes: subscribe first (watch_subscribe), then start a take or read the current
 * state, then watch_run(). Signals that arrive while a call waits for its reply are queued by
 * sd-bus and handled in watch_run(), so a take that ends at once is still seen to end.
 */
struct watch {
        struct hand_view views[MAX_HANDS];
        unsigned n;
        char file[PATH_MAX]; /* the take whose end ends the watch; "": a take of any watched hand */
        bool done, lost, tty;
        int64_t last_print_ns;
};

static void watch_add(struct watch *w, const char *hand) {
        /* a name longer than any hand's cannot be one: the daemon has already refused it */
        if (w->n < MAX_HANDS && strlen(hand) < sizeof(w->views[0].name))
                memcpy(w->views[w->n++].name, hand, strlen(hand) + 1);
}

static void watch_draw(struct watch *w, bool force) {
        char all[1024] = "";
        int64_t now = now_ns(CLOCK_MONOTONIC);

        /* a terminal gets a live line; a pipe or file gets at most one line a second */
        if (!w->tty && !force && now - w->last_print_ns < NSEC_PER_SEC)
                return;
        w->last_print_ns = now;
        for (unsigned i = 0; i < w->n; i++) {
                char line[512];
                snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? "   " : "",
                         view_line(&w->views[i], line, sizeof(line)));
        }
        if (w->tty)
                printf("\r\033[K%s", all);
        else
                printf("%s\n", all);
        fflush(stdout);
}

static struct hand_view *watch_find(struct watch *w, const char *name) {
        for (unsigned i = 0; i < w->n; i++)
                if (streq(w->views[i].name, name))
                        return &w->views[i];
        return NULL;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        struct watch *w = userdata;
        const char *path = sd_bus_message_get_path(m), *iface;
        struct hand_view *v;

        if (!path || strncmp(path, HAND_PATH_PREFIX, strlen(HAND_PATH_PREFIX)) != 0)
                return 0;
        v = watch_find(w, path + strlen(HAND_PATH_PREFIX));
        if (!v || sd_bus_message_read(m, "s", &iface) < 0 || !streq(iface, HAND_INTERFACE))
                return 0;
        if (read_properties(m, v) >= 0)
                watch_draw(w, false);
        return 0;
}

static int on_stopped(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        struct watch *w = userdata;
        const char *hand, *file, *reason;
        struct hand_view *v;

        if (sd_bus_message_read(m, "sss", &hand, &file, &reason) < 0)
                return 0;
        v = watch_find(w, hand);
        if (!v || (w->file[0] && !streq(file, w->file)))
                return 0;
        snprintf(v->state, sizeof(v->state), "stopped");
        watch_draw(w, true);
        if (w->tty)
                printf("\n");
        printf("%s\n", file);
        print_summary(hand, m);
        fflush(stdout);
        w->done = true;
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        struct watch *w = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) >= 0 && streq(name, BUS_NAME) && !*new) {
                if (w->tty)
                        printf("\n");
                fprintf(stderr, "handrecctl: handrecd left the bus while the take was being watched.\n");
                w->lost = true;
        }
        return 0;
}

/* Subscribe to the signals watch_run() needs. Return: 0, or 1 (printed). */
static int watch_subscribe(struct watch *w, sd_bus *bus) {
        int r;

        r = sd_bus_match_signal(bus, NULL, BUS_NAME, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                on_properties_changed, w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "RecordingStopped",
                                        on_stopped, w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, w);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot subscribe to the daemon's signals: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig _unused_) {
        interrupted = 1;
}

/* Dispatch signals until the watched take ends, the daemon leaves, or Ctrl-C. Return: 0, or 1. */
static int watch_loop(struct watch *w, sd_bus *bus) {
        int r;

        signal(SIGINT, on_sigint);
        signal(SIGTERM, on_sigint);
        while (!w->done && !w->lost && !interrupted) {
                r = sd_bus_process(bus, NULL);
                if (r > 0)
                        continue;
                if (r == 0)
                        r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR) {
                        fprintf(stderr, "handrecctl: lost the bus connection: %s\n", strerror(-r));
                        return 1;
                }
        }
        if (interrupted && w->tty)
                printf("\n");
        return w->lost ? 1 : 0;
}

/* Read each watched hand's state, show it, and follow it. Call after watch_subscribe(). */
static int watch_run(struct watch *w, sd_bus *bus) {
        int r;

        for (unsigned i = 0; i < w->n; i++)
                if ((r = get_status(bus, w->views[i].name, &w->views[i])))
                        return r;
        watch_draw(w, true);
        return watch_loop(w, bus);
}

/* ---- commands --------------------------------------------------------------------------- */

static const struct option common_options[] = {
        {"hand", required_argument, NULL, 'H'},  {"duration", required_argument, NULL, 'd'},
        {"label", required_argument, NULL, 'l'}, {"quality", required_argument, NULL, 'q'},
        {"follow", no_argument, NULL, 'f'},      {"user", no_argument, NULL, 'U'},
        {"rectify", no_argument, NULL, 'r'},     {"no-rectify", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},        {},
};

struct args {
        const char *hand, *label;
        double duration;
        long quality;
        bool quality_set; /* any number given is sent: the daemon says what range it takes */
        bool follow;
        int rectify; /* -1: the daemon's default */
};

/* Store option @c of @command. Return: 0, -1 (--help), or 2 (usage error, printed). */
static int store_option(const char *command, int c, struct args *a) {
        char *end;

        switch (c) {
        case 'H': a->hand = optarg; break;
        case 'l': a->label = optarg; break;
        case 'f': a->follow = true; break;
        case 'r': a->rectify = 1; break;
        case 'n': a->rectify = 0; break;
        case 'U': arg_user = true; break;
        case 'h': return -1;
        case 'd':
                a->duration = strtod(optarg, &end);
                if (*end || !(a->duration > 0) || !isfinite(a->duration))
                        return usage_error(command, "--duration takes a number of seconds greater than 0");
                break;
        case 'q':
                errno = 0;
                a->quality = strtol(optarg, &end, 10);
                a->quality_set = true;
                if (*end || end == optarg || errno == ERANGE || a->quality < INT32_MIN || a->quality > INT32_MAX)
                        return usage_error(command, "--quality takes a whole number (60 to 95)");
                break;
        default: return usage_error(command, "unknown option or missing value");
        }
        return 0;
}

/* Parse the options of @command, which takes those in @allowed. Return: as store_option(). */
static int parse_args(const char *command, const char *allowed, int argc, char *argv[], struct args *a) {
        int c, r;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", common_options, NULL)) >= 0) {
                if (c != '?' && c != 'h' && c != 'U' && !strchr(allowed, c))
                        return usage_error(command, "that option does not belong to this command");
                r = store_option(command, c, a);
                if (r)
                        return r;
        }
        if (optind < argc)
                return usage_error(command, "unexpected argument");
        return 0;
}

/* The StartRecording call for the options in @a. Return: 0, or 1 (printed). */
static int start_call(sd_bus *bus, const struct args *a, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if ((r = new_call(bus, "StartRecording", &m)))
                return r;
        r = sd_bus_message_append(m, "s", a->hand);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && a->duration > 0)
                r = sd_bus_message_append(m, "{sv}", "duration", "d", a->duration);
        if (r >= 0 && a->label)
                r = sd_bus_message_append(m, "{sv}", "label", "s", a->label);
        if (r >= 0 && a->rectify >= 0)
                r = sd_bus_message_append(m, "{sv}", "rectify", "b", a->rectify);
        if (r >= 0 && a->quality_set)
                r = sd_bus_message_append(m, "{sv}", "jpeg_quality", "i", (int32_t) a->quality);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot build the request: %s\n", strerror(-r));
                return 1;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

static int run_start(int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {.quality = -1, .rectify = -1};
        struct watch w = {.tty = isatty(STDOUT_FILENO)};
        const char *file;
        int r;

        r = parse_args("start", "Hdlqfrn", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl start --hand left|right [--duration SECONDS] [--label LABEL]\n"
                       "                        [--quality 60-95] [--rectify|--no-rectify] [--follow]\n\n"
                       "Start a take; prints the file it records to. --follow shows the status line live until\n"
                       "the take ends (with --duration, or when someone stops it).\n");
                return 0;
        }
        if (r)
                return r;
        if (!a.hand)
                return usage_error("start", "--hand is required (left or right)");
        if ((r = connect_bus(&bus)) || (r = start_call(bus, &a, &m)))
                return r;
        /* subscribe before starting, so a short take cannot end before we listen */
        if (a.follow) {
                watch_add(&w, a.hand);
                if ((r = watch_subscribe(&w, bus)))
                        return r;
        }
        if ((r = call(bus, m, 0, &reply)))
                return r;
        r = sd_bus_message_read(reply, "s", &file);
        if (r < 0)
                return bus_error(NULL, r);
        printf("%s\n", file);
        fflush(stdout);
        if (!a.follow)
                return 0;
        snprintf(w.file, sizeof(w.file), "%s", file);
        return watch_run(&w, bus);
}

static int run_stop(int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {};
        const char *file;
        int r;

        r = parse_args("stop", "H", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl stop --hand left|right\n\n"
                       "Stop the take, wait until its file is complete, and print the file and a summary.\n");
                return 0;
        }
        if (r)
                return r;
        if (!a.hand)
                return usage_error("stop", "--hand is required (left or right)");
        if ((r = connect_bus(&bus)) || (r = new_call(bus, "StopRecording", &m)))
                return r;
        r = sd_bus_message_append(m, "s", a.hand);
        if (r < 0)
                return bus_error(NULL, r);
        if ((r = call(bus, m, STOP_TIMEOUT_USEC, &reply)))
                return r;
        r = sd_bus_message_read(reply, "s", &file);
        if (r < 0)
                return bus_error(NULL, r);
        printf("%s\n", file);
        return print_summary(a.hand, reply);
}

static void print_status(const struct hand_view *v) {
        char line[512];

        printf("%s\n", view_line(v, line, sizeof(line)));
        if (v->file[0])
                printf("    file: %s\n", v->file);
        if (v->camera_fps > 0)
                printf("    camera: %.2f fps measured while warming up\n", v->camera_fps);
        if (v->skew_max > 0)
                printf("    pairing skew: mean %.2f ms, max %.2f ms\n", v->skew_mean * 1e3, v->skew_max * 1e3);
        if (v->last_error[0])
                printf("    last error: %s\n", v->last_error);
}

static int run_status(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {};
        char hands[MAX_HANDS][HAND_NAME_MAX];
        unsigned n = 0;
        int r;

        r = parse_args("status", "H", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl status [--hand left|right]\n\n"
                       "Print each hand's status line, as the old collector did:\n"
                       "  [RIGHT] recording: 450 frames (15.0s, 30.0fps, written:448, queue:2, 0.5GB)\n"
                       "and the file of its current or last take.\n");
                return 0;
        }
        if (r)
                return r;
        if ((r = connect_bus(&bus)) || (r = resolve_hands(bus, a.hand, hands, &n)))
                return r;
        for (unsigned i = 0; i < n; i++) {
                struct hand_view v = {};
                if ((r = get_status(bus, hands[i], &v)))
                        return r;
                print_status(&v);
        }
        return 0;
}

static int run_watch(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct watch w = {.tty = isatty(STDOUT_FILENO)};
        struct args a = {};
        char hands[MAX_HANDS][HAND_NAME_MAX];
        unsigned n = 0;
        int r;

        r = parse_args("watch", "H", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl watch [--hand left|right]\n\n"
                       "Redraw the status line live (from the daemon's PropertiesChanged signals) until a\n"
                       "watched hand's take ends, then print its file and summary. Ctrl-C stops watching\n"
                       "without stopping the take.\n");
                return 0;
        }
        if (r)
                return r;
        if ((r = connect_bus(&bus)) || (r = resolve_hands(bus, a.hand, hands, &n)))
                return r;
        for (unsigned i = 0; i < n; i++)
                watch_add(&w, hands[i]);
        if ((r = watch_subscribe(&w, bus)))
                return r;
        return watch_run(&w, bus);
}

static int run_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {};
        char hands[MAX_HANDS][HAND_NAME_MAX];
        unsigned n = 0;
        int r;

        r = parse_args("list", "", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl list\n\nPrint the configured hands, one a line.\n");
                return 0;
        }
        if (r)
                return r;
        if ((r = connect_bus(&bus)) || (r = list_hands(bus, hands, &n)))
                return r;
        for (unsigned i = 0; i < n; i++)
                printf("%s\n", hands[i]);
        return 0;
}

/* ---- devices ---------------------------------------------------------------------------- */

/* Stable names (/dev/v4l/by-id, by-path) that lead to @node. */
static void print_stable_names(const char *node) {
        static const char *const dirs[] = {"/dev/v4l/by-id", "/dev/v4l/by-path"};
        char real_node[PATH_MAX];

        if (!realpath(node, real_node))
                return;
        for (size_t d = 0; d < ELEMENTSOF(dirs); d++) {
                DIR *dir = opendir(dirs[d]);
                struct dirent *de;
                if (!dir)
                        continue;
                while ((de = readdir(dir))) {
                        char path[PATH_MAX], real[PATH_MAX];
                        if (de->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
                        if (realpath(path, real) && streq(real, real_node))
                                printf("    %s\n", path);
                }
                closedir(dir);
        }
}

/* Describe the V4L2 node @path if it captures video. Return: whether it did. */
static bool describe_device(const char *path) {
        _cleanup_(closep) int fd = -1;
        struct v4l2_capability cap = {};
        uint32_t caps;

        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                printf("%s: cannot open: %s\n", path, strerror(errno));
                return false;
        }
        if (ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0)
                return false;
        caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
        if (!(caps & V4L2_CAP_VIDEO_CAPTURE))
                return false; /* metadata and output nodes */
        printf("%s: %s (%s, %s)\n", path, (const char *) cap.card, (const char *) cap.driver,
               (const char *) cap.bus_info);
        print_stable_names(path);
        v4l2_describe_formats(fd, 0, stdout, "    ");
        return true;
}

static int run_devices(int argc, char *argv[]) {
        struct args a = {};
        glob_t g;
        int r, shown = 0;

        r = parse_args("devices", "", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl devices\n\n"
                       "List the V4L2 capture devices with their stable names (use those in the config:\n"
                       "camera.device, camera.left_device, camera.right_device) and the formats, sizes and\n"
                       "frame rates each can give. Opens the devices directly; needs access to /dev/video*.\n");
                return 0;
        }
        if (r)
                return r;
        if (glob("/dev/video*", 0, NULL, &g) != 0) {
                printf("No V4L2 devices (/dev/video*) on this machine.\n");
                return 0;
        }
        for (size_t i = 0; i < g.gl_pathc; i++)
                shown += describe_device(g.gl_pathv[i]);
        globfree(&g);
        if (!shown)
                printf("No V4L2 capture devices on this machine.\n");
        return 0;
}

/* ---- main ------------------------------------------------------------------------------- */

static void help(void) {
        printf("handrecctl %s — control handrecd, the stereo hand-camera recorder.\n\n"
               "Usage: handrecctl [--user] COMMAND [OPTIONS]\n\n"
               "Commands:\n"
               "  start --hand H [--duration S] [--label L] [--quality Q] [--follow]\n"
               "                      start a take; prints its file\n"
               "  stop --hand H       stop a take; prints its file and a summary once it is complete\n"
               "  status [--hand H]   print the status line of each hand\n"
               "  watch [--hand H]    show the status line live until the take ends\n"
               "  list                print the configured hands\n"
               "  devices             list the cameras (V4L2 devices) with their formats, sizes and rates\n"
               "  check FILE...       verify takes frame by frame; exits 1 with the reason if one is bad\n"
               "  recover FILE...     make a take a crash left unfinished readable (handrecd does it at start)\n\n"
               "Options:\n"
               "  --user              talk to handrecd on the session bus (handrecd --user)\n"
               "  -h, --help          show help (after a command: that command's help)\n",
               HANDREC_VERSION);
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int (*run)(int argc, char *argv[]);
        } commands[] = {
                {"start", run_start}, {"stop", run_stop},       {"status", run_status}, {"watch", run_watch},
                {"list", run_list},   {"devices", run_devices}, {"check", run_check},   {"recover", run_recover},
        };
        int i;

        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                if (streq(argv[i], "--user"))
                        arg_user = true;
                else if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
                        help();
                        return 0;
                } else if (streq(argv[i], "--version")) {
                        printf("handrecctl %s\n", HANDREC_VERSION);
                        return 0;
                } else
                        return usage_error(NULL, "unknown option before the command");
        }
        if (i >= argc)
                return usage_error(NULL, "no command given");
        if (streq(argv[i], "help")) {
                help();
                return 0;
        }
        for (size_t c = 0; c < ELEMENTSOF(commands); c++)
                if (streq(argv[i], commands[c].name))
                        return commands[c].run(argc - i, argv + i);
        fprintf(stderr, "handrecctl: unknown command '%s'; try 'handrecctl --help'.\n", argv[i]);
        return 2;
}
