/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-takes.c — `handrecctl takes` (the daemon's ListTakes: the output folder need not
 * be readable by the user; with handrec-offload's upload state of each take when it runs) and `handrecctl discard FILE | --last` (DiscardTake: handrecd deletes
 * one of its finished takes; --last the newest take with the rest of its episode).
 */
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl.h"

/* The takes listed: the newest TAKES_LISTED (ListTakes' limit). */
#define TAKES_LISTED 50

/* ListTakes(@hand or all, @limit); @ret_reply is in its array. Return: 0, or 1 (printed). */
static int list_takes(sd_bus *bus, const char *hand, uint32_t limit, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if ((r = new_call(bus, "ListTakes", &m)))
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && hand)
                r = sd_bus_message_append(m, "{sv}", "hand", "s", hand);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "limit", "u", limit);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return bus_error(NULL, r);
        if ((r = call(bus, m, 0, &reply)))
                return r;
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

/* Read the next take of the array @m is in. Return: 1, 0 at the end, or negative errno. */
static int next_take(sd_bus_message *m, struct take_view *t) {
        int r = sd_bus_message_enter_container(m, 'r', "sa{sv}");

        if (r <= 0)
                return r;
        *t = (struct take_view){};
        r = read_take(m, t);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 1;
}

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

/* @t in its two lines; @u its upload state (NULL: handrec-offload is not on the bus). */
static void print_take(const struct take_view *t, const struct take_upload *u) {
        bool failed = u && streq(u->state, "failed");
        char size[32];

        printf("%-20.20s %-6s %-24s %7llu %7.1fs %-9s %-17s %8s  %s\n", t->started_utc, t->hand,
               t->episode[0] ? t->episode : "-", (unsigned long long) t->frames, t->duration, t->status,
               u ? u->state : "-", format_bytes(size, sizeof(size), t->bytes), t->task[0] ? t->task : "-");
        printf("    %s%s%s%s%s\n", t->file, t->error[0] ? ": " : "", t->error,
               failed ? (t->error[0] ? "; upload failed: " : ": upload failed: ") : "", failed ? u->error : "");
}

/* The takes listed, and their upload state: about 0.5 MB, on the heap. */
struct listing {
        struct take_view takes[TAKES_LISTED];
        struct take_upload uploads[TAKES_LISTED];
        const char *files[TAKES_LISTED];
};

/* The takes of ListTakes' @reply as a table, with their upload state; @l: room for them. */
static int listing_text(sd_bus *bus, sd_bus_message *reply, struct listing *l) {
        bool known;
        size_t n;
        int r;

        r = read_takes(reply, l->takes, l->files, TAKES_LISTED, &n);
        if (r < 0)
                return json_parse_error(r);
        if (n == 0) {
                printf("No takes yet.\n");
                return 0;
        }
        known = read_uploads(bus, l->files, n, l->uploads);
        printf("%-20s %-6s %-24s %7s %8s %-9s %-17s %8s  %s\n", "STARTED (UTC)", "HAND", "EPISODE", "FRAMES",
               "DURATION", "STATUS", "UPLOAD", "SIZE", "TASK");
        for (size_t i = 0; i < n; i++)
                print_take(&l->takes[i], known ? &l->uploads[i] : NULL);
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

/* {takes:[{file, hand, started_utc, ..., upload}]}: each take's a{sv} with its file added. */
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
        return json_print(o);
}

int run_takes(int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {};
        int r;

        r = parse_args("takes", argc, argv, &a);
        if (r == -1) {
                printf("Usage: handrecctl takes [--hand HAND] [--json]\n\n"
                       "List the recent takes, newest first: when each started (UTC), its hand, episode,\n"
                       "frames, duration, status (recording, complete, recovered), upload state, size, task,\n"
                       "and its file. Asks handrecd, so the output folder need not be readable by you. UPLOAD\n"
                       "is handrec-offload's state of the take (pending, uploading, uploaded-verified, failed:\n"
                       "its error on the second line), or - when handrec-offload is not running. --json prints\n"
                       "{takes:[...]}, each with the keys of ListTakes, its file, and upload {state, error,\n"
                       "remote} when handrec-offload is running.\n");
                return 0;
        }
        if (r)
                return r;
        if (a.n_hands > 1)
                return usage_error("takes", "give at most one --hand");
        if ((r = connect_bus(&bus)) || (r = list_takes(bus, a.all_hands ? NULL : a.hand, TAKES_LISTED, &reply)))
                return r;
        return a.json ? takes_json(bus, reply) : takes_text(bus, reply);
}

/* DiscardTake(@file). Return: 0, or 1 (printed). */
static int discard_one(sd_bus *bus, const char *file) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if ((r = new_call(bus, "DiscardTake", &m)))
                return r;
        r = sd_bus_message_append(m, "s", file);
        if (r < 0)
                return bus_error(NULL, r);
        if ((r = call(bus, m, 0, &reply)))
                return r;
        printf("discarded %s\n", file);
        return 0;
}

/* The newest take of @hand (NULL: any), and the other takes of its episode. Return: 0, or 1. */
static int last_episode(sd_bus *bus, const char *hand, char files[MAX_HANDS][PATH_MAX], unsigned *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct take_view t, first = {};
        unsigned n = 0;
        int r;

        if ((r = list_takes(bus, hand, 2 * MAX_HANDS, &reply)))
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sa{sv})");
        while (r >= 0 && n < MAX_HANDS && (r = next_take(reply, &t)) > 0) {
                if (n == 0)
                        first = t;
                else if (!first.episode[0] || !streq(t.episode, first.episode))
                        break;
                if (streq(t.status, "recording")) {
                        fprintf(stderr, "handrecctl: the last take, %s, is being recorded; stop it first.\n", t.file);
                        return 1;
                }
                snprintf(files[n++], PATH_MAX, "%s", t.file);
        }
        if (r < 0)
                return json_parse_error(r);
        if (n == 0) {
                fprintf(stderr, "handrecctl: there is no take to discard.\n");
                return 1;
        }
        *ret_n = n;
        return 0;
}

/* @file as handrecd will see it: absolute (relative to the current folder otherwise). */
static void absolute_path(const char *file, char *buf, size_t len) {
        char cwd[PATH_MAX];

        if (file[0] == '/' || !getcwd(cwd, sizeof(cwd)))
                snprintf(buf, len, "%s", file);
        else if (snprintf(buf, len, "%s/%s", cwd, file) >= (int) len)
                snprintf(buf, len, "%s", file); /* too long: handrecd will say it is no take of its */
}

int run_discard(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char files[MAX_HANDS][PATH_MAX];
        struct args a = {};
        unsigned n = 0;
        int r, ret = 0;

        const char *file;

        r = parse_args("discard", argc, argv, &a);
        file = a.file;
        if (r == -1) {
                printf("Usage: handrecctl discard FILE\n"
                       "       handrecctl discard --last [--hand HAND]\n\n"
                       "Delete a finished take: handrecd deletes it, as the files are its own. Only a take\n"
                       "handrecd wrote in its output folder, and not one being recorded. --last discards the\n"
                       "newest take, with the other hand's take of the same episode. Needs the same right as\n"
                       "start and stop (root, or group handrec).\n");
                return 0;
        }
        if (r)
                return r;
        if (!file == !a.last)
                return usage_error("discard", "give either a FILE or --last");
        if (file && a.n_hands)
                return usage_error("discard", "--hand goes with --last");
        if ((r = connect_bus(&bus)))
                return r;
        if (file) {
                absolute_path(file, files[0], sizeof(files[0]));
                n = 1;
        } else if ((r = last_episode(bus, a.all_hands ? NULL : a.hand, files, &n)))
                return r;
        for (unsigned i = 0; i < n; i++)
                ret |= discard_one(bus, files[i]);
        return ret;
}
