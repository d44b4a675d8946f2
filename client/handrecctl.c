/* SPDX-License-Identifier: MIT */
/*
 * handrecctl — command-line client of handrecd (the D-Bus API of lib/bus-names.h). One
 * run_<command>() per subcommand; every daemon error is printed as the daemon's own sentence.
 * Exit status: 0 success, 1 the daemon or the bus said no, 2 bad usage, 3 (status) a hand is in
 * error or has no device.
 *
 * This file: main(), option parsing, status and list. start and stop are in handrecctl-start.c,
 * record in handrecctl-record.c, takes and discard in handrecctl-takes.c, --json in
 * handrecctl-json.c. The bus calls are in
 * handrecctl-bus.c, handrec-offload's upload state in handrecctl-upload.c, hand status and summaries in handrecctl-view.c, watch in handrecctl-watch.c,
 * devices in handrecctl-devices.c, check and recover in handrecctl-files.c, info in handrecctl-info.c, preview in
 * handrecctl-preview*.c, snapshot in handrecctl-snapshot.c.
 */
#include <assert.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "../lib/util.h"
#include <json-c/json.h>

#include "handrecctl.h"
#include "../lib/version.h"

/* --json before the command: as if given after it (handrecctl --json status). */
static bool arg_json = false;

int usage_error(const char *command, const char *what) {
        fprintf(stderr, "handrecctl: %s; try 'handrecctl %s%s--help'.\n", what, command ?: "", command ? " " : "");
        return 2;
}

/* ---- commands --------------------------------------------------------------------------- */

static const struct option common_options[] = {
        {"hand", required_argument, NULL, 'H'},
        {"duration", required_argument, NULL, 'd'},
        {"label", required_argument, NULL, 'l'},
        {"task", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"last", no_argument, NULL, 'Z'},
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
        {"allow-host", required_argument, NULL, 'A'},
        {"token-file", required_argument, NULL, 'T'},
        {"operator", required_argument, NULL, 'O'},
        {"episodes", required_argument, NULL, 'N'},
        {"reset", required_argument, NULL, 'B'},
        {"success", no_argument, NULL, '1'},
        {"failure", no_argument, NULL, '0'},
        {"note", required_argument, NULL, 'm'},
        {"episode", required_argument, NULL, 'e'},
        {"since", required_argument, NULL, 's'},
        {"yes", no_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},
        {},
};

/* --hand NAME: each hand once; "all" for every configured hand. Return: 0, or 2 (printed). */
static int store_hand(const char *command, const char *name, struct args *a) {
        if (streq(name, "all")) {
                a->all_hands = true;
                return 0;
        }
        for (unsigned i = 0; i < a->n_hands; i++)
                if (streq(a->hands[i], name))
                        return 0;
        if (a->n_hands == MAX_HANDS)
                return usage_error(command, "more --hand options than handrecd has hands (two)");
        a->hands[a->n_hands++] = name;
        if (!a->hand)
                a->hand = name;
        return 0;
}

/* Store option @c of @command. Return: 0, -1 (--help), or 2 (usage error, printed). */
static int store_option(const char *command, int c, struct args *a) {
        char *end;

        switch (c) {
        case 'H': return store_hand(command, optarg, a);
        case 'l': a->label = optarg; break;
        case 't': a->task = optarg; break;
        case 'j': a->json = true; break;
        case 'Z': a->last = true; break;
        case 'f': a->follow = true; break;
        case 'r': a->rectify = 1; break;
        case 'n': a->rectify = 0; break;
        case 'R': a->rectify = 1; break;
        case 'w': a->rectify = 0; break;
        case 'g': a->guides = true; break;
        case 'L': a->listen = optarg; break;
        case 'o': a->output = optarg; break;
        case 'T': a->token_file = optarg; break;
        case 'A':
                if (a->n_allow_hosts == ELEMENTSOF(a->allow_hosts))
                        return usage_error(command, "too many --allow-host options");
                a->allow_hosts[a->n_allow_hosts++] = optarg;
                break;
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
        case 'O': a->operator_ = optarg; break;
        case '1': a->success = 1; break;
        case '0': a->success = 0; break;
        case 'm': a->note = optarg; break;
        case 'e': a->episode = optarg; break;
        case 's': a->since = optarg; break;
        case 'y': a->yes = true; break;
        case 'N':
                errno = 0;
                a->episodes = strtol(optarg, &end, 10);
                if (*end || end == optarg || errno == ERANGE || a->episodes < 1 || a->episodes > 100000)
                        return usage_error(command, "--episodes takes a whole number of episodes to keep, 1 or more");
                break;
        case 'B':
                a->reset = strtod(optarg, &end);
                if (*end || end == optarg || !(a->reset >= 0) || a->reset > 3600)
                        return usage_error(command, "--reset takes the seconds between episodes, 0 to 3600");
                break;
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

static const char *command_options(const char *name);

/* Parse the options of @command, which takes those its entry in commands[] names. Return: as store_option(). */
int parse_args(const char *command, int argc, char *argv[], struct args *a) {
        const char *allowed = command_options(command);
        int c, r;

        optind = 1;
        opterr = 0;
        /* '@' in @allowed: the command takes one FILE, before or after the options */
        while ((c = getopt_long(argc, argv, strchr(allowed, '@') ? "hy" : "+hy", common_options, NULL)) >= 0) {
                if (c != '?' && c != 'h' && c != 'U' && !strchr(allowed, c))
                        return usage_error(command, "that option does not belong to this command");
                r = store_option(command, c, a);
                if (r)
                        return r;
        }
        if (optind < argc && strchr(allowed, '@') && !a->file)
                a->file = argv[optind++];
        if (optind < argc)
                return usage_error(command, "unexpected argument");
        if (arg_json && !strchr(allowed, 'j'))
                return usage_error(command, "this command has no --json");
        a->json |= arg_json;
        return 0;
}

/* One hand's status: printed, or its Status a{sv} added to @hands. Return: 0, 1 (printed) or 3 (in trouble). */
static int status_one(sd_bus *bus, const char *hand, json_object *hands) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct hand_view v = {};
        json_object *o = NULL;
        int r;

        if ((r = call_status(bus, hand, &reply)))
                return r;
        snprintf(v.name, sizeof(v.name), "%s", hand);
        r = read_properties(reply, &v);
        if (r >= 0 && hands && (r = sd_bus_message_rewind(reply, true)) >= 0 && (r = json_read_value(reply, &o)) >= 0)
                json_object_array_add(hands, o);
        if (r < 0)
                return json_parse_error(r);
        if (!hands)
                print_status(&v);
        return hand_in_trouble(&v) ? 3 : 0;
}

static int run_status(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *list = NULL;
        struct args a = {};
        char hands[MAX_HANDS][HAND_NAME_MAX];
        unsigned n = 0;
        int r, ret = 0;

        r = parse_args("status", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl status [--hand HAND]... [--json]\n\n"
                       "Print each hand's status line, and the file, episode and task of its current or last take:\n"
                       "  [RIGHT] recording: 450 frames (15.0s, 30.0fps, written:448, queue:2/30, mem:27MB, 0.5GB)\n"
                       "frames captured (seconds, frames a second, frames written to the file, frames waiting to be\n"
                       "written / room in the queue, handrecd's resident memory, the file's size). --json prints\n"
                       "{hands:[...]}, each hand's Status dictionary with the D-Bus API's keys.\n"
                       "When handrec-offload runs, a last line says what is not yet uploaded:\n"
                       "  upload: 3 takes, 12.1GB behind, 8.4MB/s\n"
                       "(--json: key upload, its Status dictionary). Exit status 3 when a hand is in error or\n"
                       "has no device; the upload state never changes it.\n");
                return 0;
        }
        if (r)
                return r;
        if ((r = connect_bus(&bus)) || (r = resolve_hands(bus, &a, hands, &n)))
                return r;
        if (a.json) {
                o = json_object_new_object();
                list = json_object_new_array();
                json_object_object_add(o, "hands", list);
        }
        for (unsigned i = 0; i < n; i++) {
                r = status_one(bus, hands[i], list);
                if (r == 1)
                        return r;
                ret = ret ?: r;
        }
        upload_show_status(bus, o); /* handrec-offload's line, when it is on the bus: never changes @ret */
        if (a.json && json_print(o))
                return 1;
        return ret;
}

static int run_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL, *list = NULL;
        struct args a = {};
        char hands[MAX_HANDS][HAND_NAME_MAX];
        unsigned n = 0;
        int r;

        r = parse_args("list", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl list [--json]\n\n"
                       "Print the configured hands, one a line (--json: {hands:[...]}).\n");
                return 0;
        }
        if (r)
                return r;
        if ((r = connect_bus(&bus)) || (r = list_hands(bus, hands, &n)))
                return r;
        if (!a.json) {
                for (unsigned i = 0; i < n; i++)
                        printf("%s\n", hands[i]);
                return 0;
        }
        o = json_object_new_object();
        list = json_object_new_array();
        for (unsigned i = 0; i < n; i++)
                json_object_array_add(list, json_object_new_string(hands[i]));
        json_object_object_add(o, "hands", TAKE_PTR(list));
        return json_print(o);
}

/* ---- main ------------------------------------------------------------------------------- */

static void json_command_names(char *buf, size_t len);

static void help(void) {
        char json[128];

        json_command_names(json, sizeof(json));
        printf("handrecctl %s — record demonstrations with handrecd, the stereo hand-camera recorder.\n\n"
               "Usage: handrecctl [--user] [--json] COMMAND [OPTIONS]\n\n"
               "Commands:\n"
               " to record\n"
               "  record [--hand H]... [--task TEXT]\n"
               "                      an interactive session: Enter starts an episode, Enter stops it,\n"
               "                      then k keeps it or d discards it; q quits\n"
               "  start --hand H|all [--hand H] [--task TEXT] [--duration S] [--label L] [--follow]\n"
               "                      start a take on each hand given, as one episode; prints the files\n"
               "  stop [--hand H]...  stop takes (every hand recording when none is given); prints\n"
               "                      each file and a summary once it is complete\n"
               "  status [--hand H]   print each hand's status line\n"
               "  watch [--hand H]... show the status line live until the takes end\n"
               " for the takes\n"
               "  takes [--hand H]    list recent takes: time, hand, episode, task, frames, duration, status\n"
               "  discard FILE|--last delete a finished take (one of handrecd's, in its output folder)\n"
               "  info FILE           describe a take: hand, status, episode, task, frames, duration, skew,\n"
               "                      calibration (reads a take being recorded, or left by a crash, too)\n"
               "  check FILE...       verify takes frame by frame; exits 1 with the reason if one is bad\n"
               "  recover FILE...     make a take a crash left unfinished readable (handrecd does it at start)\n"
               " for the cameras\n"
               "  list                print the configured hands\n"
               "  devices             list the cameras (V4L2 devices) with their formats, sizes and rates\n"
               "  preview [--hand H]... [--listen ADDRESS:PORT] [--output -]\n"
               "                      show the cameras live in a browser (at the URL it prints), or as MJPEG\n"
               "  snapshot --hand H --output FILE.jpg\n"
               "                      write one frame of the hand's cameras\n\n"
               "Options:\n"
               "  --user              talk to handrecd on the session bus (handrecd --user)\n"
               "  --json              (%s) print one JSON document\n"
               "  --version           print handrecctl's version\n"
               "  -h, --help          show help (after a command: that command's help)\n\n"
               "Exit status: 0 done, 1 refused (by handrecd, the bus, or a bad file), 2 bad usage,\n"
               "3 (status) a hand is in error or has no device.\n"
               "A first try: handrecctl list; handrecctl preview; handrecctl record --hand all --task \"pick up the "
               "cup\"\n",
               HANDREC_VERSION, json);
}

/* Every command with the options it takes (letters of common_options; '@': one FILE before or
 * after them; 'j': --json) and its entry point: the one list of them (parse_args(), --json, the help). */
static const struct command {
        const char *name;
        const char *options; /* NULL: it reads its own arguments (check, recover: FILE...) */
        int (*run)(int argc, char *argv[]);
} commands[] = {
        {"start", "HdltqfrnjO", run_start},
        {"stop", "Hj", run_stop},
        {"status", "Hj", run_status},
        {"watch", "H", run_watch},
        {"list", "j", run_list},
        {"devices", "j", run_devices},
        {"check", NULL, run_check},
        {"recover", NULL, run_recover},
        {"preview", "HRwgLFWoAT", run_preview},
        {"snapshot", "HoRwgW", run_snapshot},
        {"record", "HtlqrndONB", run_record},
        {"takes", "Hjtes", run_takes},
        {"discard", "HZ@ey", run_discard},
        {"keep", "e10m", run_keep},
        {"info", "@j", run_info},
};

static const struct command *command_find(const char *name) {
        for (size_t c = 0; c < ELEMENTSOF(commands); c++)
                if (streq(name, commands[c].name))
                        return &commands[c];
        return NULL;
}

static const char *command_options(const char *name) {
        const struct command *c = command_find(name);
        assert(c && c->options); /* parse_args() is called by the commands of the table that take options */
        return c->options;
}

static bool command_has_json(const struct command *c) {
        return c->options && strchr(c->options, 'j');
}

/* "start, stop, status, ...": the commands that take --json, for the help */
static void json_command_names(char *buf, size_t len) {
        size_t n = 0;

        buf[0] = 0;
        for (size_t c = 0; c < ELEMENTSOF(commands); c++)
                if (command_has_json(&commands[c]) && n < len)
                        n += (size_t) snprintf(buf + n, len - n, "%s%s", n ? ", " : "", commands[c].name);
}

int main(int argc, char *argv[]) {
        const struct command *cmd;
        int i;

        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                if (streq(argv[i], "--user"))
                        arg_user = true;
                else if (streq(argv[i], "--json"))
                        arg_json = true;
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
        cmd = command_find(argv[i]);
        if (!cmd) {
                fprintf(stderr, "handrecctl: unknown command '%s'; try 'handrecctl --help'.\n", argv[i]);
                return 2;
        }
        /* commands that do not read --json never see arg_json: refuse it here */
        if (arg_json && !command_has_json(cmd))
                return usage_error(argv[i], "this command has no --json");
        return cmd->run(argc - i, argv + i);
}
