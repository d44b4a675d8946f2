/* SPDX-License-Identifier: MIT */
/*
 * fuzz-offload-state.c — any bytes as a take's upload state file (offload/state.c, one
 * "key=value" a line, the first "state=..."), read by state_load() as handrec-offload reads
 * <state_dir>/<hand>/<name>.state at every scan.
 *
 * What must hold: no crash; a refusal is a negative errno; a state loaded has a known state, its
 * strings NUL-terminated within their arrays and on one line (no "\n" nor "\r": state_save()
 * writes each value on one line); and written by state_save() into another folder, it loads back
 * the same (updated_utc aside: state_save() sets it), or state_save() refuses it with a negative
 * errno.
 *
 * The files are in a folder of their own under /dev/shm (or $TMPDIR), removed at exit; a run that
 * crashes leaves it (handrec-fuzz-state-*, a few small files).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>

#include "../../offload/offload.h"
#include "fuzz.h"

static char dir[64], in_dir[96], out_dir[96], in_file[160];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static void cleanup(void) {
        nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ?: "/tmp";

        (void) argc;
        (void) argv;
        snprintf(dir, sizeof(dir), "%s/handrec-fuzz-state-XXXXXX", base);
        FUZZ_CHECK(mkdtemp(dir));
        atexit(cleanup);
        snprintf(in_dir, sizeof(in_dir), "%s/in", dir);
        snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
        snprintf(in_file, sizeof(in_file), "%s/right", in_dir);
        FUZZ_CHECK(mkdir(in_dir, 0755) == 0 && mkdir(in_file, 0755) == 0);
        snprintf(in_file, sizeof(in_file), "%s/right/20261126-043000-a.h5.state", in_dir);
        return 0;
}

/* @s is a string of its array: NUL-terminated within it, on one line. */
#define CHECK_STRING(s)                                                                                                \
        do {                                                                                                           \
                const char *end_ = memchr(s, 0, sizeof(s));                                                            \
                FUZZ_CHECK(end_ != NULL);                                                                              \
                FUZZ_CHECK(strcspn(s, "\r\n") == (size_t) (end_ - (s)));                                               \
        } while (0)

static void check_state(const struct take_state *st) {
        FUZZ_CHECK(st->state <= UPLOAD_FAILED);
        CHECK_STRING(st->remote);
        CHECK_STRING(st->check);
        CHECK_STRING(st->error);
        CHECK_STRING(st->updated_utc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char name[] = "20261126-043000-a.h5";
        struct take_state st, saved, back;
        int fd, r;

        fd = open(in_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(write_all(fd, data, size) == 0);
        close(fd);

        r = state_load(in_dir, "right", name, &st);
        if (r < 0) {
                FUZZ_CHECK(r >= -4095);
                fuzz_say("refused", strerror(-r));
                return 0;
        }
        FUZZ_CHECK(r == 0);
        check_state(&st);

        saved = st;
        r = state_save(out_dir, "right", name, "/var/lib/handrec/right/20261126-043000-a.h5", &saved);
        if (r < 0) {
                FUZZ_CHECK(r >= -4095);
                fuzz_say("loaded, not saved", strerror(-r));
                return 0;
        }
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(state_load(out_dir, "right", name, &back) == 0);
        check_state(&back);
        FUZZ_CHECK(back.state == st.state);
        FUZZ_CHECK(streq(back.remote, st.remote));
        FUZZ_CHECK(back.size == st.size && back.mtime_ns == st.mtime_ns && back.ino == st.ino);
        FUZZ_CHECK(streq(back.check, st.check));
        FUZZ_CHECK(back.attempts == st.attempts);
        FUZZ_CHECK(streq(back.error, st.error));
        FUZZ_CHECK(streq(back.updated_utc, saved.updated_utc));
        fuzz_say("loaded and saved", upload_state_to_string(st.state));
        return 0;
}
