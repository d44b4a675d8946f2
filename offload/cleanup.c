/* SPDX-License-Identifier: MIT */
/*
 * cleanup.c — removing what an upload left on the remote of a take that will never be verified:
 * a take discarded during its upload, or after a failed one, may have left a partial copy under
 * its own name (an SFTP or local remote writes in place; some S3 servers keep a cut-off PUT).
 * Whatever reads the remote must never find a broken take there, so such copies are deleted
 * (rclone deletefile), one at a time, before the next upload. A copy that is not there is fine.
 * The take's state file (which names the copy) is removed only once the copy is gone: a restart
 * in between, or a deletion that fails, leaves it, and the next start queues the deletion again
 * (state_remove_orphans).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "offload.h"

/* Whether @copy lies under the configured remote (upload.c names copies REMOTE[/]HAND/NAME). */
static bool on_this_remote(const struct offload *o, const char *copy) {
        const char *r = o->oc->remote;
        size_t n = strlen(r);

        return n && strncmp(copy, r, n) == 0 && (r[n - 1] == '/' || r[n - 1] == ':' || copy[n] == '/');
}

bool cleanup_queue(struct offload *o, const char *hand, const char *name, const struct take_state *st) {
        struct cleanup *c;

        if (st->attempts == 0 || st->state == UPLOAD_VERIFIED || !st->remote[0])
                return false; /* never tried, or a whole and verified copy that is kept */
        if (!on_this_remote(o, st->remote)) {
                log_warning("%s/%s is no longer here; a partial copy of it may be left at %s, on a remote that "
                            "offload.remote no longer names: remove it there by hand if it is.",
                            hand, name, st->remote);
                return false;
        }
        if (o->n_cleanup == CLEANUP_MAX) {
                log_warning("Too many partial copies to remove at once; %s stays on the remote until "
                            "handrec-offload next starts.",
                            st->remote);
                return true; /* the state file stays, and names it then */
        }
        c = &o->cleanup[o->n_cleanup++];
        snprintf(c->hand, sizeof(c->hand), "%s", hand);
        snprintf(c->name, sizeof(c->name), "%s", name);
        snprintf(c->remote, sizeof(c->remote), "%s", st->remote);
        return true;
}

/* rclone's words for a file that is not there: "object not found" (S3, SFTP, WebDAV), "is a
 * directory or doesn't exist" (a local folder) */
static bool copy_not_there(const struct rclone_job *job) {
        static const char *const words[] = {"not found", "doesn't exist"};

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strstr(job->error, words[i]) || strstr(job->last_line, words[i]))
                        return true;
        return false;
}

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

bool cleanup_start(struct offload *o) {
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
