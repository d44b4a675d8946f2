/* SPDX-License-Identifier: MIT */
/*
 * episode.h — an episode: the takes one StartEpisode begins on several hands (or StartRecording
 * calls that share an "episode" option), as one unit.
 *
 * DESIGN (main thread only; the layer between the bus and the hands: bus.c calls it, it calls
 * hand.c, and hand.c calls neither)
 * - All or none: episode_start() checks every hand can start before any does, then starts each;
 *   if one still fails, the takes already started are stopped and their files deleted once they
 *   are complete (they hold a moment of frames), and the caller gets that hand's reason.
 * - One ends, all end: a take of a running episode that ends by itself (device lost, disk full,
 *   I/O error, a camera that stopped sending, its replay's end) ends the others (a duration, the
 *   same for every take of a StartEpisode, ends each of them by itself),
 *   with stop reason "partner-stopped" and a LastError naming the hand and why. The bus layer
 *   reacts to the hand's HAND_NOTICE_ENDING before it reads the next message, well within a
 *   second of the first take ending.
 * - The manifest: <output_dir>/episodes/<id>.json (episode-manifest.c), written atomically when
 *   the episode starts, when its last take is complete, and when the operator decides (kept or
 *   discarded, success or failure, a note: episode_decide(), also for an episode of an earlier
 *   run of handrecd, read back from its manifest). The outcome: "complete" when every take ended
 *   as asked (stopped, its duration, its replay's end), "incomplete" otherwise, with the reason.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "pipeline.h"

struct daemon;
struct hand;
struct take_options;

#define EPISODE_NOTE_MAX 1024
/* episodes kept in memory (every running one, and the last ones ended, for DecideEpisode) */
#define EPISODES_KEPT 8

struct episode_take {
        char hand[16];
        char file[PATH_MAX]; /* absolute */
        bool active;         /* not yet complete */
        enum stop_reason reason;
        char error[512]; /* LastError of its end, "" when none */
        uint64_t frames;
        double duration;
        char qc_verdict[512]; /* the quality in a sentence ("ok"), "" until the take ended */
        uint64_t qc_frozen, qc_dark, qc_overexposed, qc_blurred, qc_camera_gaps, qc_timestamp_gaps;
};

struct episode {
        char id[TAKE_EPISODE_MAX + 1]; /* "" : this slot is free */
        char task[TAKE_TASK_MAX + 1];
        char operator_[TAKE_OPERATOR_MAX + 1];
        char host[64];
        char started_utc[32], ended_utc[32]; /* ended_utc "" while it runs */
        struct episode_take takes[2];
        unsigned n_takes;
        bool abandoned;    /* a start that could not start every hand: its files go when complete */
        bool ending;       /* a take ended by itself: the others were stopped for it */
        char outcome[16];  /* "recording", "complete", "incomplete" */
        char reason[600];  /* why incomplete: the first take that ended abnormally */
        char decision[16]; /* "", "kept", "discarded" */
        int success;       /* -1 not said, 0 failure, 1 success */
        char note[EPISODE_NOTE_MAX + 1];
        char decided_utc[32];
        bool announce; /* ended and not yet said on the bus (EpisodeEnded) */
};

/* The operator's decision (DecideEpisode); each field only when given. */
struct episode_decision {
        int keep;    /* -1 not given, 0 discard (the takes are deleted), 1 keep */
        int success; /* -1 not given */
        bool has_note;
        char note[EPISODE_NOTE_MAX + 1];
};

/** episode_make_id() - a new id: UTC time and 6 random hex digits (20261126T043500Z-3fa9c1). */
void episode_make_id(char *buf, size_t len);

/**
 * episode_start() - start a take on each of the @n hands as one episode, all or none (DESIGN).
 * @o: the takes' options; o->episode is the id (made by episode_make_id() when empty, written
 * back). Return: 0, or negative with @error set to the reason of the hand that could not start.
 */
int episode_start(struct daemon *d, struct hand *const *hands, unsigned n, struct take_options *o, sd_bus_error *error);

/** episode_joined() - the take @h just started with an "episode" option joins that episode. */
void episode_joined(struct daemon *d, struct hand *h);

/** episode_take_ending() - @h's take is ending (HAND_NOTICE_ENDING): partners stopped if need be. */
void episode_take_ending(struct daemon *d, struct hand *h);

/** episode_take_ended() - @h's take is complete (HAND_NOTICE_ENDED): the episode ends with its last. */
void episode_take_ended(struct daemon *d, struct hand *h);

/** episode_find() - the episode @id in memory, or NULL. */
struct episode *episode_find(struct daemon *d, const char *id);

/**
 * episode_decide() - the operator's decision on episode @id (in memory, or read back from its
 * manifest): recorded in the manifest; keep = 0 deletes its takes (DiscardTake's rules).
 * Return: 0 and *@ret (the episode as it now stands), or negative with @error set.
 */
int episode_decide(struct daemon *d, const char *id, const struct episode_decision *dec, struct episode *ret,
                   sd_bus_error *error);

/* episode-manifest.c */

/**
 * episode_manifest_write() - <output_dir>/episodes/<id>.json, atomically (a temporary file,
 * fsync, rename, the folder synced). Return: 0 or negative errno, logged.
 */
int episode_manifest_write(const char *output_dir, const struct episode *e);

/**
 * episode_manifest_read() - the manifest of episode @id into *@ret. Return: 0, -ENOENT, or
 * -EBADMSG (not a manifest handrecd wrote).
 */
int episode_manifest_read(const char *output_dir, const char *id, struct episode *ret);

/**
 * episode_manifest_list() - the ids of the manifests in <output_dir>/episodes, newest first (the
 * ids begin with their UTC start), at most @max, into @ids (each TAKE_EPISODE_MAX + 1 bytes).
 * Return: how many, or negative errno.
 */
int episode_manifest_list(const char *output_dir, char (*ids)[TAKE_EPISODE_MAX + 1], unsigned max);
