/* SPDX-License-Identifier: MIT */
/*
 * recover.c — a take checked frame by frame, and a crashed take recovered (see recover.h).
 *
 * A take's frame i is committed when /stereo/size has an entry i (the writer appends the bytes,
 * then the other index datasets, `size` last, flushing each). After a crash the datasets can
 * differ in length, and after a power cut the last entries can point at bytes that never
 * reached the disk (zeros) or that are cut short. So a frame is kept when every index dataset
 * has its entry, its bytes follow the previous frame's inside /stereo/jpeg, its timestamp is
 * later than the previous one, and its JPEG decodes (at 1/8 scale: every entropy-coded block
 * is still read). The first frame that fails ends the take there.
 */
#include "recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "h5util.h"
#include "layout.h"
#include "util.h"

#define PROGRESS_EVERY 500

/* One open take and what checking it needs; everything freed by scan_done(). */
struct scan {
        const char *path;
        hid_t file, jpeg, index[_LAYOUT_IDX_MAX];
        uint64_t file_bytes;           /* the file's size: what any claim of the file is bounded by */
        int64_t eye_width, eye_height; /* the take's attributes; 0 when it has none */
        uint64_t jpeg_bytes, len[_LAYOUT_IDX_MAX], n;
        uint64_t *offset;
        uint32_t *size;
        int64_t *timestamp;
        tjhandle tj;
        uint8_t *buf, *pixels;
        size_t buf_cap, pixels_cap;
};

static void scan_done(struct scan *s) {
        layout_close(s->index, &s->jpeg, &s->file);
        if (s->tj)
                tjDestroy(s->tj);
        free(s->offset);
        free(s->size);
        free(s->timestamp);
        free(s->buf);
        free(s->pixels);
        memset(s, 0, sizeof(*s));
}

/* The length of dataset @d into *@ret. Return: whether @d is one-dimensional, as every dataset
 * of a take is (the extent of another would not fit in *@ret). */
static bool extent(hid_t d, uint64_t *ret) {
        hid_t space = H5Dget_space(d);
        hsize_t n = 0;
        bool ok =
                space >= 0 && H5Sget_simple_extent_ndims(space) == 1 && H5Sget_simple_extent_dims(space, &n, NULL) == 1;

        if (space >= 0)
                H5Sclose(space);
        *ret = n;
        return ok;
}

/* Read @n elements of 1-D dataset @d into @buf. */
static int read_range(hid_t d, hid_t type, hsize_t start, hsize_t n, void *buf) {
        hid_t fs, ms, stack = H5I_INVALID_HID;
        herr_t r;

        if (n == 0)
                return 0;
        fs = H5Dget_space(d);
        ms = H5Screate_simple(1, &n, NULL);
        r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &n, NULL);
        if (r >= 0)
                r = H5Dread(d, type, ms, fs, H5P_DEFAULT, buf);
        if (r < 0)
                stack = H5Eget_current_stack(); /* H5Sclose() would clear why, which h5_error() tells */
        H5Sclose(ms);
        H5Sclose(fs);
        if (stack >= 0)
                H5Eset_current_stack(stack);
        return r < 0 ? -EIO : 0;
}

/* The largest frame a take without its size attributes may hold: 2 × 4096 × 4096 pixels. */
#define FRAME_PIXELS_MAX (UINT64_C(2) * 4096 * 4096)

/* The largest eye handrecd records (lib/config-hand.c: a camera at most 8192 × 4096): a size
 * attribute beyond is not believed, and the frames are bounded as if it were missing. (Up to 65535
 * a 50 KB file could pass a progressive JPEG of 65500 × 65500 and make libjpeg take gigabytes.) */
#define EYE_WIDTH_MAX 8192
#define EYE_HEIGHT_MAX 4096

/* What the file's size and its own attributes bound before anything is allocated for it: a
 * hostile file of 7 KB claiming 5e7 frames must not cost a gigabyte to check. */
static int scan_bound(struct scan *s, char *error, size_t error_len) {
        struct stat st;
        hid_t a;

        if (stat(s->path, &st) < 0) {
                snprintf(error, error_len, "Cannot check %s: %s", s->path, strerror(errno));
                return -errno;
        }
        s->file_bytes = (uint64_t) st.st_size;
        s->jpeg_bytes = MIN(s->jpeg_bytes, s->file_bytes); /* bytes past the end read as zeros: never a frame */
        if (s->n > s->file_bytes / LAYOUT_INDEX_BYTES_PER_FRAME) {
                snprintf(error, error_len,
                         "%s is not a take handrecd wrote: its index claims %llu frames, more than a file of %llu "
                         "bytes can hold (each frame takes %d bytes of index)",
                         s->path, (unsigned long long) s->n, (unsigned long long) s->file_bytes,
                         LAYOUT_INDEX_BYTES_PER_FRAME);
                return -EBADMSG;
        }
        const char *names[2] = {"eye_width", "eye_height"};
        int64_t *values[2] = {&s->eye_width, &s->eye_height}, max[2] = {EYE_WIDTH_MAX, EYE_HEIGHT_MAX};
        for (unsigned i = 0; i < 2; i++) {
                *values[i] = 0;
                a = H5Aexists(s->file, names[i]) > 0 ? H5Aopen(s->file, names[i], H5P_DEFAULT) : -1;
                if (a >= 0) {
                        if (!h5_attr_single(a) || H5Aread(a, H5T_NATIVE_INT64, values[i]) < 0 || *values[i] < 0 ||
                            *values[i] > max[i])
                                *values[i] = 0;
                        H5Aclose(a);
                }
        }
        H5Eclear2(H5E_DEFAULT);
        return 0;
}

/* Open the datasets and read the index the checks need, once scan_bound() has bounded it. */
static int scan_load(struct scan *s, char *error, size_t error_len) {
        int r;

        s->jpeg = H5Dopen2(s->file, LAYOUT_JPEG, H5P_DEFAULT);
        if (s->jpeg < 0) {
                h5_error(error, error_len, "Not a handrec take (no /stereo/jpeg):", s->path);
                return -EBADMSG;
        }
        if (!extent(s->jpeg, &s->jpeg_bytes)) {
                snprintf(error, error_len, "Not a handrec take: %s's /%s is not one-dimensional", s->path, LAYOUT_JPEG);
                return -EBADMSG;
        }
        s->n = UINT64_MAX;
        for (unsigned i = 0; i < _LAYOUT_IDX_MAX; i++) {
                s->index[i] = H5Dopen2(s->file, layout_index[i].name, H5P_DEFAULT);
                if (s->index[i] < 0) {
                        h5_error(error, error_len, "Not a handrec take (an index dataset is missing):", s->path);
                        return -EBADMSG;
                }
                if (!extent(s->index[i], &s->len[i])) {
                        snprintf(error, error_len, "Not a handrec take: %s's /%s is not one-dimensional", s->path,
                                 layout_index[i].name);
                        return -EBADMSG;
                }
                s->n = MIN(s->n, s->len[i]);
        }
        r = scan_bound(s, error, error_len);
        if (r < 0)
                return r;
        s->offset = malloc(MAX(s->n, 1) * sizeof(*s->offset));
        s->size = malloc(MAX(s->n, 1) * sizeof(*s->size));
        s->timestamp = malloc(MAX(s->n, 1) * sizeof(*s->timestamp));
        s->tj = tjInitDecompress();
        if (!s->offset || !s->size || !s->timestamp || !s->tj) {
                snprintf(error, error_len, "Cannot check %s: no memory for the index of its %llu frames", s->path,
                         (unsigned long long) s->n);
                return -ENOMEM;
        }
        if (read_range(s->index[LAYOUT_IDX_OFFSET], H5T_NATIVE_UINT64, 0, s->n, s->offset) < 0 ||
            read_range(s->index[LAYOUT_IDX_SIZE], H5T_NATIVE_UINT32, 0, s->n, s->size) < 0 ||
            read_range(s->index[LAYOUT_IDX_TIMESTAMP], H5T_NATIVE_INT64, 0, s->n, s->timestamp) < 0) {
                h5_error(error, error_len, "Cannot read the frame index of", s->path);
                return -EIO;
        }
        return 0;
}

static int grow(uint8_t **buf, size_t *cap, size_t need) {
        uint8_t *b;

        if (need <= *cap)
                return 0;
        b = realloc(*buf, need);
        if (!b)
                return -ENOMEM;
        *buf = b;
        *cap = need;
        return 0;
}

/* Whether frame @i's JPEG decodes; @why gets the reason when not. */
static bool frame_decodes(struct scan *s, uint64_t i, char *why, size_t why_len) {
        int w, h, sub, cs, sw, sh;

        if (grow(&s->buf, &s->buf_cap, s->size[i]) < 0 ||
            read_range(s->jpeg, H5T_NATIVE_UINT8, s->offset[i], s->size[i], s->buf) < 0) {
                snprintf(why, why_len, "frame %llu: its bytes cannot be read", (unsigned long long) i);
                return false;
        }
        if (tjDecompressHeader3(s->tj, s->buf, s->size[i], &w, &h, &sub, &cs) < 0) {
                snprintf(why, why_len, "frame %llu: not a JPEG (%s)", (unsigned long long) i, tjGetErrorStr2(s->tj));
                return false;
        }
        /* never larger than the take's frames (libjpeg holds a progressive JPEG's every coefficient
         * whatever the scale it decodes to: 20000×20000 would cost 1.2 GB) */
        if (s->eye_width > 0 && s->eye_height > 0 ? w > 2 * s->eye_width || h > s->eye_height
                                                  : (uint64_t) w * (uint64_t) h > FRAME_PIXELS_MAX) {
                if (s->eye_width > 0 && s->eye_height > 0)
                        snprintf(why, why_len, "frame %llu: a JPEG of %dx%d, larger than the take's %lldx%lld frames",
                                 (unsigned long long) i, w, h, (long long) (2 * s->eye_width),
                                 (long long) s->eye_height);
                else
                        snprintf(why, why_len, "frame %llu: a JPEG of %dx%d, larger than a take's frames can be",
                                 (unsigned long long) i, w, h);
                return false;
        }
        sw = (w + 7) / 8;
        sh = (h + 7) / 8;
        if (grow(&s->pixels, &s->pixels_cap, (size_t) sw * sh) < 0 ||
            tjDecompress2(s->tj, s->buf, s->size[i], s->pixels, sw, 0, sh, TJPF_GRAY, 0) < 0) {
                snprintf(why, why_len, "frame %llu: its JPEG does not decode (%s)", (unsigned long long) i,
                         tjGetErrorStr2(s->tj));
                return false;
        }
        return true;
}

/* Check frames from the first; ret->frames is how many are good, ret->problem the first fault. */
static void scan_frames(struct scan *s, struct take_check *ret, recover_progress_fn progress, void *userdata) {
        uint64_t pos = 0, i;
        char *why = ret->problem;
        size_t why_len = sizeof(ret->problem);

        for (i = 0; i < s->n; i++) {
                if (s->offset[i] != pos) {
                        snprintf(why, why_len, "frame %llu starts at byte %llu, not where frame %llu ended (%llu)",
                                 (unsigned long long) i, (unsigned long long) s->offset[i],
                                 (unsigned long long) (i ? i - 1 : 0), (unsigned long long) pos);
                        break;
                }
                if (s->size[i] == 0 || pos + s->size[i] > s->jpeg_bytes) {
                        snprintf(why, why_len, "frame %llu ends past the bytes on disk (%llu of %llu)",
                                 (unsigned long long) i, (unsigned long long) (pos + s->size[i]),
                                 (unsigned long long) s->jpeg_bytes);
                        break;
                }
                if (i > 0 && s->timestamp[i] <= s->timestamp[i - 1]) {
                        snprintf(why, why_len, "frame %llu: its timestamp does not increase", (unsigned long long) i);
                        break;
                }
                if (!frame_decodes(s, i, why, why_len))
                        break;
                pos += s->size[i];
                if (progress && i % PROGRESS_EVERY == 0)
                        progress(s->path, i, s->n, userdata);
        }
        ret->frames = i;
        ret->bytes = pos;
        ret->index_frames = s->len[LAYOUT_IDX_SIZE];
        if (!why[0] && s->n < s->len[LAYOUT_IDX_SIZE])
                snprintf(why, why_len, "the index datasets differ in length (%llu frames committed, %llu complete)",
                         (unsigned long long) s->len[LAYOUT_IDX_SIZE], (unsigned long long) s->n);
}

static hid_t open_take(const char *path, unsigned flags, bool clear_status) {
        return layout_open(path, flags, clear_status);
}

/* Whether @path begins as every HDF5 file handrecd writes does (its signature at byte 0). An
 * empty file, or another kind of file, is never opened for writing: HDF5 would make an empty
 * file an HDF5 file of its own. Return: 0, or -EBADMSG / -errno with @error set. */
static int check_signature(const char *path, char *error, size_t error_len) {
        static const char signature[8] = "\211HDF\r\n\032\n";
        char head[8];
        ssize_t n;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), r = 0;
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0) {
                r = -errno;
                snprintf(error, error_len, "Cannot open %s: %s", path, strerror(errno));
        } else if (!S_ISREG(st.st_mode)) {
                r = -EBADMSG;
                snprintf(error, error_len, "%s is not a regular file, so not a take", path);
        } else if (st.st_size == 0) {
                r = -EBADMSG;
                snprintf(error, error_len, "%s is empty: not a take (nothing to recover; delete it)", path);
        } else if ((n = pread(fd, head, sizeof(head), 0)) != (ssize_t) sizeof(head) || memcmp(head, signature, 8)) {
                r = -EBADMSG;
                snprintf(error, error_len, "%s is not an HDF5 file, so not a take (left as it is)", path);
        }
        if (fd >= 0)
                close(fd);
        return r;
}

int recover_check(const char *path, struct take_check *ret, recover_progress_fn progress, void *userdata, char *error,
                  size_t error_len) {
        struct scan s = {.path = path};
        int r;

        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        memset(ret, 0, sizeof(*ret));
        error[0] = 0;
        r = check_signature(path, error, error_len);
        if (r < 0)
                return r;
        s.file = open_take(path, H5F_ACC_RDONLY, false);
        if (s.file < 0) {
                H5Eclear2(H5E_DEFAULT);
                s.file = open_take(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, false);
        }
        if (s.file < 0) {
                h5_error(error, error_len, "Cannot open", path);
                return -EIO;
        }
        h5_attr_read_string(s.file, "status", ret->status, sizeof(ret->status));
        r = scan_load(&s, error, error_len);
        if (r >= 0) {
                scan_frames(&s, ret, progress, userdata);
                r = ret->problem[0] ? -EBADMSG : 0;
        }
        scan_done(&s);
        return r;
}

/* What the good frames tell, as a finished take stores it (writer.h: struct writer_stored):
 * duration_s and fps_measured from their timestamps, pair_skew_* from their eyes' (read in
 * blocks, so nothing the size of the take is allocated for it). */
static int write_stored_figures(struct scan *s, uint64_t frames) {
        int64_t l[1024], rr[1024], skew_max = 0;
        double fps_nominal = 0, span, skew_sum = 0;
        hid_t a;
        int r = 0;

        if (frames == 0)
                return 0;
        a = H5Aopen(s->file, "fps_nominal", H5P_DEFAULT);
        if (a >= 0) {
                if (h5_attr_single(a))
                        H5Aread(a, H5T_NATIVE_DOUBLE, &fps_nominal);
                H5Aclose(a);
        }
        for (uint64_t i = 0; i < frames; i += ELEMENTSOF(l)) {
                hsize_t n = MIN(frames - i, ELEMENTSOF(l));
                if (read_range(s->index[LAYOUT_IDX_LEFT_TIMESTAMP], H5T_NATIVE_INT64, i, n, l) < 0 ||
                    read_range(s->index[LAYOUT_IDX_RIGHT_TIMESTAMP], H5T_NATIVE_INT64, i, n, rr) < 0)
                        return -EIO;
                for (hsize_t k = 0; k < n; k++) {
                        int64_t d = l[k] > rr[k] ? l[k] - rr[k] : rr[k] - l[k];
                        skew_sum += (double) d;
                        skew_max = MAX(skew_max, d);
                }
        }
        span = (double) (s->timestamp[frames - 1] - s->timestamp[0]) / 1e9;
        r |= h5_attr_double(s->file, "duration_s", span + (fps_nominal > 0 ? 1.0 / fps_nominal : 0));
        r |= h5_attr_double(s->file, "fps_measured", frames > 1 && span > 0 ? (double) (frames - 1) / span : 0);
        r |= h5_attr_i64(s->file, "pair_skew_mean_ns", (int64_t) llround(skew_sum / (double) frames));
        r |= h5_attr_i64(s->file, "pair_skew_max_ns", skew_max);
        return r;
}

/* Cut every dataset to the good frames and mark the file recovered. */
static int cut_and_mark(struct scan *s, const struct take_check *c) {
        hsize_t frames = c->frames, bytes = c->bytes;
        char now[32];
        time_t t = time(NULL);
        struct tm tm;
        int r = 0;

        for (unsigned i = 0; i < _LAYOUT_IDX_MAX; i++)
                if (H5Dset_extent(s->index[i], &frames) < 0)
                        return -EIO;
        if (H5Dset_extent(s->jpeg, &bytes) < 0)
                return -EIO;
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        r |= h5_attr_string(s->file, "status", "recovered");
        r |= h5_attr_string(s->file, "stop_reason", "crash");
        r |= h5_attr_string(s->file, "recovered_utc", now);
        r |= h5_attr_string(s->file, "recovery_note", c->problem);
        r |= h5_attr_u64(s->file, "frames", c->frames);
        r |= h5_attr_u64(s->file, "frames_cut", c->index_frames - MIN(c->index_frames, c->frames));
        r |= write_stored_figures(s, c->frames);
        return r ? -EIO : 0;
}

static int sync_path(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

/*
 * After a power cut the superblock can name an end of file (written with the metadata) beyond the
 * bytes that reached the disk. HDF5 then refuses to open it for writing ("truncated file"), while
 * a SWMR reader, which skips that check, reads the missing end as zeros. The file is extended
 * with zeros to that end: the very view the check had. The frames that lay there fail their
 * check and are cut. Returns the bytes added (0: none were missing), or negative errno.
 */
static int64_t extend_to_stored_end(const char *path) {
        hid_t fapl = layout_fapl(), file;
        haddr_t end = HADDR_UNDEF;
        struct stat st;

        file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
        H5Pclose(fapl);
        if (file < 0) {
                H5Eclear2(H5E_DEFAULT);
                return 0; /* not even readable so: the open for writing says why */
        }
        if (H5Fget_eoa(file, &end) < 0)
                end = HADDR_UNDEF;
        H5Fclose(file);
        if (end == HADDR_UNDEF || stat(path, &st) < 0 || (uint64_t) st.st_size >= (uint64_t) end)
                return 0;
        if (truncate(path, (off_t) end) < 0)
                return -errno;
        return (int64_t) end - st.st_size;
}

/* The take opened for writing, a file a power cut left short extended first; on failure @error
 * says why. Only a file HDF5 finds cut short ("truncated file") is extended: never one it refuses
 * for another reason. */
static hid_t open_for_recovery(const char *path, struct take_check *ret, char *error, size_t error_len) {
        hid_t file = open_take(path, H5F_ACC_RDWR, true);
        int64_t added;

        if (file < 0 && h5_error_has(H5E_TRUNCATED)) {
                H5Eclear2(H5E_DEFAULT);
                added = extend_to_stored_end(path);
                if (added < 0) {
                        snprintf(error, error_len,
                                 "Cannot extend %s with zeros to the end its superblock names (a power cut left it "
                                 "short): %s",
                                 path, strerror((int) -added));
                        return -1;
                }
                ret->missing_bytes = (uint64_t) added;
                file = open_take(path, H5F_ACC_RDWR, true);
        }
        if (file < 0)
                h5_error(error, error_len, "Cannot open for recovery", path);
        return file;
}

/* Says in the problem (and so in the recovery note and the log) that the end had been lost. */
static void note_missing_end(struct take_check *c) {
        size_t n = strlen(c->problem);

        if (c->missing_bytes && n)
                snprintf(c->problem + n, sizeof(c->problem) - n,
                         "; the file's last %llu bytes never reached the disk (a power cut)",
                         (unsigned long long) c->missing_bytes);
}

/* Whether @path is a take its writer finished (status complete or recovered), read without
 * opening it for writing: an open for writing changes the file's time, and handrec-offload would
 * count a take it verified as changed since (and never remove it for space). A file HDF5 will not
 * open for reading (the flags a crashed SWMR writer leaves) is not finished. */
static bool finished_already(const char *path, struct take_check *ret) {
        hid_t file = open_take(path, H5F_ACC_RDONLY, false);

        if (file < 0) {
                H5Eclear2(H5E_DEFAULT);
                return false;
        }
        h5_attr_read_string(file, "status", ret->status, sizeof(ret->status));
        H5Fclose(file);
        return !streq(ret->status, "recording");
}

int recover_file(const char *path, struct take_check *ret, recover_progress_fn progress, void *userdata, char *error,
                 size_t error_len) {
        struct scan s = {.path = path};
        int r;

        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        memset(ret, 0, sizeof(*ret));
        error[0] = 0;
        r = check_signature(path, error, error_len);
        if (r < 0)
                return r;
        if (finished_already(path, ret))
                return 0; /* complete or recovered already: not even opened for writing */
        s.file = open_for_recovery(path, ret, error, error_len);
        if (s.file < 0)
                return -EIO;
        h5_attr_read_string(s.file, "status", ret->status, sizeof(ret->status));
        if (!streq(ret->status, "recording")) {
                /* complete or recovered already: nothing to do; closing clears no flag it had not */
                scan_done(&s);
                return 0;
        }
        r = scan_load(&s, error, error_len);
        if (r >= 0) {
                scan_frames(&s, ret, progress, userdata);
                note_missing_end(ret);
                r = cut_and_mark(&s, ret);
                if (r < 0)
                        h5_error(error, error_len, "Cannot cut and mark", path);
        }
        if (s.file > 0 && H5Fclose(s.file) < 0 && r >= 0) {
                h5_error(error, error_len, "Cannot close", path);
                r = -EIO;
        }
        s.file = 0;
        scan_done(&s);
        if (r >= 0 && (r = sync_path(path)) < 0)
                snprintf(error, error_len, "Cannot sync %s: %s", path, strerror(-r));
        return r < 0 ? r : 1;
}

/* The entry's type, asking the file system when readdir() does not say. */
static unsigned entry_type(DIR *d, const struct dirent *e) {
        struct stat st;

        if (e->d_type != DT_UNKNOWN)
                return e->d_type;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return DT_UNKNOWN;
        return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
}

static bool is_take_name(const char *name) {
        size_t n = strlen(name);
        return n > 3 && streq(name + n - 3, ".h5") && name[0] != '.';
}

/*
 * Whether the file at @path may be a take a crash left open: its superblock (versions 2 and 3, as
 * handrecd writes them, at byte 0) says a writer had it open (the file consistency flags, byte 11:
 * bit 0 opened for writing, bit 2 by a SWMR writer), or it is no such superblock (recover_file()
 * says what it is). A finished take is then never opened with HDF5 at start, so a damaged one
 * cannot hold the daemon's start inside HDF5 (1.10.8 walks a global heap whose free-space object
 * has size 0 forever: tests/fuzz/README.md).
 */
static bool maybe_left_open(const char *path) {
        static const char signature[8] = "\211HDF\r\n\032\n";
        uint8_t sb[12];
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        ssize_t n = fd < 0 ? -1 : pread(fd, sb, sizeof(sb), 0);

        if (fd >= 0)
                close(fd);
        if (n != (ssize_t) sizeof(sb) || memcmp(sb, signature, sizeof(signature)) != 0 || (sb[8] != 2 && sb[8] != 3))
                return true;
        return (sb[11] & 0x05) != 0;
}

/* In probe_in_child()'s child: the status read as recover_file() will read it, the file opened
 * for reading only (as a SWMR reader, as which a take left open opens; else with its flags
 * cleared in memory), so that a child killed mid-read leaves the file as it was. */
static void probe_status(const char *path) {
        char status[32];
        hid_t file;

        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        file = open_take(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, false);
        if (file < 0)
                file = open_take(path, H5F_ACC_RDONLY, true);
        if (file < 0)
                return;
        h5_attr_read_string(file, "status", status, sizeof(status));
        H5Fclose(file);
}

/*
 * Whether HDF5 reads @path's status within RECOVER_PROBE_SECONDS, tried in a child process so
 * that a file HDF5 would loop on forever costs the caller that long and no more, and one it
 * crashes on costs the child, not the caller (recover_scan() runs before the daemon has any
 * thread: the child inherits no lock). Return: 0, or -ETIMEDOUT (the child killed) or -EIO (the
 * child crashed) with @error set; any other outcome is recover_file()'s to say.
 */
static int probe_in_child(const char *path, char *error, size_t error_len) {
        int p[2], status = 0, ready;
        bool said;
        pid_t pid;
        char byte = 0;
        struct pollfd pfd;

        if (pipe2(p, O_CLOEXEC) < 0)
                return 0; /* cannot probe: recover_file() reads it, as before */
        pid = fork();
        if (pid == 0) {
                close(p[0]);
                /* named in the kernel's log if HDF5 crashes in it: "hr-h5probe[PID]: segfault at ..." */
                (void) prctl(PR_SET_NAME, "hr-h5probe");
                probe_status(path);
                (void) !write(p[1], "x", 1);
                _exit(0);
        }
        close(p[1]);
        pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
        ready = pid > 0 ? poll(&pfd, 1, RECOVER_PROBE_SECONDS * 1000) : -1;
        said = ready == 1 && read(p[0], &byte, 1) == 1;
        close(p[0]);
        if (pid < 0)
                return 0;
        if (said || ready == 1) { /* the child's word, or its end without it (HDF5 crashed) */
                waitpid(pid, &status, 0);
                if (said)
                        return 0;
                snprintf(error, error_len,
                         "HDF5 crashed reading the status of %s (%s; a damaged file): move it out of the output "
                         "folder, then handrecctl check it",
                         path, WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "it exited early");
                return -EIO;
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        snprintf(error, error_len,
                 "HDF5 did not read the status of %s in %d s (a damaged file HDF5 goes round in): "
                 "move it out of the output folder, then handrecctl check it",
                 path, RECOVER_PROBE_SECONDS);
        return -ETIMEDOUT;
}

int recover_scan(const char *dir,
                 void (*found)(const char *path, int r, const struct take_check *c, const char *error, void *userdata),
                 recover_progress_fn progress, void *userdata) {
        DIR *top = opendir(dir);
        struct dirent *hand;
        int n = 0;

        if (!top)
                return errno == ENOENT ? 0 : -errno;
        while ((hand = readdir(top))) {
                char sub[PATH_MAX];
                struct dirent *e;
                DIR *d;

                if (hand->d_name[0] == '.' || entry_type(top, hand) != DT_DIR)
                        continue;
                snprintf(sub, sizeof(sub), "%s/%s", dir, hand->d_name);
                d = opendir(sub);
                while (d && (e = readdir(d))) {
                        char path[PATH_MAX + 256], error[RECOVER_ERROR_MAX];
                        struct take_check c;
                        int r;

                        if (entry_type(d, e) != DT_REG || !is_take_name(e->d_name))
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", sub, e->d_name);
                        if (!maybe_left_open(path))
                                continue; /* finished: nothing to recover, and not opened */
                        memset(&c, 0, sizeof(c));
                        r = probe_in_child(path, error, sizeof(error));
                        if (r == 0)
                                r = recover_file(path, &c, progress, userdata, error, sizeof(error));
                        if (r != 0 && found)
                                found(path, r, &c, r < 0 ? error : "", userdata);
                        n += r > 0;
                }
                if (d)
                        closedir(d);
        }
        closedir(top);
        return n;
}
