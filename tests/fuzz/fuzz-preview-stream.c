/* SPDX-License-Identifier: MIT */
/*
 * fuzz-preview-stream.c — preview_read_frame() (handrecctl-preview-feed.c), the reader of the
 * preview stream the daemon writes on the descriptor OpenPreview gives (lib/preview-protocol.h),
 * on any bytes: the input is written into a pipe whose write end is closed, and frames are read
 * until the stream ends or is refused.
 *
 * Each read must give a whole frame (1, with the magic, a size from 1 to PREVIEW_JPEG_MAX and
 * that many bytes in the buffer, grown no larger than the largest frame), 0 at the end between
 * frames, or an error (-EBADMSG for a header that is not one, -EPROTO for a stream cut inside a
 * frame); a frame never ends past the input, and the reader never reads a byte twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../client/handrecctl-preview.h"
#include "../../lib/preview-protocol.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        return 0;
}

/* The input in a pipe, its write end closed: a stream as the daemon's ends. Return: the read end. */
static int stream_of(const uint8_t *data, size_t size) {
        int p[2];

        FUZZ_CHECK(pipe2(p, O_CLOEXEC) == 0);
        FUZZ_CHECK(fcntl(p[1], F_SETPIPE_SZ, 1 << 20) >= (int) size || size > (1 << 20));
        for (size_t done = 0; done < size;) {
                ssize_t n = write(p[1], data + done, size - done);
                FUZZ_CHECK(n > 0);
                done += (size_t) n;
        }
        close(p[1]);
        return p[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct preview_header h;
        uint8_t *buf = NULL;
        size_t cap = 0, consumed = 0, largest = 0;
        int fd, r;

        if (size > (1 << 20))
                return 0; /* one pipe's worth: the reader's logic, not the pipe's */
        fd = stream_of(data, size);
        while ((r = preview_read_frame(fd, &h, &buf, &cap)) == 1) {
                FUZZ_CHECK(memcmp(h.magic, PREVIEW_MAGIC, sizeof(h.magic)) == 0);
                FUZZ_CHECK(h.size >= 1 && h.size <= PREVIEW_JPEG_MAX && cap >= h.size);
                consumed += sizeof(h) + h.size;
                FUZZ_CHECK(consumed <= size);
                FUZZ_CHECK(memcmp(buf, data + consumed - h.size, h.size) == 0); /* its own bytes */
                largest = h.size > largest ? h.size : largest;
        }
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTO);
        FUZZ_CHECK(r != 0 || consumed == size); /* the end comes between frames only */
        FUZZ_CHECK(cap == largest || (cap == 0 && largest == 0) || r < 0);
        fuzz_say(r == 0 ? "ended" : "refused", strerror(-r));
        free(buf);
        close(fd);
        return 0;
}
