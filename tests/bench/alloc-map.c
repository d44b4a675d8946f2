/* SPDX-License-Identifier: MIT */
/*
 * alloc-map.so — an LD_PRELOAD shim for the memory breakdown (tests/bench/smaps.py): every
 * allocation of at least 64 KiB (malloc, calloc, realloc, aligned_alloc, posix_memalign, and
 * anonymous mmap) and its release, appended to $ALLOC_MAP_FILE as lines
 *
 *      + ADDRESS SIZE CALLER1 CALLER2 CALLER3      (hex; the return addresses that asked for it)
 *      - ADDRESS
 *
 * so that smaps.py can say which resident pages of the heap and of the anonymous maps hold what
 * (the kernel merges adjacent anonymous maps, and the heap holds many buffers: smaps alone cannot
 * name them). Works on any build of handrecd, old or new; costs nothing per frame (the daemon
 * makes its large allocations at start). Not for production: one lock, a fixed table.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

#define BIG ((size_t) 65536)
#define SLOTS 8192 /* open addressing: the live large allocations */

static uintptr_t live[SLOTS];
static atomic_flag lock = ATOMIC_FLAG_INIT;
static __thread int in_hook;
static int fd = -2;
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);

static void take(void) {
        while (atomic_flag_test_and_set(&lock))
                ;
}

static void give(void) {
        atomic_flag_clear(&lock);
}

static int out(void) {
        if (fd == -2) {
                const char *path = getenv("ALLOC_MAP_FILE");
                fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
        }
        return fd;
}

static unsigned slot_of(uintptr_t p) {
        return (unsigned) ((p >> 12) * 2654435761u) % SLOTS;
}

/* Under the lock. */
static void remember(uintptr_t p) {
        for (unsigned i = slot_of(p), n = 0; n < SLOTS; i = (i + 1) % SLOTS, n++)
                if (live[i] == 0 || live[i] == 1) {
                        live[i] = p;
                        return;
                }
}

static int forget(uintptr_t p) {
        for (unsigned i = slot_of(p), n = 0; n < SLOTS && live[i] != 0; i = (i + 1) % SLOTS, n++)
                if (live[i] == p) {
                        live[i] = 1; /* a tombstone */
                        return 1;
                }
        return 0;
}

static void note_alloc(void *p, size_t size) {
        void *frames[5] = {};
        char line[160];
        int n, len;

        if (!p || size < BIG || in_hook || out() < 0)
                return;
        in_hook = 1;
        n = backtrace(frames, 5); /* [0] here, [1] the hook, [2] its caller... */
        len = snprintf(line, sizeof(line), "+ %lx %zx %lx %lx %lx\n", (unsigned long) (uintptr_t) p, size,
                       (unsigned long) (uintptr_t) (n > 2 ? frames[2] : 0),
                       (unsigned long) (uintptr_t) (n > 3 ? frames[3] : 0),
                       (unsigned long) (uintptr_t) (n > 4 ? frames[4] : 0));
        take();
        remember((uintptr_t) p);
        if (write(fd, line, (size_t) len) < 0) {
        }
        give();
        in_hook = 0;
}

static void note_free(void *p) {
        char line[40];
        int len;

        if (!p || fd < 0)
                return;
        take();
        if (forget((uintptr_t) p)) {
                len = snprintf(line, sizeof(line), "- %lx\n", (unsigned long) (uintptr_t) p);
                if (write(fd, line, (size_t) len) < 0) {
                }
        }
        give();
}

void *malloc(size_t n) {
        void *p = __libc_malloc(n);
        note_alloc(p, n);
        return p;
}
void *calloc(size_t a, size_t b) {
        void *p = __libc_calloc(a, b);
        note_alloc(p, a * b);
        return p;
}
void *realloc(void *q, size_t n) {
        void *p;
        note_free(q);
        p = __libc_realloc(q, n);
        note_alloc(p, n);
        return p;
}
void *aligned_alloc(size_t a, size_t n) {
        void *p = __libc_memalign(a, n);
        note_alloc(p, n);
        return p;
}
int posix_memalign(void **r, size_t a, size_t n) {
        *r = __libc_memalign(a, n);
        note_alloc(*r, n);
        return *r ? 0 : 12;
}
void free(void *p) {
        note_free(p);
        __libc_free(p);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fildes, off_t off) {
        if (!real_mmap)
                real_mmap = (void *(*) (void *, size_t, int, int, int, off_t)) dlsym(RTLD_NEXT, "mmap");
        void *p = real_mmap(addr, len, prot, flags, fildes, off);
        if (p != MAP_FAILED && (flags & MAP_ANONYMOUS))
                note_alloc(p, len);
        return p;
}

/* backtrace() loads libgcc's unwinder the first time, which allocates: do it here, not in a hook */
__attribute__((constructor)) static void warm_up(void) {
        void *frames[2];
        in_hook = 1;
        backtrace(frames, 2);
        in_hook = 0;
}

int munmap(void *addr, size_t len) {
        if (!real_munmap)
                real_munmap = (int (*)(void *, size_t)) dlsym(RTLD_NEXT, "munmap");
        note_free(addr);
        return real_munmap(addr, len);
}
