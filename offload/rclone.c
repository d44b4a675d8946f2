/* SPDX-License-Identifier: MIT */
/*
 * rclone.c — one rclone child at a time: started with its standard output and error on pipes,
 * at nice 19 and I/O class idle (a take being recorded always comes first), killed if the
 * service dies (PR_SET_PDEATHSIG). Its output is read on the event loop: standard output kept
 * for the caller (lsjson, hashsum), standard error parsed as rclone's JSON log (--use-json-log)
 * for the transfer's progress (--stats) and its errors. The caller's done() runs once the child
 * has exited and both pipes are drained.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/util.h"
#include "offload.h"

#define RCLONE_OUT_MAX (4u << 20) /* lsjson of one file, a hash: far less */

/* linux/ioprio.h is not in every libc's headers */
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_WHO_PROCESS 1

unsigned rclone_base_args(const struct offload *o, const char *argv[], unsigned max) {
        unsigned n = 0;
        const char *base[] = {o->oc->rclone,
                              "--config",
                              o->oc->rclone_config,
                              "--use-json-log",
                              "-v",
                              "--retries",
                              "1",
                              "--low-level-retries",
                              "3",
                              "--contimeout",
                              "10s",
                              "--timeout",
                              "60s"};

        for (unsigned i = 0; i < ELEMENTSOF(base) && n < max; i++)
                argv[n++] = base[i];
        return n;
}

/* In the child: lowest priorities, die with the parent, pipes as stdout and stderr, exec. */
_Noreturn static void child(char *const argv[], int out, int err, pid_t parent) {
        sigset_t none;
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        /* its own process group, so that what it starts is stopped with it (rclone_kill()) */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                _exit(125); /* the service died before PR_SET_PDEATHSIG was in place */
        if (setpriority(PRIO_PROCESS, 0, 19) < 0) {
                /* already lower, or not allowed to change: either way no higher */
        }
        syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
                _exit(126);
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "cannot run %s: %s; install rclone (apt install rclone) or set offload.rclone\n",
                argv[0], strerror(errno));
        _exit(127);
}

/* rclone's error sentence on one line: "Attempt 1/1 failed with 1 errors and: " dropped, its
 * continuation lines ("\n\tstatus code: 403", "\ncaused by: ...") joined with single spaces. */
static void one_sentence(char *dst, size_t len, const char *msg) {
        const char *p = strstr(msg, " errors and: ");
        size_t n = 0;
        bool space = false;

        if (strncmp(msg, "Attempt ", 8) == 0 && p)
                msg = p + strlen(" errors and: ");
        for (; *msg && n + 1 < len; msg++) {
                bool ws = *msg == '\n' || *msg == '\t' || *msg == '\r' || *msg == ' ';
                if (ws && (space || n == 0))
                        continue;
                dst[n++] = ws ? ' ' : *msg;
                space = ws;
        }
        /* cut short: never in the middle of a character (D-Bus refuses a string with a broken one) */
        if (((unsigned char) *msg & 0xC0) == 0x80) {
                while (n && ((unsigned char) dst[n - 1] & 0xC0) == 0x80)
                        n--;
                if (n && (unsigned char) dst[n - 1] >= 0xC0)
                        n--;
        }
        while (n && dst[n - 1] == ' ')
                n--;
        dst[n] = '\0';
}

/* One line of rclone's standard error: a JSON log record, or plain text. */
static void parse_line(struct rclone_job *j, const char *line) {
        json_object *rec = line[0] == '{' ? json_tokener_parse(line) : NULL, *v, *stats;
        const char *level = "", *msg = line;

        if (rec && json_object_is_type(rec, json_type_object)) {
                /* a member that is null ("level": null) is NULL here, as if it were missing */
                if (json_object_object_get_ex(rec, "level", &v) && v)
                        level = json_object_get_string(v);
                if (json_object_object_get_ex(rec, "msg", &v) && v)
                        msg = json_object_get_string(v);
                if (json_object_object_get_ex(rec, "stats", &stats)) {
                        /* figures rclone never sends (negative, not finite) are not taken */
                        int64_t n;
                        double d;
                        if (json_object_object_get_ex(stats, "bytes", &v) && (n = json_object_get_int64(v)) >= 0)
                                j->bytes = (uint64_t) n;
                        if (json_object_object_get_ex(stats, "totalBytes", &v) && (n = json_object_get_int64(v)) >= 0)
                                j->total = (uint64_t) n;
                        if (json_object_object_get_ex(stats, "speed", &v) && isfinite(d = json_object_get_double(v)) &&
                            d >= 0)
                                j->speed = d;
                }
        }
        if (streq(level, "error") || streq(level, "critical") || streq(level, "fatal") ||
            (!rec && strstr(line, "ERROR")))
                one_sentence(j->error, sizeof(j->error), msg);
        else if (msg[0] && !json_object_object_get_ex(rec, "stats", &stats))
                one_sentence(j->last_line, sizeof(j->last_line), msg);
        json_object_put(rec);
}

static void trim(char *s) {
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = '\0';
}

void rclone_take_stderr(struct rclone_job *j, const char *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (buf[i] != '\n' && j->line_len < sizeof(j->line) - 1) {
                        j->line[j->line_len++] = buf[i];
                        continue;
                }
                if (buf[i] != '\n')
                        continue; /* an overlong line: the rest is dropped */
                j->line[j->line_len] = '\0';
                trim(j->line);
                if (j->line[0])
                        parse_line(j, j->line);
                j->line_len = 0;
        }
}

static void take_out(struct rclone_job *j, const char *buf, size_t n) {
        if (j->out_len + n + 1 > j->out_cap) {
                size_t cap = MAX(j->out_cap * 2, j->out_len + n + 1);
                char *p;
                if (cap > RCLONE_OUT_MAX)
                        return;
                p = realloc(j->out, cap);
                if (!p)
                        return;
                j->out = p;
                j->out_cap = cap;
        }
        memcpy(j->out + j->out_len, buf, n);
        j->out_len += n;
        j->out[j->out_len] = '\0';
}

/* Read what @fd has now. Return: 0 at EOF, 1 when more may come. */
static int drain(struct rclone_job *j, int fd) {
        char buf[16384];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN ? 1 : 0;
                if (n == 0)
                        return 0;
                if (fd == j->out_fd)
                        take_out(j, buf, (size_t) n);
                else
                        rclone_take_stderr(j, buf, (size_t) n);
        }
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct offload *o = userdata;
        (void) revents;
        if (drain(&o->job, fd) == 0)
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        struct offload *o = userdata;
        struct rclone_job *j = &o->job;
        void (*done)(struct offload *, int) = j->done;
        int status = si->si_code == CLD_EXITED ? si->si_status : -si->si_status;
        (void) s;

        /* the child is gone: whatever it wrote is in the pipes already. Read that, without
         * waiting for their end: a helper it left behind (a credential command) may hold them
         * open, and the loop must never block on it. Its process group is killed too. */
        (void) drain(j, j->out_fd);
        (void) drain(j, j->err_fd);
        if (j->line_len)
                rclone_take_stderr(j, "\n", 1);
        if (j->pid > 0)
                kill(-j->pid, SIGKILL);
        j->pid = 0;
        j->done = NULL;
        if (done)
                done(o, status);
        return 0;
}

void rclone_job_free(struct rclone_job *j) {
        j->child_source = source_free(j->child_source);
        j->out_source = source_free(j->out_source);
        j->err_source = source_free(j->err_source);
        if (j->out_fd >= 0)
                close(j->out_fd);
        if (j->err_fd >= 0)
                close(j->err_fd);
        free(j->out);
        *j = (struct rclone_job){.out_fd = -1, .err_fd = -1};
}

int rclone_run(struct offload *o, char *const argv[], void (*done)(struct offload *o, int status)) {
        struct rclone_job *j = &o->job;
        int out[2], err[2], r;
        pid_t parent;

        rclone_job_free(j);
        if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        if (pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0) {
                r = -errno;
                close(out[0]), close(out[1]);
                return r;
        }
        j->out_fd = out[0];
        j->err_fd = err[0];
        parent = getpid();
        j->pid = fork();
        if (j->pid == 0)
                child(argv, out[1], err[1], parent);
        r = j->pid < 0 ? -errno : 0;
        if (j->pid > 0)
                (void) setpgid(j->pid, j->pid); /* as the child does: whichever runs first */
        close(out[1]);
        close(err[1]);
        if (r < 0) {
                j->pid = 0;
                return r;
        }
        j->done = done;
        r = sd_event_add_io(o->event, &j->out_source, j->out_fd, EPOLLIN, on_output, o);
        if (r >= 0)
                r = sd_event_add_io(o->event, &j->err_source, j->err_fd, EPOLLIN, on_output, o);
        if (r >= 0)
                r = sd_event_add_child(o->event, &j->child_source, j->pid, WEXITED, on_child_exit, o);
        if (r < 0) {
                kill(j->pid, SIGKILL);
                waitpid(j->pid, NULL, 0);
                j->pid = 0;
                j->done = NULL;
        }
        return r;
}

void rclone_kill(struct offload *o, int sig) {
        if (o->job.pid > 0)
                kill(-o->job.pid, sig); /* its process group: rclone and what it started */
}

void rclone_describe_failure(const struct rclone_job *j, const char *what, int status, char *buf, size_t len) {
        const char *said = j->error[0] ? j->error : j->last_line;

        if (status < 0)
                snprintf(buf, len, "%s was killed by signal %d (%s)%s%s", what, -status, strsignal(-status),
                         said[0] ? ": " : "", said);
        else if (said[0])
                snprintf(buf, len, "%s failed: %s", what, said);
        else
                snprintf(buf, len, "%s failed with exit status %d and said nothing", what, status);
}
