/* SPDX-License-Identifier: MIT */
/* util.c — logging, thread naming, size formatting. Owns nothing. */
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

int log_max_level = LOG_LEVEL_INFO;

int log_internal(int level, int error, const char *format, ...) {
        static int journal = -1;
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > log_max_level)
                return -error;
        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;

        char buf[1024];
        va_list ap;
        va_start(ap, format);
        errno = error;
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        /* One write per line, so lines from several threads do not interleave. */
        if (journal)
                fprintf(stderr, "<%d>%s\n", level, buf);
        else
                fprintf(stderr, "handrecd: %s\n", buf);
        errno = saved;
        return -error;
}

void thread_setup(const char *name) {
        sigset_t all;

        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        pthread_setname_np(pthread_self(), name);
}

char *format_bytes(char *buf, size_t len, uint64_t bytes) {
        /* the old collector's "0.5GB"; below 0.1 GB, megabytes say more */
        if (bytes >= UINT64_C(100000000))
                snprintf(buf, len, "%.1fGB", (double) bytes / 1e9);
        else
                snprintf(buf, len, "%.1fMB", (double) bytes / 1e6);
        return buf;
}
