/* SPDX-License-Identifier: MIT */
/*
 * preflight.c — what `handrecd --check-config` checks beyond the file: what it can see of the
 * machine the configuration names. A replay folder is opened as the daemon would open it (its
 * images listed and each checked: a folder that mixes side-by-side images and left/right pairs,
 * or holds none, is an error); a camera's devices that are not there now are a warning (a camera
 * plugged in later is picked up); and free space below the reserve a take needs is a warning.
 * Main thread, before anything runs.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "source.h"
#include "../lib/util.h"

/* @path's setting @name of hand @h, as config_setting_line() finds its line. */
static void say(const struct config *c, const struct hand_config *h, const char *name, const char *kind,
                const char *sentence) {
        char setting[128];
        int line;

        snprintf(setting, sizeof(setting), "%s_hand.camera.%s", h->name, name);
        line = config_setting_line(c, setting);
        if (line > 0)
                fprintf(stderr, "%s:%d: %s: %s%s\n", c->path, line, setting, kind, sentence);
        else
                fprintf(stderr, "%s: %s: %s%s\n", c->path, setting, kind, sentence);
}

int preflight_replay(const struct hand_config *h, char *why, size_t len) {
        struct source *s = NULL;
        int r = source_replay_new(&h->camera, &s);

        if (r >= 0)
                r = source_open(s);
        if (r < 0)
                snprintf(why, len, "%s", s && source_error(s)[0] ? source_error(s) : strerror(-r));
        source_free(s);
        return r;
}

/* A replay folder, opened as the daemon opens it. Return: whether it can be played. */
static bool replay_playable(const struct config *c, const struct hand_config *h) {
        char why[1200];

        if (preflight_replay(h, why, sizeof(why)) >= 0)
                return true;
        say(c, h, "path", "", why);
        return false;
}

static void warn_missing_device(const struct config *c, const struct hand_config *h, const char *name,
                                const char *device) {
        struct stat st;
        char why[PATH_MAX + 200];

        if (!device || stat(device, &st) == 0)
                return;
        snprintf(why, sizeof(why), "%s is not there now (%s); the camera is picked up when it is plugged in", device,
                 strerror(errno));
        say(c, h, name, "warning: ", why);
}

static void warn_free_space(const struct config *c) {
        uint64_t free_bytes = disk_free_bytes(c->output_dir);

        if (free_bytes < c->min_free_bytes)
                fprintf(stderr,
                        "%s: warning: %s has %llu MB free, less than save.min_free_mb = %llu: every take is refused "
                        "(StorageFull) until space is freed\n",
                        c->path, c->output_dir, (unsigned long long) (free_bytes / 1000000),
                        (unsigned long long) (c->min_free_bytes / 1000000));
}

int preflight(const struct config *c) {
        int errors = 0;

        for (unsigned i = 0; i < c->n_hands; i++) {
                const struct hand_config *h = &c->hands[i];
                switch (h->camera.source) {
                case SOURCE_REPLAY: errors += !replay_playable(c, h); break;
                case SOURCE_V4L2:
                        warn_missing_device(c, h, "device", h->camera.device);
                        warn_missing_device(c, h, "left_device", h->camera.left_device);
                        warn_missing_device(c, h, "right_device", h->camera.right_device);
                        break;
                default: break;
                }
        }
        warn_free_space(c);
        return errors ? -EINVAL : 0;
}
