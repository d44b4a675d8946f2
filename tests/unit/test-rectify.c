/* SPDX-License-Identifier: MIT */
/* The remap: on known geometry (identity is exact, a half-pixel shift averages neighbours, pixels
 * from outside the image are black); every kernel this machine has gives the scalar reference's
 * bytes, which are the bilinear formula's, on random maps and images; a fixed map and image give
 * the digest recorded from x86-64 on every architecture (the arm64 suite runs this under qemu);
 * bands of rows equal the whole frame; geometry too large for the maps is refused.
 * (tests/integration/test_rectify.py compares with OpenCV.) */
#include <errno.h>
#include <stdlib.h>

#include "../../lib/calibration.h"
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

/* rectify_new() with HANDREC_REMAP=@kernel; NULL when this machine does not have that kernel. */
static struct rectify *new_with_kernel(const char *kernel, unsigned w, unsigned h, const struct frame *f) {
        struct calibration c = pinhole(w, h, 0);
        struct rectify *r = NULL;

        CHECK(setenv("HANDREC_REMAP", kernel, 1) == 0);
        CHECK(rectify_new(&c, w, h, f->strides[0], f->strides[1], &r) == 0);
        unsetenv("HANDREC_REMAP");
        if (r && !streq(rectify_kernel(r), kernel))
                r = rectify_free(r);
        return r;
}

static uint32_t xorshift(uint32_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

static void random_image(struct frame *f, uint32_t seed) {
        unsigned rows[3] = {f->height, f->height / 2, f->height / 2};
        for (unsigned p = 0; p < 3; p++)
                for (size_t i = 0; i < (size_t) rows[p] * f->strides[p]; i++)
                        f->planes[p][i] = (uint8_t) xorshift(&seed);
}

/* A map entry as rectify_new() could make it: inside, with no weight past the last column or
 * row; 1 in 16 outside, 1 in 8 on an edge, 1 in 4 with a fraction of 0 or 31. */
static uint32_t random_entry(const struct rectify_map *m, uint32_t *s) {
        unsigned kind = xorshift(s) % 16, sx = xorshift(s) % m->width, sy = xorshift(s) % m->height;
        unsigned fx = xorshift(s) % 32, fy = xorshift(s) % 32;

        if (kind == 0)
                return RECTIFY_OUTSIDE;
        if (kind == 1 || kind == 2)
                sx = kind == 1 ? 0 : m->width - 1;
        if (kind == 3 || kind == 4)
                sy = kind == 3 ? 0 : m->height - 1;
        if (kind >= 5 && kind <= 8) {
                fx = kind & 1 ? 31 : 0;
                fy = kind & 2 ? 31 : 0;
        }
        if (sx == m->width - 1)
                fx = 0;
        if (sy == m->height - 1)
                fy = 0;
        return rectify_entry(sy * (uint32_t) m->stride + sx, fx, fy);
}

/* Every map of @r from @seed; row 1 of each starts with a run of outside pixels, and the last
 * pixel of each is the last pixel of the source plane (the reads furthest into the frame's slack). */
static void random_maps(struct rectify *r, uint32_t seed) {
        struct rectify_map *maps[4] = {&r->luma[0], &r->luma[1], &r->chroma[0], &r->chroma[1]};
        for (unsigned k = 0; k < 4; k++) {
                struct rectify_map *m = maps[k];
                size_t n = (size_t) m->width * m->height;
                for (size_t i = 0; i < n; i++)
                        m->entry[i] = i / m->width == 1 && i % m->width < 40 ? RECTIFY_OUTSIDE : random_entry(m, &seed);
                m->entry[n - 1] = rectify_entry((m->height - 1) * (uint32_t) m->stride + m->width - 1, 0, 0);
        }
}

/* The bilinear formula, pixel by pixel, as the kernels must compute it. */
static uint8_t bilinear(const struct rectify_map *m, size_t i, const uint8_t *src, uint8_t border) {
        uint32_t e = m->entry[i];
        if (e == RECTIFY_OUTSIDE)
                return border;
        const uint8_t *p = src + rectify_offset(e);
        unsigned fx = rectify_fx(e), fy = rectify_fy(e), s = (unsigned) m->stride;
        unsigned sum =
                p[0] * (32 - fx) * (32 - fy) + p[1] * fx * (32 - fy) + p[s] * (32 - fx) * fy + p[s + 1] * fx * fy;
        return (uint8_t) ((sum + 512) >> 10);
}

/* Pixels of @dst (rectified from @src through @r) that differ from the formula's. */
static unsigned differ_from_formula(const struct rectify *r, const struct frame *src, const struct frame *dst) {
        unsigned bad = 0;
        for (unsigned eye = 0; eye < 2; eye++)
                for (unsigned p = 0; p < 3; p++) {
                        const struct rectify_map *m = p ? &r->chroma[eye] : &r->luma[eye];
                        const uint8_t *s = src->planes[p] + eye * m->width;
                        const uint8_t *d = dst->planes[p] + eye * m->width;
                        for (unsigned v = 0; v < m->height; v++)
                                for (unsigned u = 0; u < m->width; u++)
                                        bad += d[v * dst->strides[p] + u] !=
                                               bilinear(m, (size_t) v * m->width + u, s, p ? 128 : 0);
                }
        return bad;
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

static void remap_pattern(double shift_x, struct frame *src, struct frame *dst) {
        struct calibration c = pinhole(W, H, shift_x);
        struct rectify *r = NULL;

        CHECK(frame_init(src, 2 * W, H) == 0 && frame_init(dst, 2 * W, H) == 0);
        pattern(src);
        CHECK(rectify_new(&c, W, H, src->strides[0], src->strides[1], &r) == 0);
        if (r)
                rectify_frame(r, src, dst);
        rectify_free(r);
}

TEST(identity_is_exact) {
        struct frame src, dst;

        remap_pattern(0, &src, &dst);
        CHECK(memcmp(src.planes[0], dst.planes[0], (size_t) 2 * W * H) == 0);
        CHECK(memcmp(src.planes[1], dst.planes[1], (size_t) W * H / 2) == 0);
        frame_release(&src);
        frame_release(&dst);
}

TEST(half_pixel_shift_averages_and_border_is_black) {
        struct frame src, dst;

        remap_pattern(0.5, &src, &dst); /* output pixel u comes from u + 0.5 */
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

/* Eye sizes where the kernels' tails (8 and 16 pixels a step) and odd chroma widths matter. */
TEST(every_kernel_gives_the_formulas_bytes) {
        static const unsigned sizes[][2] = {{64, 48}, {37, 21}, {18, 10}, {130, 6}, {9, 2}, {47, 33}};
        unsigned simd = 0;

        for (size_t k = 0; k < ELEMENTSOF(sizes); k++) {
                unsigned w = sizes[k][0], h = sizes[k][1];
                struct frame src, ref, out;
                CHECK(frame_init(&src, 2 * w, h) == 0 && frame_init(&ref, 2 * w, h) == 0);
                CHECK(frame_init(&out, 2 * w, h) == 0);
                random_image(&src, 1234 + (uint32_t) k);
                for (size_t i = 0; i < ELEMENTSOF(kernels); i++) {
                        struct rectify *r = new_with_kernel(kernels[i], w, h, &src);
                        if (!r)
                                continue;
                        random_maps(r, 99 + (uint32_t) k);
                        rectify_frame(r, &src, i == 0 ? &ref : &out);
                        if (i == 0) {
                                CHECK_EQ_INT(differ_from_formula(r, &src, &ref), 0);
                        } else {
                                unsigned bad = differ(r, &ref, &out);
                                if (bad)
                                        fprintf(stderr, "# %s, %ux%u: %u bytes differ from scalar\n", kernels[i], w, h,
                                                bad);
                                CHECK_EQ_INT(bad, 0);
                                simd++;
                        }
                        rectify_free(r);
                }
                frame_release(&src);
                frame_release(&ref);
                frame_release(&out);
        }
#if defined(__aarch64__)
        CHECK(simd > 0); /* NEON is always there */
#endif
        printf("# %u SIMD kernel runs compared with scalar\n", simd);
}

/* The digest of the scalar kernel's output on x86-64, for a fixed map and image: every kernel on
 * every architecture must give it. */
#define DIGEST_X86_64_SCALAR 0x9cd99611u

TEST(fixed_map_and_image_give_the_recorded_digest) {
        struct frame src, dst;
        unsigned runs = 0;

        CHECK(frame_init(&src, 2 * W, H) == 0 && frame_init(&dst, 2 * W, H) == 0);
        random_image(&src, 20240611);
        for (size_t i = 0; i < ELEMENTSOF(kernels); i++) {
                struct rectify *r = new_with_kernel(kernels[i], W, H, &src);
                if (!r)
                        continue;
                random_maps(r, 7);
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
        struct frame src, whole, banded;
        struct rectify *r;

        CHECK(frame_init(&src, 2 * W, H) == 0 && frame_init(&whole, 2 * W, H) == 0);
        CHECK(frame_init(&banded, 2 * W, H) == 0);
        random_image(&src, 5);
        r = new_with_kernel("scalar", W, H, &src);
        CHECK(r != NULL);
        if (r) {
                random_maps(r, 11);
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

/* The offsets have 22 bits: the largest plane that fits is built, one byte more is refused. */
TEST(planes_too_large_for_the_offsets_are_refused) {
        struct calibration c = pinhole(64, 2, 0);
        const int fits = (int) RECTIFY_OFFSET_MAX - 63; /* (2 - 1) · stride + 63 */
        struct rectify *r = NULL;

        CHECK_EQ_INT(rectify_new(&c, 64, 2, fits, 32, &r), 0);
        r = rectify_free(r);
        CHECK_EQ_INT(rectify_new(&c, 64, 2, fits + 1, 32, &r), -E2BIG);
        CHECK(r == NULL);
        c = pinhole(64, 4, 0); /* chroma 32 × 2: (2 - 1) · stride + 31 */
        CHECK_EQ_INT(rectify_new(&c, 64, 4, 64, (int) RECTIFY_OFFSET_MAX - 31, &r), 0);
        r = rectify_free(r);
        CHECK_EQ_INT(rectify_new(&c, 64, 4, 64, (int) RECTIFY_OFFSET_MAX - 30, &r), -E2BIG);
        CHECK(r == NULL);
}

/* 1920 × 1080 eyes side by side: luma offsets up to 1079 · 3840 + 1919 fit. */
TEST(full_hd_stereo_fits) {
        struct calibration c = pinhole(1920, 1080, 0);
        struct rectify *r = NULL;

        CHECK_EQ_INT(rectify_new(&c, 1920, 1080, 3840, 1920, &r), 0);
        if (r)
                CHECK_EQ_INT(rectify_offset(r->luma[1].entry[(size_t) 1920 * 1080 - 1]), 1079 * 3840 + 1919);
        rectify_free(r);
        CHECK_EQ_INT(rectify_new(&c, 2048, 1080, 4096, 2048, &r), -E2BIG);
}

int main(void) {
        static const struct test tests[] = {T(identity_is_exact),
                                            T(half_pixel_shift_averages_and_border_is_black),
                                            T(the_machines_simd_kernel_is_chosen),
                                            T(every_kernel_gives_the_formulas_bytes),
                                            T(fixed_map_and_image_give_the_recorded_digest),
                                            T(bands_of_rows_equal_the_frame),
                                            T(rows_past_the_height_are_not_written),
                                            T(planes_too_large_for_the_offsets_are_refused),
                                            T(full_hd_stereo_fits)};
        return test_main("rectify", tests, ELEMENTSOF(tests));
}
