/* SPDX-License-Identifier: MIT */
/*
 * stereo-rectify.c — OpenCV 4's calib3d geometry, ported line by line so that the results agree
 * with it (tests/integration/test_rectify.py compares): the distortion models, undistortPoints
 * and fisheye::undistortPoints, cvStereoRectify with its icvGetRectangles, fisheye::stereoRectify
 * with fisheye::estimateNewCameraMatrixForUndistortRectify, and the mapping of
 * initUndistortRectifyMap and fisheye::initUndistortRectifyMap. Where OpenCV rounds through
 * float or divides integers, so does this code. Owns nothing.
 */
#include "stereo-rectify.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "mat3.h"
#include "util.h"

/* ---- the lens models ------------------------------------------------------------------- */

/* Normalised camera coordinates (x, y) at depth w → distorted normalised image coordinates. */
static bool distort(enum distortion_model model, const double *k, double x, double y, double w, double *xd,
                    double *yd) {
        if (model == MODEL_FISHEYE) {
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

bool stereo_rectify_inverse(const struct calibration *c, unsigned eye, double ret_iR[9]) {
        const struct eye_calibration *e = &c->eye[eye];
        double P3[9], KR[9];

        /* as initUndistortRectifyMap: iR = inv(newCameraMatrix · R) */
        mat3_from_projection(e->P, P3);
        mat3_mul(P3, e->R, KR);
        return mat3_invert(KR, ret_iR);
}

bool stereo_rectify_source_point_inverse(const struct calibration *c, unsigned eye, const double iR[9], double u,
                                         double v, double *ret_x, double *ret_y) {
        const struct eye_calibration *e = &c->eye[eye];
        double X[3], xd, yd;

        X[0] = iR[0] * u + iR[1] * v + iR[2];
        X[1] = iR[3] * u + iR[4] * v + iR[5];
        X[2] = iR[6] * u + iR[7] * v + iR[8];
        if (c->model != MODEL_FISHEYE && X[2] == 0)
                return false;
        double w = 1.0 / X[2];
        if (!distort(c->model, e->D, X[0] * w, X[1] * w, X[2], &xd, &yd))
                return false;
        *ret_x = e->K[0] * xd + e->K[2]; /* (OpenCV ignores the skew here too) */
        *ret_y = e->K[4] * yd + e->K[5];
        return isfinite(*ret_x) && isfinite(*ret_y);
}

bool stereo_rectify_source_point(const struct calibration *c, unsigned eye, double u, double v, double *ret_x,
                                 double *ret_y) {
        double iR[9];

        return stereo_rectify_inverse(c, eye, iR) &&
               stereo_rectify_source_point_inverse(c, eye, iR, u, v, ret_x, ret_y);
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
        mat3_mul_vec(R, p, q);
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
        mat3_mul_vec(R, p, q);
        *rx = q[0] / q[2];
        *ry = q[1] / q[2];
        return true;
}

/* ---- stereoRectify ---------------------------------------------------------------------- */

/* The common start of both stereoRectify flavours: R1, R2 and the rotated baseline. */
static int rectify_rotations(const struct calibration *c, double *R1, double *R2, double *t, int *ret_idx) {
        double om[3], r_r[9], half[3], uu[3] = {0, 0, 0}, ww[3], wR[9], rrT[9];
        int idx;

        mat3_to_rotation_vector(c->R, om);
        half[0] = -0.5 * om[0], half[1] = -0.5 * om[1], half[2] = -0.5 * om[2];
        mat3_from_rotation_vector(half, r_r);
        mat3_mul_vec(r_r, c->T, t);
        idx = fabs(t[0]) > fabs(t[1]) ? 0 : 1;
        if (c->model == MODEL_FISHEYE)
                idx = 0; /* fisheye::stereoRectify is horizontal only */
        double cc = t[idx], nt = mat3_vec_norm(t);
        if (nt == 0)
                return -EINVAL;
        uu[idx] = cc > 0 ? 1 : -1;
        ww[0] = t[1] * uu[2] - t[2] * uu[1];
        ww[1] = t[2] * uu[0] - t[0] * uu[2];
        ww[2] = t[0] * uu[1] - t[1] * uu[0];
        double nw = mat3_vec_norm(ww);
        if (nw > 0) {
                double s = acos(fabs(cc) / nt) / nw;
                ww[0] *= s, ww[1] *= s, ww[2] *= s;
        }
        mat3_from_rotation_vector(ww, wR);
        mat3_transpose(r_r, rrT);
        mat3_mul(wR, rrT, R1);
        mat3_mul(wR, r_r, R2);
        mat3_mul_vec(R2, c->T, t);
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

/* icvGetRectangles: inner and outer rectangles (x, y, w, h) of the undistorted, rectified image */
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

/* cvStereoRectify's principal point for eye @e: the image centre less the mean of its corners,
 * undistorted and rotated by @Rk, seen by a camera of focal length @fc (through float, as there) */
static void corner_centre(const struct eye_calibration *e, const double *Rk, double fc, unsigned w, unsigned h,
                          double cc[2]) {
        double Atmp[9] = {fc, 0, 0, 0, fc, 0, 0, 0, 1};
        double sx = 0, sy = 0;

        for (int i = 0; i < 4; i++) {
                double u = (float) ((i % 2) * (w - 1.0)), v = (float) ((i < 2 ? 0 : 1) * (h - 1.0)), nx, ny;
                /* undistortPoints to normalised coordinates, then projectPoints with Rk, Atmp */
                undistort_point(e, mat3_identity, mat3_identity, u, v, &nx, &ny);
                nx = (float) nx, ny = (float) ny;
                double p[3] = {nx, ny, 1}, q[3];
                mat3_mul_vec(Rk, p, q);
                sx += (float) (Atmp[0] * q[0] / q[2]);
                sy += (float) (Atmp[4] * q[1] / q[2]);
        }
        cc[0] = (w - 1) / 2.0 - sx / 4;
        cc[1] = (h - 1) / 2.0 - sy / 4;
}

/* How far the focal length may grow (@inner: every pixel valid) or must shrink (outer: every
 * source pixel kept) around the principal point (@cx, @cy) for rectangle @r to fill the image */
static double rectangle_scale(const double r[4], double cx, double cy, unsigned w, unsigned h, bool inner) {
        double a = cx / (cx - r[0]), b = cy / (cy - r[1]), c = (w - 1 - cx) / (r[0] + r[2] - cx),
               d = (h - 1 - cy) / (r[1] + r[3] - cy);
        return inner ? MAX(MAX(MAX(a, b), c), d) : MIN(MIN(MIN(a, b), c), d);
}

/* cvStereoRectify with CALIB_ZERO_DISPARITY and newImageSize = imageSize */
static int stereo_rectify_pinhole(struct calibration *c, double alpha, unsigned w, unsigned h) {
        double R1[9], R2[9], t[3], cc[2][2], P1[12], K[9], in[2][4], out[2][4];
        int idx, r;

        r = rectify_rotations(c, R1, R2, t, &idx);
        if (r < 0)
                return r;
        double fc = (c->eye[0].K[(idx ^ 1) * 4] + c->eye[1].K[(idx ^ 1) * 4]) * 0.5;
        corner_centre(&c->eye[0], R1, fc, w, h, cc[0]);
        corner_centre(&c->eye[1], R2, fc, w, h, cc[1]);
        double cx = (cc[0][0] + cc[1][0]) * 0.5, cy = (cc[0][1] + cc[1][1]) * 0.5, tx = t[idx] * fc, s = 1;

        /* the rectangles the undistorted images cover with that camera, then alpha between them */
        set_P(P1, fc, cx, cy, idx, 0);
        mat3_from_projection(P1, K);
        get_rectangles(&c->eye[0], R1, K, w, h, in[0], out[0]);
        get_rectangles(&c->eye[1], R2, K, w, h, in[1], out[1]);
        alpha = MIN(alpha, 1.);
        if (alpha >= 0) {
                double in0 = rectangle_scale(in[0], cx, cy, w, h, true),
                       in1 = rectangle_scale(in[1], cx, cy, w, h, true);
                double out0 = rectangle_scale(out[0], cx, cy, w, h, false),
                       out1 = rectangle_scale(out[1], cx, cy, w, h, false);
                double s0 = MAX(in1, in0), s1 = MIN(out1, out0);
                s = s0 * (1 - alpha) + s1 * alpha;
        }
        fc *= s;
        set_P(c->eye[0].P, fc, cx, cy, idx, 0);
        set_P(c->eye[1].P, fc, cx, cy, idx, tx * s);
        memcpy(c->eye[0].R, R1, sizeof(R1));
        memcpy(c->eye[1].R, R2, sizeof(R2));
        return 0;
}

/* fisheye::estimateNewCameraMatrixForUndistortRectify (new size = image size, fov_scale 1) */
static int fisheye_new_camera(const struct eye_calibration *e, const double *R, unsigned w, unsigned h, double balance,
                              double *newK) {
        /* the middles of the image's sides (OpenCV divides the size as integers, as here) */
        double pts[4][2] = {{w / 2, 0}, {w, h / 2}, {w / 2, h}, {0, h / 2}}, cn[2] = {0, 0};

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

int stereo_rectify_compute(struct calibration *c, double alpha, unsigned width, unsigned height) {
        if (c->model == MODEL_FISHEYE)
                return stereo_rectify_fisheye(c, alpha, width, height);
        return stereo_rectify_pinhole(c, alpha, width, height);
}
