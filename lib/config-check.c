/* SPDX-License-Identifier: MIT */
/* config-check.c — checking libconfig settings and reporting problems (see config-check.h). */
#include "config-check.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

void config_report(struct config_checker *ck, const config_setting_t *s, const char *name, const char *format, ...) {
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

static const char *kind_name(enum config_kind k) {
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

static bool kind_matches(enum config_kind k, int type) {
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
void config_check_members(struct config_checker *ck, const config_setting_t *group, const char *prefix,
                          const struct config_key *keys) {
        int n = config_setting_length(group);

        for (int i = 0; i < n; i++) {
                config_setting_t *s = config_setting_get_elem(group, i);
                const char *name = config_setting_name(s);
                char full[256];
                const struct config_key *k;

                snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "", name ?: "?");
                for (k = keys; k->name; k++)
                        if (name && streq(k->name, name))
                                break;
                if (!k->name) {
                        char known[512] = "";
                        for (const struct config_key *j = keys; j->name; j++)
                                snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
                                         j == keys ? "" : ", ", j->name);
                        config_report(ck, s, full, "unknown setting; known here: %s", known);
                        continue;
                }
                if (!kind_matches(k->kind, config_setting_type(s)))
                        config_report(ck, s, full, "must be %s", kind_name(k->kind));
        }
}

/* Readers that leave *ret alone when the setting is absent (so the default stands) or wrong. */
bool config_get_number(struct config_checker *ck, const config_setting_t *group, const char *prefix, const char *name,
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
                        return false; /* already reported by config_check_members() */
                v = config_setting_get_float(s);
                break;
        default: return false;
        }
        if (!isfinite(v) || v < min || v > max) {
                if (integer)
                        config_report(ck, s, full, "%g is out of range; use %.0f to %.0f", v, min, max);
                else
                        config_report(ck, s, full, "%g is out of range; use %g to %g", v, min, max);
                return false;
        }
        *ret = v;
        return true;
}

void config_get_uint(struct config_checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                     unsigned min, unsigned max, unsigned *ret) {
        double v;
        if (config_get_number(ck, group, prefix, name, min, max, true, &v))
                *ret = (unsigned) v;
}

void config_get_double(struct config_checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                       double min, double max, double *ret) {
        config_get_number(ck, group, prefix, name, min, max, false, ret);
}

/* I420 planes need even sizes (chroma is half in each direction) */
void config_check_even(struct config_checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                       unsigned value) {
        char full[256];

        if (value % 2 == 0)
                return;
        snprintf(full, sizeof(full), "%s.%s", prefix, name);
        config_report(ck, config_setting_get_member(group, name), full, "%u is odd; use an even %s", value, name);
}
