/* SPDX-License-Identifier: MIT */
/*
 * state.c — each take's upload state, durable: one small text file per take,
 * <state_dir>/<hand>/<name>.state, lines "key=value", the first always "state=...". A new state
 * is written to <name>.state.tmp, synced, renamed over the old one and the folder synced, so
 * after a crash or a power cut the file holds the old state or the new one, whole. A take with
 * no state file is pending. The folders are 0755 and the files 0644: handrecd (another user)
 * reads them to say what fills the disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/upload-backlog.h"
#include "../lib/util.h"
#include "offload.h"

static const char *const state_names[] = {
        [UPLOAD_PENDING] = "pending",
        [UPLOAD_UPLOADING] = "uploading",
        [UPLOAD_VERIFIED] = UPLOAD_STATE_VERIFIED,
        [UPLOAD_FAILED] = "failed",
};

const char *upload_state_to_string(enum upload_state s) {
        return s < ELEMENTSOF(state_names) ? state_names[s] : "?";
}

static int state_from_string(const char *s, enum upload_state *ret) {
        for (unsigned i = 0; i < ELEMENTSOF(state_names); i++)
                if (streq(s, state_names[i])) {
                        *ret = i;
                        return 0;
                }
        return -EBADMSG;
}

int state_hand_dir(const char *state_dir, const char *hand, char *buf, size_t len) {
        return snprintf(buf, len, "%s/%s", state_dir, hand) >= (int) len ? -ENAMETOOLONG : 0;
}

static int file_path(const char *state_dir, const char *hand, const char *name, const char *suffix, char *buf,
                     size_t len) {
        return snprintf(buf, len, "%s/%s/%s.state%s", state_dir, hand, name, suffix) >= (int) len ? -ENAMETOOLONG : 0;
}

/* A value on one line: a newline in an error sentence would start a key of its own. */
static void one_line(char *s) {
        for (; *s; s++)
                if (*s == '\n' || *s == '\r')
                        *s = ' ';
}

/* One line "key=value" into @st. Unknown keys are left alone (a newer version's). A "\r" in the
 * value (a file edited with CRLF line ends) is read as state_save() would write it: a space. */
static void parse_line(char *line, struct take_state *st) {
        char *v = strchr(line, '=');

        if (!v)
                return;
        *v++ = '\0';
        one_line(v);
        if (streq(line, "state"))
                (void) state_from_string(v, &st->state);
        else if (streq(line, "remote"))
                snprintf(st->remote, sizeof(st->remote), "%s", v);
        else if (streq(line, "size"))
                st->size = strtoull(v, NULL, 10);
        else if (streq(line, "mtime_ns"))
                st->mtime_ns = strtoull(v, NULL, 10);
        else if (streq(line, "ino"))
                st->ino = strtoull(v, NULL, 10);
        else if (streq(line, "check"))
                snprintf(st->check, sizeof(st->check), "%s", v);
        else if (streq(line, "attempts"))
                st->attempts = (unsigned) strtoul(v, NULL, 10);
        else if (streq(line, "error"))
                snprintf(st->error, sizeof(st->error), "%s", v);
        else if (streq(line, "updated_utc"))
                snprintf(st->updated_utc, sizeof(st->updated_utc), "%s", v);
}

int state_load(const char *state_dir, const char *hand, const char *name, struct take_state *ret) {
        _cleanup_(freep) char *text = NULL;
        char path[4096], *line, *save = NULL;
        int r;

        *ret = (struct take_state){.state = UPLOAD_PENDING};
        if ((r = file_path(state_dir, hand, name, "", path, sizeof(path))) < 0)
                return r;
        r = read_file_max(path, 64 * 1024, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (strncmp(text, "state=", 6) != 0)
                return -EBADMSG;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                parse_line(line, ret);
        return 0;
}

static int sync_dir(const char *path) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 || fsync(fd) < 0 ? -errno : 0;
}

/* mkdir -p; a folder made is made durable in its parent, as the files will be in it. */
static int mkdir_p(const char *path) {
        char buf[4096];

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1;; p++)
                if (*p == '/' || *p == '\0') {
                        char c = *p, *slash;
                        int r;
                        *p = '\0';
                        r = mkdir(buf, 0755);
                        if (r < 0 && errno != EEXIST)
                                return -errno;
                        if (r == 0 && (slash = strrchr(buf, '/')) && slash > buf) {
                                *slash = '\0';
                                (void) sync_dir(buf);
                                *slash = '/';
                        }
                        *p = c;
                        if (!c)
                                return 0;
                }
}

static void utc_now(char *buf, size_t len) {
        time_t t = time(NULL);
        struct tm tm;
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

int state_save(const char *state_dir, const char *hand, const char *name, const char *file, struct take_state *st) {
        char dir[4096], path[4096], tmp[4096];
        _cleanup_(closep) int fd = -1;
        FILE *f;
        int r;

        if ((r = state_hand_dir(state_dir, hand, dir, sizeof(dir))) < 0 ||
            (r = file_path(state_dir, hand, name, "", path, sizeof(path))) < 0 ||
            (r = file_path(state_dir, hand, name, ".tmp", tmp, sizeof(tmp))) < 0)
                return r;
        if ((r = mkdir_p(dir)) < 0)
                return r;
        utc_now(st->updated_utc, sizeof(st->updated_utc));
        one_line(st->error);
        one_line(st->remote);
        for (const char *p = file; *p; p++)
                if (*p == '\n' || *p == '\r')
                        return -EINVAL; /* never a line of its own in the state file (scan.c takes no such name) */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "w");
        if (!f)
                return -errno;
        fd = -1; /* the stream owns it now */
        fprintf(f,
                "state=%s\nfile=%s\nremote=%s\nsize=%" PRIu64 "\nmtime_ns=%" PRIu64 "\nino=%" PRIu64
                "\ncheck=%s\nattempts=%u\nerror=%s\nupdated_utc=%s\n",
                upload_state_to_string(st->state), file, st->remote, st->size, st->mtime_ns, st->ino, st->check,
                st->attempts, st->error, st->updated_utc);
        r = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -errno;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        return sync_dir(dir);
}

int state_remove(const char *state_dir, const char *hand, const char *name) {
        char dir[4096], path[4096];
        int r;

        if ((r = state_hand_dir(state_dir, hand, dir, sizeof(dir))) < 0 ||
            (r = file_path(state_dir, hand, name, "", path, sizeof(path))) < 0)
                return r;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        return sync_dir(dir);
}
