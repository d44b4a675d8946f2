/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <unistd.h>

#include "../../daemon/config.h"
#include "../../daemon/util.h"
#include "test.h"

static char path[] = "/tmp/handrec-test-config-XXXXXX";

/* Load @text; return the errors printed (static buffer) and the result in *r. */
static const char *load(const char *text, int *r, struct config **ret) {
        static char errors[8192];
        FILE *f = fopen(path, "w"), *e;
        struct config *c = NULL;

        fputs(text, f);
        fclose(f);
        memset(errors, 0, sizeof(errors));
        e = fmemopen(errors, sizeof(errors) - 1, "w");
        *r = config_load(path, &c, e);
        fclose(e);
        if (ret)
                *ret = c;
        else
                config_free(c);
        return errors;
}

static char *expect(const char *line_and_setting) {
        static char buf[512];
        snprintf(buf, sizeof(buf), "%s:%s", path, line_and_setting);
        return buf;
}

TEST(shipped_config_is_valid) {
        struct config *c = NULL;
        FILE *e = fopen("/dev/null", "w");
        CHECK(config_load("etc/handrecd.conf", &c, e) == 0);
        fclose(e);
        if (!c)
                return;
        CHECK_EQ_INT(c->n_hands, 2);
        CHECK_EQ_INT(c->jpeg_quality, 85);
        CHECK_EQ_INT(c->batch_size, 10);
        CHECK(c->batch_timeout == 0.5);
        config_free(c);
}

TEST(defaults) {
        int r;
        struct config *c;
        const char *err = load("right_hand = { camera = { source = \"synthetic\"; }; };\n", &r, &c);
        CHECK_EQ_INT(r, 0);
        CHECK(streq(err, ""));
        if (!c)
                return;
        CHECK_EQ_INT(c->n_hands, 1);
        CHECK(streq(c->hands[0].name, "right"));
        CHECK_EQ_INT(c->hands[0].camera.width, 1280);
        CHECK_EQ_INT(c->hands[0].camera.height, 720);
        CHECK(c->hands[0].camera.fps == 30);
        CHECK_EQ_INT(c->jpeg_quality, 85);
        CHECK(streq(c->output_dir, "/var/lib/handrec"));
        CHECK(strstr(c->text, "right_hand") != NULL);
        config_free(c);
}

TEST(every_error_with_file_line_setting) {
        int r;
        const char *err = load("save = {\n"
                               "  output_dir = \"relative\";\n"
                               "  jpeg_quality = 101;\n"
                               "  colour = 3;\n"
                               "};\n"
                               "queue = { capacity = 0; batch_timeout = -1.0; };\n"
                               "right_hand = { camera = {\n"
                               "  source = \"webcam\";\n"
                               "  width = 641;\n"
                               "  fps = \"30\";\n"
                               "}; };\n"
                               "workerz = 2;\n",
                               &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("2: save.output_dir: \"relative\" is not an absolute path"));
        CHECK_CONTAINS(err, expect("3: save.jpeg_quality: 101 is out of range; use 60 to 95"));
        CHECK_CONTAINS(err, expect("4: save.colour: unknown setting"));
        CHECK_CONTAINS(err, expect("6: queue.capacity: 0 is out of range"));
        CHECK_CONTAINS(err, expect("6: queue.batch_timeout: -1 is out of range"));
        CHECK_CONTAINS(err, expect("8: right_hand.camera.source: unknown source \"webcam\""));
        CHECK_CONTAINS(err, expect("9: right_hand.camera.width: 641 is odd"));
        CHECK_CONTAINS(err, expect("10: right_hand.camera.fps: must be a number"));
        CHECK_CONTAINS(err, expect("12: workerz: unknown setting"));
}

TEST(syntax_error) {
        int r;
        const char *err = load("save = {\n output_dir = \"/x\"\n", &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, "syntax error");
        CHECK_CONTAINS(err, path);
}

TEST(no_hand) {
        int r;
        const char *err = load("save = { output_dir = \"/x\"; };\n", &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, "no hand is configured");
        err = load("left_hand = { enabled = false; camera = { source = \"synthetic\"; }; };\n", &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
}

TEST(missing_file) {
        struct config *c = NULL;
        char errors[512] = "";
        FILE *e = fmemopen(errors, sizeof(errors) - 1, "w");
        CHECK_EQ_INT(config_load("/nonexistent/handrecd.conf", &c, e), -ENOENT);
        fclose(e);
        CHECK_CONTAINS(errors, "/nonexistent/handrecd.conf: cannot read: No such file or directory");
        CHECK(c == NULL);
}

TEST(wrong_types) {
        int r;
        const char *err = load("save = 3;\nright_hand = { enabled = 1; camera = { width = 640.0; }; };\n", &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("1: save: must be a group"));
        CHECK_CONTAINS(err, expect("2: right_hand.enabled: must be true or false"));
        CHECK_CONTAINS(err, expect("2: right_hand.camera.width: must be an integer"));
}

TEST(v4l2_cameras) {
        int r;
        struct config *c;
        const char *err =
                load("right_hand = { camera = { source = \"v4l2\"; device = \"/dev/v4l/by-id/usb-cam-video-index0\";\n"
                     "  format = \"MJPEG\"; width = 1280; height = 720; fps = 30; buffers = 6; }; };\n"
                     "left_hand = { camera = { source = \"v4l2\"; left_device = \"/dev/video2\";\n"
                     "  right_device = \"/dev/video4\"; width = 640; height = 480; }; };\n",
                     &r, &c);
        CHECK_EQ_INT(r, 0);
        CHECK(streq(err, ""));
        if (!c)
                return;
        const struct hand_config *rh = config_find_hand(c, "right"), *lh = config_find_hand(c, "left");
        CHECK(rh && streq(rh->camera.device, "/dev/v4l/by-id/usb-cam-video-index0"));
        CHECK(rh && !camera_is_stereo_pair(&rh->camera) && rh->camera.buffers == 6);
        CHECK(rh && rh->camera.pixelformat == 0x47504a4d); /* MJPG */
        CHECK(lh && camera_is_stereo_pair(&lh->camera) && streq(lh->camera.right_device, "/dev/video4"));
        CHECK(lh && lh->camera.pixelformat == 0x56595559); /* YUYV, the default */
        config_free(c);
}

TEST(v4l2_device_errors) {
        int r;
        const char *err = load("right_hand = { camera = { source = \"v4l2\"; }; };\n"
                               "left_hand = { camera = { source = \"v4l2\"; device = \"/dev/video0\";\n"
                               "  left_device = \"/dev/video1\"; format = \"H264\"; buffers = 1; }; };\n",
                               &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("1: right_hand.camera: a v4l2 camera needs device = "));
        CHECK_CONTAINS(
                err, expect("2: left_hand.camera: give either device (side by side) or left_device and right_device"));
        CHECK_CONTAINS(
                err,
                expect("3: left_hand.camera.format: unknown format \"H264\"; use \"YUYV\", \"MJPEG\" or \"YUV420\""));
        CHECK_CONTAINS(err, expect("3: left_hand.camera.buffers: 1 is out of range"));
        err = load("right_hand = { camera = { source = \"v4l2\"; left_device = \"/dev/video1\"; }; };\n"
                   "left_hand = { camera = { source = \"synthetic\"; device = \"video0\"; }; };\n",
                   &r, NULL);
        CHECK_CONTAINS(err, expect("1: right_hand.camera: with one device per eye, give both"));
        CHECK_CONTAINS(err, expect("2: left_hand.camera.device: only a v4l2 camera has devices"));
}

int main(void) {
        static const struct test tests[] = {T(shipped_config_is_valid),
                                            T(defaults),
                                            T(every_error_with_file_line_setting),
                                            T(syntax_error),
                                            T(no_hand),
                                            T(missing_file),
                                            T(wrong_types),
                                            T(v4l2_cameras),
                                            T(v4l2_device_errors)};
        int fd = mkstemp(path), r;
        close(fd);
        r = test_main("config", tests, ELEMENTSOF(tests));
        unlink(path);
        return r;
}
