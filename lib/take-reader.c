/* SPDX-License-Identifier: MIT */
/* take-reader.c — a finished take's root attributes, read by HDF5 in a child process (see take-reader.h). */
#include "take-reader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "h5util.h"
#include "layout.h"
#include "util.h"

extern char **environ;

/* ---- reading, in whichever process calls it ---- */

/* Open the take open as @fd with HDF5 (a crashed one left with SWMR flags: read as SWMR). */
static hid_t open_fd(int fd) {
        char path[64];
        hid_t file;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        file = layout_open(path, H5F_ACC_RDONLY, false);
        if (file < 0) {
                H5Eclear2(H5E_DEFAULT);
                file = layout_open(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, false);
        }
        if (file < 0)
                H5Eclear2(H5E_DEFAULT);
        return file;
}

void take_attributes_read(int fd, struct take_attributes *ret) {
        char format[32] = "";
        struct stat st;
        hid_t file;

        *ret = (struct take_attributes){0};
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        file = open_fd(fd);
        if (file < 0) {
                ret->result = -EIO;
                snprintf(ret->error, sizeof(ret->error), "%s",
                         fstat(fd, &st) == 0 && st.st_size == 0 ? "an empty file, not a take"
                                                                : "not an HDF5 file handrecd can read");
                return;
        }
        h5_attr_read_string(file, "format", format, sizeof(format));
        if (!streq(format, "handrec")) {
                H5Fclose(file);
                ret->result = -ENOMSG;
                snprintf(ret->error, sizeof(ret->error), "an HDF5 file, but not a take (no format=\"handrec\")");
                return;
        }
        h5_attr_read_string(file, "started_utc", ret->started_utc, sizeof(ret->started_utc));
        h5_attr_read_string(file, "episode", ret->episode, sizeof(ret->episode));
        h5_attr_read_string(file, "task", ret->task, sizeof(ret->task));
        h5_attr_read_string(file, "label", ret->label, sizeof(ret->label));
        h5_attr_read_string(file, "status", ret->status, sizeof(ret->status));
        h5_attr_read_string(file, "stop_reason", ret->stop_reason, sizeof(ret->stop_reason));
        h5_attr_read_string(file, "operator", ret->operator_, sizeof(ret->operator_));
        h5_attr_read_string(file, "qc_verdict", ret->qc_verdict, sizeof(ret->qc_verdict));
        h5_attr_read_number(file, "frames", H5T_NATIVE_UINT64, &ret->frames);
        h5_attr_read_number(file, "duration_s", H5T_NATIVE_DOUBLE, &ret->duration);
        H5Fclose(file);
}

/* ---- the child ---- */

/* Every descriptor but 0-2 and @keep closed: the service's (cameras, sockets) are not the child's
 * to hold, whatever their close-on-exec flag says. */
static void close_others(int keep) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                int fd = atoi(e->d_name);
                if (e->d_name[0] != '.' && fd > 2 && fd != keep && fd != dirfd(d))
                        close(fd);
        }
        closedir(d);
}

/* The descriptor that came with one message on @sock: >= 0, -1 at the end (the service closed
 * its end), -2 for a message without one. */
static int receive_fd(int sock) {
        char byte, control[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr msg = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
        struct cmsghdr *c;
        ssize_t n;
        int fd;

        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                return -1;
        c = CMSG_FIRSTHDR(&msg);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
                return -2;
        memcpy(&fd, CMSG_DATA(c), sizeof(fd));
        return fd;
}

_Noreturn void take_reader_serve(int sock) {
        struct take_attributes a;
        int fd;

        (void) prctl(PR_SET_NAME, "hr-takereader");
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL); /* a child going round in HDF5 goes with its service */
        /* a stop of the service's unit signals its whole group: the child ends with the service
         * (the socket's end, or PR_SET_PDEATHSIG), never mid-file on its own */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        close_others(sock);
        setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1); /* never a lock on a take handrecd may open */
        if (layout_library_setup() < 0)
                _exit(1);
        while ((fd = receive_fd(sock)) != -1) {
                struct timespec cpu;
                int64_t begun;
                if (fd < 0)
                        continue;
                /* what the child had used before this file: its start (a slow machine, an emulator:
                 * seconds) is not the file's */
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
                begun = (int64_t) cpu.tv_sec * 1000000000 + cpu.tv_nsec;
                if (send(sock, &begun, sizeof(begun), MSG_NOSIGNAL) != (ssize_t) sizeof(begun))
                        break;
                take_attributes_read(fd, &a);
                close(fd);
                if (send(sock, &a, sizeof(a), MSG_NOSIGNAL) != (ssize_t) sizeof(a))
                        break;
        }
        /* no exit handlers: nothing to flush, and a sanitizer's leak report of HDF5's own losses
         * on a damaged file (tests/fuzz/README.md) is not the service's */
        _exit(0);
}

/* ---- the service's side ---- */

static int start_child(struct take_reader *r) {
        char *argv[] = {(char *) "hr-takereader", (char *) TAKE_READER_ARG, NULL};
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, defaults;
        int sv[2], child, e;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        /* dup2() onto itself would keep close-on-exec: the child's end is never TAKE_READER_FD here */
        child = sv[1] == TAKE_READER_FD ? fcntl(sv[1], F_DUPFD_CLOEXEC, TAKE_READER_FD + 1) : sv[1];
        if (child < 0) {
                e = -errno;
                close(sv[0]), close(sv[1]);
                return e;
        }
        sigemptyset(&none);
        sigfillset(&defaults);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, child, TAKE_READER_FD);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &none); /* the service's blocked signals are not the child's */
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        e = -posix_spawn(&r->pid, "/proc/self/exe", &fa, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        if (child != sv[1])
                close(child);
        close(sv[1]);
        if (e < 0) {
                r->pid = 0;
                close(sv[0]);
                return e;
        }
        r->sock = sv[0];
        return 0;
}

void take_reader_stop(struct take_reader *r) {
        if (r->sock >= 0)
                close(r->sock);
        r->sock = -1;
        if (r->pid > 0) {
                (void) kill(r->pid, SIGKILL);
                while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        r->pid = 0;
}

static int send_fd(int sock, int fd) {
        char byte = 'r', control[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr msg = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(fd));
        return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int take_reader_send(struct take_reader *r, int fd) {
        int e;

        if (fstat(fd, &r->sent) < 0)
                return -errno;
        /* a child that ended since its last answer is found here, and replaced once */
        for (int attempt = 0; attempt < 2; attempt++) {
                if (r->sock < 0 && (e = start_child(r)) < 0)
                        return e;
                e = send_fd(r->sock, fd);
                if (e == 0) {
                        r->sent_ns = now_ns(CLOCK_MONOTONIC);
                        r->begun_cpu_ns = -1; /* until the child says it began */
                        return 0;
                }
                take_reader_stop(r);
        }
        return e;
}

static int64_t mtime_ns(const struct stat *st) {
        return (int64_t) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

bool take_reader_remembered(const struct take_reader_memory *mem, const struct stat *st, bool *timed_out) {
        for (unsigned i = 0; i < mem->n; i++)
                if (mem->files[i].dev == st->st_dev && mem->files[i].ino == st->st_ino &&
                    mem->files[i].size == st->st_size && mem->files[i].mtime_ns == mtime_ns(st)) {
                        *timed_out = mem->files[i].timed_out;
                        return true;
                }
        return false;
}

static void remember(struct take_reader_memory *mem, const struct stat *st, bool timed_out) {
        unsigned i = mem->next;
        bool known;

        if (take_reader_remembered(mem, st, &known))
                return; /* found by another reader meanwhile */
        mem->files[i].dev = st->st_dev;
        mem->files[i].ino = st->st_ino;
        mem->files[i].size = st->st_size;
        mem->files[i].mtime_ns = mtime_ns(st);
        mem->files[i].timed_out = timed_out;
        mem->next = (i + 1) % TAKE_READER_REMEMBERED;
        if (mem->n < TAKE_READER_REMEMBERED)
                mem->n++;
}

_Static_assert(TAKE_READER_CPU_MS == 1000, "the sentence below says 1 s");

const char *take_reader_damage_text(bool timed_out) {
        return timed_out ? "a damaged file: HDF5 went round in it for 1 s of CPU time without reading its attributes"
                         : "a damaged file: HDF5 crashed reading its attributes";
}

/* Every string ends within its array, whatever came. */
static void terminate(struct take_attributes *a) {
        char *fields[] = {a->error,  a->started_utc, a->episode,   a->task,      a->label,
                          a->status, a->stop_reason, a->operator_, a->qc_verdict};
        size_t sizes[] = {sizeof(a->error),       sizeof(a->started_utc), sizeof(a->episode),
                          sizeof(a->task),        sizeof(a->label),       sizeof(a->status),
                          sizeof(a->stop_reason), sizeof(a->operator_),   sizeof(a->qc_verdict)};

        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                fields[i][sizes[i] - 1] = '\0';
}

static bool crash_signal(int sig) {
        return sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGFPE || sig == SIGILL || sig == SIGSYS;
}

/* @ret says it could not be read: @error, in a sentence's words. */
static void set_error(struct take_attributes *ret, const char *error) {
        *ret = (struct take_attributes){.result = -EIO};
        snprintf(ret->error, sizeof(ret->error), "%s", error);
}

/* The child ended without an answer: reaped; the file remembered when HDF5 crashed on it. */
static int child_ended(struct take_reader *r, struct take_reader_memory *mem, struct take_attributes *ret) {
        char why[160];
        int status = 0;

        if (r->pid > 0)
                (void) kill(r->pid, SIGKILL); /* one that said something else is not left running; an
                                                 ended one keeps the status it ended with */
        while (r->pid > 0 && waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
                ;
        r->pid = 0;
        if (WIFSIGNALED(status) && crash_signal(WTERMSIG(status))) {
                remember(mem, &r->sent, false);
                set_error(ret, take_reader_damage_text(false));
                return -EPIPE;
        }
        if (WIFSIGNALED(status))
                snprintf(why, sizeof(why),
                         "handrecd's take reader was killed (%s) before it answered; it is read again "
                         "next time",
                         strsignal(WTERMSIG(status)));
        else
                snprintf(why, sizeof(why),
                         "handrecd's take reader ended (exit status %d) before it answered; it is "
                         "read again next time",
                         WEXITSTATUS(status));
        set_error(ret, why);
        return -ECHILD;
}

int take_reader_receive(struct take_reader *r, struct take_reader_memory *mem, struct take_attributes *ret) {
        ssize_t n = recv(r->sock, ret, sizeof(*ret), MSG_DONTWAIT);

        if (n == (ssize_t) sizeof(r->begun_cpu_ns) && r->begun_cpu_ns < 0) { /* it began the file */
                memcpy(&r->begun_cpu_ns, ret, sizeof(r->begun_cpu_ns));
                n = recv(r->sock, ret, sizeof(*ret), MSG_DONTWAIT);
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return -EAGAIN;
        if (n != (ssize_t) sizeof(*ret)) /* the child ended (0), or what came is not an answer */
                return child_ended(r, mem, ret);
        terminate(ret);
        return 0;
}

/* The CPU time the child has used, in ns (0 when it cannot be told). */
static int64_t child_cpu_ns(pid_t pid) {
        struct timespec t;
        clockid_t clock;

        if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &t) < 0)
                return 0;
        return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

int take_reader_check(struct take_reader *r, struct take_reader_memory *mem, struct take_attributes *ret) {
        bool going_round = r->begun_cpu_ns >= 0 &&
                           child_cpu_ns(r->pid) - r->begun_cpu_ns >= (int64_t) TAKE_READER_CPU_MS * 1000000;
        char why[160];

        if (!going_round && now_ns(CLOCK_MONOTONIC) - r->sent_ns < (int64_t) TAKE_READER_WAIT_MS * 1000000)
                return 0;
        (void) kill(r->pid, SIGKILL);
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        r->pid = 0;
        if (going_round) {
                remember(mem, &r->sent, true);
                set_error(ret, take_reader_damage_text(true));
                return -ETIMEDOUT;
        }
        snprintf(why, sizeof(why),
                 "not read in %d s, handrecd's take reader getting little CPU time (a busy "
                 "machine); it is read again next time",
                 TAKE_READER_WAIT_MS / 1000);
        set_error(ret, why);
        return -EBUSY;
}

int take_reader_read(struct take_reader *r, struct take_reader_memory *mem, int fd, struct take_attributes *ret) {
        struct stat st;
        bool timed_out;
        int e;

        if (fstat(fd, &st) == 0 && take_reader_remembered(mem, &st, &timed_out)) {
                set_error(ret, take_reader_damage_text(timed_out));
                return timed_out ? -ETIMEDOUT : -EPIPE;
        }
        e = take_reader_send(r, fd);
        if (e < 0) {
                char why[128];
                snprintf(why, sizeof(why), "handrecd's take reader could not start: %s", strerror(-e));
                set_error(ret, why);
                return e;
        }
        for (;;) {
                struct pollfd p = {.fd = r->sock, .events = POLLIN};
                int ready = poll(&p, 1, TAKE_READER_CHECK_MS);

                if (ready < 0 && errno != EINTR)
                        ready = 0;
                e = ready > 0 ? take_reader_receive(r, mem, ret) : take_reader_check(r, mem, ret);
                if (e == -EAGAIN || (ready <= 0 && e == 0))
                        continue;
                if (e < 0)
                        take_reader_stop(r);
                return e;
        }
}
