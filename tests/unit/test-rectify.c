/* SPDX-License-Identifier: MIT */
/* The remap: on known geometry (identity is exact, a half-pixel shift averages neighbours, pixels
 * from outside the image are black); the maps, a grid and a 4-bit correction a pixel, give every
 * pixel exactly the entry the full map had (pinhole and fisheye, distorted), with the coarsest grid
 * that allows it; the scalar row kernel gives the bilinear formula's bytes on random entries, and
 * every remap kernel (scalar, AVX2, NEON) the formula's bytes through the expanded entries on
 * random grids and codes at every grid step; a fixed map and image give the digest recorded from
 * x86-64 on every architecture (the arm64 suite runs this under qemu); bands of rows equal the
 * whole frame, from the frame or from a window of rows decoded band by band (as jpeg-bands.c keeps
 * them); geometry too large for the maps is refused.
 * (tests/integration/test_rectify.py compares with OpenCV.) */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "../../lib/calibration.h"
#include "../../lib/rectify-kernels.h"
#include "../../lib/rectify.h"
#include "../../lib/util.h"
#include "test.h"

#define W 64
#define H 48

static const char *const kernels[] = {"scalar", "avx2", "neon"};

static struct calibration pinhole(unsigned w, unsigned h, double shift_x) {
        struct calibration c = {.model = MODEL_PLUMB_BOB};
        for (unsigned e = 0; e < 2; e++) {
                double K[9] = {50, 0, w / 2.0, 0, 50, h / 2.0, 0, 0, 1}, R[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
                double P[12] = {50, 0, w / 2.0 - shift_x, 0, 0, 50, h / 2.0, 0, 0, 0, 1, 0};
                memcpy(c.eye[e].K, K, sizeof(K));
                memcpy(c.eye[e].R, R, sizeof(R));
                memcpy(c.eye[e].P, P, sizeof(P));
                c.eye[e].n_d = 5;
        }
        return c;
}

/* A real-looking calibration for eyes of @w × @h: barrel distortion @k1 (fisheye: k1..k4 small),
 * the eyes rotated a little against each other, the output zoomed by @zoom. */
static struct calibration distorted(unsigned w, unsigned h, double k1, double zoom, bool fisheye) {
        struct calibration c = {.model = fisheye ? MODEL_FISHEYE : MODEL_PLUMB_BOB};
        double f = 0.8 * w;
        for (unsigned e = 0; e < 2; e++) {
                double a = e ? 0.01 : -0.008, ca = cos(a), sa = sin(a);
                double K[9] = {f, 0, w / 2.0 + 3 * e, 0, f * 1.01, h / 2.0 - 2, 0, 0, 1};
                double R[9] = {ca, -sa, 0, sa, ca, 0, 0, 0, 1};
                double P[12] = {f * zoom, 0, w / 2.0, 0, 0, f * zoom, h / 2.0, 0, 0, 0, 1, 0};
                memcpy(c.eye[e].K, K, sizeof(K));
                memcpy(c.eye[e].R, R, sizeof(R));
                memcpy(c.eye[e].P, P, sizeof(P));
                if (fisheye) {
                        double D[4] = {k1, 0.04, -0.03, 0.008};
                        memcpy(c.eye[e].D, D, sizeof(D));
                        c.eye[e].n_d = 4;
                } else {
                        double D[5] = {k1, 0.09, 0.0008, -0.0004, -0.01};
                        memcpy(c.eye[e].D, D, sizeof(D));
                        c.eye[e].n_d = 5;
                }
        }
        return c;
}

/* rectify_new() of @c with HANDREC_REMAP=@kernel; NULL when this machine does not have that kernel. */
static struct rectify *new_with(const char *kernel, const struct calibration *c, unsigned w, unsigned h,
                                const struct frame *f) {
        struct rectify *r = NULL;

        CHECK(setenv("HANDREC_REMAP", kernel, 1) == 0);
        CHECK(rectify_new(c, w, h, f->strides[0], f->strides[1], &r) == 0);
        unsetenv("HANDREC_REMAP");
        if (r && !streq(rectify_kernel(r), kernel))
                r = rectify_free(r);
        return r;
}

static struct rectify *new_with_kernel(const char *kernel, unsigned w, unsigned h, const struct frame *f) {
        struct calibration c = pinhole(w, h, 0);
        return new_with(kernel, &c, w, h, f);
}

static uint32_t xorshift(uint32_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

/* Every byte of @f's planes and of its slack row below them. */
static void random_image(struct frame *f, uint32_t seed) {
        size_t n = (size_t) (f->planes[2] - f->planes[0]) + (size_t) f->strides[2] * (f->height / 2) + f->width;
        for (size_t i = 0; i < n; i++)
                f->planes[0][i] = (uint8_t) xorshift(&seed);
}

/* A map of @w × @h with a grid every 1 << @shift pixels whose nodes are random positions inside
 * [2, w - 3] × [2, h - 3] (so a correction never leaves the plane) and random codes, 1 in 16
 * outside: no floating point, the same on every architecture. */
static void synthetic_map(struct rectify_map *m, unsigned shift, uint32_t *seed) {
        unsigned w = m->width, h = m->height;

        free(m->nodes);
        free(m->codes);
        m->shift = shift;
        m->nodes_w = ((w - 1) >> shift) + 2;
        m->nodes_h = ((h - 1) >> shift) + 2;
        m->nodes = malloc((size_t) m->nodes_w * m->nodes_h * 2 * sizeof(*m->nodes));
        m->codes = calloc((size_t) h * m->words, sizeof(*m->codes));
        CHECK(m->nodes && m->codes && w >= 6 && h >= 6);
        for (size_t k = 0; k < (size_t) m->nodes_w * m->nodes_h; k++) {
                m->nodes[2 * k] = (int32_t) (2 * RECTIFY_NODE_ONE + xorshift(seed) % ((w - 5) * RECTIFY_NODE_ONE));
                m->nodes[2 * k + 1] = (int32_t) (2 * RECTIFY_NODE_ONE + xorshift(seed) % ((h - 5) * RECTIFY_NODE_ONE));
        }
        for (unsigned v = 0; v < h; v++)
                for (unsigned u = 0; u < w; u++) {
                        uint32_t code = xorshift(seed) % 16 == 0 ? RECTIFY_CODE_OUTSIDE
                                                                 : xorshift(seed) % 3 | (xorshift(seed) % 3) << 2;
                        m->codes[(size_t) v * m->words + u / 8] |= code << 4 * (u % 8);
                }
}

/* Every map of @r made synthetic, with the grid step @shift. */
static void synthetic_maps(struct rectify *r, unsigned shift, uint32_t seed) {
        for (unsigned e = 0; e < 2; e++) {
                synthetic_map(&r->luma[e], shift, &seed);
                synthetic_map(&r->chroma[e], shift, &seed);
        }
}

/* ---- the row kernels, on entries ---------------------------------------------------------- */

/* An entry for a plane of @w × @h with rows @stride apart: inside, with no weight past the last
 * column or row; 1 in 16 outside, 1 in 8 on an edge, 1 in 4 with a fraction of 0 or 31. */
static uint32_t random_entry(unsigned w, unsigned h, int stride, uint32_t *s) {
        unsigned kind = xorshift(s) % 16, sx = xorshift(s) % w, sy = xorshift(s) % h;
        unsigned fx = xorshift(s) % 32, fy = xorshift(s) % 32;

        if (kind == 0)
                return RECTIFY_OUTSIDE;
        if (kind == 1 || kind == 2)
                sx = kind == 1 ? 0 : w - 1;
        if (kind == 3 || kind == 4)
                sy = kind == 3 ? 0 : h - 1;
        if (kind >= 5 && kind <= 8) {
                fx = kind & 1 ? 31 : 0;
                fy = kind & 2 ? 31 : 0;
        }
        if (sx == w - 1)
                fx = 0;
        if (sy == h - 1)
                fy = 0;
        return rectify_entry(sy * (uint32_t) stride + sx, fx, fy);
}

/* The bilinear formula of one entry, as the kernels must compute it. */
static uint8_t bilinear(uint32_t e, const uint8_t *src, int stride, uint8_t border) {
        if (e == RECTIFY_OUTSIDE)
                return border;
        const uint8_t *p = src + rectify_offset(e);
        unsigned fx = rectify_fx(e), fy = rectify_fy(e), s = (unsigned) stride;
        unsigned sum =
                p[0] * (32 - fx) * (32 - fy) + p[1] * fx * (32 - fy) + p[s] * (32 - fx) * fy + p[s + 1] * fx * fy;
        return (uint8_t) ((sum + 512) >> 10);
}

/* The scalar row kernel, the reference the remap kernels are held to, on rows of random entries
 * into a random plane (the last entry the plane's last pixel: the reads furthest into its slack
 * row; run under ASan, which sees any read outside the frame). */
TEST(the_row_kernel_gives_the_formulas_bytes) {
        static const unsigned widths[] = {64, 37, 18, 130, 9, 47, 1, 256};
        struct frame src;
        uint32_t seed = 99;

        CHECK(frame_init(&src, 2 * 130, 40) == 0);
        random_image(&src, 1234);
        for (size_t k = 0; k < ELEMENTSOF(widths); k++) {
                unsigned n = widths[k], pw = 2 * 130, ph = 40;
                uint32_t map[256];
                uint8_t out[256];
                for (unsigned i = 0; i < n; i++)
                        map[i] = i == 1 && n > 4 ? RECTIFY_OUTSIDE : random_entry(pw, ph, src.strides[0], &seed);
                map[n - 1] = rectify_entry((ph - 1) * (uint32_t) src.strides[0] + pw - 1, 0, 0);
                rectify_row_scalar(map, n, src.planes[0], src.strides[0], out, 7);
                for (unsigned u = 0; u < n; u++)
                        CHECK_EQ_INT(out[u], bilinear(map[u], src.planes[0], src.strides[0], 7));
        }
        frame_release(&src);
}

/* ---- the maps ----------------------------------------------------------------------------- */

/* The full map's entry of plane pixel (u, v), computed here the way the maps always were. */
static uint32_t full_entry(const struct calibration *c, unsigned eye, unsigned u, unsigned v, unsigned w, unsigned h,
                           double scale, int stride) {
        double lx, ly, x, y;

        if (!calibration_source_point(c, eye, (u + 0.5) / scale - 0.5, (v + 0.5) / scale - 0.5, &lx, &ly))
                return RECTIFY_OUTSIDE;
        x = (lx + 0.5) * scale - 0.5;
        y = (ly + 0.5) * scale - 0.5;
        if (!(x > -1 && y > -1 && x < w && y < h))
                return RECTIFY_OUTSIDE;
        long qx = lround(x * 32), qy = lround(y * 32);
        if (qx < 0 || qy < 0 || qx > (long) (w - 1) * 32 || qy > (long) (h - 1) * 32)
                return RECTIFY_OUTSIDE;
        return rectify_entry((uint32_t) ((qy >> 5) * stride + (qx >> 5)), (unsigned) (qx & 31), (unsigned) (qy & 31));
}

/* Pixels of @m (eye @eye, @scale) whose expanded entry is not the full map's. */
static unsigned not_exact(const struct calibration *c, const struct rectify_map *m, unsigned eye, double scale,
                          int stride, unsigned *inside) {
        uint32_t *row = malloc(m->width * sizeof(*row));
        unsigned bad = 0;

        CHECK(row != NULL);
        for (unsigned v = 0; row && v < m->height; v++) {
                rectify_expand_row(m, v, stride, ~0u, row);
                for (unsigned u = 0; u < m->width; u++) {
                        uint32_t want = full_entry(c, eye, u, v, m->width, m->height, scale, stride);
                        bad += row[u] != want;
                        *inside += want != RECTIFY_OUTSIDE;
                }
        }
        free(row);
        return bad;
}

/* The grid and its corrections are lossless: every entry is the full map's. Real-looking pinhole
 * and fisheye calibrations at sizes on and off the grid's step; the grid's step is the coarsest
 * that fits (8 or 16 pixels for these: well under a byte a pixel). */
TEST(maps_give_the_full_maps_entries) {
        static const struct {
                unsigned w, h;
                double k1, zoom;
                bool fisheye;
        } cases[] = {{320, 180, -0.28, 1.0, false},
                     {333, 187, -0.3, 0.7, false},
                     {640, 480, 0.05, 1.0, false},
                     {320, 240, -0.012, 0.6, true},
                     {130, 66, -0.2, 1.2, false}};

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                unsigned w = cases[k].w, h = cases[k].h, inside = 0, bad = 0;
                struct calibration c = distorted(w, h, cases[k].k1, cases[k].zoom, cases[k].fisheye);
                struct rectify *r = NULL;
                CHECK_EQ_INT(rectify_new(&c, w, h, (int) (2 * w), (int) w, &r), 0);
                if (!r)
                        continue;
                for (unsigned eye = 0; eye < 2; eye++) {
                        bad += not_exact(&c, &r->luma[eye], eye, 1.0, (int) (2 * w), &inside);
                        bad += not_exact(&c, &r->chroma[eye], eye, 0.5, (int) w, &inside);
                }
                size_t full = 2 * 4 * ((size_t) w * h + (size_t) (w / 2) * (h / 2));
                printf("# %ux%u%s: grid step %u (chroma %u), %zu bytes (the full maps: %zu), window %u rows, "
                       "%u inside\n",
                       w, h, cases[k].fisheye ? " fisheye" : "", 1u << r->luma[0].shift, 1u << r->chroma[0].shift,
                       rectify_footprint(r), full, rectify_window_rows(r), inside);
                CHECK_EQ_INT(bad, 0);
                CHECK(inside > w * h / 2);
                CHECK(r->luma[0].shift >= 2);
                CHECK(rectify_footprint(r) < full / 3);
                rectify_free(r);
        }
}

TEST(identity_is_exact) {
        struct calibration c = pinhole(W, H, 0);
        struct frame src, dst;
        struct rectify *r = NULL;

        CHECK(frame_init(&src, 2 * W, H) == 0 && frame_init(&dst, 2 * W, H) == 0);
        random_image(&src, 77);
        CHECK(rectify_new(&c, W, H, src.strides[0], src.strides[1], &r) == 0);
        if (r) {
                CHECK_EQ_INT(r->luma[0].shift, RECTIFY_SHIFT_MAX); /* a straight map: the coarsest grid */
                rectify_frame(r, &src, &dst);
        }
        CHECK(memcmp(src.planes[0], dst.planes[0], (size_t) 2 * W * H) == 0);
        CHECK(memcmp(src.planes[1], dst.planes[1], (size_t) W * H / 2) == 0);
        CHECK(memcmp(src.planes[2], dst.planes[2], (size_t) W * H / 2) == 0);
        rectify_free(r);
        frame_release(&src);
        frame_release(&dst);
}

/* Remap the test pattern through a pinhole calibration whose output is shifted by @shift_x. */
static void pattern(struct frame *f) {
        for (unsigned y = 0; y < f->height; y++)
                for (unsigned x = 0; x < f->width; x++)
                        f->planes[0][y * f->strides[0] + x] = (uint8_t) ((x * 7 + y * 13) & 0xff);
        for (unsigned p = 1; p < 3; p++)
                for (unsigned y = 0; y < f->height / 2; y++)
                        for (unsigned x = 0; x < f->width / 2; x++)
                                f->planes[p][y * f->strides[p] + x] = (uint8_t) (x * 3 + y + p * 40);
}

TEST(half_pixel_shift_averages_and_border_is_black) {
        struct calibration c = pinhole(W, H, 0.5);
        struct frame src, dst;
        struct rectify *r = NULL;

        CHECK(frame_init(&src, 2 * W, H) == 0 && frame_init(&dst, 2 * W, H) == 0);
        pattern(&src);
        CHECK(rectify_new(&c, W, H, src.strides[0], src.strides[1], &r) == 0);
        if (r)
                rectify_frame(r, &src, &dst); /* output pixel u comes from u + 0.5 */
        for (unsigned eye = 0; eye < 2; eye++)
                for (unsigned y = 0; y < H; y++) {
                        const uint8_t *s = src.planes[0] + y * src.strides[0] + eye * W;
                        const uint8_t *d = dst.planes[0] + y * dst.strides[0] + eye * W;
                        for (unsigned x = 0; x + 1 < W; x++) {
                                int want = (s[x] + s[x + 1] + 1) / 2;
                                if (abs((int) s[x] - (int) s[x + 1]) < 100) /* away from the pattern's wrap */
                                        CHECK(abs(d[x] - want) <= 1);
                        }
                        CHECK_EQ_INT(d[W - 1], 0); /* from x = W - 0.5: outside */
                }
        rectify_free(r);
        frame_release(&src);
        frame_release(&dst);
}

/* The SIMD kernel of the architecture is the one chosen, when the CPU has it. */
TEST(the_machines_simd_kernel_is_chosen) {
        struct calibration c = pinhole(W, H, 0);
        struct rectify *r = NULL;
        const char *want = "scalar";

#if defined(__x86_64__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2"))
                want = "avx2";
#elif defined(__aarch64__)
        want = "neon";
#endif
        unsetenv("HANDREC_REMAP");
        CHECK(rectify_new(&c, W, H, 2 * W, W, &r) == 0);
        if (r) {
                printf("# remap kernel: %s\n", rectify_kernel(r));
                CHECK(streq(rectify_kernel(r), want));
        }
        rectify_free(r);
}

/* The bytes of both eyes' planes (2 × the maps' widths) of @f that differ from @g's. */
static unsigned differ(const struct rectify *r, const struct frame *f, const struct frame *g) {
        unsigned bad = 0;
        for (unsigned p = 0; p < 3; p++) {
                const struct rectify_map *m = p ? &r->chroma[0] : &r->luma[0];
                for (unsigned v = 0; v < m->height; v++)
                        for (unsigned u = 0; u < 2 * m->width; u++)
                                bad += f->planes[p][v * f->strides[p] + u] != g->planes[p][v * g->strides[p] + u];
        }
        return bad;
}

/* Pixels of @dst (rectified from @src through @r) that differ from the formula through the
 * full maps' entries. */
static unsigned differ_from_formula(const struct rectify *r, const struct frame *src, const struct frame *dst) {
        uint32_t row[256];
        unsigned bad = 0;
        for (unsigned eye = 0; eye < 2; eye++)
                for (unsigned p = 0; p < 3; p++) {
                        const struct rectify_map *m = p ? &r->chroma[eye] : &r->luma[eye];
                        const uint8_t *s = src->planes[p] + eye * m->width;
                        const uint8_t *d = dst->planes[p] + eye * m->width;
                        for (unsigned v = 0; v < m->height; v++) {
                                rectify_expand_row(m, v, src->strides[p], ~0u, row);
                                for (unsigned u = 0; u < m->width; u++)
                                        bad += d[v * dst->strides[p] + u] !=
                                               bilinear(row[u], s, src->strides[p], p ? 128 : 0);
                        }
                }
        return bad;
}

/* Every kernel remaps frames through synthetic maps to the formula's bytes (through the entries
 * rectify_expand_row() makes: the scalar kernel computes them another way, from the cells), at
 * every grid step and at sizes where the tails (8 and 16 pixels a step) matter. */
TEST(every_kernel_remaps_frames_to_the_formulas_bytes) {
        static const unsigned sizes[][2] = {{64, 48}, {38, 22}, {18, 12}, {130, 12}, {14, 12}, {48, 34}};
        unsigned simd = 0;

        for (size_t k = 0; k < ELEMENTSOF(sizes); k++)
                for (unsigned shift = 0; shift <= RECTIFY_SHIFT_MAX; shift++) {
                        unsigned w = sizes[k][0], h = sizes[k][1];
                        struct frame src, ref, out;
                        CHECK(frame_init(&src, 2 * w, h) == 0 && frame_init(&ref, 2 * w, h) == 0);
                        CHECK(frame_init(&out, 2 * w, h) == 0);
                        random_image(&src, 1234 + (uint32_t) k);
                        for (size_t i = 0; i < ELEMENTSOF(kernels); i++) {
                                struct rectify *r = new_with_kernel(kernels[i], w, h, &src);
                                if (!r)
                                        continue;
                                synthetic_maps(r, shift, 99 + (uint32_t) k);
                                rectify_frame(r, &src, i == 0 ? &ref : &out);
                                if (i == 0) {
                                        CHECK_EQ_INT(differ_from_formula(r, &src, &ref), 0);
                                } else {
                                        CHECK_EQ_INT(differ(r, &ref, &out), 0);
                                        simd++;
                                }
                                rectify_free(r);
                        }
                        frame_release(&src);
                        frame_release(&ref);
                        frame_release(&out);
                }
        printf("# %u SIMD frame remaps compared with scalar\n", simd);
}

/* Through real-looking calibrations (grids of 8 and 16 pixels, where the SIMD kernels take their
 * 16-bit path, rows changing within eight pixels, borders) every kernel gives the scalar bytes. */
TEST(every_kernel_gives_the_scalar_bytes_through_calibrations) {
        static const struct {
                unsigned w, h;
                double k1, zoom;
                bool fisheye;
        } cases[] = {{1280, 720, -0.28, 1.0, false},
                     {640, 480, 0.05, 1.0, false},
                     {320, 240, -0.3, 0.9, false},
                     {320, 240, -0.012, 0.6, true},
                     {200, 120, -0.05, 1.3, false}};
        unsigned simd = 0;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                unsigned w = cases[k].w, h = cases[k].h;
                struct calibration c = distorted(w, h, cases[k].k1, cases[k].zoom, cases[k].fisheye);
                struct frame src, ref, out;
                CHECK(frame_init(&src, 2 * w, h) == 0 && frame_init(&ref, 2 * w, h) == 0);
                CHECK(frame_init(&out, 2 * w, h) == 0);
                random_image(&src, 4321 + (uint32_t) k);
                for (size_t i = 0; i < ELEMENTSOF(kernels); i++) {
                        struct rectify *r = new_with(kernels[i], &c, w, h, &src);
                        if (!r)
                                continue;
                        rectify_frame(r, &src, i == 0 ? &ref : &out);
                        if (i > 0) {
                                printf("# %ux%u%s: grid step %u (chroma %u), %s\n", w, h,
                                       cases[k].fisheye ? " fisheye" : "", 1u << r->luma[0].shift,
                                       1u << r->chroma[0].shift, kernels[i]);
                                CHECK_EQ_INT(differ(r, &ref, &out), 0);
                                simd++;
                        }
                        rectify_free(r);
                }
                frame_release(&src);
                frame_release(&ref);
                frame_release(&out);
        }
        printf("# %u SIMD remaps through calibrations compared with scalar\n", simd);
}

/* FNV-1a of both eyes' planes of @f. */
static uint32_t digest(const struct rectify *r, const struct frame *f) {
        uint32_t h = 2166136261u;
        for (unsigned p = 0; p < 3; p++) {
                const struct rectify_map *m = p ? &r->chroma[0] : &r->luma[0];
                for (unsigned v = 0; v < m->height; v++)
                        for (unsigned u = 0; u < 2 * m->width; u++)
                                h = (h ^ f->planes[p][v * f->strides[p] + u]) * 16777619u;
        }
        return h;
}

/* The digest of the scalar kernel's output on x86-64, for a fixed synthetic map (grid every 8
 * pixels, the SIMD expansions' case) and image: every kernel on every architecture must give it. */
#define DIGEST_X86_64_SCALAR 0x27b24ab9u

TEST(fixed_map_and_image_give_the_recorded_digest) {
        struct frame src, dst;
        unsigned runs = 0;

        CHECK(frame_init(&src, 2 * W, H) == 0 && frame_init(&dst, 2 * W, H) == 0);
        random_image(&src, 20240611);
        for (size_t i = 0; i < ELEMENTSOF(kernels); i++) {
                struct rectify *r = new_with_kernel(kernels[i], W, H, &src);
                if (!r)
                        continue;
                synthetic_maps(r, 3, 7);
                memset(dst.planes[0], 0x5a, (size_t) (dst.planes[2] - dst.planes[0]) + (size_t) W * H / 2);
                rectify_frame(r, &src, &dst);
                uint32_t d = digest(r, &dst);
                printf("# %s: digest 0x%08x\n", kernels[i], d);
                CHECK_EQ_INT(d, DIGEST_X86_64_SCALAR);
                runs++;
                rectify_free(r);
        }
        CHECK(runs > 0);
        frame_release(&src);
        frame_release(&dst);
}

/* Bands of rows into a small buffer with strides of its own, as the encoder remaps. */
static void remap_in_bands(const struct rectify *r, const struct frame *src, unsigned band, struct frame *out) {
        unsigned w = r->luma[0].width, h = r->luma[0].height;
        int strides[3] = {(int) (2 * w + 40), (int) w + 24, (int) w + 8};
        uint8_t *buf = malloc((size_t) band * strides[0] + (size_t) (band / 2) * (strides[1] + strides[2]));
        uint8_t *planes[3] = {buf, buf + (size_t) band * strides[0],
                              buf + (size_t) band * strides[0] + (band / 2) * strides[1]};

        CHECK(buf != NULL);
        for (unsigned y0 = 0; buf && y0 < h; y0 += band) {
                unsigned n = MIN(band, h - y0);
                rectify_rows(r, src, y0, band, planes, strides);
                for (unsigned y = 0; y < n; y++)
                        memcpy(out->planes[0] + (y0 + y) * out->strides[0], planes[0] + y * strides[0], 2 * w);
                for (unsigned p = 1; p < 3; p++)
                        for (unsigned y = 0; y < (n + 1) / 2 && y0 / 2 + y < h / 2; y++)
                                memcpy(out->planes[p] + (y0 / 2 + y) * out->strides[p], planes[p] + y * strides[p],
                                       r->chroma[0].width * 2);
        }
        free(buf);
}

TEST(bands_of_rows_equal_the_frame) {
        static const unsigned bands[] = {16, 2, 6, 10, 64};
        struct calibration c = distorted(W, H, -0.3, 0.9, false);
        struct frame src, whole, banded;
        struct rectify *r;

        CHECK(frame_init(&src, 2 * W, H) == 0 && frame_init(&whole, 2 * W, H) == 0);
        CHECK(frame_init(&banded, 2 * W, H) == 0);
        random_image(&src, 5);
        r = new_with("scalar", &c, W, H, &src);
        CHECK(r != NULL);
        if (r) {
                rectify_frame(r, &src, &whole);
                for (size_t i = 0; i < ELEMENTSOF(bands); i++) {
                        memset(banded.planes[0], 0, (size_t) (banded.planes[2] - banded.planes[0]) + W * H / 2);
                        remap_in_bands(r, &src, bands[i], &banded);
                        CHECK_EQ_INT(differ(r, &whole, &banded), 0);
                }
        }
        rectify_free(r);
        frame_release(&src);
        frame_release(&whole);
        frame_release(&banded);
}

/* A window of the last R source rows, filled 16 luma and 8 chroma rows at a time as a decoder
 * does, each band remapped once rectify_rows_needed() rows are in: the same bytes as the whole
 * frame. Row R of the window repeats row 0 (jpeg-bands.c does the same). */
struct window {
        uint8_t *rows[3];
        int strides[3];
        unsigned n, filled; /* luma rows of the ring; source luma rows copied in so far */
};

static void window_fill(struct window *win, const struct frame *src, unsigned luma_rows) {
        for (; win->filled < luma_rows && win->filled < src->height; win->filled += 16)
                for (unsigned p = 0; p < 3; p++) {
                        unsigned rows = p ? 8 : 16, first = p ? win->filled / 2 : win->filled,
                                 n = p ? win->n / 2 : win->n;
                        unsigned h = p ? src->height / 2 : src->height, w = p ? src->width / 2 : src->width;
                        for (unsigned y = first; y < first + rows && y < h + (p == 0); y++) {
                                memcpy(win->rows[p] + (size_t) (y & (n - 1)) * win->strides[p],
                                       src->planes[p] + (size_t) y * src->strides[p], w);
                                if ((y & (n - 1)) == 0)
                                        memcpy(win->rows[p] + (size_t) n * win->strides[p],
                                               src->planes[p] + (size_t) y * src->strides[p], w);
                        }
                }
}

TEST(a_window_of_rows_gives_the_frames_bytes) {
        static const struct {
                double k1, zoom;
                bool fisheye;
        } cases[] = {{-0.3, 0.9, false}, {-0.05, 1.0, false}, {-0.012, 0.6, true}};
        const unsigned w = 320, h = 240;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                struct calibration c = distorted(w, h, cases[k].k1, cases[k].zoom, cases[k].fisheye);
                struct frame src, whole, banded;
                struct rectify *r = NULL;
                CHECK(frame_init(&src, 2 * w, h) == 0 && frame_init(&whole, 2 * w, h) == 0);
                CHECK(frame_init(&banded, 2 * w, h) == 0);
                random_image(&src, 31 + (uint32_t) k);
                CHECK(rectify_new(&c, w, h, src.strides[0], src.strides[1], &r) == 0);
                if (!r)
                        continue;
                unsigned n = rectify_window_rows(r);
                printf("# window: %u rows of %u\n", n, h);
                CHECK(n > 0 && n < h);
                struct window win = {.n = n, .strides = {(int) (2 * w), (int) w, (int) w}};
                for (unsigned p = 0; p < 3; p++)
                        win.rows[p] = calloc(1, ((p ? n / 2 : n) + 1) * (size_t) win.strides[p] + 64);
                const struct rectify_source s = {.planes = {win.rows[0], win.rows[1], win.rows[2]},
                                                 .strides = {win.strides[0], win.strides[1], win.strides[2]},
                                                 .row_mask = {n - 1, n / 2 - 1, n / 2 - 1}};
                rectify_frame(r, &src, &whole);
                for (unsigned y0 = 0; y0 < h; y0 += 16) {
                        unsigned luma, chroma;
                        uint8_t *dst[3] = {banded.planes[0] + (size_t) y0 * banded.strides[0],
                                           banded.planes[1] + (size_t) y0 / 2 * banded.strides[1],
                                           banded.planes[2] + (size_t) y0 / 2 * banded.strides[2]};
                        rectify_rows_needed(r, y0, 16, &luma, &chroma);
                        window_fill(&win, &src, MAX(luma, 2 * chroma));
                        rectify_rows_from(r, &s, y0, 16, dst, banded.strides);
                }
                CHECK_EQ_INT(differ(r, &whole, &banded), 0);
                for (unsigned p = 0; p < 3; p++)
                        free(win.rows[p]);
                rectify_free(r);
                frame_release(&src);
                frame_release(&whole);
                frame_release(&banded);
        }
}

/* A band that runs past the last row writes nothing past it. */
TEST(rows_past_the_height_are_not_written) {
        struct frame src;
        struct rectify *r;
        uint8_t buf[3][16 * 2 * W];
        uint8_t *planes[3] = {buf[0], buf[1], buf[2]};
        const int strides[3] = {2 * W, W, W};

        CHECK(frame_init(&src, 2 * W, H) == 0);
        random_image(&src, 3);
        r = new_with_kernel("scalar", W, H, &src);
        CHECK(r != NULL);
        if (r) {
                memset(buf, 0xa5, sizeof(buf));
                rectify_rows(r, &src, H - 4, 16, planes, strides);
                for (size_t i = 4 * 2 * W; i < sizeof(buf[0]); i++)
                        CHECK(buf[0][i] == 0xa5);
                for (size_t i = 2 * W; i < sizeof(buf[1]); i++)
                        CHECK(buf[1][i] == 0xa5 && buf[2][i] == 0xa5);
                CHECK(buf[0][0] != 0xa5 || buf[0][1] != 0xa5 || buf[0][2] != 0xa5);
        }
        rectify_free(r);
        frame_release(&src);
}

/* The offsets have 22 bits: the largest plane that fits is built, one byte more is refused; and
 * the AVX2 kernel's 16-bit rows and strides: 2048 rows, strides up to 32767. */
TEST(planes_too_large_for_the_offsets_are_refused) {
        struct calibration c = pinhole(126, 129, 0);
        struct rectify *r = NULL;

        /* 128 · 32767 + 125 is RECTIFY_OFFSET_MAX − 1 */
        CHECK_EQ_INT(128 * 32767 + 125, RECTIFY_OFFSET_MAX - 1);
        CHECK_EQ_INT(rectify_new(&c, 126, 129, RECTIFY_STRIDE_MAX, 64, &r), 0);
        r = rectify_free(r);
        c = pinhole(128, 129, 0); /* 128 · 32767 + 127: one past */
        CHECK_EQ_INT(rectify_new(&c, 128, 129, RECTIFY_STRIDE_MAX, 64, &r), -E2BIG);
        CHECK(r == NULL);
        c = pinhole(64, 4, 0);
        CHECK_EQ_INT(rectify_new(&c, 64, 4, RECTIFY_STRIDE_MAX + 1, 32, &r), -E2BIG);
        CHECK_EQ_INT(rectify_new(&c, 64, 4, 128, RECTIFY_STRIDE_MAX + 1, &r), -E2BIG);
        c = pinhole(8, RECTIFY_ROWS_MAX, 0);
        CHECK_EQ_INT(rectify_new(&c, 8, RECTIFY_ROWS_MAX, 16, 8, &r), 0);
        r = rectify_free(r);
        c = pinhole(8, RECTIFY_ROWS_MAX + 2, 0);
        CHECK_EQ_INT(rectify_new(&c, 8, RECTIFY_ROWS_MAX + 2, 16, 8, &r), -E2BIG);
        CHECK(r == NULL);
}

/* 1920 × 1080 eyes side by side: luma offsets up to 1079 · 3840 + 1919 fit. */
TEST(full_hd_stereo_fits) {
        struct calibration c = pinhole(1920, 1080, 0);
        struct rectify *r = NULL;

        CHECK_EQ_INT(rectify_new(&c, 1920, 1080, 3840, 1920, &r), 0);
        if (r) {
                uint32_t *row = malloc(1920 * sizeof(*row));
                CHECK(row != NULL);
                if (row) {
                        rectify_expand_row(&r->luma[1], 1079, 3840, ~0u, row);
                        CHECK_EQ_INT(rectify_offset(row[1919]), 1079 * 3840 + 1919);
                }
                free(row);
        }
        rectify_free(r);
        CHECK_EQ_INT(rectify_new(&c, 2048, 1080, 4096, 2048, &r), -E2BIG);
}

int main(void) {
        static const struct test tests[] = {T(the_row_kernel_gives_the_formulas_bytes),
                                            T(maps_give_the_full_maps_entries),
                                            T(identity_is_exact),
                                            T(half_pixel_shift_averages_and_border_is_black),
                                            T(the_machines_simd_kernel_is_chosen),
                                            T(every_kernel_remaps_frames_to_the_formulas_bytes),
                                            T(every_kernel_gives_the_scalar_bytes_through_calibrations),
                                            T(fixed_map_and_image_give_the_recorded_digest),
                                            T(bands_of_rows_equal_the_frame),
                                            T(a_window_of_rows_gives_the_frames_bytes),
                                            T(rows_past_the_height_are_not_written),
                                            T(planes_too_large_for_the_offsets_are_refused),
                                            T(full_hd_stereo_fits)};
        return test_main("rectify", tests, ELEMENTSOF(tests));
}
