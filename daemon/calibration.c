/* SPDX-License-Identifier: MIT */
/*
 * calibration.c — stereo calibration files (OpenCV FileStorage YAML, ROS camera_info YAML) read
 * with libyaml, checked, and completed with OpenCV's stereoRectify when they carry no
 * rectification. The maths follows OpenCV 4 (calib3d: cvStereoRectify, icvGetRectangles,
 * undistortPoints, fisheye::stereoRectify, fisheye::estimateNewCameraMatrixForUndistortRectify,
 * initUndistortRectifyMap and fisheye::initUndistortRectifyMap), so the results agree with it.
 */
#include "calibration.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util.h"

const char *distortion_model_to_string(enum distortion_model m) {
        return m == MODEL_FISHEYE ? "fisheye" : m == MODEL_PLUMB_BOB ? "plumb_bob" : "unset";
}

/* ---- small linear algebra (row-major 3x3) ----------------------------------------------- */

static void mat_mul(const double *a, const double *b, double *r) {
        double t[9];
        for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                        t[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
        memcpy(r, t, sizeof(t));
}

static void mat_transpose(const double *a, double *r) {
        double t[9];
        for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                        t[j * 3 + i] = a[i * 3 + j];
        memcpy(r, t, sizeof(t));
}

static void mat_vec(const double *a, const double *v, double *r) {
        double t[3];
        for (int i = 0; i < 3; i++)
                t[i] = a[i * 3] * v[0] + a[i * 3 + 1] * v[1] + a[i * 3 + 2] * v[2];
        memcpy(r, t, sizeof(t));
}

static double mat_det(const double *a) {
        return a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
               a[2] * (a[3] * a[7] - a[4] * a[6]);
}

static bool mat_inv(const double *a, double *r) {
        double d = mat_det(a), t[9];
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

static double norm3(const double *v) {
        return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

/* Rodrigues: rotation vector → matrix */
static void rodrigues_to_matrix(const double *rv, double *R) {
        double th = norm3(rv);
        if (th < DBL_EPSILON) {
                static const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
                memcpy(R, I, sizeof(I));
                return;
        }
        double x = rv[0] / th, y = rv[1] / th, z = rv[2] / th, c = cos(th), s = sin(th), c1 = 1 - c;
        double m[9] = {c + c1 * x * x,     c1 * x * y - s * z, c1 * x * z + s * y, c1 * x * y + s * z, c + c1 * y * y,
                       c1 * y * z - s * x, c1 * x * z - s * y, c1 * y * z + s * x, c + c1 * z * z};
        memcpy(R, m, sizeof(m));
}

/* Rodrigues: rotation matrix → vector (as OpenCV, for a proper rotation) */
static void rodrigues_to_vector(const double *R, double *rv) {
        double rx = R[7] - R[5], ry = R[2] - R[6], rz = R[3] - R[1];
        double s = sqrt((rx * rx + ry * ry + rz * rz) * 0.25), c = (R[0] + R[4] + R[8] - 1) * 0.5;
        c = c > 1 ? 1 : c < -1 ? -1 : c;
        double theta = acos(c);
        if (s < 1e-5) {
                if (c > 0) {
                        rv[0] = rv[1] = rv[2] = 0;
                        return;
                }
                double t;
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
                return;
        }
        double vth = 1 / (2 * s) * theta;
        rv[0] = rx * vth;
        rv[1] = ry * vth;
        rv[2] = rz * vth;
}

/* ---- distortion models ------------------------------------------------------------------ */

/* Normalised camera coordinates (x, y) → distorted normalised image coordinates. */
static bool distort(const struct calibration *c, const struct eye_calibration *e, double x, double y, double w,
                    double *xd, double *yd) {
        const double *k = e->D;
        if (c->model == MODEL_FISHEYE) {
                if (w <= 0)
                        return false; /* behind the camera */
                double r = sqrt(x * x + y * y), theta = atan(r), t2 = theta * theta, t4 = t2 * t2, t6 = t4 * t2,
                       t8 = t4 * t4;
                double theta_d = theta * (1 + k[0] * t2 + k[1] * t4 + k[2] * t6 + k[3] * t8);
                double scale = r == 0 ? 1.0 : theta_d / r;
                *xd = x * scale;
                *yd = y * scale;
                return true;
        }
        double x2 = x * x, y2 = y * y, r2 = x2 + y2, _2xy = 2 * x * y;
        double kr = (1 + ((k[4] * r2 + k[1]) * r2 + k[0]) * r2) / (1 + ((k[7] * r2 + k[6]) * r2 + k[5]) * r2);
        *xd = x * kr + k[2] * _2xy + k[3] * (r2 + 2 * x2) + k[8] * r2 + k[9] * r2 * r2;
        *yd = y * kr + k[2] * (r2 + 2 * y2) + k[3] * _2xy + k[10] * r2 + k[11] * r2 * r2;
        return true;
}

bool calibration_source_point(const struct calibration *c, unsigned eye, double u, double v, double *ret_x,
                              double *ret_y) {
        const struct eye_calibration *e = &c->eye[eye];
        double KR[9], iR[9], X[3], xd, yd;
        double P3[9] = {e->P[0], e->P[1], e->P[2], e->P[4], e->P[5], e->P[6], e->P[8], e->P[9], e->P[10]};

        /* as initUndistortRectifyMap: iR = inv(newCameraMatrix · R) */
        mat_mul(P3, e->R, KR);
        if (!mat_inv(KR, iR))
                return false;
        X[0] = iR[0] * u + iR[1] * v + iR[2];
        X[1] = iR[3] * u + iR[4] * v + iR[5];
        X[2] = iR[6] * u + iR[7] * v + iR[8];
        if (c->model != MODEL_FISHEYE && X[2] == 0)
                return false;
        double w = 1.0 / X[2];
        if (!distort(c, e, X[0] * w, X[1] * w, X[2], &xd, &yd))
                return false;
        *ret_x = e->K[0] * xd + e->K[2]; /* (OpenCV ignores the skew here too) */
        *ret_y = e->K[4] * yd + e->K[5];
        return isfinite(*ret_x) && isfinite(*ret_y);
}

/* undistortPoints (pinhole, 5 iterations as OpenCV's default), then R and the new camera matrix */
static void undistort_point(const struct eye_calibration *e, const double *R, const double *newK, double u, double v,
                            double *ru, double *rv) {
        const double *k = e->D;
        double x0 = (u - e->K[2]) / e->K[0], y0 = (v - e->K[5]) / e->K[4], x = x0, y = y0;
        for (int it = 0; it < 5; it++) {
                double r2 = x * x + y * y;
                double icdist =
                        (1 + ((k[7] * r2 + k[6]) * r2 + k[5]) * r2) / (1 + ((k[4] * r2 + k[1]) * r2 + k[0]) * r2);
                if (icdist < 0) {
                        x = x0;
                        y = y0;
                        break;
                }
                double dx = 2 * k[2] * x * y + k[3] * (r2 + 2 * x * x) + k[8] * r2 + k[9] * r2 * r2;
                double dy = k[2] * (r2 + 2 * y * y) + 2 * k[3] * x * y + k[10] * r2 + k[11] * r2 * r2;
                x = (x0 - dx) * icdist;
                y = (y0 - dy) * icdist;
        }
        double p[3] = {x, y, 1}, q[3];
        mat_vec(R, p, q);
        x = q[0] / q[2];
        y = q[1] / q[2];
        *ru = x * newK[0] + newK[2];
        *rv = y * newK[4] + newK[5];
}

/* fisheye::undistortPoints with R (no new camera matrix): normalised rectified coordinates */
static bool fisheye_undistort_point(const struct eye_calibration *e, const double *R, double u, double v, double *rx,
                                    double *ry) {
        const double *k = e->D;
        double px = (u - e->K[2]) / e->K[0], py = (v - e->K[5]) / e->K[4];
        px -= e->K[1] / e->K[0] * py; /* skew */
        double theta_d = sqrt(px * px + py * py), theta = theta_d, scale = 1.0;
        bool converged = false;
        theta_d = MIN(MAX(-M_PI / 2, theta_d), M_PI / 2);
        theta = theta_d;
        if (theta_d > 1e-8) {
                for (int j = 0; j < 10; j++) {
                        double t2 = theta * theta, t4 = t2 * t2, t6 = t4 * t2, t8 = t6 * t2;
                        double fix = (theta * (1 + k[0] * t2 + k[1] * t4 + k[2] * t6 + k[3] * t8) - theta_d) /
                                     (1 + 3 * k[0] * t2 + 5 * k[1] * t4 + 7 * k[2] * t6 + 9 * k[3] * t8);
                        theta -= fix;
                        if (fabs(fix) < 1e-8) {
                                converged = true;
                                break;
                        }
                }
                scale = tan(theta) / theta_d;
        } else
                converged = true;
        if (!converged || (theta_d > 0 && theta < 0))
                return false;
        double p[3] = {px * scale, py * scale, 1}, q[3];
        mat_vec(R, p, q);
        *rx = q[0] / q[2];
        *ry = q[1] / q[2];
        return true;
}

/* icvGetRectangles: inner and outer rectangles of the undistorted, rectified image border */
static void get_rectangles(const struct eye_calibration *e, const double *R, const double *newK, unsigned w, unsigned h,
                           double inner[4], double outer[4]) {
        const int N = 9;
        double iX0 = -DBL_MAX, iX1 = DBL_MAX, iY0 = -DBL_MAX, iY1 = DBL_MAX;
        double oX0 = DBL_MAX, oX1 = -DBL_MAX, oY0 = DBL_MAX, oY1 = -DBL_MAX;
        for (int y = 0; y < N; y++)
                for (int x = 0; x < N; x++) {
                        double px, py;
                        /* OpenCV 4: double points over the last pixel's position, (w − 1) */
                        undistort_point(e, R, newK, (double) x * (w - 1) / (N - 1), (double) y * (h - 1) / (N - 1), &px,
                                        &py);
                        oX0 = MIN(oX0, px);
                        oX1 = MAX(oX1, px);
                        oY0 = MIN(oY0, py);
                        oY1 = MAX(oY1, py);
                        if (x == 0)
                                iX0 = MAX(iX0, px);
                        if (x == N - 1)
                                iX1 = MIN(iX1, px);
                        if (y == 0)
                                iY0 = MAX(iY0, py);
                        if (y == N - 1)
                                iY1 = MIN(iY1, py);
                }
        inner[0] = iX0, inner[1] = iY0, inner[2] = iX1 - iX0, inner[3] = iY1 - iY0;
        outer[0] = oX0, outer[1] = oY0, outer[2] = oX1 - oX0, outer[3] = oY1 - oY0;
}

/* The common start of both stereoRectify flavours: R1, R2 and the rotated baseline. */
static int rectify_rotations(const struct calibration *c, double *R1, double *R2, double *t, int *ret_idx) {
        double om[3], r_r[9], half[3], uu[3] = {0, 0, 0}, ww[3], wR[9], rrT[9];
        int idx;

        rodrigues_to_vector(c->R, om);
        half[0] = -0.5 * om[0], half[1] = -0.5 * om[1], half[2] = -0.5 * om[2];
        rodrigues_to_matrix(half, r_r);
        mat_vec(r_r, c->T, t);
        idx = fabs(t[0]) > fabs(t[1]) ? 0 : 1;
        if (c->model == MODEL_FISHEYE)
                idx = 0; /* fisheye::stereoRectify is horizontal only */
        double cc = t[idx], nt = norm3(t);
        if (nt == 0)
                return -EINVAL;
        uu[idx] = cc > 0 ? 1 : -1;
        ww[0] = t[1] * uu[2] - t[2] * uu[1];
        ww[1] = t[2] * uu[0] - t[0] * uu[2];
        ww[2] = t[0] * uu[1] - t[1] * uu[0];
        double nw = norm3(ww);
        if (nw > 0) {
                double s = acos(fabs(cc) / nt) / nw;
                ww[0] *= s, ww[1] *= s, ww[2] *= s;
        }
        rodrigues_to_matrix(ww, wR);
        mat_transpose(r_r, rrT);
        mat_mul(wR, rrT, R1);
        mat_mul(wR, r_r, R2);
        mat_vec(R2, c->T, t);
        *ret_idx = idx;
        return 0;
}

static void set_P(double *P, double f, double cx, double cy, int idx, double tx) {
        memset(P, 0, 12 * sizeof(double));
        P[0] = P[5] = f;
        P[2] = cx;
        P[6] = cy;
        P[10] = 1;
        P[idx * 4 + 3] = tx;
}

/* cvStereoRectify with CALIB_ZERO_DISPARITY and newImageSize = imageSize */
static int stereo_rectify_pinhole(struct calibration *c, double alpha, unsigned w, unsigned h) {
        double R1[9], R2[9], t[3], cc[2][2];
        int idx, r;

        r = rectify_rotations(c, R1, R2, t, &idx);
        if (r < 0)
                return r;
        double fc = (c->eye[0].K[(idx ^ 1) * 4] + c->eye[1].K[(idx ^ 1) * 4]) * 0.5;
        for (int k = 0; k < 2; k++) {
                const double *Rk = k ? R2 : R1;
                double Atmp[9] = {fc, 0, 0, 0, fc, 0, 0, 0, 1}, ident[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
                double sx = 0, sy = 0;
                for (int i = 0; i < 4; i++) {
                        double u = (float) ((i % 2) * (w - 1.0)), v = (float) ((i < 2 ? 0 : 1) * (h - 1.0)), nx, ny;
                        /* undistortPoints to normalised coordinates, then projectPoints with Rk, Atmp */
                        undistort_point(&c->eye[k], ident, ident, u, v, &nx, &ny);
                        nx = (float) nx, ny = (float) ny;
                        double p[3] = {nx, ny, 1}, q[3];
                        mat_vec(Rk, p, q);
                        sx += (float) (Atmp[0] * q[0] / q[2]);
                        sy += (float) (Atmp[4] * q[1] / q[2]);
                }
                cc[k][0] = (w - 1) / 2.0 - sx / 4;
                cc[k][1] = (h - 1) / 2.0 - sy / 4;
        }
        cc[0][0] = cc[1][0] = (cc[0][0] + cc[1][0]) * 0.5;
        cc[0][1] = cc[1][1] = (cc[0][1] + cc[1][1]) * 0.5;

        set_P(c->eye[0].P, fc, cc[0][0], cc[0][1], idx, 0);
        set_P(c->eye[1].P, fc, cc[1][0], cc[1][1], idx, t[idx] * fc);

        const double *P1 = c->eye[0].P, *P2 = c->eye[1].P;
        double in1[4], out1[4], in2[4], out2[4];
        double K1[9] = {P1[0], P1[1], P1[2], P1[4], P1[5], P1[6], P1[8], P1[9], P1[10]};
        double K2[9] = {P2[0], P2[1], P2[2], P2[4], P2[5], P2[6], P2[8], P2[9], P2[10]};
        get_rectangles(&c->eye[0], R1, K1, w, h, in1, out1);
        get_rectangles(&c->eye[1], R2, K2, w, h, in2, out2);

        double cx1 = cc[0][0], cy1 = cc[0][1], cx2 = cc[1][0], cy2 = cc[1][1], s = 1;
        alpha = MIN(alpha, 1.);
        if (alpha >= 0) {
                double s0 = MAX(
                        MAX(MAX(cx1 / (cx1 - in1[0]), cy1 / (cy1 - in1[1])), (w - 1 - cx1) / (in1[0] + in1[2] - cx1)),
                        (h - 1 - cy1) / (in1[1] + in1[3] - cy1));
                s0 = MAX(MAX(MAX(MAX(cx2 / (cx2 - in2[0]), cy2 / (cy2 - in2[1])),
                                 (w - 1 - cx2) / (in2[0] + in2[2] - cx2)),
                             (h - 1 - cy2) / (in2[1] + in2[3] - cy2)),
                         s0);
                double s1 = MIN(MIN(MIN(cx1 / (cx1 - out1[0]), cy1 / (cy1 - out1[1])),
                                    (w - 1 - cx1) / (out1[0] + out1[2] - cx1)),
                                (h - 1 - cy1) / (out1[1] + out1[3] - cy1));
                s1 = MIN(MIN(MIN(MIN(cx2 / (cx2 - out2[0]), cy2 / (cy2 - out2[1])),
                                 (w - 1 - cx2) / (out2[0] + out2[2] - cx2)),
                             (h - 1 - cy2) / (out2[1] + out2[3] - cy2)),
                         s1);
                s = s0 * (1 - alpha) + s1 * alpha;
        }
        fc *= s;
        double tx2 = c->eye[1].P[idx * 4 + 3] * s;
        set_P(c->eye[0].P, fc, cx1, cy1, idx, 0);
        set_P(c->eye[1].P, fc, cx2, cy2, idx, tx2);
        memcpy(c->eye[0].R, R1, sizeof(R1));
        memcpy(c->eye[1].R, R2, sizeof(R2));
        return 0;
}

/* fisheye::estimateNewCameraMatrixForUndistortRectify (new size = image size, fov_scale 1) */
static int fisheye_new_camera(const struct eye_calibration *e, const double *R, unsigned w, unsigned h, double balance,
                              double *newK) {
        double pts[4][2] = {{w / 2, 0}, {w, h / 2}, {w / 2, h}, {0, h / 2}}, cn[2] = {0, 0};
        /* (OpenCV builds these with integer division of the size, as here) */
        pts[0][0] = (double) (w / 2), pts[1][1] = (double) (h / 2), pts[2][0] = (double) (w / 2),
        pts[3][1] = (double) (h / 2);
        balance = MIN(MAX(balance, 0.0), 1.0);
        for (int i = 0; i < 4; i++) {
                if (!fisheye_undistort_point(e, R, pts[i][0], pts[i][1], &pts[i][0], &pts[i][1]))
                        pts[i][0] = pts[i][1] = -1000000.0;
                cn[0] += pts[i][0] / 4;
                cn[1] += pts[i][1] / 4;
        }
        double aspect = e->K[0] / e->K[4];
        cn[0] *= aspect;
        for (int i = 0; i < 4; i++)
                pts[i][1] *= aspect;
        double minx = DBL_MAX, miny = DBL_MAX, maxx = -DBL_MAX, maxy = -DBL_MAX;
        for (int i = 0; i < 4; i++) {
                miny = MIN(miny, pts[i][1]);
                maxy = MAX(maxy, pts[i][1]);
                minx = MIN(minx, pts[i][0]);
                maxx = MAX(maxx, pts[i][0]);
        }
        double f1 = w * 0.5 / (cn[0] - minx), f2 = w * 0.5 / (maxx - cn[0]);
        double f3 = h * 0.5 * aspect / (cn[1] - miny), f4 = h * 0.5 * aspect / (maxy - cn[1]);
        double fmin = MIN(f1, MIN(f2, MIN(f3, f4))), fmax = MAX(f1, MAX(f2, MAX(f3, f4)));
        double f = balance * fmin + (1.0 - balance) * fmax;
        double nf[2] = {f, f}, nc[2] = {-cn[0] * f + w * 0.5, -cn[1] * f + h * aspect * 0.5};
        nf[1] /= aspect;
        nc[1] /= aspect;
        double m[9] = {nf[0], 0, nc[0], 0, nf[1], nc[1], 0, 0, 1};
        memcpy(newK, m, sizeof(m));
        return isfinite(f) ? 0 : -EINVAL;
}

/* fisheye::stereoRectify with CALIB_ZERO_DISPARITY; alpha is used as its balance */
static int stereo_rectify_fisheye(struct calibration *c, double alpha, unsigned w, unsigned h) {
        double R1[9], R2[9], t[3], K1[9], K2[9];
        int idx, r;

        r = rectify_rotations(c, R1, R2, t, &idx);
        if (r < 0)
                return r;
        if (fisheye_new_camera(&c->eye[0], R1, w, h, MAX(alpha, 0), K1) < 0 ||
            fisheye_new_camera(&c->eye[1], R2, w, h, MAX(alpha, 0), K2) < 0)
                return -EINVAL;
        double fc = MIN(K1[4], K2[4]);
        double cx = (K1[2] + K2[2]) * 0.5, cy = (K1[5] + K2[5]) * 0.5;
        set_P(c->eye[0].P, fc, cx, cy, 0, 0);
        set_P(c->eye[1].P, fc, cx, cy, 0, t[0] * fc);
        memcpy(c->eye[0].R, R1, sizeof(R1));
        memcpy(c->eye[1].R, R2, sizeof(R2));
        return 0;
}

/* ---- YAML ------------------------------------------------------------------------------- */

struct doc {
        yaml_document_t d;
        bool loaded;
        const char *path;
};

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key) {
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(d, p->key);
                if (k && k->type == YAML_SCALAR_NODE && streq((const char *) k->data.scalar.value, key))
                        return yaml_document_get_node(d, p->value);
        }
        return NULL;
}

static int scalar_number(yaml_node_t *n, double *ret) {
        char *end;
        if (!n || n->type != YAML_SCALAR_NODE)
                return -EINVAL;
        const char *s = (const char *) n->data.scalar.value;
        /* YAML's spellings of the special values are refused as such */
        if (strstr(s, "nan") || strstr(s, "NaN") || strstr(s, "inf") || strstr(s, "Inf"))
                return -EDOM;
        errno = 0;
        *ret = strtod(s, &end);
        if (end == s || *end || errno == ERANGE)
                return -EINVAL;
        return isfinite(*ret) ? 0 : -EDOM;
}

/* A matrix: {rows, cols, data: [...]} (OpenCV's !!opencv-matrix and ROS) or a plain list. */
static int read_matrix(struct doc *doc, yaml_node_t *n, double *out, unsigned max, unsigned *ret_n, char *error,
                       size_t len, const char *name) {
        yaml_node_t *data = n;
        unsigned count = 0;

        if (n && n->type == YAML_MAPPING_NODE)
                data = map_get(&doc->d, n, "data");
        if (!data || data->type != YAML_SEQUENCE_NODE) {
                snprintf(error, len, "%s: %s is not a matrix (rows, cols, data) or a list of numbers", doc->path, name);
                return -EINVAL;
        }
        for (yaml_node_item_t *it = data->data.sequence.items.start; it < data->data.sequence.items.top; it++) {
                double v;
                int r = scalar_number(yaml_document_get_node(&doc->d, *it), &v);
                if (r == -EDOM) {
                        snprintf(error, len, "%s: %s holds a NaN or infinite value; recalibrate", doc->path, name);
                        return r;
                }
                if (r < 0) {
                        snprintf(error, len, "%s: %s holds something that is not a number", doc->path, name);
                        return r;
                }
                if (count >= max) {
                        snprintf(error, len, "%s: %s has more than %u values", doc->path, name, max);
                        return -EINVAL;
                }
                out[count++] = v;
        }
        *ret_n = count;
        return 0;
}

static int read_exact(struct doc *doc, yaml_node_t *root, const char *key, double *out, unsigned want, char *error,
                      size_t len) {
        unsigned n;
        int r = read_matrix(doc, map_get(&doc->d, root, key), out, want, &n, error, len, key);
        if (r < 0)
                return r;
        if (n != want) {
                snprintf(error, len, "%s: %s has %u values, it needs %u", doc->path, key, n, want);
                return -EINVAL;
        }
        return 0;
}

static int load_doc(const char *path, struct doc *doc, char **text, char *error, size_t len) {
        yaml_parser_t parser;
        FILE *f = fopen(path, "re");
        char *buf;
        size_t n;

        doc->path = path;
        if (!f) {
                snprintf(error, len, "Cannot read calibration file %s: %s", path, strerror(errno));
                return -errno;
        }
        buf = malloc(1024 * 1024 + 1);
        n = buf ? fread(buf, 1, 1024 * 1024, f) : 0;
        fclose(f);
        if (!buf)
                return -ENOMEM;
        buf[n] = 0;
        if (n == 0) {
                snprintf(error, len, "Calibration file %s is empty", path);
                free(buf);
                return -EINVAL;
        }
        if (buf[0] == '<') {
                snprintf(error, len, "%s is XML; save the calibration as YAML (cv::FileStorage with a .yml name)",
                         path);
                free(buf);
                return -EINVAL;
        }
        /* OpenCV writes "%YAML:1.0", which YAML parsers refuse: read from the line after it */
        const char *start = buf;
        if (strncmp(buf, "%YAML:", 6) == 0) {
                start = strchr(buf, '\n');
                start = start ? start + 1 : buf + n;
        }
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_string(&parser, (const unsigned char *) start, strlen(start));
        if (!yaml_parser_load(&parser, &doc->d)) {
                snprintf(error, len, "%s is not valid YAML (line %zu: %s)", path, parser.problem_mark.line + 1,
                         parser.problem ?: "?");
                yaml_parser_delete(&parser);
                free(buf);
                return -EINVAL;
        }
        yaml_parser_delete(&parser);
        doc->loaded = true;
        if (!yaml_document_get_root_node(&doc->d) || yaml_document_get_root_node(&doc->d)->type != YAML_MAPPING_NODE) {
                snprintf(error, len, "%s holds no calibration (not a YAML mapping)", path);
                free(buf);
                return -EINVAL;
        }
        size_t old = *text ? strlen(*text) : 0;
        char *t = realloc(*text, old + n + 64 + strlen(path));
        if (t) {
                snprintf(t + old, n + 64 + strlen(path), "%s# ---- %s\n%s", old ? "\n" : "", path, buf);
                *text = t;
        }
        free(buf);
        return 0;
}

static int model_from_string(const char *s, enum distortion_model *ret) {
        if (streq(s, "plumb_bob") || streq(s, "rational_polynomial") || streq(s, "radtan"))
                *ret = MODEL_PLUMB_BOB;
        else if (streq(s, "equidistant") || streq(s, "fisheye") || streq(s, "kannala_brandt"))
                *ret = MODEL_FISHEYE;
        else
                return -EINVAL;
        return 0;
}

static int read_size(struct doc *doc, yaml_node_t *root, unsigned *w, unsigned *h) {
        double a, b;
        yaml_node_t *n;
        if (scalar_number(map_get(&doc->d, root, "image_width"), &a) == 0 &&
            scalar_number(map_get(&doc->d, root, "image_height"), &b) == 0) {
                *w = (unsigned) a, *h = (unsigned) b;
                return 1;
        }
        if ((n = map_get(&doc->d, root, "imageSize")) || (n = map_get(&doc->d, root, "image_size"))) {
                double v[2];
                unsigned k;
                char e[8];
                if (read_matrix(doc, n, v, 2, &k, e, sizeof(e), "imageSize") == 0 && k == 2) {
                        *w = (unsigned) v[0], *h = (unsigned) v[1];
                        return 1;
                }
        }
        return 0;
}

static int check_eye(const struct calibration *c, unsigned e, const char *what, char *error, size_t len) {
        const struct eye_calibration *k = &c->eye[e];
        const char *eye = e ? "right" : "left";
        double P3[9] = {k->P[0], k->P[1], k->P[2], k->P[4], k->P[5], k->P[6], k->P[8], k->P[9], k->P[10]};
        double RRt[9], Rt[9];

        if (!(k->K[0] > 0) || !(k->K[4] > 0) || k->K[8] != 1 || fabs(mat_det(k->K)) < 1e-9) {
                snprintf(error, len,
                         "%s: the %s camera matrix is singular or not a camera matrix (fx, fy > 0, last row "
                         "0 0 1); recalibrate",
                         what, eye);
                return -EINVAL;
        }
        if (c->model == MODEL_FISHEYE && k->n_d != 4) {
                snprintf(error, len,
                         "%s: a fisheye (equidistant) model takes 4 distortion coefficients, the %s eye has %u", what,
                         eye, k->n_d);
                return -EINVAL;
        }
        if (c->model == MODEL_PLUMB_BOB && k->n_d != 4 && k->n_d != 5 && k->n_d != 8 && k->n_d != 12 && k->n_d != 14) {
                snprintf(error, len,
                         "%s: the radial-tangential model takes 4, 5, 8, 12 or 14 distortion coefficients, the "
                         "%s eye has %u",
                         what, eye, k->n_d);
                return -EINVAL;
        }
        if (k->n_d == 14 && (k->D[12] != 0 || k->D[13] != 0)) {
                snprintf(error, len,
                         "%s: the %s eye has a tilted-sensor model (τx, τy not 0), which handrecd does not "
                         "support; calibrate without CALIB_TILTED_MODEL",
                         what, eye);
                return -EINVAL;
        }
        mat_transpose(k->R, Rt);
        mat_mul(k->R, Rt, RRt);
        for (int i = 0; i < 9; i++)
                if (fabs(RRt[i] - (i % 4 == 0)) > 1e-3 || fabs(mat_det(k->R) - 1) > 1e-3) {
                        snprintf(error, len, "%s: the %s rectification matrix is not a rotation; recalibrate", what,
                                 eye);
                        return -EINVAL;
                }
        if (fabs(mat_det(P3)) < 1e-9 || !(k->P[0] > 0)) {
                snprintf(error, len, "%s: the %s projection matrix is singular; recalibrate", what, eye);
                return -EINVAL;
        }
        return 0;
}

int calibration_load(const char *const *paths, unsigned n, enum distortion_model model, double alpha, unsigned width,
                     unsigned height, struct calibration **ret, char *error, size_t len) {
        struct doc docs[2] = {};
        struct calibration *c;
        unsigned fw = 0, fh = 0, k;
        int r = -EINVAL;
        bool ros;

        if (n < 1 || n > 2) {
                snprintf(error, len, "give one or two calibration files");
                return -EINVAL;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                r = load_doc(paths[i], &docs[i], &c->text, error, len);
                if (r < 0)
                        goto done;
                size_t old = c->files ? strlen(c->files) : 0;
                char *f = realloc(c->files, old + strlen(paths[i]) + 3);
                if (f) {
                        snprintf(f + old, strlen(paths[i]) + 3, "%s%s", old ? ", " : "", paths[i]);
                        c->files = f;
                }
        }
        yaml_node_t *root0 = yaml_document_get_root_node(&docs[0].d);
        ros = map_get(&docs[0].d, root0, "camera_matrix") != NULL;

        if (ros) {
                /* ROS camera_info: one file per eye */
                if (n != 2) {
                        snprintf(error, len,
                                 "%s is a ROS camera_info file: give one per eye, calibration = [\"left.yaml\", "
                                 "\"right.yaml\"]",
                                 paths[0]);
                        r = -EINVAL;
                        goto done;
                }
                for (unsigned e = 0; e < 2; e++) {
                        struct doc *d = &docs[e];
                        yaml_node_t *root = yaml_document_get_root_node(&d->d), *m;
                        enum distortion_model em = MODEL_PLUMB_BOB;
                        unsigned w = 0, h = 0;
                        if (!map_get(&d->d, root, "camera_matrix")) {
                                snprintf(error, len, "%s is not a ROS camera_info file like %s (no camera_matrix)",
                                         d->path, paths[0]);
                                r = -EINVAL;
                                goto done;
                        }
                        if ((m = map_get(&d->d, root, "distortion_model")) && m->type == YAML_SCALAR_NODE &&
                            model_from_string((const char *) m->data.scalar.value, &em) < 0) {
                                snprintf(error, len,
                                         "%s: unknown distortion_model \"%s\"; handrecd knows plumb_bob, "
                                         "rational_polynomial and equidistant",
                                         d->path, m->data.scalar.value);
                                r = -EINVAL;
                                goto done;
                        }
                        if (e == 0 && model == MODEL_UNSET)
                                model = em;
                        else if (em != model && model != MODEL_UNSET && e == 1 && em != c->model) {
                                snprintf(error, len, "%s and %s use different distortion models", paths[0], paths[1]);
                                r = -EINVAL;
                                goto done;
                        }
                        c->model = model;
                        if ((r = read_exact(d, root, "camera_matrix", c->eye[e].K, 9, error, len)) < 0 ||
                            (r = read_matrix(d, map_get(&d->d, root, "distortion_coefficients"), c->eye[e].D, 14,
                                             &c->eye[e].n_d, error, len, "distortion_coefficients")) < 0 ||
                            (r = read_exact(d, root, "rectification_matrix", c->eye[e].R, 9, error, len)) < 0 ||
                            (r = read_exact(d, root, "projection_matrix", c->eye[e].P, 12, error, len)) < 0)
                                goto done;
                        if (read_size(d, root, &w, &h)) {
                                if (e == 1 && (w != fw || h != fh)) {
                                        snprintf(error, len, "%s is for %ux%u images but %s for %ux%u", paths[1], w, h,
                                                 paths[0], fw, fh);
                                        r = -EINVAL;
                                        goto done;
                                }
                                fw = w, fh = h;
                        }
                }
        } else {
                /* OpenCV FileStorage: the keys may be spread over one or two files */
                static const char *const km[2][2] = {{"M1", "K1"}, {"M2", "K2"}};
                yaml_node_t *node;
                struct doc *where;
#define FIND(key)                                                                                                      \
        ({                                                                                                             \
                node = NULL;                                                                                           \
                where = NULL;                                                                                          \
                for (unsigned _i = 0; _i < n && !node; _i++)                                                           \
                        if ((node = map_get(&docs[_i].d, yaml_document_get_root_node(&docs[_i].d), key)))              \
                                where = &docs[_i];                                                                     \
                node;                                                                                                  \
        })
                unsigned cnt;
                for (unsigned e = 0; e < 2; e++) {
                        char dk[4], rk[4], pk[4];
                        if (!FIND(km[e][0]) && !FIND(km[e][1])) {
                                snprintf(error, len,
                                         "%s: no camera matrix %s (or %s) for the %s eye; is this an OpenCV stereo "
                                         "calibration (intrinsics.yml with M1 D1 M2 D2)?",
                                         c->files, km[e][0], km[e][1], e ? "right" : "left");
                                r = -EINVAL;
                                goto done;
                        }
                        if ((r = read_matrix(where, node, c->eye[e].K, 9, &cnt, error, len, km[e][0])) < 0)
                                goto done;
                        if (cnt != 9) {
                                snprintf(error, len, "%s: %s has %u values, it needs 9", where->path, km[e][0], cnt);
                                r = -EINVAL;
                                goto done;
                        }
                        snprintf(dk, sizeof(dk), "D%u", e + 1);
                        if (!FIND(dk)) {
                                snprintf(error, len, "%s: no distortion coefficients %s", c->files, dk);
                                r = -EINVAL;
                                goto done;
                        }
                        if ((r = read_matrix(where, node, c->eye[e].D, 14, &c->eye[e].n_d, error, len, dk)) < 0)
                                goto done;
                        snprintf(rk, sizeof(rk), "R%u", e + 1);
                        snprintf(pk, sizeof(pk), "P%u", e + 1);
                        if (FIND(rk)) {
                                if ((r = read_matrix(where, node, c->eye[e].R, 9, &cnt, error, len, rk)) < 0)
                                        goto done;
                                if (!FIND(pk)) {
                                        snprintf(error, len, "%s: %s is given but not %s", c->files, rk, pk);
                                        r = -EINVAL;
                                        goto done;
                                }
                                if ((r = read_matrix(where, node, c->eye[e].P, 12, &cnt, error, len, pk)) < 0)
                                        goto done;
                                if (cnt != 12) {
                                        snprintf(error, len, "%s: %s has %u values, it needs 12", where->path, pk, cnt);
                                        r = -EINVAL;
                                        goto done;
                                }
                        } else
                                c->computed = true;
                }
                if (FIND("R") && read_matrix(where, node, c->R, 9, &cnt, error, len, "R") == 0 && cnt == 9 &&
                    FIND("T") && read_matrix(where, node, c->T, 3, &cnt, error, len, "T") == 0 && cnt == 3)
                        c->have_extrinsics = true;
                else if (error[0] && strstr(error, "NaN")) {
                        r = -EDOM;
                        goto done;
                }
                if (c->computed && !c->have_extrinsics) {
                        snprintf(error, len,
                                 "%s: neither a rectification (R1 R2 P1 P2) nor the cameras' R and T to compute "
                                 "one; add extrinsics.yml",
                                 c->files);
                        r = -EINVAL;
                        goto done;
                }
                for (unsigned i = 0; i < n; i++)
                        if (read_size(&docs[i], yaml_document_get_root_node(&docs[i].d), &fw, &fh))
                                break;
                if ((node = FIND("distortion_model")) && node->type == YAML_SCALAR_NODE && model == MODEL_UNSET &&
                    model_from_string((const char *) node->data.scalar.value, &model) < 0) {
                        snprintf(error, len, "%s: unknown distortion_model \"%s\"", where->path,
                                 node->data.scalar.value);
                        r = -EINVAL;
                        goto done;
                }
                c->model = model == MODEL_UNSET ? MODEL_PLUMB_BOB : model;
#undef FIND
        }
        if (c->model == MODEL_UNSET)
                c->model = MODEL_PLUMB_BOB;

        if (fw && fh && (fw != width || fh != height)) {
                snprintf(error, len,
                         "%s was made for %ux%u images, but the camera gives %ux%u per eye; recalibrate at the "
                         "camera's size or change camera.width/height",
                         c->files, fw, fh, width, height);
                r = -EINVAL;
                goto done;
        }
        c->width = fw, c->height = fh;

        for (unsigned e = 0; e < 2; e++)
                for (k = 0; k < 9; k++)
                        if (!isfinite(c->eye[e].K[k])) {
                                snprintf(error, len, "%s: NaN or infinite values; recalibrate", c->files);
                                r = -EDOM;
                                goto done;
                        }
        if (c->computed) {
                double RRt[9], Rt[9];
                mat_transpose(c->R, Rt);
                mat_mul(c->R, Rt, RRt);
                for (int i = 0; i < 9; i++)
                        if (fabs(RRt[i] - (i % 4 == 0)) > 1e-3) {
                                snprintf(error, len, "%s: R between the cameras is not a rotation; recalibrate",
                                         c->files);
                                r = -EINVAL;
                                goto done;
                        }
                /* stereoRectify needs a plausible camera first */
                for (unsigned e = 0; e < 2; e++) {
                        static const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
                        memcpy(c->eye[e].R, I, sizeof(I));
                        c->eye[e].P[0] = c->eye[e].P[5] = c->eye[e].P[10] = 1;
                }
                for (unsigned e = 0; e < 2; e++)
                        if ((r = check_eye(c, e, c->files, error, len)) < 0)
                                goto done;
                r = c->model == MODEL_FISHEYE ? stereo_rectify_fisheye(c, alpha, width, height)
                                              : stereo_rectify_pinhole(c, alpha, width, height);
                if (r < 0) {
                        snprintf(error, len, "%s: cannot compute a rectification from R and T (is T zero?)", c->files);
                        goto done;
                }
        }
        for (unsigned e = 0; e < 2; e++)
                if ((r = check_eye(c, e, c->files, error, len)) < 0)
                        goto done;
        r = 0;
done:
        for (unsigned i = 0; i < 2; i++)
                if (docs[i].loaded)
                        yaml_document_delete(&docs[i].d);
        if (r < 0) {
                calibration_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

struct calibration *calibration_free(struct calibration *c) {
        if (!c)
                return NULL;
        free(c->text);
        free(c->files);
        free(c);
        return NULL;
}
