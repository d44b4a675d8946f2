/* SPDX-License-Identifier: MIT */
/*
 * bus.c — org.handrec1.Offload on the bus (Status, ListUploads, Retry, and the signals
 * UploadStateChanged and TakeRemoved), and what handrec-offload hears from handrecd:
 * RecordingStopped and TakeRecovered (a take to upload), TakeDiscarded (one not to).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../lib/util.h"
#include "offload.h"

#define APPEND(m, key, type, value) sd_bus_message_append((m), "{sv}", (key), (type), (value))

static int append_status(struct offload *o, sd_bus_message *m) {
        unsigned n;
        uint64_t behind, all, now = (uint64_t) now_ns(CLOCK_MONOTONIC) / 1000;
        bool copying = o->phase == PHASE_COPY;
        int r;

        offload_backlog(o, &n, &behind, &all);
        if (copying && o->job.bytes <= behind)
                behind -= o->job.bytes;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = APPEND(m, "State", "s", offload_state_name(o));
        if (r >= 0)
                r = APPEND(m, "Remote", "s", o->oc->enabled ? o->oc->remote : "");
        if (r >= 0)
                r = APPEND(m, "TakesBehind", "u", n);
        if (r >= 0)
                r = APPEND(m, "BytesBehind", "t", behind);
        if (r >= 0)
                r = APPEND(m, "Rate", "d", copying ? o->job.speed : 0.0);
        if (r >= 0) {
                char path[4096] = "";
                if (upload_on_take(o))
                        take_path(o, o->cur_hand, o->cur_name, path, sizeof(path));
                r = APPEND(m, "Current", "s", path);
        }
        if (r >= 0)
                r = APPEND(m, "CurrentDone", "t", copying ? o->job.bytes : (uint64_t) 0);
        if (r >= 0)
                r = APPEND(m, "CurrentSize", "t", upload_on_take(o) ? o->before_size : 0);
        if (r >= 0)
                r = APPEND(m, "LastError", "s", o->last_error[0] ? o->last_error : o->scan_error);
        if (r >= 0)
                r = APPEND(m, "NextRetry", "d", o->retry_at_usec > now ? (double) (o->retry_at_usec - now) / 1e6 : 0.0);
        if (r >= 0)
                r = APPEND(m, "Uploaded", "u", o->uploaded);
        if (r >= 0)
                r = APPEND(m, "Removed", "u", o->removed);
        if (r >= 0)
                r = APPEND(m, "FreeBytes", "t", space_free_bytes(o));
        if (r >= 0)
                r = APPEND(m, "KeepFreeBytes", "t", (uint64_t) (o->oc->keep_free_gb * 1e9));
        if (r >= 0)
                r = APPEND(m, "MaxTakesBytes", "t", (uint64_t) (o->oc->max_takes_gb * 1e9));
        if (r >= 0)
                r = APPEND(m, "SpaceNote", "s", o->space_note);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* Reply to @m with what @append writes; from the last scan: a caller never makes the service read
 * every take. */
static int reply(sd_bus_message *m, struct offload *o, int (*append)(struct offload *o, sd_bus_message *reply)) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *r = NULL;
        int e = sd_bus_message_new_method_return(m, &r);

        if (e >= 0)
                e = append(o, r);
        return e < 0 ? e : sd_bus_send(NULL, r, NULL);
}

static int method_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) error;
        return reply(m, userdata, append_status);
}

static int append_take(struct offload *o, sd_bus_message *m, const struct take *t) {
        char path[4096];
        int r;

        take_path(o, t->hand, t->name, path, sizeof(path));
        r = sd_bus_message_open_container(m, 'r', "sa{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", path);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = APPEND(m, "state", "s", upload_state_to_string(t->st.state));
        if (r >= 0)
                r = APPEND(m, "error", "s", t->st.error);
        if (r >= 0)
                r = APPEND(m, "remote", "s", t->st.remote);
        if (r >= 0)
                r = APPEND(m, "size", "t", t->size);
        if (r >= 0)
                r = APPEND(m, "check", "s", t->st.check);
        if (r >= 0)
                r = APPEND(m, "attempts", "u", t->st.attempts);
        if (r >= 0)
                r = APPEND(m, "updated_utc", "s", t->st.updated_utc);
        if (r >= 0)
                r = APPEND(m, "take_status", "s", t->status);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int append_takes(struct offload *o, sd_bus_message *m) {
        int r = sd_bus_message_open_container(m, 'a', "(sa{sv})");

        for (unsigned i = 0; r >= 0 && i < o->n_takes; i++)
                r = append_take(o, m, &o->takes[i]);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) error;
        return reply(m, userdata, append_takes);
}

static int method_retry(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct offload *o = userdata;
        (void) error;

        upload_retry_now(o);
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("Status", "", , "a{sv}", SD_BUS_PARAM(status), method_status,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ListUploads", "", , "a(sa{sv})", SD_BUS_PARAM(uploads), method_list,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Retry", "", "", method_retry, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("UploadStateChanged", "sss",
                                 SD_BUS_PARAM(file) SD_BUS_PARAM(state) SD_BUS_PARAM(error), 0),
        SD_BUS_SIGNAL_WITH_NAMES("TakeRemoved", "s", SD_BUS_PARAM(file), 0),
        SD_BUS_VTABLE_END,
};

/* RecordingStopped(s hand, s file, s reason, a{sv}) and TakeRecovered(s hand, s file, a{sv}). */
static int on_take_done(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct offload *o = userdata;
        (void) m, (void) error;

        scan_takes(o); /* upload_kick() scans only when it is idle; the space policy needs it now */
        upload_kick(o);
        space_check(o);
        return 0;
}

static int on_discarded(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct offload *o = userdata;
        char hand[16], name[256];
        const char *file;
        (void) error;

        if (sd_bus_message_read(m, "s", &file) < 0 || !take_find_path(o, file, hand, name))
                return 0;
        if (upload_on_take(o) && streq(hand, o->cur_hand) && streq(name, o->cur_name))
                upload_cancel(o, hand, name);
        else
                take_forget(o, hand, name);
        return 0;
}

/* The bus went away (dbus-daemon restarted): nobody can see or reach us. Stop and exit with a
 * failure, so that systemd (Restart=on-failure) starts us again. */
static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct offload *o = userdata;
        (void) m, (void) error;

        log_error("Lost the connection to the bus; exiting, so that handrec-offload is restarted.");
        o->exit_code = 1;
        upload_stop(o);
        return 0;
}

static int match(struct offload *o, const char *member, sd_bus_message_handler_t cb) {
        return sd_bus_match_signal(o->bus, NULL, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, member, cb, o);
}

int bus_setup(struct offload *o) {
        int r = o->user ? sd_bus_open_user(&o->bus) : sd_bus_open_system(&o->bus);

        if (r < 0)
                return log_error_errno(r, "Cannot connect to the %s bus: %m", o->user ? "session" : "system");
        r = sd_bus_add_object_vtable(o->bus, NULL, OFFLOAD_PATH, OFFLOAD_INTERFACE, vtable, o);
        if (r >= 0)
                r = match(o, "RecordingStopped", on_take_done);
        if (r >= 0)
                r = match(o, "TakeRecovered", on_take_done);
        if (r >= 0)
                r = match(o, "RecordingStarted", on_take_done); /* listed (pending) from its start */
        if (r >= 0)
                r = match(o, "TakeDiscarded", on_discarded);
        if (r >= 0) /* a manifest to upload: the episode's end, and each decision */
                r = match(o, "EpisodeEnded", on_take_done);
        if (r >= 0)
                r = match(o, "EpisodeDecided", on_take_done);
        if (r >= 0)
                r = sd_bus_match_signal(o->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                        "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, o);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the bus: %m");
        r = sd_bus_request_name(o->bus, OFFLOAD_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Cannot own %s on the %s bus: %m (another handrec-offload runs, or the bus policy "
                        "dbus/org.handrec1.Offload.conf is not installed)",
                        OFFLOAD_BUS_NAME, o->user ? "session" : "system");
        return sd_bus_attach_event(o->bus, o->event, 0);
}
