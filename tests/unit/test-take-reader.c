/* SPDX-License-Identifier: MIT */
/*
 * The take reader (lib/take-reader.h): a take's attributes read by HDF5 in a child process, the
 * test program itself started again as handrecd starts itself. What the child answers, what it
 * says of files that are not takes, a file it goes round in (HDF5 1.10.8 does, forever, in the
 * fuzzer's tests/fuzz/regressions/take-file/hdf5-global-heap-free-space-size-0.h5z: a later HDF5
 * that reads it would fail this test, to be changed then) costing 1 s of its CPU time once, then
 * remembered, and a child's end blamed on the file only when it crashed.
 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/h5util.h"
#include "../../lib/layout.h"
#include "../../lib/take-reader.h"
#include "../../lib/util.h"
#include "test.h"

static char dir[] = "/tmp/handrec-test-take-reader-XXXXXX";

/* A finished take's root attributes, as the writer leaves them. */
static void write_take(const char *path, const char *format) {
        hid_t fapl = layout_fapl(), f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);

        H5Pclose(fapl);
        CHECK(f >= 0);
        CHECK(h5_attr_string(f, "format", format) == 0);
        CHECK(h5_attr_string(f, "status", "complete") == 0 && h5_attr_string(f, "task", "stack the cups") == 0);
        CHECK(h5_attr_string(f, "started_utc", "2026-12-07T01:02:03Z") == 0);
        CHECK(h5_attr_u64(f, "frames", 42) == 0 && h5_attr_double(f, "duration_s", 1.5) == 0);
        CHECK(H5Fclose(f) >= 0);
        CHECK_EQ_INT(layout_library_release(), 1);
}

static int open_file(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        return fd;
}

/* Whether process @pid is gone (reaped: kill() finds nothing). */
static bool gone(pid_t pid) {
        return kill(pid, 0) < 0 && errno == ESRCH;
}

TEST(child_reads_a_take_and_says_what_is_not_one) {
        struct take_reader r = TAKE_READER_INIT;
        struct take_reader_memory mem = {0};
        struct take_attributes a;
        char take[256], other[256], text[256];
        int fd;
        pid_t child;

        snprintf(take, sizeof(take), "%s/take.h5", dir);
        write_take(take, "handrec");
        fd = open_file(take);
        CHECK_EQ_INT(take_reader_read(&r, &mem, fd, &a), 0);
        close(fd);
        CHECK_EQ_INT(a.result, 0);
        CHECK(streq(a.status, "complete") && streq(a.task, "stack the cups"));
        CHECK(streq(a.started_utc, "2026-12-07T01:02:03Z"));
        CHECK_EQ_INT(a.frames, 42);
        CHECK(a.duration == 1.5);
        CHECK(r.pid > 0 && r.sock >= 0);
        child = r.pid;

        /* the same child for the next files */
        snprintf(other, sizeof(other), "%s/other.h5", dir);
        write_take(other, "something else");
        fd = open_file(other);
        CHECK_EQ_INT(take_reader_read(&r, &mem, fd, &a), 0);
        close(fd);
        CHECK_EQ_INT(a.result, -ENOMSG);
        CHECK_CONTAINS(a.error, "not a take");
        snprintf(text, sizeof(text), "%s/text.h5", dir);
        fd = open(text, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0 && write(fd, "not HDF5\n", 9) == 9);
        CHECK_EQ_INT(take_reader_read(&r, &mem, fd, &a), 0);
        close(fd);
        CHECK_EQ_INT(a.result, -EIO);
        CHECK_CONTAINS(a.error, "not an HDF5 file");
        CHECK(r.pid == child);
        CHECK_EQ_INT(mem.n, 0);

        take_reader_stop(&r);
        CHECK(r.pid == 0 && r.sock == -1 && gone(child));
        unlink(take), unlink(other), unlink(text);
}

/* The regression file, its runs of zeros written back (tests/fuzz/seeds.py's format: "\0HRZ"
 * and a 3-byte little-endian length). Return: the descriptor of the unpacked file. */
static int damaged_take(const char *path) {
        static const char src[] = "tests/fuzz/regressions/take-file/hdf5-global-heap-free-space-size-0.h5z";
        static uint8_t in[1 << 16], out[1 << 20];
        int fd = open(src, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, in, sizeof(in));
        size_t o = 0;

        CHECK(n > 0);
        if (fd >= 0)
                close(fd);
        for (ssize_t i = 0; i < n;) {
                if (i + 7 <= n && memcmp(in + i, "\0HRZ", 4) == 0) {
                        size_t zeros = in[i + 4] | (size_t) in[i + 5] << 8 | (size_t) in[i + 6] << 16;
                        CHECK(o + zeros <= sizeof(out));
                        memset(out + o, 0, MIN(zeros, sizeof(out) - o));
                        o = MIN(o + zeros, sizeof(out));
                        i += 7;
                } else if (o < sizeof(out)) {
                        out[o++] = in[i++];
                } else {
                        break;
                }
        }
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0 && write(fd, out, o) == (ssize_t) o);
        CHECK(memcmp(out, "\211HDF\r\n\032\n", 8) == 0);
        return fd;
}

TEST(a_file_hdf5_goes_round_in_costs_one_second_of_cpu_then_is_remembered) {
        struct take_reader r = TAKE_READER_INIT;
        struct take_reader_memory mem = {0};
        struct take_attributes a;
        char bad[256], good[256];
        struct stat st;
        bool timed_out = false;
        int64_t t0;
        pid_t child;
        int fd;

        snprintf(bad, sizeof(bad), "%s/damaged.h5", dir);
        fd = damaged_take(bad);
        t0 = now_ns(CLOCK_MONOTONIC);
        CHECK_EQ_INT(take_reader_read(&r, &mem, fd, &a), -ETIMEDOUT);
        printf("# the damaged file cost %lld ms of the wall clock (the child killed at %d ms of CPU time)\n",
               (long long) ((now_ns(CLOCK_MONOTONIC) - t0) / 1000000), TAKE_READER_CPU_MS);
        CHECK_CONTAINS(a.error, "went round in it for 1 s of CPU time");
        CHECK(r.pid == 0 && r.sock == -1); /* killed and reaped */
        CHECK_EQ_INT(mem.n, 1);

        /* unchanged: said at once, nothing sent */
        memset(&r.sent, 0, sizeof(r.sent));
        CHECK_EQ_INT(take_reader_read(&r, &mem, fd, &a), -ETIMEDOUT);
        CHECK(r.pid == 0 && r.sent.st_ino == 0);
        CHECK_CONTAINS(a.error, "went round in it");
        /* changed (a byte more): no longer the file remembered */
        CHECK(fstat(fd, &st) == 0 && take_reader_remembered(&mem, &st, &timed_out) && timed_out);
        CHECK(pwrite(fd, "", 1, st.st_size) == 1 && fstat(fd, &st) == 0);
        CHECK(!take_reader_remembered(&mem, &st, &timed_out));
        close(fd);

        /* a new child for the next file */
        snprintf(good, sizeof(good), "%s/good.h5", dir);
        write_take(good, "handrec");
        fd = open_file(good);
        CHECK_EQ_INT(take_reader_read(&r, &mem, fd, &a), 0);
        CHECK(a.result == 0 && streq(a.status, "complete"));
        close(fd);
        child = r.pid;
        take_reader_stop(&r);
        CHECK(gone(child));
        unlink(bad), unlink(good);
}

/* The child ended by @sig while it reads the damaged file: @mem after. Return: what receive said. */
static int child_ends_by(int sig, struct take_reader_memory *mem, struct take_attributes *a) {
        struct take_reader r = TAKE_READER_INIT;
        char bad[256];
        struct pollfd p;
        int fd, ret;

        snprintf(bad, sizeof(bad), "%s/ended.h5", dir);
        fd = damaged_take(bad);
        CHECK_EQ_INT(take_reader_send(&r, fd), 0);
        CHECK(kill(r.pid, sig) == 0);
        p = (struct pollfd){.fd = r.sock, .events = POLLIN};
        CHECK(poll(&p, 1, 60000) == 1); /* the socket's end: the child is gone */
        ret = take_reader_receive(&r, mem, a);
        CHECK(r.pid == 0); /* reaped */
        take_reader_stop(&r);
        close(fd);
        unlink(bad);
        return ret;
}

/* Only a crash is the file's doing: a child killed otherwise (a unit's stop, the OOM killer) or
 * ended otherwise leaves the file to be read again. */
TEST(only_a_crash_marks_the_file) {
        struct take_reader_memory mem = {0};
        struct take_attributes a;

        CHECK_EQ_INT(child_ends_by(SIGKILL, &mem, &a), -ECHILD);
        CHECK_CONTAINS(a.error, "was killed");
        CHECK_CONTAINS(a.error, "read again next time");
        CHECK_EQ_INT(mem.n, 0);
        CHECK_EQ_INT(child_ends_by(SIGSEGV, &mem, &a), -EPIPE);
        CHECK_CONTAINS(a.error, "HDF5 crashed reading its attributes");
        CHECK_EQ_INT(mem.n, 1);
}

int main(int argc, char *argv[]) {
        static const struct test tests[] = {T(child_reads_a_take_and_says_what_is_not_one),
                                            T(a_file_hdf5_goes_round_in_costs_one_second_of_cpu_then_is_remembered),
                                            T(only_a_crash_marks_the_file)};
        int r;

        if (argc == 2 && streq(argv[1], TAKE_READER_ARG))
                take_reader_serve(TAKE_READER_FD); /* started again by the reader: the child */
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        CHECK(mkdtemp(dir) != NULL);
        r = test_main("take-reader", tests, ELEMENTSOF(tests));
        rmdir(dir);
        return r;
}
