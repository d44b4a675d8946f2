/* SPDX-License-Identifier: MIT */
/*
 * bus-episode.c — the Manager's episode methods (StartEpisode, DecideEpisode, ListEpisodes) and
 * the EpisodeEnded signal, on episode.c. bus.c's vtable names the methods. Main thread only.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bus-options.h"
#include "bus.h"
#include "take-options.h"
#include "../lib/util.h"

#define EPISODES_LIMIT_DEFAULT 50
#define EPISODES_LIMIT_MAX 1000

/* The hands of StartEpisode's "as": each configured, each once. Return: how many, or negative. */
static int read_hands(sd_bus_message *m, struct daemon *d, struct hand **hands, sd_bus_error *error) {
        const char *name;
        unsigned n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read(m, "s", &name)) > 0) {
                struct hand *h = bus_find_hand(d, name, error);
                if (!h)
                        return -ENOENT;
                for (unsigned i = 0; i < n; i++)
                        if (hands[i] == h)
                                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                                         "Hand %s is named twice; name each hand once.", name);
                if (n >= d->n_hands)
                        return -EINVAL; /* more hands than configured: one was named twice, above */
                hands[n++] = h;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (n == 0)
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Name at least one hand to start an episode on (ListHands lists them).");
        return (int) n;
}

int bus_method_start_episode(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct daemon *d = userdata;
        struct hand *hands[2];
        struct take_options o = {.jpeg_quality = d->config->jpeg_quality, .rectify = -1};
        int n, r;

        n = read_hands(m, d, hands, error);
        if (n < 0)
                return n;
        /* one set of options for every hand (rectify is checked against each hand's calibration) */
        r = take_options_read(m, hands[0]->config, &o, error);
        if (r < 0)
                return r;
        for (int i = 1; i < n; i++)
                if (o.rectify > 0 && !hands[i]->config->calibration)
                        return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                                 "Hand %s has no calibration to rectify with; leave rectify out, or "
                                                 "set %s_hand.calibration.",
                                                 hands[i]->config->name, hands[i]->config->name);
        for (int i = 0; i < n; i++) /* a camera still being opened: the call waits for it */
                if ((r = bus_hold_start(d, hands[i], m, bus_method_start_episode, error)) != 0)
                        return r;
        r = episode_start(d, hands, (unsigned) n, &o, error);
        if (r < 0)
                return r;
        bus_dispatch_notices(d); /* PropertiesChanged and RecordingStarted before the reply */
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", o.episode);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ss)");
        for (int i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "(ss)", hands[i]->config->name, hands[i]->file);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* ---- DecideEpisode(s episode, a{sv} decision) ------------------------------------------------- */

static int decision_keep(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct episode_decision *dec = ctx;
        bool b = false;
        int r = options_boolean(m, contents, "keep", &b, error);

        if (r >= 0)
                dec->keep = b;
        return r;
}

static int decision_success(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct episode_decision *dec = ctx;
        bool b = false;
        int r = options_boolean(m, contents, "success", &b, error);

        if (r >= 0)
                dec->success = b;
        return r;
}

static int decision_note(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        struct episode_decision *dec = ctx;
        const char *note;
        int r;

        if (!streq(contents, "s"))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION, "The note is a string (s), not \"%s\".",
                                         contents);
        r = sd_bus_message_read(m, "s", &note);
        if (r < 0)
                return r;
        if (strlen(note) > EPISODE_NOTE_MAX || !text_printable(note))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "The note is at most %d bytes of printable text on one line.",
                                         EPISODE_NOTE_MAX);
        dec->has_note = true;
        snprintf(dec->note, sizeof(dec->note), "%s", note);
        return 0;
}

static const struct option_key decision_table[] = {
        {"keep", decision_keep},
        {"success", decision_success},
        {"note", decision_note},
};

/* An episode as ListEpisodes and DecideEpisode give it: an a{sv}. */
static int append_episode(sd_bus_message *m, const struct episode *e) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");

        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "task", "s", e->task,
                                          "operator", "s", e->operator_, "host", "s", e->host, "started_utc", "s",
                                          e->started_utc, "ended_utc", "s", e->ended_utc, "outcome", "s", e->outcome,
                                          "reason", "s", e->reason, "decision", "s", e->decision, "success", "s",
                                          e->success < 0 ? ""
                                          : e->success   ? "success"
                                                         : "failure",
                                          "note", "s", e->note);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "takes");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(sss)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sss)");
        for (unsigned k = 0; r >= 0 && k < e->n_takes; k++)
                r = sd_bus_message_append(m, "(sss)", e->takes[k].hand, e->takes[k].file,
                                          e->takes[k].active ? "" : pipeline_stop_reason_to_string(e->takes[k].reason));
        for (unsigned i = 0; r >= 0 && i < 3; i++)
                r = sd_bus_message_close_container(m);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

int bus_method_decide_episode(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct daemon *d = userdata;
        struct episode_decision dec = {.keep = -1, .success = -1};
        struct episode e;
        const char *id;
        int r;

        r = sd_bus_message_read(m, "s", &id);
        if (r < 0)
                return r;
        r = options_read(m, decision_table, ELEMENTSOF(decision_table), "decision",
                         "known: keep (b), success (b), note (s)", &dec, error);
        if (r < 0)
                return r;
        r = episode_decide(d, id, &dec, &e, error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = append_episode(reply, &e);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r >= 0) /* after the reply: the manifest is written; its uploader reads it again */
                (void) sd_bus_emit_signal(sd_bus_message_get_bus(m), MANAGER_PATH, MANAGER_INTERFACE, "EpisodeDecided",
                                          "ss", e.id, e.decision);
        return r;
}

/* ---- ListEpisodes(a{sv} options): limit (u) ------------------------------------------------- */

static int list_limit(sd_bus_message *m, const char *contents, void *ctx, sd_bus_error *error) {
        unsigned *limit = ctx;
        double v = 0;
        int r = options_number(m, contents, "limit", "u", &v, error);

        if (r < 0)
                return r;
        if (v != floor(v) || v < 1 || v > EPISODES_LIMIT_MAX) /* (unsigned) v of -1 or NaN is undefined */
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Limit %g is out of range: list 1 to %d episodes.", v, EPISODES_LIMIT_MAX);
        *limit = (unsigned) v;
        return 0;
}

static const struct option_key list_table[] = {
        {"limit", list_limit},
};

int bus_method_list_episodes(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) char(*ids)[TAKE_EPISODE_MAX + 1] = NULL;
        struct daemon *d = userdata;
        unsigned limit = EPISODES_LIMIT_DEFAULT;
        int n, r;

        r = options_read(m, list_table, ELEMENTSOF(list_table), "option", "known options: limit (u, 1-1000)", &limit,
                         error);
        if (r < 0)
                return r;
        ids = calloc(limit, sizeof(*ids));
        if (!ids)
                return -ENOMEM;
        n = episode_manifest_list(d->config->output_dir, ids, limit);
        if (n < 0)
                return sd_bus_error_set_errnof(error, -n, "Cannot list the episodes in %s/episodes: %s",
                                               d->config->output_dir, strerror(-n));
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sa{sv})");
        for (int i = 0; r >= 0 && i < n; i++) {
                struct episode stored, *e = episode_find(d, ids[i]);
                if (!e) {
                        if (episode_manifest_read(d->config->output_dir, ids[i], &stored) < 0)
                                continue; /* not a manifest handrecd wrote: not listed */
                        e = &stored;
                }
                r = sd_bus_message_open_container(reply, 'r', "sa{sv}");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", e->id);
                if (r >= 0)
                        r = append_episode(reply, e);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}
