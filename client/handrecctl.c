/* SPDX-License-Identifier: MIT */
/*
 * handrecctl — command-line client of handrecd (the D-Bus API of daemon/bus-names.h). One
 * run_<command>() per subcommand; every daemon error is printed as the daemon's own sentence.
 * Exit status: 0 success, 1 the daemon or the bus said no, 2 bad usage.
 *
 * This file: main(), option parsing, and start, stop, status and list. The bus calls are in
 * handrecctl-bus.c, hand status and summaries in handrecctl-view.c, watch in handrecctl-watch.c,
 * devices in handrecctl-devices.c, check and recover in handrecctl-files.c, preview in
 * handrecctl-preview*.c, snapshot in handrecctl-snapshot.c.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "../daemon/util.h"
#include "handrecctl.h"
#include "../daemon/version.h"

#define STOP_TIMEOUT_USEC (120 * USEC_PER_SEC)

int usage_error(const char *command, const char *what) {
        fprintf(stderr, "handrecctl: %s; try 'handrecctl %s%s--help'.\n", what, command ?: "", command ? " " : "");
        return 2;
}

/* ---- commands --------------------------------------------------------------------------- */

static const struct option common_options[] = {
        {"hand", required_argument, NULL, 'H'},
        {"duration", required_argument, NULL, 'd'},
        {"label", required_argument, NULL, 'l'},
        {"quality", required_argument, NULL, 'q'},
        {"follow", no_argument, NULL, 'f'},
        {"user", no_argument, NULL, 'U'},
        {"rectify", no_argument, NULL, 'r'},
        {"no-rectify", no_argument, NULL, 'n'},
        {"rectified", no_argument, NULL, 'R'},
        {"raw", no_argument, NULL, 'w'},
        {"guides", no_argument, NULL, 'g'},
        {"listen", required_argument, NULL, 'L'},
        {"fps", required_argument, NULL, 'F'},
        {"max-width", required_argument, NULL, 'W'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {},
};

/* Store option @c of @command. Return: 0, -1 (--help), or 2 (usage error, printed). */
static int store_option(const char *command, int c, struct args *a) {
        char *end;

        switch (c) {
        case 'H':
                if (a->n_hands == MAX_HANDS)
                        return usage_error(command, "at most two --hand options");
                a->hand = a->hands[a->n_hands++] = optarg;
                break;
        case 'l': a->label = optarg; break;
        case 'f': a->follow = true; break;
        case 'r': a->rectify = 1; break;
        case 'n': a->rectify = 0; break;
        case 'R': a->rectify = 1; break;
        case 'w': a->rectify = 0; break;
        case 'g': a->guides = true; break;
        case 'L': a->listen = optarg; break;
        case 'o': a->output = optarg; break;
        case 'F':
                a->fps = strtod(optarg, &end);
                if (*end || end == optarg || !(a->fps > 0) || !isfinite(a->fps))
                        return usage_error(command, "--fps takes a number of frames a second greater than 0");
                break;
        case 'W':
                errno = 0;
                a->max_width = strtol(optarg, &end, 10);
                if (*end || end == optarg || errno == ERANGE || a->max_width < 0 || a->max_width > UINT32_MAX)
                        return usage_error(command, "--max-width takes a whole number of pixels (0: full size)");
                break;
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
int parse_args(const char *command, const char *allowed, int argc, char *argv[], struct args *a) {
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
               "  preview [--hand H]... [--listen ADDRESS:PORT] [--output -]\n"
               "                      show the cameras live in a browser (http://127.0.0.1:8080/), or as MJPEG\n"
               "  snapshot --hand H --output FILE.jpg\n"
               "                      write one frame of the hand's cameras\n"
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
                {"start", run_start},     {"stop", run_stop},         {"status", run_status}, {"watch", run_watch},
                {"list", run_list},       {"devices", run_devices},   {"check", run_check},   {"recover", run_recover},
                {"preview", run_preview}, {"snapshot", run_snapshot},
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
