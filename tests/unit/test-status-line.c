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
        CHECK(streq(buf, "[RIGHT] recording: 450 frames (15.0s, 30.0fps, written:448, queue:2/30, mem:27MB, 0.5GB, "
                         "dropped:0, gaps:0)"));
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
        CHECK(streq(buf, "[LEFT] stopping: 10 frames (0.0s, 0.0fps, written:7, queue:0/0, 1.2MB, dropped:3, gaps:0)"));
}

/* mem: rounded to the nearest MB (10^6 bytes); left out when unknown (0) */
TEST(resident_memory) {
        char buf[256];
        struct status_values v = {.hand = "right", .state = "recording", .queue = 100, .queue_capacity = 100};

        v.resident_memory = 1499999;
        status_line_format(buf, sizeof(buf), &v);
        CHECK(streq(buf, "[RIGHT] recording: 0 frames (0.0s, 0.0fps, written:0, queue:100/100, mem:1MB, 0.0MB, "
                         "dropped:0, gaps:0)"));
        v.resident_memory = 1500000;
        status_line_format(buf, sizeof(buf), &v);
        CHECK(strstr(buf, ", mem:2MB, 0.0MB, "));
        v.resident_memory = 4ull << 30;
        status_line_format(buf, sizeof(buf), &v);
        CHECK(strstr(buf, ", mem:4295MB, 0.0MB, "));
}

TEST(sizes) {
        char buf[32];
        CHECK(streq(format_bytes(buf, sizeof(buf), 0), "0.0MB"));
        CHECK(streq(format_bytes(buf, sizeof(buf), 99999999), "100.0MB"));
        CHECK(streq(format_bytes(buf, sizeof(buf), 100000000), "0.1GB"));
        CHECK(streq(format_bytes(buf, sizeof(buf), 12340000000ull), "12.3GB"));
}

/* the camera's gaps beside the drops, and the disk: free space and how long it lasts */
TEST(gaps_and_disk) {
        char buf[320];
        struct status_values v = {.hand = "left",
                                  .state = "recording",
                                  .captured = 188,
                                  .written = 188,
                                  .missing = 3,
                                  .disk_free = 41200000000ull,
                                  .disk_time_left = 3 * 3600 + 12 * 60 + 59,
                                  .queue_capacity = 100,
                                  .duration = 6.3,
                                  .fps = 30};

        status_line_format(buf, sizeof(buf), &v);
        CHECK(strstr(buf, ", dropped:0, gaps:3, disk:41.2GB free, 3h12m left)"));
        v.disk_time_left = -1; /* no rate yet */
        status_line_format(buf, sizeof(buf), &v);
        CHECK(strstr(buf, ", gaps:3, disk:41.2GB free)"));
}

TEST(durations) {
        char buf[32];
        CHECK(streq(status_line_duration(buf, sizeof(buf), 0), "<1m"));
        CHECK(streq(status_line_duration(buf, sizeof(buf), 59.9), "<1m"));
        CHECK(streq(status_line_duration(buf, sizeof(buf), 45 * 60 + 30), "45m"));
        CHECK(streq(status_line_duration(buf, sizeof(buf), 3600), "1h00m"));
        CHECK(streq(status_line_duration(buf, sizeof(buf), 3 * 86400 + 5 * 3600 + 59), "3d05h"));
}

/* two hands in 80 columns: each line fits, with its numbers labelled, the most needed first */
TEST(fits_a_narrow_terminal) {
        char buf[320];
        struct status_values v = {.hand = "right",
                                  .state = "recording",
                                  .captured = 10000000,
                                  .written = 9999000,
                                  .dropped = 1000,
                                  .missing = 123456,
                                  .bytes = 999000000000ull,
                                  .resident_memory = 27000000,
                                  .disk_free = 41200000000ull,
                                  .disk_time_left = 4 * 86400,
                                  .queue = 100,
                                  .queue_capacity = 100,
                                  .duration = 333333.3,
                                  .fps = 30};

        for (size_t width = 20; width <= 200; width++) {
                status_line_fit(buf, sizeof(buf), &v, width);
                CHECK(strlen(buf) <= width);
        }
        status_line_fit(buf, sizeof(buf), &v, 79);
        CHECK(streq(buf, "[RIGHT] recording 333333.3s written:9999000 dropped:1000 gaps:123456 left:4d00h"));
        status_line_fit(buf, sizeof(buf), &v, 100); /* the queue does not fit; the shorter disk field does */
        CHECK(streq(buf, "[RIGHT] recording 333333.3s written:9999000 dropped:1000 gaps:123456 left:4d00h 30.0fps "
                         "disk:41.2GB"));
        status_line_fit(buf, sizeof(buf), &v, 400); /* wide enough: the whole line */
        CHECK(strncmp(buf, "[RIGHT] recording: 10000000 frames (", 36) == 0);
        v.disk_free = 0; /* unknown: no disk field, and the room goes to the next */
        status_line_fit(buf, sizeof(buf), &v, 79);
        CHECK(streq(buf, "[RIGHT] recording 333333.3s written:9999000 dropped:1000 gaps:123456 30.0fps"));
}

int main(void) {
        static const struct test tests[] = {
                T(old_collector_format), T(drops_are_shown), T(resident_memory),       T(sizes),
                T(gaps_and_disk),        T(durations),       T(fits_a_narrow_terminal)};
        return test_main("status-line", tests, ELEMENTSOF(tests));
}
