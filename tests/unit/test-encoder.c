/* SPDX-License-Identifier: MIT */
/*
 * test-encoder.c — the libjpeg band encoder against TurboJPEG: the same bytes as
 * tjCompressFromYUVPlanes() for many sizes, qualities and images, read in place or band by band,
 * into room that fits or that it outgrows; a decoded image close to the input; nothing allocated
 * per frame; the spill buffer resident only once used; libjpeg's errors reported, not leaked.
 *
 * libjpeg allocates through jpeg_get_small() and jpeg_get_large() (jmemnobs.c), which it calls
 * through the PLT: the definitions below take their place, count the calls and can fail them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jpeglib.h>
#include <turbojpeg.h>

#include "../../daemon/encoder.h"
#include "../../daemon/frame.h"
#include "../../daemon/util.h"
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

int main(void) {
        static const struct test tests[] = {
                T(same_bytes_as_turbojpeg_2x1280x720),
                T(same_bytes_as_turbojpeg_odd_sizes),
        };
        /* TurboJPEG reads these at every call and would change its output; the encoder never does */
        unsetenv("TJ_OPTIMIZE");
        unsetenv("TJ_ARITHMETIC");
        unsetenv("TJ_RESTART");
        unsetenv("TJ_PROGRESSIVE");
        return test_main("encoder", tests, ELEMENTSOF(tests));
}
