/* SPDX-License-Identifier: MIT */
/*
 * probe.c — the VideoStreaming interface's probe and commit controls (UVC 1.1, 34 bytes): the
 * host proposes a format, a size and a frame interval; the camera answers with the nearest mode
 * it has, the largest frame it will send (dwMaxVideoFrameSize) and the bytes a microframe it
 * needs of the bus (dwMaxPayloadTransferSize, formats.c), from which uvcvideo picks the
 * alternate setting. What is committed is what the stream sends once an alternate setting with
 * an endpoint is selected.
 */
#include <string.h>

#include "camera.h"

#define SET_CUR 0x01
#define GET_CUR 0x81
#define GET_MIN 0x82
#define GET_MAX 0x83
#define GET_LEN 0x85
#define GET_INFO 0x86
#define GET_DEF 0x87

#define VS_PROBE_CONTROL 0x01
#define VS_COMMIT_CONTROL 0x02
#define PROBE_LEN 34
#define PROBE_LEN_UVC10 26

static uint32_t le32(const uint8_t *p) {
        return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t) p[3] << 24;
}

static void put_le16(uint8_t *p, unsigned v) {
        p[0] = v & 0xff, p[1] = (uint8_t) (v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v) {
        put_le16(p, v & 0xffff), put_le16(p + 2, v >> 16);
}

/* The mode the camera has nearest to the one asked for, with its frame and payload sizes. */
static struct probe negotiate(unsigned format_index, unsigned frame_index, uint32_t interval) {
        const struct frame_size *fs;
        struct probe p = {0};
        uint32_t best;

        if (!formats_size(format_index, 1))
                format_index = 1;
        if (!formats_size(format_index, frame_index))
                frame_index = 1;
        fs = formats_size(format_index, frame_index);
        best = formats_default_interval(fs);
        if (interval)
                for (unsigned i = 0; i < fs->n_intervals; i++) {
                        uint32_t d =
                                fs->intervals[i] > interval ? fs->intervals[i] - interval : interval - fs->intervals[i];
                        uint32_t db = best > interval ? best - interval : interval - best;
                        if (d < db)
                                best = fs->intervals[i];
                }
        p.format_index = (uint8_t) format_index;
        p.frame_index = (uint8_t) frame_index;
        p.interval = best;
        p.max_frame = fs->max_frame_bytes;
        p.max_payload = formats_payload_needed(&formats[format_index - 1], fs, best);
        return p;
}

void probe_init(struct camera *cam) {
        cam->probe = negotiate(1, 1, 0);
        cam->commit = cam->probe;
}

static int put_probe(const struct probe *p, uint8_t *data, size_t len) {
        uint8_t b[PROBE_LEN] = {0};
        size_t n = len < PROBE_LEN ? len : PROBE_LEN;

        put_le16(b, p->bmHint);
        b[2] = p->format_index, b[3] = p->frame_index;
        put_le32(b + 4, p->interval);
        put_le32(b + 18, p->max_frame);
        put_le32(b + 22, p->max_payload);
        put_le32(b + 26, 48000000);
        b[30] = 0x03; /* bmFramingInfo: FID and EOF */
        b[31] = b[32] = b[33] = 1;
        memcpy(data, b, n);
        return (int) n;
}

static void log_mode(struct camera *cam, const char *what, const struct probe *p) {
        const struct frame_size *fs = formats_size(p->format_index, p->frame_index);

        cam_log(cam, "%s %s %ux%u interval %u frame %u payload %u", what, formats[p->format_index - 1].name, fs->width,
                fs->height, p->interval, p->max_frame, p->max_payload);
}

int probe_request(struct camera *cam, uint8_t req, uint8_t selector, uint8_t *data, size_t len) {
        struct probe *p = selector == VS_COMMIT_CONTROL ? &cam->commit : &cam->probe;
        struct probe def = negotiate(1, 1, 0);

        if (selector != VS_PROBE_CONTROL && selector != VS_COMMIT_CONTROL)
                return -1;
        switch (req) {
        case SET_CUR:
                if (len < PROBE_LEN_UVC10)
                        return -1;
                *p = negotiate(data[2], data[3], le32(data + 4));
                p->bmHint = (uint16_t) (data[0] | data[1] << 8);
                if (selector == VS_COMMIT_CONTROL)
                        log_mode(cam, "commit", p);
                return 0;
        case GET_CUR: return put_probe(p, data, len);
        case GET_DEF:
        case GET_MIN:
        case GET_MAX: return put_probe(&def, data, len);
        case GET_LEN: return len >= 2 ? (put_le16(data, PROBE_LEN), 2) : -1;
        case GET_INFO: return len >= 1 ? (data[0] = 0x03, 1) : -1;
        }
        return -1;
}
