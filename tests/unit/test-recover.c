/* SPDX-License-Identifier: MIT */
/* recover.c and h5util.c on take files of another shape than handrecd writes: attributes that are
 * arrays, an index dataset of two dimensions. Each once wrote past a variable (found while writing
 * tests/fuzz/fuzz-take-file.c; its regressions/take-file/ holds real takes made so). The frames
 * here are not JPEG: what is checked is that nothing overflows (this build has AddressSanitizer)
 * and what each refusal says. */
#include <errno.h>
#include <hdf5.h>
#include <unistd.h>

#include "../../lib/h5util.h"
#include "../../lib/layout.h"
#include "../../lib/recover.h"
#include "../../lib/util.h"
#include "test.h"

static char dir[] = "/tmp/handrec-test-recover-XXXXXX";

#define FRAMES 4

/* A 1-D growing dataset @name of @type holding FRAMES (@rows of @cols) zeros. */
static void add_dataset(hid_t f, const char *name, hid_t type, unsigned cols) {
        hsize_t dims[2] = {FRAMES, cols}, max[2] = {H5S_UNLIMITED, cols}, chunk[2] = {16, cols};
        int rank = cols ? 2 : 1;
        hid_t space = H5Screate_simple(rank, dims, max), dcpl = H5Pcreate(H5P_DATASET_CREATE), d;
        uint64_t zeros[FRAMES * 4] = {0};

        H5Pset_chunk(dcpl, rank, chunk);
        d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        CHECK(d >= 0);
        if (type != H5T_NATIVE_UINT8)
                CHECK(H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros) >= 0);
        H5Dclose(d);
        H5Pclose(dcpl);
        H5Sclose(space);
}

/* An attribute @name of @n elements (from @values, of @type) on @f. */
static void add_array_attr(hid_t f, const char *name, hid_t type, hsize_t n, const void *values) {
        hid_t space = H5Screate_simple(1, &n, NULL), a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);

        CHECK(a >= 0 && H5Awrite(a, type, values) >= 0);
        H5Aclose(a);
        H5Sclose(space);
}

/* A take's datasets, with @size_cols columns in stereo/size (0: 1-D, as handrecd writes it). */
static void make_take(const char *path, unsigned size_cols) {
        hid_t fapl = layout_fapl(), f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), g;

        CHECK(f >= 0);
        g = H5Gcreate2(f, "stereo", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(g);
        add_dataset(f, LAYOUT_JPEG, H5T_NATIVE_UINT8, 0);
        for (unsigned i = 0; i < _LAYOUT_IDX_MAX; i++)
                add_dataset(f, layout_index[i].name, *layout_index[i].type, i == LAYOUT_IDX_SIZE ? size_cols : 0);
        CHECK(h5_attr_string(f, "format", "handrec") == 0);
        H5Fclose(f);
        H5Pclose(fapl);
}

TEST(attributes_that_are_arrays_are_not_read_into_one_value) {
        const char *status[4] = {"recording", "a", "b", "c"};
        int64_t eye[16] = {320, 240};
        double fps[16] = {30};
        char path[256], error[RECOVER_ERROR_MAX], text[32] = "x";
        struct take_check c;
        hid_t f, t = H5Tcopy(H5T_C_S1);

        snprintf(path, sizeof(path), "%s/arrays.h5", dir);
        make_take(path, 0);
        f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        H5Tset_size(t, H5T_VARIABLE);
        add_array_attr(f, "status", t, 4, status);
        add_array_attr(f, "eye_width", H5T_NATIVE_INT64, 16, eye);
        add_array_attr(f, "fps_nominal", H5T_NATIVE_DOUBLE, 16, fps);
        H5Tclose(t);
        /* 4 pointers into one */
        CHECK_EQ_INT(h5_attr_read_string(f, "status", text, sizeof(text)), -EIO);
        H5Fclose(f);
        /* 16 numbers into eye_width, which the scan's other fields follow; the frames are zeros */
        CHECK_EQ_INT(recover_check(path, &c, NULL, NULL, error, sizeof(error)), -EBADMSG);
        CHECK(streq(c.status, ""));
        CHECK_CONTAINS(c.problem, "frame 0 ");
        unlink(path);
}

TEST(an_index_dataset_of_two_dimensions_is_refused) {
        char path[256], error[RECOVER_ERROR_MAX];
        struct take_check c;

        snprintf(path, sizeof(path), "%s/size-2d.h5", dir);
        make_take(path, 4);
        CHECK_EQ_INT(recover_check(path, &c, NULL, NULL, error, sizeof(error)), -EBADMSG);
        CHECK_CONTAINS(error, "/stereo/size is not one-dimensional");
        unlink(path);
}

int main(void) {
        static const struct test tests[] = {T(attributes_that_are_arrays_are_not_read_into_one_value),
                                            T(an_index_dataset_of_two_dimensions_is_refused)};
        int r;

        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        CHECK(mkdtemp(dir) != NULL);
        r = test_main("recover", tests, ELEMENTSOF(tests));
        rmdir(dir);
        return r;
}
