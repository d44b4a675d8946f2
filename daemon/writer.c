/* SPDX-License-Identifier: MIT */
/*
 * writer.c — HDF5 file layout version 1, written in SWMR mode.
 *
 * SWMR allows a writer only to append raw data to datasets that exist: every attribute and
 * dataset is created before H5Fstart_swmr_write(), and the final attributes (status="complete",
 * stop_reason, counts) are written after the SWMR file is closed, by reopening it normally. A
 * writer killed at any moment therefore leaves status="recording" and every flushed frame.
 */
#include "writer.h"

#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/calibration.h"
#include "../lib/h5util.h"
#include "../lib/layout.h"
#include "../lib/util.h"
#include "../lib/version.h"

#define JPEG_CHUNK WRITER_JPEG_CHUNK
#define INDEX_CHUNK 1024

struct writer {
        char *path; /* for messages; the file is opened through open_path */
        int fd;     /* the reserved file (takefile.h), borrowed; -1: opened by name (tests) */
        char open_path[64 + PATH_MAX];
        hid_t file;
        hid_t jpeg;
        hid_t index[_LAYOUT_IDX_MAX];
        uint64_t frames;   /* in the file: indexed */
        uint64_t bytes;    /* their JPEG bytes */
        uint64_t data_end; /* bytes in /stereo/jpeg, the pending frames' too */
        unsigned pending;  /* frames whose bytes are written, not yet indexed (writer_put()) */
        uint64_t syncs;    /* writer_sync() calls, and the time they took: the cost of durability */
        int64_t sync_ns;
        unsigned batch_size;
        double fps_nominal;
        /* over the frames stored: the first and last timestamp, |left − right| summed and largest */
        int64_t first_ns, last_ns;
        uint64_t skew_sum_ns;
        int64_t skew_max_ns;
        /* one batch of index values (the pending frames'), allocated at creation */
        uint64_t *offsets;
        int64_t *stamps[3];
        uint32_t *seqs[2];
        uint32_t *sizes;
};

/* Whether the file HDF5 has open is the reserved one (device and inode), not a file a link
 * planted in the folder leads to. Files opened by name (fd < 0) are trusted. */
static bool is_reserved_file(const struct writer *w, hid_t file) {
        struct stat a, b;
        void *handle = NULL;

        if (w->fd < 0)
                return true;
        if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || !handle)
                return false;
        return fstat(*(int *) handle, &a) == 0 && fstat(w->fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* A 1-D dataset that grows by appending. No chunk cache (layout_fapl()): each append goes
 * straight to the file, so nothing a take writes stays in memory. @no_fill: a new chunk is not
 * first written whole with the fill value (zeros) before the bytes that start it: HDF5 would
 * hold a chunk-sized buffer for that (512 KiB for the JPEG bytes, kept on its free list) and
 * write every chunk twice. Only for the JPEG bytes, which are read only where the index says. */
static hid_t create_growing(hid_t file, const char *name, hid_t type, hsize_t chunk, bool no_fill) {
        hsize_t dims = 0, maxdims = H5S_UNLIMITED;
        hid_t space = H5Screate_simple(1, &dims, &maxdims);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), d;

        H5Pset_chunk(dcpl, 1, &chunk);
        if (no_fill)
                H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
        d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Pclose(dcpl);
        H5Sclose(space);
        return d;
}

/* A V4L2 camera: its format, devices and the controls in force when it was opened, as the
 * source thread read them (camera_controls for a side-by-side device, camera_left_controls and
 * camera_right_controls for a pair; "" for what it has not). */
static int write_camera(hid_t file, const struct take_camera *cam) {
        const char *const names[] = {"camera_controls", "camera_left_controls", "camera_right_controls"};
        int r = 0;

        r |= h5_attr_string(file, "camera_format", cam->format ?: "");
        r |= h5_attr_string(file, "camera_device", cam->device ?: "");
        r |= h5_attr_string(file, "camera_left_device", cam->left_device ?: "");
        r |= h5_attr_string(file, "camera_right_device", cam->right_device ?: "");
        for (unsigned i = 0; i < ELEMENTSOF(names); i++)
                r |= h5_attr_string(file, names[i], cam->controls[i] ?: "");
        return r;
}

static int write_root_attributes(hid_t file, const struct take_info *info) {
        char host[256] = "";
        int r = 0;

        gethostname(host, sizeof(host) - 1);
        r |= h5_attr_string(file, "format", "handrec");
        r |= h5_attr_i64(file, "format_version", 1);
        r |= h5_attr_string(file, "hand", info->hand);
        r |= h5_attr_string(file, "status", "recording");
        r |= h5_attr_string(file, "stop_reason", "");
        r |= h5_attr_string(file, "started_utc", info->started_utc);
        r |= h5_attr_string(file, "software_version", HANDREC_VERSION);
        r |= h5_attr_string(file, "host", host);
        r |= h5_attr_i64(file, "eye_width", info->eye_width);
        r |= h5_attr_i64(file, "eye_height", info->eye_height);
        r |= h5_attr_string(file, "layout", "side-by-side");
        r |= h5_attr_i64(file, "jpeg_quality", info->camera_jpeg ? 0 : info->jpeg_quality);
        r |= h5_attr_i64(file, "rectified", info->rectified);
        r |= h5_attr_double(file, "fps_nominal", info->fps_nominal);
        r |= h5_attr_string(file, "clock", "CLOCK_MONOTONIC");
        r |= h5_attr_i64(file, "monotonic_to_utc_ns", info->monotonic_to_utc_ns);
        r |= h5_attr_i64(file, "started_monotonic_ns", info->started_monotonic_ns);
        r |= h5_attr_string(file, "boot_id", info->boot_id ?: "");
        /* durability: a frame is on the disk at most batch_timeout + sync_interval after capture */
        r |= h5_attr_double(file, "sync_interval_s", info->sync_interval);
        r |= h5_attr_double(file, "batch_timeout_s", info->batch_timeout);
        r |= h5_attr_string(file, "config", info->config_text ?: "");
        r |= h5_attr_string(file, "label", info->label);
        if (info->episode && info->episode[0])
                r |= h5_attr_string(file, "episode", info->episode);
        if (info->task && info->task[0])
                r |= h5_attr_string(file, "task", info->task);
        if (info->operator_ && info->operator_[0])
                r |= h5_attr_string(file, "operator", info->operator_);
        r |= h5_attr_string(file, "source", info->source ?: "");
        r |= h5_attr_string(file, "jpeg_origin", info->camera_jpeg ? "camera" : "handrecd");
        if (info->camera)
                r |= write_camera(file, info->camera);
        r |= h5_attr_string(file, "index_commit", layout_index[LAYOUT_IDX_SIZE].name);
        return r ? -EIO : 0;
}

static int write_matrix(hid_t g, const char *name, const double *v, hsize_t rows, hsize_t cols) {
        hsize_t dims[2] = {rows, cols};
        hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL);
        hid_t d = H5Dcreate2(g, name, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        herr_t r = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        if (d >= 0)
                H5Dclose(d);
        H5Sclose(space);
        return r < 0 ? -EIO : 0;
}

/* /calibration: what a take needs to be re-rectified or un-rectified later */
static int write_calibration(hid_t file, const struct calibration *c) {
        hid_t g = H5Gopen2(file, "calibration", H5P_DEFAULT);
        int r = 0;

        if (g < 0)
                return -EIO;
        r |= h5_attr_string(g, "model", calibration_distortion_model_to_string(c->model));
        r |= h5_attr_string(g, "files", c->files ?: "");
        r |= h5_attr_string(g, "text", c->text ?: "");
        r |= h5_attr_i64(g, "rectification_computed", c->computed);
        for (unsigned e = 0; e < 2; e++) {
                hid_t eg = H5Gcreate2(g, e ? "right" : "left", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                if (eg < 0) {
                        r = -EIO;
                        break;
                }
                r |= write_matrix(eg, "K", c->eye[e].K, 3, 3);
                r |= write_matrix(eg, "D", c->eye[e].D, c->eye[e].n_d, 0);
                r |= write_matrix(eg, "R", c->eye[e].R, 3, 3);
                r |= write_matrix(eg, "P", c->eye[e].P, 3, 4);
                H5Gclose(eg);
        }
        if (c->have_extrinsics) {
                r |= write_matrix(g, "R", c->R, 3, 3);
                r |= write_matrix(g, "T", c->T, 3, 0);
        }
        H5Gclose(g);
        return r ? -EIO : 0;
}

/* Close every dataset and the SWMR file; the struct stays for the reopen. */
static void close_swmr(struct writer *w) {
        layout_close(w->index, &w->jpeg, &w->file);
}

static struct writer *writer_free(struct writer *w) {
        if (!w)
                return NULL;
        close_swmr(w);
        free(w->offsets);
        free(w->path);
        free(w);
        return NULL;
}

/* The writer and its batch of index values (one block: 8+8+8+8 + 4+4+4 bytes a frame). */
static struct writer *writer_alloc(const char *path, int fd, unsigned batch_size) {
        struct writer *w = calloc(1, sizeof(*w));
        size_t n = batch_size;

        if (!w)
                return NULL;
        w->batch_size = batch_size;
        w->fd = fd;
        w->path = strdup(path);
        if (fd >= 0)
                snprintf(w->open_path, sizeof(w->open_path), "/proc/self/fd/%d", fd);
        else
                snprintf(w->open_path, sizeof(w->open_path), "%s", path);
        w->offsets = malloc(n * (4 * sizeof(int64_t) + 3 * sizeof(uint32_t)));
        if (!w->path || !w->offsets)
                return writer_free(w);
        w->stamps[0] = (int64_t *) (w->offsets + n);
        w->stamps[1] = w->stamps[0] + n;
        w->stamps[2] = w->stamps[1] + n;
        w->seqs[0] = (uint32_t *) (w->stamps[2] + n);
        w->seqs[1] = w->seqs[0] + n;
        w->sizes = w->seqs[1] + n;
        return w;
}

/* Create the HDF5 file through the reserved descriptor and check it is that file. */
static int create_file(struct writer *w, char *error, size_t error_len) {
        hid_t fapl = layout_fapl();

        errno = 0;
        w->file = H5Fcreate(w->open_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        H5Pclose(fapl);
        if (w->file < 0) {
                int r = errno == ENOSPC || errno == EDQUOT ? -ENOSPC : -EIO;
                h5_error(error, error_len, "Cannot create", w->path);
                return r;
        }
        if (!is_reserved_file(w, w->file)) {
                snprintf(error, error_len, "%s is no longer the file handrecd reserved; it will not write through it",
                         w->path);
                return -EEXIST;
        }
        return 0;
}

/* Attributes, groups, calibration and the empty datasets: everything SWMR will not let us add. */
static int create_layout(struct writer *w, const struct take_info *info) {
        hid_t g;

        if (write_root_attributes(w->file, info) < 0)
                return -EIO;
        g = H5Gcreate2(w->file, "stereo", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0)
                return -EIO;
        h5_attr_string(g, "description",
                       "JPEG stereo frames back to back in jpeg; frame i is "
                       "jpeg[offset[i]:offset[i]+size[i]]; N = len(size)");
        H5Gclose(g);
        g = H5Gcreate2(w->file, "calibration", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0)
                return -EIO;
        H5Gclose(g);
        if (info->calibration && write_calibration(w->file, info->calibration) < 0)
                return -EIO;
        w->jpeg = create_growing(w->file, LAYOUT_JPEG, H5T_NATIVE_UINT8, JPEG_CHUNK, true);
        if (w->jpeg < 0)
                return -EIO;
        for (unsigned i = 0; i < _LAYOUT_IDX_MAX; i++) {
                w->index[i] = create_growing(w->file, layout_index[i].name, *layout_index[i].type, INDEX_CHUNK, false);
                if (w->index[i] < 0)
                        return -EIO;
        }
        return 0;
}

int writer_create(const char *path, int fd, const struct take_info *info, struct writer **ret, char *error,
                  size_t error_len) {
        struct writer *w;
        int r;

        H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report errors ourselves */
        w = writer_alloc(path, fd, info->batch_size);
        if (!w)
                return -ENOMEM;
        w->fps_nominal = info->fps_nominal;
        r = create_file(w, error, error_len);
        if (r < 0) {
                writer_free(w);
                return r;
        }
        if (create_layout(w, info) < 0 || H5Fstart_swmr_write(w->file) < 0) {
                r = errno == ENOSPC || errno == EDQUOT ? -ENOSPC : -EIO;
                h5_error(error, error_len, "Cannot set up", path);
                writer_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

/* Append @n elements of @buf to a 1-D dataset currently @cur long. */
static int append(hid_t d, hid_t type, hsize_t cur, hsize_t n, const void *buf) {
        hsize_t size = cur + n;
        hid_t fs, ms;
        herr_t r;

        if (H5Dset_extent(d, &size) < 0)
                return -EIO;
        fs = H5Dget_space(d);
        ms = H5Screate_simple(1, &n, NULL);
        r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &cur, NULL, &n, NULL);
        if (r >= 0)
                r = H5Dwrite(d, type, ms, fs, H5P_DEFAULT, buf);
        H5Sclose(ms);
        H5Sclose(fs);
        return r < 0 ? -EIO : 0;
}

static int io_error(char *error, size_t len, const char *what, const char *path) {
        int saved = errno;

        h5_error(error, len, what, path);
        return saved == ENOSPC || saved == EDQUOT ? -ENOSPC : -EIO;
}

int writer_put(struct writer *w, const uint8_t *data, size_t size, const struct frame_meta *meta, char *error,
               size_t error_len) {
        unsigned i = w->pending;

        if (i >= w->batch_size || size == 0)
                return -EINVAL;
        errno = 0;
        if (append(w->jpeg, H5T_NATIVE_UINT8, w->data_end, size, data) < 0)
                return io_error(error, error_len, "Cannot write frames to", w->path);
        w->offsets[i] = w->data_end;
        w->sizes[i] = (uint32_t) size;
        w->stamps[0][i] = meta->timestamp_ns;
        w->stamps[1][i] = meta->left_timestamp_ns;
        w->stamps[2][i] = meta->right_timestamp_ns;
        w->seqs[0][i] = meta->left_sequence;
        w->seqs[1][i] = meta->right_sequence;
        w->data_end += size;
        w->pending++;
        return 0;
}

/* One frame more in the file (pending frame @i): what writer_stored() tells. */
static void count_stored(struct writer *w, unsigned i) {
        int64_t l = w->stamps[1][i], r = w->stamps[2][i];
        int64_t skew = l > r ? l - r : r - l;

        if (w->frames++ == 0)
                w->first_ns = w->stamps[0][i];
        w->last_ns = w->stamps[0][i];
        w->bytes += w->sizes[i];
        w->skew_sum_ns += (uint64_t) skew;
        if (skew > w->skew_max_ns)
                w->skew_max_ns = skew;
}

int writer_commit(struct writer *w, char *error, size_t error_len) {
        const void *bufs[_LAYOUT_IDX_MAX] = {
                [LAYOUT_IDX_OFFSET] = w->offsets,
                [LAYOUT_IDX_TIMESTAMP] = w->stamps[0],
                [LAYOUT_IDX_LEFT_TIMESTAMP] = w->stamps[1],
                [LAYOUT_IDX_RIGHT_TIMESTAMP] = w->stamps[2],
                [LAYOUT_IDX_LEFT_SEQUENCE] = w->seqs[0],
                [LAYOUT_IDX_RIGHT_SEQUENCE] = w->seqs[1],
                [LAYOUT_IDX_SIZE] = w->sizes,
        };
        unsigned n = w->pending;

        if (n == 0)
                return 0;
        /* 1. the bytes, flushed */
        errno = 0;
        if (H5Dflush(w->jpeg) < 0)
                return io_error(error, error_len, "Cannot flush frames to", w->path);
        /* 2. the index, each dataset flushed, `size` last: the frames are in the file from then on */
        for (unsigned i = 0; i < _LAYOUT_IDX_MAX; i++) {
                errno = 0;
                if (append(w->index[i], *layout_index[i].type, w->frames, n, bufs[i]) < 0 || H5Dflush(w->index[i]) < 0)
                        return io_error(error, error_len, "Cannot write the frame index to", w->path);
        }
        /* Flush the file too: it writes the superblock's end-of-allocation, so a file whose writer
         * was killed opens after `h5clear -s` as well as with SWMR. */
        errno = 0;
        if (H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0)
                return io_error(error, error_len, "Cannot flush", w->path);
        for (unsigned i = 0; i < n; i++)
                count_stored(w, i);
        w->pending = 0;
        return 0;
}

unsigned writer_pending(const struct writer *w) {
        return w->pending;
}

int writer_append(struct writer *w, const struct queue *q, const struct queue_entry *const *entries, unsigned n,
                  char *error, size_t error_len) {
        int r = 0;

        if (n + w->pending > w->batch_size)
                return -EINVAL;
        for (unsigned i = 0; i < n && r >= 0; i++)
                r = writer_put(w, queue_data(q, entries[i]), entries[i]->size, &entries[i]->meta, error, error_len);
        return r < 0 ? r : writer_commit(w, error, error_len);
}

uint64_t writer_bytes(const struct writer *w) {
        return w->bytes;
}

void writer_stored(const struct writer *w, struct writer_stored *ret) {
        double span = (double) (w->last_ns - w->first_ns) / 1e9;

        *ret = (struct writer_stored){
                .frames = w->frames,
                .first_ns = w->first_ns,
                .last_ns = w->last_ns,
                .skew_mean_ns = w->frames ? (int64_t) llround((double) w->skew_sum_ns / (double) w->frames) : 0,
                .skew_max_ns = w->skew_max_ns,
                .duration = w->frames && w->fps_nominal > 0 ? span + 1.0 / w->fps_nominal : 0,
                .fps = w->frames > 1 && span > 0 ? (double) (w->frames - 1) / span : 0,
        };
}

/* Reopen the finished SWMR file normally (through the reserved descriptor when there is one),
 * to write its final attributes. Return: the file, or negative with @error set. */
static hid_t reopen(const struct writer *w, char *error, size_t error_len) {
        hid_t fapl = layout_fapl(), file;

        file = H5Fopen(w->open_path, H5F_ACC_RDWR, fapl);
#if H5_VERSION_GE(1, 10, 7)
        if (file < 0) {
                /* a SWMR reader may still hold the file; it reads, it does not lock us out */
                H5Eclear2(H5E_DEFAULT);
                H5Pset_file_locking(fapl, false, true);
                file = H5Fopen(w->open_path, H5F_ACC_RDWR, fapl);
        }
#endif
        H5Pclose(fapl);
        if (file < 0) {
                h5_error(error, error_len, "Cannot reopen to mark complete", w->path);
                return -1;
        }
        if (!is_reserved_file(w, file)) {
                H5Fclose(file);
                snprintf(error, error_len, "%s is no longer the file handrecd reserved; not marked complete", w->path);
                return -1;
        }
        return file;
}

/* What is on the disk leaves the page cache: both hands write 25 MB a second, which would
 * otherwise fill the memory with the takes' pages until the kernel reclaims them, from the
 * writer's own write() calls (direct reclaim) among others, and would push out what the other
 * programs of a small board keep cached. Only clean pages go: call it after a sync. */
static void drop_cached(int fd) {
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

int writer_sync(struct writer *w, char *error, size_t error_len) {
        void *handle = NULL;
        int fd = w->fd;

        int64_t t0 = now_ns(CLOCK_MONOTONIC);
        int r = 0;

        if (fd < 0 && H5Fget_vfd_handle(w->file, H5P_DEFAULT, &handle) >= 0 && handle)
                fd = *(int *) handle;
        if (fd >= 0 && fdatasync(fd) < 0) {
                r = errno == ENOSPC || errno == EDQUOT ? -ENOSPC : -EIO;
                snprintf(error, error_len, "Cannot sync %s to the disk: %s", w->path, strerror(errno));
        } else if (fd >= 0)
                drop_cached(fd);
        w->syncs++;
        w->sync_ns += now_ns(CLOCK_MONOTONIC) - t0;
        return r;
}

/* The final attributes (status="complete" and the result) into the reopened @file: what the
 * take's owner counted (@res), and what the frames stored tell (writer_stored()). */
static int write_result(hid_t file, const struct take_result *res, const struct writer *w) {
        struct writer_stored st;
        int r = 0;

        writer_stored(w, &st);
        r |= h5_attr_u64(file, "syncs", w->syncs);
        r |= h5_attr_double(file, "sync_seconds", (double) w->sync_ns / 1e9);
        r |= h5_attr_string(file, "status", "complete");
        r |= h5_attr_string(file, "stop_reason", res->stop_reason);
        r |= h5_attr_string(file, "stopped_utc", res->stopped_utc);
        r |= h5_attr_string(file, "last_error", res->last_error);
        r |= h5_attr_u64(file, "frames", st.frames);
        r |= h5_attr_u64(file, "frames_captured", res->frames_captured);
        for (unsigned i = 0; i < res->n_counts; i++)
                r |= h5_attr_u64(file, res->counts[i].name, res->counts[i].value);
        for (unsigned i = 0; i < res->n_reals; i++)
                r |= h5_attr_double(file, res->reals[i].name, res->reals[i].value);
        if (res->qc_verdict)
                r |= h5_attr_string(file, "qc_verdict", res->qc_verdict);
        r |= h5_attr_double(file, "duration_s", st.duration);
        r |= h5_attr_double(file, "fps_measured", st.fps);
        r |= h5_attr_string(file, "timestamp_source", res->timestamp_source ?: "");
        r |= h5_attr_i64(file, "pair_skew_mean_ns", st.skew_mean_ns);
        r |= h5_attr_i64(file, "pair_skew_max_ns", st.skew_max_ns);
        return r ? -EIO : 0;
}

/* Make the finished file durable before anyone is told it is complete. */
static int sync_file(const struct writer *w, char *error, size_t error_len) {
        int fd = w->fd >= 0 ? w->fd : open(w->path, O_RDONLY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return 0;
        if (fsync(fd) < 0) {
                r = -errno;
                snprintf(error, error_len, "Cannot sync %s: %s", w->path, strerror(-r));
        } else
                drop_cached(fd);
        if (fd != w->fd)
                close(fd);
        return r;
}

int writer_finish(struct writer *w, const struct take_result *res, char *error, size_t error_len) {
        hid_t file;
        int r;

        close_swmr(w);
        file = reopen(w, error, error_len);
        if (file < 0) {
                writer_free(w);
                return -EIO;
        }
        r = write_result(file, res, w);
        if (r < 0)
                h5_error(error, error_len, "Cannot write the final attributes of", w->path);
        if (H5Fclose(file) < 0 && r >= 0) {
                h5_error(error, error_len, "Cannot close", w->path);
                r = -EIO;
        }
        if (r >= 0)
                r = sync_file(w, error, error_len);
        writer_free(w);
        return r;
}
