/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-preview.c — `handrecctl preview`: one OpenPreview per chosen hand, served over HTTP
 * (the page, the MJPEG streams, snapshots, the status lines) until Ctrl-C, SIGTERM, or the
 * daemon ending a preview; or, with --output -, one hand's JPEGs back to back on standard output.
 * This file is the main thread: options, the previews, the status lines, the signals (the other
 * threads are described in handrecctl-preview.h).
 */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl-preview.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define STATUS_INTERVAL_NS NSEC_PER_SEC

static void preview_help(void) {
        printf("Usage: handrecctl preview [--hand left|right]... [--listen ADDRESS:PORT] [--allow-host NAME]...\n"
               "                          [--token-file FILE] [--fps F] [--max-width PIXELS] [--rectified|--raw]\n"
               "                          [--guides] [--output -]\n\n"
               "Show the cameras of the running daemon live, without disturbing a take, to aim and focus them.\n"
               "Serves, at the URL it prints (http://%s/?token=TOKEN unless --listen says otherwise):\n"
               "  /                       every chosen hand side by side, with its status line\n"
               "  /stream?hand=NAME       the hand's frames as multipart MJPEG (browsers, ffplay, mpv)\n"
               "  /snapshot.jpg?hand=NAME the latest frame\n"
               "  /status.json?hand=NAME  its status line and the latest frame's size and number\n"
               "Only for whoever started it: each request needs the token, new at each start, in its URL\n"
               "(/stream?hand=NAME&token=TOKEN for ffplay, mpv, curl) or in the cookie the page sets, and a Host\n"
               "naming this machine as the preview listens (not another site's name: DNS rebinding).\n"
               "It listens on this machine only unless told otherwise; on a board without a screen:\n"
               "  ssh -L 8080:localhost:8080 board handrecctl preview   and open the URL it prints\n\n"
               "  --hand H          a hand to show (may be given twice; default: every hand)\n"
               "  --listen A:P      where to serve (0.0.0.0:8080: the network; port 0: any free port)\n"
               "  --allow-host NAME answer to NAME too (may be given again): the name or address a browser\n"
               "                    uses for this machine beyond 127.0.0.1, localhost, [::1], the --listen\n"
               "                    address and the address it reached, such as board.local\n"
               "  --token-file FILE keep the token in FILE (made, mode 0600, if it is missing): the same at\n"
               "                    every start, and not printed\n"
               "  --fps F           frames a second, 0.5 to 30 (default 10)\n"
               "  --max-width N     the image's width at most, both eyes (default 1280; 0: full size)\n"
               "  --rectified, --raw  rectified or raw images (default: the hand's rectify setting)\n"
               "  --guides          horizontal lines across both eyes, to check the rectification\n"
               "  --output -        the JPEGs back to back on standard output instead (one hand):\n"
               "                    handrecctl preview --hand right --output - | ffplay -f mjpeg -\n"
               "Frames come while the camera is warm, idle or recording; a take never loses a frame to a\n"
               "preview. Ctrl-C stops. Needs the same rights as starting a take (root, group handrec).\n",
               DEFAULT_LISTEN);
}

/* Hand names go into the page and URLs as they are: they must be plain words (config names are). */
static bool plain_name(const char *s) {
        return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == strlen(s);
}

/* The hands to show: those given, or every configured hand. Return: 0, or 1 (printed). */
static int choose_hands(sd_bus *bus, const struct args *a, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n) {
        int r;

        if (a->n_hands == 0 && (r = list_hands(bus, hands, ret_n)))
                return r;
        for (unsigned i = 0; i < a->n_hands; i++)
                snprintf(hands[i], HAND_NAME_MAX, "%s", a->hands[i]);
        if (a->n_hands)
                *ret_n = a->n_hands;
        for (unsigned i = 0; i < *ret_n; i++)
                if (!plain_name(hands[i]) || (a->n_hands && strlen(a->hands[i]) >= HAND_NAME_MAX)) {
                        fprintf(stderr, "handrecctl: no hand '%s' (hands are named in handrecd's config).\n",
                                a->n_hands ? a->hands[i] : hands[i]);
                        return 1;
                }
        if (*ret_n == 0) {
                fprintf(stderr, "handrecctl: handrecd has no hand configured.\n");
                return 1;
        }
        return 0;
}

/* Signals arrive on a descriptor, for every thread started after this (they inherit the mask). */
static int signals_fd(void) {
        sigset_t set;

        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* ---- --output -: JPEGs on standard output ----------------------------------------------- */

static int ended(const char *hand, int r) {
        if (r == 0)
                fprintf(stderr,
                        "handrecctl: handrecd ended the preview of %s (the daemon stopped, or the hand left its "
                        "configuration).\n",
                        hand);
        else
                fprintf(stderr, "handrecctl: the preview of %s broke off: %s\n", hand, strerror(-r));
        return 1;
}

/* Copy frames from @fd to standard output until a signal, the end, or the reader leaving. */
static int output_frames(const char *hand, int fd, int sig_fd) {
        _cleanup_(freep) uint8_t *buf = NULL;
        struct preview_header h;
        size_t cap = 0;
        int r;

        for (;;) {
                struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = sig_fd, .events = POLLIN}};
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        return ended(hand, -errno);
                if (p[1].revents)
                        return 0;
                if (!p[0].revents)
                        continue;
                r = preview_read_frame(fd, &h, &buf, &cap);
                if (r <= 0)
                        return ended(hand, r);
                r = write_all(STDOUT_FILENO, buf, h.size);
                if (r == -EPIPE)
                        return 0; /* the reader (ffplay) has gone */
                if (r < 0) {
                        fprintf(stderr, "handrecctl: cannot write to standard output: %s\n", strerror(-r));
                        return 1;
                }
        }
}

/* ---- serving ---------------------------------------------------------------------------- */

/* Read each hand's Status into its feed, for /status.json. */
static void refresh_status(sd_bus *bus, struct feed *feeds, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                struct hand_view v = {};
                char line[512];
                if (get_status(bus, feeds[i].hand, &v) == 0)
                        feed_set_status(&feeds[i], v.state, view_line(&v, line, sizeof(line)), v.warnings,
                                        v.last_error);
        }
}

/* The first feed whose reader has ended, if any. */
static struct feed *ended_feed(struct feed *feeds, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                bool e;
                pthread_mutex_lock(&feeds[i].lock);
                e = feeds[i].ended;
                pthread_mutex_unlock(&feeds[i].lock);
                if (e)
                        return &feeds[i];
        }
        return NULL;
}

/* Refresh the status lines every second until a signal or the end of a preview. */
static int serve_loop(sd_bus *bus, struct feed *feeds, unsigned n, int sig_fd, int wake_fd) {
        int64_t next = 0;
        struct feed *f;

        for (;;) {
                int64_t now = now_ns(CLOCK_MONOTONIC);
                struct pollfd p[2] = {{.fd = sig_fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
                if (now >= next) {
                        refresh_status(bus, feeds, n);
                        next = now + STATUS_INTERVAL_NS;
                }
                if (poll(p, 2, (int) ((next - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC)) < 0 && errno != EINTR)
                        return ended("every hand", -errno);
                if (p[0].revents)
                        return 0;
                if (p[1].revents && (f = ended_feed(feeds, n))) {
                        int error;
                        pthread_mutex_lock(&f->lock);
                        error = f->end_error;
                        pthread_mutex_unlock(&f->lock);
                        return ended(f->hand, error);
                }
        }
}

/* The one place the token is shown: the URL, to whoever started the preview (not with --token-file). */
static void print_serving(const struct feed *feeds, unsigned n, const char *url, bool loopback,
                          const struct preview_access *access) {
        const char *port = strrchr(url, ':') + 1;
        const char *token = access->token_file ? "..." : access->token;
        char names[128] = "", kept[PATH_MAX + 32] = "";

        for (unsigned i = 0; i < n; i++)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%.15s", i ? ", " : "", feeds[i].hand);
        if (access->token_file)
                snprintf(kept, sizeof(kept), "the token is in %s; ", access->token_file);
        if (loopback)
                printf("Serving the preview of %s on %s?token=%s (%sloopback only; --listen 0.0.0.0:%.*s to serve the "
                       "network)\n",
                       names, url, token, kept, (int) strcspn(port, "/"), port);
        else
                printf("Serving the preview of %s on %s?token=%s (%sopen to the network: whoever reaches this machine "
                       "and has the token sees the cameras; a name for it needs --allow-host NAME)\n",
                       names, url, token, kept);
        fflush(stdout);
}

/* Open a preview per hand into @feeds, start their readers and serve until the end. */
static int serve(sd_bus *bus, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned n, const struct preview_options *o,
                 int listen_fd, const char *url, bool loopback, const struct preview_access *access, int sig_fd) {
        struct feed feeds[MAX_HANDS];
        struct http_server *server = NULL;
        _cleanup_(closep) int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        unsigned opened = 0;
        int r = 1;

        for (; opened < n; opened++) {
                int fd;
                if (preview_open(bus, hands[opened], o, &fd))
                        goto out;
                feed_init(&feeds[opened], hands[opened], fd, wake_fd);
                if (feed_start(&feeds[opened]) < 0) {
                        fprintf(stderr, "handrecctl: cannot start a thread\n");
                        opened++;
                        goto out;
                }
        }
        /* /status.json says the hand's state from the first request, not "unknown" */
        refresh_status(bus, feeds, n);
        server = http_start(TAKE_FD(listen_fd), feeds, n, access, url);
        if (!server)
                goto out;
        print_serving(feeds, n, url, loopback, access);
        r = serve_loop(bus, feeds, n, sig_fd, wake_fd);
out:
        for (unsigned i = 0; i < opened; i++)
                feed_quit(&feeds[i]);
        http_stop(server);
        for (unsigned i = 0; i < opened; i++)
                feed_done(&feeds[i]);
        if (listen_fd >= 0)
                close(listen_fd);
        return r;
}

/* Check the options of preview beyond their syntax. Return: 0, or 2 (printed). */
static int check_options(const struct args *a) {
        if (a->output && !streq(a->output, "-"))
                return usage_error("preview", "--output takes - (standard output); for one frame into a file: "
                                              "handrecctl snapshot");
        if (a->output && a->listen)
                return usage_error("preview", "--output - and --listen exclude each other");
        if (a->output && a->n_hands > 1)
                return usage_error("preview", "--output - shows one hand: give one --hand");
        if (a->output && (a->n_allow_hosts || a->token_file))
                return usage_error("preview", "--output - serves nothing over HTTP: --allow-host and --token-file "
                                              "are for the page");
        return 0;
}

int run_preview(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {.quality = -1, .rectify = -1, .max_width = -1};
        char hands[MAX_HANDS][HAND_NAME_MAX], url[128] = "", listen_host[256] = "";
        _cleanup_(closep) int listen_fd = -1, sig_fd = -1, fd = -1;
        struct preview_access access;
        bool loopback = true;
        unsigned n = 0;
        int r;

        r = parse_args("preview", argc, argv, &a);
        if (r == -1) {
                preview_help();
                return 0;
        }
        if (r || (r = check_options(&a)))
                return r;
        /* a busy port, a bad --allow-host or token file are refused before anything is asked of the daemon */
        if (!a.output && ((r = http_listen(a.listen ?: DEFAULT_LISTEN, &listen_fd, url, sizeof(url), listen_host,
                                           sizeof(listen_host), &loopback)) ||
                          (r = access_setup(&access, listen_host, url, a.allow_hosts, a.n_allow_hosts, a.token_file))))
                return r;
        if ((r = connect_bus(&bus)) || (r = choose_hands(bus, &a, hands, &n)))
                return r;
        if (a.output && n > 1)
                return usage_error("preview", "--output - shows one hand and handrecd has several: give --hand");
        sig_fd = signals_fd();
        if (sig_fd < 0) {
                fprintf(stderr, "handrecctl: cannot watch for signals: %s\n", strerror(errno));
                return 1;
        }
        struct preview_options o = {.fps = a.fps, .max_width = a.max_width, .rectified = a.rectify, .guides = a.guides};
        if (!a.output) {
                r = serve(bus, hands, n, &o, TAKE_FD(listen_fd), url, loopback, &access, sig_fd);
                explicit_bzero(access.token, sizeof(access.token));
                return r;
        }
        if ((r = preview_open(bus, hands[0], &o, &fd)))
                return r;
        return output_frames(hands[0], fd, sig_fd);
}
