/* SPDX-License-Identifier: MIT */
/*
 * bench-qc — what quality at the rig (lib/qc.h) costs a frame, on each path, through the daemon's
 * own functions, one thread:
 *   qc_planes_frames()  an encoder worker with pixels (a rectified take, a decoded camera):
 *                       qc_measure_planes() on the frame's luma, every frame, and the writer's
 *                       qc_account()
 *   qc_jpeg_frames()    a camera's JPEG stored as it came: qc_jpeg_hash() every frame, a 1/8 grey
 *                       decode and qc_measure_gray() on one frame in SAMPLE_EVERY, qc_account()
 * The frames are decoded into planes before either loop (that is the worker's anyway). Run under
 * callgrind with --toggle-collect=qc_planes_frames* or qc_jpeg_frames* for instructions
 * (tests/bench/qc.py does both), or as is for CPU time.
 *   bench-qc FRAMES SAMPLE_EVERY FILE.jpg...   prints JSON: frames, CPU µs per frame of each loop
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#include "../../lib/qc.h"
#include "../../lib/util.h"

#define MAX_FILES 64

struct qc_run {
        unsigned char *jpeg[MAX_FILES];
        unsigned long size[MAX_FILES];
        unsigned char *planes[MAX_FILES][3];
        int strides[3];
        int n, width, height;
        tjhandle tj;
        unsigned char *gray;
        struct qc_config config;
        struct qc_take take;
};

static double cpu_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int load(struct qc_run *b, char **files, int n) {
        tjhandle d = tjInitDecompress();

        b->n = n;
        for (int i = 0; i < n; i++) {
                FILE *f = fopen(files[i], "rb");
                int sub, cs;
                if (!f)
                        return -1;
                fseek(f, 0, SEEK_END);
                b->size[i] = (unsigned long) ftell(f);
                fseek(f, 0, SEEK_SET);
                b->jpeg[i] = malloc(b->size[i]);
                if (!b->jpeg[i] || fread(b->jpeg[i], 1, b->size[i], f) != b->size[i]) {
                        fclose(f);
                        return -1;
                }
                fclose(f);
                if (tjDecompressHeader3(d, b->jpeg[i], b->size[i], &b->width, &b->height, &sub, &cs) < 0)
                        return -1;
                b->strides[0] = b->width;
                b->strides[1] = b->strides[2] = b->width / 2;
                b->planes[i][0] = malloc((size_t) b->width * b->height * 3 / 2 + 64);
                b->planes[i][1] = b->planes[i][0] + (size_t) b->width * b->height;
                b->planes[i][2] = b->planes[i][1] + (size_t) b->width * b->height / 4;
                if (tjDecompressToYUVPlanes(d, b->jpeg[i], b->size[i], b->planes[i], b->width, b->strides, b->height,
                                            0) < 0)
                        return -1;
        }
        tjDestroy(d);
        b->tj = tjInitDecompress();
        b->gray = malloc((size_t) (b->width / 8 + 1) * (b->height / 8 + 1));
        return b->tj && b->gray ? 0 : -1;
}

/* the worker with pixels, then the writer, for @frames frames */
__attribute__((noinline)) static void qc_planes_frames(struct qc_run *b, unsigned frames) {
        for (unsigned i = 0; i < frames; i++) {
                struct qc_sample s = {0};
                int k = (int) (i % (unsigned) b->n);
                qc_measure_planes(b->planes[k][0], b->strides[0], (unsigned) b->width, (unsigned) b->height, &s);
                qc_account(&b->take, &b->config, &s, (int64_t) i * 33333333, 0, 0);
        }
}

/* the worker storing the camera's JPEG, then the writer */
__attribute__((noinline)) static void qc_jpeg_frames(struct qc_run *b, unsigned frames, unsigned sample_every) {
        int w = TJSCALED(b->width, ((tjscalingfactor){1, 8})), h = TJSCALED(b->height, ((tjscalingfactor){1, 8}));

        for (unsigned i = 0; i < frames; i++) {
                int k = (int) (i % (unsigned) b->n);
                struct qc_sample s = {.jpeg_hash = qc_jpeg_hash(b->jpeg[k], b->size[k])};
                if (i % sample_every == 0 &&
                    tjDecompress2(b->tj, b->jpeg[k], b->size[k], b->gray, w, w, h, TJPF_GRAY, TJFLAG_FASTDCT) == 0)
                        qc_measure_gray(b->gray, w, (unsigned) w, (unsigned) h, &s);
                qc_account(&b->take, &b->config, &s, (int64_t) i * 33333333, 0, 0);
        }
}

int main(int argc, char **argv) {
        static struct qc_run b = {.config = QC_CONFIG_DEFAULTS};
        unsigned frames, every;
        double t0, planes_s, jpeg_s;

        if (argc < 4 || argc - 3 > MAX_FILES) {
                fprintf(stderr, "usage: bench-qc FRAMES SAMPLE_EVERY FILE.jpg...\n");
                return 2;
        }
        frames = (unsigned) atoi(argv[1]);
        every = (unsigned) atoi(argv[2]);
        if (frames == 0 || every == 0 || load(&b, argv + 3, argc - 3) < 0) {
                fprintf(stderr, "bench-qc: cannot read the frames\n");
                return 1;
        }
        qc_take_init(&b.take, 30);
        t0 = cpu_now();
        qc_planes_frames(&b, frames);
        planes_s = cpu_now() - t0;
        qc_take_init(&b.take, 30);
        t0 = cpu_now();
        qc_jpeg_frames(&b, frames, every);
        jpeg_s = cpu_now() - t0;
        printf("{\"frames\": %u, \"width\": %d, \"height\": %d, \"sample_every\": %u, \"planes_us_per_frame\": %.2f, "
               "\"jpeg_us_per_frame\": %.2f}\n",
               frames, b.width, b.height, every, planes_s * 1e6 / frames, jpeg_s * 1e6 / frames);
        return 0;
}
