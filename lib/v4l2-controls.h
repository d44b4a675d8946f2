/* SPDX-License-Identifier: MIT */
/*
 * v4l2-controls.h — a V4L2 device's controls (exposure, gain, white balance, ...) by the names
 * `v4l2-ctl --list-ctrls` prints: enumerating them, checking a configuration's values against
 * them, applying them (auto controls before the manual values they unlock), reading the values
 * in force back, and describing them in words. No V4L2 header is needed to include it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* One control of a device. */
struct v4l2_control_info {
        uint32_t id;
        uint32_t type;  /* V4L2_CTRL_TYPE_* */
        uint32_t flags; /* V4L2_CTRL_FLAG_* */
        char name[CAMERA_CONTROL_NAME_MAX];
        char label[32]; /* the driver's own name ("Exposure, Auto") */
        int64_t minimum, maximum, step, default_value;
};

/**
 * v4l2_control_name() - the name v4l2-ctl gives a control whose driver name is @label: lowercase,
 * every run of characters that are not letters or digits one underscore, none at either end
 * ("White Balance, Automatic" → "white_balance_automatic"). Return: @ret.
 */
const char *v4l2_control_name(const char *label, char ret[static CAMERA_CONTROL_NAME_MAX]);

/**
 * v4l2_control_next() - the device's controls one by one, class headings skipped
 * (VIDIOC_QUERY_EXT_CTRL, or VIDIOC_QUERYCTRL where the driver has not it).
 * @fd: the open device, the caller's.
 * @c: set c->id to 0 for the first control; filled with the next one.
 * Return: 1 (filled), 0 (no more).
 */
int v4l2_control_next(int fd, struct v4l2_control_info *c);

/**
 * v4l2_control_find() - the control called @name (v4l2-ctl's name) into *@ret. The UVC controls
 * Linux renamed are found by either name (exposure_auto or auto_exposure, exposure_absolute or
 * exposure_time_absolute, white_balance_temperature_auto or white_balance_automatic, focus_auto or
 * focus_automatic_continuous, exposure_auto_priority or exposure_dynamic_framerate).
 * Return: 0 or -ENOENT.
 */
int v4l2_control_find(int fd, const char *name, struct v4l2_control_info *ret);

/**
 * v4l2_control_check() - whether @value suits the control @c: a type handrecd sets (integer,
 * boolean, menu, bitmask), not read-only or disabled, in range, on a step, an existing menu item.
 * Return: 0, or -EINVAL with a sentence in @error ("brightness = 300 is out of range: ...").
 */
int v4l2_control_check(int fd, const struct v4l2_control_info *c, int64_t value, char *error, size_t error_len);

/**
 * v4l2_control_lookup() - the configured control @c on the device @fd (@path for messages): known
 * by name (into *@ret), and its value suits it (v4l2_control_check()).
 * Return: 0, or -ENOENT (an unknown name: @error lists the names the device has) or -EINVAL, with
 * a sentence in @error that names @path.
 */
int v4l2_control_lookup(int fd, const char *path, const struct camera_control *c, struct v4l2_control_info *ret,
                        char *error, size_t error_len);

/**
 * v4l2_controls_apply() - check, then set the @n controls on @fd (VIDIOC_S_EXT_CTRLS, one at a
 * time, by their class): menus and booleans first (exposure_auto, white_balance_automatic), then
 * the others, so that an auto control is switched off before the value it unlocks is set; a
 * control refused in the first round is tried once more after it.
 * Return: 0, or -errno with a sentence in @error naming @path, the control and what to change.
 */
int v4l2_controls_apply(int fd, const char *path, const struct camera_control *cs, unsigned n, char *error,
                        size_t error_len);

/** v4l2_control_get() - the current value of @c. Return: 0 or -errno. */
int v4l2_control_get(int fd, const struct v4l2_control_info *c, int64_t *ret);

/**
 * v4l2_controls_read() - every readable integer, boolean, menu and bitmask control of @fd with its
 * value now, as "name=value; name=value" into @buf (cut at @len, never mid-entry).
 * Return: the controls written.
 */
int v4l2_controls_read(int fd, char *buf, size_t len);

/**
 * v4l2_controls_read_path() - v4l2_controls_read() of the V4L2 device at @path, opened for
 * that and closed (a second handle: a streaming device answers control queries on any handle).
 * @buf is "" when @path is not a V4L2 device or cannot be opened. Return: as v4l2_controls_read(),
 * or -errno.
 */
int v4l2_controls_read_path(const char *path, char *buf, size_t len);

/**
 * v4l2_controls_describe() - one line a control ("<indent>brightness (int): min=0 max=255 step=1
 * default=128 value=128"), then, indented further, a menu's items. Return: the controls described.
 */
int v4l2_controls_describe(int fd, FILE *out, const char *indent);

/**
 * v4l2_is_video_device() - whether @path is a V4L2 character device (major 81). Opening anything
 * else to ask it about controls is never done: a configuration may name any path.
 */
bool v4l2_is_video_device(const char *path);
