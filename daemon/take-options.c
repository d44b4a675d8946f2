/* SPDX-License-Identifier: MIT */
/*
 * take-options.c — StartRecording's options: one reader per key in one table, read by
 * bus-options.c's options_read(), each reader checking its variant's type and its value.
 * Unknown keys, keys given twice, wrong types and values out of range are refused with
 * org.handrec1.Error.InvalidOption and a sentence saying what to give instead. Needs no bus
 * connection (tests/fuzz/fuzz-take-options.c drives it with messages it builds). Main thread only.
 */
#include "take-options.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bus-options.h"
#include "daemon.h"
#include "../lib/util.h"

#define OPTIONS_HELP                                                                                                   \
        "known options: duration (d, seconds), label (s), jpeg_quality (i, 60-95), rectify (b), episode (s), task "    \
        "(s), "                                                                                                        \
        "operator (s)"

/* What a reader works on: the hand the take is for, and the options read so far. */
struct take_reading {
        const struct hand_config *hand;
        struct take_options *o;
};

/* Each option's reader: called inside its variant, whose type is @contents. */
static int option_duration(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct take_reading *c = ctx;
        double num = 0;
        int r = options_number(m, contents, "duration", "d", &num, error);

        if (r < 0)
                return r;
        if (!isfinite(num) || num <= 0 || num > 7 * 24 * 3600)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Duration %g is out of range: give seconds, more than 0 and at most 604800 "
                                         "(a week).",
                                         num);
        c->o->duration = num;
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

static int option_label(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct take_reading *c = ctx;
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
        snprintf(c->o->label, sizeof(c->o->label), "%s", label);
        return 0;
}

static int option_jpeg_quality(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct take_reading *c = ctx;
        double num = 0;
        int r = options_number(m, contents, "jpeg_quality", "i", &num, error);

        if (r < 0)
                return r;
        if (num != floor(num) || num < JPEG_QUALITY_MIN || num > JPEG_QUALITY_MAX)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "JPEG quality %g is out of range: use a whole number from %d to %d.", num,
                                         JPEG_QUALITY_MIN, JPEG_QUALITY_MAX);
        c->o->jpeg_quality = (int) num;
        return 0;
}

static int option_rectify(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct take_reading *c = ctx;
        bool b = false;
        int r = options_boolean(m, contents, "rectify", &b, error);

        if (r < 0)
                return r;
        if (b && !c->hand->calibration)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Hand %s has no calibration to rectify with; set calibration in its config "
                                         "group (%s_hand.calibration), or leave rectify out.",
                                         c->hand->name, c->hand->name);
        c->o->rectify = b;
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

static int option_episode(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct take_reading *c = ctx;
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
        snprintf(c->o->episode, sizeof(c->o->episode), "%s", episode);
        return 0;
}

static int option_task(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct take_reading *c = ctx;
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
        snprintf(c->o->task, sizeof(c->o->task), "%s", task);
        return 0;
}

/* Who recorded it: a name, printable, at most TAKE_OPERATOR_MAX bytes (DROID records its operator). */
static int option_operator(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct take_reading *c = ctx;
        const char *who;
        int r;

        if (!streq(contents, "s"))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"operator\" must be a string (s), not \"%s\".", contents);
        r = sd_bus_message_read(m, "s", &who);
        if (r < 0)
                return r;
        if (strlen(who) > TAKE_OPERATOR_MAX || !text_printable(who))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "The operator is a name of at most %d bytes of printable text.",
                                         TAKE_OPERATOR_MAX);
        snprintf(c->o->operator_, sizeof(c->o->operator_), "%s", who);
        return 0;
}

static const struct option_key option_table[] = {
        {"duration", option_duration}, {"label", option_label},     {"jpeg_quality", option_jpeg_quality},
        {"rectify", option_rectify},   {"episode", option_episode}, {"task", option_task},
        {"operator", option_operator},
};

int take_options_read(sd_bus_message *m, const struct hand_config *hand, struct take_options *o, sd_bus_error *error) {
        struct take_options t = *o;
        struct take_reading c = {.hand = hand, .o = &t};
        int r = options_read(m, option_table, ELEMENTSOF(option_table), "option", OPTIONS_HELP, &c, error);

        if (r < 0)
                return r;
        *o = t;
        return 0;
}
