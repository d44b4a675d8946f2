/* SPDX-License-Identifier: MIT */
/*
 * preview-options.c — OpenPreview's options: one reader per key in one table, as
 * take-options.c reads StartRecording's. Unknown keys, keys given twice, wrong types and values
 * out of range are refused with org.handrec1.Error.InvalidOption and a sentence. Main thread only.
 */
#include "preview-options.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bus-names.h"
#include "config.h"
#include "take-options.h"
#include "util.h"

#define PREVIEW_OPTIONS_HELP                                                                                           \
        "known options: fps (d, 0.5-30), max_width (u, pixels, 0 = full size), rectified (b), guides (b), quality "    \
        "(i, 30-95)"

static int number(sd_bus_message *m, const char *contents, const char *name, const char *sig, double *ret,
                  sd_bus_error *error) {
        int r = options_read_number(m, contents, ret);

        if (r == 0)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"%s\" must be a number (%s), not \"%s\".", name, sig, contents);
        return r < 0 ? r : 0;
}

static int boolean(sd_bus_message *m, const char *contents, const char *name, bool *ret, sd_bus_error *error) {
        int b, r;

        if (!streq(contents, "b"))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"%s\" must be a boolean (b), not \"%s\".", name, contents);
        r = sd_bus_message_read(m, "b", &b);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

static int option_fps(sd_bus_message *m, const char *contents, const struct hand_config *hand _unused_,
                      struct preview_options *o, sd_bus_error *error) {
        double v = 0;
        int r = number(m, contents, "fps", "d", &v, error);

        if (r < 0)
                return r;
        if (!isfinite(v) || v < 0.5 || v > 30)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Preview rate %g is out of range: give frames a second from 0.5 to 30.", v);
        o->fps = v;
        return 0;
}

static int option_max_width(sd_bus_message *m, const char *contents, const struct hand_config *hand _unused_,
                            struct preview_options *o, sd_bus_error *error) {
        double v = 0;
        int r = number(m, contents, "max_width", "u", &v, error);

        if (r < 0)
                return r;
        if (v != floor(v) || v < 0 || v > 65535)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "max_width %g is out of range: give a whole number of pixels up to 65535, "
                                         "or 0 for the full size.",
                                         v);
        o->max_width = (unsigned) v;
        return 0;
}

static int option_rectified(sd_bus_message *m, const char *contents, const struct hand_config *hand,
                            struct preview_options *o, sd_bus_error *error) {
        int r = boolean(m, contents, "rectified", &o->rectified, error);

        if (r < 0)
                return r;
        if (o->rectified && !hand->calibration)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Hand %s has no calibration to rectify with; set calibration in its config "
                                         "group (%s_hand.calibration), or leave rectified out.",
                                         hand->name, hand->name);
        return 0;
}

static int option_guides(sd_bus_message *m, const char *contents, const struct hand_config *hand _unused_,
                         struct preview_options *o, sd_bus_error *error) {
        return boolean(m, contents, "guides", &o->guides, error);
}

static int option_quality(sd_bus_message *m, const char *contents, const struct hand_config *hand _unused_,
                          struct preview_options *o, sd_bus_error *error) {
        double v = 0;
        int r = number(m, contents, "quality", "i", &v, error);

        if (r < 0)
                return r;
        if (v != floor(v) || v < 30 || v > 95)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Preview quality %g is out of range: use a whole number from 30 to 95.", v);
        o->quality = (int) v;
        return 0;
}

static const struct {
        const char *key;
        int (*read)(sd_bus_message *m, const char *contents, const struct hand_config *hand, struct preview_options *o,
                    sd_bus_error *error);
} option_table[] = {
        {"fps", option_fps},       {"max_width", option_max_width}, {"rectified", option_rectified},
        {"guides", option_guides}, {"quality", option_quality},
};

static int read_option(sd_bus_message *m, const struct hand_config *hand, struct preview_options *o, unsigned *seen,
                       sd_bus_error *error) {
        const char *key, *contents;
        size_t i;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r >= 0)
                r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        for (i = 0; i < ELEMENTSOF(option_table); i++)
                if (streq(key, option_table[i].key))
                        break;
        if (i == ELEMENTSOF(option_table))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Unknown preview option \"%.*s\"; " PREVIEW_OPTIONS_HELP ".",
                                         (int) utf8_cut(key, 64), key);
        if (*seen & (1u << i))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION, "Option \"%s\" is given twice; give it once.",
                                         key);
        *seen |= 1u << i;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r >= 0)
                r = option_table[i].read(m, contents, hand, o, error);
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

int preview_options_read(sd_bus_message *m, const struct hand_config *hand, struct preview_options *o,
                         sd_bus_error *error) {
        unsigned seen = 0;
        int r;

        *o = (struct preview_options){.fps = PREVIEW_FPS_DEFAULT,
                                      .max_width = PREVIEW_MAX_WIDTH_DEFAULT,
                                      .rectified = hand->rectify && hand->calibration,
                                      .quality = PREVIEW_QUALITY_DEFAULT};
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = read_option(m, hand, o, &seen, error);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}
