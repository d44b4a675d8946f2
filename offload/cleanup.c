/* SPDX-License-Identifier: MIT */
/*
 * cleanup.c — removing what an upload left on the remote of a take that will never be verified:
 * a take discarded during its upload, or after a failed one, may have left a partial copy under
 * its own name (an SFTP or local remote writes in place; some S3 servers keep a cut-off PUT).
 * Whatever reads the remote must never find a broken take there, so such copies are deleted
 * (rclone deletefile), one at a time, before the next upload. Best effort: a copy that is not
 * there is fine, and one that cannot be deleted is said in the log. The list is in memory: a
 * restart in between leaves the copy (docs/architecture.md).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "offload.h"

void cleanup_queue(struct offload *o, const char *remote) {
        if (!remote[0])
                return;
        if (o->n_cleanup == CLEANUP_MAX) {
                log_warning("Too many partial copies to remove at once; %s is left on the remote.", remote);
                return;
        }
        snprintf(o->cleanup[o->n_cleanup++], sizeof(o->cleanup[0]), "%s", remote);
}

static void cleanup_done(struct offload *o, int status) {
        char why[768];

        if (status == 0)
                log_info("Removed %s from the remote: a partial copy of a take that was discarded.", o->cleanup[0]);
        else if (!strstr(o->job.error, "not found") && !strstr(o->job.last_line, "not found")) {
                rclone_describe_failure(&o->job, "rclone deletefile", status, why, sizeof(why));
                log_warning("Cannot remove %s, a partial copy of a discarded take, from the remote: %s", o->cleanup[0],
                            why);
        }
        memmove(o->cleanup[0], o->cleanup[1], (size_t) (o->n_cleanup - 1) * sizeof(o->cleanup[0]));
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
        argv[n++] = o->cleanup[0];
        argv[n] = NULL;
        o->phase = PHASE_CLEANUP;
        if (rclone_run(o, (char *const *) argv, cleanup_done) < 0) {
                o->n_cleanup = 0; /* rclone cannot run: the upload's own failure will say why */
                o->phase = PHASE_IDLE;
                return false;
        }
        return true;
}
