/* SPDX-License-Identifier: MIT */
/* rectify.c — the maps (a grid of exact source positions and a 4-bit correction a pixel, see
 * rectify.h), the choice of the kernels, which source rows each band of output rows reads, and
 * the remap of bands of rows of I420 planes. The kernels are in rectify-{scalar,avx2,neon}.c. */
#include "rectify.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rectify-kernels.h"
#include "stereo-rectify.h"
#include "util.h"

#define ONE (1L << RECTIFY_FRAC_BITS) /* a pixel, in 1/32 */
#define N_SHIFTS (RECTIFY_SHIFT_MAX + 1)

/* One eye's projection, its matrix inverted once (calibration_source_point() inverts it for
 * each point: most of the time a map took to build). */
struct projection {
        const struct calibration *c;
        unsigned eye;
        bool ok; /* the matrix is invertible */
        double iR[9];
};

static void projection_init(struct projection *pr, const struct calibration *c, unsigned eye) {
        *pr = (struct projection){.c = c, .eye = eye};
        pr->ok = stereo_rectify_inverse(c, eye, pr->iR);
}

/* The source position of plane pixel (@u, @v) of the eye, in plane pixels; @scale: plane pixels
 * per luma pixel (1 or 1/2). A plane pixel (u, v) sits at luma ((u + 0.5) / scale − 0.5, ...):
 * for chroma, the centre of its 2×2 luma block. The numbers of calibration_source_point().
 * Return: false when it maps to no image point. */
static bool source_xy(const struct projection *pr, double u, double v, double scale, double *ret_x, double *ret_y) {
        double lx, ly;

        if (!pr->ok || !stereo_rectify_source_point_inverse(pr->c, pr->eye, pr->iR, (u + 0.5) / scale - 0.5,
                                                            (v + 0.5) / scale - 0.5, &lx, &ly))
                return false;
        *ret_x = (lx + 0.5) * scale - 0.5;
        *ret_y = (ly + 0.5) * scale - 0.5;
        return true;
}

/* The exact entry's position of plane pixel (@u, @v): the nearest 1/32 position, and inside or
 * outside decided on it, as the remap samples it: a point on the first or last column or row
 * comes out of the projection a few 1e-15 either side of it, depending on how the compiler rounds
 * (fused multiply-add on arm64), and must not turn black. On the last column or row the weight of
 * the right/lower neighbour is 0; that neighbour is still read (the next row, or the frame's
 * slack row: frame_init() allocates it), never used. Return: false when outside. */
static bool exact_q(const struct projection *pr, unsigned u, unsigned v, unsigned w, unsigned h, double scale,
                    long *ret_qx, long *ret_qy) {
        double x, y;

        if (!source_xy(pr, u, v, scale, &x, &y))
                return false;
        if (!(x > -1 && y > -1 && x < w && y < h)) /* (NaN too) */
                return false;
        long qx = lround(x * ONE), qy = lround(y * ONE);
        if (qx < 0 || qy < 0 || qx > (long) (w - 1) * ONE || qy > (long) (h - 1) * ONE)
                return false;
        *ret_qx = qx;
        *ret_qy = qy;
        return true;
}

static int32_t node_value(double x) {
        double n = x * RECTIFY_NODE_ONE;

        if (!(n > -RECTIFY_NODE_LIMIT)) /* (NaN too: a prediction nobody trusts) */
                return -RECTIFY_NODE_LIMIT;
        return n < RECTIFY_NODE_LIMIT ? (int32_t) lround(n) : RECTIFY_NODE_LIMIT;
}

/* ---- building the maps ------------------------------------------------------------------- */

/* A grid step being tried: its nodes and the codes of the rows so far. */
struct candidate {
        unsigned shift, nodes_w, nodes_h;
        int32_t *nodes;
        uint32_t *codes;
        int32_t *a; /* one row's interpolated nodes */
        bool ok;
};

static void candidate_free(struct candidate *k) {
        free(k->nodes);
        free(k->codes);
        free(k->a);
        *k = (struct candidate){};
}

static int candidate_init(struct candidate *k, unsigned shift, const struct projection *pr, unsigned w, unsigned h,
                          double scale) {
        *k = (struct candidate){.shift = shift, .nodes_w = ((w - 1) >> shift) + 2, .nodes_h = ((h - 1) >> shift) + 2};
        k->nodes = malloc((size_t) k->nodes_w * k->nodes_h * 2 * sizeof(*k->nodes));
        k->codes = calloc((size_t) h * ((w + 7) / 8), sizeof(*k->codes));
        k->a = malloc((size_t) k->nodes_w * 2 * sizeof(*k->a));
        if (!k->nodes || !k->codes || !k->a) {
                candidate_free(k);
                return -ENOMEM;
        }
        for (unsigned j = 0; j < k->nodes_h; j++)
                for (unsigned i = 0; i < k->nodes_w; i++) {
                        int32_t *n = k->nodes + ((size_t) j * k->nodes_w + i) * 2;
                        double x = NAN, y = NAN;
                        source_xy(pr, i << shift, j << shift, scale, &x, &y);
                        n[0] = node_value(x);
                        n[1] = node_value(y);
                }
        k->ok = true;
        return 0;
}

/* The prediction of pixel @u of the row whose nodes are @a (from node 0), in 1/32 pixel. */
static inline long predict(const int32_t *a, unsigned shift, unsigned u, unsigned coord) {
        return rectify_predict(a, shift, u, coord);
}

/* Row @v's codes for candidate @k from the exact positions of its pixels (qx[u] < 0: outside);
 * the candidate fails when a correction is more than one 1/32. */
static void candidate_row(struct candidate *k, unsigned v, unsigned w, const long *qx, const long *qy) {
        struct rectify_map m = {.width = w, .shift = k->shift, .nodes_w = k->nodes_w, .nodes = k->nodes};
        uint32_t *codes = k->codes + (size_t) v * ((w + 7) / 8);

        if (!k->ok)
                return;
        rectify_row_nodes(&m, v, 0, k->nodes_w, k->a);
        for (unsigned u = 0; u < w; u++) {
                uint32_t code = RECTIFY_CODE_OUTSIDE;
                if (qx[u] >= 0) {
                        long dx = qx[u] - predict(k->a, k->shift, u, 0), dy = qy[u] - predict(k->a, k->shift, u, 1);
                        if (dx < -1 || dx > 1 || dy < -1 || dy > 1) {
                                k->ok = false;
                                return;
                        }
                        code = (uint32_t) (dx + 1) | (uint32_t) (dy + 1) << 2;
                }
                codes[u / 8] |= code << 4 * (u % 8);
        }
}

/* What band @b reads of a plane: row @sy and the one below. */
static void band_reads(struct rectify_band *b, bool chroma, long sy) {
        uint16_t *lo = chroma ? &b->chroma_lo : &b->luma_lo, *hi = chroma ? &b->chroma_hi : &b->luma_hi;

        *lo = (uint16_t) MIN((long) *lo, sy);
        *hi = (uint16_t) MAX((long) *hi, sy + 1);
}

/* Try the grid steps of @shifts at once (one pass of exact positions): @m gets the coarsest that
 * predicts every pixel within one 1/32. Return: 0, -EAGAIN when none of them does, -ENOMEM. */
static int build_with(struct rectify_map *m, const struct projection *pr, double scale, const unsigned *shifts,
                      unsigned n_shifts, struct rectify_band *bands, bool chroma) {
        unsigned w = m->width, h = m->height;
        struct candidate k[N_SHIFTS] = {};
        long *qx = malloc(w * sizeof(*qx)), *qy = malloc(w * sizeof(*qy));
        int r = qx && qy ? 0 : -ENOMEM;

        for (unsigned i = 0; i < n_shifts && r >= 0; i++)
                r = candidate_init(&k[i], shifts[i], pr, w, h, scale);
        for (unsigned v = 0; v < h && r >= 0; v++) {
                struct rectify_band *b = &bands[v / (chroma ? RECTIFY_BAND_ROWS / 2 : RECTIFY_BAND_ROWS)];
                for (unsigned u = 0; u < w; u++) {
                        if (!exact_q(pr, u, v, w, h, scale, &qx[u], &qy[u])) {
                                qx[u] = qy[u] = -1;
                                continue;
                        }
                        band_reads(b, chroma, qy[u] >> RECTIFY_FRAC_BITS);
                }
                for (unsigned i = 0; i < n_shifts; i++)
                        candidate_row(&k[i], v, w, qx, qy);
        }
        if (r >= 0)
                r = -EAGAIN;
        for (unsigned i = 0; i < n_shifts; i++) {
                if (r == -EAGAIN && k[i].ok) {
                        m->shift = k[i].shift;
                        m->nodes_w = k[i].nodes_w;
                        m->nodes_h = k[i].nodes_h;
                        m->nodes = TAKE_PTR(k[i].nodes);
                        m->codes = TAKE_PTR(k[i].codes);
                        r = 0;
                }
                candidate_free(&k[i]);
        }
        free(qx);
        free(qy);
        return r;
}

static int map_build(struct rectify_map *m, const struct projection *pr, unsigned w, unsigned h, double scale,
                     struct rectify_band *bands, bool chroma) {
        /* steps of 16, 8 or 4 pixels fit every calibration tried (the bench's at 8); a finer one
         * only one whose distortion folds (its corrections then cost no more than a map would) */
        static const unsigned coarse[] = {4, 3, 2}, fine[] = {1, 0};
        int r;

        *m = (struct rectify_map){.width = w, .height = h, .words = (w + 7) / 8};
        r = build_with(m, pr, scale, coarse, ELEMENTSOF(coarse), bands, chroma);
        if (r == -EAGAIN)
                r = build_with(m, pr, scale, fine, ELEMENTSOF(fine), bands, chroma);
        /* step 1 predicts each pixel from its own node, which is its position within 1/2048 */
        assert(r != -EAGAIN);
        return r;
}

/* ---- the source rows each band reads ------------------------------------------------------ */

static bool band_empty(const struct rectify_band *b) {
        return b->luma_lo > b->luma_hi && b->chroma_lo > b->chroma_hi;
}

/* Luma rows a source decoded in 16-row blocks has once band @b's rows are in it. */
static unsigned band_decoded(const struct rectify_band *b) {
        unsigned luma = b->luma_lo <= b->luma_hi ? b->luma_hi + 1u : 0;
        unsigned chroma = b->chroma_lo <= b->chroma_hi ? 2 * (b->chroma_hi + 1u) : 0;

        return (MAX(luma, chroma) + 15) / 16 * 16;
}

static unsigned window_rows(const struct rectify *r, unsigned height) {
        unsigned decoded = 0, need = 32, window = 32;
        long lo = LONG_MAX;

        /* from the last band up: the lowest row any band from here on reads */
        long *suffix = calloc(r->n_bands + 1, sizeof(*suffix));
        if (!suffix)
                return 0;
        suffix[r->n_bands] = LONG_MAX;
        for (unsigned b = r->n_bands; b-- > 0;) {
                const struct rectify_band *x = &r->bands[b];
                if (x->luma_lo <= x->luma_hi)
                        lo = MIN(lo, (long) x->luma_lo);
                if (x->chroma_lo <= x->chroma_hi)
                        lo = MIN(lo, 2L * x->chroma_lo);
                suffix[b] = lo;
        }
        for (unsigned b = 0; b < r->n_bands; b++) {
                if (band_empty(&r->bands[b]))
                        continue;
                decoded = MAX(decoded, band_decoded(&r->bands[b]));
                if (suffix[b] != LONG_MAX)
                        need = MAX(need, (unsigned) MAX(0L, (long) decoded - suffix[b]));
        }
        free(suffix);
        while (window < need)
                window *= 2;
        return window < height ? window : 0;
}

unsigned rectify_window_rows(const struct rectify *r) {
        return r->window_rows;
}

void rectify_rows_needed(const struct rectify *r, unsigned y0, unsigned n, unsigned *ret_luma, unsigned *ret_chroma) {
        unsigned luma = 0, chroma = 0;

        for (unsigned b = y0 / RECTIFY_BAND_ROWS; b < r->n_bands && b * RECTIFY_BAND_ROWS < y0 + n; b++) {
                const struct rectify_band *x = &r->bands[b];
                if (x->luma_lo <= x->luma_hi)
                        luma = MAX(luma, x->luma_hi + 1u);
                if (x->chroma_lo <= x->chroma_hi)
                        chroma = MAX(chroma, x->chroma_hi + 1u);
        }
        *ret_luma = luma;
        *ret_chroma = chroma;
}

/* ---- the kernels, and the maps' life ------------------------------------------------------ */

/* Whether every offset into a @w × @h plane with rows @stride apart fits an entry (and the AVX2
 * kernel's 16-bit row and stride: RECTIFY_ROWS_MAX, RECTIFY_STRIDE_MAX). */
static bool offsets_fit(unsigned w, unsigned h, int stride) {
        return w > 0 && h > 0 && stride >= (int) w && h <= RECTIFY_ROWS_MAX && stride <= RECTIFY_STRIDE_MAX &&
               (uint64_t) (h - 1) * (uint64_t) stride + (w - 1) <= RECTIFY_OFFSET_MAX;
}

bool rectify_fits(unsigned width, unsigned height) {
        return offsets_fit(width, height, (int) (2 * width)) && offsets_fit(width / 2, height / 2, (int) width);
}

static bool avx2_available(void) {
#if defined(__x86_64__)
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
#else
        return false;
#endif
}

/* The best kernels this machine has, or the ones HANDREC_REMAP names if it has them. */
static void choose_kernel(struct rectify *r) {
        static const struct {
                const char *name;
                rectify_remap_fn *remap;
                rectify_remap2_fn *remap2;
        } kernels[] = {
#if defined(__x86_64__)
                {"avx2", rectify_remap_avx2, rectify_remap2_avx2},
#endif
#if defined(__aarch64__)
                {"neon", rectify_remap_neon, NULL},
#endif
                {"scalar", rectify_remap_scalar, NULL},
        };
        const char *want = getenv("HANDREC_REMAP");

        r->remap = NULL;
        for (size_t i = 0; i < ELEMENTSOF(kernels); i++) {
                if (streq(kernels[i].name, "avx2") && !avx2_available())
                        continue;
                if (!r->remap || (want && streq(want, kernels[i].name))) {
                        r->remap = kernels[i].remap;
                        r->remap2 = kernels[i].remap2;
                        r->kernel = kernels[i].name;
                }
        }
}

int rectify_new(const struct calibration *c, unsigned width, unsigned height, int ystride, int cstride,
                struct rectify **ret) {
        struct rectify *r;
        int e = 0;

        if (!offsets_fit(width, height, ystride) || !offsets_fit(width / 2, height / 2, cstride))
                return -E2BIG;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->n_bands = (height + RECTIFY_BAND_ROWS - 1) / RECTIFY_BAND_ROWS;
        r->bands = malloc(r->n_bands * sizeof(*r->bands));
        if (!r->bands)
                e = -ENOMEM;
        for (unsigned b = 0; b < r->n_bands && e >= 0; b++)
                r->bands[b] = (struct rectify_band){.luma_lo = UINT16_MAX, .chroma_lo = UINT16_MAX};
        for (unsigned eye = 0; eye < 2 && e >= 0; eye++) {
                struct projection pr;
                projection_init(&pr, c, eye);
                e = map_build(&r->luma[eye], &pr, width, height, 1.0, r->bands, false);
                if (e >= 0)
                        e = map_build(&r->chroma[eye], &pr, width / 2, height / 2, 0.5, r->bands, true);
        }
        if (e < 0) {
                rectify_free(r);
                return e;
        }
        r->window_rows = window_rows(r, height);
        choose_kernel(r);
        *ret = r;
        return 0;
}

struct rectify *rectify_free(struct rectify *r) {
        if (!r)
                return NULL;
        for (unsigned e = 0; e < 2; e++) {
                free(r->luma[e].nodes);
                free(r->luma[e].codes);
                free(r->chroma[e].nodes);
                free(r->chroma[e].codes);
        }
        free(r->bands);
        free(r);
        return NULL;
}

const char *rectify_kernel(const struct rectify *r) {
        return r->kernel;
}

static size_t map_bytes(const struct rectify_map *m) {
        return (size_t) m->nodes_w * m->nodes_h * 2 * sizeof(*m->nodes) +
               (size_t) m->height * m->words * sizeof(*m->codes);
}

size_t rectify_footprint(const struct rectify *r) {
        size_t n = sizeof(*r) + r->n_bands * sizeof(*r->bands);

        for (unsigned e = 0; e < 2; e++)
                n += map_bytes(&r->luma[e]) + map_bytes(&r->chroma[e]);
        return n;
}

/* Plane rows [v0, v1) through @m from @src (the eye's origin in the source plane) into @dst
 * (where row v0 goes). */
static void remap_rows(const struct rectify *r, const struct rectify_map *m, const uint8_t *src, int stride,
                       unsigned row_mask, unsigned v0, unsigned v1, uint8_t *dst, int dst_stride, uint8_t border) {
        for (unsigned v = v0; v < v1; v++)
                r->remap(m, v, src, stride, row_mask, dst + (ptrdiff_t) (v - v0) * dst_stride, border);
}

/* The largest offset an entry gets from a source whose rows are at (row & @mask) · @stride:
 * it must fit the entries' 22 bits. */
static bool source_fits(const struct rectify_map *m, int stride, unsigned mask) {
        uint64_t rows = MIN((uint64_t) mask, (uint64_t) m->height - 1);
        return stride <= RECTIFY_STRIDE_MAX && rows * (uint64_t) stride + m->width - 1 <= RECTIFY_OFFSET_MAX;
}

void rectify_rows_from(const struct rectify *r, const struct rectify_source *src, unsigned y0, unsigned n,
                       uint8_t *const dst[3], const int dst_strides[3]) {
        const unsigned w = r->luma[0].width, cw = r->chroma[0].width;
        const unsigned y1 = MIN(y0 + n, r->luma[0].height);
        const unsigned c0 = y0 / 2, c1 = MIN(y1 / 2, r->chroma[0].height);

        assert(source_fits(&r->luma[0], src->strides[0], src->row_mask[0]) &&
               source_fits(&r->chroma[0], src->strides[1], src->row_mask[1]) &&
               source_fits(&r->chroma[0], src->strides[2], src->row_mask[2]));
        if (y0 >= y1)
                return;
        for (unsigned eye = 0; eye < 2; eye++) {
                remap_rows(r, &r->luma[eye], src->planes[0] + eye * w, src->strides[0], src->row_mask[0], y0, y1,
                           dst[0] + eye * w, dst_strides[0], 0);
                if (r->remap2 && src->strides[1] == src->strides[2] && src->row_mask[1] == src->row_mask[2]) {
                        /* U and V share the map: their positions once */
                        for (unsigned v = c0; v < c1; v++)
                                r->remap2(&r->chroma[eye], v, src->planes[1] + eye * cw, src->planes[2] + eye * cw,
                                          src->strides[1], src->row_mask[1],
                                          dst[1] + eye * cw + (ptrdiff_t) (v - c0) * dst_strides[1],
                                          dst[2] + eye * cw + (ptrdiff_t) (v - c0) * dst_strides[2], 128);
                        continue;
                }
                for (unsigned p = 1; p < 3; p++)
                        remap_rows(r, &r->chroma[eye], src->planes[p] + eye * cw, src->strides[p], src->row_mask[p], c0,
                                   c1, dst[p] + eye * cw, dst_strides[p], 128);
        }
}

void rectify_rows(const struct rectify *r, const struct frame *src, unsigned y0, unsigned n, uint8_t *const dst[3],
                  const int dst_strides[3]) {
        const struct rectify_source s = {
                .planes = {src->planes[0], src->planes[1], src->planes[2]},
                .strides = {src->strides[0], src->strides[1], src->strides[2]},
                .row_mask = {~0u, ~0u, ~0u},
        };

        rectify_rows_from(r, &s, y0, n, dst, dst_strides);
}

void rectify_frame(const struct rectify *r, const struct frame *src, struct frame *dst) {
        rectify_rows(r, src, 0, r->luma[0].height, dst->planes, dst->strides);
        dst->meta = src->meta;
        dst->jpeg_size = 0;
}
