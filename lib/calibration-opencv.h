/* SPDX-License-Identifier: MIT */
/*
 * calibration-opencv.h — OpenCV FileStorage YAML stereo calibrations, in one or two files.
 * Private to the calibration modules.
 */
#pragma once

#include <stddef.h>

#include "calibration-yaml.h"
#include "calibration.h"

/**
 * calibration_opencv_read() - fill each eye's K, D (and R, P when given), the cameras' R and T,
 * and the image size from OpenCV FileStorage files (the stereo_calib sample's intrinsics.yml
 * with M1 D1 M2 D2 and extrinsics.yml with R T R1 R2 P1 P2; K1/K2 for M1/M2 also accepted).
 * @docs, @n: the loaded files; a key may be in either.
 * @c: filled in; c->files must name the files (for messages). When a rectification is missing,
 *     c->computed is set and R and T are required. The model is not read here
 *     (calibration_yaml_model()).
 * Return: 0 or -errno, with a sentence naming the file (and line) in @error.
 */
int calibration_opencv_read(struct calibration_doc *docs, unsigned n, struct calibration *c, char *error, size_t len);
