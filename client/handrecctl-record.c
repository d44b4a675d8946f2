/* SPDX-License-Identifier: MIT */
/*
 * handrecctl-record.c — `handrecctl record`: a day of episodes at a terminal, one key each.
 * Space or Enter starts an episode (a take on each chosen hand, started by handrecd as one:
 * StartEpisode) and stops it; the live status line shows while it records. Then the verdict of
 * each take, and one key decides: k keeps it, s keeps it as a success, f as a failure, d
 * discards it, r discards it and records it again (DecideEpisode). An episode that ended by
 * itself (a camera lost, a full disk) is said to be incomplete, with why, and its default is
 * discard; a complete one's is keep. The default is what q, the end of input or Ctrl-C do; no
 * key answers a question by accident (keys typed while recording are forgotten first, and Enter
 * is no answer). t changes the task between episodes; --episodes N ends the session after N kept;
 * --reset S counts S seconds down between episodes, any key starting the next at once. When
 * handrecd leaves mid-episode, each file is said complete or not, and how to go on.
 *
 * DESIGN: one thread; the keyboard (handrecctl-keys.c) and the bus are polled together, so that
 * the status line moves and the daemon's signals (RecordingStopped, EpisodeEnded,
 * NameOwnerChanged) are handled while a key is awaited.
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "../lib/bus-names.h"
#include "../lib/util.h"
#include "handrecctl.h"

#define EPISODE_END_WAIT_NS (30 * NSEC_PER_SEC) /* EpisodeEnded follows the last take's end at once */

struct session {
        sd_bus *bus;
        struct args *a;
        struct watch w;
        char hands[MAX_HANDS][HAND_NAME_MAX], files[MAX_HANDS][PATH_MAX];
        unsigned n;
        char task[1100], operator_[65];
        char episode[80], outcome[16], reason[1100]; /* the episode recorded last; outcome from EpisodeEnded */
        unsigned number;                             /* the episode being recorded or decided, from 1 */
        unsigned kept, discarded, successes, failures;
};

/* The outcome of a decision question. */
enum answer {
        ANSWER_KEEP,
        ANSWER_SUCCESS,
        ANSWER_FAILURE,
        ANSWER_DISCARD,
        ANSWER_AGAIN,
        ANSWER_QUIT,  /* q, the end of input: the default, then quit */
        ANSWER_LEAVE, /* Ctrl-C: nothing deleted on an interrupt; a complete episode kept, else left undecided */
        ANSWER_LOST,  /* handrecd left */
};

static int on_episode_ended(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        struct session *s = userdata;
        const char *id, *outcome, *reason;

        if (sd_bus_message_read(m, "sss", &id, &outcome, &reason) >= 0 && streq(id, s->episode)) {
                snprintf(s->outcome, sizeof(s->outcome), "%s", outcome);
                snprintf(s->reason, sizeof(s->reason), "%s", reason);
        }
        return 0;
}

/* ---- one episode ------------------------------------------------------------------------ */

/* Wait until every take has ended; a second Ctrl-C gives up. Return: 0, 1 (left to handrecd), -1 (lost). */
static int wait_stopped(struct session *s) {
        unsigned seen = watch_interrupted();
        int r;

        while (!watch_done(&s->w) && !s->w.lost) {
                if (watch_interrupted() != seen) {
                        fprintf(stderr, "\nhandrecctl: interrupted again; left to handrecd, which finishes them:\n");
                        for (unsigned i = 0; i < s->n; i++)
                                if (!s->w.ended[i])
                                        fprintf(stderr, "  %s: %s\n", s->hands[i], s->files[i]);
                        return 1;
                }
                if ((r = watch_pump(&s->w, s->bus, UINT64_MAX)))
                        return s->w.lost ? -1 : r;
        }
        return s->w.lost ? -1 : 0;
}

/* After the takes: until EpisodeEnded has said the outcome (or, from a daemon without it, judged here). */
static void wait_outcome(struct session *s) {
        int64_t until = now_ns(CLOCK_MONOTONIC) + EPISODE_END_WAIT_NS;
        bool complete = true;

        while (!s->outcome[0] && !s->w.lost && now_ns(CLOCK_MONOTONIC) < until)
                if (watch_pump(&s->w, s->bus, USEC_PER_SEC / 10))
                        break;
        if (s->outcome[0])
                return;
        for (unsigned i = 0; i < s->n; i++)
                complete &= summary_as_asked(&s->w.ends[i]);
        snprintf(s->outcome, sizeof(s->outcome), "%s", complete ? "complete" : "incomplete");
}

/* Start the episode: every hand or none. Return: 0, or 1 (printed: why a hand could not). */
static int start_episode(struct session *s) {
        int r;

        make_episode_id(s->episode, sizeof(s->episode));
        s->outcome[0] = s->reason[0] = 0;
        s->w.n = 0;
        s->w.drawn_lines = 0;
        for (unsigned i = 0; i < s->n; i++)
                watch_add(&s->w, s->hands[i], NULL);
        s->a->task = s->task[0] ? s->task : NULL;
        if ((r = start_hands(s->bus, s->a, s->episode, s->hands, s->n, s->files)))
                return r;
        for (unsigned i = 0; i < s->n; i++) {
                memcpy(s->w.files[i], s->files[i], PATH_MAX);
                get_status(s->bus, s->hands[i], &s->w.views[i]);
        }
        printf("Episode %u recording (%s): Space or Enter stops it.\n", s->number, s->episode);
        return 0;
}

/* Record one episode until a key, its end or Ctrl-C; stop it; wait for its files and outcome.
 * Return: 0, 1 (printed), 130 (Ctrl-C), or -1 (handrecd left). */
static int record_episode(struct session *s) {
        unsigned seen = watch_interrupted();
        int r, key;

        if ((r = start_episode(s)))
                return r;
        keys_forget();
        do
                r = keys_wait(&s->w, s->bus, true, 0, &key);
        while (r == 1 && key != ' ' && key != '\n' && key != '\r' && key != 'q');
        if (r >= 0 && !watch_done(&s->w)) {
                if (watch_interrupted() != seen) {
                        watch_end_line(&s->w);
                        fprintf(stderr, "handrecctl: stopping the takes and waiting for their files to be complete "
                                        "(Ctrl-C again to leave them to handrecd)...\n");
                }
                r = watch_stop_all(&s->w, s->bus) ?: wait_stopped(s);
        }
        watch_end_line(&s->w);
        if (r < 0 || s->w.lost)
                return -1;
        if (r)
                return r;
        wait_outcome(s);
        return watch_interrupted() != seen ? 130 : 0;
}

/* ---- the decision ----------------------------------------------------------------------- */

/* Each take of the episode, with the quality verdict of each, and the episode's outcome. */
static void print_episode(const struct session *s) {
        printf("Episode %u %s", s->number, streq(s->outcome, "complete") ? "complete" : "INCOMPLETE");
        printf("%s%s\n", s->reason[0] ? ": " : ".", s->reason);
        for (unsigned i = 0; i < s->n; i++) {
                const struct take_summary *t = &s->w.ends[i];
                printf("  %s: %llu frames, %.1fs, stopped (%s); quality: %s\n    %s\n", s->hands[i],
                       (unsigned long long) t->written, t->duration, t->reason, t->verdict[0] ? t->verdict : "?",
                       s->files[i]);
        }
}

/* Ask until one of the keys is pressed. Return: the answer. */
static enum answer ask(struct session *s, bool complete) {
        int r, key;

        printf(complete ? "Keep it? k keep, s success, f failure, d discard, r again, q keep and quit "
                        : "Discard it? d discard, k keep, s success, f failure, r again, q discard and quit ");
        fflush(stdout);
        keys_forget(); /* a key typed while recording answers nothing */
        for (;;) {
                r = keys_wait(&s->w, s->bus, false, 0, &key);
                if (r < 0)
                        return ANSWER_LOST;
                if (r == 0)
                        return ANSWER_LEAVE; /* Ctrl-C */
                switch (key) {
                case 'k':
                case 'K': return ANSWER_KEEP;
                case 's':
                case 'S': return ANSWER_SUCCESS;
                case 'f':
                case 'F': return ANSWER_FAILURE;
                case 'd':
                case 'D': return ANSWER_DISCARD;
                case 'r':
                case 'R': return ANSWER_AGAIN;
                case 'q':
                case 'Q': return ANSWER_QUIT;
                default: break; /* Enter, Space and the rest: no answer */
                }
        }
}

/* DecideEpisode(@keep, @success: -1 not said). Return: 0, or 1 (printed). */
static int decide(struct session *s, bool keep, int success) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if ((r = new_call(s->bus, "DecideEpisode", &m)))
                return r;
        r = sd_bus_message_append(m, "s", s->episode);
        if (r >= 0 && success >= 0)
                r = sd_bus_message_append(m, "a{sv}", 2, "keep", "b", keep, "success", "b", success);
        else if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 1, "keep", "b", keep);
        if (r < 0)
                return bus_error(NULL, r);
        return call(s->bus, m, 0, &reply);
}

/* Ctrl-C on an incomplete episode: nothing is deleted on an interrupt. */
static void leave_undecided(const struct session *s) {
        printf("\nepisode %u left undecided: handrecctl keep --episode %s [--success|--failure] keeps it, "
               "handrecctl discard --episode %s discards it\n",
               s->number, s->episode, s->episode);
}

/* Carry out @answer (or, for quit, the default). Return: 0, or 1 (printed). */
static int carry_out(struct session *s, enum answer answer, bool complete) {
        if (answer == ANSWER_LEAVE && !complete)
                return leave_undecided(s), 0;
        bool keep = answer == ANSWER_KEEP || answer == ANSWER_SUCCESS || answer == ANSWER_FAILURE ||
                    ((answer == ANSWER_QUIT || answer == ANSWER_LEAVE) && complete);
        int success = answer == ANSWER_SUCCESS ? 1 : answer == ANSWER_FAILURE ? 0 : -1, r;

        if ((r = decide(s, keep, success)))
                return r;
        if (!keep) {
                s->discarded++;
                printf("\ndiscarded episode %u: its %u file%s deleted\n", s->number, s->n, s->n > 1 ? "s" : "");
                return 0;
        }
        s->kept++;
        s->successes += success == 1;
        s->failures += success == 0;
        printf("\nkept episode %u%s: %u file%s\n", s->number,
               success == 1   ? " as a success"
               : success == 0 ? " as a failure"
                              : "",
               s->n, s->n > 1 ? "s" : "");
        return 0;
}

/* ---- when handrecd leaves --------------------------------------------------------------- */

static void print_daemon_gone(const struct session *s) {
        fprintf(stderr, "\nhandrecctl: handrecd left the bus during episode %u (%s):\n", s->number, s->episode);
        for (unsigned i = 0; i < s->n; i++)
                if (s->w.ended[i])
                        fprintf(stderr, "  %s: %s is complete (stopped: %s, %llu frames)\n", s->hands[i], s->files[i],
                                s->w.ends[i].reason, (unsigned long long) s->w.ends[i].written);
                else
                        fprintf(stderr,
                                "  %s: %s was not finished by handrecd: it is recovered when handrecd starts "
                                "again (or now: handrecctl recover %s)\n",
                                s->hands[i], s->files[i], s->files[i]);
        fprintf(stderr,
                "Nothing was decided for it. Once handrecd is back: handrecctl takes --episode %s shows it, and "
                "handrecctl keep --episode %s [--success|--failure] or handrecctl discard --episode %s decides it. "
                "Then handrecctl record goes on.\n",
                s->episode, s->episode, s->episode);
}

/* ---- between episodes ------------------------------------------------------------------- */

/* t: a new task, typed as a line. */
static void change_task(struct session *s) {
        char line[sizeof(s->task)];

        printf("\nTask (Enter keeps \"%s\"): ", s->task);
        fflush(stdout);
        if (keys_read_line(line, sizeof(line)) > 0)
                snprintf(s->task, sizeof(s->task), "%s", line);
        printf("Task: %s\n", s->task[0] ? s->task : "(none)");
}

static void prompt_start(const struct session *s, int64_t deadline, bool again) {
        if (!s->w.tty && again)
                return; /* a log gets the question once, not the countdown's every second */
        if (deadline) {
                double left = (double) (deadline - now_ns(CLOCK_MONOTONIC)) / 1e9;
                printf("%sEpisode %u in %.0f s: any key starts it now, t changes the task, q quits.%s",
                       s->w.tty ? "\r" : "", s->number, left > 0 ? left + 0.49 : 0, s->w.tty ? " \033[K" : "\n");
        } else
                printf("%sEpisode %u: Space or Enter starts it, t changes the task, q quits.%s", s->w.tty ? "\r" : "",
                       s->number, s->w.tty ? " \033[K" : "\n");
        fflush(stdout);
}

/* Until the next episode is to start (@count_down: after --reset seconds, or a key). Return: 1
 * start, 0 quit (q, Ctrl-C), -1 handrecd left or an error (printed). */
static int wait_to_start(struct session *s, bool count_down) {
        int64_t deadline = count_down ? now_ns(CLOCK_MONOTONIC) + (int64_t) (s->a->reset * 1e9) : 0;
        unsigned seen = watch_interrupted();
        int r, key;

        for (bool again = false;; again = true) {
                prompt_start(s, deadline, again);
                r = keys_wait(&s->w, s->bus, false,
                              deadline ? MIN(deadline, now_ns(CLOCK_MONOTONIC) + NSEC_PER_SEC) : 0, &key);
                if (r < 0) {
                        fprintf(stderr, "\nhandrecctl: handrecd is gone; start it again, then handrecctl record.\n");
                        return -1;
                }
                if (r == 0 && watch_interrupted() != seen)
                        return printf(s->w.tty ? "\n" : ""), 0;
                if (r == 0 && now_ns(CLOCK_MONOTONIC) >= deadline)
                        break; /* the countdown is over */
                if (r == 0)
                        continue; /* a second of the countdown */
                if (key == 'q' || key == 'Q')
                        return printf(s->w.tty ? "\n" : ""), 0;
                if (key == 't' || key == 'T') {
                        change_task(s);
                        deadline = 0; /* a new task: the operator starts it */
                        again = false;
                } else if (deadline || key == ' ' || key == '\n' || key == '\r')
                        break;
        }
        if (s->w.tty)
                printf("\n");
        return 1;
}

/* ---- the session ------------------------------------------------------------------------ */

/* One episode, from its start to its decision. Return: 1 go on, 0 quit, or an exit status << 8. */
static int one_episode(struct session *s) {
        for (;;) {
                int r = record_episode(s);
                bool complete;
                enum answer answer;

                if (r == -1)
                        return print_daemon_gone(s), 1 << 8;
                if (r && r != 130)
                        return r << 8;
                print_episode(s);
                complete = streq(s->outcome, "complete");
                answer = r == 130 ? ANSWER_LEAVE : ask(s, complete);
                if (answer == ANSWER_LOST)
                        return print_daemon_gone(s), 1 << 8;
                r = carry_out(s, answer == ANSWER_AGAIN ? ANSWER_DISCARD : answer, complete);
                if (r)
                        return r << 8;
                if (answer == ANSWER_QUIT || answer == ANSWER_LEAVE)
                        return 0;
                if (answer != ANSWER_AGAIN)
                        return 1;
                printf("Recording episode %u again.\n", s->number);
        }
}

static int record_session(struct session *s) {
        for (bool first = true;; first = false) {
                int r;

                s->number = s->kept + 1;
                if (s->a->episodes > 0 && s->kept >= (unsigned) s->a->episodes) {
                        printf("%u episode%s kept: done.\n", s->kept, s->kept == 1 ? "" : "s");
                        return 0;
                }
                r = wait_to_start(s, !first && s->a->reset > 0);
                if (r <= 0)
                        return r < 0 ? 1 : 0;
                r = one_episode(s);
                if (r != 1)
                        return r >> 8;
        }
}

static int usage(void) {
        printf("Usage: handrecctl record [--hand HAND|all]... [--task TEXT] [--operator NAME] [--episodes N]\n"
               "                         [--reset SECONDS] [--label LABEL] [--duration S]\n\n"
               "Record episodes one after another, a key each, no Enter: Space or Enter starts an episode\n"
               "on every chosen hand (every configured hand when no --hand is given) and stops it. Then each\n"
               "take's quality verdict, and one key: k keeps the episode, s keeps it as a success, f as a\n"
               "failure, d discards it, r discards it and records it again. An episode that ended by itself\n"
               "(a camera lost, a full disk) is INCOMPLETE, with why; q, the end of input or Ctrl-C discard\n"
               "it, and keep a complete one. t changes the task between episodes; q quits. --operator is\n"
               "recorded with each take (default: your login name). --episodes N ends the session once N\n"
               "are kept; --reset S counts S seconds down between episodes, any key starting the next now.\n");
        return 0;
}

int run_record(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct args a = {.quality = -1, .rectify = -1, .success = -1};
        struct session s = {.a = &a};
        int r;

        r = parse_args("record", argc, argv, &a);
        if (r)
                return r == -1 ? usage() : r;
        snprintf(s.task, sizeof(s.task), "%s", a.task ?: "");
        if (a.operator_)
                snprintf(s.operator_, sizeof(s.operator_), "%s", a.operator_);
        else
                default_operator(s.operator_, sizeof(s.operator_));
        a.operator_ = s.operator_[0] ? s.operator_ : NULL;
        s.w = (struct watch){.tty = isatty(STDOUT_FILENO), .stop_on_interrupt = true, .quiet = true};
        if ((r = connect_bus(&bus)) || (r = resolve_hands(bus, &a, s.hands, &s.n)))
                return r;
        s.bus = bus;
        watch_catch_interrupts();
        if ((r = watch_subscribe(&s.w, bus)))
                return r;
        r = sd_bus_match_signal(bus, NULL, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "EpisodeEnded", on_episode_ended,
                                &s);
        if (r < 0)
                return fprintf(stderr, "handrecctl: cannot subscribe to EpisodeEnded: %s\n", strerror(-r)), 1;
        printf("Recording on %s%s%s; task: %s; operator: %s.\n", s.hands[0], s.n > 1 ? " and " : "",
               s.n > 1 ? s.hands[1] : "", s.task[0] ? s.task : "(none)", s.operator_[0] ? s.operator_ : "(none)");
        keys_mode(true);
        r = record_session(&s);
        keys_mode(false);
        printf("%u episode%s kept (%u success%s, %u failure%s), %u discarded.\n", s.kept, s.kept == 1 ? "" : "s",
               s.successes, s.successes == 1 ? "" : "es", s.failures, s.failures == 1 ? "" : "s", s.discarded);
        return r;
}
