/* SPDX-License-Identifier: MIT */
/*
 * qc.h — quality at the rig: what judges a take while it is recorded, so that the operator keeps
 * or discards it knowing what is in it. Pure computation, no threads, no I/O.
 *
 * Two halves, because frames are measured out of order and judged in order:
 * - measuring (an encoder worker, each frame, out of order): qc_measure_planes() on the luma the
 *   worker has anyway (every 8th pixel of every 8th row: about 30 µs for 2560×720), or
 *   qc_measure_jpeg() on a camera's JPEG stored as it came (a cheap fingerprint of its bytes on
 *   every frame; on one frame in qc.sample_every, a 1/8-scale grey decode for the pixels);
 *   the result travels with the frame (struct frame_meta's qc).
 * - judging (the writer thread, in capture order, frames stored): qc_account() counts frozen
 *   runs, dark and overexposed eyes, camera gaps (sequence numbers skipped, timestamps more than
 *   qc.gap_periods apart), pair skew over qc.max_skew_ms, and keeps each eye's sharpness in a
 *   histogram; qc_finish() finds the median sharpness and the blurred frames (below
 *   qc.blur_ratio of it) and writes the verdict sentence.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A frame's look, compact: a fingerprint frozen frames are found by (a camera never sends the
 * same pixels twice, its sensor's noise alone sees to that: a frame alike the one before, to the
 * bit, was not taken anew), and per eye the mean luma and the sharpness (mean squared gradient of
 * the subsampled luma). */
struct qc_sample {
        bool measured;        /* the pixels were looked at (else only `jpeg_hash`) */
        uint64_t jpeg_hash;   /* a camera's JPEG: its size and a hash of some of its bytes; 0: none */
        uint64_t pixels_hash; /* measured: a hash of the luma looked at */
        uint8_t luma[2];      /* left, right */
        float sharpness[2];
};

/* The thresholds (the configuration's group qc; config.c checks them). */
struct qc_config {
        unsigned dark_luma;     /* an eye whose mean luma is below: dark (covered, the lights off) */
        unsigned bright_luma;   /* ... above: overexposed */
        unsigned frozen_frames; /* this many frames in a row alike (or more) make a frozen run */
        double blur_ratio;      /* an eye sharper than this fraction of its take's median: not blurred */
        double gap_periods;     /* timestamps further apart than this many frame periods: a gap */
        double max_skew_ms;     /* two devices: eyes further apart than this: a skewed pair */
        unsigned sample_every;  /* a camera's JPEG stored as it came: its pixels looked at one frame in this many */
};

#define QC_CONFIG_DEFAULTS                                                                                             \
        {                                                                                                              \
                .dark_luma = 16, .bright_luma = 240, .frozen_frames = 3, .blur_ratio = 0.35, .gap_periods = 1.5,       \
                .max_skew_ms = 10, .sample_every = 120                                                                 \
        }

/* Sharpness histogram: log2 bins of 1/8 step over [2^-4, 2^20). */
#define QC_SHARP_BINS 192

/* A stretch of frames that had something (its first and last frame time, from the take's start). */
struct qc_span {
        unsigned frames;
        double first_s, last_s; /* seconds from the take's first stored frame */
};

/* What the writer counts of a take, frame by frame, in order. */
struct qc_take {
        uint64_t frames, measured;
        int64_t first_ns, last_ns;
        uint64_t period_ns; /* from the configured rate */
        /* frozen: frames alike the one before, in runs of at least frozen_frames */
        unsigned run;          /* the current run: frames alike the one before */
        double run_first_s;    /* when the run's first frame was */
        struct qc_span frozen; /* every frozen frame (frames), first and last */
        struct qc_span dark[2], bright[2], camera_gaps, time_gaps, skewed;
        uint64_t camera_gap_frames; /* frames the camera skipped (sequence numbers) */
        uint32_t sharp_hist[2][QC_SHARP_BINS];
        struct qc_sample last; /* the frame before (frozen) */
        double last_at;
        bool have_last;
        /* qc_finish() */
        double sharpness_median[2];
        struct qc_span blurred[2];
        double luma_mean[2];
        double luma_sum[2];
};

/**
 * qc_measure_planes() - @ret from an I420 frame's luma @y (@width × @height, both eyes side by
 * side, @stride bytes a row), looking at every 8th pixel of every 8th row.
 */
void qc_measure_planes(const uint8_t *y, int stride, unsigned width, unsigned height, struct qc_sample *ret);

/**
 * qc_measure_gray() - the same from a grey image @g (@width × @height, rows @stride apart) looked
 * at whole: a 1/8-scale decode of a camera's JPEG.
 */
void qc_measure_gray(const uint8_t *g, int stride, unsigned width, unsigned height, struct qc_sample *ret);

/** qc_jpeg_hash() - a fingerprint of a JPEG's bytes (its size and a hash of 3 × 4 KiB of them): equal for identical frames. */
uint64_t qc_jpeg_hash(const uint8_t *jpeg, size_t size);

/** qc_take_init() - a new take's counts; @fps: the configured rate. */
void qc_take_init(struct qc_take *q, double fps);

/**
 * qc_account() - one frame stored, in order: its @sample, its capture @timestamp_ns, the frames
 * the camera skipped just before it (@camera_gap), its eyes' @skew_ns.
 */
void qc_account(struct qc_take *q, const struct qc_config *c, const struct qc_sample *sample, int64_t timestamp_ns,
                uint32_t camera_gap, int64_t skew_ns);

/** qc_finish() - the medians, the blurred frames, the mean luma: once every frame is counted. */
void qc_finish(struct qc_take *q, const struct qc_config *c);

/**
 * qc_verdict() - the take in one sentence for the operator: "ok", or what was found and where
 * ("14 frozen frames at 3.1–3.6 s; left eye dark in 30 frames at 0.0–1.0 s"). Return: whether
 * anything was found.
 */
bool qc_verdict(const struct qc_take *q, char *buf, size_t len);
