/* SPDX-License-Identifier: MIT */
/* A hand's refusals to start, against its pipeline's camera as the source thread sees it. */
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../daemon/daemon.h"
#include "../../daemon/pipeline-internal.h"
#include "../../lib/util.h"
#include "pipeline-events.h"
#include "test.h"

static char dir[] = "/tmp/handrec-test-hand-XXXXXX";

/* ---- a camera kept warm (as a V4L2 one is): opened once, then a frame every 10 ms ------------ */

struct warm_source {
        struct source base;
        uint64_t n;
};

static int warm_open(struct source *base) {
        ((struct warm_source *) base)->n = 0;
        return 0;
}

static int warm_read(struct source *base, struct frame *dst, enum source_want want _unused_,
                     struct frame_meta *ret_meta) {
        struct warm_source *s = (struct warm_source *) base;
        struct timespec pace = {0, 10 * 1000 * 1000};

        CHECK(dst == NULL); /* no take is started here: every frame is read while idle */
        nanosleep(&pace, NULL);
        *ret_meta = (struct frame_meta){.number = s->n++, .timestamp_ns = now_ns(CLOCK_MONOTONIC)};
        return 0;
}

static void warm_close(struct source *base _unused_) {
}

static void warm_free(struct source *base) {
        free(base);
}

static const struct source_ops warm_ops = {
        .open = warm_open, .read = warm_read, .close = warm_close, .free = warm_free};

static struct source *warm_new(void) {
        struct warm_source *s = calloc(1, sizeof(*s));

        s->base = (struct source){.ops = &warm_ops, .caps = SOURCE_CAP_KEEPS_WARM};
        return &s->base;
}

/*
 * The camera has been opened by the source thread, and the event that says so has not reached
 * the hand yet (its event loop is busy, or slow, as in a loaded VM): a start now is not refused.
 * It was, "camera is not available (no device)", with the camera open (CI, test_take_from_vivid).
 */
TEST(start_between_camera_open_and_its_event) {
        struct config config = {.text = (char *) "test",
                                .output_dir = dir,
                                .jpeg_quality = 80,
                                .queue_capacity = 2,
                                .batch_size = 10,
                                .batch_timeout = 0.2,
                                .workers = 1};
        struct hand_config hc = {
                .name = "right",
                .camera = {.source = SOURCE_V4L2, .width = 64, .height = 48, .fps = 100, .warmup = 0.5}};
        struct daemon d = {.config = &config};
        struct hand h = {.daemon = &d, .config = &hc, .state = HAND_NO_DEVICE, .event_fd = -1};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char sub[PATH_MAX];
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

        snprintf(sub, sizeof(sub), "%s/right", dir);
        CHECK(mkdir(sub, 0755) == 0);
        CHECK(pipeline_new_with_source(&config, &hc, warm_new(), efd, &h.pipeline) == 0);
        if (!h.pipeline)
                goto out;
        /* still opening (the 0.5 s warm-up): refused, saying so */
        CHECK(hand_check_start(&h, &error) < 0);
        CHECK_CONTAINS(error.message, "still being opened");
        sd_bus_error_free(&error);

        /* open; the events read here, so the hand is not told */
        CHECK(wait_for(h.pipeline, efd, PIPELINE_EVENT_DEVICE) & PIPELINE_EVENT_DEVICE);
        CHECK_EQ_INT(h.state, HAND_NO_DEVICE);
        CHECK_EQ_INT(hand_check_start(&h, &error), 0);
        if (error.message)
                fprintf(stderr, "# refused: %s\n", error.message);
        CHECK_EQ_INT(h.state, HAND_IDLE);
        sd_bus_error_free(&error);
        pipeline_free(h.pipeline);
out:
        close(efd);
        rmdir(sub);
}

int main(void) {
        static const struct test tests[] = {T(start_between_camera_open_and_its_event)};
        int r;

        CHECK(mkdtemp(dir) != NULL);
        r = test_main("hand", tests, ELEMENTSOF(tests));
        if (rmdir(dir) < 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return r;
}
