/* SPDX-License-Identifier: MIT */
/* util.c — logging, thread naming, size formatting, reading a small file. Owns nothing. */
#include "util.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

int log_max_level = LOG_LEVEL_INFO;
const char *log_program = "handrecd";

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
                fprintf(stderr, "%s: %s\n", log_program, buf);
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

int read_file_max(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *buf = NULL;
        size_t size = 0, allocated;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (S_ISREG(st.st_mode) && (uint64_t) st.st_size > max)
                return -EFBIG;
        /* room for one byte more than @max, so that a file growing past it is noticed too */
        allocated = S_ISREG(st.st_mode) ? (size_t) st.st_size + 2 : MIN(max + 2, (size_t) 4096);
        buf = malloc(allocated);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (size + 1 == allocated) {
                        size_t more = MIN(allocated * 2, max + 2);
                        char *p = realloc(buf, more);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = more;
                }
                ssize_t n = read(fd, buf + size, allocated - 1 - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max)
                        return -EFBIG;
        }
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

size_t utf8_cut(const char *s, size_t max) {
        size_t n = strnlen(s, max);

        if (n < max || s[n] == 0)
                return n;
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
                n--;
        return n;
}

int write_all(int fd, const uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                p += w, n -= (size_t) w;
        }
        return 0;
}

char *path_simplify(char *path) {
        char *w = path;

        for (const char *r = path; *r; r++)
                if (!(*r == '/' && w > path && w[-1] == '/'))
                        *w++ = *r;
        if (w > path + 1 && w[-1] == '/')
                w--;
        *w = 0;
        return path;
}

bool path_has_dot_component(const char *path) {
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, "/");
                if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return true;
                p += n;
                p += strspn(p, "/");
        }
        return false;
}

void boot_id(char *buf, size_t len) {
        _cleanup_(closep) int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

        buf[n > 0 ? n : 0] = 0;
        buf[strcspn(buf, "\n")] = 0;
}

uint64_t disk_free_bytes(const char *path) {
        char buf[PATH_MAX];
        struct statvfs sv;

        snprintf(buf, sizeof(buf), "%s", path);
        for (;;) {
                char *slash;
                if (statvfs(buf, &sv) == 0)
                        return (uint64_t) sv.f_bavail * sv.f_frsize;
                slash = strrchr(buf, '/');
                if (!slash || slash == buf)
                        return UINT64_MAX;
                *slash = 0;
        }
}
