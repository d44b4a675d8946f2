/* SPDX-License-Identifier: MIT */
/*
 * frames.c — what the test camera sends. MJPEG: real side-by-side JPEGs, DIR/<W>x<H>/ *.jpg for
 * each MJPEG size (sorted by name, played in a loop), each sent with a COM segment right after
 * its SOI marker, "handrec-uvc frame NNNNNNNNNN": the frame's number, counted over every frame
 * this camera began, so a test finds in any stored JPEG which frame it was. YUYV: a pattern
 * that moves with the frame number.
 *
 * "sent N FIRST_NS LAST_NS BYTES IMAGE" is logged once frame N's last byte has gone out
 * (FIRST_NS, LAST_NS: when the URBs holding its first and last packets were answered,
 * CLOCK_MONOTONIC; IMAGE: the file's index among its size's, -1 for YUYV). The bytes of frame N
 * are thus known exactly: IMAGE's file with N's COM segment after its SOI; the tests rebuild them
 * and compare each stored frame with them (hashing here would cost an emulated CPU dearly).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "camera.h"

#define COM_TEXT "handrec-uvc frame %010" PRIu64
#define COM_TEXT_LEN 28 /* strlen of COM_TEXT once printed */
#define COM_SEGMENT (4 + COM_TEXT_LEN)
#define MAX_IMAGES 64

struct image {
        uint8_t *bytes;
        size_t size;
};

struct size_images {
        struct image img[MAX_IMAGES];
        unsigned n;
};

struct frames {
        struct size_images mjpeg[ARRAY_SIZE(formats[0].sizes)];
        uint8_t *buf; /* the frame being sent */
        size_t cap, size;
        uint64_t next_number, number;
        int image; /* of the frame being sent, -1 for YUYV */
};

static int read_file(const char *path, struct image *ret) {
        FILE *f = fopen(path, "rb");
        struct stat st;
        int r = -1;

        if (!f || fstat(fileno(f), &st) < 0 || st.st_size < 4)
                goto out;
        ret->size = (size_t) st.st_size;
        ret->bytes = malloc(ret->size);
        if (ret->bytes && fread(ret->bytes, 1, ret->size, f) == ret->size && ret->bytes[0] == 0xff &&
            ret->bytes[1] == 0xd8)
                r = 0;
out:
        if (f)
                fclose(f);
        if (r < 0)
                fprintf(stderr, "uvc-camera: %s is not a JPEG file that can be read\n", path);
        return r;
}

static int filter_jpeg(const struct dirent *d) {
        size_t n = strlen(d->d_name);
        return n > 4 && (!strcmp(d->d_name + n - 4, ".jpg") || !strcmp(d->d_name + n - 4, ".JPG"));
}

/* Every *.jpg of DIR/<W>x<H>, sorted by name. */
static int load_size(const char *dir, struct frame_size *fs, struct size_images *si) {
        char path[4096];
        struct dirent **names;
        int n, r = 0;

        snprintf(path, sizeof(path), "%s/%ux%u", dir, fs->width, fs->height);
        n = scandir(path, &names, filter_jpeg, alphasort);
        if (n <= 0) {
                fprintf(stderr, "uvc-camera: no JPEG in %s: give it side-by-side %ux%u JPEGs (*.jpg)\n", path,
                        fs->width, fs->height);
                return -1;
        }
        for (int i = 0; i < n; i++) {
                if (r == 0 && si->n < MAX_IMAGES) {
                        char file[4352];
                        snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
                        r = read_file(file, &si->img[si->n]);
                        if (r == 0) {
                                if (si->img[si->n].size + COM_SEGMENT > fs->max_frame_bytes)
                                        fs->max_frame_bytes = (uint32_t) (si->img[si->n].size + COM_SEGMENT);
                                si->n++;
                        }
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int frames_load(struct camera *cam, const char *dir) {
        struct frames *fr = calloc(1, sizeof(*fr));

        if (!fr)
                return -1;
        cam->frames = fr;
        for (unsigned f = 0; f < N_FORMATS; f++)
                for (unsigned s = 0; s < formats[f].n_sizes; s++) {
                        struct frame_size *fs = &formats[f].sizes[s];
                        if (formats[f].kind == FMT_MJPEG && load_size(dir, fs, &fr->mjpeg[s]) < 0)
                                return -1;
                        if (fs->max_frame_bytes > fr->cap)
                                fr->cap = fs->max_frame_bytes;
                }
        fr->buf = malloc(fr->cap);
        return fr->buf ? 0 : -1;
}

/* The JPEG with its number in a COM segment after SOI. */
static void build_mjpeg(struct frames *fr, const struct image *img) {
        char text[COM_TEXT_LEN + 1];

        snprintf(text, sizeof(text), COM_TEXT, fr->number);
        fr->buf[0] = 0xff, fr->buf[1] = 0xd8;
        fr->buf[2] = 0xff, fr->buf[3] = 0xfe; /* COM */
        fr->buf[4] = 0, fr->buf[5] = COM_TEXT_LEN + 2;
        memcpy(fr->buf + 6, text, COM_TEXT_LEN);
        memcpy(fr->buf + 2 + COM_SEGMENT, img->bytes + 2, img->size - 2);
        fr->size = img->size + COM_SEGMENT;
}

/* Vertical bars that move one pixel a frame, grey chroma. */
static void build_yuyv(struct frames *fr, const struct frame_size *fs) {
        uint8_t *p = fr->buf;

        for (unsigned y = 0; y < fs->height; y++)
                for (unsigned x = 0; x < fs->width; x += 2, p += 4) {
                        p[0] = (uint8_t) (((x + fr->number) / 16 % 2) ? 200 : 40);
                        p[2] = (uint8_t) (((x + 1 + fr->number) / 16 % 2) ? 200 : 40);
                        p[1] = p[3] = 128;
                }
        fr->size = (size_t) fs->width * fs->height * 2;
}

const uint8_t *frames_next(struct camera *cam, const struct probe *mode, size_t *ret_size) {
        struct frames *fr = cam->frames;
        const struct format *f = &formats[mode->format_index - 1];
        const struct frame_size *fs = &f->sizes[mode->frame_index - 1];

        fr->number = fr->next_number++;
        if (f->kind == FMT_MJPEG) {
                const struct size_images *si = &fr->mjpeg[mode->frame_index - 1];
                fr->image = (int) (fr->number % si->n);
                build_mjpeg(fr, &si->img[fr->image]);
        } else {
                fr->image = -1;
                build_yuyv(fr, fs);
        }
        *ret_size = fr->size;
        return fr->buf;
}

void frames_done(struct camera *cam, struct sent_frame *ret) {
        struct frames *fr = cam->frames;

        *ret = (struct sent_frame){.number = fr->number, .size = fr->size, .image = fr->image};
}

void frames_log_sent(struct camera *cam, const struct sent_frame *f) {
        cam_log(cam, "sent %" PRIu64 " %" PRId64 " %" PRId64 " %zu %d", f->number, f->first_ns, f->last_ns, f->size,
                f->image);
}

void frames_free(struct camera *cam) {
        struct frames *fr = cam->frames;

        if (!fr)
                return;
        for (unsigned s = 0; s < ARRAY_SIZE(fr->mjpeg); s++)
                for (unsigned i = 0; i < fr->mjpeg[s].n; i++)
                        free(fr->mjpeg[s].img[i].bytes);
        free(fr->buf);
        free(fr);
        cam->frames = NULL;
}
