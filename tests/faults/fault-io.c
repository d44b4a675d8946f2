/* SPDX-License-Identifier: MIT */
/*
 * fault-io.so — an LD_PRELOAD shim for tests: a disk that stalls or fails, for the take files only.
 *
 * It wraps write, pwrite, pwrite64, writev, pwritev, fsync and fdatasync (HDF5's sec2 driver
 * writes with pwrite and write; the daemon syncs with fdatasync and fsync). A call on a file
 * descriptor whose path (readlink /proc/self/fd/N) ends in ".h5" gets the fault that
 * $HANDREC_FAULT describes; every other call goes straight through. Without $HANDREC_FAULT the
 * shim does nothing at all.
 *
 *   HANDREC_FAULT="stall=2.0@3.0"            3.0 s after the process's first write to a .h5 file,
 *                                           the disk stalls for 2.0 s: every write or sync issued
 *                                           during [3.0, 5.0) returns only at 5.0 (written).
 *   HANDREC_FAULT="stall=2.0@3.0,every=10"   the same stall again at 13.0, 23.0, ...
 *   HANDREC_FAULT="stall=2.0@3.0,every=10,count=3"   ... three stalls in all
 *   HANDREC_FAULT="eio@5000000"              once 5,000,000 bytes have been written to .h5 files,
 *                                           writes and syncs fail with EIO (the write that
 *                                           crosses the mark is cut short at it, as a real
 *                                           device's would be)
 *   HANDREC_FAULT="enospc@5000000"           the same with ENOSPC (syncs succeed)
 *   HANDREC_FAULT="eio@5000000,times=1"      only the first failing call fails: a transient error
 *   HANDREC_FAULT="hold=/tmp/x/stall"        while the file /tmp/x/stall exists, writes and syncs
 *                                           wait (checked every 10 ms): a stall the test starts
 *                                           and ends itself
 *   HANDREC_FAULT="...,match=.tmp"           another path suffix than ".h5"
 *
 * Clauses combine (a stall and an error). Each stall's start (with its CLOCK_MONOTONIC time, to
 * compare with frame timestamps) and end, and the first injected error, are reported on stderr
 * ("fault-io: ..."), which the daemon's log captures, so a test can check the fault happened.
 * An unparsable $HANDREC_FAULT is reported and the process exits with status 97 at load, so a
 * typo never silently tests nothing.
 *
 * Threads and signals: everything the wrappers touch is set up by the constructor before any
 * thread exists, or is an atomic; the wrappers call only async-signal-safe functions (readlink,
 * clock_gettime, clock_nanosleep, access, write) and never allocate, so several writer threads,
 * or a signal handler, may call them at once.
 *
 * Build: gcc -O2 -shared -fPIC -pthread -o fault-io.so tests/faults/fault-io.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BAD_SPEC_EXIT 97

struct fault {
        bool on;
        char match[32];
        /* stalls: k = 0 .. count-1 start at first_write + at + k * every and last `duration` */
        int64_t stall_ns, stall_at_ns, stall_every_ns;
        long stall_count; /* < 0: unlimited */
        /* errors */
        int error;            /* 0, EIO or ENOSPC */
        uint64_t error_after; /* bytes written to matching files before the first error */
        long error_times;     /* < 0: every call from then on */
        char hold[256];       /* the control file; "" when none */
};

static struct fault f;
static atomic_int_fast64_t first_write_ns; /* 0 until the first matching write */
static atomic_uint_fast64_t bytes_written; /* to matching files, reserved before each write */
static atomic_long errors_injected;
static atomic_long stall_began, stall_ended; /* the last stall (1-based) whose start/end was logged */

typedef ssize_t write_fn(int, const void *, size_t);
typedef ssize_t pwrite_fn(int, const void *, size_t, off_t);
typedef ssize_t writev_fn(int, const struct iovec *, int);
typedef ssize_t pwritev_fn(int, const struct iovec *, int, off_t);
typedef int sync_fn(int);
static write_fn *real_write;
static pwrite_fn *real_pwrite, *real_pwrite64;
static writev_fn *real_writev;
static pwritev_fn *real_pwritev;
static sync_fn *real_fsync, *real_fdatasync;

/* ---- async-signal-safe helpers ------------------------------------------------------------- */

static int64_t now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t ns) {
        struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

struct line {
        char buf[512];
        size_t n;
};

static void put(struct line *l, const char *s) {
        while (*s && l->n < sizeof(l->buf) - 1)
                l->buf[l->n++] = *s++;
}

static void put_uint(struct line *l, uint64_t v) {
        char tmp[24];
        int i = 0;
        do
                tmp[i++] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        while (i > 0 && l->n < sizeof(l->buf) - 1)
                l->buf[l->n++] = tmp[--i];
}

/* seconds with two decimals */
static void put_seconds(struct line *l, int64_t ns) {
        uint64_t cs = (uint64_t) (ns < 0 ? 0 : ns) / 10000000;
        put_uint(l, cs / 100);
        put(l, cs % 100 < 10 ? ".0" : ".");
        put_uint(l, cs % 100);
        put(l, " s");
}

static void say(struct line *l) {
        int saved = errno;
        l->buf[l->n++] = '\n';
        if (syscall(SYS_write, 2, l->buf, l->n) < 0) {
                /* nothing to do: stderr is gone */
        }
        errno = saved;
}

/* Whether @fd is a file whose path ends in f.match. */
static bool matches(int fd) {
        char proc[40] = "/proc/self/fd/", path[4096];
        struct line num = {.n = 0};
        size_t m = strlen(f.match);
        ssize_t n;
        int saved = errno;

        if (fd < 0)
                return false;
        put_uint(&num, (uint64_t) fd);
        memcpy(proc + 14, num.buf, num.n);
        proc[14 + num.n] = 0;
        n = readlink(proc, path, sizeof(path));
        errno = saved;
        return n >= (ssize_t) m && n < (ssize_t) sizeof(path) && memcmp(path + n - m, f.match, m) == 0;
}

/* ---- the faults ------------------------------------------------------------------------------ */

/* Stall @k (0-based) is [start, end) in CLOCK_MONOTONIC. */
static void stall_window(int64_t t0, long k, int64_t *start, int64_t *end) {
        *start = t0 + f.stall_at_ns + (int64_t) k * f.stall_every_ns;
        *end = *start + f.stall_ns;
}

/* If this call falls in a stall, wait for its end. */
static void stall(const char *what) {
        int64_t t0 = atomic_load(&first_write_ns), t = now(), start, end;
        long k = 0, expected;

        if (f.stall_ns <= 0 || t0 == 0)
                return;
        if (f.stall_every_ns > 0 && t > t0 + f.stall_at_ns)
                k = (long) ((t - t0 - f.stall_at_ns) / f.stall_every_ns);
        if (f.stall_count >= 0 && k >= f.stall_count)
                return;
        stall_window(t0, k, &start, &end);
        if (t < start || t >= end)
                return;
        expected = atomic_load(&stall_began);
        if (expected < k + 1 && atomic_compare_exchange_strong(&stall_began, &expected, k + 1)) {
                struct line l = {.n = 0};
                put(&l, "fault-io: stall ");
                put_uint(&l, (uint64_t) k + 1);
                put(&l, " begins (");
                put_seconds(&l, end - start);
                put(&l, ") at a ");
                put(&l, what);
                put(&l, ", CLOCK_MONOTONIC ");
                put_uint(&l, (uint64_t) start);
                put(&l, " ns");
                say(&l);
        }
        sleep_until(end);
        expected = atomic_load(&stall_ended);
        if (expected < k + 1 && atomic_compare_exchange_strong(&stall_ended, &expected, k + 1)) {
                struct line l = {.n = 0};
                put(&l, "fault-io: stall ");
                put_uint(&l, (uint64_t) k + 1);
                put(&l, " over after ");
                put_seconds(&l, end - start);
                say(&l);
        }
}

/* While the control file exists, wait. */
static void hold(void) {
        bool held = false;

        if (!f.hold[0])
                return;
        while (access(f.hold, F_OK) == 0) {
                if (!held) {
                        struct line l = {.n = 0};
                        put(&l, "fault-io: held by ");
                        put(&l, f.hold);
                        say(&l);
                        held = true;
                }
                sleep_until(now() + 10 * 1000000);
        }
}

/* An injected error, counted; false when the fault has used up its `times`. */
static bool inject(int error) {
        long n = atomic_fetch_add(&errors_injected, 1);

        if (f.error_times >= 0 && n >= f.error_times)
                return false;
        if (n == 0) {
                struct line l = {.n = 0};
                put(&l, "fault-io: ");
                put(&l, error == EIO ? "EIO" : "ENOSPC");
                put(&l, " after ");
                put_uint(&l, f.error_after);
                put(&l, " bytes");
                say(&l);
        }
        errno = error;
        return true;
}

/* Before a write of @size bytes to a matching file: wait out stalls, then reserve the bytes.
 * Return: the bytes to write (maybe fewer, at the error mark), or -1 with errno set. */
static ssize_t before_write(size_t size, const char *what) {
        int64_t zero = 0;
        uint64_t cur;

        atomic_compare_exchange_strong(&first_write_ns, &zero, now());
        hold();
        stall(what);
        if (!f.error)
                return (ssize_t) size;
        cur = atomic_load(&bytes_written);
        for (;;) {
                uint64_t take;
                if (cur >= f.error_after)
                        return inject(f.error) ? -1 : (ssize_t) size;
                take = f.error_after - cur < size ? f.error_after - cur : size;
                if (atomic_compare_exchange_weak(&bytes_written, &cur, cur + take))
                        return (ssize_t) take;
        }
}

/* After the write: give back what was reserved but not written. */
static void after_write(size_t reserved, ssize_t written) {
        if (f.error && (size_t) (written < 0 ? 0 : written) < reserved)
                atomic_fetch_sub(&bytes_written, reserved - (size_t) (written < 0 ? 0 : written));
}

static int before_sync(int fd) {
        if (!f.on || !matches(fd))
                return 0;
        hold();
        stall("sync");
        if (f.error == EIO && atomic_load(&bytes_written) >= f.error_after && inject(EIO))
                return -1;
        return 0;
}

/* ---- the wrappers ----------------------------------------------------------------------------- */

ssize_t write(int fd, const void *buf, size_t size) {
        ssize_t n, r;

        if (!f.on || !matches(fd))
                return real_write ? real_write(fd, buf, size) : syscall(SYS_write, fd, buf, size);
        n = before_write(size, "write");
        if (n < 0)
                return -1;
        r = real_write ? real_write(fd, buf, (size_t) n) : syscall(SYS_write, fd, buf, (size_t) n);
        after_write((size_t) n, r);
        return r;
}

static ssize_t do_pwrite(pwrite_fn *real, int fd, const void *buf, size_t size, off_t off) {
        ssize_t n, r;

        if (!f.on || !matches(fd))
                return real ? real(fd, buf, size, off) : syscall(SYS_pwrite64, fd, buf, size, off);
        n = before_write(size, "pwrite");
        if (n < 0)
                return -1;
        r = real ? real(fd, buf, (size_t) n, off) : syscall(SYS_pwrite64, fd, buf, (size_t) n, off);
        after_write((size_t) n, r);
        return r;
}

ssize_t pwrite(int fd, const void *buf, size_t size, off_t off) {
        return do_pwrite(real_pwrite, fd, buf, size, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t size, off64_t off) {
        return do_pwrite(real_pwrite64, fd, buf, size, (off_t) off);
}

static size_t iov_total(const struct iovec *iov, int n) {
        size_t t = 0;
        for (int i = 0; i < n; i++)
                t += iov[i].iov_len;
        return t;
}

/* Vectored writes are not cut short at the error mark: they fail whole once it is reached. */
static ssize_t vectored(int fd, const struct iovec *iov, int n, off_t off, bool positioned) {
        size_t total = iov_total(iov, n);
        ssize_t r, got;

        if (f.on && matches(fd)) {
                got = before_write(total, positioned ? "pwritev" : "writev");
                if (got < 0)
                        return -1;
                if ((size_t) got < total) {
                        after_write((size_t) got, 0);
                        if (inject(f.error))
                                return -1;
                }
        }
        if (positioned)
                r = real_pwritev ? real_pwritev(fd, iov, n, off) : syscall(SYS_pwritev, fd, iov, n, off, 0);
        else
                r = real_writev ? real_writev(fd, iov, n) : syscall(SYS_writev, fd, iov, n);
        if (f.on && f.error && matches(fd))
                after_write(total, r);
        return r;
}

ssize_t writev(int fd, const struct iovec *iov, int n) {
        return vectored(fd, iov, n, 0, false);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off) {
        return vectored(fd, iov, n, off, true);
}

int fsync(int fd) {
        if (before_sync(fd) < 0)
                return -1;
        return real_fsync ? real_fsync(fd) : (int) syscall(SYS_fsync, fd);
}

int fdatasync(int fd) {
        if (before_sync(fd) < 0)
                return -1;
        return real_fdatasync ? real_fdatasync(fd) : (int) syscall(SYS_fdatasync, fd);
}

/* ---- the specification, read once at load ----------------------------------------------------- */

static void bad_spec(const char *spec, const char *why) {
        struct line l = {.n = 0};
        put(&l, "fault-io: HANDREC_FAULT=\"");
        put(&l, spec);
        put(&l, "\": ");
        put(&l, why);
        say(&l);
        _exit(BAD_SPEC_EXIT);
}

static int64_t seconds_ns(const char *s, char **end) {
        double v = strtod(s, end);
        return v >= 0 && v < 1e6 ? (int64_t) (v * 1e9) : -1;
}

static void parse_clause(const char *spec, char *c) {
        char *end;

        if (strncmp(c, "stall=", 6) == 0) {
                f.stall_ns = seconds_ns(c + 6, &end);
                if (f.stall_ns <= 0 || *end != '@')
                        bad_spec(spec, "stall=SECONDS@SECONDS expected");
                f.stall_at_ns = seconds_ns(end + 1, &end);
                if (f.stall_at_ns < 0 || *end)
                        bad_spec(spec, "stall=SECONDS@SECONDS expected");
        } else if (strncmp(c, "every=", 6) == 0) {
                f.stall_every_ns = seconds_ns(c + 6, &end);
                if (f.stall_every_ns <= 0 || *end)
                        bad_spec(spec, "every=SECONDS expected");
        } else if (strncmp(c, "count=", 6) == 0) {
                f.stall_count = strtol(c + 6, &end, 10);
                if (f.stall_count < 1 || *end)
                        bad_spec(spec, "count=N (N >= 1) expected");
        } else if (strncmp(c, "eio@", 4) == 0 || strncmp(c, "enospc@", 7) == 0) {
                bool eio = c[1] == 'i';
                f.error = eio ? EIO : ENOSPC;
                f.error_after = strtoull(c + (eio ? 4 : 7), &end, 10);
                if (*end)
                        bad_spec(spec, "eio@BYTES or enospc@BYTES expected");
        } else if (strncmp(c, "times=", 6) == 0) {
                f.error_times = strtol(c + 6, &end, 10);
                if (f.error_times < 1 || *end)
                        bad_spec(spec, "times=N (N >= 1) expected");
        } else if (strncmp(c, "hold=", 5) == 0) {
                if (c[5] != '/' || strlen(c + 5) >= sizeof(f.hold))
                        bad_spec(spec, "hold=/absolute/path expected");
                strcpy(f.hold, c + 5);
        } else if (strncmp(c, "match=", 6) == 0) {
                if (!c[6] || strlen(c + 6) >= sizeof(f.match))
                        bad_spec(spec, "match=SUFFIX expected");
                strcpy(f.match, c + 6);
        } else
                bad_spec(spec, "unknown clause; see tests/faults/fault-io.c");
}

__attribute__((constructor)) static void setup(void) {
        const char *spec = getenv("HANDREC_FAULT");
        char copy[512], *save = NULL;

        real_write = (write_fn *) dlsym(RTLD_NEXT, "write");
        real_pwrite = (pwrite_fn *) dlsym(RTLD_NEXT, "pwrite");
        real_pwrite64 = (pwrite_fn *) dlsym(RTLD_NEXT, "pwrite64");
        real_writev = (writev_fn *) dlsym(RTLD_NEXT, "writev");
        real_pwritev = (pwritev_fn *) dlsym(RTLD_NEXT, "pwritev");
        real_fsync = (sync_fn *) dlsym(RTLD_NEXT, "fsync");
        real_fdatasync = (sync_fn *) dlsym(RTLD_NEXT, "fdatasync");

        if (!spec || !*spec)
                return;
        if (strlen(spec) >= sizeof(copy))
                bad_spec("...", "too long");
        strcpy(copy, spec);
        strcpy(f.match, ".h5");
        f.error_times = -1;
        for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save))
                parse_clause(spec, c);
        if (f.stall_count == 0) /* not given: one stall, or unlimited with every= */
                f.stall_count = f.stall_every_ns > 0 ? -1 : 1;
        if (f.stall_every_ns > 0 && f.stall_every_ns < f.stall_ns)
                bad_spec(spec, "every= must be at least the stall's length");
        f.on = true;
}
