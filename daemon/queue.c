/* SPDX-License-Identifier: MIT */
/* queue.c — the two rings of the writer queue; see queue.h. */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct queue {
        struct queue_entry *entries;
        unsigned max_entries, head, count;
        uint8_t *bytes;
        size_t max_bytes;
};

int queue_new(unsigned max_entries, size_t max_bytes, struct queue **ret) {
        struct queue *q = calloc(1, sizeof(*q));

        if (!q || max_entries == 0 || max_bytes == 0) {
                free(q);
                return q ? -EINVAL : -ENOMEM;
        }
        q->entries = calloc(max_entries, sizeof(*q->entries));
        q->bytes = malloc(max_bytes);
        if (!q->entries || !q->bytes)
                return queue_free(q), -ENOMEM;
        q->max_entries = max_entries;
        q->max_bytes = max_bytes;
        *ret = q;
        return 0;
}

struct queue *queue_free(struct queue *q) {
        if (!q)
                return NULL;
        free(q->entries);
        free(q->bytes);
        free(q);
        return NULL;
}

/* Where @size contiguous bytes can go, or -1. Data lives in [head, tail) or, wrapped,
 * [head, max) ∪ [0, tail). */
static long find_room(const struct queue *q, size_t size) {
        size_t head, tail;
        const struct queue_entry *last;

        if (q->count == 0)
                return size <= q->max_bytes ? 0 : -1;
        head = q->entries[q->head].pos;
        last = &q->entries[(q->head + q->count - 1) % q->max_entries];
        tail = last->pos + last->size;
        if (tail > head) {
                if (q->max_bytes - tail >= size)
                        return (long) tail;
                return size <= head ? 0 : -1;
        }
        return head - tail >= size ? (long) tail : -1;
}

uint8_t *queue_reserve(struct queue *q, size_t size) {
        long pos;

        if (q->count == q->max_entries || size == 0 || size > UINT32_MAX)
                return NULL;
        pos = find_room(q, size);
        return pos < 0 ? NULL : q->bytes + pos;
}

void queue_commit(struct queue *q, const uint8_t *where, size_t size, const struct frame_meta *meta,
                  int64_t queued_ns) {
        struct queue_entry *e = &q->entries[(q->head + q->count) % q->max_entries];

        *e = (struct queue_entry){
                .meta = *meta, .pos = (size_t) (where - q->bytes), .size = (uint32_t) size, .queued_ns = queued_ns};
        q->count++;
}

int queue_push(struct queue *q, const uint8_t *data, size_t size, const struct frame_meta *meta, int64_t queued_ns) {
        uint8_t *where = queue_reserve(q, size);

        if (!where)
                return -ENOBUFS;
        memcpy(where, data, size);
        queue_commit(q, where, size, meta, queued_ns);
        return 0;
}

const struct queue_entry *queue_peek(const struct queue *q, unsigned i) {
        return i < q->count ? &q->entries[(q->head + i) % q->max_entries] : NULL;
}

const uint8_t *queue_data(const struct queue *q, const struct queue_entry *e) {
        return q->bytes + e->pos;
}

void queue_release(struct queue *q, unsigned n) {
        if (n > q->count)
                n = q->count;
        q->head = (q->head + n) % q->max_entries;
        q->count -= n;
}

unsigned queue_depth(const struct queue *q) {
        return q->count;
}

unsigned queue_capacity(const struct queue *q) {
        return q->max_entries;
}

size_t queue_bytes_used(const struct queue *q) {
        size_t head, tail;
        const struct queue_entry *last;

        if (q->count == 0)
                return 0;
        head = q->entries[q->head].pos;
        last = &q->entries[(q->head + q->count - 1) % q->max_entries];
        tail = last->pos + last->size;
        return tail > head ? tail - head : q->max_bytes - head + tail;
}
