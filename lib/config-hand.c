/* SPDX-License-Identifier: MIT */
/*
 * config-hand.c — a hand's group of the configuration: its camera (source, devices, replay
 * folder, format, size and rate) and its calibration, checked as config-check.h says.
 */
#include <fcntl.h>
#include <linux/videodev2.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "calibration.h"
#include "config-check.h"
#include "config.h"
#include "rectify.h"
#include "util.h"
#include "v4l2-controls.h"

static const struct config_key hand_keys[] = {
        {"enabled", K_BOOL},
        {"camera", K_GROUP},
        {"rectify", K_BOOL},
        {"calibration", K_STRINGS},
        {"calibration_model", K_STRING},
        {"rectify_alpha", K_FLOAT},
        {NULL, 0},
};
static const struct config_key camera_keys[] = {
        {"source", K_STRING},       {"width", K_INT},     {"height", K_INT},     {"fps", K_FLOAT},
        {"warmup", K_FLOAT},        {"disparity", K_INT}, {"device", K_STRING},  {"left_device", K_STRING},
        {"right_device", K_STRING}, {"format", K_STRING}, {"buffers", K_INT},    {"path", K_STRING},
        {"rate", K_STRING},         {"loop", K_BOOL},     {"controls", K_GROUP}, {NULL, 0},
};

/* Look up the string setting @name of @cam: NULL when absent or not a string (reported already). */
static config_setting_t *string_member(config_setting_t *cam, const char *name) {
        config_setting_t *s = config_setting_get_member(cam, name);
        return s && config_setting_type(s) == CONFIG_TYPE_STRING ? s : NULL;
}

static void parse_source(struct config_checker *ck, config_setting_t *cam, const char *prefix,
                         struct camera_config *c) {
        config_setting_t *s = string_member(cam, "source");
        char full[256];
        const char *v;

        c->source = SOURCE_SYNTHETIC;
        if (!s)
                return;
        v = config_setting_get_string(s);
        snprintf(full, sizeof(full), "%s.source", prefix);
        if (streq(v, "v4l2"))
                c->source = SOURCE_V4L2;
        else if (streq(v, "replay"))
                c->source = SOURCE_REPLAY;
        else if (!streq(v, "synthetic"))
                config_report(ck, s, full, "unknown source \"%s\"; use \"v4l2\", \"replay\" or \"synthetic\"", v);
}

/* device, left_device, right_device: strings we keep (the config_t is destroyed after parsing). */
static void parse_devices(struct config_checker *ck, config_setting_t *cam, const char *prefix,
                          struct camera_config *c) {
        static const char *const keys[] = {"device", "left_device", "right_device"};
        char **values[] = {&c->device, &c->left_device, &c->right_device};
        char full[256];

        for (unsigned i = 0; i < ELEMENTSOF(keys); i++) {
                config_setting_t *s = string_member(cam, keys[i]);
                if (!s)
                        continue;
                snprintf(full, sizeof(full), "%s.%s", prefix, keys[i]);
                if (c->source != SOURCE_V4L2)
                        config_report(ck, s, full,
                                      "only a v4l2 camera has devices; remove it or set source = \"v4l2\"");
                else if (config_setting_get_string(s)[0] != '/')
                        config_report(ck, s, full,
                                      "\"%s\" is not a device path such as /dev/video0 or /dev/v4l/by-id/...",
                                      config_setting_get_string(s));
                else
                        *values[i] = strdup(config_setting_get_string(s));
        }
        if (c->source != SOURCE_V4L2)
                return;
        if (!c->device && !c->left_device && !c->right_device)
                config_report(ck, cam, prefix,
                              "a v4l2 camera needs device = \"/dev/...\" (both eyes side by side) or left_device "
                              "and right_device (one device per eye)");
        else if (c->device && (c->left_device || c->right_device))
                config_report(ck, cam, prefix,
                              "give either device (side by side) or left_device and right_device, not both");
        else if (!c->device && (!c->left_device || !c->right_device))
                config_report(ck, cam, prefix, "with one device per eye, give both left_device and right_device");
}

/* replay: a folder of images, its rate and whether it loops */
static void parse_replay(struct config_checker *ck, config_setting_t *cam, const char *prefix,
                         struct camera_config *c) {
        config_setting_t *s = string_member(cam, "path");
        char full[256];

        snprintf(full, sizeof(full), "%s.path", prefix);
        if (s && c->source != SOURCE_REPLAY)
                config_report(ck, s, full, "only a replay source has a path; remove it or set source = \"replay\"");
        else if (s)
                c->path = strdup(config_setting_get_string(s));
        else if (c->source == SOURCE_REPLAY)
                config_report(ck, cam, full, "a replay source needs path = \"<folder of JPEG images>\"");
        s = string_member(cam, "rate");
        if (s) {
                const char *v = config_setting_get_string(s);
                snprintf(full, sizeof(full), "%s.rate", prefix);
                if (streq(v, "max"))
                        c->rate_max = true;
                else if (!streq(v, "realtime"))
                        config_report(ck, s, full, "unknown rate \"%s\"; use \"realtime\" (at fps) or \"max\"", v);
        }
        s = config_setting_get_member(cam, "loop");
        if (s && config_setting_type(s) == CONFIG_TYPE_BOOL)
                c->loop = config_setting_get_bool(s);
}

/* A replay's images are JPEG: "MJPEG" hands side-by-side ones over as they are (passthrough);
 * without a format they are decoded. */
static void parse_replay_format(struct config_checker *ck, config_setting_t *s, const char *full, const char *v,
                                struct camera_config *c) {
        if (strcasecmp(v, "MJPEG") == 0 || strcasecmp(v, "MJPG") == 0)
                c->pixelformat = V4L2_PIX_FMT_MJPEG;
        else
                config_report(ck, s, full,
                              "a replay reads JPEG images, not \"%s\"; write format = \"MJPEG\" to store "
                              "side-by-side images as they are when a take is not rectified, or remove the "
                              "line to decode every image",
                              v);
}

static void parse_format(struct config_checker *ck, config_setting_t *cam, const char *prefix,
                         struct camera_config *c) {
        config_setting_t *s = string_member(cam, "format");
        char full[256];
        const char *v;

        c->pixelformat = c->source == SOURCE_REPLAY ? 0 : V4L2_PIX_FMT_YUYV;
        c->buffers = 4;
        config_get_uint(ck, cam, prefix, "buffers", 2, 32, &c->buffers);
        if (!s)
                return;
        v = config_setting_get_string(s);
        snprintf(full, sizeof(full), "%s.format", prefix);
        if (c->source == SOURCE_REPLAY) {
                parse_replay_format(ck, s, full, v, c);
                return;
        }
        if (strcasecmp(v, "YUYV") == 0)
                c->pixelformat = V4L2_PIX_FMT_YUYV;
        else if (strcasecmp(v, "MJPEG") == 0 || strcasecmp(v, "MJPG") == 0)
                c->pixelformat = V4L2_PIX_FMT_MJPEG;
        else if (strcasecmp(v, "YUV420") == 0 || strcasecmp(v, "I420") == 0 || strcasecmp(v, "YU12") == 0)
                c->pixelformat = V4L2_PIX_FMT_YUV420;
        else
                config_report(ck, s, full,
                              "unknown format \"%s\"; use \"YUYV\", \"MJPEG\" or \"YUV420\" (any other format "
                              "the camera has, converted by libv4l2)",
                              v);
}

/* size, rate, warm-up and the synthetic camera's disparity */
static void parse_geometry(struct config_checker *ck, config_setting_t *cam, const char *prefix,
                           struct camera_config *c) {
        char full[256];

        config_get_uint(ck, cam, prefix, "width", 64, 8192, &c->width);
        if (c->source == SOURCE_SYNTHETIC && c->width < 256) {
                snprintf(full, sizeof(full), "%s.width", prefix);
                config_report(ck, config_setting_get_member(cam, "width"), full,
                              "the synthetic camera needs a width of at least 256 (its frame-number stamp)");
        }
        config_get_uint(ck, cam, prefix, "height", 64, 4096, &c->height);
        config_check_even(ck, cam, prefix, "width", c->width);
        config_check_even(ck, cam, prefix, "height", c->height);
        config_get_double(ck, cam, prefix, "fps", 1, 240, &c->fps);
        config_get_double(ck, cam, prefix, "warmup", 0, 60, &c->warmup);
        c->disparity = c->width / 20;
        config_get_uint(ck, cam, prefix, "disparity", 0, c->width / 2, &c->disparity);
}

/* One control: a name as v4l2-ctl prints it, and an integer or true/false. Return: whether it is one. */
static bool parse_control(struct config_checker *ck, config_setting_t *s, const char *group,
                          struct camera_control *ret) {
        const char *name = config_setting_name(s);
        char full[320], canonical[CAMERA_CONTROL_NAME_MAX];

        snprintf(full, sizeof(full), "%s.%s", group, name ?: "?");
        if (!name || strlen(name) >= CAMERA_CONTROL_NAME_MAX || !streq(v4l2_control_name(name, canonical), name)) {
                config_report(ck, s, full,
                              "not a control's name as `v4l2-ctl --list-ctrls` prints it (lowercase letters, digits "
                              "and single underscores, at most %d characters; `handrecctl devices` lists them)",
                              CAMERA_CONTROL_NAME_MAX - 1);
                return false;
        }
        snprintf(ret->name, sizeof(ret->name), "%s", name);
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64: ret->value = config_setting_get_int64(s); return true;
        case CONFIG_TYPE_BOOL: ret->value = config_setting_get_bool(s); return true;
        default:
                config_report(ck, s, full, "must be an integer (for a menu, its item's number) or true or false");
                return false;
        }
}

/* The controls against the device at @path, when it is present: unknown names, values out of
 * range, off a step, menu items it has not. A device that is not there is checked when it opens. */
static void check_controls_on(struct config_checker *ck, config_setting_t *g, const char *group, const char *path,
                              const struct camera_config *c) {
        char error[1024], full[320];
        int fd;

        if (!path || !v4l2_is_video_device(path))
                return;
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return; /* not ours to open (--check-config by a user without the video group) */
        for (unsigned i = 0; i < c->n_controls; i++) {
                struct v4l2_control_info info;
                if (v4l2_control_lookup(fd, path, &c->controls[i], &info, error, sizeof(error)) >= 0)
                        continue;
                snprintf(full, sizeof(full), "%s.%s", group, c->controls[i].name);
                config_report(ck, config_setting_get_member(g, c->controls[i].name), full, "%s", error);
        }
        close(fd);
}

/* camera.controls = { name = value; ... } (a v4l2 camera's), set on each device as it opens */
static void parse_controls(struct config_checker *ck, config_setting_t *cam, const char *prefix,
                           struct camera_config *c) {
        config_setting_t *g = config_setting_get_member(cam, "controls");
        char group[256];
        int n;

        if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
                return;
        snprintf(group, sizeof(group), "%s.controls", prefix);
        if (c->source != SOURCE_V4L2) {
                config_report(ck, g, group, "only a v4l2 camera has controls; remove it or set source = \"v4l2\"");
                return;
        }
        n = config_setting_length(g);
        if (n > CAMERA_CONTROLS_MAX) {
                config_report(ck, g, group, "%d controls; at most %d", n, CAMERA_CONTROLS_MAX);
                return;
        }
        for (int i = 0; i < n; i++)
                if (parse_control(ck, config_setting_get_elem(g, (unsigned) i), group, &c->controls[c->n_controls]))
                        c->n_controls++;
        if (c->n_controls < (unsigned) n)
                return;
        check_controls_on(ck, g, group, c->device ?: c->left_device, c);
        check_controls_on(ck, g, group, c->right_device, c);
}

static void parse_camera(struct config_checker *ck, config_setting_t *cam, const char *prefix,
                         struct camera_config *c) {
        config_check_members(ck, cam, prefix, camera_keys);
        parse_source(ck, cam, prefix, c);
        parse_devices(ck, cam, prefix, c);
        parse_replay(ck, cam, prefix, c);
        parse_format(ck, cam, prefix, c);
        parse_geometry(ck, cam, prefix, c);
        parse_controls(ck, cam, prefix, c);
}

static void parse_calibration(struct config_checker *ck, config_setting_t *h, const char *group,
                              struct hand_config *hc) {
        config_setting_t *s = config_setting_get_member(h, "calibration"), *r = config_setting_get_member(h, "rectify");
        const char *paths[2];
        enum distortion_model model = MODEL_UNSET;
        double alpha = 0;
        unsigned n = 0;
        char full[128], error[1024] = "";

        if (r && config_setting_type(r) == CONFIG_TYPE_BOOL)
                hc->rectify = config_setting_get_bool(r);
        config_get_double(ck, h, group, "rectify_alpha", -1, 1, &alpha);
        config_setting_t *m = config_setting_get_member(h, "calibration_model");
        if (m && config_setting_type(m) == CONFIG_TYPE_STRING) {
                const char *v = config_setting_get_string(m);
                snprintf(full, sizeof(full), "%s.calibration_model", group);
                if (streq(v, "plumb_bob") || streq(v, "radtan"))
                        model = MODEL_PLUMB_BOB;
                else if (streq(v, "fisheye") || streq(v, "equidistant"))
                        model = MODEL_FISHEYE;
                else
                        config_report(ck, m, full,
                                      "unknown model \"%s\"; use \"plumb_bob\" (radial-tangential) or \"fisheye\"", v);
        }
        snprintf(full, sizeof(full), "%s.calibration", group);
        if (!s) {
                if (hc->rectify)
                        config_report(ck, r, full,
                                      "rectify = true needs calibration = \"<file>\" or [\"<file>\", \"<file>\"]");
                return;
        }
        if (config_setting_type(s) == CONFIG_TYPE_STRING)
                paths[n++] = config_setting_get_string(s);
        else if (config_setting_type(s) == CONFIG_TYPE_LIST || config_setting_type(s) == CONFIG_TYPE_ARRAY) {
                int len = config_setting_length(s);
                if (len < 1 || len > 2) {
                        config_report(ck, s, full, "give one or two files");
                        return;
                }
                for (int i = 0; i < len; i++) {
                        config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                                config_report(ck, s, full, "must be file names in double quotes");
                                return;
                        }
                        paths[n++] = config_setting_get_string(e);
                }
        } else
                return;
        if (!rectify_fits(hc->camera.width, hc->camera.height)) {
                config_report(ck, s, full,
                              "rectification handles eyes of up to about 4 million pixels side by side (1920x1080 "
                              "fits); %ux%u does not: lower camera.width and camera.height, or remove the calibration",
                              hc->camera.width, hc->camera.height);
                return;
        }
        if (calibration_load(paths, n, model, alpha, hc->camera.width, hc->camera.height, &hc->calibration, error,
                             sizeof(error)) < 0)
                config_report(ck, s, full, "%s", error);
}

void config_parse_hand(struct config_checker *ck, config_t *cfg, const char *group, const char *name,
                       struct config *c) {
        config_setting_t *h = config_lookup(cfg, group), *cam, *en;
        struct hand_config *hc;
        char prefix[64];

        if (!h || config_setting_type(h) != CONFIG_TYPE_GROUP)
                return;
        config_check_members(ck, h, group, hand_keys);
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
                config_report(ck, h, group, "has no camera group; add camera = { source = \"synthetic\"; ... }");
                return;
        }
        if (config_setting_type(cam) != CONFIG_TYPE_GROUP)
                return;
        snprintf(prefix, sizeof(prefix), "%s.camera", group);
        parse_camera(ck, cam, prefix, &hc->camera);
        parse_calibration(ck, h, group, hc);
}
