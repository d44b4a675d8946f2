/* SPDX-License-Identifier: MIT */
/*
 * offload.h — handrec-offload: uploads finished takes with rclone, verifies the remote copy,
 * keeps each take's state durably and reclaims space by removing only verified takes.
 *
 * DESIGN: one thread. Everything runs on the sd-event loop of main.c: the bus (bus.c), the scans
 * of the hand folders (scan.c), the space policy (space.c), and the upload of one take at a time
 * (upload.c), whose steps are rclone child processes (rclone.c) whose exit and output are loop
 * events too. So no lock anywhere; the only concurrency is with other processes: handrecd
 * writing takes (a take is uploaded only once its file says complete or recovered, and is
 * checked unchanged from before the upload to after the verification) and rclone.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "../lib/bus-names.h"
#include "../lib/config.h"
#include "../lib/take-reader.h"
#include "../lib/util.h"

struct offload;

/* How often the hand folders are scanned for takes the daemon's signals did not announce.
 * HANDREC_OFFLOAD_SCAN_SECONDS overrides it: the tests set it to an hour, so that what they see
 * can only have come from the signals. */
#define OFFLOAD_SCAN_USEC (60 * USEC_PER_SEC)

/* sd_event_source_disable_unref() is newer than libsystemd 245 */
static inline sd_event_source *source_free(sd_event_source *s) {
        if (s)
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return sd_event_source_unref(s);
}

enum upload_state {
        UPLOAD_PENDING,
        UPLOAD_UPLOADING,
        UPLOAD_VERIFIED,
        UPLOAD_FAILED,
};

const char *upload_state_to_string(enum upload_state s);

/* What a take's state file says (state.c). */
struct take_state {
        enum upload_state state;
        char remote[1024];
        uint64_t size, mtime_ns, ino; /* the local file when it was verified (or last tried) */
        char check[192];              /* "md5:<hex>", "sha1:<hex>", or "download:md5:<hex>" (read back) */
        unsigned attempts;
        char error[512];
        char updated_utc[32];
};

/* The episodes' manifests (handrecd's <output_dir>/episodes/<id>.json) are uploaded as takes of
 * this "hand": to <remote>/episodes/<id>.json, again each time the manifest changes (the
 * operator's decision), never removed for space, and not in the backlog of takes. */
#define MANIFEST_FOLDER "episodes"

/* One local take the service knows, from the last scan (or an episode's manifest: manifest). */
struct take {
        char hand[16];
        char name[256];
        uint64_t size, mtime_ns, ino;
        /* eligible: its file says complete or recovered; read again when size or mtime change */
        bool eligible;
        uint64_t checked_size, checked_mtime_ns;
        char status[32];      /* the file's status attribute, "" when it cannot be read */
        bool seen;            /* in the scan under way */
        bool discard_refused; /* handrecd refused to remove it: the space policy tries others */
        bool manifest;        /* an episode's manifest, in MANIFEST_FOLDER; eligible once the episode has ended */
        struct take_state st;
};

/* One rclone child: its output, its progress and what it said went wrong (rclone.c). */
struct rclone_job {
        pid_t pid;
        int out_fd, err_fd;
        sd_event_source *child_source, *out_source, *err_source;
        char *out; /* standard output, kept (at most RCLONE_OUT_MAX) */
        size_t out_len, out_cap;
        char line[8192]; /* standard error's line being read */
        size_t line_len;
        char error[512]; /* the last error rclone logged; the last line of another kind otherwise */
        char last_line[512];
        uint64_t bytes, total; /* --stats: done and to do */
        double speed;          /* bytes a second */
        void (*done)(struct offload *o, int status);
};

enum upload_phase {
        PHASE_IDLE,
        PHASE_COPY,    /* rclone copyto */
        PHASE_LIST,    /* rclone lsjson --hash of the remote copy */
        PHASE_HASH,    /* rclone hashsum of the local file */
        PHASE_CHECK,   /* rclone hashsum --download of the remote copy: a remote without hashes */
        PHASE_WAIT,    /* after a failure, until the retry */
        PHASE_CLEANUP, /* rclone deletefile of a discarded take's partial copy (cleanup.c) */
};

struct offload {
        struct config *config; /* the daemon's configuration; offload = &config->offload */
        const struct offload_config *oc;
        bool user;
        sd_event *event;
        sd_bus *bus;
        sd_event_source *scan_timer, *retry_timer, *next_defer;
        uint64_t scan_usec;

        struct take *takes;      /* sorted oldest first (by name: names begin with the start time) */
        bool hand_unreadable[2]; /* the last scan could not read the hand's folder (scan.c) */
        char scan_error[600], logged_scan_error[600];
        unsigned n_takes, cap_takes;
        /* the status of each take read by HDF5 in a child, during a scan (lib/take-reader.h): a
         * damaged file costs it TAKE_READER_CPU_MS of the child's CPU once, then is remembered
         * while unchanged */
        struct take_reader reader;
        struct take_reader_memory damaged;

        /* the take being uploaded: hand and name (an index would not survive a scan) */
        enum upload_phase phase;
        char cur_hand[16], cur_name[256];
        uint64_t cur_started_usec;
        uint64_t before_size, before_mtime_ns, before_ino;
        uint64_t remote_size;
        char hash_type[8], remote_hash[160];
        bool downloaded; /* remote_hash is of the copy's bytes read back */
        bool cancelled;  /* discarded, or the service stops, while rclone runs */
        /* the stall guard (upload.c) */
        sd_event_source *stall_timer;
        uint64_t step_started_usec, progress_usec, progress_bytes, stall_kill_usec;
        bool stalled;
        struct rclone_job job;

        double backoff;         /* seconds of the last wait; 0 after a success */
        uint64_t retry_at_usec; /* CLOCK_MONOTONIC */
        char last_error[512];   /* of the last attempt, "" when it succeeded */
        char logged_error[512]; /* the last failure logged, to log each one once */
        unsigned failures_since_log;
        char logged_state_error[600]; /* a state file that cannot be written, logged once */

        /* the remote copies of discarded takes to delete (cleanup.c); each take's state file
         * stays until its copy is gone, so a restart in between finds it again */
#define CLEANUP_MAX 16
        struct cleanup {
                char hand[16];
                char name[256];
                char remote[1024];
        } cleanup[CLEANUP_MAX];
        unsigned n_cleanup;

        bool discarding; /* a DiscardTake call is under way, for this take */
        char discard_hand[16], discard_name[256];
        char space_note[512];
        char logged_space_note[512];

        unsigned uploaded, removed;
        bool quitting;
        int exit_code; /* of the process: 1 once the bus is lost */
};

/* The files' layers, from the bottom (scripts/check-layers.py holds them to it): log-once.c,
 * rclone.c, state.c; cleanup.c; scan.c; status.c, signals.c; space.c; upload.c; bus.c; main.c.
 * A file calls only the ones below it. */

/* status.c: the state in a word ("uploading", "waiting", ...), and STATUS= for systemd */
const char *offload_state_name(const struct offload *o);
void offload_notify_status(struct offload *o);

/* signals.c */
void signal_take_state(struct offload *o, const struct take *t);
void signal_take_removed(struct offload *o, const char *path);

/* state.c: one file per take, <state_dir>/<hand>/<name>.state, written atomically and synced */
int state_load(const char *state_dir, const char *hand, const char *name, struct take_state *ret);
/* @file: the take's absolute path, written for a person reading the state file */
int state_save(const char *state_dir, const char *hand, const char *name, const char *file, struct take_state *st);
int state_remove(const char *state_dir, const char *hand, const char *name);
/* the folder of @hand's state files */
int state_hand_dir(const char *state_dir, const char *hand, char *buf, size_t len);
const char *upload_state_to_string(enum upload_state s);

/* scan.c */
int scan_takes(struct offload *o);
struct take *take_find(struct offload *o, const char *hand, const char *name);
struct take *take_find_path(struct offload *o, const char *path, char *ret_hand, char *ret_name);
int take_path(const struct offload *o, const char *hand, const char *name, char *buf, size_t len);
void take_forget(struct offload *o, const char *hand, const char *name);
void offload_backlog(struct offload *o, unsigned *ret_takes, uint64_t *ret_bytes, uint64_t *ret_all_bytes);
/* State files whose take is gone (removed or discarded while the service was down, or whose
 * partial copy a run before could not delete): forgotten, or their copy's deletion queued. */
void scan_orphans(struct offload *o);

/* rclone.c */
int rclone_run(struct offload *o, char *const argv[], void (*done)(struct offload *o, int status));
void rclone_kill(struct offload *o, int sig);
void rclone_job_free(struct rclone_job *j);
/* @n bytes of rclone's standard error as read from its pipe: each whole line parsed as its JSON
 * log (--use-json-log; plain text too) into @j's bytes, total, speed, error and last_line. A "\n"
 * ends the last line. */
void rclone_take_stderr(struct rclone_job *j, const char *buf, size_t n);
/* The common arguments before a command: the program, --config, logging as JSON. */
unsigned rclone_base_args(const struct offload *o, const char *argv[], unsigned max);
/* What went wrong, in a sentence: rclone's own error, or how it ended. */
void rclone_describe_failure(const struct rclone_job *j, const char *what, int status, char *buf, size_t len);

/* upload.c */
void upload_kick(struct offload *o);
void upload_retry_now(struct offload *o);
void upload_cancel(struct offload *o, const char *hand, const char *name);
void upload_stop(struct offload *o);

/* Whether the service is busy with the take cur_hand/cur_name (copying or verifying it). */
static inline bool upload_on_take(const struct offload *o) {
        return o->phase == PHASE_COPY || o->phase == PHASE_LIST || o->phase == PHASE_HASH || o->phase == PHASE_CHECK;
}
void upload_phase_idle(struct offload *o);
void upload_schedule_next(struct offload *o);

/* cleanup.c */
/* Queues the deletion of @st's remote copy when an attempt may have left one there: true if
 * queued (the state file of @hand/@name is then removed by cleanup.c once the copy is gone). */
bool cleanup_queue(struct offload *o, const char *hand, const char *name, const struct take_state *st);

/* space.c */
void space_check(struct offload *o);
uint64_t space_free_bytes(const struct offload *o);

/* log-once.c: whether @msg is another failure than @logged (its last clause differs beyond
 * digits); if so @logged becomes @msg */
bool log_once_is_news(char *logged, size_t len, const char *msg);

/* bus.c */
int bus_setup(struct offload *o);
