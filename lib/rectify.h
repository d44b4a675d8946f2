/* SPDX-License-Identifier: MIT */
/*
 * rectify.h — stereo rectification of I420 frames, plane by plane (never through RGB).
 *
 * rectify_new() builds, once, a fixed-point map per eye for the luma plane and one for the chroma
 * planes (the equivalent of initUndistortRectifyMap, sampled at the chroma sites for U and V).
 * Each output pixel is one uint32 (4 bytes a pixel):
 *
 *      offset << 10 | fy << 5 | fx
 *
 * offset: sy · stride + sx, the top-left source neighbour in the source plane (22 bits);
 * fx, fy: the bilinear weights of the right and lower neighbours in 1/32 pixel, OpenCV's
 * INTER_BITS (what cv2.remap samples at, float maps or not). RECTIFY_OUTSIDE marks a pixel that
 * maps outside the camera image: it becomes black (Y 0, U V 128).
 *
 * rectify_rows() remaps a band of rows with integer arithmetic only, allocating nothing, with the
 * kernel chosen at rectify_new(): AVX2 where the CPU has it (x86-64, chosen at run time), NEON on
 * arm64, the scalar reference otherwise; all three give the same bytes, which are cv2.remap's
 * (INTER_LINEAR, CV_16SC2 maps) for the same map. HANDREC_REMAP=scalar|avx2|neon in the
 * environment forces one (when this machine has it), for benchmarks and tests.
 *
 * The kernels read the two bytes at the top-left neighbour and the two below it, even when their
 * weight is 0: on the last column the first pixel of the next row, or of the right eye; on the
 * last row the row below it, which for the last plane is frame_init()'s slack row. The source
 * frame must be one of frame_init()'s.
 */
#pragma once

#include <stdint.h>

#include "calibration.h"
#include "frame.h"

#define RECTIFY_FRAC_BITS 5 /* 1/32 pixel */
#define RECTIFY_OFFSET_SHIFT (2 * RECTIFY_FRAC_BITS)
#define RECTIFY_FRAC_MASK ((1u << RECTIFY_FRAC_BITS) - 1)
#define RECTIFY_OUTSIDE UINT32_MAX
/* the largest offset a map holds (the one above it with both weights 31 is RECTIFY_OUTSIDE) */
#define RECTIFY_OFFSET_MAX ((UINT32_C(1) << (32 - RECTIFY_OFFSET_SHIFT)) - 2)

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

struct rectify_map {
        unsigned width, height; /* of the plane, one eye */
        int stride;             /* of the source plane, which the offsets were computed with */
        uint32_t *entry;        /* width × height: rectify_entry() or RECTIFY_OUTSIDE */
};

/* a kernel: remap one row of @n pixels through @map from the source plane @src (the eye's
 * origin, rows @stride apart) into @dst; pixels RECTIFY_OUTSIDE become @border */
typedef void rectify_row_fn(const uint32_t *map, unsigned n, const uint8_t *src, int stride, uint8_t *dst,
                            uint8_t border);

struct rectify {
        struct rectify_map luma[2], chroma[2]; /* per eye */
        rectify_row_fn *row;                   /* the kernel */
        const char *kernel;                    /* its name: "scalar", "avx2", "neon" */
};

/**
 * rectify_new() - build the maps for eyes of @width × @height inside frames whose planes have
 * strides @ystride and @cstride, and choose the kernel. Return: 0 and *@ret (caller owns),
 * -E2BIG when a plane is too large for the maps' 22-bit offsets (1920×1080 eyes side by side
 * fit), or -ENOMEM.
 */
int rectify_new(const struct calibration *c, unsigned width, unsigned height, int ystride, int cstride,
                struct rectify **ret);
struct rectify *rectify_free(struct rectify *r);

/** rectify_fits() - whether eyes of @width × @height side by side (frame_init()'s strides) fit
 * the maps' offsets: what rectify_new() would refuse with -E2BIG. The configuration checks it. */
bool rectify_fits(unsigned width, unsigned height);

/** rectify_kernel() - the name of the kernel @r remaps with: "scalar", "avx2" or "neon". */
const char *rectify_kernel(const struct rectify *r);

/**
 * rectify_rows() - remap output luma rows [y0, y0 + n) of both eyes (y0, n even; the chroma
 * rows [y0/2, (y0+n)/2)) from @src into the planes at @dst (row y0 at dst[0], chroma row y0/2
 * at dst[1], dst[2]) with strides @dst_strides. Rows past the eye's height are not written.
 * @src's strides are those given to rectify_new(); @dst's are any. Allocates nothing; any
 * number of threads may call it at once on one @r.
 */
void rectify_rows(const struct rectify *r, const struct frame *src, unsigned y0, unsigned n, uint8_t *const dst[3],
                  const int dst_strides[3]);

/** rectify_frame() - remap both eyes of @src into @dst (same geometry), rows 0 to the height. */
void rectify_frame(const struct rectify *r, const struct frame *src, struct frame *dst);
