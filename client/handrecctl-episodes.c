/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-episodes.c — the calls `takes`, `discard` and `keep` share: ListTakes with its
 * filters, ListEpisodes (the episodes' manifests), each read an entry at a time; and the
 * question a command that deletes asks on a terminal.
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "../lib/util.h"
#include "handrecctl.h"

int list_takes(sd_bus *bus, const struct takes_query *q, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *keys[] = {"hand", "episode", "task", "since"}, *values[] = {q->hand, q->episode, q->task, q->since};
        int r;

        if ((r = new_call(bus, "ListTakes", &m)))
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(keys); i++)
                if (values[i])
                        r = sd_bus_message_append(m, "{sv}", keys[i], "s", values[i]);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "limit", "u", q->limit);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return bus_error(NULL, r);
        if ((r = call(bus, m, 0, &reply)))
                return r;
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

int next_take(sd_bus_message *m, struct take_view *t) {
        int r = sd_bus_message_enter_container(m, 'r', "sa{sv}");

        if (r <= 0)
                return r;
        *t = (struct take_view){};
        r = read_take(m, t);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 1;
}

int list_episodes(sd_bus *bus, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if ((r = new_call(bus, "ListEpisodes", &m)))
                return r;
        r = sd_bus_message_append(m, "a{sv}", 1, "limit", "u", 1000);
        if (r < 0)
                return bus_error(NULL, r);
        if ((r = call(bus, m, 0, &reply)))
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sa{sv})");
        if (r < 0)
                return json_parse_error(r);
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

#define EPISODE_FIELD(member, key) DICT_FIELD(struct episode_view, member, key, "s")
static const struct dict_field episode_fields[] = {
        EPISODE_FIELD(task, "task"),     EPISODE_FIELD(operator_, "operator"), EPISODE_FIELD(outcome, "outcome"),
        EPISODE_FIELD(reason, "reason"), EPISODE_FIELD(decision, "decision"),  EPISODE_FIELD(success, "success"),
        EPISODE_FIELD(note, "note"),
};

int next_episode(sd_bus_message *m, struct episode_view *e) {
        const char *id;
        int r = sd_bus_message_enter_container(m, 'r', "sa{sv}");

        if (r <= 0)
                return r;
        *e = (struct episode_view){};
        r = sd_bus_message_read(m, "s", &id);
        if (r >= 0) {
                snprintf(e->id, sizeof(e->id), "%s", id);
                r = read_dict(m, episode_fields, ELEMENTSOF(episode_fields), e);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 1;
}

bool confirm(bool yes, const char *question) {
        char answer[16] = "";
        ssize_t n;

        if (yes || !isatty(STDIN_FILENO))
                return true;
        printf("%s [y/N] ", question);
        fflush(stdout);
        n = read(STDIN_FILENO, answer, sizeof(answer) - 1);
        if (n > 0 && (answer[0] == 'y' || answer[0] == 'Y'))
                return true;
        printf("Nothing was deleted.\n");
        return false;
}
