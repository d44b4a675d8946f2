/* SPDX-License-Identifier: MIT */
/*
 * episode.c — episodes as one unit: all hands start or none, one ends and all end, one manifest
 * each, the operator's decision. The DESIGN is in episode.h. Main thread only.
 */
#include "episode.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "takes.h"
#include "../lib/util.h"

void episode_make_id(char *buf, size_t len) {
        uint8_t rnd[3] = {0};
        struct tm tm;
        time_t t = time(NULL);
        char when[32];

        if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
                uint64_t n = (uint64_t) now_ns(CLOCK_MONOTONIC) ^ (uint64_t) getpid();
                memcpy(rnd, &n, sizeof(rnd));
        }
        strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
        snprintf(buf, len, "%s-%02x%02x%02x", when, rnd[0], rnd[1], rnd[2]);
}

static void utc_now(char *buf, size_t len) {
        time_t t = time(NULL);
        struct tm tm;

        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

struct episode *episode_find(struct daemon *d, const char *id) {
        for (unsigned i = 0; i < EPISODES_KEPT; i++)
                if (d->episodes[i].id[0] && streq(d->episodes[i].id, id))
                        return &d->episodes[i];
        return NULL;
}

static bool running(const struct episode *e) {
        for (unsigned i = 0; i < e->n_takes; i++)
                if (e->takes[i].active)
                        return true;
        return false;
}

/* A slot for a new episode: a free one, else the oldest that has ended (never a running one). */
static struct episode *new_slot(struct daemon *d) {
        struct episode *oldest = NULL;

        for (unsigned i = 0; i < EPISODES_KEPT; i++) {
                struct episode *e = &d->episodes[i];
                if (!e->id[0])
                        return e;
                if (!running(e) && !e->announce && (!oldest || strcmp(e->started_utc, oldest->started_utc) < 0))
                        oldest = e;
        }
        return oldest;
}

/* The episode @h's take belongs to, and that take, or NULL. */
static struct episode *of_hand(struct daemon *d, const struct hand *h, struct episode_take **ret) {
        for (unsigned i = 0; i < EPISODES_KEPT; i++) {
                struct episode *e = &d->episodes[i];
                for (unsigned k = 0; e->id[0] && k < e->n_takes; k++)
                        if (e->takes[k].active && streq(e->takes[k].hand, h->config->name) &&
                            streq(e->takes[k].file, h->file)) {
                                *ret = &e->takes[k];
                                return e;
                        }
        }
        return NULL;
}

static struct episode *begin(struct daemon *d, const char *id, const char *task, const char *operator_) {
        struct episode *e = new_slot(d);

        if (!e)
                return NULL;
        *e = (struct episode){.success = -1};
        snprintf(e->id, sizeof(e->id), "%s", id);
        snprintf(e->task, sizeof(e->task), "%s", task);
        snprintf(e->operator_, sizeof(e->operator_), "%s", operator_);
        gethostname(e->host, sizeof(e->host) - 1);
        utc_now(e->started_utc, sizeof(e->started_utc));
        snprintf(e->outcome, sizeof(e->outcome), "recording");
        return e;
}

static void add_take(struct episode *e, const struct hand *h) {
        struct episode_take *t;

        if (e->n_takes >= ELEMENTSOF(e->takes))
                return;
        t = &e->takes[e->n_takes++];
        *t = (struct episode_take){.active = true, .reason = STOP_NONE};
        snprintf(t->hand, sizeof(t->hand), "%s", h->config->name);
        snprintf(t->file, sizeof(t->file), "%s", h->file);
}

int episode_start(struct daemon *d, struct hand *const *hands, unsigned n, struct take_options *o,
                  sd_bus_error *error) {
        struct episode *e;
        unsigned started = 0;
        int r = 0;

        if (!o->episode[0])
                episode_make_id(o->episode, sizeof(o->episode));
        if (episode_find(d, o->episode))
                return sd_bus_error_setf(error, ERROR_INVALID_OPTION,
                                         "Episode %s was started already; give a new id, or none (handrecd makes "
                                         "one).",
                                         o->episode);
        /* every hand first: none starts unless all can */
        for (unsigned i = 0; i < n; i++)
                if ((r = hand_check_start(hands[i], error)) < 0)
                        return r;
        e = begin(d, o->episode, o->task, o->operator_);
        if (!e)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "%d episodes are running or waiting for a decision; decide on one first.",
                                         EPISODES_KEPT);
        for (; started < n; started++) {
                r = hand_start(hands[started], o, error);
                if (r < 0)
                        break;
                add_take(e, hands[started]);
        }
        if (r < 0) {
                /* what started goes: stopped now, deleted once complete (episode_take_ended()) */
                e->abandoned = true;
                for (unsigned i = 0; i < started; i++)
                        hand_stop_because(hands[i], STOP_REQUESTED,
                                          "Its episode could not start on every hand; this take is deleted.");
                if (started == 0)
                        *e = (struct episode){0};
                return r;
        }
        (void) episode_manifest_write(d->config->output_dir, e);
        log_info("Episode %s started on %u hand%s.", e->id, n, n == 1 ? "" : "s");
        return 0;
}

void episode_joined(struct daemon *d, struct hand *h) {
        struct episode *e;

        if (!h->episode[0])
                return;
        e = episode_find(d, h->episode);
        if (e && e->ended_utc[0]) {
                log_warning("%s: episode %s has ended; the take %s is not added to its manifest.", h->config->name,
                            e->id, h->file);
                return;
        }
        if (!e) {
                e = begin(d, h->episode, h->task, h->operator_);
                if (!e) {
                        log_warning("%s: too many episodes running; %s gets no manifest.", h->config->name, h->file);
                        return;
                }
        }
        add_take(e, h);
        (void) episode_manifest_write(d->config->output_dir, e);
}

/* Whether a take that ended for @r leaves its episode whole: it was stopped, or ended as planned.
 * A replay that reached its end did not: its source stopped sending mid-episode, as a camera that
 * stalls, and its partners were cut short with it. */
static bool ended_as_asked(enum stop_reason r) {
        return r == STOP_REQUESTED || r == STOP_DURATION;
}

void episode_take_ending(struct daemon *d, struct hand *h) {
        struct episode_take *t;
        struct episode *e = of_hand(d, h, &t);
        char error[PIPELINE_ERROR_MAX], why[PIPELINE_ERROR_MAX];
        enum stop_reason r;

        if (!e || e->ending || e->abandoned)
                return;
        r = pipeline_result(h->pipeline, error, sizeof(error));
        if (r == STOP_REQUESTED || r == STOP_PARTNER || r == STOP_SHUTDOWN || r == STOP_DURATION || r == STOP_NONE)
                return; /* the caller stops the others itself (or handrecd stops them all, or their own
                         * duration, the same, ends them within a frame); or this one was stopped for another */
        e->ending = true;
        snprintf(why, sizeof(why), "The %s hand's take of episode %s ended (%s%s%.900s); this one was stopped with it.",
                 h->config->name, e->id, pipeline_stop_reason_to_string(r), error[0] ? ": " : "", error);
        for (unsigned k = 0; k < e->n_takes; k++) {
                struct hand *p = hand_find(d, e->takes[k].hand);
                if (e->takes[k].active && p && p != h && streq(p->file, e->takes[k].file) && hand_is_active(p)) {
                        log_warning("%s: %s", p->config->name, why);
                        hand_stop_because(p, STOP_PARTNER, why);
                }
        }
}

/* The episode's outcome once every take is complete: the first take that did not end as asked
 * makes it incomplete, and says why. */
static void conclude(struct episode *e) {
        snprintf(e->outcome, sizeof(e->outcome), "complete");
        for (unsigned k = 0; k < e->n_takes; k++) {
                const struct episode_take *t = &e->takes[k];
                if (ended_as_asked(t->reason) || t->reason == STOP_PARTNER)
                        continue;
                snprintf(e->outcome, sizeof(e->outcome), "incomplete");
                snprintf(e->reason, sizeof(e->reason), "%s: %s%s%.500s", t->hand,
                         pipeline_stop_reason_to_string(t->reason), t->error[0] ? ": " : "", t->error);
                return;
        }
        /* a partner stopped for a take that ended as planned (a duration): whole */
}

void episode_take_ended(struct daemon *d, struct hand *h) {
        struct episode_take *t;
        struct episode *e = of_hand(d, h, &t);
        struct pipeline_stats s;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        if (!e)
                return;
        pipeline_stats(h->pipeline, &s);
        t->active = false;
        t->reason = h->ended_reason;
        snprintf(t->error, sizeof(t->error), "%.*s", (int) utf8_cut(h->last_error, sizeof(t->error) - 1),
                 h->last_error);
        t->frames = s.written;
        t->duration = s.duration;
        struct qc_take qc;
        pipeline_qc(h->pipeline, &qc);
        qc_verdict(&qc, t->qc_verdict, sizeof(t->qc_verdict));
        t->qc_frozen = qc.frozen.frames;
        t->qc_dark = qc.dark[0].frames + qc.dark[1].frames;
        t->qc_overexposed = qc.bright[0].frames + qc.bright[1].frames;
        t->qc_blurred = qc.blurred[0].frames + qc.blurred[1].frames;
        t->qc_camera_gaps = qc.camera_gap_frames;
        t->qc_timestamp_gaps = qc.time_gaps.frames;
        if (e->abandoned) {
                if (takes_discard(d, t->file, &error) < 0)
                        log_warning("Cannot delete %s, of an episode that could not start: %s", t->file,
                                    error.message ?: "?");
                sd_bus_error_free(&error);
                if (!running(e))
                        *e = (struct episode){0};
                return;
        }
        if (running(e))
                return;
        utc_now(e->ended_utc, sizeof(e->ended_utc));
        conclude(e);
        e->announce = true;
        (void) episode_manifest_write(d->config->output_dir, e);
        log_info("Episode %s ended: %s%s%s.", e->id, e->outcome, e->reason[0] ? ", " : "", e->reason);
}

/* keep = 0: every take of the episode deleted as DiscardTake deletes one; what cannot be is said. */
static int discard_takes(struct daemon *d, const struct episode *e, sd_bus_error *error) {
        for (unsigned k = 0; k < e->n_takes; k++)
                if (e->takes[k].active)
                        return sd_bus_error_setf(error, ERROR_TAKE_IN_USE,
                                                 "Episode %s is still recording (%s); stop it first, then discard it.",
                                                 e->id, e->takes[k].hand);
        for (unsigned k = 0; k < e->n_takes; k++) {
                sd_bus_error one = SD_BUS_ERROR_NULL;
                if (access(e->takes[k].file, F_OK) < 0 && errno == ENOENT)
                        continue; /* gone already (discarded by hand): nothing to do */
                int r = takes_discard(d, e->takes[k].file, &one);
                if (r < 0) {
                        sd_bus_error_move(error, &one);
                        return r;
                }
        }
        return 0;
}

int episode_decide(struct daemon *d, const char *id, const struct episode_decision *dec, struct episode *ret,
                   sd_bus_error *error) {
        struct episode *e = episode_find(d, id), stored;
        int r;

        if (!e) {
                r = episode_manifest_read(d->config->output_dir, id, &stored);
                if (r < 0)
                        return sd_bus_error_setf(error, ERROR_NO_SUCH_EPISODE,
                                                 "There is no episode %.*s%s in %s/episodes%s; handrecctl takes lists "
                                                 "them.",
                                                 (int) utf8_cut(id, 80), id, strlen(id) > 80 ? "…" : "",
                                                 d->config->output_dir,
                                                 r == -EBADMSG ? " (its manifest is not one handrecd wrote)" : "");
                e = &stored;
        }
        if (dec->keep == 0 && (r = discard_takes(d, e, error)) < 0)
                return r;
        if (dec->keep >= 0)
                snprintf(e->decision, sizeof(e->decision), "%s", dec->keep ? "kept" : "discarded");
        if (dec->success >= 0)
                e->success = dec->success;
        if (dec->has_note)
                snprintf(e->note, sizeof(e->note), "%s", dec->note);
        utc_now(e->decided_utc, sizeof(e->decided_utc));
        r = episode_manifest_write(d->config->output_dir, e);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot write the manifest of episode %s: %s", e->id,
                                               strerror(-r));
        log_info("Episode %s: %s%s%s.", e->id, e->decision[0] ? e->decision : "decided",
                 e->success < 0 ? ""
                 : e->success   ? ", success"
                                : ", failure",
                 e->note[0] ? ", with a note" : "");
        *ret = *e;
        return 0;
}
