/* SPDX-License-Identifier: MIT */
/*
 * capture-v4l2.c — owns V4L2 cameras as a source (source_v4l2_new(), declared in source.h),
 * through libv4l2: one device that sends both eyes side by side, or two devices, one per eye,
 * whose frames pair.c pairs by timestamp. It opens, configures and streams the devices, waits
 * for and dequeues their buffers, and hands each frame's bytes to convert.c.
 *
 * Streaming is mmap with `camera.buffers` driver buffers. YUYV and MJPEG are read natively;
 * format "YUV420" asks libv4l2 for planar 4:2:0, which it converts most other formats to. A
 * side-by-side MJPEG camera can hand over its JPEG as it came (SOURCE_CAP_CAMERA_JPEG), for a
 * take with nothing to do on the pixels: no decode, no re-encode.
 *
 * The configured controls (camera.controls: exposure, gain, white balance) are set on every
 * device each time it opens (v4l2-controls.c), the same on both devices of a pair; a replugged
 * camera, which the driver brings back with its defaults, gets them again.
 *
 * Timestamps are the driver's when it says they are CLOCK_MONOTONIC, the dequeue time otherwise
 * (the file's timestamp_source attribute says which), and only go forward on a device: a
 * driver's time that steps back (uvcvideo's estimate does, by a fraction of a millisecond) is
 * held 1 µs after the previous frame's, and said once (pair_forward_timestamp()). Driver sequence numbers are kept per
 * device; a gap in them is frames the camera dropped. Each device holds at most one dequeued
 * buffer at a time, given back to the driver once its frame is converted, or left unpaired.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "convert.h"
#include "pair.h"
#include "source.h"
#include "../lib/util.h"
#include "../lib/v4l2-controls.h"
#include "../lib/v4l2-describe.h"

#define MAX_BUFFERS 32
#define NO_FRAME_TIMEOUT_MS 5000

struct eye_buf {
        void *start; /* mapped */
        size_t length;
};

struct eye_dev {
        const char *path;
        int fd;
        struct eye_buf bufs[MAX_BUFFERS];
        unsigned n_bufs; /* mapped */
        bool streaming;
        struct convert_layout layout; /* of this device's frames */
        bool monotonic;
        bool have_seq;
        uint32_t last_seq;
        /* a dequeued buffer, held until it is converted or given back */
        bool held;
        struct v4l2_buffer hb;
        int64_t held_ts;
        int64_t last_ts;             /* the previous frame's time: times only go forward */
        unsigned times_held_forward; /* frames whose driver time did not (pair_forward_timestamp()) */
};

struct v4l2src {
        struct source base;
        const struct camera_config *cfg;
        bool two_devices; /* one per eye, paired; else one side-by-side device */
        bool passthrough; /* can hand over the camera's JPEG */
        enum convert_format format;
        struct eye_dev eye[2];
        struct pair pairing;
        struct convert *conv;
        char error[1024];
};

static int convert_format_of(uint32_t pixelformat, enum convert_format *ret) {
        switch (pixelformat) {
        case V4L2_PIX_FMT_YUYV: *ret = CONVERT_YUYV; return 0;
        case V4L2_PIX_FMT_YUV420: *ret = CONVERT_YUV420; return 0;
        case V4L2_PIX_FMT_MJPEG: *ret = CONVERT_MJPEG; return 0;
        default: return -EINVAL;
        }
}

/* ---- one device: open, configure, stream, close ------------------------------------------ */

/* What the device can give in @pixelformat, as lines for an error message. */
static const char *describe_into(int fd, uint32_t pixelformat, char *buf, size_t len) {
        FILE *f = fmemopen(buf, len, "w");

        buf[0] = 0;
        if (!f)
                return buf;
        v4l2_describe_formats(fd, pixelformat, f, "  ");
        fclose(f);
        buf[len - 1] = 0;
        return buf;
}

static void dev_close(struct eye_dev *e) {
        if (e->fd < 0)
                return;
        if (e->streaming) {
                int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
                v4l2_xioctl(e->fd, VIDIOC_STREAMOFF, &type);
                e->streaming = false;
        }
        for (unsigned i = 0; i < e->n_bufs; i++)
                v4l2_munmap(e->bufs[i].start, e->bufs[i].length);
        e->n_bufs = 0;
        /* free the driver's buffers too, so reopening finds a clean device */
        v4l2_close(e->fd);
        e->fd = -1;
        e->held = false;
        e->have_seq = false;
}

static int dev_check_caps(struct v4l2src *s, struct eye_dev *e) {
        struct v4l2_capability cap = {};
        int r = v4l2_xioctl(e->fd, VIDIOC_QUERYCAP, &cap);
        uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;

        if (r < 0 || !(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
                snprintf(s->error, sizeof(s->error), "%s is not a video capture device with streaming I/O", e->path);
                return -ENOTTY;
        }
        return 0;
}

static int dev_set_format(struct v4l2src *s, struct eye_dev *e, unsigned width, unsigned height) {
        uint32_t want = s->cfg->pixelformat;
        struct v4l2_format fmt = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        char cc_want[8], cc_got[8], list[900];
        int r;

        fmt.fmt.pix.width = width;
        fmt.fmt.pix.height = height;
        fmt.fmt.pix.pixelformat = want;
        fmt.fmt.pix.field = V4L2_FIELD_NONE;
        r = v4l2_xioctl(e->fd, VIDIOC_S_FMT, &fmt);
        if (r < 0 || fmt.fmt.pix.width != width || fmt.fmt.pix.height != height || fmt.fmt.pix.pixelformat != want) {
                snprintf(s->error, sizeof(s->error), "%s cannot give %ux%u %s (it offered %ux%u %s); it can give:\n%s",
                         e->path, width, height, v4l2_fourcc_to_string(want, cc_want), fmt.fmt.pix.width,
                         fmt.fmt.pix.height, v4l2_fourcc_to_string(fmt.fmt.pix.pixelformat, cc_got),
                         describe_into(e->fd, want, list, sizeof(list)));
                return -EINVAL;
        }
        e->layout = (struct convert_layout){
                .format = s->format, .width = width, .height = height, .bytesperline = fmt.fmt.pix.bytesperline};
        return 0;
}

/* Ask for the configured rate; refuse a device that gives another, go on with one that cannot say. */
static int dev_set_rate(struct v4l2src *s, struct eye_dev *e) {
        const struct camera_config *c = s->cfg;
        struct v4l2_streamparm parm = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        struct v4l2_fract *tpf = &parm.parm.capture.timeperframe;
        char cc[8], list[900];
        int r;

        *tpf = (struct v4l2_fract){.numerator = 1000, .denominator = (uint32_t) lround(c->fps * 1000)};
        r = v4l2_xioctl(e->fd, VIDIOC_S_PARM, &parm);
        if (r < 0) {
                log_warning("%s does not let us set the frame rate (%s); using what it gives", e->path, strerror(-r));
                return 0;
        }
        if (tpf->numerator == 0)
                return 0;
        double fps = (double) tpf->denominator / tpf->numerator;
        if (fabs(fps - c->fps) > 0.01 * c->fps) {
                snprintf(s->error, sizeof(s->error),
                         "%s cannot give %g fps at %ux%u %s (it offered %g fps); it can give:\n%s", e->path, c->fps,
                         e->layout.width, e->layout.height, v4l2_fourcc_to_string(c->pixelformat, cc), fps,
                         describe_into(e->fd, c->pixelformat, list, sizeof(list)));
                return -EINVAL;
        }
        return 0;
}

/* Get the driver's buffers, map them and queue them all. */
static int dev_map_buffers(struct v4l2src *s, struct eye_dev *e) {
        struct v4l2_requestbuffers req = {
                .count = s->cfg->buffers, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
        int r = v4l2_xioctl(e->fd, VIDIOC_REQBUFS, &req);

        if (r < 0 || req.count < 2) {
                snprintf(s->error, sizeof(s->error), "%s: cannot get %u streaming buffers: %s", e->path,
                         s->cfg->buffers, r < 0 ? strerror(-r) : "too few");
                return r < 0 ? r : -ENOMEM;
        }
        for (unsigned i = 0; i < MIN(req.count, MAX_BUFFERS); i++) {
                struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP, .index = i};
                void *start = MAP_FAILED;

                r = v4l2_xioctl(e->fd, VIDIOC_QUERYBUF, &b);
                if (r >= 0) {
                        start = v4l2_mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, e->fd, b.m.offset);
                        r = start == MAP_FAILED ? -errno : 0;
                }
                if (r >= 0) {
                        e->bufs[e->n_bufs++] = (struct eye_buf){.start = start, .length = b.length};
                        r = v4l2_xioctl(e->fd, VIDIOC_QBUF, &b);
                }
                if (r < 0) {
                        snprintf(s->error, sizeof(s->error), "%s: cannot set up buffer %u: %s", e->path, i,
                                 strerror(-r));
                        return r;
                }
        }
        return 0;
}

static int dev_open(struct v4l2src *s, struct eye_dev *e, unsigned width, unsigned height) {
        int r, type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

        e->fd = v4l2_open(e->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (e->fd < 0) {
                r = -errno;
                snprintf(s->error, sizeof(s->error), "Cannot open %s: %s", e->path, strerror(-r));
                return r;
        }
        r = dev_check_caps(s, e);
        if (r >= 0)
                r = dev_set_format(s, e, width, height);
        if (r >= 0)
                r = dev_set_rate(s, e);
        if (r >= 0) /* camera.controls: every open, so a replugged camera gets them again */
                r = v4l2_controls_apply(e->fd, e->path, s->cfg->controls, s->cfg->n_controls, s->error,
                                        sizeof(s->error));
        if (r >= 0)
                r = dev_map_buffers(s, e);
        if (r >= 0) {
                r = v4l2_xioctl(e->fd, VIDIOC_STREAMON, &type);
                if (r == -ENOSPC) /* a USB host controller's bandwidth account, not a disk */
                        snprintf(s->error, sizeof(s->error),
                                 "%s: cannot start streaming: the USB bus has not the bandwidth for this mode "
                                 "(%ux%u at %g fps) beside what else streams on it: configure a lower fps or a "
                                 "smaller size, or plug the camera into a USB port of another controller",
                                 e->path, width, height, s->cfg->fps);
                else if (r < 0)
                        snprintf(s->error, sizeof(s->error), "%s: cannot start streaming: %s", e->path, strerror(-r));
        }
        if (r < 0) {
                dev_close(e);
                return r;
        }
        e->streaming = true;
        e->held = false;
        e->have_seq = false;
        return 0;
}

/* ---- buffers: wait, dequeue, give back --------------------------------------------------- */

static bool is_gone(int r) {
        return r == -ENODEV || r == -EIO || r == -EPIPE || r == -EBADF || r == -ENXIO;
}

/* Dequeue one buffer of @e into e->hb / e->held_ts, adding the frames the camera skipped before
 * it to *@gap. Return: 1, 0 (none ready), -errno (-ENODEV: the device is gone). */
static int dequeue(struct v4l2src *s, struct eye_dev *e, uint32_t *gap) {
        struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
        int r = v4l2_xioctl(e->fd, VIDIOC_DQBUF, &b);
        int64_t ts, back;

        if (r == -EAGAIN)
                return 0;
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s: %s", e->path, strerror(-r));
                return is_gone(r) ? -ENODEV : r;
        }
        e->monotonic = (b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
        ts = e->monotonic ? (int64_t) b.timestamp.tv_sec * NSEC_PER_SEC + b.timestamp.tv_usec * 1000
                          : now_ns(CLOCK_MONOTONIC);
        e->held_ts = pair_forward_timestamp(ts, &e->last_ts, &back);
        if (e->held_ts != ts && e->times_held_forward++ == 0)
                log_warning("%s: the driver's frame time went back %" PRId64 " µs (frame %u); held 1 µs after the "
                            "previous frame's, so that the take's times only go forward (said once a device).",
                            e->path, back / 1000, b.sequence);
        if (e->have_seq && b.sequence != e->last_seq + 1)
                *gap += b.sequence - e->last_seq - 1;
        e->last_seq = b.sequence;
        e->have_seq = true;
        e->hb = b;
        e->held = true;
        if (b.flags & V4L2_BUF_FLAG_ERROR)
                log_debug("%s: buffer %u flagged as corrupted by the driver", e->path, b.sequence);
        return 1;
}

/* Give @e's held buffer (if any) back to the driver. Return: 0 or -errno. */
static int requeue(struct v4l2src *s, struct eye_dev *e) {
        int r;

        if (!e->held)
                return 0;
        e->held = false;
        r = v4l2_xioctl(e->fd, VIDIOC_QBUF, &e->hb);
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s: cannot requeue a buffer: %s", e->path, strerror(-r));
                return is_gone(r) ? -ENODEV : r;
        }
        return 0;
}

/* Wait until an eye in @mask has a frame (or an error DQBUF will explain). Polling first matters:
 * a DQBUF that would block makes libv4l2 log an error.
 * Return: the mask of those eyes (0 when a signal interrupted the wait), or -ENODEV after
 * NO_FRAME_TIMEOUT_MS without any. */
static int wait_ready(struct v4l2src *s, unsigned mask) {
        struct pollfd p[2];
        unsigned n = 0, idx[2], ready = 0;
        int r;

        for (unsigned i = 0; i < 2; i++)
                if (mask & (1u << i)) {
                        idx[n] = i;
                        p[n++] = (struct pollfd){.fd = s->eye[i].fd, .events = POLLIN};
                }
        r = poll(p, n, NO_FRAME_TIMEOUT_MS);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        if (r == 0) {
                snprintf(s->error, sizeof(s->error), "no frame from %s for %d s", s->eye[idx[0]].path,
                         NO_FRAME_TIMEOUT_MS / 1000);
                return -ENODEV;
        }
        for (unsigned i = 0; i < n; i++)
                if (p[i].revents)
                        ready |= 1u << idx[i];
        return (int) ready;
}

/* Wait for the eyes in @mask and dequeue a buffer from each that has one (gap[i]: see dequeue()).
 * Return: 0 (some or none dequeued: ask again), or -errno. */
static int dequeue_ready(struct v4l2src *s, unsigned mask, uint32_t gap[2]) {
        int ready = wait_ready(s, mask);

        if (ready < 0)
                return ready;
        for (unsigned i = 0; i < 2; i++)
                if (ready & (1 << i)) {
                        int r = dequeue(s, &s->eye[i], &gap[i]);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* ---- frames ------------------------------------------------------------------------------ */

/* Convert @e's held frame into @dst at column @x0, or copy the camera's JPEG (@camera_jpeg).
 * Return: 0, or -EBADMSG with the reason in s->error. */
static int convert_held(struct v4l2src *s, struct eye_dev *e, struct frame *dst, unsigned x0, bool camera_jpeg) {
        const uint8_t *data = e->bufs[e->hb.index].start;
        size_t size = MIN((size_t) e->hb.bytesused, e->bufs[e->hb.index].length);
        int r = camera_jpeg ? convert_copy_jpeg(s->conv, &e->layout, data, size, dst)
                            : convert_frame(s->conv, &e->layout, data, size, dst, x0);

        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s: %s", e->path, convert_error(s->conv));
                return -EBADMSG;
        }
        return 0;
}

/* Put the held frames into @dst (NULL: drop them), then give their buffers back to the drivers.
 * Return: 0, -EBADMSG (one frame the camera sent broken), or the requeue's -errno. */
static int deliver(struct v4l2src *s, struct frame *dst, const struct frame_meta *meta, bool camera_jpeg) {
        unsigned n = s->two_devices ? 2 : 1;
        int r = 0, q = 0;

        if (dst) {
                dst->meta = *meta;
                for (unsigned i = 0; i < n && r >= 0; i++)
                        r = convert_held(s, &s->eye[i], dst, i * s->cfg->width, camera_jpeg);
        }
        for (unsigned i = 0; i < n && q >= 0; i++)
                q = requeue(s, &s->eye[i]);
        return q < 0 ? q : r;
}

/* one side-by-side device */
static int read_one(struct v4l2src *s, struct frame *dst, enum source_want want, struct frame_meta *ret_meta) {
        struct eye_dev *e = &s->eye[0];
        uint32_t gap[2] = {0, 0};
        int r;

        while (!e->held) {
                r = dequeue_ready(s, 1u << 0, gap);
                if (r < 0)
                        return r;
        }
        *ret_meta = (struct frame_meta){
                .number = e->hb.sequence,
                .timestamp_ns = e->held_ts,
                .left_timestamp_ns = e->held_ts,
                .right_timestamp_ns = e->held_ts,
                .left_sequence = e->hb.sequence,
                .right_sequence = e->hb.sequence,
                .camera_gap = gap[0],
                .dequeue_timestamp = !e->monotonic,
        };
        return deliver(s, dst, ret_meta, s->passthrough && want == SOURCE_WANT_ANY);
}

/* Read and give back frames of two devices until their held frames are a pair (pair.c decides). */
static int match_pair(struct v4l2src *s, uint32_t gap[2], struct pair_result *ret) {
        for (;;) {
                const struct pair_held held[2] = {
                        {.held = s->eye[0].held, .timestamp_ns = s->eye[0].held_ts},
                        {.held = s->eye[1].held, .timestamp_ns = s->eye[1].held_ts},
                };
                int r = 0;

                switch (pair_next(&s->pairing, held, ret)) {
                case PAIR_MATCH: return 0;
                case PAIR_DISCARD: r = requeue(s, &s->eye[ret->discard]); break;
                case PAIR_NEED: r = dequeue_ready(s, ret->need, gap); break;
                }
                if (r < 0)
                        return r;
        }
}

/* two devices, one per eye */
static int read_pair(struct v4l2src *s, struct frame *dst, struct frame_meta *ret_meta) {
        const struct eye_dev *l = &s->eye[0], *rt = &s->eye[1];
        uint32_t gap[2] = {0, 0};
        struct pair_result pr;
        int r;

        r = match_pair(s, gap, &pr);
        if (r < 0)
                return r;
        *ret_meta = (struct frame_meta){
                .number = l->hb.sequence,
                .timestamp_ns = pr.timestamp_ns,
                .left_timestamp_ns = l->held_ts,
                .right_timestamp_ns = rt->held_ts,
                .left_sequence = l->hb.sequence,
                .right_sequence = rt->hb.sequence,
                .camera_gap = MAX(gap[0], gap[1]),
                .unpaired = {pr.unpaired[PAIR_LEFT], pr.unpaired[PAIR_RIGHT]},
                .dequeue_timestamp = !l->monotonic || !rt->monotonic,
        };
        return deliver(s, dst, ret_meta, false);
}

/* ---- the source -------------------------------------------------------------------------- */

static int v4l2src_open(struct source *base) {
        struct v4l2src *s = (struct v4l2src *) base;
        const struct camera_config *c = s->cfg;
        int r;

        s->error[0] = 0;
        pair_init(&s->pairing, (int64_t) llround(1e9 / c->fps));
        if (!s->two_devices)
                return dev_open(s, &s->eye[0], 2 * c->width, c->height);
        r = dev_open(s, &s->eye[0], c->width, c->height);
        if (r >= 0) {
                r = dev_open(s, &s->eye[1], c->width, c->height);
                if (r < 0)
                        dev_close(&s->eye[0]);
        }
        return r;
}

static int v4l2src_read(struct source *base, struct frame *dst, enum source_want want, struct frame_meta *ret_meta) {
        struct v4l2src *s = (struct v4l2src *) base;

        return s->two_devices ? read_pair(s, dst, ret_meta) : read_one(s, dst, want, ret_meta);
}

static void v4l2src_close(struct source *base) {
        struct v4l2src *s = (struct v4l2src *) base;

        dev_close(&s->eye[0]);
        dev_close(&s->eye[1]);
}

static void v4l2src_free(struct source *base) {
        struct v4l2src *s = (struct v4l2src *) base;

        v4l2src_close(base);
        convert_free(s->conv);
        free(s);
}

static const char *v4l2src_error(struct source *base) {
        return ((struct v4l2src *) base)->error;
}

/* The format and the controls in force on each open device, asked through the open descriptors. */
static int v4l2src_describe(struct source *base, struct source_camera *ret) {
        struct v4l2src *s = (struct v4l2src *) base;

        v4l2_fourcc_to_string(s->cfg->pixelformat, ret->format);
        for (unsigned i = 0; i < 3; i++)
                ret->controls[i][0] = 0;
        for (unsigned e = 0; e < (s->two_devices ? 2u : 1u); e++)
                if (s->eye[e].fd >= 0)
                        v4l2_controls_read(s->eye[e].fd, ret->controls[s->two_devices ? 1 + e : 0],
                                           sizeof(ret->controls[0]));
        return 0;
}

static const struct source_ops v4l2_ops = {
        .open = v4l2src_open,
        .read = v4l2src_read,
        .close = v4l2src_close,
        .free = v4l2src_free,
        .error = v4l2src_error,
        .describe = v4l2src_describe,
};

int source_v4l2_new(const struct camera_config *c, struct source **ret) {
        _cleanup_(freep) struct v4l2src *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        r = convert_format_of(c->pixelformat, &s->format);
        if (r < 0)
                return r; /* config.c only accepts the formats above */
        s->base.ops = &v4l2_ops;
        s->cfg = c;
        s->two_devices = camera_is_stereo_pair(c);
        s->passthrough = !s->two_devices && s->format == CONVERT_MJPEG;
        s->base.caps = SOURCE_CAP_KEEPS_WARM | (s->passthrough ? SOURCE_CAP_CAMERA_JPEG : 0);
        /* a camera's JPEG is smaller than the raw I420 frame, plus room for its headers */
        s->base.jpeg_max = s->passthrough ? source_camera_jpeg_max(c) : 0;
        s->eye[0] = (struct eye_dev){.fd = -1, .path = s->two_devices ? c->left_device : c->device};
        s->eye[1] = (struct eye_dev){.fd = -1, .path = c->right_device};
        r = convert_new(s->two_devices ? c->width : 2 * c->width, c->height, &s->conv);
        if (r < 0)
                return r;
        *ret = &TAKE_PTR(s)->base;
        return 0;
}
