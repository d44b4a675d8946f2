/* SPDX-License-Identifier: MIT */
/*
 * bench-frame — handrecd's rectified path for one stereo frame, through the daemon's own modules
 * (libhandrec.a): the side-by-side JPEG decoded a block of rows at a time into a window of rows
 * (jpeg-bands.c) as the encoder asks for rectified bands (rectify_rows_from() through
 * encoder_encode()'s band callback, as an encoder worker does for a side-by-side MJPEG camera)
 * and encoded (encoder.c) into a buffer standing for the writer queue's room, one thread. It is
 * the driver
 * tests/bench/callgrind.py runs under valgrind: everything but bench_frames() (loading the
 * calibration, building the maps, reading the files) is set-up, kept out of the count with
 * callgrind's --toggle-collect=bench_frames, so instructions / FRAMES is the cost of a frame.
 *   bench-frame WIDTH HEIGHT QUALITY FRAMES CALIBRATION.yml FILE.jpg...   (WIDTH, HEIGHT: one eye)
 * Prints JSON: frames, mean JPEG size, CPU ms per frame (meaningless under valgrind).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../lib/calibration.h"
#include "../../daemon/encoder.h"
#include "../../daemon/jpeg-bands.h"
#include "../../lib/rectify.h"
#include "../../lib/util.h"

#define MAX_FILES 64
#define MAX_JPEG (64u << 20)

struct frame_run {
        char *jpeg[MAX_FILES];
        size_t size[MAX_FILES];
        int n_files;
        unsigned width, height; /* one eye */
        struct calibration *cal;
        struct jpeg_bands *bands;
        struct rectify *rect;
        struct encoder *enc;
        uint8_t *room; /* stands for the room a worker reserves in the writer queue */
        size_t room_cap;
};

/* The encoder's band callback: the rows it asks for, decoded as far as they need and rectified
 * (pipeline-encode.c's rectify_band()). */
static void rectify_band(void *userdata, unsigned y0, unsigned n, uint8_t *const dst[3], const int dst_strides[3]) {
        const struct frame_run *b = userdata;
        unsigned luma, chroma;

        rectify_rows_needed(b->rect, y0, n, &luma, &chroma);
        jpeg_bands_need(b->bands, luma, chroma);
        rectify_rows_from(b->rect, jpeg_bands_source(b->bands), y0, n, dst, dst_strides);
}

static int setup(struct frame_run *b, const char *cal_path, char **files, int n) {
        const char *paths[1] = {cal_path};
        char error[1024];
        int r;

        if (n > MAX_FILES)
                return -E2BIG;
        for (int i = 0; i < n; i++) {
                r = read_file_max(files[i], MAX_JPEG, &b->jpeg[i], &b->size[i]);
                if (r < 0)
                        return r;
                b->n_files = i + 1;
        }
        r = calibration_load(paths, 1, MODEL_UNSET, 0, b->width, b->height, &b->cal, error, sizeof(error));
        if (r < 0) {
                fprintf(stderr, "bench-frame: %s\n", error);
                return r;
        }
        if ((r = encoder_new(2 * b->width, b->height, &b->enc)) < 0 ||
            (r = rectify_new(b->cal, b->width, b->height, (int) (2 * b->width), (int) b->width, &b->rect)) < 0 ||
            (r = jpeg_bands_new(2 * b->width, b->height, rectify_window_rows(b->rect), &b->bands)) < 0)
                return r;
        b->room_cap = encoder_max_size(b->enc);
        b->room = malloc(b->room_cap);
        return b->room ? 0 : -ENOMEM;
}

/* The measured part: @frames frames, the files in turn. Not inlined: callgrind collects by its name. */
static __attribute__((noinline)) int bench_frames(struct frame_run *b, int quality, int frames, double *ret_bytes) {
        const uint8_t *out;
        size_t size;
        int r;

        for (int i = 0; i < frames; i++) {
                int k = i % b->n_files;
                struct qc_sample qc;
                r = jpeg_bands_begin(b->bands, (const uint8_t *) b->jpeg[k], b->size[k]);
                if (r >= 0)
                        r = encoder_encode(b->enc, NULL, rectify_band, b, quality, b->room, b->room_cap, &out, &size);
                int d = jpeg_bands_finish(b->bands, &qc); /* the frame's look too, as a worker measures it */
                if (d < 0) {
                        fprintf(stderr, "bench-frame: %s\n", jpeg_bands_error(b->bands));
                        return d;
                }
                if (r < 0)
                        return r;
                *ret_bytes += (double) size;
        }
        return 0;
}

static void release(struct frame_run *b) {
        for (int i = 0; i < b->n_files; i++)
                free(b->jpeg[i]);
        encoder_free(b->enc);
        rectify_free(b->rect);
        jpeg_bands_free(b->bands);
        free(b->room);
        calibration_free(b->cal);
}

int main(int argc, char *argv[]) {
        struct frame_run b = {0};
        double bytes = 0;
        int quality, frames, r;

        if (argc < 7) {
                fprintf(stderr, "usage: bench-frame WIDTH HEIGHT QUALITY FRAMES CALIBRATION.yml FILE.jpg...\n");
                return 2;
        }
        b.width = (unsigned) atoi(argv[1]);
        b.height = (unsigned) atoi(argv[2]);
        quality = atoi(argv[3]);
        frames = atoi(argv[4]);
        r = setup(&b, argv[5], argv + 6, argc - 6);
        int64_t t0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
        if (r >= 0)
                r = bench_frames(&b, quality, frames, &bytes);
        int64_t t1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
        release(&b);
        if (r < 0) {
                fprintf(stderr, "bench-frame: failed: %s\n", strerror(-r));
                return 1;
        }
        printf("{\"frames\": %d, \"quality\": %d, \"out_jpeg_kb\": %.1f, \"cpu_ms_per_frame\": %.3f}\n", frames,
               quality, bytes / frames / 1e3, (double) (t1 - t0) / 1e6 / frames);
        return 0;
}
