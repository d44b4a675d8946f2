/* SPDX-License-Identifier: MIT */
/*
 * queue.c — owns the writer queue's entry ring, its byte ring and the live blocks in it (open
 * rooms and committed entries' bytes), the low-address allocator that places rooms, and the
 * ring's resident pages (handed back after a stall). The guarantees and why they hold: queue.h.
 */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../lib/util.h"

/* A live block: an open room, or a committed entry's bytes. [start, end) in the byte ring. */
struct block {
        size_t start, end;
};

struct queue {
        struct queue_entry *entries; /* committed, oldest at `first` */
        unsigned max_entries, first, count;
        struct block *blocks; /* live blocks (count + n_open of them), sorted by address, disjoint */
        unsigned n_blocks, n_open;
        uint8_t *bytes; /* mapped, never pre-touched */
        size_t max_bytes;
        size_t used;         /* bytes in live blocks */
        size_t touched_end;  /* no byte at or above it was handed out since the last hand-back */
        size_t largest_room; /* the largest room handed out: the working set's unit */
        size_t written_end;  /* [0, written_end) was written through once: the working set, made resident */
        unsigned keep_rooms; /* the working set, in rooms: queue_set_working_set() */
        bool keep_resident;  /* queue_set_working_set() was called: the working set is made resident */
        size_t page;
};

size_t queue_footprint(unsigned max_entries, size_t max_bytes) {
        size_t per_entry = sizeof(struct queue_entry) + sizeof(struct block);
        return sizeof(struct queue) + max_entries * per_entry + max_bytes;
}

int queue_new(unsigned max_entries, size_t max_bytes, struct queue **ret) {
        struct queue *q;

        if (max_entries == 0 || max_bytes == 0)
                return -EINVAL;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->entries = calloc(max_entries, sizeof(*q->entries));
        q->blocks = calloc(max_entries, sizeof(*q->blocks));
        /* mapped, not touched: a page becomes resident when a frame is first written into it */
        q->bytes = mmap(NULL, max_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (q->bytes == MAP_FAILED)
                q->bytes = NULL;
        if (!q->entries || !q->blocks || !q->bytes)
                return queue_free(q), -ENOMEM;
        q->max_entries = max_entries;
        q->max_bytes = max_bytes;
        q->keep_rooms = max_entries; /* until told: the whole ring may stay resident */
        q->page = (size_t) sysconf(_SC_PAGESIZE);
        *ret = q;
        return 0;
}

struct queue *queue_free(struct queue *q) {
        if (!q)
                return NULL;
        free(q->entries);
        free(q->blocks);
        if (q->bytes)
                munmap(q->bytes, q->max_bytes);
        free(q);
        return NULL;
}

void queue_set_working_set(struct queue *q, unsigned rooms) {
        q->keep_rooms = rooms;
        q->keep_resident = true;
}

size_t queue_working_set(const struct queue *q) {
        size_t keep = q->keep_rooms * q->largest_room;

        return MIN(keep, q->max_bytes);
}

/* The index of the live block starting at @start (it must be live). */
static unsigned find_block(const struct queue *q, size_t start) {
        unsigned lo = 0, hi = q->n_blocks;

        while (hi - lo > 1) {
                unsigned mid = lo + (hi - lo) / 2;
                if (q->blocks[mid].start <= start)
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}

static void remove_block(struct queue *q, unsigned i) {
        q->used -= q->blocks[i].end - q->blocks[i].start;
        memmove(q->blocks + i, q->blocks + i + 1, (q->n_blocks - i - 1) * sizeof(*q->blocks));
        q->n_blocks--;
}

/* Where a room of @min..@max bytes goes: the lowest gap that holds @max, else the largest gap
 * that holds @min (the lowest of equals). Return: its size (0: none), *@ret_start, and
 * *@ret_index, where its block goes in the sorted array. */
static size_t find_gap(const struct queue *q, size_t min, size_t max, size_t *ret_start, unsigned *ret_index) {
        size_t from = 0, best = 0;

        for (unsigned i = 0; i <= q->n_blocks; i++) {
                size_t to = i < q->n_blocks ? q->blocks[i].start : q->max_bytes, gap = to - from;
                if (gap >= max) {
                        *ret_start = from, *ret_index = i;
                        return max;
                }
                if (gap >= min && gap > best) {
                        best = gap;
                        *ret_start = from, *ret_index = i;
                }
                if (i < q->n_blocks)
                        from = q->blocks[i].end;
        }
        return best;
}

/* Write the pages of [from, to) that lie wholly in gaps (no live block, so no one's bytes) once,
 * so that they are resident. A page shared with a live block is left: its block's writer makes it
 * resident. Under the caller's lock, like every other call. */
static void touch_gaps(struct queue *q, size_t from, size_t to) {
        size_t gap_start = 0;

        for (unsigned i = 0; i <= q->n_blocks && gap_start < to; i++) {
                size_t gap_end = i < q->n_blocks ? q->blocks[i].start : q->max_bytes;
                size_t a = (MAX(gap_start, from) + q->page - 1) / q->page * q->page;
                size_t b = MIN(gap_end, to) / q->page * q->page;
                if (a < b)
                        memset(q->bytes + a, 0, b - a);
                if (i < q->n_blocks)
                        gap_start = q->blocks[i].end;
        }
}

/* The working set grew (a larger room than any before): make all of it resident now, rather
 * than page by page as rare interleavings of the workers and the writer place rooms at offsets
 * not used before, which over an hour is megabytes of growth (issue 23). Once per growth of the
 * largest room: in a take, the first room and, rarely, a larger frame than any before. */
static void touch_working_set(struct queue *q) {
        size_t ws = queue_working_set(q);

        if (!q->keep_resident || ws <= q->written_end)
                return;
        touch_gaps(q, q->written_end, ws);
        q->written_end = ws;
        q->touched_end = MAX(q->touched_end, ws);
}

int queue_reserve(struct queue *q, size_t min, size_t max, struct queue_room *ret) {
        size_t start = 0, size;
        unsigned i = 0;

        max = MIN(max, (size_t) UINT32_MAX);
        if (min == 0 || min > max || q->n_blocks >= q->max_entries)
                return -ENOBUFS;
        size = find_gap(q, min, max, &start, &i);
        if (size == 0)
                return -ENOBUFS;
        q->largest_room = MAX(q->largest_room, size);
        touch_working_set(q); /* before the room is live: its bytes are still a gap's */
        memmove(q->blocks + i + 1, q->blocks + i, (q->n_blocks - i) * sizeof(*q->blocks));
        q->blocks[i] = (struct block){.start = start, .end = start + size};
        q->n_blocks++;
        q->n_open++;
        q->used += size;
        q->touched_end = MAX(q->touched_end, start + size);
        *ret = (struct queue_room){.data = q->bytes + start, .cap = size};
        return 0;
}

void queue_commit(struct queue *q, const struct queue_room *room, size_t size, const struct frame_meta *meta,
                  int64_t queued_ns) {
        size_t start = (size_t) (room->data - q->bytes);
        struct block *b = &q->blocks[find_block(q, start)];
        unsigned i = (q->first + q->count) % q->max_entries;

        q->used -= b->end - (start + size); /* what the room had beyond the frame is free at once */
        b->end = start + size;
        q->n_open--;
        q->entries[i] =
                (struct queue_entry){.meta = *meta, .pos = start, .size = (uint32_t) size, .queued_ns = queued_ns};
        q->count++;
}

void queue_cancel(struct queue *q, const struct queue_room *room) {
        remove_block(q, find_block(q, (size_t) (room->data - q->bytes)));
        q->n_open--;
}

int queue_push(struct queue *q, const uint8_t *data, size_t size, const struct frame_meta *meta, int64_t queued_ns) {
        struct queue_room room;
        int r = queue_reserve(q, size, size, &room);

        if (r < 0)
                return r;
        memcpy(room.data, data, size);
        queue_commit(q, &room, size, meta, queued_ns);
        return 0;
}

const struct queue_entry *queue_peek(const struct queue *q, unsigned i) {
        return i < q->count ? &q->entries[(q->first + i) % q->max_entries] : NULL;
}

const uint8_t *queue_data(const struct queue *q, const struct queue_entry *e) {
        return q->bytes + e->pos;
}

/* After a stall: once the pages handed out above max(highest live block, working set) amount to
 * a quarter of the working set, give them back to the kernel. Nothing live lies there, and the
 * caller holds the pipeline's lock, so no room there can be handed out meanwhile. */
static void hand_back(struct queue *q) {
        size_t ws = queue_working_set(q), live_end = q->n_blocks ? q->blocks[q->n_blocks - 1].end : 0;
        size_t keep = (MAX(live_end, ws) + q->page - 1) / q->page * q->page;

        if (keep >= q->touched_end || q->touched_end - keep < MAX(ws / 4, q->page))
                return;
        (void) madvise(q->bytes + keep, q->touched_end - keep, MADV_DONTNEED); /* advice: failing costs memory */
        q->touched_end = keep;
}

void queue_release(struct queue *q, unsigned n) {
        n = MIN(n, q->count);
        for (unsigned k = 0; k < n; k++) {
                const struct queue_entry *e = &q->entries[(q->first + k) % q->max_entries];
                remove_block(q, find_block(q, e->pos));
        }
        q->first = (q->first + n) % q->max_entries;
        q->count -= n;
        hand_back(q);
}

unsigned queue_depth(const struct queue *q) {
        return q->count;
}

unsigned queue_open(const struct queue *q) {
        return q->n_open;
}

unsigned queue_capacity(const struct queue *q) {
        return q->max_entries;
}

size_t queue_bytes_used(const struct queue *q) {
        return q->used;
}
