/* SPDX-License-Identifier: MIT */
/*
 * fuzz-take-options.c — take_options_read() on any StartRecording a{sv} a client can send.
 *
 * The bytes are a small program that builds the options (fuzz-options.h says how), so that every
 * input is a message the bus would deliver:
 *
 *   byte 0         bit 0: the hand has a calibration (rectify = true is allowed)
 *   key byte       % 10: 0-3 duration, label, jpeg_quality, rectify; 4: "" ; 5: "Duration";
 *                  6, 7: episode, task; 8, 9: a key of (next byte % 32) bytes from the input
 *   string values  up to 2,175 bytes: around the task's 1,024
 *
 * The parser must accept it with every option in range, or refuse it with
 * org.handrec1.Error.InvalidOption and a sentence; as the message is well-formed, a bare sd-bus
 * error from reading it means the parser lost its place, and is a failure too.
 */
#include <math.h>

#include "../../lib/calibration.h"
#include "../../daemon/daemon.h"
#include "../../daemon/take-options.h"
#include "../../lib/util.h"
#include "fuzz-options.h"

static const char *const option_keys[] = {"duration", "label",    "jpeg_quality", "rectify",
                                          "",         "Duration", "episode",      "task"};
static const struct option_names names = {option_keys, ELEMENTSOF(option_keys)};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        fuzz_bus_setup();
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
        if (build(&in, "StartRecording", &names, &m) < 0) {
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
