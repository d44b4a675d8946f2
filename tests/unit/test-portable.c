/* SPDX-License-Identifier: MIT */
/*
 * What may differ between the x86-64 build and the arm64 one (make check-arm64 runs every unit
 * test under qemu-aarch64): char is unsigned on arm64, and gcc fuses a * b + c into one
 * multiply-add there (it cannot on baseline x86-64), so floating-point results differ in the
 * last bit. The rectification maps must come out the same whichever way the last bit falls.
 * (The daemon reads no wider value from a byte buffer: there is no unaligned access to pin.)
 */
#include <limits.h>
#include <linux/videodev2.h>

#include "../../lib/calibration.h"
#include "../../lib/rectify.h"
#include "../../lib/status-line.h"
#include "../../lib/util.h"
#include "../../lib/v4l2-describe.h"
#include "test.h"

/* the arm64 build must run the code with arm64's own char (tests/arm64/arm64.mk: no -fsigned-char) */
TEST(char_is_the_platforms_own) {
#if defined(__aarch64__) || defined(__arm__)
        CHECK_EQ_INT(CHAR_MIN, 0);
#elif defined(__x86_64__) || defined(__i386__)
        CHECK_EQ_INT(CHAR_MIN, SCHAR_MIN);
#endif
        printf("# char is %s here\n", CHAR_MIN == 0 ? "unsigned" : "signed");
}

/* bytes over 127 (UTF-8 in a hand's name, a fourcc from a driver) are the same bytes on both */
TEST(bytes_over_127_are_not_negative) {
        char buf[16], cc[8];

        CHECK(streq(status_line_hand_label(buf, sizeof(buf), "r\xc3\xa9ght"), "R\xc3\xa9GHT"));
        CHECK(streq(status_line_hand_label(buf, sizeof(buf), "\xff"), "\xff"));
        CHECK(streq(v4l2_fourcc_to_string(v4l2_fourcc('M', 'J', 'P', 'G'), cc), "MJPG"));
        /* a driver's fourcc with its top bit set (V4L2's big-endian flag): shown without it */
        CHECK(streq(v4l2_fourcc_to_string(v4l2_fourcc_be('Y', '1', '6', ' '), cc), "Y16"));
}

#define W 64
#define H 48

/* A pinhole calibration whose rectified camera is the camera itself: every map is the identity. */
static struct calibration same_camera(double f, double cx, double cy) {
        struct calibration c = {.model = MODEL_PLUMB_BOB};
        for (unsigned e = 0; e < 2; e++) {
                double K[9] = {f, 0, cx, 0, f * 1.01, cy, 0, 0, 1}, R[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
                double P[12] = {f, 0, cx, 0, 0, f * 1.01, cy, 0, 0, 0, 1, 0};
                memcpy(c.eye[e].K, K, sizeof(K));
                memcpy(c.eye[e].R, R, sizeof(R));
                memcpy(c.eye[e].P, P, sizeof(P));
                c.eye[e].n_d = 5;
        }
        return c;
}

/* Entries of @m that are not the pixel itself (offset v · stride + u, weights 0); the first in *@first. */
static unsigned not_identity(const struct rectify_map *m, int stride, char *first, size_t len) {
        uint32_t row[W];
        unsigned n = 0;
        for (unsigned v = 0; v < m->height; v++) {
                rectify_expand_row(m, v, stride, ~0u, row);
                for (unsigned u = 0; u < m->width; u++) {
                        if (row[u] == rectify_entry(v * (uint32_t) stride + u, 0, 0))
                                continue;
                        if (n++ == 0 && !*first)
                                snprintf(first, len, "(%u, %u) of a %ux%u plane is %s", u, v, m->width, m->height,
                                         row[u] == RECTIFY_OUTSIDE ? "outside" : "another pixel");
                }
        }
        return n;
}

/* The projection through K⁻¹ and back gives the first and last column and row a few 1e-15 off
 * the border, on one side or the other depending on the focal length and on how the compiler
 * rounds: such a pixel is still inside the image, on every build. */
TEST(identity_maps_keep_the_border_at_any_focal_length) {
        static const double focal[] = {37, 41.3, 49.9, 50, 53.7, 61.1, 73.3, 97.1, 333.3, 517.7};
        static const double centre[][2] = {
                {W / 2.0, H / 2.0}, {31.7, 23.3}, {29.9, 25.1}, {(W - 1) / 2.0, (H - 1) / 2.0}};
        const int ystride = 2 * W + 64, cstride = W + 32;

        for (size_t a = 0; a < ELEMENTSOF(focal); a++)
                for (size_t b = 0; b < ELEMENTSOF(centre); b++) {
                        struct calibration c = same_camera(focal[a], centre[b][0], centre[b][1]);
                        struct rectify *r = NULL;
                        unsigned bad = 0;

                        CHECK(rectify_new(&c, W, H, ystride, cstride, &r) == 0);
                        if (!r)
                                continue;
                        char first[96] = "";
                        for (unsigned eye = 0; eye < 2; eye++)
                                bad += not_identity(&r->luma[eye], ystride, first, sizeof(first)) +
                                       not_identity(&r->chroma[eye], cstride, first, sizeof(first));
                        if (bad > 0)
                                fprintf(stderr, "# f %g, centre (%g, %g): %u map entries are not the identity; %s\n",
                                        focal[a], centre[b][0], centre[b][1], bad, first);
                        CHECK_EQ_INT(bad, 0);
                        rectify_free(r);
                }
}

int main(void) {
        static const struct test tests[] = {T(char_is_the_platforms_own), T(bytes_over_127_are_not_negative),
                                            T(identity_maps_keep_the_border_at_any_focal_length)};
        return test_main("portable", tests, ELEMENTSOF(tests));
}
