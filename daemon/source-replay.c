/* SPDX-License-Identifier: MIT */
/*
 * source-replay.c — a folder of JPEG images played as a stereo camera: side-by-side images, or
 * left/right pairs matched by name (…left…/…right…, …L.jpg/…R.jpg), in name order, at the
 * configured fps ("realtime") or as fast as the pipeline takes them ("max"), once or in a loop.
 * It is how real images reach the pipeline without a camera, and the benchmarks' input.
 *
 * The folder is listed and every image's header checked when the source opens; the read buffer
 * is sized for the largest file then. Images are decoded straight into the frame's I420 planes
 * by the same conversion the V4L2 source uses for MJPEG. At the end of the folder (no loop) the
 * read returns -ENODATA and the take ends with reason end-of-input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include "capture-v4l2.h"
#include "util.h"

struct replay {
        struct source base;
        const struct camera_config *cfg;
        char **left;  /* side-by-side images, or left eyes */
        char **right; /* NULL for side-by-side */
        unsigned n, next;
        uint8_t *buf;
        size_t cap;
        struct capture_convert conv;
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
        int w, h, sub, cs, r = 0;

        if (!f || fstat(fileno(f), &st) < 0) {
                snprintf(s->error, sizeof(s->error), "cannot read %s: %s", path, strerror(errno));
                if (f)
                        fclose(f);
                return -errno;
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
        if (tjDecompressHeader3(s->conv.tj, s->buf, n, &w, &h, &sub, &cs) < 0) {
                snprintf(s->error, sizeof(s->error), "%s is not a JPEG image it can read: %s", path,
                         tjGetErrorStr2(s->conv.tj));
                return -EBADMSG;
        }
        if ((unsigned) w != want_w || (unsigned) h != want_h) {
                snprintf(s->error, sizeof(s->error),
                         "%s is %dx%d, but the camera config says %ux%u%s; set camera.width "
                         "and camera.height to the images' size",
                         path, w, h, want_w, want_h, s->right ? "" : " (both eyes side by side)");
                r = -EINVAL;
        }
        return r;
}

static int replay_open(struct source *base) {
        struct replay *s = (struct replay *) base;
        const struct camera_config *c = s->cfg;
        struct dirent **names = NULL;
        unsigned nl = 0, nr = 0, ns = 0;
        int n, r = 0;

        free_lists(s);
        s->error[0] = 0;
        n = scandir(c->path, &names, NULL, alphasort);
        if (n < 0) {
                snprintf(s->error, sizeof(s->error), "cannot list %s: %s", c->path, strerror(errno));
                return -errno;
        }
        s->left = calloc((size_t) n + 1, sizeof(char *));
        s->right = calloc((size_t) n + 1, sizeof(char *));
        char **rights = calloc((size_t) n + 1, sizeof(char *)), **rkeys = calloc((size_t) n + 1, sizeof(char *));
        if (!s->left || !s->right || !rights || !rkeys) {
                r = -ENOMEM;
                goto out;
        }
        /* right eyes first, by key, so each left can find its partner */
        for (int i = 0; i < n; i++) {
                char key[512];
                if (is_jpeg(names[i]->d_name) && eye_of(names[i]->d_name, key, sizeof(key)) == 2) {
                        rkeys[nr] = strdup(key);
                        rights[nr++] = strdup(names[i]->d_name);
                }
        }
        for (int i = 0; i < n && r == 0; i++) {
                char key[512], path[4096];
                const char *name = names[i]->d_name;
                int eye;
                if (!is_jpeg(name))
                        continue;
                eye = eye_of(name, key, sizeof(key));
                snprintf(path, sizeof(path), "%s/%s", c->path, name);
                if (eye == 0) {
                        s->left[s->n++] = strdup(path);
                        ns++;
                } else if (eye == 1) {
                        unsigned j;
                        for (j = 0; j < nr; j++)
                                if (streq(rkeys[j], key))
                                        break;
                        if (j == nr) {
                                snprintf(s->error, sizeof(s->error),
                                         "%s has no right image to pair it with (looked for a "
                                         "name with right/R in place of left/L)",
                                         path);
                                r = -ENOENT;
                                break;
                        }
                        s->left[s->n] = strdup(path);
                        snprintf(path, sizeof(path), "%s/%s", c->path, rights[j]);
                        s->right[s->n++] = strdup(path);
                        nl++;
                }
        }
        if (r == 0 && ns && nl) {
                snprintf(s->error, sizeof(s->error), "%s mixes side-by-side images and left/right pairs; keep one kind",
                         c->path);
                r = -EINVAL;
        }
        if (r == 0 && s->n == 0) {
                snprintf(s->error, sizeof(s->error), "%s holds no JPEG images (*.jpg, *.jpeg)", c->path);
                r = -ENOENT;
        }
        if (r == 0 && ns) {
                free(s->right);
                s->right = NULL;
        }
        for (unsigned i = 0; r == 0 && i < s->n; i++) {
                r = check_image(s, s->left[i], s->right ? c->width : 2 * c->width, c->height);
                if (r == 0 && s->right)
                        r = check_image(s, s->right[i], c->width, c->height);
        }
out:
        for (unsigned i = 0; i < nr; i++) {
                free(rights[i]);
                free(rkeys[i]);
        }
        free(rights);
        free(rkeys);
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (r < 0) {
                free_lists(s);
                return r;
        }
        s->next = 0;
        s->slot = 0;
        s->start_ns = now_ns(CLOCK_MONOTONIC);
        return 0;
}

static int load(struct replay *s, const char *path, size_t *ret_n) {
        FILE *f = fopen(path, "re");
        if (!f) {
                snprintf(s->error, sizeof(s->error), "cannot read %s: %s", path, strerror(errno));
                return -errno;
        }
        *ret_n = fread(s->buf, 1, s->cap, f);
        fclose(f);
        return 0;
}

static int replay_read(struct source *base, struct frame *dst, _unused_ enum source_want want,
                       struct frame_meta *ret_meta) {
        struct replay *s = (struct replay *) base;
        const struct camera_config *c = s->cfg;
        int64_t ts;
        size_t n;
        int r;

        if (!s->left)
                return -EBADF;
        if (s->next >= s->n) {
                if (!c->loop)
                        return -ENODATA;
                s->next = 0;
        }
        if (!c->rate_max) {
                int64_t due = s->start_ns + (int64_t) s->slot * s->period_ns;
                struct timespec t = ns_to_timespec(due);
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
                        ;
                ts = due;
        } else
                ts = now_ns(CLOCK_MONOTONIC);

        *ret_meta = (struct frame_meta){.number = s->slot,
                                        .timestamp_ns = ts,
                                        .left_timestamp_ns = ts,
                                        .right_timestamp_ns = ts,
                                        .left_sequence = (uint32_t) s->slot,
                                        .right_sequence = (uint32_t) s->slot};
        if (dst) {
                struct capture_format fmt = {.width = s->right ? c->width : 2 * c->width,
                                             .height = c->height,
                                             .pixelformat = V4L2_PIX_FMT_MJPEG};
                dst->meta = *ret_meta;
                r = load(s, s->left[s->next], &n);
                if (r >= 0)
                        r = capture_convert_frame(&s->conv, &fmt, s->buf, n, dst, 0, false);
                if (r >= 0 && s->right) {
                        r = load(s, s->right[s->next], &n);
                        if (r >= 0)
                                r = capture_convert_frame(&s->conv, &fmt, s->buf, n, dst, c->width, false);
                }
                if (r < 0) {
                        if (!s->error[0] || r == -EBADMSG)
                                snprintf(s->error, sizeof(s->error), "%s: %s", s->left[s->next], s->conv.error);
                        s->next++;
                        s->slot++;
                        return -EBADMSG;
                }
        }
        s->next++;
        s->slot++;
        return 0;
}

static void replay_close(struct source *base) {
        free_lists((struct replay *) base);
}

static void replay_free(struct source *base) {
        struct replay *s = (struct replay *) base;
        free_lists(s);
        capture_convert_done(&s->conv);
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
        s->base.caps = c->rate_max ? SOURCE_CAP_PACED : 0;
        s->cfg = c;
        s->period_ns = (int64_t) llround(1e9 / c->fps);
        r = capture_convert_init(&s->conv, 2 * c->width, c->height);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = &s->base;
        return 0;
}
