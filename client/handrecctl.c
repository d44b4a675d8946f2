/* SPDX-License-Identifier: MIT */
/*
 * handrecctl — command-line client of handrecd (org.handrec1). One run_<command>() per
 * subcommand; every daemon error is printed as the daemon's own sentence, exit status 1.
 * Exit status: 0 success, 1 the daemon or the bus said no, 2 bad usage.
 */
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>

#include "../daemon/status-line.h"
#include "../daemon/v4l2-describe.h"
#include "../daemon/util.h"
#include "../daemon/version.h"

#define BUS_NAME "org.handrec1"
#define MANAGER_PATH "/org/handrec1"
#define MANAGER_INTERFACE "org.handrec1.Manager"
#define HAND_PATH_PREFIX "/org/handrec1/hand/"
#define HAND_INTERFACE "org.handrec1.Hand"
#define STOP_TIMEOUT_USEC (120 * USEC_PER_SEC)

static bool arg_user = false;

static int usage_error(const char *command, const char *what) {
        fprintf(stderr, "handrecctl: %s; try 'handrecctl %s%s--help'.\n", what, command ?: "", command ? " " : "");
        return 2;
}

/* ---- connection and errors -------------------------------------------------------------- */

static int bus_error(const sd_bus_error *e, int r) {
        if (sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.ServiceUnknown") ||
            sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.NameHasNoOwner"))
                fprintf(stderr, "handrecctl: handrecd is not running on the %s bus; start it with %s.\n",
                        arg_user ? "session" : "system", arg_user ? "handrecd --user" : "systemctl start handrecd");
        else if (sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.AccessDenied"))
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

static int connect_bus(sd_bus **ret) {
        int r = arg_user ? sd_bus_open_user(ret) : sd_bus_open_system(ret);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot connect to the %s bus: %s%s\n", arg_user ? "session" : "system",
                        strerror(-r), arg_user ? " (is DBUS_SESSION_BUS_ADDRESS set?)" : "");
                return 1;
        }
        return 0;
}

/* ---- hand status ------------------------------------------------------------------------ */

struct hand_view {
        char name[16];
        char state[16];
        char file[4096];
        char last_error[512];
        uint64_t captured, written, dropped, bytes;
        unsigned queue;
        double fps, duration, skew_mean, skew_max, camera_fps;
        bool active_seen;
};

/* Read one a{sv} of Hand properties (a Status reply or a PropertiesChanged body) into @v. */
static int read_properties(sd_bus_message *m, struct hand_view *v) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents, *s;
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                if (streq(contents, "s") &&
                    (streq(key, "State") || streq(key, "File") || streq(key, "LastError") || streq(key, "Name"))) {
                        r = sd_bus_message_read(m, "v", "s", &s);
                        if (r < 0)
                                return r;
                        if (streq(key, "State"))
                                snprintf(v->state, sizeof(v->state), "%s", s);
                        else if (streq(key, "File"))
                                snprintf(v->file, sizeof(v->file), "%s", s);
                        else if (streq(key, "Name"))
                                snprintf(v->name, sizeof(v->name), "%s", s);
                        else
                                snprintf(v->last_error, sizeof(v->last_error), "%s", s);
                } else if (streq(contents, "t")) {
                        uint64_t t;
                        r = sd_bus_message_read(m, "v", "t", &t);
                        if (r < 0)
                                return r;
                        if (streq(key, "FramesCaptured"))
                                v->captured = t;
                        else if (streq(key, "FramesWritten"))
                                v->written = t;
                        else if (streq(key, "FramesDropped"))
                                v->dropped = t;
                        else if (streq(key, "BytesWritten"))
                                v->bytes = t;
                } else if (streq(contents, "u") && streq(key, "QueueDepth")) {
                        r = sd_bus_message_read(m, "v", "u", &v->queue);
                } else if (streq(contents, "d")) {
                        double d;
                        r = sd_bus_message_read(m, "v", "d", &d);
                        if (streq(key, "Fps"))
                                v->fps = d;
                        else if (streq(key, "Duration"))
                                v->duration = d;
                        else if (streq(key, "PairSkewMean"))
                                v->skew_mean = d;
                        else if (streq(key, "PairSkewMax"))
                                v->skew_max = d;
                        else if (streq(key, "CameraFps"))
                                v->camera_fps = d;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int get_status(sd_bus *bus, const char *hand, struct hand_view *v) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "Status", &error, &reply, "s", hand);
        if (r < 0) {
                bus_error(&error, r);
                sd_bus_error_free(&error);
                return -1;
        }
        snprintf(v->name, sizeof(v->name), "%s", hand);
        r = read_properties(reply, v);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot parse the Status reply: %s\n", strerror(-r));
                return -1;
        }
        return 0;
}

static char *view_line(const struct hand_view *v, char *buf, size_t len) {
        if (v->file[0] == 0 && streq(v->state, "idle")) {
                char upper[16];
                snprintf(buf, len, "[%s] idle: no take yet", hand_label(upper, sizeof(upper), v->name));
                return buf;
        }
        return format_status_line(buf, len,
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

static int list_hands(sd_bus *bus, char hands[2][16], unsigned *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *s;
        unsigned n = 0;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "ListHands", &error, &reply, "");
        if (r < 0) {
                bus_error(&error, r);
                sd_bus_error_free(&error);
                return -1;
        }
        r = sd_bus_message_enter_container(reply, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read(reply, "s", &s)) > 0)
                if (n < 2)
                        snprintf(hands[n++], 16, "%s", s);
        *ret_n = n;
        return 0;
}

/* ---- summary ---------------------------------------------------------------------------- */

static int print_summary(const char *hand, sd_bus_message *m, const char *reason_override) {
        char reason[32] = "", last_error[512] = "", size[32], causes[256] = "";
        uint64_t captured = 0, written = 0, dropped = 0, bytes = 0;
        double duration = 0, fps = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents, *s;
                sd_bus_message_read(m, "s", &key);
                sd_bus_message_peek_type(m, NULL, &contents);
                if (streq(contents, "s")) {
                        sd_bus_message_read(m, "v", "s", &s);
                        if (streq(key, "reason"))
                                snprintf(reason, sizeof(reason), "%s", s);
                        else if (streq(key, "last_error"))
                                snprintf(last_error, sizeof(last_error), "%s", s);
                } else if (streq(contents, "t")) {
                        uint64_t t;
                        sd_bus_message_read(m, "v", "t", &t);
                        if (streq(key, "frames_captured"))
                                captured = t;
                        else if (streq(key, "frames_written"))
                                written = t;
                        else if (streq(key, "frames_dropped"))
                                dropped = t;
                        else if (streq(key, "bytes"))
                                bytes = t;
                } else if (streq(contents, "d")) {
                        double d;
                        sd_bus_message_read(m, "v", "d", &d);
                        if (streq(key, "duration"))
                                duration = d;
                        else if (streq(key, "fps"))
                                fps = d;
                } else if (streq(contents, "a{st}")) {
                        const char *cause;
                        uint64_t n;
                        sd_bus_message_enter_container(m, 'v', "a{st}");
                        sd_bus_message_enter_container(m, 'a', "{st}");
                        while (sd_bus_message_read(m, "{st}", &cause, &n) > 0)
                                if (n > 0)
                                        snprintf(causes + strlen(causes), sizeof(causes) - strlen(causes), "%s%s:%llu",
                                                 causes[0] ? ", " : " (", cause, (unsigned long long) n);
                        sd_bus_message_exit_container(m);
                        sd_bus_message_exit_container(m);
                } else
                        sd_bus_message_skip(m, "v");
                sd_bus_message_exit_container(m);
        }
        sd_bus_message_exit_container(m);
        if (causes[0])
                strcat(causes, ")");

        char upper[16];
        hand_label(upper, sizeof(upper), hand);
        printf("[%s] stopped (%s): %llu frames written of %llu captured, %llu dropped%s, %.1fs, %.1ffps, %s\n", upper,
               reason_override ?: reason, (unsigned long long) written, (unsigned long long) captured,
               (unsigned long long) dropped, causes, duration, fps, format_bytes(size, sizeof(size), bytes));
        if (last_error[0])
                printf("[%s] last error: %s\n", upper, last_error);
        return 0;
}

/* ---- watch ------------------------------------------------------------------------------ */

struct watch {
        sd_bus *bus;
        struct hand_view views[2];
        unsigned n;
        bool done, lost, tty;
        int exit_code;
        int64_t last_print_ns;
};

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
        if (read_properties(m, v) < 0)
                return 0;
        if (!streq(v->state, "idle"))
                v->active_seen = true;
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
        if (!v)
                return 0;
        snprintf(v->state, sizeof(v->state), "stopped");
        watch_draw(w, true);
        if (w->tty)
                printf("\n");
        printf("%s\n", file);
        print_summary(hand, m, NULL);
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

static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig _unused_) {
        interrupted = 1;
}

static int watch_hands(sd_bus *bus, char hands[2][16], unsigned n) {
        struct watch w = {.bus = bus, .n = n, .tty = isatty(STDOUT_FILENO)};
        int r;

        r = sd_bus_match_signal(bus, NULL, BUS_NAME, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                on_properties_changed, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "RecordingStopped",
                                        on_stopped, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, &w);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot subscribe to the daemon's signals: %s\n", strerror(-r));
                return 1;
        }
        /* subscribe first, then read the current state, so no change falls in between */
        for (unsigned i = 0; i < n; i++)
                if (get_status(bus, hands[i], &w.views[i]) < 0)
                        return 1;
        watch_draw(&w, true);

        signal(SIGINT, on_sigint);
        signal(SIGTERM, on_sigint);
        while (!w.done && !w.lost && !interrupted) {
                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "handrecctl: lost the bus connection: %s\n", strerror(-r));
                        return 1;
                }
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR) {
                        fprintf(stderr, "handrecctl: lost the bus connection: %s\n", strerror(-r));
                        return 1;
                }
        }
        if (interrupted && w.tty)
                printf("\n");
        return w.lost ? 1 : 0;
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
        bool follow;
        int rectify; /* -1: the daemon's default */
};

static int parse_args(const char *command, const char *allowed, int argc, char *argv[], struct args *a) {
        int c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", common_options, NULL)) >= 0) {
                char *end;
                if (c != '?' && c != 'h' && c != 'U' && !strchr(allowed, c))
                        return usage_error(command, "that option does not belong to this command");
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
                        a->quality = strtol(optarg, &end, 10);
                        if (*end || end == optarg)
                                return usage_error(command, "--quality takes a whole number (60 to 95)");
                        break;
                default: return usage_error(command, "unknown option or missing value");
                }
        }
        if (optind < argc)
                return usage_error(command, "unexpected argument");
        return 0;
}

static int run_start(int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        struct args a = {.quality = -1, .rectify = -1};
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
        if ((r = connect_bus(&bus)))
                return r;

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "StartRecording");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", a.hand);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && a.duration > 0)
                r = sd_bus_message_append(m, "{sv}", "duration", "d", a.duration);
        if (r >= 0 && a.label)
                r = sd_bus_message_append(m, "{sv}", "label", "s", a.label);
        if (r >= 0 && a.rectify >= 0)
                r = sd_bus_message_append(m, "{sv}", "rectify", "b", a.rectify);
        if (r >= 0 && a.quality >= 0)
                r = sd_bus_message_append(m, "{sv}", "jpeg_quality", "i", (int32_t) MIN(a.quality, INT32_MAX));
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot build the request: %s\n", strerror(-r));
                return 1;
        }
        /* subscribe before starting, so a short take cannot end before we listen */
        if (a.follow) {
                char hands[2][16];
                snprintf(hands[0], 16, "%s", a.hand);
                r = sd_bus_call(bus, m, 0, &error, &reply);
                if (r < 0) {
                        r = bus_error(&error, r);
                        sd_bus_error_free(&error);
                        return r;
                }
                sd_bus_message_read(reply, "s", &file);
                printf("%s\n", file);
                fflush(stdout);
                return watch_hands(bus, hands, 1);
        }
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                r = bus_error(&error, r);
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_message_read(reply, "s", &file);
        if (r < 0)
                return 1;
        printf("%s\n", file);
        return 0;
}

static int run_stop(int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
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
        if ((r = connect_bus(&bus)))
                return r;
        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "StopRecording");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", a.hand);
        if (r >= 0)
                r = sd_bus_call(bus, m, STOP_TIMEOUT_USEC, &error, &reply);
        if (r < 0) {
                r = bus_error(&error, r);
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_message_read(reply, "s", &file);
        if (r < 0)
                return 1;
        printf("%s\n", file);
        print_summary(a.hand, reply, NULL);
        return 0;
}

static int resolve_hands(sd_bus *bus, const char *hand, char hands[2][16], unsigned *n) {
        if (hand) {
                snprintf(hands[0], 16, "%s", hand);
                *n = 1;
                return 0;
        }
        return list_hands(bus, hands, n) < 0 ? 1 : 0;
}

static int run_status(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {};
        char hands[2][16];
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
                char line[512];
                if (get_status(bus, hands[i], &v) < 0)
                        return 1;
                printf("%s\n", view_line(&v, line, sizeof(line)));
                if (v.file[0])
                        printf("    file: %s\n", v.file);
                if (v.camera_fps > 0)
                        printf("    camera: %.2f fps measured while warming up\n", v.camera_fps);
                if (v.skew_max > 0)
                        printf("    pairing skew: mean %.2f ms, max %.2f ms\n", v.skew_mean * 1e3, v.skew_max * 1e3);
                if (v.last_error[0])
                        printf("    last error: %s\n", v.last_error);
        }
        return 0;
}

static int run_watch(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {};
        char hands[2][16];
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
        return watch_hands(bus, hands, n);
}

static int run_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {};
        char hands[2][16];
        unsigned n = 0;
        int r;

        r = parse_args("list", "", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl list\n\nPrint the configured hands, one a line.\n");
                return 0;
        }
        if (r)
                return r;
        if ((r = connect_bus(&bus)))
                return r;
        if (list_hands(bus, hands, &n) < 0)
                return 1;
        for (unsigned i = 0; i < n; i++)
                printf("%s\n", hands[i]);
        return 0;
}

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
        for (size_t i = 0; i < g.gl_pathc; i++) {
                struct v4l2_capability cap = {};
                uint32_t caps;
                int fd = open(g.gl_pathv[i], O_RDWR | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0) {
                        printf("%s: cannot open: %s\n", g.gl_pathv[i], strerror(errno));
                        continue;
                }
                if (ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0) {
                        close(fd);
                        continue;
                }
                caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
                if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
                        close(fd);
                        continue; /* metadata and output nodes */
                }
                printf("%s: %s (%s, %s)\n", g.gl_pathv[i], (const char *) cap.card, (const char *) cap.driver,
                       (const char *) cap.bus_info);
                print_stable_names(g.gl_pathv[i]);
                capture_describe(fd, 0, stdout, "    ");
                close(fd);
                shown++;
        }
        globfree(&g);
        if (!shown)
                printf("No V4L2 capture devices on this machine.\n");
        return 0;
}

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
               "  devices             list the cameras (V4L2 devices) with their formats, sizes and rates\n\n"
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
                {"start", run_start}, {"stop", run_stop}, {"status", run_status},
                {"watch", run_watch}, {"list", run_list}, {"devices", run_devices},
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
