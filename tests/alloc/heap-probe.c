/* SPDX-License-Identifier: MIT */
/*
 * heap-probe.so — an LD_PRELOAD shim for tests: malloc's bytes in use in the process, on request.
 * A thread of its own reads the FIFO $HEAP_PROBE_FIFO; for each byte read it appends a line
 * "in_use mapped" to $HEAP_PROBE_FILE (mallinfo2(): uordblks, the bytes in use in malloc's arenas,
 * and hblkhd, in blocks mapped on their own), then closes it. A test asks when the process is idle
 * and reads the answer: what the process keeps, in bytes, not resident pages.
 * The thread allocates nothing (a stack buffer, write(2)), so the answer is not its own.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *serve(void *fifo) {
        const char *out = getenv("HEAP_PROBE_FILE");
        char c, line[64];

        for (;;) {
                int in = open(fifo, O_RDONLY | O_CLOEXEC); /* blocks until a test opens it to write */
                if (in < 0)
                        return NULL;
                while (read(in, &c, 1) == 1) {
                        struct mallinfo2 m = mallinfo2();
                        int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
                        int n = snprintf(line, sizeof(line), "%zu %zu\n", m.uordblks, m.hblkhd);
                        if (fd >= 0) {
                                (void) !write(fd, line, (size_t) n);
                                close(fd);
                        }
                }
                close(in);
        }
}

__attribute__((constructor)) static void start(void) {
        static pthread_t thread;
        const char *fifo = getenv("HEAP_PROBE_FIFO");
        sigset_t all, old;

        if (!fifo || !getenv("HEAP_PROBE_FILE"))
                return;
        /* every signal blocked in the thread: the process's own (SIGTERM to its signalfd) stay its */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&thread, NULL, serve, (void *) fifo) == 0)
                pthread_detach(thread);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
}
