/* SPDX-License-Identifier: MIT */
/*
 * test-jpeg-bands.c — a camera's JPEG decoded a block of rows at a time into a window and
 * remapped band by band (daemon/jpeg-bands.c) gives the bytes the whole frame gave: TurboJPEG's
 * decode (convert.c) then rectify_frame(), for 4:2:0, 4:2:2, 4:4:4 and gray, heights on and off
 * the 16-row blocks, pinhole and fisheye calibrations, in a window and whole; the frame's look
 * (qc.h) is qc_measure_planes()'s; a JPEG cut short, corrupt, of another size or of a sampling
 * it cannot convert fails as TurboJPEG's decode did, and the next one decodes again; libjpeg
 * allocates nothing after the first image.
 *
 * libjpeg allocates through jpeg_get_small() and jpeg_get_large() (jmemnobs.c), which it calls
 * through the PLT: the definitions below take their place and count the calls.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <jpeglib.h>
#include <turbojpeg.h>

#include "../../daemon/convert.h"
#include "../../daemon/jpeg-bands.h"
#include "../../lib/rectify.h"
#include "../../lib/util.h"
#include "test.h"

static unsigned long jpeg_allocs;

void *jpeg_get_small(j_common_ptr cinfo, size_t size);
void *jpeg_get_large(j_common_ptr cinfo, size_t size);

void *jpeg_get_small(j_common_ptr cinfo, size_t size) {
        (void) cinfo;
        jpeg_allocs++;
        return malloc(size);
}

void *jpeg_get_large(j_common_ptr cinfo, size_t size) {
        (void) cinfo;
        jpeg_allocs++;
        return malloc(size);
}

/* A side-by-side JPEG of @w × @h with edges, gradients and noise, from TurboJPEG. */
static unsigned char *make_jpeg(unsigned w, unsigned h, int subsamp, uint32_t seed, unsigned long *size) {
        unsigned char *rgb = malloc((size_t) w * h * 3), *jpeg = NULL;
        tjhandle tj = tjInitCompress();

        for (unsigned y = 0; y < h; y++)
                for (unsigned x = 0; x < w; x++) {
                        unsigned char *p = rgb + ((size_t) y * w + x) * 3;
                        seed = seed * 1664525u + 1013904223u;
                        p[0] = (unsigned char) (x * 255 / w + (seed >> 28));
                        p[1] = (unsigned char) (y * 255 / h);
                        p[2] = (unsigned char) (((x / 13) + (y / 11)) % 2 ? 210 : 30);
                }
        *size = 0;
        CHECK(tjCompress2(tj, rgb, (int) w, 0, (int) h, TJPF_RGB, &jpeg, size, subsamp, 88, 0) == 0);
        tjDestroy(tj);
        free(rgb);
        return jpeg;
}

/* A real-looking calibration for eyes of @w × @h (as test-rectify.c's). */
static struct calibration distorted(unsigned w, unsigned h, double k1, double zoom, bool fisheye) {
        struct calibration c = {.model = fisheye ? MODEL_FISHEYE : MODEL_PLUMB_BOB};
        double f = 0.8 * w;
        for (unsigned e = 0; e < 2; e++) {
                double a = e ? 0.01 : -0.008, ca = cos(a), sa = sin(a);
                double K[9] = {f, 0, w / 2.0 + 3 * e, 0, f * 1.01, h / 2.0 - 2, 0, 0, 1};
                double R[9] = {ca, -sa, 0, sa, ca, 0, 0, 0, 1};
                double P[12] = {f * zoom, 0, w / 2.0, 0, 0, f * zoom, h / 2.0, 0, 0, 0, 1, 0};
                memcpy(c.eye[e].K, K, sizeof(K));
                memcpy(c.eye[e].R, R, sizeof(R));
                memcpy(c.eye[e].P, P, sizeof(P));
                c.eye[e].D[0] = k1;
                c.eye[e].D[1] = fisheye ? 0.04 : 0.09;
                c.eye[e].n_d = fisheye ? 4 : 5;
        }
        return c;
}

/* Both eyes' planes of @f and @g that differ. */
static unsigned differ(const struct frame *f, const struct frame *g) {
        unsigned bad = 0;
        for (unsigned p = 0; p < 3; p++) {
                unsigned w = p ? f->width / 2 : f->width, h = p ? f->height / 2 : f->height;
                for (unsigned y = 0; y < h; y++)
                        bad += memcmp(f->planes[p] + (size_t) y * f->strides[p],
                                      g->planes[p] + (size_t) y * g->strides[p], w) != 0;
        }
        return bad;
}

/* @jpeg through the band decoder and the remap, band by band as the encoder asks: into @out. */
static int decode_in_bands(struct jpeg_bands *d, const struct rectify *r, const unsigned char *jpeg, unsigned long size,
                           struct frame *out, struct qc_sample *qc) {
        int e = jpeg_bands_begin(d, jpeg, size);

        for (unsigned y0 = 0; e >= 0 && y0 < out->height; y0 += 16) {
                uint8_t *dst[3] = {out->planes[0] + (size_t) y0 * out->strides[0],
                                   out->planes[1] + (size_t) y0 / 2 * out->strides[1],
                                   out->planes[2] + (size_t) y0 / 2 * out->strides[2]};
                unsigned luma, chroma;
                rectify_rows_needed(r, y0, 16, &luma, &chroma);
                jpeg_bands_need(d, luma, chroma);
                rectify_rows_from(r, jpeg_bands_source(d), y0, 16, dst, out->strides);
        }
        int f = jpeg_bands_finish(d, qc);
        return e < 0 ? e : f;
}

TEST(bands_give_the_whole_frames_bytes) {
        static const int subsamps[] = {TJSAMP_420, TJSAMP_422, TJSAMP_444, TJSAMP_GRAY};
        static const struct {
                unsigned w, h;
                double k1, zoom;
                bool fisheye;
        } cases[] = {{320, 240, -0.3, 0.9, false}, {328, 232, -0.05, 1.0, false}, {320, 240, -0.012, 0.6, true}};
        unsigned runs = 0, windowed = 0;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++)
                for (size_t s = 0; s < ELEMENTSOF(subsamps); s++) {
                        unsigned w = cases[k].w, h = cases[k].h, fw = 2 * w;
                        struct calibration c = distorted(w, h, cases[k].k1, cases[k].zoom, cases[k].fisheye);
                        const struct convert_layout mjpeg = {.format = CONVERT_MJPEG, .width = fw, .height = h};
                        struct convert *cv = NULL;
                        struct rectify *r = NULL;
                        struct frame decoded, whole, banded;
                        unsigned long size;
                        unsigned char *jpeg = make_jpeg(fw, h, subsamps[s], 7 + (uint32_t) (k * 4 + s), &size);

                        CHECK(frame_init(&decoded, fw, h) == 0 && frame_init(&whole, fw, h) == 0);
                        CHECK(frame_init(&banded, fw, h) == 0 && convert_new(fw, h, &cv) == 0);
                        CHECK(rectify_new(&c, w, h, (int) fw, (int) w, &r) == 0);
                        /* the reference: TurboJPEG's whole frame, rectified whole */
                        CHECK(convert_frame(cv, &mjpeg, jpeg, size, &decoded, 0) == 0);
                        rectify_frame(r, &decoded, &whole);
                        for (unsigned window = 0; window < 2; window++) {
                                unsigned rows = window ? rectify_window_rows(r) : 0;
                                struct jpeg_bands *d = NULL;
                                struct qc_sample qc = {}, want = {};
                                CHECK(jpeg_bands_new(fw, h, rows, &d) == 0);
                                if (!d)
                                        continue;
                                memset(banded.planes[0], 0x77, (size_t) (banded.planes[2] - banded.planes[0]));
                                CHECK_EQ_INT(decode_in_bands(d, r, jpeg, size, &banded, &qc), 0);
                                CHECK_EQ_INT(differ(&whole, &banded), 0);
                                qc_measure_planes(decoded.planes[0], decoded.strides[0], fw, h, &want);
                                CHECK(memcmp(&qc, &want, sizeof(qc)) == 0);
                                windowed += rows > 0;
                                runs++;
                                jpeg_bands_free(d);
                        }
                        rectify_free(r);
                        convert_free(cv);
                        frame_release(&decoded);
                        frame_release(&whole);
                        frame_release(&banded);
                        tjFree(jpeg);
                }
        printf("# %u decodes compared with TurboJPEG's, %u of them in a window\n", runs, windowed);
        CHECK(windowed > 0);
}

/* A window is what the geometry asks for, far less than the frame: 2×1280×720 with the bench's
 * kind of calibration keeps at most 128 rows (0.5 MB against 2.8 MB for the whole frame). */
TEST(the_window_is_small) {
        struct calibration c = distorted(1280, 720, -0.28, 1.0, false);
        struct rectify *r = NULL;

        CHECK(rectify_new(&c, 1280, 720, 2560, 1280, &r) == 0);
        if (!r)
                return;
        unsigned rows = rectify_window_rows(r);
        size_t window = jpeg_bands_footprint(2560, 720, rows), whole = jpeg_bands_footprint(2560, 720, 0);
        printf("# window %u rows: %zu bytes; the whole frame: %zu\n", rows, window, whole);
        CHECK(rows > 0 && rows <= 128);
        CHECK(window < whole / 4);
        rectify_free(r);
}

TEST(bad_jpegs_fail_and_the_next_decodes) {
        const unsigned w = 320, h = 240, fw = 2 * w;
        struct calibration c = distorted(w, h, -0.3, 0.9, false);
        const struct convert_layout mjpeg = {.format = CONVERT_MJPEG, .width = fw, .height = h};
        struct rectify *r = NULL;
        struct jpeg_bands *d = NULL;
        struct convert *cv = NULL;
        struct frame out, ref, decoded;
        unsigned long size, other_size, odd_size;
        unsigned char *jpeg = make_jpeg(fw, h, TJSAMP_420, 3, &size);
        unsigned char *other = make_jpeg(fw - 16, h, TJSAMP_420, 3, &other_size);
        unsigned char *odd = make_jpeg(fw, h, TJSAMP_440, 3, &odd_size);
        unsigned char garbage[600];
        struct qc_sample qc = {.luma = {99, 99}};

        CHECK(rectify_new(&c, w, h, (int) fw, (int) w, &r) == 0);
        CHECK(r && jpeg_bands_new(fw, h, rectify_window_rows(r), &d) == 0);
        CHECK(frame_init(&out, fw, h) == 0 && frame_init(&ref, fw, h) == 0 && frame_init(&decoded, fw, h) == 0);
        CHECK(convert_new(fw, h, &cv) == 0);
        if (!d || !r || !cv)
                return;
        /* cut short: TurboJPEG's decode fails on it (a warning), and so does this one, at its end */
        CHECK(convert_frame(cv, &mjpeg, jpeg, size * 3 / 5, &decoded, 0) < 0);
        CHECK_EQ_INT(decode_in_bands(d, r, jpeg, size * 3 / 5, &out, &qc), -EBADMSG);
        CHECK_CONTAINS(jpeg_bands_error(d), "cannot decode MJPEG frame: Premature end of JPEG file");
        CHECK_EQ_INT(qc.luma[0], 99); /* not measured */
        /* another size, not a JPEG, a subsampling it cannot bring to 4:2:0 */
        CHECK_EQ_INT(decode_in_bands(d, r, other, other_size, &out, NULL), -EBADMSG);
        CHECK_CONTAINS(jpeg_bands_error(d), "it is 624x240, not 640x240");
        memset(garbage, 0x41, sizeof(garbage));
        CHECK_EQ_INT(decode_in_bands(d, r, garbage, sizeof(garbage), &out, NULL), -EBADMSG);
        CHECK_CONTAINS(jpeg_bands_error(d), "bad MJPEG frame (600 bytes): Not a JPEG file");
        CHECK(convert_frame(cv, &mjpeg, odd, odd_size, &decoded, 0) == -EINVAL);
        CHECK_EQ_INT(decode_in_bands(d, r, odd, odd_size, &out, NULL), -EINVAL);
        CHECK_CONTAINS(jpeg_bands_error(d), "is not supported (4:2:0, 4:2:2, 4:4:4 and gray are)");
        /* corrupt data in the middle: libjpeg warns, the frame fails */
        unsigned char *corrupt = malloc(size);
        memcpy(corrupt, jpeg, size);
        for (unsigned long i = size / 2; i < size / 2 + 64; i++)
                corrupt[i] = 0xff;
        CHECK(decode_in_bands(d, r, corrupt, size, &out, NULL) < 0);
        free(corrupt);
        /* and the decoder goes on with the next */
        CHECK(convert_frame(cv, &mjpeg, jpeg, size, &decoded, 0) == 0);
        rectify_frame(r, &decoded, &ref);
        CHECK_EQ_INT(decode_in_bands(d, r, jpeg, size, &out, &qc), 0);
        CHECK_EQ_INT(differ(&ref, &out), 0);
        jpeg_bands_free(d);
        rectify_free(r);
        convert_free(cv);
        frame_release(&out);
        frame_release(&ref);
        frame_release(&decoded);
        tjFree(jpeg);
        tjFree(other);
        tjFree(odd);
}

/* libjpeg's allocations: when the decoder is made and in the first image, none after, whatever
 * the JPEG (a failed one included). */
TEST(allocates_nothing_per_frame) {
        const unsigned w = 640, h = 360, fw = 2 * w;
        struct calibration c = distorted(w, h, -0.3, 0.9, false);
        struct rectify *r = NULL;
        struct jpeg_bands *d = NULL;
        struct frame out;
        unsigned long size[2];
        unsigned char *jpeg[2] = {make_jpeg(fw, h, TJSAMP_420, 1, &size[0]), make_jpeg(fw, h, TJSAMP_420, 2, &size[1])};
        unsigned long before = jpeg_allocs;

        CHECK(rectify_new(&c, w, h, (int) fw, (int) w, &r) == 0);
        CHECK(r && jpeg_bands_new(fw, h, rectify_window_rows(r), &d) == 0);
        CHECK(jpeg_allocs > before); /* the counter sees libjpeg's (jpeg_create_decompress) */
        CHECK(frame_init(&out, fw, h) == 0);
        for (int i = 0; d && i < 10; i++) {
                struct qc_sample qc;
                before = jpeg_allocs;
                if (i == 5)
                        CHECK(decode_in_bands(d, r, jpeg[0], size[0] / 2, &out, &qc) < 0);
                else
                        CHECK_EQ_INT(decode_in_bands(d, r, jpeg[i % 2], size[i % 2], &out, &qc), 0);
                if (i > 0)
                        CHECK_EQ_INT(jpeg_allocs - before, 0);
        }
        jpeg_bands_free(d);
        rectify_free(r);
        frame_release(&out);
        tjFree(jpeg[0]);
        tjFree(jpeg[1]);
}

int main(void) {
        static const struct test tests[] = {T(bands_give_the_whole_frames_bytes), T(the_window_is_small),
                                            T(bad_jpegs_fail_and_the_next_decodes), T(allocates_nothing_per_frame)};
        return test_main("jpeg-bands", tests, ELEMENTSOF(tests));
}
