/* SPDX-License-Identifier: MIT */
/*
 * calibration.c — a hand's stereo calibration: reads the files with the reader for their format
 * (calibration-opencv.c or calibration-ros.c, both through calibration-yaml.c), settles the
 * distortion model, checks that the result is usable for the camera's images, and completes it
 * with OpenCV's stereoRectify (stereo-rectify.c) when the files carry no rectification.
 * Owns struct calibration; the files are read once, at load.
 */
#include "calibration.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration-opencv.h"
#include "calibration-ros.h"
#include "calibration-yaml.h"
#include "mat3.h"
#include "stereo-rectify.h"
#include "util.h"

const char *calibration_distortion_model_to_string(enum distortion_model m) {
        return m == MODEL_FISHEYE ? "fisheye" : m == MODEL_PLUMB_BOB ? "plumb_bob" : "unset";
}

bool calibration_source_point(const struct calibration *c, unsigned e, double u, double v, double *ret_x,
                              double *ret_y) {
        return stereo_rectify_source_point(c, e, u, v, ret_x, ret_y);
}

struct calibration *calibration_free(struct calibration *c) {
        if (!c)
                return NULL;
        free(c->text);
        free(c->files);
        free(c);
        return NULL;
}

static void calibration_freep(struct calibration **c) {
        *c = calibration_free(*c);
}

static void docs_done(struct calibration_doc (*docs)[2]) {
        for (unsigned i = 0; i < ELEMENTSOF(*docs); i++)
                calibration_yaml_done(&(*docs)[i]);
}

/* Add @doc to c->files ("a, b") and its text to c->text, for the take's /calibration group. */
static int append_file(struct calibration *c, const struct calibration_doc *doc) {
        char *files, *text;

        if (asprintf(&files, "%s%s%s", c->files ?: "", c->files ? ", " : "", doc->path) < 0)
                return -ENOMEM;
        free(c->files);
        c->files = files;
        if (asprintf(&text, "%s%s# ---- %s\n%s", c->text ?: "", c->text ? "\n" : "", doc->path, doc->text) < 0)
                return -ENOMEM;
        free(c->text);
        c->text = text;
        return 0;
}

/* The model the files name (they must agree with each other), else @hint, else plumb_bob. */
static int choose_model(struct calibration_doc *docs, unsigned n, enum distortion_model hint,
                        enum distortion_model *ret, char *error, size_t len) {
        enum distortion_model model = MODEL_UNSET, m;
        const char *named_by = NULL;
        int r;

        for (unsigned i = 0; i < n; i++) {
                r = calibration_yaml_model(&docs[i], &m, error, len);
                if (r < 0)
                        return r;
                if (m == MODEL_UNSET)
                        continue;
                if (model != MODEL_UNSET && m != model) {
                        snprintf(error, len,
                                 "%s and %s use different distortion models (%s, %s); give the files of one "
                                 "stereo calibration",
                                 named_by, docs[i].path, calibration_distortion_model_to_string(model),
                                 calibration_distortion_model_to_string(m));
                        return -EINVAL;
                }
                model = m;
                named_by = docs[i].path;
        }
        if (model == MODEL_UNSET)
                model = hint != MODEL_UNSET ? hint : MODEL_PLUMB_BOB;
        *ret = model;
        return 0;
}

/* Load the files and hand them to the reader for their format. */
static int read_files(const char *const *paths, unsigned n, enum distortion_model hint, struct calibration *c,
                      char *error, size_t len) {
        _cleanup_(docs_done) struct calibration_doc docs[2] = {};
        int r;

        for (unsigned i = 0; i < n; i++) {
                r = calibration_yaml_load(paths[i], &docs[i], error, len);
                if (r < 0)
                        return r;
                r = append_file(c, &docs[i]);
                if (r < 0)
                        return r;
        }
        if (calibration_ros_detect(&docs[0]))
                r = calibration_ros_read(docs, n, c, error, len);
        else
                r = calibration_opencv_read(docs, n, c, error, len);
        if (r < 0)
                return r;
        return choose_model(docs, n, hint, &c->model, error, len);
}

/* The number of distortion coefficients the model takes. */
static bool coefficients_fit(enum distortion_model model, unsigned n) {
        if (model == MODEL_FISHEYE)
                return n == 4;
        return n == 4 || n == 5 || n == 8 || n == 12 || n == 14;
}

static int check_eye(const struct calibration *c, unsigned e, char *error, size_t len) {
        const struct eye_calibration *k = &c->eye[e];
        const char *eye = e ? "right" : "left";
        double P3[9];

        if (!(k->K[0] > 0) || !(k->K[4] > 0) || k->K[8] != 1 || fabs(mat3_det(k->K)) < 1e-9) {
                snprintf(error, len,
                         "%s: the %s camera matrix is singular or not a camera matrix (fx, fy > 0, last row "
                         "0 0 1); recalibrate",
                         c->files, eye);
                return -EINVAL;
        }
        if (!coefficients_fit(c->model, k->n_d)) {
                if (c->model == MODEL_FISHEYE)
                        snprintf(error, len,
                                 "%s: a fisheye (equidistant) model takes 4 distortion coefficients, the %s eye "
                                 "has %u",
                                 c->files, eye, k->n_d);
                else
                        snprintf(error, len,
                                 "%s: the radial-tangential model takes 4, 5, 8, 12 or 14 distortion "
                                 "coefficients, the %s eye has %u",
                                 c->files, eye, k->n_d);
                return -EINVAL;
        }
        if (k->n_d == 14 && (k->D[12] != 0 || k->D[13] != 0)) {
                snprintf(error, len,
                         "%s: the %s eye has a tilted-sensor model (τx, τy not 0), which handrecd does not "
                         "support; calibrate without CALIB_TILTED_MODEL",
                         c->files, eye);
                return -EINVAL;
        }
        if (!mat3_is_orthogonal(k->R, 1e-3) || !(fabs(mat3_det(k->R) - 1) <= 1e-3)) {
                snprintf(error, len, "%s: the %s rectification matrix is not a rotation; recalibrate", c->files, eye);
                return -EINVAL;
        }
        mat3_from_projection(k->P, P3);
        if (fabs(mat3_det(P3)) < 1e-9 || !(k->P[0] > 0)) {
                snprintf(error, len, "%s: the %s projection matrix is singular; recalibrate", c->files, eye);
                return -EINVAL;
        }
        return 0;
}

static bool all_finite(const double *v, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                if (!isfinite(v[i]))
                        return false;
        return true;
}

/* Compute the rectification from R and T, once the cameras themselves are known to be sound. */
static int compute_rectification(struct calibration *c, double alpha, unsigned width, unsigned height, char *error,
                                 size_t len) {
        int r;

        if (!mat3_is_orthogonal(c->R, 1e-3)) {
                snprintf(error, len, "%s: R between the cameras is not a rotation; recalibrate", c->files);
                return -EINVAL;
        }
        /* a placeholder R and P, so that check_eye() looks at the cameras only */
        for (unsigned e = 0; e < 2; e++) {
                memcpy(c->eye[e].R, mat3_identity, sizeof(mat3_identity));
                memset(c->eye[e].P, 0, sizeof(c->eye[e].P));
                c->eye[e].P[0] = c->eye[e].P[5] = c->eye[e].P[10] = 1;
                r = check_eye(c, e, error, len);
                if (r < 0)
                        return r;
        }
        r = stereo_rectify_compute(c, alpha, width, height);
        if (r < 0) {
                snprintf(error, len, "%s: cannot compute a rectification from R and T (is T zero?)", c->files);
                return r;
        }
        /* camera matrices far beyond any real camera's overflow the computation (fuzz-calibration-opencv
         * found fy = 1e59 giving a NaN principal point, which check_eye() would let through) */
        for (unsigned e = 0; e < 2; e++)
                if (!all_finite(c->eye[e].R, 9) || !all_finite(c->eye[e].P, 12)) {
                        snprintf(error, len,
                                 "%s: the rectification computed from R and T is not finite (are the camera "
                                 "matrices in pixels?); recalibrate",
                                 c->files);
                        return -EINVAL;
                }
        return 0;
}

/* Whether the calibration read from the files (every value finite, as the readers make sure)
 * is usable for a camera giving @width × @height per eye; the rectification computed if needed. */
static int validate(struct calibration *c, double alpha, unsigned width, unsigned height, char *error, size_t len) {
        int r;

        if (c->width && c->height && (c->width != width || c->height != height)) {
                snprintf(error, len,
                         "%s was made for %ux%u images, but the camera gives %ux%u per eye; recalibrate at the "
                         "camera's size or change camera.width/height",
                         c->files, c->width, c->height, width, height);
                return -EINVAL;
        }
        if (c->computed) {
                r = compute_rectification(c, alpha, width, height, error, len);
                if (r < 0)
                        return r;
        }
        for (unsigned e = 0; e < 2; e++) {
                r = check_eye(c, e, error, len);
                if (r < 0)
                        return r;
        }
        return 0;
}

int calibration_load(const char *const *paths, unsigned n, enum distortion_model model, double alpha, unsigned width,
                     unsigned height, struct calibration **ret, char *error, size_t len) {
        _cleanup_(calibration_freep) struct calibration *c = NULL;
        int r;

        if (n < 1 || n > 2) {
                snprintf(error, len, "give one or two calibration files");
                return -EINVAL;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        r = read_files(paths, n, model, c, error, len);
        if (r < 0)
                return r;
        r = validate(c, alpha, width, height, error, len);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}
