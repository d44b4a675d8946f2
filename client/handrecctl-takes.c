/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-takes.c — `handrecctl takes`: the daemon's ListTakes (the output folder need not be
 * readable by the user), by episode with each episode's manifest (ListEpisodes: outcome,
 * decision, success), and handrec-offload's upload state of each take when it runs; filtered by
 * hand, episode, task and time.
 */
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl.h"

/* The takes listed: the newest TAKES_LISTED (ListTakes' limit). */
#define TAKES_LISTED 50

/* What handrec-offload says of the takes listed: files[i]'s state into uploads[i]. */
struct upload_match {
        const char **files;
        struct take_upload *uploads;
        size_t n;
};

static void match_upload(const char *file, const struct take_upload *u, void *userdata) {
        struct upload_match *m = userdata;

        for (size_t i = 0; i < m->n; i++)
                if (streq(m->files[i], file))
                        m->uploads[i] = *u;
}

/*
 * The upload state of each of @n takes (@files) from handrec-offload's ListUploads, into
 * @ret_uploads: "pending" for a take it does not list. Return: true, or false when it is not on
 * the bus (or its answer could not be read): then there is no upload state to show.
 */
static bool read_uploads(sd_bus *bus, const char **files, size_t n, struct take_upload *ret_uploads) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct upload_match m = {files, ret_uploads, n};

        if (upload_call(bus, "ListUploads", &reply) <= 0)
                return false;
        for (size_t i = 0; i < n; i++)
                ret_uploads[i] = (struct take_upload){.state = "pending"};
        return upload_each(reply, match_upload, &m) >= 0;
}

/* The takes of ListTakes' @reply, each with its file in @files; @n at most @max. Return: 0 or negative errno. */
static int read_takes(sd_bus_message *reply, struct take_view *takes, const char **files, size_t max, size_t *n) {
        int r;

        *n = 0;
        r = sd_bus_message_enter_container(reply, 'a', "(sa{sv})");
        while (r >= 0 && *n < max && (r = next_take(reply, &takes[*n])) > 0) {
                files[*n] = takes[*n].file;
                (*n)++;
        }
        return r < 0 ? r : 0;
}

/* The takes listed, their upload state and their episodes: about 3 MB, on the heap. */
struct listing {
        struct take_view takes[TAKES_LISTED];
        struct take_upload uploads[TAKES_LISTED];
        const char *files[TAKES_LISTED];
        struct episode_view episodes[TAKES_LISTED]; /* of each take, when its manifest is there; id "" else */
        size_t n;
        bool uploads_known; /* handrec-offload answered */
};

/* Each take's episode, from the manifests ListEpisodes gives. Return: 0, or 1 (printed). */
static int read_episodes(sd_bus *bus, struct listing *l) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct episode_view e;
        int r;

        if ((r = list_episodes(bus, &reply)))
                return r;
        while ((r = next_episode(reply, &e)) > 0)
                for (size_t i = 0; i < l->n; i++)
                        if (l->takes[i].episode[0] && streq(l->takes[i].episode, e.id))
                                l->episodes[i] = e;
        return r < 0 ? json_parse_error(r) : 0;
}

/* "complete, kept as a success", "INCOMPLETE (left: disk-full: ...), undecided". Return: @buf. */
static char *episode_state(const struct episode_view *e, char *buf, size_t len) {
        const char *decision = streq(e->decision, "kept")        ? "kept"
                               : streq(e->decision, "discarded") ? "discarded"
                                                                 : "undecided";

        snprintf(buf, len, "%s%s%s%s, %s%s%s", streq(e->outcome, "incomplete") ? "INCOMPLETE" : e->outcome,
                 e->reason[0] ? " (" : "", e->reason, e->reason[0] ? ")" : "", decision, e->success[0] ? " as a " : "",
                 e->success);
        return buf;
}

/* The line that heads the takes of @t's episode. */
static void print_episode_head(const struct take_view *t, const struct episode_view *e) {
        char state[1400];

        if (!t->episode[0]) {
                printf("No episode\n");
                return;
        }
        printf("Episode %s", t->episode);
        if (t->task[0])
                printf(", task \"%s\"", t->task);
        if (t->operator_[0])
                printf(", operator %s", t->operator_);
        if (e->id[0])
                printf(": %s\n", episode_state(e, state, sizeof(state)));
        else
                printf(" (no manifest)\n");
}

/* @t in its two lines; @u its upload state (NULL: handrec-offload is not on the bus). */
static void print_take(const struct take_view *t, const struct take_upload *u) {
        bool failed = u && streq(u->state, "failed");
        char size[32], stopped[48];

        snprintf(stopped, sizeof(stopped), "%s%s", streq(t->status, "recording") ? "recording" : t->stop_reason,
                 streq(t->status, "recovered") ? " (recovered)" : "");
        printf("  %-6s %-20.20s %7llu %7.1fs %-17s %8s %-17s %s\n", t->hand, t->started_utc,
               (unsigned long long) t->frames, t->duration, streq(t->status, "unreadable") ? "unreadable" : stopped,
               format_bytes(size, sizeof(size), t->bytes), u ? u->state : "-", t->verdict[0] ? t->verdict : "-");
        printf("         %s%s%s%s%s\n", t->file, t->error[0] ? ": " : "", t->error,
               failed ? (t->error[0] ? "; upload failed: " : ": upload failed: ") : "", failed ? u->error : "");
}

/* The takes, by episode: each episode's takes together, the episodes newest first. */
static void print_grouped(const struct listing *l) {
        bool done[TAKES_LISTED] = {false};

        printf("  %-6s %-20s %7s %8s %-17s %8s %-17s %s\n", "HAND", "STARTED (UTC)", "FRAMES", "DURATION", "STOPPED",
               "SIZE", "UPLOAD", "QUALITY");
        for (size_t i = 0; i < l->n; i++) {
                if (done[i])
                        continue;
                printf("\n");
                print_episode_head(&l->takes[i], &l->episodes[i]);
                for (size_t j = i; j < l->n; j++)
                        if (!done[j] && streq(l->takes[j].episode, l->takes[i].episode)) {
                                print_take(&l->takes[j], l->uploads_known ? &l->uploads[j] : NULL);
                                done[j] = true;
                        }
        }
}

/* The takes of ListTakes' @reply by episode, with their upload state; @l: room for them. */
static int listing_text(sd_bus *bus, sd_bus_message *reply, struct listing *l) {
        int r = read_takes(reply, l->takes, l->files, TAKES_LISTED, &l->n);

        if (r < 0)
                return json_parse_error(r);
        if (l->n == 0) {
                printf("No takes.\n");
                return 0;
        }
        l->uploads_known = read_uploads(bus, l->files, l->n, l->uploads);
        if ((r = read_episodes(bus, l)))
                return r;
        print_grouped(l);
        return 0;
}

static int takes_text(sd_bus *bus, sd_bus_message *reply) {
        _cleanup_(freep) struct listing *l = calloc(1, sizeof(*l));

        return l ? listing_text(bus, reply, l) : json_parse_error(-ENOMEM);
}

/* Add each take's "upload": {state, error, remote} to the entries of @list, when handrec-offload is on the bus. */
static void takes_json_uploads(sd_bus *bus, json_object *list) {
        _cleanup_(freep) struct listing *l = calloc(1, sizeof(*l));
        size_t n = MIN((size_t) json_object_array_length(list), (size_t) TAKES_LISTED);

        if (!l)
                return;
        for (size_t i = 0; i < n; i++)
                l->files[i] =
                        json_object_get_string(json_object_object_get(json_object_array_get_idx(list, i), "file"));
        if (n == 0 || !read_uploads(bus, l->files, n, l->uploads))
                return;
        for (size_t i = 0; i < n; i++) {
                json_object *u = json_object_new_object();
                json_object_object_add(u, "state", json_object_new_string(l->uploads[i].state));
                json_object_object_add(u, "error", json_object_new_string(l->uploads[i].error));
                json_object_object_add(u, "remote", json_object_new_string(l->uploads[i].remote));
                json_object_object_add(json_object_array_get_idx(list, i), "upload", u);
        }
}

/* Whether the takes in @list include one of episode @id. */
static bool listed_episode(json_object *list, const char *id) {
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                const char *e =
                        json_object_get_string(json_object_object_get(json_object_array_get_idx(list, i), "episode"));
                if (e && streq(e, id))
                        return true;
        }
        return false;
}

/* Add "episodes": [{episode, task, operator, outcome, reason, decision, success, note}], the
 * manifests of the episodes the takes of @list are of. Return: 0, or 1 (printed). */
static int takes_json_episodes(sd_bus *bus, json_object *o, json_object *list) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        json_object *episodes = json_object_new_array();
        struct episode_view e;
        int r;

        json_object_object_add(o, "episodes", episodes);
        if ((r = list_episodes(bus, &reply)))
                return r;
        while ((r = next_episode(reply, &e)) > 0) {
                const char *keys[] = {"episode", "task",     "operator", "outcome",
                                      "reason",  "decision", "success",  "note"};
                const char *values[] = {e.id, e.task, e.operator_, e.outcome, e.reason, e.decision, e.success, e.note};
                json_object *j;
                if (!listed_episode(list, e.id))
                        continue;
                j = json_object_new_object();
                for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                        json_object_object_add(j, keys[k], json_object_new_string(values[k]));
                json_object_array_add(episodes, j);
        }
        return r < 0 ? json_parse_error(r) : 0;
}

/* {takes:[{file, hand, started_utc, ..., upload}], episodes:[...]}: each take's a{sv} with its file added. */
static int takes_json(sd_bus *bus, sd_bus_message *reply) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *list = json_object_new_array();
        int r;

        json_object_object_add(o, "takes", list);
        r = sd_bus_message_enter_container(reply, 'a', "(sa{sv})");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'r', "sa{sv}")) > 0) {
                json_object *entry = NULL;
                const char *file;
                r = sd_bus_message_read(reply, "s", &file);
                if (r >= 0)
                        r = json_read_value(reply, &entry);
                if (r >= 0) {
                        json_object_object_add(entry, "file", json_object_new_string(file));
                        json_object_array_add(list, entry);
                        r = sd_bus_message_exit_container(reply);
                }
        }
        if (r < 0)
                return json_parse_error(r);
        takes_json_uploads(bus, list);
        if ((r = takes_json_episodes(bus, o, list)))
                return r;
        return json_print(o);
}

/*
 * --since as ListTakes takes it, a UTC time "2026-12-06T09:30:00Z", into @buf, from: a count
 * back from now (90s, 30m, 2h, 3d), today or yesterday (from local midnight), or a date and
 * time, local unless it ends in Z (2026-12-06, 2026-12-06 09:30, 2026-12-06T09:30:15Z).
 * Return: 0, or -EINVAL.
 */
static int parse_since(const char *in, char *buf, size_t len) {
        static const char *const formats[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                                              "%Y-%m-%d %H:%M", "%Y-%m-%d"};
        time_t now = time(NULL), t = (time_t) -1;
        struct tm tm = {0};
        char *end;
        double n = strtod(in, &end);

        if (end != in && n >= 0 && end[0] && !end[1] && strchr("smhd", end[0])) {
                static const char units[] = "smhd";
                static const double seconds[] = {1, 60, 3600, 86400};
                t = now - (time_t) (n * seconds[strchr(units, end[0]) - units]);
        } else if (streq(in, "today") || streq(in, "yesterday")) {
                localtime_r(&now, &tm);
                tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
                tm.tm_mday -= streq(in, "yesterday");
                tm.tm_isdst = -1;
                t = mktime(&tm);
        } else
                for (size_t i = 0; i < ELEMENTSOF(formats) && t == (time_t) -1; i++) {
                        const char *rest;
                        tm = (struct tm){.tm_isdst = -1};
                        rest = strptime(in, formats[i], &tm);
                        if (rest && streq(rest, "Z"))
                                t = timegm(&tm);
                        else if (rest && !*rest)
                                t = mktime(&tm);
                }
        if (t == (time_t) -1)
                return -EINVAL;
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        return 0;
}

static int takes_usage(void) {
        printf("Usage: handrecctl takes [--hand HAND] [--episode ID] [--task TEXT] [--since WHEN] [--json]\n\n"
               "List the recent takes by episode, the newest first: each episode's task, operator,\n"
               "outcome (complete, or INCOMPLETE and why), decision (kept, discarded, undecided) and\n"
               "success; under it each take: its hand, start (UTC), frames, duration, why it stopped\n"
               "(requested, duration, device-lost, disk-full, partner-stopped, crash (recovered), ...),\n"
               "size, upload state and quality verdict, then its file. --episode, --task (the whole text)\n"
               "and --since (90m, 2h, 3d, today, yesterday, 2026-12-06, 2026-12-06 09:30, local unless it\n"
               "ends in Z) choose the takes. Asks handrecd, so the output folder need not be readable\n"
               "by you. UPLOAD is handrec-offload's state (pending, uploading, uploaded-verified, failed:\n"
               "its error under the file), or - when handrec-offload is not running. --json prints\n"
               "{takes:[...], episodes:[...]}: each take with the keys of ListTakes, its file and upload\n"
               "{state, error, remote}; each episode of those takes with its manifest's decision.\n");
        return 0;
}

int run_takes(int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {};
        char since[32];
        int r;

        r = parse_args("takes", argc, argv, &a);
        if (r)
                return r == -1 ? takes_usage() : r;
        if (a.n_hands > 1)
                return usage_error("takes", "give at most one --hand");
        if (a.since && parse_since(a.since, since, sizeof(since)) < 0)
                return usage_error("takes", "--since takes 90m, 2h, 3d, today, yesterday, or a date and time: "
                                            "2026-12-06, 2026-12-06 09:30 (local), 2026-12-06T09:30:00Z (UTC)");
        struct takes_query q = {.hand = a.all_hands ? NULL : a.hand,
                                .episode = a.episode,
                                .task = a.task,
                                .since = a.since ? since : NULL,
                                .limit = TAKES_LISTED};
        if ((r = connect_bus(&bus)) || (r = list_takes(bus, &q, &reply)))
                return r;
        return a.json ? takes_json(bus, reply) : takes_text(bus, reply);
}
