/* SPDX-License-Identifier: MIT */
/*
 * memory-budget.h — how much memory the daemon needs, computed from its configuration alone.
 *
 * pipeline_new() allocates every buffer of a hand up front; memory_budget_hand() adds up the
 * same buffers from the settings (image size, workers, queue, source, calibration), so the
 * configuration check (memory_budget_check(), which the daemon hands config_load()) can refuse,
 * with the file and line, a configuration the board cannot hold, instead of the daemon dying on
 * "Cannot allocate memory". The writer queue is
 * sized here only (memory_budget_queue(), called by pipeline.c as well): the check and the
 * allocation cannot drift apart.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../lib/config-check.h"
#include "../lib/config.h"

/* The queue's byte ring holds, per frame, the raw I420 size divided by this: 3 bits a pixel.
 * JPEG at quality 85 of real scenes takes about 1.8 (420 KB per 2×1280×720 frame), of the
 * synthetic camera 1.4; quality 95 about twice as much. */
#define MEMORY_BUDGET_JPEG_RATIO 4

/* What the libraries the daemon calls allocate themselves: per process (code and data of
 * libraries, sd-bus, the main thread), and per hand (HDF5's metadata cache for a take's
 * file; TurboJPEG's working memory and a thread's stack pages, per thread). Measured with
 * RSS; see tests/integration/test_memory_budget.py. */
#define MEMORY_BUDGET_PROCESS (UINT64_C(16) << 20)
#define MEMORY_BUDGET_HDF5 (UINT64_C(4) << 20)
#define MEMORY_BUDGET_THREAD (UINT64_C(1) << 20)

/* Bytes a whole rectification map would take per output pixel (luma and chroma maps alike: a
 * source offset and the bilinear weights in 4): the budget's bound when it cannot build the
 * grid rectify.c keeps instead (about half a byte a pixel). */
#define MEMORY_BUDGET_MAP_BYTES 4

/* Bytes, by what they hold, for one hand. */
struct memory_budget {
        uint64_t jobs;     /* workers + 2 jobs: an I420 stereo frame each, or a camera JPEG buffer */
        uint64_t decode;   /* a camera's JPEG to rectify: per worker, a band decoder and its window of rows */
        uint64_t encoders; /* one worst-case JPEG buffer per worker (tjBufSize) */
        uint64_t rectify;  /* the maps, with a calibration (built once to be counted: rectify_footprint()) */
        uint64_t queue;    /* the writer queue: byte ring, entries, the writer's batch of frames' metadata */
        uint64_t source;   /* synthetic scene; decode buffer, read buffer, driver buffers */
        uint64_t writer;   /* HDF5 chunk caches and metadata cache, the batch's index values */
        uint64_t threads;  /* the hand's threads: stacks, TurboJPEG working memory */
        uint64_t total;
};

/**
 * memory_budget_queue() - the writer queue of a hand: how many frames and how many bytes.
 * With queue.capacity set, capacity × batch_size frames; otherwise queue.seconds of frames at
 * the camera's rate beyond the batch being written. Bytes: that many frames at
 * MEMORY_BUDGET_JPEG_RATIO, plus one for the end a wrap skips, never less than two raw frames.
 * @c, @h: borrowed.
 */
void memory_budget_queue(const struct config *c, const struct hand_config *h, unsigned *ret_entries, size_t *ret_bytes);

/**
 * memory_budget_hand() - what pipeline_new() allocates for hand @h, plus what the libraries
 * allocate for it (MEMORY_BUDGET_HDF5, MEMORY_BUDGET_THREAD). @c, @h: borrowed.
 * @ret: the parts; may be NULL.
 * Return: the total in bytes.
 */
uint64_t memory_budget_hand(const struct config *c, const struct hand_config *h, struct memory_budget *ret);

/** memory_budget_daemon() - every configured hand, plus MEMORY_BUDGET_PROCESS. Bytes. */
uint64_t memory_budget_daemon(const struct config *c);

/**
 * memory_budget_check() - config_check_fn: memory_budget_daemon() of @c against
 * save.max_memory_mb, reported through @ck at the setting behind the largest part of the largest
 * hand (queue, workers, image size, calibration) with every hand's parts in the sentence.
 */
void memory_budget_check(struct config_checker *ck, config_t *cfg, const struct config *c);
