/* SPDX-License-Identifier: MIT */
/*
 * mat3.c — 3×3 matrix arithmetic and Rodrigues' rotation vectors for the calibration code (see
 * mat3.h). Owns nothing; every function is pure.
 */
#include "mat3.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "util.h"

const double mat3_identity[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};

void mat3_mul(const double *a, const double *b, double *r) {
        double t[9];
        for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                        t[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
        memcpy(r, t, sizeof(t));
}

void mat3_transpose(const double *a, double *r) {
        double t[9];
        for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                        t[j * 3 + i] = a[i * 3 + j];
        memcpy(r, t, sizeof(t));
}

void mat3_mul_vec(const double *a, const double *v, double *r) {
        double t[3];
        for (int i = 0; i < 3; i++)
                t[i] = a[i * 3] * v[0] + a[i * 3 + 1] * v[1] + a[i * 3 + 2] * v[2];
        memcpy(r, t, sizeof(t));
}

double mat3_det(const double *a) {
        return a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
               a[2] * (a[3] * a[7] - a[4] * a[6]);
}

bool mat3_invert(const double *a, double *r) {
        double d = mat3_det(a), t[9];
        if (!isfinite(d) || fabs(d) < 1e-12)
                return false;
        t[0] = (a[4] * a[8] - a[5] * a[7]) / d;
        t[1] = (a[2] * a[7] - a[1] * a[8]) / d;
        t[2] = (a[1] * a[5] - a[2] * a[4]) / d;
        t[3] = (a[5] * a[6] - a[3] * a[8]) / d;
        t[4] = (a[0] * a[8] - a[2] * a[6]) / d;
        t[5] = (a[2] * a[3] - a[0] * a[5]) / d;
        t[6] = (a[3] * a[7] - a[4] * a[6]) / d;
        t[7] = (a[1] * a[6] - a[0] * a[7]) / d;
        t[8] = (a[0] * a[4] - a[1] * a[3]) / d;
        memcpy(r, t, sizeof(t));
        return true;
}

bool mat3_is_orthogonal(const double *a, double tolerance) {
        double at[9], aat[9];

        mat3_transpose(a, at);
        mat3_mul(a, at, aat);
        for (int i = 0; i < 9; i++)
                if (!(fabs(aat[i] - mat3_identity[i]) <= tolerance))
                        return false;
        return true;
}

double mat3_vec_norm(const double *v) {
        return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

void mat3_from_projection(const double *P, double *r) {
        double t[9] = {P[0], P[1], P[2], P[4], P[5], P[6], P[8], P[9], P[10]};
        memcpy(r, t, sizeof(t));
}

void mat3_from_rotation_vector(const double *rv, double *R) {
        double th = mat3_vec_norm(rv);
        if (th < DBL_EPSILON) {
                memcpy(R, mat3_identity, sizeof(mat3_identity));
                return;
        }
        double x = rv[0] / th, y = rv[1] / th, z = rv[2] / th, c = cos(th), s = sin(th), c1 = 1 - c;
        double m[9] = {c + c1 * x * x,     c1 * x * y - s * z, c1 * x * z + s * y, c1 * x * y + s * z, c + c1 * y * y,
                       c1 * y * z - s * x, c1 * x * z - s * y, c1 * y * z + s * x, c + c1 * z * z};
        memcpy(R, m, sizeof(m));
}

/* The rotation by π (sin θ ≈ 0, cos θ < 0): the axis from the diagonal, signs from the rest. */
static void rotation_vector_of_half_turn(const double *R, double theta, double *rv) {
        double t, rx, ry, rz;

        t = (R[0] + 1) * 0.5;
        rx = sqrt(MAX(t, 0.));
        t = (R[4] + 1) * 0.5;
        ry = sqrt(MAX(t, 0.)) * (R[1] < 0 ? -1. : 1.);
        t = (R[8] + 1) * 0.5;
        rz = sqrt(MAX(t, 0.)) * (R[2] < 0 ? -1. : 1.);
        if (fabs(rx) < fabs(ry) && fabs(rx) < fabs(rz) && (R[5] > 0) != (ry * rz > 0))
                rz = -rz;
        theta /= sqrt(rx * rx + ry * ry + rz * rz);
        rv[0] = rx * theta;
        rv[1] = ry * theta;
        rv[2] = rz * theta;
}

void mat3_to_rotation_vector(const double *R, double *rv) {
        double rx = R[7] - R[5], ry = R[2] - R[6], rz = R[3] - R[1];
        double s = sqrt((rx * rx + ry * ry + rz * rz) * 0.25), c = (R[0] + R[4] + R[8] - 1) * 0.5;
        c = c > 1 ? 1 : c < -1 ? -1 : c;
        double theta = acos(c);
        if (s < 1e-5) {
                if (c > 0)
                        rv[0] = rv[1] = rv[2] = 0;
                else
                        rotation_vector_of_half_turn(R, theta, rv);
                return;
        }
        double vth = 1 / (2 * s) * theta;
        rv[0] = rx * vth;
        rv[1] = ry * vth;
        rv[2] = rz * vth;
}
