/* SPDX-License-Identifier: MIT */
/*
 * test-encoder.c — the libjpeg band encoder against TurboJPEG: the same bytes as
 * tjCompressFromYUVPlanes() for many sizes, qualities and images, read in place or band by band,
 * into room that fits or that it outgrows; a decoded image close to the input; nothing allocated
 * per frame; the spill buffer resident only once used, and only until the next JPEG; libjpeg's
 * errors reported, not leaked.
 *
 * libjpeg allocates through jpeg_get_small() and jpeg_get_large() (jmemnobs.c), which it calls
 * through the PLT: the definitions below take their place, count the calls and can fail them.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jpeglib.h>
#include <turbojpeg.h>

#include "../../daemon/encoder.h"
#include "../../lib/frame.h"
#include "../../lib/util.h"
#include "test.h"

/* ---- libjpeg's allocator, counted and failed on request ---- */

static unsigned long jpeg_allocs;
static bool jpeg_allocs_fail;

void *jpeg_get_small(j_common_ptr cinfo, size_t size);
void *jpeg_get_large(j_common_ptr cinfo, size_t size);

void *jpeg_get_small(j_common_ptr cinfo, size_t size) {
        (void) cinfo;
        jpeg_allocs++;
        return jpeg_allocs_fail ? NULL : malloc(size);
}

void *jpeg_get_large(j_common_ptr cinfo, size_t size) {
        (void) cinfo;
        jpeg_allocs++;
        return jpeg_allocs_fail ? NULL : malloc(size);
}

/* ---- images ---- */

static uint32_t next_random(uint32_t *seed) {
        *seed = *seed * 1664525u + 1013904223u;
        return *seed >> 24;
}

static void fill_random(struct frame *f, uint32_t seed) {
        for (int c = 0; c < 3; c++) {
                unsigned w = c ? f->width / 2 : f->width, h = c ? f->height / 2 : f->height;
                for (unsigned y = 0; y < h; y++)
                        for (unsigned x = 0; x < w; x++)
                                f->planes[c][(size_t) y * f->strides[c] + x] = (uint8_t) next_random(&seed);
        }
}

/* gradients and a few edges, with a little noise: what a camera sees, roughly */
static void fill_smooth(struct frame *f, uint32_t seed) {
        for (int c = 0; c < 3; c++) {
                unsigned w = c ? f->width / 2 : f->width, h = c ? f->height / 2 : f->height;
                for (unsigned y = 0; y < h; y++)
                        for (unsigned x = 0; x < w; x++) {
                                unsigned v = c == 0 ? 40 + (x * 150) / w + (y * 50) / h : 128 + c * 10 - (x * 20) / w;
                                if (c == 0 && (x / 37 + y / 23) % 5 == 0)
                                        v += 30;
                                v += next_random(&seed) % 3;
                                f->planes[c][(size_t) y * f->strides[c] + x] = (uint8_t) v;
                        }
        }
}

/* ---- the reference and the paths under test ---- */

/* tjCompressFromYUVPlanes(TJSAMP_420, flags 0): a buffer to tjFree() */
static unsigned char *reference(const struct frame *f, int quality, unsigned long *ret_size) {
        tjhandle tj = tjInitCompress();
        unsigned char *jpeg = NULL;
        unsigned long size = 0;

        if (!tj || tjCompressFromYUVPlanes(tj, (const unsigned char **) f->planes, (int) f->width, f->strides,
                                           (int) f->height, TJSAMP_420, &jpeg, &size, quality, 0) < 0)
                size = 0;
        if (tj)
                tjDestroy(tj);
        *ret_size = size;
        return jpeg;
}

struct band_source {
        const struct frame *f;
        unsigned calls, next_y0;
        bool bad_call;
};

/* the band callback under test: copies the rows it is asked for out of a frame */
static void copy_rows(void *userdata, unsigned y0, unsigned n, uint8_t *const dst[3], const int dst_strides[3]) {
        struct band_source *s = userdata;
        const struct frame *f = s->f;

        if (y0 != s->next_y0 || n == 0 || n > 16 || (n < 16 && y0 + n != f->height) || y0 + n > f->height)
                s->bad_call = true;
        s->calls++;
        s->next_y0 = y0 + n;
        for (int c = 0; c < 3; c++) {
                unsigned w = c ? f->width / 2 : f->width, first = c ? y0 / 2 : y0, rows = c ? n / 2 : n;
                for (unsigned r = 0; r < rows; r++)
                        memcpy(dst[c] + (size_t) r * dst_strides[c],
                               f->planes[c] + (size_t) (first + r) * f->strides[c], w);
        }
}

static bool same(const uint8_t *a, size_t a_size, const unsigned char *b, unsigned long b_size) {
        return a && b && a_size == b_size && memcmp(a, b, a_size) == 0;
}

/* in place, then band by band, each into no room, into room that fits, and into too little:
 * every time the reference's bytes */
static void check_size(unsigned width, unsigned height, const int *qualities, size_t n_qualities) {
        struct encoder *e = NULL;
        struct frame f;
        uint8_t *room;

        CHECK(frame_init(&f, width, height) == 0);
        CHECK(encoder_new(width, height, &e) == 0);
        room = malloc(encoder_max_size(e));
        for (int image = 0; image < 2; image++) {
                if (image == 0)
                        fill_random(&f, width * 31 + height);
                else
                        fill_smooth(&f, width + height);
                for (size_t q = 0; q < n_qualities; q++) {
                        unsigned long ref_size;
                        unsigned char *ref = reference(&f, qualities[q], &ref_size);
                        struct band_source s = {.f = &f};
                        const uint8_t *jpeg = NULL;
                        size_t size = 0;

                        CHECK(ref_size > 0);
                        CHECK(encoder_encode(e, &f, NULL, NULL, qualities[q], NULL, 0, &jpeg, &size) == 0);
                        if (!same(jpeg, size, ref, ref_size))
                                fprintf(stderr, "in place: %ux%u q%d image %d: %zu bytes, TurboJPEG %lu\n", width,
                                        height, qualities[q], image, size, ref_size);
                        CHECK(same(jpeg, size, ref, ref_size));
                        CHECK(encoder_encode(e, NULL, copy_rows, &s, qualities[q], room, encoder_max_size(e), &jpeg,
                                             &size) == 0);
                        if (!same(jpeg, size, ref, ref_size))
                                fprintf(stderr, "bands: %ux%u q%d image %d: %zu bytes, TurboJPEG %lu\n", width, height,
                                        qualities[q], image, size, ref_size);
                        CHECK(same(jpeg, size, ref, ref_size));
                        CHECK(jpeg == room);
                        CHECK_EQ_INT(s.calls, (height + 15) / 16);
                        CHECK(!s.bad_call);
                        CHECK(encoder_encode(e, &f, NULL, NULL, qualities[q], room, ref_size / 2, &jpeg, &size) == 0);
                        CHECK(same(jpeg, size, ref, ref_size));
                        CHECK(jpeg != room);
                        tjFree(ref);
                }
        }
        free(room);
        encoder_free(e);
        frame_release(&f);
}

TEST(same_bytes_as_turbojpeg_2x1280x720) {
        static const int qualities[] = {50, 85, 96};
        check_size(2 * 1280, 720, qualities, ELEMENTSOF(qualities));
}

/* sizes whose width or height (or both) is not a multiple of 16: TurboJPEG's padding */
TEST(same_bytes_as_turbojpeg_odd_sizes) {
        static const int qualities[] = {0, 1, 30, 75, 85, 95, 96, 100};
        static const unsigned sizes[][2] = {{2 * 40, 30}, {2 * 24, 18}, {2 * 21, 22}, {2 * 320, 240}, {48, 32},
                                            {2 * 8, 16},  {32, 14},     {2, 2},       {4, 34},        {2 * 99, 62}};
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                check_size(sizes[i][0], sizes[i][1], qualities, ELEMENTSOF(qualities));
}

/* room of every size around the JPEG's: the same bytes, in the room when they fit, never a byte
 * written past @cap */
TEST(spills_when_the_room_is_short) {
        const unsigned W = 2 * 40, H = 30;
        struct encoder *e = NULL;
        struct frame f;
        unsigned long ref_size;
        unsigned char *ref;
        uint8_t *room;
        size_t max;

        CHECK(frame_init(&f, W, H) == 0);
        CHECK(encoder_new(W, H, &e) == 0);
        fill_random(&f, 5);
        ref = reference(&f, 85, &ref_size);
        max = encoder_max_size(e);
        CHECK(ref_size > 200 && ref_size < max);
        room = malloc(max + 100);
        const size_t caps[] = {0, 1, 100, ref_size / 2, ref_size - 1, ref_size, ref_size + 1, max, max + 100};
        for (size_t i = 0; i < ELEMENTSOF(caps); i++) {
                const uint8_t *jpeg = NULL;
                size_t size = 0;

                memset(room, 0xa5, max + 100);
                CHECK(encoder_encode(e, &f, NULL, NULL, 85, room, caps[i], &jpeg, &size) == 0);
                CHECK(same(jpeg, size, ref, ref_size));
                if (caps[i] > ref_size)
                        CHECK(jpeg == room);
                if (caps[i] < ref_size)
                        CHECK(jpeg != room && jpeg);
                for (size_t b = caps[i]; b < max + 100; b++)
                        if (room[b] != 0xa5) {
                                fprintf(stderr, "cap %zu: byte %zu written\n", caps[i], b);
                                CHECK(room[b] == 0xa5);
                                break;
                        }
        }
        /* no room at all, and the band path spilling */
        struct band_source s = {.f = &f};
        const uint8_t *jpeg = NULL;
        size_t size = 0;
        CHECK(encoder_encode(e, &f, NULL, NULL, 85, NULL, 0, &jpeg, &size) == 0);
        CHECK(same(jpeg, size, ref, ref_size));
        CHECK(encoder_encode(e, NULL, copy_rows, &s, 85, room, 100, &jpeg, &size) == 0);
        CHECK(same(jpeg, size, ref, ref_size));
        tjFree(ref);
        free(room);
        encoder_free(e);
        frame_release(&f);
}

static double psnr(const uint8_t *a, int a_stride, const uint8_t *b, int b_stride, unsigned w, unsigned h) {
        double sum = 0;
        for (unsigned y = 0; y < h; y++)
                for (unsigned x = 0; x < w; x++) {
                        double d = (double) a[(size_t) y * a_stride + x] - b[(size_t) y * b_stride + x];
                        sum += d * d;
                }
        return sum == 0 ? 99 : 10 * log10(255.0 * 255.0 * w * h / sum);
}

/* decoded, the JPEG is the image it was given (a sanity check of the settings, not of libjpeg) */
TEST(decodes_close_to_the_input) {
        const unsigned W = 2 * 320, H = 240;
        static const int qualities[] = {50, 85, 100};
        static const double min_luma[] = {36, 42, 54}, min_chroma[] = {43, 45, 54};
        tjhandle dec = tjInitDecompress();
        struct encoder *e = NULL;
        struct frame f, out;

        CHECK(frame_init(&f, W, H) == 0);
        CHECK(frame_init(&out, W, H) == 0);
        CHECK(encoder_new(W, H, &e) == 0);
        fill_smooth(&f, 3);
        for (size_t q = 0; q < ELEMENTSOF(qualities); q++) {
                const uint8_t *jpeg = NULL;
                size_t size = 0;
                double py, pu, pv;

                CHECK(encoder_encode(e, &f, NULL, NULL, qualities[q], NULL, 0, &jpeg, &size) == 0);
                CHECK(tjDecompressToYUVPlanes(dec, jpeg, size, out.planes, (int) W, out.strides, (int) H, 0) == 0);
                py = psnr(f.planes[0], f.strides[0], out.planes[0], out.strides[0], W, H);
                pu = psnr(f.planes[1], f.strides[1], out.planes[1], out.strides[1], W / 2, H / 2);
                pv = psnr(f.planes[2], f.strides[2], out.planes[2], out.strides[2], W / 2, H / 2);
                printf("# q%d: %zu bytes, PSNR Y %.1f dB, U %.1f, V %.1f\n", qualities[q], size, py, pu, pv);
                CHECK(py >= min_luma[q]);
                CHECK(pu >= min_chroma[q] && pv >= min_chroma[q]);
        }
        /* and a wrong image is far: the measure can fail */
        fill_random(&out, 9);
        CHECK(psnr(f.planes[0], f.strides[0], out.planes[0], out.strides[0], W, H) < 15);
        tjDestroy(dec);
        encoder_free(e);
        frame_release(&out);
        frame_release(&f);
}

/* libjpeg's allocations: some when the compressor is made, one for its permanent tables in the
 * first image, none after, whatever the path, the quality and the room */
TEST(allocates_nothing_per_frame) {
        const unsigned W = 2 * 1280, H = 720;
        struct encoder *e = NULL;
        struct frame f;
        uint8_t *room;
        unsigned long before = jpeg_allocs;

        CHECK(frame_init(&f, W, H) == 0);
        fill_smooth(&f, 1);
        CHECK(encoder_new(W, H, &e) == 0);
        /* the counter sees libjpeg's allocations (jpeg_create_compress makes its memory manager) */
        CHECK(jpeg_allocs > before);
        room = malloc(encoder_max_size(e));
        for (int i = 0; i < 12; i++) {
                struct band_source s = {.f = &f};
                const uint8_t *jpeg;
                size_t size;

                before = jpeg_allocs;
                if (i % 3 == 0)
                        CHECK(encoder_encode(e, &f, NULL, NULL, 80 + i, NULL, 0, &jpeg, &size) == 0);
                else if (i % 3 == 1)
                        CHECK(encoder_encode(e, NULL, copy_rows, &s, 80 + i, room, encoder_max_size(e), &jpeg, &size) ==
                              0);
                else
                        CHECK(encoder_encode(e, &f, NULL, NULL, 80 + i, room, 1000, &jpeg, &size) == 0);
                if (i == 0)
                        CHECK(jpeg_allocs - before <= 2);
                else
                        CHECK_EQ_INT(jpeg_allocs - before, 0);
        }
        free(room);
        encoder_free(e);
        frame_release(&f);
}

static long resident_bytes(void) {
        long size = 0, resident = 0;
        FILE *statm = fopen("/proc/self/statm", "re");

        if (statm) {
                if (fscanf(statm, "%ld %ld", &size, &resident) != 2)
                        resident = 0;
                fclose(statm);
        }
        return resident * sysconf(_SC_PAGESIZE);
}

/* the worst-case buffer is resident only once a JPEG spills into it */
TEST(spill_buffer_costs_no_memory_until_used) {
        const unsigned W = 2 * 1280, H = 720;
        struct encoder *e = NULL;
        struct frame f;
        const uint8_t *jpeg;
        size_t size, max;
        uint8_t *room = malloc(W * H * 3);
        long before, after;

        CHECK(frame_init(&f, W, H) == 0);
        memset(room, 0, W * H * 3);
        fill_random(&f, 2);
        before = resident_bytes();
        CHECK(encoder_new(W, H, &e) == 0);
        max = encoder_max_size(e);
        CHECK(max >= W * H * 3 / 2);
        for (int i = 0; i < 3; i++)
                CHECK(encoder_encode(e, &f, NULL, NULL, 95, room, W * H * 3, &jpeg, &size) == 0);
        after = resident_bytes();
        printf("# encoder made and used, no spill: %ld KB resident more (its buffer: %zu KB)\n",
               (after - before) / 1024, max / 1024);
        CHECK(after - before < (long) max / 8);
        before = after;
        CHECK(encoder_encode(e, &f, NULL, NULL, 95, NULL, 0, &jpeg, &size) == 0);
        after = resident_bytes();
        printf("# after a spill of %zu KB: %ld KB resident more\n", size / 1024, (after - before) / 1024);
        CHECK(after - before >= (long) size / 2);
        /* the next JPEG, into a room: the spill's pages are given back */
        before = after;
        CHECK(encoder_encode(e, &f, NULL, NULL, 95, room, W * H * 3, &jpeg, &size) == 0);
        after = resident_bytes();
        printf("# the next JPEG, into its room: %ld KB resident less\n", (before - after) / 1024);
        CHECK(before - after >= (long) size / 2);
        free(room);
        encoder_free(e);
        frame_release(&f);
}

/* libjpeg's errors: -EIO, nothing returned, the compressor usable again; a failure to make one */
TEST(errors_are_reported_and_recovered) {
        const unsigned W = 2 * 24, H = 18;
        struct encoder *e = NULL, *none = NULL;
        struct frame f;
        const uint8_t *jpeg = NULL;
        size_t size = 12345;
        unsigned long ref_size;
        unsigned char *ref;

        CHECK(frame_init(&f, W, H) == 0);
        fill_smooth(&f, 4);
        ref = reference(&f, 85, &ref_size);
        CHECK(encoder_new(W, H, &e) == 0);
        CHECK(encoder_encode(e, &f, NULL, NULL, 101, NULL, 0, &jpeg, &size) == -EINVAL);
        CHECK(encoder_encode(e, &f, NULL, NULL, -1, NULL, 0, &jpeg, &size) == -EINVAL);
        /* the first image allocates libjpeg's permanent tables: make that fail */
        jpeg_allocs_fail = true;
        CHECK(encoder_encode(e, &f, NULL, NULL, 85, NULL, 0, &jpeg, &size) == -EIO);
        jpeg_allocs_fail = false;
        CHECK(jpeg == NULL && size == 12345);
        CHECK(encoder_encode(e, &f, NULL, NULL, 85, NULL, 0, &jpeg, &size) == 0);
        CHECK(same(jpeg, size, ref, ref_size));
        /* no compressor at all */
        jpeg_allocs_fail = true;
        CHECK(encoder_new(W, H, &none) == -ENOMEM);
        jpeg_allocs_fail = false;
        CHECK(none == NULL);
        CHECK(encoder_new(W + 1, H, &none) == -EINVAL);
        CHECK(encoder_new(W, 0, &none) == -EINVAL);
        tjFree(ref);
        encoder_free(e);
        frame_release(&f);
}

int main(void) {
        static const struct test tests[] = {
                T(same_bytes_as_turbojpeg_2x1280x720), T(same_bytes_as_turbojpeg_odd_sizes),
                T(spills_when_the_room_is_short),      T(decodes_close_to_the_input),
                T(allocates_nothing_per_frame),        T(spill_buffer_costs_no_memory_until_used),
                T(errors_are_reported_and_recovered),
        };
        /* TurboJPEG reads these at every call and would change its output; the encoder never does */
        unsetenv("TJ_OPTIMIZE");
        unsetenv("TJ_ARITHMETIC");
        unsetenv("TJ_RESTART");
        unsetenv("TJ_PROGRESSIVE");
        return test_main("encoder", tests, ELEMENTSOF(tests));
}
