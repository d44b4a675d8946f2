/* SPDX-License-Identifier: MIT */
/* A hand's refusals to start, against its pipeline's camera as the source thread sees it. */
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
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

/* The camera's open returns once the test allows it (up to 20 s): "still being opened" until then. */
static atomic_bool open_allowed;

static int warm_open(struct source *base) {
        struct timespec pace = {0, 1000 * 1000};

        for (int i = 0; i < 20000 && !atomic_load(&open_allowed); i++)
                nanosleep(&pace, NULL);
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
                .camera = {.source = SOURCE_V4L2, .width = 64, .height = 48, .fps = 100, .warmup = 0.05}};
        struct daemon d = {.config = &config};
        struct hand h = {.daemon = &d, .config = &hc, .state = HAND_NO_DEVICE, .event_fd = -1};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char sub[PATH_MAX];
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

        snprintf(sub, sizeof(sub), "%s/right", dir);
        CHECK(mkdir(sub, 0755) == 0);
        atomic_store(&open_allowed, false);
        CHECK(pipeline_new_with_source(&config, &hc, warm_new(), efd, &h.pipeline) == 0);
        if (!h.pipeline)
                goto out;
        /* still opening: refused, saying so */
        CHECK(hand_check_start(&h, &error) < 0);
        CHECK_CONTAINS(error.message, "still being opened");
        sd_bus_error_free(&error);

        /* open; the events read here, so the hand is not told */
        atomic_store(&open_allowed, true);
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

/* A method call as the daemon would receive it: a bus on one end of a socket pair is enough to
 * make one. */
static sd_bus_message *new_call(sd_bus *bus, const char *member) {
        sd_bus_message *m = NULL;

        CHECK(sd_bus_message_new_method_call(bus, &m, "org.handrec1", "/org/handrec1", "org.handrec1.Manager",
                                             member) >= 0);
        return m;
}

/*
 * Start calls held while the camera is still being opened after handrecd started, each until its
 * own deadline: the hand's timer is at the earliest of them, so that a call run again (bus.c,
 * with the deadline it came with) is answered on time and not at a later call's deadline; at
 * that timer the bus layer is told to run them again (HAND_NOTICE_HELD), and hand_done() answers
 * what is still held.
 */
TEST(held_starts_are_run_again_at_the_earliest_deadline) {
        struct config config = {.text = (char *) "test", .output_dir = dir};
        struct hand_config hc = {.name = "right", .camera = {.source = SOURCE_V4L2}};
        struct daemon d = {.config = &config};
        struct hand h = {.daemon = &d, .config = &hc, .state = HAND_NO_DEVICE, .event_fd = -1};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus = NULL;
        sd_bus_message *later, *sooner;
        uint64_t now, at = 0;
        int sv[2];

        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        CHECK(sd_event_new(&d.event) >= 0);
        CHECK(sd_bus_new(&bus) >= 0 && sd_bus_set_fd(bus, sv[0], sv[0]) >= 0 && sd_bus_start(bus) >= 0);
        later = new_call(bus, "StartRecording");
        sooner = new_call(bus, "StartEpisode");
        CHECK(sd_event_now(d.event, CLOCK_MONOTONIC, &now) >= 0);

        CHECK_EQ_INT(hand_hold_start(&h, &(struct held_start){later, NULL, now + 60 * USEC_PER_SEC}, &error), 1);
        CHECK_EQ_INT(hand_hold_start(&h, &(struct held_start){sooner, NULL, now + USEC_PER_SEC / 20}, &error), 1);
        CHECK_EQ_INT(h.n_held_starts, 2);
        CHECK(sd_event_source_get_time(h.held_timer, &at) >= 0);
        CHECK(at == now + USEC_PER_SEC / 20);
        CHECK(h.held_starts[1].m == sooner && h.held_starts[1].deadline == at);

        /* the loop runs the timer (not the 60 s one: this would wait 20 s and fail) */
        CHECK(sd_event_run(d.event, 20 * USEC_PER_SEC) > 0);
        CHECK(h.notices & HAND_NOTICE_HELD);
        CHECK(h.held_timer == NULL);
        CHECK_EQ_INT(h.n_held_starts, 2); /* the bus layer takes them (answer_held_starts()) */

        hand_done(&h); /* answers both, "start it again", and lets them go */
        CHECK_EQ_INT(h.n_held_starts, 0);
        sd_bus_message_unref(later);
        sd_bus_message_unref(sooner);
        sd_bus_error_free(&error);
        sd_bus_close_unref(bus); /* not flushed: nobody is at the other end to read the refusals */
        close(sv[1]);
        d.event = sd_event_unref(d.event);
}

int main(void) {
        static const struct test tests[] = {T(start_between_camera_open_and_its_event),
                                            T(held_starts_are_run_again_at_the_earliest_deadline)};
        int r;

        CHECK(mkdtemp(dir) != NULL);
        r = test_main("hand", tests, ELEMENTSOF(tests));
        if (rmdir(dir) < 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return r;
}
