/* SPDX-License-Identifier: MIT */
/*
 * take-options.h — StartRecording's options (an a{sv}: duration, label, jpeg_quality, rectify,
 * episode, task)
 * read from the call and checked, each refusal a sentence for the user. Main thread only.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

struct hand_config;
struct take_options; /* daemon.h */

/**
 * take_options_read() - read the a{sv} at @m's read position into @o.
 * @m: the call; borrowed. Read up to the end of the a{sv}, or where an option was refused.
 * @hand: the hand the take is for (its name, whether it has a calibration); borrowed.
 * @o: holds the defaults on entry; the options given replace them. Untouched on failure.
 * @error: set to org.handrec1.Error.InvalidOption when an option is refused.
 *
 * Return: 0; negative errno when an option is refused (@error set) or the message cannot be read.
 */
int take_options_read(sd_bus_message *m, const struct hand_config *hand, struct take_options *o, sd_bus_error *error);

/**
 * text_printable() - whether @s is valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF)
 * without control characters (C0, DEL, C1): text a person typed on one line (the task).
 */
bool text_printable(const char *s);
