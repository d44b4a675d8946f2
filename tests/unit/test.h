/* SPDX-License-Identifier: MIT */
/*
 * test.h — a minimal unit-test harness: TEST(name) functions, CHECK(cond) that records a failure
 * and goes on, and test_main() that runs each test and prints "ok"/"not ok" lines (TAP style)
 * and a closing "N passed, N failed" line that tests/run-all.sh adds up.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

#define CHECK(cond)                                                                                                    \
        do {                                                                                                           \
                if (!(cond)) {                                                                                         \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                       \
                        test_failures++;                                                                               \
                }                                                                                                      \
        } while (0)

#define CHECK_EQ_INT(a, b)                                                                                             \
        do {                                                                                                           \
                long long _a = (long long) (a), _b = (long long) (b);                                                  \
                if (_a != _b) {                                                                                        \
                        fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b,  \
                                _a, _b);                                                                               \
                        test_failures++;                                                                               \
                }                                                                                                      \
        } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                                               \
        do {                                                                                                           \
                const char *_h = (haystack), *_n = (needle);                                                           \
                if (!_h || !strstr(_h, _n)) {                                                                          \
                        fprintf(stderr, "%s:%d: CHECK failed: \"%s\" not in:\n%s\n", __FILE__, __LINE__, _n,           \
                                _h ? _h : "(null)");                                                                   \
                        test_failures++;                                                                               \
                }                                                                                                      \
        } while (0)

struct test {
        const char *name;
        void (*fn)(void);
};

#define TEST(name) static void name(void)

static inline int test_main(const char *suite, const struct test *tests, size_t n) {
        int passed = 0, failed = 0;

        for (size_t i = 0; i < n; i++) {
                int before = test_failures;
                tests[i].fn();
                if (test_failures == before) {
                        printf("ok - %s: %s\n", suite, tests[i].name);
                        passed++;
                } else {
                        printf("not ok - %s: %s\n", suite, tests[i].name);
                        failed++;
                }
        }
        printf("%d passed, %d failed\n", passed, failed);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define T(fn)                                                                                                          \
        { #fn, fn }
