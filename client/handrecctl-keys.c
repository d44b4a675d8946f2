/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-keys.c — the keyboard of `handrecctl record`: a key at a time, no Enter, nothing
 * echoed (what is typed does not break the live status line); a line of text, echoed, when one is
 * asked for (the task); and keys typed ahead forgotten before a question, so that a key meant for
 * the next episode never answers this one. Standard input that is not a terminal (a pipe, a
 * script) is read a byte at a time as keys, typed-ahead ones included; its end reads as 'q'.
 *
 * DESIGN: one thread. keys_wait() polls standard input and the bus together, so the status line
 * moves and the daemon's signals are handled while a key is awaited. Input is read into a small
 * buffer of our own (never stdio), so that poll() and what was already read agree. The
 * terminal's settings are saved once and restored by keys_mode(false) and at exit.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl.h"

static unsigned char in_buf[256];
static size_t in_len;
static bool in_eof;

static struct termios saved;
static bool saved_ok, raw_now;

static void restore_terminal(void) {
        if (saved_ok && raw_now)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        raw_now = false;
}

void keys_mode(bool keys) {
        struct termios t;

        if (!isatty(STDIN_FILENO))
                return;
        if (!saved_ok) {
                if (tcgetattr(STDIN_FILENO, &saved) < 0)
                        return;
                saved_ok = true;
                atexit(restore_terminal);
        }
        if (!keys) {
                restore_terminal();
                return;
        }
        t = saved;
        t.c_lflag &= ~(tcflag_t) (ICANON | ECHO); /* ISIG stays: Ctrl-C is still SIGINT */
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
                raw_now = true;
}

void keys_forget(void) {
        if (!isatty(STDIN_FILENO))
                return; /* a script's keys are meant in the order given */
        tcflush(STDIN_FILENO, TCIFLUSH);
        in_len = 0;
}

/* Read what standard input has. Return: 0, or -errno (-EINTR on Ctrl-C). */
static int fill(void) {
        ssize_t k = read(STDIN_FILENO, in_buf + in_len, sizeof(in_buf) - in_len);

        if (k < 0)
                return -errno;
        if (k == 0)
                in_eof = true;
        in_len += (size_t) k;
        return 0;
}

/* The next key read, if any. */
static bool take_key(int *ret) {
        if (in_len == 0) {
                if (!in_eof)
                        return false;
                *ret = 'q';
                return true;
        }
        *ret = in_buf[0];
        memmove(in_buf, in_buf + 1, --in_len);
        return true;
}

/* How long poll() may wait: until the bus' next timeout or @deadline_ns, at most a minute. */
static int poll_timeout(sd_bus *bus, int64_t deadline_ns) {
        uint64_t until = UINT64_MAX;
        int64_t left_ms = 60000;

        if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX)
                left_ms = MIN(left_ms, ((int64_t) until - now_ns(CLOCK_MONOTONIC) / 1000) / 1000);
        if (deadline_ns > 0)
                left_ms = MIN(left_ms, (deadline_ns - now_ns(CLOCK_MONOTONIC)) / 1000000 + 1);
        return left_ms < 0 ? 0 : (int) left_ms;
}

int keys_wait(struct watch *w, sd_bus *bus, bool until_done, int64_t deadline_ns, int *ret_key) {
        unsigned seen = watch_interrupted();

        for (;;) {
                struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = sd_bus_get_fd(bus)}};
                int r;

                if (take_key(ret_key))
                        return 1;
                while ((r = sd_bus_process(bus, NULL)) > 0)
                        ;
                if (r < 0 || w->lost) {
                        if (!w->lost)
                                fprintf(stderr, "handrecctl: lost the bus: %s\n", strerror(-r));
                        return -1;
                }
                if (watch_interrupted() != seen || (until_done && watch_done(w)) ||
                    (deadline_ns > 0 && now_ns(CLOCK_MONOTONIC) >= deadline_ns))
                        return 0;
                p[1].events = (short) sd_bus_get_events(bus);
                r = poll(p, 2, poll_timeout(bus, deadline_ns));
                if (r < 0 && errno != EINTR)
                        return fprintf(stderr, "handrecctl: poll: %m\n"), -1;
                if (r > 0 && (p[0].revents & (POLLIN | POLLHUP)) && (r = fill()) < 0 && r != -EINTR)
                        return fprintf(stderr, "handrecctl: cannot read the terminal: %s\n", strerror(-r)), -1;
        }
}

int keys_read_line(char *buf, size_t len) {
        size_t n = 0;
        int key, r = 0;

        if (len == 0)
                return -EINVAL;
        keys_mode(false); /* the terminal edits the line and echoes it */
        for (;;) {
                if (in_len == 0) {
                        if (in_eof || (r = fill()) < 0)
                                break; /* the end of input, an error, or Ctrl-C (-EINTR) */
                        continue;
                }
                take_key(&key);
                if (key == '\n' || key == '\r')
                        break;
                if (n + 1 < len)
                        buf[n++] = (char) key;
        }
        buf[n] = 0;
        keys_mode(true);
        return r < 0 ? r : (int) n;
}
