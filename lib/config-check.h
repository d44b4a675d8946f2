/* SPDX-License-Identifier: MIT */
/*
 * config-check.h — checking libconfig settings (config.c, config-hand.c): every member of a group
 * must be known and of the right type, numbers in range; each problem is reported as
 * "file:line: setting: what is wrong", and all of them are, not just the first.
 */
#pragma once

#include <libconfig.h>
#include <stdbool.h>
#include <stdio.h>

#include "util.h"

enum config_kind {
        K_INT,
        K_FLOAT,
        K_STRING,
        K_BOOL,
        K_GROUP,
        K_STRINGS, /* a string or a list of strings */
};

/* One known setting of a group; a table ends with {NULL, 0}. */
struct config_key {
        const char *name;
        enum config_kind kind;
};

struct config_checker {
        const char *path;
        FILE *errors; /* where the reports go; NULL: counted only */
        unsigned n_errors;
};

/** config_report() - one problem at setting @s (NULL: the file), named @name. */
void config_report(struct config_checker *ck, const config_setting_t *s, const char *name, const char *format, ...)
        _printf_(4, 5);

/** config_check_members() - every member of @group is in @keys, with the right type. */
void config_check_members(struct config_checker *ck, const config_setting_t *group, const char *prefix,
                          const struct config_key *keys);

/*
 * Readers that leave *ret alone when the setting is absent (so the default stands) or wrong
 * (then reported). config_get_number() returns whether it set *ret.
 */
bool config_get_number(struct config_checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                       double min, double max, bool integer, double *ret);
void config_get_uint(struct config_checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                     unsigned min, unsigned max, unsigned *ret);
void config_get_double(struct config_checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                       double min, double max, double *ret);
/** config_check_even() - I420 planes need even sizes (chroma is half in each direction). */
void config_check_even(struct config_checker *ck, const config_setting_t *group, const char *prefix, const char *name,
                       unsigned value);

struct config;
/** config_parse_hand() - the group @group (left_hand, right_hand) into a new hand of @c (config-hand.c). */
void config_parse_hand(struct config_checker *ck, config_t *cfg, const char *group, const char *name, struct config *c);
/** config_parse_offload() - the group offload, when the file has it, into c->offload (config-offload.c). */
void config_parse_offload(struct config_checker *ck, config_t *cfg, struct config *c);
