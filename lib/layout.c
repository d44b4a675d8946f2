/* SPDX-License-Identifier: MIT */
/* layout.c — the take file's datasets, for the writer and recovery (see layout.h). */
#include "layout.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

const struct layout_dataset layout_index[_LAYOUT_IDX_MAX] = {
        [LAYOUT_IDX_OFFSET] = {"stereo/offset", &H5T_NATIVE_UINT64_g},
        [LAYOUT_IDX_TIMESTAMP] = {"stereo/timestamp_ns", &H5T_NATIVE_INT64_g},
        [LAYOUT_IDX_LEFT_TIMESTAMP] = {"stereo/left_timestamp_ns", &H5T_NATIVE_INT64_g},
        [LAYOUT_IDX_RIGHT_TIMESTAMP] = {"stereo/right_timestamp_ns", &H5T_NATIVE_INT64_g},
        [LAYOUT_IDX_LEFT_SEQUENCE] = {"stereo/left_sequence", &H5T_NATIVE_UINT32_g},
        [LAYOUT_IDX_RIGHT_SEQUENCE] = {"stereo/right_sequence", &H5T_NATIVE_UINT32_g},
        [LAYOUT_IDX_SIZE] = {"stereo/size", &H5T_NATIVE_UINT32_g},
};

/* HDF5's metadata cache at one size: by default it starts at 2 MiB and adapts between 1 and
 * 32 MiB, and it keeps what a take adds (the chunk index of each dataset, an extensible array
 * under SWMR, about 10 bytes a chunk) until it is full. A take touches only the datasets' headers
 * and the ends of their chunk indexes, well under this. */
static int set_metadata_cache(hid_t fapl) {
        H5AC_cache_config_t c = {.version = H5AC__CURR_CACHE_CONFIG_VERSION};

        if (H5Pget_mdc_config(fapl, &c) < 0)
                return -EIO;
        c.set_initial_size = true;
        c.initial_size = c.min_size = c.max_size = LAYOUT_METADATA_CACHE;
        c.incr_mode = H5C_incr__off;
        c.flash_incr_mode = H5C_flash_incr__off;
        c.decr_mode = H5C_decr__off;
        return H5Pset_mdc_config(fapl, &c) < 0 ? -EIO : 0;
}

int layout_library_setup(void) {
        return H5set_free_list_limits(LAYOUT_FREE_LIST_ALL, LAYOUT_FREE_LIST_ONE, LAYOUT_FREE_LIST_ALL,
                                      LAYOUT_FREE_LIST_ONE, LAYOUT_FREE_LIST_ALL, LAYOUT_FREE_LIST_ONE) < 0
                       ? -EIO
                       : 0;
}

/* Set by layout_fapl(), through which every take file is created or opened, and cleared by
 * layout_library_release(): with no file since, the library has nothing more to give back. The
 * writer threads set it, the main thread clears it between takes: no lock orders the two. */
static atomic_bool files_since_release;

int layout_library_release(void) {
        ssize_t n_open;
        H5E_auto2_t report;
        void *report_data;
        int r;

        if (!atomic_load(&files_since_release))
                return 0;
        n_open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); /* in every file */
        if (n_open < 0)
                return -EIO;
        if (n_open > 0)
                return -EBUSY;
        if (H5Eget_auto2(H5E_DEFAULT, &report, &report_data) < 0 || H5close() < 0)
                return -EIO;
        atomic_store(&files_since_release, false);
        r = layout_library_setup();                     /* the first call opens the library again */
        H5Eset_auto2(H5E_DEFAULT, report, report_data); /* the caller's, as it was */
        return r < 0 ? r : 1;
}

hid_t layout_fapl(void) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);

        if (fapl < 0)
                return fapl;
        atomic_store(&files_since_release, true);
        /* No raw-data chunk cache, for every dataset of the file: the writer only appends, so a
         * cached chunk is never read back, and unfiltered chunks bypass the cache and go straight
         * to the file. (A per-dataset cache would not last: H5Fstart_swmr_write() reopens every
         * open dataset with the file's defaults before HDF5 1.14, HDFGroup/hdf5#1730, and the
         * default 1 MiB for each of the 8 datasets kept every chunk written until it was full.) */
        if (H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0 ||
            H5Pset_cache(fapl, 0, 0, 0, 1.0) < 0 || set_metadata_cache(fapl) < 0 ||
            H5Pset_metadata_read_attempts(fapl, LAYOUT_READ_ATTEMPTS) < 0) {
                H5Pclose(fapl);
                return -1;
        }
        return fapl;
}

hid_t layout_open(const char *path, unsigned flags, bool clear_status) {
        hid_t fapl = layout_fapl(), file, stack;
        hbool_t clear = 1;

        if (fapl < 0)
                return -1;
        if (clear_status)
                H5Pset(fapl, "clear_status_flags", &clear);
        file = H5Fopen(path, flags, fapl);
        stack = H5Eget_current_stack(); /* H5Pclose() would clear why the open failed */
        H5Pclose(fapl);
        H5Eset_current_stack(stack);
        return file;
}

void layout_close(hid_t index[_LAYOUT_IDX_MAX], hid_t *jpeg, hid_t *file) {
        for (unsigned i = 0; i < _LAYOUT_IDX_MAX; i++)
                if (index[i] > 0)
                        H5Dclose(index[i]);
        memset(index, 0, _LAYOUT_IDX_MAX * sizeof(*index));
        if (*jpeg > 0)
                H5Dclose(*jpeg);
        if (*file > 0)
                H5Fclose(*file);
        *jpeg = *file = 0;
}
