/* SPDX-License-Identifier: MIT */
/*
 * queue.h — the bounded writer queue of one hand: compressed frames waiting for the writer.
 *
 * It is two fixed rings allocated once: a byte ring holding the JPEG data, and an entry ring
 * holding each frame's metadata and where its bytes are. A frame's bytes are always contiguous
 * (when they do not fit at the end of the byte ring, they start again at 0). Producers append at
 * the tail, the writer reads from the head and releases what it has written.
 *
 * No locking inside: the pipeline calls it under its own mutex. Bytes of entries between head
 * and tail belong to the writer until released, and producers never touch them, so the writer
 * reads them without the lock.
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
        int64_t queued_ns; /* CLOCK_MONOTONIC when appended: batch timeout runs from here */
};

struct queue;

/** queue_new() - at most @max_entries frames and @max_bytes bytes. Return: 0 and *@ret. */
int queue_new(unsigned max_entries, size_t max_bytes, struct queue **ret);
struct queue *queue_free(struct queue *q);

/**
 * queue_push() - append one frame, copying @size bytes from @data.
 * Return: 0, or -ENOBUFS when the queue has no room (nothing changed).
 */
int queue_push(struct queue *q, const uint8_t *data, size_t size, const struct frame_meta *meta, int64_t queued_ns);

/**
 * queue_reserve() - room for @size bytes at the tail, for a producer to fill without the lock.
 * Only one reservation may be open at a time (the pipeline's ticket order guarantees it).
 * Return: where to copy the bytes, or NULL when the queue has no room.
 */
uint8_t *queue_reserve(struct queue *q, size_t size);

/** queue_commit() - append the frame whose @size bytes were written where queue_reserve() said. */
void queue_commit(struct queue *q, const uint8_t *where, size_t size, const struct frame_meta *meta, int64_t queued_ns);

/** queue_peek() - the @i-th oldest entry (i < queue_depth()). */
const struct queue_entry *queue_peek(const struct queue *q, unsigned i);

/** queue_data() - the bytes of an entry from queue_peek(). */
const uint8_t *queue_data(const struct queue *q, const struct queue_entry *e);

/** queue_release() - forget the @n oldest entries and their bytes. */
void queue_release(struct queue *q, unsigned n);

unsigned queue_depth(const struct queue *q);
unsigned queue_capacity(const struct queue *q);
/** queue_bytes_used() - bytes the ring cannot give out now: frames, and the end skipped at a wrap. */
size_t queue_bytes_used(const struct queue *q);
