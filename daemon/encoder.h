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

/**
 * encoder_encode() - compress @f at @quality.
 * @ret_data: points into the encoder's own buffer, valid until the next call on @e.
 * Return: 0 or -EIO (the TurboJPEG message is logged).
 */
int encoder_encode(struct encoder *e, const struct frame *f, int quality, const uint8_t **ret_data, size_t *ret_size);

/** encoder_free() - accepts NULL, returns NULL. */
struct encoder *encoder_free(struct encoder *e);
