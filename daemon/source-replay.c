/* SPDX-License-Identifier: MIT */
/*
 * source-replay.c — owns playing a folder of JPEG images as a stereo camera: side-by-side images, or
 * left/right pairs matched by name (…left…/…right…, …L.jpg/…R.jpg), in name order, at the
 * configured fps ("realtime") or as fast as the pipeline takes them ("max"), once or in a loop.
 * It is how real images reach the pipeline without a camera, and the benchmarks' input.
 *
 * The folder is listed and every image's header checked when the source opens; the read buffer
 * is sized for the largest file then. Images are decoded straight into the frame's I420 planes
 * by convert.c, as a camera's MJPEG frames are. At the end of the folder (no loop) the
 * read returns -ENODATA and the take ends with reason end-of-input.
 *
 * With camera.format = "MJPEG" it is a side-by-side MJPEG camera (SOURCE_CAP_CAMERA_JPEG): each
 * file is read straight into the frame's JPEG buffer (no read buffer, no second copy) and, when
 * the take wants no pixels, handed over as it is: stored unchanged, never decoded or re-encoded.
 * When it wants pixels it is decoded from that buffer. Files are read with open/read, not stdio,
 * so a frame costs no allocation. Left/right pairs are two JPEGs a frame: refused in this mode.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/videodev2.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "source.h"
#include "../lib/util.h"

struct replay {
        struct source base;
        const struct camera_config *cfg;
        char **left;  /* side-by-side images, or left eyes */
        char **right; /* NULL for side-by-side */
        unsigned n, next;
        uint8_t *buf; /* the read buffer: the largest file (decode mode; at open only, passthrough) */
        size_t cap;
        bool passthrough; /* camera.format = "MJPEG": side-by-side files handed over as they are */
        struct convert *conv;
        int64_t start_ns, period_ns;
        uint64_t slot;
        char error[1024];
};

static bool is_jpeg(const char *name) {
        const char *dot = strrchr(name, '.');
        return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

/* 0: neither, 1: left, 2: right; writes the name with the eye marker replaced by "#" to key */
static int eye_of(const char *name, char *key, size_t len) {
        const char *dot = strrchr(name, '.');
        size_t stem = (size_t) (dot - name);
        const char *p;

        snprintf(key, len, "%s", name);
        if ((p = strcasestr(name, "left")) || (p = strcasestr(name, "right"))) {
                bool left = strncasecmp(p, "left", 4) == 0;
                snprintf(key, len, "%.*s#%s", (int) (p - name), name, p + (left ? 4 : 5));
                return left ? 1 : 2;
        }
        if (stem > 1 && (name[stem - 1] == 'L' || name[stem - 1] == 'R')) {
                snprintf(key, len, "%.*s#%s", (int) (stem - 1), name, dot);
                return name[stem - 1] == 'L' ? 1 : 2;
        }
        return 0;
}

static void free_lists(struct replay *s) {
        for (unsigned i = 0; i < s->n; i++) {
                free(s->left ? s->left[i] : NULL);
                free(s->right ? s->right[i] : NULL);
        }
        free(s->left);
        free(s->right);
        s->left = s->right = NULL;
        s->n = 0;
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
}

static int check_image(struct replay *s, const char *path, unsigned want_w, unsigned want_h) {
        struct stat st;
        FILE *f = fopen(path, "re");
        unsigned w, h;
        int r;

        if (!f || fstat(fileno(f), &st) < 0) {
                r = -errno;
                snprintf(s->error, sizeof(s->error), "cannot read %s: %s", path, strerror(-r));
                if (f)
                        fclose(f);
                return r;
        }
        if (s->passthrough && (size_t) st.st_size > s->base.jpeg_max) {
                snprintf(s->error, sizeof(s->error),
                         "%s is %jd bytes, more than the %zu a side-by-side MJPEG frame of %ux%u may take "
                         "(the raw I420 frame plus 64 KiB); save it at a lower quality, or remove "
                         "camera.format = \"MJPEG\" to have it decoded and re-encoded",
                         path, (intmax_t) st.st_size, s->base.jpeg_max, want_w, want_h);
                fclose(f);
                return -EFBIG;
        }
        if ((size_t) st.st_size > s->cap) {
                uint8_t *b = realloc(s->buf, (size_t) st.st_size);
                if (!b) {
                        fclose(f);
                        return -ENOMEM;
                }
                s->buf = b;
                s->cap = (size_t) st.st_size;
        }
        size_t n = fread(s->buf, 1, (size_t) st.st_size, f);
        fclose(f);
        r = convert_jpeg_size(s->conv, s->buf, n, &w, &h);
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s is not a JPEG image it can read: %s", path,
                         convert_error(s->conv));
                return r;
        }
        if (w != want_w || h != want_h) {
                snprintf(s->error, sizeof(s->error),
                         "%s is %ux%u, but the camera config says %ux%u%s; set camera.width "
                         "and camera.height to the images' size",
                         path, w, h, want_w, want_h, s->right ? "" : " (both eyes side by side)");
                return -EINVAL;
        }
        return 0;
}

/* The right-eye images of a folder, each with its name's key (eye_of()): where lefts find their partners. */
struct rights {
        char **names, **keys;
        unsigned n;
};

static void rights_free(struct rights *rt) {
        for (unsigned i = 0; i < rt->n; i++) {
                free(rt->names[i]);
                free(rt->keys[i]);
        }
        free(rt->names);
        free(rt->keys);
}

static int rights_collect(struct dirent **names, int n, struct rights *ret) {
        *ret = (struct rights){.names = calloc((size_t) n + 1, sizeof(char *)),
                               .keys = calloc((size_t) n + 1, sizeof(char *))};
        if (!ret->names || !ret->keys)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                char key[512];
                if (!is_jpeg(names[i]->d_name) || eye_of(names[i]->d_name, key, sizeof(key)) != 2)
                        continue;
                unsigned k = ret->n++;
                ret->keys[k] = strdup(key);
                ret->names[k] = strdup(names[i]->d_name);
                if (!ret->keys[k] || !ret->names[k])
                        return -ENOMEM;
        }
        return 0;
}

/* *@ret = "@dir/@name". Return: 0, or -ENOMEM with *@ret NULL. */
static int join_path(const char *dir, const char *name, char **ret) {
        if (asprintf(ret, "%s/%s", dir, name) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Add the left image @name and the right one of the same key to the lists. */
static int add_left(struct replay *s, const struct rights *rt, const char *name, const char *key) {
        const char *dir = s->cfg->path;
        unsigned j;
        int r;

        for (j = 0; j < rt->n; j++)
                if (streq(rt->keys[j], key))
                        break;
        if (j == rt->n) {
                snprintf(s->error, sizeof(s->error),
                         "%s/%s has no right image to pair it with (looked for a "
                         "name with right/R in place of left/L)",
                         dir, name);
                return -ENOENT;
        }
        r = join_path(dir, name, &s->left[s->n]);
        if (r == 0)
                r = join_path(dir, rt->names[j], &s->right[s->n]);
        s->n++; /* free_lists() frees what there is of it */
        return r;
}

/* Fill s->left and s->right (NULL for side-by-side images) from the folder's @names, in order. */
static int list_images(struct replay *s, struct dirent **names, int n) {
        _cleanup_(rights_free) struct rights rt = {};
        unsigned side_by_side = 0;
        int r;

        s->left = calloc((size_t) n + 1, sizeof(char *));
        s->right = calloc((size_t) n + 1, sizeof(char *));
        r = rights_collect(names, n, &rt);
        if (r < 0 || !s->left || !s->right)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                char key[512];
                if (!is_jpeg(name))
                        continue;
                switch (eye_of(name, key, sizeof(key))) {
                case 0:
                        r = join_path(s->cfg->path, name, &s->left[s->n++]);
                        side_by_side++;
                        break;
                case 1: r = add_left(s, &rt, name, key); break;
                default: continue; /* a right eye: added with its left */
                }
                if (r < 0)
                        return r;
        }
        if (side_by_side && side_by_side != s->n) {
                snprintf(s->error, sizeof(s->error), "%s mixes side-by-side images and left/right pairs; keep one kind",
                         s->cfg->path);
                return -EINVAL;
        }
        if (side_by_side) {
                free(s->right);
                s->right = NULL;
        }
        return 0;
}

static int replay_open(struct source *base) {
        struct replay *s = (struct replay *) base;
        const struct camera_config *c = s->cfg;
        struct dirent **names = NULL;
        int n, r;

        free_lists(s);
        s->error[0] = 0;
        n = scandir(c->path, &names, NULL, alphasort);
        if (n < 0) {
                r = -errno;
                snprintf(s->error, sizeof(s->error), "cannot list %s: %s", c->path, strerror(-r));
                return r;
        }
        r = list_images(s, names, n);
        if (r == 0 && s->n == 0) {
                snprintf(s->error, sizeof(s->error), "%s holds no JPEG images (*.jpg, *.jpeg)", c->path);
                r = -ENOENT;
        }
        if (r == 0 && s->passthrough && s->right) {
                snprintf(s->error, sizeof(s->error),
                         "%s holds left/right image pairs, two JPEGs a frame, which cannot be stored as one "
                         "MJPEG frame; remove camera.format = \"MJPEG\" to have them decoded and encoded "
                         "side by side, or give side-by-side images",
                         c->path);
                r = -EINVAL;
        }
        for (unsigned i = 0; r == 0 && i < s->n; i++) {
                r = check_image(s, s->left[i], s->right ? c->width : 2 * c->width, c->height);
                if (r == 0 && s->right)
                        r = check_image(s, s->right[i], c->width, c->height);
        }
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (r < 0) {
                free_lists(s);
                return r;
        }
        if (s->passthrough) { /* files are read into the frames' JPEG buffers */
                free(s->buf);
                s->buf = NULL;
                s->cap = 0;
        }
        s->next = 0;
        s->slot = 0;
        s->start_ns = now_ns(CLOCK_MONOTONIC);
        return 0;
}

/* Read the file at @path into @buf (@cap bytes) with open/read (stdio would allocate a FILE).
 * Return: 0 and *@ret_n, or -EBADMSG with the reason in s->error (unreadable, or over @cap: the
 * file grew after the source opened). */
static int read_whole(struct replay *s, const char *path, uint8_t *buf, size_t cap, size_t *ret_n) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t n = 0;
        uint8_t more;
        ssize_t k;

        if (fd < 0) {
                snprintf(s->error, sizeof(s->error), "cannot read %s: %s", path, strerror(errno));
                return -EBADMSG;
        }
        while ((k = n < cap ? read(fd, buf + n, cap - n) : read(fd, &more, 1)) != 0) {
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        snprintf(s->error, sizeof(s->error), "cannot read %s: %s", path, strerror(errno));
                        return -EBADMSG;
                }
                if (n == cap) {
                        snprintf(s->error, sizeof(s->error), "%s grew past %zu bytes since the replay started", path,
                                 cap);
                        return -EBADMSG;
                }
                n += (size_t) k;
        }
        *ret_n = n;
        return 0;
}

/* Read the image at @path into s->buf and convert it into @dst at column @x0.
 * Return: 0, or -EBADMSG with the reason (and the file) in s->error. */
static int load_image(struct replay *s, const char *path, const struct convert_layout *in, struct frame *dst,
                      unsigned x0) {
        size_t n;
        int r = read_whole(s, path, s->buf, s->cap, &n);

        if (r < 0)
                return r;
        if (convert_frame(s->conv, in, s->buf, n, dst, x0) < 0) {
                snprintf(s->error, sizeof(s->error), "%s: %s", path, convert_error(s->conv));
                return -EBADMSG;
        }
        return 0;
}

/* Passthrough: read the side-by-side image at @path straight into dst->jpeg, and hand it over as
 * it is (@want ANY) or decode it from there into the planes (@want PIXELS).
 * Return: 0, or -EBADMSG with the reason (and the file) in s->error. */
static int load_jpeg(struct replay *s, const char *path, const struct convert_layout *in, struct frame *dst,
                     enum source_want want) {
        size_t n;
        int r = read_whole(s, path, dst->jpeg, dst->jpeg_capacity, &n);

        dst->jpeg_size = 0;
        if (r < 0)
                return r;
        r = want == SOURCE_WANT_ANY ? convert_accept_jpeg(s->conv, in, dst, n)
                                    : convert_frame(s->conv, in, dst->jpeg, n, dst, 0);
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s: %s", path, convert_error(s->conv));
                return -EBADMSG;
        }
        return 0;
}

/* Wait for the next image's slot at the configured rate ("realtime"). Return: its time. */
static int64_t wait_slot(struct replay *s) {
        int64_t due = s->start_ns + (int64_t) s->slot * s->period_ns;
        struct timespec t = ns_to_timespec(due);

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
                ;
        return due;
}

static int replay_read(struct source *base, struct frame *dst, enum source_want want, struct frame_meta *ret_meta) {
        struct replay *s = (struct replay *) base;
        const struct camera_config *c = s->cfg;
        const struct convert_layout jpeg = {
                .format = CONVERT_MJPEG, .width = s->right ? c->width : 2 * c->width, .height = c->height};
        int64_t ts;
        int r = 0;

        if (!s->left)
                return -EBADF;
        if (s->next >= s->n) {
                if (!c->loop)
                        return -ENODATA;
                s->next = 0;
        }
        ts = c->rate_max ? now_ns(CLOCK_MONOTONIC) : wait_slot(s);
        *ret_meta = (struct frame_meta){.number = s->slot,
                                        .timestamp_ns = ts,
                                        .left_timestamp_ns = ts,
                                        .right_timestamp_ns = ts,
                                        .left_sequence = (uint32_t) s->slot,
                                        .right_sequence = (uint32_t) s->slot};
        if (dst && s->passthrough) {
                dst->meta = *ret_meta;
                r = load_jpeg(s, s->left[s->next], &jpeg, dst, want);
        } else if (dst) {
                dst->meta = *ret_meta;
                r = load_image(s, s->left[s->next], &jpeg, dst, 0);
                if (r == 0 && s->right)
                        r = load_image(s, s->right[s->next], &jpeg, dst, c->width);
        }
        s->next++;
        s->slot++;
        return r;
}

static void replay_close(struct source *base) {
        free_lists((struct replay *) base);
}

static void replay_free(struct source *base) {
        struct replay *s = (struct replay *) base;
        free_lists(s);
        convert_free(s->conv);
        free(s);
}

static const char *replay_error(struct source *base) {
        return ((struct replay *) base)->error;
}

static const struct source_ops replay_ops = {
        .open = replay_open,
        .read = replay_read,
        .close = replay_close,
        .free = replay_free,
        .error = replay_error,
};

int source_replay_new(const struct camera_config *c, struct source **ret) {
        struct replay *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->base.ops = &replay_ops;
        s->cfg = c;
        s->passthrough = c->pixelformat == V4L2_PIX_FMT_MJPEG;
        s->base.caps = (c->rate_max ? SOURCE_CAP_PACED : 0) | (s->passthrough ? SOURCE_CAP_CAMERA_JPEG : 0);
        /* as a side-by-side MJPEG camera's (capture-v4l2.c, memory-budget.c's CAMERA_JPEG_SLACK): a
         * JPEG is smaller than the raw I420 frame, plus room for its headers; larger files are
         * refused at open */
        s->base.jpeg_max = s->passthrough ? source_camera_jpeg_max(c) : 0;
        s->period_ns = (int64_t) llround(1e9 / c->fps);
        r = convert_new(2 * c->width, c->height, &s->conv);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = &s->base;
        return 0;
}
