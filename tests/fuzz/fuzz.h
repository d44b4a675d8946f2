/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h — what the libFuzzer targets share: the entry points libFuzzer calls, a check that
 * crashes the run when the code under test breaks its promise, and the files the parsers read
 * (config_load() and calibration_load() take paths, not buffers).
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken promise is a crash, so that libFuzzer keeps the input that caused it. */
#define FUZZ_CHECK(cond)                                                                                               \
        do {                                                                                                           \
                if (!(cond)) {                                                                                         \
                        fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond);                  \
                        abort();                                                                                       \
                }                                                                                                      \
        } while (0)

/* HANDREC_FUZZ_VERBOSE=1: print what each input gave (the error, or "accepted"), to see by hand
 * what a seed or a saved input does: build/fuzz/fuzz-config tests/fuzz/corpus/config/x.conf */
static inline void fuzz_say(const char *what, const char *detail) {
        static int verbose = -1;

        if (verbose < 0)
                verbose = getenv("HANDREC_FUZZ_VERBOSE") != NULL;
        if (verbose)
                fprintf(stderr, "%s%s%s\n", what, detail ? ": " : "", detail ?: "");
}

/* The files the parsers read: memory files (memfd) named by /proc/self/fd/N paths, so that
 * nothing is left on disk however libFuzzer ends (it does not always run atexit handlers). */
static int fuzz_fds[2] = {-1, -1};
static char fuzz_files[2][32];

/* Make @n files (1 or 2), with @names for /proc/self/fd/N's link text. Aborts on failure. */
static inline void fuzz_files_setup(unsigned n, const char *const *names) {
        for (unsigned i = 0; i < n; i++) {
                fuzz_fds[i] = memfd_create(names[i], MFD_CLOEXEC);
                FUZZ_CHECK(fuzz_fds[i] >= 0);
                snprintf(fuzz_files[i], sizeof(fuzz_files[i]), "/proc/self/fd/%d", fuzz_fds[i]);
        }
}

/* Replace file @i's contents with @size bytes of @data. */
static inline void fuzz_write(unsigned i, const uint8_t *data, size_t size) {
        size_t done = 0;

        FUZZ_CHECK(ftruncate(fuzz_fds[i], 0) == 0);
        while (done < size) {
                ssize_t k = pwrite(fuzz_fds[i], data + done, size - done, (off_t) done);
                FUZZ_CHECK(k > 0);
                done += (size_t) k;
        }
}
