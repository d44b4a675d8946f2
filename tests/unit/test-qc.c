/* SPDX-License-Identifier: MIT */
/* Quality at the rig: the measures of a frame, and a take judged frame by frame in order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/qc.h"
#include "../../lib/util.h"
#include "test.h"

#define W 320 /* both eyes */
#define H 96

static uint8_t img[H][W];

/* A textured scene (a sharp one), shifted by @shift columns; @eye_level: a flat eye instead (-1: none). */
static void scene(int shift, int left_level) {
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                        img[y][x] = (uint8_t) (((x + shift) / 4 + y / 4) % 2 ? 200 : 40);
        if (left_level >= 0)
                for (int y = 0; y < H; y++)
                        memset(img[y], left_level, W / 2);
}

/* The same scene smoothed (a box blur 9 wide, twice): what motion or a smudged lens does. */
static void blur(void) {
        static uint8_t tmp[H][W];
        for (int pass = 0; pass < 2; pass++) {
                for (int y = 0; y < H; y++)
                        for (int x = 0; x < W; x++) {
                                int s = 0, n = 0;
                                for (int d = -4; d <= 4; d++)
                                        if (x + d >= 0 && x + d < W)
                                                s += img[y][x + d], n++;
                                tmp[y][x] = (uint8_t) (s / n);
                        }
                for (int y = 0; y < H; y++)
                        for (int x = 0; x < W; x++) {
                                int s = 0, n = 0;
                                for (int d = -4; d <= 4; d++)
                                        if (y + d >= 0 && y + d < H)
                                                s += tmp[y + d][x], n++;
                                img[y][x] = (uint8_t) (s / n);
                        }
        }
}

static struct qc_sample measured(void) {
        struct qc_sample s = {0};
        qc_measure_gray(&img[0][0], W, W, H, &s);
        return s;
}

TEST(a_take_judged_in_order) {
        struct qc_config c = QC_CONFIG_DEFAULTS;
        struct qc_take q;
        char verdict[512];
        const int64_t period = 33333333;

        qc_take_init(&q, 30);
        for (int i = 0; i < 60; i++) {
                int shift = i >= 10 && i < 16 ? 10 : i;   /* frames 10-15: the same frame, six times */
                scene(shift, i >= 20 && i < 24 ? 0 : -1); /* frames 20-23: the left eye covered */
                if (i >= 30 && i < 33)
                        blur();
                struct qc_sample s = measured();
                uint32_t gap = i == 40 ? 2 : 0;                                /* the camera skipped two before 40 */
                int64_t t = (int64_t) i * period + (i >= 50 ? period * 2 : 0); /* and a hole before 50 */
                qc_account(&q, &c, &s, t, gap, 0);
        }
        qc_finish(&q, &c);
        CHECK_EQ_INT(q.frames, 60);
        CHECK_EQ_INT(q.measured, 60);
        CHECK_EQ_INT(q.frozen.frames, 6);
        CHECK(fabs(q.frozen.first_s - 10.0 / 30) < 1e-6 && fabs(q.frozen.last_s - 15.0 / 30) < 1e-6);
        CHECK_EQ_INT(q.dark[0].frames, 4);
        CHECK_EQ_INT(q.dark[1].frames, 0);
        CHECK_EQ_INT(q.bright[0].frames + q.bright[1].frames, 0);
        CHECK_EQ_INT(q.blurred[0].frames, 3);
        CHECK_EQ_INT(q.blurred[1].frames, 3);
        CHECK_EQ_INT(q.camera_gap_frames, 2);
        CHECK_EQ_INT(q.time_gaps.frames, 1);
        CHECK(qc_verdict(&q, verdict, sizeof(verdict)));
        printf("# %s\n", verdict);
        CHECK(strstr(verdict, "6 frozen frames at 0.3–0.5 s") != NULL);
        CHECK(strstr(verdict, "left eye dark in 4 frames at 0.7–0.8 s") != NULL);
        CHECK(strstr(verdict, "right eye dark") == NULL);
        CHECK(strstr(verdict, "left eye blurred in 3 frames") && strstr(verdict, "right eye blurred in 3 frames"));
        CHECK(strstr(verdict, "2 camera gaps") == NULL && strstr(verdict, "1 camera gaps at 1.3–1.3 s") != NULL);
        CHECK(strstr(verdict, "1 timestamp gaps") != NULL);
}

TEST(two_frames_alike_are_not_a_frozen_run) {
        struct qc_config c = QC_CONFIG_DEFAULTS; /* frozen_frames = 3 */
        struct qc_take q;
        char verdict[256];

        qc_take_init(&q, 30);
        for (int i = 0; i < 10; i++) {
                scene(i == 5 ? 4 : i, -1); /* frame 5 repeats frame 4 once */
                struct qc_sample s = measured();
                qc_account(&q, &c, &s, (int64_t) i * 33333333, 0, 0);
        }
        qc_finish(&q, &c);
        CHECK_EQ_INT(q.frozen.frames, 0);
        CHECK(!qc_verdict(&q, verdict, sizeof(verdict)));
        CHECK(streq(verdict, "ok"));
}

TEST(a_camera_jpeg_compared_by_its_bytes) {
        struct qc_config c = QC_CONFIG_DEFAULTS;
        struct qc_take q;
        uint8_t a[20000], b[20000];

        for (size_t i = 0; i < sizeof(a); i++)
                a[i] = b[i] = (uint8_t) (i * 7);
        b[sizeof(b) - 1] ^= 1; /* differs in its last byte, as a new frame's EOI neighbourhood would */
        CHECK(qc_jpeg_hash(a, sizeof(a)) != qc_jpeg_hash(b, sizeof(b)));
        CHECK(qc_jpeg_hash(a, sizeof(a)) == qc_jpeg_hash(a, sizeof(a)));
        CHECK(qc_jpeg_hash(a, 100) != 0 && qc_jpeg_hash(a, 100) != qc_jpeg_hash(a, 101));
        qc_take_init(&q, 30);
        for (int i = 0; i < 8; i++) {
                /* frames 2-5 the very same bytes; never decoded (not measured) */
                struct qc_sample s = {.jpeg_hash = qc_jpeg_hash(i >= 2 && i < 6 ? a : b, sizeof(a)) +
                                                   (uint64_t) (i < 2 || i >= 6 ? i * 2 : 0)};
                qc_account(&q, &c, &s, (int64_t) i * 33333333, 0, 0);
        }
        qc_finish(&q, &c);
        CHECK_EQ_INT(q.frozen.frames, 4);
        CHECK_EQ_INT(q.measured, 0);
}

int main(void) {
        static const struct test tests[] = {T(a_take_judged_in_order), T(two_frames_alike_are_not_a_frozen_run),
                                            T(a_camera_jpeg_compared_by_its_bytes)};
        return test_main("qc", tests, ELEMENTSOF(tests));
}
