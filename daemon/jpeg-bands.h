/* SPDX-License-Identifier: MIT */
/*
 * jpeg-bands.h — a camera's JPEG decoded a block of rows at a time into a window of its last rows,
 * for the remap to read while it feeds the encoder band by band: a worker holds no whole decoded
 * frame (2.8 MB at 2×1280×720), only the window the rectification's geometry needs
 * (rectify_window_rows(): 128 rows of 720 for the bench's calibration, 0.5 MB).
 *
 * libjpeg's raw-data API (jpeg_read_raw_data) writes each iMCU row (16 luma and 8 chroma rows at
 * 4:2:0; 8 rows otherwise) straight into the window's rows, at (row & mask): the same bytes
 * tjDecompressToYUVPlanes() gives (the same library, the same IDCT; convert.c's decode). 4:2:2,
 * 4:4:4 and gray are brought to 4:2:0 as convert.c does (chroma rows and columns averaged,
 * rounded up; gray's chroma 128). The window's row R repeats its row 0, so that the remap's
 * "row below" is always one stride further (rectify.h). With a window of 0 the whole frame is
 * kept (a geometry whose bands read rows far apart).
 *
 * A take's JPEG is decoded to its end even when the remap needs no more rows, and a JPEG that
 * raised a warning (cut short, corrupt data) fails, as TurboJPEG's decode did (the frame is
 * counted as encode-error). The look of the frame (qc.h) is measured from the luma rows as they
 * are decoded (qc_measure_planes()'s samples, every 8th row and column): the same figures.
 *
 * Nothing is allocated per image: libjpeg's per-image memory comes from an arena (jpeg-arena.h).
 * One struct jpeg_bands belongs to one encoder worker.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../lib/qc.h"
#include "../lib/rectify.h"

struct jpeg_bands;

/**
 * jpeg_bands_new() - a decoder for JPEGs of @width × @height (the side-by-side frame; both even)
 * keeping the last @window_rows luma rows (a power of two of at least 32, rectify_window_rows()),
 * or the whole frame when 0. Return: 0 and *@ret (caller owns), -EINVAL, -ENOMEM.
 */
int jpeg_bands_new(unsigned width, unsigned height, unsigned window_rows, struct jpeg_bands **ret);

/** jpeg_bands_free() - accepts NULL; returns NULL. */
struct jpeg_bands *jpeg_bands_free(struct jpeg_bands *d);

/** jpeg_bands_footprint() - the bytes jpeg_bands_new() allocates for these sizes, libjpeg's
 * working memory included (the memory budget's count). */
size_t jpeg_bands_footprint(unsigned width, unsigned height, unsigned window_rows);

/**
 * jpeg_bands_begin() - start decoding the JPEG @data (@size bytes, the caller's until
 * jpeg_bands_finish()): its header read and checked (the decoder's size; 4:2:0, 4:2:2, 4:4:4 or
 * gray). Return: 0, or -EBADMSG (not such a JPEG), -EINVAL (a subsampling it cannot convert),
 * with jpeg_bands_error() saying which; then jpeg_bands_finish() is still to be called.
 */
int jpeg_bands_begin(struct jpeg_bands *d, const uint8_t *data, size_t size);

/**
 * jpeg_bands_need() - decode until luma rows [0, @luma) and chroma rows [0, @chroma) have been
 * decoded (those the window no longer holds were needed by nobody since: rectify.h). A failure is
 * kept for jpeg_bands_finish(); the rows are then whatever the window held.
 */
void jpeg_bands_need(struct jpeg_bands *d, unsigned luma, unsigned chroma);

/** jpeg_bands_source() - the decoded rows, as the remap reads them; valid as long as @d. */
const struct rectify_source *jpeg_bands_source(const struct jpeg_bands *d);

/**
 * jpeg_bands_finish() - decode the rest of the JPEG and end it; the frame's look into *@qc (not
 * touched on failure). Return: 0, or -EBADMSG / -EINVAL as the first failure of this JPEG was,
 * with jpeg_bands_error() saying why.
 */
int jpeg_bands_finish(struct jpeg_bands *d, struct qc_sample *qc);

/** jpeg_bands_error() - why the last JPEG failed, as a phrase ("cannot decode MJPEG frame: ..."). */
const char *jpeg_bands_error(const struct jpeg_bands *d);
