/* SPDX-License-Identifier: MIT */
/*
 * config.c — reads the libconfig file and checks every setting against one table per group.
 * It reports every problem it finds (not just the first) as "file:line: setting: what is wrong",
 * and refuses unknown settings: a misspelt name must never fall back silently to a default.
 */
#include "config.h"

#include <string.h>

#include "calibration.h"
#include "config-check.h"
#include "util.h"

static const struct config_key top_keys[] = {
        {"save", K_GROUP},      {"queue", K_GROUP},   {"workers", K_INT}, {"right_hand", K_GROUP},
        {"left_hand", K_GROUP}, {"offload", K_GROUP}, {"qc", K_GROUP},    {NULL, 0},
};
static const struct config_key qc_keys[] = {
        {"dark_luma", K_INT},     {"bright_luma", K_INT},   {"frozen_frames", K_INT}, {"blur_ratio", K_FLOAT},
        {"gap_periods", K_FLOAT}, {"max_skew_ms", K_FLOAT}, {"sample_every", K_INT},  {NULL, 0},
};
static const struct config_key save_keys[] = {
        {"output_dir", K_STRING},   {"jpeg_quality", K_INT},  {"min_free_mb", K_INT},
        {"sync_interval", K_FLOAT}, {"max_memory_mb", K_INT}, {NULL, 0},
};
static const struct config_key queue_keys[] = {
        {"seconds", K_FLOAT}, {"capacity", K_INT}, {"batch_size", K_INT}, {"batch_timeout", K_FLOAT}, {NULL, 0},
};
/* A configuration is a few KiB; a megabyte is certainly not one. */
#define CONFIG_SIZE_MAX (1024 * 1024)

static void report_unreadable(FILE *errors, const char *path, int r) {
        if (!errors)
                return;
        if (r == -EFBIG)
                fprintf(errors, "%s: cannot read: larger than %d MiB; is it really the configuration?\n", path,
                        CONFIG_SIZE_MAX / (1024 * 1024));
        else if (r == -EISDIR)
                fprintf(errors, "%s: cannot read: it is a directory; give the configuration file itself\n", path);
        else
                fprintf(errors, "%s: cannot read: %s\n", path, strerror(-r));
}

/* The defaults of every setting (etc/handrecd.conf documents them). */
static struct config *config_new(const char *path) {
        struct config *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        *c = (struct config){
                .jpeg_quality = 85,
                .min_free_bytes = UINT64_C(500) * 1000 * 1000,
                .sync_interval = 1.0,
                .max_memory_bytes = UINT64_C(1024) << 20,
                .queue_seconds = 3.0,
                .batch_size = 10,
                .batch_timeout = 0.5,
                .workers = 2,
                .offload = {.retry_seconds = 30, .retry_max_seconds = 900, .stall_seconds = 600},
                .qc = QC_CONFIG_DEFAULTS,
        };
        c->path = strdup(path);
        return c->path ? c : config_free(c);
}

static void parse_save(struct config_checker *ck, config_t *cfg, struct config *c) {
        config_setting_t *g = config_lookup(cfg, "save"), *s;
        const char *dir = "/var/lib/handrec";
        double v;

        if (g && config_setting_type(g) == CONFIG_TYPE_GROUP) {
                config_check_members(ck, g, "save", save_keys);
                s = config_setting_get_member(g, "output_dir");
                if (s && config_setting_type(s) == CONFIG_TYPE_STRING) {
                        dir = config_setting_get_string(s);
                        if (dir[0] != '/')
                                config_report(ck, s, "save.output_dir", "\"%s\" is not an absolute path", dir);
                        else if (path_has_dot_component(dir))
                                config_report(ck, s, "save.output_dir",
                                              "\"%s\" has a \".\" or \"..\" in it; give the folder's path without "
                                              "them (takes are named and checked by it)",
                                              dir);
                }
                if (config_get_number(ck, g, "save", "jpeg_quality", JPEG_QUALITY_MIN, JPEG_QUALITY_MAX, true, &v))
                        c->jpeg_quality = (int) v;
                if (config_get_number(ck, g, "save", "min_free_mb", 0, 1e9, true, &v))
                        c->min_free_bytes = (uint64_t) v * 1000 * 1000;
                config_get_double(ck, g, "save", "sync_interval", 0, 60, &c->sync_interval);
                if (config_get_number(ck, g, "save", "max_memory_mb", 16, 1 << 20, true, &v))
                        c->max_memory_bytes = (uint64_t) v << 20;
        }
        /* one spelling of the folder: "/data//takes/" is "/data/takes", so every path built from it
         * (the daemon's, DiscardTake's check, the uploader's) is the same string */
        c->output_dir = strdup(dir);
        if (c->output_dir)
                path_simplify(c->output_dir);
}

static void parse_queue(struct config_checker *ck, config_t *cfg, struct config *c) {
        config_setting_t *g = config_lookup(cfg, "queue");

        if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
                return;
        config_check_members(ck, g, "queue", queue_keys);
        config_get_double(ck, g, "queue", "seconds", 0.1, 60, &c->queue_seconds);
        config_get_uint(ck, g, "queue", "capacity", 1, 64, &c->queue_capacity);
        if (config_setting_get_member(g, "seconds") && config_setting_get_member(g, "capacity"))
                config_report(ck, config_setting_get_member(g, "capacity"), "queue.capacity",
                              "give queue.seconds (how long a stalled disk is absorbed) or queue.capacity "
                              "(batches), not both");
        config_get_uint(ck, g, "queue", "batch_size", 1, 300, &c->batch_size);
        config_get_double(ck, g, "queue", "batch_timeout", 0.01, 10, &c->batch_timeout);
}

/* The group qc: the thresholds that judge a take (qc.h), each in a range that means something. */
static void parse_qc(struct config_checker *ck, config_t *cfg, struct config *c) {
        config_setting_t *g = config_lookup(cfg, "qc");
        struct qc_config *q = &c->qc;

        if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
                return;
        config_check_members(ck, g, "qc", qc_keys);
        config_get_uint(ck, g, "qc", "dark_luma", 0, 255, &q->dark_luma);
        config_get_uint(ck, g, "qc", "bright_luma", 0, 255, &q->bright_luma);
        config_get_uint(ck, g, "qc", "frozen_frames", 2, 1000, &q->frozen_frames);
        config_get_double(ck, g, "qc", "blur_ratio", 0, 1, &q->blur_ratio);
        config_get_double(ck, g, "qc", "gap_periods", 1, 100, &q->gap_periods);
        config_get_double(ck, g, "qc", "max_skew_ms", 0, 1000, &q->max_skew_ms);
        config_get_uint(ck, g, "qc", "sample_every", 1, 10000, &q->sample_every);
        if (q->dark_luma >= q->bright_luma)
                config_report(ck,
                              config_setting_get_member(g, "bright_luma") ?: config_setting_get_member(g, "dark_luma"),
                              "qc.bright_luma",
                              "must be above qc.dark_luma (%u), or every frame is dark or overexposed", q->dark_luma);
}

/* Every group of the parsed file into @c, then @check of the whole when every setting was good;
 * the problems are counted in @ck. */
static void parse_all(struct config_checker *ck, config_t *cfg, struct config *c, config_check_fn *check) {
        config_setting_t *root = config_root_setting(cfg);

        config_check_members(ck, root, "", top_keys);
        parse_save(ck, cfg, c);
        parse_queue(ck, cfg, c);
        config_get_uint(ck, root, "", "workers", 1, 16, &c->workers);
        config_parse_hand(ck, cfg, "left_hand", "left", c);
        config_parse_hand(ck, cfg, "right_hand", "right", c);
        config_parse_offload(ck, cfg, c);
        parse_qc(ck, cfg, c);
        if (c->n_hands == 0)
                config_report(ck, NULL, "left_hand/right_hand",
                              "no hand is configured; add a right_hand or left_hand group");
        else if (ck->n_errors == 0 && check)
                check(ck, cfg, c);
}

int config_load(const char *path, config_check_fn *check, struct config **ret, FILE *errors) {
        struct config_checker ck = {.path = path, .errors = errors};
        struct config *c = config_new(path);
        config_t cfg;
        int r;

        if (!c)
                return -ENOMEM;
        r = read_file_max(path, CONFIG_SIZE_MAX, &c->text, NULL);
        if (r < 0) {
                report_unreadable(errors, path, r);
                config_free(c);
                return r;
        }
        config_init(&cfg);
        if (!config_read_file(&cfg, path)) {
                if (errors)
                        fprintf(errors, "%s:%d: syntax error: %s\n", config_error_file(&cfg) ?: path,
                                config_error_line(&cfg), config_error_text(&cfg));
                config_destroy(&cfg);
                config_free(c);
                return -EINVAL;
        }
        parse_all(&ck, &cfg, c, check);
        config_destroy(&cfg);
        if (!c->output_dir || ck.n_errors > 0) {
                r = c->output_dir ? -EINVAL : -ENOMEM;
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

struct config *config_free(struct config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->text);
        free(c->output_dir);
        offload_config_free(&c->offload);
        for (unsigned i = 0; i < 2; i++) {
                free(c->hands[i].camera.device);
                free(c->hands[i].camera.left_device);
                free(c->hands[i].camera.right_device);
                free(c->hands[i].camera.path);
                calibration_free(c->hands[i].calibration);
        }
        free(c);
        return NULL;
}

const struct hand_config *config_find_hand(const struct config *c, const char *name) {
        for (unsigned i = 0; i < c->n_hands; i++)
                if (streq(c->hands[i].name, name))
                        return &c->hands[i];
        return NULL;
}

const char *config_source_kind_to_string(enum source_kind k) {
        switch (k) {
        case SOURCE_SYNTHETIC: return "synthetic";
        case SOURCE_V4L2: return "v4l2";
        case SOURCE_REPLAY: return "replay";
        }
        return "?";
}

int config_setting_line(const struct config *c, const char *setting) {
        config_setting_t *s;
        config_t cfg;
        int line = 0;

        config_init(&cfg);
        if (c->text && config_read_string(&cfg, c->text) && (s = config_lookup(&cfg, setting)))
                line = config_setting_source_line(s);
        config_destroy(&cfg);
        return line;
}
