/* SPDX-License-Identifier: MIT */
/* process-memory.c — the daemon's resident memory: /proc/self/statm read into a stack buffer;
 * malloc's and HDF5's settings; what the start used given back (process-memory.h). */
#include "process-memory.h"

#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../lib/layout.h"
#include "../lib/util.h"

#define LARGE_BLOCK (128 * 1024) /* glibc's default threshold, held there */

uint64_t process_resident_memory(void) {
        _cleanup_(closep) int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        unsigned long long size, resident;
        char buf[128];
        ssize_t n;
        long page = sysconf(_SC_PAGESIZE);

        if (fd < 0 || page <= 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        /* "size resident shared text lib data dt", in pages: resident is what VmRSS reports */
        if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
                return 0;
        return (uint64_t) resident * (uint64_t) page;
}

void process_memory_setup(void) {
        /* advice: a libc that refuses keeps its defaults, and the daemon works as before */
        (void) mallopt(M_ARENA_MAX, 1);
        (void) mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK);
        (void) mallopt(M_TRIM_THRESHOLD, LARGE_BLOCK);
        (void) layout_library_setup(); /* advice too: HDF5's default limits are only larger */
}

void process_memory_trim(void) {
        malloc_trim(0);
}

/* A mapping of /proc/self/smaps: whether it is a read-only private file mapping. */
struct mapping {
        uintptr_t start, end;
        bool candidate;
};

static void release_if_clean(const struct mapping *m, long anonymous_kb) {
        if (!m->candidate || anonymous_kb != 0 || m->end <= m->start)
                return;
        /* clean pages of a private file mapping: read again from the file when touched */
        (void) madvise((void *) m->start, m->end - m->start, MADV_DONTNEED);
}

uint64_t process_memory_release(void) {
        uint64_t before = process_resident_memory(), after;
        struct mapping m = {};
        char line[512];
        FILE *f;

        malloc_trim(0);
        f = fopen("/proc/self/smaps", "re");
        while (f && fgets(line, sizeof(line), f)) {
                unsigned long start, end;
                char perms[8];
                long kb;

                if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3) {
                        /* a mapping's first line: "start-end perms offset dev inode path" */
                        m = (struct mapping){.start = start, .end = end};
                        m.candidate = strlen(perms) == 4 && perms[1] != 'w' && perms[3] == 'p' && strchr(line, '/');
                        continue;
                }
                if (sscanf(line, "Anonymous: %ld", &kb) == 1)
                        release_if_clean(&m, kb);
        }
        if (f)
                fclose(f);
        after = process_resident_memory();
        return before > after ? before - after : 0;
}
