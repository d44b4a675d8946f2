/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-preview-http.c — the HTTP server of `handrecctl preview` (libmicrohttpd, a thread
 * per connection): the listening socket (ours, so a busy port gets its own sentence), the
 * routes — the page, /stream (multipart MJPEG), /snapshot.jpg, /status.json — and the
 * per-connection stream that sends copies of a feed's latest frame; each request admitted only
 * with the right Host and the token (handrecctl-preview-access.c); the connections' list and the
 * watchdog that ends those that make no admitted request in time. Threads and lock rules:
 * handrecctl-preview.h.
 *
 * Kept to libmicrohttpd 0.9.66 (Ubuntu 20.04): no API newer than that.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
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
#define SNAPSHOT_WAIT_NS (5 * NSEC_PER_SEC) /* for the first frame of a hand */
#define COOKIE_PREFIX "handrec_preview_"    /* and the port, as the browser names it: one cookie per origin */
#define COOKIE_NAME_MAX 32
#define COOKIE_MAX (COOKIE_NAME_MAX + 1 + PREVIEW_TOKEN_MAX + 1) /* "name=token" */

/* Slow clients. A connection that moves no byte for IDLE_TIMEOUT_S is closed (libmicrohttpd: each
 * byte restarts it); one that has made no admitted request HEAD_DEADLINE_S after its start is cut
 * by the watchdog, however its bytes trickle in. Such connections are at most HEAD_PENDING_MAX
 * (beyond, the oldest is cut), HEAD_PENDING_PER_IP from one address not of this machine (more are
 * refused at once), so that of the CONNECTIONS_MAX (a thread each) some are always left for the
 * person looking at the preview. Loopback clients have no limit of their own: every local user,
 * and ssh -L, comes from 127.0.0.1. */
#define CONNECTIONS_MAX 256u
#define IDLE_TIMEOUT_S 30u
#define HEAD_DEADLINE_S 10
#define HEAD_PENDING_MAX 192u
#define HEAD_PENDING_PER_IP 16u
#define LISTEN_BACKLOG 128 /* a burst of connections waits here, not for the client to send its SYN again */

/* One connection, from its start to its close: libmicrohttpd's socket context. */
struct conn {
        struct conn *prev, *next; /* in the server's list, in the order they started */
        int fd;
        int64_t deadline_ns; /* for its first admitted request */
        struct sockaddr_storage peer;
        bool admitted; /* it has made a request with the right Host and the token: no deadline */
        bool cut;      /* shut down by the watchdog or for room */
};

struct http_server {
        struct MHD_Daemon *mhd;
        struct feed *feeds;
        unsigned n;
        char *page;
        const struct preview_access *access;
        char url[128]; /* as printed, without the token */

        pthread_t watchdog;
        bool watchdog_started;
        pthread_mutex_t conn_lock;
        pthread_cond_t conn_cond;
        /* under conn_lock: */
        struct conn *conns, *conns_tail;
        unsigned pending; /* connections neither admitted nor cut */
        bool quit;
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

static bool is_loopback(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) >> 24) == 127;
        if (sa->sa_family != AF_INET6)
                return false;
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
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
int http_listen(const char *address, int *ret_fd, char *ret_url, size_t url_len, char *ret_host, size_t host_len,
                bool *ret_loopback) {
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
        r = fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ? errno : 0;
        freeaddrinfo(ai);
        if (r)
                return bind_error(address, host, r);
        if (getsockname(fd, (struct sockaddr *) &sa, &sa_len) < 0)
                return bind_error(address, host, errno);
        format_url(&sa, ret_url, url_len);
        snprintf(ret_host, host_len, "%s", host);
        *ret_loopback = is_loopback((const struct sockaddr *) &sa);
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
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static mhd_result respond_text(struct MHD_Connection *c, unsigned status, const char *text) {
        return respond(c, status, "text/plain; charset=utf-8", (void *) text, strlen(text), MHD_RESPMEM_MUST_COPY);
}

/* 403 with @text, and the connection closed after it: it gets no second try at its pace. */
static mhd_result refuse(struct MHD_Connection *c, const char *text) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_MUST_COPY);
        mhd_result ret;

        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        ret = MHD_queue_response(c, MHD_HTTP_FORBIDDEN, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* The page; with @cookie ("name=token"), the cookie its own requests (the streams, the status) carry. */
static mhd_result respond_page(struct MHD_Connection *c, const struct http_server *s, const char *cookie) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(s->page), s->page, MHD_RESPMEM_PERSISTENT);
        char header[COOKIE_MAX + 64];
        mhd_result ret;

        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        if (cookie) {
                snprintf(header, sizeof(header), "%s; Path=/; HttpOnly; SameSite=Strict", cookie);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, header);
                explicit_bzero(header, sizeof(header));
        }
        ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
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
        char json[16384];

        feed_status_json(f, json, sizeof(json));
        return respond(c, MHD_HTTP_OK, "application/json", json, strlen(json), MHD_RESPMEM_MUST_COPY);
}

/* ---- who is admitted ------------------------------------------------------------------- */

/* 403: the Host names the preview by a name it does not answer to (@name; NULL: a malformed one). */
static mhd_result refuse_host(struct MHD_Connection *c, const struct http_server *s, const char *name) {
        char text[2048], names[512] = "";

        for (unsigned i = 0; i < s->access->n_hosts; i++)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
                         s->access->hosts[i]);
        snprintf(text, sizeof(text),
                 "This preview answers to the names it listens as (%s, and the address it is reached at), not to "
                 "%s%.256s%s: a page of another site must not see the cameras. Open the URL handrecctl preview "
                 "printed; to reach the preview by another name, start it with --allow-host %.256s.\n",
                 names, name ? "'" : "", name ?: "a malformed name", name ? "'" : "", name ?: "NAME");
        return refuse(c, text);
}

/* 403: no token, or (@given) another one. The token itself is never in a response. */
static mhd_result refuse_token(struct MHD_Connection *c, const struct http_server *s, bool given) {
        char text[1024];

        snprintf(text, sizeof(text),
                 "%s open the URL handrecctl preview printed, with its token (%s?token=...); a player or a script "
                 "adds the token to its URL (%sstream?hand=NAME&token=...).\n",
                 given ? "That is not this preview's token (each handrecctl preview makes a new one, unless "
                         "--token-file keeps it):"
                       : "This preview is only for whoever started it:",
                 s->url, s->url);
        return refuse(c, text);
}

/* The name of the cookie that carries the token: by the port the browser sees (ssh -L may forward
 * several previews to one machine, each on a port of its own), this server's without a Host. */
static void cookie_name(const char *host, const struct http_server *s, char *buf, size_t len) {
        const char *port = host ? strrchr(host, ':') : strrchr(s->url, ':');

        if (port && host && host[0] == '[' && strrchr(host, ']') > port)
                port = NULL; /* [::1] without a port */
        if (!port)
                snprintf(buf, len, COOKIE_PREFIX "80");
        else
                snprintf(buf, len, COOKIE_PREFIX "%.*s", (int) strspn(port + 1, "0123456789"), port + 1);
}

/* The connection @c has made an admitted request: the watchdog leaves it alone from now on. */
static void conn_admit(struct http_server *s, struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        struct conn *k = i ? i->socket_context : NULL;

        if (!k)
                return;
        pthread_mutex_lock(&s->conn_lock);
        if (!k->admitted && !k->cut)
                s->pending--;
        k->admitted = true;
        pthread_mutex_unlock(&s->conn_lock);
}

/* Whether @c's request may be answered (else a 403 is queued in @ret). @ret_cookie: the cookie to
 * set ("name=token"), when the token came in the URL; "" when not. */
static bool admit(struct MHD_Connection *c, struct http_server *s, mhd_result *ret, char *ret_cookie,
                  size_t cookie_len) {
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        char name[PREVIEW_HOST_MAX], cookie[COOKIE_NAME_MAX];
        const char *query, *carried;

        *ret_cookie = 0;
        /* no Host at all: an HTTP/1.0 client, not a browser (libmicrohttpd refuses HTTP/1.1 without one) */
        if (host && !host_name(host, name, sizeof(name))) {
                *ret = refuse_host(c, s, NULL);
                return false;
        }
        if (host && !access_host_allowed(s->access, name, i ? i->connect_fd : -1)) {
                *ret = refuse_host(c, s, name);
                return false;
        }
        query = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        cookie_name(host, s, cookie, sizeof(cookie));
        carried = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, cookie);
        if (access_token_equal(s->access, query))
                snprintf(ret_cookie, cookie_len, "%s=%s", cookie, s->access->token);
        else if (!access_token_equal(s->access, carried)) {
                *ret = refuse_token(c, s, query || carried);
                return false;
        }
        conn_admit(s, c);
        return true;
}

/* ---- routes ----------------------------------------------------------------------------- */

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version _unused_, const char *upload_data _unused_,
                             size_t *upload_data_size _unused_, void **con_cls _unused_) {
        struct http_server *s = cls;
        char what[256], cookie[COOKIE_MAX];
        const char *hand;
        struct feed *f;
        mhd_result ret;

        if (!admit(c, s, &ret, cookie, sizeof(cookie)))
                return ret;
        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "This preview only answers GET.\n");
        if (streq(url, "/") || streq(url, "/index.html")) {
                ret = respond_page(c, s, cookie[0] ? cookie : NULL);
                explicit_bzero(cookie, sizeof(cookie));
                return ret;
        }
        explicit_bzero(cookie, sizeof(cookie));
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

/* ---- connections and the watchdog ------------------------------------------------------- */

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr *b) {
        if (a->ss_family != b->sa_family)
                return false;
        if (a->ss_family == AF_INET)
                return ((const struct sockaddr_in *) a)->sin_addr.s_addr ==
                       ((const struct sockaddr_in *) b)->sin_addr.s_addr;
        return a->ss_family == AF_INET6 &&
               !memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr, &((const struct sockaddr_in6 *) b)->sin6_addr,
                       sizeof(struct in6_addr));
}

/* End @k, which has made no admitted request: its thread sees the end of its socket and closes it. Under conn_lock. */
static void conn_cut(struct http_server *s, struct conn *k) {
        if (k->fd >= 0)
                shutdown(k->fd, SHUT_RDWR);
        k->cut = true;
        s->pending--;
}

/* libmicrohttpd's thread, before it accepts @addr: a client not of this machine gets at most
 * HEAD_PENDING_PER_IP connections without an admitted request. */
static mhd_result on_accept(void *cls, const struct sockaddr *addr, socklen_t addr_len _unused_) {
        struct http_server *s = cls;
        unsigned n = 0;

        if (is_loopback(addr))
                return MHD_YES;
        pthread_mutex_lock(&s->conn_lock);
        for (struct conn *k = s->conns; k; k = k->next)
                n += !k->admitted && !k->cut && same_address(&k->peer, addr);
        pthread_mutex_unlock(&s->conn_lock);
        return n < HEAD_PENDING_PER_IP ? MHD_YES : MHD_NO;
}

/* libmicrohttpd's thread: a connection starts (before its own thread does) or has closed (before its socket is). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        struct http_server *s = cls;
        struct conn *k = *socket_context;

        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (!k)
                        return;
                pthread_mutex_lock(&s->conn_lock);
                if (!k->admitted && !k->cut)
                        s->pending--;
                *(k->prev ? &k->prev->next : &s->conns) = k->next;
                *(k->next ? &k->next->prev : &s->conns_tail) = k->prev;
                pthread_mutex_unlock(&s->conn_lock);
                free(k);
                *socket_context = NULL;
                return;
        }
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *peer = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        k = calloc(1, sizeof(*k));
        if (!k) {
                if (fd)
                        shutdown(fd->connect_fd, SHUT_RDWR); /* no room to watch it: not served */
                return;
        }
        k->fd = fd ? fd->connect_fd : -1;
        if (peer && peer->client_addr)
                memcpy(&k->peer, peer->client_addr,
                       peer->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                : sizeof(struct sockaddr_in));
        pthread_mutex_lock(&s->conn_lock);
        k->deadline_ns = now_ns(CLOCK_MONOTONIC) + HEAD_DEADLINE_S * NSEC_PER_SEC;
        k->prev = s->conns_tail;
        *(k->prev ? &k->prev->next : &s->conns) = k;
        s->conns_tail = k;
        if (++s->pending > HEAD_PENDING_MAX)
                for (struct conn *old = s->conns; old; old = old->next)
                        if (!old->admitted && !old->cut) {
                                conn_cut(s, old); /* the oldest, for room */
                                break;
                        }
        pthread_cond_signal(&s->conn_cond);
        pthread_mutex_unlock(&s->conn_lock);
        *socket_context = k;
}

/* The watchdog: cut each connection whose deadline has passed without an admitted request. The
 * list is in the order of their starts, so in the order of their deadlines. */
static void *watchdog_main(void *userdata) {
        struct http_server *s = userdata;

        thread_setup("preview-watch");
        pthread_mutex_lock(&s->conn_lock);
        while (!s->quit) {
                int64_t now = now_ns(CLOCK_MONOTONIC), next = 0;
                for (struct conn *k = s->conns; k && !next; k = k->next) {
                        if (k->admitted || k->cut)
                                continue;
                        if (now >= k->deadline_ns)
                                conn_cut(s, k);
                        else
                                next = k->deadline_ns;
                }
                if (next) {
                        struct timespec ts = ns_to_timespec(next);
                        pthread_cond_timedwait(&s->conn_cond, &s->conn_lock, &ts);
                } else
                        pthread_cond_wait(&s->conn_cond, &s->conn_lock);
        }
        pthread_mutex_unlock(&s->conn_lock);
        return NULL;
}

/* ---- the server ------------------------------------------------------------------------- */

struct http_server *http_start(int listen_fd, struct feed *feeds, unsigned n, const struct preview_access *access,
                               const char *url) {
        struct http_server *s = calloc(1, sizeof(*s));
        pthread_condattr_t attr;

        if (!s) {
                fprintf(stderr, "handrecctl: out of memory\n");
                close(listen_fd);
                return NULL;
        }
        pthread_mutex_init(&s->conn_lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* the deadlines' clock */
        pthread_cond_init(&s->conn_cond, &attr);
        pthread_condattr_destroy(&attr);
        s->feeds = feeds;
        s->n = n;
        s->access = access;
        snprintf(s->url, sizeof(s->url), "%s", url);
        if (!(s->page = preview_page(feeds, n))) {
                fprintf(stderr, "handrecctl: out of memory\n");
                close(listen_fd);
                return http_stop(s);
        }
        if (pthread_create(&s->watchdog, NULL, watchdog_main, s) != 0) {
                fprintf(stderr, "handrecctl: cannot start a thread\n");
                close(listen_fd);
                return http_stop(s);
        }
        s->watchdog_started = true;
        /* MHD_USE_ITC: a connection's thread, as it ends, wakes libmicrohttpd's own to close its
         * socket (and call on_connection()); before 1.0 it does so only with this flag or a
         * completion callback, else the socket waits for the next connection */
        s->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0,
                                  on_accept, s, on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket) listen_fd,
                                  MHD_OPTION_CONNECTION_LIMIT, CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
                                  IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
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
        if (s->watchdog_started) {
                pthread_mutex_lock(&s->conn_lock);
                s->quit = true;
                pthread_cond_signal(&s->conn_cond);
                pthread_mutex_unlock(&s->conn_lock);
                pthread_join(s->watchdog, NULL);
        }
        pthread_mutex_destroy(&s->conn_lock);
        pthread_cond_destroy(&s->conn_cond);
        free(s->page);
        free(s);
        return NULL;
}
