/* SPDX-License-Identifier: MIT */
/*
 * The V4L2 source's frame conversion with real bytes: MJPEG made by TurboJPEG at 4:2:0 and 4:2:2
 * (what UVC cameras send), stored as it came (passthrough) or decoded into the I420 frame; YUYV.
 * vivid sends no MJPEG, so this is where the MJPEG paths below libv4l2 are tested.
 */
#include <errno.h>
#include <linux/videodev2.h>
#include <stdlib.h>
#include <turbojpeg.h>

#include "../../daemon/capture-v4l2.h"
#include "../../daemon/util.h"
#include "test.h"

#define W 320
#define H 240

static unsigned char *make_jpeg(int subsamp, unsigned long *size) {
        unsigned char *rgb = malloc(W * H * 3), *jpeg = NULL;
        tjhandle tj = tjInitCompress();
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                        rgb[(y * W + x) * 3 + 0] = (unsigned char) (x * 255 / W);
                        rgb[(y * W + x) * 3 + 1] = (unsigned char) (y * 255 / H);
                        rgb[(y * W + x) * 3 + 2] = (unsigned char) (((x / 16) + (y / 16)) % 2 ? 200 : 40);
                }
        *size = 0;
        CHECK(tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, &jpeg, size, subsamp, 90, 0) == 0);
        tjDestroy(tj);
        free(rgb);
        return jpeg;
}

/* The luma TurboJPEG itself decodes from @jpeg, as the reference. */
static unsigned char *reference_luma(const unsigned char *jpeg, unsigned long size) {
        unsigned char *gray = malloc(W * H);
        tjhandle tj = tjInitDecompress();
        CHECK(tjDecompress2(tj, jpeg, size, gray, W, W, H, TJPF_GRAY, 0) == 0);
        tjDestroy(tj);
        return gray;
}

static const struct capture_format mjpeg = {.width = W, .height = H, .pixelformat = V4L2_PIX_FMT_MJPEG};

TEST(mjpeg_passthrough_is_byte_exact) {
        struct capture_convert cv;
        struct frame f;
        unsigned long size;
        unsigned char *jpeg = make_jpeg(TJSAMP_422, &size);

        CHECK(capture_convert_init(&cv, 2 * W, H) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(frame_init_jpeg(&f, 2 * W * H * 2) == 0);
        /* a side-by-side camera: one JPEG of 2W x H; here W x H as a whole-frame stand-in */
        CHECK(capture_convert_frame(&cv, &mjpeg, jpeg, size, &f, 0, true) == 0);
        CHECK_EQ_INT(f.jpeg_size, size);
        CHECK(memcmp(f.jpeg, jpeg, size) == 0);
        /* too large for the buffer: refused, not truncated */
        f.jpeg_capacity = size - 1;
        CHECK(capture_convert_frame(&cv, &mjpeg, jpeg, size, &f, 0, true) == -EMSGSIZE);
        tjFree(jpeg);
        frame_release(&f);
        capture_convert_done(&cv);
}

static void decode_matches(int subsamp) {
        struct capture_convert cv;
        struct frame f;
        unsigned long size;
        unsigned char *jpeg = make_jpeg(subsamp, &size), *ref = reference_luma(jpeg, size);

        CHECK(capture_convert_init(&cv, W, H) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        memset(f.data, 0, (size_t) 2 * W * H * 3 / 2);
        /* the right eye of a pair: lands at column W */
        CHECK(capture_convert_frame(&cv, &mjpeg, jpeg, size, &f, W, false) == 0);
        CHECK_EQ_INT(f.jpeg_size, 0);
        int maxdiff = 0;
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                        int d = abs(f.planes[0][y * f.strides[0] + W + x] - ref[y * W + x]);
                        maxdiff = MAX(maxdiff, d);
                }
        CHECK(maxdiff <= 1);
        /* the left eye untouched */
        CHECK_EQ_INT(f.planes[0][10 * f.strides[0] + 10], 0);
        /* chroma: blue-ish squares show in U, in the right half only */
        int lo = 255, hi = 0;
        for (int y = 0; y < H / 2; y++)
                for (int x = 0; x < W / 2; x++) {
                        int u = f.planes[1][y * f.strides[1] + W / 2 + x];
                        lo = MIN(lo, u);
                        hi = MAX(hi, u);
                }
        CHECK(hi - lo > 40);
        tjFree(jpeg);
        free(ref);
        frame_release(&f);
        capture_convert_done(&cv);
}

TEST(mjpeg_420_decodes_into_planes) {
        decode_matches(TJSAMP_420);
}

TEST(mjpeg_422_decodes_into_planes) {
        decode_matches(TJSAMP_422);
}

TEST(bad_mjpeg_is_refused_with_reason) {
        struct capture_convert cv;
        struct frame f;
        uint8_t garbage[1000];
        unsigned long size;
        unsigned char *jpeg = make_jpeg(TJSAMP_420, &size);
        struct capture_format wrong = mjpeg;

        memset(garbage, 0x5a, sizeof(garbage));
        CHECK(capture_convert_init(&cv, W, H) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(capture_convert_frame(&cv, &mjpeg, garbage, sizeof(garbage), &f, 0, false) == -EBADMSG);
        CHECK_CONTAINS(cv.error, "bad MJPEG frame");
        wrong.width = W / 2; /* a frame of another size than negotiated */
        CHECK(capture_convert_frame(&cv, &wrong, jpeg, size, &f, 0, false) == -EBADMSG);
        CHECK(capture_convert_frame(&cv, &mjpeg, jpeg, size / 2, &f, 0, false) == -EBADMSG); /* truncated */
        tjFree(jpeg);
        frame_release(&f);
        capture_convert_done(&cv);
}

TEST(yuyv_to_i420) {
        struct capture_convert cv;
        struct frame f;
        const struct capture_format yuyv = {
                .width = W, .height = H, .pixelformat = V4L2_PIX_FMT_YUYV, .bytesperline = 2 * W};
        uint8_t *buf = malloc(2 * W * H);
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W / 2; x++) {
                        uint8_t *p = buf + y * 2 * W + 4 * x;
                        p[0] = (uint8_t) (2 * x);
                        p[1] = (uint8_t) (y % 2 ? 100 : 50); /* U differs between rows: averaged */
                        p[2] = (uint8_t) (2 * x + 1);
                        p[3] = (uint8_t) y;
                }
        CHECK(capture_convert_init(&cv, W, H) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(capture_convert_frame(&cv, &yuyv, buf, 2 * W * H, &f, 0, false) == 0);
        CHECK_EQ_INT(f.planes[0][5 * f.strides[0] + 7], 7);
        CHECK_EQ_INT(f.planes[1][3 * f.strides[1] + 4], 75);
        CHECK_EQ_INT(f.planes[2][3 * f.strides[2] + 4], (6 + 7 + 1) / 2);
        CHECK(capture_convert_frame(&cv, &yuyv, buf, W, &f, 0, false) == -EBADMSG); /* short */
        free(buf);
        frame_release(&f);
        capture_convert_done(&cv);
}

int main(void) {
        static const struct test tests[] = {T(mjpeg_passthrough_is_byte_exact), T(mjpeg_420_decodes_into_planes),
                                            T(mjpeg_422_decodes_into_planes), T(bad_mjpeg_is_refused_with_reason),
                                            T(yuyv_to_i420)};
        return test_main("capture", tests, ELEMENTSOF(tests));
}
