/* SPDX-License-Identifier: MIT */
/*
 * status-line.h — the one-line status the old collector printed, shared by the daemon
 * (sd_notify STATUS=) and handrecctl:
 *   [RIGHT] recording: 450 frames (15.0s, 30.0fps, written:448, queue:2/30, mem:27MB, 0.5GB)
 * queue: frames waiting to be written / the queue's capacity; mem: handrecd's resident memory
 * (VmRSS, 1 MB = 10^6 bytes: the figure to watch against the OOM killer), left out when unknown
 * (0); then the file's size. ", dropped:N" is added when frames were dropped.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct status_values {
        const char *hand;
        const char *state;
        uint64_t captured, written, dropped, bytes;
        uint64_t resident_memory; /* bytes; 0: unknown, not shown */
        unsigned queue, queue_capacity;
        double duration, fps;
};

/** status_line_hand_label() - "RIGHT" for "right", as the status line shows a hand. Return: @buf. */
char *status_line_hand_label(char *buf, size_t len, const char *hand);

/** status_line_format() - write the line into @buf. Return: @buf. */
char *status_line_format(char *buf, size_t len, const struct status_values *v);
