/* SPDX-License-Identifier: MIT */
/*
 * mat3.h — the small linear algebra the calibration code needs: 3×3 matrices stored row-major
 * as double[9], 3-vectors as double[3], and Rodrigues' rotation vectors as OpenCV converts them.
 * Every function reads its inputs before writing its output, so an output may alias an input.
 */
#pragma once

#include <stdbool.h>

extern const double mat3_identity[9];

/* @r = @a · @b */
void mat3_mul(const double *a, const double *b, double *r);

/* @r = @aᵀ */
void mat3_transpose(const double *a, double *r);

/* @r = @a · @v, for a 3-vector @v */
void mat3_mul_vec(const double *a, const double *v, double *r);

double mat3_det(const double *a);

/* @r = @a⁻¹. Return: false (and @r untouched) when @a is singular or not finite. */
bool mat3_invert(const double *a, double *r);

/* Whether @a · @aᵀ is the identity within @tolerance, each element. */
bool mat3_is_orthogonal(const double *a, double tolerance);

/* The Euclidean length of the 3-vector @v. */
double mat3_vec_norm(const double *v);

/* The upper-left 3×3 of a 3×4 projection matrix @P. */
void mat3_from_projection(const double *P, double *r);

/* Rodrigues' formula: rotation vector @rv → rotation matrix @R. */
void mat3_from_rotation_vector(const double *rv, double *R);

/* The inverse, as OpenCV's cv::Rodrigues computes it, for a proper rotation @R. */
void mat3_to_rotation_vector(const double *R, double *rv);
