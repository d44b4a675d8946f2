/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-preview.h — what the files of `handrecctl preview` and `snapshot` share: opening a
 * preview (OpenPreview) and reading its frames (handrecctl-preview-feed.c), the feed a reader
 * thread keeps of a hand's latest frame, the HTTP server (handrecctl-preview-http.c), who it
 * admits (handrecctl-preview-access.c) and its page (handrecctl-preview-page.c).
 *
 * DESIGN — threads of `handrecctl preview`:
 *   - the main thread owns the bus connection (sd-bus is not thread-safe): it opens the previews,
 *     reads each hand's Status once a second into its feed, and waits for Ctrl-C, SIGTERM or the
 *     end of a preview (a feed's reader writes the main thread's eventfd);
 *   - one reader thread per hand ("preview-<hand>") reads the preview descriptor into its own
 *     back buffer and, under the feed's lock, swaps it with the front one and wakes the waiters:
 *     it never waits for an HTTP client, so a slow client cannot slow it;
 *   - libmicrohttpd runs a thread per connection; a stream or snapshot copies the front frame
 *     into its own buffer under the lock and sends from that copy. A slow client therefore gets
 *     fewer frames (it always copies the newest) and holds up nobody. A connection's thread,
 *     once its request is admitted (the right Host, the token), marks it so in the server's list
 *     of connections;
 *   - libmicrohttpd's own thread accepts the connections: it asks the accept policy (a client
 *     not on this machine: at most 16 connections not yet admitted, HEAD_PENDING_PER_IP) and
 *     tells the server of each connection's start, before the connection's thread runs, and of
 *     its close, before its socket is closed (MHD_OPTION_NOTIFY_CONNECTION): the server adds it
 *     to its list, or takes it out. Beyond 192 connections not yet admitted (HEAD_PENDING_MAX,
 *     of 256 in all), the oldest of them is cut to make room;
 *   - a watchdog thread ("preview-watch") cuts every connection not admitted 10 s after its
 *     start (HEAD_DEADLINE_S), whatever bytes trickle in: shutdown(fd, SHUT_RDWR), and its
 *     libmicrohttpd thread sees the end and closes it. libmicrohttpd's idle timeout restarts on
 *     each byte; this deadline does not. An admitted connection (a /stream, the page's status
 *     requests) is never cut by it. The fd it shuts down is still the connection's: it leaves
 *     the list, under the lock, before libmicrohttpd closes it.
 * Who may see the preview (handrecctl-preview-access.c): every request needs the Host header to
 * name the server as it listens (127.0.0.1, localhost, [::1], the --listen address, the address
 * the connection came to, --allow-host names), which DNS rebinding cannot forge, and the token
 * (getrandom(), in the URL printed to whoever started the preview, never on the command line),
 * as ?token= or as the cookie the page's response sets; else 403 with a sentence and the
 * connection closed.
 * Lock rules: a feed's lock guards everything after "under lock" in struct feed, and is only held
 * to swap, copy or read those fields — never across a read(), a write() or a bus call. The
 * server's connection lock guards its list of connections; it is held to add, mark, scan or
 * remove them and to shutdown() one (which never waits), never across a read(), a write(), a
 * libmicrohttpd call or a feed's lock (the two locks are never held together).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "../lib/preview-protocol.h"
#include "handrecctl.h"

/* The largest JPEG a reader accepts: a bad size field must not make it allocate gigabytes. */
#define PREVIEW_JPEG_MAX (64u << 20)

/* OpenPreview's options as the command line gave them; unset ones are not sent. */
struct preview_options {
        double fps;     /* 0: the daemon's default */
        long max_width; /* -1: the daemon's default */
        int rectified;  /* -1: the hand's rectify setting */
        bool guides;
};

/**
 * preview_open() - call OpenPreview for @hand with @o.
 * @ret_fd: the preview's descriptor, owned by the caller (close it to stop the preview).
 * Return: 0, or 1 (the daemon's sentence printed).
 */
int preview_open(sd_bus *bus, const char *hand, const struct preview_options *o, int *ret_fd);

/**
 * preview_read_frame() - read one frame (header, then JPEG) from the preview descriptor @fd.
 * @buf, @cap: a buffer the caller owns (may start NULL, 0), grown with realloc() when a frame is
 *             larger than any before; the frame's JPEG is left in it.
 * Return: 1 a frame, 0 end of the stream (at a frame boundary), -EBADMSG a header that is not
 * the protocol's, -EPROTO a stream cut inside a frame, -ENOMEM, or the -errno of read().
 */
int preview_read_frame(int fd, struct preview_header *h, uint8_t **buf, size_t *cap);

/** preview_describe() - "640x240, frame 123, rectified, guides" into @buf. Return: @buf. */
char *preview_describe(const struct preview_header *h, char *buf, size_t len);

/* ---- feeds: a hand's latest frame, kept by its reader thread ---------------------------- */

struct feed {
        char hand[HAND_NAME_MAX];
        int fd;      /* the preview's descriptor: the reader thread's */
        int wake_fd; /* the main thread's eventfd, written when the reader ends */
        pthread_t thread;
        bool started;
        uint8_t *back; /* the reader's buffer */
        size_t back_cap;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        /* under lock: */
        uint8_t *front; /* the latest frame's JPEG */
        size_t front_size, front_cap;
        struct preview_header header;
        uint64_t seq;   /* frames published so far; 0: none yet */
        bool ended;     /* the reader has finished: the stream ended or failed */
        int end_error;  /* 0: the daemon ended the stream; else the reader's -errno */
        bool quit;      /* the program is ending: waiters return */
        char state[16]; /* from the daemon's Status, refreshed by the main thread */
        char line[512];
        char warnings[1024], last_error[ERROR_SENTENCE_MAX]; /* the quality so far, the source's last error */
};

/** feed_init() - set up @f for @hand reading @fd (taken over: closed by feed_done()). */
void feed_init(struct feed *f, const char *hand, int fd, int wake_fd);

/** feed_start() - start @f's reader thread. Return: 0 or -errno. */
int feed_start(struct feed *f);

/** feed_done() - end @f's waiters and reader thread, close its descriptor, free its buffers. */
void feed_done(struct feed *f);

/** feed_quit() - wake every waiter of @f for good (before stopping the HTTP server). */
void feed_quit(struct feed *f);

/**
 * feed_copy() - wait until @f has a frame newer than @after_seq (or it ends, or quits, or
 * @deadline_ns on CLOCK_MONOTONIC passes; 0: no deadline), then copy it.
 * @buf, @cap: the caller's buffer, grown with realloc() as needed.
 * Return: the frame's seq (> @after_seq), 0 when the feed ended or quits, -ETIMEDOUT, -ENOMEM.
 */
int64_t feed_copy(struct feed *f, uint64_t after_seq, int64_t deadline_ns, uint8_t **buf, size_t *cap, size_t *ret_size,
                  struct preview_header *ret_header);

/** feed_set_status() - the hand's state, status line, quality warnings and last error, as the main thread read them. */
void feed_set_status(struct feed *f, const char *state, const char *line, const char *warnings, const char *last_error);

/** feed_status_json() - the hand's status and its latest frame, as JSON, into @buf. Return: @buf. */
char *feed_status_json(struct feed *f, char *buf, size_t len);

/* ---- who may see the preview (handrecctl-preview-access.c) ------------------------------- */

#define PREVIEW_TOKEN_BYTES 24 /* from getrandom(): 192 bits, 48 hex digits */
#define PREVIEW_TOKEN_MAX 128  /* a token kept in a --token-file: 32 to 128 of [A-Za-z0-9_-] */
#define PREVIEW_TOKEN_MIN 32
#define PREVIEW_HOST_MAX 256 /* a name of a Host header, "[v6]" included */
#define PREVIEW_HOSTS_MAX 16 /* the names the preview answers to: its own and --allow-host's */

struct preview_access {
        char token[PREVIEW_TOKEN_MAX + 1];
        const char *token_file;                          /* --token-file: the token is there, and not printed */
        char hosts[PREVIEW_HOSTS_MAX][PREVIEW_HOST_MAX]; /* as host_name() leaves them */
        unsigned n_hosts;
};

/**
 * access_setup() - the names the preview answers to (the loopback names, @listen_host as
 * --listen gave it, the address in @url, each of @allow_hosts) and its token: a new one from
 * getrandom(), or the one in @token_file (made there, mode 0600, when it does not exist).
 * Return: 0; 2 a malformed --allow-host (printed); 1 a token file that cannot be used (printed).
 */
int access_setup(struct preview_access *a, const char *listen_host, const char *url, const char *const *allow_hosts,
                 unsigned n_allow_hosts, const char *token_file);

/**
 * host_name() - the name of a Host header's value @value ("127.0.0.1:8080", "[::1]", "Board.")
 * into @buf: lower case, without its port or a trailing dot, an IPv6 address in brackets and in
 * its canonical form. Return: whether @value is a name, with at most a port after it.
 */
bool host_name(const char *value, char *buf, size_t len);

/** access_host_allowed() - whether the preview answers to @name (host_name()'s) on connection @fd. */
bool access_host_allowed(const struct preview_access *a, const char *name, int fd);

/** access_token_equal() - whether @given is the token; in a time that does not depend on where they differ. */
bool access_token_equal(const struct preview_access *a, const char *given);

/* ---- the HTTP server -------------------------------------------------------------------- */

struct http_server;

/**
 * http_listen() - parse @address ("ADDRESS:PORT", "[IPV6]:PORT") and listen there.
 * @ret_fd: the listening socket; @ret_url: "http://127.0.0.1:8080/" (the port actually bound);
 * @ret_host: the ADDRESS as given, without brackets;
 * @ret_loopback: whether only this machine can reach it.
 * Return: 0; 2 a malformed address (printed); 1 the address cannot be listened on (printed).
 */
int http_listen(const char *address, int *ret_fd, char *ret_url, size_t url_len, char *ret_host, size_t host_len,
                bool *ret_loopback);

/**
 * http_start() - serve @feeds (@n of them) to the requests @access admits, on @listen_fd (taken
 * over); @url as http_listen() made it. @feeds and @access must outlive the server.
 * Return: the server, or NULL (printed).
 */
struct http_server *http_start(int listen_fd, struct feed *feeds, unsigned n, const struct preview_access *access,
                               const char *url);

/** http_stop() - stop serving: every connection is closed. Call feed_quit() on the feeds first. */
struct http_server *http_stop(struct http_server *s);

/* handrecctl-preview-page.c */

/** preview_page() - the page showing @feeds side by side. Return: a string the caller frees, or NULL. */
char *preview_page(const struct feed *feeds, unsigned n);

/** json_escape() - @s as the inside of a JSON string (also safe inside HTML text), into @buf. */
char *json_escape(const char *s, char *buf, size_t len);
