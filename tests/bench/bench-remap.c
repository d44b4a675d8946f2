/* SPDX-License-Identifier: MIT */
/*
 * bench-remap — time per stereo frame of handrecd's rectification (both eyes, Y, U and V planes),
 * one thread, on an image's planes, with every remap kernel this machine has:
 *   bench-remap WIDTH HEIGHT ITERATIONS CALIBRATION.yml IMAGE.jpg [OUT.yuv]   (WIDTH, HEIGHT: one eye)
 * IMAGE is decoded to I420 and used for both eyes. Prints, one "name value" a line: the maps'
 * bytes, build time, grid step and the source window a band decoder keeps (rows), then for each kernel the mean and best CPU milliseconds of rectify_frame()
 * and of the same frame remapped in bands of 16 rows into a small buffer (as the encoder does).
 * OUT gets the source frame then the scalar kernel's rectified frame (I420, both eyes side by
 * side, no padding), for remap.py to run OpenCV on the same planes and compare the bytes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../lib/calibration.h"
#include "../../daemon/convert.h"
#include "../../lib/rectify.h"
#include "../../lib/util.h"

#define BAND 16

static int load_image(const char *path, unsigned w, unsigned h, struct frame *src) {
        static uint8_t buf[16 << 20];
        const struct convert_layout jpeg = {.format = CONVERT_MJPEG, .width = w, .height = h};
        struct convert *cv = NULL;
        FILE *f = fopen(path, "rb");
        size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;
        int r;

        if (f)
                fclose(f);
        if (convert_new(w, h, &cv) < 0)
                return -1;
        r = convert_frame(cv, &jpeg, buf, len, src, 0);
        if (r >= 0)
                r = convert_frame(cv, &jpeg, buf, len, src, w);
        if (r < 0)
                fprintf(stderr, "%s\n", convert_error(cv));
        convert_free(cv);
        return r;
}

/* The whole frame in bands of BAND rows through one small buffer. */
static void remap_banded(const struct rectify *r, const struct frame *src, uint8_t *band[3], const int strides[3]) {
        for (unsigned y0 = 0; y0 < src->height; y0 += BAND)
                rectify_rows(r, src, y0, BAND, band, strides);
}

/* Prints <name>_ms and <name>_best_ms: CPU time of @n frames, by whole frames or in bands. */
static void time_kernel(const struct rectify *r, const struct frame *src, struct frame *dst, int n, bool banded,
                        const char *name) {
        unsigned w = src->width;
        int strides[3] = {(int) w, (int) w / 2, (int) w / 2};
        static uint8_t buf[BAND * 4096 * 2];
        uint8_t *band[3] = {buf, buf + BAND * w, buf + BAND * w + BAND / 2 * w / 2};
        int64_t best = INT64_MAX, total = 0;

        for (int i = -1; i < n; i++) { /* the first one warms the caches */
                int64_t a = now_ns(CLOCK_THREAD_CPUTIME_ID);
                if (banded)
                        remap_banded(r, src, band, strides);
                else
                        rectify_frame(r, src, dst);
                int64_t b = now_ns(CLOCK_THREAD_CPUTIME_ID) - a;
                if (i >= 0) {
                        total += b;
                        best = MIN(best, b);
                }
        }
        printf("%s_ms %.3f\n%s_best_ms %.3f\n", name, total / 1e6 / n, name, best / 1e6);
}

static void write_frame(FILE *out, const struct frame *f) {
        for (unsigned p = 0; p < 3; p++)
                for (unsigned y = 0; y < (p ? f->height / 2 : f->height); y++)
                        fwrite(f->planes[p] + (size_t) y * f->strides[p], 1, p ? f->width / 2 : f->width, out);
}

static void write_frames(const char *path, const struct frame *src, const struct frame *dst) {
        FILE *out = fopen(path, "wb");
        if (!out)
                return;
        write_frame(out, src);
        write_frame(out, dst);
        fclose(out);
}

int main(int argc, char *argv[]) {
        static const char *const kernels[] = {"scalar", "avx2", "neon"};
        const char *only = getenv("BENCH_REMAP_KERNEL"); /* one kernel alone, to profile it */
        if (argc != 6 && argc != 7) {
                fprintf(stderr, "usage: bench-remap WIDTH HEIGHT ITERATIONS CALIBRATION IMAGE [OUT.yuv]\n");
                return 2;
        }
        unsigned w = (unsigned) atoi(argv[1]), h = (unsigned) atoi(argv[2]);
        int n = atoi(argv[3]);
        const char *paths[1] = {argv[4]};
        struct calibration *c = NULL;
        struct frame src, dst;
        char error[1024];

        if (calibration_load(paths, 1, MODEL_UNSET, 0, w, h, &c, error, sizeof(error)) < 0) {
                fprintf(stderr, "%s\n", error);
                return 1;
        }
        if (2 * w > 4096 || frame_init(&src, 2 * w, h) < 0 || frame_init(&dst, 2 * w, h) < 0 ||
            load_image(argv[5], w, h, &src) < 0)
                return 1;
        for (size_t k = 0; k < ELEMENTSOF(kernels); k++) {
                struct rectify *r = NULL;
                char name[64];
                setenv("HANDREC_REMAP", kernels[k], 1);
                int64_t t0 = now_ns(CLOCK_MONOTONIC);
                if (rectify_new(c, w, h, src.strides[0], src.strides[1], &r) < 0)
                        return 1;
                if (k == 0)
                        printf("maps_bytes %zu\nmaps_build_ms %.1f\nmaps_grid_step %u\nmaps_grid_step_chroma %u\n"
                               "maps_window_rows %u\n",
                               rectify_footprint(r), (now_ns(CLOCK_MONOTONIC) - t0) / 1e6, 1u << r->luma[0].shift,
                               1u << r->chroma[0].shift, rectify_window_rows(r));
                if (streq(rectify_kernel(r), kernels[k]) && (!only || streq(only, kernels[k]))) {
                        snprintf(name, sizeof(name), "%s_frame", kernels[k]);
                        time_kernel(r, &src, &dst, n, false, name);
                        snprintf(name, sizeof(name), "%s_bands", kernels[k]);
                        time_kernel(r, &src, &dst, n, true, name);
                        if (k == 0 && argc == 7) {
                                rectify_frame(r, &src, &dst);
                                write_frames(argv[6], &src, &dst);
                        }
                }
                rectify_free(r);
        }
        calibration_free(c);
        frame_release(&src);
        frame_release(&dst);
        return 0;
}
