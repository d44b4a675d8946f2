/* SPDX-License-Identifier: MIT */
/*
 * stamp.h — draws a frame number into an image as a row of 32 large black/white blocks
 * (24 bits of number, most significant first, then an 8-bit check), and reads it back. The
 * blocks are big and aligned to JPEG's 8×8 grid, so the number survives JPEG at quality 60.
 * read_stamp() in python/handrec is the Python reader the tests use on stored frames.
 */
#pragma once

#include <stdint.h>

#define STAMP_BITS 32
#define STAMP_NUMBER_MASK 0xffffffu

/** stamp_block_size() - side of one block for an eye @eye_width wide (≥ 8, multiple of 8). */
unsigned stamp_block_size(unsigned eye_width);

/**
 * stamp_write() - draw @number (mod 2^24) at the top left of one eye.
 * @y, @u, @v: that eye's top-left pixel in each I420 plane; @ystride, @cstride: plane strides.
 */
void stamp_write(uint8_t *y, int ystride, uint8_t *u, uint8_t *v, int cstride, unsigned eye_width, uint32_t number);

/**
 * stamp_read() - read a stamp back from a luma plane.
 * Return: 0 and the number in *@ret_number, or -EBADMSG if the check bits do not match.
 */
int stamp_read(const uint8_t *y, int ystride, unsigned eye_width, uint32_t *ret_number);
