/* SPDX-License-Identifier: MIT */
/*
 * status.c — what handrec-offload is doing, in a word (Status's State, the status line) and in
 * the STATUS= it gives systemd: from the uploader's phase and the backlog of the takes' list.
 */
#include <systemd/sd-daemon.h>

#include "offload.h"

const char *offload_state_name(const struct offload *o) {
        if (!o->oc->enabled)
                return "off";
        switch (o->phase) {
        case PHASE_COPY: return "uploading";
        case PHASE_LIST:
        case PHASE_HASH:
        case PHASE_CHECK: return "verifying";
        case PHASE_WAIT: return "waiting";
        case PHASE_CLEANUP: return "cleaning";
        case PHASE_IDLE: break;
        }
        return "idle";
}

void offload_notify_status(struct offload *o) {
        unsigned n;
        uint64_t behind;
        char size[32];

        offload_backlog(o, &n, &behind, NULL);
        sd_notifyf(false, "STATUS=%s: %u takes, %s behind%s%s%s%s", offload_state_name(o), n,
                   format_bytes(size, sizeof(size), behind), o->cur_name[0] ? "; " : "", o->cur_name,
                   o->last_error[0] ? "; failed: " : "", o->last_error);
}
