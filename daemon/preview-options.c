/* SPDX-License-Identifier: MIT */
/*
 * preview-options.c — OpenPreview's options: one reader per key in one table, read by
 * bus-options.c's options_read() as StartRecording's are. Unknown keys, keys given twice, wrong types and values
 * out of range are refused with org.handrec1.Error.InvalidOption and a sentence. Main thread only.
 */
#include "preview-options.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../lib/bus-names.h"
#include "bus-options.h"
#include "../lib/config.h"
#include "../lib/util.h"

#define PREVIEW_OPTIONS_HELP                                                                                           \
        "known options: fps (d, 0.5-30), max_width (u, pixels, 0 = full size), rectified (b), guides (b), quality "    \
        "(i, 30-95)"

/* What a reader works on: the hand the preview is of, and the options read so far. */
struct preview_reading {
        const struct hand_config *hand;
        struct preview_options *o;
};

static int option_fps(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct preview_reading *c = ctx;
        double v = 0;
        int r = options_number(m, contents, "fps", "d", &v, error);

        if (r < 0)
                return r;
        if (!isfinite(v) || v < 0.5 || v > 30)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Preview rate %g is out of range: give frames a second from 0.5 to 30.", v);
        c->o->fps = v;
        return 0;
}

static int option_max_width(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct preview_reading *c = ctx;
        double v = 0;
        int r = options_number(m, contents, "max_width", "u", &v, error);

        if (r < 0)
                return r;
        if (v != floor(v) || v < 0 || v > 65535)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "max_width %g is out of range: give a whole number of pixels up to 65535, "
                                         "or 0 for the full size.",
                                         v);
        c->o->max_width = (unsigned) v;
        return 0;
}

static int option_rectified(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct preview_reading *c = ctx;
        int r = options_boolean(m, contents, "rectified", &c->o->rectified, error);

        if (r < 0)
                return r;
        if (c->o->rectified && !c->hand->calibration)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Hand %s has no calibration to rectify with; set calibration in its config "
                                         "group (%s_hand.calibration), or leave rectified out.",
                                         c->hand->name, c->hand->name);
        return 0;
}

static int option_guides(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct preview_reading *c = ctx;
        return options_boolean(m, contents, "guides", &c->o->guides, error);
}

static int option_quality(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct preview_reading *c = ctx;
        double v = 0;
        int r = options_number(m, contents, "quality", "i", &v, error);

        if (r < 0)
                return r;
        if (v != floor(v) || v < 30 || v > 95)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Preview quality %g is out of range: use a whole number from 30 to 95.", v);
        c->o->quality = (int) v;
        return 0;
}

static const struct option_key option_table[] = {
        {"fps", option_fps},       {"max_width", option_max_width}, {"rectified", option_rectified},
        {"guides", option_guides}, {"quality", option_quality},
};

int preview_options_read(sd_bus_message *m, const struct hand_config *hand, struct preview_options *o,
                         sd_bus_error *error) {
        struct preview_reading c = {.hand = hand, .o = o};

        *o = (struct preview_options){.fps = PREVIEW_FPS_DEFAULT,
                                      .max_width = PREVIEW_MAX_WIDTH_DEFAULT,
                                      .rectified = hand->rectify && hand->calibration,
                                      .quality = PREVIEW_QUALITY_DEFAULT};
        return options_read(m, option_table, ELEMENTSOF(option_table), "preview option", PREVIEW_OPTIONS_HELP, &c,
                            error);
}
