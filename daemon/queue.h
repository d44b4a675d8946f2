/* SPDX-License-Identifier: MIT */
/*
 * queue.h — the bounded writer queue of one hand: compressed frames waiting for the writer.
 *
 * Two fixed arrays allocated once: a byte ring holding the JPEG data, and an entry ring holding
 * each frame's metadata and where its bytes are. A frame's bytes are always contiguous.
 *
 * Producers (the encoder workers) do not copy a finished JPEG in: they reserve room first
 * (queue_reserve()), encode into it without the lock, and then commit the frame with its real
 * size, at most the room's (queue_commit()), or give the room back (queue_cancel()). Several
 * rooms may be open at once; entries are appended in the order of the commits, which the
 * pipeline makes its ticket order. The writer reads committed entries from the head and
 * releases what it has written (queue_release()).
 *
 * Accounting (queue.c): the live blocks are the open rooms and the committed entries' bytes,
 * kept in one array sorted by address (at most max_entries of them together). A room is placed
 * in the LOWEST gap between live blocks that holds `max` bytes, or, when none does, in the
 * largest gap that holds `min` (the lowest of equal ones), and takes all of that gap. A commit
 * shrinks its block to the frame (the rest is free at once), a cancel frees the block, a release
 * frees the blocks of the oldest entries. Entries stay in commit order; their bytes may be
 * anywhere in the ring (the writer writes each run of adjacent entries in one go).
 *
 * Guarantees:
 * - no byte is handed out twice: a room is only ever cut from a gap, so live blocks never
 *   overlap; rooms never overlap the committed bytes the writer may be reading;
 * - entries come out in commit order, with their bytes as committed;
 * - capacity: every byte of the ring can hold frames; with no room open, a ring of N bytes
 *   takes frames until their sizes sum to N (less the last that does not fit), so a stalled
 *   disk can fill all of it;
 * - nothing is allocated after queue_new() (no per-frame syscall either, but see below);
 * - queue_bytes_used() is the bytes held by live blocks.
 *
 * Resident memory: the byte ring is mapped and never pre-touched. Since rooms go to the lowest
 * gap, the steady state (a batch or two of frames, the open rooms) keeps reusing the bottom of
 * the ring: its pages stay resident, and no page fault happens per frame. A stall fills the
 * ring upwards. queue.c keeps the high-water of what was handed out; when the queue has drained
 * (the highest live block's end is below it by at least a quarter of the working set), the
 * pages above max(highest live end, working set) go back to the kernel (MADV_DONTNEED), inside
 * queue_release(), under the caller's lock: never per batch, only after a stall. The working
 * set is queue_set_working_set() rooms of the largest room handed out so far.
 *
 * No locking inside: the pipeline calls it under its own mutex. The bytes of a room belong to
 * the producer holding it, those of committed entries to the writer until released: both touch
 * them without the lock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/frame.h"

struct queue_entry {
        struct frame_meta meta;
        size_t pos;        /* offset of the bytes in the byte ring */
        uint32_t size;     /* bytes */
        int64_t queued_ns; /* CLOCK_MONOTONIC when committed: batch timeout runs from here */
};

/* Room reserved in the byte ring; the producer's, from queue_reserve() to queue_commit() or
 * queue_cancel(). */
struct queue_room {
        uint8_t *data; /* cap bytes, contiguous; queue.c finds its block by this address */
        size_t cap;
};

struct queue;

/** queue_new() - at most @max_entries frames and @max_bytes bytes. Return: 0 and *@ret. */
int queue_new(unsigned max_entries, size_t max_bytes, struct queue **ret);
struct queue *queue_free(struct queue *q);

/**
 * queue_set_working_set() - the steady state's working set, in rooms: after a stall the ring's
 * pages are handed back down to @rooms times the largest room handed out so far (the pipeline:
 * two batches and a room per worker). Until set: max_entries rooms (the ring stays resident).
 */
void queue_set_working_set(struct queue *q, unsigned rooms);

/** queue_working_set() - that many bytes now (at most the ring). */
size_t queue_working_set(const struct queue *q);

/** queue_footprint() - what queue_new() allocates for these sizes (the memory budget's count). */
size_t queue_footprint(unsigned max_entries, size_t max_bytes);

/**
 * queue_reserve() - contiguous room of @max bytes at the lowest address that has them, or, if no
 * gap does, the largest gap there is if it holds at least @min (1 <= min <= max). Open rooms
 * count as entries: committed entries plus open rooms never exceed max_entries, so a commit
 * always has a slot.
 * Return: 0 and *@ret, or -ENOBUFS when there is not that much room (nothing changed).
 */
int queue_reserve(struct queue *q, size_t min, size_t max, struct queue_room *ret);

/**
 * queue_commit() - append the frame whose @size bytes (1 <= size <= room->cap) were written
 * at room->data, as the newest entry. The room is closed; what it had beyond @size is free at
 * once.
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
 * queue_release() - forget the @n oldest entries and free their bytes. After a stall (see the
 * top), this is where the ring's pages above the working set are handed back to the kernel.
 */
void queue_release(struct queue *q, unsigned n);

/** queue_depth() - committed entries (what the writer sees). */
unsigned queue_depth(const struct queue *q);
/** queue_open() - rooms reserved and not yet committed or cancelled. */
unsigned queue_open(const struct queue *q);
unsigned queue_capacity(const struct queue *q);
/** queue_bytes_used() - bytes held by live blocks: committed frames and open rooms. */
size_t queue_bytes_used(const struct queue *q);
