/* SPDX-License-Identifier: MIT */
/*
 * jpeg-arena.h — libjpeg's per-image memory (JPOOL_IMAGE) served from a buffer its owner keeps, so
 * that compressing or decompressing an image allocates nothing once the first has sized it.
 *
 * A bump allocator emptied when libjpeg frees the pool at the end of each image (or on
 * jpeg_abort). What does not fit goes to libjpeg's own allocator, and the arena is grown to fit
 * between images: only the first image (or a larger one) allocates. Used by encoder.c and
 * jpeg-bands.c, one arena per libjpeg object, on that object's thread.
 *
 * The libjpeg object's client_data must point to the arena (jpeg_arena_init() sets it); its owner
 * finds itself from there with container_of().
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <jpeglib.h>

struct jpeg_arena {
        uint8_t *base;
        size_t size, used;
        size_t wanted; /* what this image asked for, fitting or not */
        void *(*alloc_small)(j_common_ptr cinfo, int pool_id, size_t size);
        void *(*alloc_large)(j_common_ptr cinfo, int pool_id, size_t size);
        void (*free_pool)(j_common_ptr cinfo, int pool_id);
};

/**
 * jpeg_arena_init() - serve @cinfo's per-image memory from @a (@size bytes to start with), and
 * point cinfo->client_data at @a. After jpeg_create_compress() or jpeg_create_decompress().
 * Return: 0 or -ENOMEM.
 */
int jpeg_arena_init(struct jpeg_arena *a, j_common_ptr cinfo, size_t size);

/** jpeg_arena_release() - free the buffer (after the libjpeg object is destroyed). */
void jpeg_arena_release(struct jpeg_arena *a);

#define container_of(ptr, type, member) ((type *) ((char *) (ptr) -offsetof(type, member)))
