/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-info.c — `handrecctl info FILE [--json]`: what a take is, from its attributes and
 * its frame index: hand, status and stop reason, label, task, episode, start time, frames,
 * duration, rates, size, drops, pairing skew, calibration and camera controls. Reads the file
 * itself (no daemon), read-only and never clearing flags: a take being recorded, or one a crash
 * left marked "recording", is opened as a SWMR reader, as `handrecctl check` does. A take being
 * recorded is described as it stands (its committed frames; no final attributes yet).
 */
#include <fcntl.h>
#include <hdf5.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/h5util.h"
#include "../lib/layout.h"
#include "../lib/util.h"
#include "handrecctl.h"

/* What info says of one take. */
struct info_take {
        const char *path;
        char hand[64], status[32], stop_reason[64], label[256], task[1100], episode[80], started_utc[40];
        char operator_[72], verdict[1024];
        char controls[3][1024];
        char cal_model[32];
        bool calibrated;
        int64_t eye_width, eye_height, jpeg_quality, rectified, skew_mean_ns, skew_max_ns;
        int64_t cal_computed;
        double fps_nominal, duration, fps;
        uint64_t frames, bytes, jpeg_bytes, captured, dropped, sequence_gaps, sequence_backwards;
        bool have_counts, have_skew; /* written when the take ended */
};

static const char *const control_names[3] = {"camera_controls", "camera_left_controls", "camera_right_controls"};

/* Entries [@start, @start + @n) of the index dataset @d, as @type, into @buf. Return: whether read. */
static bool read_block(hid_t d, hid_t type, hsize_t start, hsize_t n, void *buf) {
        hid_t space = H5Dget_space(d), mem = H5Screate_simple(1, &n, NULL);
        bool ok = space >= 0 && mem >= 0 && H5Sget_simple_extent_ndims(space) == 1 &&
                  H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &n, NULL) >= 0 &&
                  H5Dread(d, type, mem, space, H5P_DEFAULT, buf) >= 0;

        if (mem >= 0)
                H5Sclose(mem);
        if (space >= 0)
                H5Sclose(space);
        H5Eclear2(H5E_DEFAULT);
        return ok;
}

/* The committed frames: the length of stereo/size (written last of each frame's entries). */
static uint64_t committed_frames(hid_t file) {
        hid_t d = H5Dopen2(file, layout_index[LAYOUT_IDX_SIZE].name, H5P_DEFAULT), space;
        hsize_t n = 0;

        if (d < 0) {
                H5Eclear2(H5E_DEFAULT);
                return 0;
        }
        space = H5Dget_space(d);
        if (space >= 0 && H5Sget_simple_extent_ndims(space) == 1)
                H5Sget_simple_extent_dims(space, &n, NULL);
        if (space >= 0)
                H5Sclose(space);
        H5Dclose(d);
        return n;
}

#define INDEX_BLOCK 4096

/* The sums of the index in blocks of INDEX_BLOCK frames (nothing the size of the take is
 * allocated): first and last timestamps, JPEG bytes, sequence gaps (a number that goes back is not
 * a gap: counted apart). */
static void sum_index(hid_t file, uint64_t n, struct info_take *t) {
        hid_t ds = H5Dopen2(file, layout_index[LAYOUT_IDX_SIZE].name, H5P_DEFAULT);
        hid_t dq = H5Dopen2(file, layout_index[LAYOUT_IDX_LEFT_SEQUENCE].name, H5P_DEFAULT);
        uint32_t size[INDEX_BLOCK], seq[INDEX_BLOCK], prev = 0;

        for (uint64_t i = 0; ds >= 0 && dq >= 0 && i < n; i += INDEX_BLOCK) {
                hsize_t k = MIN(n - i, INDEX_BLOCK);
                if (!read_block(ds, H5T_NATIVE_UINT32, i, k, size) || !read_block(dq, H5T_NATIVE_UINT32, i, k, seq))
                        break;
                for (hsize_t j = 0; j < k; j++) {
                        t->jpeg_bytes += size[j];
                        if (i + j > 0 && seq[j] > prev)
                                t->sequence_gaps += seq[j] - prev - 1;
                        else if (i + j > 0)
                                t->sequence_backwards++;
                        prev = seq[j];
                }
        }
        if (ds >= 0)
                H5Dclose(ds);
        if (dq >= 0)
                H5Dclose(dq);
        H5Eclear2(H5E_DEFAULT);
}

/* Frames, duration, measured rate, JPEG bytes and sequence gaps, from the index. Return: 0, or 1
 * (printed) for an index no take of a file this size can have. */
static int read_index(hid_t file, struct info_take *t) {
        uint64_t n = committed_frames(file);
        int64_t first = 0, last = 0;
        hid_t d;

        if (n > t->bytes / LAYOUT_INDEX_BYTES_PER_FRAME) {
                fprintf(stderr,
                        "handrecctl: %s is not a take handrecd wrote: its index claims %llu frames, more than a file "
                        "of %llu bytes can hold.\n",
                        t->path, (unsigned long long) n, (unsigned long long) t->bytes);
                return 1;
        }
        d = H5Dopen2(file, layout_index[LAYOUT_IDX_TIMESTAMP].name, H5P_DEFAULT);
        if (d >= 0 && n > 0 &&
            (!read_block(d, H5T_NATIVE_INT64, 0, 1, &first) || !read_block(d, H5T_NATIVE_INT64, n - 1, 1, &last)))
                first = last = 0;
        if (d >= 0)
                H5Dclose(d);
        H5Eclear2(H5E_DEFAULT);
        double span = n > 1 && last > first ? (double) (last - first) / 1e9 : 0;

        t->frames = n;
        t->fps = span > 0 ? (double) (n - 1) / span : 0;
        /* as handrec info: first to last timestamp, plus the last frame's period */
        t->duration = n && t->fps_nominal > 0 ? span + 1 / t->fps_nominal : span;
        sum_index(file, n, t);
        return 0;
}

static void read_calibration(hid_t file, struct info_take *t) {
        hid_t g;

        if (H5Lexists(file, "calibration", H5P_DEFAULT) <= 0) {
                H5Eclear2(H5E_DEFAULT);
                return;
        }
        g = H5Gopen2(file, "calibration", H5P_DEFAULT);
        if (g >= 0) {
                t->calibrated = h5_attr_read_string(g, "model", t->cal_model, sizeof(t->cal_model)) == 0;
                h5_attr_read_number(g, "rectification_computed", H5T_NATIVE_INT64, &t->cal_computed);
                H5Gclose(g);
        }
        H5Eclear2(H5E_DEFAULT);
}

static void read_attributes(hid_t file, struct info_take *t) {
        h5_attr_read_string(file, "hand", t->hand, sizeof(t->hand));
        h5_attr_read_string(file, "status", t->status, sizeof(t->status));
        h5_attr_read_string(file, "stop_reason", t->stop_reason, sizeof(t->stop_reason));
        h5_attr_read_string(file, "label", t->label, sizeof(t->label));
        h5_attr_read_string(file, "task", t->task, sizeof(t->task));
        h5_attr_read_string(file, "episode", t->episode, sizeof(t->episode));
        h5_attr_read_string(file, "started_utc", t->started_utc, sizeof(t->started_utc));
        h5_attr_read_string(file, "operator", t->operator_, sizeof(t->operator_));
        h5_attr_read_string(file, "qc_verdict", t->verdict, sizeof(t->verdict));
        for (unsigned i = 0; i < ELEMENTSOF(control_names); i++)
                h5_attr_read_string(file, control_names[i], t->controls[i], sizeof(t->controls[i]));
        h5_attr_read_number(file, "eye_width", H5T_NATIVE_INT64, &t->eye_width);
        h5_attr_read_number(file, "eye_height", H5T_NATIVE_INT64, &t->eye_height);
        h5_attr_read_number(file, "jpeg_quality", H5T_NATIVE_INT64, &t->jpeg_quality);
        h5_attr_read_number(file, "rectified", H5T_NATIVE_INT64, &t->rectified);
        h5_attr_read_number(file, "fps_nominal", H5T_NATIVE_DOUBLE, &t->fps_nominal);
        t->have_counts = h5_attr_read_number(file, "frames_captured", H5T_NATIVE_UINT64, &t->captured) &&
                         h5_attr_read_number(file, "frames_dropped", H5T_NATIVE_UINT64, &t->dropped);
        t->have_skew = h5_attr_read_number(file, "pair_skew_mean_ns", H5T_NATIVE_INT64, &t->skew_mean_ns) &&
                       h5_attr_read_number(file, "pair_skew_max_ns", H5T_NATIVE_INT64, &t->skew_max_ns);
        H5Eclear2(H5E_DEFAULT);
}

/* Whether @path begins with HDF5's signature (where handrecd's files have it: at 0). */
static bool has_hdf5_signature(const char *path) {
        static const char sig[8] = "\211HDF\r\n\032\n";
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[8];

        return fd >= 0 && read(fd, buf, sizeof(buf)) == (ssize_t) sizeof(buf) && memcmp(buf, sig, sizeof(sig)) == 0;
}

/* Open @path read-only: plainly, else as a SWMR reader (being recorded, or left by a crash); flags untouched. */
static hid_t open_readonly(const char *path) {
        hid_t file = layout_open(path, H5F_ACC_RDONLY, false);

        if (file < 0) {
                H5Eclear2(H5E_DEFAULT);
                file = layout_open(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, false);
        }
        return file;
}

/* Read @t->path into @t. Return: 0, or 1 with the reason printed. */
static int read_take_info(struct info_take *t) {
        char format[32] = "", error[PATH_MAX + 512];
        struct stat st = {};
        hid_t file;

        if (stat(t->path, &st) < 0 || !S_ISREG(st.st_mode)) {
                fprintf(stderr, "handrecctl: %s: %s.\n", t->path,
                        S_ISREG(st.st_mode) || !st.st_mode ? strerror(errno) : "not a regular file");
                return 1;
        }
        t->bytes = (uint64_t) st.st_size;
        if (!has_hdf5_signature(t->path)) {
                fprintf(stderr, "handrecctl: %s is not an HDF5 file, so not a handrec take.\n", t->path);
                return 1;
        }
        file = open_readonly(t->path);
        if (file < 0) {
                h5_error(error, sizeof(error), "Cannot open", t->path);
                fprintf(stderr, "handrecctl: %s\n", error);
                return 1;
        }
        h5_attr_read_string(file, "format", format, sizeof(format));
        if (!streq(format, "handrec")) {
                H5Fclose(file);
                fprintf(stderr, "handrecctl: %s is an HDF5 file but not a handrec take (no format=\"handrec\").\n",
                        t->path);
                return 1;
        }
        read_attributes(file, t);
        if (read_index(file, t)) {
                H5Fclose(file);
                return 1;
        }
        read_calibration(file, t);
        H5Fclose(file);
        return 0;
}

static void print_text(const struct info_take *t) {
        printf("%s\n", t->path);
        printf("  hand %s, status %s%s%s%s%s\n", t->hand, t->status, t->stop_reason[0] ? " (" : "", t->stop_reason,
               t->stop_reason[0] ? ")" : "",
               streq(t->status, "recording") ? " (being recorded, or left by a crash)" : "");
        printf("  started %s, label \"%s\", episode %s, task \"%s\"%s%s\n", t->started_utc, t->label,
               t->episode[0] ? t->episode : "none", t->task, t->operator_[0] ? ", operator " : "", t->operator_);
        printf("  %llu frames, %.2f s, %.2f fps (nominal %g), %lldx%lld per eye, JPEG quality %lld\n",
               (unsigned long long) t->frames, t->duration, t->fps, t->fps_nominal, (long long) t->eye_width,
               (long long) t->eye_height, (long long) t->jpeg_quality);
        printf("  %.1f MB on disk, %.1f kB per frame\n", (double) t->bytes / 1e6,
               t->frames ? (double) t->jpeg_bytes / (double) t->frames / 1e3 : 0.0);
        if (t->have_counts)
                printf("  captured %llu, dropped %llu\n", (unsigned long long) t->captured,
                       (unsigned long long) t->dropped);
        if (t->sequence_gaps)
                printf("  %llu frames missing in the sequence numbers\n", (unsigned long long) t->sequence_gaps);
        if (t->sequence_backwards)
                printf("  %llu times the sequence numbers went back (a camera that restarted them)\n",
                       (unsigned long long) t->sequence_backwards);
        if (t->verdict[0])
                printf("  quality: %s\n", t->verdict);
        if (t->have_skew)
                printf("  pairing skew: mean %.3f ms, max %.3f ms\n", (double) t->skew_mean_ns / 1e6,
                       (double) t->skew_max_ns / 1e6);
        if (t->calibrated)
                printf("  calibration: %s, %lldx%lld, %s\n", t->cal_model, (long long) t->eye_width,
                       (long long) t->eye_height, t->rectified ? "rectified" : "not rectified (raw frames)");
        else
                printf("  calibration: none%s\n", t->rectified ? "" : " (raw frames)");
        for (unsigned i = 0; i < ELEMENTSOF(control_names); i++)
                if (t->controls[i][0])
                        printf("  %s: %s\n", control_names[i], t->controls[i]);
}

static json_object *json_calibration(const struct info_take *t) {
        json_object *c;

        if (!t->calibrated)
                return NULL; /* null */
        c = json_object_new_object();
        json_object_object_add(c, "model", json_object_new_string(t->cal_model));
        json_object_object_add(c, "width", json_object_new_int64(t->eye_width));
        json_object_object_add(c, "height", json_object_new_int64(t->eye_height));
        json_object_object_add(c, "rectified", json_object_new_boolean(t->rectified != 0));
        return c;
}

static json_object *json_info(const struct info_take *t) {
        json_object *o = json_object_new_object(), *controls = json_object_new_object();

#define ADD(key, v) json_object_object_add(o, key, v)
        ADD("file", json_object_new_string(t->path));
        ADD("hand", json_object_new_string(t->hand));
        ADD("status", json_object_new_string(t->status));
        ADD("stop_reason", json_object_new_string(t->stop_reason));
        ADD("label", json_object_new_string(t->label));
        ADD("task", json_object_new_string(t->task));
        ADD("episode", json_object_new_string(t->episode));
        ADD("started_utc", json_object_new_string(t->started_utc));
        ADD("operator", json_object_new_string(t->operator_));
        ADD("qc_verdict", json_object_new_string(t->verdict));
        ADD("frames", json_object_new_int64((int64_t) t->frames));
        ADD("duration", json_new_double(t->duration));
        ADD("fps_measured", json_new_double(t->fps));
        ADD("fps_nominal", json_new_double(t->fps_nominal));
        ADD("eye_width", json_object_new_int64(t->eye_width));
        ADD("eye_height", json_object_new_int64(t->eye_height));
        ADD("jpeg_quality", json_object_new_int64(t->jpeg_quality));
        ADD("rectified", json_object_new_boolean(t->rectified != 0));
        ADD("bytes", json_object_new_int64((int64_t) t->bytes));
        ADD("jpeg_bytes", json_object_new_int64((int64_t) t->jpeg_bytes));
        ADD("sequence_gaps", json_object_new_int64((int64_t) t->sequence_gaps));
        ADD("frames_captured", t->have_counts ? json_object_new_int64((int64_t) t->captured) : NULL);
        ADD("frames_dropped", t->have_counts ? json_object_new_int64((int64_t) t->dropped) : NULL);
        ADD("pair_skew_mean_ns", t->have_skew ? json_object_new_int64(t->skew_mean_ns) : NULL);
        ADD("pair_skew_max_ns", t->have_skew ? json_object_new_int64(t->skew_max_ns) : NULL);
        ADD("calibration", json_calibration(t));
        for (unsigned i = 0; i < ELEMENTSOF(control_names); i++)
                json_object_object_add(controls, control_names[i], json_object_new_string(t->controls[i]));
        ADD("camera_controls", controls);
#undef ADD
        return o;
}

int run_info(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct args a = {};
        struct info_take t = {};
        int r = parse_args("info", argc, argv, &a);

        if (r == -1) {
                printf("Usage: handrecctl info FILE [--json]\n\n"
                       "Describe a take: hand, status and stop reason, start time, label, episode, task, frames,\n"
                       "duration, frame rates, size, drops, pairing skew, calibration and camera controls. Reads\n"
                       "the file itself, read-only: a take being recorded, or one a crash left unfinished, is\n"
                       "described as it stands. --json prints one object (keys in handrecctl(1)).\n"
                       "Exits 1 when FILE is missing, not HDF5, or not a handrec take.\n");
                return 0;
        }
        if (r)
                return r;
        if (!a.file)
                return usage_error("info", "no FILE given");
        t.path = a.file;
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        if ((r = read_take_info(&t)))
                return r;
        if (!a.json) {
                print_text(&t);
                return fflush(stdout) == 0 ? 0 : 1;
        }
        o = json_info(&t);
        return json_print(o);
}
