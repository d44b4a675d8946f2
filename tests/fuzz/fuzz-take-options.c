/* SPDX-License-Identifier: MIT */
/*
 * fuzz-take-options.c — take_options_read() on any StartRecording a{sv} a client can send.
 *
 * The bytes are a small program that builds the options, so that every input is a message the
 * bus would deliver (sd-bus checks the wire format before the daemon sees a call; the parser
 * meets only well-formed dictionaries, but any keys, types and values in them):
 *
 *   byte 0         bit 0: the hand has a calibration (rectify = true is allowed)
 *   then per entry, until the input ends (at most MAX_ENTRIES):
 *     key byte     % 10: 0-3 duration, label, jpeg_quality, rectify; 4: "" ; 5: "Duration";
 *                  6, 7: episode, task; 8, 9: a key of (next byte % 32) bytes from the input
 *     type byte    % ELEMENTSOF(types): the variant's type (types[] below), then its value from
 *                  the input: numbers little-endian (a double is any 8 bytes: NaN, ±inf, -0),
 *                  strings (next byte % 80) bytes, or for a string value whose length byte
 *                  is 0xF0 or more, (that byte - 0xF0) × 128 + the next byte (up to 2,175:
 *                  around the task's 1,024), containers a count and their elements
 *
 * A message is made on a bus that is never connected (the far end of a socketpair), sealed as
 * if sent, and read back. The parser must accept it with every option in range, or refuse it
 * with org.handrec1.Error.InvalidOption and a sentence; as the message is well-formed, a bare
 * sd-bus error from reading it means the parser lost its place, and is a failure too.
 */
#include <math.h>
#include <sys/socket.h>

#include "../../lib/calibration.h"
#include "../../daemon/daemon.h"
#include "../../daemon/take-options.h"
#include "../../lib/util.h"
#include "fuzz.h"

#define MAX_ENTRIES 16
#define MAX_DEPTH 3

struct input {
        const uint8_t *p;
        size_t n;
};

static sd_bus *bus;

/* The next byte, or 0 once the input is used up. */
static uint8_t next(struct input *in) {
        if (in->n == 0)
                return 0;
        in->n--;
        return *in->p++;
}

/* The next @size bytes into @out, zeros past the end of the input. */
static void take(struct input *in, void *out, size_t size) {
        size_t k = MIN(size, in->n);

        memset(out, 0, size);
        memcpy(out, in->p, k);
        in->p += k;
        in->n -= k;
}

/* A string of (next byte % @max) input bytes, cut at a NUL. Return: @buf. */
static char *take_string(struct input *in, char *buf, size_t max) {
        size_t len = next(in) % max;

        take(in, buf, len);
        buf[len] = 0;
        return buf;
}

/* A string value: take_string(), or a long one (the header comment). Return: @buf (2,200 bytes). */
static char *take_long_string(struct input *in, char *buf) {
        uint8_t b = in->n > 0 ? in->p[0] : 0;
        size_t len;

        if (b < 0xF0)
                return take_string(in, buf, 80);
        next(in);
        len = (size_t) (b - 0xF0) * 128 + next(in);
        take(in, buf, len);
        buf[len] = 0;
        return buf;
}

static const char *const types[] = {
        "d", "i", "u", "x", "t", "n", "q", "y", "b", "s", "o", "g", "v", "as", "ay", "a{sv}", "(id)", "ad",
};

static int append_value(sd_bus_message *m, const char *type, struct input *in, unsigned depth);

/* A variant holding a value of a type chosen by the input. */
static int append_variant(sd_bus_message *m, struct input *in, unsigned depth) {
        const char *type = types[next(in) % ELEMENTSOF(types)];
        int r;

        if (depth >= MAX_DEPTH)
                type = "i";
        r = sd_bus_message_open_container(m, 'v', type);
        if (r >= 0)
                r = append_value(m, type, in, depth + 1);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int append_basic(sd_bus_message *m, char type, struct input *in) {
        static const char *const paths[] = {"/", "/org/handrec1", "/a/b_c/D9"};
        static const char *const signatures[] = {"", "i", "a{sv}", "(dd)as"};
        union {
                double d;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                int16_t n;
                uint16_t q;
                uint8_t y;
        } v;
        char s[2200];

        switch (type) {
        case 'b': v.i = next(in) & 1; return sd_bus_message_append_basic(m, type, &v);
        case 's': return sd_bus_message_append_basic(m, type, take_long_string(in, s));
        case 'o': return sd_bus_message_append_basic(m, type, paths[next(in) % ELEMENTSOF(paths)]);
        case 'g': return sd_bus_message_append_basic(m, type, signatures[next(in) % ELEMENTSOF(signatures)]);
        default: take(in, &v, sizeof(v)); return sd_bus_message_append_basic(m, type, &v);
        }
}

static int append_value(sd_bus_message *m, const char *type, struct input *in, unsigned depth) {
        unsigned count;
        int r;

        if (type[1] == 0)
                return type[0] == 'v' ? append_variant(m, in, depth) : append_basic(m, type[0], in);
        if (type[0] == '(') {
                r = sd_bus_message_open_container(m, 'r', "id");
                if (r >= 0)
                        r = append_basic(m, 'i', in);
                if (r >= 0)
                        r = append_basic(m, 'd', in);
                return r < 0 ? r : sd_bus_message_close_container(m);
        }
        /* an array */
        count = next(in) % 4;
        r = sd_bus_message_open_container(m, 'a', type + 1);
        for (unsigned i = 0; r >= 0 && i < count; i++) {
                if (type[1] != '{') {
                        r = append_basic(m, type[1], in);
                        continue;
                }
                char key[32];
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append_basic(m, 's', take_string(in, key, sizeof(key)));
                if (r >= 0)
                        r = append_variant(m, in, depth);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static const char *entry_key(struct input *in, char *buf, size_t max) {
        static const char *const known[] = {"duration", "label",    "jpeg_quality", "rectify",
                                            "",         "Duration", "episode",      "task"};
        uint8_t k = next(in) % 10;

        return k < ELEMENTSOF(known) ? known[k] : take_string(in, buf, max);
}

/* The a{sv} the input describes, sealed as if it had been sent. Return: 0, or negative errno
 * when the input asks for something no client can send (a string that is not UTF-8). */
static int build(struct input *in, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, "org.handrec1", "/org/handrec1", "org.handrec1.Manager",
                                           "StartRecording");
        FUZZ_CHECK(r >= 0);
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (unsigned i = 0; r >= 0 && in->n > 0 && i < MAX_ENTRIES; i++) {
                char key[32];
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append_basic(m, 's', entry_key(in, key, sizeof(key)));
                if (r >= 0)
                        r = append_variant(m, in, 0);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        FUZZ_CHECK(sd_bus_message_seal(m, 1, 0) >= 0);
        FUZZ_CHECK(sd_bus_message_rewind(m, true) >= 0);
        *ret = TAKE_PTR(m);
        return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        int fds[2];

        (void) argc;
        (void) argv;
        /* messages need a bus that has been started; this one never gets past authentication */
        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);
        FUZZ_CHECK(sd_bus_new(&bus) >= 0);
        FUZZ_CHECK(sd_bus_set_fd(bus, fds[0], fds[0]) >= 0);
        FUZZ_CHECK(sd_bus_start(bus) >= 0);
        return 0;
}

static bool episode_ok(const char *s) {
        size_t n = strlen(s);

        if (n < 1 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
                        return false;
        return true;
}

static bool label_ok(const char *s) {
        size_t n = strlen(s);

        if (n < 1 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", s[i]))
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct calibration calibration; /* the parser only asks whether there is one */
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct input in = {data, size};
        struct hand_config hand = {.name = "right"};
        struct take_options o = {.jpeg_quality = 85, .rectify = -1};
        int r;

        if (next(&in) & 1)
                hand.calibration = &calibration;
        if (build(&in, &m) < 0) {
                fuzz_say("not a message a client can send", NULL);
                return 0;
        }

        r = take_options_read(m, &hand, &o, &error);
        if (r < 0) {
                FUZZ_CHECK(sd_bus_error_has_name(&error, ERROR_INVALID_OPTION));
                FUZZ_CHECK(error.message && error.message[0]);
                fuzz_say("refused", error.message);
                /* o untouched */
                FUZZ_CHECK(o.duration == 0 && o.label[0] == 0 && o.jpeg_quality == 85 && o.rectify == -1 &&
                           o.episode[0] == 0 && o.task[0] == 0);
                return 0;
        }
        FUZZ_CHECK(r == 0 && !sd_bus_error_is_set(&error));
        FUZZ_CHECK(o.duration == 0 || (isfinite(o.duration) && o.duration > 0 && o.duration <= 604800));
        FUZZ_CHECK(o.label[0] == 0 || label_ok(o.label));
        FUZZ_CHECK(o.episode[0] == 0 || episode_ok(o.episode));
        FUZZ_CHECK(strlen(o.task) <= 1024 && text_printable(o.task));
        FUZZ_CHECK(o.jpeg_quality >= JPEG_QUALITY_MIN && o.jpeg_quality <= JPEG_QUALITY_MAX);
        FUZZ_CHECK(o.rectify == -1 || o.rectify == 0 || (o.rectify == 1 && hand.calibration));
        /* the whole dictionary was read */
        FUZZ_CHECK(sd_bus_message_at_end(m, true) > 0);
        fuzz_say("accepted", NULL);
        return 0;
}
