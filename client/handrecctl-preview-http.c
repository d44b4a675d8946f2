/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-preview-http.c — the HTTP server of `handrecctl preview` (libmicrohttpd, a thread
 * per connection): the listening socket (ours, so a busy port gets its own sentence), the
 * routes — the page, /stream (multipart MJPEG), /snapshot.jpg, /status.json — and the
 * per-connection stream that sends copies of a feed's latest frame. Threads and the feed's lock
 * rule: handrecctl-preview.h.
 *
 * Kept to libmicrohttpd 0.9.66 (Ubuntu 20.04): no API newer than that.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../lib/util.h"
#include "handrecctl-preview.h"

/* handlers return enum MHD_Result from 0.9.71 on, int before */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

#define BOUNDARY "handrecframe"
#define CONNECTIONS_MAX 64u
#define IDLE_TIMEOUT_S 30u                  /* a connection that moves no byte for this long is closed */
#define SNAPSHOT_WAIT_NS (5 * NSEC_PER_SEC) /* for the first frame of a hand */

struct http_server {
        struct MHD_Daemon *mhd;
        struct feed *feeds;
        unsigned n;
        char *page;
};

/* ---- listening -------------------------------------------------------------------------- */

/* Split "HOST:PORT" or "[HOST]:PORT" into @host and @port. Return: whether it has that form. */
static bool split_address(const char *address, char *host, size_t host_len, char *port, size_t port_len) {
        const char *colon = strrchr(address, ':');
        size_t n;

        if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5 ||
            atoi(colon + 1) > 65535)
                return false;
        n = colon - address;
        if (n >= 2 && address[0] == '[' && address[n - 1] == ']')
                address++, n -= 2;
        if (n == 0 || n >= host_len || memchr(address, '[', n) || memchr(address, ']', n))
                return false;
        memcpy(host, address, n);
        host[n] = 0;
        snprintf(port, port_len, "%s", colon + 1);
        return true;
}

static bool is_loopback(const struct sockaddr_storage *sa) {
        if (sa->ss_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) >> 24) == 127;
        return sa->ss_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *) sa)->sin6_addr);
}

static void format_url(const struct sockaddr_storage *sa, char *buf, size_t len) {
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port;

        if (sa->ss_family == AF_INET6) {
                const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) sa;
                inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
                port = ntohs(s6->sin6_port);
                snprintf(buf, len, "http://[%s]:%u/", host, port);
        } else {
                const struct sockaddr_in *s4 = (const struct sockaddr_in *) sa;
                inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
                port = ntohs(s4->sin_port);
                snprintf(buf, len, "http://%s:%u/", host, port);
        }
}

static int bind_error(const char *address, const char *host, int error) {
        if (error == EADDRINUSE)
                fprintf(stderr,
                        "handrecctl: %s is already in use (another preview or another server listens there); "
                        "choose another port, such as --listen %s:8081.\n",
                        address, host);
        else if (error == EADDRNOTAVAIL)
                fprintf(stderr,
                        "handrecctl: cannot listen on %s: no network interface of this machine has the address %s "
                        "(127.0.0.1 is this machine only, 0.0.0.0 all its addresses).\n",
                        address, host);
        else if (error == EACCES)
                fprintf(stderr, "handrecctl: cannot listen on %s: ports below 1024 need root; choose a port above.\n",
                        address);
        else
                fprintf(stderr, "handrecctl: cannot listen on %s: %s\n", address, strerror(error));
        return 1;
}

/* Return: 0; 2 a malformed address (printed); 1 the address cannot be listened on (printed). */
int http_listen(const char *address, int *ret_fd, char *ret_url, size_t url_len, bool *ret_loopback) {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
        struct addrinfo *ai = NULL;
        struct sockaddr_storage sa;
        socklen_t sa_len = sizeof(sa);
        char host[256], port[8];
        _cleanup_(closep) int fd = -1;
        int one = 1, r;

        if (!split_address(address, host, sizeof(host), port, sizeof(port))) {
                fprintf(stderr,
                        "handrecctl: --listen takes ADDRESS:PORT, such as 127.0.0.1:8080 (this machine only) or "
                        "0.0.0.0:8080 (the network), not '%s'; try 'handrecctl preview --help'.\n",
                        address);
                return 2;
        }
        r = getaddrinfo(host, port, &hints, &ai);
        if (r != 0) {
                fprintf(stderr, "handrecctl: --listen %s: no such address (%s); try 'handrecctl preview --help'.\n",
                        address, gai_strerror(r));
                return 2;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        r = fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0 ? errno : 0;
        freeaddrinfo(ai);
        if (r)
                return bind_error(address, host, r);
        if (getsockname(fd, (struct sockaddr *) &sa, &sa_len) < 0)
                return bind_error(address, host, errno);
        format_url(&sa, ret_url, url_len);
        *ret_loopback = is_loopback(&sa);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ---- responses -------------------------------------------------------------------------- */

static mhd_result respond(struct MHD_Connection *c, unsigned status, const char *type, void *data, size_t size,
                          enum MHD_ResponseMemoryMode mode) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(size, data, mode);
        mhd_result ret;

        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static mhd_result respond_text(struct MHD_Connection *c, unsigned status, const char *text) {
        return respond(c, status, "text/plain; charset=utf-8", (void *) text, strlen(text), MHD_RESPMEM_MUST_COPY);
}

static mhd_result not_found(struct MHD_Connection *c, const struct http_server *s, const char *what) {
        char text[512], hands[64] = "";

        for (unsigned i = 0; i < s->n; i++)
                snprintf(hands + strlen(hands), sizeof(hands) - strlen(hands), "%s%s", i ? ", " : "", s->feeds[i].hand);
        snprintf(text, sizeof(text),
                 "%s\nThis preview serves / (the page), /stream?hand=NAME, /snapshot.jpg?hand=NAME and "
                 "/status.json?hand=NAME, for the hands %s.\n",
                 what, hands);
        return respond_text(c, MHD_HTTP_NOT_FOUND, text);
}

/* The feed ?hand= names (the only one when there is one and none is named). Return: it, or NULL. */
static struct feed *find_feed(struct MHD_Connection *c, struct http_server *s, const char **ret_name) {
        const char *hand = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hand");

        *ret_name = hand;
        if (!hand && s->n == 1)
                return &s->feeds[0];
        for (unsigned i = 0; hand && i < s->n; i++)
                if (streq(hand, s->feeds[i].hand))
                        return &s->feeds[i];
        return NULL;
}

/* ---- /stream: multipart MJPEG ----------------------------------------------------------- */

/* One connection's stream: a part (its header, a copy of a frame, CRLF) being sent. */
struct stream {
        struct feed *feed;
        uint8_t *jpeg;
        size_t cap, size;
        char head[192];
        size_t head_len, off, total; /* off == total: the part is sent, copy the next frame */
        uint64_t seq;
};

/* Start the next part with the feed's next frame. Return: whether there is one. */
static bool stream_next(struct stream *st) {
        struct preview_header h;
        int64_t seq = feed_copy(st->feed, st->seq, 0, &st->jpeg, &st->cap, &st->size, &h);
        int n;

        if (seq <= 0)
                return false;
        st->seq = seq;
        n = snprintf(st->head, sizeof(st->head),
                     "--" BOUNDARY "\r\nContent-Type: image/jpeg\r\nContent-Length: %zu\r\nX-Frame-Number: %" PRIu64
                     "\r\nX-Timestamp-Ns: %" PRId64 "\r\n\r\n",
                     st->size, h.number, h.timestamp_ns);
        st->head_len = MIN((size_t) n, sizeof(st->head) - 1);
        st->off = 0;
        st->total = st->head_len + st->size + 2;
        return true;
}

static ssize_t stream_read(void *cls, uint64_t pos _unused_, char *buf, size_t max) {
        struct stream *st = cls;
        const char *src;
        size_t n;

        if (st->off == st->total && !stream_next(st))
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (st->off < st->head_len)
                src = st->head + st->off, n = st->head_len - st->off;
        else if (st->off < st->head_len + st->size)
                src = (const char *) st->jpeg + (st->off - st->head_len), n = st->head_len + st->size - st->off;
        else
                src = "\r\n" + (st->off - st->head_len - st->size), n = st->total - st->off;
        n = MIN(n, max);
        memcpy(buf, src, n);
        st->off += n;
        return n;
}

static void stream_free(void *cls) {
        struct stream *st = cls;
        free(st->jpeg);
        free(st);
}

static mhd_result serve_stream(struct MHD_Connection *c, struct feed *f) {
        struct stream *st = calloc(1, sizeof(*st));
        struct MHD_Response *resp;
        mhd_result ret;

        if (!st)
                return MHD_NO;
        st->feed = f;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, st, stream_free);
        if (!resp) {
                stream_free(st);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "multipart/x-mixed-replace;boundary=" BOUNDARY);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* ---- /snapshot.jpg, /status.json -------------------------------------------------------- */

static mhd_result serve_snapshot(struct MHD_Connection *c, struct feed *f) {
        _cleanup_(freep) uint8_t *jpeg = NULL;
        struct preview_header h;
        size_t cap = 0, size = 0;
        char text[256];
        int64_t r;

        r = feed_copy(f, 0, now_ns(CLOCK_MONOTONIC) + SNAPSHOT_WAIT_NS, &jpeg, &cap, &size, &h);
        if (r > 0)
                return respond(c, MHD_HTTP_OK, "image/jpeg", TAKE_PTR(jpeg), size, MHD_RESPMEM_MUST_FREE);
        if (r == -ETIMEDOUT)
                snprintf(text, sizeof(text), "No frame of %s has come from handrecd yet; try again.\n", f->hand);
        else
                snprintf(text, sizeof(text), "The preview of %s has ended.\n", f->hand);
        return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

static mhd_result serve_status(struct MHD_Connection *c, struct feed *f) {
        char json[2048];

        feed_status_json(f, json, sizeof(json));
        return respond(c, MHD_HTTP_OK, "application/json", json, strlen(json), MHD_RESPMEM_MUST_COPY);
}

/* ---- routes ----------------------------------------------------------------------------- */

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version _unused_, const char *upload_data _unused_,
                             size_t *upload_data_size _unused_, void **con_cls _unused_) {
        struct http_server *s = cls;
        const char *hand;
        char what[256];
        struct feed *f;

        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "This preview only answers GET.\n");
        if (streq(url, "/") || streq(url, "/index.html"))
                return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", s->page, strlen(s->page),
                               MHD_RESPMEM_PERSISTENT);
        if (!streq(url, "/stream") && !streq(url, "/snapshot.jpg") && !streq(url, "/status.json")) {
                snprintf(what, sizeof(what), "No such page: %.128s.", url);
                return not_found(c, s, what);
        }
        f = find_feed(c, s, &hand);
        if (!f) {
                snprintf(what, sizeof(what),
                         hand ? "No hand '%.64s' in this preview." : "Say which hand: %s?hand=NAME.",
                         hand ? hand : url);
                return not_found(c, s, what);
        }
        if (streq(url, "/stream"))
                return serve_stream(c, f);
        if (streq(url, "/snapshot.jpg"))
                return serve_snapshot(c, f);
        return serve_status(c, f);
}

/* ---- the server ------------------------------------------------------------------------- */

struct http_server *http_start(int listen_fd, struct feed *feeds, unsigned n) {
        struct http_server *s = calloc(1, sizeof(*s));

        if (!s || !(s->page = preview_page(feeds, n))) {
                fprintf(stderr, "handrecctl: out of memory\n");
                close(listen_fd);
                return http_stop(s);
        }
        s->feeds = feeds;
        s->n = n;
        s->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                  on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket) listen_fd,
                                  MHD_OPTION_CONNECTION_LIMIT, CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
                                  IDLE_TIMEOUT_S, MHD_OPTION_END);
        if (!s->mhd) {
                fprintf(stderr, "handrecctl: cannot start the HTTP server (libmicrohttpd).\n");
                close(listen_fd);
                return http_stop(s);
        }
        return s;
}

struct http_server *http_stop(struct http_server *s) {
        if (!s)
                return NULL;
        if (s->mhd)
                MHD_stop_daemon(s->mhd); /* closes the listening socket and every connection */
        free(s->page);
        free(s);
        return NULL;
}
