/* SPDX-License-Identifier: MIT */
/*
 * fuzz-list-takes-options.c — takes_read_options() on any ListTakes a{sv} a client can send.
 *
 * The bytes build the options as fuzz-options.h says:
 *
 *   byte 0         unused (the flags byte every options target has)
 *   key byte       % 6: 0 hand, 1 limit, 2 "", 3 "Limit"; 4, 5: a key of (next byte % 32) bytes
 *                  from the input
 *
 * The parser must accept it with a limit of 1 to TAKES_LIMIT_MAX (TAKES_LIMIT_DEFAULT when none
 * is given) and the hand a string of the message or none, or refuse it with
 * org.handrec1.Error.InvalidOption and a sentence; as the message is well-formed, a bare sd-bus
 * error from reading it means the parser lost its place, and is a failure too.
 */
#include "../../daemon/daemon.h"
#include "../../daemon/takes.h"
#include "../../lib/util.h"
#include "fuzz-options.h"

static const char *const option_keys[] = {"hand", "limit", "", "Limit"};
static const struct option_names names = {option_keys, ELEMENTSOF(option_keys)};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        fuzz_bus_setup();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct input in = {data, size};
        struct takes_list_options o = {.limit = 0};
        int r;

        (void) next(&in);
        if (build(&in, "ListTakes", &names, &m) < 0) {
                fuzz_say("not a message a client can send", NULL);
                return 0;
        }

        r = takes_read_options(m, &o, &error);
        if (r < 0) {
                FUZZ_CHECK(sd_bus_error_has_name(&error, ERROR_INVALID_OPTION));
                FUZZ_CHECK(error.message && error.message[0]);
                fuzz_say("refused", error.message);
                return 0;
        }
        /* 1 from sd_bus_message_exit_container() on success, though the header says 0: every caller tests r < 0 */
        FUZZ_CHECK(r >= 0 && !sd_bus_error_is_set(&error));
        FUZZ_CHECK(o.limit >= 1 && o.limit <= TAKES_LIMIT_MAX);
        FUZZ_CHECK(!o.hand || strlen(o.hand) < 2200);
        /* the whole dictionary was read */
        FUZZ_CHECK(sd_bus_message_at_end(m, true) > 0);
        fuzz_say("accepted", o.hand);
        return 0;
}
