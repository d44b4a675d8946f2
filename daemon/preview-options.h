/* SPDX-License-Identifier: MIT */
/*
 * preview-options.h — OpenPreview's options (an a{sv}: fps, max_width, rectified, guides,
 * quality) read from the call and checked, each refusal a sentence. Main thread only.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

struct hand_config;

struct preview_options {
        double fps;         /* 0.5 to 30 */
        unsigned max_width; /* the JPEG is at most this wide (both eyes); 0: full size */
        bool rectified;
        bool guides;
        int quality; /* 30 to 95 */
};

#define PREVIEW_FPS_DEFAULT 10.0
#define PREVIEW_MAX_WIDTH_DEFAULT 1280
#define PREVIEW_QUALITY_DEFAULT 70

/**
 * preview_options_read() - read the a{sv} at @m's read position into @o, which is first set to
 * the defaults for @hand (borrowed: its rectify setting, whether it has a calibration).
 * Return: 0; negative errno, with @error set to org.handrec1.Error.InvalidOption when an option
 * is refused.
 */
int preview_options_read(sd_bus_message *m, const struct hand_config *hand, struct preview_options *o,
                         sd_bus_error *error);
