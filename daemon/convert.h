/* SPDX-License-Identifier: MIT */
/*
 * convert.h — a camera's image bytes into the pipeline's I420 stereo frame (frame.h): packed
 * YUYV, planar YUV 4:2:0, and JPEG (MJPEG frames, replayed images) decoded by TurboJPEG, or a
 * camera's JPEG copied as it came. Any source uses it; none of it knows V4L2: a source maps its
 * own pixel formats to enum convert_format.
 *
 *   convert_new()        the TurboJPEG handle and a decode buffer, once, for images up to a size
 *   convert_frame()      one image into the planes of a frame, at a column (the eye)
 *   convert_copy_jpeg()  one JPEG into the frame's JPEG buffer, header checked, not decoded
 *   convert_accept_jpeg() the same for a JPEG already read into that buffer, checked whole
 *   convert_free()
 *
 * Nothing is allocated per image. One struct convert is used by one thread at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/frame.h"

enum convert_format {
        CONVERT_YUYV,   /* packed 4:2:2: Y0 U Y1 V */
        CONVERT_YUV420, /* planar 4:2:0: the Y plane, then U, then V (I420) */
        CONVERT_MJPEG,  /* one JPEG an image: 4:2:0, 4:2:2, 4:4:4 or grayscale */
};

/* The layout of the incoming images, as the source negotiated it. */
struct convert_layout {
        enum convert_format format;
        unsigned width, height; /* pixels; even */
        /* bytes a row (YUV420: a luma row, chroma rows half); 0: packed rows; MJPEG: unused */
        unsigned bytesperline;
};

struct convert;

/**
 * convert_new() - a converter for images up to @max_width × @height (the decode buffer for JPEG
 * that is not 4:2:0 is sized for them). Return: 0 and *@ret (caller owns; convert_free()),
 * or -ENOMEM.
 */
int convert_new(unsigned max_width, unsigned height, struct convert **ret);

/** convert_free() - accepts NULL; returns NULL. */
struct convert *convert_free(struct convert *cv);

/**
 * convert_frame() - put one image (@data, @size bytes, laid out as @in; owned by the caller) into
 * @f's I420 planes with its left edge at column @x0 (0, or the eye width for a right eye).
 * Sets f->jpeg_size to 0: the frame holds pixels.
 * Return: 0, or -EBADMSG (short or corrupt image), -EINVAL (an image it cannot convert or
 * that does not fit), with convert_error() saying which.
 */
int convert_frame(struct convert *cv, const struct convert_layout *in, const uint8_t *data, size_t size,
                  struct frame *f, unsigned x0);

/**
 * convert_copy_jpeg() - copy one JPEG of the whole stereo frame into f->jpeg as it came (stored
 * without a decode or re-encode); only its header is read, to check it is a JPEG of @in's size.
 * Return: 0, or -EBADMSG (not such a JPEG), -EMSGSIZE (larger than f->jpeg_capacity), with
 * convert_error() saying which.
 */
int convert_copy_jpeg(struct convert *cv, const struct convert_layout *in, const uint8_t *data, size_t size,
                      struct frame *f);

/**
 * convert_accept_jpeg() - take the @size bytes a source read into f->jpeg itself (a replayed
 * file: no copy) as the frame: checked as convert_copy_jpeg() does, and that the JPEG is whole
 * (it ends with the end-of-image marker; zero bytes after it are padding). Not decoded.
 * Return: 0 with f->jpeg_size = @size, or -EBADMSG (not such a JPEG, or cut short), -EMSGSIZE
 * (@size over f->jpeg_capacity), with convert_error() saying which; f->jpeg_size is then 0.
 */
int convert_accept_jpeg(struct convert *cv, const struct convert_layout *in, struct frame *f, size_t size);

/**
 * convert_jpeg_size() - read the size of the JPEG in @data from its header.
 * Return: 0 and *@ret_width, *@ret_height, or -EBADMSG with TurboJPEG's reason in convert_error().
 */
int convert_jpeg_size(struct convert *cv, const uint8_t *data, size_t size, unsigned *ret_width, unsigned *ret_height);

/**
 * convert_yuyv_to_i420() - the YUYV conversion convert_frame() does: @h rows of @w pixels (@w
 * even; @stride bytes a row, @src owned by the caller) into @f's planes at column @x0 (even), the
 * chroma of each pair of rows averaged (rounded up), the last row of an odd @h with itself.
 * @vector: true as convert_frame() runs it (SSE2 or NEON, where the build has them); false for
 * the scalar reference loop alone, which the unit test and benchmarks compare it with.
 */
void convert_yuyv_to_i420(const uint8_t *src, unsigned stride, unsigned w, unsigned h, struct frame *f, unsigned x0,
                          bool vector);

/** convert_error() - why the last call failed, as a phrase ("bad MJPEG frame (12 bytes): ..."). */
const char *convert_error(const struct convert *cv);
