/* SPDX-License-Identifier: MIT */
/*
 * queue.c — owns the two rings of the writer queue and the rooms reserved in its byte ring; the
 * accounting and why it never hands out a byte twice: queue.h.
 */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

/* [start, end): ring offsets counting up; the bytes are at offset % max_bytes */
struct claim {
        uint64_t start, pos, end; /* pos: where the room's bytes begin (start, or past a skipped end) */
};

struct queue {
        struct queue_entry *entries; /* committed, oldest at `first` */
        uint64_t *starts;            /* each entry's claim start, same index */
        unsigned max_entries, first, count;
        struct claim *rooms; /* max_entries slots */
        unsigned *open;      /* the slots of the n_open open rooms */
        unsigned *idle;      /* the n_idle slots free */
        unsigned n_open, n_idle;
        uint8_t *bytes;
        size_t max_bytes;
        uint64_t head, tail; /* every claim lies in [head, tail); tail - head <= max_bytes */
};

size_t queue_footprint(unsigned max_entries, size_t max_bytes) {
        size_t per_entry = sizeof(struct queue_entry) + sizeof(uint64_t) + sizeof(struct claim) + 2 * sizeof(unsigned);
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
        q->starts = calloc(max_entries, sizeof(*q->starts));
        q->rooms = calloc(max_entries, sizeof(*q->rooms));
        q->open = calloc(max_entries, sizeof(*q->open));
        q->idle = calloc(max_entries, sizeof(*q->idle));
        /* mapped, not touched: a page becomes resident when a frame is written into it and
         * stops being so when the writer returns it (queue_return_pages()) */
        q->bytes = mmap(NULL, max_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (q->bytes == MAP_FAILED)
                q->bytes = NULL;
        if (!q->entries || !q->starts || !q->rooms || !q->open || !q->idle || !q->bytes)
                return queue_free(q), -ENOMEM;
        q->max_entries = max_entries;
        q->max_bytes = max_bytes;
        for (unsigned i = 0; i < max_entries; i++)
                q->idle[q->n_idle++] = max_entries - 1 - i;
        *ret = q;
        return 0;
}

struct queue *queue_free(struct queue *q) {
        if (!q)
                return NULL;
        free(q->entries);
        free(q->starts);
        free(q->rooms);
        free(q->open);
        free(q->idle);
        if (q->bytes)
                munmap(q->bytes, q->max_bytes);
        free(q);
        return NULL;
}

/* head := the start of the oldest claim held, or, with none, both ends back to 0 (an empty ring
 * starts again at its beginning). */
static void reclaim(struct queue *q) {
        uint64_t head = q->tail;

        for (unsigned i = 0; i < q->count; i++)
                head = MIN(head, q->starts[(q->first + i) % q->max_entries]);
        for (unsigned i = 0; i < q->n_open; i++)
                head = MIN(head, q->rooms[q->open[i]].start);
        if (q->count == 0 && q->n_open == 0)
                q->tail = head = 0;
        q->head = head;
}

/* Where a room of @min..@max bytes fits: at the tail, or after skipping the end of the ring.
 * Return: its size and *@ret_pos, or 0 when it does not fit. */
static size_t find_room(const struct queue *q, size_t min, size_t max, uint64_t *ret_pos) {
        const uint64_t n = q->max_bytes, limit = q->head + n;
        uint64_t at_tail = q->tail, wrapped = q->tail + (q->tail % n ? n - q->tail % n : 0);
        size_t a = (size_t) MIN(n - at_tail % n, limit - at_tail);
        size_t b = wrapped < limit ? (size_t) (limit - wrapped) : 0;

        if (a >= max || (a >= min && a >= b)) {
                *ret_pos = at_tail;
                return MIN(a, max);
        }
        if (b >= min) {
                *ret_pos = wrapped;
                return MIN(b, max);
        }
        return 0;
}

int queue_reserve(struct queue *q, size_t min, size_t max, struct queue_room *ret) {
        uint64_t pos;
        size_t size;
        unsigned slot;

        max = MIN(max, (size_t) UINT32_MAX);
        if (min == 0 || min > max || q->count + q->n_open >= q->max_entries)
                return -ENOBUFS;
        size = find_room(q, min, max, &pos);
        if (size == 0)
                return -ENOBUFS;
        slot = q->idle[--q->n_idle];
        q->rooms[slot] = (struct claim){.start = q->tail, .pos = pos, .end = pos + size};
        q->open[q->n_open++] = slot;
        q->tail = pos + size;
        *ret = (struct queue_room){.data = q->bytes + pos % q->max_bytes, .cap = size, .slot = slot};
        return 0;
}

/* Take @room's slot off the open list. Return: its claim. */
static struct claim close_room(struct queue *q, const struct queue_room *room) {
        for (unsigned i = 0; i < q->n_open; i++)
                if (q->open[i] == room->slot) {
                        q->open[i] = q->open[--q->n_open];
                        break;
                }
        q->idle[q->n_idle++] = room->slot;
        return q->rooms[room->slot];
}

void queue_commit(struct queue *q, const struct queue_room *room, size_t size, const struct frame_meta *meta,
                  int64_t queued_ns) {
        struct claim c = close_room(q, room);
        unsigned i = (q->first + q->count) % q->max_entries;

        if (c.end == q->tail) /* nothing reserved after it: what it did not use is free again */
                q->tail = c.pos + size;
        q->entries[i] = (struct queue_entry){
                .meta = *meta, .pos = (size_t) (c.pos % q->max_bytes), .size = (uint32_t) size, .queued_ns = queued_ns};
        q->starts[i] = c.start;
        q->count++;
}

void queue_cancel(struct queue *q, const struct queue_room *room) {
        struct claim c = close_room(q, room);

        if (c.end == q->tail)
                q->tail = c.start;
        reclaim(q);
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

/* Hand the whole pages inside [from, to) back to the kernel: they read as zeros next time. */
static void return_range(const uint8_t *from, const uint8_t *to) {
        static size_t page;
        uintptr_t a, b;

        if (!page)
                page = (size_t) sysconf(_SC_PAGESIZE);
        a = ((uintptr_t) from + page - 1) & ~(uintptr_t) (page - 1);
        b = (uintptr_t) to & ~(uintptr_t) (page - 1);
        if (b > a)
                (void) madvise((void *) a, b - a, MADV_DONTNEED); /* advice: a failure only costs memory */
}

void queue_return_pages(const struct queue *q, const struct queue_entry *const *entries, unsigned n) {
        const uint8_t *from = NULL, *to = NULL;

        for (unsigned i = 0; i < n; i++) {
                const struct queue_entry *e = entries[i];
                const uint8_t *data = queue_data(q, e);
                if (data != to) { /* not right after the previous entry: a range of its own */
                        return_range(from, to);
                        from = data;
                }
                to = data + e->size;
        }
        return_range(from, to);
}

void queue_release(struct queue *q, unsigned n) {
        n = MIN(n, q->count);
        q->first = (q->first + n) % q->max_entries;
        q->count -= n;
        reclaim(q);
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
        return (size_t) (q->tail - q->head);
}
