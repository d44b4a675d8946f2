/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-json.c — `--json`: any D-Bus value read into a json-c object (a{sv} and a{s*} as
 * objects, other arrays and structs as arrays, numbers and strings as themselves), and one JSON
 * document printed on standard output, every key in one style, snake_case (json_key_style():
 * the bus' FramesWritten is frames_written, a cause's queue-full is queue_full), as
 * handrecctl(1) lists them. json-c escapes
 * every string (labels, task texts and error sentences carry quotes and non-ASCII); nothing
 * here builds JSON with printf. Works with json-c 0.13 (Ubuntu 20.04). Doubles are written with
 * 15 significant digits at most, trailing zeros cut (json_new_double(): "%.15g" through
 * json_object_new_double_s(), per object): "Fps": 30.0000003, not json-c's default "%.17g"
 * 30.000000300000004. 15 digits (DBL_DIG) are what a double carries faithfully; the 16th and 17th
 * are the noise of the binary fraction. Per object rather than the global
 * json_c_set_serialization_double_format(), which would change json-c for the whole process.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "../lib/util.h"
#include "handrecctl.h"

json_object *json_new_double(double d) {
        char buf[40];

        if (!isfinite(d))
                return json_object_new_double(d); /* json-c's NaN/Infinity: no precision to choose */
        snprintf(buf, sizeof(buf), "%.15g", d);
        if (!strpbrk(buf, ".e"))
                strcat(buf, ".0"); /* stays a float to a reader: 30.0, not 30 */
        return json_object_new_double_s(d, buf);
}

static int json_read_basic(sd_bus_message *m, char type, json_object **ret) {
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s;
        } v;
        int r = sd_bus_message_read_basic(m, type, &v);

        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        switch (type) {
        case 'y': *ret = json_object_new_int(v.y); break;
        case 'b': *ret = json_object_new_boolean(v.b); break;
        case 'n': *ret = json_object_new_int(v.n); break;
        case 'q': *ret = json_object_new_int(v.q); break;
        case 'i': *ret = json_object_new_int(v.i); break;
        case 'u': *ret = json_object_new_int64(v.u); break;
        case 'x': *ret = json_object_new_int64(v.x); break;
        case 't':
                *ret = json_object_new_int64((int64_t) v.t); /* json-c 0.13 has no uint64 */
                break;
        case 'd': *ret = json_new_double(v.d); break;
        case 's':
        case 'o':
        case 'g': *ret = json_object_new_string(v.s); break;
        default: *ret = json_object_new_null(); break; /* 'h': a file descriptor means nothing in JSON */
        }
        return 0;
}

/* The entries of the dictionary @m is in, into object @o. */
static int json_read_dict_entries(sd_bus_message *m, const char *contents, json_object *o) {
        char entry[64];
        int r;

        /* "{sv}" is entered as 'e' "sv" */
        if (strlen(contents) < 4 || strlen(contents) >= sizeof(entry))
                return -EBADMSG;
        snprintf(entry, sizeof(entry), "%.*s", (int) strlen(contents) - 2, contents + 1);
        while ((r = sd_bus_message_enter_container(m, 'e', entry)) > 0) {
                json_object *key = NULL, *value = NULL;
                r = json_read_value(m, &key);
                if (r >= 0)
                        r = json_read_value(m, &value);
                if (r >= 0)
                        json_object_object_add(o,
                                               json_object_is_type(key, json_type_string)
                                                       ? json_object_get_string(key)
                                                       : json_object_to_json_string(key),
                                               value);
                else
                        json_object_put(value);
                json_object_put(key);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r;
}

static int json_read_container(sd_bus_message *m, char type, const char *contents, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = sd_bus_message_enter_container(m, type, contents);

        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        if (type == 'v')
                r = json_read_value(m, &o);
        else if (type == 'a' && contents[0] == '{') {
                o = json_object_new_object();
                r = json_read_dict_entries(m, contents, o);
        } else {
                o = json_object_new_array();
                while (r >= 0 && !sd_bus_message_at_end(m, false)) {
                        json_object *item = NULL;
                        r = json_read_value(m, &item);
                        if (r >= 0)
                                json_object_array_add(o, item);
                }
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int json_read_value(sd_bus_message *m, json_object **ret) {
        const char *contents;
        char type;
        int r = sd_bus_message_peek_type(m, &type, &contents);

        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        if (type == 'a' || type == 'v' || type == 'r')
                return json_read_container(m, type, contents, ret);
        return json_read_basic(m, type, ret);
}

void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

void json_key_style(const char *key, char *buf, size_t len) {
        size_t n = 0;

        for (const char *p = key; *p && n + 2 < len; p++) {
                if (*p >= 'A' && *p <= 'Z') {
                        if (p != key && n > 0 && buf[n - 1] != '_')
                                buf[n++] = '_';
                        buf[n++] = (char) (*p - 'A' + 'a');
                } else
                        buf[n++] = *p == '-' ? '_' : *p;
        }
        buf[n] = 0;
}

/* @o with every object's keys in the one style (json_key_style()), a new reference. */
static json_object *json_styled(json_object *o) {
        json_object *c;

        if (json_object_is_type(o, json_type_array)) {
                c = json_object_new_array();
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        json_object_array_add(c, json_styled(json_object_array_get_idx(o, i)));
                return c;
        }
        if (!json_object_is_type(o, json_type_object))
                return json_object_get(o);
        c = json_object_new_object();
        json_object_object_foreach(o, key, value) {
                char styled[256];
                json_key_style(key, styled, sizeof(styled));
                json_object_object_add(c, styled, json_styled(value));
        }
        return c;
}

int json_print(json_object *o) {
        int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE;
        json_object *styled = json_styled(o);

        printf("%s\n", json_object_to_json_string_ext(styled, flags));
        json_object_put(styled);
        return fflush(stdout) == 0 ? 0 : 1;
}

int json_parse_error(int r) {
        fprintf(stderr, "handrecctl: cannot read the daemon's reply: %s\n", strerror(-r));
        return 1;
}
