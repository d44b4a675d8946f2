/* SPDX-License-Identifier: MIT */
/*
 * takes.h — the finished takes in save.output_dir, as ListTakes lists them (take-list.c) and
 * DiscardTake deletes one (take-discard.c). Main thread only.
 *
 * DESIGN: HDF5 on the main thread. The writer threads call HDF5 while a take runs; listing and
 * discarding open *other* files (finished ones: a running take is told from the daemon's state,
 * never opened) with HDF5 on the main thread. That needs a thread-safe libhdf5 (Debian's is:
 * H5_HAVE_THREADSAFE). Built against one that is not, the main thread opens no file while any
 * take runs: ListTakes lists such files as "unreadable" and DiscardTake refuses with TakeInUse.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

struct daemon;

#define TAKES_LIMIT_DEFAULT 50
#define TAKES_LIMIT_MAX 1000

/** takes_hdf5_usable() - whether the main thread may open take files with HDF5 now (DESIGN above). */
bool takes_hdf5_usable(const struct daemon *d);

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

/**
 * takes_append_list() - append ListTakes' a(sa{sv}) to @reply: the newest takes that @o asks
 * for, newest first. Return: 0 or negative errno (the message).
 */
int takes_append_list(struct daemon *d, sd_bus_message *reply, const struct takes_list_options *o);

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

/**
 * takes_read_format() - whether the file open as @fd is an HDF5 file with format="handrec" (opened
 * through /proc/self/fd, so exactly that file). Return: 1, 0 (not a take), or -EIO.
 */
int takes_read_format(int fd);
