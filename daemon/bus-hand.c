/* SPDX-License-Identifier: MIT */
/*
 * bus-hand.c — the Hand objects of the D-Bus API (docs/dbus-api.md, org.handrec1.Hand): their
 * read-only properties, the same values as Status' a{sv} and a take's summary, and the
 * PropertiesChanged signals. Main thread only; bus.c holds the Manager.
 *
 * One table, many uses: HAND_PROPERTIES lists each Hand property once (name, signature, getter,
 * when it changes); the Hand vtable, the Status reply and the PropertiesChanged lists are all
 * made from it, so a new property is a getter and one line in the table.
 */
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "process-memory.h"
#include "../lib/util.h"

/* ---- a{sv} helpers ---------------------------------------------------------------------- */

/* Open the dictionary entry @key of an a{sv} and the variant of @signature in it. */
static int open_entry(sd_bus_message *m, const char *key, const char *signature) {
        int r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        return r < 0 ? r : sd_bus_message_open_container(m, 'v', signature);
}

/* Close what open_entry() opened. */
static int close_entry(sd_bus_message *m) {
        int r = sd_bus_message_close_container(m);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int append_dropped(sd_bus_message *m, const struct pipeline_stats *s) {
        int r = sd_bus_message_open_container(m, 'a', "{st}");
        for (unsigned c = 0; r >= 0 && c < _DROP_MAX; c++)
                r = sd_bus_message_append(m, "{st}", pipeline_drop_cause_to_string(c), s->dropped[c]);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* ---- the Hand properties ---------------------------------------------------------------- */

/* A getter appends the value of one property of @h (no variant around it); @s is a snapshot of
 * @h's counters, the same for every property of one Status reply. */
typedef int (*property_getter)(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s);

static int get_name(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s _unused_) {
        return sd_bus_message_append(m, "s", h->config->name);
}

static int get_state(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s _unused_) {
        return sd_bus_message_append(m, "s", hand_state_to_string(h->state));
}

static int get_file(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s _unused_) {
        return sd_bus_message_append(m, "s", h->file);
}

static int get_frames_captured(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "t", s->captured);
}

static int get_frames_written(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "t", s->written);
}

static int get_frames_dropped(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "t", s->dropped_total);
}

static int get_dropped_by_cause(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return append_dropped(m, s);
}

static int get_queue_depth(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "u", s->queue_depth);
}

static int get_queue_capacity(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "u", s->queue_capacity);
}

static int get_fps(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "d", s->fps);
}

static int get_duration(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "d", s->duration);
}

static int get_bytes_written(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "t", s->bytes);
}

static int get_last_error(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s _unused_) {
        char derr[PIPELINE_ERROR_MAX];

        /* while the camera is missing, why it is: also when it never appeared at all */
        if (h->state == HAND_NO_DEVICE && !pipeline_device(h->pipeline, derr, sizeof(derr)))
                return sd_bus_message_append(m, "s", derr);
        return sd_bus_message_append(m, "s", h->last_error);
}

static int get_pair_skew_mean(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "d", s->skew_mean);
}

static int get_pair_skew_max(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "d", s->skew_max);
}

static int get_previews(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s _unused_) {
        return sd_bus_message_append(m, "u", preview_count(h->preview));
}

static int get_camera_fps(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "d", s->camera_fps);
}

static int get_episode(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s _unused_) {
        return sd_bus_message_append(m, "s", h->episode);
}

static int get_task(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s _unused_) {
        return sd_bus_message_append(m, "s", h->task);
}

/* the daemon's, not the hand's: in each hand's Status so that one call gives the status line */
static int get_resident_memory(sd_bus_message *m, const struct hand *h _unused_,
                               const struct pipeline_stats *s _unused_) {
        return sd_bus_message_append(m, "t", process_resident_memory());
}

/* The quality of the take so far (or of the last one), as the operator reads it: "" when all is
 * well, else what was found and where ("14 frozen frames at 3.1–3.6 s"). */
static int get_warnings(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s _unused_) {
        struct qc_take qc;
        char verdict[1024];

        pipeline_qc(h->pipeline, &qc);
        return sd_bus_message_append(m, "s", qc_verdict(&qc, verdict, sizeof(verdict)) ? verdict : "");
}

/* Frames the camera never gave: gaps in its sequence numbers, eyes without a partner. Not in
 * FramesDropped (captured = written + dropped), but shown beside it: a take that "dropped 0"
 * while its camera skipped frames is not a clean take. */
static int get_frames_missing(sd_bus_message *m, const struct hand *h _unused_, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "t", s->missing);
}

static int get_disk_free(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s _unused_) {
        uint64_t free_bytes = hand_disk_free(h);
        return sd_bus_message_append(m, "t", free_bytes == UINT64_MAX ? 0 : free_bytes);
}

static int get_disk_time_left(sd_bus_message *m, const struct hand *h, const struct pipeline_stats *s) {
        return sd_bus_message_append(m, "d", hand_disk_time_left(h, s, hand_disk_free(h)));
}

/* When a property changes, and so which PropertiesChanged signals carry it. */
enum property_changes {
        CHANGES_NEVER,           /* constant: in no PropertiesChanged */
        CHANGES_WITH_STATE,      /* published on every state change */
        CHANGES_WHILE_RECORDING, /* published on every state change and 4 times a second in a take */
};

/*
 * Every Hand property, in the order of dbus/org.handrec1.xml: name, D-Bus signature, getter,
 * when it changes. The signature must be what the getter appends (sd-bus refuses anything else).
 */
#define HAND_PROPERTIES(X)                                                                                             \
        X("Name", "s", get_name, CHANGES_NEVER)                                                                        \
        X("State", "s", get_state, CHANGES_WITH_STATE)                                                                 \
        X("File", "s", get_file, CHANGES_WITH_STATE)                                                                   \
        X("FramesCaptured", "t", get_frames_captured, CHANGES_WHILE_RECORDING)                                         \
        X("FramesWritten", "t", get_frames_written, CHANGES_WHILE_RECORDING)                                           \
        X("FramesDropped", "t", get_frames_dropped, CHANGES_WHILE_RECORDING)                                           \
        X("DroppedByCause", "a{st}", get_dropped_by_cause, CHANGES_WHILE_RECORDING)                                    \
        X("QueueDepth", "u", get_queue_depth, CHANGES_WHILE_RECORDING)                                                 \
        X("QueueCapacity", "u", get_queue_capacity, CHANGES_NEVER)                                                     \
        X("Fps", "d", get_fps, CHANGES_WHILE_RECORDING)                                                                \
        X("Duration", "d", get_duration, CHANGES_WHILE_RECORDING)                                                      \
        X("BytesWritten", "t", get_bytes_written, CHANGES_WHILE_RECORDING)                                             \
        X("LastError", "s", get_last_error, CHANGES_WITH_STATE)                                                        \
        X("PairSkewMean", "d", get_pair_skew_mean, CHANGES_WHILE_RECORDING)                                            \
        X("PairSkewMax", "d", get_pair_skew_max, CHANGES_WHILE_RECORDING)                                              \
        X("CameraFps", "d", get_camera_fps, CHANGES_WITH_STATE)                                                        \
        X("Previews", "u", get_previews, CHANGES_WITH_STATE)                                                           \
        X("Episode", "s", get_episode, CHANGES_WITH_STATE)                                                             \
        X("Task", "s", get_task, CHANGES_WITH_STATE)                                                                   \
        X("ResidentMemory", "t", get_resident_memory, CHANGES_WHILE_RECORDING)                                         \
        X("Warnings", "s", get_warnings, CHANGES_WHILE_RECORDING)                                                      \
        X("FramesMissing", "t", get_frames_missing, CHANGES_WHILE_RECORDING)                                           \
        X("DiskFree", "t", get_disk_free, CHANGES_WHILE_RECORDING)                                                     \
        X("DiskTimeLeft", "d", get_disk_time_left, CHANGES_WHILE_RECORDING)

static const struct hand_property {
        const char *name;
        const char *signature;
        property_getter get;
        enum property_changes changes;
} hand_properties[] = {
#define PROPERTY_ENTRY(name, signature, get, changes) {name, signature, get, changes},
        HAND_PROPERTIES(PROPERTY_ENTRY)
#undef PROPERTY_ENTRY
};

/* The sd-bus getter of every Hand property: the table's getter on a fresh snapshot. */
static int property_get(sd_bus *bus _unused_, const char *path _unused_, const char *interface _unused_,
                        const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error _unused_) {
        struct hand *h = userdata;
        struct pipeline_stats s;

        for (size_t i = 0; i < ELEMENTSOF(hand_properties); i++)
                if (streq(hand_properties[i].name, property)) {
                        pipeline_stats(h->pipeline, &s);
                        return hand_properties[i].get(reply, h, &s);
                }
        return -ENOENT;
}

#define PROPERTY_FLAGS(changes)                                                                                        \
        ((changes) == CHANGES_NEVER ? SD_BUS_VTABLE_PROPERTY_CONST : SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

/* clang-format off */
static const sd_bus_vtable hand_vtable[] = {
        SD_BUS_VTABLE_START(0),
#define VTABLE_ENTRY(name, sig, get, changes) SD_BUS_PROPERTY(name, sig, property_get, 0, PROPERTY_FLAGS(changes)),
        HAND_PROPERTIES(VTABLE_ENTRY)
#undef VTABLE_ENTRY
        SD_BUS_VTABLE_END,
};
/* clang-format on */

/* Status: every property by name, from one snapshot of the counters. */
int bus_append_hand_status(sd_bus_message *m, struct hand *h) {
        struct pipeline_stats s;
        int r;

        pipeline_stats(h->pipeline, &s);
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(hand_properties); i++) {
                r = open_entry(m, hand_properties[i].name, hand_properties[i].signature);
                if (r >= 0)
                        r = hand_properties[i].get(m, h, &s);
                if (r >= 0)
                        r = close_entry(m);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

int bus_append_summary(sd_bus_message *m, struct hand *h, enum stop_reason reason) {
        struct pipeline_stats s;
        int r;

        pipeline_stats(h->pipeline, &s);
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "file", "s", h->file, "reason",
                                          "s", pipeline_stop_reason_to_string(reason), "frames_captured", "t",
                                          s.captured, "frames_written", "t", s.written, "frames_dropped", "t",
                                          s.dropped_total, "duration", "d", s.duration, "fps", "d", s.fps, "bytes", "t",
                                          s.bytes, "last_error", "s", h->last_error);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}", "pair_skew_mean", "d", s.skew_mean, "pair_skew_max", "d",
                                          s.skew_max);
        if (r >= 0) {
                struct qc_take qc;
                char verdict[1024];
                pipeline_qc(h->pipeline, &qc);
                qc_verdict(&qc, verdict, sizeof(verdict));
                r = sd_bus_message_append(m, "{sv}", "qc_verdict", "s", verdict);
        }
        if (r >= 0)
                r = open_entry(m, "dropped_by_cause", "a{st}");
        if (r >= 0)
                r = append_dropped(m, &s);
        if (r >= 0)
                r = close_entry(m);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* ---- PropertiesChanged, and the objects ---------------------------------------------- */

void bus_emit_hand_changed(struct hand *h, bool all) {
        const char *names[ELEMENTSOF(hand_properties) + 1];
        struct daemon *d = h->daemon;
        struct pipeline_stats s;
        size_t n = 0;
        int r;

        if (!d->bus)
                return;
        pipeline_stats(h->pipeline, &s);
        if (!all && memcmp(&s, &h->emitted, sizeof(s)) == 0)
                return;
        h->emitted = s;
        for (size_t i = 0; i < ELEMENTSOF(hand_properties); i++)
                if (hand_properties[i].changes == CHANGES_WHILE_RECORDING ||
                    (all && hand_properties[i].changes == CHANGES_WITH_STATE))
                        names[n++] = hand_properties[i].name;
        names[n] = NULL;
        /* (sd-bus takes char **, and only reads it) */
        r = sd_bus_emit_properties_changed_strv(d->bus, h->path, HAND_INTERFACE, (char **) names);
        if (r < 0)
                log_warning_errno(r, "Failed to emit PropertiesChanged for %s, ignoring: %m", h->path);
}

/* A PropertiesChanged as a state change sends (every property that can change), but for State
 * the state @state @h passed through. */
static int emit_state_passed(struct hand *h, const struct pipeline_stats *s, enum hand_state state) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = sd_bus_message_new_signal(h->daemon->bus, &m, h->path, "org.freedesktop.DBus.Properties",
                                          "PropertiesChanged");

        if (r >= 0)
                r = sd_bus_message_append(m, "s", HAND_INTERFACE);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(hand_properties); i++) {
                const struct hand_property *p = &hand_properties[i];
                if (p->changes == CHANGES_NEVER)
                        continue;
                r = open_entry(m, p->name, p->signature);
                if (r >= 0)
                        r = streq(p->name, "State") ? sd_bus_message_append(m, "s", hand_state_to_string(state))
                                                    : p->get(m, h, s);
                if (r >= 0)
                        r = close_entry(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "as", 0);
        return r < 0 ? r : sd_bus_send(NULL, m, NULL);
}

void bus_emit_hand_states_passed(struct hand *h) {
        struct pipeline_stats s;

        pipeline_stats(h->pipeline, &s);
        for (unsigned i = 0; i + 1 < h->n_passed; i++) {
                int r = emit_state_passed(h, &s, h->passed[i]);
                if (r < 0)
                        log_warning_errno(r, "Failed to emit PropertiesChanged for %s, ignoring: %m", h->path);
        }
        h->n_passed = 0;
}

int bus_add_hand(struct hand *h) {
        int r = sd_bus_add_object_vtable(h->daemon->bus, &h->slot, h->path, HAND_INTERFACE, hand_vtable, h);
        if (r < 0)
                return log_error_errno(r, "Failed to add %s: %m", h->path);
        return 0;
}

void bus_remove_hand(struct hand *h) {
        h->slot = sd_bus_slot_unref(h->slot);
}
