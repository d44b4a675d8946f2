/* SPDX-License-Identifier: MIT */
/*
 * memory-budget.c — owns the arithmetic of what one hand's pipeline allocates, from the
 * configuration alone (see memory-budget.h). Each part names the code that allocates it; a
 * change there must be made here too (tests/unit/test-config.c counts a known configuration
 * by hand, and tests/integration/test_memory_budget.py compares the budget with the RSS).
 */
#include "memory-budget.h"

#include <linux/videodev2.h>
#include <math.h>
#include <turbojpeg.h>

#include "../lib/frame.h"
#include "../lib/layout.h"
#include "../lib/rectify.h"
#include "jpeg-bands.h"
#include "queue.h"
#include "source.h"
#include "../lib/util.h"

/* layout.c: layout_fapl(), no raw-data chunk cache and a metadata cache fixed at
 * LAYOUT_METADATA_CACHE; writer_create(): one batch of index values, 4 × 8 + 3 × 4 bytes a frame. */
#define WRITER_INDEX_BYTES (4 * 8 + 3 * 4)

/* frame.c: frame_init() of a @w × @h I420 frame, its slack row and alignment included. */
static uint64_t frame_bytes(unsigned w, unsigned h) {
        uint64_t ysize = (uint64_t) w * h, csize = (uint64_t) (w / 2) * (h / 2);
        return (ysize + 2 * csize + w + 64 + 63) & ~(uint64_t) 63;
}

static uint64_t raw_bytes(const struct camera_config *cam) {
        return (uint64_t) 2 * cam->width * cam->height * 3 / 2;
}

/* A source that hands over the camera's JPEG (SOURCE_CAP_CAMERA_JPEG): capture-v4l2.c, a
 * side-by-side MJPEG camera; source-replay.c, images replayed as format "MJPEG". */
static bool camera_jpeg(const struct camera_config *cam) {
        bool side_by_side = cam->source == SOURCE_REPLAY || (cam->source == SOURCE_V4L2 && !camera_is_stereo_pair(cam));
        return side_by_side && cam->pixelformat == V4L2_PIX_FMT_MJPEG;
}

/* Bytes a driver buffer of one device holds per pixel: YUYV 2, planar 4:2:0 1.5, and for MJPEG
 * what UVC drivers reserve (the YUYV size). */
static uint64_t driver_buffer_bytes(const struct camera_config *cam, unsigned w, unsigned h) {
        uint64_t px = (uint64_t) w * h;
        return cam->pixelformat == V4L2_PIX_FMT_YUV420 ? px * 3 / 2 : px * 2;
}

/* source-synthetic.c: the scene; capture-v4l2.c and source-replay.c: convert.c's decode buffer
 * (3 bytes a pixel of the widest image), the driver's buffers mapped in, the read buffer. */
static uint64_t source_bytes(const struct camera_config *cam) {
        unsigned w = cam->width, h = cam->height;

        switch (cam->source) {
        case SOURCE_SYNTHETIC: {
                uint64_t ysize = (uint64_t) (w + (cam->disparity & ~1u)) * h;
                return ysize + ysize / 2;
        }
        case SOURCE_V4L2:
                if (camera_is_stereo_pair(cam))
                        return (uint64_t) w * h * 3 + 2 * cam->buffers * driver_buffer_bytes(cam, w, h);
                return (uint64_t) 2 * w * h * 3 + cam->buffers * driver_buffer_bytes(cam, 2 * w, h);
        case SOURCE_REPLAY:
                /* the read buffer grows to the largest image: taken as a camera's largest JPEG */
                return (uint64_t) 2 * w * h * 3 + source_camera_jpeg_max(cam);
        }
        return 0;
}

void memory_budget_queue(const struct config *c, const struct hand_config *h, unsigned *ret_entries,
                         size_t *ret_bytes) {
        uint64_t raw = raw_bytes(&h->camera), bytes;
        unsigned entries;

        if (c->queue_capacity > 0)
                entries = c->queue_capacity * c->batch_size;
        else
                entries = (unsigned) ceil(c->queue_seconds * h->camera.fps - 1e-9) + c->batch_size;
        bytes = MAX((uint64_t) (entries + 1) * (raw / MEMORY_BUDGET_JPEG_RATIO), 2 * raw);
        *ret_entries = entries;
        *ret_bytes = (size_t) MIN(bytes, (uint64_t) SIZE_MAX);
}

/* rectify.c: the maps rectify_new() builds for @h (their size depends on the calibration: the
 * coarsest grid that predicts every pixel), and the window of rows a band decoder keeps for them.
 * Built here and dropped: what pipeline_new() will allocate, to the byte. Return: false when the
 * maps cannot be built (the pipeline will say why). */
static bool rectify_plan(const struct hand_config *h, uint64_t *ret_bytes, unsigned *ret_window) {
        const struct camera_config *cam = &h->camera;
        struct rectify *r = NULL;

        if (rectify_new(h->calibration, cam->width, cam->height, (int) (2 * cam->width), (int) cam->width, &r) < 0)
                return false;
        *ret_bytes = rectify_footprint(r);
        *ret_window = rectify_window_rows(r);
        rectify_free(r);
        return true;
}

uint64_t memory_budget_hand(const struct config *c, const struct hand_config *h, struct memory_budget *ret) {
        const struct camera_config *cam = &h->camera;
        unsigned fw = 2 * cam->width, fh = cam->height, entries, window = 0;
        uint64_t frame = frame_bytes(fw, fh);
        struct memory_budget b = {};
        size_t ring;

        /* rectify.c: rectify_new(), the grid and a 4-bit correction a pixel of the luma and the
         * chroma planes of both eyes (no output frame: the encoder takes rectified bands); at worst,
         * when they cannot be built here, whole maps of RECTIFY_MAP_BYTES a pixel */
        if (h->calibration && !rectify_plan(h, &b.rectify, &window))
                b.rectify = 2 * MEMORY_BUDGET_MAP_BYTES *
                            ((uint64_t) cam->width * cam->height + (cam->width / 2) * (cam->height / 2));
        /* pipeline.c: alloc_jobs(), a JPEG buffer (the source's jpeg_max) or an I420 frame each */
        b.jobs = (c->workers + 2) * (camera_jpeg(cam) ? source_camera_jpeg_max(cam) : frame);
        /* pipeline.c: alloc_workers(), with a camera's JPEG to rectify: each worker's band decoder
         * and the window of rows the maps read (jpeg-bands.c; the whole frame when 0) */
        if (camera_jpeg(cam) && h->calibration)
                b.decode = c->workers * (uint64_t) jpeg_bands_footprint(fw, fh, window);
        /* encoder.c: encoder_new() */
        b.encoders = c->workers * (uint64_t) tjBufSize((int) fw, (int) fh, TJSAMP_420);
        /* pipeline.c: alloc_queue() */
        memory_budget_queue(c, h, &entries, &ring);
        b.queue = queue_footprint(entries, ring) + c->batch_size * sizeof(struct frame_meta);
        b.source = source_bytes(cam);
        b.writer = LAYOUT_METADATA_CACHE + (uint64_t) c->batch_size * WRITER_INDEX_BYTES + MEMORY_BUDGET_HDF5;
        /* the source thread, the writer thread and the workers */
        b.threads = (c->workers + 2) * MEMORY_BUDGET_THREAD;
        b.total = b.jobs + b.decode + b.encoders + b.rectify + b.queue + b.source + b.writer + b.threads;
        if (ret)
                *ret = b;
        return b.total;
}

uint64_t memory_budget_daemon(const struct config *c) {
        uint64_t total = MEMORY_BUDGET_PROCESS;

        for (unsigned i = 0; i < c->n_hands; i++)
                total += memory_budget_hand(c, &c->hands[i], NULL);
        return total;
}

/* ---- the check, at the configuration's lines ---------------------------------------------- */

static unsigned long long mib(uint64_t bytes) {
        return (unsigned long long) ((bytes + (1 << 20) - 1) >> 20);
}

/* The first of @paths the file sets, for the line of an error about a value it implies. */
static const char *first_set(config_t *cfg, const char *const *paths, unsigned n, config_setting_t **ret) {
        for (unsigned i = 0; i < n; i++)
                if (paths[i] && (*ret = config_lookup(cfg, paths[i])))
                        return paths[i];
        *ret = NULL;
        return NULL;
}

/* Where to point at when the memory is too much: the setting behind the largest part of the
 * largest hand, or the first of its fallbacks the file sets. */
static const char *memory_culprit(config_t *cfg, const struct config *c, const struct hand_config *h,
                                  const struct memory_budget *b, char paths[4][64], config_setting_t **ret) {
        const char *hand = streq(h->name, "left") ? "left_hand" : "right_hand";
        const char *order[6] = {};
        unsigned n = 0;

        snprintf(paths[0], 64, "%s.camera.width", hand);
        snprintf(paths[1], 64, "%s.camera.height", hand);
        snprintf(paths[2], 64, "%s.calibration", hand);
        snprintf(paths[3], 64, "%s.camera", hand);
        if (b->queue >= b->jobs + b->decode + b->encoders && b->queue >= b->rectify) {
                order[n++] = c->queue_capacity > 0 ? "queue.capacity" : "queue.seconds";
                order[n++] = "queue.batch_size";
        } else if (b->rectify > b->jobs + b->decode + b->encoders)
                order[n++] = paths[2];
        else
                order[n++] = "workers";
        order[n++] = paths[0];
        order[n++] = paths[1];
        order[n++] = paths[3];
        order[n++] = hand;
        return first_set(cfg, order, n, ret) ?: "save.max_memory_mb";
}

/* The daemon's worst-case memory against save.max_memory_mb, reported at the setting that weighs
 * most (config_load() runs it only on a configuration without other errors: its numbers hold). */
void memory_budget_check(struct config_checker *ck, config_t *cfg, const struct config *c) {
        struct memory_budget b[2], *big = &b[0];
        uint64_t total = MEMORY_BUDGET_PROCESS;
        char parts[512] = "", paths[4][64];
        config_setting_t *s;
        const char *name;

        for (unsigned i = 0; i < c->n_hands; i++) {
                total += memory_budget_hand(c, &c->hands[i], &b[i]);
                if (b[i].total > big->total)
                        big = &b[i];
                snprintf(parts + strlen(parts), sizeof(parts) - strlen(parts),
                         "%s_hand %llu MB: queue %llu, frames and encoders %llu, rectification %llu, camera %llu, "
                         "writer and threads %llu; ",
                         c->hands[i].name, mib(b[i].total), mib(b[i].queue),
                         mib(b[i].jobs + b[i].decode + b[i].encoders), mib(b[i].rectify), mib(b[i].source),
                         mib(b[i].writer + b[i].threads));
        }
        if (total <= c->max_memory_bytes)
                return;
        name = memory_culprit(cfg, c, &c->hands[big - b], big, paths, &s);
        if (!s)
                s = config_lookup(cfg, name);
        config_report(ck, s, name,
                      "these settings need %llu MB, more than save.max_memory_mb = %llu (%sthe process %llu MB); lower "
                      "queue.seconds or queue.capacity, queue.batch_size, workers or the image size, or raise "
                      "save.max_memory_mb",
                      mib(total), mib(c->max_memory_bytes), parts, mib(MEMORY_BUDGET_PROCESS));
}
