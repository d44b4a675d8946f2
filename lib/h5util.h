/* SPDX-License-Identifier: MIT */
/* h5util.h — HDF5 helpers shared by writer.c and recover.c. */
#pragma once

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * h5_error() - "<what> <path>: <the system's reason> (HDF5: <innermost message>)" into @error,
 * on one line, from errno and HDF5's error stack (which it clears).
 */
void h5_error(char *error, size_t len, const char *what, const char *path);

/** h5_error_has() - whether HDF5's error stack (left as it is) holds an error of minor class @minor. */
bool h5_error_has(hid_t minor);

/* Scalar attributes of @obj, created or overwritten. Return: 0 or -EIO. */
int h5_attr_write(hid_t obj, const char *name, hid_t type, const void *value);
int h5_attr_string(hid_t obj, const char *name, const char *value);
int h5_attr_i64(hid_t obj, const char *name, int64_t v);
int h5_attr_u64(hid_t obj, const char *name, uint64_t v);
int h5_attr_double(hid_t obj, const char *name, double v);

/** h5_attr_read_string() - a variable-length string attribute. Return: 0, -ENOENT, -EIO. */
int h5_attr_read_string(hid_t obj, const char *name, char *buf, size_t len);

/**
 * h5_attr_read_number() - the numeric attribute @name of @obj into *@ret as @type (HDF5
 * converts), when it exists and holds one value (h5_attr_single()); *@ret is left as it is
 * otherwise. HDF5's error stack is cleared. Return: whether it was read.
 */
bool h5_attr_read_number(hid_t obj, const char *name, hid_t type, void *ret);

/**
 * h5_attr_single() - whether the open attribute @a holds one value (a scalar, or one element), as
 * every attribute of a take does: H5Aread() writes them all, so an array of 16 read into one
 * variable would write past it. Check before reading a file that may be damaged or hostile.
 */
bool h5_attr_single(hid_t a);
