/* SPDX-License-Identifier: MIT */
/*
 * scan.c — the takes the service knows: the *.h5 files directly in each configured hand's folder
 * under save.output_dir (opened without following links), sorted oldest first, each with its
 * state file and whether it may be uploaded: its HDF5 root attribute status is "complete" or
 * "recovered". A take being recorded cannot be opened without SWMR and says "recording" anyway;
 * it is read again when its size or time change. And the episodes' manifests, *.json in
 * save.output_dir/episodes, as takes of MANIFEST_FOLDER: uploaded once their episode has ended
 * (outcome no longer "recording"), and again whenever they change (a decision).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/take-reader.h"
#include "../lib/util.h"
#include "offload.h"

int take_path(const struct offload *o, const char *hand, const char *name, char *buf, size_t len) {
        return snprintf(buf, len, "%s/%s/%s", o->config->output_dir, hand, name) >= (int) len ? -ENAMETOOLONG : 0;
}

struct take *take_find(struct offload *o, const char *hand, const char *name) {
        for (unsigned i = 0; i < o->n_takes; i++)
                if (streq(o->takes[i].hand, hand) && streq(o->takes[i].name, name))
                        return &o->takes[i];
        return NULL;
}

struct take *take_find_path(struct offload *o, const char *path, char *ret_hand, char *ret_name) {
        char buf[4096];

        for (unsigned i = 0; i < o->n_takes; i++)
                if (take_path(o, o->takes[i].hand, o->takes[i].name, buf, sizeof(buf)) == 0 && streq(buf, path)) {
                        if (ret_hand)
                                snprintf(ret_hand, 16, "%s", o->takes[i].hand);
                        if (ret_name)
                                snprintf(ret_name, 256, "%s", o->takes[i].name);
                        return &o->takes[i];
                }
        return NULL;
}

/* A take gone from the disk is forgotten with its state file; when an attempt that did not end
 * verified may have left a partial copy on the remote, the state file stays until cleanup.c has
 * deleted that copy. */
static void forget_state(struct offload *o, const struct take *t) {
        if (!cleanup_queue(o, t->hand, t->name, &t->st))
                (void) state_remove(o->oc->state_dir, t->hand, t->name);
}

void take_forget(struct offload *o, const char *hand, const char *name) {
        struct take *t = take_find(o, hand, name);

        if (!t) {
                (void) state_remove(o->oc->state_dir, hand, name);
                return;
        }
        forget_state(o, t);
        memmove(t, t + 1, (size_t) (o->takes + o->n_takes - (t + 1)) * sizeof(*t));
        o->n_takes--;
}

/* The file's status attribute into t->status ("" when it cannot be read), read by the take
 * reader: a damaged file is said once, when first found. Return: false when the file was not
 * read for a reason not its own (a busy machine, no child): to be read again at the next scan. */
static bool read_status(struct offload *o, int fd, const char *hand, struct take *t) {
        struct take_attributes a;
        struct stat st;
        bool known = false, timed_out;
        int r;

        if (fstat(fd, &st) == 0)
                known = take_reader_remembered(&o->damaged, &st, &timed_out);
        r = take_reader_read(&o->reader, &o->damaged, fd, &a);
        snprintf(t->status, sizeof(t->status), "%s", r == 0 && a.result == 0 ? a.status : "");
        if ((r == -ETIMEDOUT || r == -EPIPE) && !known)
                log_warning(
                        "%s/%s: %s; it is not uploaded. Move it out of the output folder, then handrecctl check it.",
                        hand, t->name, a.error);
        else if (r < 0 && r != -ETIMEDOUT && r != -EPIPE)
                log_warning("%s/%s: %s.", hand, t->name, a.error);
        return r == 0 || r == -ETIMEDOUT || r == -EPIPE;
}

static void check_eligible(struct offload *o, int dirfd, const char *hand, struct take *t) {
        _cleanup_(closep) int fd = openat(dirfd, t->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        bool read = true;

        if (fd < 0)
                t->status[0] = '\0';
        else
                read = read_status(o, fd, hand, t);
        /* what was read stands until the file changes; what was not is read again */
        t->checked_size = read ? t->size : UINT64_MAX;
        t->checked_mtime_ns = t->mtime_ns;
        t->eligible = streq(t->status, "complete") || streq(t->status, "recovered");
}

static struct take *take_add(struct offload *o, const char *hand, const char *name) {
        struct take *t;

        if (o->n_takes == o->cap_takes) {
                unsigned cap = o->cap_takes ? o->cap_takes * 2 : 64;
                struct take *p = realloc(o->takes, cap * sizeof(*p));
                if (!p)
                        return NULL;
                o->takes = p;
                o->cap_takes = cap;
        }
        t = &o->takes[o->n_takes++];
        *t = (struct take){};
        snprintf(t->hand, sizeof(t->hand), "%s", hand);
        snprintf(t->name, sizeof(t->name), "%s", name);
        if (state_load(o->oc->state_dir, hand, name, &t->st) < 0) {
                log_warning("The upload state of %s/%s cannot be read; it is uploaded again.", hand, name);
                t->st = (struct take_state){.state = UPLOAD_PENDING};
        }
        /* "uploading" left by a stop or a crash: the remote copy is never trusted unverified */
        if (t->st.state == UPLOAD_UPLOADING)
                t->st.state = UPLOAD_PENDING;
        return t;
}

/* A name handrecd could have given (no control character: a newline would start a line of the
 * take's state file of its own, "state=uploaded-verified" for one). Others are left alone. */
static bool is_take_name(const char *n) {
        size_t len = strlen(n);

        for (const char *p = n; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return len > 3 && len < 256 && n[0] != '.' && streq(n + len - 3, ".h5");
}

/* A manifest's name as handrecd writes them: <id>.json, no control character (its .json.tmp, a
 * write under way, is not one). */
static bool is_manifest_name(const char *n) {
        size_t len = strlen(n);

        for (const char *p = n; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return len > 5 && len < 256 && n[0] != '.' && streq(n + len - 5, ".json");
}

/* A manifest may be uploaded once its episode has ended: its outcome is no longer "recording"
 * (one that cannot be read as JSON waits: handrecd writes them whole, by rename). */
static void check_manifest(int dirfd, struct take *t) {
        _cleanup_(closep) int fd = openat(dirfd, t->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        char buf[65536];
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        json_object *m, *outcome;

        t->checked_size = t->size;
        t->checked_mtime_ns = t->mtime_ns;
        t->status[0] = '\0';
        buf[n > 0 ? n : 0] = '\0';
        m = n > 0 ? json_tokener_parse(buf) : NULL;
        if (m && json_object_object_get_ex(m, "outcome", &outcome) && json_object_is_type(outcome, json_type_string))
                snprintf(t->status, sizeof(t->status), "%s", json_object_get_string(outcome));
        json_object_put(m);
        t->eligible = t->status[0] && !streq(t->status, "recording");
}

/* A file found in a folder: known or added, with what the scan saw of it. */
static struct take *take_seen(struct offload *o, const char *hand, const char *name, const struct stat *st) {
        struct take *t = take_find(o, hand, name) ?: take_add(o, hand, name);

        if (!t)
                return NULL;
        t->seen = true;
        t->size = (uint64_t) st->st_size;
        t->mtime_ns = (uint64_t) st->st_mtim.tv_sec * NSEC_PER_SEC + (uint64_t) st->st_mtim.tv_nsec;
        t->ino = (uint64_t) st->st_ino;
        return t;
}

/* The manifests of save.output_dir/episodes. One that changed since its upload (a decision made
 * after it) is uploaded again. Return: 0, or -errno (none of them is forgotten then). */
static int scan_manifests(struct offload *o) {
        _cleanup_(closep) int top = open(o->config->output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int dirfd = top < 0 ? -errno : openat(top, MANIFEST_FOLDER, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        struct dirent *e;

        if (top >= 0 && dirfd < 0)
                dirfd = -errno;
        if (dirfd < 0 || !(d = fdopendir(dirfd))) {
                int r = dirfd < 0 ? dirfd : -errno;
                if (dirfd >= 0)
                        close(dirfd);
                for (unsigned i = 0; r != -ENOENT && i < o->n_takes; i++)
                        o->takes[i].seen |= o->takes[i].manifest; /* unknown, not gone */
                return r == -ENOENT ? 0 : r;
        }
        while ((e = readdir(d))) {
                struct stat st;
                struct take *t;
                if (!is_manifest_name(e->d_name) || fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                if (!(t = take_seen(o, MANIFEST_FOLDER, e->d_name, &st)))
                        break;
                t->manifest = true;
                if (t->checked_size != t->size || t->checked_mtime_ns != t->mtime_ns)
                        check_manifest(dirfd, t);
                if (t->st.state == UPLOAD_VERIFIED &&
                    (t->size != t->st.size || t->mtime_ns != t->st.mtime_ns || t->ino != t->st.ino))
                        t->st.state = UPLOAD_PENDING; /* changed since its upload: again */
        }
        closedir(d);
        return 0;
}

/* Return: 0, or -errno when the folder cannot be read (then nothing of it is forgotten). */
static int scan_hand(struct offload *o, const char *hand) {
        _cleanup_(closep) int top = open(o->config->output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int dirfd = top < 0 ? -errno : openat(top, hand, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        struct dirent *e;

        if (top >= 0 && dirfd < 0)
                dirfd = -errno;
        if (dirfd < 0)
                return dirfd;
        if (!(d = fdopendir(dirfd))) {
                close(dirfd);
                return -errno;
        }
        while ((e = readdir(d))) {
                struct stat st;
                struct take *t;
                if (!is_take_name(e->d_name) || fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                if (!(t = take_seen(o, hand, e->d_name, &st)))
                        break;
                /* read again only when it changed: a take is opened once when it is done */
                if (t->checked_size != t->size || t->checked_mtime_ns != t->mtime_ns)
                        check_eligible(o, dirfd, hand, t);
        }
        closedir(d);
        return 0;
}

/* The hand folder @hand cannot be read: its takes are kept as they were (a disk mounted late,
 * a moment without file descriptors must not make every take upload again), and it is said. */
static void keep_hand(struct offload *o, const char *hand, int r) {
        char note[600];

        bool known = false;

        for (unsigned i = 0; i < o->n_takes; i++)
                if (streq(o->takes[i].hand, hand))
                        o->takes[i].seen = known = true;
        if (r == -ENOENT && !known && access(o->config->output_dir, F_OK) == 0)
                return; /* no take of this hand yet */
        snprintf(note, sizeof(note), "cannot read %.300s/%s: %s; nothing of it is uploaded or removed until it is back",
                 o->config->output_dir, hand, strerror(-r));
        snprintf(o->scan_error, sizeof(o->scan_error), "%s", note);
        if (log_once_is_news(o->logged_scan_error, sizeof(o->logged_scan_error), note))
                log_error("%s", note);
}

static int compare_takes(const void *a, const void *b) {
        const struct take *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c ? c : strcmp(x->hand, y->hand);
}

int scan_takes(struct offload *o) {
        unsigned kept = 0;
        int ret = 0, r;

        if (!o->oc->enabled)
                return 0; /* nothing to upload: no file is even looked at */
        for (unsigned i = 0; i < o->n_takes; i++)
                o->takes[i].seen = false;
        o->scan_error[0] = '\0';
        for (unsigned i = 0; i < o->config->n_hands; i++) {
                const char *hand = o->config->hands[i].name;
                r = scan_hand(o, hand);
                o->hand_unreadable[i] = r < 0;
                if (r < 0) {
                        keep_hand(o, hand, r);
                        ret = r;
                }
        }
        if (scan_manifests(o) < 0)
                ret = ret ?: -EIO;
        if (!o->scan_error[0])
                o->logged_scan_error[0] = '\0';
        /* a take gone from the folder (discarded, removed) is forgotten with its state */
        for (unsigned i = 0; i < o->n_takes; i++) {
                struct take *t = &o->takes[i];
                if (t->seen)
                        o->takes[kept++] = *t;
                else if (!(upload_on_take(o) && streq(t->hand, o->cur_hand) && streq(t->name, o->cur_name))) {
                        forget_state(o, t);
                } else
                        o->takes[kept++] = *t; /* upload.c notices the file is gone when its step ends */
        }
        o->n_takes = kept;
        if (o->n_takes > 1)
                qsort(o->takes, o->n_takes, sizeof(*o->takes), compare_takes);
        take_reader_stop(&o->reader); /* a child only while a scan reads */
        return ret;
}

void offload_backlog(struct offload *o, unsigned *ret_takes, uint64_t *ret_bytes, uint64_t *ret_all_bytes) {
        unsigned n = 0;
        uint64_t bytes = 0, all = 0;

        for (unsigned i = 0; i < o->n_takes; i++) {
                const struct take *t = &o->takes[i];
                if (t->manifest)
                        continue; /* a few kB of record, not a take waiting */
                all += t->size;
                if (t->eligible && t->st.state != UPLOAD_VERIFIED) {
                        n++;
                        bytes += t->size;
                }
        }
        *ret_takes = n;
        *ret_bytes = bytes;
        if (ret_all_bytes)
                *ret_all_bytes = all;
}

/* A state file whose take is gone: forgotten, unless an attempt may have left a partial copy on
 * the remote; then the copy is deleted first (cleanup.c), and the state file after it. */
static void forget_orphan(struct offload *o, const char *hand, const char *name) {
        struct take_state st;

        if (state_load(o->oc->state_dir, hand, name, &st) == 0 && cleanup_queue(o, hand, name, &st))
                log_info("%s/%s is no longer here; its partial copy %s goes from the remote too.", hand, name,
                         st.remote);
        else if (state_remove(o->oc->state_dir, hand, name) == 0)
                log_info("Forgot the upload state of %s/%s: the take is no longer here.", hand, name);
}

/* State files whose take is gone (removed or discarded while the service was down, or whose
 * partial copy a run before this one could not delete). */
void scan_orphans(struct offload *o) {
        for (unsigned i = 0; i <= o->config->n_hands; i++) { /* the hands, then the manifests */
                const char *hand = i < o->config->n_hands ? o->config->hands[i].name : MANIFEST_FOLDER;
                char dir[4096], name[256];

                if (i < o->config->n_hands && o->hand_unreadable[i])
                        continue; /* its takes are unknown, not gone */
                DIR *d;
                struct dirent *e;

                if (state_hand_dir(o->oc->state_dir, hand, dir, sizeof(dir)) < 0 || !(d = opendir(dir)))
                        continue;
                while ((e = readdir(d))) {
                        size_t n = strlen(e->d_name);
                        if (n > 10 && streq(e->d_name + n - 10, ".state.tmp")) {
                                (void) unlinkat(dirfd(d), e->d_name, 0); /* a save a crash cut short */
                                continue;
                        }
                        if (n <= 6 || n - 6 >= sizeof(name) || !streq(e->d_name + n - 6, ".state"))
                                continue;
                        snprintf(name, sizeof(name), "%.*s", (int) (n - 6), e->d_name);
                        if (!take_find(o, hand, name))
                                forget_orphan(o, hand, name);
                }
                closedir(d);
        }
}
