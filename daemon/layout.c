/* SPDX-License-Identifier: MIT */
/* layout.c — the take file's datasets, for the writer and recovery (see layout.h). */
#include "layout.h"

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

hid_t layout_fapl(void) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);

        H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
        return fapl;
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
