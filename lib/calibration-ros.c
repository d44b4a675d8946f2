/* SPDX-License-Identifier: MIT */
/*
 * calibration-ros.c — reads ROS camera_info YAML as the camera_calibration package writes it, one
 * file per eye: camera_matrix (K), distortion_coefficients (D), rectification_matrix (R),
 * projection_matrix (P), image_width and image_height. The rectification is always given.
 */
#include "calibration-ros.h"

#include <errno.h>
#include <stdio.h>

bool calibration_ros_detect(struct calibration_doc *doc) {
        return calibration_yaml_get(doc, "camera_matrix") != NULL;
}

static int read_eye(struct calibration_doc *doc, struct eye_calibration *eye, char *error, size_t len) {
        int r;

        r = calibration_yaml_matrix_exact(doc, calibration_yaml_get(doc, "camera_matrix"), "camera_matrix", eye->K, 9,
                                          error, len);
        if (r < 0)
                return r;
        r = calibration_yaml_matrix(doc, calibration_yaml_get(doc, "distortion_coefficients"),
                                    "distortion_coefficients", eye->D, 14, &eye->n_d, error, len);
        if (r < 0)
                return r;
        r = calibration_yaml_matrix_exact(doc, calibration_yaml_get(doc, "rectification_matrix"),
                                          "rectification_matrix", eye->R, 9, error, len);
        if (r < 0)
                return r;
        return calibration_yaml_matrix_exact(doc, calibration_yaml_get(doc, "projection_matrix"), "projection_matrix",
                                             eye->P, 12, error, len);
}

/* The image size: as both files name it (they must agree), or as the one that names it. */
static int read_size(struct calibration_doc *docs, struct calibration *c, char *error, size_t len) {
        unsigned w[2] = {0, 0}, h[2] = {0, 0};
        bool named[2];

        for (unsigned e = 0; e < 2; e++)
                named[e] = calibration_yaml_size(&docs[e], &w[e], &h[e]);
        if (named[0] && named[1] && (w[0] != w[1] || h[0] != h[1])) {
                snprintf(error, len,
                         "%s is for %ux%u images but %s for %ux%u; give the two files of one stereo calibration",
                         docs[1].path, w[1], h[1], docs[0].path, w[0], h[0]);
                return -EINVAL;
        }
        c->width = named[0] ? w[0] : w[1];
        c->height = named[0] ? h[0] : h[1];
        return 0;
}

int calibration_ros_read(struct calibration_doc *docs, unsigned n, struct calibration *c, char *error, size_t len) {
        int r;

        if (n != 2) {
                snprintf(error, len,
                         "%s is a ROS camera_info file: give one per eye, calibration = [\"left.yaml\", "
                         "\"right.yaml\"]",
                         docs[0].path);
                return -EINVAL;
        }
        for (unsigned e = 0; e < 2; e++) {
                if (!calibration_ros_detect(&docs[e])) {
                        snprintf(error, len, "%s is not a ROS camera_info file like %s (no camera_matrix)",
                                 docs[e].path, docs[0].path);
                        return -EINVAL;
                }
                r = read_eye(&docs[e], &c->eye[e], error, len);
                if (r < 0)
                        return r;
        }
        return read_size(docs, c, error, len);
}
