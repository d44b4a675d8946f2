/* SPDX-License-Identifier: MIT */
/* A take's file: names that sort, modes, and no write through a planted symbolic link. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/takefile.h"
#include "../../lib/util.h"
#include "test.h"

static char dir[] = "/tmp/handrec-test-takefile-XXXXXX";
static const time_t when = 1764115200; /* 2025-11-26 00:00:00 UTC */

static char *read_text(const char *path) {
        static char buf[256];
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f)
                fclose(f);
        buf[n] = 0;
        return buf;
}

TEST(names_modes_and_order) {
        struct takefile a, b, c;
        char out[256], error[512], expect[PATH_MAX];
        struct stat st;

        snprintf(out, sizeof(out), "%s/order", dir);
        umask(0002); /* as the shipped unit sets it */
        CHECK_EQ_INT(takefile_reserve(out, "right", "pick", when, &a, error, sizeof(error)), 0);
        CHECK_EQ_INT(takefile_reserve(out, "right", "pick", when, &b, error, sizeof(error)), 0);
        CHECK_EQ_INT(takefile_reserve(out, "right", "", when, &c, error, sizeof(error)), 0);
        snprintf(expect, sizeof(expect), "%s/right/20251126-000000-pick.h5", out);
        CHECK(streq(a.path, expect));
        snprintf(expect, sizeof(expect), "%s/right/20251126-000000_02-pick.h5", out);
        CHECK(streq(b.path, expect));
        /* the names sort in the order the takes began */
        CHECK(strcmp(a.path, b.path) < 0);
        CHECK(stat(a.path, &st) == 0 && (st.st_mode & 07777) == TAKEFILE_MODE);
        snprintf(expect, sizeof(expect), "%s/right", out);
        CHECK(stat(expect, &st) == 0 && (st.st_mode & 07777) == TAKEFILE_DIR_MODE);
        CHECK(takefile_is_same(&a, a.fd));
        CHECK(!takefile_is_same(&a, b.fd));
        takefile_close(&a);
        takefile_close(&b);
        takefile_close(&c);
}

/* A clock stepped back (an RTC put right by NTP at boot): the next take, in either hand, is named
 * one second after the newest take, never before it, so names still sort in the order takes began. */
TEST(names_never_go_back_with_the_clock) {
        struct takefile a, b, c;
        char out[256], error[512], expect[PATH_MAX];

        snprintf(out, sizeof(out), "%s/clock", dir);
        CHECK_EQ_INT(takefile_reserve(out, "right", "", when, &a, error, sizeof(error)), 0);
        CHECK_EQ_INT(takefile_reserve(out, "left", "", when - 3600, &b, error, sizeof(error)), 0);
        snprintf(expect, sizeof(expect), "%s/left/20251126-000001.h5", out);
        CHECK(streq(b.path, expect));
        CHECK_EQ_INT(takefile_reserve(out, "right", "", when - 86400 * 365, &c, error, sizeof(error)), 0);
        snprintf(expect, sizeof(expect), "%s/right/20251126-000002.h5", out);
        CHECK(streq(c.path, expect));
        CHECK(strcmp(a.path + strlen(out) + 7, c.path + strlen(out) + 7) < 0);
        takefile_close(&a);
        takefile_close(&b);
        takefile_close(&c);
}

TEST(symlinked_hand_folder_is_refused) {
        char out[256], link[PATH_MAX + 16], victim[PATH_MAX + 16], error[512];
        struct takefile t;

        snprintf(out, sizeof(out), "%s/linkdir", dir);
        snprintf(victim, sizeof(victim), "%s/victim", dir);
        CHECK(mkdir(out, 0755) == 0 && mkdir(victim, 0755) == 0);
        snprintf(link, sizeof(link), "%s/right", out);
        CHECK(symlink(victim, link) == 0);
        CHECK_EQ_INT(takefile_reserve(out, "right", "", when, &t, error, sizeof(error)), -ELOOP);
        CHECK_CONTAINS(error, "symbolic link");
        CHECK(rmdir(victim) == 0); /* still empty: nothing was written there */
}

TEST(planted_file_link_is_never_followed) {
        char out[256], target[PATH_MAX + 16], planted[PATH_MAX + 64], proc[64], error[512];
        struct takefile t;
        int fd;

        snprintf(out, sizeof(out), "%s/plant", dir);
        snprintf(target, sizeof(target), "%s/precious.txt", dir);
        fd = open(target, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        CHECK(fd >= 0 && write(fd, "precious\n", 9) == 9);
        close(fd);
        CHECK(mkdir(out, 0750) == 0);
        snprintf(planted, sizeof(planted), "%s/right", out);
        CHECK(mkdir(planted, 0750) == 0);
        /* a link waiting under the name the next take will get */
        snprintf(planted, sizeof(planted), "%s/right/20251126-000000.h5", out);
        CHECK(symlink(target, planted) == 0);
        CHECK_EQ_INT(takefile_reserve(out, "right", "", when, &t, error, sizeof(error)), 0);
        CHECK(strstr(t.path, "_02.h5") != NULL);

        /* swapped for a link after the reservation: opening through the descriptor's path still
         * reaches the reserved file, and the link's target is untouched */
        CHECK(unlink(t.path) == 0 && symlink(target, t.path) == 0);
        fd = open(takefile_proc_path(&t, proc, sizeof(proc)), O_RDWR | O_TRUNC | O_CLOEXEC);
        CHECK(fd >= 0 && takefile_is_same(&t, fd));
        CHECK(write(fd, "take", 4) == 4);
        close(fd);
        CHECK(streq(read_text(target), "precious\n"));
        /* and discarding removes nothing that is not ours */
        takefile_discard(&t);
        CHECK(access(t.path, F_OK) == 0 || errno != ENOENT);
        CHECK(streq(read_text(target), "precious\n"));
}

TEST(discard_removes_an_empty_reservation) {
        char out[256], error[512], path[PATH_MAX];
        struct takefile t;

        snprintf(out, sizeof(out), "%s/discard", dir);
        CHECK_EQ_INT(takefile_reserve(out, "left", "", when, &t, error, sizeof(error)), 0);
        snprintf(path, sizeof(path), "%s", t.path);
        takefile_discard(&t);
        CHECK_EQ_INT(t.fd, -1);
        CHECK(access(path, F_OK) < 0 && errno == ENOENT);
}

int main(void) {
        static const struct test tests[] = {T(names_modes_and_order), T(names_never_go_back_with_the_clock),
                                            T(symlinked_hand_folder_is_refused), T(planted_file_link_is_never_followed),
                                            T(discard_removes_an_empty_reservation)};
        char cmd[128];
        int r;

        CHECK(mkdtemp(dir) != NULL);
        r = test_main("takefile", tests, ELEMENTSOF(tests));
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return r;
}
