/* SPDX-License-Identifier: MIT */
#include "../../lib/status-line.h"
#include "../../lib/util.h"
#include "test.h"

TEST(old_collector_format) {
        char buf[256];
        status_line_format(buf, sizeof(buf),
                           &(struct status_values){.hand = "right",
                                                   .state = "recording",
                                                   .captured = 450,
                                                   .written = 448,
                                                   .queue = 2,
                                                   .queue_capacity = 30,
                                                   .resident_memory = 27 * 1000 * 1000 + 123456,
                                                   .duration = 15.0,
                                                   .fps = 30.0,
                                                   .bytes = 500000000});
        CHECK(streq(buf, "[RIGHT] recording: 450 frames (15.0s, 30.0fps, written:448, queue:2/30, mem:27MB, 0.5GB)"));
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
        CHECK(streq(buf, "[LEFT] stopping: 10 frames (0.0s, 0.0fps, written:7, queue:0/0, 1.2MB, dropped:3)"));
}

/* mem: rounded to the nearest MB (10^6 bytes); left out when unknown (0) */
TEST(resident_memory) {
        char buf[256];
        struct status_values v = {.hand = "right", .state = "recording", .queue = 100, .queue_capacity = 100};

        v.resident_memory = 1499999;
        status_line_format(buf, sizeof(buf), &v);
        CHECK(streq(buf, "[RIGHT] recording: 0 frames (0.0s, 0.0fps, written:0, queue:100/100, mem:1MB, 0.0MB)"));
        v.resident_memory = 1500000;
        status_line_format(buf, sizeof(buf), &v);
        CHECK(strstr(buf, ", mem:2MB, 0.0MB)"));
        v.resident_memory = 4ull << 30;
        status_line_format(buf, sizeof(buf), &v);
        CHECK(strstr(buf, ", mem:4295MB, 0.0MB)"));
}

TEST(sizes) {
        char buf[32];
        CHECK(streq(format_bytes(buf, sizeof(buf), 0), "0.0MB"));
        CHECK(streq(format_bytes(buf, sizeof(buf), 99999999), "100.0MB"));
        CHECK(streq(format_bytes(buf, sizeof(buf), 100000000), "0.1GB"));
        CHECK(streq(format_bytes(buf, sizeof(buf), 12340000000ull), "12.3GB"));
}

int main(void) {
        static const struct test tests[] = {T(old_collector_format), T(drops_are_shown), T(resident_memory), T(sizes)};
        return test_main("status-line", tests, ELEMENTSOF(tests));
}
