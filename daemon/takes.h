/* SPDX-License-Identifier: MIT */
/*
 * takes.h — the finished takes in save.output_dir, as ListTakes lists them (take-list.c) and
 * DiscardTake deletes one (take-discard.c). Main thread only.
 *
 * DESIGN: no take file is opened with HDF5 in handrecd's process for these: HDF5 1.10 goes round
 * forever in some damaged files, or writes past its buffers (tests/fuzz/README.md), and one such
 * file in the output folder froze the main thread at every ListTakes. Each file is opened here
 * (O_NOFOLLOW, checked regular) and its descriptor handed to a take reader, a child process that
 * reads it with HDF5 (lib/take-reader.h). ListTakes waits for the child's answers in the event
 * loop (take-list.c), DiscardTake for its one file (TAKE_READER_WAIT_MS at most); a file on
 * which the child goes round (TAKE_READER_CPU_MS of CPU time) or crashes is remembered as
 * damaged (d->damaged_takes) while it is unchanged. A running take is told from the daemon's
 * state, never opened.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

struct daemon;

#define TAKES_LIMIT_DEFAULT 50
#define TAKES_LIMIT_MAX 1000

/* ListTakes' options: episode (s), hand (s), limit (u, 1-1000), since (s), task (s). */
struct takes_list_options {
        const char *hand;    /* NULL: every hand; borrowed from the message, as the others */
        const char *episode; /* NULL: any; else only its takes */
        const char *task;    /* NULL: any; else only takes of exactly this task */
        const char *since;   /* NULL: any; else takes started then or later, "2026-12-06T09:30:00Z" */
        unsigned limit;      /* at most this many takes (the newest that match) */
};

/**
 * takes_read_options() - ListTakes' a{sv} at @m's position into *@ret (defaults for what is not
 * given), read as every method's options are (bus-options.h): unknown keys, keys given twice,
 * wrong types and values out of range refused with InvalidOption and a sentence. The hand is
 * not checked against the configuration here. Return: 0, or negative with @error set.
 */
int takes_read_options(sd_bus_message *m, struct takes_list_options *ret, sd_bus_error *error);

/* ListTakes calls answered at once (takes_list_start()); one more is refused */
#define TAKES_LISTINGS_MAX 4

/**
 * takes_list_start() - answer the ListTakes call @m: the newest takes that @o asks for (its
 * strings are @m's), newest first, as a(sa{sv}). The reply is sent from the event loop once the
 * files are read (DESIGN above). Return: 1 (the reply will come), or negative with @error set.
 */
int takes_list_start(struct daemon *d, sd_bus_message *m, const struct takes_list_options *o, sd_bus_error *error);

/** takes_listings_free() - drop the ListTakes calls not answered yet (at exit), their children ended. */
void takes_listings_free(struct daemon *d);

/**
 * takes_discard() - delete the finished take @file (DiscardTake; the rules are in take-discard.c).
 * Return: 0, or negative with @error set (NotATake, TakeInUse, or the system's reason).
 */
int takes_discard(struct daemon *d, const char *file, sd_bus_error *error);

/**
 * takes_open_hand_dir() - open the folder <output_dir>/@hand read-only, without following a link
 * there. Return: the descriptor (the caller's), or -errno (-ENOTDIR also for a link).
 */
int takes_open_hand_dir(const char *output_dir, const char *hand);
