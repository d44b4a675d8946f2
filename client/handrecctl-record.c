/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-record.c — `handrecctl record`: an interactive recording session in a terminal.
 * Enter starts an episode (a take on each chosen hand, one episode id, the --task text), Enter
 * stops it, then k keeps it or d discards it (DiscardTake; Enter keeps); q quits. The live
 * status line shows while recording; kept episodes are numbered. Ctrl-C while recording stops
 * the takes, waits for their files, keeps them and ends the session; a second Ctrl-C leaves them
 * to handrecd (handrecctl-watch.c).
 *
 * DESIGN: one thread; poll() waits on standard input and the bus together, so the status line
 * moves while Enter is awaited. Standard input is read through a small line buffer of our own
 * (never stdio), so poll() and what was already read agree.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl.h"

/* ---- standard input, a line at a time --------------------------------------------------- */

static char in_buf[512];
static size_t in_len;
static bool in_eof;

/* Take one line out of the buffer into @line, if there is one. */
static bool take_line(char *line, size_t size) {
        char *nl = memchr(in_buf, '\n', in_len);
        size_t n;

        if (!nl && !(in_eof && in_len))
                return false;
        n = nl ? (size_t) (nl - in_buf) : in_len;
        snprintf(line, size, "%.*s", (int) n, in_buf);
        in_len -= nl ? n + 1 : n;
        memmove(in_buf, in_buf + (nl ? n + 1 : n), in_len);
        return true;
}

/* Read what standard input has. Return: 0, or -errno (-EINTR on Ctrl-C). */
static int fill_input(void) {
        ssize_t k;

        if (in_len == sizeof(in_buf))
                in_len = 0; /* a line longer than any answer: forget it */
        k = read(STDIN_FILENO, in_buf + in_len, sizeof(in_buf) - in_len);
        if (k < 0)
                return -errno;
        if (k == 0)
                in_eof = true;
        in_len += (size_t) k;
        return 0;
}

/*
 * Handle the bus while waiting for a line of input. Return: 1 with @line, 0 when @w's takes
 * have all ended or Ctrl-C came (no line), or 1 on end of input with line "q"; -1 when printed.
 */
static int wait_line(struct watch *w, sd_bus *bus, bool until_done, char *line, size_t size) {
        unsigned seen = watch_interrupted();

        for (;;) {
                struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = sd_bus_get_fd(bus)}};
                uint64_t until = UINT64_MAX;
                int r, timeout = -1;

                if (take_line(line, size))
                        return 1;
                if (in_eof) {
                        snprintf(line, size, "q");
                        return 1;
                }
                while ((r = sd_bus_process(bus, NULL)) > 0)
                        ;
                if (r < 0 || w->lost)
                        return w->lost ? -1 : (fprintf(stderr, "handrecctl: lost the bus: %s\n", strerror(-r)), -1);
                if (watch_interrupted() != seen || (until_done && watch_done(w)))
                        return 0;
                p[1].events = (short) sd_bus_get_events(bus);
                if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX) {
                        int64_t left = ((int64_t) until - now_ns(CLOCK_MONOTONIC) / 1000) / 1000;
                        timeout = left < 0 ? 0 : (int) MIN(left, 60000);
                }
                r = poll(p, 2, timeout);
                if (r < 0 && errno != EINTR)
                        return fprintf(stderr, "handrecctl: poll: %m\n"), -1;
                if (r > 0 && (p[0].revents & (POLLIN | POLLHUP)) && (r = fill_input()) < 0 && r != -EINTR)
                        return fprintf(stderr, "handrecctl: cannot read the terminal: %s\n", strerror(-r)), -1;
        }
}

/* ---- the terminal ----------------------------------------------------------------------- */

static struct termios saved_tio;
static bool tio_saved;

/* Keystrokes are not echoed while recording, so Enter does not break the live line. */
static void set_echo(bool on) {
        struct termios t;

        if (!isatty(STDIN_FILENO))
                return;
        if (!tio_saved && tcgetattr(STDIN_FILENO, &saved_tio) == 0)
                tio_saved = true;
        if (!tio_saved)
                return;
        t = saved_tio;
        if (!on)
                t.c_lflag &= ~(tcflag_t) ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

/* ---- one episode ------------------------------------------------------------------------ */

struct session {
        sd_bus *bus;
        const struct args *a;
        struct watch w;
        char hands[MAX_HANDS][HAND_NAME_MAX], files[MAX_HANDS][PATH_MAX];
        unsigned n, kept, discarded;
};

/* Wait until every take has ended; a second Ctrl-C gives up. Return: 0, or 1 (left to handrecd). */
static int wait_stopped(struct session *s) {
        unsigned seen = watch_interrupted();
        int r;

        while (!watch_done(&s->w) && !s->w.lost) {
                if (watch_interrupted() != seen) {
                        fprintf(stderr, "\nhandrecctl: interrupted again; left to handrecd, which finishes them:\n");
                        for (unsigned i = 0; i < s->n; i++)
                                if (!s->w.ended[i])
                                        fprintf(stderr, "  %s: %s\n", s->hands[i], s->files[i]);
                        return 1;
                }
                if ((r = watch_pump(&s->w, s->bus, UINT64_MAX)))
                        return r;
        }
        return s->w.lost ? 1 : 0;
}

/* Ask k/d; discard on d. Return: 0, or 1 (printed). */
static int keep_or_discard(struct session *s, unsigned number) {
        char line[64];
        int r;

        printf("Keep episode %u? [K/d] ", number);
        fflush(stdout);
        r = wait_line(&s->w, s->bus, false, line, sizeof(line));
        if (r < 0)
                return 1;
        if (r == 0 || (line[0] != 'd' && line[0] != 'D')) {
                s->kept++;
                printf("kept episode %u: %u file%s\n", number, s->n, s->n > 1 ? "s" : "");
                return 0;
        }
        for (unsigned i = 0; i < s->n; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
                if ((r = new_call(s->bus, "DiscardTake", &m)))
                        return r;
                if (sd_bus_message_append(m, "s", s->files[i]) < 0 || (r = call(s->bus, m, 0, &reply)))
                        return 1;
                printf("discarded %s\n", s->files[i]);
        }
        s->discarded++;
        return 0;
}

/* Start an episode, follow it until Enter, its end or Ctrl-C, stop it. Return: 0, 1, or 130 (Ctrl-C). */
static int record_episode(struct session *s) {
        char episode[80], line[64];
        int r;

        make_episode_id(episode, sizeof(episode));
        s->w.n = 0;
        for (unsigned i = 0; i < s->n; i++)
                watch_add(&s->w, s->hands[i], NULL);
        if ((r = start_hands(s->bus, s->a, episode, s->hands, s->n, s->files)))
                return r;
        for (unsigned i = 0; i < s->n; i++)
                memcpy(s->w.files[i], s->files[i], PATH_MAX);
        printf("recording episode %s (Enter stops it)\n", episode);
        set_echo(false);
        for (unsigned i = 0; i < s->n; i++)
                get_status(s->bus, s->hands[i], &s->w.views[i]);
        unsigned seen = watch_interrupted();
        r = wait_line(&s->w, s->bus, true, line, sizeof(line));
        if (r >= 0 && !watch_done(&s->w)) {
                if (watch_interrupted() != seen)
                        fprintf(stderr, "\nhandrecctl: stopping the takes and waiting for their files to be complete "
                                        "(Ctrl-C again to leave them to handrecd)...\n");
                r = watch_stop_all(&s->w, s->bus) ?: wait_stopped(s);
        } else
                r = r < 0 ? 1 : 0;
        set_echo(true);
        watch_end_line(&s->w);
        for (unsigned i = 0; i < s->n; i++)
                printf("  %s: %s (%llu frames, %.1fs)\n", s->hands[i], s->files[i],
                       (unsigned long long) s->w.views[i].written, s->w.views[i].duration);
        if (r)
                return r;
        return watch_interrupted() != seen ? 130 : 0;
}

static int record_session(struct session *s) {
        char line[64];
        int r;

        for (;;) {
                printf("\nEpisode %u: press Enter to start recording, q to quit. ", s->kept + 1);
                fflush(stdout);
                r = wait_line(&s->w, s->bus, false, line, sizeof(line));
                if (r <= 0)
                        return r < 0 ? 1 : 0; /* Ctrl-C while idle: end the session */
                if (line[0] == 'q' || line[0] == 'Q')
                        return 0;
                r = record_episode(s);
                if (r == 130) {
                        s->kept++;
                        printf("kept episode %u (interrupted)\n", s->kept);
                        return 0;
                }
                if (r || (r = keep_or_discard(s, s->kept + 1)))
                        return r;
        }
}

int run_record(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {.quality = -1, .rectify = -1};
        struct session s = {.a = &a};
        int r;

        r = parse_args("record", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl record [--hand HAND|all]... [--task TEXT] [--label LABEL] [--duration S]\n\n"
                       "Record episodes one after another: Enter starts recording on every chosen hand (every\n"
                       "configured hand when no --hand is given), Enter stops, then k keeps the episode or d\n"
                       "discards it (Enter keeps); q quits. The status line is shown live while recording, and\n"
                       "kept episodes are numbered. Ctrl-C while recording stops and keeps the episode and ends\n"
                       "the session; a second Ctrl-C leaves the takes to handrecd.\n");
                return 0;
        }
        if (r)
                return r;
        s.w = (struct watch){.tty = isatty(STDOUT_FILENO), .stop_on_interrupt = true, .quiet = true};
        if ((r = connect_bus(&bus)) || (r = resolve_hands(bus, &a, s.hands, &s.n)))
                return r;
        s.bus = bus;
        watch_catch_interrupts();
        if ((r = watch_subscribe(&s.w, bus)))
                return r;
        printf("Recording on %s%s%s%s%s.\n", s.hands[0], s.n > 1 ? " and " : "", s.n > 1 ? s.hands[1] : "",
               a.task ? "; task: " : "", a.task ?: "");
        r = record_session(&s);
        printf("\n%u episode%s kept, %u discarded.\n", s.kept, s.kept == 1 ? "" : "s", s.discarded);
        return r;
}
