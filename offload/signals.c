/* SPDX-License-Identifier: MIT */
/*
 * signals.c — the signals handrec-offload sends on its own (bus.c serves the methods and declares
 * them): a take's upload state changed, a take was removed for space. Below the uploader and the
 * space policy, which call these; above the list of takes, whose paths they name.
 */
#include "offload.h"

void signal_take_state(struct offload *o, const struct take *t) {
        char path[4096];

        take_path(o, t->hand, t->name, path, sizeof(path));
        (void) sd_bus_emit_signal(o->bus, OFFLOAD_PATH, OFFLOAD_INTERFACE, "UploadStateChanged", "sss", path,
                                  upload_state_to_string(t->st.state), t->st.error);
}

void signal_take_removed(struct offload *o, const char *path) {
        (void) sd_bus_emit_signal(o->bus, OFFLOAD_PATH, OFFLOAD_INTERFACE, "TakeRemoved", "s", path);
}
