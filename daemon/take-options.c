/* SPDX-License-Identifier: MIT */
/*
 * take-options.c — StartRecording's options: the a{sv} read one {sv} entry at a time, each key
 * looked up in one table of readers, each reader checking its variant's type and its value.
 * Unknown keys, keys given twice, wrong types and values out of range are refused with
 * org.handrec1.Error.InvalidOption and a sentence saying what to give instead. Needs no bus
 * connection (tests/fuzz/fuzz-take-options.c drives it with messages it builds). Main thread only.
 */
#include "take-options.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "util.h"

#define OPTIONS_HELP                                                                                                   \
        "known options: duration (d, seconds), label (s), jpeg_quality (i, 60-95), rectify (b), episode (s), task (s)"

int options_read_number(sd_bus_message *m, const char *contents, double *ret) {
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
        int r;

        if (strlen(contents) != 1 || !strchr("dixtunqy", contents[0]))
                return 0;
        r = sd_bus_message_read_basic(m, contents[0], &v);
        if (r < 0)
                return r;
        switch (contents[0]) {
        case 'd': *ret = v.d; break;
        case 'i': *ret = v.i; break;
        case 'u': *ret = v.u; break;
        case 'x': *ret = (double) v.x; break;
        case 't': *ret = (double) v.t; break;
        case 'n': *ret = v.n; break;
        case 'q': *ret = v.q; break;
        case 'y': *ret = v.y; break;
        }
        return 1;
}

/* The number option @name (its usual signature @sig, for the refusal) into *@ret. Return: 0, or
 * negative with @error set when the variant is not a number. */
static int number_option(sd_bus_message *m, const char *contents, const char *name, const char *sig, double *ret,
                         sd_bus_error *error) {
        int r = options_read_number(m, contents, ret);

        if (r == 0)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"%s\" must be a number (%s), not \"%s\".", name, sig, contents);
        return r < 0 ? r : 0;
}

/* Each option's reader: called inside its variant, whose type is @contents. */
static int option_duration(sd_bus_message *m, const char *contents, const struct hand_config *hand _unused_,
                           struct take_options *o, sd_bus_error *error) {
        double num = 0;
        int r = number_option(m, contents, "duration", "d", &num, error);

        if (r < 0)
                return r;
        if (!isfinite(num) || num <= 0 || num > 7 * 24 * 3600)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Duration %g is out of range: give seconds, more than 0 and at most 604800 "
                                         "(a week).",
                                         num);
        o->duration = num;
        return 0;
}

static bool label_valid(const char *s) {
        size_t n = strlen(s);

        if (n < 1 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

static int option_label(sd_bus_message *m, const char *contents, const struct hand_config *hand _unused_,
                        struct take_options *o, sd_bus_error *error) {
        const char *label;
        int r;

        if (!streq(contents, "s"))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"label\" must be a string (s), not \"%s\".", contents);
        r = sd_bus_message_read(m, "s", &label);
        if (r < 0)
                return r;
        if (!label_valid(label))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Label \"%.*s%s\" is not allowed: use 1 to 64 letters, digits, '_' or '-'.",
                                         (int) utf8_cut(label, 80), label, strlen(label) > 80 ? "…" : "");
        snprintf(o->label, sizeof(o->label), "%s", label);
        return 0;
}

static int option_jpeg_quality(sd_bus_message *m, const char *contents, const struct hand_config *hand _unused_,
                               struct take_options *o, sd_bus_error *error) {
        double num = 0;
        int r = number_option(m, contents, "jpeg_quality", "i", &num, error);

        if (r < 0)
                return r;
        if (num != floor(num) || num < JPEG_QUALITY_MIN || num > JPEG_QUALITY_MAX)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "JPEG quality %g is out of range: use a whole number from %d to %d.", num,
                                         JPEG_QUALITY_MIN, JPEG_QUALITY_MAX);
        o->jpeg_quality = (int) num;
        return 0;
}

static int option_rectify(sd_bus_message *m, const char *contents, const struct hand_config *hand,
                          struct take_options *o, sd_bus_error *error) {
        int b, r;

        if (!streq(contents, "b"))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"rectify\" must be a boolean (b), not \"%s\".", contents);
        r = sd_bus_message_read(m, "b", &b);
        if (r < 0)
                return r;
        if (b && !hand->calibration)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Hand %s has no calibration to rectify with; set calibration in its config "
                                         "group (%s_hand.calibration), or leave rectify out.",
                                         hand->name, hand->name);
        o->rectify = b;
        return 0;
}

/* The length of the UTF-8 sequence at @s and its code point, or 0 when it is not a valid one
 * (overlong forms, surrogates, beyond U+10FFFF, a sequence cut by the end of the string). */
static size_t utf8_decode(const unsigned char *s, uint32_t *ret) {
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        size_t n = s[0] < 0x80 ? 1 : s[0] < 0xC2 ? 0 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF5 ? 4 : 0;
        uint32_t c = n == 1 ? s[0] : s[0] & (0x7F >> n);

        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3F);
        }
        if (n == 0 || c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
                return 0;
        *ret = c;
        return n;
}

/* sd-bus checks a string's UTF-8 already; this does not rely on it. */
bool text_printable(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                uint32_t c;
                size_t n = utf8_decode(p, &c);
                if (n == 0 || c < 0x20 || (c >= 0x7F && c <= 0x9F))
                        return false;
                p += n;
        }
        return true;
}

/* An episode id, the same in every hand's file of one start: [A-Za-z0-9_.-]{1,64}. */
static bool episode_valid(const char *s) {
        size_t n = strlen(s);

        if (n < 1 || n > TAKE_EPISODE_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

static int option_episode(sd_bus_message *m, const char *contents, const struct hand_config *hand _unused_,
                          struct take_options *o, sd_bus_error *error) {
        const char *episode;
        int r;

        if (!streq(contents, "s"))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"episode\" must be a string (s), not \"%s\".", contents);
        r = sd_bus_message_read(m, "s", &episode);
        if (r < 0)
                return r;
        if (!episode_valid(episode))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Episode \"%.*s%s\" is not allowed: use 1 to 64 letters, digits, '_', '.' or "
                                         "'-'.",
                                         (int) utf8_cut(episode, 80), episode, strlen(episode) > 80 ? "…" : "");
        snprintf(o->episode, sizeof(o->episode), "%s", episode);
        return 0;
}

static int option_task(sd_bus_message *m, const char *contents, const struct hand_config *hand _unused_,
                       struct take_options *o, sd_bus_error *error) {
        const char *task;
        int r;

        if (!streq(contents, "s"))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"task\" must be a string (s), not \"%s\".", contents);
        r = sd_bus_message_read(m, "s", &task); /* D-Bus has checked it is valid UTF-8 without NUL */
        if (r < 0)
                return r;
        if (strlen(task) > TAKE_TASK_MAX)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "The task is %zu bytes long; describe it in at most %d bytes of UTF-8.",
                                         strlen(task), TAKE_TASK_MAX);
        if (!text_printable(task))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "The task must be printable text: no control characters such as newlines "
                                         "or tabs.");
        snprintf(o->task, sizeof(o->task), "%s", task);
        return 0;
}

static const struct {
        const char *key;
        int (*read)(sd_bus_message *m, const char *contents, const struct hand_config *hand, struct take_options *o,
                    sd_bus_error *error);
} option_table[] = {
        {"duration", option_duration}, {"label", option_label},     {"jpeg_quality", option_jpeg_quality},
        {"rectify", option_rectify},   {"episode", option_episode}, {"task", option_task},
};

/* Read one {sv} entry of the options; @seen: a bit per option_table entry read so far. */
static int read_option(sd_bus_message *m, const struct hand_config *hand, struct take_options *o, unsigned *seen,
                       sd_bus_error *error) {
        const char *key, *contents;
        size_t i;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r >= 0)
                r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        for (i = 0; i < ELEMENTSOF(option_table); i++)
                if (streq(key, option_table[i].key))
                        break;
        if (i == ELEMENTSOF(option_table))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION, "Unknown option \"%s\"; " OPTIONS_HELP ".", key);
        if (*seen & (1u << i))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION, "Option \"%s\" is given twice; give it once.",
                                         key);
        *seen |= 1u << i;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r >= 0)
                r = option_table[i].read(m, contents, hand, o, error);
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

int take_options_read(sd_bus_message *m, const struct hand_config *hand, struct take_options *o, sd_bus_error *error) {
        struct take_options t = *o;
        unsigned seen = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = read_option(m, hand, &t, &seen, error);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *o = t;
        return 0;
}
