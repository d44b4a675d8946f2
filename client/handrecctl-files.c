/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-files.c — `handrecctl check FILE...` and `handrecctl recover FILE...`: commands on
 * take files themselves (lib/recover.c), which need no daemon. check exits 1 with the reason
 * when a file is not good; recover does by hand what handrecd does at start.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "../lib/bus-names.h"
#include "../lib/recover.h"
#include "../lib/util.h"
#include "handrecctl.h"

static bool wants_help(int argc, char *argv[]) {
        for (int i = 1; i < argc; i++)
                if (streq(argv[i], "-h") || streq(argv[i], "--help"))
                        return true;
        return false;
}

static int check_one(const char *path) {
        char error[RECOVER_ERROR_MAX];
        struct take_check c;
        int r = recover_check(path, &c, NULL, NULL, error, sizeof(error));

        if (r == -EBADMSG && c.problem[0]) {
                printf("%s: BAD (%s): %llu good frames of %llu; %s\n", path, c.status, (unsigned long long) c.frames,
                       (unsigned long long) c.index_frames, c.problem);
                return 1;
        }
        if (r < 0) {
                printf("%s: BAD: %s\n", path, error);
                return 1;
        }
        printf("%s: OK (%s): %llu frames, every JPEG decodes, index consistent, timestamps increasing\n", path,
               c.status, (unsigned long long) c.frames);
        return 0;
}

int run_check(int argc, char *argv[]) {
        int bad = 0;

        if (wants_help(argc, argv) || argc < 2) {
                printf("Usage: handrecctl check FILE...\n\n"
                       "Verify takes frame by frame: the index is consistent, every JPEG decodes, timestamps\n"
                       "increase. Exits 1 and says why when a file is not good. A take being recorded is read\n"
                       "as it stands.\n");
                return argc < 2 ? 2 : 0;
        }
        for (int i = 1; i < argc; i++)
                bad |= check_one(argv[i]);
        return bad;
}

/* Whether a running handrecd records @path now (a hand's current take). Its SWMR flags are those a
 * crash leaves, so recovery alone would cut the file under its writer. Asked quietly, and never
 * starting the daemon: no bus or no daemon means nothing is being recorded by it. */
static bool being_recorded(const char *path) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        char real[PATH_MAX];
        const char *hand;
        bool found = false;

        if (!realpath(path, real) || (arg_user ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus)) < 0 ||
            sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "ListHands") < 0 ||
            sd_bus_message_set_auto_start(m, false) < 0 || sd_bus_call(bus, m, 0, NULL, &reply) < 0 ||
            sd_bus_message_enter_container(reply, 'a', "s") < 0)
                return false;
        while (!found && sd_bus_message_read(reply, "s", &hand) > 0) {
                _cleanup_(freep) char *state = NULL, *file = NULL;
                char object[128], other[PATH_MAX];

                snprintf(object, sizeof(object), HAND_PATH_PREFIX "%s", hand);
                if (sd_bus_get_property_string(bus, BUS_NAME, object, HAND_INTERFACE, "State", NULL, &state) >= 0 &&
                    sd_bus_get_property_string(bus, BUS_NAME, object, HAND_INTERFACE, "File", NULL, &file) >= 0)
                        found = (streq(state, "warming") || streq(state, "recording") || streq(state, "stopping")) &&
                                realpath(file, other) && streq(other, real);
        }
        return found;
}

static int recover_one(const char *path) {
        char error[RECOVER_ERROR_MAX];
        struct take_check c;
        int r;

        if (being_recorded(path)) {
                fprintf(stderr,
                        "handrecctl: %s is being recorded by handrecd: there is nothing to recover. Stop the take "
                        "first (handrecctl stop); a take a crash left is recovered when handrecd starts.\n",
                        path);
                return 1;
        }
        r = recover_file(path, &c, NULL, NULL, error, sizeof(error));
        if (r < 0) {
                fprintf(stderr, "handrecctl: %s\n", error);
                return 1;
        }
        if (r == 0)
                printf("%s: nothing to do (status %s)\n", path, c.status[0] ? c.status : "unknown");
        else
                printf("%s: recovered: %llu frames kept of %llu%s%s\n", path, (unsigned long long) c.frames,
                       (unsigned long long) c.index_frames, c.problem[0] ? "; cut at " : "", c.problem);
        return 0;
}

int run_recover(int argc, char *argv[]) {
        int bad = 0;

        if (wants_help(argc, argv) || argc < 2) {
                printf("Usage: handrecctl recover FILE...\n\n"
                       "Make a take that a crash left marked \"recording\" readable by any HDF5 reader: cut to\n"
                       "the frames that are complete and decode, marked status=\"recovered\",\n"
                       "stop_reason=\"crash\". handrecd does this by itself when it starts. Needs write access\n"
                       "to the file (run it as the handrec user or root).\n");
                return argc < 2 ? 2 : 0;
        }
        for (int i = 1; i < argc; i++)
                bad |= recover_one(argv[i]);
        return bad;
}
