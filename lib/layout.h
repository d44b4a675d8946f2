/* SPDX-License-Identifier: MIT */
/*
 * layout.h — the datasets of a take file, layout version 1 (docs/file-format.md), as the writer
 * makes them and recovery reads them back: one table, so the two cannot drift.
 */
#pragma once

#include <hdf5.h>
#include <stdbool.h>

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

/* HDF5's metadata cache for a take file, fixed (layout_fapl()): small enough to be full within
 * the take's first seconds (its headers and attributes alone fill it), so that what it holds does
 * not grow for an hour (issue 23); large enough to hold what an append touches. */
#define LAYOUT_METADATA_CACHE (16 * 1024)

/* HDF5's free lists (layout_library_setup()): what the library keeps of the memory it freed, for
 * its own reuse, by kind, in all and in any one list; beyond them it goes back to malloc. None:
 * at 32 KiB a kind the factory lists (which share the block lists' limits) filled for 3 minutes
 * of a take and then crept, +53 kB over 50,000 chunks of a standalone SWMR writer against +25 kB
 * with none, at no cost in time (0.33 s against 0.25 s for the 50,000). */
#define LAYOUT_FREE_LIST_ALL 0
#define LAYOUT_FREE_LIST_ONE 0

/* How often a SWMR reader reads a piece of metadata whose checksum fails before it gives up.
 * HDF5's default is 100, sleeping 1 ns, 2 ns, 4 ns ... between attempts: a corrupt file then
 * costs 2^100 ns, the caller's thread asleep for days (one sleep of 274 s was seen). A checksum
 * that fails because the writer is mid-flush passes within milliseconds; 28 attempts sleep
 * 0.27 s in all at most. */
#define LAYOUT_READ_ATTEMPTS 28

/* Bytes of index a frame takes in the file (offset, three timestamps, two sequence numbers, size):
 * a file of B bytes holds at most B / LAYOUT_INDEX_BYTES_PER_FRAME frames, whatever its index
 * claims. Readers bound what they allocate by it: a 7 KB file may claim 5e7 frames. */
#define LAYOUT_INDEX_BYTES_PER_FRAME (8 + 3 * 8 + 2 * 4 + 4)

/**
 * layout_fapl() - file access for takes, the writer's and recovery's: the latest format (SWMR
 * needs it), no raw-data chunk cache, a metadata cache of LAYOUT_METADATA_CACHE bytes that does
 * not grow. So the memory HDF5 holds for a take does not grow with its length.
 * Return: the property list (caller closes it), or negative.
 */
hid_t layout_fapl(void);

/**
 * layout_library_setup() - bound HDF5's free lists to LAYOUT_FREE_LIST_ALL of each kind and
 * LAYOUT_FREE_LIST_ONE a list (none), for the whole process, before it uses HDF5. HDF5 keeps every
 * object it frees in a free list of its kind, 1 to 16 MiB a kind by default: in a daemon that
 * writes for hours the factory lists (the chunk indexes' blocks, freed as the metadata cache
 * evicts them) grew 25 kB a minute, and the start's reading left 1.6 MB in the regular lists
 * (issue 23). Return: 0 or -EIO.
 */
int layout_library_setup(void);

/**
 * layout_library_release() - close HDF5 (H5close()) and set it up again (layout_library_setup()),
 * giving back what the library keeps between files. HDF5 before 1.14.4 keeps a datatype
 * conversion path for every file a variable-length string attribute was written to or read from
 * (the file's type carries the file, so no later file reuses it: HDFGroup/hdf5#1256, mended by
 * #3942), about 1.7 kB a file, until the library closes: a daemon that writes two takes a minute
 * would keep 240 kB more an hour. The caller promises that no other thread calls HDF5 now or
 * until this returns; objects still open are not closed under anyone. The calling thread's
 * automatic error printing (H5Eset_auto2()) is kept as it was. When no file access list was
 * made (layout_fapl()) since the last release, nothing was opened and nothing is done (closing
 * and opening the library costs about 0.5 ms).
 * Return: 1 when closed and set up again; 0 when no file was opened since the last release;
 * -EBUSY when an HDF5 file, dataset, group, datatype or attribute is open (nothing done); -EIO.
 */
int layout_library_release(void);

/**
 * layout_open() - H5Fopen() of the take @path with @flags (H5F_ACC_*) and layout_fapl();
 * @clear_status: clear the flags a SWMR writer that died left (h5clear -s). On failure HDF5's error
 * stack still says why (closing the access list would clear it), for h5_error().
 * Return: the file, or negative.
 */
hid_t layout_open(const char *path, unsigned flags, bool clear_status);

/**
 * layout_close() - close @index (_LAYOUT_IDX_MAX datasets), @jpeg and @file where open, and zero
 * them. Accepts ids that were never opened (0).
 */
void layout_close(hid_t index[_LAYOUT_IDX_MAX], hid_t *jpeg, hid_t *file);
