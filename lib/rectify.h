/* SPDX-License-Identifier: MIT */
/*
 * rectify.h — stereo rectification of I420 frames, plane by plane (never through RGB).
 *
 * rectify_new() builds, once, a map per eye for the luma plane and one for the chroma planes (the
 * equivalent of initUndistortRectifyMap, sampled at the chroma sites for U and V). What the
 * remap reads for an output pixel is its entry (4 bytes):
 *
 *      offset << 10 | fy << 5 | fx
 *
 * offset: the top-left source neighbour's place in the source plane (22 bits; sy · stride + sx
 * for a whole frame); fx, fy: the bilinear weights of the right and lower neighbours in 1/32
 * pixel, OpenCV's INTER_BITS (what cv2.remap samples at, float maps or not). RECTIFY_OUTSIDE
 * marks a pixel that maps outside the camera image: it becomes black (Y 0, U V 128).
 *
 * The entries are not stored (they took 9.2 MB a hand at 2×1280×720): a map keeps the exact
 * source position of every (1 << shift)-th output pixel of every (1 << shift)-th row (a grid of
 * nodes, in 1/1024 pixel) and per output pixel a 4-bit code, the correction of the grid's integer
 * bilinear prediction to the exact 1/32-pixel position (−1, 0 or +1 in x and in y) or "outside":
 * 0.5 byte a pixel and the grid, 1.36 MB a hand for the bench's calibration. rectify_new()
 * takes the coarsest grid (16, 8, 4, 2, 1 pixels) whose prediction is within one 1/32 of every
 * pixel, so the entries, and the bytes the remap writes, are exactly those of the full map. The remap kernels compute each pixel's entry
 * from the grid and its code as they go (integer arithmetic, the same in every kernel:
 * rectify-kernels.h); rectify_expand_row() gives a row's entries for tools and tests.
 *
 * The source is any set of planes whose row y of plane p is at planes[p] + (y & row_mask[p]) ·
 * strides[p] (struct rectify_source): a whole frame (masks ~0), or a window of the last 2^k rows
 * of a source decoded band by band, rows wrapping around (jpeg-bands.h), whose row 2^k repeats
 * row 0 so that the row below each row is one stride further. rectify_rows_needed() and
 * rectify_window_rows() say which source rows a band of output rows reads.
 *
 * rectify_rows() remaps a band of rows with integer arithmetic only, allocating nothing, with the
 * kernels chosen at rectify_new(): AVX2 where the CPU has it (x86-64, chosen at run time), NEON on
 * arm64, the scalar reference otherwise; all three give the same bytes, which are cv2.remap's
 * (INTER_LINEAR, CV_16SC2 maps) for the same map. HANDREC_REMAP=scalar|avx2|neon in the
 * environment forces one (when this machine has it), for benchmarks and tests.
 *
 * The kernels read the two bytes at the top-left neighbour and the two below it, even when their
 * weight is 0: on the last column the first pixel of the next row, or of the right eye; on the
 * last row the row below it, which for a whole frame's last plane is frame_init()'s slack row.
 * The AVX2 kernel reads 16 bytes from where a pixel reads where the others read two: a source has
 * at least 16 bytes after the last pixel of the row below its last row (frame_init() leaves 64).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "calibration.h"
#include "frame.h"

#define RECTIFY_FRAC_BITS 5 /* 1/32 pixel */
#define RECTIFY_OFFSET_SHIFT (2 * RECTIFY_FRAC_BITS)
#define RECTIFY_FRAC_MASK ((1u << RECTIFY_FRAC_BITS) - 1)
#define RECTIFY_OUTSIDE UINT32_MAX
/* the largest offset a map holds (the one above it with both weights 31 is RECTIFY_OUTSIDE) */
#define RECTIFY_OFFSET_MAX ((UINT32_C(1) << (32 - RECTIFY_OFFSET_SHIFT)) - 2)
/* the most rows and the widest stride a plane may have (the AVX2 kernel computes offsets in 16 bits) */
#define RECTIFY_ROWS_MAX 2048
#define RECTIFY_STRIDE_MAX 32767

/* the grid: node positions in 1/RECTIFY_NODE_ONE pixel, steps of 1 << RECTIFY_SHIFT_MAX at most */
#define RECTIFY_NODE_BITS 10
#define RECTIFY_NODE_ONE (1 << RECTIFY_NODE_BITS)
#define RECTIFY_NODE_LIMIT (4095 * RECTIFY_NODE_ONE) /* nodes are clamped to ±4095 px: no overflow */
#define RECTIFY_SHIFT_MAX 4
#define RECTIFY_CODE_OUTSIDE 0xfu
/* the bands rectify_rows_needed() knows: the encoder's 16 luma rows */
#define RECTIFY_BAND_ROWS 16

static inline uint32_t rectify_entry(uint32_t offset, unsigned fx, unsigned fy) {
        return offset << RECTIFY_OFFSET_SHIFT | fy << RECTIFY_FRAC_BITS | fx;
}
static inline uint32_t rectify_offset(uint32_t e) {
        return e >> RECTIFY_OFFSET_SHIFT;
}
static inline unsigned rectify_fx(uint32_t e) {
        return e & RECTIFY_FRAC_MASK;
}
static inline unsigned rectify_fy(uint32_t e) {
        return (e >> RECTIFY_FRAC_BITS) & RECTIFY_FRAC_MASK;
}

/* One plane's map of one eye. */
struct rectify_map {
        unsigned width, height;    /* of the plane, one eye */
        unsigned shift;            /* the grid's step: 1 << shift output pixels */
        unsigned nodes_w, nodes_h; /* ((width - 1) >> shift) + 2, the same for rows */
        int32_t *nodes;            /* nodes_h × nodes_w (x, y): the source position of output pixel
                                    * (i << shift, j << shift), in 1/RECTIFY_NODE_ONE pixel */
        unsigned words;            /* code words a row: (width + 7) / 8 */
        uint32_t *codes;           /* height × words: pixel u's code in bits 4 (u % 8) of word u / 8:
                                    * (dx + 1) | (dy + 1) << 2, or RECTIFY_CODE_OUTSIDE */
};

/* Where the remap reads: row y of plane p at planes[p] + (y & row_mask[p]) · strides[p]. */
struct rectify_source {
        const uint8_t *planes[3];
        int strides[3];
        unsigned row_mask[3]; /* ~0u: a whole frame */
};

/* a remap kernel (rectify-kernels.h): output row @v of @m from @src (the eye's origin; source rows
 * @stride bytes apart at (row & @row_mask)) into @dst; pixels outside become @border */
typedef void rectify_remap_fn(const struct rectify_map *m, unsigned v, const uint8_t *src, int stride,
                              unsigned row_mask, uint8_t *dst, uint8_t border);
/* the same for two planes that share the map, rows and stride (U and V): the positions once */
typedef void rectify_remap2_fn(const struct rectify_map *m, unsigned v, const uint8_t *src, const uint8_t *src2,
                               int stride, unsigned row_mask, uint8_t *dst, uint8_t *dst2, uint8_t border);

/* per band of RECTIFY_BAND_ROWS output rows: the source rows it reads (both eyes; lo > hi: none) */
struct rectify_band {
        uint16_t luma_lo, luma_hi, chroma_lo, chroma_hi; /* inclusive, the row below each sample too */
};

struct rectify {
        struct rectify_map luma[2], chroma[2]; /* per eye */
        struct rectify_band *bands;            /* (height + 15) / 16 */
        unsigned n_bands;
        unsigned window_rows;      /* rectify_window_rows() */
        rectify_remap_fn *remap;   /* the kernel */
        rectify_remap2_fn *remap2; /* its two-plane form, or NULL: remap once a plane */
        const char *kernel;        /* its name: "scalar", "avx2", "neon" */
};

/**
 * rectify_new() - build the maps for eyes of @width × @height, to be read from frames whose planes
 * have strides @ystride and @cstride (or from windows of rows with smaller offsets), and choose
 * the kernels. Return: 0 and *@ret (caller owns), -E2BIG when a plane is too large for the
 * entries' 22-bit offsets (1920×1080 eyes side by side fit), or -ENOMEM.
 */
int rectify_new(const struct calibration *c, unsigned width, unsigned height, int ystride, int cstride,
                struct rectify **ret);
struct rectify *rectify_free(struct rectify *r);

/** rectify_fits() - whether eyes of @width × @height side by side (frame_init()'s strides) fit
 * the maps' offsets: what rectify_new() would refuse with -E2BIG. The configuration checks it. */
bool rectify_fits(unsigned width, unsigned height);

/** rectify_kernel() - the name of the kernel @r remaps with: "scalar", "avx2" or "neon". */
const char *rectify_kernel(const struct rectify *r);

/** rectify_footprint() - the bytes rectify_new() allocated for @r (what the memory budget counts). */
size_t rectify_footprint(const struct rectify *r);

/**
 * rectify_window_rows() - the luma rows (a power of two, at least 32) a source decoded in blocks
 * of 16 luma and 8 chroma rows, top to bottom, must keep (the last that many luma rows, half as
 * many chroma rows) for every band of output rows, remapped in order after the blocks
 * rectify_rows_needed() asks for, to find its rows there; 0 when that is not less than the
 * height: the source must be kept whole.
 */
unsigned rectify_window_rows(const struct rectify *r);

/**
 * rectify_rows_needed() - source rows the remap of output luma rows [@y0, @y0 + @n) reads (and
 * chroma rows [@y0/2, ...)): all of them are among luma rows [0, *@ret_luma) and chroma rows
 * [0, *@ret_chroma). @y0 a multiple of RECTIFY_BAND_ROWS.
 */
void rectify_rows_needed(const struct rectify *r, unsigned y0, unsigned n, unsigned *ret_luma, unsigned *ret_chroma);

/**
 * rectify_expand_row() - the entries of output row @v of @m for a source whose rows are @stride
 * bytes apart at (row & @row_mask) (the scalar reference: tools and tests; the remap uses the
 * kernel; in rectify-scalar.c). @entries: @m->width of them.
 */
void rectify_expand_row(const struct rectify_map *m, unsigned v, int stride, unsigned row_mask, uint32_t *entries);

/**
 * rectify_rows() - remap output luma rows [y0, y0 + n) of both eyes (y0, n even; the chroma
 * rows [y0/2, (y0+n)/2)) from @src into the planes at @dst (row y0 at dst[0], chroma row y0/2
 * at dst[1], dst[2]) with strides @dst_strides. Rows past the eye's height are not written.
 * @src's offsets must fit the entries (a whole frame with the strides given to rectify_new(), or
 * a smaller window); @dst's strides are any. Allocates nothing; any number of threads may call it
 * at once on one @r.
 */
void rectify_rows_from(const struct rectify *r, const struct rectify_source *src, unsigned y0, unsigned n,
                       uint8_t *const dst[3], const int dst_strides[3]);

/** rectify_rows() - rectify_rows_from() a whole frame_init() frame @src. */
void rectify_rows(const struct rectify *r, const struct frame *src, unsigned y0, unsigned n, uint8_t *const dst[3],
                  const int dst_strides[3]);

/** rectify_frame() - remap both eyes of @src into @dst (same geometry), rows 0 to the height. */
void rectify_frame(const struct rectify *r, const struct frame *src, struct frame *dst);
