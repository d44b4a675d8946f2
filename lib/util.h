/* SPDX-License-Identifier: MIT */
/*
 * util.h — small helpers shared by the daemon, the client and the unit tests: logging in the
 * systemd style (negative errno in, negative errno out), cleanup attributes, clock helpers,
 * reading a small file whole.
 */
#pragma once

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define NSEC_PER_SEC INT64_C(1000000000)
#define NSEC_PER_MSEC INT64_C(1000000)
#define USEC_PER_SEC UINT64_C(1000000)

/* The longest error sentence handrecd gives (a Hand's LastError, a take's last_error): a path and
 * what to do. */
#define ERROR_SENTENCE_MAX (PATH_MAX + 1024)

/* Hand over ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                                    \
        ({                                                                                                             \
                __typeof__(p) _p_ = (p);                                                                               \
                (p) = NULL;                                                                                            \
                _p_;                                                                                                   \
        })
#define TAKE_FD(fd)                                                                                                    \
        ({                                                                                                             \
                int _fd_ = (fd);                                                                                       \
                (fd) = -1;                                                                                             \
                _fd_;                                                                                                  \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

static inline int64_t now_ns(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (int64_t) ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline struct timespec ns_to_timespec(int64_t ns) {
        return (struct timespec){.tv_sec = ns / NSEC_PER_SEC, .tv_nsec = ns % NSEC_PER_SEC};
}

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/* Log levels are syslog's, printed as "<N>" prefixes when stderr goes to the journal. */
enum { LOG_LEVEL_ERR = 3, LOG_LEVEL_WARNING = 4, LOG_LEVEL_NOTICE = 5, LOG_LEVEL_INFO = 6, LOG_LEVEL_DEBUG = 7 };

extern int log_max_level;
/* the name before each line when stderr is not the journal; "handrecd" unless a program sets it */
extern const char *log_program;

/**
 * log_internal() - print one log line to stderr.
 * @level: syslog level.
 * @error: errno value (sign ignored) made available to %m, or 0.
 *
 * Return: -abs(@error), so a caller can write `return log_error_errno(r, ...)`.
 */
int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);

#define log_error_errno(e, ...) log_internal(LOG_LEVEL_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_error(...) log_internal(LOG_LEVEL_ERR, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_internal(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)

/**
 * thread_setup() - name the calling thread and block every signal in it.
 * @name: at most 15 characters, as the kernel keeps them.
 *
 * Signals reach the daemon through sd-event on the main thread only.
 */
void thread_setup(const char *name);

/**
 * format_bytes() - "51.2MB", "0.5GB", "12.3GB": the size the status line shows.
 * Return: @buf.
 */
char *format_bytes(char *buf, size_t len, uint64_t bytes);

/**
 * read_file_max() - read a whole file of at most @max bytes into memory.
 * @path: the file.
 * @max: the largest size accepted; a longer file is refused, never cut short.
 * @ret: on success, the contents followed by a NUL byte; the caller owns it (free()).
 * @ret_size: on success, the number of bytes read (without the NUL); may be NULL.
 *
 * Return: 0, -EISDIR when @path is a directory, -EFBIG when the file holds more than @max bytes,
 * -ENOMEM, or the -errno of open() or read(). @ret and @ret_size are untouched on failure.
 */
int read_file_max(const char *path, size_t max, char **ret, size_t *ret_size);

/** write_all() - write @n bytes of @p to blocking @fd, across short writes and EINTR. Return: 0 or -errno. */
int write_all(int fd, const uint8_t *p, size_t n);

/**
 * utf8_cut() - how many bytes of @s to show when at most @max may be: never in the middle of a
 * UTF-8 character (a D-Bus error with a broken character in it cannot be sent).
 */
size_t utf8_cut(const char *s, size_t max);

/** boot_id() - the kernel's id of this boot (/proc/sys/kernel/random/boot_id), "" if unknown. */
void boot_id(char *buf, size_t len);

/** path_simplify() - @path in place without repeated slashes and without a trailing one ("/a//b/"
 * → "/a/b"; "/" stays). Return: @path. */
char *path_simplify(char *path);

/** path_has_dot_component() - whether @path has a "." or ".." component. */
bool path_has_dot_component(const char *path);

/**
 * disk_free_bytes() - bytes free for an unprivileged writer on the file system that holds (or
 * will hold) @path: the nearest existing folder at or above it is asked. UINT64_MAX when nothing
 * can be asked (the create that follows will say why).
 */
uint64_t disk_free_bytes(const char *path);
