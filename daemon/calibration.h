/* SPDX-License-Identifier: MIT */
/*
 * calibration.h — a stereo calibration as the standard tools write it, read with libyaml:
 *   - OpenCV FileStorage YAML (cv::stereoCalibrate / stereoRectify users, the stereo_calib sample:
 *     intrinsics.yml with M1 D1 M2 D2, extrinsics.yml with R T R1 R2 P1 P2 Q), one or two files;
 *   - ROS camera_info YAML, one file per eye (camera_calibration package).
 * When the files give R and T but no rectification, it is computed as OpenCV's stereoRectify
 * (or fisheye::stereoRectify) does, with CALIB_ZERO_DISPARITY.
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
 * @paths, @n: one or two files.
 * @model: MODEL_UNSET to take the model from the files (plumb_bob unless they say otherwise).
 * @alpha: stereoRectify's free scaling (0: only valid pixels; 1: all source pixels), when computed.
 * @ret: a new calibration the caller owns (calibration_free()).
 * @error: on failure, a sentence naming the file and what is wrong.
 * Return: 0 or -errno.
 */
int calibration_load(const char *const *paths, unsigned n, enum distortion_model model, double alpha, unsigned width,
                     unsigned height, struct calibration **ret, char *error, size_t error_len);

struct calibration *calibration_free(struct calibration *c);

const char *distortion_model_to_string(enum distortion_model m);

/**
 * calibration_distort() - where the rectified pixel (@u, @v) of eye @e comes from in the camera
 * image (initUndistortRectifyMap's mapping). Return: false when it maps to no image point.
 */
bool calibration_source_point(const struct calibration *c, unsigned e, double u, double v, double *ret_x,
                              double *ret_y);
