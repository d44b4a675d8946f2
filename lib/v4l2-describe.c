/* SPDX-License-Identifier: MIT */
/*
 * v4l2-describe.c — owns saying what a V4L2 device can give, in words (the formats, sizes and
 * frame rates in a "cannot give" error and in `handrecctl devices`), a fourcc's name, and the
 * ioctl wrapper every V4L2 call here and in capture-v4l2.c goes through.
 */
#include "v4l2-describe.h"

#include <errno.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <stdbool.h>

int v4l2_xioctl(int fd, unsigned long request, void *arg) {
        int r;
        do
                r = v4l2_ioctl(fd, request, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : r;
}

const char *v4l2_fourcc_to_string(uint32_t fourcc, char buf[static 8]) {
        snprintf(buf, 8, "%c%c%c%c", fourcc & 0x7f, (fourcc >> 8) & 0x7f, (fourcc >> 16) & 0x7f, (fourcc >> 24) & 0x7f);
        for (char *p = buf; *p; p++)
                if (*p == ' ')
                        *p = 0;
        return buf;
}

/* " 640x360@1,2,4 1280x720@..." for one size (and its rates) */
static void describe_size(int fd, uint32_t pixelformat, const struct v4l2_frmsizeenum *fs, FILE *out) {
        struct v4l2_frmivalenum fi = {
                .pixel_format = pixelformat, .width = fs->discrete.width, .height = fs->discrete.height};

        fprintf(out, " %ux%u", fs->discrete.width, fs->discrete.height);
        for (fi.index = 0; v4l2_xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) >= 0; fi.index++) {
                if (fi.type != V4L2_FRMIVAL_TYPE_DISCRETE || fi.discrete.numerator == 0)
                        break;
                fprintf(out, "%s%g", fi.index ? "," : "@", (double) fi.discrete.denominator / fi.discrete.numerator);
        }
}

/* one line: "<indent>YUYV (YUYV 4:2:2): 640x360@1,2,... 1280x720@..." */
static void describe_format(int fd, const struct v4l2_fmtdesc *d, FILE *out, const char *indent) {
        struct v4l2_frmsizeenum fs = {.pixel_format = d->pixelformat};
        char cc[8];

        fprintf(out, "%s%s (%s):", indent, v4l2_fourcc_to_string(d->pixelformat, cc), (const char *) d->description);
        for (fs.index = 0; v4l2_xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) >= 0; fs.index++) {
                if (fs.type != V4L2_FRMSIZE_TYPE_DISCRETE) {
                        fprintf(out, " %ux%u to %ux%u", fs.stepwise.min_width, fs.stepwise.min_height,
                                fs.stepwise.max_width, fs.stepwise.max_height);
                        break;
                }
                describe_size(fd, d->pixelformat, &fs, out);
        }
        fputc('\n', out);
}

static bool offers(int fd, uint32_t pixelformat) {
        struct v4l2_fmtdesc d = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};

        for (d.index = 0; v4l2_xioctl(fd, VIDIOC_ENUM_FMT, &d) >= 0; d.index++)
                if (d.pixelformat == pixelformat)
                        return true;
        return false;
}

int v4l2_describe_formats(int fd, uint32_t only, FILE *out, const char *indent) {
        struct v4l2_fmtdesc d = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        int n = 0, others = 0;
        char cc[8];

        if (only && !offers(fd, only))
                only = 0; /* it cannot give that format at all: show what it can */
        for (d.index = 0; v4l2_xioctl(fd, VIDIOC_ENUM_FMT, &d) >= 0; d.index++)
                if (!only || d.pixelformat == only) {
                        describe_format(fd, &d, out, indent);
                        n++;
                }
        if (!only)
                return n;
        for (d.index = 0; v4l2_xioctl(fd, VIDIOC_ENUM_FMT, &d) >= 0; d.index++) {
                if (d.pixelformat == only)
                        continue;
                if (!others++)
                        fprintf(out, "%sother formats (not shown):", indent);
                fprintf(out, "%s %s", others > 1 ? "," : "", v4l2_fourcc_to_string(d.pixelformat, cc));
        }
        if (others)
                fputc('\n', out);
        return n;
}
