/* SPDX-License-Identifier: MIT */
/*
 * upload.c — one take at a time, oldest first, through these steps, each an rclone child:
 *   copy    rclone copyto <take> <remote>/<hand>/<name> [--bwlimit]
 *   list    rclone lsjson --hash of the remote copy: its size, and a hash the remote keeps
 *   check   only when the remote keeps no hash (WebDAV, FTP): rclone hashsum md5 --download of
 *           the remote copy, which reads its bytes back
 *   hash    rclone hashsum of the local file in that hash (md5, else sha1)
 * and the take is "uploaded-verified" only when the remote copy's size and hash (or bytes) are
 * the local file's and the local file is unchanged (size, time, inode) from before the copy to
 * after the check. A failed step marks the take "failed" with rclone's own sentence and waits
 * offload.retry_seconds, doubling up to retry_max_seconds, before trying again; one backoff for
 * the service, since a network outage fails every take alike. Each failure is logged once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/util.h"
#include "offload.h"

static void step_done_copy(struct offload *o, int status);
static void step_done_list(struct offload *o, int status);
static void step_done_hash(struct offload *o, int status);
static void step_done_check(struct offload *o, int status);
static void first_word(const char *out, char *buf, size_t len);

static uint64_t now_usec(void) {
        return (uint64_t) now_ns(CLOCK_MONOTONIC) / 1000;
}

static struct take *current(struct offload *o) {
        return take_find(o, o->cur_hand, o->cur_name);
}

static void remote_path(const struct offload *o, char *buf, size_t len) {
        const char *r = o->oc->remote;
        size_t n = strlen(r);
        snprintf(buf, len, "%s%s%s/%s", r, n && r[n - 1] != '/' && r[n - 1] != ':' ? "/" : "", o->cur_hand,
                 o->cur_name);
}

/* The local file now; -ENOENT when it is gone. */
static int stat_current(struct offload *o, struct stat *st) {
        char path[4096];
        if (take_path(o, o->cur_hand, o->cur_name, path, sizeof(path)) < 0)
                return -ENAMETOOLONG;
        return lstat(path, st) < 0 ? -errno : 0;
}

static uint64_t mtime_ns(const struct stat *st) {
        return (uint64_t) st->st_mtim.tv_sec * NSEC_PER_SEC + (uint64_t) st->st_mtim.tv_nsec;
}

static void save(struct offload *o, struct take *t) {
        char why[600], file[4096];
        int r = take_path(o, t->hand, t->name, file, sizeof(file));

        if (r == 0)
                r = state_save(o->oc->state_dir, t->hand, t->name, file, &t->st);
        if (r < 0) {
                snprintf(why, sizeof(why), "cannot write upload states in %.400s: %s", o->oc->state_dir, strerror(-r));
                if (log_once_is_news(o->logged_state_error, sizeof(o->logged_state_error), why))
                        log_error("%s; uploads go on, but what is verified is not kept across a restart: let user "
                                  "handrec-offload write there (offload.state_dir)",
                                  why);
        } else
                o->logged_state_error[0] = '\0';
        signal_take_state(o, t);
}

static int on_next(sd_event_source *s, void *userdata) {
        struct offload *o = userdata;
        (void) s;
        o->next_defer = source_free(o->next_defer);
        upload_kick(o);
        return 0;
}

/* Look for the next take once the loop is back (never from inside a step's callback). */
void upload_schedule_next(struct offload *o) {
        if (!o->next_defer && sd_event_add_defer(o->event, &o->next_defer, on_next, o) < 0)
                log_error("Cannot schedule the next upload.");
}

void upload_phase_idle(struct offload *o) {
        o->phase = PHASE_IDLE;
        o->cur_hand[0] = o->cur_name[0] = '\0';
        offload_notify_status(o);
}

/* Log a failure once: the first after a success, and one that differs in more than numbers. */
static void log_failure(struct offload *o, const char *why) {
        if (!log_once_is_news(o->logged_error, sizeof(o->logged_error), why)) {
                o->failures_since_log++;
                return;
        }
        log_error("Upload failed: %s (retrying with backoff from %g s up to %g s; the take stays on this disk, "
                  "nothing is removed until it is verified)",
                  why, o->oc->retry_seconds, o->oc->retry_max_seconds);
        o->failures_since_log = 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct offload *o = userdata;
        (void) s, (void) usec;
        o->retry_timer = source_free(o->retry_timer);
        o->retry_at_usec = 0;
        upload_phase_idle(o);
        upload_kick(o);
        return 0;
}

static void fail(struct offload *o, const char *why) {
        struct take *t = current(o);

        if (t) {
                t->st.state = UPLOAD_FAILED;
                snprintf(t->st.error, sizeof(t->st.error), "%.*s", (int) utf8_cut(why, sizeof(t->st.error) - 1), why);
                save(o, t);
        }
        /* cut where a character begins: a broken one would make Status and ListUploads fail */
        snprintf(o->last_error, sizeof(o->last_error), "%.*s", (int) utf8_cut(why, sizeof(o->last_error) - 1), why);
        log_failure(o, why);
        o->backoff = o->backoff > 0 ? MIN(o->backoff * 2, o->oc->retry_max_seconds) : o->oc->retry_seconds;
        o->retry_at_usec = now_usec() + (uint64_t) (o->backoff * 1e6);
        o->phase = PHASE_WAIT;
        if (sd_event_add_time(o->event, &o->retry_timer, CLOCK_MONOTONIC, o->retry_at_usec, 0, on_retry, o) < 0)
                log_error("Cannot arm the retry timer.");
        offload_notify_status(o);
}

/* The step ended on a take that is gone (discarded) or a service that stops. Return: true then. */
static bool interrupted(struct offload *o) {
        struct stat st;
        struct take *t = current(o);

        if (stat_current(o, &st) == -ENOENT) {
                log_info("%s/%s is gone (discarded) before its upload ended; it is not uploaded.", o->cur_hand,
                         o->cur_name);
                take_forget(o, o->cur_hand, o->cur_name);
        } else if (o->quitting) {
                if (t) {
                        t->st.state = UPLOAD_PENDING;
                        snprintf(t->st.error, sizeof(t->st.error), "interrupted: handrec-offload stopped");
                        save(o, t);
                }
        } else if (o->cancelled) {
                if (t) {
                        t->st.state = UPLOAD_PENDING;
                        save(o, t);
                }
        } else
                return false;
        o->cancelled = false;
        upload_phase_idle(o);
        if (o->quitting)
                sd_event_exit(o->event, 0);
        else
                upload_schedule_next(o);
        return true;
}

/* The stall guard: a step that makes no progress is killed, and the attempt fails, so that a
 * remote or a disk that hangs (a dead NFS mount, an SFTP server that stops answering) never
 * holds the service. The copy must move bytes within offload.stall_seconds; the other steps
 * (listing, hashing, comparing) must end within it plus a second per MB of the take. */
#define STALL_CHECK_USEC USEC_PER_SEC
#define STALL_KILL_GRACE_USEC (10 * USEC_PER_SEC)

static int on_stall_check(sd_event_source *s, uint64_t usec, void *userdata) {
        struct offload *o = userdata;
        double limit = o->oc->stall_seconds;
        uint64_t since = o->step_started_usec;

        if (o->job.pid == 0)
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        if (o->phase == PHASE_COPY) {
                if (o->job.bytes != o->progress_bytes) {
                        o->progress_bytes = o->job.bytes;
                        o->progress_usec = usec;
                }
                since = o->progress_usec;
        } else
                limit += (double) o->before_size / 1e6;
        if (o->stalled && usec >= o->stall_kill_usec)
                rclone_kill(o, SIGKILL);
        else if (!o->stalled && usec - since > (uint64_t) (limit * 1e6)) {
                o->stalled = true;
                o->stall_kill_usec = usec + STALL_KILL_GRACE_USEC;
                rclone_kill(o, SIGTERM);
        }
        sd_event_source_set_time(s, usec + STALL_CHECK_USEC);
        return 0;
}

static void arm_stall_guard(struct offload *o) {
        uint64_t now = now_usec();

        o->step_started_usec = o->progress_usec = now;
        o->progress_bytes = 0;
        o->stalled = false;
        if (!o->stall_timer &&
            sd_event_add_time(o->event, &o->stall_timer, CLOCK_MONOTONIC, now, 0, on_stall_check, o) < 0) {
                log_error("Cannot arm the stall guard.");
                return;
        }
        /* ON, not the one shot a new time source is: it checks every second while rclone runs */
        sd_event_source_set_time(o->stall_timer, now + STALL_CHECK_USEC);
        sd_event_source_set_enabled(o->stall_timer, SD_EVENT_ON);
}

/* A step ended: Return true when it failed (the take marked failed, the wait begun) or was
 * interrupted; false when the next step may go. */
static bool step_failed(struct offload *o, int status, const char *what) {
        char why[768];

        if (interrupted(o))
                return true;
        if (status == 0)
                return false;
        if (o->stalled)
                snprintf(why, sizeof(why),
                         "%s made no progress for %g s (offload.stall_seconds) and was stopped: the remote or the "
                         "disk is stuck",
                         what, o->oc->stall_seconds);
        else
                rclone_describe_failure(&o->job, what, status, why, sizeof(why));
        fail(o, why);
        return true;
}

static void run_step(struct offload *o, enum upload_phase phase, const char **argv,
                     void (*done)(struct offload *o, int status)) {
        int r = rclone_run(o, (char *const *) argv, done);
        char why[256];

        o->phase = phase;
        offload_notify_status(o);
        if (r >= 0)
                arm_stall_guard(o);
        if (r < 0) {
                snprintf(why, sizeof(why), "cannot start %s: %s", o->oc->rclone, strerror(-r));
                fail(o, why);
        }
}

static void step_copy(struct offload *o, const char *local) {
        const char *argv[40];
        char remote[2048];
        unsigned n = rclone_base_args(o, argv, 30);

        remote_path(o, remote, sizeof(remote));
        argv[n++] = "copyto";
        argv[n++] = local;
        argv[n++] = remote;
        argv[n++] = "--stats";
        argv[n++] = "1s";
        if (o->oc->bwlimit[0]) {
                argv[n++] = "--bwlimit";
                argv[n++] = o->oc->bwlimit;
        }
        argv[n] = NULL;
        run_step(o, PHASE_COPY, argv, step_done_copy);
}

/* Start the take @t: it is eligible and not verified. */
static void begin(struct offload *o, struct take *t) {
        char local[4096];
        struct stat st;

        snprintf(o->cur_hand, sizeof(o->cur_hand), "%s", t->hand);
        snprintf(o->cur_name, sizeof(o->cur_name), "%s", t->name);
        o->cur_started_usec = now_usec();
        o->cancelled = false;
        o->downloaded = false;
        if (take_path(o, t->hand, t->name, local, sizeof(local)) < 0 || stat_current(o, &st) < 0) {
                take_forget(o, o->cur_hand, o->cur_name);
                upload_phase_idle(o);
                upload_schedule_next(o);
                return;
        }
        o->before_size = (uint64_t) st.st_size;
        o->before_mtime_ns = mtime_ns(&st);
        o->before_ino = (uint64_t) st.st_ino;
        t->st.state = UPLOAD_UPLOADING;
        t->st.attempts++;
        t->st.size = o->before_size;
        t->st.mtime_ns = o->before_mtime_ns;
        t->st.ino = o->before_ino;
        t->st.check[0] = '\0';
        remote_path(o, t->st.remote, sizeof(t->st.remote));
        save(o, t);
        /* while uploads fail, each attempt is not news: the failure was logged once */
        log_internal(o->logged_error[0] ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 0, "Uploading %s (%" PRIu64 " bytes) to %s",
                     local, o->before_size, t->st.remote);
        step_copy(o, local);
}

static void step_done_copy(struct offload *o, int status) {
        const char *argv[40];
        char remote[2048];
        unsigned n;

        if (step_failed(o, status, "rclone copyto"))
                return;
        remote_path(o, remote, sizeof(remote));
        n = rclone_base_args(o, argv, 30);
        argv[n++] = "lsjson";
        argv[n++] = "--hash";
        argv[n++] = "--files-only";
        argv[n++] = remote;
        argv[n] = NULL;
        run_step(o, PHASE_LIST, argv, step_done_list);
}

/* From lsjson's array: the entry named cur_name, its size and a hash (md5, else sha1). */
static int parse_listing(struct offload *o, const char *text, char *why, size_t len) {
        json_object *a = json_tokener_parse(text), *e = NULL, *v, *h;
        int r = -ENOENT;

        o->hash_type[0] = o->remote_hash[0] = '\0';
        for (size_t i = 0; a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a); i++) {
                json_object *x = json_object_array_get_idx(a, i);
                if (json_object_object_get_ex(x, "Name", &v) && streq(json_object_get_string(v), o->cur_name))
                        e = x;
        }
        if (e && json_object_object_get_ex(e, "Size", &v)) {
                o->remote_size = (uint64_t) json_object_get_int64(v);
                r = 0;
                if (json_object_object_get_ex(e, "Hashes", &h))
                        for (unsigned k = 0; k < 2 && !o->hash_type[0]; k++) {
                                const char *type = k == 0 ? "md5" : "sha1";
                                if (json_object_object_get_ex(h, type, &v) && json_object_get_string_len(v) > 0) {
                                        snprintf(o->hash_type, sizeof(o->hash_type), "%s", type);
                                        snprintf(o->remote_hash, sizeof(o->remote_hash), "%s",
                                                 json_object_get_string(v));
                                }
                        }
        } else
                snprintf(why, len, "the remote copy is not there after the upload (rclone lsjson lists no %s)",
                         o->cur_name);
        json_object_put(a);
        return r;
}

static void step_done_list(struct offload *o, int status) {
        const char *argv[40];
        char why[768], local[4096], remote[2048];
        unsigned n;

        if (step_failed(o, status, "rclone lsjson (checking the remote copy)"))
                return;
        if (parse_listing(o, o->job.out ?: "", why, sizeof(why)) < 0) {
                fail(o, why);
                return;
        }
        if (o->remote_size != o->before_size) {
                snprintf(why, sizeof(why), "the remote copy is %" PRIu64 " bytes, the take %" PRIu64, o->remote_size,
                         o->before_size);
                fail(o, why);
                return;
        }
        take_path(o, o->cur_hand, o->cur_name, local, sizeof(local));
        n = rclone_base_args(o, argv, 30);
        if (o->hash_type[0]) {
                argv[n++] = "hashsum";
                argv[n++] = o->hash_type;
                argv[n++] = local;
                argv[n] = NULL;
                run_step(o, PHASE_HASH, argv, step_done_hash);
                return;
        }
        /* no hash on the remote (WebDAV, FTP): rclone downloads the copy and hashes its bytes */
        remote_path(o, remote, sizeof(remote));
        argv[n++] = "hashsum";
        argv[n++] = "md5";
        argv[n++] = "--download";
        argv[n++] = remote;
        argv[n] = NULL;
        run_step(o, PHASE_CHECK, argv, step_done_check);
}

/* The take is the remote copy: record it, unless the local file changed meanwhile. */
static void verified(struct offload *o, const char *check) {
        struct take *t = current(o);
        double seconds = (double) (now_usec() - o->cur_started_usec) / 1e6;
        struct stat st;
        char why[400];

        if (stat_current(o, &st) < 0 || (uint64_t) st.st_size != o->before_size ||
            mtime_ns(&st) != o->before_mtime_ns || (uint64_t) st.st_ino != o->before_ino) {
                snprintf(why, sizeof(why), "%s/%s changed during its upload; it is uploaded again", o->cur_hand,
                         o->cur_name);
                fail(o, why);
                return;
        }
        if (t) {
                t->st.state = UPLOAD_VERIFIED;
                snprintf(t->st.check, sizeof(t->st.check), "%s", check);
                t->st.error[0] = '\0';
                save(o, t);
        }
        log_info("Uploaded and verified %s/%s to %s (%s) in %.1f s, %.1f MB/s", o->cur_hand, o->cur_name,
                 t ? t->st.remote : "?", check, seconds, seconds > 0 ? (double) o->before_size / seconds / 1e6 : 0);
        if (o->logged_error[0])
                log_info("Uploads work again (%u more failures were not logged).", o->failures_since_log);
        o->logged_error[0] = o->last_error[0] = '\0';
        o->backoff = 0;
        o->uploaded += t && !t->manifest; /* takes: an episode's manifest is its record, not one */
        upload_phase_idle(o);
        space_check(o);
        upload_schedule_next(o);
}

static void step_done_hash(struct offload *o, int status) {
        char why[768], local[200], check[192];

        if (step_failed(o, status, "rclone hashsum (of the local file)"))
                return;
        first_word(o->job.out ?: "", local, sizeof(local));
        if (strcasecmp(local, o->remote_hash) != 0) {
                snprintf(why, sizeof(why), "the remote copy's %s is %s, the take's %s", o->hash_type, o->remote_hash,
                         local[0] ? local : "(none)");
                fail(o, why);
                return;
        }
        snprintf(check, sizeof(check), "%s%s:%.160s", o->downloaded ? "download:" : "", o->hash_type, local);
        verified(o, check);
}

/* The first word of rclone hashsum's line "<hex>  <name>". */
static void first_word(const char *out, char *buf, size_t len) {
        size_t n = strcspn(out, " \t\n");
        snprintf(buf, len, "%.*s", (int) MIN(n, len - 1), out);
}

static void step_done_check(struct offload *o, int status) {
        const char *argv[40];
        char local[4096];
        unsigned n;

        if (step_failed(o, status, "rclone hashsum --download (of the remote copy)"))
                return;
        first_word(o->job.out ?: "", o->remote_hash, sizeof(o->remote_hash));
        if (!o->remote_hash[0]) {
                fail(o, "rclone hashsum --download gave no hash of the remote copy");
                return;
        }
        snprintf(o->hash_type, sizeof(o->hash_type), "md5");
        o->downloaded = true;
        take_path(o, o->cur_hand, o->cur_name, local, sizeof(local));
        n = rclone_base_args(o, argv, 30);
        argv[n++] = "hashsum";
        argv[n++] = "md5";
        argv[n++] = local;
        argv[n] = NULL;
        run_step(o, PHASE_HASH, argv, step_done_hash);
}

/* The oldest take never tried; else the failed one tried fewest times (the oldest of those), so
 * that one take that cannot go never holds the others back. */
static struct take *next_take(struct offload *o) {
        struct take *best = NULL;

        for (unsigned i = 0; i < o->n_takes; i++) {
                struct take *t = &o->takes[i];
                if (!t->eligible || t->st.state == UPLOAD_VERIFIED)
                        continue;
                if (t->st.state != UPLOAD_FAILED)
                        return t;
                if (!best || t->st.attempts < best->st.attempts)
                        best = t;
        }
        return best;
}

/* ---- the partial copies of discarded takes (cleanup.c queues them), deleted between uploads ---- */

/* rclone's words for a file that is not there: "object not found" (S3, SFTP, WebDAV), "is a
 * directory or doesn't exist" (a local folder) */
static bool copy_not_there(const struct rclone_job *job) {
        static const char *const words[] = {"not found", "doesn't exist"};

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strstr(job->error, words[i]) || strstr(job->last_line, words[i]))
                        return true;
        return false;
}

/* A deletion ended: the state file goes with the copy, and the next take (or deletion) is looked for. */
static void cleanup_done(struct offload *o, int status) {
        const struct cleanup *c = &o->cleanup[0];
        char why[768];

        if (status == 0 || copy_not_there(&o->job)) {
                if (status == 0)
                        log_info("Removed %s from the remote: a partial copy of a take that was discarded.", c->remote);
                if (!take_find(o, c->hand, c->name)) /* not a new take of the same name */
                        (void) state_remove(o->oc->state_dir, c->hand, c->name);
        } else {
                rclone_describe_failure(&o->job, "rclone deletefile", status, why, sizeof(why));
                log_warning("Cannot remove %s, a partial copy of a discarded take, from the remote: %s. It is "
                            "tried again when handrec-offload next starts.",
                            c->remote, why);
        }
        memmove(&o->cleanup[0], &o->cleanup[1], (size_t) (o->n_cleanup - 1) * sizeof(o->cleanup[0]));
        o->n_cleanup--;
        upload_phase_idle(o);
        if (o->quitting)
                sd_event_exit(o->event, 0);
        else
                upload_schedule_next(o);
}

static bool cleanup_start(struct offload *o) {
        const char *argv[40];
        unsigned n;

        if (o->n_cleanup == 0)
                return false;
        n = rclone_base_args(o, argv, 30);
        argv[n++] = "deletefile";
        argv[n++] = o->cleanup[0].remote;
        argv[n] = NULL;
        o->phase = PHASE_CLEANUP;
        if (rclone_run(o, (char *const *) argv, cleanup_done) < 0) {
                o->n_cleanup = 0; /* rclone cannot run: the upload's own failure will say why; the state
                                 * files stay for the next start */
                o->phase = PHASE_IDLE;
                return false;
        }
        return true;
}

void upload_kick(struct offload *o) {
        struct take *t;

        if (!o->oc->enabled || o->quitting || o->phase != PHASE_IDLE)
                return;
        if (cleanup_start(o))
                return; /* its end looks for the next take */
        scan_takes(o);
        t = next_take(o);
        if (t)
                begin(o, t);
        else
                offload_notify_status(o);
}

void upload_retry_now(struct offload *o) {
        if (o->phase != PHASE_WAIT)
                return;
        o->retry_timer = source_free(o->retry_timer);
        o->retry_at_usec = 0;
        upload_phase_idle(o);
        upload_kick(o);
}

/* @hand/@name was discarded: stop its upload if it is the current one. */
void upload_cancel(struct offload *o, const char *hand, const char *name) {
        if (!upload_on_take(o) || !streq(hand, o->cur_hand) || !streq(name, o->cur_name))
                return;
        o->cancelled = true;
        rclone_kill(o, SIGTERM);
}

/* SIGTERM: stop rclone; the loop exits once it has ended (interrupted()). */
void upload_stop(struct offload *o) {
        o->quitting = true;
        if (o->phase == PHASE_IDLE || o->phase == PHASE_WAIT || o->job.pid == 0) {
                sd_event_exit(o->event, 0);
                return;
        }
        rclone_kill(o, SIGTERM);
}
