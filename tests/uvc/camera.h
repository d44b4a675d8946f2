/* SPDX-License-Identifier: MIT */
/*
 * camera.h — a USB Video Class camera for the tests (test equipment, never installed): the
 * device side of a USB/IP connection, so that the kernel's own vhci-hcd, usbcore and uvcvideo
 * see a real USB camera, attached with `usbip attach` as a camera exported by usbipd would be.
 *
 * DESIGN
 *
 *   uvc-camera ◄──TCP (USB/IP: CMD_SUBMIT, CMD_UNLINK / RET_SUBMIT, RET_UNLINK)──► vhci-hcd
 *        │                                                                      usbcore, uvcvideo
 *        ├─ usbip.c        the wire: the import handshake, commands in, replies out
 *        ├─ ep0.c          control transfers: standard requests, class requests dispatched to
 *        │   ├─ descriptors.c  device, configuration (UVC 1.1) and string descriptors
 *        │   ├─ controls.c     the camera's controls (GET_CUR/MIN/MAX/RES/DEF/INFO, SET_CUR)
 *        │   └─ probe.c        the streaming interface's probe and commit
 *        ├─ stream.c       the isochronous IN endpoint: URBs held until their bus time, filled
 *        │                 with payloads (UVC headers, FID, EOF, PTS) of the frame due
 *        ├─ frames.c       the frames: a folder of real side-by-side JPEGs per MJPEG size, each
 *        │                 numbered in a COM segment; YUYV drawn; the log of what was sent
 *        └─ formats.c      the formats, sizes and rates, and the bandwidth each needs
 *
 * Why not the kernel's UVC gadget (usb_f_uvc on usbip-vudc): Linux 6.1's usbip-vudc completes
 * every isochronous URB with -EXDEV without moving a byte (vudc_transfer.c: "TODO: support"),
 * and 6.1's usb_f_uvc has isochronous endpoints only, so through it a camera enumerates but
 * never delivers a frame. vhci-hcd carries isochronous URBs; this program answers them.
 *
 * One thread. The main loop (main.c) accepts one USB/IP connection at a time and, while it is
 * open, waits on the socket and on the time the oldest isochronous URB is due: everything
 * happens in that loop, nothing is shared, no lock. A closed connection is the camera
 * unplugged (usbip detach); the next import is the camera plugged in again, powered up anew:
 * its controls back to their defaults, as a real camera's are.
 *
 * The log (--log): one line per event, for the tests to judge: "sent N ..." for every frame
 * whose last byte went out (N is also in the frame's COM segment), "skipped" for a frame the
 * bus had no room for, "set NAME VALUE" for every SET_CUR, "stream on/off", "plug/unplug".
 */
#ifndef UVC_CAMERA_H
#define UVC_CAMERA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NSEC_PER_SEC 1000000000LL
#define USB_MICROFRAME_NS 125000LL /* high speed: 8000 microframes a second */
#define PAYLOAD_HEADER 6           /* bHeaderLength, bmHeaderInfo, dwPresentationTime */

/* ---- formats.c: what the camera offers ---------------------------------------------------- */

enum fmt_kind { FMT_MJPEG, FMT_YUYV };

struct frame_size {
        uint16_t width, height;
        unsigned n_intervals;
        uint32_t intervals[4];    /* 100 ns units, fastest first */
        uint32_t max_frame_bytes; /* the largest frame this size sends (set at start) */
};

struct format {
        enum fmt_kind kind;
        const char *name; /* "MJPEG", "YUYV" */
        unsigned n_sizes;
        struct frame_size sizes[2];
};

extern struct format formats[2];
#define N_FORMATS 2u
/* The streaming interface's alternate settings 1..N_ALTS: bytes per microframe of each. */
#define N_ALTS 4u
extern const uint16_t alt_bytes[N_ALTS + 1];

/* The mode at 1-based indexes, or NULL when they name none. */
const struct frame_size *formats_size(unsigned format_index, unsigned frame_index);
/* The size's default frame interval: 30 fps where it has it. */
uint32_t formats_default_interval(const struct frame_size *fs);
/* Bytes a microframe that the mode needs (payload headers included): what the camera asks of
 * the bus in dwMaxPayloadTransferSize; more than alt_bytes[N_ALTS] when the bus cannot carry it. */
uint32_t formats_payload_needed(const struct format *f, const struct frame_size *fs, uint32_t interval);

/* ---- controls.c --------------------------------------------------------------------------- */

#define ENTITY_CAMERA 1     /* the camera terminal */
#define ENTITY_PROCESSING 2 /* the processing unit */
#define ENTITY_OUTPUT 3     /* the output terminal (streaming) */

struct control {
        const char *name; /* as the log says it */
        uint8_t entity, selector, size;
        uint8_t bit; /* in its entity's bmControls */
        bool is_signed;
        int32_t min, max, res, def;
        uint8_t info; /* GET_INFO: 1 GET, 2 SET, 8 auto-update */
        int32_t cur;
};

struct controls {
        struct control c[7];
        uint8_t error_code; /* VC_REQUEST_ERROR_CODE_CONTROL: why the last request stalled */
};

void controls_init(struct controls *cs);
/* Which bits of the camera terminal's and the processing unit's bmControls are set. */
uint32_t controls_bitmap(const struct controls *cs, uint8_t entity);

/* ---- the camera's state, shared by the modules through struct camera ----------------------- */

struct probe {
        uint16_t bmHint;
        uint8_t format_index, frame_index;
        uint32_t interval;
        uint32_t max_frame, max_payload;
};

struct frames; /* frames.c */
struct stream; /* stream.c */

struct camera {
        /* identity */
        const char *busid, *serial, *product;
        uint16_t vendor_id, product_id;
        /* USB state */
        uint8_t configuration;
        uint8_t vs_alt; /* the streaming interface's alternate setting: 0 idle, else streaming */
        struct controls controls;
        struct probe probe, commit;
        struct frames *frames;
        struct stream *stream;
        FILE *log;
};

/* main.c: one line of the camera's log, "<CLOCK_MONOTONIC ns> <text>", flushed. */
void cam_log(struct camera *cam, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t mono_ns(void);

/* ---- descriptors.c ------------------------------------------------------------------------ */

/* Copy descriptor @type/@index (of the device, the configuration, a string) into @buf (at most
 * @len bytes). Return: the descriptor's full length, or -1 when the camera has no such one. */
int descriptors_get(const struct camera *cam, uint8_t type, uint8_t index, uint8_t *buf, size_t len);

/* ---- ep0.c -------------------------------------------------------------------------------- */

/* One control transfer. @setup: the 8 bytes; @data: OUT data (@len bytes) or room for IN data
 * (up to wLength). Return: bytes of IN data (0 for OUT), or -1 for a STALL. */
int ep0_request(struct camera *cam, const uint8_t setup[8], uint8_t *data, size_t len);

/* controls.c and probe.c, called by ep0.c: class requests. Same return as ep0_request(). */
int controls_request(struct camera *cam, uint8_t req, uint8_t entity, uint8_t selector, uint8_t *data, size_t len);
int probe_request(struct camera *cam, uint8_t req, uint8_t selector, uint8_t *data, size_t len);
void probe_init(struct camera *cam);

/* ---- frames.c ----------------------------------------------------------------------------- */

/* Load the JPEG folders (DIR/<W>x<H>/ *.jpg for every MJPEG size) and size the formats.
 * Return: 0, or -1 with the reason on stderr. */
int frames_load(struct camera *cam, const char *dir);
/* Build the next frame of @mode into the frame buffer. Return: its bytes (*@ret_size of them). */
const uint8_t *frames_next(struct camera *cam, const struct probe *mode, size_t *ret_size);

struct sent_frame {
        uint64_t number; /* also in the JPEG's COM segment */
        size_t size;
        int image;                 /* the file's index among its size's, -1 for YUYV */
        int64_t first_ns, last_ns; /* when its first and last packets went out */
};

/* The frame begun by frames_next() went out whole: its record (the caller fills in the times). */
void frames_done(struct camera *cam, struct sent_frame *ret);
/* Log "sent N FIRST_NS LAST_NS BYTES IMAGE". */
void frames_log_sent(struct camera *cam, const struct sent_frame *f);
void frames_free(struct camera *cam);

/* ---- stream.c ----------------------------------------------------------------------------- */

struct iso_urb_in {
        uint32_t seqnum;
        uint32_t n_packets;
        uint32_t interval; /* microframes between packets */
        uint32_t *lengths; /* n_packets */
};

int stream_new(struct camera *cam);
void stream_free(struct camera *cam);
/* SET_INTERFACE on the streaming interface: @alt 0 stops, 1..N_ALTS starts with the committed mode. */
void stream_set_alt(struct camera *cam, uint8_t alt);
/* An isochronous IN URB arrived: hold it until its bus time. Return: 0, -1 when refused now. */
int stream_queue(struct camera *cam, const struct iso_urb_in *urb);
/* CMD_UNLINK: Return: true when @seqnum was held (and is dropped), false when already answered. */
bool stream_unlink(struct camera *cam, uint32_t seqnum);
/* When the oldest held URB is due (CLOCK_MONOTONIC ns), or -1 when none is held. */
int64_t stream_next_due(const struct camera *cam);
/* Answer every held URB due by now, through usbip_ret_submit() on @fd. Return: 0 or -errno. */
int stream_complete_due(struct camera *cam, int fd);
/* The connection closed: drop every URB, stop streaming. */
void stream_reset(struct camera *cam);

/* ---- usbip.c ------------------------------------------------------------------------------ */

struct usbip_cmd {
        uint32_t command; /* USBIP_CMD_SUBMIT or USBIP_CMD_UNLINK */
        uint32_t seqnum, direction, ep;
        uint32_t transfer_flags, transfer_buffer_length;
        int32_t start_frame, number_of_packets, interval;
        uint8_t setup[8];
        uint32_t unlink_seqnum;
        uint8_t *data;         /* OUT data: transfer_buffer_length bytes (malloc'd) */
        uint32_t *iso_lengths; /* number_of_packets requested lengths (malloc'd) */
};

struct iso_packet_out {
        uint32_t offset, length, actual_length;
};

#define USBIP_CMD_SUBMIT 0x0001
#define USBIP_CMD_UNLINK 0x0002
#define USBIP_DIR_IN 1
#define USBIP_MAX_ISO_PACKETS 1024

int usbip_listen(int port);
/* Answer one client on @fd: a device list (Return 0: close it) or an import of @cam's busid
 * (Return 1: the connection now carries URBs). Return: -1 when the client is not understood. */
int usbip_handshake(int fd, const struct camera *cam);
/* Read one command. Return: 1, 0 at the end of the connection, -errno. */
int usbip_read_cmd(int fd, struct usbip_cmd *ret_cmd);
void usbip_cmd_free(struct usbip_cmd *cmd);
/* RET_SUBMIT: @actual bytes transferred, sent from @data for an IN transfer (NULL for OUT: the
 * host has them); @n_iso packet descriptors for an isochronous one. */
int usbip_ret_submit(int fd, uint32_t seqnum, int32_t status, uint32_t actual, const uint8_t *data,
                     const struct iso_packet_out *iso, uint32_t n_iso);
int usbip_ret_unlink(int fd, uint32_t seqnum, int32_t status);

#endif
