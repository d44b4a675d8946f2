/* SPDX-License-Identifier: MIT */
/*
 * calibration-opencv.c — reads the stereo calibrations OpenCV programs save with cv::FileStorage
 * (the stereo_calib sample, most cv::stereoCalibrate users): M1 D1 M2 D2 (or K1 D1 K2 D2), and the
 * rectification R1 R2 P1 P2 or the cameras' R and T to compute it from, spread over one or two
 * files, with the image size as imageSize or image_width/image_height.
 */
#include "calibration-opencv.h"

#include <errno.h>
#include <stdio.h>

/* A key as found in one of the files. */
struct found {
        const char *key;
        yaml_node_t *node;
        struct calibration_doc *doc;
};

/* Look @key up in each file in turn. Return: whether one has it. */
static bool find(struct calibration_doc *docs, unsigned n, const char *key, struct found *ret) {
        for (unsigned i = 0; i < n; i++) {
                yaml_node_t *node = calibration_yaml_get(&docs[i], key);
                if (node) {
                        *ret = (struct found){.key = key, .node = node, .doc = &docs[i]};
                        return true;
                }
        }
        return false;
}

static int read_exact(const struct found *f, double *out, unsigned want, char *error, size_t len) {
        return calibration_yaml_matrix_exact(f->doc, f->node, f->key, out, want, error, len);
}

/* The given rectification of eye @e (R1 P1 or R2 P2), or c->computed set when there is none. */
static int read_rectification(struct calibration_doc *docs, unsigned n, unsigned e, struct calibration *c, char *error,
                              size_t len) {
        char rk[4], pk[4];
        struct found f;
        int r;

        snprintf(rk, sizeof(rk), "R%u", e + 1);
        snprintf(pk, sizeof(pk), "P%u", e + 1);
        if (!find(docs, n, rk, &f)) {
                c->computed = true;
                return 0;
        }
        r = read_exact(&f, c->eye[e].R, 9, error, len);
        if (r < 0)
                return r;
        if (!find(docs, n, pk, &f)) {
                snprintf(error, len, "%s: %s is given but not %s; save both from cv::stereoRectify", c->files, rk, pk);
                return -EINVAL;
        }
        return read_exact(&f, c->eye[e].P, 12, error, len);
}

static int read_eye(struct calibration_doc *docs, unsigned n, unsigned e, struct calibration *c, char *error,
                    size_t len) {
        char mk[4], kk[4], dk[4];
        struct found f;
        int r;

        snprintf(mk, sizeof(mk), "M%u", e + 1);
        snprintf(kk, sizeof(kk), "K%u", e + 1);
        snprintf(dk, sizeof(dk), "D%u", e + 1);
        if (!find(docs, n, mk, &f) && !find(docs, n, kk, &f)) {
                snprintf(error, len,
                         "%s: no camera matrix %s (or %s) for the %s eye; is this an OpenCV stereo calibration "
                         "(intrinsics.yml with M1 D1 M2 D2)?",
                         c->files, mk, kk, e ? "right" : "left");
                return -EINVAL;
        }
        r = read_exact(&f, c->eye[e].K, 9, error, len);
        if (r < 0)
                return r;
        if (!find(docs, n, dk, &f)) {
                snprintf(error, len, "%s: no distortion coefficients %s for the %s eye", c->files, dk,
                         e ? "right" : "left");
                return -EINVAL;
        }
        r = calibration_yaml_matrix(f.doc, f.node, dk, c->eye[e].D, 14, &c->eye[e].n_d, error, len);
        if (r < 0)
                return r;
        return read_rectification(docs, n, e, c, error, len);
}

/* R and T between the cameras, when the files give both. */
static int read_extrinsics(struct calibration_doc *docs, unsigned n, struct calibration *c, char *error, size_t len) {
        struct found fr, ft;
        int r;

        if (!find(docs, n, "R", &fr) || !find(docs, n, "T", &ft))
                return 0;
        r = read_exact(&fr, c->R, 9, error, len);
        if (r < 0)
                return r;
        r = read_exact(&ft, c->T, 3, error, len);
        if (r < 0)
                return r;
        c->have_extrinsics = true;
        return 0;
}

int calibration_opencv_read(struct calibration_doc *docs, unsigned n, struct calibration *c, char *error, size_t len) {
        int r;

        for (unsigned e = 0; e < 2; e++) {
                r = read_eye(docs, n, e, c, error, len);
                if (r < 0)
                        return r;
        }
        /* R and T are needed only to compute a rectification; otherwise a flaw in them is
         * ignored (they are just not recorded), except a NaN, which says the calibration failed */
        r = read_extrinsics(docs, n, c, error, len);
        if (r == -EDOM || (r < 0 && c->computed))
                return r;
        if (r < 0 && len > 0)
                error[0] = 0;
        if (c->computed && !c->have_extrinsics) {
                snprintf(error, len,
                         "%s: neither a rectification (R1 R2 P1 P2) nor the cameras' R and T to compute "
                         "one; add extrinsics.yml",
                         c->files);
                return -EINVAL;
        }
        for (unsigned i = 0; i < n; i++)
                if (calibration_yaml_size(&docs[i], &c->width, &c->height))
                        break;
        return 0;
}
