/* SPDX-License-Identifier: MIT */
/*
 * The cameras' frame conversion (daemon/convert.c) with real bytes: MJPEG made by TurboJPEG at
 * 4:2:0 and 4:2:2 (what UVC cameras send), 4:4:4 and gray, stored as it came (passthrough) or
 * decoded into the I420 frame; YUYV; planar YUV 4:2:0. vivid sends no MJPEG, so this is where
 * the MJPEG paths below libv4l2 are tested.
 */
#include <errno.h>
#include <stdlib.h>
#include <turbojpeg.h>

#include "../../daemon/convert.h"
#include "../../lib/util.h"
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

static const struct convert_layout mjpeg = {.format = CONVERT_MJPEG, .width = W, .height = H};

TEST(mjpeg_passthrough_is_byte_exact) {
        struct convert *cv = NULL;
        struct frame f;
        unsigned long size;
        unsigned char *jpeg = make_jpeg(TJSAMP_422, &size);

        CHECK(convert_new(2 * W, H, &cv) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(frame_init_jpeg(&f, 2 * W * H * 2) == 0);
        /* a side-by-side camera: one JPEG of 2W x H; here W x H as a whole-frame stand-in */
        CHECK(convert_copy_jpeg(cv, &mjpeg, jpeg, size, &f) == 0);
        CHECK_EQ_INT(f.jpeg_size, size);
        CHECK(memcmp(f.jpeg, jpeg, size) == 0);
        /* too large for the buffer: refused, not truncated */
        f.jpeg_capacity = size - 1;
        CHECK(convert_copy_jpeg(cv, &mjpeg, jpeg, size, &f) == -EMSGSIZE);
        CHECK_EQ_INT(f.jpeg_size, 0);
        CHECK_CONTAINS(convert_error(cv), "larger than");
        tjFree(jpeg);
        frame_release(&f);
        convert_free(cv);
}

TEST(mjpeg_passthrough_checks_the_header) {
        struct convert *cv = NULL;
        struct frame f;
        uint8_t garbage[1000];
        unsigned long size;
        unsigned char *jpeg = make_jpeg(TJSAMP_420, &size);
        struct convert_layout wide = mjpeg;

        memset(garbage, 0x5a, sizeof(garbage));
        CHECK(convert_new(2 * W, H, &cv) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(frame_init_jpeg(&f, 2 * W * H * 2) == 0);
        CHECK(convert_copy_jpeg(cv, &mjpeg, garbage, sizeof(garbage), &f) == -EBADMSG);
        CHECK_CONTAINS(convert_error(cv), "bad MJPEG frame (1000 bytes)");
        wide.width = 2 * W; /* the camera sent another size than negotiated */
        CHECK(convert_copy_jpeg(cv, &wide, jpeg, size, &f) == -EBADMSG);
        CHECK_CONTAINS(convert_error(cv), "it is 320x240, not 640x240");
        CHECK_EQ_INT(f.jpeg_size, 0);
        tjFree(jpeg);
        frame_release(&f);
        convert_free(cv);
}

/* @jpeg with @n bytes of @extra inserted after its start-of-image marker, in f->jpeg */
static size_t with_segments(struct frame *f, const unsigned char *jpeg, unsigned long size, const uint8_t *extra,
                            size_t n) {
        memcpy(f->jpeg, jpeg, 2);
        memcpy(f->jpeg + 2, extra, n);
        memcpy(f->jpeg + 2 + n, jpeg + 2, size - 2);
        return size + n;
}

TEST(jpeg_read_into_the_frame_is_accepted_whole) {
        /* a replayed file read straight into f->jpeg: its header walked by convert.c itself (no
         * TurboJPEG, nothing allocated), and it must end with the end-of-image marker */
        struct convert *cv = NULL;
        struct frame f;
        unsigned long size;
        unsigned char *jpeg = make_jpeg(TJSAMP_420, &size);
        /* an APP1 segment, a comment, fill bytes and a restart marker before the frame header */
        static const uint8_t extra[] = {0xff, 0xe1, 0x00, 0x06, 'E', 'x',  'i',  'f',  0xff,
                                        0xfe, 0x00, 0x04, 'h',  'i', 0xff, 0xff, 0xff, 0xd0};
        struct convert_layout wide = mjpeg;

        CHECK(convert_new(2 * W, H, &cv) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(frame_init_jpeg(&f, 2 * W * H * 2) == 0);
        memcpy(f.jpeg, jpeg, size);
        CHECK(convert_accept_jpeg(cv, &mjpeg, &f, size) == 0);
        CHECK_EQ_INT(f.jpeg_size, size);
        CHECK(memcmp(f.jpeg, jpeg, size) == 0); /* as it was read */
        /* zero padding after the end marker, as some writers leave: still whole */
        memset(f.jpeg + size, 0, 16);
        CHECK(convert_accept_jpeg(cv, &mjpeg, &f, size + 16) == 0);
        CHECK(convert_accept_jpeg(cv, &mjpeg, &f, with_segments(&f, jpeg, size, extra, sizeof(extra))) == 0);
        wide.width = 2 * W;
        CHECK(convert_accept_jpeg(cv, &wide, &f, with_segments(&f, jpeg, size, extra, sizeof(extra))) == -EBADMSG);
        CHECK_CONTAINS(convert_error(cv), "it is 320x240, not 640x240");
        CHECK_EQ_INT(f.jpeg_size, 0);
        tjFree(jpeg);
        frame_release(&f);
        convert_free(cv);
}

TEST(jpeg_read_into_the_frame_refused_when_cut_or_broken) {
        struct convert *cv = NULL;
        struct frame f;
        unsigned long size;
        unsigned char *jpeg = make_jpeg(TJSAMP_422, &size);
        static const uint8_t runaway[] = {0xff, 0xe0, 0xff, 0x00}; /* a segment longer than the file */

        CHECK(convert_new(2 * W, H, &cv) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(frame_init_jpeg(&f, 2 * W * H * 2) == 0);
        memcpy(f.jpeg, jpeg, size);
        CHECK(convert_accept_jpeg(cv, &mjpeg, &f, size * 6 / 10) == -EBADMSG); /* image data cut */
        CHECK_CONTAINS(convert_error(cv), "truncated JPEG");
        CHECK_EQ_INT(f.jpeg_size, 0);
        CHECK(convert_accept_jpeg(cv, &mjpeg, &f, 100) == -EBADMSG); /* cut inside the header */
        CHECK_CONTAINS(convert_error(cv), "bad MJPEG frame (100 bytes): ");
        CHECK(convert_accept_jpeg(cv, &mjpeg, &f, with_segments(&f, jpeg, size, runaway, sizeof(runaway))) == -EBADMSG);
        CHECK_CONTAINS(convert_error(cv), "runs past the data");
        memcpy(f.jpeg, jpeg, size);
        f.jpeg[0] = 0;
        CHECK(convert_accept_jpeg(cv, &mjpeg, &f, size) == -EBADMSG);
        CHECK_CONTAINS(convert_error(cv), "no start-of-image marker");
        CHECK(convert_accept_jpeg(cv, &mjpeg, &f, f.jpeg_capacity + 1) == -EMSGSIZE);
        tjFree(jpeg);
        frame_release(&f);
        convert_free(cv);
}

#ifdef TJFLAG_PROGRESSIVE
TEST(jpeg_header_walk_reads_progressive_frames) {
        /* SOF2, not SOF0: the walk knows every frame-header marker */
        unsigned char *rgb = calloc(W * H, 3), *jpeg = NULL;
        unsigned long size = 0;
        tjhandle tj = tjInitCompress();
        struct convert *cv = NULL;
        struct frame f;

        CHECK(tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, &jpeg, &size, TJSAMP_420, 80, TJFLAG_PROGRESSIVE) == 0);
        CHECK(convert_new(W, H, &cv) == 0);
        CHECK(frame_init(&f, W, H) == 0);
        CHECK(frame_init_jpeg(&f, size) == 0);
        memcpy(f.jpeg, jpeg, size);
        CHECK(convert_accept_jpeg(cv, &mjpeg, &f, size) == 0);
        tjDestroy(tj);
        tjFree(jpeg);
        free(rgb);
        frame_release(&f);
        convert_free(cv);
}
#endif

/* how far the values of one chroma plane spread in the right eye */
static int chroma_range(const struct frame *f, int plane) {
        int lo = 255, hi = 0;
        for (int y = 0; y < H / 2; y++)
                for (int x = 0; x < W / 2; x++) {
                        int u = f->planes[plane][y * f->strides[plane] + W / 2 + x];
                        lo = MIN(lo, u);
                        hi = MAX(hi, u);
                }
        return hi - lo;
}

static void decode_matches(int subsamp) {
        struct convert *cv = NULL;
        struct frame f;
        unsigned long size;
        unsigned char *jpeg = make_jpeg(subsamp, &size), *ref = reference_luma(jpeg, size);

        CHECK(convert_new(W, H, &cv) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        memset(f.data, 0, (size_t) 2 * W * H * 3 / 2);
        /* the right eye of a pair: lands at column W */
        CHECK(convert_frame(cv, &mjpeg, jpeg, size, &f, W) == 0);
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
        CHECK_EQ_INT(f.planes[1][10 * f.strides[1] + 10], 0);
        if (subsamp == TJSAMP_GRAY) {
                /* neutral chroma */
                CHECK_EQ_INT(chroma_range(&f, 1), 0);
                CHECK_EQ_INT(f.planes[1][5 * f.strides[1] + W / 2 + 7], 128);
                CHECK_EQ_INT(f.planes[2][(H / 2 - 1) * f.strides[2] + W - 1], 128);
        } else
                /* blue-ish squares show in U, in the right half only */
                CHECK(chroma_range(&f, 1) > 40);
        tjFree(jpeg);
        free(ref);
        frame_release(&f);
        convert_free(cv);
}

TEST(mjpeg_420_decodes_into_planes) {
        decode_matches(TJSAMP_420);
}

TEST(mjpeg_422_decodes_into_planes) {
        decode_matches(TJSAMP_422);
}

TEST(mjpeg_444_decodes_into_planes) {
        decode_matches(TJSAMP_444);
}

TEST(mjpeg_gray_decodes_into_planes) {
        decode_matches(TJSAMP_GRAY);
}

TEST(mjpeg_chroma_alike_whatever_the_subsampling) {
        /* 4:2:0 decoded straight, 4:4:4 brought to 4:2:0 by us: the chroma agrees closely */
        struct convert *cv = NULL;
        struct frame a, b;
        unsigned long s420, s444;
        unsigned char *j420 = make_jpeg(TJSAMP_420, &s420), *j444 = make_jpeg(TJSAMP_444, &s444);
        int maxdiff = 0;

        CHECK(convert_new(W, H, &cv) == 0);
        CHECK(frame_init(&a, W, H) == 0);
        CHECK(frame_init(&b, W, H) == 0);
        CHECK(convert_frame(cv, &mjpeg, j420, s420, &a, 0) == 0);
        CHECK(convert_frame(cv, &mjpeg, j444, s444, &b, 0) == 0);
        for (int p = 1; p < 3; p++)
                for (int y = 8; y < H / 2 - 8; y++)
                        for (int x = 0; x < W / 2; x++) {
                                int d = abs(a.planes[p][y * a.strides[p] + x] - b.planes[p][y * b.strides[p] + x]);
                                /* away from the squares' edges, where 4:2:0 blurs */
                                if ((x * 2) % 16 > 2 && (x * 2) % 16 < 14 && (y * 2) % 16 > 2 && (y * 2) % 16 < 14)
                                        maxdiff = MAX(maxdiff, d);
                        }
        CHECK(maxdiff <= 6);
        tjFree(j420);
        tjFree(j444);
        frame_release(&a);
        frame_release(&b);
        convert_free(cv);
}

TEST(bad_mjpeg_is_refused_with_reason) {
        struct convert *cv = NULL;
        struct frame f;
        uint8_t garbage[1000];
        unsigned long size;
        unsigned char *jpeg = make_jpeg(TJSAMP_420, &size);
        struct convert_layout wrong = mjpeg;

        memset(garbage, 0x5a, sizeof(garbage));
        CHECK(convert_new(W, H, &cv) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(convert_frame(cv, &mjpeg, garbage, sizeof(garbage), &f, 0) == -EBADMSG);
        CHECK_CONTAINS(convert_error(cv), "bad MJPEG frame");
        wrong.width = W / 2; /* a frame of another size than negotiated */
        CHECK(convert_frame(cv, &wrong, jpeg, size, &f, 0) == -EBADMSG);
        CHECK_CONTAINS(convert_error(cv), "it is 320x240, not 160x240");
        CHECK(convert_frame(cv, &mjpeg, jpeg, size / 2, &f, 0) == -EBADMSG); /* truncated */
        CHECK_CONTAINS(convert_error(cv), "cannot decode MJPEG frame");
        tjFree(jpeg);
        frame_release(&f);
        convert_free(cv);
}

TEST(image_that_does_not_fit_is_refused) {
        struct convert *cv = NULL;
        struct frame f;
        static uint8_t yuv[W * H * 3 / 2];
        const struct convert_layout i420 = {.format = CONVERT_YUV420, .width = W, .height = H};

        CHECK(convert_new(W, H, &cv) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(convert_frame(cv, &i420, yuv, sizeof(yuv), &f, W) == 0);
        CHECK(convert_frame(cv, &i420, yuv, sizeof(yuv), &f, W + 2) == -EINVAL); /* past the right edge */
        CHECK_CONTAINS(convert_error(cv), "does not fit");
        frame_release(&f);
        convert_free(cv);
}

TEST(jpeg_size_from_header) {
        struct convert *cv = NULL;
        unsigned long size;
        unsigned char *jpeg = make_jpeg(TJSAMP_420, &size);
        unsigned w = 0, h = 0;
        uint8_t garbage[16] = {0};

        CHECK(convert_new(W, H, &cv) == 0);
        CHECK(convert_jpeg_size(cv, jpeg, size, &w, &h) == 0);
        CHECK_EQ_INT(w, W);
        CHECK_EQ_INT(h, H);
        CHECK(convert_jpeg_size(cv, garbage, sizeof(garbage), &w, &h) == -EBADMSG);
        CHECK(convert_error(cv)[0] != 0);
        CHECK_EQ_INT(w, W); /* untouched on failure */
        tjFree(jpeg);
        convert_free(cv);
}

TEST(yuyv_to_i420) {
        struct convert *cv = NULL;
        struct frame f;
        const struct convert_layout yuyv = {.format = CONVERT_YUYV, .width = W, .height = H, .bytesperline = 2 * W};
        uint8_t *buf = malloc(2 * W * H);
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W / 2; x++) {
                        uint8_t *p = buf + y * 2 * W + 4 * x;
                        p[0] = (uint8_t) (2 * x);
                        p[1] = (uint8_t) (y % 2 ? 100 : 50); /* U differs between rows: averaged */
                        p[2] = (uint8_t) (2 * x + 1);
                        p[3] = (uint8_t) y;
                }
        CHECK(convert_new(W, H, &cv) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        CHECK(convert_frame(cv, &yuyv, buf, 2 * W * H, &f, 0) == 0);
        CHECK_EQ_INT(f.planes[0][5 * f.strides[0] + 7], 7);
        CHECK_EQ_INT(f.planes[1][3 * f.strides[1] + 4], 75);
        CHECK_EQ_INT(f.planes[2][3 * f.strides[2] + 4], (6 + 7 + 1) / 2);
        CHECK(convert_frame(cv, &yuyv, buf, W, &f, 0) == -EBADMSG); /* short */
        CHECK_CONTAINS(convert_error(cv), "short YUYV frame");
        free(buf);
        frame_release(&f);
        convert_free(cv);
}

/* The YUYV conversion of @w x @h random pixels (@stride bytes a row) at column @x0, by the
 * vector path and by the scalar reference: every byte of both frames must agree, the bytes
 * around the image (left untouched) included. The frame is 2 rows taller than @h, so that the
 * chroma row an odd @h's last row writes exists. */
static void yuyv_paths_agree(unsigned w, unsigned h, unsigned stride, unsigned x0) {
        struct frame f[2];
        unsigned fw = x0 + w + 6, fh = h + 2;
        uint8_t *src = malloc((size_t) stride * h);

        for (size_t i = 0; i < (size_t) stride * h; i++)
                src[i] = (uint8_t) (rand() >> 7);
        for (int k = 0; k < 2; k++) {
                CHECK(frame_init(&f[k], fw, fh) == 0);
                memset(f[k].data, 0xa5, (size_t) fw * fh * 3 / 2);
                convert_yuyv_to_i420(src, stride, w, h, &f[k], x0, k == 0);
        }
        for (int p = 0; p < 3; p++) {
                unsigned rows = p ? fh / 2 : fh;
                size_t bytes = (size_t) rows * (size_t) f[0].strides[p];
                if (memcmp(f[0].planes[p], f[1].planes[p], bytes) != 0) {
                        fprintf(stderr, "plane %d differs: %ux%u, stride %u, x0 %u\n", p, w, h, stride, x0);
                        CHECK(0);
                }
        }
        /* the scalar reference itself, spot-checked: the last pixel, and the last row's chroma */
        const uint8_t *last = src + (size_t) (h - 1) * stride;
        CHECK_EQ_INT(f[1].planes[0][(h - 1) * f[1].strides[0] + x0 + w - 1], last[2 * w - 2]);
        if (h % 2) /* an odd last row's chroma is its own: averaged with itself */
                CHECK_EQ_INT(f[1].planes[1][(h / 2) * f[1].strides[1] + x0 / 2], last[1]);
        else
                CHECK_EQ_INT(f[1].planes[2][(h / 2 - 1) * f[1].strides[2] + x0 / 2 + w / 2 - 1],
                             (last[2 * w - 1] + (last - stride)[2 * w - 1] + 1) / 2);
        free(src);
        frame_release(&f[0]);
        frame_release(&f[1]);
}

TEST(yuyv_vector_path_same_bytes_as_scalar) {
        /* widths under, at, and off multiples of the vector width (32 pixels); even and odd
         * heights (the last row clamp); the left eye (x0 0) and a right eye (x0 the width);
         * rows with padding */
        static const unsigned widths[] = {2, 6, 30, 32, 34, 62, 64, 66, 96, 130, 320, 1282};
        static const unsigned heights[] = {1, 2, 3, 8, 9};

        srand(13);
        for (unsigned i = 0; i < ELEMENTSOF(widths); i++)
                for (unsigned j = 0; j < ELEMENTSOF(heights); j++) {
                        unsigned w = widths[i], h = heights[j];
                        yuyv_paths_agree(w, h, 2 * w, 0);
                        yuyv_paths_agree(w, h, 2 * w, w);
                        yuyv_paths_agree(w, h, 2 * w + 36, w + (w % 4 ? 0 : 2));
                }
        /* a whole 2x1280x720 stereo frame from one side-by-side camera */
        yuyv_paths_agree(2560, 720, 5120, 0);
}

TEST(yuv420_rows_copied_with_padding) {
        enum { BPL = W + 32 }; /* a driver's padded rows */
        struct convert *cv = NULL;
        struct frame f;
        const struct convert_layout i420 = {.format = CONVERT_YUV420, .width = W, .height = H, .bytesperline = BPL};
        size_t size = (size_t) BPL * H * 3 / 2;
        uint8_t *buf = malloc(size), *u = buf + BPL * H, *v = u + (BPL / 2) * (H / 2);

        memset(buf, 0xee, size); /* the padding: must not show */
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                        buf[y * BPL + x] = (uint8_t) (x + y);
        for (int y = 0; y < H / 2; y++)
                for (int x = 0; x < W / 2; x++) {
                        u[y * (BPL / 2) + x] = (uint8_t) x;
                        v[y * (BPL / 2) + x] = (uint8_t) y;
                }
        CHECK(convert_new(W, H, &cv) == 0);
        CHECK(frame_init(&f, 2 * W, H) == 0);
        memset(f.data, 0, (size_t) 2 * W * H * 3 / 2);
        CHECK(convert_frame(cv, &i420, buf, size, &f, W) == 0);
        CHECK_EQ_INT(f.planes[0][9 * f.strides[0] + W + 4], 13);
        CHECK_EQ_INT(f.planes[0][9 * f.strides[0] + 2 * W - 1], (W - 1 + 9) & 0xff);
        CHECK_EQ_INT(f.planes[1][7 * f.strides[1] + W / 2 + 5], 5);
        CHECK_EQ_INT(f.planes[2][7 * f.strides[2] + W / 2 + 5], 7);
        CHECK_EQ_INT(f.planes[2][(H / 2 - 1) * f.strides[2] + W - 1], H / 2 - 1);
        CHECK_EQ_INT(f.planes[0][9 * f.strides[0] + 4], 0); /* the left eye untouched */
        CHECK(convert_frame(cv, &i420, buf, size - 1, &f, W) == -EBADMSG);
        CHECK_CONTAINS(convert_error(cv), "short YUV420 frame");
        free(buf);
        frame_release(&f);
        convert_free(cv);
}

int main(void) {
        static const struct test tests[] = {
                T(mjpeg_passthrough_is_byte_exact),
                T(mjpeg_passthrough_checks_the_header),
                T(jpeg_read_into_the_frame_is_accepted_whole),
                T(jpeg_read_into_the_frame_refused_when_cut_or_broken),
#ifdef TJFLAG_PROGRESSIVE
                T(jpeg_header_walk_reads_progressive_frames),
#endif
                T(mjpeg_420_decodes_into_planes),
                T(mjpeg_422_decodes_into_planes),
                T(mjpeg_444_decodes_into_planes),
                T(mjpeg_gray_decodes_into_planes),
                T(mjpeg_chroma_alike_whatever_the_subsampling),
                T(bad_mjpeg_is_refused_with_reason),
                T(image_that_does_not_fit_is_refused),
                T(jpeg_size_from_header),
                T(yuyv_to_i420),
                T(yuyv_vector_path_same_bytes_as_scalar),
                T(yuv420_rows_copied_with_padding),
        };
        return test_main("capture", tests, ELEMENTSOF(tests));
}
