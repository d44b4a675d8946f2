/* SPDX-License-Identifier: MIT */
/* status-line.c — see status-line.h. */
#include "status-line.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

char *status_line_hand_label(char *buf, size_t len, const char *hand) {
        size_t i;

        for (i = 0; i + 1 < len && hand[i]; i++)
                buf[i] = (char) toupper((unsigned char) hand[i]);
        buf[i] = 0;
        return buf;
}

char *status_line_duration(char *buf, size_t len, double seconds) {
        unsigned long long m = seconds > 0 ? (unsigned long long) (seconds / 60) : 0;

        if (m == 0)
                snprintf(buf, len, "<1m");
        else if (m < 60)
                snprintf(buf, len, "%llum", m);
        else if (m < 24 * 60)
                snprintf(buf, len, "%lluh%02llum", m / 60, m % 60);
        else
                snprintf(buf, len, "%llud%02lluh", m / (24 * 60), m / 60 % 24);
        return buf;
}

/* ", disk:41.2GB free, 3h12m left" (the whole line's form), or "" when the disk is unknown. */
static char *disk_part(char *buf, size_t len, const struct status_values *v) {
        char free_[32], left[32];

        buf[0] = 0;
        if (v->disk_free == 0)
                return buf;
        format_bytes(free_, sizeof(free_), v->disk_free);
        if (v->disk_time_left >= 0)
                snprintf(buf, len, ", disk:%s free, %s left", free_,
                         status_line_duration(left, sizeof(left), v->disk_time_left));
        else
                snprintf(buf, len, ", disk:%s free", free_);
        return buf;
}

char *status_line_format(char *buf, size_t len, const struct status_values *v) {
        char hand[16], size[32], mem[40] = "", disk[80];

        status_line_hand_label(hand, sizeof(hand), v->hand);
        if (v->resident_memory > 0) /* rounded to the nearest MB, as the old collector showed it */
                snprintf(mem, sizeof(mem), "mem:%lluMB, ",
                         (unsigned long long) ((v->resident_memory + 500000) / 1000000));
        snprintf(buf, len,
                 "[%s] %s: %llu frames (%.1fs, %.1ffps, written:%llu, queue:%u/%u, %s%s, dropped:%llu, gaps:%llu%s)",
                 hand, v->state, (unsigned long long) v->captured, v->duration, v->fps, (unsigned long long) v->written,
                 v->queue, v->queue_capacity, mem, format_bytes(size, sizeof(size), v->bytes),
                 (unsigned long long) v->dropped, (unsigned long long) v->missing, disk_part(disk, sizeof(disk), v));
        return buf;
}

/* The compact form's fields after the head, in the order they are shown. */
enum { F_WRITTEN, F_DROPPED, F_GAPS, F_LEFT, F_FPS, F_QUEUE, F_DISK, F_MEM, F_SIZE, _F_MAX };

static void compact_fields(char field[_F_MAX][48], const struct status_values *v) {
        char t[32];

        snprintf(field[F_WRITTEN], 48, " written:%llu", (unsigned long long) v->written);
        snprintf(field[F_DROPPED], 48, " dropped:%llu", (unsigned long long) v->dropped);
        snprintf(field[F_GAPS], 48, " gaps:%llu", (unsigned long long) v->missing);
        field[F_LEFT][0] = field[F_DISK][0] = field[F_MEM][0] = 0;
        if (v->disk_free > 0 && v->disk_time_left >= 0)
                snprintf(field[F_LEFT], 48, " left:%s", status_line_duration(t, sizeof(t), v->disk_time_left));
        snprintf(field[F_FPS], 48, " %.1ffps", v->fps);
        snprintf(field[F_QUEUE], 48, " queue:%u/%u", v->queue, v->queue_capacity);
        if (v->disk_free > 0)
                snprintf(field[F_DISK], 48, " disk:%s", format_bytes(t, sizeof(t), v->disk_free));
        if (v->resident_memory > 0)
                snprintf(field[F_MEM], 48, " mem:%lluMB",
                         (unsigned long long) ((v->resident_memory + 500000) / 1000000));
        snprintf(field[F_SIZE], 48, " file:%s", format_bytes(t, sizeof(t), v->bytes));
}

char *status_line_fit(char *buf, size_t len, const struct status_values *v, size_t width) {
        char hand[16], field[_F_MAX][48];

        status_line_format(buf, len, v);
        if (strlen(buf) <= width)
                return buf;
        status_line_hand_label(hand, sizeof(hand), v->hand);
        snprintf(buf, len, "[%s] %s %.1fs", hand, v->state, v->duration);
        compact_fields(field, v);
        for (unsigned f = 0; f < _F_MAX; f++) /* in order of need, the enum's: one that does not fit is left out */
                if (field[f][0] && strlen(buf) + strlen(field[f]) <= width)
                        snprintf(buf + strlen(buf), len - strlen(buf), "%s", field[f]);
        if (strlen(buf) > width && width < len)
                buf[width] = 0; /* a terminal narrower than the head itself */
        return buf;
}
