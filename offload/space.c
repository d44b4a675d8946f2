/* SPDX-License-Identifier: MIT */
/*
 * space.c — the space policy: while save.output_dir's file system has less than
 * offload.keep_free_gb free, or the takes there weigh more than offload.max_takes_gb, the oldest
 * take that is uploaded, verified and unchanged since is removed — by handrecd's DiscardTake, so
 * the daemon's own checks apply (a take of its folder, none being recorded). Never another take:
 * when only unverified takes are left, SpaceNote says the backlog is what fills the disk.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "../lib/util.h"
#include "offload.h"

#define GB 1e9

static int free_bytes(const struct offload *o, uint64_t *ret) {
        struct statvfs s;

        if (statvfs(o->config->output_dir, &s) < 0)
                return -errno;
        *ret = (uint64_t) s.f_bavail * s.f_frsize;
        return 0;
}

uint64_t space_free_bytes(const struct offload *o) {
        uint64_t b = 0;
        (void) free_bytes(o, &b);
        return b;
}

static void set_note(struct offload *o, const char *note) {
        snprintf(o->space_note, sizeof(o->space_note), "%s", note);
        if (!note[0])
                o->logged_space_note[0] = '\0'; /* solved: the next shortage is news again */
        else if (log_once_is_news(o->logged_space_note, sizeof(o->logged_space_note), note))
                log_warning("%s", note);
}

/* The oldest take that may go: verified, and its file as it was verified. */
static struct take *removable(struct offload *o) {
        for (unsigned i = 0; i < o->n_takes; i++) {
                struct take *t = &o->takes[i];
                if (!t->manifest && t->st.state == UPLOAD_VERIFIED && !t->discard_refused && t->size == t->st.size &&
                    t->mtime_ns == t->st.mtime_ns && t->ino == t->st.ino &&
                    !(upload_on_take(o) && streq(t->hand, o->cur_hand) && streq(t->name, o->cur_name)))
                        return t;
        }
        return NULL;
}

static int on_discarded(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct offload *o = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        char note[600], path[4096];
        (void) ret_error;

        o->discarding = false;
        take_path(o, o->discard_hand, o->discard_name, path, sizeof(path));
        if (e) {
                struct take *t = take_find(o, o->discard_hand, o->discard_name);
                if (t)
                        t->discard_refused = true; /* the next verified take is tried, not this one again */
                snprintf(
                        note, sizeof(note),
                        "The disk needs space, but handrecd refused to remove the uploaded take %.300s: %.200s (%.80s)",
                        path, e->message ?: "", e->name);
                set_note(o, note);
                return 0;
        }
        /* the daemon has deleted it; its state goes with it */
        take_forget(o, o->discard_hand, o->discard_name);
        o->removed++;
        signal_take_removed(o, path);
        space_check(o);
        return 0;
}

static void discard(struct offload *o, struct take *t) {
        char path[4096], free_s[32];
        int r;

        take_path(o, t->hand, t->name, path, sizeof(path));
        r = sd_bus_call_method_async(o->bus, NULL, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "DiscardTake",
                                     on_discarded, o, "s", path);
        if (r < 0) {
                set_note(o, "The disk needs space, but handrecd cannot be asked to remove an uploaded take.");
                return;
        }
        o->discarding = true;
        snprintf(o->discard_hand, sizeof(o->discard_hand), "%s", t->hand);
        snprintf(o->discard_name, sizeof(o->discard_name), "%s", t->name);
        log_info("Removing %s: uploaded and verified to %s (%s); %s free, offload.keep_free_gb = %g, "
                 "offload.max_takes_gb = %g",
                 path, t->st.remote, t->st.check, format_bytes(free_s, sizeof(free_s), space_free_bytes(o)),
                 o->oc->keep_free_gb, o->oc->max_takes_gb);
}

void space_check(struct offload *o) {
        uint64_t free = 0, behind, all;
        unsigned n;
        bool short_free, too_many;
        struct take *t;
        char note[512], size[32];

        if (!o->oc->enabled || o->discarding || (o->oc->keep_free_gb <= 0 && o->oc->max_takes_gb <= 0))
                return;
        if (free_bytes(o, &free) < 0)
                return; /* not knowing is no reason to remove anything */
        offload_backlog(o, &n, &behind, &all);
        short_free = o->oc->keep_free_gb > 0 && (double) free < o->oc->keep_free_gb * GB;
        too_many = o->oc->max_takes_gb > 0 && (double) all > o->oc->max_takes_gb * GB;
        if (!short_free && !too_many) {
                set_note(o, "");
                return;
        }
        t = removable(o);
        if (t) {
                discard(o, t);
                return;
        }
        snprintf(note, sizeof(note),
                 "%s, but no take here is uploaded and verified: %u takes (%s) wait for their upload; nothing is "
                 "removed until they are verified",
                 short_free ? "The disk has less free than offload.keep_free_gb"
                            : "The takes here weigh more than offload.max_takes_gb",
                 n, format_bytes(size, sizeof(size), behind));
        set_note(o, note);
}
