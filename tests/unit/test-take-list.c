/* SPDX-License-Identifier: MIT */
/* ListTakes' options read from real sd-bus messages (made on a bus that never connects, sealed as
 * if sent): the limit's range, and the numbers tests/fuzz/fuzz-list-takes-options.c ran into (a
 * limit of -1, NaN or 1e300 was converted to unsigned before it was checked: undefined behaviour,
 * which clang's UBSan reports and gcc's, in this build, does not look for). */
#include <math.h>
#include <sys/socket.h>

#include "../../daemon/daemon.h"
#include "../../daemon/takes.h"
#include "../../lib/util.h"
#include "test.h"

static sd_bus *bus;

/* ListTakes with the options sd_bus_message_append() makes of @types and the values after it. */
#define LIST_OPTIONS(...)                                                                                              \
        ({                                                                                                             \
                sd_bus_message *_m = NULL;                                                                             \
                CHECK(sd_bus_message_new_method_call(bus, &_m, "org.handrec1", "/org/handrec1",                        \
                                                     "org.handrec1.Manager", "ListTakes") >= 0);                       \
                CHECK(sd_bus_message_append(_m, "a{sv}", __VA_ARGS__) >= 0);                                           \
                CHECK(sd_bus_message_seal(_m, 1, 0) >= 0);                                                             \
                CHECK(sd_bus_message_rewind(_m, true) >= 0);                                                           \
                _m;                                                                                                    \
        })

/* The options of @m read; @m is freed. Return: what takes_read_options() returned. */
static int read_options(sd_bus_message *m, struct takes_list_options *o, sd_bus_error *error) {
        int r = takes_read_options(m, o, error);

        sd_bus_message_unref(m);
        return r;
}

static void check_limit(sd_bus_message *m, unsigned limit) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct takes_list_options o;

        CHECK(read_options(m, &o, &error) >= 0);
        CHECK_EQ_INT(o.limit, limit);
}

static void check_refused(sd_bus_message *m, const char *sentence) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct takes_list_options o;

        CHECK(read_options(m, &o, &error) < 0);
        CHECK(sd_bus_error_has_name(&error, ERROR_INVALID_OPTION));
        if (!error.message || !streq(error.message, sentence)) {
                fprintf(stderr, "  got:  %s\n  want: %s\n", error.message ?: "(none)", sentence);
                CHECK(false);
        }
}

TEST(limit_in_range) {
        check_limit(LIST_OPTIONS(0), TAKES_LIMIT_DEFAULT);
        check_limit(LIST_OPTIONS(1, "limit", "u", 1), 1);
        check_limit(LIST_OPTIONS(1, "limit", "d", 1000.0), 1000);
        check_limit(LIST_OPTIONS(1, "limit", "y", 20), 20);
}

TEST(limit_out_of_range) {
        check_refused(LIST_OPTIONS(1, "limit", "u", 0), "Limit 0 is out of range: list 1 to 1000 takes.");
        check_refused(LIST_OPTIONS(1, "limit", "t", (uint64_t) 1001),
                      "Limit 1001 is out of range: list 1 to 1000 takes.");
        check_refused(LIST_OPTIONS(1, "limit", "d", 2.5), "Limit 2.5 is out of range: list 1 to 1000 takes.");
        /* these three were converted to unsigned before they were checked */
        check_refused(LIST_OPTIONS(1, "limit", "i", -1), "Limit -1 is out of range: list 1 to 1000 takes.");
        check_refused(LIST_OPTIONS(1, "limit", "d", NAN), "Limit nan is out of range: list 1 to 1000 takes.");
        check_refused(LIST_OPTIONS(1, "limit", "d", 1e300), "Limit 1e+300 is out of range: list 1 to 1000 takes.");
}

int main(void) {
        static const struct test tests[] = {T(limit_in_range), T(limit_out_of_range)};
        int fds[2], r;

        /* messages need a bus that has been started; this one never gets past authentication */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0 || sd_bus_new(&bus) < 0 ||
            sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0) {
                fprintf(stderr, "cannot make a bus to build messages on\n");
                return EXIT_FAILURE;
        }
        r = test_main("take-list", tests, ELEMENTSOF(tests));
        sd_bus_close_unref(bus);
        close(fds[1]);
        return r;
}
