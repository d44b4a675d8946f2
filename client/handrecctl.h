/* SPDX-License-Identifier: MIT */
/* handrecctl.h — what the files of handrecctl share: the bus calls, the hand views, following takes, the commands. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "../daemon/pipeline.h"

#define MAX_HANDS 2
#define HAND_NAME_MAX 16

/* handrecctl.c: options */

struct args {
        const char *hand, *label;
        double duration;
        long quality;
        bool quality_set; /* any number given is sent: the daemon says what range it takes */
        bool follow;
        int rectify;                  /* -1: the daemon's default (--rectify/--no-rectify, --rectified/--raw) */
        const char *hands[MAX_HANDS]; /* every --hand given, in order (preview) */
        unsigned n_hands;
        const char *listen, *output; /* preview, snapshot */
        double fps;                  /* 0: not given */
        long max_width;              /* -1: not given */
        bool guides;
};

/**
 * parse_args() - parse the options of @command, which takes those in @allowed, into @a.
 * Return: 0, -1 (--help), or 2 (usage error, printed).
 */
int parse_args(const char *command, const char *allowed, int argc, char *argv[], struct args *a);

/** usage_error() - print @what and where to find help for @command (NULL: handrecctl). Return: 2. */
int usage_error(const char *command, const char *what);

/* handrecctl-bus.c: connection, calls and errors */

/* Talk to handrecd on the session bus (--user) rather than the system bus. */
extern bool arg_user;

/** bus_error() - print why a call failed, in words a person can act on. Return: 1, the exit status. */
int bus_error(const sd_bus_error *e, int r);

/** connect_bus() - connect to the bus arg_user says. Return: 0, or 1 (printed). */
int connect_bus(sd_bus **ret);

/** new_call() - a new call of the Manager's method @member. Return: 0, or 1 (printed). */
int new_call(sd_bus *bus, const char *member, sd_bus_message **ret);

/** call() - send @m and wait up to @usec (0: sd-bus' default) for @ret_reply. Return: 0, or 1 (printed). */
int call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_message **ret_reply);

/* handrecctl-view.c: hand status and take summaries */

/* What the client knows of a hand: from Status, then from PropertiesChanged. */
struct hand_view {
        char name[HAND_NAME_MAX];
        char state[16];
        char file[PATH_MAX];
        char last_error[PIPELINE_ERROR_MAX];
        uint64_t captured, written, dropped, bytes;
        uint32_t queue;
        double fps, duration, skew_mean, skew_max, camera_fps;
};

/** read_properties() - read one a{sv} of Hand properties (a Status reply or a PropertiesChanged body) into @v. */
int read_properties(sd_bus_message *m, struct hand_view *v);

/** get_status() - the Status of @hand, into @v. Return: 0, or 1 (printed). */
int get_status(sd_bus *bus, const char *hand, struct hand_view *v);

/** view_line() - @v as the one-line status into @buf. Return: @buf. */
char *view_line(const struct hand_view *v, char *buf, size_t len);

/** print_status() - print @v: its status line, then its file, camera rate, skew and last error. */
void print_status(const struct hand_view *v);

/** list_hands() - the configured hands (ListHands). Return: 0, or 1 (printed). */
int list_hands(sd_bus *bus, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n);

/** resolve_hands() - @hand (given with --hand), or else every configured hand. Return: 0, or 1 (printed). */
int resolve_hands(sd_bus *bus, const char *hand, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n);

/**
 * print_summary() - read the a{sv} summary @m is at (StopRecording's reply, RecordingStopped) and
 * print it as one line (two with a last error). Return: 0, or 1 (printed).
 */
int print_summary(const char *hand, sd_bus_message *m);

/* handrecctl-watch.c: following takes */

/*
 * Following takes: subscribe first (watch_subscribe), then start a take or read the current
 * state, then watch_run(). Signals that arrive while a call waits for its reply are queued by
 * sd-bus and handled in watch_run(), so a take that ends at once is still seen to end.
 */
struct watch {
        struct hand_view views[MAX_HANDS];
        unsigned n;
        char file[PATH_MAX]; /* the take whose end ends the watch; "": a take of any watched hand */
        bool done, lost, tty;
        int64_t last_print_ns;
};

/** watch_add() - watch @hand too (at most MAX_HANDS; a name too long for a hand is ignored). */
void watch_add(struct watch *w, const char *hand);

/** watch_subscribe() - subscribe to the signals watch_run() needs. Return: 0, or 1 (printed). */
int watch_subscribe(struct watch *w, sd_bus *bus);

/**
 * watch_run() - read each watched hand's state, show it, and follow it until the watched take
 * ends, the daemon leaves, or Ctrl-C. Call after watch_subscribe(). Return: 0, or 1 (printed).
 */
int watch_run(struct watch *w, sd_bus *bus);

/* handrecctl-watch.c, handrecctl-devices.c: commands */
int run_watch(int argc, char *argv[]);
int run_devices(int argc, char *argv[]);

/* handrecctl-preview.c, handrecctl-snapshot.c: seeing the cameras (handrecctl-preview.h) */
int run_preview(int argc, char *argv[]);
int run_snapshot(int argc, char *argv[]);

/* handrecctl-files.c: commands on take files, no daemon needed */
int run_check(int argc, char *argv[]);
int run_recover(int argc, char *argv[]);
