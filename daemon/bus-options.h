/* SPDX-License-Identifier: MIT */
/*
 * bus-options.h — reading a method's a{sv} options: StartRecording's (take-options.c) and
 * OpenPreview's (preview-options.c) share it. One {sv} entry at a time, each key looked up in the
 * caller's table of readers; unknown keys and keys given twice are refused here, wrong types and
 * values out of range by the readers, all with org.handrec1.Error.InvalidOption and a sentence
 * saying what to give instead. Needs no bus connection.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-bus.h>

/* One option's reader: called inside its variant, whose type is @contents; @ctx as given to
 * options_read(). Return: 0, or negative with @error set. */
typedef int option_reader(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error);

struct option_key {
        const char *key;
        option_reader *read;
};

/**
 * options_read() - read the a{sv} at @m's position through @table (@n entries, at most 32).
 * @what: how the refusal of an unknown key names it ("option", "preview option");
 * @help: the known options, for that refusal. Return: 0, or negative (with @error set when the
 * options were refused).
 */
int options_read(sd_bus_message *m, const struct option_key *table, size_t n, const char *what, const char *help,
                 void *ctx, sd_bus_error *error);

/**
 * options_read_number() - read the variant at @m's position, of type @contents, into *@ret when it
 * is any D-Bus number type. Return: 1, 0 (not a number: nothing read), or negative errno.
 */
int options_read_number(sd_bus_message *m, const char *contents, double *ret);

/** options_number() - the same, refusing anything but a number: option @name, usually of type @sig. */
int options_number(sd_bus_message *m, const char *contents, const char *name, const char *sig, double *ret,
                   sd_bus_error *error);

/** options_boolean() - the boolean option @name into *@ret, refusing any other type. */
int options_boolean(sd_bus_message *m, const char *contents, const char *name, bool *ret, sd_bus_error *error);
