/* SPDX-License-Identifier: MIT */
/*
 * rectify.h — stereo rectification of I420 frames, plane by plane (never through RGB).
 *
 * rectify_new() builds, once, a fixed-point map per eye for the luma plane and one for the chroma
 * planes (the equivalent of initUndistortRectifyMap, sampled at the chroma sites for U and V):
 * for each output pixel the offset of its top-left source pixel and its bilinear weights in
 * 1/256 pixel (6 bytes a pixel, as OpenCV's fixed-point maps). rectify_frame() then remaps a frame with integer arithmetic only, allocating
 * nothing. Pixels that map outside the camera image become black (Y 0, U V 128).
 */
#pragma once

#include <stdint.h>

#include "calibration.h"
#include "frame.h"

#define RECTIFY_FRAC_BITS 8
#define RECTIFY_OUTSIDE INT32_MIN

struct rectify_map {
        unsigned width, height; /* of the plane, one eye */
        int32_t *offset;        /* source offset of the top-left neighbour, or RECTIFY_OUTSIDE */
        uint16_t *frac;         /* fy << 8 | fx: weights of the lower / right neighbours, in 1/256 */
};

struct rectify {
        struct rectify_map luma[2], chroma[2]; /* per eye */
};

/**
 * rectify_new() - build the maps for eyes of @width × @height inside frames whose planes have
 * strides @ystride and @cstride. Return: 0 and *@ret (caller owns), or -ENOMEM.
 */
int rectify_new(const struct calibration *c, unsigned width, unsigned height, int ystride, int cstride,
                struct rectify **ret);
struct rectify *rectify_free(struct rectify *r);

/** rectify_frame() - remap both eyes of @src into @dst (same geometry). Allocates nothing. */
void rectify_frame(const struct rectify *r, const struct frame *src, struct frame *dst);

/**
 * rectify_rows() - remap rows [@y0, @y0 + @n) of both eyes of @src (chroma rows [y0 / 2,
 * (y0 + n) / 2); y0 and n even) into @dst, which point at the band's first row. Allocates nothing.
 */
void rectify_rows(const struct rectify *r, const struct frame *src, unsigned y0, unsigned n, uint8_t *const dst[3],
                  const int dst_strides[3]);

/** rectify_plane() - remap one plane through @m: @src and @dst point at the eye's origin. */
void rectify_plane(const struct rectify_map *m, const uint8_t *src, uint8_t *dst, int dst_stride, uint8_t border);
