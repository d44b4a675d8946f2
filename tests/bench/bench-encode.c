/* SPDX-License-Identifier: MIT */
/*
 * bench-encode — the baseline beside handrecd's figures: CPU time per stereo frame of
 * TurboJPEG compression from I420 planes alone (tjCompressFromYUVPlanes, one thread), on the
 * same synthetic frames the daemon records, and of drawing those frames.
 *   bench-encode WIDTH HEIGHT QUALITY FRAMES   (WIDTH, HEIGHT: one eye)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../daemon/encoder.h"
#include "../../daemon/source.h"
#include "../../daemon/util.h"

static double cpu_ms(void) {
        return (double) now_ns(CLOCK_PROCESS_CPUTIME_ID) / 1e6;
}

int main(int argc, char *argv[]) {
        if (argc != 5) {
                fprintf(stderr, "usage: bench-encode WIDTH HEIGHT QUALITY FRAMES\n");
                return 2;
        }
        struct camera_config cam = {.source = SOURCE_SYNTHETIC,
                                    .width = (unsigned) atoi(argv[1]),
                                    .height = (unsigned) atoi(argv[2]),
                                    .fps = 1000};
        int quality = atoi(argv[3]), n = atoi(argv[4]);
        struct source *src = NULL;
        struct encoder *enc = NULL;
        struct frame f;
        struct frame_meta meta;
        const uint8_t *jpeg;
        size_t size, total = 0;
        double t0, draw = 0, encode = 0;

        cam.disparity = cam.width / 20;
        if (source_new(&cam, &src) < 0 || frame_init(&f, 2 * cam.width, cam.height) < 0 ||
            encoder_new(2 * cam.width, cam.height, &enc) < 0)
                return 1;
        source_open(src);
        for (int i = 0; i < n; i++) {
                t0 = cpu_ms();
                source_read(src, &f, SOURCE_WANT_PIXELS, &meta);
                draw += cpu_ms() - t0;
                t0 = cpu_ms();
                if (encoder_encode(enc, &f, NULL, NULL, quality, NULL, 0, &jpeg, &size) < 0)
                        return 1;
                encode += cpu_ms() - t0;
                total += size;
        }
        printf("baseline_encode_ms %.3f\nbaseline_draw_ms %.3f\nbaseline_jpeg_kb %.1f\n", encode / n, draw / n,
               (double) total / n / 1e3);
        encoder_free(enc);
        frame_release(&f);
        source_free(src);
        return 0;
}
