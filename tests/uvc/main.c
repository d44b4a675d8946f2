/* SPDX-License-Identifier: MIT */
/*
 * main.c — uvc-camera: a USB Video Class camera for the tests, served over USB/IP (camera.h
 * says how it is built). Attach it with the kernel's own tools:
 *
 *   uvc-camera --frames DIR --port 3240 --busid 1-1 --serial LEFT0001 --log left.log &
 *   usbip --tcp-port 3240 attach -r 127.0.0.1 -b 1-1     # vhci-hcd: uvcvideo makes /dev/videoN
 *   usbip detach -p PORT                                   # unplugged; attach again to replug
 *
 * It prints "uvc-camera: listening on 127.0.0.1:PORT" on stderr once it can be attached, then
 * serves one connection at a time until it is killed. The options, and the log: --help.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "camera.h"

#define ECONNRESET_STATUS (-ECONNRESET)
#define EPIPE_STATUS (-EPIPE)
#define STREAM_EP 1

int64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void cam_log(struct camera *cam, const char *fmt, ...) {
        va_list ap;

        if (!cam->log)
                return;
        fprintf(cam->log, "%lld ", (long long) mono_ns());
        va_start(ap, fmt);
        vfprintf(cam->log, fmt, ap);
        va_end(ap);
        fputc('\n', cam->log);
        fflush(cam->log);
}

/* A control transfer on endpoint 0, answered at once. */
static int control_transfer(struct camera *cam, int fd, const struct usbip_cmd *c) {
        uint16_t wlength = (uint16_t) (c->setup[6] | c->setup[7] << 8);
        uint8_t in[4096];
        int n;

        if (c->direction == USBIP_DIR_IN) {
                n = ep0_request(cam, c->setup, in, wlength < sizeof(in) ? wlength : sizeof(in));
                return n < 0 ? usbip_ret_submit(fd, c->seqnum, EPIPE_STATUS, 0, NULL, NULL, 0)
                             : usbip_ret_submit(fd, c->seqnum, 0, (uint32_t) n, in, NULL, 0);
        }
        n = ep0_request(cam, c->setup, c->data, c->transfer_buffer_length);
        return usbip_ret_submit(fd, c->seqnum, n < 0 ? EPIPE_STATUS : 0, n < 0 ? 0 : c->transfer_buffer_length, NULL,
                                NULL, 0);
}

static int submit(struct camera *cam, int fd, const struct usbip_cmd *c) {
        if (c->ep == 0)
                return control_transfer(cam, fd, c);
        if (c->ep == STREAM_EP && c->direction == USBIP_DIR_IN && c->number_of_packets > 0) {
                struct iso_urb_in urb = {.seqnum = c->seqnum,
                                         .n_packets = (uint32_t) c->number_of_packets,
                                         .interval = c->interval > 0 ? (uint32_t) c->interval : 1,
                                         .lengths = c->iso_lengths};
                if (stream_queue(cam, &urb) == 0)
                        return 0; /* answered at its bus time */
        }
        return usbip_ret_submit(fd, c->seqnum, EPIPE_STATUS, 0, NULL, NULL, 0);
}

/* One command from the host. Return: 1, 0 when the connection ended, -errno. */
static int handle_command(struct camera *cam, int fd) {
        struct usbip_cmd c;
        int r = usbip_read_cmd(fd, &c);

        if (r <= 0)
                return r;
        if (c.command == USBIP_CMD_UNLINK)
                r = usbip_ret_unlink(fd, c.seqnum, stream_unlink(cam, c.unlink_seqnum) ? ECONNRESET_STATUS : 0);
        else
                r = submit(cam, fd, &c);
        usbip_cmd_free(&c);
        return r < 0 ? r : 1;
}

/* While the host holds the camera: commands as they come, isochronous URBs at their bus time. */
static void session(struct camera *cam, int fd) {
        int r = 1;

        /* plugged in: powered up with its defaults, as a camera is */
        controls_init(&cam->controls);
        probe_init(cam);
        cam->configuration = 0;
        cam_log(cam, "plug");
        while (r > 0) {
                int64_t due = stream_next_due(cam);
                struct timespec ts, *timeout = NULL;
                struct pollfd p = {.fd = fd, .events = POLLIN};

                if (due >= 0) {
                        int64_t wait = due - mono_ns();
                        if (wait < 0)
                                wait = 0;
                        ts = (struct timespec){.tv_sec = wait / NSEC_PER_SEC, .tv_nsec = wait % NSEC_PER_SEC};
                        timeout = &ts;
                }
                r = ppoll(&p, 1, timeout, NULL);
                if (r < 0)
                        r = errno == EINTR ? 1 : -errno;
                else if (p.revents)
                        r = handle_command(cam, fd);
                else
                        r = 1;
                if (r > 0 && stream_complete_due(cam, fd) < 0)
                        r = 0;
        }
        stream_reset(cam);
        cam_log(cam, "unplug%s%s", r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
}

static void serve(struct camera *cam, int listen_fd) {
        for (;;) {
                int one = 1, fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno != EINTR)
                                fprintf(stderr, "uvc-camera: accept: %s\n", strerror(errno));
                        continue;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (usbip_handshake(fd, cam) == 1)
                        session(cam, fd);
                close(fd);
        }
}

static void usage(FILE *f) {
        fputs("usage: uvc-camera --frames DIR --port PORT --busid BUSID --serial SERIAL [--product NAME] [--log FILE]\n"
              "\n"
              "A USB Video Class camera served over USB/IP on 127.0.0.1:PORT, for `usbip attach`.\n"
              "  --frames DIR    side-by-side JPEGs: DIR/2560x720/*.jpg and DIR/1280x480/*.jpg\n"
              "  --busid BUSID   the bus id usbip attach -b names it by (e.g. 1-1)\n"
              "  --serial S      its USB serial number (udev's /dev/v4l/by-id name ends with it)\n"
              "  --product NAME  its USB product string (default \"Stereo UVC Camera\")\n"
              "  --log FILE      one line per event: plug, unplug, commit, stream on/off, set NAME VALUE,\n"
              "                  refused NAME VALUE, sent N FIRST_NS LAST_NS BYTES IMAGE,\n"
              "                  skipped SLOT N busy=N late=N\n",
              f);
}

static int parse_options(int argc, char **argv, struct camera *cam, const char **frames, int *port,
                         const char **log_path) {
        static const struct option opts[] = {
                {"frames", required_argument, NULL, 'f'},  {"port", required_argument, NULL, 'p'},
                {"busid", required_argument, NULL, 'b'},   {"serial", required_argument, NULL, 's'},
                {"product", required_argument, NULL, 'n'}, {"log", required_argument, NULL, 'l'},
                {"help", no_argument, NULL, 'h'},          {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
                switch (c) {
                case 'f': *frames = optarg; break;
                case 'p': *port = atoi(optarg); break;
                case 'b': cam->busid = optarg; break;
                case 's': cam->serial = optarg; break;
                case 'n': cam->product = optarg; break;
                case 'l': *log_path = optarg; break;
                case 'h': usage(stdout); exit(0);
                default: return -1;
                }
        return *frames && *port > 0 && *port < 65536 && cam->busid && cam->serial ? 0 : -1;
}

int main(int argc, char **argv) {
        /* pid.codes' test VID:PID, meant for devices that are not products */
        struct camera cam = {.product = "Stereo UVC Camera", .vendor_id = 0x1209, .product_id = 0x0001};
        const char *frames = NULL, *log_path = NULL;
        int port = 0, fd;

        if (parse_options(argc, argv, &cam, &frames, &port, &log_path) < 0) {
                usage(stderr);
                return 2;
        }
        signal(SIGPIPE, SIG_IGN); /* a host gone mid-write: the write fails, the loop goes on */
        if (log_path && !(cam.log = fopen(log_path, "a"))) {
                fprintf(stderr, "uvc-camera: cannot write the log %s: %s\n", log_path, strerror(errno));
                return 1;
        }
        controls_init(&cam.controls);
        if (frames_load(&cam, frames) < 0 || stream_new(&cam) < 0)
                return 1;
        probe_init(&cam);
        fd = usbip_listen(port);
        if (fd < 0) {
                fprintf(stderr, "uvc-camera: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(-fd));
                return 1;
        }
        fprintf(stderr, "uvc-camera: listening on 127.0.0.1:%d (busid %s, serial %s)\n", port, cam.busid, cam.serial);
        serve(&cam, fd);
        return 0;
}
