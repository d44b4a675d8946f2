/* SPDX-License-Identifier: MIT */
/*
 * process-memory.h — handrecd's resident memory: what it is (VmRSS, as the Manager's
 * ResidentMemory property, each hand's Status and the status line show it), malloc's and HDF5's settings
 * for a process that must stay small, and giving back what the start used. Main thread.
 */
#pragma once

#include <stdint.h>

/**
 * process_resident_memory() - this process's resident memory in bytes (/proc/self/statm's
 * resident pages: VmRSS). No allocation. Return: the bytes, or 0 when it cannot be read.
 */
uint64_t process_resident_memory(void);

/**
 * process_memory_setup() - malloc's settings, before any thread starts (first thing in main):
 * one arena for every thread (M_ARENA_MAX 1: the threads that allocate at all do so a few times
 * a batch, and each arena of its own kept its free space), and large blocks (128 KiB and more)
 * always mapped on their own (M_MMAP_THRESHOLD, which also keeps glibc from raising it as
 * blocks are freed): a large calloc() then costs only the pages written (HDF5's cache hash
 * table), and a freed one goes back to the kernel at once. And HDF5's free lists bounded
 * (layout_library_setup()), so that what HDF5 frees goes back to malloc, not to lists that grow.
 * malloc's per-thread caches (tcache) have no mallopt(): the unit turns them off
 * (GLIBC_TUNABLES=glibc.malloc.tcache_count=0, systemd/handrecd.service.in says why).
 */
void process_memory_setup(void);

/**
 * process_memory_trim() - once a take's file is finished: give the heap's free pages back to the
 * kernel (malloc_trim), those in its middle too. What the take's file held (HDF5's objects, its
 * cache) is freed below blocks that live on, where malloc's own trim of the heap's top does not
 * reach, and would stay resident while the hand is idle (both hands' takes ended: 1.1 MB less).
 */
void process_memory_trim(void);

/**
 * process_memory_release() - once the daemon is set up, after a reload, and when a take ends with
 * no other running (hand.c): give back what the start used and
 * nothing uses now. malloc's free memory (malloc_trim), and the pages of the program's and its
 * libraries' read-only file mappings (code and constants: the loader's symbol tables and
 * relocations, the libraries' constructors, the configuration's and recovery's code), which the
 * kernel maps again from its page cache when they are touched (a minor fault: what runs during
 * takes comes back once). Mappings holding anonymous pages (relocated data, a debugger's
 * breakpoints) are left alone. Return: the bytes less resident.
 */
uint64_t process_memory_release(void);
