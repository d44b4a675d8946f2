/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-devices.c — `handrecctl devices`: the V4L2 capture devices on this machine
 * (/dev/video*), the stable names that lead to each (/dev/v4l/by-id, by-path), the formats,
 * sizes and rates each gives, and its controls (the names camera.controls takes) with their
 * range, step, default and current value. Opens the devices directly; needs no daemon. --json:
 * the same as one document ({devices: [{device, card, driver, bus_info, stable_names, formats:
 * [{fourcc, description, sizes: [{width, height, fps: [...]}]}], controls: [{name, label, type,
 * minimum, maximum, step, default, value, flags}]}]}), built with json-c.
 */
#include <dirent.h>
#include <json-c/json.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../lib/util.h"
#include "../lib/v4l2-controls.h"
#include "../lib/v4l2-describe.h"
#include "handrecctl.h"

/* Stable names (/dev/v4l/by-id, by-path) that lead to @node: printed, or added to @list when not NULL. */
static void stable_names(const char *node, json_object *list) {
        static const char *const dirs[] = {"/dev/v4l/by-id", "/dev/v4l/by-path"};
        char real_node[PATH_MAX];

        if (!realpath(node, real_node))
                return;
        for (size_t d = 0; d < ELEMENTSOF(dirs); d++) {
                DIR *dir = opendir(dirs[d]);
                struct dirent *de;
                if (!dir)
                        continue;
                while ((de = readdir(dir))) {
                        char path[PATH_MAX], real[PATH_MAX];
                        if (de->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
                        if (!realpath(path, real) || !streq(real, real_node))
                                continue;
                        if (list)
                                json_object_array_add(list, json_object_new_string(path));
                        else
                                printf("    %s\n", path);
                }
                closedir(dir);
        }
}

/* The frame rates of @fourcc at @w x @h (discrete intervals; a stepwise range: its ends). */
static json_object *json_rates(int fd, uint32_t fourcc, uint32_t w, uint32_t h) {
        json_object *list = json_object_new_array();
        struct v4l2_frmivalenum iv = {.pixel_format = fourcc, .width = w, .height = h};

        for (; ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &iv) == 0; iv.index++) {
                const struct v4l2_fract *f[2] = {&iv.discrete, &iv.stepwise.max};
                unsigned n = iv.type == V4L2_FRMIVAL_TYPE_DISCRETE ? 1 : 2;
                if (n == 2)
                        f[0] = &iv.stepwise.min;
                for (unsigned i = 0; i < n; i++)
                        if (f[i]->numerator)
                                json_object_array_add(list,
                                                      json_new_double((double) f[i]->denominator / f[i]->numerator));
                if (n == 2)
                        break;
        }
        return list;
}

/* The sizes of @fourcc, each with its rates (a stepwise range: its smallest and largest size). */
static json_object *json_sizes(int fd, uint32_t fourcc) {
        json_object *list = json_object_new_array();
        struct v4l2_frmsizeenum fs = {.pixel_format = fourcc};

        for (; ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) == 0; fs.index++) {
                bool discrete = fs.type == V4L2_FRMSIZE_TYPE_DISCRETE;
                uint32_t wh[2][2] = {{fs.discrete.width, fs.discrete.height}, {0, 0}};
                if (!discrete) {
                        wh[0][0] = fs.stepwise.min_width, wh[0][1] = fs.stepwise.min_height;
                        wh[1][0] = fs.stepwise.max_width, wh[1][1] = fs.stepwise.max_height;
                }
                for (unsigned i = 0; i < (discrete ? 1u : 2u); i++) {
                        json_object *s = json_object_new_object();
                        json_object_object_add(s, "width", json_object_new_int64(wh[i][0]));
                        json_object_object_add(s, "height", json_object_new_int64(wh[i][1]));
                        json_object_object_add(s, "fps", json_rates(fd, fourcc, wh[i][0], wh[i][1]));
                        json_object_array_add(list, s);
                }
                if (!discrete)
                        break;
        }
        return list;
}

static json_object *json_formats(int fd) {
        json_object *list = json_object_new_array();
        struct v4l2_fmtdesc f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        char fourcc[8];

        for (; ioctl(fd, VIDIOC_ENUM_FMT, &f) == 0; f.index++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "fourcc",
                                       json_object_new_string(v4l2_fourcc_to_string(f.pixelformat, fourcc)));
                json_object_object_add(o, "description", json_object_new_string((const char *) f.description));
                json_object_object_add(o, "sizes", json_sizes(fd, f.pixelformat));
                json_object_array_add(list, o);
        }
        return list;
}

static json_object *json_controls(int fd) {
        json_object *list = json_object_new_array();
        struct v4l2_control_info c = {};
        int64_t v;

        while (v4l2_control_next(fd, &c) > 0) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(c.name));
                json_object_object_add(o, "label", json_object_new_string(c.label));
                json_object_object_add(o, "type", json_object_new_int64(c.type));
                json_object_object_add(o, "minimum", json_object_new_int64(c.minimum));
                json_object_object_add(o, "maximum", json_object_new_int64(c.maximum));
                json_object_object_add(o, "step", json_object_new_int64(c.step));
                json_object_object_add(o, "default", json_object_new_int64(c.default_value));
                json_object_object_add(o, "value", v4l2_control_get(fd, &c, &v) >= 0 ? json_object_new_int64(v) : NULL);
                json_object_object_add(o, "flags", json_object_new_int64(c.flags));
                json_object_array_add(list, o);
        }
        return list;
}

/* @path described as one object of devices --json. */
static json_object *json_device(int fd, const char *path, const struct v4l2_capability *cap) {
        json_object *o = json_object_new_object(), *names = json_object_new_array();

        json_object_object_add(o, "device", json_object_new_string(path));
        json_object_object_add(o, "card", json_object_new_string((const char *) cap->card));
        json_object_object_add(o, "driver", json_object_new_string((const char *) cap->driver));
        json_object_object_add(o, "bus_info", json_object_new_string((const char *) cap->bus_info));
        stable_names(path, names);
        json_object_object_add(o, "stable_names", names);
        json_object_object_add(o, "formats", json_formats(fd));
        json_object_object_add(o, "controls", json_controls(fd));
        return o;
}

/* Describe the V4L2 node @path if it captures video: printed, or added to @list. Return: whether it did. */
static bool describe_device(const char *path, json_object *list) {
        _cleanup_(closep) int fd = -1;
        struct v4l2_capability cap = {};
        uint32_t caps;

        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                if (!list)
                        printf("%s: cannot open: %s\n", path, strerror(errno));
                return false;
        }
        if (ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0)
                return false;
        caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
        if (!(caps & V4L2_CAP_VIDEO_CAPTURE))
                return false; /* metadata and output nodes */
        if (list) {
                json_object_array_add(list, json_device(fd, path, &cap));
                return true;
        }
        printf("%s: %s (%s, %s)\n", path, (const char *) cap.card, (const char *) cap.driver,
               (const char *) cap.bus_info);
        stable_names(path, NULL);
        v4l2_describe_formats(fd, 0, stdout, "    ");
        printf("    controls (camera.controls = { name = value; ... }):\n");
        if (v4l2_controls_describe(fd, stdout, "      ") == 0)
                printf("      none\n");
        return true;
}

int run_devices(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *list = NULL;
        struct args a = {};
        glob_t g;
        int r, shown = 0;

        r = parse_args("devices", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl devices [--json]\n\n"
                       "List the V4L2 capture devices with their stable names (use those in the config:\n"
                       "camera.device, camera.left_device, camera.right_device) and the formats, sizes and\n"
                       "frame rates each can give, and its controls (camera.controls) with their range, step,\n"
                       "default and current value. Opens the devices directly; needs access to /dev/video*.\n"
                       "--json prints {devices:[...]} (keys in handrecctl(1)); an empty list when there is none.\n");
                return 0;
        }
        if (r)
                return r;
        if (a.json) {
                o = json_object_new_object();
                list = json_object_new_array();
                json_object_object_add(o, "devices", list);
        }
        if (glob("/dev/video*", 0, NULL, &g) != 0) {
                if (a.json)
                        return json_print(o);
                printf("No V4L2 devices (/dev/video*) on this machine.\n");
                return 0;
        }
        for (size_t i = 0; i < g.gl_pathc; i++)
                shown += describe_device(g.gl_pathv[i], list);
        globfree(&g);
        if (a.json)
                return json_print(o);
        if (!shown)
                printf("No V4L2 capture devices on this machine.\n");
        return 0;
}
