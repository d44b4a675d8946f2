/* SPDX-License-Identifier: MIT */
/*
 * preview.c — owns a hand's preview clients and its preview thread (hr-pv-<hand>).
 *
 * DESIGN
 *
 * - Main thread: preview_open() makes the client whole (socket pair, renderer, send buffer),
 *   then hands it over through `pending` under `lock`, starting the thread, with the tap's
 *   buffer (pipeline_tap_alloc()) and the scratch frames, when none runs. preview_reap() joins
 *   a thread that has ended and frees those; preview_free() ends every client.
 * - Preview thread, at nice +10: adopts pending clients; asks the tap for a frame when a client
 *   is due and not still writing the last one; renders it (preview-render.c) once per set of
 *   equal options and copies it to the other clients with those options; writes header + JPEG
 *   with non-blocking sends, finishing a partly written frame when poll() says the socket takes
 *   more, skipping frames for a client still busy. A client whose socket hangs up is freed here.
 *   With no client left it switches the tap off, ends, and tells the main thread
 *   (PIPELINE_EVENT_PREVIEW), which joins it.
 * - `lock` guards pending, running and quit; `active`, the clients' state and the scratch are
 *   the thread's alone while it runs. `count` (atomic): clients open, for the Previews property.
 * - One eventfd, `wake_fd`, wakes the thread: the source thread's publish, a new client, quit.
 */
#include "preview.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "../lib/config.h"
#include "pipeline.h"
#include "../lib/preview-protocol.h"
#include "preview-render.h"
#include "preview-tap.h"
#include "../lib/util.h"

#define PREVIEW_NICE 10

struct client {
        int fd; /* the daemon's end: non-blocking */
        struct preview_options o;
        unsigned scale;
        struct preview_render *render;
        int64_t period_ns, next_due;
        uint8_t *buf; /* header + JPEG */
        size_t cap, len, pos;
        bool fresh; /* rendered from the current frame (shared with equal options) */
};

struct preview {
        const struct hand_config *hand;
        struct pipeline *p;
        int wake_fd;

        pthread_mutex_t lock;
        struct client *pending[PREVIEW_MAX_CLIENTS]; /* lock */
        unsigned n_pending;                          /* lock */
        bool running, quit;                          /* lock */
        atomic_uint count;

        pthread_t thread;
        bool started; /* main thread: a thread to join */
        struct preview_scratch *scratch;

        /* the thread's */
        struct client *active[PREVIEW_MAX_CLIENTS];
        unsigned n_active;
        int64_t camera_period;
};

static void wake(struct preview *pv) {
        uint64_t one = 1;
        if (write(pv->wake_fd, &one, sizeof(one)) < 0) {
                /* EAGAIN only: already awake */
        }
}

static void client_free(struct client *c) {
        if (!c)
                return;
        if (c->fd >= 0)
                close(c->fd);
        preview_render_free(c->render);
        free(c->buf);
        free(c);
}

static int client_new(struct preview *pv, const struct preview_options *o, int *ret_fd) {
        const struct camera_config *cam = &pv->hand->camera;
        _cleanup_(closep) int theirs = -1;
        struct client *c = calloc(1, sizeof(*c));
        int fds[2], r;

        if (!c)
                return -ENOMEM;
        c->fd = -1;
        c->o = *o;
        c->period_ns = (int64_t) (1e9 / o->fps);
        c->scale = preview_scale_for(2 * cam->width, o->max_width);
        r = preview_render_new(2 * cam->width, cam->height, c->scale, &c->render);
        if (r >= 0) {
                c->cap = sizeof(struct preview_header) + preview_render_max(c->render);
                c->buf = malloc(c->cap);
                r = c->buf ? 0 : -ENOMEM;
        }
        if (r >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                r = -errno;
        if (r < 0) {
                client_free(c);
                return r;
        }
        c->fd = fds[0];
        theirs = fds[1];
        shutdown(c->fd, SHUT_RD); /* the reader sends nothing; what it sends is discarded */
        if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) {
                r = -errno;
                client_free(c);
                return r;
        }
        pv->pending[pv->n_pending++] = c;
        *ret_fd = TAKE_FD(theirs);
        return 0;
}

/* ---- the thread --------------------------------------------------------------------------- */

static void drop(struct preview *pv, unsigned i) {
        client_free(pv->active[i]);
        pv->active[i] = pv->active[--pv->n_active];
        atomic_fetch_sub(&pv->count, 1);
        pipeline_post(pv->p, PIPELINE_EVENT_PREVIEW);
}

/* Write what the socket takes of @c's frame. Return: false when the reader is gone. */
static bool send_more(struct client *c) {
        while (c->pos < c->len) {
                ssize_t n = send(c->fd, c->buf + c->pos, c->len - c->pos, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
                c->pos += (size_t) n;
        }
        return true;
}

static bool same_options(const struct client *a, const struct client *b) {
        return a->scale == b->scale && a->o.rectified == b->o.rectified && a->o.guides == b->o.guides &&
               a->o.quality == b->o.quality;
}

/* Render @f for @c, or copy a rendering of it a client with equal options already has. */
static int render_for(struct preview *pv, struct client *c, const struct frame *f) {
        const size_t head = sizeof(struct preview_header);
        size_t size;
        int r;

        for (unsigned i = 0; i < pv->n_active; i++) {
                struct client *o = pv->active[i];
                if (o != c && o->fresh && same_options(o, c)) {
                        memcpy(c->buf, o->buf, o->len);
                        c->len = o->len;
                        return 0;
                }
        }
        r = preview_render(c->render, pv->scratch, f, c->o.rectified ? pipeline_rectify(pv->p) : NULL, c->o.guides,
                           c->o.quality, c->buf + head, c->cap - head, &size);
        if (r < 0)
                return r;
        c->len = head + size;
        return 0;
}

static void fill_header(struct client *c, const struct frame *f, bool recording) {
        struct preview_header h = {
                .size = (uint32_t) (c->len - sizeof(h)),
                .timestamp_ns = f->meta.timestamp_ns,
                .number = f->meta.number,
                .flags = (c->o.rectified ? PREVIEW_RECTIFIED : 0) | (c->o.guides ? PREVIEW_GUIDES : 0) |
                         (recording ? PREVIEW_RECORDING : 0),
        };

        memcpy(h.magic, PREVIEW_MAGIC, sizeof(h.magic));
        preview_render_size(c->render, &h.width, &h.height);
        memcpy(c->buf, &h, sizeof(h));
}

/* The tap's frame is ready: every client that is due and not busy gets it. */
static void deliver(struct preview *pv) {
        struct preview_tap *tap = pipeline_tap(pv->p);
        const struct frame *f = &tap->frame;

        for (unsigned i = 0; i < pv->n_active; i++)
                pv->active[i]->fresh = false;
        for (unsigned i = 0; i < pv->n_active; i++) {
                struct client *c = pv->active[i];
                if (c->pos < c->len || f->meta.timestamp_ns < c->next_due)
                        continue;
                c->next_due = f->meta.timestamp_ns + c->period_ns - pv->camera_period / 2;
                if (render_for(pv, c, f) < 0) {
                        log_warning("%s: a preview frame could not be rendered, skipped", pv->hand->name);
                        continue;
                }
                fill_header(c, f, tap->recording);
                c->fresh = true;
                c->pos = 0;
        }
        for (unsigned i = pv->n_active; i-- > 0;)
                if (pv->active[i]->fresh && !send_more(pv->active[i]))
                        drop(pv, i);
}

/* Ask the tap for the next frame a client not busy is due for (nothing when all are busy). */
static void want_next(struct preview *pv) {
        struct preview_tap *tap = pipeline_tap(pv->p);
        int64_t due = INT64_MAX;

        if (atomic_load(&tap->state) != TAP_IDLE)
                return;
        for (unsigned i = 0; i < pv->n_active; i++)
                if (pv->active[i]->pos >= pv->active[i]->len)
                        due = MIN(due, pv->active[i]->next_due);
        if (due != INT64_MAX)
                pipeline_tap_want(pv->p, due);
}

/* Adopt new clients. Return: false when the thread is to end (quit, or nobody left). */
static bool adopt(struct preview *pv) {
        bool go_on;

        pthread_mutex_lock(&pv->lock);
        for (unsigned i = 0; i < pv->n_pending; i++)
                pv->active[pv->n_active++] = pv->pending[i];
        pv->n_pending = 0;
        go_on = !pv->quit && pv->n_active > 0;
        if (!go_on)
                pv->running = false;
        pthread_mutex_unlock(&pv->lock);
        return go_on;
}

/* Wait for a frame, room in a busy client's socket, or a hang-up, and act on it. */
static void step(struct preview *pv) {
        struct pollfd pfd[PREVIEW_MAX_CLIENTS + 1] = {{.fd = pv->wake_fd, .events = POLLIN}};
        struct client *who[PREVIEW_MAX_CLIENTS];
        struct preview_tap *tap = pipeline_tap(pv->p);
        unsigned n = pv->n_active;
        uint64_t v;

        for (unsigned i = 0; i < n; i++)
                who[i] = pv->active[i];
        for (unsigned i = 0; i < n; i++)
                pfd[i + 1] = (struct pollfd){.fd = pv->active[i]->fd,
                                             .events = pv->active[i]->pos < pv->active[i]->len ? POLLOUT : 0};
        if (poll(pfd, n + 1, -1) < 0)
                return;
        if (pfd[0].revents & POLLIN) {
                if (read(pv->wake_fd, &v, sizeof(v)) < 0) {
                        /* EAGAIN: someone else's wake-up was read with ours */
                }
                if (atomic_load(&tap->state) == TAP_READY) {
                        deliver(pv);
                        atomic_store(&tap->state, TAP_IDLE);
                }
        }
        for (unsigned k = 0; k < n; k++) {
                /* deliver() may have dropped and moved clients: find each one again */
                unsigned i = 0;
                while (i < pv->n_active && pv->active[i] != who[k])
                        i++;
                if (i == pv->n_active)
                        continue;
                if (pfd[k + 1].revents & (POLLHUP | POLLERR | POLLNVAL))
                        drop(pv, i);
                else if ((pfd[k + 1].revents & POLLOUT) && !send_more(pv->active[i]))
                        drop(pv, i);
        }
}

static void *preview_main(void *userdata) {
        struct preview *pv = userdata;
        char name[16];

        snprintf(name, sizeof(name), "hr-pv-%s", pv->hand->name);
        thread_setup(name);
        /* below the pipeline's threads; refused (EPERM) where the service's seccomp filter denies
         * @resources: then it runs at the default priority, and only costs CPU while watched */
        if (setpriority(PRIO_PROCESS, (id_t) gettid(), PREVIEW_NICE) < 0)
                log_debug("%s: preview thread at the default priority (setpriority: %m)", pv->hand->name);
        while (adopt(pv)) {
                want_next(pv);
                step(pv);
        }
        preview_tap_off(pipeline_tap(pv->p));
        while (pv->n_active > 0)
                drop(pv, pv->n_active - 1); /* EOF for every reader */
        pipeline_post(pv->p, PIPELINE_EVENT_PREVIEW);
        return NULL;
}

/* ---- the main thread's side ---------------------------------------------------------------- */

void preview_reap(struct preview *pv) {
        bool ended;

        pthread_mutex_lock(&pv->lock);
        ended = pv->started && !pv->running;
        pthread_mutex_unlock(&pv->lock);
        if (!ended)
                return;
        pthread_join(pv->thread, NULL);
        pv->started = false;
        pv->scratch = preview_scratch_free(pv->scratch);
        pipeline_tap_release(pv->p);
        /* clients that came while it was ending, with no thread to take them (preview_free) */
        for (unsigned i = 0; i < pv->n_pending; i++) {
                client_free(pv->pending[i]);
                atomic_fetch_sub(&pv->count, 1);
        }
        pv->n_pending = 0;
}

static int start_thread(struct preview *pv) {
        const struct camera_config *cam = &pv->hand->camera;
        int r = preview_scratch_new(2 * cam->width, cam->height, &pv->scratch);

        if (r >= 0)
                r = pipeline_tap_alloc(pv->p, pv->wake_fd);
        if (r < 0) {
                pv->scratch = preview_scratch_free(pv->scratch);
                return r;
        }
        pv->running = true;
        r = -pthread_create(&pv->thread, NULL, preview_main, pv);
        if (r < 0) {
                pv->running = false;
                pipeline_tap_release(pv->p);
                pv->scratch = preview_scratch_free(pv->scratch);
                return r;
        }
        pv->started = true;
        return 0;
}

int preview_open(struct preview *pv, const struct preview_options *o, int *ret_fd) {
        bool running;
        int r;

        if (atomic_load(&pv->count) >= PREVIEW_MAX_CLIENTS)
                return -EUSERS;
        pthread_mutex_lock(&pv->lock);
        running = pv->running;
        if (running) {
                r = client_new(pv, o, ret_fd);
                pthread_mutex_unlock(&pv->lock);
                if (r < 0)
                        return r;
                atomic_fetch_add(&pv->count, 1);
                wake(pv);
                return 0;
        }
        pthread_mutex_unlock(&pv->lock);

        preview_reap(pv);              /* a thread that ended and was not joined yet */
        r = client_new(pv, o, ret_fd); /* no thread: nobody else touches pending */
        if (r < 0)
                return r;
        atomic_fetch_add(&pv->count, 1);
        r = start_thread(pv);
        if (r < 0) {
                close(*ret_fd);
                client_free(pv->pending[--pv->n_pending]);
                atomic_fetch_sub(&pv->count, 1);
        }
        return r;
}

unsigned preview_count(struct preview *pv) {
        return atomic_load(&pv->count);
}

int preview_new(const struct hand_config *hand, struct pipeline *p, struct preview **ret) {
        struct preview *pv = calloc(1, sizeof(*pv));

        if (!pv)
                return -ENOMEM;
        pv->hand = hand;
        pv->p = p;
        pv->camera_period = (int64_t) (1e9 / hand->camera.fps);
        pv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (pv->wake_fd < 0) {
                free(pv);
                return -errno;
        }
        pthread_mutex_init(&pv->lock, NULL);
        *ret = pv;
        return 0;
}

struct preview *preview_free(struct preview *pv) {
        if (!pv)
                return NULL;
        pthread_mutex_lock(&pv->lock);
        pv->quit = true;
        pthread_mutex_unlock(&pv->lock);
        wake(pv);
        if (pv->started) {
                pthread_join(pv->thread, NULL);
                pv->started = false;
                pv->scratch = preview_scratch_free(pv->scratch);
                pipeline_tap_release(pv->p);
        }
        for (unsigned i = 0; i < pv->n_pending; i++)
                client_free(pv->pending[i]);
        pthread_mutex_destroy(&pv->lock);
        close(pv->wake_fd);
        free(pv);
        return NULL;
}
