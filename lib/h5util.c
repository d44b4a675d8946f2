/* SPDX-License-Identifier: MIT */
/*
 * h5util.c — small HDF5 helpers shared by the writer and recovery: one-line error messages from
 * HDF5's error stack, and scalar attributes written and read.
 */
#include "h5util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct error_walk {
        char detail[256]; /* the innermost message */
        int system;       /* the errno a system call of the innermost error failed with, or 0 */
};

/* The innermost HDF5 error: its message, for the log and for LastError, and the system's errno
 * when a system call failed there (HDF5's file driver says "errno = N" in its message). */
static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
        struct error_walk *w = data;
        const char *at;

        if (n != 0)
                return 0;
        snprintf(w->detail, sizeof(w->detail), "%s (%s)", e->desc ?: "?", e->func_name ?: "?");
        at = e->desc ? strstr(e->desc, "errno = ") : NULL;
        w->system = at ? atoi(at + 8) : 0;
        return 0;
}

/* "<what> <path>: <the system's reason> (HDF5: <innermost HDF5 message>)", on one line. The
 * system's reason: the errno HDF5 names when a system call failed; when HDF5's stack says nothing
 * (a later call cleared it), errno, which the callers zero before the call that fails; never errno
 * beside an HDF5 error that is not a system call's (errno is then whatever HDF5 left there while
 * probing: "No such file or directory" for a corrupt superblock). */
void h5_error(char *error, size_t len, const char *what, const char *path) {
        struct error_walk w = {.detail = ""};
        char *detail = w.detail;
        int saved = errno;

        H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
        if (!detail[0]) {
                snprintf(detail, sizeof(w.detail), "unknown HDF5 error");
                w.system = saved;
        }
        for (char *p = detail; *p; p++)
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        *p = ' ';
        if (w.system)
                snprintf(error, len, "%s %s: %s (HDF5: %s)", what, path, strerror(w.system), detail);
        else
                snprintf(error, len, "%s %s: %s", what, path, detail);
        H5Eclear2(H5E_DEFAULT);
}

struct error_class {
        hid_t minor;
        bool found;
};

static herr_t has_cb(unsigned n, const H5E_error2_t *e, void *data) {
        struct error_class *c = data;

        (void) n;
        c->found = c->found || e->min_num == c->minor;
        return 0;
}

bool h5_error_has(hid_t minor) {
        struct error_class c = {.minor = minor};

        H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, has_cb, &c);
        return c.found;
}

int h5_attr_write(hid_t obj, const char *name, hid_t type, const void *value) {
        hid_t space = H5Screate(H5S_SCALAR), a;
        herr_t r;

        if (H5Aexists(obj, name) > 0)
                a = H5Aopen(obj, name, H5P_DEFAULT);
        else
                a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(space);
        if (a < 0)
                return -EIO;
        r = H5Awrite(a, type, value);
        H5Aclose(a);
        return r < 0 ? -EIO : 0;
}

int h5_attr_string(hid_t obj, const char *name, const char *value) {
        hid_t t = H5Tcopy(H5T_C_S1);
        int r;

        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        r = h5_attr_write(obj, name, t, &value);
        H5Tclose(t);
        return r;
}

int h5_attr_i64(hid_t obj, const char *name, int64_t v) {
        return h5_attr_write(obj, name, H5T_NATIVE_INT64, &v);
}

int h5_attr_u64(hid_t obj, const char *name, uint64_t v) {
        return h5_attr_write(obj, name, H5T_NATIVE_UINT64, &v);
}

int h5_attr_double(hid_t obj, const char *name, double v) {
        return h5_attr_write(obj, name, H5T_NATIVE_DOUBLE, &v);
}

bool h5_attr_single(hid_t a) {
        hid_t space = H5Aget_space(a);
        hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;

        if (space >= 0)
                H5Sclose(space);
        return n == 1;
}

int h5_attr_read_string(hid_t obj, const char *name, char *buf, size_t len) {
        hid_t a, t;
        char *v = NULL;
        int r = -EIO;

        if (H5Aexists(obj, name) <= 0)
                return -ENOENT;
        a = H5Aopen(obj, name, H5P_DEFAULT);
        if (a < 0)
                return -EIO;
        t = H5Aget_type(a);
        if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0 && h5_attr_single(a) &&
            H5Aread(a, t, &v) >= 0) {
                snprintf(buf, len, "%s", v ? v : "");
                H5free_memory(v);
                r = 0;
        }
        if (t >= 0)
                H5Tclose(t);
        H5Aclose(a);
        return r;
}

bool h5_attr_read_number(hid_t obj, const char *name, hid_t type, void *ret) {
        hid_t a;
        bool ok = false;

        if (H5Aexists(obj, name) <= 0) {
                H5Eclear2(H5E_DEFAULT);
                return false;
        }
        a = H5Aopen(obj, name, H5P_DEFAULT);
        if (a >= 0) {
                ok = h5_attr_single(a) && H5Aread(a, type, ret) >= 0;
                H5Aclose(a);
        }
        H5Eclear2(H5E_DEFAULT);
        return ok;
}
