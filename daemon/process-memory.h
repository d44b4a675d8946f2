/* SPDX-License-Identifier: MIT */
/*
 * process-memory.h — handrecd's resident memory (VmRSS), as the Manager's ResidentMemory
 * property, each hand's Status and the status line show it. Main thread.
 */
#pragma once

#include <stdint.h>

/**
 * process_resident_memory() - this process's resident memory in bytes (/proc/self/statm's
 * resident pages: VmRSS). No allocation. Return: the bytes, or 0 when it cannot be read.
 */
uint64_t process_resident_memory(void);
