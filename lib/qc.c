/* SPDX-License-Identifier: MIT */
/* qc.c — measuring a frame's look and judging a take by it (see qc.h). */
#include "qc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* The sharpness median is trusted (and frames judged blurred against it) once this many are in. */
#define QC_SHARP_MIN_SAMPLES 10

/* A hash of @n bytes, eight at a time (FNV's multiply, with a rotation for the high bits),
 * continuing from @h. */
static uint64_t mix(uint64_t h, const uint8_t *p, size_t n) {
        size_t i = 0;

        for (; i + 8 <= n; i += 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                h = (h ^ w) * UINT64_C(0x100000001b3);
                h ^= h >> 29;
        }
        for (; i < n; i++)
                h = (h ^ p[i]) * UINT64_C(0x100000001b3);
        return h;
}

/* One eye's mean and sharpness from samples @step apart in both directions; the samples hashed
 * into *@hash. */
static void measure_eye(const uint8_t *y, int stride, unsigned w, unsigned h, unsigned step, unsigned eye,
                        struct qc_sample *ret, uint64_t *hash) {
        uint64_t sum = 0, n = 0, grad = 0, gn = 0;
        uint8_t row_samples[4096];

        for (unsigned r = 0; r < h; r += step) {
                const uint8_t *row = y + (size_t) r * (size_t) stride;
                const uint8_t *below = r + step < h ? row + (size_t) step * (size_t) stride : NULL;
                unsigned k = 0;
                for (unsigned c = 0; c < w && k < sizeof(row_samples); c += step, k++) {
                        unsigned v = row[c];
                        row_samples[k] = (uint8_t) v;
                        sum += v;
                        if (below && c + step < w) {
                                int dx = (int) row[c + step] - (int) v, dy = (int) below[c] - (int) v;
                                grad += (uint64_t) (dx * dx + dy * dy);
                                gn++;
                        }
                }
                n += k;
                *hash = mix(*hash, row_samples, k);
        }
        ret->luma[eye] = (uint8_t) (n ? sum / n : 0);
        ret->sharpness[eye] = gn ? (float) ((double) grad / (double) gn) : 0;
}

static void measure(const uint8_t *y, int stride, unsigned width, unsigned height, unsigned step,
                    struct qc_sample *ret) {
        unsigned eye_w = width / 2;
        uint64_t hash = UINT64_C(0xcbf29ce484222325);

        ret->measured = true;
        for (unsigned e = 0; e < 2; e++)
                measure_eye(y + e * eye_w, stride, eye_w, height, step, e, ret, &hash);
        ret->pixels_hash = hash | 1;
}

void qc_measure_planes(const uint8_t *y, int stride, unsigned width, unsigned height, struct qc_sample *ret) {
        measure(y, stride, width, height, 8, ret);
}

void qc_measure_gray(const uint8_t *g, int stride, unsigned width, unsigned height, struct qc_sample *ret) {
        measure(g, stride, width, height, 1, ret);
}

uint64_t qc_jpeg_hash(const uint8_t *jpeg, size_t size) {
        const size_t chunk = 4096;
        uint64_t h = mix(UINT64_C(0xcbf29ce484222325), (const uint8_t *) &size, sizeof(size));

        if (size <= 3 * chunk)
                return mix(h, jpeg, size) | 1;
        h = mix(h, jpeg, chunk);
        h = mix(h, jpeg + size / 2 - chunk / 2, chunk);
        return mix(h, jpeg + size - chunk, chunk) | 1; /* never 0: 0 means none */
}

void qc_take_init(struct qc_take *q, double fps) {
        *q = (struct qc_take){.period_ns = fps > 0 ? (uint64_t) (1e9 / fps) : 0};
}

static double seconds(const struct qc_take *q, int64_t t) {
        return (double) (t - q->first_ns) / 1e9;
}

static void span_add(struct qc_span *s, double at) {
        if (s->frames++ == 0)
                s->first_s = at;
        s->last_s = at;
}

static unsigned sharp_bin(double v) {
        double b = (log2(v > 1.0 / 16 ? v : 1.0 / 16) + 4) * 8;

        return b < 0 ? 0 : b >= QC_SHARP_BINS ? QC_SHARP_BINS - 1 : (unsigned) b;
}

static double bin_value(unsigned b) {
        return exp2((b + 0.5) / 8 - 4);
}

/* The median of a histogram of @n samples (0 when empty). */
static double hist_median(const uint32_t *hist, uint64_t n) {
        uint64_t seen = 0;

        for (unsigned b = 0; b < QC_SHARP_BINS && n; b++) {
                seen += hist[b];
                if (seen * 2 >= n)
                        return bin_value(b);
        }
        return 0;
}

/* Whether frame @s is @prev again: the same JPEG bytes, or the same pixels looked at. */
static bool alike(const struct qc_sample *s, const struct qc_sample *prev) {
        if (s->jpeg_hash && s->jpeg_hash == prev->jpeg_hash)
                return true;
        return s->measured && prev->measured && s->pixels_hash == prev->pixels_hash;
}

static void account_frozen(struct qc_take *q, const struct qc_config *c, const struct qc_sample *s, double at) {
        bool comparable = s->jpeg_hash || s->measured;

        if (!comparable)
                return; /* a frame not looked at neither breaks nor extends a run */
        if (q->have_last && alike(s, &q->last)) {
                if (q->run++ == 0)
                        q->run_first_s = q->last_at;
                /* the run reaches the threshold: its earlier frames count too, once */
                if (q->run + 1 == c->frozen_frames) {
                        if (q->frozen.frames == 0)
                                q->frozen.first_s = q->run_first_s;
                        q->frozen.frames += q->run + 1; /* the run so far, this frame included */
                        q->frozen.last_s = at;
                } else if (q->run + 1 > c->frozen_frames)
                        span_add(&q->frozen, at);
        } else
                q->run = 0;
        q->last = *s;
        q->last_at = at;
        q->have_last = true;
}

static void account_look(struct qc_take *q, const struct qc_config *c, const struct qc_sample *s, double at) {
        if (!s->measured)
                return;
        q->measured++;
        for (unsigned e = 0; e < 2; e++) {
                uint64_t n = 0;
                q->luma_sum[e] += s->luma[e];
                if (s->luma[e] < c->dark_luma)
                        span_add(&q->dark[e], at);
                if (s->luma[e] > c->bright_luma)
                        span_add(&q->bright[e], at);
                q->sharp_hist[e][sharp_bin(s->sharpness[e])]++;
                for (unsigned b = 0; b < QC_SHARP_BINS; b++)
                        n += q->sharp_hist[e][b];
                /* against the take's own median so far: a smudged lens or motion, not a plain scene */
                if (n >= QC_SHARP_MIN_SAMPLES && s->sharpness[e] < c->blur_ratio * hist_median(q->sharp_hist[e], n) &&
                    s->luma[e] >= c->dark_luma)
                        span_add(&q->blurred[e], at);
        }
}

void qc_account(struct qc_take *q, const struct qc_config *c, const struct qc_sample *sample, int64_t timestamp_ns,
                uint32_t camera_gap, int64_t skew_ns) {
        double at;

        if (q->frames == 0)
                q->first_ns = timestamp_ns;
        at = seconds(q, timestamp_ns);
        if (q->frames > 0 && camera_gap > 0) {
                q->camera_gap_frames += camera_gap;
                span_add(&q->camera_gaps, at);
        }
        if (q->frames > 0 && q->period_ns &&
            (double) (timestamp_ns - q->last_ns) > c->gap_periods * (double) q->period_ns)
                span_add(&q->time_gaps, at);
        if (skew_ns < 0)
                skew_ns = -skew_ns;
        if ((double) skew_ns > c->max_skew_ms * 1e6)
                span_add(&q->skewed, at);
        q->last_ns = timestamp_ns;
        q->frames++;
        account_frozen(q, c, sample, at);
        account_look(q, c, sample, at);
}

void qc_finish(struct qc_take *q, const struct qc_config *c) {
        (void) c;
        for (unsigned e = 0; e < 2; e++) {
                q->sharpness_median[e] = hist_median(q->sharp_hist[e], q->measured);
                q->luma_mean[e] = q->measured ? q->luma_sum[e] / (double) q->measured : 0;
        }
}

/* "; <before>N<after> at A–B s" appended to @buf when @s has frames ("left eye dark in 5 frames
 * at 1.2–1.3 s", "9 frozen frames at 0.7–1.0 s"). */
static void say(char *buf, size_t len, const char *before, const struct qc_span *s, const char *after) {
        size_t n = strlen(buf);

        if (!s->frames || n >= len)
                return;
        snprintf(buf + n, len - n, "%s%s%u%s at %.1f–%.1f s", n ? "; " : "", before, s->frames, after, s->first_s,
                 s->last_s);
}

bool qc_verdict(const struct qc_take *q, char *buf, size_t len) {
        static const char *const eye[2] = {"left eye", "right eye"};
        char what[64];

        buf[0] = 0;
        say(buf, len, "", &q->frozen, " frozen frames");
        for (unsigned e = 0; e < 2; e++) {
                snprintf(what, sizeof(what), "%s dark in ", eye[e]);
                say(buf, len, what, &q->dark[e], " frames");
                snprintf(what, sizeof(what), "%s overexposed in ", eye[e]);
                say(buf, len, what, &q->bright[e], " frames");
                snprintf(what, sizeof(what), "%s blurred in ", eye[e]);
                say(buf, len, what, &q->blurred[e], " frames");
        }
        say(buf, len, "", &q->camera_gaps, " camera gaps");
        say(buf, len, "", &q->time_gaps, " timestamp gaps");
        say(buf, len, "", &q->skewed, " skewed pairs");
        if (buf[0])
                return true;
        snprintf(buf, len, "ok");
        return false;
}
