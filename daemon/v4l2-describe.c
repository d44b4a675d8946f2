/* SPDX-License-Identifier: MIT */
/* v4l2-describe.c — what a V4L2 device can give, in words: for error messages and `handrecctl devices`. */
#include <errno.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <stdio.h>

#include "v4l2-describe.h"

static int xioctl(int fd, unsigned long req, void *arg) {
        int r;
        do
                r = v4l2_ioctl(fd, req, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : r;
}

const char *fourcc_to_string(uint32_t f, char buf[static 8]) {
        snprintf(buf, 8, "%c%c%c%c", f & 0x7f, (f >> 8) & 0x7f, (f >> 16) & 0x7f, (f >> 24) & 0x7f);
        for (char *p = buf; *p; p++)
                if (*p == ' ')
                        *p = 0;
        return buf;
}

int capture_describe(int fd, uint32_t only, FILE *out, const char *indent) {
        struct v4l2_fmtdesc fd_ = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        int n = 0, others = 0;

        for (fd_.index = 0; xioctl(fd, VIDIOC_ENUM_FMT, &fd_) >= 0; fd_.index++) {
                struct v4l2_frmsizeenum fs = {.pixel_format = fd_.pixelformat};
                char cc[8];

                if (only && fd_.pixelformat != only) {
                        fprintf(out, "%s%s", others++ ? ", " : (n ? "\n" : ""), fourcc_to_string(fd_.pixelformat, cc));
                        if (others == 1)
                                fprintf(out, "%s", ""); /* the list is closed below */
                        continue;
                }
                fprintf(out, "%s%s (%s):", indent, fourcc_to_string(fd_.pixelformat, cc), fd_.description);
                for (fs.index = 0; xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) >= 0; fs.index++) {
                        if (fs.type != V4L2_FRMSIZE_TYPE_DISCRETE) {
                                fprintf(out, " %ux%u to %ux%u", fs.stepwise.min_width, fs.stepwise.min_height,
                                        fs.stepwise.max_width, fs.stepwise.max_height);
                                break;
                        }
                        struct v4l2_frmivalenum fi = {.pixel_format = fd_.pixelformat,
                                                      .width = fs.discrete.width,
                                                      .height = fs.discrete.height};
                        fprintf(out, " %ux%u", fs.discrete.width, fs.discrete.height);
                        for (fi.index = 0; xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) >= 0; fi.index++) {
                                if (fi.type != V4L2_FRMIVAL_TYPE_DISCRETE)
                                        break;
                                fprintf(out, "%s%g", fi.index ? "," : "@",
                                        (double) fi.discrete.denominator / fi.discrete.numerator);
                        }
                }
                fputc('\n', out);
                n++;
        }
        if (others)
                fprintf(out, " (other formats, not shown)\n");
        return n;
}
