/* SPDX-License-Identifier: MIT */
/*
 * descriptors.c — the test camera's USB descriptors, as a UVC 1.1 webcam has them: a device
 * with an interface association, the VideoControl interface (camera terminal 1 → processing
 * unit 2 → output terminal 3) and the VideoStreaming interface, whose alternate setting 0 has no
 * endpoint and settings 1..4 one isochronous IN endpoint of growing size (formats.c).
 * Strings: 1 manufacturer, 2 product, 3 serial number — what udev names the camera by
 * (/dev/v4l/by-id/usb-<manufacturer>_<product>_<serial>-video-index0).
 */
#include <string.h>

#include "camera.h"

#define DT_DEVICE 0x01
#define DT_CONFIG 0x02
#define DT_STRING 0x03
#define DT_INTERFACE 0x04
#define DT_ENDPOINT 0x05
#define DT_IAD 0x0b
#define CS_INTERFACE 0x24
#define CC_VIDEO 0x0e
#define SC_VIDEOCONTROL 0x01
#define SC_VIDEOSTREAMING 0x02
#define SC_VIDEO_INTERFACE_COLLECTION 0x03

#define MANUFACTURER "handrec"
#define STREAM_EP 0x81

/* little-endian writer over a bounded buffer */
struct out {
        uint8_t *p;
        size_t n, cap;
};

static void put8(struct out *o, unsigned v) {
        if (o->n < o->cap)
                o->p[o->n] = (uint8_t) v;
        o->n++;
}

static void put16(struct out *o, unsigned v) {
        put8(o, v & 0xff);
        put8(o, v >> 8);
}

static void put32(struct out *o, uint32_t v) {
        put16(o, v & 0xffff);
        put16(o, v >> 16);
}

static void patch16(struct out *o, size_t at, unsigned v) {
        if (at + 1 < o->cap) {
                o->p[at] = v & 0xff;
                o->p[at + 1] = (uint8_t) (v >> 8);
        }
}

static void device_descriptor(const struct camera *cam, struct out *o) {
        put8(o, 18);
        put8(o, DT_DEVICE);
        put16(o, 0x0200); /* USB 2.0 */
        put8(o, 0xef);    /* miscellaneous: interface association */
        put8(o, 0x02);
        put8(o, 0x01);
        put8(o, 64); /* ep0 max packet */
        put16(o, cam->vendor_id);
        put16(o, cam->product_id);
        put16(o, 0x0100);
        put8(o, 1); /* iManufacturer */
        put8(o, 2); /* iProduct */
        put8(o, 3); /* iSerialNumber */
        put8(o, 1); /* configurations */
}

static void interface(struct out *o, unsigned number, unsigned alt, unsigned n_ep, unsigned subclass) {
        put8(o, 9);
        put8(o, DT_INTERFACE);
        put8(o, number);
        put8(o, alt);
        put8(o, n_ep);
        put8(o, CC_VIDEO);
        put8(o, subclass);
        put8(o, 0);
        put8(o, 0);
}

/* VideoControl: header, camera terminal, processing unit, output terminal */
static void video_control(const struct camera *cam, struct out *o) {
        size_t header;
        uint32_t ct = controls_bitmap(&cam->controls, ENTITY_CAMERA);
        uint32_t pu = controls_bitmap(&cam->controls, ENTITY_PROCESSING);

        interface(o, 0, 0, 0, SC_VIDEOCONTROL);
        header = o->n;
        put8(o, 13), put8(o, CS_INTERFACE), put8(o, 0x01); /* VC_HEADER */
        put16(o, 0x0110);                                  /* UVC 1.1 */
        put16(o, 0);                                       /* wTotalLength, patched below */
        put32(o, 48000000);                                /* dwClockFrequency */
        put8(o, 1), put8(o, 1);                            /* one streaming interface: 1 */

        put8(o, 18), put8(o, CS_INTERFACE), put8(o, 0x02); /* VC_INPUT_TERMINAL */
        put8(o, ENTITY_CAMERA), put16(o, 0x0201), put8(o, 0), put8(o, 0);
        put16(o, 0), put16(o, 0), put16(o, 0); /* focal lengths */
        put8(o, 3), put8(o, ct & 0xff), put8(o, (ct >> 8) & 0xff), put8(o, (ct >> 16) & 0xff);

        put8(o, 12), put8(o, CS_INTERFACE), put8(o, 0x05); /* VC_PROCESSING_UNIT */
        put8(o, ENTITY_PROCESSING), put8(o, ENTITY_CAMERA), put16(o, 0);
        put8(o, 2), put8(o, pu & 0xff), put8(o, (pu >> 8) & 0xff);
        put8(o, 0), put8(o, 0); /* iProcessing, bmVideoStandards */

        put8(o, 9), put8(o, CS_INTERFACE), put8(o, 0x03); /* VC_OUTPUT_TERMINAL */
        put8(o, ENTITY_OUTPUT), put16(o, 0x0101), put8(o, 0), put8(o, ENTITY_PROCESSING), put8(o, 0);
        patch16(o, header + 5, (unsigned) (o->n - header));
}

static void frame_descriptor(struct out *o, unsigned subtype, unsigned index, const struct frame_size *fs) {
        uint32_t bytes = fs->max_frame_bytes;
        uint32_t slowest = fs->intervals[fs->n_intervals - 1], fastest = fs->intervals[0];

        put8(o, 26 + 4 * fs->n_intervals), put8(o, CS_INTERFACE), put8(o, subtype);
        put8(o, index), put8(o, 0);
        put16(o, fs->width), put16(o, fs->height);
        put32(o, (uint32_t) ((uint64_t) bytes * 8 * 10000000 / slowest));
        put32(o, (uint32_t) ((uint64_t) bytes * 8 * 10000000 / fastest));
        put32(o, bytes);
        put32(o, formats_default_interval(fs));
        put8(o, fs->n_intervals);
        for (unsigned i = 0; i < fs->n_intervals; i++)
                put32(o, fs->intervals[i]);
}

static void format_descriptor(struct out *o, unsigned index, const struct format *f) {
        static const uint8_t yuy2[16] = {'Y',  'U',  'Y',  '2',  0x00, 0x00, 0x10, 0x00,
                                         0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};

        if (f->kind == FMT_MJPEG) {
                put8(o, 11), put8(o, CS_INTERFACE), put8(o, 0x06); /* VS_FORMAT_MJPEG */
                put8(o, index), put8(o, f->n_sizes), put8(o, 1), put8(o, 1);
        } else {
                put8(o, 27), put8(o, CS_INTERFACE), put8(o, 0x04); /* VS_FORMAT_UNCOMPRESSED */
                put8(o, index), put8(o, f->n_sizes);
                for (unsigned i = 0; i < 16; i++)
                        put8(o, yuy2[i]);
                put8(o, 16), put8(o, 1);
        }
        put8(o, 0), put8(o, 0), put8(o, 0), put8(o, 0); /* aspect ratio, interlace, copy protect */
        for (unsigned i = 0; i < f->n_sizes; i++)
                frame_descriptor(o, f->kind == FMT_MJPEG ? 0x07 : 0x05, i + 1, &f->sizes[i]);
        put8(o, 6), put8(o, CS_INTERFACE), put8(o, 0x0d); /* VS_COLORFORMAT: sRGB, BT.601 */
        put8(o, 1), put8(o, 1), put8(o, 4);
}

/* VideoStreaming: alternate setting 0 with the class descriptors, then 1..N_ALTS */
static void video_streaming(struct out *o) {
        size_t header;

        interface(o, 1, 0, 0, SC_VIDEOSTREAMING);
        header = o->n;
        put8(o, 13 + N_FORMATS), put8(o, CS_INTERFACE), put8(o, 0x01); /* VS_INPUT_HEADER */
        put8(o, N_FORMATS), put16(o, 0), put8(o, STREAM_EP), put8(o, 0);
        put8(o, ENTITY_OUTPUT), put8(o, 0), put8(o, 0), put8(o, 0);
        put8(o, 1);
        for (unsigned i = 0; i < N_FORMATS; i++)
                put8(o, 0);
        for (unsigned i = 0; i < N_FORMATS; i++)
                format_descriptor(o, i + 1, &formats[i]);
        patch16(o, header + 4, (unsigned) (o->n - header));

        for (unsigned alt = 1; alt <= N_ALTS; alt++) {
                unsigned bytes = alt_bytes[alt], mult = bytes > 1024 ? bytes / 1024 : 1;

                interface(o, 1, alt, 1, SC_VIDEOSTREAMING);
                put8(o, 7), put8(o, DT_ENDPOINT), put8(o, STREAM_EP);
                put8(o, 0x05); /* isochronous, asynchronous */
                put16(o, (bytes / mult) | ((mult - 1) << 11));
                put8(o, 1); /* every microframe */
        }
}

static void config_descriptor(const struct camera *cam, struct out *o) {
        put8(o, 9), put8(o, DT_CONFIG), put16(o, 0);
        put8(o, 2), put8(o, 1), put8(o, 0), put8(o, 0x80), put8(o, 250);
        put8(o, 8), put8(o, DT_IAD), put8(o, 0), put8(o, 2); /* interfaces 0 and 1 */
        put8(o, CC_VIDEO), put8(o, SC_VIDEO_INTERFACE_COLLECTION), put8(o, 0), put8(o, 2);
        video_control(cam, o);
        video_streaming(o);
        patch16(o, 2, (unsigned) o->n);
}

static void string_descriptor(const char *s, struct out *o) {
        put8(o, 2 + 2 * strlen(s));
        put8(o, DT_STRING);
        for (; *s; s++)
                put16(o, (uint8_t) *s);
}

int descriptors_get(const struct camera *cam, uint8_t type, uint8_t index, uint8_t *buf, size_t len) {
        struct out o = {.p = buf, .cap = len};

        switch (type) {
        case DT_DEVICE: device_descriptor(cam, &o); break;
        case DT_CONFIG: config_descriptor(cam, &o); break;
        case DT_STRING:
                switch (index) {
                case 0: put8(&o, 4), put8(&o, DT_STRING), put16(&o, 0x0409); break;
                case 1: string_descriptor(MANUFACTURER, &o); break;
                case 2: string_descriptor(cam->product, &o); break;
                case 3: string_descriptor(cam->serial, &o); break;
                default: return -1;
                }
                break;
        default: return -1;
        }
        return (int) o.n;
}
