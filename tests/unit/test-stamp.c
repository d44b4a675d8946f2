/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <turbojpeg.h>

#include "../../daemon/encoder.h"
#include "../../lib/frame.h"
#include "../../daemon/stamp.h"
#include "../../lib/util.h"
#include "test.h"

static void noise(struct frame *f, uint32_t seed) {
        for (size_t i = 0; i < (size_t) f->width * f->height * 3 / 2; i++) {
                seed = seed * 1664525u + 1013904223u;
                f->data[i] = (uint8_t) (seed >> 24);
        }
}

TEST(raw_round_trip) {
        static const unsigned widths[] = {256, 320, 640, 1280, 1920};
        for (size_t w = 0; w < ELEMENTSOF(widths); w++) {
                struct frame f;
                CHECK(frame_init(&f, 2 * widths[w], 96) == 0);
                noise(&f, 7);
                static const uint32_t numbers[] = {0, 1, 2, 255, 256, 65535, 123456, 0xffffff};
                for (size_t i = 0; i < ELEMENTSOF(numbers); i++)
                        for (unsigned eye = 0; eye < 2; eye++) {
                                uint32_t got = 0;
                                unsigned x0 = eye * widths[w];
                                stamp_write(f.planes[0] + x0, f.strides[0], f.planes[1] + x0 / 2, f.planes[2] + x0 / 2,
                                            f.strides[1], widths[w], numbers[i]);
                                CHECK(stamp_read(f.planes[0] + x0, f.strides[0], widths[w], &got) == 0);
                                CHECK_EQ_INT(got, numbers[i]);
                        }
                frame_release(&f);
        }
}

TEST(block_size_is_jpeg_aligned) {
        for (unsigned w = 256; w <= 4096; w += 2) {
                unsigned b = stamp_block_size(w);
                CHECK(b % 8 == 0 && b >= 8);
                CHECK(b * STAMP_BITS <= w);
        }
}

TEST(survives_jpeg_quality_60) {
        static const unsigned widths[] = {320, 640, 1280};
        for (size_t w = 0; w < ELEMENTSOF(widths); w++) {
                unsigned W = 2 * widths[w], H = 128;
                struct encoder *e = NULL;
                struct frame f;
                tjhandle dec = tjInitDecompress();
                uint8_t *gray = malloc((size_t) W * H);
                const uint8_t *jpeg;
                size_t size;

                CHECK(frame_init(&f, W, H) == 0);
                CHECK(encoder_new(W, H, &e) == 0);
                for (uint32_t n = 1; n < 5000000; n = n * 7 + 3) {
                        uint32_t got = 0;
                        noise(&f, n);
                        stamp_write(f.planes[0], f.strides[0], f.planes[1], f.planes[2], f.strides[1], widths[w], n);
                        stamp_write(f.planes[0] + widths[w], f.strides[0], f.planes[1] + widths[w] / 2,
                                    f.planes[2] + widths[w] / 2, f.strides[1], widths[w], n);
                        CHECK(encoder_encode(e, &f, NULL, NULL, 60, NULL, 0, &jpeg, &size) == 0);
                        CHECK(tjDecompress2(dec, jpeg, size, gray, (int) W, (int) W, (int) H, TJPF_GRAY, 0) == 0);
                        CHECK(stamp_read(gray, (int) W, widths[w], &got) == 0);
                        CHECK_EQ_INT(got, n);
                        CHECK(stamp_read(gray + widths[w], (int) W, widths[w], &got) == 0);
                        CHECK_EQ_INT(got, n);
                }
                free(gray);
                tjDestroy(dec);
                encoder_free(e);
                frame_release(&f);
        }
}

TEST(corruption_is_detected) {
        struct frame f;
        uint32_t got;
        CHECK(frame_init(&f, 640, 64) == 0);
        stamp_write(f.planes[0], f.strides[0], f.planes[1], f.planes[2], f.strides[1], 320, 4242);
        /* flip one block */
        unsigned b = stamp_block_size(320);
        for (unsigned r = 0; r < b; r++)
                for (unsigned c = 5 * b; c < 6 * b; c++)
                        f.planes[0][r * f.strides[0] + c] ^= 0xff;
        CHECK(stamp_read(f.planes[0], f.strides[0], 320, &got) == -EBADMSG);
        frame_release(&f);
}

int main(void) {
        static const struct test tests[] = {T(raw_round_trip), T(block_size_is_jpeg_aligned),
                                            T(survives_jpeg_quality_60), T(corruption_is_detected)};
        return test_main("stamp", tests, ELEMENTSOF(tests));
}
