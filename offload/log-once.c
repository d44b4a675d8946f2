/* SPDX-License-Identifier: MIT */
/*
 * log-once.c — a failure repeated on every retry (the network down, the credentials wrong) is
 * logged once, not once per retry. Two messages are the same failure when their last clause (the
 * text after the last ": " that has a letter in it: "connection refused", "didn't find section
 * in config file") is the same but for its digits; the rest changes from one attempt to the next
 * (Put or Head, a port, a request id).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "offload.h"

static bool has_letter(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (isalpha((unsigned char) s[i]))
                        return true;
        return false;
}

/* The last clause of @msg without its digits. */
static void failure_key(const char *msg, char *buf, size_t len) {
        const char *clause = msg, *end = msg + strlen(msg), *p;
        size_t n = 0;

        for (p = msg; (p = strstr(p, ": ")); p += 2) {
                const char *next = strstr(p + 2, ": ");
                size_t l = next ? (size_t) (next - (p + 2)) : (size_t) (end - (p + 2));
                if (has_letter(p + 2, l))
                        clause = p + 2;
        }
        for (; *clause && n + 1 < len; clause++)
                if (!isdigit((unsigned char) *clause))
                        buf[n++] = *clause;
        buf[n] = '\0';
}

bool log_once_is_news(char *logged, size_t len, const char *msg) {
        char a[1024], b[1024];

        failure_key(msg, a, sizeof(a));
        failure_key(logged, b, sizeof(b));
        if (logged[0] && streq(a, b))
                return false;
        snprintf(logged, len, "%s", msg);
        return true;
}
