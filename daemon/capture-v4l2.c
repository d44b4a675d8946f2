/* SPDX-License-Identifier: MIT */
/*
 * capture-v4l2.c — stereo frames from V4L2 cameras through libv4l2: one device that sends both
 * eyes side by side, or two devices (one per eye) paired by timestamp.
 *
 * Streaming is mmap with `camera.buffers` driver buffers. YUYV and MJPEG are read natively;
 * format "YUV420" asks libv4l2 for planar 4:2:0, which it converts most other formats to. Conversion lands directly in the
 * pipeline's I420 frame: YUYV by a row loop, MJPEG by TurboJPEG straight into the planes (4:2:0)
 * or through a preallocated 4:2:2/4:4:4 buffer. A side-by-side MJPEG camera with nothing to do
 * on the pixels is stored as the camera sent it: no decode, no re-encode (passthrough).
 *
 * Timestamps are the driver's when it says they are CLOCK_MONOTONIC, the dequeue time
 * otherwise (the file's timestamp_source says which). Driver sequence numbers are kept per eye;
 * a gap in them is frames the camera dropped. Pairing holds at most one dequeued buffer per eye:
 * when both eyes hold one, they form a pair if their timestamps are within half a frame period,
 * otherwise the older is requeued and counted as unpaired.
 */
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <turbojpeg.h>

#include "capture-v4l2.h"
#include "util.h"

#define MAX_BUFFERS 32
#define NO_FRAME_TIMEOUT_MS 5000

struct eye_dev {
        const char *path;
        int fd;
        struct {
                void *start;
                size_t length;
        } bufs[MAX_BUFFERS];
        unsigned n_bufs;
        bool streaming;
        struct capture_format fmt;
        bool monotonic;
        bool have_seq;
        uint32_t last_seq;
        /* pairing: a dequeued buffer held until it is paired or discarded */
        bool held;
        struct v4l2_buffer hb;
        int64_t held_ts;
};

struct v4l2src {
        struct source base;
        const struct camera_config *cfg;
        bool pair;
        bool passthrough;
        struct eye_dev eye[2];
        int64_t period_ns;
        uint32_t unpaired[2];
        struct capture_convert conv;
        char error[1024];
};

static int xioctl(int fd, unsigned long req, void *arg) {
        int r;
        do
                r = v4l2_ioctl(fd, req, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : r;
}

static int describe_into(int fd, uint32_t pixelformat, char *buf, size_t len) {
        FILE *f = fmemopen(buf, len, "w");
        if (!f)
                return -errno;
        capture_describe(fd, pixelformat, f, "  ");
        fclose(f);
        buf[len - 1] = 0;
        return 0;
}

static void dev_close(struct eye_dev *e) {
        if (e->fd < 0)
                return;
        if (e->streaming) {
                int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
                xioctl(e->fd, VIDIOC_STREAMOFF, &type);
                e->streaming = false;
        }
        for (unsigned i = 0; i < e->n_bufs; i++)
                if (e->bufs[i].start && e->bufs[i].start != MAP_FAILED)
                        v4l2_munmap(e->bufs[i].start, e->bufs[i].length);
        e->n_bufs = 0;
        /* free the driver's buffers too, so reopening finds a clean device */
        v4l2_close(e->fd);
        e->fd = -1;
        e->held = false;
        e->have_seq = false;
}

static int dev_open(struct v4l2src *s, struct eye_dev *e, unsigned width, unsigned height) {
        const struct camera_config *c = s->cfg;
        struct v4l2_capability cap = {};
        struct v4l2_format fmt = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        struct v4l2_streamparm parm = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        struct v4l2_requestbuffers req = {
                .count = c->buffers, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
        char want[8], got[8], list[900] = "";
        int r, type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        uint32_t caps;

        e->fd = v4l2_open(e->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (e->fd < 0) {
                r = -errno;
                snprintf(s->error, sizeof(s->error), "Cannot open %s: %s", e->path, strerror(-r));
                return r;
        }
        r = xioctl(e->fd, VIDIOC_QUERYCAP, &cap);
        caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
        if (r < 0 || !(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
                snprintf(s->error, sizeof(s->error), "%s is not a video capture device with streaming I/O", e->path);
                dev_close(e);
                return -ENOTTY;
        }

        fmt.fmt.pix.width = width;
        fmt.fmt.pix.height = height;
        fmt.fmt.pix.pixelformat = c->pixelformat;
        fmt.fmt.pix.field = V4L2_FIELD_NONE;
        r = xioctl(e->fd, VIDIOC_S_FMT, &fmt);
        if (r < 0 || fmt.fmt.pix.width != width || fmt.fmt.pix.height != height ||
            fmt.fmt.pix.pixelformat != c->pixelformat) {
                describe_into(e->fd, c->pixelformat, list, sizeof(list));
                snprintf(s->error, sizeof(s->error), "%s cannot give %ux%u %s (it offered %ux%u %s); it can give:\n%s",
                         e->path, width, height, fourcc_to_string(c->pixelformat, want), fmt.fmt.pix.width,
                         fmt.fmt.pix.height, fourcc_to_string(fmt.fmt.pix.pixelformat, got), list);
                dev_close(e);
                return -EINVAL;
        }
        e->fmt = (struct capture_format){.width = width,
                                         .height = height,
                                         .pixelformat = c->pixelformat,
                                         .bytesperline = fmt.fmt.pix.bytesperline,
                                         .sizeimage = fmt.fmt.pix.sizeimage};

        parm.parm.capture.timeperframe.numerator = 1000;
        parm.parm.capture.timeperframe.denominator = (uint32_t) lround(c->fps * 1000);
        r = xioctl(e->fd, VIDIOC_S_PARM, &parm);
        if (r >= 0 && parm.parm.capture.timeperframe.numerator > 0) {
                double fps =
                        (double) parm.parm.capture.timeperframe.denominator / parm.parm.capture.timeperframe.numerator;
                if (fabs(fps - c->fps) > 0.01 * c->fps) {
                        describe_into(e->fd, c->pixelformat, list, sizeof(list));
                        snprintf(s->error, sizeof(s->error),
                                 "%s cannot give %g fps at %ux%u %s (it offered %g fps); it can give:\n%s", e->path,
                                 c->fps, width, height, fourcc_to_string(c->pixelformat, want), fps, list);
                        dev_close(e);
                        return -EINVAL;
                }
        } else if (r < 0)
                log_warning("%s does not let us set the frame rate (%s); using what it gives", e->path, strerror(-r));

        r = xioctl(e->fd, VIDIOC_REQBUFS, &req);
        if (r < 0 || req.count < 2) {
                snprintf(s->error, sizeof(s->error), "%s: cannot get %u streaming buffers: %s", e->path, c->buffers,
                         r < 0 ? strerror(-r) : "too few");
                dev_close(e);
                return r < 0 ? r : -ENOMEM;
        }
        e->n_bufs = MIN(req.count, MAX_BUFFERS);
        for (unsigned i = 0; i < e->n_bufs; i++) {
                struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP, .index = i};
                r = xioctl(e->fd, VIDIOC_QUERYBUF, &b);
                if (r >= 0) {
                        e->bufs[i].length = b.length;
                        e->bufs[i].start =
                                v4l2_mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, e->fd, b.m.offset);
                        if (e->bufs[i].start == MAP_FAILED)
                                r = -errno;
                }
                if (r >= 0)
                        r = xioctl(e->fd, VIDIOC_QBUF, &b);
                if (r < 0) {
                        snprintf(s->error, sizeof(s->error), "%s: cannot set up buffer %u: %s", e->path, i,
                                 strerror(-r));
                        dev_close(e);
                        return r;
                }
        }
        r = xioctl(e->fd, VIDIOC_STREAMON, &type);
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s: cannot start streaming: %s", e->path, strerror(-r));
                dev_close(e);
                return r;
        }
        e->streaming = true;
        e->held = false;
        e->have_seq = false;
        return 0;
}

static int v4l2src_open(struct source *base) {
        struct v4l2src *s = (struct v4l2src *) base;
        const struct camera_config *c = s->cfg;
        int r;

        s->error[0] = 0;
        s->unpaired[0] = s->unpaired[1] = 0;
        if (!s->pair)
                return dev_open(s, &s->eye[0], 2 * c->width, c->height);
        r = dev_open(s, &s->eye[0], c->width, c->height);
        if (r >= 0) {
                r = dev_open(s, &s->eye[1], c->width, c->height);
                if (r < 0)
                        dev_close(&s->eye[0]);
        }
        return r;
}

static void v4l2src_close(struct source *base) {
        struct v4l2src *s = (struct v4l2src *) base;
        dev_close(&s->eye[0]);
        dev_close(&s->eye[1]);
}

static bool is_gone(int r) {
        return r == -ENODEV || r == -EIO || r == -EPIPE || r == -EBADF || r == -ENXIO;
}

/* Dequeue one buffer of @e into e->hb / e->held_ts. Return: 1, 0 (none ready), -errno. */
static int dequeue(struct v4l2src *s, struct eye_dev *e, uint32_t *gap) {
        struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
        int r = xioctl(e->fd, VIDIOC_DQBUF, &b);

        if (r == -EAGAIN)
                return 0;
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s: %s", e->path, strerror(-r));
                return is_gone(r) ? -ENODEV : r;
        }
        e->monotonic = (b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
        e->held_ts = e->monotonic ? (int64_t) b.timestamp.tv_sec * NSEC_PER_SEC + b.timestamp.tv_usec * 1000
                                  : now_ns(CLOCK_MONOTONIC);
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

static int requeue(struct v4l2src *s, struct eye_dev *e) {
        int r;
        if (!e->held)
                return 0;
        e->held = false;
        r = xioctl(e->fd, VIDIOC_QBUF, &e->hb);
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s: cannot requeue a buffer: %s", e->path, strerror(-r));
                return is_gone(r) ? -ENODEV : r;
        }
        return 0;
}

/* Wait until an eye in @mask has a frame (or an error DQBUF will explain).
 * Return: the mask of those eyes, or -ENODEV after NO_FRAME_TIMEOUT_MS without any. */
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

static int v4l2src_read(struct source *base, struct frame *dst, enum source_want want, struct frame_meta *ret_meta) {
        struct v4l2src *s = (struct v4l2src *) base;
        uint32_t gap[2] = {0, 0};
        int r;

        if (!s->pair) {
                struct eye_dev *e = &s->eye[0];
                /* poll first: a DQBUF that would block makes libv4l2 log an error */
                for (;;) {
                        r = wait_ready(s, 1);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                continue;
                        r = dequeue(s, e, &gap[0]);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                break;
                }
                *ret_meta = (struct frame_meta){.timestamp_ns = e->held_ts,
                                                .left_timestamp_ns = e->held_ts,
                                                .right_timestamp_ns = e->held_ts,
                                                .left_sequence = e->hb.sequence,
                                                .right_sequence = e->hb.sequence,
                                                .camera_gap = gap[0],
                                                .dequeue_timestamp = !e->monotonic};
                ret_meta->number = e->hb.sequence;
                r = 0;
                if (dst) {
                        dst->meta = *ret_meta;
                        r = capture_convert_frame(&s->conv, &e->fmt, e->bufs[e->hb.index].start, e->hb.bytesused, dst,
                                                  0, s->passthrough && want == SOURCE_WANT_ANY);
                        if (r < 0)
                                snprintf(s->error, sizeof(s->error), "%s: %s", e->path, s->conv.error);
                }
                int q = requeue(s, e);
                return q < 0 ? q : (r < 0 ? -EBADMSG : 0);
        }

        /* two devices: pair by timestamp */
        for (;;) {
                unsigned need = (s->eye[0].held ? 0 : 1u) | (s->eye[1].held ? 0 : 2u);
                if (need) {
                        r = wait_ready(s, need);
                        if (r < 0)
                                return r;
                        for (unsigned i = 0; i < 2; i++)
                                if (r & (1 << i)) {
                                        int d = dequeue(s, &s->eye[i], &gap[i]);
                                        if (d < 0)
                                                return d;
                                }
                        continue;
                }
                int64_t d = s->eye[0].held_ts - s->eye[1].held_ts;
                if (llabs(d) <= s->period_ns / 2)
                        break;
                unsigned older = d < 0 ? 0 : 1;
                s->unpaired[older]++;
                r = requeue(s, &s->eye[older]);
                if (r < 0)
                        return r;
        }

        struct eye_dev *l = &s->eye[0], *rt = &s->eye[1];
        *ret_meta = (struct frame_meta){
                .number = l->hb.sequence,
                .timestamp_ns = l->held_ts + (rt->held_ts - l->held_ts) / 2,
                .left_timestamp_ns = l->held_ts,
                .right_timestamp_ns = rt->held_ts,
                .left_sequence = l->hb.sequence,
                .right_sequence = rt->hb.sequence,
                .camera_gap = MAX(gap[0], gap[1]),
                .unpaired = {s->unpaired[0], s->unpaired[1]},
                .dequeue_timestamp = !l->monotonic || !rt->monotonic,
        };
        s->unpaired[0] = s->unpaired[1] = 0;
        r = 0;
        if (dst) {
                dst->meta = *ret_meta;
                for (unsigned i = 0; i < 2 && r >= 0; i++) {
                        struct eye_dev *e = &s->eye[i];
                        r = capture_convert_frame(&s->conv, &e->fmt, e->bufs[e->hb.index].start, e->hb.bytesused, dst,
                                                  i * s->cfg->width, false);
                        if (r < 0)
                                snprintf(s->error, sizeof(s->error), "%s: %s", e->path, s->conv.error);
                }
        }
        int q = requeue(s, l);
        if (q >= 0)
                q = requeue(s, rt);
        return q < 0 ? q : (r < 0 ? -EBADMSG : 0);
}

static void v4l2src_free(struct source *base) {
        struct v4l2src *s = (struct v4l2src *) base;
        v4l2src_close(base);
        capture_convert_done(&s->conv);
        free(s);
}

static const char *v4l2src_error(struct source *base) {
        return ((struct v4l2src *) base)->error;
}

static const struct source_ops v4l2_ops = {
        .open = v4l2src_open,
        .read = v4l2src_read,
        .close = v4l2src_close,
        .free = v4l2src_free,
        .error = v4l2src_error,
};

int source_v4l2_new(const struct camera_config *c, struct source **ret) {
        struct v4l2src *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->base.ops = &v4l2_ops;
        s->cfg = c;
        s->pair = camera_is_stereo_pair(c);
        s->passthrough = !s->pair && c->pixelformat == V4L2_PIX_FMT_MJPEG;
        s->base.caps = SOURCE_CAP_KEEPS_WARM | (s->passthrough ? SOURCE_CAP_CAMERA_JPEG : 0);
        /* a camera's JPEG is smaller than the raw I420 frame, plus room for its headers */
        s->base.jpeg_max = s->passthrough ? (size_t) 2 * c->width * c->height * 3 / 2 + 65536 : 0;
        s->eye[0] = (struct eye_dev){.fd = -1, .path = s->pair ? c->left_device : c->device};
        s->eye[1] = (struct eye_dev){.fd = -1, .path = c->right_device};
        s->period_ns = (int64_t) llround(1e9 / c->fps);
        r = capture_convert_init(&s->conv, s->pair ? c->width : 2 * c->width, c->height);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = &s->base;
        return 0;
}

/* ---- conversion into I420 --------------------------------------------------------------- */

int capture_convert_init(struct capture_convert *cv, unsigned max_width, unsigned height) {
        memset(cv, 0, sizeof(*cv));
        cv->tj = tjInitDecompress();
        /* the largest decode we may need outside the frame: 4:4:4 at the device size */
        cv->tmp = malloc((size_t) max_width * height * 3);
        if (!cv->tj || !cv->tmp) {
                capture_convert_done(cv);
                return -ENOMEM;
        }
        cv->tmp_size = (size_t) max_width * height * 3;
        return 0;
}

void capture_convert_done(struct capture_convert *cv) {
        if (cv->tj)
                tjDestroy(cv->tj);
        free(cv->tmp);
        memset(cv, 0, sizeof(*cv));
}

static void yuyv_to_i420(const uint8_t *src, unsigned stride, unsigned w, unsigned h, struct frame *f, unsigned x0) {
        for (unsigned y = 0; y < h; y++) {
                const uint8_t *s = src + (size_t) y * stride;
                uint8_t *Y = f->planes[0] + (size_t) y * f->strides[0] + x0;
                for (unsigned x = 0; x < w; x++)
                        Y[x] = s[2 * x];
                if (y % 2)
                        continue;
                /* chroma of two rows averaged: 4:2:2 → 4:2:0 */
                const uint8_t *s2 = src + (size_t) MIN(y + 1, h - 1) * stride;
                uint8_t *U = f->planes[1] + (size_t) (y / 2) * f->strides[1] + x0 / 2;
                uint8_t *V = f->planes[2] + (size_t) (y / 2) * f->strides[2] + x0 / 2;
                for (unsigned x = 0; x < w / 2; x++) {
                        U[x] = (uint8_t) ((s[4 * x + 1] + s2[4 * x + 1] + 1) / 2);
                        V[x] = (uint8_t) ((s[4 * x + 3] + s2[4 * x + 3] + 1) / 2);
                }
        }
}

int capture_convert_frame(struct capture_convert *cv, const struct capture_format *fmt, const uint8_t *data,
                          size_t size, struct frame *f, unsigned x0, bool passthrough) {
        unsigned w = fmt->width, h = fmt->height;

        f->jpeg_size = 0;
        if (fmt->pixelformat == V4L2_PIX_FMT_YUYV) {
                if (size < (size_t) fmt->bytesperline * h) {
                        snprintf(cv->error, sizeof(cv->error), "short YUYV frame: %zu bytes", size);
                        return -EBADMSG;
                }
                yuyv_to_i420(data, fmt->bytesperline, w, h, f, x0);
                return 0;
        }
        if (fmt->pixelformat == V4L2_PIX_FMT_YUV420) {
                /* planar 4:2:0, what libv4l2 converts other formats to: copy the planes */
                unsigned bpl = fmt->bytesperline ? fmt->bytesperline : w;
                if (size < (size_t) bpl * h * 3 / 2) {
                        snprintf(cv->error, sizeof(cv->error), "short YUV420 frame: %zu bytes", size);
                        return -EBADMSG;
                }
                const uint8_t *u = data + (size_t) bpl * h, *v = u + (size_t) (bpl / 2) * (h / 2);
                for (unsigned y = 0; y < h; y++)
                        memcpy(f->planes[0] + (size_t) y * f->strides[0] + x0, data + (size_t) y * bpl, w);
                for (unsigned y = 0; y < h / 2; y++) {
                        memcpy(f->planes[1] + (size_t) y * f->strides[1] + x0 / 2, u + (size_t) y * (bpl / 2), w / 2);
                        memcpy(f->planes[2] + (size_t) y * f->strides[2] + x0 / 2, v + (size_t) y * (bpl / 2), w / 2);
                }
                return 0;
        }
        if (fmt->pixelformat != V4L2_PIX_FMT_MJPEG) {
                snprintf(cv->error, sizeof(cv->error), "unsupported pixel format");
                return -EINVAL;
        }

        int jw, jh, sub, cs;
        if (tjDecompressHeader3(cv->tj, data, size, &jw, &jh, &sub, &cs) < 0 || (unsigned) jw != w ||
            (unsigned) jh != h) {
                snprintf(cv->error, sizeof(cv->error), "bad MJPEG frame (%zu bytes): %s", size, tjGetErrorStr2(cv->tj));
                return -EBADMSG;
        }
        if (passthrough) {
                /* stored as the camera sent it: no decode, no re-encode */
                if (size > f->jpeg_capacity) {
                        snprintf(cv->error, sizeof(cv->error), "MJPEG frame of %zu bytes is larger than %zu", size,
                                 f->jpeg_capacity);
                        return -EMSGSIZE;
                }
                memcpy(f->jpeg, data, size);
                f->jpeg_size = size;
                return 0;
        }
        if (sub == TJSAMP_420) {
                unsigned char *planes[3] = {f->planes[0] + x0, f->planes[1] + x0 / 2, f->planes[2] + x0 / 2};
                if (tjDecompressToYUVPlanes(cv->tj, data, size, planes, jw, f->strides, jh, 0) < 0)
                        goto fail;
                return 0;
        }
        if (sub != TJSAMP_422 && sub != TJSAMP_444 && sub != TJSAMP_GRAY) {
                snprintf(cv->error, sizeof(cv->error), "MJPEG chroma subsampling %d is not supported", sub);
                return -EINVAL;
        }
        /* decode the other subsamplings into tmp, then bring the chroma to 4:2:0 */
        int cw = sub == TJSAMP_444 ? jw : jw / 2;
        int strides[3] = {jw, cw, cw};
        unsigned char *planes[3] = {cv->tmp, cv->tmp + (size_t) jw * jh, cv->tmp + (size_t) jw * jh + (size_t) cw * jh};
        if (sub == TJSAMP_GRAY) {
                planes[1] = planes[2] = NULL;
                strides[1] = strides[2] = 0;
        }
        if (tjDecompressToYUVPlanes(cv->tj, data, size, planes, jw, strides, jh, 0) < 0)
                goto fail;
        for (int y = 0; y < jh; y++)
                memcpy(f->planes[0] + (size_t) y * f->strides[0] + x0, planes[0] + (size_t) y * jw, (size_t) jw);
        for (int y = 0; y < jh / 2; y++)
                for (int p = 1; p < 3; p++) {
                        uint8_t *d = f->planes[p] + (size_t) y * f->strides[p] + x0 / 2;
                        if (sub == TJSAMP_GRAY) {
                                memset(d, 128, (size_t) jw / 2);
                                continue;
                        }
                        const uint8_t *a = planes[p] + (size_t) (2 * y) * cw, *b = a + cw;
                        for (int x = 0; x < jw / 2; x++)
                                d[x] = sub == TJSAMP_422
                                               ? (uint8_t) ((a[x] + b[x] + 1) / 2)
                                               : (uint8_t) ((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) /
                                                            4);
                }
        return 0;
fail:
        snprintf(cv->error, sizeof(cv->error), "cannot decode MJPEG frame: %s", tjGetErrorStr2(cv->tj));
        return -EBADMSG;
}
