/* SPDX-License-Identifier: MIT */
/*
 * fuzz-preview-options.c — preview_options_read() on any OpenPreview a{sv} a client can send.
 *
 * The bytes build the options as fuzz-options.h says:
 *
 *   byte 0         bit 0: the hand has a calibration; bit 1: the hand rectifies by default
 *   key byte       % 9: 0-4 fps, max_width, rectified, guides, quality; 5: ""; 6: "Fps";
 *                  7, 8: a key of (next byte % 32) bytes from the input
 *
 * The parser must accept it with every option in range (fps 0.5 to 30, max_width up to 65535,
 * quality 30 to 95, rectified only with a calibration; the defaults for what is not given), or
 * refuse it with org.handrec1.Error.InvalidOption and a sentence; as the message is well-formed,
 * a bare sd-bus error from reading it means the parser lost its place, and is a failure too.
 */
#include <math.h>

#include "../../daemon/daemon.h"
#include "../../daemon/preview-options.h"
#include "../../lib/calibration.h"
#include "../../lib/config.h"
#include "../../lib/util.h"
#include "fuzz-options.h"

static const char *const option_keys[] = {"fps", "max_width", "rectified", "guides", "quality", "", "Fps"};
static const struct option_names names = {option_keys, ELEMENTSOF(option_keys)};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        fuzz_bus_setup();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct calibration calibration; /* the parser only asks whether there is one */
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct input in = {data, size};
        struct hand_config hand = {.name = "right"};
        struct preview_options o;
        uint8_t flags = next(&in);
        int r;

        if (flags & 1)
                hand.calibration = &calibration;
        hand.rectify = flags & 2;
        if (build(&in, "OpenPreview", &names, &m) < 0) {
                fuzz_say("not a message a client can send", NULL);
                return 0;
        }

        memset(&o, 0xA5, sizeof(o)); /* whatever the caller had: the reader sets every field */
        r = preview_options_read(m, &hand, &o, &error);
        if (r < 0) {
                FUZZ_CHECK(sd_bus_error_has_name(&error, ERROR_INVALID_OPTION));
                FUZZ_CHECK(error.message && error.message[0]);
                fuzz_say("refused", error.message);
                return 0;
        }
        /* 1 from sd_bus_message_exit_container() on success, though the header says 0: every caller tests r < 0 */
        FUZZ_CHECK(r >= 0 && !sd_bus_error_is_set(&error));
        FUZZ_CHECK(isfinite(o.fps) && o.fps >= 0.5 && o.fps <= 30);
        FUZZ_CHECK(o.max_width <= 65535);
        FUZZ_CHECK(o.quality >= 30 && o.quality <= 95);
        FUZZ_CHECK(!o.rectified || hand.calibration);
        FUZZ_CHECK(o.guides == 0 || o.guides == 1);
        /* the whole dictionary was read */
        FUZZ_CHECK(sd_bus_message_at_end(m, true) > 0);
        fuzz_say("accepted", NULL);
        return 0;
}
