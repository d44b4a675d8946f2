/* SPDX-License-Identifier: MIT */
/*
 * config.c — reads the libconfig file and checks every setting against one table per group.
 * It reports every problem it finds (not just the first) as "file:line: setting: what is wrong",
 * and refuses unknown settings: a misspelt name must never fall back silently to a default.
 */
#include "config.h"

#include <libconfig.h>
#include <linux/videodev2.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "calibration.h"
#include "memory-budget.h"
#include "util.h"

enum kind { K_INT, K_FLOAT, K_STRING, K_BOOL, K_GROUP, K_STRINGS /* a string or a list of strings */ };

struct key {
        const char *name;
        enum kind kind;
};

static const struct key top_keys[] = {
        {"save", K_GROUP},       {"queue", K_GROUP},     {"workers", K_INT},
        {"right_hand", K_GROUP}, {"left_hand", K_GROUP}, {NULL, 0},
};
static const struct key save_keys[] = {
        {"output_dir", K_STRING},   {"jpeg_quality", K_INT},  {"min_free_mb", K_INT},
        {"sync_interval", K_FLOAT}, {"max_memory_mb", K_INT}, {NULL, 0},
};
static const struct key queue_keys[] = {
        {"seconds", K_FLOAT}, {"capacity", K_INT}, {"batch_size", K_INT}, {"batch_timeout", K_FLOAT}, {NULL, 0},
};
static const struct key hand_keys[] = {
        {"enabled", K_BOOL},
        {"camera", K_GROUP},
        {"rectify", K_BOOL},
        {"calibration", K_STRINGS},
        {"calibration_model", K_STRING},
        {"rectify_alpha", K_FLOAT},
        {NULL, 0},
};
static const struct key camera_keys[] = {
        {"source", K_STRING}, {"width", K_INT},          {"height", K_INT},
        {"fps", K_FLOAT},     {"warmup", K_FLOAT},       {"disparity", K_INT},
        {"device", K_STRING}, {"left_device", K_STRING}, {"right_device", K_STRING},
        {"format", K_STRING}, {"buffers", K_INT},        {"path", K_STRING},
        {"rate", K_STRING},   {"loop", K_BOOL},          {NULL, 0},
};

struct checker {
        const char *path;
        FILE *errors;
        unsigned n_errors;
};

static void _printf_(4, 5)
        report(struct checker *ck, const config_setting_t *s, const char *name, const char *format, ...) {
        va_list ap;
        const char *file = s ? config_setting_source_file(s) : NULL;
        unsigned line = s ? config_setting_source_line(s) : 0;

        ck->n_errors++;
        if (!ck->errors)
                return;
        if (line > 0)
                fprintf(ck->errors, "%s:%u: %s: ", file ?: ck->path, line, name);
        else
                fprintf(ck->errors, "%s: %s: ", file ?: ck->path, name);
        va_start(ap, format);
        vfprintf(ck->errors, format, ap);
        va_end(ap);
        fputc('\n', ck->errors);
}

static const char *kind_name(enum kind k) {
        switch (k) {
        case K_INT: return "an integer";
        case K_FLOAT: return "a number";
        case K_STRING: return "a string in double quotes";
        case K_BOOL: return "true or false";
        case K_GROUP: return "a group { ... }";
        case K_STRINGS: return "a string or a list of strings [\"...\", \"...\"]";
        }
        return "?";
}

static bool kind_matches(enum kind k, int type) {
        switch (k) {
        case K_INT: return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
        case K_FLOAT: return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 || type == CONFIG_TYPE_FLOAT;
        case K_STRING: return type == CONFIG_TYPE_STRING;
        case K_BOOL: return type == CONFIG_TYPE_BOOL;
        case K_GROUP: return type == CONFIG_TYPE_GROUP;
        case K_STRINGS: return type == CONFIG_TYPE_STRING || type == CONFIG_TYPE_LIST || type == CONFIG_TYPE_ARRAY;
        }
        return false;
}

/* Every member of @group must be in @keys, with the right type. */
static void check_members(struct checker *ck, const config_setting_t *group, const char *prefix,
                          const struct key *keys) {
        int n = config_setting_length(group);

        for (int i = 0; i < n; i++) {
                config_setting_t *s = config_setting_get_elem(group, i);
                const char *name = config_setting_name(s);
                char full[256];
                const struct key *k;

                snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "", name ?: "?");
                for (k = keys; k->name; k++)
                        if (name && streq(k->name, name))
                                break;
                if (!k->name) {
                        char known[512] = "";
                        for (const struct key *j = keys; j->name; j++)
                                snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
                                         j == keys ? "" : ", ", j->name);
                        report(ck, s, full, "unknown setting; known here: %s", known);
                        continue;
                }
                if (!kind_matches(k->kind, config_setting_type(s)))
                        report(ck, s, full, "must be %s", kind_name(k->kind));
        }
}

/* Readers that leave *ret alone when the setting is absent (so the default stands) or wrong. */
static bool get_number(struct checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                       double min, double max, bool integer, double *ret) {
        config_setting_t *s = config_setting_get_member(group, name);
        char full[256];
        double v;

        if (!s)
                return false;
        snprintf(full, sizeof(full), "%s.%s", prefix, name);
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64: v = (double) config_setting_get_int64(s); break;
        case CONFIG_TYPE_FLOAT:
                if (integer)
                        return false; /* already reported by check_members() */
                v = config_setting_get_float(s);
                break;
        default: return false;
        }
        if (!isfinite(v) || v < min || v > max) {
                if (integer)
                        report(ck, s, full, "%g is out of range; use %.0f to %.0f", v, min, max);
                else
                        report(ck, s, full, "%g is out of range; use %g to %g", v, min, max);
                return false;
        }
        *ret = v;
        return true;
}

static void get_uint(struct checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                     unsigned min, unsigned max, unsigned *ret) {
        double v;
        if (get_number(ck, group, prefix, name, min, max, true, &v))
                *ret = (unsigned) v;
}

static void get_double(struct checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                       double min, double max, double *ret) {
        get_number(ck, group, prefix, name, min, max, false, ret);
}

/* I420 planes need even sizes (chroma is half in each direction) */
static void check_even(struct checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                       unsigned value) {
        char full[256];

        if (value % 2 == 0)
                return;
        snprintf(full, sizeof(full), "%s.%s", prefix, name);
        report(ck, config_setting_get_member(group, name), full, "%u is odd; use an even %s", value, name);
}

static void parse_camera(struct checker *ck, config_setting_t *cam, const char *prefix, struct camera_config *c) {
        config_setting_t *s;
        char full[256];

        check_members(ck, cam, prefix, camera_keys);

        snprintf(full, sizeof(full), "%s.source", prefix);
        s = config_setting_get_member(cam, "source");
        if (!s)
                c->source = SOURCE_SYNTHETIC;
        else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *v = config_setting_get_string(s);
                if (streq(v, "synthetic"))
                        c->source = SOURCE_SYNTHETIC;
                else if (streq(v, "v4l2"))
                        c->source = SOURCE_V4L2;
                else if (streq(v, "replay"))
                        c->source = SOURCE_REPLAY;
                else
                        report(ck, s, full, "unknown source \"%s\"; use \"v4l2\", \"replay\" or \"synthetic\"", v);
        }

        /* devices: strings we keep (the config_t is destroyed after parsing) */
        static const char *const dev_keys[] = {"device", "left_device", "right_device"};
        char **dev_vals[] = {&c->device, &c->left_device, &c->right_device};
        for (unsigned i = 0; i < 3; i++) {
                s = config_setting_get_member(cam, dev_keys[i]);
                if (s && config_setting_type(s) == CONFIG_TYPE_STRING) {
                        snprintf(full, sizeof(full), "%s.%s", prefix, dev_keys[i]);
                        if (c->source != SOURCE_V4L2)
                                report(ck, s, full,
                                       "only a v4l2 camera has devices; remove it or set source = \"v4l2\"");
                        else if (config_setting_get_string(s)[0] != '/')
                                report(ck, s, full,
                                       "\"%s\" is not a device path such as /dev/video0 or "
                                       "/dev/v4l/by-id/...",
                                       config_setting_get_string(s));
                        else
                                *dev_vals[i] = strdup(config_setting_get_string(s));
                }
        }
        if (c->source == SOURCE_V4L2) {
                snprintf(full, sizeof(full), "%s", prefix);
                if (!c->device && !c->left_device && !c->right_device)
                        report(ck, cam, full,
                               "a v4l2 camera needs device = \"/dev/...\" (both eyes side by side) or "
                               "left_device and right_device (one device per eye)");
                else if (c->device && (c->left_device || c->right_device))
                        report(ck, cam, full,
                               "give either device (side by side) or left_device and right_device, "
                               "not both");
                else if (!c->device && (!c->left_device || !c->right_device))
                        report(ck, cam, full, "with one device per eye, give both left_device and right_device");
        }
        /* replay: a folder of images */
        s = config_setting_get_member(cam, "path");
        snprintf(full, sizeof(full), "%s.path", prefix);
        if (s && config_setting_type(s) == CONFIG_TYPE_STRING) {
                if (c->source != SOURCE_REPLAY)
                        report(ck, s, full, "only a replay source has a path; remove it or set source = \"replay\"");
                else
                        c->path = strdup(config_setting_get_string(s));
        } else if (c->source == SOURCE_REPLAY)
                report(ck, cam, full, "a replay source needs path = \"<folder of JPEG images>\"");
        s = config_setting_get_member(cam, "rate");
        if (s && config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *v = config_setting_get_string(s);
                snprintf(full, sizeof(full), "%s.rate", prefix);
                if (streq(v, "max"))
                        c->rate_max = true;
                else if (!streq(v, "realtime"))
                        report(ck, s, full, "unknown rate \"%s\"; use \"realtime\" (at fps) or \"max\"", v);
        }
        s = config_setting_get_member(cam, "loop");
        if (s && config_setting_type(s) == CONFIG_TYPE_BOOL)
                c->loop = config_setting_get_bool(s);

        c->pixelformat = V4L2_PIX_FMT_YUYV;
        s = config_setting_get_member(cam, "format");
        if (s && config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *v = config_setting_get_string(s);
                snprintf(full, sizeof(full), "%s.format", prefix);
                if (strcasecmp(v, "YUYV") == 0)
                        c->pixelformat = V4L2_PIX_FMT_YUYV;
                else if (strcasecmp(v, "MJPEG") == 0 || strcasecmp(v, "MJPG") == 0)
                        c->pixelformat = V4L2_PIX_FMT_MJPEG;
                else if (strcasecmp(v, "YUV420") == 0 || strcasecmp(v, "I420") == 0 || strcasecmp(v, "YU12") == 0)
                        c->pixelformat = V4L2_PIX_FMT_YUV420;
                else
                        report(ck, s, full,
                               "unknown format \"%s\"; use \"YUYV\", \"MJPEG\" or \"YUV420\" (any "
                               "other format the camera has, converted by libv4l2)",
                               v);
        }
        c->buffers = 4;
        get_uint(ck, cam, prefix, "buffers", 2, 32, &c->buffers);

        get_uint(ck, cam, prefix, "width", 64, 8192, &c->width);
        if (c->source == SOURCE_SYNTHETIC && c->width < 256) {
                snprintf(full, sizeof(full), "%s.width", prefix);
                report(ck, config_setting_get_member(cam, "width"), full,
                       "the synthetic camera needs a width of at least 256 (its frame-number stamp)");
        }
        get_uint(ck, cam, prefix, "height", 64, 4096, &c->height);
        check_even(ck, cam, prefix, "width", c->width);
        check_even(ck, cam, prefix, "height", c->height);
        get_double(ck, cam, prefix, "fps", 1, 240, &c->fps);
        get_double(ck, cam, prefix, "warmup", 0, 60, &c->warmup);
        c->disparity = c->width / 20;
        get_uint(ck, cam, prefix, "disparity", 0, c->width / 2, &c->disparity);
}

static void parse_calibration(struct checker *ck, config_setting_t *h, const char *group, struct hand_config *hc) {
        config_setting_t *s = config_setting_get_member(h, "calibration"), *r = config_setting_get_member(h, "rectify");
        const char *paths[2];
        enum distortion_model model = MODEL_UNSET;
        double alpha = 0;
        unsigned n = 0;
        char full[128], error[1024] = "";

        if (r && config_setting_type(r) == CONFIG_TYPE_BOOL)
                hc->rectify = config_setting_get_bool(r);
        get_double(ck, h, group, "rectify_alpha", -1, 1, &alpha);
        config_setting_t *m = config_setting_get_member(h, "calibration_model");
        if (m && config_setting_type(m) == CONFIG_TYPE_STRING) {
                const char *v = config_setting_get_string(m);
                snprintf(full, sizeof(full), "%s.calibration_model", group);
                if (streq(v, "plumb_bob") || streq(v, "radtan"))
                        model = MODEL_PLUMB_BOB;
                else if (streq(v, "fisheye") || streq(v, "equidistant"))
                        model = MODEL_FISHEYE;
                else
                        report(ck, m, full,
                               "unknown model \"%s\"; use \"plumb_bob\" (radial-tangential) or \"fisheye\"", v);
        }
        snprintf(full, sizeof(full), "%s.calibration", group);
        if (!s) {
                if (hc->rectify)
                        report(ck, r, full,
                               "rectify = true needs calibration = \"<file>\" or [\"<file>\", \"<file>\"]");
                return;
        }
        if (config_setting_type(s) == CONFIG_TYPE_STRING)
                paths[n++] = config_setting_get_string(s);
        else if (config_setting_type(s) == CONFIG_TYPE_LIST || config_setting_type(s) == CONFIG_TYPE_ARRAY) {
                int len = config_setting_length(s);
                if (len < 1 || len > 2) {
                        report(ck, s, full, "give one or two files");
                        return;
                }
                for (int i = 0; i < len; i++) {
                        config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                                report(ck, s, full, "must be file names in double quotes");
                                return;
                        }
                        paths[n++] = config_setting_get_string(e);
                }
        } else
                return;
        if (calibration_load(paths, n, model, alpha, hc->camera.width, hc->camera.height, &hc->calibration, error,
                             sizeof(error)) < 0)
                report(ck, s, full, "%s", error);
}

static void parse_hand(struct checker *ck, config_t *cfg, const char *group, const char *name, struct config *c) {
        config_setting_t *h = config_lookup(cfg, group), *cam, *en;
        struct hand_config *hc;
        char prefix[64];

        if (!h || config_setting_type(h) != CONFIG_TYPE_GROUP)
                return;
        check_members(ck, h, group, hand_keys);
        en = config_setting_get_member(h, "enabled");
        if (en && config_setting_type(en) == CONFIG_TYPE_BOOL && !config_setting_get_bool(en))
                return;

        hc = &c->hands[c->n_hands++];
        *hc = (struct hand_config){
                .name = name,
                .camera = {.source = SOURCE_SYNTHETIC, .width = 1280, .height = 720, .fps = 30, .warmup = 0.5},
        };
        cam = config_setting_get_member(h, "camera");
        if (!cam) {
                report(ck, h, group, "has no camera group; add camera = { source = \"synthetic\"; ... }");
                return;
        }
        if (config_setting_type(cam) != CONFIG_TYPE_GROUP)
                return;
        snprintf(prefix, sizeof(prefix), "%s.camera", group);
        parse_camera(ck, cam, prefix, &hc->camera);
        parse_calibration(ck, h, group, hc);
}

static unsigned long long mib(uint64_t bytes) {
        return (unsigned long long) ((bytes + (1 << 20) - 1) >> 20);
}

/* The first of @paths the file sets, for the line of an error about a value it implies. */
static const char *first_set(config_t *cfg, const char *const *paths, unsigned n, config_setting_t **ret) {
        for (unsigned i = 0; i < n; i++)
                if (paths[i] && (*ret = config_lookup(cfg, paths[i])))
                        return paths[i];
        *ret = NULL;
        return NULL;
}

/* Where to point at when the memory is too much: the setting behind the largest part of the
 * largest hand, or the first of its fallbacks the file sets. */
static const char *memory_culprit(config_t *cfg, const struct config *c, const struct hand_config *h,
                                  const struct memory_budget *b, char paths[4][64], config_setting_t **ret) {
        const char *hand = streq(h->name, "left") ? "left_hand" : "right_hand";
        const char *order[6] = {};
        unsigned n = 0;

        snprintf(paths[0], 64, "%s.camera.width", hand);
        snprintf(paths[1], 64, "%s.camera.height", hand);
        snprintf(paths[2], 64, "%s.calibration", hand);
        snprintf(paths[3], 64, "%s.camera", hand);
        if (b->queue >= b->jobs + b->encoders && b->queue >= b->rectify) {
                order[n++] = c->queue_capacity > 0 ? "queue.capacity" : "queue.seconds";
                order[n++] = "queue.batch_size";
        } else if (b->rectify > b->jobs + b->encoders)
                order[n++] = paths[2];
        else
                order[n++] = "workers";
        order[n++] = paths[0];
        order[n++] = paths[1];
        order[n++] = paths[3];
        order[n++] = hand;
        return first_set(cfg, order, n, ret) ?: "save.max_memory_mb";
}

/* The daemon's worst-case memory (memory-budget.h) against save.max_memory_mb, reported at the
 * setting that weighs most. Only for a configuration without other errors: its numbers hold. */
static void check_memory(struct checker *ck, config_t *cfg, const struct config *c) {
        struct memory_budget b[2], *big = &b[0];
        uint64_t total = MEMORY_BUDGET_PROCESS;
        char parts[512] = "", paths[4][64];
        config_setting_t *s;
        const char *name;

        for (unsigned i = 0; i < c->n_hands; i++) {
                total += memory_budget_hand(c, &c->hands[i], &b[i]);
                if (b[i].total > big->total)
                        big = &b[i];
                snprintf(parts + strlen(parts), sizeof(parts) - strlen(parts),
                         "%s_hand %llu MB: queue %llu, frames and encoders %llu, rectification %llu, camera %llu, "
                         "writer and threads %llu; ",
                         c->hands[i].name, mib(b[i].total), mib(b[i].queue), mib(b[i].jobs + b[i].encoders),
                         mib(b[i].rectify), mib(b[i].source), mib(b[i].writer + b[i].threads));
        }
        if (total <= c->max_memory_bytes)
                return;
        name = memory_culprit(cfg, c, &c->hands[big - b], big, paths, &s);
        if (!s)
                s = config_lookup(cfg, name);
        report(ck, s, name,
               "these settings need %llu MB, more than save.max_memory_mb = %llu (%sthe process %llu MB); lower "
               "queue.seconds or queue.capacity, queue.batch_size, workers or the image size, or raise "
               "save.max_memory_mb",
               mib(total), mib(c->max_memory_bytes), parts, mib(MEMORY_BUDGET_PROCESS));
}

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

int config_load(const char *path, struct config **ret, FILE *errors) {
        struct checker ck = {.path = path, .errors = errors};
        struct config *c;
        config_setting_t *root, *g;
        config_t cfg;
        const char *dir = "/var/lib/handrec";
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (struct config){
                .jpeg_quality = 85,
                .min_free_bytes = UINT64_C(500) * 1000 * 1000,
                .sync_interval = 1.0,
                .max_memory_bytes = UINT64_C(1024) << 20,
                .queue_seconds = 3.0,
                .batch_size = 10,
                .batch_timeout = 0.5,
                .workers = 2,
        };
        c->path = strdup(path);
        if (!c->path) {
                config_free(c);
                return -ENOMEM;
        }
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
        root = config_root_setting(&cfg);
        check_members(&ck, root, "", top_keys);

        g = config_lookup(&cfg, "save");
        if (g && config_setting_type(g) == CONFIG_TYPE_GROUP) {
                config_setting_t *s;
                double v;

                check_members(&ck, g, "save", save_keys);
                s = config_setting_get_member(g, "output_dir");
                if (s && config_setting_type(s) == CONFIG_TYPE_STRING) {
                        dir = config_setting_get_string(s);
                        if (dir[0] != '/')
                                report(&ck, s, "save.output_dir", "\"%s\" is not an absolute path", dir);
                }
                if (get_number(&ck, g, "save", "jpeg_quality", JPEG_QUALITY_MIN, JPEG_QUALITY_MAX, true, &v))
                        c->jpeg_quality = (int) v;
                if (get_number(&ck, g, "save", "min_free_mb", 0, 1e9, true, &v))
                        c->min_free_bytes = (uint64_t) v * 1000 * 1000;
                get_double(&ck, g, "save", "sync_interval", 0, 60, &c->sync_interval);
                if (get_number(&ck, g, "save", "max_memory_mb", 16, 1 << 20, true, &v))
                        c->max_memory_bytes = (uint64_t) v << 20;
        }
        c->output_dir = strdup(dir);

        g = config_lookup(&cfg, "queue");
        if (g && config_setting_type(g) == CONFIG_TYPE_GROUP) {
                check_members(&ck, g, "queue", queue_keys);
                get_double(&ck, g, "queue", "seconds", 0.1, 60, &c->queue_seconds);
                get_uint(&ck, g, "queue", "capacity", 1, 64, &c->queue_capacity);
                if (config_setting_get_member(g, "seconds") && config_setting_get_member(g, "capacity"))
                        report(&ck, config_setting_get_member(g, "capacity"), "queue.capacity",
                               "give queue.seconds (how long a stalled disk is absorbed) or queue.capacity "
                               "(batches), not both");
                get_uint(&ck, g, "queue", "batch_size", 1, 300, &c->batch_size);
                get_double(&ck, g, "queue", "batch_timeout", 0.01, 10, &c->batch_timeout);
        }
        get_uint(&ck, root, "", "workers", 1, 16, &c->workers);

        parse_hand(&ck, &cfg, "left_hand", "left", c);
        parse_hand(&ck, &cfg, "right_hand", "right", c);
        if (c->n_hands == 0)
                report(&ck, NULL, "left_hand/right_hand", "no hand is configured; add a right_hand or left_hand group");
        else if (ck.n_errors == 0)
                check_memory(&ck, &cfg, c);

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
