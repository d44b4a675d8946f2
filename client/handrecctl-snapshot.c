/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-snapshot.c — `handrecctl snapshot`: one frame of a hand's preview (OpenPreview,
 * the first frame, close) written atomically into a JPEG file (a temporary file beside it, then
 * rename), for scripts and for checking the framing.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl-preview.h"

#define FIRST_FRAME_TIMEOUT_S 10

/* Write @data into @path through a temporary file in the same folder. Return: 0 or -errno. */
static int write_atomic(const char *path, const uint8_t *data, size_t size) {
        char tmp[PATH_MAX], copy[PATH_MAX];
        _cleanup_(closep) int fd = -1;
        mode_t mask;
        int r;

        snprintf(copy, sizeof(copy), "%s", path);
        if ((size_t) snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(copy), basename((char *) path)) >= sizeof(tmp))
                return -ENAMETOOLONG;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        mask = umask(0);
        umask(mask);
        r = fchmod(fd, 0666 & ~mask) < 0 ? -errno : 0;
        if (r == 0)
                r = write_all(fd, data, size);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

/* Read the first frame from @fd, waiting at most FIRST_FRAME_TIMEOUT_S. Return: 0, or 1 (printed). */
static int first_frame(const char *hand, int fd, struct preview_header *h, uint8_t **buf, size_t *cap) {
        struct timeval tv = {.tv_sec = FIRST_FRAME_TIMEOUT_S};
        int r;

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        r = preview_read_frame(fd, h, buf, cap);
        if (r > 0)
                return 0;
        if (r == -EAGAIN)
                fprintf(stderr,
                        "handrecctl: no frame of %s came from handrecd within %d s; is its camera delivering? "
                        "(handrecctl status --hand %s)\n",
                        hand, FIRST_FRAME_TIMEOUT_S, hand);
        else if (r == 0)
                fprintf(stderr, "handrecctl: handrecd ended the preview of %s before its first frame.\n", hand);
        else
                fprintf(stderr, "handrecctl: the preview of %s broke off: %s\n", hand, strerror(-r));
        return 1;
}

int run_snapshot(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {.quality = -1, .rectify = -1, .max_width = -1};
        _cleanup_(freep) uint8_t *buf = NULL;
        _cleanup_(closep) int fd = -1;
        struct preview_header h;
        char what[128];
        size_t cap = 0;
        int r;

        r = parse_args("snapshot", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl snapshot --hand left|right --output FILE.jpg [--rectified|--raw]\n"
                       "                           [--guides] [--max-width PIXELS]\n\n"
                       "Write one frame of the hand's cameras (both eyes side by side) into FILE.jpg, atomically,\n"
                       "and print its path and size. The frame is as handrecctl preview shows it: at most 1280\n"
                       "pixels wide unless --max-width says otherwise (0: full size). --output - writes it to\n"
                       "standard output. Works while the hand is idle or recording; the take loses nothing.\n");
                return 0;
        }
        if (r)
                return r;
        if (a.n_hands != 1)
                return usage_error("snapshot", "--hand is required, once (left or right)");
        if (!a.output || !a.output[0])
                return usage_error("snapshot", "--output FILE.jpg is required");
        struct preview_options o = {.max_width = a.max_width, .rectified = a.rectify, .guides = a.guides};
        if ((r = connect_bus(&bus)) || (r = preview_open(bus, a.hand, &o, &fd)))
                return r;
        if ((r = first_frame(a.hand, fd, &h, &buf, &cap)))
                return r;
        close(TAKE_FD(fd)); /* the preview ends as soon as its one frame is in */
        if (streq(a.output, "-"))
                r = write_all(STDOUT_FILENO, buf, h.size);
        else
                r = write_atomic(a.output, buf, h.size);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot write %s: %s\n",
                        streq(a.output, "-") ? "to standard output" : a.output, strerror(-r));
                return 1;
        }
        if (!streq(a.output, "-"))
                printf("%s: %u bytes, %s\n", a.output, h.size, preview_describe(&h, what, sizeof(what)));
        return 0;
}
