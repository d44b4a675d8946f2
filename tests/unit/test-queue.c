/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../daemon/queue.h"
#include "../../lib/util.h"
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

TEST(full_by_bytes_lowest_gap_first) {
        struct queue *q = NULL;
        CHECK(queue_new(16, 1000, &q) == 0);
        CHECK(push(q, 400, 1) == 0);        /* [0,400) */
        CHECK(push(q, 400, 2) == 0);        /* [400,800) */
        CHECK(push(q, 300, 3) == -ENOBUFS); /* 200 free at the top */
        queue_release(q, 1);                /* frees [0,400) */
        CHECK(push(q, 300, 3) == 0);        /* the lowest gap that holds it: [0,300) */
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 0);
        CHECK_EQ_INT(queue_data(q, queue_peek(q, 1))[299], 3);
        CHECK_EQ_INT(queue_bytes_used(q), 700);
        CHECK(push(q, 200, 4) == 0); /* [300,400) is too small: [800,1000) */
        CHECK_EQ_INT(queue_peek(q, 2)->pos, 800);
        CHECK(push(q, 101, 5) == -ENOBUFS); /* only [300,400) is free: 100 bytes */
        CHECK(push(q, 100, 5) == 0);        /* exactly fills it */
        CHECK_EQ_INT(queue_peek(q, 3)->pos, 300);
        CHECK(push(q, 1, 6) == -ENOBUFS);
        CHECK_EQ_INT(queue_bytes_used(q), 1000); /* every byte holds a frame */
        queue_release(q, 4);
        CHECK_EQ_INT(queue_depth(q), 0);
        CHECK_EQ_INT(queue_bytes_used(q), 0);
        CHECK(push(q, 1000, 7) == 0);
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
        commit_tagged(q, &a, 100, 1); /* what it did not use is free at once */
        CHECK_EQ_INT(queue_bytes_used(q), 700);
        commit_tagged(q, &b, 50, 2);
        commit_tagged(q, &c, 10, 3);
        CHECK_EQ_INT(queue_bytes_used(q), 160);
        CHECK_EQ_INT(queue_depth(q), 3);
        CHECK_EQ_INT(queue_open(q), 0);
        CHECK_EQ_INT(queue_peek(q, 0)->size, 100);
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 300);
        CHECK_EQ_INT(queue_peek(q, 2)->pos, 600);
        CHECK_EQ_INT(queue_data(q, queue_peek(q, 1))[49], 2);
        queue_release(q, 1); /* free: [0,300) [350,600) [610,1000) */
        CHECK_EQ_INT(queue_bytes_used(q), 60);
        CHECK(queue_reserve(q, 390, 390, &a) == 0); /* the only gap that holds 390 */
        CHECK(a.data == b.data + 310);
        CHECK_EQ_INT(queue_reserve(q, 301, 301, &b), -ENOBUFS); /* 300 and 250 left */
        CHECK(queue_reserve(q, 1, 1000, &b) == 0);              /* the largest gap, all of it */
        CHECK_EQ_INT(b.cap, 300);
        CHECK(b.data == a.data - 610);
        CHECK(queue_reserve(q, 1, 1000, &c) == 0);
        CHECK_EQ_INT(c.cap, 250);
        CHECK_EQ_INT(queue_bytes_used(q), 1000);
        queue_free(q);
}

TEST(cancel_gives_room_back) {
        struct queue *q = NULL;
        struct queue_room a, b, c;
        CHECK(queue_new(8, 1000, &q) == 0);
        CHECK(queue_reserve(q, 400, 400, &a) == 0); /* [0,400) */
        CHECK(queue_reserve(q, 400, 400, &b) == 0); /* [400,800) */
        queue_cancel(q, &b);
        CHECK_EQ_INT(queue_bytes_used(q), 400);
        CHECK_EQ_INT(queue_open(q), 1);
        CHECK(queue_reserve(q, 400, 400, &b) == 0);
        CHECK(queue_reserve(q, 200, 200, &c) == 0); /* [800,1000) */
        queue_cancel(q, &a);
        CHECK_EQ_INT(queue_bytes_used(q), 600);
        CHECK(queue_reserve(q, 400, 400, &a) == 0); /* the freed bottom again */
        CHECK_EQ_INT(b.data - a.data, 400);
        queue_cancel(q, &a);
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
 * turn, above a later frame's room but before it in the queue. */
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
        CHECK(queue_push(q, big, sizeof(big), &m, 0) == 0); /* [0,100) too small: [200,450) */
        commit_tagged(q, &b, 80, 2);
        CHECK_EQ_INT(queue_peek(q, 0)->meta.number, 1);
        CHECK_EQ_INT(queue_peek(q, 0)->pos, 200);
        CHECK_EQ_INT(queue_peek(q, 1)->meta.number, 2);
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 100);
        CHECK_EQ_INT(queue_data(q, queue_peek(q, 0))[249], 1);
        CHECK_EQ_INT(queue_bytes_used(q), 330);
        queue_release(q, 1);
        CHECK_EQ_INT(queue_bytes_used(q), 80);
        CHECK(push(q, 100, 3) == 0); /* the lowest gap */
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 0);
        queue_release(q, 2);
        CHECK_EQ_INT(queue_bytes_used(q), 0);
        queue_free(q);
}

TEST(largest_gap_when_none_holds_max) {
        struct queue *q = NULL;
        struct queue_room a, b, c, d;
        CHECK(queue_new(8, 1000, &q) == 0);
        CHECK(queue_reserve(q, 700, 700, &a) == 0);
        commit_tagged(q, &a, 600, 1);               /* [0,600) */
        CHECK(queue_reserve(q, 300, 300, &b) == 0); /* [600,900) */
        queue_release(q, 1);                        /* free: [0,600) [900,1000) */
        CHECK(queue_reserve(q, 200, 200, &c) == 0); /* the lowest that holds 200 */
        CHECK(c.data == a.data);
        CHECK(queue_reserve(q, 50, 700, &d) == 0); /* none holds 700: the largest, [200,600) */
        CHECK(d.data == a.data + 200);
        CHECK_EQ_INT(d.cap, 400);
        CHECK_EQ_INT(queue_reserve(q, 101, 700, &a), -ENOBUFS); /* [900,1000) is 100 */
        commit_tagged(q, &b, 300, 2);
        commit_tagged(q, &c, 150, 3);
        commit_tagged(q, &d, 10, 4);
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 0);
        CHECK_EQ_INT(queue_data(q, queue_peek(q, 1))[149], 3);
        CHECK_EQ_INT(queue_bytes_used(q), 460);
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

/* ---- the pipeline's use, simulated: capacity and resident pages ---------------------------- *
 * Frames of 20..40 KiB; `workers` rooms open at once, each reserved as pipeline-encode.c does
 * (twice the largest frame so far, at least the largest) and committed oldest first with its
 * real size, written into it as the encoder does; a writer taking batches of 10 and releasing
 * each after `lag` more commits (the time it writes). The ring: 101 entries of 64 KiB. */

enum { SIM_ENTRIES = 101, SIM_FRAME = 64 << 10, SIM_RING = SIM_ENTRIES * SIM_FRAME, SIM_BATCH = 10 };

struct sim {
        struct queue *q;
        uint8_t *base;
        struct queue_room rooms[4];
        size_t sizes[4];
        unsigned entries, n_rooms, workers, batch; /* batch: entries the writer holds, 0 when waiting */
        unsigned lag, since;                       /* commits to wait before releasing the batch, done */
        size_t largest;
        uint32_t rng;
        uint64_t next;
        bool writer_stalled;
};

static uint32_t sim_rand(struct sim *s) {
        s->rng = s->rng * 1103515245u + 12345u;
        return s->rng >> 8;
}

/* The ring's base: the first room of an empty queue is at its lowest address. */
static uint8_t *ring_base(struct queue *q) {
        struct queue_room r;
        uint8_t *base;

        CHECK(queue_depth(q) == 0 && queue_open(q) == 0 && queue_reserve(q, 1, 1, &r) == 0);
        base = r.data;
        queue_cancel(q, &r);
        return base;
}

/* @entries: SIM_ENTRIES as the pipeline sizes it (the entries run out before the bytes), or
 * more, for the bytes to run out first. */
static void sim_init(struct sim *s, unsigned workers, unsigned entries) {
        *s = (struct sim){.entries = entries, .workers = workers, .rng = 7};
        CHECK(queue_new(entries, SIM_RING, &s->q) == 0);
        queue_set_working_set(s->q, 2 * SIM_BATCH + workers); /* as pipeline.c alloc_queue() */
        s->base = ring_base(s->q);
}

/* Open rooms until `workers` are. Return: false when the queue had none. */
static bool sim_reserve(struct sim *s) {
        while (s->n_rooms < s->workers) {
                size_t max = s->largest ? 2 * s->largest : SIM_FRAME, min = s->largest ? s->largest : max / 2;
                struct queue_room *r = &s->rooms[s->n_rooms];
                if (queue_reserve(s->q, min, max, r) < 0)
                        return false;
                s->sizes[s->n_rooms++] = (20 << 10) + sim_rand(s) % (20 << 10);
        }
        return true;
}

/* Commit the oldest room (its frame, or what of it fits: the spill path is not simulated). */
static void sim_commit(struct sim *s) {
        size_t size = MIN(s->sizes[0], s->rooms[0].cap);

        commit_tagged(s->q, &s->rooms[0], size, ++s->next);
        s->largest = MAX(s->largest, size);
        memmove(s->rooms, s->rooms + 1, (s->n_rooms - 1) * sizeof(s->rooms[0]));
        memmove(s->sizes, s->sizes + 1, (s->n_rooms - 1) * sizeof(s->sizes[0]));
        s->n_rooms--;
}

/* The writer: takes a batch of 10 when there is one, releases it `lag` commits later. */
static void sim_write(struct sim *s) {
        if (s->batch == 0 && queue_depth(s->q) >= SIM_BATCH) {
                s->batch = SIM_BATCH;
                s->lag = sim_rand(s) % SIM_BATCH;
                s->since = 0;
        } else if (s->batch && s->since++ >= s->lag && !s->writer_stalled) {
                queue_release(s->q, s->batch);
                s->batch = 0;
        }
}

/* One frame through the simulated pipeline. Return: false when the queue had no room. */
static bool sim_step(struct sim *s) {
        bool room = sim_reserve(s);

        if (s->n_rooms > 0)
                sim_commit(s);
        sim_write(s);
        return room;
}

/* Pages of the ring resident now (mincore(2)). */
static size_t resident_pages(const struct sim *s) {
        static unsigned char vec[SIM_RING / 4096 + 2];
        size_t page = (size_t) sysconf(_SC_PAGESIZE), n = (SIM_RING + page - 1) / page, count = 0;

        CHECK(n <= sizeof(vec) && mincore(s->base, SIM_RING, vec) == 0);
        for (size_t i = 0; i < n; i++)
                count += vec[i] & 1;
        return count;
}

static size_t pages(size_t bytes) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        return (bytes + page - 1) / page;
}

static void sim_free(struct sim *s) {
        s->q = queue_free(s->q);
}

/* With no room open, a ring of N bytes takes frames until their sizes sum to N, less the last
 * frame that did not fit. With the pipeline's rooms (twice the largest frame, at least the
 * largest) and two open at once, a room's unused end is free at its commit, and what is refused
 * at the end is refused rightly: no gap left holds the largest frame. What is lost is those
 * gaps, each smaller than a frame (about a quarter of the ring with 2 workers here, where 20-40
 * KiB frames get 80 KiB rooms; the old ring kept a room's unused end until its release). */
TEST(capacity_a_stall_fills_the_ring) {
        struct queue *q = NULL;
        struct sim s;
        uint32_t rng = 3;
        size_t sum = 0, size;

        CHECK(queue_new(1000, 1 << 20, &q) == 0);
        for (;;) {
                rng = rng * 1103515245u + 12345u;
                size = 1 + (rng >> 8) % 4096;
                if (push(q, size, 1) < 0)
                        break;
                sum += size;
        }
        printf("# pushed %zu of %d bytes\n", sum, 1 << 20);
        CHECK(sum > (1 << 20) - size && sum <= 1 << 20);
        CHECK_EQ_INT(queue_bytes_used(q), sum);
        queue_free(q);

        sim_init(&s, 2, 4 * SIM_ENTRIES);
        s.writer_stalled = true;
        while (sim_step(&s))
                ;
        sum = queue_bytes_used(s.q);
        printf("# a stall with 2 rooms open: %u frames, %zu of %d bytes\n", queue_depth(s.q), sum, SIM_RING);
        CHECK(queue_depth(s.q) < 4 * SIM_ENTRIES - 2); /* the bytes ran out, not the entries */
        CHECK(sum >= SIM_RING / 10 * 7);
        {
                struct queue_room r;
                CHECK(queue_reserve(s.q, 1, SIM_RING, &r) == 0); /* the largest gap left */
                CHECK(r.cap < s.largest);
                printf("# largest gap left %zu, largest frame %zu\n", r.cap, s.largest);
                queue_cancel(s.q, &r);
        }
        sim_free(&s);
}

TEST(steady_state_stays_in_the_working_set) {
        struct sim s;
        size_t resident, ws;

        sim_init(&s, 2, SIM_ENTRIES);
        for (int i = 0; i < 5000; i++)
                CHECK(sim_step(&s));
        resident = resident_pages(&s);
        ws = queue_working_set(s.q);
        printf("# 5000 frames: %zu pages resident, working set %zu pages, ring %zu pages\n", resident, pages(ws),
               pages(SIM_RING));
        CHECK(ws < SIM_RING / 2);                         /* the check below means something */
        CHECK(resident >= pages(SIM_BATCH * (20 << 10))); /* a batch was written into the ring */
        CHECK(resident <= pages(ws));
        sim_free(&s);
}

/* The working set is made resident as soon as it grows (with the largest room), not page by page
 * as rare interleavings place rooms at offsets not used before: past the first frames, the
 * resident pages grow no more than the working set does (issue 23: RSS flat for an hour). A page
 * shared with an open room the encoder has not written yet may be missing: two a room. */
TEST(working_set_resident_from_the_first_frames) {
        struct sim s;
        size_t ws1, r1, ws2, r2;

        sim_init(&s, 2, SIM_ENTRIES);
        for (int i = 0; i < 200; i++)
                CHECK(sim_step(&s));
        ws1 = queue_working_set(s.q), r1 = resident_pages(&s);
        for (int i = 0; i < 20000; i++)
                CHECK(sim_step(&s));
        ws2 = queue_working_set(s.q), r2 = resident_pages(&s);
        printf("# after 200 frames: %zu pages resident, working set %zu pages; after 20200: %zu, %zu\n", r1, pages(ws1),
               r2, pages(ws2));
        CHECK(r1 + 2 * s.workers >= pages(ws1));
        CHECK(r2 <= r1 + pages(ws2 - ws1) + 1);
        sim_free(&s);
}

TEST(drain_after_stall_hands_pages_back) {
        struct sim s;
        size_t full, after, ws;

        sim_init(&s, 2, 4 * SIM_ENTRIES); /* the stall fills every byte */
        for (int i = 0; i < 1000; i++)
                CHECK(sim_step(&s));
        s.writer_stalled = true;
        while (sim_step(&s))
                ;
        full = resident_pages(&s);
        s.writer_stalled = false;
        for (int i = 0; i < 1000; i++) {
                CHECK(queue_depth(s.q) < 4 * SIM_BATCH || i < 500); /* the backlog drains */
                if (queue_depth(s.q) > 2 * SIM_BATCH && s.batch == 0) {
                        queue_release(s.q, SIM_BATCH); /* the writer catching up */
                        continue;
                }
                sim_step(&s);
        }
        after = resident_pages(&s);
        ws = queue_working_set(s.q);
        printf("# stall: %zu pages resident; after the drain: %zu (working set %zu)\n", full, after, pages(ws));
        CHECK(full >= pages(SIM_RING) * 3 / 4);
        CHECK(after <= pages(ws + ws / 4));
        CHECK(ws < SIM_RING / 2);
        sim_free(&s);
}

/* ---- randomised check against a reference model ------------------------------------------ *
 * The model owns the ring byte by byte (a map, not a list of blocks) and applies queue.h's rule
 * to its free runs: the lowest run that holds max, else the largest (lowest of equals) that
 * holds min. The queue must agree with it step by step (accepted or refused, where, how large,
 * bytes used), no two live byte ranges may ever overlap, and every frame must come out in
 * commit order with its bytes intact. */

enum { MODEL_RING = 5000 };

struct model_run {
        bool owned[MODEL_RING];
        size_t used;
        struct queue *q;
        uint8_t *base;
        struct queue_room rooms[16];
        unsigned n_rooms;
        uint64_t next_tag, out;
        unsigned accepted, refused, fallback;
};

static void model_own(struct model_run *t, size_t from, size_t to, bool own) {
        for (size_t i = from; i < to; i++) {
                CHECK(t->owned[i] != own);
                t->owned[i] = own;
        }
        t->used = own ? t->used + (to - from) : t->used - (to - from);
}

/* The placement rule on the byte map. Return: the size (0: none) and *@pos. */
static size_t model_place(const struct model_run *t, size_t min, size_t max, size_t *pos) {
        size_t best = 0;

        for (size_t i = 0; i < MODEL_RING;) {
                size_t j = i;
                while (j < MODEL_RING && !t->owned[j])
                        j++;
                if (j - i >= max) {
                        *pos = i;
                        return max;
                }
                if (j - i >= min && j - i > best) {
                        best = j - i;
                        *pos = i;
                }
                i = j + 1;
        }
        return best;
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

static void model_reserve(struct model_run *t, unsigned entries, size_t min, size_t max) {
        size_t pos = 0, size = queue_depth(t->q) + t->n_rooms < entries ? model_place(t, min, max, &pos) : 0;
        struct queue_room r;
        int got = queue_reserve(t->q, min, max, &r);

        CHECK_EQ_INT(got == 0, size > 0);
        if (got < 0 || size == 0) {
                t->refused++;
                return;
        }
        t->accepted++;
        t->fallback += size < max;
        CHECK_EQ_INT(r.data - t->base, pos);
        CHECK_EQ_INT(r.cap, size);
        model_own(t, pos, pos + size, true);
        t->rooms[t->n_rooms++] = r;
        memset(r.data, 0xEE, r.cap); /* the producer may write all of it */
}

static void model_close(struct model_run *t, unsigned i, bool commit, size_t size) {
        size_t pos = (size_t) (t->rooms[i].data - t->base);

        if (commit) {
                commit_tagged(t->q, &t->rooms[i], size, t->next_tag++);
                model_own(t, pos + size, pos + t->rooms[i].cap, false);
        } else {
                queue_cancel(t->q, &t->rooms[i]);
                model_own(t, pos, pos + t->rooms[i].cap, false);
        }
        t->rooms[i] = t->rooms[--t->n_rooms];
}

static void model_write(struct model_run *t, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                const struct queue_entry *e = queue_peek(t->q, i);
                CHECK_EQ_INT(e->meta.number, t->out + 1 + i); /* commit order */
                CHECK_EQ_INT(queue_data(t->q, e)[0], e->meta.number & 0xff);
                CHECK_EQ_INT(queue_data(t->q, e)[e->size - 1], e->meta.number & 0xff);
                model_own(t, e->pos, e->pos + e->size, false);
        }
        t->out += n;
        queue_release(t->q, n);
}

static void model_check(struct model_run *t) {
        struct live l[32];
        unsigned nl = 0;

        CHECK_EQ_INT(queue_bytes_used(t->q), t->used);
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
        enum { ENTRIES = 12 };
        static struct model_run t;
        uint32_t rng = 12345;

        t = (struct model_run){.next_tag = 1};
        CHECK(queue_new(ENTRIES, MODEL_RING, &t.q) == 0);
        t.base = ring_base(t.q);
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
        printf("# %u rooms reserved (%u smaller than asked), %u refused, %llu frames out in order\n", t.accepted,
               t.fallback, t.refused, (unsigned long long) t.out);
        CHECK(t.accepted > 10000 && t.refused > 1000 && t.fallback > 500 && t.out > 5000);
        queue_free(t.q);
}

int main(void) {
        static const struct test tests[] = {T(push_peek_release_in_order),
                                            T(full_by_entries),
                                            T(full_by_bytes_lowest_gap_first),
                                            T(never_overlaps),
                                            T(several_rooms_commit_shorter_than_reserved),
                                            T(cancel_gives_room_back),
                                            T(spill_into_fresh_room_keeps_order),
                                            T(largest_gap_when_none_holds_max),
                                            T(full_ring_counts_open_rooms),
                                            T(capacity_a_stall_fills_the_ring),
                                            T(steady_state_stays_in_the_working_set),
                                            T(working_set_resident_from_the_first_frames),
                                            T(drain_after_stall_hands_pages_back),
                                            T(randomised_against_reference_model)};
        return test_main("queue", tests, ELEMENTSOF(tests));
}
