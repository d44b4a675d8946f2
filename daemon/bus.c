/* SPDX-License-Identifier: MIT */
/*
 * bus.c — the D-Bus face of the daemon (API version 1, docs/dbus-api.md): the connection, and the
 * Manager object with its methods and signals; StartRecording's options read by take-options.c.
 * The Hand objects and their properties are bus-hand.c's. Main thread only.
 *
 * The hands never call up into this layer: they mark what is to be said (HAND_NOTICE_*), and
 * bus_dispatch_notices() says it from a deferred event of higher priority than the connection,
 * so it goes out before the next message is read, in the order the hand changed.
 *
 * Who may call what is the bus policy's job (dbus/org.handrec1.conf): methods are marked
 * SD_BUS_VTABLE_UNPRIVILEGED so that sd-bus does not demand CAP_SYS_ADMIN on top of it.
 */
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "preview-options.h"
#include "process-memory.h"
#include "take-options.h"
#include "takes.h"
#include "../lib/util.h"
#include "../lib/version.h"

/* ---- signals ---------------------------------------------------------------------------- */

static int emit_started(struct hand *h) {
        int r = sd_bus_emit_signal(h->daemon->bus, MANAGER_PATH, MANAGER_INTERFACE, "RecordingStarted", "ss",
                                   h->config->name, h->file);
        if (r < 0)
                log_warning_errno(r, "Failed to emit RecordingStarted, ignoring: %m");
        return r;
}

static int emit_stopped(struct hand *h, enum stop_reason reason) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_signal(h->daemon->bus, &m, MANAGER_PATH, MANAGER_INTERFACE, "RecordingStopped");
        if (r >= 0)
                r = sd_bus_message_append(m, "sss", h->config->name, h->file, pipeline_stop_reason_to_string(reason));
        if (r >= 0)
                r = bus_append_summary(m, h, reason);
        if (r >= 0)
                r = sd_bus_send(h->daemon->bus, m, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to emit RecordingStopped, ignoring: %m");
        return r;
}

/* (s hand, s file, a{sv} summary) of a take recovered at start: the hand is its folder's name. */
static int append_recovered(sd_bus_message *m, const struct recovered_take *t) {
        const char *slash = strrchr(t->path, '/'), *start = slash;
        char hand[64] = "";
        int r;

        while (start && start > t->path && start[-1] != '/')
                start--;
        if (slash && start && slash > start)
                snprintf(hand, sizeof(hand), "%.*s", (int) (slash - start), start);
        r = sd_bus_message_append(m, "ss", hand, t->path);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 3, "frames", "t", t->frames, "frames_cut", "t", t->frames_cut,
                                          "note", "s", t->note);
        return r;
}

void bus_emit_recovered(struct daemon *d) {
        for (unsigned i = 0; i < d->n_recovered; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                int r = sd_bus_message_new_signal(d->bus, &m, MANAGER_PATH, MANAGER_INTERFACE, "TakeRecovered");
                if (r >= 0)
                        r = append_recovered(m, &d->recovered[i]);
                if (r >= 0)
                        r = sd_bus_send(d->bus, m, NULL);
                if (r < 0)
                        log_warning_errno(r, "Failed to emit TakeRecovered, ignoring: %m");
        }
}

/* ---- methods ---------------------------------------------------------------------------- */

static int method_list_recovered(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct daemon *d = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssa{sv})");
        for (unsigned i = 0; r >= 0 && i < d->n_recovered; i++) {
                r = sd_bus_message_open_container(reply, 'r', "ssa{sv}");
                if (r >= 0)
                        r = append_recovered(reply, &d->recovered[i]);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r;
}

struct hand *bus_find_hand(struct daemon *d, const char *name, sd_bus_error *error) {
        struct hand *h = hand_find(d, name);
        char list[64] = "";

        if (h)
                return h;
        for (unsigned i = 0; i < d->n_hands; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                         d->hands[i].config->name);
        /* a name is echoed back only as far as a name could sensibly go (not 100 KB of input) */
        enum { NAME_ECHO_MAX = 64 };
        sd_bus_error_setf(error, ERROR_NO_SUCH_HAND, "There is no hand \"%.*s%s\"; the configured hands are: %s.",
                          (int) utf8_cut(name, NAME_ECHO_MAX), name, strlen(name) > NAME_ECHO_MAX ? "…" : "", list);
        return NULL;
}

/* The hand named by the call's first argument, or a NoSuchHand error. Return: 0 or negative. */
static int read_hand(sd_bus_message *m, struct daemon *d, sd_bus_error *error, struct hand **ret) {
        const char *name;
        int r = sd_bus_message_read(m, "s", &name);

        if (r < 0)
                return r;
        *ret = bus_find_hand(d, name, error);
        return *ret ? 0 : -ENOENT;
}

/* StartRecording's options (read after the hand's name), the take started, and the reply. */
static int start_now(sd_bus_message *m, struct hand *h, sd_bus_error *error) {
        struct take_options o = {.jpeg_quality = h->daemon->config->jpeg_quality, .rectify = -1};
        int r;

        r = take_options_read(m, h->config, &o, error);
        if (r < 0)
                return r;
        r = hand_start(h, &o, error);
        if (r < 0)
                return r;
        episode_joined(h->daemon, h);    /* with an "episode" option: it joins that episode */
        bus_dispatch_notices(h->daemon); /* PropertiesChanged and RecordingStarted before the reply */
        return sd_bus_reply_method_return(m, "s", h->file);
}

int bus_hold_start(struct daemon *d, struct hand *h, sd_bus_message *m, sd_bus_message_handler_t method,
                   sd_bus_error *error) {
        struct held_start held = {.m = m, .method = method};
        uint64_t now;

        if (!hand_camera_opening(h))
                return 0;
        sd_event_now(d->event, CLOCK_MONOTONIC, &now);
        held.deadline = d->held_deadline ? d->held_deadline : now + HELD_START_SECONDS * USEC_PER_SEC;
        if (now >= held.deadline)
                return 0; /* waited long enough: refused, saying the camera is still being opened */
        return hand_hold_start(h, &held, error);
}

static int method_start(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct hand *h;
        int r;

        r = read_hand(m, userdata, error, &h);
        if (r < 0)
                return r;
        r = bus_hold_start(userdata, h, m, method_start, error);
        return r != 0 ? r : start_now(m, h, error);
}

/* A start call that waited for a camera (bus_hold_start()): read again from its start, as it came,
 * with its deadline; it starts now, waits on, or is refused saying why. The caller keeps @held->m. */
static void start_held(struct daemon *d, const struct held_start *held) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *member = sd_bus_message_get_member(held->m);
        int r = sd_bus_message_rewind(held->m, true);

        d->held_deadline = held->deadline;
        if (r >= 0)
                r = held->method(held->m, d, &error);
        d->held_deadline = 0;
        if (r < 0 && sd_bus_reply_method_errno(held->m, r, &error) < 0)
                log_warning("Cannot answer a %s call that waited for a camera", member ? member : "start");
        sd_bus_error_free(&error);
}

static int method_stop(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct hand *h;
        int r;

        r = read_hand(m, userdata, error, &h);
        if (r < 0)
                return r;
        return hand_stop(h, m, STOP_REQUESTED, error); /* answered when the file is complete */
}

static int method_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct hand *h;
        int r;

        r = read_hand(m, userdata, error, &h);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = bus_append_hand_status(reply, h);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r;
}

static int method_open_preview(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(closep) int fd = -1;
        struct preview_options o;
        struct hand *h;
        int r;

        r = read_hand(m, userdata, error, &h);
        if (r < 0)
                return r;
        r = preview_options_read(m, h->config, &o, error);
        if (r < 0)
                return r;
        r = hand_open_preview(h, &o, &fd, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "h", fd); /* sd-bus sends a duplicate; ours closes here */
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct daemon *d = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "s");
        for (unsigned i = 0; r >= 0 && i < d->n_hands; i++)
                r = sd_bus_message_append(reply, "s", d->hands[i].config->name);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r;
}

static int method_list_takes(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct daemon *d = userdata;
        struct takes_list_options o;
        int r;

        r = takes_read_options(m, &o, error);
        if (r < 0)
                return r;
        if (o.hand && !bus_find_hand(d, o.hand, error))
                return -ENOENT;
        return takes_list_start(d, m, &o, error); /* answered from the event loop */
}

static int method_discard_take(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct daemon *d = userdata;
        const char *file;
        int r;

        r = sd_bus_message_read(m, "s", &file);
        if (r < 0)
                return r;
        r = takes_discard(d, file, error);
        if (r < 0)
                return r;
        r = sd_bus_emit_signal(d->bus, MANAGER_PATH, MANAGER_INTERFACE, "TakeDiscarded", "s", file);
        if (r < 0)
                log_warning_errno(r, "Failed to emit TakeDiscarded, ignoring: %m");
        return sd_bus_reply_method_return(m, "");
}

static int get_manager_resident_memory(sd_bus *bus _unused_, const char *path _unused_, const char *interface _unused_,
                                       const char *property _unused_, sd_bus_message *reply, void *userdata _unused_,
                                       sd_bus_error *error _unused_) {
        return sd_bus_message_append(reply, "t", process_resident_memory());
}

static int get_version(sd_bus *bus _unused_, const char *path _unused_, const char *interface _unused_,
                       const char *property _unused_, sd_bus_message *reply, void *userdata _unused_,
                       sd_bus_error *error _unused_) {
        return sd_bus_message_append(reply, "s", HANDREC_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ResidentMemory", "t", get_manager_resident_memory, 0, 0),
        SD_BUS_METHOD_WITH_NAMES("StartRecording", "sa{sv}", SD_BUS_PARAM(hand) SD_BUS_PARAM(options), "s",
                                 SD_BUS_PARAM(file), method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("StopRecording", "s", SD_BUS_PARAM(hand), "sa{sv}",
                                 SD_BUS_PARAM(file) SD_BUS_PARAM(summary), method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Status", "s", SD_BUS_PARAM(hand), "a{sv}", SD_BUS_PARAM(status), method_status,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("OpenPreview", "sa{sv}", SD_BUS_PARAM(hand) SD_BUS_PARAM(options), "h",
                                 SD_BUS_PARAM(preview), method_open_preview, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ListHands", "", , "as", SD_BUS_PARAM(hands), method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ListRecovered", "", , "a(ssa{sv})", SD_BUS_PARAM(takes), method_list_recovered,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ListTakes", "a{sv}", SD_BUS_PARAM(options), "a(sa{sv})", SD_BUS_PARAM(takes),
                                 method_list_takes, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("DiscardTake", "s", SD_BUS_PARAM(file), "", , method_discard_take,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("StartEpisode", "asa{sv}", SD_BUS_PARAM(hands) SD_BUS_PARAM(options), "sa(ss)",
                                 SD_BUS_PARAM(episode) SD_BUS_PARAM(takes), bus_method_start_episode,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("DecideEpisode", "sa{sv}", SD_BUS_PARAM(episode) SD_BUS_PARAM(decision), "a{sv}",
                                 SD_BUS_PARAM(summary), bus_method_decide_episode, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ListEpisodes", "a{sv}", SD_BUS_PARAM(options), "a(sa{sv})", SD_BUS_PARAM(episodes),
                                 bus_method_list_episodes, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("EpisodeEnded", "sss",
                                 SD_BUS_PARAM(episode) SD_BUS_PARAM(outcome) SD_BUS_PARAM(reason), 0),
        SD_BUS_SIGNAL_WITH_NAMES("EpisodeDecided", "ss", SD_BUS_PARAM(episode) SD_BUS_PARAM(decision), 0),
        SD_BUS_SIGNAL_WITH_NAMES("TakeDiscarded", "s", SD_BUS_PARAM(file), 0),
        SD_BUS_SIGNAL_WITH_NAMES("RecordingStarted", "ss", SD_BUS_PARAM(hand) SD_BUS_PARAM(file), 0),
        SD_BUS_SIGNAL_WITH_NAMES("RecordingStopped", "sssa{sv}",
                                 SD_BUS_PARAM(hand) SD_BUS_PARAM(file) SD_BUS_PARAM(reason) SD_BUS_PARAM(summary), 0),
        SD_BUS_SIGNAL_WITH_NAMES("TakeRecovered", "ssa{sv}",
                                 SD_BUS_PARAM(hand) SD_BUS_PARAM(file) SD_BUS_PARAM(summary), 0),
        SD_BUS_VTABLE_END,
};

/* ---- what the hands marked (HAND_NOTICE_*) ------------------------------------------------ */

/* StopRecording calls waiting for @h's take: answered with its file and summary. */
static void answer_stop_waiters(struct hand *h) {
        for (unsigned i = 0; i < h->n_waiters; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                int r = sd_bus_message_new_method_return(h->waiters[i], &reply);
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", h->file);
                if (r >= 0)
                        r = bus_append_summary(reply, h, h->ended_reason);
                if (r >= 0)
                        r = sd_bus_send(NULL, reply, NULL);
                if (r < 0)
                        log_warning_errno(r, "Failed to answer StopRecording, ignoring: %m");
                h->waiters[i] = sd_bus_message_unref(h->waiters[i]);
        }
        h->n_waiters = 0;
}

/* The start calls @h held for its camera, each run again (start_held()). */
static void answer_held_starts(struct hand *h) {
        struct held_start held[MAX_STOP_WAITERS];
        unsigned n = h->n_held_starts;

        memcpy(held, h->held_starts, n * sizeof(held[0]));
        h->n_held_starts = 0;
        for (unsigned i = 0; i < n; i++) {
                start_held(h->daemon, &held[i]);
                sd_bus_message_unref(held[i].m);
        }
}

/* EpisodeEnded for each episode that ended and was not yet announced (after its takes' RecordingStopped). */
static void emit_episodes_ended(struct daemon *d) {
        for (unsigned i = 0; i < EPISODES_KEPT; i++) {
                struct episode *e = &d->episodes[i];
                int r;

                if (!e->id[0] || !e->announce)
                        continue;
                e->announce = false;
                r = sd_bus_emit_signal(d->bus, MANAGER_PATH, MANAGER_INTERFACE, "EpisodeEnded", "sss", e->id,
                                       e->outcome, e->reason);
                if (r < 0)
                        log_warning_errno(r, "Failed to emit EpisodeEnded, ignoring: %m");
        }
}

static void dispatch_hand(struct hand *h) {
        unsigned n = h->notices;

        h->notices = 0;
        if (!h->daemon->bus)
                return;
        /* the episode layer first: a take ending ends its partners; the last one ends the episode */
        if (n & HAND_NOTICE_ENDING)
                episode_take_ending(h->daemon, h);
        if (n & HAND_NOTICE_ENDED)
                episode_take_ended(h->daemon, h);
        if (n & HAND_NOTICE_ENDED)
                answer_stop_waiters(h);
        if (n & HAND_NOTICE_CHANGED) {
                bus_emit_hand_states_passed(h);
                bus_emit_hand_changed(h, true);
        }
        if (n & HAND_NOTICE_ENDED)
                emit_stopped(h, h->ended_reason);
        if (n & HAND_NOTICE_STARTED)
                emit_started(h);
        if (n & HAND_NOTICE_HELD)
                answer_held_starts(h); /* may start takes: new notices, said in the next round */
}

void bus_dispatch_notices(struct daemon *d) {
        /* a round's answers may mark more (a held start starts a take): a few rounds at most */
        for (unsigned round = 0; round < 4; round++) {
                bool any = false;
                for (unsigned i = 0; i < d->n_hands; i++)
                        if (d->hands[i].notices) {
                                any = true;
                                dispatch_hand(&d->hands[i]);
                        }
                if (d->bus)
                        emit_episodes_ended(d); /* after the takes' RecordingStopped */
                if (!any)
                        return;
        }
}

static int on_notices(sd_event_source *s _unused_, void *userdata) {
        bus_dispatch_notices(userdata);
        return 0;
}

/* The bus went away (dbus-daemon restarted or killed): nobody can control us any more. Finish
 * every take and exit with a failure, so that systemd (Restart=on-failure) starts us again. */
static int on_disconnected(sd_bus_message *m _unused_, void *userdata, sd_bus_error *error _unused_) {
        struct daemon *d = userdata;

        log_error("Lost the connection to the bus; finishing every take and exiting, so that handrecd is "
                  "restarted and can be controlled again.");
        d->exit_code = 1;
        hand_shutdown_all(d);
        return 0;
}

int bus_setup(struct daemon *d, bool user_bus) {
        int r;

        r = user_bus ? sd_bus_open_user(&d->bus) : sd_bus_open_system(&d->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus: %m%s", user_bus ? "session" : "system",
                                       user_bus ? " (is DBUS_SESSION_BUS_ADDRESS set?)" : "");
        sd_bus_set_description(d->bus, "handrecd");

        r = sd_bus_add_object_vtable(d->bus, NULL, MANAGER_PATH, MANAGER_INTERFACE, manager_vtable, d);
        if (r < 0)
                return log_error_errno(r, "Failed to add the manager object: %m");
        for (unsigned i = 0; i < d->n_hands; i++) {
                r = bus_add_hand(&d->hands[i]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_match_signal(d->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, d);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for the bus going away: %m");
        r = sd_bus_attach_event(d->bus, d->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        /* the hands' notices: before the next message is read, and once more when the loop exits
         * (the last takes' RecordingStopped and StopRecording answers of a shutdown) */
        r = sd_event_add_defer(d->event, &d->notices, on_notices, d);
        if (r >= 0)
                r = sd_event_source_set_priority(d->notices, SD_EVENT_PRIORITY_IMPORTANT);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->notices, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_exit(d->event, NULL, on_notices, d);
        if (r < 0)
                return log_error_errno(r, "Failed to add the bus's notice events: %m");
        bus_dispatch_notices(d); /* what the hands marked before the bus was there */
        r = sd_bus_request_name(d->bus, BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r,
                                       "Another process already owns %s on this bus; is handrecd already "
                                       "running? (systemctl status handrecd)",
                                       BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to own %s: %m%s", BUS_NAME,
                                       r == -EACCES ? " (the bus policy dbus/" BUS_NAME ".conf must be installed and "
                                                      "allow this user to own the name)"
                                                    : "");
        return 0;
}
