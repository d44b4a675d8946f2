/* SPDX-License-Identifier: MIT */
/*
 * log-once.c — a failure repeated on every retry (the network down, the credentials wrong) is
 * logged once, not once per retry: a message is news when it differs from the last one logged in
 * more than its numbers (a port, a count, a request id's digits).
 */
#include <stdio.h>
#include <string.h>

#include "offload.h"

static void strip_digits(const char *s, char *buf, size_t len) {
        size_t n = 0;

        for (; *s && n + 1 < len; s++)
                if (*s < '0' || *s > '9')
                        buf[n++] = *s;
        buf[n] = '\0';
}

bool log_once_is_news(char *logged, size_t len, const char *msg) {
        char a[1024], b[1024];

        strip_digits(msg, a, sizeof(a));
        strip_digits(logged, b, sizeof(b));
        if (logged[0] && streq(a, b))
                return false;
        snprintf(logged, len, "%s", msg);
        return true;
}
