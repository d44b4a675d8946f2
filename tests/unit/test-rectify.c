/* SPDX-License-Identifier: MIT */
/* The remap on known geometry: identity is exact, a half-pixel shift averages neighbours,
 * pixels from outside the image are black. (tests/integration/test_rectify.py compares with OpenCV.) */
#include "../../daemon/calibration.h"
#include "../../daemon/rectify.h"
#include "../../daemon/util.h"
#include "test.h"

#define W 64
#define H 48

static struct calibration pinhole(double shift_x) {
        struct calibration c = {.model = MODEL_PLUMB_BOB};
        for (unsigned e = 0; e < 2; e++) {
                double K[9] = {50, 0, W / 2.0, 0, 50, H / 2.0, 0, 0, 1}, R[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
                double P[12] = {50, 0, W / 2.0 - shift_x, 0, 0, 50, H / 2.0, 0, 0, 0, 1, 0};
                memcpy(c.eye[e].K, K, sizeof(K));
                memcpy(c.eye[e].R, R, sizeof(R));
                memcpy(c.eye[e].P, P, sizeof(P));
                c.eye[e].n_d = 5;
        }
        return c;
}

static void pattern(struct frame *f) {
        for (unsigned y = 0; y < f->height; y++)
                for (unsigned x = 0; x < f->width; x++)
                        f->planes[0][y * f->strides[0] + x] = (uint8_t) ((x * 7 + y * 13) & 0xff);
        for (unsigned p = 1; p < 3; p++)
                for (unsigned y = 0; y < f->height / 2; y++)
                        for (unsigned x = 0; x < f->width / 2; x++)
                                f->planes[p][y * f->strides[p] + x] = (uint8_t) (x * 3 + y + p * 40);
}

/* Remap the test pattern through a pinhole calibration whose output is shifted by @shift_x. */
static void remap_pattern(double shift_x, struct frame *src, struct frame *dst) {
        struct calibration c = pinhole(shift_x);
        struct rectify *r = NULL;

        CHECK(frame_init(src, 2 * W, H) == 0 && frame_init(dst, 2 * W, H) == 0);
        pattern(src);
        CHECK(rectify_new(&c, W, H, src->strides[0], src->strides[1], &r) == 0);
        if (r)
                rectify_frame(r, src, dst);
        rectify_free(r);
}

TEST(identity_is_exact) {
        struct frame src, dst;

        remap_pattern(0, &src, &dst);
        CHECK(memcmp(src.planes[0], dst.planes[0], (size_t) 2 * W * H) == 0);
        CHECK(memcmp(src.planes[1], dst.planes[1], (size_t) W * H / 2) == 0);
        frame_release(&src);
        frame_release(&dst);
}

TEST(half_pixel_shift_averages_and_border_is_black) {
        struct frame src, dst;

        remap_pattern(0.5, &src, &dst); /* output pixel u comes from u + 0.5 */
        for (unsigned eye = 0; eye < 2; eye++)
                for (unsigned y = 0; y < H; y++) {
                        const uint8_t *s = src.planes[0] + y * src.strides[0] + eye * W;
                        const uint8_t *d = dst.planes[0] + y * dst.strides[0] + eye * W;
                        for (unsigned x = 0; x + 1 < W; x++) {
                                int want = (s[x] + s[x + 1] + 1) / 2;
                                if (abs((int) s[x] - (int) s[x + 1]) < 100) /* away from the pattern's wrap */
                                        CHECK(abs(d[x] - want) <= 1);
                        }
                        CHECK_EQ_INT(d[W - 1], 0); /* from x = W - 0.5: outside */
                }
        frame_release(&src);
        frame_release(&dst);
}

int main(void) {
        static const struct test tests[] = {T(identity_is_exact), T(half_pixel_shift_averages_and_border_is_black)};
        return test_main("rectify", tests, ELEMENTSOF(tests));
}
