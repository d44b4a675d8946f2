/* SPDX-License-Identifier: MIT */
/* handrecctl.h — what the files of handrecctl share: the bus calls, the hand views, following takes, the commands. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "../lib/util.h"

#define MAX_HANDS 2
#define HAND_NAME_MAX 16

/* handrecctl.c: options */

struct args {
        const char *hand; /* the first --hand given */
        const char *label, *task;
        double duration;
        long quality;
        bool quality_set; /* any number given is sent: the daemon says what range it takes */
        bool follow;
        int rectify;                  /* -1: the daemon's default (--rectify/--no-rectify, --rectified/--raw) */
        const char *hands[MAX_HANDS]; /* every --hand given, in order, each once */
        unsigned n_hands;
        bool all_hands;              /* --hand all: every configured hand */
        bool json;                   /* --json: one JSON document on standard output */
        bool last;                   /* discard --last */
        const char *file;            /* the FILE of discard */
        const char *listen, *output; /* preview, snapshot */
        const char *allow_hosts[8];  /* preview --allow-host, in order */
        unsigned n_allow_hosts;
        const char *token_file; /* preview --token-file */
        double fps;             /* 0: not given */
        long max_width;         /* -1: not given */
        bool guides;
        const char *operator_; /* --operator (start, record) */
        long episodes;         /* record --episodes: 0, until q */
        double reset;          /* record --reset: seconds between episodes, 0: a key starts each */
        int success;           /* keep --success 1, --failure 0; -1: not said */
        const char *note;      /* keep --note */
        const char *episode;   /* --episode (takes, keep, discard) */
        const char *since;     /* takes --since, as given */
        bool yes;              /* discard -y: no question on a terminal */
};

/**
 * parse_args() - parse the options of @command, which takes those its entry of the command table
 * (handrecctl.c) names, into @a ('@' there: and one FILE argument, into a->file).
 * Return: 0, -1 (--help), or 2 (usage error, printed).
 */
int parse_args(const char *command, int argc, char *argv[], struct args *a);

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

/* One key of an a{sv}, read into a member of a struct: "t", "u", "d" into uint64_t, uint32_t,
 * double; "s" copied into a char array; "a{st}" written into a char array as the non-zero counts,
 * "camera:3, queue-full:1". Keys that are not listed, or of another type, are skipped. */
struct dict_field {
        const char *key;
        const char *signature;
        size_t offset, size;
};

#define DICT_FIELD(type, member, key, signature)                                                                       \
        { key, signature, offsetof(type, member), sizeof(((type *) NULL)->member) }

/** read_dict() - read the a{sv} @m is at into the struct at @base, as the @n_fields @fields say. */
int read_dict(sd_bus_message *m, const struct dict_field *fields, size_t n_fields, void *base);

/* What the client knows of a hand: from Status, then from PropertiesChanged. */
struct hand_view {
        char name[HAND_NAME_MAX];
        char state[16];
        char file[PATH_MAX];
        char last_error[ERROR_SENTENCE_MAX];
        uint64_t captured, written, dropped, bytes, missing;
        uint32_t queue, queue_capacity;
        uint64_t resident_memory, disk_free;
        char episode[128], task[1100], warnings[1024];
        double fps, duration, skew_mean, skew_max, camera_fps;
        double disk_time_left; /* < 0: not known yet */
};

/** read_properties() - read one a{sv} of Hand properties (a Status reply or a PropertiesChanged body) into @v. */
int read_properties(sd_bus_message *m, struct hand_view *v);

/** call_status() - the Status reply of @hand (its a{sv}). Return: 0, or 1 (printed). */
int call_status(sd_bus *bus, const char *hand, sd_bus_message **ret_reply);

/** get_status() - the Status of @hand, into @v. Return: 0, or 1 (printed). */
int get_status(sd_bus *bus, const char *hand, struct hand_view *v);

/** view_line_fit() - @v as the one-line status into @buf, in at most @width columns. Return: @buf. */
char *view_line_fit(const struct hand_view *v, char *buf, size_t len, size_t width);

/** view_line() - @v as the whole one-line status into @buf. Return: @buf. */
char *view_line(const struct hand_view *v, char *buf, size_t len);

/** print_status() - print @v: its status line, then its file, camera rate, skew and last error. */
void print_status(const struct hand_view *v);

/** list_hands() - the configured hands (ListHands). Return: 0, or 1 (printed). */
int list_hands(sd_bus *bus, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n);

/** resolve_hands() - the hands given with --hand, or every configured hand (none given, or all). Return: 0, or 1. */
int resolve_hands(sd_bus *bus, const struct args *a, char hands[MAX_HANDS][HAND_NAME_MAX], unsigned *ret_n);

/** hand_in_trouble() - whether @v's hand needs a person: in error, or without its cameras. */
bool hand_in_trouble(const struct hand_view *v);

/* The summary of a take (StopRecording's reply, RecordingStopped). */
struct take_summary {
        char reason[32], last_error[ERROR_SENTENCE_MAX], causes[256], verdict[1024];
        uint64_t captured, written, dropped, bytes;
        double duration, fps;
};

/** read_summary() - read the a{sv} summary @m is at into @s. Return: 0, or 1 (printed). */
int read_summary(sd_bus_message *m, struct take_summary *s);

/** summary_as_asked() - whether the take ended as asked (requested, or its duration), not by itself. */
bool summary_as_asked(const struct take_summary *s);

/** summary_fault() - whether the take ended for a fault: device-lost, disk-full, io-error, partner-stopped. */
bool summary_fault(const struct take_summary *s);

/** print_take_summary() - @s as one line, then its quality verdict and last error when there are. */
void print_take_summary(const char *hand, const struct take_summary *s);

/** print_summary() - read_summary() and print_take_summary(). Return: 0, or 1 (printed). */
int print_summary(const char *hand, sd_bus_message *m);

/* One entry of ListTakes: the file and its a{sv}. */
struct take_view {
        char file[PATH_MAX];
        char hand[HAND_NAME_MAX], started_utc[40], episode[80], task[1100], label[256], status[16];
        char stop_reason[32], error[256], operator_[72], verdict[1024];
        uint64_t frames, bytes;
        double duration;
};

/** read_take() - read one (sa{sv}) of ListTakes' reply, which @m is in, into @t. */
int read_take(sd_bus_message *m, struct take_view *t);

/* What ListTakes is asked for. */
struct takes_query {
        const char *hand, *episode, *task, *since; /* NULL: any; since as ListTakes takes it (UTC) */
        uint32_t limit;
};

/** list_takes() - call ListTakes with @q; @ret_reply is at its array. Return: 0, or 1 (printed). */
int list_takes(sd_bus *bus, const struct takes_query *q, sd_bus_message **ret_reply);

/** next_take() - read the next take of the array ListTakes' reply is in. Return: 1, 0 at its end, or negative errno. */
int next_take(sd_bus_message *m, struct take_view *t);

/* One episode of ListEpisodes (its manifest). */
struct episode_view {
        char id[80], task[1100], operator_[72], outcome[16], reason[1100], decision[16], success[16], note[1100];
};

/** list_episodes() - ListEpisodes, the newest 1000; @ret_reply is at its array. Return: 0, or 1 (printed). */
int list_episodes(sd_bus *bus, sd_bus_message **ret_reply);

/** next_episode() - the next episode of ListEpisodes' reply. Return: 1, 0 at its end, or negative errno. */
int next_episode(sd_bus_message *m, struct episode_view *e);

/** confirm() - on a terminal (unless @yes), ask @question [y/N]. Return: whether to go on (no terminal: yes). */
bool confirm(bool yes, const char *question);

/* handrecctl-watch.c: following takes */

/*
 * Following takes: subscribe first (watch_subscribe), then start a take or read the current
 * state, then watch_run(). Signals that arrive while a call waits for its reply are queued by
 * sd-bus and handled in watch_run(), so a take that ends at once is still seen to end.
 */
struct watch {
        struct hand_view views[MAX_HANDS];
        char files[MAX_HANDS][PATH_MAX];     /* the take of each view whose end it waits for; "": any take */
        bool ended[MAX_HANDS];               /* that take has ended */
        struct take_summary ends[MAX_HANDS]; /* how it ended (RecordingStopped), once ended[] */
        unsigned n;
        bool lost, tty, quiet;  /* quiet: print no summaries (record prints its own) */
        bool stop_on_interrupt; /* Ctrl-C stops the takes (start --follow, record) */
        struct watch_stop {
                struct watch *w;
                unsigned i;
        } stops[MAX_HANDS]; /* the StopRecording calls' userdata */
        int64_t last_print_ns;
        unsigned drawn_lines; /* a terminal: the lines of the live status drawn last, redrawn in place */
};

/** watch_add() - watch @hand too, until its take @file ends (NULL: its next take). At most MAX_HANDS. */
void watch_add(struct watch *w, const char *hand, const char *file);

/** watch_done() - whether every watched take has ended. */
bool watch_done(const struct watch *w);

/** watch_subscribe() - subscribe to the signals watch_run() needs. Return: 0, or 1 (printed). */
int watch_subscribe(struct watch *w, sd_bus *bus);

/**
 * watch_run() - read each watched hand's state, show it, and follow it until the watched take
 * ends, the daemon leaves, or Ctrl-C. Call after watch_subscribe(). Return: 0, or 1 (printed:
 * also when a take ended for a fault, summary_fault()).
 */
int watch_run(struct watch *w, sd_bus *bus);

/** watch_interrupted() - how many times Ctrl-C (or SIGTERM) came since watch_catch_interrupts(). */
unsigned watch_interrupted(void);

/** watch_catch_interrupts() - count SIGINT and SIGTERM from now on instead of dying of them. */
void watch_catch_interrupts(void);

/** watch_pump() - handle what the bus has, or wait for it up to @usec. Return: 0, or 1 (printed). */
int watch_pump(struct watch *w, sd_bus *bus, uint64_t usec);

/** watch_end_line() - end the live status on a terminal, so that what is printed next is not drawn over. */
void watch_end_line(struct watch *w);

/** watch_stop_all() - send StopRecording for each watched take not yet ended (async). Return: 0, or 1. */
int watch_stop_all(struct watch *w, sd_bus *bus);

/* handrecctl-keys.c: the keyboard of `record`, a key at a time */

/** keys_mode() - on a terminal, read keys one at a time without echo (true), or restore it (false). */
void keys_mode(bool keys);

/** keys_forget() - on a terminal, forget the keys typed ahead: the next question gets a fresh key. */
void keys_forget(void);

/**
 * keys_wait() - handle the bus while waiting for a key, until @deadline_ns (CLOCK_MONOTONIC; 0:
 * none). Return: 1 with *@ret_key ('q' at the end of input); 0 when @w's takes have all ended
 * (@until_done), Ctrl-C came, or the deadline passed; -1 when the daemon left or on an error (printed).
 */
int keys_wait(struct watch *w, sd_bus *bus, bool until_done, int64_t deadline_ns, int *ret_key);

/** keys_read_line() - a line of text, echoed and edited by the terminal. Return: its length, or -errno (-EINTR: Ctrl-C). */
int keys_read_line(char *buf, size_t len);

/* handrecctl-json.c: --json */
typedef struct json_object json_object;

/** json_read_value() - the next complete value of @m as a new json object (a{sv}: an object). */
int json_read_value(sd_bus_message *m, json_object **ret);

/** json_new_double() - @d as a json double printed with at most 15 significant digits ("%.15g"; 30.0, not 30). */
json_object *json_new_double(double d);

/** json_object_putp() - for _cleanup_: release *@o (NULL: nothing). */
void json_object_putp(json_object **o);

/** json_key_style() - @key in the one style of every --json key: "FramesWritten" → "frames_written", "queue-full" → "queue_full". */
void json_key_style(const char *key, char *buf, size_t len);

/** json_print() - print @o as one JSON document on standard output, every key in json_key_style(). Return: 0, or 1. */
int json_print(json_object *o);

/** json_parse_error() - say the reply could not be read. Return: 1. */
int json_parse_error(int r);

/* handrecctl-upload.c: handrec-offload's uploads (org.handrec1.Offload), when it is on the bus */

/* handrec-offload's Status (docs/dbus-api.md, org.handrec1.Offload). */
struct upload_status {
        char state[16], remote[1024], current[PATH_MAX], last_error[1024], space_note[1024];
        uint32_t takes_behind, uploaded, removed;
        uint64_t bytes_behind, current_done, current_size, free_bytes, keep_free_bytes, max_takes_bytes;
        double rate, next_retry;
};

/* One take of ListUploads: pending, uploading, uploaded-verified or failed (with its error). */
struct take_upload {
        char state[24], error[1024], remote[PATH_MAX];
};

/**
 * upload_call() - call handrec-offload's @member (no arguments) without starting it (auto-start off).
 * Return: 1 with @ret_reply (the caller's), or 0 when it has no answer: not on the bus (silently),
 * or failing otherwise (said on standard error, as a note: never an error of the command).
 */
int upload_call(sd_bus *bus, const char *member, sd_bus_message **ret_reply);

/** upload_read_status() - read the a{sv} of Status' @reply into @ret. Return: 0, or negative errno. */
int upload_read_status(sd_bus_message *reply, struct upload_status *ret);

/** upload_line() - @s as status' line, "upload: 3 takes, 12.1GB behind, 8.4MB/s", into @buf. Return: @buf. */
char *upload_line(const struct upload_status *s, char *buf, size_t len);

/**
 * upload_show_status() - print handrec-offload's status line, or add its Status as key "upload" to
 * @o (--json; NULL: print). Nothing when it is not on the bus. Return: 0 (the upload state never
 * makes status fail).
 */
int upload_show_status(sd_bus *bus, json_object *o);

/**
 * upload_each() - call @fn with each take of ListUploads' @reply (its file and state; both valid
 * only during the call). Return: 0, or negative errno (said on standard error).
 */
int upload_each(sd_bus_message *reply, void (*fn)(const char *file, const struct take_upload *u, void *userdata),
                void *userdata);

/* handrecctl-start.c: the episode made by one start */

/** make_episode_id() - a new episode id: UTC time and a random suffix, [A-Za-z0-9_.-]. */
void make_episode_id(char *buf, size_t len);

/**
 * start_hands() - start a take on each of @hands with the options in @a as one @episode
 * (StartEpisode: handrecd starts every hand or none). @files gets each take's file.
 * Return: 0, or 1 (printed: the reason of the hand that could not start).
 */
int start_hands(sd_bus *bus, const struct args *a, const char *episode, char hands[][HAND_NAME_MAX], unsigned n,
                char files[][PATH_MAX]);

/* default_operator() - the login name of whoever runs handrecctl (`start` and `record` send it as
 * the operator when --operator is not given); "" when there is none. */
void default_operator(char *buf, size_t len);

/** stop_hand() - StopRecording(@hand); @ret_reply positioned at the summary. Return: 0, or 1 (printed). */
int stop_hand(sd_bus *bus, const char *hand, sd_bus_message **ret_reply);

/* commands */
int run_start(int argc, char *argv[]);
int run_stop(int argc, char *argv[]);
int run_record(int argc, char *argv[]);
int run_takes(int argc, char *argv[]);
int run_discard(int argc, char *argv[]);
int run_keep(int argc, char *argv[]);
int run_watch(int argc, char *argv[]);
int run_devices(int argc, char *argv[]);

/* handrecctl-preview.c, handrecctl-snapshot.c: seeing the cameras (handrecctl-preview.h) */
int run_preview(int argc, char *argv[]);
int run_snapshot(int argc, char *argv[]);

/* handrecctl-files.c: commands on take files, no daemon needed */
int run_check(int argc, char *argv[]);
int run_recover(int argc, char *argv[]);

/* handrecctl-info.c: what a take file is */
int run_info(int argc, char *argv[]);
