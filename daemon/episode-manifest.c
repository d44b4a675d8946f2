/* SPDX-License-Identifier: MIT */
/*
 * episode-manifest.c — an episode's manifest, <output_dir>/episodes/<id>.json (docs/file-format.md
 * says every key): written whole and atomically each time (a temporary file in the same folder,
 * fsync, rename, the folder synced), read back for a decision made after a restart and for
 * ListEpisodes. The takes' files are named relative to output_dir ("right/20261206-041500.h5"),
 * so a copy of the folder, or the bucket handrec-offload fills, reads the same. Main thread only.
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

#include "episode.h"
#include "takefile.h"
#include "../lib/util.h"

#define MANIFEST_FORMAT "handrec-episode"
#define MANIFEST_VERSION 1
#define MANIFEST_SIZE_MAX (256 * 1024)
#define MANIFEST_JSON_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

/* @file relative to @output_dir when it lies under it. */
static const char *relative(const char *output_dir, const char *file) {
        size_t n = strlen(output_dir);

        return strncmp(file, output_dir, n) == 0 && file[n] == '/' ? file + n + 1 : file;
}

static json_object *string_or_null(const char *s) {
        return s[0] ? json_object_new_string(s) : NULL;
}

/* A take's quality in the manifest: the verdict and the counts behind it (null until it ended). */
static json_object *qc_json(const struct episode_take *t) {
        json_object *q;

        if (!t->qc_verdict[0])
                return NULL;
        q = json_object_new_object();
        json_object_object_add(q, "verdict", json_object_new_string(t->qc_verdict));
        json_object_object_add(q, "frozen_frames", json_object_new_int64((int64_t) t->qc_frozen));
        json_object_object_add(q, "dark_frames", json_object_new_int64((int64_t) t->qc_dark));
        json_object_object_add(q, "overexposed_frames", json_object_new_int64((int64_t) t->qc_overexposed));
        json_object_object_add(q, "blurred_frames", json_object_new_int64((int64_t) t->qc_blurred));
        json_object_object_add(q, "camera_gap_frames", json_object_new_int64((int64_t) t->qc_camera_gaps));
        json_object_object_add(q, "timestamp_gaps", json_object_new_int64((int64_t) t->qc_timestamp_gaps));
        return q;
}

/* seconds to the millisecond, as 12.345 (json-c would write all 17 digits of the double) */
static json_object *seconds_ms(double s) {
        char text[32];

        snprintf(text, sizeof(text), "%.3f", s);
        return json_object_new_double_s(s, text);
}

static json_object *manifest_json(const char *output_dir, const struct episode *e) {
        json_object *o = json_object_new_object(), *takes = json_object_new_object();

        json_object_object_add(o, "format", json_object_new_string(MANIFEST_FORMAT));
        json_object_object_add(o, "format_version", json_object_new_int(MANIFEST_VERSION));
        json_object_object_add(o, "episode", json_object_new_string(e->id));
        json_object_object_add(o, "task", json_object_new_string(e->task));
        json_object_object_add(o, "operator", json_object_new_string(e->operator_));
        json_object_object_add(o, "host", json_object_new_string(e->host));
        json_object_object_add(o, "started_utc", json_object_new_string(e->started_utc));
        json_object_object_add(o, "ended_utc", string_or_null(e->ended_utc));
        json_object_object_add(o, "outcome", json_object_new_string(e->outcome));
        json_object_object_add(o, "reason", json_object_new_string(e->reason));
        json_object_object_add(o, "decision", string_or_null(e->decision));
        json_object_object_add(o, "success", e->success < 0 ? NULL : json_object_new_boolean(e->success));
        json_object_object_add(o, "note", json_object_new_string(e->note));
        json_object_object_add(o, "decided_utc", string_or_null(e->decided_utc));
        for (unsigned k = 0; k < e->n_takes; k++) {
                const struct episode_take *t = &e->takes[k];
                json_object *j = json_object_new_object();
                json_object_object_add(j, "file", json_object_new_string(relative(output_dir, t->file)));
                json_object_object_add(
                        j, "stop_reason",
                        json_object_new_string(t->active ? "" : pipeline_stop_reason_to_string(t->reason)));
                json_object_object_add(j, "last_error", json_object_new_string(t->error));
                json_object_object_add(j, "frames", json_object_new_int64((int64_t) t->frames));
                json_object_object_add(j, "duration_s", seconds_ms(t->duration));
                json_object_object_add(j, "qc", qc_json(t));
                json_object_object_add(takes, t->hand, j);
        }
        json_object_object_add(o, "takes", takes);
        return o;
}

static int episodes_dir(const char *output_dir, char *buf, size_t len) {
        if (snprintf(buf, len, "%s/episodes", output_dir) >= (int) len)
                return -ENAMETOOLONG;
        if (mkdir(buf, TAKEFILE_DIR_MODE) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* @text into @dir/@name through a temporary file: whole, synced, or not at all. */
static int write_atomically(const char *dir, const char *name, const char *text) {
        char tmp[PATH_MAX + 128], path[PATH_MAX + 128];
        _cleanup_(closep) int dfd = -1, fd = -1;
        size_t n = strlen(text), done = 0;
        int r = 0;

        if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path) ||
            snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int) sizeof(tmp))
                return -ENAMETOOLONG;
        (void) unlink(tmp); /* a crash's leftover */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, TAKEFILE_MODE);
        if (fd < 0)
                return -errno;
        while (done < n && r == 0) {
                ssize_t w = write(fd, text + done, n - done);
                if (w < 0 && errno != EINTR)
                        r = -errno;
                else if (w > 0)
                        done += (size_t) w;
        }
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

int episode_manifest_write(const char *output_dir, const struct episode *e) {
        char dir[PATH_MAX], name[TAKE_EPISODE_MAX + 8];
        json_object *o;
        int r;

        r = episodes_dir(output_dir, dir, sizeof(dir));
        if (r >= 0) {
                o = manifest_json(output_dir, e);
                snprintf(name, sizeof(name), "%s.json", e->id);
                /* "right/X.h5", not json-c's default "right\\/X.h5": the same JSON, read by people too */
                r = write_atomically(dir, name, json_object_to_json_string_ext(o, MANIFEST_JSON_FLAGS));
                json_object_put(o);
        }
        if (r < 0)
                log_warning("Cannot write the manifest of episode %s in %s/episodes, ignoring: %s", e->id, output_dir,
                            strerror(-r));
        return r;
}

/* The string at @key of @o into @buf ("" when absent or null). Return: whether it was a string or null. */
static bool get_string(json_object *o, const char *key, char *buf, size_t len) {
        json_object *v;

        buf[0] = 0;
        if (!json_object_object_get_ex(o, key, &v) || !v)
                return true;
        if (!json_object_is_type(v, json_type_string))
                return false;
        snprintf(buf, len, "%s", json_object_get_string(v));
        return true;
}

static bool read_take(const char *output_dir, const char *hand, json_object *j, struct episode_take *t) {
        char file[PATH_MAX], reason[32];
        json_object *v;

        *t = (struct episode_take){0};
        snprintf(t->hand, sizeof(t->hand), "%s", hand);
        if (!json_object_is_type(j, json_type_object) || !get_string(j, "file", file, sizeof(file)) || !file[0] ||
            file[0] == '/' || !get_string(j, "stop_reason", reason, sizeof(reason)) ||
            !get_string(j, "last_error", t->error, sizeof(t->error)))
                return false;
        if (snprintf(t->file, sizeof(t->file), "%s/%s", output_dir, file) >= (int) sizeof(t->file))
                return false;
        t->active = !reason[0];
        for (int r = 0; r < _STOP_MAX; r++)
                if (streq(reason, pipeline_stop_reason_to_string(r)))
                        t->reason = r;
        if (json_object_object_get_ex(j, "frames", &v) && json_object_is_type(v, json_type_int))
                t->frames = (uint64_t) json_object_get_int64(v);
        if (json_object_object_get_ex(j, "duration_s", &v) && json_object_is_type(v, json_type_double))
                t->duration = json_object_get_double(v);
        if (json_object_object_get_ex(j, "qc", &v) && v && json_object_is_type(v, json_type_object)) {
                const char *keys[] = {"frozen_frames",  "dark_frames",       "overexposed_frames",
                                      "blurred_frames", "camera_gap_frames", "timestamp_gaps"};
                uint64_t *values[] = {&t->qc_frozen,  &t->qc_dark,        &t->qc_overexposed,
                                      &t->qc_blurred, &t->qc_camera_gaps, &t->qc_timestamp_gaps};
                json_object *x;
                if (!get_string(v, "verdict", t->qc_verdict, sizeof(t->qc_verdict)))
                        return false;
                for (unsigned i = 0; i < ELEMENTSOF(keys); i++)
                        if (json_object_object_get_ex(v, keys[i], &x) && json_object_is_type(x, json_type_int))
                                *values[i] = (uint64_t) json_object_get_int64(x);
        }
        return true;
}

static int from_json(const char *output_dir, json_object *o, struct episode *e) {
        char format[32];
        json_object *v, *takes;

        *e = (struct episode){.success = -1};
        if (!json_object_is_type(o, json_type_object) || !get_string(o, "format", format, sizeof(format)) ||
            !streq(format, MANIFEST_FORMAT) || !get_string(o, "episode", e->id, sizeof(e->id)) || !e->id[0] ||
            !get_string(o, "task", e->task, sizeof(e->task)) ||
            !get_string(o, "operator", e->operator_, sizeof(e->operator_)) ||
            !get_string(o, "host", e->host, sizeof(e->host)) ||
            !get_string(o, "started_utc", e->started_utc, sizeof(e->started_utc)) ||
            !get_string(o, "ended_utc", e->ended_utc, sizeof(e->ended_utc)) ||
            !get_string(o, "outcome", e->outcome, sizeof(e->outcome)) ||
            !get_string(o, "reason", e->reason, sizeof(e->reason)) ||
            !get_string(o, "decision", e->decision, sizeof(e->decision)) ||
            !get_string(o, "note", e->note, sizeof(e->note)) ||
            !get_string(o, "decided_utc", e->decided_utc, sizeof(e->decided_utc)))
                return -EBADMSG;
        if (json_object_object_get_ex(o, "success", &v) && v)
                e->success = json_object_get_boolean(v);
        if (!json_object_object_get_ex(o, "takes", &takes) || !json_object_is_type(takes, json_type_object))
                return -EBADMSG;
        json_object_object_foreach(takes, hand, j) {
                if (e->n_takes >= ELEMENTSOF(e->takes) || !read_take(output_dir, hand, j, &e->takes[e->n_takes]))
                        return -EBADMSG;
                e->n_takes++;
        }
        return 0;
}

static bool id_valid(const char *id) {
        size_t n = strlen(id);

        if (n < 1 || n > TAKE_EPISODE_MAX || id[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
                      (id[i] >= '0' && id[i] <= '9') || strchr("_.-", id[i])))
                        return false;
        return true;
}

int episode_manifest_read(const char *output_dir, const char *id, struct episode *ret) {
        _cleanup_(freep) char *text = NULL;
        char path[PATH_MAX];
        json_object *o;
        int r;

        if (!id_valid(id))
                return -ENOENT; /* never a path of anything else */
        snprintf(path, sizeof(path), "%s/episodes/%s.json", output_dir, id);
        r = read_file_max(path, MANIFEST_SIZE_MAX, &text, NULL);
        if (r < 0)
                return r == -ENOENT ? r : -EBADMSG;
        o = json_tokener_parse(text);
        if (!o)
                return -EBADMSG;
        r = from_json(output_dir, o, ret);
        json_object_put(o);
        return r < 0 ? r : streq(ret->id, id) ? 0 : -EBADMSG;
}

static int newest_first(const void *a, const void *b) {
        return strcmp(b, a);
}

int episode_manifest_list(const char *output_dir, char (*ids)[TAKE_EPISODE_MAX + 1], unsigned max) {
        char dir[PATH_MAX], (*all)[TAKE_EPISODE_MAX + 1] = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/episodes", output_dir);
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (de->d_name[0] == '.' || len <= 5 || len - 5 > TAKE_EPISODE_MAX ||
                    !streq(de->d_name + len - 5, ".json"))
                        continue;
                if (n == cap) {
                        void *grown = reallocarray(all, cap ? cap * 2 : 64, sizeof(*all));
                        if (!grown)
                                break;
                        all = grown;
                        cap = cap ? cap * 2 : 64;
                }
                snprintf(all[n++], sizeof(all[0]), "%.*s", (int) (len - 5), de->d_name);
        }
        closedir(d);
        if (n > 1)
                qsort(all, n, sizeof(*all), newest_first);
        n = MIN(n, (size_t) max);
        memcpy(ids, all, n * sizeof(*all));
        free(all);
        return (int) n;
}
