/* SPDX-License-Identifier: MIT */
/*
 * test-preview.c — the preview tap (a frame handed from a "source" thread to a "preview" thread
 * only when wanted, never twice, never torn; switched off with a copy in flight), and the
 * renderer's pieces: scale choice, box downscale, guide lines on its own frame only, a JPEG of
 * the size it says. Run under ThreadSanitizer too (TSAN_TESTS).
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <turbojpeg.h>

#include "../../daemon/preview-render.h"
#include "../../daemon/preview-tap.h"
#include "../../lib/util.h"
#include "test.h"

#define W 64
#define H 32

static void fill(struct frame *f, uint8_t v) {
        memset(f->data, v, (size_t) f->width * f->height * 3 / 2);
}

TEST(nothing_taken_unless_wanted) {
        struct preview_tap t = {0};
        struct frame src;
        struct frame_meta meta = {.number = 1, .timestamp_ns = 1000};
        int efd = eventfd(0, EFD_NONBLOCK);

        CHECK(frame_init(&src, W, H) == 0);
        fill(&src, 7);
        CHECK(!preview_tap_offer(&t, &src, &meta, false)); /* off: no buffer */
        CHECK(preview_tap_alloc(&t, false, 0, W, H, efd) == 0);
        CHECK(!preview_tap_offer(&t, &src, &meta, false)); /* idle: nobody wants one */
        preview_tap_want(&t, 2000);
        CHECK(!preview_tap_offer(&t, &src, &meta, false)); /* captured before it is due */
        meta.timestamp_ns = 2000;
        CHECK(preview_tap_offer(&t, &src, &meta, true));
        CHECK_EQ_INT(atomic_load(&t.state), TAP_READY);
        CHECK(!preview_tap_offer(&t, &src, &meta, true)); /* not twice */
        CHECK(t.frame.data[0] == 7 && t.frame.meta.number == 1 && t.recording);
        preview_tap_off(&t);
        CHECK_EQ_INT(atomic_load(&t.state), TAP_OFF);
        preview_tap_release(&t);
        frame_release(&src);
        close(efd);
}

TEST(camera_jpeg_copied_as_it_came) {
        struct preview_tap t = {0};
        struct frame src = {0};
        struct frame_meta meta = {.timestamp_ns = 5};
        int efd = eventfd(0, EFD_NONBLOCK);

        CHECK(frame_init_jpeg(&src, 100) == 0);
        memcpy(src.jpeg, "\xff\xd8jpegbytes\xff\xd9", 13);
        src.jpeg_size = 13;
        CHECK(preview_tap_alloc(&t, true, 12, W, H, efd) == 0);
        preview_tap_want(&t, 0);
        CHECK(!preview_tap_offer(&t, &src, &meta, false)); /* larger than the tap's buffer */
        CHECK_EQ_INT(atomic_load(&t.state), TAP_WANT);     /* still wanted */
        preview_tap_release(&t);
        CHECK(preview_tap_alloc(&t, true, 100, W, H, efd) == 0);
        preview_tap_want(&t, 0);
        CHECK(preview_tap_offer(&t, &src, &meta, false));
        CHECK(t.frame.jpeg_size == 13 && memcmp(t.frame.jpeg, src.jpeg, 13) == 0);
        preview_tap_release(&t);
        frame_release(&src);
        close(efd);
}

/* A source thread offering frames 1, 2, ... as fast as it can while a preview thread wants, takes
 * and checks them: every frame taken whole (all bytes its number), in order, none twice. The
 * source goes on until the preview thread has taken its frames (a fixed count of offers could
 * all be made before the other thread first runs, on a loaded machine or under qemu). */
#define RACE_TAKEN 200
#define RACE_OFFERS_MAX 50000000u
struct race {
        struct preview_tap t;
        atomic_bool done, stop;
        unsigned taken, torn, out_of_order;
};

static void *source_thread(void *userdata) {
        struct race *x = userdata;
        struct frame src;

        frame_init(&src, W, H);
        for (unsigned i = 1; i <= RACE_OFFERS_MAX && !atomic_load(&x->stop); i++) {
                struct frame_meta meta = {.number = i, .timestamp_ns = i};
                fill(&src, (uint8_t) i);
                preview_tap_offer(&x->t, &src, &meta, false);
        }
        atomic_store(&x->done, true);
        frame_release(&src);
        return NULL;
}

TEST(handover_between_threads) {
        struct race x = {0};
        int efd = eventfd(0, EFD_NONBLOCK);
        uint64_t last = 0, n;
        pthread_t th;

        CHECK(preview_tap_alloc(&x.t, false, 0, W, H, efd) == 0);
        pthread_create(&th, NULL, source_thread, &x);
        while (!atomic_load(&x.done) && x.taken < RACE_TAKEN) {
                preview_tap_want(&x.t, (int64_t) last + 3);
                struct pollfd p = {.fd = efd, .events = POLLIN};
                if (poll(&p, 1, 10) <= 0 || read(efd, &n, sizeof(n)) < 0)
                        continue;
                if (atomic_load(&x.t.state) != TAP_READY)
                        continue;
                const struct frame *f = &x.t.frame;
                for (size_t k = 0; k < (size_t) W * H * 3 / 2; k++)
                        if (f->data[k] != (uint8_t) f->meta.number) {
                                x.torn++;
                                break;
                        }
                if (f->meta.number < last + 3)
                        x.out_of_order++;
                last = f->meta.number;
                x.taken++;
                atomic_store(&x.t.state, TAP_IDLE);
        }
        atomic_store(&x.stop, true);
        preview_tap_want(&x.t, 0);
        preview_tap_off(&x.t); /* possibly with a copy in flight */
        pthread_join(th, NULL);
        CHECK_EQ_INT(atomic_load(&x.t.state), TAP_OFF);
        CHECK_EQ_INT(x.taken, RACE_TAKEN);
        CHECK_EQ_INT(x.torn, 0);
        CHECK_EQ_INT(x.out_of_order, 0);
        preview_tap_release(&x.t);
        close(efd);
}

TEST(scale_choice) {
        CHECK_EQ_INT(preview_scale_for(2560, 0), 1);
        CHECK_EQ_INT(preview_scale_for(2560, 2560), 1);
        CHECK_EQ_INT(preview_scale_for(2560, 1280), 2);
        CHECK_EQ_INT(preview_scale_for(2560, 1279), 4);
        CHECK_EQ_INT(preview_scale_for(2560, 320), 8);
        CHECK_EQ_INT(preview_scale_for(2560, 1), 8);
}

TEST(downscale_is_the_block_mean) {
        struct frame src, dst;

        CHECK(frame_init(&src, W, H) == 0);
        CHECK(frame_init(&dst, W / 4, H / 4) == 0);
        for (unsigned y = 0; y < H; y++)
                for (unsigned x = 0; x < W; x++)
                        src.planes[0][y * W + x] = (uint8_t) ((x % 4) * 10 + (y % 4)); /* block mean 16.5 */
        memset(src.planes[1], 100, W / 2 * H / 2);
        memset(src.planes[2], 200, W / 2 * H / 2);
        preview_downscale(&src, &dst, 4);
        CHECK_EQ_INT(dst.planes[0][0], 17); /* (15 * 16 + 24 + 8) / 16 rounded */
        CHECK_EQ_INT(dst.planes[0][(H / 4 - 1) * (W / 4) + W / 4 - 1], 17);
        CHECK_EQ_INT(dst.planes[1][0], 100);
        CHECK_EQ_INT(dst.planes[2][W / 8 - 1], 200);
        frame_release(&src);
        frame_release(&dst);
}

TEST(render_draws_guides_on_its_own_frame_only) {
        struct preview_scratch *s;
        struct preview_render *r;
        struct frame src;
        uint8_t *jpeg;
        size_t size = 0;
        unsigned w, h;
        int jw, jh, sub, cs;
        tjhandle tj = tjInitDecompress();

        CHECK(frame_init(&src, 2 * W, 2 * H) == 0);
        fill(&src, 60);
        CHECK(preview_scratch_new(2 * W, 2 * H, &s) == 0);
        CHECK(preview_render_new(2 * W, 2 * H, 2, &r) == 0);
        preview_render_size(r, &w, &h);
        CHECK(w == W && h == H);
        jpeg = malloc(preview_render_max(r));
        CHECK(preview_render(r, s, &src, NULL, true, 70, jpeg, preview_render_max(r), &size) == 0);
        for (size_t k = 0; k < (size_t) 2 * W * 2 * H; k++)
                if (src.data[k] != 60) {
                        CHECK(!"the source frame was written");
                        break;
                }
        CHECK(tjDecompressHeader3(tj, jpeg, size, &jw, &jh, &sub, &cs) == 0);
        CHECK(jw == W && jh == H && sub == TJSAMP_420);
        uint8_t gray[W * H];
        CHECK(tjDecompress2(tj, jpeg, size, gray, W, W, H, TJPF_GRAY, 0) == 0);
        unsigned bright = 0;
        for (unsigned y = 0; y < H; y++)
                bright += gray[y * W + W / 2] > 200;
        CHECK(bright >= 7);           /* seven lines, two rows each, 4 px apart at this height: some merge */
        CHECK(gray[1 * W + 3] < 100); /* between the lines, the image */
        free(jpeg);
        tjDestroy(tj);
        preview_render_free(r);
        preview_scratch_free(s);
        frame_release(&src);
}

int main(void) {
        static const struct test tests[] = {
                T(nothing_taken_unless_wanted), T(camera_jpeg_copied_as_it_came),
                T(handover_between_threads),    T(scale_choice),
                T(downscale_is_the_block_mean), T(render_draws_guides_on_its_own_frame_only)};
        return test_main("preview", tests, ELEMENTSOF(tests));
}
