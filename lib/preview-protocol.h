/* SPDX-License-Identifier: MIT */
/*
 * preview-protocol.h — what handrecd writes on the file descriptor OpenPreview() returns, and
 * what every reader (handrecctl preview and snapshot, tests, anyone's program) reads from it.
 *
 * The descriptor is one end of a local stream socket (AF_UNIX, SOCK_STREAM). The daemon writes
 * frames, each a fixed header then the JPEG bytes, back to back, and nothing else:
 *
 *   struct preview_header   40 bytes, little-endian (the byte order of every board we run on)
 *   uint8_t jpeg[size]       one baseline JPEG, 4:2:0, width × height, both eyes side by side
 *
 * A reader that falls behind gets fewer frames, never partial or stale ones: the daemon finishes
 * the frame it has begun on a descriptor and skips the frames that come while it is still
 * writing. It never blocks on a reader. The stream ends (EOF) when the daemon stops the preview:
 * the reader closed its end, the hand was removed (reload), or the daemon is quitting; a reader
 * closing its end is how a preview is stopped. Version bumps change the magic.
 */
#pragma once

#include <stdint.h>

#define PREVIEW_MAGIC "HRP1"

enum {
        PREVIEW_RECTIFIED = 1u << 0, /* the image was rectified */
        PREVIEW_GUIDES = 1u << 1,    /* horizontal guide lines were drawn across both eyes */
        PREVIEW_RECORDING = 1u << 2, /* the hand was recording when the frame was captured */
};

struct preview_header {
        char magic[4];        /* PREVIEW_MAGIC, no NUL */
        uint32_t size;        /* bytes of JPEG that follow */
        uint32_t width;       /* of the JPEG: both eyes side by side */
        uint32_t height;      /* of the JPEG */
        int64_t timestamp_ns; /* capture time, CLOCK_MONOTONIC of the daemon's host */
        uint64_t number;      /* the source's frame number (gaps: frames this reader did not get) */
        uint32_t flags;       /* PREVIEW_* */
        uint32_t reserved;    /* 0 */
};

_Static_assert(sizeof(struct preview_header) == 40, "the preview header is 40 bytes on every ABI");
