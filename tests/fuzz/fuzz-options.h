/* SPDX-License-Identifier: MIT */
/*
 * fuzz-options.h — what the targets of the daemon's a{sv} options share (fuzz-take-options.c,
 * fuzz-list-takes-options.c, fuzz-preview-options.c): a method call whose a{sv} is built from the
 * input, so that every input is a message the bus would deliver (sd-bus checks the wire format
 * before the daemon sees a call; the parsers meet only well-formed dictionaries, but any keys,
 * types and values in them).
 *
 *   byte 0         flags, the target's own (fuzz-take-options.c: the hand has a calibration)
 *   then per entry, until the input ends (at most MAX_ENTRIES):
 *     key byte     % (K + 2), K the target's option names (its own, "" and one in the wrong
 *                  case): below K, that name; K, K + 1: a key of (next byte % 32) bytes from
 *                  the input
 *     type byte    % ELEMENTSOF(types): the variant's type (types[] below), then its value from
 *                  the input: numbers little-endian (a double is any 8 bytes: NaN, ±inf, -0),
 *                  strings (next byte % 80) bytes, or for a string value whose length byte
 *                  is 0xF0 or more, (that byte - 0xF0) × 128 + the next byte (up to 2,175),
 *                  containers a count and their elements
 *
 * A message is made on a bus that is never connected (the far end of a socketpair), sealed as
 * if sent, and read back.
 */
#pragma once

#include <sys/socket.h>
#include <systemd/sd-bus.h>

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

/* The target's option names (each target lists "" and a name that differs from one by case too). */
struct option_names {
        const char *const *known;
        size_t n;
};

static const char *entry_key(struct input *in, const struct option_names *names, char *buf, size_t max) {
        uint8_t k = next(in) % (names->n + 2);

        return k < names->n ? names->known[k] : take_string(in, buf, max);
}

/* The a{sv} the input describes, as the argument of a call of @member, sealed as if it had been
 * sent. Return: 0, or negative errno when the input asks for something no client can send (a
 * string that is not UTF-8). */
static int build(struct input *in, const char *member, const struct option_names *names, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, "org.handrec1", "/org/handrec1", "org.handrec1.Manager", member);
        FUZZ_CHECK(r >= 0);
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (unsigned i = 0; r >= 0 && in->n > 0 && i < MAX_ENTRIES; i++) {
                char key[32];
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append_basic(m, 's', entry_key(in, names, key, sizeof(key)));
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

/* The bus messages are made on: started, but it never gets past authentication. */
static inline void fuzz_bus_setup(void) {
        int fds[2];

        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);
        FUZZ_CHECK(sd_bus_new(&bus) >= 0);
        FUZZ_CHECK(sd_bus_set_fd(bus, fds[0], fds[0]) >= 0);
        FUZZ_CHECK(sd_bus_start(bus) >= 0);
}
