/* SPDX-License-Identifier: MIT */
/*
 * fuzz-rclone-json.c — any bytes as rclone's standard error (--use-json-log --stats: one JSON
 * record a line, and plain text from rclone or a helper it runs) through rclone_take_stderr()
 * (offload/rclone.c), in pieces of the sizes a pipe may give, then the "\n" handrec-offload adds
 * once rclone has exited.
 *
 * What must hold after every piece: no crash; the error and last_line sentences NUL-terminated
 * within their arrays, on one line; the line being read within its buffer; bytes and total what
 * a count can be (never a negative number's wrap-around, at most INT64_MAX), speed finite and
 * not negative. For input that is valid UTF-8 and has no JSON escapes ("\"), the sentences are
 * valid UTF-8 too (a sentence cut in the middle of a character cannot be sent on D-Bus: Status'
 * LastError, ListUploads' errors).
 */
#include <math.h>

#include "../../offload/offload.h"
#include "fuzz.h"

/* Whether @s (@n bytes) is valid UTF-8: no overlong forms, surrogates or code points past
 * U+10FFFF, as sd-bus checks its strings. */
static bool utf8_valid(const uint8_t *s, size_t n) {
        for (size_t i = 0; i < n;) {
                uint8_t c = s[i];
                uint32_t cp;
                size_t len;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF)
                        len = 2, cp = c & 0x1F;
                else if (c >= 0xE0 && c <= 0xEF)
                        len = 3, cp = c & 0x0F;
                else if (c >= 0xF0 && c <= 0xF4)
                        len = 4, cp = c & 0x07;
                else
                        return false;
                if (i + len > n)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xC0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3F);
                }
                if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
                    (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                i += len;
        }
        return true;
}

static void check_sentence(const char *s, size_t size, bool utf8) {
        const char *end = memchr(s, 0, size);

        FUZZ_CHECK(end != NULL);
        FUZZ_CHECK(!memchr(s, '\n', (size_t) (end - s)));
        if (utf8)
                FUZZ_CHECK(utf8_valid((const uint8_t *) s, (size_t) (end - s)));
}

static void check_job(const struct rclone_job *j, bool utf8) {
        check_sentence(j->error, sizeof(j->error), utf8);
        check_sentence(j->last_line, sizeof(j->last_line), utf8);
        FUZZ_CHECK(j->line_len < sizeof(j->line));
        FUZZ_CHECK(j->bytes <= INT64_MAX && j->total <= INT64_MAX);
        FUZZ_CHECK(isfinite(j->speed) && j->speed >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct rclone_job j; /* 9 KB: not on the stack */
        bool utf8 = utf8_valid(data, size) && !memchr(data, '\\', size);
        uint32_t x = (uint32_t) size * 2654435761u | 1;

        j = (struct rclone_job){.out_fd = -1, .err_fd = -1};
        /* pieces of 1 to 4,096 bytes, from a sequence the input's length seeds */
        for (size_t done = 0; done < size;) {
                size_t k;
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                k = MIN(size - done, (size_t) (x % 4096) + 1);
                rclone_take_stderr(&j, (const char *) data + done, k);
                check_job(&j, utf8);
                done += k;
        }
        if (j.line_len)
                rclone_take_stderr(&j, "\n", 1);
        check_job(&j, utf8);
        FUZZ_CHECK(j.line_len == 0);
        fuzz_say("error", j.error);
        fuzz_say("last line", j.last_line);
        return 0;
}
