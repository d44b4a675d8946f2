/* SPDX-License-Identifier: MIT */
/* process-memory.c — the daemon's resident memory: /proc/self/statm read into a stack buffer. */
#include "process-memory.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "../lib/util.h"

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
