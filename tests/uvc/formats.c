/* SPDX-License-Identifier: MIT */
/*
 * formats.c — what the test camera offers, as a side-by-side stereo UVC camera does: MJPEG at
 * 2560x720 (two 1280x720 eyes) and 1280x480 (two 640x480 eyes), YUYV at 640x480; and the USB
 * bandwidth each mode needs, which decides the alternate setting uvcvideo picks, or that none
 * can carry it.
 *
 * Bandwidth: a frame must go out within four fifths of its frame period (room for a host that
 * answers late), in high-speed isochronous packets of one alternate setting's size less the
 * payload header. YUYV asks for the smallest alternate setting that does; MJPEG, whose frames
 * vary in size, for the largest, as webcams do. MJPEG 2560x720 at 60 fps
 * needs more than the largest setting (3 x 1024 bytes a microframe, 24.6 MB/s): the camera
 * lists it, as cameras made for USB 3 list modes a USB 2 link cannot carry, and uvcvideo then
 * refuses to stream it.
 */
#include "camera.h"

/* 100 ns units */
#define FPS60 166666u
#define FPS30 333333u
#define FPS15 666666u

struct format formats[2] = {
        {.kind = FMT_MJPEG,
         .name = "MJPEG",
         .n_sizes = 2,
         .sizes = {{2560, 720, 3, {FPS60, FPS30, FPS15}, 0}, {1280, 480, 2, {FPS30, FPS15}, 0}}},
        {.kind = FMT_YUYV, .name = "YUYV", .n_sizes = 1, .sizes = {{640, 480, 2, {FPS30, FPS15}, 640 * 480 * 2}}},
};

/* wMaxPacketSize x transactions of alternate settings 1..4 (0: no endpoint) */
const uint16_t alt_bytes[N_ALTS + 1] = {0, 512, 1024, 2048, 3072};

const struct frame_size *formats_size(unsigned format_index, unsigned frame_index) {
        if (format_index < 1 || format_index > N_FORMATS)
                return NULL;
        const struct format *f = &formats[format_index - 1];
        if (frame_index < 1 || frame_index > f->n_sizes)
                return NULL;
        return &f->sizes[frame_index - 1];
}

uint32_t formats_default_interval(const struct frame_size *fs) {
        for (unsigned i = 0; i < fs->n_intervals; i++)
                if (fs->intervals[i] == FPS30)
                        return FPS30;
        return fs->intervals[0];
}

uint32_t formats_payload_needed(const struct format *f, const struct frame_size *fs, uint32_t interval) {
        /* microframes in four fifths of a frame period */
        uint64_t slots = (uint64_t) interval * 100 * 4 / 5 / USB_MICROFRAME_NS;
        uint32_t need;

        if (slots == 0)
                slots = 1;
        need = (uint32_t) ((fs->max_frame_bytes + slots - 1) / slots) + PAYLOAD_HEADER;
        if (need > alt_bytes[N_ALTS])
                return need; /* more than the bus can carry */
        if (f->kind == FMT_MJPEG)
                return alt_bytes[N_ALTS]; /* a JPEG's size varies: the most the bus gives */
        for (unsigned alt = 1; alt < N_ALTS; alt++)
                if (alt_bytes[alt] >= need)
                        return alt_bytes[alt];
        return alt_bytes[N_ALTS];
}
