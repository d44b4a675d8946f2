/* SPDX-License-Identifier: MIT */
/*
 * status-line.h — the one-line status the old collector printed, shared by the daemon
 * (sd_notify STATUS=) and handrecctl:
 *   [RIGHT] recording: 450 frames (15.0s, 30.0fps, written:448, queue:2/30, mem:27MB, 0.5GB,
 *   dropped:0, gaps:3, disk:41.2GB free, 3h12m left)
 * queue: frames waiting to be written / the queue's capacity; mem: handrecd's resident memory
 * (VmRSS, 1 MB = 10^6 bytes: the figure to watch against the OOM killer), left out when unknown
 * (0); then the file's size; dropped: frames captured and not stored, always shown; gaps: frames
 * the camera never gave (sequence numbers skipped, eyes without a partner); disk: free space on
 * the hand's disk and, once a take has given a rate, how long recording can go on before the
 * reserve. The old collector's part comes first and unchanged, so what parsed it still does.
 *
 * A narrow terminal gets the compact form, status_line_fit(): every number still labelled, the
 * least needed left out until the line fits:
 *   [RIGHT] recording 15.0s written:448 dropped:0 gaps:3 left:3h12m 30.0fps queue:2/30
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct status_values {
        const char *hand;
        const char *state;
        uint64_t captured, written, dropped, bytes;
        uint64_t missing;         /* the camera's gaps and unpaired eyes */
        uint64_t resident_memory; /* bytes; 0: unknown, not shown */
        uint64_t disk_free;       /* bytes; 0: unknown, not shown */
        double disk_time_left;    /* seconds to the reserve at the take's rate; < 0: unknown, not shown */
        unsigned queue, queue_capacity;
        double duration, fps;
};

/** status_line_hand_label() - "RIGHT" for "right", as the status line shows a hand. Return: @buf. */
char *status_line_hand_label(char *buf, size_t len, const char *hand);

/** status_line_format() - write the whole line into @buf. Return: @buf. */
char *status_line_format(char *buf, size_t len, const struct status_values *v);

/** status_line_duration() - @seconds as "<1m", "45m", "3h12m" or "2d05h". Return: @buf. */
char *status_line_duration(char *buf, size_t len, double seconds);

/**
 * status_line_fit() - the line in at most @width columns: the whole line when it fits, else the
 * compact form with the fields that fit, in this order of need: the hand, its state and the
 * take's length; written, dropped, gaps, time left on the disk, frame rate, queue, free space,
 * memory, file size. Return: @buf.
 */
char *status_line_fit(char *buf, size_t len, const struct status_values *v, size_t width);
