/* SPDX-License-Identifier: MIT */
/*
 * queue.h — the bounded writer queue of one hand: compressed frames waiting for the writer.
 *
 * Two fixed rings allocated once: a byte ring holding the JPEG data, and an entry ring holding
 * each frame's metadata and where its bytes are. The byte ring is mapped but not touched: its
 * pages are resident while they hold frames and handed back as the writer finishes with them
 * (queue_return_pages()), so its memory follows the backlog, up to the whole ring in a stall. A frame's bytes are always contiguous (when
 * they do not fit at the end of the byte ring, they start again at 0).
 *
 * Producers (the encoder workers) do not copy a finished JPEG in: they reserve room first
 * (queue_reserve()), encode into it without the lock, and then commit the frame with its real
 * size, at most the room's (queue_commit()), or give the room back (queue_cancel()). Several
 * rooms may be open at once; entries are appended in the order of the commits, which the
 * pipeline makes its ticket order. The writer reads committed entries from the head and
 * releases what it has written (queue_release()).
 *
 * Accounting (queue.c): offsets into the byte ring count up without wrapping (the byte is at
 * offset % size). Every open room and every committed entry holds a claim [start, end): the
 * bytes of its frame, plus the end of the ring skipped at a wrap and, once committed, what its
 * room had beyond the frame. All claims lie in [head, tail), and tail - head <= ring size; new
 * room is only ever taken from [tail, head + size), so it never overlaps a claim: no byte the
 * writer may read, nor a room a worker writes, is given out twice. head is the start of the
 * oldest claim still held (tail when none), so room comes back in the order it was handed out.
 *
 * No locking inside: the pipeline calls it under its own mutex. The bytes of a room belong to
 * the producer holding it, those of committed entries to the writer until released: both touch
 * them without the lock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct queue_entry {
        struct frame_meta meta;
        size_t pos;        /* offset of the bytes in the byte ring */
        uint32_t size;     /* bytes */
        int64_t queued_ns; /* CLOCK_MONOTONIC when committed: batch timeout runs from here */
};

/* Room reserved in the byte ring; the producer's, from queue_reserve() to queue_commit() or
 * queue_cancel(). */
struct queue_room {
        uint8_t *data; /* cap bytes, contiguous */
        size_t cap;
        unsigned slot; /* queue.c's */
};

struct queue;

/** queue_new() - at most @max_entries frames and @max_bytes bytes. Return: 0 and *@ret. */
int queue_new(unsigned max_entries, size_t max_bytes, struct queue **ret);
struct queue *queue_free(struct queue *q);

/** queue_footprint() - what queue_new() allocates for these sizes (the memory budget's count). */
size_t queue_footprint(unsigned max_entries, size_t max_bytes);

/**
 * queue_reserve() - contiguous room of @max bytes, or as much as there is if less, but at least
 * @min (1 <= min <= max). Open rooms count as entries: committed entries plus open rooms never
 * exceed max_entries, so a commit always has a slot.
 * Return: 0 and *@ret, or -ENOBUFS when there is not that much room (nothing changed).
 */
int queue_reserve(struct queue *q, size_t min, size_t max, struct queue_room *ret);

/**
 * queue_commit() - append the frame whose @size bytes (1 <= size <= room->cap) were written
 * at room->data, as the newest entry. The room is closed; what it had beyond @size is given
 * back at once when no room was reserved after it, else when the writer releases the entry.
 */
void queue_commit(struct queue *q, const struct queue_room *room, size_t size, const struct frame_meta *meta,
                  int64_t queued_ns);

/** queue_cancel() - give back a room that will not be committed (an encoding error, a spill). */
void queue_cancel(struct queue *q, const struct queue_room *room);

/**
 * queue_push() - reserve exactly @size bytes, copy @data there and commit it.
 * Return: 0, or -ENOBUFS when the queue has no room (nothing changed).
 */
int queue_push(struct queue *q, const uint8_t *data, size_t size, const struct frame_meta *meta, int64_t queued_ns);

/** queue_peek() - the @i-th oldest entry (i < queue_depth()). */
const struct queue_entry *queue_peek(const struct queue *q, unsigned i);

/** queue_data() - the bytes of an entry from queue_peek(). */
const uint8_t *queue_data(const struct queue *q, const struct queue_entry *e);

/**
 * queue_return_pages() - give the memory pages that lie wholly inside the bytes of @entries (the
 * @n oldest, from queue_peek()) back to the kernel (MADV_DONTNEED), so the ring is resident only where it holds frames.
 * Called by the writer, which owns those entries, after writing them and before queue_release();
 * pages shared with a neighbouring entry or room are left alone. The bytes read as zeros after.
 */
void queue_return_pages(const struct queue *q, const struct queue_entry *const *entries, unsigned n);

/** queue_release() - forget the @n oldest entries and their bytes. */
void queue_release(struct queue *q, unsigned n);

/** queue_depth() - committed entries (what the writer sees). */
unsigned queue_depth(const struct queue *q);
/** queue_open() - rooms reserved and not yet committed or cancelled. */
unsigned queue_open(const struct queue *q);
unsigned queue_capacity(const struct queue *q);
/** queue_bytes_used() - bytes the ring cannot give out now: tail - head (claims, skipped ends, gaps). */
size_t queue_bytes_used(const struct queue *q);
