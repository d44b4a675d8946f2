/* SPDX-License-Identifier: MIT */
/*
 * preview-render.h — one preview image from a frame the tap caught: the camera's JPEG decoded
 * (TurboJPEG's scaled decode when nothing else is needed) or the I420 planes as they are,
 * rectified when asked, scaled down by 1/2, 1/4 or 1/8, guide lines drawn, encoded to JPEG.
 * Everything is drawn in the renderer's own frames: the frame it reads is never written.
 * Preview thread only; nothing allocated per image (TurboJPEG's decoder aside, as in the pipeline).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/frame.h"

struct rectify;

/* What the preview thread needs once for all its clients: full-size frames to decode and to
 * rectify into, the decoder. */
struct preview_scratch;

/** preview_scratch_new() - for stereo frames of @width × @height (both eyes). Return: 0 or -ENOMEM. */
int preview_scratch_new(unsigned width, unsigned height, struct preview_scratch **ret);
struct preview_scratch *preview_scratch_free(struct preview_scratch *s);

/* One client's rendering: its size, its frame and its encoder. */
struct preview_render;

/**
 * preview_scale_for() - the divisor (1, 2, 4 or 8) that gives the largest image at most
 * @max_width wide from a @width-wide frame (0: full size); 8 when even that is wider.
 */
unsigned preview_scale_for(unsigned width, unsigned max_width);

/** preview_render_new() - a renderer of @width × @height frames scaled by 1/@scale. Return: 0 or -ENOMEM. */
int preview_render_new(unsigned width, unsigned height, unsigned scale, struct preview_render **ret);
struct preview_render *preview_render_free(struct preview_render *r);

/** preview_render_size() - the JPEG's size; preview_render_max() - its worst-case bytes. */
void preview_render_size(const struct preview_render *r, unsigned *ret_width, unsigned *ret_height);
size_t preview_render_max(const struct preview_render *r);

/**
 * preview_render() - render @src (the tap's frame: camera JPEG or planes; only read) into a JPEG
 * at @dst (@cap bytes, at least preview_render_max()). @rect: rectify with it, or NULL.
 * Return: 0 and *@ret_size, or -EBADMSG (a JPEG that does not decode), -EIO (encoding failed).
 */
int preview_render(struct preview_render *r, struct preview_scratch *s, const struct frame *src,
                   const struct rectify *rect, bool guides, int quality, uint8_t *dst, size_t cap, size_t *ret_size);

/** preview_draw_guides() - horizontal lines across both eyes of @f, every eighth of its height. */
void preview_draw_guides(struct frame *f);

/** preview_downscale() - @src into @dst, each pixel the mean of a @scale × @scale block. */
void preview_downscale(const struct frame *src, struct frame *dst, unsigned scale);
