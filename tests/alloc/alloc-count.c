/* SPDX-License-Identifier: MIT */
/*
 * alloc-count.so — an LD_PRELOAD shim for tests: counts malloc/calloc/realloc/aligned_alloc/
 * posix_memalign calls per thread name and writes "name count" lines to $ALLOC_COUNT_FILE when the
 * process exits. Lets a test assert that a thread allocates nothing per frame: the count for a
 * long take equals the count for a short one.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define SLOTS 64
static struct {
        char name[16];
        atomic_ulong count;
} slots[SLOTS];
static atomic_int used;
static atomic_flag table_lock = ATOMIC_FLAG_INIT;
static __thread int in_hook;

static void count(void) {
        char name[16] = "?";
        if (in_hook)
                return;
        in_hook = 1;
        /* the thread's name now (threads are named right after they start) */
        pthread_getname_np(pthread_self(), name, sizeof(name));
        int n = atomic_load(&used), i;
        for (i = 0; i < n; i++)
                if (strcmp(slots[i].name, name) == 0)
                        break;
        if (i == n) {
                while (atomic_flag_test_and_set(&table_lock))
                        ;
                n = atomic_load(&used);
                for (i = 0; i < n; i++)
                        if (strcmp(slots[i].name, name) == 0)
                                break;
                if (i == n && n < SLOTS) {
                        strcpy(slots[n].name, name);
                        atomic_store(&used, n + 1);
                }
                atomic_flag_clear(&table_lock);
        }
        if (i < SLOTS)
                atomic_fetch_add(&slots[i].count, 1);
        in_hook = 0;
}

void *malloc(size_t n) {
        count();
        return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
        count();
        return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
        count();
        return __libc_realloc(p, n);
}
void *aligned_alloc(size_t a, size_t n) {
        count();
        return __libc_memalign(a, n);
}
int posix_memalign(void **r, size_t a, size_t n) {
        count();
        *r = __libc_memalign(a, n);
        return *r ? 0 : 12;
}

__attribute__((destructor)) static void dump(void) {
        const char *path = getenv("ALLOC_COUNT_FILE");
        FILE *f;
        in_hook = 1;
        if (!path || !(f = fopen(path, "w")))
                return;
        for (int i = 0; i < atomic_load(&used); i++)
                fprintf(f, "%s %lu\n", slots[i].name, atomic_load(&slots[i].count));
        fclose(f);
}
