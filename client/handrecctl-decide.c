/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-decide.c — the operator's decisions after the fact: `handrecctl discard FILE |
 * --last | --episode ID` (handrecd deletes its takes: DiscardTake, or DecideEpisode with keep
 * false for an episode, which its manifest then records) and `handrecctl keep --episode ID
 * [--success|--failure] [--note TEXT]` (DecideEpisode). On a terminal, a discard asks first
 * (-y does not); a script's does not.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl.h"

/* DiscardTake(@file). Return: 0, or 1 (printed). */
static int discard_one(sd_bus *bus, const char *file) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if ((r = new_call(bus, "DiscardTake", &m)))
                return r;
        r = sd_bus_message_append(m, "s", file);
        if (r < 0)
                return bus_error(NULL, r);
        if ((r = call(bus, m, 0, &reply)))
                return r;
        printf("discarded %s\n", file);
        return 0;
}

/* The takes ListTakes gives for @q, into @files (at most @max). Return: 0, or 1 (printed). */
static int takes_of(sd_bus *bus, const struct takes_query *q, char files[][PATH_MAX], unsigned max, unsigned *ret_n,
                    struct take_view *ret_first) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct take_view t;
        unsigned n = 0;
        int r;

        if ((r = list_takes(bus, q, &reply)))
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sa{sv})");
        while (r >= 0 && n < max && (r = next_take(reply, &t)) > 0) {
                if (streq(t.status, "recording")) {
                        fprintf(stderr, "handrecctl: %s is being recorded; stop it first.\n", t.file);
                        return 1;
                }
                if (n == 0 && ret_first)
                        *ret_first = t;
                snprintf(files[n++], PATH_MAX, "%s", t.file);
        }
        if (r < 0)
                return json_parse_error(r);
        *ret_n = n;
        return 0;
}

/* The newest take of @hand (NULL: any), and the other takes of its episode. Return: 0, or 1. */
static int last_episode(sd_bus *bus, const char *hand, char files[MAX_HANDS][PATH_MAX], unsigned *ret_n) {
        struct take_view first = {};
        unsigned n = 0;
        int r;

        r = takes_of(bus, &(struct takes_query){.hand = hand, .limit = 1}, files, 1, &n, &first);
        if (r == 0 && n == 0) {
                fprintf(stderr, "handrecctl: there is no take to discard.\n");
                return 1;
        }
        if (r == 0 && first.episode[0])
                r = takes_of(bus, &(struct takes_query){.episode = first.episode, .limit = 2 * MAX_HANDS}, files,
                             MAX_HANDS, &n, NULL);
        *ret_n = n;
        return r;
}

/* DecideEpisode(@episode, keep @keep, success @success (-1: not said), @note). Return: 0, or 1 (printed). */
static int decide_episode(sd_bus *bus, const char *episode, bool keep, int success, const char *note) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if ((r = new_call(bus, "DecideEpisode", &m)))
                return r;
        r = sd_bus_message_append(m, "s", episode);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "keep", "b", keep);
        if (r >= 0 && success >= 0)
                r = sd_bus_message_append(m, "{sv}", "success", "b", success);
        if (r >= 0 && note)
                r = sd_bus_message_append(m, "{sv}", "note", "s", note);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return bus_error(NULL, r);
        return call(bus, m, 0, &reply);
}

/* @file as handrecd will see it: absolute (relative to the current folder otherwise). */
static void absolute_path(const char *file, char *buf, size_t len) {
        char cwd[PATH_MAX];

        if (file[0] == '/' || !getcwd(cwd, sizeof(cwd)))
                snprintf(buf, len, "%s", file);
        else if (snprintf(buf, len, "%s/%s", cwd, file) >= (int) len)
                snprintf(buf, len, "%s", file); /* too long: handrecd will say it is no take of its */
}

/* discard --episode ID: its takes, asked about on a terminal, then DecideEpisode. Return: 0, 1. */
static int discard_episode(sd_bus *bus, const struct args *a) {
        char files[2 * MAX_HANDS][PATH_MAX], question[PATH_MAX + 256];
        unsigned n = 0;
        int r;

        r = takes_of(bus, &(struct takes_query){.episode = a->episode, .limit = 2 * MAX_HANDS}, files, 2 * MAX_HANDS,
                     &n, NULL);
        if (r)
                return r;
        snprintf(question, sizeof(question), "Discard episode %s: delete its %u take%s%s%s%s%s?", a->episode, n,
                 n == 1 ? "" : "s", n ? " (" : "", n ? files[0] : "", n > 1 ? ", ..." : "", n ? ")" : "");
        if (!confirm(a->yes, question))
                return 1;
        if ((r = decide_episode(bus, a->episode, false, -1, a->note)))
                return r;
        for (unsigned i = 0; i < n; i++)
                printf("discarded %s\n", files[i]);
        printf("episode %s discarded\n", a->episode);
        return 0;
}

static int discard_usage(void) {
        printf("Usage: handrecctl discard FILE [-y]\n"
               "       handrecctl discard --last [--hand HAND] [-y]\n"
               "       handrecctl discard --episode ID [-y]\n\n"
               "Delete finished takes: handrecd deletes them, as the files are its own. Only takes\n"
               "handrecd wrote in its output folder, and not one being recorded. --last discards the\n"
               "newest take with the other hand's take of the same episode; --episode every take of the\n"
               "episode, which its manifest then records as discarded. On a terminal it asks first; -y\n"
               "(--yes) does not. Needs the same right as start and stop (root, or group handrec).\n");
        return 0;
}

int run_discard(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char files[MAX_HANDS][PATH_MAX], question[2 * PATH_MAX + 64];
        struct args a = {};
        unsigned n = 0;
        int r, ret = 0;

        r = parse_args("discard", argc, argv, &a);
        if (r)
                return r == -1 ? discard_usage() : r;
        if (!!a.file + a.last + !!a.episode != 1)
                return usage_error("discard", "give one of a FILE, --last or --episode ID");
        if (!a.last && a.n_hands)
                return usage_error("discard", "--hand goes with --last");
        if ((r = connect_bus(&bus)))
                return r;
        if (a.episode)
                return discard_episode(bus, &a);
        if (a.file) {
                absolute_path(a.file, files[0], sizeof(files[0]));
                n = 1;
        } else if ((r = last_episode(bus, a.all_hands ? NULL : a.hand, files, &n)))
                return r;
        snprintf(question, sizeof(question), "Delete %s%s%s?", files[0], n > 1 ? " and " : "", n > 1 ? files[1] : "");
        if (!confirm(a.yes, question))
                return 1;
        for (unsigned i = 0; i < n; i++)
                ret |= discard_one(bus, files[i]);
        return ret;
}

int run_keep(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {.success = -1};
        int r;

        r = parse_args("keep", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl keep --episode ID [--success|--failure] [--note TEXT]\n\n"
                       "Record that the episode is kept, and whether it was a success or a failure, in its\n"
                       "manifest (DecideEpisode): what record asks after each episode, for one left\n"
                       "undecided (handrecd stopped, Ctrl-C) or decided again.\n");
                return 0;
        }
        if (r)
                return r;
        if (!a.episode)
                return usage_error("keep", "--episode ID is required (handrecctl takes lists the episodes)");
        if ((r = connect_bus(&bus)) || (r = decide_episode(bus, a.episode, true, a.success, a.note)))
                return r;
        printf("episode %s kept%s\n", a.episode,
               a.success == 1   ? " as a success"
               : a.success == 0 ? " as a failure"
                                : "");
        return 0;
}
