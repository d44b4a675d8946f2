/* SPDX-License-Identifier: MIT */
#include "../../daemon/status-line.h"
#include "../../daemon/util.h"
#include "test.h"

TEST(old_collector_format) {
        char buf[256];
        status_line_format(buf, sizeof(buf),
                           &(struct status_values){.hand = "right",
                                                   .state = "recording",
                                                   .captured = 450,
                                                   .written = 448,
                                                   .queue = 2,
                                                   .duration = 15.0,
                                                   .fps = 30.0,
                                                   .bytes = 500000000});
        CHECK(streq(buf, "[RIGHT] recording: 450 frames (15.0s, 30.0fps, written:448, queue:2, 0.5GB)"));
}

TEST(drops_are_shown) {
        char buf[256];
        status_line_format(buf, sizeof(buf),
                           &(struct status_values){.hand = "left",
                                                   .state = "stopping",
                                                   .captured = 10,
                                                   .written = 7,
                                                   .dropped = 3,
                                                   .bytes = 1234567});
        CHECK(streq(buf, "[LEFT] stopping: 10 frames (0.0s, 0.0fps, written:7, queue:0, 1.2MB, dropped:3)"));
}

TEST(sizes) {
        char buf[32];
        CHECK(streq(format_bytes(buf, sizeof(buf), 0), "0.0MB"));
        CHECK(streq(format_bytes(buf, sizeof(buf), 99999999), "100.0MB"));
        CHECK(streq(format_bytes(buf, sizeof(buf), 100000000), "0.1GB"));
        CHECK(streq(format_bytes(buf, sizeof(buf), 12340000000ull), "12.3GB"));
}

int main(void) {
        static const struct test tests[] = {T(old_collector_format), T(drops_are_shown), T(sizes)};
        return test_main("status-line", tests, ELEMENTSOF(tests));
}
