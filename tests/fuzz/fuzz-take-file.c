/* SPDX-License-Identifier: MIT */
/*
 * fuzz-take-file.c — any bytes as a take file (HDF5) through what reads takes that may be
 * damaged: recover_check() (`handrecctl check`, handrec-offload), recover_file() on a copy
 * (handrecd at start, `handrecctl recover`), and what `handrecctl info` reads: the client's own
 * code, client/handrecctl-info.c, included below (its readers are static; the file is not
 * changed for the fuzzer). Its messages go to a memory stream instead of standard error, its
 * text to standard output (/dev/null here).
 *
 * The input is the file, but for one thing: ZERO_RUN ("\0HRZ") and a 3-byte little-endian
 * length n stand for n zero bytes. A real take holds a 512 KiB chunk of JPEG bytes that a short
 * take leaves mostly zeros: so the seeds, takes handrecd wrote, are 20 to 55 KB rather than
 * 600 KB. Inputs over INPUT_MAX, or that stand for a file over FILE_MAX, are skipped (HDF5 is
 * slow enough per input as it is), and so are those HDF5 itself overflows on
 * (global_heaps_sound()).
 *
 * What must hold: no crash, no leak, no undefined behaviour, no HDF5 file left open; what a
 * file claims bounded by its size (frames by LAYOUT_INDEX_BYTES_PER_FRAME, bytes by the size;
 * libFuzzer's -rss_limit_mb holds the memory); every refusal with a sentence; a file
 * recover_file() recovered then passes recover_check(), and a second recover_file() has nothing
 * to do.
 *
 * The files are in a folder of their own under /dev/shm (or $TMPDIR): recover_check() refuses a
 * path through a link, as /proc/self/fd/N is. It is removed at exit; a run that crashes leaves it
 * (handrec-fuzz-take-*, two files of at most FILE_MAX).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hdf5.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "../../lib/layout.h"
#include "../../lib/recover.h"
#include "../../lib/util.h"
#include "fuzz.h"

/* handrecctl info's messages, into a memory stream per input (fuzz_info_stderr) */
static FILE *fuzz_info_stderr;
#undef stderr
#define stderr fuzz_info_stderr
#include "../../client/handrecctl-info.c"
#undef stderr
#define stderr stderr

/* handrecctl.c's, which run_info() names; it is never called here */
int parse_args(const char *command, int argc, char *argv[], struct args *a) {
        (void) command, (void) argc, (void) argv, (void) a;
        abort();
}

int usage_error(const char *command, const char *what) {
        (void) command, (void) what;
        abort();
}

/* HDF5 reads metadata whose checksum fails LAYOUT_READ_ATTEMPTS times, sleeping 1 ns, 2 ns, 4 ns
 * ... between attempts: 0.27 s for each such read, which most damaged files have several of. The
 * attempts are counted, not timed: here they do not sleep (nothing else in the target does). */
int nanosleep(const struct timespec *req, struct timespec *rem) {
        (void) req, (void) rem;
        return 0;
}

/* LeakSanitizer, for this target only: HDF5 1.10.8 loses the object header it was reading when
 * its checksum fails every attempt (H5O's cache callbacks under H5C_protect(), about 100 bytes a
 * damaged header). Its frames cannot be named here (libhdf5 has no frame pointers for the fast
 * unwinder), so every allocation made inside libhdf5 is let go; the files and objects handrec's
 * code could leave open are counted at the end of each input instead (H5Fget_obj_count()). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
        return "leak:libhdf5\n";
}

#define ZERO_RUN "\0HRZ"
#define ZERO_RUN_LEN 4
#define INPUT_MAX (256 * 1024)
#define FILE_MAX (1024 * 1024)

static char dir[64], file[96], copy[96];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static void cleanup(void) {
        nftw(dir, remove_entry, 4, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ?: "/tmp";

        (void) argc;
        (void) argv;
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        snprintf(dir, sizeof(dir), "%s/handrec-fuzz-take-XXXXXX", base);
        FUZZ_CHECK(mkdtemp(dir));
        atexit(cleanup);
        snprintf(file, sizeof(file), "%s/take.h5", dir);
        snprintf(copy, sizeof(copy), "%s/copy.h5", dir);
        /* print_text()'s lines; HANDREC_FUZZ_VERBOSE=1 shows them */
        if (!getenv("HANDREC_FUZZ_VERBOSE"))
                FUZZ_CHECK(freopen("/dev/null", "w", stdout));
        return 0;
}

/* The file the input stands for, its zero runs expanded, into @buf (FILE_MAX bytes). Return: its
 * size, or -1 past FILE_MAX. */
static int64_t expand(const uint8_t *data, size_t size, uint8_t *buf) {
        size_t total = 0;

        for (size_t i = 0; i < size;) {
                const uint8_t *z = memmem(data + i, size - i, ZERO_RUN, ZERO_RUN_LEN);
                size_t literal = z ? (size_t) (z - data) - i : size - i, zeros = 0;

                if (total + literal > FILE_MAX)
                        return -1;
                memcpy(buf + total, data + i, literal);
                total += literal;
                i += literal;
                if (z) {
                        size_t k = MIN(size - i - ZERO_RUN_LEN, (size_t) 3);
                        uint8_t len[3] = {0, 0, 0};
                        memcpy(len, data + i + ZERO_RUN_LEN, k);
                        zeros = len[0] | (size_t) len[1] << 8 | (size_t) len[2] << 16;
                        i += ZERO_RUN_LEN + k;
                }
                if (total + zeros > FILE_MAX)
                        return -1;
                memset(buf + total, 0, zeros);
                total += zeros;
        }
        return (int64_t) total;
}

static uint64_t le64(const uint8_t *p) {
        uint64_t v = 0;

        for (unsigned i = 0; i < 8; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

/*
 * Whether every global heap collection ("GCOL": where the variable-length strings of the take's
 * attributes are) holds objects that fit in it. No checksum covers a collection, and HDF5 1.10.8
 * trusts the sizes in it: an object that runs past its collection is copied whole into H5Aread()'s
 * conversion buffer (a heap overflow inside libhdf5: memcpy-param-overlap or heap-buffer-overflow
 * under H5HG_read()), and a free-space object of size 0 makes it walk the collection forever.
 * Those are HDF5's bugs, not handrec's, and nothing handrec calls can tell them beforehand; such
 * inputs are skipped, so that the run goes on to handrec's own code (tests/fuzz/README.md). The
 * walk is HDF5's own (H5HG__cache_heap_deserialize()).
 */
static bool global_heaps_sound(const uint8_t *buf, size_t size) {
        enum { HEADER = 16, OBJECT_HEADER = 16 }; /* with 8-byte lengths, as every take has */

        for (const uint8_t *g = memmem(buf, size, "GCOL", 4); g;
             g = memmem(g + 4, size - (size_t) (g + 4 - buf), "GCOL", 4)) {
                size_t left = size - (size_t) (g - buf);
                uint64_t end, at = HEADER;

                if (left < HEADER)
                        break;
                end = MIN(le64(g + 8), (uint64_t) left);
                while (at + OBJECT_HEADER <= end) {
                        unsigned idx = g[at] | (unsigned) g[at + 1] << 8;
                        uint64_t obj = le64(g + at + 8);
                        uint64_t need =
                                idx ? (obj > end ? UINT64_MAX : OBJECT_HEADER + ((obj + 7) & ~(uint64_t) 7)) : obj;

                        if (need == 0 || need > end - at)
                                return false;
                        at += need;
                }
        }
        return true;
}

/* Write the file the input stands for to @path. */
static void write_file(const char *path, const uint8_t *buf, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(write_all(fd, buf, size) == 0);
        close(fd);
}

/* What recover_check() or recover_file() said of a file of @size bytes. */
static void check_result(int r, const struct take_check *c, const char *error, uint64_t size) {
        FUZZ_CHECK(memchr(c->status, 0, sizeof(c->status)) && memchr(c->problem, 0, sizeof(c->problem)));
        FUZZ_CHECK(memchr(error, 0, RECOVER_ERROR_MAX));
        FUZZ_CHECK(c->frames <= size / LAYOUT_INDEX_BYTES_PER_FRAME && c->bytes <= size);
        FUZZ_CHECK(c->frames <= c->index_frames);
        if (r == -EBADMSG)
                FUZZ_CHECK(c->problem[0] || error[0]);
        else if (r < 0)
                FUZZ_CHECK(error[0]);
}

/* handrecctl info FILE, and --json. */
static void info(const char *path, uint64_t size) {
        struct info_take t = {.path = path};
        json_object *o;
        char *said = NULL;
        size_t said_len = 0;
        int r;

        fuzz_info_stderr = open_memstream(&said, &said_len);
        FUZZ_CHECK(fuzz_info_stderr);
        r = read_take_info(&t);
        FUZZ_CHECK(fclose(fuzz_info_stderr) == 0);
        fuzz_info_stderr = NULL;
        if (r) {
                FUZZ_CHECK(r == 1 && said_len > 0);
                fuzz_say("info: refused", said);
                free(said);
                return;
        }
        free(said);
        FUZZ_CHECK(t.frames <= size / LAYOUT_INDEX_BYTES_PER_FRAME);
        print_text(&t);
        o = json_info(&t);
        FUZZ_CHECK(o && json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        fuzz_say("info: read", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char error[RECOVER_ERROR_MAX];
        static uint8_t buf[FILE_MAX];
        struct take_check c;
        int64_t total;
        int r;

        if (size > INPUT_MAX || (total = expand(data, size, buf)) < 0)
                return 0;
        if (!global_heaps_sound(buf, (size_t) total)) {
                fuzz_say("skipped: a global heap collection HDF5 1.10.8 overflows or hangs on", NULL);
                return 0;
        }
        write_file(file, buf, (size_t) total);
        write_file(copy, buf, (size_t) total);

        /* handrecctl check: read-only */
        r = recover_check(file, &c, NULL, NULL, error, sizeof(error));
        check_result(r, &c, error, (uint64_t) total);
        if (r == 0)
                FUZZ_CHECK(!c.problem[0] && c.frames == c.index_frames);
        fuzz_say("check", r == 0 ? "good" : c.problem[0] ? c.problem : error);

        info(file, (uint64_t) total);

        /* recovery, of the copy: what it recovered is then good, and recovered once only */
        r = recover_file(copy, &c, NULL, NULL, error, sizeof(error));
        check_result(r, &c, error, (uint64_t) total + c.missing_bytes); /* the end a power cut lost, added */
        fuzz_say("recover", r == 1 ? "recovered" : r == 0 ? "nothing to do" : error);
        if (r == 1) {
                struct stat st;
                FUZZ_CHECK(stat(copy, &st) == 0);
                r = recover_check(copy, &c, NULL, NULL, error, sizeof(error));
                if (r != 0)
                        fprintf(stderr, "recovered, then: %s%s\n", c.problem, error);
                FUZZ_CHECK(r == 0 && streq(c.status, "recovered"));
                check_result(r, &c, error, (uint64_t) st.st_size);
                r = recover_file(copy, &c, NULL, NULL, error, sizeof(error));
                FUZZ_CHECK(r == 0 && streq(c.status, "recovered"));
        }
        /* nothing left open: files, and datasets, groups and attributes of any file (HDF5 1.10 counts
         * its other ids, dataspaces and property lists, for nobody but itself) */
        FUZZ_CHECK(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
        return 0;
}
