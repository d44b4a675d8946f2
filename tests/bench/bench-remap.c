/* SPDX-License-Identifier: MIT */
/*
 * bench-remap — time per stereo frame of handrecd's rectification (rectify_frame: both eyes,
 * Y, U and V planes), one thread, on an image's planes.
 *   bench-remap WIDTH HEIGHT ITERATIONS CALIBRATION.yml IMAGE.jpg   (WIDTH, HEIGHT: one eye)
 * IMAGE is decoded to I420 and used for both eyes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../daemon/calibration.h"
#include "../../daemon/convert.h"
#include "../../daemon/rectify.h"
#include "../../daemon/util.h"

int main(int argc, char *argv[]) {
        if (argc != 6) {
                fprintf(stderr, "usage: bench-remap WIDTH HEIGHT ITERATIONS CALIBRATION IMAGE\n");
                return 2;
        }
        unsigned w = (unsigned) atoi(argv[1]), h = (unsigned) atoi(argv[2]);
        int n = atoi(argv[3]);
        const char *paths[1] = {argv[4]};
        struct calibration *c = NULL;
        struct rectify *r = NULL;
        struct convert *cv = NULL;
        struct frame src, dst;
        char error[1024];

        if (calibration_load(paths, 1, MODEL_UNSET, 0, w, h, &c, error, sizeof(error)) < 0) {
                fprintf(stderr, "%s\n", error);
                return 1;
        }
        if (frame_init(&src, 2 * w, h) < 0 || frame_init(&dst, 2 * w, h) < 0 || convert_new(w, h, &cv) < 0)
                return 1;
        FILE *f = fopen(argv[5], "rb");
        static uint8_t buf[16 << 20];
        size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;
        if (f)
                fclose(f);
        const struct convert_layout jpeg = {.format = CONVERT_MJPEG, .width = w, .height = h};
        if (convert_frame(cv, &jpeg, buf, len, &src, 0) < 0 || convert_frame(cv, &jpeg, buf, len, &src, w) < 0) {
                fprintf(stderr, "%s\n", convert_error(cv));
                return 1;
        }
        int64_t t0 = now_ns(CLOCK_MONOTONIC);
        if (rectify_new(c, w, h, src.strides[0], src.strides[1], &r) < 0)
                return 1;
        int64_t t1 = now_ns(CLOCK_MONOTONIC);
        rectify_frame(r, &src, &dst); /* warm the caches */
        int64_t best = INT64_MAX, total = 0;
        for (int i = 0; i < n; i++) {
                int64_t a = now_ns(CLOCK_THREAD_CPUTIME_ID);
                rectify_frame(r, &src, &dst);
                int64_t b = now_ns(CLOCK_THREAD_CPUTIME_ID) - a;
                total += b;
                best = MIN(best, b);
        }
        printf("handrecd_remap_ms %.3f\nhandrecd_remap_best_ms %.3f\nhandrecd_maps_build_ms %.1f\n", total / 1e6 / n,
               best / 1e6, (t1 - t0) / 1e6);
        rectify_free(r);
        calibration_free(c);
        return 0;
}
