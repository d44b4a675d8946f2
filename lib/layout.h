/* SPDX-License-Identifier: MIT */
/*
 * layout.h — the datasets of a take file, layout version 1 (docs/file-format.md), as the writer
 * makes them and recovery reads them back: one table, so the two cannot drift.
 */
#pragma once

#include <hdf5.h>

#define LAYOUT_JPEG "stereo/jpeg"

/* The frame index, one entry per frame; LAYOUT_IDX_SIZE is written last: the commit point. */
enum layout_index {
        LAYOUT_IDX_OFFSET,
        LAYOUT_IDX_TIMESTAMP,
        LAYOUT_IDX_LEFT_TIMESTAMP,
        LAYOUT_IDX_RIGHT_TIMESTAMP,
        LAYOUT_IDX_LEFT_SEQUENCE,
        LAYOUT_IDX_RIGHT_SEQUENCE,
        LAYOUT_IDX_SIZE,
        _LAYOUT_IDX_MAX,
};

struct layout_dataset {
        const char *name;
        hid_t *type; /* the H5T_* "constants" are globals that need the library open */
};

extern const struct layout_dataset layout_index[_LAYOUT_IDX_MAX];

/* HDF5's metadata cache for a take file, fixed (layout_fapl()). */
#define LAYOUT_METADATA_CACHE (512 * 1024)

/**
 * layout_fapl() - file access for takes, the writer's and recovery's: the latest format (SWMR
 * needs it), no raw-data chunk cache, a metadata cache of LAYOUT_METADATA_CACHE bytes that does
 * not grow. So the memory HDF5 holds for a take does not grow with its length.
 * Return: the property list (caller closes it), or negative.
 */
hid_t layout_fapl(void);

/**
 * layout_close() - close @index (_LAYOUT_IDX_MAX datasets), @jpeg and @file where open, and zero
 * them. Accepts ids that were never opened (0).
 */
void layout_close(hid_t index[_LAYOUT_IDX_MAX], hid_t *jpeg, hid_t *file);
