/* SPDX-License-Identifier: MIT */
/*
 * usbip.c — the USB/IP wire (Linux's Documentation/usb/usbip_protocol.rst), the side of a
 * server exporting one device: the handshake (OP_REQ_DEVLIST, OP_REQ_IMPORT), then the URB
 * traffic: CMD_SUBMIT and CMD_UNLINK in, RET_SUBMIT and RET_UNLINK out. Every field is
 * big-endian; each header is 48 bytes. After the import, `usbip attach` hands the socket to
 * vhci-hcd, which speaks the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "camera.h"

#define USBIP_VERSION 0x0111
#define OP_REQ_DEVLIST 0x8005
#define OP_REP_DEVLIST 0x0005
#define OP_REQ_IMPORT 0x8003
#define OP_REP_IMPORT 0x0003
#define USBIP_RET_SUBMIT 0x0003
#define USBIP_RET_UNLINK 0x0004
#define HEADER 48
#define USB_SPEED_HIGH 3
#define BUSNUM 1
#define DEVNUM 2

static int read_all(int fd, void *buf, size_t len) {
        uint8_t *p = buf;

        while (len) {
                ssize_t n = read(fd, p, len);
                if (n == 0)
                        return 0;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n, len -= (size_t) n;
        }
        return 1;
}

static int write_iov(int fd, struct iovec *iov, int n) {
        while (n > 0) {
                ssize_t w = writev(fd, iov, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                while (n > 0 && (size_t) w >= iov->iov_len)
                        w -= (ssize_t) iov->iov_len, iov++, n--;
                if (n > 0)
                        iov->iov_base = (uint8_t *) iov->iov_base + w, iov->iov_len -= (size_t) w;
        }
        return 0;
}

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8), p[1] = (uint8_t) v;
}

static void put32(uint8_t *p, uint32_t v) {
        put16(p, (uint16_t) (v >> 16)), put16(p + 2, (uint16_t) v);
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

int usbip_listen(int port) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 4) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* The exported device as usbip_usb_device (312 bytes), its interfaces after it when @with_ifs. */
static size_t device_info(const struct camera *cam, uint8_t *p, bool with_ifs) {
        memset(p, 0, 312);
        snprintf((char *) p, 256, "/sys/devices/platform/uvc-camera/%s", cam->busid);
        snprintf((char *) p + 256, 32, "%s", cam->busid);
        put32(p + 288, BUSNUM);
        put32(p + 292, DEVNUM);
        put32(p + 296, USB_SPEED_HIGH);
        put16(p + 300, cam->vendor_id);
        put16(p + 302, cam->product_id);
        put16(p + 304, 0x0100);
        p[306] = 0xef, p[307] = 0x02, p[308] = 0x01; /* class, subclass, protocol */
        p[309] = cam->configuration, p[310] = 1, p[311] = 2;
        if (!with_ifs)
                return 312;
        memset(p + 312, 0, 8);
        p[312] = 0x0e, p[313] = 0x01; /* video control */
        p[316] = 0x0e, p[317] = 0x02; /* video streaming */
        return 320;
}

static int reply_devlist(int fd, const struct camera *cam) {
        uint8_t b[12 + 320];
        struct iovec iov = {b, 0};

        put16(b, USBIP_VERSION), put16(b + 2, OP_REP_DEVLIST), put32(b + 4, 0), put32(b + 8, 1);
        iov.iov_len = 12 + device_info(cam, b + 12, true);
        return write_iov(fd, &iov, 1);
}

static int reply_import(int fd, const struct camera *cam, bool ok) {
        uint8_t b[8 + 312];
        struct iovec iov = {b, 8};

        put16(b, USBIP_VERSION), put16(b + 2, OP_REP_IMPORT), put32(b + 4, ok ? 0 : 1);
        if (ok)
                iov.iov_len += device_info(cam, b + 8, false);
        return write_iov(fd, &iov, 1);
}

int usbip_handshake(int fd, const struct camera *cam) {
        uint8_t op[8], busid[32];
        uint16_t code;

        if (read_all(fd, op, sizeof(op)) <= 0)
                return -1;
        code = (uint16_t) (op[2] << 8 | op[3]);
        if (code == OP_REQ_DEVLIST)
                return reply_devlist(fd, cam) < 0 ? -1 : 0;
        if (code != OP_REQ_IMPORT || read_all(fd, busid, sizeof(busid)) <= 0)
                return -1;
        busid[31] = 0;
        if (strcmp((char *) busid, cam->busid)) {
                reply_import(fd, cam, false);
                return 0;
        }
        return reply_import(fd, cam, true) < 0 ? -1 : 1;
}

void usbip_cmd_free(struct usbip_cmd *cmd) {
        free(cmd->data);
        free(cmd->iso_lengths);
        cmd->data = NULL;
        cmd->iso_lengths = NULL;
}

/* The OUT data and the isochronous packet descriptors after a CMD_SUBMIT header. */
static int read_submit_tail(int fd, struct usbip_cmd *c) {
        uint8_t desc[16];
        int r;

        if (c->direction != USBIP_DIR_IN && c->transfer_buffer_length > 0) {
                if (c->transfer_buffer_length > (1u << 24) || !(c->data = malloc(c->transfer_buffer_length)))
                        return -ENOMEM;
                r = read_all(fd, c->data, c->transfer_buffer_length);
                if (r <= 0)
                        return r;
        }
        if (c->number_of_packets <= 0) /* not isochronous */
                return 1;
        if (c->number_of_packets > USBIP_MAX_ISO_PACKETS ||
            !(c->iso_lengths = calloc((size_t) c->number_of_packets, sizeof(uint32_t))))
                return -EPROTO;
        for (int i = 0; i < c->number_of_packets; i++) {
                r = read_all(fd, desc, sizeof(desc));
                if (r <= 0)
                        return r;
                c->iso_lengths[i] = get32(desc + 4);
        }
        return 1;
}

int usbip_read_cmd(int fd, struct usbip_cmd *c) {
        uint8_t h[HEADER];
        int r = read_all(fd, h, sizeof(h));

        memset(c, 0, sizeof(*c));
        if (r <= 0)
                return r;
        c->command = get32(h);
        c->seqnum = get32(h + 4);
        c->direction = get32(h + 12);
        c->ep = get32(h + 16);
        if (c->command == USBIP_CMD_UNLINK) {
                c->unlink_seqnum = get32(h + 20);
                return 1;
        }
        if (c->command != USBIP_CMD_SUBMIT)
                return -EPROTO;
        c->transfer_flags = get32(h + 20);
        c->transfer_buffer_length = get32(h + 24);
        c->start_frame = (int32_t) get32(h + 28);
        c->number_of_packets = (int32_t) get32(h + 32);
        c->interval = (int32_t) get32(h + 36);
        memcpy(c->setup, h + 40, 8);
        r = read_submit_tail(fd, c);
        if (r <= 0)
                usbip_cmd_free(c);
        return r;
}

static void ret_header(uint8_t *h, uint32_t command, uint32_t seqnum) {
        memset(h, 0, HEADER);
        put32(h, command);
        put32(h + 4, seqnum);
}

int usbip_ret_submit(int fd, uint32_t seqnum, int32_t status, uint32_t actual, const uint8_t *data,
                     const struct iso_packet_out *iso, uint32_t n_iso) {
        uint8_t h[HEADER], *descs = NULL;
        struct iovec iov[3];
        int n = 0, r;

        ret_header(h, USBIP_RET_SUBMIT, seqnum);
        put32(h + 20, (uint32_t) status);
        put32(h + 24, actual);
        put32(h + 32, n_iso); /* number_of_packets: 0 for a non-isochronous URB */
        iov[n++] = (struct iovec){h, HEADER};
        if (data && actual)
                iov[n++] = (struct iovec){(void *) data, actual};
        if (n_iso) {
                descs = calloc(n_iso, 16);
                if (!descs)
                        return -ENOMEM;
                for (uint32_t i = 0; i < n_iso; i++) {
                        put32(descs + 16 * i, iso[i].offset);
                        put32(descs + 16 * i + 4, iso[i].length);
                        put32(descs + 16 * i + 8, iso[i].actual_length);
                }
                iov[n++] = (struct iovec){descs, 16 * n_iso};
        }
        r = write_iov(fd, iov, n);
        free(descs);
        return r;
}

int usbip_ret_unlink(int fd, uint32_t seqnum, int32_t status) {
        uint8_t h[HEADER];
        struct iovec iov = {h, HEADER};

        ret_header(h, USBIP_RET_UNLINK, seqnum);
        put32(h + 20, (uint32_t) status);
        return write_iov(fd, &iov, 1);
}
