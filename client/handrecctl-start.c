/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-start.c — `handrecctl start` and `stop`: the episode (one id for the takes one
 * start begins on several hands, with the task text), StartEpisode on the hands (every one
 * starts or none does), and StopRecording on the hands named or on every hand recording. `start --follow` follows the
 * takes with handrecctl-watch.c, whose Ctrl-C stops them.
 */
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl.h"

#define STOP_TIMEOUT_USEC (120 * USEC_PER_SEC)

/* UTC time and 6 random hex digits: 20261126T043500Z-3fa9c1 */
void make_episode_id(char *buf, size_t len) {
        uint8_t rnd[3] = {};
        struct tm tm;
        time_t t = time(NULL);
        char when[32];

        if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
                uint64_t n = (uint64_t) now_ns(CLOCK_MONOTONIC) ^ (uint64_t) getpid();
                memcpy(rnd, &n, sizeof(rnd));
        }
        strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
        snprintf(buf, len, "%s-%02x%02x%02x", when, rnd[0], rnd[1], rnd[2]);
}

/* The login name of whoever runs us: the operator when --operator is not given ("" when none). */
void default_operator(char *buf, size_t len) {
        struct passwd *pw = getpwuid(getuid());
        const char *name = getlogin();

        snprintf(buf, len, "%s", name ? name : pw ? pw->pw_name : "");
}

/* The StartEpisode call for @hands with the options in @a. Return: 0, or 1 (printed). */
static int start_call(sd_bus *bus, const struct args *a, char hands[][HAND_NAME_MAX], unsigned n, const char *episode,
                      sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if ((r = new_call(bus, "StartEpisode", &m)))
                return r;
        r = sd_bus_message_open_container(m, 'a', "s");
        for (unsigned i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(m, "s", hands[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
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
        if (r >= 0 && episode)
                r = sd_bus_message_append(m, "{sv}", "episode", "s", episode);
        if (r >= 0 && a->task)
                r = sd_bus_message_append(m, "{sv}", "task", "s", a->task);
        if (r >= 0) {
                char login[72];
                default_operator(login, sizeof(login));
                if (a->operator_ || login[0])
                        r = sd_bus_message_append(m, "{sv}", "operator", "s", a->operator_ ?: login);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot build the request: %s\n", strerror(-r));
                return 1;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

int stop_hand(sd_bus *bus, const char *hand, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *file;
        int r;

        if ((r = new_call(bus, "StopRecording", &m)))
                return r;
        r = sd_bus_message_append(m, "s", hand);
        if (r < 0)
                return bus_error(NULL, r);
        if ((r = call(bus, m, STOP_TIMEOUT_USEC, &reply)))
                return r;
        r = sd_bus_message_read(reply, "s", &file);
        if (r < 0)
                return bus_error(NULL, r);
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

int start_hands(sd_bus *bus, const struct args *a, const char *episode, char hands[][HAND_NAME_MAX], unsigned n,
                char files[][PATH_MAX]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *id, *hand, *file;
        int r;

        /* one call: handrecd starts every hand or none (the episode is the daemon's) */
        r = start_call(bus, a, hands, n, episode, &m);
        if (r == 0)
                r = call(bus, m, 0, &reply);
        if (r)
                return r;
        r = sd_bus_message_read(reply, "s", &id);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(ss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &hand, &file)) > 0)
                for (unsigned i = 0; i < n; i++)
                        if (streq(hands[i], hand))
                                snprintf(files[i], PATH_MAX, "%s", file);
        return r < 0 ? bus_error(NULL, r) : 0;
}

static int print_started(const char *episode, const char *task, char hands[][HAND_NAME_MAX], unsigned n,
                         char files[][PATH_MAX], bool json) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *takes;

        if (!json) {
                for (unsigned i = 0; i < n; i++)
                        printf("%s\n", files[i]);
                return fflush(stdout) == 0 ? 0 : 1;
        }
        o = json_object_new_object();
        json_object_object_add(o, "episode", json_object_new_string(episode));
        if (task)
                json_object_object_add(o, "task", json_object_new_string(task));
        takes = json_object_new_array();
        for (unsigned i = 0; i < n; i++) {
                json_object *t = json_object_new_object();
                json_object_object_add(t, "hand", json_object_new_string(hands[i]));
                json_object_object_add(t, "file", json_object_new_string(files[i]));
                json_object_array_add(takes, t);
        }
        json_object_object_add(o, "takes", takes);
        return json_print(o);
}

int run_start(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {.quality = -1, .rectify = -1};
        struct watch w = {.tty = isatty(STDOUT_FILENO), .stop_on_interrupt = true};
        char hands[MAX_HANDS][HAND_NAME_MAX], files[MAX_HANDS][PATH_MAX], episode[80];
        unsigned n = 0;
        int r;

        r = parse_args("start", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl start --hand HAND|all [--hand HAND] [--task TEXT] [--duration SECONDS]\n"
                       "                        [--label LABEL] [--quality 60-95] [--rectify|--no-rectify]\n"
                       "                        [--follow | --json]\n\n"
                       "Start a take on each hand given (--hand all: every configured hand), together, as one\n"
                       "episode: every file gets the same episode id and the --task text. Prints the files.\n"
                       "--follow shows the status line live until the takes end (with --duration, or when\n"
                       "someone stops them); Ctrl-C then stops them and waits until their files are complete,\n"
                       "a second Ctrl-C leaves them to handrecd. --json prints {episode, task, takes:[{hand, "
                       "file}]}.\n");
                return 0;
        }
        if (r)
                return r;
        if (!a.n_hands && !a.all_hands)
                return usage_error("start",
                                   "--hand is required: a hand's name (repeat --hand for more), or --hand all");
        if (a.json && a.follow)
                return usage_error("start", "--json and --follow do not go together");
        if ((r = connect_bus(&bus)) || (r = resolve_hands(bus, &a, hands, &n)))
                return r;
        make_episode_id(episode, sizeof(episode));
        /* subscribe before starting, so a short take cannot end before we listen; catch Ctrl-C
         * before starting, so no take is left running unseen */
        if (a.follow) {
                watch_catch_interrupts();
                for (unsigned i = 0; i < n; i++)
                        watch_add(&w, hands[i], NULL);
                if ((r = watch_subscribe(&w, bus)))
                        return r;
        }
        if ((r = start_hands(bus, &a, episode, hands, n, files)))
                return r;
        if ((r = print_started(episode, a.task, hands, n, files, a.json)) || !a.follow)
                return r;
        for (unsigned i = 0; i < n; i++)
                snprintf(w.files[i], sizeof(w.files[i]), "%s", files[i]);
        return watch_run(&w, bus);
}

/* Every hand recording now (stop with no --hand). Return: 0, or 1 (printed). */
static int recording_hands(sd_bus *bus, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n) {
        char all[MAX_HANDS][HAND_NAME_MAX];
        unsigned n_all = 0, n = 0;
        int r;

        if ((r = list_hands(bus, all, &n_all)))
                return r;
        for (unsigned i = 0; i < n_all; i++) {
                struct hand_view v = {};
                if ((r = get_status(bus, all[i], &v)))
                        return r;
                if (streq(v.state, "recording") || streq(v.state, "warming"))
                        memcpy(hands[n++], all[i], HAND_NAME_MAX);
        }
        *ret_n = n;
        return 0;
}

/* Stop one hand's take and print or add what StopRecording said. Return: 0, or 1 (printed). */
static int stop_one(sd_bus *bus, const char *hand, json_object *takes) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        json_object *t, *summary = NULL;
        const char *file;
        int r;

        if ((r = stop_hand(bus, hand, &reply)))
                return r;
        sd_bus_message_rewind(reply, true);
        if (sd_bus_message_read(reply, "s", &file) < 0)
                return bus_error(NULL, -EBADMSG);
        if (!takes) {
                printf("%s\n", file);
                return print_summary(hand, reply);
        }
        if ((r = json_read_value(reply, &summary)) < 0)
                return json_parse_error(r);
        t = json_object_new_object();
        json_object_object_add(t, "hand", json_object_new_string(hand));
        json_object_object_add(t, "file", json_object_new_string(file));
        json_object_object_add(t, "summary", summary);
        json_object_array_add(takes, t);
        return 0;
}

int run_stop(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *takes = NULL;
        struct args a = {};
        char hands[MAX_HANDS][HAND_NAME_MAX];
        unsigned n = 0;
        int r, ret = 0;

        r = parse_args("stop", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl stop [--hand HAND|all]... [--json]\n\n"
                       "Stop the takes (with no --hand: every hand recording), wait until their files are\n"
                       "complete, and print each file and a summary. --json prints {takes:[{hand, file, summary}]}.\n");
                return 0;
        }
        if (r)
                return r;
        if ((r = connect_bus(&bus)))
                return r;
        r = a.n_hands || a.all_hands ? resolve_hands(bus, &a, hands, &n) : recording_hands(bus, hands, &n);
        if (r)
                return r;
        if (n == 0) {
                fprintf(stderr, "handrecctl: no hand is recording.\n");
                return 1;
        }
        if (a.json) {
                o = json_object_new_object();
                takes = json_object_new_array();
                json_object_object_add(o, "takes", takes);
        }
        for (unsigned i = 0; i < n; i++)
                ret |= stop_one(bus, hands[i], takes);
        if (a.json && json_print(o))
                return 1;
        return ret;
}
