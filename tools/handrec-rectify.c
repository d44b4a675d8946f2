/* SPDX-License-Identifier: MIT */
/*
 * handrec-rectify — what handrecd makes of a calibration, for tests and for people checking a
 * calibration before a take:
 *
 *   handrec-rectify --size WxH [--model plumb_bob|fisheye] [--alpha A] [--out DIR] FILE [FILE]
 *
 * Loads the file(s) exactly as the daemon does and prints K, D, R, P of each eye as JSON (or the
 * error, exit 1). With --out, also writes the fixed-point maps the daemon remaps with, as float32
 * (x, y) source positions per output pixel (NaN outside the image): DIR/{left,right}_{luma,chroma}.f32.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/calibration.h"
#include "../lib/rectify.h"
#include "../lib/util.h"

static void print_array(const char *name, const double *v, unsigned n, bool last) {
        printf("    \"%s\": [", name);
        for (unsigned i = 0; i < n; i++)
                printf("%s%.17g", i ? ", " : "", v[i]);
        printf("]%s\n", last ? "" : ",");
}

static int dump_map(const char *dir, const char *name, const struct rectify_map *m) {
        char path[4096];
        uint32_t *row = malloc(m->width * sizeof(*row));
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s.f32", dir, name);
        f = row ? fopen(path, "we") : NULL;
        if (!f) {
                free(row);
                return -1;
        }
        /* the entries the remap uses, for a source whose rows are the plane's width apart */
        for (unsigned v = 0; v < m->height; v++) {
                rectify_expand_row(m, v, (int) m->width, ~0u, row);
                for (unsigned u = 0; u < m->width; u++) {
                        float xy[2] = {NAN, NAN};
                        uint32_t e = row[u];
                        if (e != RECTIFY_OUTSIDE) {
                                xy[0] = (float) (rectify_offset(e) % m->width) + rectify_fx(e) / 32.0f;
                                xy[1] = (float) (rectify_offset(e) / m->width) + rectify_fy(e) / 32.0f;
                        }
                        fwrite(xy, sizeof(float), 2, f);
                }
        }
        free(row);
        return fclose(f);
}

int main(int argc, char *argv[]) {
        static const struct option opts[] = {{"size", required_argument, NULL, 's'},
                                             {"model", required_argument, NULL, 'm'},
                                             {"alpha", required_argument, NULL, 'a'},
                                             {"out", required_argument, NULL, 'o'},
                                             {}};
        enum distortion_model model = MODEL_UNSET;
        unsigned w = 0, h = 0;
        double alpha = 0;
        const char *out = NULL;
        struct calibration *c = NULL;
        char error[1024] = "";
        int o;

        while ((o = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (o) {
                case 's': sscanf(optarg, "%ux%u", &w, &h); break;
                case 'm': model = streq(optarg, "fisheye") ? MODEL_FISHEYE : MODEL_PLUMB_BOB; break;
                case 'a': alpha = atof(optarg); break;
                case 'o': out = optarg; break;
                default: return 2;
                }
        if (!w || !h || optind >= argc || argc - optind > 2) {
                fprintf(stderr, "usage: handrec-rectify --size WxH [--model plumb_bob|fisheye] [--alpha A] [--out DIR] "
                                "FILE [FILE]\n");
                return 2;
        }
        if (calibration_load((const char *const *) argv + optind, (unsigned) (argc - optind), model, alpha, w, h, &c,
                             error, sizeof(error)) < 0) {
                fprintf(stderr, "%s\n", error);
                return 1;
        }
        printf("{\n  \"model\": \"%s\",\n  \"computed\": %s,\n", calibration_distortion_model_to_string(c->model),
               c->computed ? "true" : "false");
        for (unsigned e = 0; e < 2; e++) {
                printf("  \"%s\": {\n", e ? "right" : "left");
                print_array("K", c->eye[e].K, 9, false);
                print_array("D", c->eye[e].D, c->eye[e].n_d, false);
                print_array("R", c->eye[e].R, 9, false);
                print_array("P", c->eye[e].P, 12, true);
                printf("  }%s\n", e ? "" : ",");
        }
        printf("}\n");
        if (out) {
                struct rectify *r = NULL;
                if (rectify_new(c, w, h, (int) w, (int) w / 2, &r) < 0)
                        return 1;
                for (unsigned e = 0; e < 2; e++) {
                        char name[32];
                        snprintf(name, sizeof(name), "%s_luma", e ? "right" : "left");
                        dump_map(out, name, &r->luma[e]);
                        snprintf(name, sizeof(name), "%s_chroma", e ? "right" : "left");
                        dump_map(out, name, &r->chroma[e]);
                }
                rectify_free(r);
        }
        calibration_free(c);
        return 0;
}
