/* SPDX-License-Identifier: MIT */
/*
 * take-reader.h — a finished take's root attributes, read by HDF5 in a child process: for a
 * service that must not stop when HDF5 does (ListTakes and DiscardTake in handrecd, the scan of
 * handrec-offload).
 *
 * Why a child: HDF5 1.10.8 walks forever, inside H5Aread(), a global heap collection whose
 * free-space object has size 0, and copies past its buffer an object that claims more than its
 * collection holds (tests/fuzz/README.md). Nothing can tell such a file beforehand. Read in the
 * service, one damaged file in the output folder froze handrecd's main thread at every ListTakes
 * (until the watchdog killed it, then again), or corrupted its heap.
 *
 * DESIGN: the service starts its own program again (/proc/self/exe TAKE_READER_ARG) with one end
 * of a SOCK_SEQPACKET socket pair as TAKE_READER_FD; in main() that program calls
 * take_reader_serve() before anything else. The service sends the descriptor of a file it opened
 * (O_NOFOLLOW, checked regular: the child reads exactly that file, through /proc/self/fd) and
 * the child says when it begins the file (its CPU time so far) and answers with one struct
 * take_attributes, the same program on both ends. What is judged is the child's CPU time on the
 * file, not the wall clock nor its start (seconds in an emulator): HDF5 going round uses it, a
 * child on a busy machine does not. A child that has used TAKE_READER_CPU_MS on one file (a good
 * take's attributes cost a few ms), or that a signal of a crash ended, marks the file damaged
 * (take_reader_memory), not tried again while it is unchanged; a child with no answer after
 * TAKE_READER_WAIT_MS, or that ended otherwise, costs the child but not the file (read again
 * next time). Only take_reader_stop() closes the socket, so a caller unwatches it first. The
 * child locks no file (HDF5_USE_FILE_LOCKING=FALSE), ignores the signals a unit's stop sends its
 * whole group, and dies with its parent (PR_SET_PDEATHSIG, or the socket's end).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define TAKE_READER_ARG "--take-reader"
#define TAKE_READER_FD 3
#define TAKE_READER_CPU_MS 1000   /* on one file: HDF5 going round */
#define TAKE_READER_WAIT_MS 10000 /* no answer yet, little CPU used: given up (below the watchdogs' 30 s) */
#define TAKE_READER_CHECK_MS 250  /* how often a waiting caller looks at the child */

/* A take's root attributes. The sizes are handrecd's (daemon/pipeline.h: TAKE_*_MAX + 1). */
struct take_attributes {
        int result; /* 0; -EIO: HDF5 cannot read it; -ENOMSG: HDF5, but not a take (format) */
        char error[256];
        char started_utc[32], episode[65], task[1025], label[65], status[32], stop_reason[32];
        char operator_[65], qc_verdict[1024];
        uint64_t frames;
        double duration;
};

/* Files the child did not read (timed out or ended), by identity and content: not tried again
 * while unchanged. The oldest is forgotten first. */
#define TAKE_READER_REMEMBERED 128
struct take_reader_memory {
        struct {
                dev_t dev;
                ino_t ino;
                off_t size;
                int64_t mtime_ns;
                bool timed_out; /* else the child ended (HDF5 crashed) */
        } files[TAKE_READER_REMEMBERED];
        unsigned n, next;
};

/* A child, started when first needed. */
struct take_reader {
        pid_t pid;            /* 0: none */
        int sock;             /* -1: none */
        struct stat sent;     /* the file being read */
        int64_t sent_ns;      /* CLOCK_MONOTONIC when it was sent */
        int64_t begun_cpu_ns; /* the child's CPU time when it began the file; -1 until it says */
};

#define TAKE_READER_INIT                                                                                               \
        { .pid = 0, .sock = -1 }

/**
 * take_reader_serve() - the child's whole life: read each file whose descriptor comes on @sock
 * and answer, until the service closes its end. Called from main() of a program started with
 * TAKE_READER_ARG, before anything else. It ends the process (_exit()).
 */
_Noreturn void take_reader_serve(int sock);

/**
 * take_attributes_read() - @ret from the file open as @fd, by HDF5 in this process: what the
 * child does, and what a program that may stop (handrecctl) calls itself.
 */
void take_attributes_read(int fd, struct take_attributes *ret);

/**
 * take_reader_send() - send the file open as @fd (a regular file) to @r's child, starting one if
 * none runs. Then, whenever r->sock is readable, take_reader_receive(); every
 * TAKE_READER_CHECK_MS without an answer, take_reader_check(). Return: 0, or -errno (no child
 * could be started: nothing sent).
 */
int take_reader_send(struct take_reader *r, int fd);

/**
 * take_reader_receive() - the answer to the file sent.
 * Return: 0 with @ret set; -EAGAIN (no answer yet); -EPIPE, the child crashed (the file
 * remembered in @mem as damaged); -ECHILD, it ended otherwise (killed, a library missing: not
 * the file's doing). With -EPIPE and -ECHILD the child is reaped, @ret says why (result -EIO),
 * and the caller calls take_reader_stop() once nothing watches r->sock.
 */
int take_reader_receive(struct take_reader *r, struct take_reader_memory *mem, struct take_attributes *ret);

/**
 * take_reader_check() - no answer yet: judge the child. Return: 0 (wait on); -ETIMEDOUT, it used
 * TAKE_READER_CPU_MS (killed, the file remembered in @mem as damaged); -EBUSY, TAKE_READER_WAIT_MS
 * passed with less CPU (killed; read again next time). Otherwise as take_reader_receive()'s ends.
 */
int take_reader_check(struct take_reader *r, struct take_reader_memory *mem, struct take_attributes *ret);

/**
 * take_reader_read() - send, wait (TAKE_READER_WAIT_MS at most), receive: for a caller that may
 * block that long. A file @mem remembers is not sent. Return: 0 with @ret set (its result, error),
 * or what take_reader_receive() and take_reader_check() return at their end, or -errno (no
 * child), with ret->error saying why in a sentence's words. The child is left running after 0.
 */
int take_reader_read(struct take_reader *r, struct take_reader_memory *mem, int fd, struct take_attributes *ret);

/**
 * take_reader_remembered() - whether @mem holds the file @st as damaged; *@timed_out says how
 * (HDF5 went round: true; crashed: false). Return: true when remembered.
 */
bool take_reader_remembered(const struct take_reader_memory *mem, const struct stat *st, bool *timed_out);

/** take_reader_damage_text() - the sentence's words for a damaged file (went round, or crashed). */
const char *take_reader_damage_text(bool timed_out);

/** take_reader_stop() - end @r's child (socket closed, killed, reaped); @r can start another. */
void take_reader_stop(struct take_reader *r);
