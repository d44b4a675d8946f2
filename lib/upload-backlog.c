/* SPDX-License-Identifier: MIT */
/*
 * upload-backlog.c — the takes in save.output_dir that handrec-offload has not yet uploaded and
 * verified, read from its state folder (offload.state_dir: <hand>/<name>.state, whose first line
 * is "state=..."; offload/state.c writes them). handrecd uploads nothing; it reads them only to
 * say, when the disk is full, that the backlog is what fills it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "upload-backlog.h"
#include "util.h"

/* Whether the take's state file says verified. Only a regular file is read, and its open never
 * waits: the state folder belongs to the uploader's user, who must not be able to freeze the
 * recorder's main thread with a FIFO (or a device) named like a state file. */
static bool verified(const char *state_dir, const char *hand, const char *name) {
        static const char want[] = "state=" UPLOAD_STATE_VERIFIED "\n";
        char path[4096], buf[sizeof(want)] = "";
        _cleanup_(closep) int fd = -1;
        struct stat st;

        if (snprintf(path, sizeof(path), "%s/%s/%s.state", state_dir, hand, name) >= (int) sizeof(path))
                return false;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
               read(fd, buf, sizeof(buf) - 1) == (ssize_t) sizeof(buf) - 1 && streq(buf, want);
}

static void count_hand(const struct config *c, const char *hand, struct upload_backlog *b) {
        char dir[4096];
        struct dirent *e;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/%s", c->output_dir, hand);
        if (!(d = opendir(dir)))
                return;
        while ((e = readdir(d))) {
                size_t n = strlen(e->d_name);
                struct stat st;
                if (n <= 3 || e->d_name[0] == '.' || !streq(e->d_name + n - 3, ".h5") ||
                    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (verified(c->offload.state_dir, hand, e->d_name)) {
                        b->verified_takes++;
                        b->verified_bytes += (uint64_t) st.st_size;
                } else {
                        b->takes++;
                        b->bytes += (uint64_t) st.st_size;
                }
        }
        closedir(d);
}

void upload_backlog(const struct config *c, struct upload_backlog *ret) {
        *ret = (struct upload_backlog){};
        if (!c->offload.enabled)
                return;
        for (unsigned i = 0; i < c->n_hands; i++)
                count_hand(c, c->hands[i].name, ret);
}

void upload_backlog_sentence(const struct config *c, char *buf, size_t len) {
        struct upload_backlog b;
        char size[32];

        buf[0] = '\0';
        upload_backlog(c, &b);
        if (!c->offload.enabled)
                return;
        if (b.takes > 0)
                snprintf(buf, len,
                         " %u take%s (%s) here %s not yet uploaded and verified by handrec-offload: the upload "
                         "backlog is what fills the disk (handrecctl status shows its progress; only verified takes "
                         "are ever removed).",
                         b.takes, b.takes == 1 ? "" : "s", format_bytes(size, sizeof(size), b.bytes),
                         b.takes == 1 ? "is" : "are");
        else
                snprintf(buf, len,
                         " Every take here is uploaded and verified; set offload.keep_free_gb for handrec-offload "
                         "to remove the oldest of them as space runs short.");
}
