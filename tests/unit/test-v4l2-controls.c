/* SPDX-License-Identifier: MIT */
/*
 * test-v4l2-controls.c — what needs no device: control names as v4l2-ctl prints them, and
 * which paths are V4L2 devices. The controls of a real driver (vivid) are tested in the VM
 * (tests/vm/guest.sh, test_vm.py: set, read back with v4l2-ctl, stored in the take, refused).
 */
#include "../../lib/util.h"
#include "../../lib/v4l2-controls.h"
#include "test.h"

static const char *name(const char *label) {
        static char buf[CAMERA_CONTROL_NAME_MAX];
        return v4l2_control_name(label, buf);
}

/* the driver names of UVC's and vivid's controls, and what `v4l2-ctl --list-ctrls` calls them */
TEST(names_as_v4l2_ctl_prints_them) {
        CHECK(streq(name("Brightness"), "brightness"));
        CHECK(streq(name("White Balance, Automatic"), "white_balance_automatic"));
        CHECK(streq(name("White Balance Temperature, Auto"), "white_balance_temperature_auto"));
        CHECK(streq(name("Auto Exposure"), "auto_exposure"));
        CHECK(streq(name("Exposure Time, Absolute"), "exposure_time_absolute"));
        CHECK(streq(name("Exposure (Absolute)"), "exposure_absolute"));
        CHECK(streq(name("Power Line Frequency"), "power_line_frequency"));
        CHECK(streq(name("Integer 32 Bits"), "integer_32_bits"));
        CHECK(streq(name("Percentage of Dropped Buffers"), "percentage_of_dropped_buffers"));
        CHECK(streq(name("Min Number of Capture Buffers"), "min_number_of_capture_buffers"));
        /* runs of other characters are one underscore; none at either end */
        CHECK(streq(name("  -- Gain (dB) --  "), "gain_db"));
        CHECK(streq(name("a/b\\c  d"), "a_b_c_d"));
        CHECK(streq(name("(Exposure)"), "exposure"));
        CHECK(streq(name("***"), ""));
        CHECK(streq(name(""), ""));
        /* only ASCII letters and digits are kept, as in the C locale */
        CHECK(streq(name("Gamma\xc2\xb2"), "gamma"));
        /* a name is at most 31 characters, as the driver's label */
        CHECK(streq(name("abcdefghijklmnopqrstuvwxyz01234"), "abcdefghijklmnopqrstuvwxyz01234"));
        CHECK_EQ_INT(strlen(name("abcdefghijklmnop qrstuvwxyz012345678")), CAMERA_CONTROL_NAME_MAX - 1);
}

TEST(only_v4l2_devices_are_opened) {
        CHECK(!v4l2_is_video_device("/dev/null"));
        CHECK(!v4l2_is_video_device("/nonexistent/video0"));
        CHECK(!v4l2_is_video_device("/tmp"));
        char buf[16] = "x";
        CHECK(v4l2_controls_read_path("/dev/null", buf, sizeof(buf)) == -ENODEV);
        CHECK(streq(buf, ""));
        CHECK(v4l2_controls_read_path(NULL, buf, sizeof(buf)) == -ENODEV);
}

int main(void) {
        static const struct test tests[] = {T(names_as_v4l2_ctl_prints_them), T(only_v4l2_devices_are_opened)};
        return test_main("v4l2-controls", tests, ELEMENTSOF(tests));
}
