/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-watch.c — following takes live: `handrecctl watch` and `handrecctl start --follow`.
 * Owns the subscription to the daemon's signals (PropertiesChanged, RecordingStopped,
 * NameOwnerChanged), the redrawn status line, and the loop that dispatches signals until the
 * take ends, the daemon leaves, or Ctrl-C.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "../daemon/bus-names.h"
#include "../daemon/util.h"
#include "handrecctl.h"

void watch_add(struct watch *w, const char *hand) {
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
int watch_subscribe(struct watch *w, sd_bus *bus) {
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
int watch_run(struct watch *w, sd_bus *bus) {
        int r;

        for (unsigned i = 0; i < w->n; i++)
                if ((r = get_status(bus, w->views[i].name, &w->views[i])))
                        return r;
        watch_draw(w, true);
        return watch_loop(w, bus);
}

int run_watch(int argc, char *argv[]) {
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
