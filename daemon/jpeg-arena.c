/* SPDX-License-Identifier: MIT */
/* jpeg-arena.c — libjpeg's per-image pool from a buffer kept between images; see jpeg-arena.h. */
#include "jpeg-arena.h"

#include <errno.h>
#include <stdlib.h>

#define ARENA_ALIGN 64 /* libjpeg-turbo's SIMD code needs 32 */
#define ROUND_UP(x, a) (((x) + (a) -1) / (a) * (a))

static struct jpeg_arena *arena_of(j_common_ptr cinfo) {
        return cinfo->client_data;
}

static void *arena_get(j_common_ptr cinfo, size_t size) {
        struct jpeg_arena *a = arena_of(cinfo);

        size = ROUND_UP(size, ARENA_ALIGN);
        a->wanted += size;
        if (!a->base || size > a->size - a->used)
                return NULL;
        a->used += size;
        return a->base + a->used - size;
}

static void *arena_alloc_small(j_common_ptr cinfo, int pool_id, size_t size) {
        void *p = pool_id == JPOOL_IMAGE ? arena_get(cinfo, size) : NULL;

        return p ? p : arena_of(cinfo)->alloc_small(cinfo, pool_id, size);
}

static void *arena_alloc_large(j_common_ptr cinfo, int pool_id, size_t size) {
        void *p = pool_id == JPOOL_IMAGE ? arena_get(cinfo, size) : NULL;

        return p ? p : arena_of(cinfo)->alloc_large(cinfo, pool_id, size);
}

/* libjpeg frees JPOOL_IMAGE at the end of every image (jpeg_finish_*, jpeg_abort) */
static void arena_free_pool(j_common_ptr cinfo, int pool_id) {
        struct jpeg_arena *a = arena_of(cinfo);

        a->free_pool(cinfo, pool_id);
        if (pool_id != JPOOL_IMAGE)
                return;
        if (a->wanted > a->size) {
                size_t size = ROUND_UP(a->wanted, ARENA_ALIGN);
                uint8_t *base = aligned_alloc(ARENA_ALIGN, size);

                if (base) {
                        free(a->base);
                        a->base = base;
                        a->size = size;
                }
        }
        a->used = a->wanted = 0;
}

int jpeg_arena_init(struct jpeg_arena *a, j_common_ptr cinfo, size_t size) {
        struct jpeg_memory_mgr *mem = cinfo->mem;

        a->base = aligned_alloc(ARENA_ALIGN, ROUND_UP(size, ARENA_ALIGN));
        if (!a->base)
                return -ENOMEM;
        a->size = ROUND_UP(size, ARENA_ALIGN);
        a->used = a->wanted = 0;
        a->alloc_small = mem->alloc_small;
        a->alloc_large = mem->alloc_large;
        a->free_pool = mem->free_pool;
        mem->alloc_small = arena_alloc_small;
        mem->alloc_large = arena_alloc_large;
        mem->free_pool = arena_free_pool;
        cinfo->client_data = a;
        return 0;
}

void jpeg_arena_release(struct jpeg_arena *a) {
        free(a->base);
        a->base = NULL;
        a->size = 0;
}
