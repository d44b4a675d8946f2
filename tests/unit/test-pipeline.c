/* SPDX-License-Identifier: MIT */
/* One hand's threads, synthetic camera to file, without D-Bus. */
#include <fcntl.h>
#include <math.h>
#include <hdf5.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "../../lib/calibration.h"
#include "../../daemon/pipeline-internal.h"
#include "../../daemon/stamp.h"
#include "../../lib/util.h"
#include "pipeline-events.h"
#include "test.h"

static char dir[] = "/tmp/handrec-test-pipeline-XXXXXX";

static struct config config = {.text = (char *) "test",
                               .jpeg_quality = 80,
                               .queue_capacity = 2,
                               .batch_size = 10,
                               .batch_timeout = 0.2,
                               .workers = 2};
static struct hand_config hand = {
        .name = "left",
        .camera = {
                .source = SOURCE_SYNTHETIC, .width = 320, .height = 240, .fps = 100, .warmup = 0.05, .disparity = 16}};

static long long frames_in(const char *path) {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, s;
        hsize_t n = 0;
        if (f < 0)
                return -1;
        d = H5Dopen2(f, "stereo/size", H5P_DEFAULT);
        s = H5Dget_space(d);
        H5Sget_simple_extent_dims(s, &n, NULL);
        H5Sclose(s);
        H5Dclose(d);
        H5Fclose(f);
        return (long long) n;
}

/* The file's frames: each JPEG decoded and the frame number stamped into its left eye read
 * back. Return: how many frames, or -1; *@ret_in_order: every number is the one before + 1. */
static long long stamps_in(const char *path, unsigned eye_width, bool *ret_in_order) {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, s;
        hsize_t n = 0, bytes = 0;
        static uint64_t offset[4096];
        static uint32_t size[4096];
        uint8_t *jpeg = NULL, *planes = NULL;
        tjhandle tj = tjInitDecompress();
        uint32_t prev = 0;

        *ret_in_order = true;
        if (f < 0)
                return -1;
        d = H5Dopen2(f, "stereo/size", H5P_DEFAULT);
        s = H5Dget_space(d);
        H5Sget_simple_extent_dims(s, &n, NULL);
        if (n > 4096)
                n = 0;
        H5Dread(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, size);
        H5Sclose(s);
        H5Dclose(d);
        d = H5Dopen2(f, "stereo/offset", H5P_DEFAULT);
        H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, offset);
        H5Dclose(d);
        d = H5Dopen2(f, "stereo/jpeg", H5P_DEFAULT);
        s = H5Dget_space(d);
        H5Sget_simple_extent_dims(s, &bytes, NULL);
        jpeg = malloc(bytes + 1);
        planes = malloc((size_t) 2 * eye_width * 2048 * 3);
        H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, jpeg);
        H5Sclose(s);
        H5Dclose(d);
        H5Fclose(f);
        for (hsize_t i = 0; i < n; i++) {
                int w, h, sub, cs;
                uint32_t number;
                if (tjDecompressHeader3(tj, jpeg + offset[i], size[i], &w, &h, &sub, &cs) < 0 ||
                    tjDecompressToYUV2(tj, jpeg + offset[i], size[i], planes, w, 1, h, 0) < 0 ||
                    stamp_read(planes, w, eye_width, &number) < 0) {
                        *ret_in_order = false;
                        continue;
                }
                if (i > 0 && number != prev + 1)
                        *ret_in_order = false;
                prev = number;
        }
        free(jpeg);
        free(planes);
        tjDestroy(tj);
        return (long long) n;
}

static struct take_params params(const char *name, double duration) {
        struct take_params t = {.jpeg_quality = 80, .duration = duration};
        snprintf(t.path, sizeof(t.path), "%s/%s", dir, name);
        t.fd = open(t.path, O_CREAT | O_RDWR | O_CLOEXEC, 0640);
        return t;
}

TEST(duration_take) {
        struct pipeline *p = NULL;
        struct pipeline_stats s;
        char error[256];
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct take_params t = params("duration.h5", 0.5);

        CHECK(pipeline_new(&config, &hand, efd, &p) == 0);
        if (!p)
                return;
        CHECK(pipeline_start(p, &t) == 0);
        CHECK(pipeline_start(p, &t) == -EBUSY);
        CHECK(wait_for(p, efd, PIPELINE_EVENT_ENDED) & PIPELINE_EVENT_ENDED);
        pipeline_stats(p, &s);
        CHECK_EQ_INT(pipeline_result(p, error, sizeof(error)), STOP_DURATION);
        /* 0.5 s at 100 fps: 50 frames, captured or (on a loaded machine) skipped by the camera and
         * counted as its gap; every one captured is written or counted as dropped */
        CHECK(s.captured + s.dropped[DROP_CAMERA] >= 49 && s.captured + s.dropped[DROP_CAMERA] <= 51);
        CHECK_EQ_INT(s.written + s.dropped_total, s.captured);
        CHECK_EQ_INT(frames_in(t.path), s.written);
        CHECK_EQ_INT(s.queue_depth, 0);
        pipeline_free(p);
        close(efd);
}

TEST(stop_drains_everything) {
        struct pipeline *p = NULL;
        struct pipeline_stats s;
        char error[256];
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

        CHECK(pipeline_new(&config, &hand, efd, &p) == 0);
        if (!p)
                return;
        for (int take = 0; take < 3; take++) {
                char name[32];
                snprintf(name, sizeof(name), "stop%d.h5", take);
                struct take_params t = params(name, 0);
                CHECK(pipeline_start(p, &t) == 0);
                CHECK(wait_for(p, efd, PIPELINE_EVENT_RECORDING) & PIPELINE_EVENT_RECORDING);
                usleep(300 * 1000);
                pipeline_stop(p, STOP_REQUESTED);
                pipeline_stop(p, STOP_SHUTDOWN); /* the first reason wins */
                CHECK(wait_for(p, efd, PIPELINE_EVENT_ENDED) & PIPELINE_EVENT_ENDED);
                pipeline_stats(p, &s);
                CHECK_EQ_INT(pipeline_result(p, error, sizeof(error)), STOP_REQUESTED);
                CHECK(s.captured > 10);
                CHECK_EQ_INT(s.written + s.dropped_total, s.captured);
                CHECK_EQ_INT(frames_in(t.path), s.written);
        }
        pipeline_free(p);
        close(efd);
}

TEST(free_finishes_open_take) {
        struct pipeline *p = NULL;
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct take_params t = params("shutdown.h5", 0);

        CHECK(pipeline_new(&config, &hand, efd, &p) == 0);
        if (!p)
                return;
        CHECK(pipeline_start(p, &t) == 0);
        usleep(400 * 1000);
        pipeline_free(p); /* as at daemon exit: the file must be complete */
        CHECK(frames_in(t.path) > 5);
        close(efd);
}

TEST(unwritable_file_ends_take_with_io_error) {
        struct pipeline *p = NULL;
        char error[256];
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct take_params t = {.jpeg_quality = 80, .fd = -1};
        snprintf(t.path, sizeof(t.path), "%s/missing/take.h5", dir);

        CHECK(pipeline_new(&config, &hand, efd, &p) == 0);
        if (!p)
                return;
        CHECK(pipeline_start(p, &t) == 0);
        CHECK(wait_for(p, efd, PIPELINE_EVENT_ENDED) & PIPELINE_EVENT_ENDED);
        CHECK_EQ_INT(pipeline_result(p, error, sizeof(error)), STOP_IO_ERROR);
        CHECK_CONTAINS(error, "Cannot create");
        pipeline_free(p);
        close(efd);
}

/* Two hands at once, several takes each, stopped at different moments: what the
 * ThreadSanitizer build runs to find races between the threads of one hand and across hands
 * (two writer threads in HDF5 at once, the main thread reading counters while they change). */
TEST(two_hands_start_stop_cycles) {
        static struct hand_config hands[2];
        struct pipeline *p[2] = {NULL, NULL};
        int efd[2];

        for (int h = 0; h < 2; h++) {
                hands[h] = hand;
                hands[h].name = h ? "right" : "left";
                efd[h] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
                CHECK(pipeline_new(&config, &hands[h], efd[h], &p[h]) == 0);
        }
        if (!p[0] || !p[1])
                goto out;
        for (int take = 0; take < 4; take++) {
                struct take_params t[2];
                for (int h = 0; h < 2; h++) {
                        char name[32];
                        snprintf(name, sizeof(name), "cycle-%s-%d.h5", hands[h].name, take);
                        t[h] = params(name, 0);
                        CHECK(pipeline_start(p[h], &t[h]) == 0);
                }
                for (int i = 0; i < 5 + 5 * take; i++) {
                        struct pipeline_stats s;
                        usleep(20 * 1000);
                        pipeline_stats(p[i % 2], &s); /* as the bus does while recording */
                }
                for (int h = 0; h < 2; h++)
                        pipeline_stop(p[h], STOP_REQUESTED);
                for (int h = 0; h < 2; h++) {
                        struct pipeline_stats s;
                        CHECK(wait_for(p[h], efd[h], PIPELINE_EVENT_ENDED) & PIPELINE_EVENT_ENDED);
                        pipeline_stats(p[h], &s);
                        CHECK_EQ_INT(s.written + s.dropped_total, s.captured);
                        CHECK_EQ_INT(frames_in(t[h].path), s.written);
                }
        }
out:
        for (int h = 0; h < 2; h++) {
                pipeline_free(p[h]);
                close(efd[h]);
        }
}

/* A stop during a long warm-up ends the take at the next frame, not when the warm-up is over. */
TEST(stop_during_warmup_returns_at_once) {
        struct hand_config slow = hand;
        struct pipeline *p = NULL;
        char error[256];
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct take_params t = params("warmup.h5", 0);
        int64_t stopped, ended;

        slow.camera.warmup = 20;
        CHECK(pipeline_new(&config, &slow, efd, &p) == 0);
        if (!p)
                return;
        CHECK(pipeline_start(p, &t) == 0);
        usleep(300 * 1000);
        stopped = now_ns(CLOCK_MONOTONIC);
        pipeline_stop(p, STOP_REQUESTED);
        CHECK(wait_for(p, efd, PIPELINE_EVENT_ENDED) & PIPELINE_EVENT_ENDED);
        ended = now_ns(CLOCK_MONOTONIC);
        printf("# take ended %.3f s after the stop, 20 s warm-up\n", (double) (ended - stopped) / 1e9);
        /* not a speed limit: the warm-up it must cut short is 20 s */
        CHECK(ended - stopped < 10 * NSEC_PER_SEC);
        CHECK_EQ_INT(pipeline_result(p, error, sizeof(error)), STOP_REQUESTED);
        CHECK_EQ_INT(frames_in(t.path), 0);
        pipeline_free(p);
        close(efd);
}

/* Several workers, a fast camera: the file holds the frames in capture order (stamps read
 * back from the pixels), nothing is lost without a counter, the counters add up. */
TEST(order_kept_with_several_workers) {
        struct config four = config;
        struct pipeline *p = NULL;
        struct pipeline_stats s;
        char error[256];
        bool in_order;
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct take_params t = params("order.h5", 1.0);
        long long n;

        four.workers = 4;
        CHECK(pipeline_new(&four, &hand, efd, &p) == 0);
        if (!p)
                return;
        CHECK(pipeline_start(p, &t) == 0);
        CHECK(wait_for(p, efd, PIPELINE_EVENT_ENDED) & PIPELINE_EVENT_ENDED);
        pipeline_stats(p, &s);
        CHECK_EQ_INT(pipeline_result(p, error, sizeof(error)), STOP_DURATION);
        n = stamps_in(t.path, hand.camera.width, &in_order);
        printf("# %llu captured, %llu written, %llu dropped\n", (unsigned long long) s.captured,
               (unsigned long long) s.written, (unsigned long long) s.dropped_total);
        CHECK(s.captured > 50);
        CHECK_EQ_INT(n, s.written);
        CHECK_EQ_INT(s.written + s.dropped_total, s.captured);
        /* with nothing dropped, the numbers are consecutive: order kept, none lost or repeated */
        if (s.dropped_total == 0 && s.dropped[DROP_CAMERA] == 0)
                CHECK(in_order);
        pipeline_free(p);
        close(efd);
}

/* ---- a source that hands over JPEG, as an MJPEG camera or a replay of MJPEG does ---------- */

#define FAKE_FRAMES 40

struct fake_source {
        struct source base;
        uint8_t *jpeg[FAKE_FRAMES];
        unsigned long size[FAKE_FRAMES];
        unsigned next;
};

static int fake_open(struct source *base) {
        ((struct fake_source *) base)->next = 0;
        return 0;
}

static int fake_read(struct source *base, struct frame *dst, enum source_want want, struct frame_meta *ret_meta) {
        struct fake_source *fs = (struct fake_source *) base;
        unsigned i = fs->next;

        if (i >= FAKE_FRAMES)
                return -ENODATA;
        CHECK(want == SOURCE_WANT_ANY); /* the pipeline asks for the camera's JPEG, always */
        fs->next++;
        *ret_meta = (struct frame_meta){.number = i, .timestamp_ns = (int64_t) (i + 1) * 10000000};
        if (dst) {
                CHECK(dst->planes[0] == NULL); /* a job for this source holds no planes */
                CHECK(dst->jpeg_capacity >= fs->size[i]);
                memcpy(dst->jpeg, fs->jpeg[i], fs->size[i]);
                dst->jpeg_size = fs->size[i];
                dst->meta = *ret_meta;
        }
        return 0;
}

static void fake_close(struct source *base) {
        (void) base;
}

static void fake_free(struct source *base) {
        struct fake_source *fs = (struct fake_source *) base;
        for (unsigned i = 0; i < FAKE_FRAMES; i++)
                tjFree(fs->jpeg[i]);
        free(fs);
}

static const struct source_ops fake_ops = {
        .open = fake_open, .read = fake_read, .close = fake_close, .free = fake_free};

/* FAKE_FRAMES stamped stereo frames, JPEG-compressed once; paced, so none is dropped. */
static struct fake_source *fake_new(unsigned eye_width, unsigned height) {
        struct fake_source *fs = calloc(1, sizeof(*fs));
        struct frame f;
        tjhandle tj = tjInitCompress();

        fs->base = (struct source){.ops = &fake_ops,
                                   .caps = SOURCE_CAP_CAMERA_JPEG | SOURCE_CAP_PACED,
                                   .jpeg_max = (size_t) 2 * eye_width * height * 3 / 2 + 65536};
        CHECK(frame_init(&f, 2 * eye_width, height) == 0);
        for (unsigned i = 0; i < FAKE_FRAMES; i++) {
                for (unsigned y = 0; y < height; y++)
                        memset(f.planes[0] + (size_t) y * f.strides[0], (int) (40 + (y * 3 + i) % 160), f.width);
                memset(f.planes[1], 128, (size_t) f.strides[1] * height);
                for (unsigned eye = 0; eye < 2; eye++)
                        stamp_write(f.planes[0] + eye * eye_width, f.strides[0], f.planes[1] + eye * eye_width / 2,
                                    f.planes[2] + eye * eye_width / 2, f.strides[1], eye_width, i);
                CHECK(tjCompressFromYUVPlanes(tj, (const unsigned char **) f.planes, (int) f.width, f.strides,
                                              (int) height, TJSAMP_420, &fs->jpeg[i], &fs->size[i], 90, 0) == 0);
        }
        frame_release(&f);
        tjDestroy(tj);
        return fs;
}

/* A ROS camera_info file for an eye of 320×240 without distortion: the remap is the identity. */
static void write_identity_eye(const char *file, double tx) {
        FILE *f = fopen(file, "w");
        if (!f)
                return;
        fprintf(f,
                "image_width: 320\nimage_height: 240\ncamera_name: eye\ndistortion_model: plumb_bob\n"
                "camera_matrix:\n  rows: 3\n  cols: 3\n  data: [250, 0, 160, 0, 250, 120, 0, 0, 1]\n"
                "distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: [0, 0, 0, 0, 0]\n"
                "rectification_matrix:\n  rows: 3\n  cols: 3\n  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n"
                "projection_matrix:\n  rows: 3\n  cols: 4\n  data: [250, 0, 160, %g, 0, 250, 120, 0, 0, 0, 1, 0]\n",
                tx);
        fclose(f);
}

/* One take from the JPEG source: stored as it came (byte for byte) without rectification, or
 * decoded in the workers, rectified and encoded again with it. Nothing dropped, order kept. */
static void camera_jpeg_take(bool rectify) {
        struct hand_config h = hand;
        struct config cfg = config;
        struct fake_source *fs = fake_new(320, 240);
        struct pipeline *p = NULL;
        struct pipeline_stats s;
        char error[256], left[64], right[64];
        const char *paths[2] = {left, right};
        bool in_order;
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct take_params t = params(rectify ? "jpeg-rectified.h5" : "jpeg-as-came.h5", 0);

        snprintf(left, sizeof(left), "%s/left.yaml", dir);
        snprintf(right, sizeof(right), "%s/right.yaml", dir);
        write_identity_eye(left, 0);
        write_identity_eye(right, -20);
        h.camera.width = 320;
        h.camera.height = 240;
        h.camera.warmup = 0; /* every frame goes to the take */
        h.calibration = NULL;
        cfg.workers = 3;
        if (rectify)
                CHECK(calibration_load(paths, 2, MODEL_UNSET, 0, 320, 240, &h.calibration, error, sizeof(error)) == 0);
        t.rectify = rectify;
        uint64_t source_bytes = 0;
        for (unsigned i = 0; i < FAKE_FRAMES; i++)
                source_bytes += fs->size[i];
        CHECK(pipeline_new_with_source(&cfg, &h, &fs->base, efd, &p) == 0); /* fs is the pipeline's now */
        if (!p)
                goto out;
        CHECK_EQ_INT(p->workers[0].bands != NULL, rectify); /* a decoder only when pixels are needed */
        CHECK(pipeline_start(p, &t) == 0);
        CHECK(wait_for(p, efd, PIPELINE_EVENT_ENDED) & PIPELINE_EVENT_ENDED);
        pipeline_stats(p, &s);
        CHECK_EQ_INT(pipeline_result(p, error, sizeof(error)), STOP_END_OF_INPUT);
        CHECK_EQ_INT(s.captured, FAKE_FRAMES);
        CHECK_EQ_INT(s.written, FAKE_FRAMES); /* paced: it waits, nothing is dropped */
        CHECK_EQ_INT(s.dropped_total, 0);
        CHECK_EQ_INT(stamps_in(t.path, 320, &in_order), FAKE_FRAMES);
        CHECK(in_order);
        /* stored as it came: the file's bytes are the source's; re-encoded: they differ */
        if (rectify)
                CHECK(s.bytes != source_bytes);
        else
                CHECK_EQ_INT(s.bytes, source_bytes);
        pipeline_free(p);
out:
        calibration_free(h.calibration);
        close(efd);
        unlink(left);
        unlink(right);
}

TEST(camera_jpeg_stored_as_it_came) {
        camera_jpeg_take(false);
}

TEST(camera_jpeg_decoded_in_workers_and_rectified) {
        camera_jpeg_take(true);
}

/* ---- a pair of eyes whose skew changes from frame to frame, faster than one worker encodes ---- */

#define SKEW_FRAMES 600

struct skew_source {
        struct source base;
        struct pipeline *p; /* set once the pipeline is made */
        unsigned next;
};

static int skew_open(struct source *base) {
        ((struct skew_source *) base)->next = 0;
        return 0;
}

/* Whether frames 200 to 399 are the burst: sent without waiting, far faster than one worker
 * encodes, so that most of them are dropped (encoder-busy), with a skew of 9 ms. */
static bool skew_burst(unsigned k) {
        return k >= 200 && k < 400;
}

/* Frame k: captured at k × 10 ms, its eyes 9 ms apart in the burst, else (k × 7919) % 500 µs.
 * Outside the burst a frame is sent once every frame before it is stored or dropped (a count,
 * waited for up to 20 s), so none of those is dropped. */
static int skew_read(struct source *base, struct frame *dst, enum source_want want, struct frame_meta *ret_meta) {
        struct skew_source *ss = (struct skew_source *) base;
        unsigned k = ss->next++;
        int64_t t = (int64_t) (k + 1) * 10000000;
        int64_t skew = skew_burst(k) ? 9000000 : (int64_t) ((k * 7919u) % 500u) * 1000;

        (void) want;
        if (k >= SKEW_FRAMES)
                return -ENODATA;
        for (int i = 0; !skew_burst(k) && i < 20000; i++) {
                struct pipeline_stats s;
                pipeline_stats(ss->p, &s);
                if (s.written + s.dropped_total >= k)
                        break;
                usleep(1000);
        }
        *ret_meta = (struct frame_meta){.number = k,
                                        .timestamp_ns = t,
                                        .left_timestamp_ns = t,
                                        .right_timestamp_ns = t + skew,
                                        .left_sequence = k,
                                        .right_sequence = k};
        if (dst) {
                memset(dst->planes[0], 40 + k % 100, (size_t) dst->strides[0] * dst->height);
                dst->meta = *ret_meta;
        }
        return 0;
}

static void skew_free(struct source *base) {
        free(base);
}

static const struct source_ops skew_ops = {
        .open = skew_open, .read = skew_read, .close = fake_close, .free = skew_free};

static int64_t i64_attr(hid_t f, const char *name) {
        int64_t v = -1;
        hid_t a = H5Aopen(f, name, H5P_DEFAULT);
        CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_INT64, &v) >= 0);
        H5Aclose(a);
        return v;
}

static double double_attr(hid_t f, const char *name) {
        double v = -1;
        hid_t a = H5Aopen(f, name, H5P_DEFAULT);
        CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
        H5Aclose(a);
        return v;
}

/* A take that drops frames in the middle (a source faster than its one worker: encoder-busy):
 * the pair skew, duration and rate stored in the file and told by the pipeline are those of the
 * frames stored, computed again here from the file's own timestamps. */
TEST(statistics_over_the_frames_stored_when_frames_drop) {
        struct skew_source *ss = calloc(1, sizeof(*ss));
        struct hand_config h = hand;
        struct config cfg = config;
        struct pipeline *p = NULL;
        struct pipeline_stats s;
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct take_params t = params("skew.h5", 0);
        static int64_t ts[SKEW_FRAMES], l[SKEW_FRAMES], r[SKEW_FRAMES];

        ss->base = (struct source){.ops = &skew_ops};
        h.camera.warmup = 0;
        h.camera.fps = 100;
        cfg.workers = 1;
        cfg.batch_size = 1; /* each frame written as it comes: the source's wait is short */
        CHECK(pipeline_new_with_source(&cfg, &h, &ss->base, efd, &p) == 0);
        if (!p)
                return;
        ss->p = p;
        CHECK(pipeline_start(p, &t) == 0);
        unsigned seen = 0;
        for (int i = 0; i < 6 && !(seen & PIPELINE_EVENT_ENDED); i++) /* up to 2 minutes */
                seen |= wait_for(p, efd, PIPELINE_EVENT_ENDED);
        CHECK(seen & PIPELINE_EVENT_ENDED);
        pipeline_stats(p, &s);
        printf("# %llu captured, %llu written, %llu dropped\n", (unsigned long long) s.captured,
               (unsigned long long) s.written, (unsigned long long) s.dropped_total);
        CHECK_EQ_INT(s.captured, SKEW_FRAMES);
        CHECK(s.dropped_total > 0 && s.written >= 400); /* drops in the burst only, in the middle */
        CHECK_EQ_INT(s.written + s.dropped_total, s.captured);

        hid_t f = H5Fopen(t.path, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d;
        CHECK(f >= 0);
        if (f < 0)
                goto out;
        CHECK_EQ_INT(i64_attr(f, "frames"), s.written);
        const char *names[3] = {"stereo/timestamp_ns", "stereo/left_timestamp_ns", "stereo/right_timestamp_ns"};
        int64_t *bufs[3] = {ts, l, r};
        for (unsigned i = 0; i < 3; i++) {
                d = H5Dopen2(f, names[i], H5P_DEFAULT);
                CHECK(H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, bufs[i]) >= 0);
                H5Dclose(d);
        }
        double sum = 0;
        int64_t max = 0;
        for (uint64_t i = 0; i < s.written; i++) {
                sum += (double) (r[i] - l[i]);
                max = MAX(max, r[i] - l[i]);
        }
        double span = (double) (ts[s.written - 1] - ts[0]) / 1e9;
        CHECK_EQ_INT(i64_attr(f, "pair_skew_mean_ns"), llround(sum / (double) s.written));
        CHECK_EQ_INT(i64_attr(f, "pair_skew_max_ns"), max);
        CHECK(fabs(double_attr(f, "duration_s") - (span + 0.01)) < 1e-9);
        CHECK(fabs(double_attr(f, "fps_measured") - (double) (s.written - 1) / span) < 1e-6);
        /* the bus tells the same skew */
        CHECK(fabs(s.skew_mean * 1e9 - sum / (double) s.written) < 1);
        CHECK_EQ_INT(llround(s.skew_max * 1e9), max);
        /* over the 600 captured (the burst's 9 ms included) the mean would be far larger */
        CHECK(sum / (double) s.written < 9e6 * 200 / 600 - 1e6);
        H5Fclose(f);
out:
        pipeline_free(p);
        close(efd);
}

int main(void) {
        static const struct test tests[] = {T(duration_take),
                                            T(stop_drains_everything),
                                            T(free_finishes_open_take),
                                            T(unwritable_file_ends_take_with_io_error),
                                            T(two_hands_start_stop_cycles),
                                            T(stop_during_warmup_returns_at_once),
                                            T(order_kept_with_several_workers),
                                            T(statistics_over_the_frames_stored_when_frames_drop),
                                            T(camera_jpeg_stored_as_it_came),
                                            T(camera_jpeg_decoded_in_workers_and_rectified)};
        int r;
        CHECK(mkdtemp(dir) != NULL);
        r = test_main("pipeline", tests, ELEMENTSOF(tests));
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return r;
}
