/* SPDX-License-Identifier: MIT */
/*
 * stereo-rectify.h — the camera geometry of OpenCV 4's calib3d, ported so that handrecd's results
 * agree with it: the lens models (radial-tangential, fisheye), stereoRectify and
 * fisheye::stereoRectify with CALIB_ZERO_DISPARITY, and the per-pixel mapping of
 * initUndistortRectifyMap and fisheye::initUndistortRectifyMap.
 */
#pragma once

#include <stdbool.h>

#include "calibration.h"

/**
 * stereo_rectify_compute() - compute each eye's rectification (R, P) from the cameras' R and T,
 * as cv::stereoRectify (or cv::fisheye::stereoRectify for MODEL_FISHEYE) does.
 * @c: a calibration with model, K and D of both eyes, R and T; its eyes' R and P are replaced.
 * @alpha: stereoRectify's free scaling (0: only valid pixels; 1: every source pixel; < 0: the
 *         default); for fisheye, the balance (clamped to 0..1).
 * @width, @height: the image size, which is also the rectified size.
 *
 * Return: 0, or -EINVAL (and @c untouched) when no rectification follows (T is zero, or the new
 * camera matrix is not finite).
 */
int stereo_rectify_compute(struct calibration *c, double alpha, unsigned width, unsigned height);

/**
 * stereo_rectify_source_point() - where the rectified pixel (@u, @v) of eye @eye comes from in the
 * camera image, as initUndistortRectifyMap maps it.
 * @c: the calibration; nothing is kept.
 *
 * Return: false when the pixel maps to no image point (behind the camera, or not finite).
 */
bool stereo_rectify_source_point(const struct calibration *c, unsigned eye, double u, double v, double *ret_x,
                                 double *ret_y);

/**
 * stereo_rectify_inverse() - what stereo_rectify_source_point() computes first for eye @eye of @c:
 * the inverse of the rectified camera matrix times R, into @ret_iR. Return: false when singular.
 * stereo_rectify_source_point_inverse() - stereo_rectify_source_point() with it: the same
 * numbers, for a map that asks for every pixel (rectify.c).
 */
bool stereo_rectify_inverse(const struct calibration *c, unsigned eye, double ret_iR[9]);
bool stereo_rectify_source_point_inverse(const struct calibration *c, unsigned eye, const double iR[9], double u,
                                         double v, double *ret_x, double *ret_y);
