/* SPDX-License-Identifier: MIT */
/*
 * cleanup.c — the queue of what an upload left on the remote of a take that will never be verified:
 * a take discarded during its upload, or after a failed one, may have left a partial copy under
 * its own name (an SFTP or local remote writes in place; some S3 servers keep a cut-off PUT).
 * Whatever reads the remote must never find a broken take there, so such copies are deleted
 * (rclone deletefile, run by upload.c), one at a time, before the next upload. A copy that is not
 * there is fine.
 * The take's state file (which names the copy) is removed only once the copy is gone: a restart
 * in between, or a deletion that fails, leaves it, and the next start queues the deletion again
 * (scan_orphans).
 */
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
