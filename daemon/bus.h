/* SPDX-License-Identifier: MIT */
/*
 * bus.h — the daemon's D-Bus layer (bus.c: the connection and the Manager; bus-hand.c: the Hand
 * objects; bus-episode.c: the Manager's episode methods). It stands above the hands: it calls hand.c, and hand.c never calls it, only marks
 * what is to be said (HAND_NOTICE_*, daemon.h). Main thread only.
 */
#pragma once

#include "daemon.h"

/**
 * bus_setup() - connect to the system bus (@user_bus: the session bus), serve the Manager and
 * one Hand object per hand of @d, attach to @d->event and own BUS_NAME. Logs its errors.
 * The connection is stored in @d->bus, which the caller closes.
 */
int bus_setup(struct daemon *d, bool user_bus);

/**
 * bus_dispatch_notices() - say on the bus what the hands have marked (HAND_NOTICE_*): answer
 * StopRecording and held StartRecording calls, send the signals and PropertiesChanged. Runs from
 * the deferred event bus_setup() adds, and when the loop exits.
 */
void bus_dispatch_notices(struct daemon *d);

/**
 * bus_emit_hand_changed() - PropertiesChanged for @h: with @all (a state change), every property
 * that can change; without, the counters that change while recording, and only if they did.
 */
void bus_emit_hand_changed(struct hand *h, bool all);

/**
 * bus_emit_hand_states_passed() - a PropertiesChanged, as a state change sends it, for each state
 * @h passed through since the last one but its current (h->passed): a take that stopped and
 * ended within one turn of the loop is still seen stopping before idle. Then h->passed is emptied.
 */
void bus_emit_hand_states_passed(struct hand *h);

/** bus_append_hand_status() - append @h's Status: every Hand property by name, as an a{sv}. */
int bus_append_hand_status(sd_bus_message *m, struct hand *h);

/** bus_append_summary() - append the a{sv} summary of @h's last take (StopRecording, RecordingStopped). */
int bus_append_summary(sd_bus_message *m, struct hand *h, enum stop_reason reason);

/**
 * bus_hold_start() - just after handrecd started, while @h's camera is still being opened, the
 * start call @m waits for it (hand_hold_start()): a unit ordered after handrecd.service, or a quick
 * person, gets the take instead of a refusal. Up to HELD_START_SECONDS from the call; when run again
 * (d->held_deadline), up to the same deadline; @method, the Manager's method that holds it, runs it
 * again. Return: 1 (held), 0 (go on), or negative with @error.
 */
int bus_hold_start(struct daemon *d, struct hand *h, sd_bus_message *m, sd_bus_message_handler_t method,
                   sd_bus_error *error);

/** bus_find_hand() - the hand called @name, or NULL with @error set to NoSuchHand (naming the hands). */
struct hand *bus_find_hand(struct daemon *d, const char *name, sd_bus_error *error);

/* bus-episode.c: StartEpisode, DecideEpisode, ListEpisodes (the Manager's vtable in bus.c names them) */
int bus_method_start_episode(sd_bus_message *m, void *userdata, sd_bus_error *error);
int bus_method_decide_episode(sd_bus_message *m, void *userdata, sd_bus_error *error);
int bus_method_list_episodes(sd_bus_message *m, void *userdata, sd_bus_error *error);

/** bus_emit_recovered() - a TakeRecovered signal for each take recovered at start. */
void bus_emit_recovered(struct daemon *d);

/** bus_add_hand(), bus_remove_hand() - @h's object on the bus (bus_setup() adds every hand's). */
int bus_add_hand(struct hand *h);
void bus_remove_hand(struct hand *h);
