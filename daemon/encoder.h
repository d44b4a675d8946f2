/* SPDX-License-Identifier: MIT */
/*
 * encoder.h — JPEG compression of stereo frames straight from their I420 planes (TurboJPEG's
 * tjCompressFromYUVPlanes: no RGB round trip). One encoder per worker thread; it owns a
 * TurboJPEG handle and an output buffer sized for the worst case, so encoding never allocates.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct encoder;

/** encoder_new() - an encoder for @width × @height frames. Return: 0 and *@ret, or -errno. */
int encoder_new(unsigned width, unsigned height, struct encoder **ret);

/* Fills rows [y0, y0 + n) of the image (chroma rows [y0 / 2, (y0 + n) / 2); y0 and n even) into
 * @dst, which point at the band's first row. */
typedef void encoder_band_fn(void *userdata, unsigned y0, unsigned n, uint8_t *const dst[3], const int dst_strides[3]);

/**
 * encoder_encode() - compress @f at @quality; with @band, the pixels come band by band from it
 * (@f gives the size), else from @f's planes.
 * The JPEG goes to @dst (@cap bytes); if it outgrows @cap it continues in the encoder's own
 * buffer: *@ret_data is @dst or that buffer (valid until the next call on @e).
 * Return: 0 or -EIO (the TurboJPEG message is logged).
 */
int encoder_encode(struct encoder *e, const struct frame *f, encoder_band_fn *band, void *userdata, int quality,
                   uint8_t *dst, size_t cap, const uint8_t **ret_data, size_t *ret_size);

/** encoder_max_size() - the largest JPEG encoder_encode() can make. */
size_t encoder_max_size(const struct encoder *e);

/** encoder_free() - accepts NULL, returns NULL. */
struct encoder *encoder_free(struct encoder *e);
