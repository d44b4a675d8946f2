/* SPDX-License-Identifier: MIT */
/* Calibration files read as the daemon reads them: OpenCV FileStorage and ROS camera_info YAML
 * written into a temporary folder, the model rule, the errors a person sees, and stereoRectify's
 * port against the values it gave before calibration.c was split (which agree with
 * cv2.stereoRectify: alpha 1 and fisheye within 1e-5 px, alpha 0 within 0.007 px, as OpenCV
 * rounds through float there). tests/integration/test_rectify.py compares the maps with OpenCV. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>

#include "../../lib/calibration.h"
#include "../../lib/util.h"
#include "test.h"

static char dir[] = "/tmp/handrec-test-calibration-XXXXXX";
static char error[1024];

/* ---- fixtures ------------------------------------------------------------------------------ */

#define OPENCV_MATRIX(name, rows, cols, data)                                                                          \
        name ": !!opencv-matrix\n   rows: " #rows "\n   cols: " #cols "\n   dt: d\n   data: [ " data " ]\n"

/* a rotation (Rodrigues [0.0098, -0.0201, 0.0052]) to full precision */
#define ROTATION                                                                                                       \
        "0.99978448446658963, -0.0052980288746904006, -0.020072755414203013, 0.0051010575267207, "                     \
        "0.99993846270304576, -0.0098513968135853884, 0.020123713175866819, 0.0097468814044586079, "                   \
        "0.99974998598194675"

/* clang-format off */
/* intrinsics.yml as the stereo_calib sample saves it */
static const char intrinsics[] =
        "%YAML:1.0\n---\nimageSize: [ 640, 480 ]\n"
        OPENCV_MATRIX("M1", 3, 3, "520., 0., 318., 0., 521., 243., 0., 0., 1.")
        OPENCV_MATRIX("D1", 1, 5, "-0.21, 0.05, 0.001, -0.0008, 0.01")
        OPENCV_MATRIX("M2", 3, 3, "515., 0., 325., 0., 516., 236., 0., 0., 1.")
        OPENCV_MATRIX("D2", 1, 5, "-0.19, 0.04, -0.0005, 0.0012, 0.008");

/* the cameras' R and T only: handrecd computes the rectification */
static const char extrinsics_rt[] =
        "%YAML:1.0\n---\n"
        OPENCV_MATRIX("R", 3, 3, ROTATION)
        OPENCV_MATRIX("T", 3, 1, "-0.0625, 0.0011, 0.0018");

/* and with a rectification given */
static const char extrinsics[] =
        "%YAML:1.0\n---\n"
        OPENCV_MATRIX("R", 3, 3, ROTATION)
        OPENCV_MATRIX("T", 3, 1, "-0.0625, 0.0011, 0.0018")
        OPENCV_MATRIX("R1", 3, 3, "1, 0, 0, 0, 1, 0, 0, 0, 1")
        OPENCV_MATRIX("R2", 3, 3, "0.8, -0.6, 0, 0.6, 0.8, 0, 0, 0, 1")
        OPENCV_MATRIX("P1", 3, 4, "414.5, 0, 352.5, 0, 0, 414.5, 240.1, 0, 0, 0, 1, 0")
        OPENCV_MATRIX("P2", 3, 4, "414.5, 0, 352.5, -25.9, 0, 414.5, 240.1, 0, 0, 0, 1, 0");

/* a fisheye calibration in one file, naming its model */
static const char fisheye_rt[] =
        "%YAML:1.0\n---\ndistortion_model: fisheye\n"
        OPENCV_MATRIX("M1", 3, 3, "285., 0., 322., 0., 286., 241., 0., 0., 1.")
        OPENCV_MATRIX("D1", 4, 1, "-0.012, 0.047, -0.041, 0.009")
        OPENCV_MATRIX("M2", 3, 3, "288., 0., 318., 0., 288.5, 244., 0., 0., 1.")
        OPENCV_MATRIX("D2", 4, 1, "-0.009, 0.039, -0.036, 0.008")
        OPENCV_MATRIX("R", 3, 3, ROTATION)
        OPENCV_MATRIX("T", 3, 1, "-0.064, 0.0008, 0.0012");
/* clang-format on */

#define FISHEYE_D "-0.012, 0.047, -0.041, 0.009"
#define PLUMB_BOB_D "-0.2, 0.05, 0.001, -0.0008, 0.01"

/* A ROS camera_info file; @model NULL leaves distortion_model out. */
static const char *ros(const char *model, unsigned width, unsigned height, unsigned n_d, const char *d, double tx) {
        static char text[4096];
        char model_line[64] = "";

        if (model)
                snprintf(model_line, sizeof(model_line), "distortion_model: %s\n", model);
        snprintf(text, sizeof(text),
                 "image_width: %u\nimage_height: %u\ncamera_name: eye\n"
                 "camera_matrix:\n  rows: 3\n  cols: 3\n  data: [520, 0, 318, 0, 521, 243, 0, 0, 1]\n"
                 "%sdistortion_coefficients:\n  rows: 1\n  cols: %u\n  data: [%s]\n"
                 "rectification_matrix:\n  rows: 3\n  cols: 3\n  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n"
                 "projection_matrix:\n  rows: 3\n  cols: 4\n  data: [500, 0, 320, %g, 0, 500, 240, 0, 0, 0, 1, 0]\n",
                 width, height, model_line, n_d, d, tx);
        return text;
}

/* Write @text to @name in the test folder. Return: its path (one of a few static buffers). */
static const char *fixture(const char *name, const char *text) {
        static char paths[4][PATH_MAX];
        static unsigned next;
        char *path = paths[next++ % ELEMENTSOF(paths)];
        FILE *f;

        snprintf(path, PATH_MAX, "%s/%s", dir, name);
        f = fopen(path, "we");
        CHECK(f != NULL);
        if (f) {
                fputs(text, f);
                fclose(f);
        }
        return path;
}

/* calibration_load() of one or two files (@b may be NULL) for 640×480 eyes; the message in error. */
static int load(const char *a, const char *b, enum distortion_model hint, double alpha, struct calibration **ret) {
        const char *paths[2] = {a, b};

        error[0] = 0;
        *ret = NULL;
        return calibration_load(paths, b ? 2 : 1, hint, alpha, 640, 480, ret, error, sizeof(error));
}

static bool near(const double *got, const double *want, unsigned n, double tolerance) {
        for (unsigned i = 0; i < n; i++)
                if (!(fabs(got[i] - want[i]) <= tolerance * MAX(1.0, fabs(want[i])))) {
                        fprintf(stderr, "  [%u]: %.17g, want %.17g\n", i, got[i], want[i]);
                        return false;
                }
        return true;
}

/* ---- the model ---------------------------------------------------------------------------- */

/* The bug: calibration_model = "plumb_bob" in the config, and two ROS files that both say
 * equidistant, were refused as "use different distortion models". The files name their model,
 * so it wins; calibration_model is for files that name none. */
TEST(ros_files_agreeing_on_equidistant_win_over_a_plumb_bob_hint) {
        const char *l = fixture("eq-left.yaml", ros("equidistant", 640, 480, 4, FISHEYE_D, 0));
        const char *r = fixture("eq-right.yaml", ros("equidistant", 640, 480, 4, FISHEYE_D, -32));
        struct calibration *c;

        CHECK_EQ_INT(load(l, r, MODEL_PLUMB_BOB, 0, &c), 0);
        CHECK(streq(error, ""));
        CHECK(c && c->model == MODEL_FISHEYE);
        c = calibration_free(c);
        CHECK_EQ_INT(load(l, r, MODEL_UNSET, 0, &c), 0);
        CHECK(c && c->model == MODEL_FISHEYE);
        calibration_free(c);
}

TEST(ros_files_agreeing_on_plumb_bob_win_over_a_fisheye_hint) {
        const char *l = fixture("pb-left.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, 0));
        const char *r = fixture("pb-right.yaml", ros("rational_polynomial", 640, 480, 5, PLUMB_BOB_D, -32));
        struct calibration *c;

        CHECK_EQ_INT(load(l, r, MODEL_FISHEYE, 0, &c), 0);
        CHECK(streq(error, ""));
        CHECK(c && c->model == MODEL_PLUMB_BOB);
        calibration_free(c);
}

TEST(eyes_with_different_models_are_refused) {
        const char *l = fixture("eq-left.yaml", ros("equidistant", 640, 480, 4, FISHEYE_D, 0));
        const char *r = fixture("pb-right.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, -32));
        struct calibration *c;

        for (enum distortion_model hint = MODEL_UNSET; hint <= MODEL_FISHEYE; hint++) {
                CHECK_EQ_INT(load(l, r, hint, 0, &c), -EINVAL);
                CHECK(c == NULL);
                CHECK_CONTAINS(error, "eq-left.yaml and ");
                CHECK_CONTAINS(error, "pb-right.yaml use different distortion models (fisheye, plumb_bob)");
        }
}

TEST(the_hint_is_the_model_of_files_that_name_none) {
        const char *l = fixture("none-left.yaml", ros(NULL, 640, 480, 4, FISHEYE_D, 0));
        const char *r = fixture("none-right.yaml", ros(NULL, 640, 480, 4, FISHEYE_D, -32));
        struct calibration *c;

        CHECK_EQ_INT(load(l, r, MODEL_FISHEYE, 0, &c), 0);
        CHECK(c && c->model == MODEL_FISHEYE);
        c = calibration_free(c);
        /* without one, plumb_bob: which takes 4 coefficients too */
        CHECK_EQ_INT(load(l, r, MODEL_UNSET, 0, &c), 0);
        CHECK(c && c->model == MODEL_PLUMB_BOB);
        calibration_free(c);
}

TEST(unknown_model_is_named_with_its_line) {
        const char *l = fixture("kb9-left.yaml", ros("kb9", 640, 480, 4, FISHEYE_D, 0));
        const char *r = fixture("kb9-right.yaml", ros("kb9", 640, 480, 4, FISHEYE_D, -32));
        struct calibration *c;

        CHECK_EQ_INT(load(l, r, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "kb9-left.yaml:8: unknown distortion_model \"kb9\"; handrecd knows plumb_bob");
}

TEST(fisheye_model_needs_four_coefficients) {
        const char *l = fixture("eq5-left.yaml", ros("equidistant", 640, 480, 5, PLUMB_BOB_D, 0));
        const char *r = fixture("eq5-right.yaml", ros("equidistant", 640, 480, 5, PLUMB_BOB_D, -32));
        struct calibration *c;

        CHECK_EQ_INT(load(l, r, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "a fisheye (equidistant) model takes 4 distortion coefficients, the left eye has 5");
}

/* ---- what loads --------------------------------------------------------------------------- */

TEST(ros_pair_loads) {
        const char *l = fixture("pb-left.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, 0));
        const char *r = fixture("pb-right.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, -32));
        static const double K[9] = {520, 0, 318, 0, 521, 243, 0, 0, 1}, D[5] = {-0.2, 0.05, 0.001, -0.0008, 0.01};
        static const double R[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        static const double P[2][12] = {{500, 0, 320, 0, 0, 500, 240, 0, 0, 0, 1, 0},
                                        {500, 0, 320, -32, 0, 500, 240, 0, 0, 0, 1, 0}};
        struct calibration *c;

        CHECK_EQ_INT(load(l, r, MODEL_UNSET, 0, &c), 0);
        if (!c)
                return;
        CHECK(c->model == MODEL_PLUMB_BOB && !c->computed && !c->have_extrinsics);
        CHECK_EQ_INT(c->width, 640);
        CHECK_EQ_INT(c->height, 480);
        for (unsigned e = 0; e < 2; e++) {
                CHECK_EQ_INT(c->eye[e].n_d, 5);
                CHECK(near(c->eye[e].K, K, 9, 0) && near(c->eye[e].D, D, 5, 0));
                CHECK(near(c->eye[e].R, R, 9, 0) && near(c->eye[e].P, P[e], 12, 0));
        }
        CHECK_CONTAINS(c->files, "pb-left.yaml, ");
        CHECK_CONTAINS(c->text, "pb-left.yaml\nimage_width: 640\n");
        CHECK_CONTAINS(c->text, "pb-right.yaml\nimage_width: 640\n");
        calibration_free(c);
}

TEST(opencv_stereo_files_load_with_their_values) {
        const char *i = fixture("intrinsics.yml", intrinsics), *x = fixture("extrinsics.yml", extrinsics);
        static const double K2[9] = {515, 0, 325, 0, 516, 236, 0, 0, 1}, D1[5] = {-0.21, 0.05, 0.001, -0.0008, 0.01};
        static const double R2[9] = {0.8, -0.6, 0, 0.6, 0.8, 0, 0, 0, 1};
        static const double P2[12] = {414.5, 0, 352.5, -25.9, 0, 414.5, 240.1, 0, 0, 0, 1, 0};
        static const double T[3] = {-0.0625, 0.0011, 0.0018};
        struct calibration *c;

        CHECK_EQ_INT(load(i, x, MODEL_UNSET, 0, &c), 0);
        CHECK(streq(error, ""));
        if (!c)
                return;
        CHECK(c->model == MODEL_PLUMB_BOB && !c->computed && c->have_extrinsics);
        CHECK_EQ_INT(c->width, 640);
        CHECK_EQ_INT(c->eye[0].n_d, 5);
        CHECK(near(c->eye[0].D, D1, 5, 0));
        CHECK(near(c->eye[1].K, K2, 9, 0) && near(c->eye[1].R, R2, 9, 0) && near(c->eye[1].P, P2, 12, 0));
        CHECK(near(c->T, T, 3, 0) && fabs(c->R[0] - 0.99978448446658963) < 1e-17);
        CHECK_CONTAINS(c->text, "# ---- ");
        CHECK_CONTAINS(c->text, "intrinsics.yml\n%YAML:1.0\n---\n"); /* the text as it was */
        calibration_free(c);
}

TEST(opencv_one_file_with_everything_loads) {
        char text[sizeof(intrinsics) + sizeof(extrinsics)];
        struct calibration *c;

        /* both files' keys in one, as some programs save them */
        snprintf(text, sizeof(text), "%s%s", intrinsics, extrinsics + strlen("%YAML:1.0\n---\n"));
        CHECK_EQ_INT(load(fixture("stereo.yml", text), NULL, MODEL_UNSET, 0, &c), 0);
        CHECK(c && !c->computed && c->eye[1].P[3] == -25.9);
        calibration_free(c);
}

/* ---- stereoRectify, as before the split ---------------------------------------------------- */

/* The values the code before the split gave (built -O2). P to float precision only: stereoRectify
 * rounds through float, as OpenCV does, which turns a last-bit difference into a float's: -O0
 * and -O1 builds, of the old code as of this one, give P about 3e-9 (relative) apart from -O2. */
static void check_rectification(const struct calibration *c, const double want_R[2][9], const double want_P[2][12]) {
        CHECK(c->computed);
        for (unsigned e = 0; e < 2; e++) {
                CHECK(near(c->eye[e].R, want_R[e], 9, 1e-12));
                CHECK(near(c->eye[e].P, want_P[e], 12, 1e-7));
        }
}

static const double pinhole_R[2][9] = {
        {0.99854653270371996, -0.02316446527894047, -0.048664459040655528, 0.022923169502865222, 0.99972204162794986,
         -0.0055106971597557878, 0.048778584699863813, 0.0043871438983001821, 0.99879998129910563},
        {0.99943088620469145, -0.017589983597204161, -0.028783609522698136, 0.017732287836802099, 0.99983174190657154,
         0.0046961520571126257, 0.028696161209783279, -0.005203878661230666, 0.99957463452145545},
};

TEST(stereo_rectify_gives_the_same_as_before_alpha_0) {
        static const double P[2][12] = {
                {513.13476890923857, 0, 352.48364600108164, 0, 0, 513.13476890923857, 240.14544406566438, 0, 0, 0, 1,
                 0},
                {513.13476890923857, 0, 352.48364600108164, -32.089185454950034, 0, 513.13476890923857,
                 240.14544406566438, 0, 0, 0, 1, 0},
        };
        struct calibration *c;

        CHECK_EQ_INT(load(fixture("intrinsics.yml", intrinsics), fixture("rt.yml", extrinsics_rt), MODEL_UNSET, 0, &c),
                     0);
        CHECK(streq(error, ""));
        if (c)
                check_rectification(c, pinhole_R, P);
        calibration_free(c);
}

TEST(stereo_rectify_gives_the_same_as_before_alpha_1) {
        static const double P[2][12] = {
                {414.54476215025846, 0, 352.48364600108164, 0, 0, 414.54476215025846, 240.14544406566438, 0, 0, 0, 1,
                 0},
                {414.54476215025846, 0, 352.48364600108164, -25.92380122729644, 0, 414.54476215025846,
                 240.14544406566438, 0, 0, 0, 1, 0},
        };
        struct calibration *c;

        CHECK_EQ_INT(load(fixture("intrinsics.yml", intrinsics), fixture("rt.yml", extrinsics_rt), MODEL_UNSET, 1, &c),
                     0);
        if (c)
                check_rectification(c, pinhole_R, P);
        calibration_free(c);
}

TEST(fisheye_stereo_rectify_gives_the_same_as_before) {
        static const double R[2][9] = {
                {0.99908975868809247, -0.017975450184944262, -0.038685104048169244, 0.017784144262065895,
                 0.99982788861773153, -0.0052836876398177956, 0.038773422565400673, 0.0045908967378631392,
                 0.9992374819679789},
                {0.99974619041167145, -0.01249682738014902, -0.018745241070224787, 0.012589252648790178,
                 0.99990913155856964, 0.0048207202295954266, 0.018683294010827259, -0.0050554852603740515,
                 0.99981267075071967},
        };
        static const double P[2][12] = {
                {217.30141275142182, 0, 339.63904523471427, 0, 0, 217.30141275142182, 244.08038501717783, 0, 0, 0, 1,
                 0},
                {217.30141275142182, 0, 339.63904523471427, -13.910821115871729, 0, 217.30141275142182,
                 244.08038501717783, 0, 0, 0, 1, 0},
        };
        struct calibration *c;

        CHECK_EQ_INT(load(fixture("fisheye-rt.yml", fisheye_rt), NULL, MODEL_UNSET, 0, &c), 0);
        CHECK(streq(error, ""));
        CHECK(c && c->model == MODEL_FISHEYE);
        if (c)
                check_rectification(c, R, P);
        calibration_free(c);
}

TEST(rectification_needs_r_and_t) {
        struct calibration *c;

        CHECK_EQ_INT(load(fixture("intrinsics.yml", intrinsics), NULL, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "neither a rectification (R1 R2 P1 P2) nor the cameras' R and T");
        CHECK_CONTAINS(error, "add extrinsics.yml");
}

/* ---- sizes -------------------------------------------------------------------------------- */

TEST(eyes_of_different_sizes_are_refused) {
        const char *l = fixture("pb-left.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, 0));
        const char *r = fixture("pb800-right.yaml", ros("plumb_bob", 800, 600, 5, PLUMB_BOB_D, -32));
        struct calibration *c;

        CHECK_EQ_INT(load(l, r, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "pb800-right.yaml is for 800x600 images but ");
        CHECK_CONTAINS(error, "pb-left.yaml for 640x480; give the two files of one stereo calibration");
}

TEST(calibration_for_another_camera_size_is_refused) {
        const char *paths[2] = {fixture("pb-left.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, 0)),
                                fixture("pb-right.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, -32))};
        struct calibration *c = NULL;

        CHECK_EQ_INT(calibration_load(paths, 2, MODEL_UNSET, 0, 800, 600, &c, error, sizeof(error)), -EINVAL);
        CHECK(c == NULL);
        CHECK_CONTAINS(error, "was made for 640x480 images, but the camera gives 800x600 per eye; recalibrate");
}

TEST(one_ros_file_is_refused) {
        struct calibration *c;

        CHECK_EQ_INT(
                load(fixture("pb-left.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, 0)), NULL, MODEL_UNSET, 0, &c),
                -EINVAL);
        CHECK_CONTAINS(error, "is a ROS camera_info file: give one per eye");
}

TEST(ros_file_without_a_projection_is_refused) {
        char text[4096], *p;
        struct calibration *c;

        snprintf(text, sizeof(text), "%s", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, -32));
        p = strstr(text, "projection_matrix:");
        if (p)
                *p = 0;
        CHECK_EQ_INT(load(fixture("pb-left.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, 0)),
                          fixture("noproj-right.yaml", text), MODEL_UNSET, 0, &c),
                     -EINVAL);
        CHECK_CONTAINS(error, "noproj-right.yaml: projection_matrix is missing");
}

/* ---- files that are not calibrations ------------------------------------------------------ */

TEST(missing_file) {
        struct calibration *c;

        CHECK_EQ_INT(load("/nonexistent/cal.yml", NULL, MODEL_UNSET, 0, &c), -ENOENT);
        CHECK_CONTAINS(error, "Cannot read calibration file /nonexistent/cal.yml: No such file or directory");
}

TEST(directory) {
        struct calibration *c;

        CHECK_EQ_INT(load(dir, NULL, MODEL_UNSET, 0, &c), -EISDIR);
        CHECK_CONTAINS(error, ": it is a directory; name the file itself");
}

TEST(empty_file) {
        struct calibration *c;

        CHECK_EQ_INT(load(fixture("empty.yml", ""), NULL, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "empty.yml is empty");
        CHECK_EQ_INT(load(fixture("comment.yml", "# nothing yet\n"), NULL, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "comment.yml holds no calibration (not a YAML mapping)");
}

TEST(not_yaml) {
        struct calibration *c;

        CHECK_EQ_INT(load(fixture("bad.yml", "M1: [1, 2\nD1: }\n"), NULL, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "bad.yml:2: not valid YAML (");
        CHECK_EQ_INT(load(fixture("cal.xml", "<?xml version=\"1.0\"?>\n<opencv_storage/>\n"), NULL, MODEL_UNSET, 0, &c),
                     -EINVAL);
        CHECK_CONTAINS(error, "cal.xml is XML; save the calibration as YAML");
        CHECK_EQ_INT(load(fixture("list.yml", "- 1\n- 2\n"), NULL, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "list.yml holds no calibration (not a YAML mapping)");
        CHECK_EQ_INT(load(fixture("other.yml", "foo: 1\n"), NULL, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "no camera matrix M1 (or K1) for the left eye; is this an OpenCV stereo calibration");
}

TEST(binary_file) {
        const char *path = fixture("binary.yml", "");
        FILE *f = fopen(path, "we");
        struct calibration *c;

        CHECK(f && fwrite("M1: [\0\1\2]\n", 1, 11, f) == 11);
        if (f)
                fclose(f);
        CHECK_EQ_INT(load(path, NULL, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "binary.yml is not a text file (it holds NUL bytes)");
}

TEST(file_over_a_megabyte_is_refused_not_cut) {
        const char *path = fixture("big.yml", "");
        FILE *f = fopen(path, "we");
        struct calibration *c;

        CHECK(f != NULL);
        if (!f)
                return;
        fputs(intrinsics, f);
        for (unsigned i = 0; i < 20000; i++)
                fputs("# a long comment line, 64 bytes with its newline ...........\n", f);
        fclose(f);
        CHECK_EQ_INT(load(path, NULL, MODEL_UNSET, 0, &c), -EFBIG);
        CHECK_CONTAINS(error, "big.yml is larger than 1 MiB");
}

TEST(truncated_matrix) {
        char text[sizeof(intrinsics)], *p;
        struct calibration *c;

        /* M1 cut after five values, its rows and cols left as they were */
        snprintf(text, sizeof(text), "%s", intrinsics);
        p = strstr(text, "521., 243.");
        CHECK(p != NULL);
        if (!p)
                return;
        memmove(p + 4, p + strlen("521., 243., 0., 0., 1."), strlen(p + strlen("521., 243., 0., 0., 1.")) + 1);
        CHECK_EQ_INT(load(fixture("cut.yml", text), fixture("rt.yml", extrinsics_rt), MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "cut.yml:8: M1 says it has 9 values (rows × cols) but its data holds 5");
        /* a plain list has no rows and cols to say so: the count it needs */
        CHECK_EQ_INT(load(fixture("list.yml", "M1: [1, 0, 0, 0, 1]\n"), NULL, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "list.yml:1: M1 has 5 values, it needs 9");
}

TEST(not_a_number) {
        char text[sizeof(intrinsics) + 16], *p;
        struct calibration *c;

        snprintf(text, sizeof(text), "%s", intrinsics);
        p = strstr(text, "-0.21");
        if (p)
                memcpy(p, ".nan ", 5);
        CHECK_EQ_INT(load(fixture("nan.yml", text), fixture("rt.yml", extrinsics_rt), MODEL_UNSET, 0, &c), -EDOM);
        CHECK_CONTAINS(error, "nan.yml:13: D1 holds a NaN or infinite value; recalibrate");
        p = strstr(text, ".nan ");
        if (p)
                memcpy(p, "zero ", 5);
        CHECK_EQ_INT(load(fixture("word.yml", text), fixture("rt.yml", extrinsics_rt), MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "word.yml:13: D1 holds something that is not a number");
}

TEST(singular_camera_matrix) {
        const char *l, *r = fixture("pb-right.yaml", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, -32));
        char text[4096], *p;
        struct calibration *c;

        snprintf(text, sizeof(text), "%s", ros("plumb_bob", 640, 480, 5, PLUMB_BOB_D, 0));
        p = strstr(text, "[520, 0, 318, 0, 521");
        if (p)
                memcpy(p, "[000", 4);
        l = fixture("zero-left.yaml", text);
        CHECK_EQ_INT(load(l, r, MODEL_UNSET, 0, &c), -EINVAL);
        CHECK_CONTAINS(error, "the left camera matrix is singular or not a camera matrix");
}

/* The reader the calibration and the configuration share. */
TEST(read_file_max_refuses_instead_of_truncating) {
        const char *path = fixture("ten.txt", "0123456789");
        char *text = NULL;
        size_t size = 0;

        CHECK_EQ_INT(read_file_max(path, 10, &text, &size), 0);
        CHECK(text && streq(text, "0123456789") && size == 10);
        free(text);
        text = NULL;
        CHECK_EQ_INT(read_file_max(path, 9, &text, &size), -EFBIG);
        CHECK(text == NULL);
        CHECK_EQ_INT(read_file_max(dir, 100, &text, &size), -EISDIR);
        CHECK_EQ_INT(read_file_max("/nonexistent/x", 100, &text, &size), -ENOENT);
        /* a file whose size stat() does not tell (procfs says 0) */
        CHECK_EQ_INT(read_file_max("/proc/self/status", 1 << 20, &text, NULL), 0);
        CHECK(text && strstr(text, "Name:"));
        free(text);
        text = NULL;
        CHECK_EQ_INT(read_file_max("/proc/self/status", 16, &text, NULL), -EFBIG);
        CHECK(text == NULL);
}

static int remove_entry(const char *path, _unused_ const struct stat *st, _unused_ int type, _unused_ struct FTW *ftw) {
        return remove(path);
}

/* Found by tests/fuzz/fuzz-calibration-opencv: a focal length of 1e59 made the computed
 * rectification NaN, and it was accepted. */
TEST(rectification_that_overflows_is_refused) {
        char text[sizeof(intrinsics)], *p;
        struct calibration *c;

        snprintf(text, sizeof(text), "%s", intrinsics);
        p = strstr(text, "521., 243.");
        CHECK(p != NULL);
        if (!p)
                return;
        memcpy(p, "1e59,", 5); /* the left fy, "521." padded to the same length */
        CHECK_EQ_INT(load(fixture("huge-fy.yml", text), fixture("rt.yml", extrinsics_rt), MODEL_UNSET, -1, &c),
                     -EINVAL);
        CHECK(c == NULL);
        CHECK_CONTAINS(error, "the rectification computed from R and T is not finite");
}

int main(void) {
        static const struct test tests[] = {
                T(rectification_that_overflows_is_refused),
                T(ros_files_agreeing_on_equidistant_win_over_a_plumb_bob_hint),
                T(ros_files_agreeing_on_plumb_bob_win_over_a_fisheye_hint),
                T(eyes_with_different_models_are_refused),
                T(the_hint_is_the_model_of_files_that_name_none),
                T(unknown_model_is_named_with_its_line),
                T(fisheye_model_needs_four_coefficients),
                T(ros_pair_loads),
                T(opencv_stereo_files_load_with_their_values),
                T(opencv_one_file_with_everything_loads),
                T(stereo_rectify_gives_the_same_as_before_alpha_0),
                T(stereo_rectify_gives_the_same_as_before_alpha_1),
                T(fisheye_stereo_rectify_gives_the_same_as_before),
                T(rectification_needs_r_and_t),
                T(eyes_of_different_sizes_are_refused),
                T(calibration_for_another_camera_size_is_refused),
                T(one_ros_file_is_refused),
                T(ros_file_without_a_projection_is_refused),
                T(missing_file),
                T(directory),
                T(empty_file),
                T(not_yaml),
                T(binary_file),
                T(file_over_a_megabyte_is_refused_not_cut),
                T(truncated_matrix),
                T(not_a_number),
                T(singular_camera_matrix),
                T(read_file_max_refuses_instead_of_truncating),
        };
        int r;

        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        r = test_main("calibration", tests, ELEMENTSOF(tests));
        if (nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) < 0)
                perror(dir);
        return r;
}
