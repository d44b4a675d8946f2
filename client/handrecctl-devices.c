/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-devices.c — `handrecctl devices`: the V4L2 capture devices on this machine
 * (/dev/video*), the stable names that lead to each (/dev/v4l/by-id, by-path), the formats,
 * sizes and rates each gives, and its controls (the names camera.controls takes) with their
 * range, step, default and current value. Opens the devices directly; needs no daemon.
 */
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../daemon/util.h"
#include "../daemon/v4l2-controls.h"
#include "../daemon/v4l2-describe.h"
#include "handrecctl.h"

/* Stable names (/dev/v4l/by-id, by-path) that lead to @node. */
static void print_stable_names(const char *node) {
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
                        if (realpath(path, real) && streq(real, real_node))
                                printf("    %s\n", path);
                }
                closedir(dir);
        }
}

/* Describe the V4L2 node @path if it captures video. Return: whether it did. */
static bool describe_device(const char *path) {
        _cleanup_(closep) int fd = -1;
        struct v4l2_capability cap = {};
        uint32_t caps;

        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                printf("%s: cannot open: %s\n", path, strerror(errno));
                return false;
        }
        if (ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0)
                return false;
        caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
        if (!(caps & V4L2_CAP_VIDEO_CAPTURE))
                return false; /* metadata and output nodes */
        printf("%s: %s (%s, %s)\n", path, (const char *) cap.card, (const char *) cap.driver,
               (const char *) cap.bus_info);
        print_stable_names(path);
        v4l2_describe_formats(fd, 0, stdout, "    ");
        printf("    controls (camera.controls = { name = value; ... }):\n");
        if (v4l2_controls_describe(fd, stdout, "      ") == 0)
                printf("      none\n");
        return true;
}

int run_devices(int argc, char *argv[]) {
        struct args a = {};
        glob_t g;
        int r, shown = 0;

        r = parse_args("devices", "", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl devices\n\n"
                       "List the V4L2 capture devices with their stable names (use those in the config:\n"
                       "camera.device, camera.left_device, camera.right_device) and the formats, sizes and\n"
                       "frame rates each can give, and its controls (camera.controls) with their range, step,\n"
                       "default and current value. Opens the devices directly; needs access to /dev/video*.\n");
                return 0;
        }
        if (r)
                return r;
        if (glob("/dev/video*", 0, NULL, &g) != 0) {
                printf("No V4L2 devices (/dev/video*) on this machine.\n");
                return 0;
        }
        for (size_t i = 0; i < g.gl_pathc; i++)
                shown += describe_device(g.gl_pathv[i]);
        globfree(&g);
        if (!shown)
                printf("No V4L2 capture devices on this machine.\n");
        return 0;
}
