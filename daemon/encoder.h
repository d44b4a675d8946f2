/* SPDX-License-Identifier: MIT */
/*
 * encoder.h — JPEG compression of stereo frames from I420 planes, band by band, straight into
 * the caller's memory (libjpeg's raw-data API: no RGB round trip). The bytes are exactly those
 * tjCompressFromYUVPlanes(TJSAMP_420, flags 0) gives for the same planes and quality.
 *
 * One encoder per worker thread. It owns a libjpeg compressor created once, a band buffer of 16
 * luma and 8 + 8 chroma rows (about 60 KB at 2 × 1280, so it stays in L2), an arena for libjpeg's
 * per-image memory and a worst-case output buffer that costs no RSS until a JPEG spills into it:
 * encoding allocates nothing.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../lib/frame.h"

struct encoder;

/*
 * encoder_band_fn - fill luma rows [y0, y0 + n) of the image to encode, and chroma rows
 * [y0/2, (y0+n)/2), into the planes @dst with strides @dst_strides (n is 16, or fewer for
 * the last band; y0 is a multiple of 16). Row 0 of each @dst plane is the band's first row; a luma
 * row takes width bytes, a chroma row width / 2. Called with no lock held, on the encoding thread;
 * @dst belongs to the encoder and is only valid during the call.
 */
typedef void encoder_band_fn(void *userdata, unsigned y0, unsigned n, uint8_t *const dst[3], const int dst_strides[3]);

/**
 * encoder_new() - an encoder for @width × @height I420 images (both even: 4:2:0 chroma).
 * Return: 0 and *@ret (free with encoder_free()), -EINVAL for an odd or empty size, or -ENOMEM.
 */
int encoder_new(unsigned width, unsigned height, struct encoder **ret);

/**
 * encoder_encode() - compress a width x height I420 image at @quality. With @band NULL the
 * image is @f's planes, read in place (no copy); otherwise @band fills each band of 16 rows
 * into the encoder's band buffer (f is then unused and may be NULL).
 * The JPEG goes to @dst (@cap bytes, may be NULL/0); if it outgrows @cap, what was written
 * moves to the encoder's own worst-case buffer and continues there.
 * @ret_data: @dst, or the encoder's buffer (valid until the next call); @ret_size its length.
 * Nothing is allocated but, in the first call, libjpeg's tables (once). @f and @dst stay the
 * caller's; @f's size must be the encoder's.
 * Return: 0 or -EIO (libjpeg's message is logged, once for a run of the same one); -EINVAL for a
 * @quality outside 0..100. *@ret_data and *@ret_size are untouched on failure.
 */
int encoder_encode(struct encoder *e, const struct frame *f, encoder_band_fn *band, void *userdata, int quality,
                   uint8_t *dst, size_t cap, const uint8_t **ret_data, size_t *ret_size);

/** encoder_max_size() - the worst-case JPEG size of a frame (what tjBufSize says). */
size_t encoder_max_size(const struct encoder *e);

/** encoder_free() - accepts NULL, returns NULL. */
struct encoder *encoder_free(struct encoder *e);
