/* SPDX-License-Identifier: MIT */
/*
 * fuzz-config.c — config_load() on any bytes: the input is written to a file and loaded as the
 * daemon loads /etc/handrec/handrecd.conf. It must either succeed with a configuration inside
 * every documented range, or fail with at least one error line for the user; never crash, leak
 * or read out of bounds. Seeds: tests/fuzz/corpus/config/ (the shipped file, the tests' files).
 */
#include "../../lib/calibration.h"
#include "../../lib/config.h"
#include "../../daemon/memory-budget.h"
#include "fuzz.h"

static char errors[64 * 1024];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        fuzz_files_setup(1, (const char *const[]){"handrecd.conf"});
        return 0;
}

static void check_hand(const struct hand_config *h) {
        const struct camera_config *c = &h->camera;

        FUZZ_CHECK(strcmp(h->name, "left") == 0 || strcmp(h->name, "right") == 0);
        FUZZ_CHECK(c->width >= 64 && c->width <= 8192 && c->width % 2 == 0);
        FUZZ_CHECK(c->height >= 64 && c->height <= 4096 && c->height % 2 == 0);
        FUZZ_CHECK(c->fps >= 1 && c->fps <= 240);
        FUZZ_CHECK(c->warmup >= 0 && c->warmup <= 60);
        FUZZ_CHECK(c->disparity <= c->width / 2);
        FUZZ_CHECK(c->buffers >= 2 && c->buffers <= 32);
        if (c->source == SOURCE_V4L2)
                FUZZ_CHECK(c->device ? !c->left_device && !c->right_device : c->left_device && c->right_device);
        else
                FUZZ_CHECK(!c->device && !c->left_device && !c->right_device);
        FUZZ_CHECK((c->source == SOURCE_REPLAY) == (c->path != NULL));
        /* camera.controls: a v4l2 camera's only, each a name as v4l2-ctl makes them */
        FUZZ_CHECK(c->n_controls <= CAMERA_CONTROLS_MAX);
        if (c->source != SOURCE_V4L2)
                FUZZ_CHECK(c->n_controls == 0);
        for (unsigned i = 0; i < c->n_controls; i++) {
                const char *n = c->controls[i].name;
                FUZZ_CHECK(n[0] && strlen(n) < CAMERA_CONTROL_NAME_MAX && n[strlen(n) - 1] != '_');
                for (const char *p = n; *p; p++)
                        FUZZ_CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
        }
        if (h->rectify)
                FUZZ_CHECK(h->calibration != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct config *c = NULL;
        FILE *e;
        int r;

        fuzz_write(0, data, size);
        memset(errors, 0, sizeof(errors));
        e = fmemopen(errors, sizeof(errors) - 1, "w");
        FUZZ_CHECK(e != NULL);
        r = config_load(fuzz_files[0], memory_budget_check, &c, e);
        FUZZ_CHECK(fclose(e) == 0);

        if (r < 0) {
                /* refused: with a reason the user can read, and nothing handed out */
                FUZZ_CHECK(c == NULL);
                FUZZ_CHECK(errors[0] != 0);
                fuzz_say("refused", errors);
                return 0;
        }
        FUZZ_CHECK(r == 0 && c != NULL);
        FUZZ_CHECK(c->n_hands >= 1 && c->n_hands <= 2);
        FUZZ_CHECK(c->output_dir && c->output_dir[0] == '/');
        FUZZ_CHECK(c->jpeg_quality >= JPEG_QUALITY_MIN && c->jpeg_quality <= JPEG_QUALITY_MAX);
        FUZZ_CHECK(c->queue_capacity <= 64); /* 0: sized by queue.seconds */
        FUZZ_CHECK(c->batch_size >= 1 && c->batch_size <= 300);
        FUZZ_CHECK(c->batch_timeout >= 0.01 && c->batch_timeout <= 10);
        FUZZ_CHECK(c->workers >= 1 && c->workers <= 16);
        FUZZ_CHECK(c->text != NULL);
        for (unsigned i = 0; i < c->n_hands; i++) {
                check_hand(&c->hands[i]);
                FUZZ_CHECK(config_find_hand(c, c->hands[i].name) == &c->hands[i]);
        }
        if (c->n_hands == 2)
                FUZZ_CHECK(strcmp(c->hands[0].name, c->hands[1].name) != 0);
        fuzz_say("accepted", NULL);
        config_free(c);
        return 0;
}
