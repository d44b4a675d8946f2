/* SPDX-License-Identifier: MIT */
/*
 * calibration.h — a stereo calibration as the standard tools write it, read with libyaml:
 *   - OpenCV FileStorage YAML (cv::stereoCalibrate / stereoRectify users, the stereo_calib sample:
 *     intrinsics.yml with M1 D1 M2 D2, extrinsics.yml with R T R1 R2 P1 P2 Q), one or two files
 *     (calibration-opencv.c);
 *   - ROS camera_info YAML, one file per eye (camera_calibration package; calibration-ros.c).
 * When the files give R and T but no rectification, it is computed as OpenCV's stereoRectify
 * (or fisheye::stereoRectify) does, with CALIB_ZERO_DISPARITY (stereo-rectify.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum distortion_model {
        MODEL_UNSET,
        MODEL_PLUMB_BOB, /* radial-tangential: k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4 [τx τy]]]] */
        MODEL_FISHEYE,   /* equidistant: k1 k2 k3 k4 */
};

struct eye_calibration {
        double K[9];  /* camera matrix */
        double D[14]; /* distortion coefficients: k1 k2 p1 p2 k3 k4 k5 k6 s1 s2 s3 s4 τx τy */
        unsigned n_d;
        double R[9];  /* rectification rotation */
        double P[12]; /* rectified projection, 3x4 */
};

struct calibration {
        enum distortion_model model;
        struct eye_calibration eye[2];
        bool computed;     /* R, P computed here from R and T (stereoRectify) */
        double R[9], T[3]; /* between the cameras, when the files give them */
        bool have_extrinsics;
        unsigned width, height; /* image size the files name; 0 when they name none */
        char *text;             /* the files' text, concatenated, for the take's /calibration group */
        char *files;            /* their paths, comma-separated */
};

/**
 * calibration_load() - read and check a calibration for eyes of @width × @height.
 * @paths, @n: one or two files: an OpenCV FileStorage calibration (one file, or intrinsics and
 *             extrinsics), or two ROS camera_info files, left eye first. Only read.
 * @model: the distortion model for files that name none (the configuration's calibration_model;
 *         MODEL_UNSET: plumb_bob). A model the files name (distortion_model) wins; when both of
 *         them name one, they must name the same.
 * @alpha: stereoRectify's free scaling (0: only valid pixels; 1: all source pixels), when computed.
 * @ret: a new calibration the caller owns (calibration_free()); untouched on failure.
 * @error: on failure, a sentence naming the file (and line) and what is wrong, for the user.
 * Return: 0 or -errno.
 */
int calibration_load(const char *const *paths, unsigned n, enum distortion_model model, double alpha, unsigned width,
                     unsigned height, struct calibration **ret, char *error, size_t error_len);

/* calibration_free() - free @c and what it owns; NULL is allowed. Return: NULL. */
struct calibration *calibration_free(struct calibration *c);

/* "plumb_bob", "fisheye" or "unset": the names the take's /calibration group records. */
const char *calibration_distortion_model_to_string(enum distortion_model m);

/**
 * calibration_source_point() - where the rectified pixel (@u, @v) of eye @e comes from in the
 * camera image (initUndistortRectifyMap's mapping, see stereo_rectify_source_point()).
 * Return: false when it maps to no image point.
 */
bool calibration_source_point(const struct calibration *c, unsigned e, double u, double v, double *ret_x,
                              double *ret_y);
