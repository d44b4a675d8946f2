/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-view.c — what handrecctl knows of the daemon's hands and takes: the a{sv} readers
 * (Status replies, PropertiesChanged bodies, take summaries), the Status and ListHands calls,
 * and the printing of a hand's status and of a take's summary.
 */
#include <assert.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "../lib/status-line.h"
#include "../lib/util.h"
#include "handrecctl.h"

/* ---- reading a{sv} dictionaries --------------------------------------------------------- */

static int read_counts(sd_bus_message *m, char *buf, size_t size) {
        const char *cause;
        uint64_t n;
        int r;

        buf[0] = 0;
        r = sd_bus_message_enter_container(m, 'a', "{st}");
        while (r >= 0 && (r = sd_bus_message_read(m, "{st}", &cause, &n)) > 0)
                if (n > 0)
                        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s:%llu", buf[0] ? ", " : "", cause,
                                 (unsigned long long) n);
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

static int read_field(sd_bus_message *m, const struct dict_field *f, void *base) {
        char *p = (char *) base + f->offset;
        const char *s;
        int r;

        if (streq(f->signature, "a{st}"))
                return read_counts(m, p, f->size);
        if (!streq(f->signature, "s")) {
                assert(f->size == (f->signature[0] == 'u' ? sizeof(uint32_t) : sizeof(uint64_t)));
                return sd_bus_message_read_basic(m, f->signature[0], p);
        }
        r = sd_bus_message_read_basic(m, 's', &s);
        if (r >= 0)
                snprintf(p, f->size, "%s", s);
        return r;
}

/* Read the {sv} entry the message is in. */
static int read_entry(sd_bus_message *m, const struct dict_field *fields, size_t n_fields, void *base) {
        const char *key, *contents;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r >= 0)
                r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_fields; i++)
                if (streq(key, fields[i].key) && streq(contents, fields[i].signature)) {
                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r >= 0)
                                r = read_field(m, &fields[i], base);
                        return r < 0 ? r : sd_bus_message_exit_container(m);
                }
        return sd_bus_message_skip(m, "v");
}

/* Read an a{sv} into the struct at @base, as @fields say. */
int read_dict(sd_bus_message *m, const struct dict_field *fields, size_t n_fields, void *base) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = read_entry(m, fields, n_fields, base);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

/* ---- hand status ------------------------------------------------------------------------ */

#define VIEW_FIELD(member, key, signature) DICT_FIELD(struct hand_view, member, key, signature)
static const struct dict_field hand_view_fields[] = {
        VIEW_FIELD(name, "Name", "s"),
        VIEW_FIELD(state, "State", "s"),
        VIEW_FIELD(file, "File", "s"),
        VIEW_FIELD(last_error, "LastError", "s"),
        VIEW_FIELD(captured, "FramesCaptured", "t"),
        VIEW_FIELD(written, "FramesWritten", "t"),
        VIEW_FIELD(dropped, "FramesDropped", "t"),
        VIEW_FIELD(bytes, "BytesWritten", "t"),
        VIEW_FIELD(queue, "QueueDepth", "u"),
        /* issue 14's additions, under either spelling the Status a{sv} may give them */
        VIEW_FIELD(queue_capacity, "QueueCapacity", "u"),
        VIEW_FIELD(queue_capacity, "queue_capacity", "u"),
        VIEW_FIELD(resident_memory, "ResidentMemory", "t"),
        VIEW_FIELD(resident_memory, "resident_memory", "t"),
        VIEW_FIELD(episode, "Episode", "s"),
        VIEW_FIELD(episode, "episode", "s"),
        VIEW_FIELD(task, "Task", "s"),
        VIEW_FIELD(task, "task", "s"),
        VIEW_FIELD(fps, "Fps", "d"),
        VIEW_FIELD(duration, "Duration", "d"),
        VIEW_FIELD(skew_mean, "PairSkewMean", "d"),
        VIEW_FIELD(skew_max, "PairSkewMax", "d"),
        VIEW_FIELD(camera_fps, "CameraFps", "d"),
        VIEW_FIELD(missing, "FramesMissing", "t"),
        VIEW_FIELD(disk_free, "DiskFree", "t"),
        VIEW_FIELD(disk_time_left, "DiskTimeLeft", "d"),
        VIEW_FIELD(warnings, "Warnings", "s"),
};

/* Read one a{sv} of Hand properties (a Status reply or a PropertiesChanged body) into @v. */
int read_properties(sd_bus_message *m, struct hand_view *v) {
        return read_dict(m, hand_view_fields, ELEMENTSOF(hand_view_fields), v);
}

/* Return: 0, or 1 (printed). */
int call_status(sd_bus *bus, const char *hand, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if ((r = new_call(bus, "Status", &m)))
                return r;
        r = sd_bus_message_append(m, "s", hand);
        if (r < 0)
                return bus_error(NULL, r);
        return call(bus, m, 0, ret_reply);
}

/* Return: 0, or 1 (printed). */
int get_status(sd_bus *bus, const char *hand, struct hand_view *v) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if ((r = call_status(bus, hand, &reply)))
                return r;
        snprintf(v->name, sizeof(v->name), "%s", hand);
        v->disk_time_left = -1; /* a daemon older than the property: not known */
        r = read_properties(reply, v);
        if (r < 0) {
                fprintf(stderr, "handrecctl: cannot parse the Status reply: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

char *view_line_fit(const struct hand_view *v, char *buf, size_t len, size_t width) {
        if (v->file[0] == 0 && streq(v->state, "idle")) {
                char upper[HAND_NAME_MAX];
                snprintf(buf, len, "[%s] idle: no take yet", status_line_hand_label(upper, sizeof(upper), v->name));
                if (strlen(buf) > width)
                        buf[width] = 0;
                return buf;
        }
        return status_line_fit(buf, len,
                               &(struct status_values){.hand = v->name,
                                                       .state = v->state,
                                                       .captured = v->captured,
                                                       .written = v->written,
                                                       .dropped = v->dropped,
                                                       .missing = v->missing,
                                                       .bytes = v->bytes,
                                                       .queue = v->queue,
                                                       .queue_capacity = v->queue_capacity,
                                                       .resident_memory = v->resident_memory,
                                                       .disk_free = v->disk_free,
                                                       .disk_time_left = v->disk_time_left,
                                                       .duration = v->duration,
                                                       .fps = v->fps},
                               width);
}

char *view_line(const struct hand_view *v, char *buf, size_t len) {
        return view_line_fit(v, buf, len, SIZE_MAX);
}

void print_status(const struct hand_view *v) {
        char line[512];

        printf("%s\n", view_line(v, line, sizeof(line)));
        if (v->file[0])
                printf("    file: %s\n", v->file);
        if (v->episode[0])
                printf("    episode: %s%s%s\n", v->episode, v->task[0] ? ", task: " : "", v->task);
        if (v->camera_fps > 0)
                printf("    camera: %.2f fps measured while warming up\n", v->camera_fps);
        if (v->skew_max > 0)
                printf("    pairing skew: mean %.2f ms, max %.2f ms\n", v->skew_mean * 1e3, v->skew_max * 1e3);
        if (v->warnings[0])
                printf("    quality: %s\n", v->warnings);
        if (v->last_error[0])
                printf("    last error: %s\n", v->last_error);
}

/* The configured hands (ListHands). Return: 0, or 1 (printed). */
int list_hands(sd_bus *bus, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *s;
        unsigned n = 0;
        int r;

        if ((r = new_call(bus, "ListHands", &m)) || (r = call(bus, m, 0, &reply)))
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read(reply, "s", &s)) > 0)
                if (n < MAX_HANDS)
                        snprintf(hands[n++], HAND_NAME_MAX, "%s", s);
        *ret_n = n;
        return 0;
}

/* The hands given with --hand, or every configured hand (none given, or all). Return: 0, or 1 (printed). */
int resolve_hands(sd_bus *bus, const struct args *a, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n) {
        if (a->all_hands || a->n_hands == 0)
                return list_hands(bus, hands, ret_n);
        for (unsigned i = 0; i < a->n_hands; i++)
                snprintf(hands[i], HAND_NAME_MAX, "%s", a->hands[i]);
        *ret_n = a->n_hands;
        return 0;
}

bool hand_in_trouble(const struct hand_view *v) {
        return streq(v->state, "error") || streq(v->state, "no-device");
}

/* ---- takes (ListTakes) ------------------------------------------------------------------ */

#define TAKE_FIELD(member, key, signature) DICT_FIELD(struct take_view, member, key, signature)
static const struct dict_field take_fields[] = {
        TAKE_FIELD(hand, "hand", "s"),
        TAKE_FIELD(started_utc, "started_utc", "s"),
        TAKE_FIELD(episode, "episode", "s"),
        TAKE_FIELD(task, "task", "s"),
        TAKE_FIELD(label, "label", "s"),
        TAKE_FIELD(status, "status", "s"),
        TAKE_FIELD(stop_reason, "stop_reason", "s"),
        TAKE_FIELD(error, "error", "s"),
        TAKE_FIELD(operator_, "operator", "s"),
        TAKE_FIELD(verdict, "qc_verdict", "s"),
        TAKE_FIELD(frames, "frames", "t"),
        TAKE_FIELD(bytes, "bytes", "t"),
        TAKE_FIELD(duration, "duration", "d"),
};

int read_take(sd_bus_message *m, struct take_view *t) {
        const char *file;
        int r = sd_bus_message_read(m, "s", &file);

        if (r < 0)
                return r;
        snprintf(t->file, sizeof(t->file), "%s", file);
        return read_dict(m, take_fields, ELEMENTSOF(take_fields), t);
}

/* ---- summary ---------------------------------------------------------------------------- */

#define SUMMARY_FIELD(member, key, signature) DICT_FIELD(struct take_summary, member, key, signature)
static const struct dict_field summary_fields[] = {
        SUMMARY_FIELD(reason, "reason", "s"),
        SUMMARY_FIELD(last_error, "last_error", "s"),
        SUMMARY_FIELD(causes, "dropped_by_cause", "a{st}"),
        SUMMARY_FIELD(verdict, "qc_verdict", "s"),
        SUMMARY_FIELD(captured, "frames_captured", "t"),
        SUMMARY_FIELD(written, "frames_written", "t"),
        SUMMARY_FIELD(dropped, "frames_dropped", "t"),
        SUMMARY_FIELD(bytes, "bytes", "t"),
        SUMMARY_FIELD(duration, "duration", "d"),
        SUMMARY_FIELD(fps, "fps", "d"),
};

int read_summary(sd_bus_message *m, struct take_summary *s) {
        int r;

        *s = (struct take_summary){};
        r = read_dict(m, summary_fields, ELEMENTSOF(summary_fields), s);
        if (r < 0)
                fprintf(stderr, "handrecctl: cannot parse the take's summary: %s\n", strerror(-r));
        return r < 0 ? 1 : 0;
}

bool summary_as_asked(const struct take_summary *s) {
        return streq(s->reason, "requested") || streq(s->reason, "duration");
}

bool summary_fault(const struct take_summary *s) {
        static const char *const faults[] = {"device-lost", "disk-full", "io-error", "partner-stopped"};

        for (size_t i = 0; i < ELEMENTSOF(faults); i++)
                if (streq(s->reason, faults[i]))
                        return true;
        return false;
}

void print_take_summary(const char *hand, const struct take_summary *s) {
        char upper[HAND_NAME_MAX], size[32];

        status_line_hand_label(upper, sizeof(upper), hand);
        printf("[%s] stopped (%s): %llu frames written of %llu captured, %llu dropped%s%s%s, %.1fs, %.1ffps, %s\n",
               upper, s->reason, (unsigned long long) s->written, (unsigned long long) s->captured,
               (unsigned long long) s->dropped, s->causes[0] ? " (" : "", s->causes, s->causes[0] ? ")" : "",
               s->duration, s->fps, format_bytes(size, sizeof(size), s->bytes));
        if (s->verdict[0] && !streq(s->verdict, "ok"))
                printf("[%s] quality: %s\n", upper, s->verdict);
        if (s->last_error[0])
                printf("[%s] last error: %s\n", upper, s->last_error);
}

int print_summary(const char *hand, sd_bus_message *m) {
        struct take_summary s;
        int r = read_summary(m, &s);

        if (r == 0)
                print_take_summary(hand, &s);
        return r;
}
