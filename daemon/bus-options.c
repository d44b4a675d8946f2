/* SPDX-License-Identifier: MIT */
/* bus-options.c — the a{sv} options of our methods, read through a table of readers; see bus-options.h. */
#include "bus-options.h"

#include <string.h>

#include "../lib/bus-names.h"
#include "../lib/util.h"

int options_read_number(sd_bus_message *m, const char *contents, double *ret) {
        union {
                double d;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                int16_t n;
                uint16_t q;
                uint8_t y;
        } v;
        int r;

        if (strlen(contents) != 1 || !strchr("dixtunqy", contents[0]))
                return 0;
        r = sd_bus_message_read_basic(m, contents[0], &v);
        if (r < 0)
                return r;
        switch (contents[0]) {
        case 'd': *ret = v.d; break;
        case 'i': *ret = v.i; break;
        case 'u': *ret = v.u; break;
        case 'x': *ret = (double) v.x; break;
        case 't': *ret = (double) v.t; break;
        case 'n': *ret = v.n; break;
        case 'q': *ret = v.q; break;
        case 'y': *ret = v.y; break;
        }
        return 1;
}

int options_number(sd_bus_message *m, const char *contents, const char *name, const char *sig, double *ret,
                   sd_bus_error *error) {
        int r = options_read_number(m, contents, ret);

        if (r == 0)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Option \"%s\" must be a number (%s), not \"%s\".", name, sig, contents);
        return r < 0 ? r : 0;
}

int options_boolean(sd_bus_message *m, const char *contents, const char *name, bool *ret, sd_bus_error *error) {
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

/* Read one {sv} entry; @seen: a bit per table entry read so far. */
static int read_option(sd_bus_message *m, const struct option_key *table, size_t n, const char *what, const char *help,
                       void *ctx, unsigned *seen, sd_bus_error *error) {
        const char *key, *contents;
        size_t i;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r >= 0)
                r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        for (i = 0; i < n; i++)
                if (streq(key, table[i].key))
                        break;
        if (i == n)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION, "Unknown %s \"%.*s\"; %s.", what,
                                         (int) utf8_cut(key, 64), key, help);
        if (*seen & (1u << i))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION, "Option \"%s\" is given twice; give it once.",
                                         key);
        *seen |= 1u << i;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r >= 0)
                r = table[i].read(m, contents, ctx, error);
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

int options_read(sd_bus_message *m, const struct option_key *table, size_t n, const char *what, const char *help,
                 void *ctx, sd_bus_error *error) {
        unsigned seen = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = read_option(m, table, n, what, help, ctx, &seen, error);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}
