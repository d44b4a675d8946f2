/* SPDX-License-Identifier: MIT */
/*
 * stream.c — the camera's isochronous IN endpoint, on a high-speed bus of its own.
 *
 * Bus time. An isochronous URB of N packets, one every `interval` microframes, takes N x
 * interval x 125 µs of the bus: it begins when the one before it ends, or when it arrives if
 * the host let the bus idle, and it is answered (RET_SUBMIT) at its end, not before. So
 * uvcvideo's URBs come back at the pace a real bus gives them, whatever this machine's speed.
 *
 * Frames. Frame slot j of a stream is due at t0 + j x period (t0: when its first URB began).
 * A packet whose bus time has reached the next slot due begins a new frame (frames_next(),
 * the FID bit toggled); every packet after carries the frame's next bytes, up to the packet's
 * size less the 6-byte payload header, the last one with EOF; packets with no frame to carry
 * hold a header alone. A slot that passes while the bus is still busy with the frame before
 * (too little bandwidth) or without a URB to carry it (the host late) is skipped, as a camera
 * whose buffer is full skips a frame, and logged "skipped SLOT COUNT busy=N late=N"; a frame
 * begun is sent whole. Frames are logged once their last packet's URB has been answered (frames.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "camera.h"

#define MAX_HELD 32
#define MAX_DONE 8 /* frames finished within one URB: a few at most */

#define UVC_EOH 0x80
#define UVC_PTS 0x04
#define UVC_EOF 0x02
#define UVC_FID 0x01

struct held_urb {
        uint32_t seqnum, n_packets, interval;
        uint32_t *lengths;
        int64_t start_ns, due_ns;
};

struct stream {
        struct held_urb held[MAX_HELD];
        unsigned n_held;
        int64_t bus_ns; /* where the bus time given to URBs ends */
        bool on;
        struct probe mode;
        int64_t t0, period_ns;
        uint64_t next_slot;
        /* the frame going out */
        bool in_frame;
        const uint8_t *frame;
        size_t size, pos;
        uint8_t fid;
        uint32_t pts;
        bool first_pending; /* its first packet is in the URB being filled */
        int64_t first_ns;
        int64_t frame_end_pt; /* bus time of the last frame's last packet */
        /* frames finished in the URB being filled */
        struct sent_frame done[MAX_DONE];
        unsigned n_done;
        /* one URB's reply */
        uint8_t *out;
        size_t out_cap;
        struct iso_packet_out iso[USBIP_MAX_ISO_PACKETS];
};

int stream_new(struct camera *cam) {
        cam->stream = calloc(1, sizeof(*cam->stream));
        return cam->stream ? 0 : -ENOMEM;
}

static void drop_held(struct stream *s, unsigned i) {
        free(s->held[i].lengths);
        memmove(&s->held[i], &s->held[i + 1], (s->n_held - i - 1) * sizeof(s->held[0]));
        s->n_held--;
}

void stream_reset(struct camera *cam) {
        struct stream *s = cam->stream;

        while (s->n_held)
                drop_held(s, s->n_held - 1);
        stream_set_alt(cam, 0);
        s->bus_ns = 0;
}

void stream_free(struct camera *cam) {
        if (!cam->stream)
                return;
        stream_reset(cam);
        free(cam->stream->out);
        free(cam->stream);
        cam->stream = NULL;
}

void stream_set_alt(struct camera *cam, uint8_t alt) {
        struct stream *s = cam->stream;
        const struct frame_size *fs;

        cam->vs_alt = alt;
        if (s->on && alt == 0) {
                cam_log(cam, "stream off%s", s->in_frame ? " (a frame cut short, not sent)" : "");
                s->on = s->in_frame = false;
        }
        if (alt == 0)
                return;
        s->on = true;
        s->in_frame = false;
        s->mode = cam->commit;
        s->period_ns = (int64_t) s->mode.interval * 100;
        s->t0 = -1;
        s->next_slot = 0;
        s->frame_end_pt = 0;
        fs = formats_size(s->mode.format_index, s->mode.frame_index);
        cam_log(cam, "stream on %s %ux%u interval %u alt %u packet %u", formats[s->mode.format_index - 1].name,
                fs->width, fs->height, s->mode.interval, alt, alt_bytes[alt]);
}

int stream_queue(struct camera *cam, const struct iso_urb_in *urb) {
        struct stream *s = cam->stream;
        struct held_urb *h;
        int64_t now = mono_ns();

        if (!s->on || s->n_held == MAX_HELD)
                return -1;
        h = &s->held[s->n_held];
        *h = (struct held_urb){.seqnum = urb->seqnum,
                               .n_packets = urb->n_packets,
                               .interval = urb->interval ? urb->interval : 1,
                               .lengths = malloc(urb->n_packets * sizeof(uint32_t))};
        if (!h->lengths)
                return -1;
        memcpy(h->lengths, urb->lengths, urb->n_packets * sizeof(uint32_t));
        h->start_ns = s->bus_ns > now ? s->bus_ns : now;
        h->due_ns = h->start_ns + (int64_t) h->n_packets * h->interval * USB_MICROFRAME_NS;
        s->bus_ns = h->due_ns;
        if (s->t0 < 0)
                s->t0 = h->start_ns;
        s->n_held++;
        return 0;
}

bool stream_unlink(struct camera *cam, uint32_t seqnum) {
        struct stream *s = cam->stream;

        for (unsigned i = 0; i < s->n_held; i++)
                if (s->held[i].seqnum == seqnum) {
                        drop_held(s, i);
                        return true;
                }
        return false;
}

int64_t stream_next_due(const struct camera *cam) {
        return cam->stream->n_held ? cam->stream->held[0].due_ns : -1;
}

/* Slots next_slot..@slot-1 passed without a frame: "busy" those due while the frame before was
 * still going out (the link too slow for the mode), "late" those due while no URB was there to
 * carry one (the host let the bus idle). */
static void log_skipped(struct camera *cam, const struct stream *s, uint64_t slot) {
        unsigned long long busy = 0, late = 0;

        for (uint64_t j = s->next_slot; j < slot; j++) {
                if (s->t0 + (int64_t) j * s->period_ns < s->frame_end_pt)
                        busy++;
                else
                        late++;
        }
        cam_log(cam, "skipped %llu %llu busy=%llu late=%llu", (unsigned long long) s->next_slot, busy + late, busy,
                late);
}

/* Begin the frame of the latest slot due by @pt, if one is: skipped slots before it logged. */
static void maybe_begin_frame(struct camera *cam, struct stream *s, int64_t pt) {
        uint64_t slot;

        if (pt < s->t0 + (int64_t) s->next_slot * s->period_ns)
                return;
        slot = (uint64_t) ((pt - s->t0) / s->period_ns);
        if (slot > s->next_slot)
                log_skipped(cam, s, slot);
        s->next_slot = slot + 1;
        s->frame = frames_next(cam, &s->mode, &s->size);
        s->pos = 0;
        s->fid ^= UVC_FID;
        s->pts = (uint32_t) (pt * 48 / 1000); /* the 48 MHz clock of dwClockFrequency */
        s->in_frame = true;
        s->first_pending = true;
}

/* One packet of at most @room bytes at bus time @pt into @dst. Return: its length. */
static uint32_t fill_packet(struct camera *cam, struct stream *s, int64_t pt, uint8_t *dst, uint32_t room) {
        size_t chunk;

        if (!s->on || room < PAYLOAD_HEADER)
                return 0;
        if (!s->in_frame)
                maybe_begin_frame(cam, s, pt);
        if (!s->in_frame) { /* a header alone, with the last frame's FID */
                dst[0] = 2, dst[1] = UVC_EOH | s->fid;
                return 2;
        }
        chunk = s->size - s->pos;
        if (chunk > room - PAYLOAD_HEADER)
                chunk = room - PAYLOAD_HEADER;
        dst[0] = PAYLOAD_HEADER;
        dst[1] = UVC_EOH | UVC_PTS | s->fid | (s->pos + chunk == s->size ? UVC_EOF : 0);
        for (unsigned i = 0; i < 4; i++)
                dst[2 + i] = (uint8_t) (s->pts >> (8 * i));
        memcpy(dst + PAYLOAD_HEADER, s->frame + s->pos, chunk);
        s->pos += chunk;
        if (s->pos == s->size) {
                s->in_frame = false;
                s->frame_end_pt = pt;
                if (s->n_done < MAX_DONE) {
                        frames_done(cam, &s->done[s->n_done]);
                        s->done[s->n_done++].first_ns = s->first_pending ? 0 : s->first_ns;
                }
        }
        return (uint32_t) (PAYLOAD_HEADER + chunk);
}

/* Fill the oldest held URB's packets, packed as USB/IP sends them. Return: the bytes. */
static int fill_urb(struct camera *cam, struct stream *s, const struct held_urb *h, uint32_t *ret_total) {
        uint32_t offset = 0, total = 0, room = 0;

        for (unsigned i = 0; i < h->n_packets; i++)
                room += h->lengths[i];
        if (room > s->out_cap) {
                uint8_t *p = realloc(s->out, room);
                if (!p)
                        return -ENOMEM;
                s->out = p, s->out_cap = room;
        }
        for (unsigned i = 0; i < h->n_packets; i++) {
                int64_t pt = h->start_ns + (int64_t) i * h->interval * USB_MICROFRAME_NS;
                uint32_t n = fill_packet(cam, s, pt, s->out + total, h->lengths[i]);

                s->iso[i] = (struct iso_packet_out){.offset = offset, .length = h->lengths[i], .actual_length = n};
                offset += h->lengths[i];
                total += n;
        }
        *ret_total = total;
        return 0;
}

/* After a URB's reply began to go out at @t: the frames it began have their first time, those
 * it finished are logged. */
static void account_sent(struct camera *cam, struct stream *s, int64_t t) {
        for (unsigned i = 0; i < s->n_done; i++) {
                if (s->done[i].first_ns == 0)
                        s->done[i].first_ns = t;
                s->done[i].last_ns = t;
                frames_log_sent(cam, &s->done[i]);
        }
        s->n_done = 0;
        if (s->in_frame && s->first_pending) {
                s->first_pending = false;
                s->first_ns = t;
        }
}

int stream_complete_due(struct camera *cam, int fd) {
        struct stream *s = cam->stream;

        while (s->n_held && s->held[0].due_ns <= mono_ns()) {
                const struct held_urb *h = &s->held[0];
                uint32_t total;
                int64_t t;
                int r = fill_urb(cam, s, h, &total);

                t = mono_ns(); /* the reply leaves now: uvcvideo cannot see it earlier */
                if (r == 0)
                        r = usbip_ret_submit(fd, h->seqnum, 0, total, s->out, s->iso, h->n_packets);
                if (r < 0)
                        return r;
                account_sent(cam, s, t);
                drop_held(s, 0);
        }
        return 0;
}
