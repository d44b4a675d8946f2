/* SPDX-License-Identifier: MIT */
/*
 * fuzz-calibration.h — what the two calibration targets share: calibration_load() on one or two
 * files cut from the input, as the daemon loads a hand's calibration = [...]. It must either give
 * a calibration whose every number is finite and whose model, coefficients and size are ones the
 * rest of the daemon handles, or fail with a sentence for the user; never crash, leak or read out
 * of bounds. The input is one file, or two cut apart at the line FUZZ_NEXT_FILE ("#8<", a YAML
 * comment, so that a seed is two real files one after the other).
 */
#pragma once

#include <math.h>
#include <stdbool.h>

#include "../../lib/calibration-yaml.h"
#include "../../lib/calibration.h"
#include "fuzz.h"

#define FUZZ_NEXT_FILE "\n#8<\n"

/* Write the files; @always_two: one file given is used for both eyes. Return: how many. */
static unsigned fuzz_calibration_files(const uint8_t *data, size_t size, bool always_two) {
        const uint8_t *cut = memmem(data, size, FUZZ_NEXT_FILE, strlen(FUZZ_NEXT_FILE));

        if (cut) {
                fuzz_write(0, data, (size_t) (cut - data) + 1);
                cut += strlen(FUZZ_NEXT_FILE);
                fuzz_write(1, cut, size - (size_t) (cut - data));
                return 2;
        }
        fuzz_write(0, data, size);
        if (!always_two)
                return 1;
        fuzz_write(1, data, size);
        return 2;
}

static bool all_finite(const double *v, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                if (!isfinite(v[i]))
                        return false;
        return true;
}

/* The coefficient counts stereo-rectify.c's models handle. */
static bool coefficients_ok(enum distortion_model model, unsigned n) {
        if (model == MODEL_FISHEYE)
                return n == 4;
        return n == 4 || n == 5 || n == 8 || n == 12 || n == 14;
}

static void check_calibration(const struct calibration *c, unsigned width, unsigned height) {
        FUZZ_CHECK(c->model == MODEL_PLUMB_BOB || c->model == MODEL_FISHEYE);
        FUZZ_CHECK(c->text != NULL && c->files != NULL);
        FUZZ_CHECK((c->width == 0 && c->height == 0) || (c->width == width && c->height == height));
        FUZZ_CHECK(all_finite(c->R, 9) && all_finite(c->T, 3));
        for (unsigned e = 0; e < 2; e++) {
                const struct eye_calibration *k = &c->eye[e];
                FUZZ_CHECK(coefficients_ok(c->model, k->n_d));
                FUZZ_CHECK(all_finite(k->K, 9) && all_finite(k->D, k->n_d));
                FUZZ_CHECK(all_finite(k->R, 9) && all_finite(k->P, 12));
                /* where the rectification maps are built from: a point is found or not, never NaN */
                for (unsigned i = 0; i <= 4; i++)
                        for (unsigned j = 0; j <= 4; j++) {
                                double x = NAN, y = NAN;
                                if (calibration_source_point(c, e, (width - 1) * i / 4.0, (height - 1) * j / 4.0, &x,
                                                             &y))
                                        FUZZ_CHECK(isfinite(x) && isfinite(y));
                        }
        }
}

/* One load with the model @hint for files that name none, and stereoRectify's @alpha. */
static void load(unsigned n, enum distortion_model hint, double alpha, unsigned width, unsigned height) {
        const char *paths[2] = {fuzz_files[0], fuzz_files[1]};
        struct calibration *c = NULL;
        char error[1024] = "";
        int r;

        r = calibration_load(paths, n, hint, alpha, width, height, &c, error, sizeof(error));
        if (r < 0) {
                FUZZ_CHECK(c == NULL);
                FUZZ_CHECK(error[0] != 0);
                fuzz_say("refused", error);
                return;
        }
        FUZZ_CHECK(r == 0 && c != NULL);
        check_calibration(c, width, height);
        fuzz_say(c->computed ? "accepted (rectification computed)" : "accepted", c->files);
        calibration_free(c);
}

static void fuzz_calibration(const uint8_t *data, size_t size, bool always_two) {
        static const double alphas[] = {-1, 0.5, 1};
        struct calibration_doc doc = {0};
        unsigned n, width = 640, height = 480;
        char error[1024];

        n = fuzz_calibration_files(data, size, always_two);
        /* the camera size the first file names, so that most inputs get past the size check */
        if (calibration_yaml_load(fuzz_files[0], &doc, error, sizeof(error)) == 0)
                calibration_yaml_size(&doc, &width, &height);
        calibration_yaml_done(&doc);

        /* as configured by default, then with a model and an alpha of the input's choosing */
        load(n, MODEL_UNSET, 0, width, height);
        load(n, size % 2 ? MODEL_FISHEYE : MODEL_PLUMB_BOB, alphas[size / 2 % 3], width, height);
}
