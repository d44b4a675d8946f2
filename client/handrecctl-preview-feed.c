/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-preview-feed.c — the client's side of a preview: the OpenPreview call, reading
 * frames off the descriptor it returns (lib/preview-protocol.h), and the feed: a reader
 * thread per hand keeping the latest frame for whoever wants it (the threads and the lock rule
 * are in handrecctl-preview.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl-preview.h"

/* ---- OpenPreview ------------------------------------------------------------------------ */

static int append_options(sd_bus_message *m, const struct preview_options *o) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && o->fps > 0)
                r = sd_bus_message_append(m, "{sv}", "fps", "d", o->fps);
        if (r >= 0 && o->max_width >= 0)
                r = sd_bus_message_append(m, "{sv}", "max_width", "u", (uint32_t) o->max_width);
        if (r >= 0 && o->rectified >= 0)
                r = sd_bus_message_append(m, "{sv}", "rectified", "b", o->rectified);
        if (r >= 0 && o->guides)
                r = sd_bus_message_append(m, "{sv}", "guides", "b", 1);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* Return: 0, or 1 (printed). */
int preview_open(sd_bus *bus, const char *hand, const struct preview_options *o, int *ret_fd) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r, fd;

        if ((r = new_call(bus, "OpenPreview", &m)))
                return r;
        r = sd_bus_message_append(m, "s", hand);
        if (r >= 0)
                r = append_options(m, o);
        if (r < 0)
                return bus_error(NULL, r);
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                fprintf(stderr, "handrecctl: this handrecd has no preview (OpenPreview); update it.\n");
                return 1;
        }
        if (r < 0)
                return bus_error(&error, r);
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return bus_error(NULL, r);
        /* the reply owns its descriptor: keep a copy of our own */
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return bus_error(NULL, -errno);
        *ret_fd = fd;
        return 0;
}

/* ---- reading frames --------------------------------------------------------------------- */

/* Read exactly @len bytes. Return: @len, 0 at EOF before the first byte, -EPROTO at EOF after
 * it, or -errno. */
static ssize_t read_full(int fd, void *buf, size_t len) {
        size_t done = 0;

        while (done < len) {
                ssize_t n = read(fd, (char *) buf + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return done ? -EPROTO : 0;
                done += n;
        }
        return done;
}

int preview_read_frame(int fd, struct preview_header *h, uint8_t **buf, size_t *cap) {
        ssize_t n;

        n = read_full(fd, h, sizeof(*h));
        if (n <= 0)
                return n;
        if (memcmp(h->magic, PREVIEW_MAGIC, sizeof(h->magic)) != 0 || h->size == 0 || h->size > PREVIEW_JPEG_MAX)
                return -EBADMSG;
        if (h->size > *cap) {
                uint8_t *p = realloc(*buf, h->size);
                if (!p)
                        return -ENOMEM;
                *buf = p;
                *cap = h->size;
        }
        n = read_full(fd, *buf, h->size);
        if (n == 0)
                return -EPROTO;
        return n < 0 ? n : 1;
}

char *preview_describe(const struct preview_header *h, char *buf, size_t len) {
        snprintf(buf, len, "%" PRIu32 "x%" PRIu32 ", frame %" PRIu64 "%s%s%s", h->width, h->height, h->number,
                 h->flags & PREVIEW_RECTIFIED ? ", rectified" : ", raw", h->flags & PREVIEW_GUIDES ? ", guides" : "",
                 h->flags & PREVIEW_RECORDING ? ", recording" : "");
        return buf;
}

/* ---- feeds ------------------------------------------------------------------------------ */

void feed_init(struct feed *f, const char *hand, int fd, int wake_fd) {
        pthread_condattr_t attr;

        *f = (struct feed){.fd = fd, .wake_fd = wake_fd};
        snprintf(f->hand, sizeof(f->hand), "%s", hand);
        snprintf(f->state, sizeof(f->state), "unknown");
        pthread_mutex_init(&f->lock, NULL);
        /* feed_copy()'s deadlines are on CLOCK_MONOTONIC */
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&f->cond, &attr);
        pthread_condattr_destroy(&attr);
}

/* Publish the frame in the back buffer: swap it to the front. */
static void feed_publish(struct feed *f, const struct preview_header *h) {
        uint8_t *p;
        size_t c;

        pthread_mutex_lock(&f->lock);
        p = f->front, c = f->front_cap;
        f->front = f->back, f->front_cap = f->back_cap;
        f->back = p, f->back_cap = c;
        f->front_size = h->size;
        f->header = *h;
        f->seq++;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
}

static void *feed_reader(void *userdata) {
        struct feed *f = userdata;
        struct preview_header h;
        char name[16];
        uint64_t one = 1;
        int r;

        /* "preview-right"; the kernel keeps 15 characters of a thread's name */
        snprintf(name, sizeof(name), "preview-%.7s", f->hand);
        thread_setup(name);
        while ((r = preview_read_frame(f->fd, &h, &f->back, &f->back_cap)) > 0)
                feed_publish(f, &h);
        pthread_mutex_lock(&f->lock);
        f->ended = true;
        f->end_error = r;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
        if (write(f->wake_fd, &one, sizeof(one)) < 0) {
                /* an eventfd cannot be full after one write; nothing else can be done here */
        }
        return NULL;
}

int feed_start(struct feed *f) {
        int r = pthread_create(&f->thread, NULL, feed_reader, f);
        if (r)
                return -r;
        f->started = true;
        return 0;
}

void feed_quit(struct feed *f) {
        pthread_mutex_lock(&f->lock);
        f->quit = true;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
}

void feed_done(struct feed *f) {
        feed_quit(f);
        if (f->started) {
                /* a read() blocked on the descriptor returns 0 once its reading side is shut */
                shutdown(f->fd, SHUT_RDWR);
                pthread_join(f->thread, NULL);
                f->started = false;
        }
        if (f->fd >= 0)
                close(f->fd);
        f->fd = -1;
        free(f->front);
        free(f->back);
        f->front = f->back = NULL;
        pthread_cond_destroy(&f->cond);
        pthread_mutex_destroy(&f->lock);
}

/* Wait, under the lock, for a frame after @after_seq. Return: 1 one is there, 0 ended, -ETIMEDOUT. */
static int feed_wait(struct feed *f, uint64_t after_seq, int64_t deadline_ns) {
        struct timespec ts = ns_to_timespec(deadline_ns);

        while (f->seq <= after_seq && !f->ended && !f->quit)
                if (!deadline_ns)
                        pthread_cond_wait(&f->cond, &f->lock);
                else if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) == ETIMEDOUT)
                        return f->seq > after_seq ? 1 : -ETIMEDOUT;
        return f->seq > after_seq && !f->quit;
}

int64_t feed_copy(struct feed *f, uint64_t after_seq, int64_t deadline_ns, uint8_t **buf, size_t *cap, size_t *ret_size,
                  struct preview_header *ret_header) {
        int64_t r;

        pthread_mutex_lock(&f->lock);
        r = feed_wait(f, after_seq, deadline_ns);
        if (r > 0 && f->front_size > *cap) {
                uint8_t *p = realloc(*buf, f->front_size);
                if (!p)
                        r = -ENOMEM;
                else
                        *buf = p, *cap = f->front_size;
        }
        if (r > 0) {
                memcpy(*buf, f->front, f->front_size);
                *ret_size = f->front_size;
                *ret_header = f->header;
                r = (int64_t) f->seq;
        }
        pthread_mutex_unlock(&f->lock);
        return r;
}

void feed_set_status(struct feed *f, const char *state, const char *line, const char *warnings,
                     const char *last_error) {
        pthread_mutex_lock(&f->lock);
        snprintf(f->state, sizeof(f->state), "%s", state);
        snprintf(f->line, sizeof(f->line), "%s", line);
        snprintf(f->warnings, sizeof(f->warnings), "%s", warnings);
        snprintf(f->last_error, sizeof(f->last_error), "%s", last_error);
        pthread_mutex_unlock(&f->lock);
}

char *feed_status_json(struct feed *f, char *buf, size_t len) {
        char line[sizeof(f->line) * 6], state[sizeof(f->state) * 6], frame[128];
        char warnings[sizeof(f->warnings) * 6], last_error[sizeof(f->last_error) * 6];
        struct preview_header h;
        uint64_t seq;
        bool ended;

        pthread_mutex_lock(&f->lock);
        json_escape(f->line, line, sizeof(line));
        json_escape(f->state, state, sizeof(state));
        json_escape(f->warnings, warnings, sizeof(warnings));
        json_escape(f->last_error, last_error, sizeof(last_error));
        h = f->header, seq = f->seq, ended = f->ended;
        pthread_mutex_unlock(&f->lock);
        snprintf(buf, len,
                 "{\"hand\":\"%s\",\"state\":\"%s\",\"line\":\"%s\",\"warnings\":\"%s\",\"last_error\":\"%s\","
                 "\"frames_received\":%" PRIu64 ",\"preview\":\"%s\",\"ended\":%s,\"frame\":{\"number\":%" PRIu64
                 ",\"width\":%" PRIu32 ",\"height\":%" PRIu32 ",\"rectified\":%s,\"guides\":%s,\"recording\":%s}}\n",
                 f->hand, state, line, warnings, last_error, seq,
                 seq ? preview_describe(&h, frame, sizeof(frame)) : "no frame yet", ended ? "true" : "false", h.number,
                 h.width, h.height, h.flags & PREVIEW_RECTIFIED ? "true" : "false",
                 h.flags & PREVIEW_GUIDES ? "true" : "false", h.flags & PREVIEW_RECORDING ? "true" : "false");
        return buf;
}
