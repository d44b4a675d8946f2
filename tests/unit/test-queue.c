/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "../../daemon/queue.h"
#include "../../daemon/util.h"
#include "test.h"

static uint8_t data[4096];

static int push(struct queue *q, size_t size, uint64_t number) {
        struct frame_meta m = {.number = number};
        memset(data, (int) (number & 0xff), size);
        return queue_push(q, data, size, &m, (int64_t) number);
}

TEST(push_peek_release_in_order) {
        struct queue *q = NULL;
        CHECK(queue_new(4, 1000, &q) == 0);
        CHECK(push(q, 100, 1) == 0);
        CHECK(push(q, 200, 2) == 0);
        CHECK_EQ_INT(queue_depth(q), 2);
        CHECK_EQ_INT(queue_bytes_used(q), 300);
        const struct queue_entry *e = queue_peek(q, 0);
        CHECK_EQ_INT(e->meta.number, 1);
        CHECK_EQ_INT(e->size, 100);
        CHECK_EQ_INT(queue_data(q, e)[99], 1);
        CHECK_EQ_INT(queue_peek(q, 1)->meta.number, 2);
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 100); /* adjacent: the writer writes them in one go */
        CHECK(queue_peek(q, 2) == NULL);
        queue_release(q, 1);
        CHECK_EQ_INT(queue_peek(q, 0)->meta.number, 2);
        queue_release(q, 1);
        CHECK_EQ_INT(queue_depth(q), 0);
        CHECK_EQ_INT(queue_bytes_used(q), 0);
        queue_free(q);
}

TEST(full_by_entries) {
        struct queue *q = NULL;
        CHECK(queue_new(3, 10000, &q) == 0);
        for (int i = 0; i < 3; i++)
                CHECK(push(q, 10, (uint64_t) i) == 0);
        CHECK(push(q, 10, 9) == -ENOBUFS);
        CHECK_EQ_INT(queue_depth(q), 3); /* the newest frame is refused, the queued ones kept */
        CHECK_EQ_INT(queue_peek(q, 2)->meta.number, 2);
        queue_free(q);
}

TEST(full_by_bytes_and_wrap) {
        struct queue *q = NULL;
        CHECK(queue_new(16, 1000, &q) == 0);
        CHECK(push(q, 400, 1) == 0);        /* [0,400) */
        CHECK(push(q, 400, 2) == 0);        /* [400,800) */
        CHECK(push(q, 300, 3) == -ENOBUFS); /* 200 at the end, nothing at the start */
        queue_release(q, 1);                /* frees [0,400) */
        CHECK(push(q, 300, 3) == 0);        /* does not fit at the end: wraps to 0 */
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 0);
        CHECK_EQ_INT(queue_data(q, queue_peek(q, 1))[299], 3);
        CHECK_EQ_INT(queue_bytes_used(q), 1000 - 400 + 300);
        CHECK(push(q, 101, 4) == -ENOBUFS); /* only [300,400) is free: 100 bytes */
        CHECK(push(q, 100, 4) == 0);        /* exactly fills it */
        CHECK(push(q, 1, 5) == -ENOBUFS);
        CHECK_EQ_INT(queue_bytes_used(q), 1000); /* 800 of frames + the 200 skipped at the wrap */
        queue_release(q, 3);
        CHECK_EQ_INT(queue_depth(q), 0);
        CHECK(push(q, 1000, 6) == 0); /* an empty ring starts again at 0 */
        CHECK_EQ_INT(queue_peek(q, 0)->pos, 0);
        queue_free(q);
}

TEST(never_overlaps) {
        /* a long random run: no two live entries ever share a byte, order is kept */
        struct queue *q = NULL;
        uint32_t rng = 1;
        uint64_t next = 0, expect = 0;
        CHECK(queue_new(8, 3000, &q) == 0);
        for (int step = 0; step < 20000; step++) {
                rng = rng * 1103515245u + 12345u;
                if ((rng >> 16) % 3 != 0) {
                        size_t size = 1 + (rng >> 8) % 900;
                        if (push(q, size, next) == 0)
                                next++;
                } else if (queue_depth(q) > 0) {
                        const struct queue_entry *e = queue_peek(q, 0);
                        CHECK_EQ_INT(e->meta.number, expect);
                        CHECK_EQ_INT(queue_data(q, e)[e->size - 1], expect & 0xff);
                        queue_release(q, 1);
                        expect++;
                }
                for (unsigned i = 0; i < queue_depth(q); i++)
                        for (unsigned j = i + 1; j < queue_depth(q); j++) {
                                const struct queue_entry *a = queue_peek(q, i), *b = queue_peek(q, j);
                                CHECK(a->pos + a->size <= b->pos || b->pos + b->size <= a->pos);
                        }
        }
        CHECK(next > 1000);
        queue_free(q);
}

/* Fill a room with @tag and commit @size of it. */
static void commit_tagged(struct queue *q, const struct queue_room *room, size_t size, uint64_t tag) {
        struct frame_meta m = {.number = tag};
        memset(room->data, (int) (tag & 0xff), size);
        queue_commit(q, room, size, &m, 0);
}

TEST(several_rooms_commit_shorter_than_reserved) {
        struct queue *q = NULL;
        struct queue_room a, b, c;
        CHECK(queue_new(8, 1000, &q) == 0);
        CHECK(queue_reserve(q, 300, 300, &a) == 0); /* [0,300) */
        CHECK(queue_reserve(q, 300, 300, &b) == 0); /* [300,600) */
        CHECK(queue_reserve(q, 300, 300, &c) == 0); /* [600,900) */
        CHECK_EQ_INT(queue_open(q), 3);
        CHECK_EQ_INT(queue_depth(q), 0);
        CHECK(b.data == a.data + 300 && c.data == b.data + 300);
        commit_tagged(q, &a, 100, 1); /* rooms after it: its other 200 bytes stay held */
        CHECK_EQ_INT(queue_bytes_used(q), 900);
        commit_tagged(q, &b, 50, 2);
        commit_tagged(q, &c, 10, 3); /* the newest room: the tail comes back to its end */
        CHECK_EQ_INT(queue_bytes_used(q), 610);
        CHECK_EQ_INT(queue_depth(q), 3);
        CHECK_EQ_INT(queue_open(q), 0);
        CHECK_EQ_INT(queue_peek(q, 0)->size, 100);
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 300);
        CHECK_EQ_INT(queue_peek(q, 2)->pos, 600);
        CHECK_EQ_INT(queue_data(q, queue_peek(q, 1))[49], 2);
        queue_release(q, 1); /* the first frame and the gap after it */
        CHECK_EQ_INT(queue_bytes_used(q), 310);
        CHECK(queue_reserve(q, 390, 390, &a) == 0);             /* [610,1000) */
        CHECK_EQ_INT(queue_reserve(q, 301, 301, &b), -ENOBUFS); /* [0,300) free: 300 bytes */
        CHECK(queue_reserve(q, 1, 1000, &b) == 0);              /* as much as there is */
        CHECK_EQ_INT(b.cap, 300);
        CHECK(b.data == a.data - 610);
        queue_free(q);
}

TEST(cancel_gives_room_back) {
        struct queue *q = NULL;
        struct queue_room a, b, c;
        CHECK(queue_new(8, 1000, &q) == 0);
        CHECK(queue_reserve(q, 400, 400, &a) == 0);
        CHECK(queue_reserve(q, 400, 400, &b) == 0);
        queue_cancel(q, &b); /* the newest: the tail comes back */
        CHECK_EQ_INT(queue_bytes_used(q), 400);
        CHECK_EQ_INT(queue_open(q), 1);
        CHECK(queue_reserve(q, 400, 400, &b) == 0);
        CHECK(queue_reserve(q, 200, 200, &c) == 0);
        queue_cancel(q, &a); /* the oldest: the head moves on to b */
        CHECK_EQ_INT(queue_bytes_used(q), 600);
        queue_cancel(q, &c);
        CHECK_EQ_INT(queue_bytes_used(q), 400);
        commit_tagged(q, &b, 400, 7);
        CHECK_EQ_INT(queue_depth(q), 1);
        CHECK_EQ_INT(queue_peek(q, 0)->pos, 400);
        queue_release(q, 1);
        CHECK_EQ_INT(queue_bytes_used(q), 0);
        CHECK(queue_reserve(q, 1000, 1000, &a) == 0); /* everything came back */
        queue_cancel(q, &a);
        CHECK_EQ_INT(queue_open(q), 0);
        queue_free(q);
}

/* A JPEG larger than its room: the room is cancelled and the frame queued in fresh room at its
 * turn, behind a later frame's room but before it in the queue. */
TEST(spill_into_fresh_room_keeps_order) {
        struct queue *q = NULL;
        struct queue_room a, b;
        struct frame_meta m = {.number = 1};
        static uint8_t big[250];
        CHECK(queue_new(8, 1000, &q) == 0);
        CHECK(queue_reserve(q, 100, 100, &a) == 0); /* frame 1: [0,100) */
        CHECK(queue_reserve(q, 100, 100, &b) == 0); /* frame 2: [100,200) */
        queue_cancel(q, &a);
        memset(big, 1, sizeof(big));
        CHECK(queue_push(q, big, sizeof(big), &m, 0) == 0); /* [200,450) */
        commit_tagged(q, &b, 80, 2);
        CHECK_EQ_INT(queue_peek(q, 0)->meta.number, 1);
        CHECK_EQ_INT(queue_peek(q, 0)->pos, 200);
        CHECK_EQ_INT(queue_peek(q, 1)->meta.number, 2);
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 100);
        CHECK_EQ_INT(queue_data(q, queue_peek(q, 0))[249], 1);
        CHECK_EQ_INT(queue_bytes_used(q), 350); /* [100,450): frame 2's room is the oldest claim */
        queue_release(q, 1);
        CHECK_EQ_INT(queue_bytes_used(q), 350); /* frame 2 still holds [100,180), so in order */
        queue_release(q, 1);
        CHECK_EQ_INT(queue_bytes_used(q), 0);
        queue_free(q);
}

TEST(rooms_wrap_around_the_end) {
        struct queue *q = NULL;
        struct queue_room a, b, c;
        CHECK(queue_new(8, 1000, &q) == 0);
        CHECK(queue_reserve(q, 700, 700, &a) == 0);
        commit_tagged(q, &a, 600, 1);               /* [0,600) */
        CHECK(queue_reserve(q, 300, 300, &b) == 0); /* [600,900) */
        queue_release(q, 1);                        /* head at b: 600 */
        CHECK(queue_reserve(q, 200, 200, &c) == 0); /* 100 left at the end: wraps to [0,200) */
        CHECK(c.data == a.data);
        CHECK_EQ_INT(queue_bytes_used(q), 600); /* b, the skipped 100, c */
        CHECK_EQ_INT(queue_reserve(q, 401, 401, &a), -ENOBUFS);
        commit_tagged(q, &b, 300, 2);
        commit_tagged(q, &c, 150, 3);
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 0);
        CHECK_EQ_INT(queue_data(q, queue_peek(q, 1))[149], 3);
        CHECK_EQ_INT(queue_bytes_used(q), 550);
        queue_free(q);
}

TEST(full_ring_counts_open_rooms) {
        struct queue *q = NULL;
        struct queue_room r[3], x;
        CHECK(queue_new(3, 1000, &q) == 0);
        CHECK(queue_reserve(q, 10, 10, &r[0]) == 0);
        CHECK(queue_reserve(q, 10, 10, &r[1]) == 0);
        commit_tagged(q, &r[0], 10, 0);
        CHECK(queue_reserve(q, 10, 10, &r[2]) == 0);
        CHECK_EQ_INT(queue_reserve(q, 10, 10, &x), -ENOBUFS); /* 1 entry + 2 rooms: no slot left */
        queue_cancel(q, &r[2]);
        CHECK(queue_reserve(q, 10, 10, &x) == 0);
        CHECK_EQ_INT(queue_reserve(q, 0, 10, &x), -ENOBUFS);
        queue_free(q);
}

/* ---- randomised check against a reference model ------------------------------------------ *
 * The model keeps every claim in a list in the order it was handed out: room is reclaimed from
 * the front of the list as claims end, and taken at the back. The queue must agree with it
 * step by step (accepted or refused, bytes used), no two live byte ranges may ever overlap, and
 * every frame must come out in commit order with its bytes intact. */

struct model_claim {
        uint64_t start, pos, end;
        uint64_t tag; /* 0 while an open room, the frame's once committed */
        bool held;
};
struct model {
        struct model_claim c[256];
        unsigned n; /* claims in the order handed out; the front ones go when no longer held */
        uint64_t head, tail;
        size_t ring;
};

static void model_trim_front(struct model *m) {
        unsigned k = 0;
        while (k < m->n && !m->c[k].held)
                k++;
        memmove(m->c, m->c + k, (m->n - k) * sizeof(m->c[0]));
        m->n -= k;
        if (m->n == 0)
                m->head = m->tail = 0;
        else
                m->head = m->c[0].start;
}

/* The placement rule of queue.h on the model's two ends. Return: the size, or 0. */
static size_t model_place(const struct model *m, size_t min, size_t max, uint64_t *pos) {
        uint64_t n = m->ring, limit = m->head + n, wrapped = (m->tail + n - 1) / n * n;
        uint64_t a = n - m->tail % n < limit - m->tail ? n - m->tail % n : limit - m->tail;
        uint64_t b = wrapped < limit ? limit - wrapped : 0;
        if (a >= max || (a >= min && a >= b)) {
                *pos = m->tail;
                return a < max ? a : max;
        }
        if (b >= min) {
                *pos = wrapped;
                return b < max ? b : max;
        }
        return 0;
}

static unsigned model_find(const struct model *m, uint64_t start) {
        unsigned k = 0;
        while (k < m->n && m->c[k].start != start)
                k++;
        return k;
}

struct live {
        const uint8_t *data;
        size_t size;
};

static bool overlaps(const struct live *l, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                for (unsigned j = i + 1; j < n; j++)
                        if (l[i].data < l[j].data + l[j].size && l[j].data < l[i].data + l[i].size)
                                return true;
        return false;
}

struct model_run {
        struct model m;
        struct queue *q;
        struct queue_room rooms[16];
        uint64_t room_start[16];
        unsigned n_rooms;
        uint64_t next_tag, out;
        unsigned accepted, refused;
};

static void model_reserve(struct model_run *t, unsigned entries, size_t min, size_t max) {
        struct model *m = &t->m;
        uint64_t pos = 0;
        size_t size = queue_depth(t->q) + t->n_rooms < entries ? model_place(m, min, max, &pos) : 0;
        struct queue_room r;
        int got = queue_reserve(t->q, min, max, &r);

        CHECK_EQ_INT(got == 0, size > 0);
        if (got < 0 || size == 0) {
                t->refused++;
                return;
        }
        t->accepted++;
        CHECK_EQ_INT(r.cap, size);
        m->c[m->n++] = (struct model_claim){.start = m->tail, .pos = pos, .end = pos + size, .held = true};
        m->tail = pos + size;
        t->room_start[t->n_rooms] = m->c[m->n - 1].start;
        t->rooms[t->n_rooms++] = r;
        memset(r.data, 0xEE, r.cap); /* the producer may write all of it */
}

static void model_close(struct model_run *t, unsigned i, bool commit, size_t size) {
        struct model *m = &t->m;
        unsigned k = model_find(m, t->room_start[i]);

        if (commit) {
                commit_tagged(t->q, &t->rooms[i], size, t->next_tag);
                m->c[k].tag = t->next_tag++;
                if (k == m->n - 1)
                        m->tail = m->c[k].end = m->c[k].pos + size;
        } else {
                queue_cancel(t->q, &t->rooms[i]);
                m->c[k].held = false;
                if (k == m->n - 1) {
                        m->tail = m->c[k].start;
                        m->n--;
                }
                model_trim_front(m);
        }
        t->rooms[i] = t->rooms[--t->n_rooms];
        t->room_start[i] = t->room_start[t->n_rooms];
}

static void model_write(struct model_run *t, unsigned n) {
        struct model *m = &t->m;

        for (unsigned i = 0; i < n; i++) {
                const struct queue_entry *e = queue_peek(t->q, i);
                CHECK_EQ_INT(e->meta.number, t->out + 1 + i); /* commit order */
                CHECK_EQ_INT(queue_data(t->q, e)[0], e->meta.number & 0xff);
                CHECK_EQ_INT(queue_data(t->q, e)[e->size - 1], e->meta.number & 0xff);
                for (unsigned k = 0; k < m->n; k++)
                        if (m->c[k].tag == e->meta.number)
                                m->c[k].held = false;
        }
        t->out += n;
        queue_release(t->q, n);
        model_trim_front(m);
}

static void model_check(struct model_run *t) {
        struct live l[32];
        unsigned nl = 0;

        CHECK_EQ_INT(queue_bytes_used(t->q), t->m.tail - t->m.head);
        CHECK(queue_bytes_used(t->q) <= t->m.ring);
        CHECK_EQ_INT(queue_open(t->q), t->n_rooms);
        for (unsigned i = 0; i < t->n_rooms; i++)
                l[nl++] = (struct live){t->rooms[i].data, t->rooms[i].cap};
        for (unsigned i = 0; i < queue_depth(t->q); i++) {
                const struct queue_entry *e = queue_peek(t->q, i);
                l[nl++] = (struct live){queue_data(t->q, e), e->size};
        }
        CHECK(!overlaps(l, nl));
}

TEST(randomised_against_reference_model) {
        enum { ENTRIES = 12, RING = 5000 };
        static struct model_run t;
        uint32_t rng = 12345;

        t = (struct model_run){.m = {.ring = RING}, .next_tag = 1};
        CHECK(queue_new(ENTRIES, RING, &t.q) == 0);
        for (int step = 0; step < 60000 && test_failures == 0; step++) {
                rng = rng * 1103515245u + 12345u;
                unsigned op = (rng >> 16) % 10, x = rng >> 3;
                if (op < 4) {
                        size_t max = 1 + x % 1500;
                        model_reserve(&t, ENTRIES, 1 + (x >> 11) % max, max);
                } else if (op < 7 && t.n_rooms > 0) {
                        unsigned i = (x >> 11) % t.n_rooms;
                        model_close(&t, i, op < 6, 1 + x % t.rooms[i].cap);
                } else if (queue_depth(t.q) > 0)
                        model_write(&t, 1 + x % queue_depth(t.q));
                model_check(&t);
        }
        printf("# %u rooms reserved, %u refused, %llu frames out in order\n", t.accepted, t.refused,
               (unsigned long long) t.out);
        CHECK(t.accepted > 10000 && t.refused > 1000 && t.out > 5000);
        queue_free(t.q);
}

int main(void) {
        static const struct test tests[] = {T(push_peek_release_in_order),
                                            T(full_by_entries),
                                            T(full_by_bytes_and_wrap),
                                            T(never_overlaps),
                                            T(several_rooms_commit_shorter_than_reserved),
                                            T(cancel_gives_room_back),
                                            T(spill_into_fresh_room_keeps_order),
                                            T(rooms_wrap_around_the_end),
                                            T(full_ring_counts_open_rooms),
                                            T(randomised_against_reference_model)};
        return test_main("queue", tests, ELEMENTSOF(tests));
}
