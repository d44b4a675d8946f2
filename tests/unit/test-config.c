/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <unistd.h>

#include "../../lib/config.h"
#include "../../lib/rectify.h"
#include "../../daemon/jpeg-bands.h"
#include "../../daemon/memory-budget.h"
#include "../../daemon/queue.h"
#include "../../lib/util.h"
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
        *r = config_load(path, memory_budget_check, &c, e);
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
        CHECK(config_load("etc/handrecd.conf", memory_budget_check, &c, e) == 0);
        fclose(e);
        if (!c)
                return;
        CHECK_EQ_INT(c->n_hands, 2);
        CHECK_EQ_INT(c->jpeg_quality, 85);
        CHECK_EQ_INT(c->batch_size, 10);
        CHECK(c->batch_timeout == 0.5);
        /* the queue absorbs a 3 s stall, and the whole fits the default limit with room */
        CHECK_EQ_INT(c->queue_capacity, 0);
        CHECK(c->queue_seconds == 3.0);
        CHECK_EQ_INT(c->max_memory_bytes, UINT64_C(1024) << 20);
        CHECK(memory_budget_daemon(c) < c->max_memory_bytes / 2);
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

/* One spelling of the output folder: every path handrecd, DiscardTake and the uploader build from it
 * is the same string (a trailing slash made DiscardTake refuse the daemon's own takes). */
TEST(output_dir_has_one_spelling) {
        static const char *const given[][2] = {
                {"/data/takes/", "/data/takes"},
                {"/data//takes///", "/data/takes"},
                {"//data/takes", "/data/takes"},
                {"/", "/"},
        };
        char text[256];
        struct config *c;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(given); i++) {
                snprintf(text, sizeof(text),
                         "save = { output_dir = \"%s\"; };\nright_hand = { camera = { source = \"synthetic\"; }; };\n",
                         given[i][0]);
                const char *err = load(text, &r, &c);
                CHECK_EQ_INT(r, 0);
                CHECK(streq(err, ""));
                if (c)
                        CHECK(streq(c->output_dir, given[i][1]));
                config_free(c);
        }
        const char *err = load("save = {\n output_dir = \"/data/../etc\";\n};\nright_hand = { camera = { source = "
                               "\"synthetic\"; }; };\n",
                               &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("2: save.output_dir: \"/data/../etc\" has a \".\" or \"..\" in it"));
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

TEST(rectification_too_large_for_the_maps) {
        int r;
        /* 2x2560x2048: its luma plane's offsets need more than the maps' 22 bits */
        const char *err = load("save = { output_dir = \"/tmp\"; max_memory_mb = 4096; };\n"
                               "right_hand = {\n"
                               "  calibration = \"/nonexistent.yml\";\n"
                               "  camera = { source = \"synthetic\"; width = 2560; height = 2048; };\n"
                               "};\n",
                               &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("3: right_hand.calibration: rectification handles eyes of up to"));
        CHECK_CONTAINS(err, "2560x2048 does not");
        CHECK(rectify_fits(1920, 1080));
        CHECK(!rectify_fits(2560, 2048));
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
        CHECK_EQ_INT(config_load("/nonexistent/handrecd.conf", memory_budget_check, &c, e), -ENOENT);
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

/* The example: it passed the check, then the daemon died on "Cannot allocate memory". */
TEST(memory_over_the_limit_refused_at_its_line) {
        int r;
        const char *err = load("save = { output_dir = \"/x\"; };\n"
                               "queue = {\n"
                               "  capacity = 64;\n"
                               "  batch_size = 300;\n"
                               "};\n"
                               "workers = 16;\n"
                               "right_hand = { camera = { source = \"synthetic\"; width = 8192; height = 4096; }; };\n",
                               &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("3: queue.capacity: these settings need "));
        CHECK_CONTAINS(err, " MB, more than save.max_memory_mb = 1024 (right_hand ");
        CHECK_CONTAINS(err, "lower queue.seconds or queue.capacity, queue.batch_size, workers or the image size");

        /* the same at 1280×720: about 6.6 GB of queue */
        err = load("queue = { capacity = 64; batch_size = 300; };\nworkers = 16;\n"
                   "right_hand = { camera = { source = \"synthetic\"; }; };\n",
                   &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("1: queue.capacity: these settings need 12"));

        /* frames and encoders the most: pointed at workers; with no such line, at the camera */
        err = load("save = { max_memory_mb = 64; };\nworkers = 16;\nright_hand = { camera = { width = 1280; }; };\n",
                   &r, NULL);
        CHECK_CONTAINS(err, expect("2: workers: these settings need "));
        err = load("save = { max_memory_mb = 16; };\nright_hand = {\n camera = { width = 1280; }; };\n", &r, NULL);
        CHECK_CONTAINS(err, expect("3: right_hand.camera.width: these settings need "));

        /* a higher limit accepts it */
        err = load("save = { max_memory_mb = 200000; };\nqueue = { capacity = 64; batch_size = 300; };\n"
                   "right_hand = { camera = { source = \"synthetic\"; }; };\n",
                   &r, NULL);
        CHECK_EQ_INT(r, 0);
        CHECK(streq(err, ""));
}

TEST(queue_settings) {
        int r;
        const char *err = load("queue = { seconds = 2.0;\n capacity = 3; };\n"
                               "right_hand = { camera = { source = \"synthetic\"; }; };\n",
                               &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("2: queue.capacity: give queue.seconds (how long a stalled disk is absorbed) or "
                                   "queue.capacity (batches), not both"));
        err = load("save = { max_memory_mb = 8; };\nqueue = { seconds = 0.0; };\n"
                   "right_hand = { camera = { source = \"synthetic\"; }; };\n",
                   &r, NULL);
        CHECK_CONTAINS(err, expect("1: save.max_memory_mb: 8 is out of range; use 16 to 1048576"));
        CHECK_CONTAINS(err, expect("2: queue.seconds: 0 is out of range; use 0.1 to 60"));

        /* seconds × fps beyond a batch; capacity × batch_size; bytes at 3 bits a pixel */
        struct config c = {.queue_seconds = 3.0, .batch_size = 10, .workers = 2};
        struct hand_config h = {.name = "right", .camera = {.width = 1280, .height = 720, .fps = 30}};
        unsigned entries;
        size_t bytes;
        memory_budget_queue(&c, &h, &entries, &bytes);
        CHECK_EQ_INT(entries, 100);
        CHECK_EQ_INT(bytes, 101 * 691200);
        h.camera.fps = 29.97;
        memory_budget_queue(&c, &h, &entries, &bytes);
        CHECK_EQ_INT(entries, 100);
        c.queue_capacity = 3;
        memory_budget_queue(&c, &h, &entries, &bytes);
        CHECK_EQ_INT(entries, 30);
        CHECK_EQ_INT(bytes, 31 * 691200);
        /* never less than two raw frames */
        c.queue_capacity = 1;
        c.batch_size = 1;
        memory_budget_queue(&c, &h, &entries, &bytes);
        CHECK_EQ_INT(bytes, 2 * 2764800);
}

/* A known configuration counted by hand, buffer by buffer (the comments name who allocates). */
TEST(memory_budget_by_hand) {
        int r;
        struct config *c;
        struct memory_budget b;

        load("save = { output_dir = \"/x\"; };\nqueue = { seconds = 1.0; };\nworkers = 2;\n"
             "right_hand = { camera = { source = \"synthetic\"; width = 320; height = 240; fps = 30; }; };\n"
             "left_hand = { camera = { source = \"v4l2\"; device = \"/dev/video0\"; format = \"MJPEG\";\n"
             "  width = 640; height = 480; buffers = 4; }; };\n",
             &r, &c);
        CHECK_EQ_INT(r, 0);
        if (!c)
                return;

        /* right: 640×240 stereo frames; I420 230400 bytes + a 640-byte slack row + 64, up to 64 */
        /* queue.c: queue_new(): the entry ring, each entry's claim, the room slots; the writer's
         * batch of the metadata of frames written, not yet in the index */
        uint64_t queue_overhead = queue_footprint(40, 0) + 10 * sizeof(struct frame_meta);
        CHECK(queue_footprint(40, 0) < 40 * 160 + 256); /* bookkeeping: a few words an entry, its quality sample */
        memory_budget_hand(c, config_find_hand(c, "right"), &b);
        CHECK_EQ_INT(b.jobs, 4 * 231104);              /* workers + 2 frames */
        CHECK_EQ_INT(b.encoders, 2 * (460800 + 2048)); /* tjBufSize: 3 bytes a pixel + 2048 */
        CHECK_EQ_INT(b.rectify, 0);
        CHECK_EQ_INT(b.queue, 41 * 57600 + queue_overhead);           /* 30 + 10 frames (+1) at 230400 / 4 */
        CHECK_EQ_INT(b.source, (320 + 16) * 240 * 3 / 2);             /* the scene, disparity 16 */
        CHECK_EQ_INT(b.writer, 16384 + 10 * 44 + MEMORY_BUDGET_HDF5); /* LAYOUT_METADATA_CACHE, 16 KiB */
        CHECK_EQ_INT(b.threads, 4 * MEMORY_BUDGET_THREAD);
        CHECK_EQ_INT(b.decode, 0);
        CHECK_EQ_INT(b.total, b.jobs + b.encoders + b.queue + b.source + b.writer + b.threads);
        uint64_t right = b.total;

        /* left: 1280×480 stereo frames from a side-by-side MJPEG camera: each job holds only its
         * JPEG (no planes); nothing is decoded in the workers without a calibration */
        memory_budget_hand(c, config_find_hand(c, "left"), &b);
        CHECK_EQ_INT(b.jobs, 4 * (921600 + 65536)); /* raw + 64 KiB of JPEG */
        CHECK_EQ_INT(b.decode, 0);
        CHECK_EQ_INT(b.encoders, 2 * (1843200 + 2048));
        CHECK_EQ_INT(b.queue, 41 * 230400 + queue_overhead);
        CHECK_EQ_INT(b.source, 1280 * 480 * 3 + 4 * 1280 * 480 * 2); /* decode buffer, driver buffers */
        CHECK_EQ_INT(memory_budget_daemon(c), right + b.total + MEMORY_BUDGET_PROCESS);
        config_free(c);
}

/* A ROS camera_info file for an eye of 320×240, written beside the test's config. */
static void write_eye(const char *file, double tx) {
        FILE *f = fopen(file, "w");
        CHECK(f != NULL);
        if (!f)
                return;
        fprintf(f,
                "image_width: 320\nimage_height: 240\ncamera_name: eye\ndistortion_model: plumb_bob\n"
                "camera_matrix:\n  rows: 3\n  cols: 3\n  data: [260, 0, 159, 0, 260, 121, 0, 0, 1]\n"
                "distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: [-0.2, 0.05, 0.001, -0.0008, 0.01]\n"
                "rectification_matrix:\n  rows: 3\n  cols: 3\n  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n"
                "projection_matrix:\n  rows: 3\n  cols: 4\n  data: [250, 0, 160, %g, 0, 250, 120, 0, 0, 0, 1, 0]\n",
                tx);
        fclose(f);
}

TEST(memory_budget_with_rectification) {
        char left[sizeof(path) + 16], right[sizeof(path) + 16], text[2048];
        struct memory_budget b;
        struct config *c;
        int r;

        snprintf(left, sizeof(left), "%s-left.yaml", path);
        snprintf(right, sizeof(right), "%s-right.yaml", path);
        write_eye(left, 0);
        write_eye(right, -16);
        snprintf(text, sizeof(text),
                 "workers = 3;\nright_hand = { calibration = [\"%s\", \"%s\"];\n"
                 "  camera = { source = \"synthetic\"; width = 320; height = 240; }; };\n"
                 "left_hand = { calibration = [\"%s\", \"%s\"];\n"
                 "  camera = { source = \"v4l2\"; device = \"/dev/video0\"; format = \"MJPEG\"; width = 320; height = "
                 "240; }; };\n",
                 left, right, left, right);
        load(text, &r, &c);
        CHECK_EQ_INT(r, 0);
        if (c) {
                struct rectify *maps_built = NULL;
                CHECK(rectify_new(config_find_hand(c, "right")->calibration, 320, 240, 640, 320, &maps_built) == 0);
                size_t maps = maps_built ? rectify_footprint(maps_built) : 0;
                unsigned window = maps_built ? rectify_window_rows(maps_built) : 0;
                rectify_free(maps_built);
                memory_budget_hand(c, config_find_hand(c, "right"), &b);
                /* maps: what rectify_new() builds, a grid and 4 bits a pixel of luma (320×240) and
                 * chroma (160×120), both eyes, well under the whole maps' 4 bytes a pixel; no output
                 * frame (the encoder takes rectified bands) */
                CHECK_EQ_INT(b.rectify, maps);
                CHECK(b.rectify > 2 * (76800 + 19200) / 2 && b.rectify < 2 * 4 * (76800 + 19200) / 4);
                CHECK_EQ_INT(b.jobs, 5 * 231104);
                CHECK_EQ_INT(b.decode, 0);
                /* a side-by-side MJPEG camera, rectified: jobs hold its JPEG, each worker decodes it
                 * a block of rows at a time into the window of rows the maps read (jpeg-bands.c) */
                memory_budget_hand(c, config_find_hand(c, "left"), &b);
                CHECK_EQ_INT(b.jobs, 5 * (230400 + 65536));
                CHECK(window > 0 && window < 240);
                CHECK_EQ_INT(b.decode, 3 * jpeg_bands_footprint(640, 240, window));
                CHECK(b.decode < 3 * (231104 + 640 * 240 * 3) / 2);
                CHECK_EQ_INT(b.rectify, maps);
        }
        config_free(c);
        unlink(left);
        unlink(right);
}

TEST(camera_controls) {
        int r;
        struct config *c = NULL;
        /* /dev/null is a character device but not a V4L2 one: never opened to check controls */
        const char *err = load("right_hand = { camera = {\n"
                               "  source = \"v4l2\"; device = \"/dev/null\";\n"
                               "  controls = {\n"
                               "    exposure_auto = 1;\n"
                               "    exposure_time_absolute = 100;\n"
                               "    white_balance_automatic = false;\n"
                               "    gain = 12345678901L;\n"
                               "  };\n"
                               "}; };\n",
                               &r, &c);
        CHECK_EQ_INT(r, 0);
        CHECK(streq(err, ""));
        if (!c)
                return;
        const struct camera_config *cam = &c->hands[0].camera;
        CHECK_EQ_INT(cam->n_controls, 4);
        CHECK(streq(cam->controls[0].name, "exposure_auto") && cam->controls[0].value == 1);
        CHECK(streq(cam->controls[1].name, "exposure_time_absolute") && cam->controls[1].value == 100);
        CHECK(streq(cam->controls[2].name, "white_balance_automatic") && cam->controls[2].value == 0);
        CHECK(streq(cam->controls[3].name, "gain") && cam->controls[3].value == INT64_C(12345678901));
        config_free(c);

        /* a camera without controls has none */
        err = load("right_hand = { camera = { source = \"v4l2\"; device = \"/dev/video9\"; }; };\n", &r, &c);
        CHECK_EQ_INT(r, 0);
        if (c)
                CHECK_EQ_INT(c->hands[0].camera.n_controls, 0);
        config_free(c);
}

TEST(offload) {
        int r;
        struct config *c = NULL;
        const char *err = load("right_hand = { camera = { source = \"synthetic\"; }; };\n", &r, &c);
        CHECK_EQ_INT(r, 0);
        if (c)
                CHECK(!c->offload.enabled);
        config_free(c);

        err = load("right_hand = { camera = { source = \"synthetic\"; }; };\n"
                   "offload = { remote = \"s3:bucket/rig 1\"; keep_free_gb = 2.5; bwlimit = \"8M\"; };\n",
                   &r, &c);
        CHECK_EQ_INT(r, 0);
        CHECK(streq(err, ""));
        if (!c)
                return;
        CHECK(c->offload.enabled);
        CHECK(streq(c->offload.remote, "s3:bucket/rig 1"));
        CHECK(streq(c->offload.rclone_config, "/etc/handrec/rclone.conf"));
        CHECK(streq(c->offload.state_dir, "/var/lib/handrec-offload"));
        CHECK(streq(c->offload.bwlimit, "8M") && streq(c->offload.rclone, "rclone"));
        CHECK(c->offload.keep_free_gb == 2.5 && c->offload.max_takes_gb == 0);
        CHECK(c->offload.retry_seconds == 30 && c->offload.retry_max_seconds == 900);
        CHECK(c->offload.stall_seconds == 600);
        config_free(c);
}

TEST(offload_errors) {
        int r;
        const char *err = load("right_hand = { camera = { source = \"synthetic\"; }; };\n"
                               "offload = {\n"
                               "  state_dir = \"state\";\n"
                               "  keep_free_gb = -1.0;\n"
                               "  retry_seconds = 60.0; retry_max_seconds = 10.0;\n"
                               "  bwlimit = \"-8M\";\n"
                               "  bucket = \"x\";\n"
                               "};\n",
                               &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("2: offload.remote: missing: where takes go"));
        CHECK_CONTAINS(err, expect("3: offload.state_dir: \"state\" is not an absolute path"));
        CHECK_CONTAINS(err, expect("4: offload.keep_free_gb: -1 is out of range"));
        CHECK_CONTAINS(err, expect("5: offload.retry_max_seconds: 10 is less than offload.retry_seconds = 60"));
        CHECK_CONTAINS(err, expect("6: offload.bwlimit: \"-8M\" is not an rclone --bwlimit"));
        CHECK_CONTAINS(err, expect("7: offload.bucket: unknown setting"));
}

TEST(camera_controls_errors) {
        int r;
        const char *err = load("right_hand = { camera = {\n"
                               "  source = \"v4l2\"; device = \"/dev/null\";\n"
                               "  controls = {\n"
                               "    Brightness = 1;\n"
                               "    contrast = \"high\";\n"
                               "    hue = 0.5;\n"
                               "    white__balance = 1;\n"
                               "  };\n"
                               "}; };\n"
                               "left_hand = { camera = { source = \"synthetic\";\n"
                               "  controls = { gain = 1; };\n"
                               "}; };\n",
                               &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("4: right_hand.camera.controls.Brightness: not a control's name as `v4l2-ctl "
                                   "--list-ctrls` prints it"));
        CHECK_CONTAINS(err, expect("5: right_hand.camera.controls.contrast: must be an integer (for a menu, its "
                                   "item's number) or true or false"));
        CHECK_CONTAINS(err, expect("6: right_hand.camera.controls.hue: must be an integer"));
        CHECK_CONTAINS(err, expect("7: right_hand.camera.controls.white__balance: not a control's name"));
        CHECK_CONTAINS(err, expect("11: left_hand.camera.controls: only a v4l2 camera has controls"));

        /* more than CAMERA_CONTROLS_MAX */
        char text[4096] = "right_hand = { camera = { source = \"v4l2\"; device = \"/dev/null\";\n controls = {\n";
        for (int i = 0; i <= CAMERA_CONTROLS_MAX; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "  c%d = 1;\n", i);
        strcat(text, " };\n}; };\n");
        err = load(text, &r, NULL);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_CONTAINS(err, expect("2: right_hand.camera.controls: 33 controls; at most 32"));
}

int main(void) {
        static const struct test tests[] = {T(shipped_config_is_valid),
                                            T(output_dir_has_one_spelling),
                                            T(defaults),
                                            T(every_error_with_file_line_setting),
                                            T(syntax_error),
                                            T(rectification_too_large_for_the_maps),
                                            T(no_hand),
                                            T(missing_file),
                                            T(wrong_types),
                                            T(v4l2_cameras),
                                            T(v4l2_device_errors),
                                            T(camera_controls),
                                            T(camera_controls_errors),
                                            T(offload),
                                            T(offload_errors),
                                            T(memory_over_the_limit_refused_at_its_line),
                                            T(queue_settings),
                                            T(memory_budget_by_hand),
                                            T(memory_budget_with_rectification)};
        int fd = mkstemp(path), r;
        close(fd);
        r = test_main("config", tests, ELEMENTSOF(tests));
        unlink(path);
        return r;
}
