/* SPDX-License-Identifier: MIT */
/*
 * bench-floor — the floor under handrecd's rectified path: what TurboJPEG alone costs to decode a
 * side-by-side camera JPEG into its YUV planes and encode those planes again (the two calls
 * handrecd cannot avoid), one thread, on the bench's frames, all read into memory first.
 * Prints JSON: CPU ms per frame (process CPU time), peak RSS (kB), frames, mean JPEG sizes.
 * tests/bench/callgrind.py counts the instructions of floor_frames() as of bench-frame's loop.
 *   bench-floor QUALITY FRAMES FILE.jpg...   (FRAMES frames: the files in turn)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <turbojpeg.h>

#include "../../lib/util.h"

#define MAX_FILES 64
#define MAX_JPEG (64u << 20)

struct floor_run {
        char *jpeg[MAX_FILES];
        size_t size[MAX_FILES];
        int n_files, width, height, subsamp;
        unsigned char *planes[3], *out;
        int strides[3];
        unsigned long out_cap;
        tjhandle dec, enc;
};

static int load(struct floor_run *b, char **paths, int n) {
        int r, w, h, sub, cs;

        if (n > MAX_FILES)
                return -E2BIG;
        for (int i = 0; i < n; i++) {
                r = read_file_max(paths[i], MAX_JPEG, &b->jpeg[i], &b->size[i]);
                if (r < 0)
                        return r;
                if (tjDecompressHeader3(b->dec, (unsigned char *) b->jpeg[i], b->size[i], &w, &h, &sub, &cs) < 0)
                        return -EBADMSG;
                if (i > 0 && (w != b->width || h != b->height || sub != b->subsamp))
                        return -EINVAL; /* one camera: one size and subsampling */
                b->width = w, b->height = h, b->subsamp = sub;
        }
        b->n_files = n;
        return 0;
}

/* The planes the decoder fills, and a worst-case output buffer (as the daemon's encoder has). */
static int allocate(struct floor_run *b) {
        for (int p = 0; p < 3; p++) {
                b->strides[p] = tjPlaneWidth(p, b->width, b->subsamp);
                b->planes[p] = malloc(tjPlaneSizeYUV(p, b->width, 0, b->height, b->subsamp));
                if (!b->planes[p])
                        return -ENOMEM;
        }
        b->out_cap = tjBufSize(b->width, b->height, b->subsamp);
        b->out = tjAlloc((int) b->out_cap);
        return b->out ? 0 : -ENOMEM;
}

static int one_frame(struct floor_run *b, int i, int quality, unsigned long *ret_size) {
        unsigned long size = b->out_cap;

        if (tjDecompressToYUVPlanes(b->dec, (unsigned char *) b->jpeg[i], b->size[i], b->planes, b->width, b->strides,
                                    b->height, 0) < 0)
                return -EBADMSG;
        if (tjCompressFromYUVPlanes(b->enc, (const unsigned char **) b->planes, b->width, b->strides, b->height,
                                    b->subsamp, &b->out, &size, quality, TJFLAG_NOREALLOC) < 0)
                return -EIO;
        *ret_size = size;
        return 0;
}

/* The measured part: @frames frames, the files in turn. Not inlined: callgrind.py collects by its name. */
static __attribute__((noinline)) int floor_frames(struct floor_run *b, int quality, int frames, double *ret_in,
                                                  double *ret_out) {
        unsigned long size;
        int r;

        for (int i = 0; i < frames; i++) {
                r = one_frame(b, i % b->n_files, quality, &size);
                if (r < 0)
                        return r;
                *ret_in += (double) b->size[i % b->n_files];
                *ret_out += (double) size;
        }
        return 0;
}

static void release(struct floor_run *b) {
        for (int i = 0; i < b->n_files; i++)
                free(b->jpeg[i]);
        for (int p = 0; p < 3; p++)
                free(b->planes[p]);
        tjFree(b->out);
        if (b->dec)
                tjDestroy(b->dec);
        if (b->enc)
                tjDestroy(b->enc);
}

int main(int argc, char *argv[]) {
        struct floor_run b = {0};
        struct rusage ru;
        unsigned long size;
        double in_bytes = 0, out_bytes = 0;
        int quality, frames, r;

        if (argc < 4) {
                fprintf(stderr, "usage: bench-floor QUALITY FRAMES FILE.jpg...\n");
                return 2;
        }
        quality = atoi(argv[1]);
        frames = atoi(argv[2]);
        b.dec = tjInitDecompress();
        b.enc = tjInitCompress();
        r = b.dec && b.enc ? load(&b, argv + 3, argc - 3) : -ENOMEM;
        if (r >= 0)
                r = allocate(&b);
        if (r >= 0)
                r = one_frame(&b, 0, quality, &size); /* warm: TurboJPEG's first-use set-up */
        int64_t t0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
        if (r >= 0)
                r = floor_frames(&b, quality, frames, &in_bytes, &out_bytes);
        int64_t t1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
        if (r < 0) {
                fprintf(stderr, "bench-floor: %s (%s)\n", strerror(-r), b.dec ? tjGetErrorStr2(b.dec) : "");
                release(&b);
                return 1;
        }
        getrusage(RUSAGE_SELF, &ru);
        printf("{\"cpu_ms_per_frame\": %.3f, \"peak_rss_kb\": %ld, \"frames\": %d, \"width\": %d, \"height\": %d, "
               "\"quality\": %d, \"in_jpeg_kb\": %.1f, \"out_jpeg_kb\": %.1f}\n",
               (double) (t1 - t0) / 1e6 / frames, ru.ru_maxrss, frames, b.width, b.height, quality,
               in_bytes / frames / 1e3, out_bytes / frames / 1e3);
        release(&b);
        return 0;
}
