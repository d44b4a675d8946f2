/* SPDX-License-Identifier: MIT */
/* status-line.c — see status-line.h. */
#include "status-line.h"

#include <ctype.h>
#include <stdio.h>

#include "util.h"

char *status_line_hand_label(char *buf, size_t len, const char *hand) {
        size_t i;

        for (i = 0; i + 1 < len && hand[i]; i++)
                buf[i] = (char) toupper((unsigned char) hand[i]);
        buf[i] = 0;
        return buf;
}

char *status_line_format(char *buf, size_t len, const struct status_values *v) {
        char hand[16], size[32], mem[40] = "", dropped[48] = "";

        status_line_hand_label(hand, sizeof(hand), v->hand);
        if (v->resident_memory > 0) /* rounded to the nearest MB, as the old collector showed it */
                snprintf(mem, sizeof(mem), "mem:%lluMB, ",
                         (unsigned long long) ((v->resident_memory + 500000) / 1000000));
        if (v->dropped > 0)
                snprintf(dropped, sizeof(dropped), ", dropped:%llu", (unsigned long long) v->dropped);
        snprintf(buf, len, "[%s] %s: %llu frames (%.1fs, %.1ffps, written:%llu, queue:%u/%u, %s%s%s)", hand, v->state,
                 (unsigned long long) v->captured, v->duration, v->fps, (unsigned long long) v->written, v->queue,
                 v->queue_capacity, mem, format_bytes(size, sizeof(size), v->bytes), dropped);
        return buf;
}
