/* SPDX-License-Identifier: MIT */
/*
 * fuzz-preview-host.c — what handrecctl preview reads of a request before it answers one (the
 * audit's DNS rebinding and token findings): host_name() on any Host header value, the answer
 * the access rules give for it (access_host_allowed(), the names of access_setup() for a preview
 * listening on 127.0.0.1 with one --allow-host), and access_token_equal() on any token given.
 *
 * The input: the Host value, a NUL, then the token given. A name host_name() accepts is written
 * as the rules compare names: lowercase letters, digits, '.', '-', '_', or a bracketed IPv6
 * address in its canonical form; never a port, never longer than its buffer. A name allowed is
 * one of the preview's names and nothing else; only the preview's own token is equal.
 */
#include <ctype.h>
#include <string.h>

#include "../../client/handrecctl-preview.h"
#include "fuzz.h"

static struct preview_access access_rules;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        static const char *const allow[] = {"Board.Local"};
        (void) argc;
        (void) argv;
        /* no token file: a new token of getrandom(), as each preview makes one */
        FUZZ_CHECK(access_setup(&access_rules, "127.0.0.1", "http://127.0.0.1:8080/", allow, 1, NULL) == 0);
        FUZZ_CHECK(strlen(access_rules.token) == 48);
        return 0;
}

static bool well_formed(const char *name) {
        if (name[0] == '[')
                return name[strlen(name) - 1] == ']' && strspn(name + 1, "0123456789abcdef:.") == strlen(name) - 2;
        for (const char *p = name; *p; p++)
                if (!islower((unsigned char) *p) && !isdigit((unsigned char) *p) && !strchr(".-_", *p))
                        return false;
        return name[0] != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char value[1024], name[PREVIEW_HOST_MAX];
        const char *token;
        size_t n = strnlen((const char *) data, size);

        if (n >= sizeof(value))
                return 0;
        memcpy(value, data, n);
        value[n] = 0;
        token = n < size ? (const char *) data + n + 1 : "";
        if (memchr(token, 0, size - (n < size ? n + 1 : n)) == NULL)
                token = ""; /* not a string: the server gives NUL-ended values only */
        if (host_name(value, name, sizeof(name))) {
                bool allowed = access_host_allowed(&access_rules, name, -1);
                FUZZ_CHECK(strlen(name) < sizeof(name) && well_formed(name));
                FUZZ_CHECK(!strchr(name, ':') || name[0] == '[');
                FUZZ_CHECK(!allowed || streq(name, "127.0.0.1") || streq(name, "localhost") || streq(name, "[::1]") ||
                           streq(name, "board.local"));
                fuzz_say(allowed ? "allowed" : "refused", name);
        }
        FUZZ_CHECK(access_token_equal(&access_rules, token) == streq(token, access_rules.token));
        return 0;
}
