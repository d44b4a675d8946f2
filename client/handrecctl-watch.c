/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-watch.c — following takes live: `handrecctl watch`, `start --follow` and `record`.
 * Owns the subscription to the daemon's signals (PropertiesChanged, RecordingStopped,
 * NameOwnerChanged), the redrawn status line, the loop that dispatches signals until every
 * watched take has ended, the daemon leaves, or Ctrl-C, and what Ctrl-C does: nothing to the
 * takes for `watch`; for the commands that started them, a first Ctrl-C stops them and waits for
 * their files to be complete, a second leaves them to the daemon.
 *
 * DESIGN: one thread. SIGINT and SIGTERM only count (watch_interrupted()); the count is read
 * between two dispatches, and ppoll() in sd_bus_wait() returns EINTR when one arrives.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "../lib/bus-names.h"
#include "../lib/util.h"
#include "handrecctl.h"

#define STOP_TIMEOUT_USEC (120 * USEC_PER_SEC)

void watch_add(struct watch *w, const char *hand, const char *file) {
        /* a name longer than any hand's cannot be one: the daemon has already refused it */
        if (w->n >= MAX_HANDS || strlen(hand) >= sizeof(w->views[0].name))
                return;
        memcpy(w->views[w->n].name, hand, strlen(hand) + 1);
        snprintf(w->files[w->n], sizeof(w->files[0]), "%s", file ?: "");
        w->ended[w->n++] = false;
}

bool watch_done(const struct watch *w) {
        for (unsigned i = 0; i < w->n; i++)
                if (!w->ended[i])
                        return false;
        return true;
}

/* The terminal's width less one column (a line as wide as the terminal wraps in some); 80 when unknown. */
static size_t terminal_width(void) {
        struct winsize ws = {};

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
                return ws.ws_col - 1u;
        return 79;
}

/*
 * A terminal: every hand on one line when their whole lines fit side by side, else a line each,
 * each fitted to the width (status_line_fit()); redrawn in place: up to the first line drawn
 * last, cleared to the end of the screen, drawn again. Never wider than the terminal, so that no
 * line wraps and the cursor knows where the first one is.
 */
static void draw_tty(struct watch *w) {
        char all[1024] = "", line[512];
        size_t width = terminal_width();
        unsigned lines = 1;

        for (unsigned i = 0; i < w->n; i++)
                snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? "   " : "",
                         view_line(&w->views[i], line, sizeof(line)));
        if (strlen(all) > width) {
                all[0] = 0;
                for (unsigned i = 0; i < w->n; i++)
                        snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? "\n" : "",
                                 view_line_fit(&w->views[i], line, sizeof(line), width));
                lines = w->n;
        }
        if (w->drawn_lines > 1)
                printf("\033[%uA", w->drawn_lines - 1);
        printf("\r\033[J%s", all);
        w->drawn_lines = lines;
}

static void watch_draw(struct watch *w, bool force) {
        int64_t now = now_ns(CLOCK_MONOTONIC);

        /* a terminal gets a live line; a pipe or file gets at most one line a second */
        if (!w->tty && !force && now - w->last_print_ns < NSEC_PER_SEC)
                return;
        w->last_print_ns = now;
        if (w->tty)
                draw_tty(w);
        else {
                char line[512];
                for (unsigned i = 0; i < w->n; i++)
                        printf("%s%s", i ? "   " : "", view_line(&w->views[i], line, sizeof(line)));
                printf("\n");
        }
        fflush(stdout);
}

void watch_end_line(struct watch *w) {
        if (w->tty && w->drawn_lines)
                printf("\n");
        w->drawn_lines = 0;
}

static int watch_find(struct watch *w, const char *name) {
        for (unsigned i = 0; i < w->n; i++)
                if (streq(w->views[i].name, name))
                        return (int) i;
        return -1;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        struct watch *w = userdata;
        const char *path = sd_bus_message_get_path(m), *iface;
        int i;

        if (!path || strncmp(path, HAND_PATH_PREFIX, strlen(HAND_PATH_PREFIX)) != 0)
                return 0;
        i = watch_find(w, path + strlen(HAND_PATH_PREFIX));
        if (i < 0 || sd_bus_message_read(m, "s", &iface) < 0 || !streq(iface, HAND_INTERFACE))
                return 0;
        if (read_properties(m, &w->views[i]) >= 0 && !w->ended[i])
                watch_draw(w, false);
        return 0;
}

static int on_stopped(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        struct watch *w = userdata;
        const char *hand, *file, *reason;
        int i;

        if (sd_bus_message_read(m, "sss", &hand, &file, &reason) < 0)
                return 0;
        i = watch_find(w, hand);
        if (i < 0 || w->ended[i] || (w->files[i][0] && !streq(file, w->files[i])))
                return 0;
        snprintf(w->views[i].state, sizeof(w->views[i].state), "stopped");
        snprintf(w->files[i], sizeof(w->files[i]), "%s", file);
        w->ended[i] = true;
        if (read_summary(m, &w->ends[i]))
                snprintf(w->ends[i].reason, sizeof(w->ends[i].reason), "%s", reason);
        watch_draw(w, true);
        if (w->quiet)
                return 0;
        watch_end_line(w);
        printf("%s\n", file);
        print_take_summary(hand, &w->ends[i]);
        fflush(stdout);
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        struct watch *w = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) >= 0 && streq(name, BUS_NAME) && !*new) {
                watch_end_line(w);
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

static volatile sig_atomic_t interrupts = 0;
static void on_interrupt(int sig _unused_) {
        interrupts++;
}

void watch_catch_interrupts(void) {
        struct sigaction sa = {.sa_handler = on_interrupt}; /* no SA_RESTART: a blocking read returns EINTR */

        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

unsigned watch_interrupted(void) {
        return (unsigned) interrupts;
}

int watch_pump(struct watch *w _unused_, sd_bus *bus, uint64_t usec) {
        int r = sd_bus_process(bus, NULL);

        if (r == 0)
                r = sd_bus_wait(bus, usec);
        if (r < 0 && r != -EINTR) {
                fprintf(stderr, "handrecctl: lost the bus connection: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

/* StopRecording's reply: an error (the take ended on its own meanwhile, say) ends the wait for it. */
static int on_stop_reply(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        struct watch_stop *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e && !s->w->ended[s->i]) {
                fprintf(stderr, "handrecctl: %s\n", e->message ?: e->name);
                s->w->ended[s->i] = true;
        }
        return 0;
}

int watch_stop_all(struct watch *w, sd_bus *bus) {
        for (unsigned i = 0; i < w->n; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                int r;

                if (w->ended[i])
                        continue;
                w->stops[i] = (struct watch_stop){w, i};
                if ((r = new_call(bus, "StopRecording", &m)))
                        return r;
                r = sd_bus_message_append(m, "s", w->views[i].name);
                if (r >= 0)
                        r = sd_bus_call_async(bus, NULL, m, on_stop_reply, &w->stops[i], STOP_TIMEOUT_USEC);
                if (r < 0)
                        return bus_error(NULL, r);
        }
        return 0;
}

/* The second Ctrl-C: say which takes go on without us. Return: 1. */
static int leave_to_daemon(struct watch *w) {
        fprintf(stderr, "\nhandrecctl: interrupted again; left to handrecd, which finishes them on its own:\n");
        for (unsigned i = 0; i < w->n; i++)
                if (!w->ended[i])
                        fprintf(stderr, "  %s: %s\n", w->views[i].name, w->files[i][0] ? w->files[i] : "(its take)");
        return 1;
}

/* Dispatch signals until every watched take ends, the daemon leaves, or Ctrl-C. Return: 0, or 1. */
static int watch_loop(struct watch *w, sd_bus *bus) {
        unsigned seen = watch_interrupted();
        int r;

        while (!watch_done(w) && !w->lost) {
                if (watch_interrupted() != seen) {
                        seen = watch_interrupted();
                        watch_end_line(w);
                        if (!w->stop_on_interrupt)
                                return 0;
                        if (seen > 1)
                                return leave_to_daemon(w);
                        fprintf(stderr,
                                "handrecctl: stopping the take%s and waiting for %s files to be complete "
                                "(Ctrl-C again to leave them to handrecd)...\n",
                                w->n > 1 ? "s" : "", w->n > 1 ? "their" : "its");
                        if ((r = watch_stop_all(w, bus)))
                                return r;
                }
                if ((r = watch_pump(w, bus, UINT64_MAX)))
                        return r;
        }
        return w->lost ? 1 : 0;
}

/*
 * For `watch` (no take named): wait for the hands recording now, or when none is, for the next
 * take of each watched hand.
 */
static void watch_pick_takes(struct watch *w) {
        bool any = false;

        for (unsigned i = 0; i < w->n; i++)
                any |= streq(w->views[i].state, "recording") || streq(w->views[i].state, "warming") ||
                       streq(w->views[i].state, "stopping");
        for (unsigned i = 0; i < w->n && any; i++)
                if (streq(w->views[i].state, "recording") || streq(w->views[i].state, "warming") ||
                    streq(w->views[i].state, "stopping"))
                        memcpy(w->files[i], w->views[i].file, sizeof(w->files[i]));
                else
                        w->ended[i] = true;
}

/* Whether a watched take ended for a fault (device-lost, disk-full, io-error, or its episode
 * partner's: partner-stopped): said, and 1, the exit status. A replay's end and handrecd's
 * shutdown are no fault of the take's: its file is whole and as far as its input went. */
static int watch_faults(const struct watch *w) {
        int r = 0;

        for (unsigned i = 0; i < w->n; i++)
                if (w->ended[i] && summary_fault(&w->ends[i])) {
                        fprintf(stderr, "handrecctl: the %s hand's take ended for a fault (%s): %s\n", w->views[i].name,
                                w->ends[i].reason, w->files[i]);
                        r = 1;
                }
        return r;
}

/* Read each watched hand's state, show it, and follow it. Call after watch_subscribe(). */
int watch_run(struct watch *w, sd_bus *bus) {
        bool named = false;
        int r;

        watch_catch_interrupts();
        for (unsigned i = 0; i < w->n; i++) {
                named |= w->files[i][0] != 0;
                if ((r = get_status(bus, w->views[i].name, &w->views[i])))
                        return r;
        }
        if (!named)
                watch_pick_takes(w);
        watch_draw(w, true);
        return watch_loop(w, bus) ?: watch_faults(w);
}

int run_watch(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct watch w = {.tty = isatty(STDOUT_FILENO)};
        struct args a = {};
        char hands[MAX_HANDS][HAND_NAME_MAX];
        unsigned n = 0;
        int r;

        r = parse_args("watch", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl watch [--hand HAND]...\n\n"
                       "Show the status line live until the takes being recorded end (when none is, until\n"
                       "each watched hand's next take ends), then print each file and its summary. Every\n"
                       "configured hand when no --hand is given. Ctrl-C stops watching, not the takes.\n");
                return 0;
        }
        if (r)
                return r;
        if ((r = connect_bus(&bus)) || (r = resolve_hands(bus, &a, hands, &n)))
                return r;
        for (unsigned i = 0; i < n; i++)
                watch_add(&w, hands[i], NULL);
        if ((r = watch_subscribe(&w, bus)))
                return r;
        return watch_run(&w, bus);
}
