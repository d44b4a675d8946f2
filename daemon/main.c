/* SPDX-License-Identifier: MIT */
/*
 * main.c — handrecd: arguments, configuration, the sd-event loop on the main thread, signals,
 * sd_notify (READY, STATUS, WATCHDOG) and the 4 Hz tick that publishes progress.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "bus.h"
#include "memory-budget.h"
#include "process-memory.h"
#include "takes.h"
#include "../lib/take-reader.h"
#include "../lib/util.h"
#include "../lib/version.h"

#define TICK_USEC (250 * 1000)

static void publish(struct daemon *d) {
        char status[1024] = "";

        for (unsigned i = 0; i < d->n_hands; i++) {
                struct hand *h = &d->hands[i];
                char line[256];

                if (hand_is_active(h))
                        bus_emit_hand_changed(h, false);
                if (hand_is_active(h) || h->had_take)
                        hand_status_line(h, line, sizeof(line));
                else
                        snprintf(line, sizeof(line), "[%s] %s", h->config->name, hand_state_to_string(h->state));
                snprintf(status + strlen(status), sizeof(status) - strlen(status), "%s%s", i ? "; " : "", line);
        }
        /* STATUS= at most once a second: the service manager logs nothing of it, but reads it all */
        uint64_t now = 0;
        sd_event_now(d->event, CLOCK_MONOTONIC, &now);
        if (!streq(status, d->notified_status) && now >= d->notified_usec + USEC_PER_SEC) {
                d->notified_usec = now;
                snprintf(d->notified_status, sizeof(d->notified_status), "%s", status);
                sd_notifyf(false, "STATUS=%s", status);
        }
}

/* WATCHDOG=1 only while every hand's threads make progress: a thread busy with one disk write
 * or one frame for half the watchdog interval is stuck, and systemd should restart us (the take
 * it was writing is recovered at the next start). The main loop alone staying alive is not
 * enough, so sd-event's own watchdog feeding is not used. */
static void feed_watchdog(struct daemon *d) {
        int64_t now = now_ns(CLOCK_MONOTONIC), limit = (int64_t) d->watchdog_usec * 1000 / 2, worst = 0;
        char what[128] = "", hand_what[128];
        const char *hand = "";

        if (d->watchdog_usec == 0)
                return;
        for (unsigned i = 0; i < d->n_hands; i++) {
                int64_t b = pipeline_stuck(d->hands[i].pipeline, now, hand_what, sizeof(hand_what));
                if (b > worst) {
                        worst = b;
                        hand = d->hands[i].config->name;
                        snprintf(what, sizeof(what), "%s", hand_what);
                }
        }
        if (worst > limit) {
                if (!d->watchdog_starved)
                        log_error("%s: %s has made no progress for %.0f s; no longer feeding systemd's watchdog, "
                                  "so that handrecd is restarted (its take is recovered then).",
                                  hand, what, (double) worst / 1e9);
                d->watchdog_starved = true;
                return;
        }
        d->watchdog_starved = false;
        if (now - d->watchdog_fed_ns >= limit / 2) {
                sd_notify(false, "WATCHDOG=1");
                d->watchdog_fed_ns = now;
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        publish(userdata);
        feed_watchdog(userdata);
        sd_event_source_set_time(s, usec + TICK_USEC);
        return 0;
}

static int on_signal(sd_event_source *s _unused_, const struct signalfd_siginfo *si, void *userdata) {
        struct daemon *d = userdata;

        if (si->ssi_signo == SIGHUP) {
                if (daemon_reload(d) < 0) {
                        d->exit_code = 1; /* systemd starts us again, with the new file */
                        hand_shutdown_all(d);
                }
                return 0;
        }
        log_info("Received %s.", strsignal((int) si->ssi_signo));
        hand_shutdown_all(d);
        return 0;
}

static void help(void) {
        printf("handrecd — records stereo hand cameras into HDF5, controlled over D-Bus (%s).\n\n"
               "Usage: handrecd [OPTIONS]\n\n"
               "  -c, --config FILE   configuration file (default " CONFIG_DEFAULT_PATH ")\n"
               "      --check-config  check the configuration, print every problem, and exit\n"
               "      --user          use the session bus (DBUS_SESSION_BUS_ADDRESS) instead of the system bus\n"
               "  -v, --verbose       log debug messages\n"
               "      --version       print the version and exit\n"
               "  -h, --help          show this help\n\n"
               "Control it with handrecctl, or over D-Bus: " BUS_NAME " " MANAGER_PATH ".\n",
               BUS_NAME);
}

/* The shipped unit runs handrecd with PrivateTmp=yes: takes written under /tmp or /var/tmp
 * would be in the service's own /tmp, gone when it stops. */
static void warn_private_tmp(const struct config *c) {
        const char *dir = c->output_dir;

        if (strncmp(dir, "/tmp/", 5) == 0 || streq(dir, "/tmp") || strncmp(dir, "/var/tmp/", 9) == 0 ||
            streq(dir, "/var/tmp"))
                fprintf(stderr,
                        "%s: warning: save.output_dir = \"%s\" is under /tmp: as a service (PrivateTmp=yes) "
                        "handrecd writes to a /tmp of its own, and the takes vanish when it stops. Choose a "
                        "folder outside /tmp (the default is /var/lib/handrec).\n",
                        c->path, dir);
}

struct args {
        const char *config_path;
        bool check, user_bus;
};

/* Return: -1 to go on, or the exit code. */
static int parse_args(int argc, char *argv[], struct args *a) {
        enum { ARG_CHECK = 0x100, ARG_USER, ARG_VERSION };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"check-config", no_argument, NULL, ARG_CHECK},
                {"user", no_argument, NULL, ARG_USER},
                {"verbose", no_argument, NULL, 'v'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        *a = (struct args){.config_path = CONFIG_DEFAULT_PATH};
        while ((c = getopt_long(argc, argv, "c:vh", options, NULL)) >= 0)
                switch (c) {
                case 'c': a->config_path = optarg; break;
                case ARG_CHECK: a->check = true; break;
                case ARG_USER: a->user_bus = true; break;
                case 'v': log_max_level = LOG_LEVEL_DEBUG; break;
                case ARG_VERSION: printf("handrecd %s\n", HANDREC_VERSION); return EXIT_SUCCESS;
                case 'h': help(); return EXIT_SUCCESS;
                default: fprintf(stderr, "Try 'handrecd --help'.\n"); return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "handrecd: unexpected argument '%s'; try 'handrecd --help'.\n", argv[optind]);
                return 2;
        }
        return -1;
}

/* The event loop with the signals (blocked before any thread exists: only sd-event reads them). */
static int setup_events(struct daemon *d) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = sd_event_default(&d->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");
        sd_event_add_signal(d->event, NULL, SIGTERM, on_signal, d);
        sd_event_add_signal(d->event, NULL, SIGINT, on_signal, d);
        sd_event_add_signal(d->event, NULL, SIGHUP, on_signal, d);
        if (sd_watchdog_enabled(false, &d->watchdog_usec) <= 0) /* fed by feed_watchdog() */
                d->watchdog_usec = 0;
        return 0;
}

/* Recover what a crash left, set up the hands, the bus and the tick. */
static int setup_daemon(struct daemon *d, bool user_bus) {
        uint64_t now;
        int r;

        boot_recover_takes(d); /* before any take can start */
        for (unsigned i = 0; i < d->config->n_hands; i++) {
                r = hand_init(&d->hands[i], d, &d->config->hands[i]);
                d->n_hands = i + 1;
                if (r < 0)
                        return r;
        }
        r = bus_setup(d, user_bus);
        if (r < 0)
                return r;
        bus_emit_recovered(d);
        sd_event_now(d->event, CLOCK_MONOTONIC, &now);
        r = sd_event_add_time(d->event, &d->tick, CLOCK_MONOTONIC, now + TICK_USEC, 0, on_tick, d);
        if (r < 0)
                return log_error_errno(r, "Failed to add the status timer: %m");
        sd_event_source_set_enabled(d->tick, SD_EVENT_ON);
        return 0;
}

static void teardown(struct daemon *d) {
        for (unsigned i = 0; i < d->n_hands; i++) {
                bus_remove_hand(&d->hands[i]); /* its slot holds a reference to the bus */
                hand_done(&d->hands[i]);       /* finishes any take still open */
        }
        takes_listings_free(d);
        d->tick = sd_event_source_unref(d->tick);
        d->notices = sd_event_source_unref(d->notices);
        if (d->bus) {
                sd_bus_flush(d->bus);
                d->bus = sd_bus_flush_close_unref(d->bus);
        }
        d->event = sd_event_unref(d->event);
        boot_recovered_free(d);
        config_free(d->config);
}

int main(int argc, char *argv[]) {
        struct daemon d = {};
        struct args a;
        int r, ret = EXIT_FAILURE;

        if (argc == 2 && streq(argv[1], TAKE_READER_ARG))
                take_reader_serve(TAKE_READER_FD); /* handrecd's own child (takes.h): never returns */
        process_memory_setup();                    /* before any allocation of note, and any thread */
        r = parse_args(argc, argv, &a);
        if (r >= 0)
                return r;
        r = config_load(a.config_path, memory_budget_check, &d.config, stderr);
        if (r < 0) {
                fprintf(stderr, "handrecd: %s is not usable; fix the lines above%s.\n", a.config_path,
                        a.check ? "" : " and start handrecd again");
                return EXIT_FAILURE;
        }
        if (a.check) {
                warn_private_tmp(d.config);
                if (preflight(d.config) < 0) {
                        fprintf(stderr, "handrecd: %s is not usable; fix the lines above.\n", a.config_path);
                        config_free(d.config);
                        return EXIT_FAILURE;
                }
                printf("%s: OK (%u hand%s; needs at most %llu of save.max_memory_mb = %llu MB)\n", a.config_path,
                       d.config->n_hands, d.config->n_hands == 1 ? "" : "s",
                       (unsigned long long) (memory_budget_daemon(d.config) >> 20),
                       (unsigned long long) (d.config->max_memory_bytes >> 20));
                config_free(d.config);
                return EXIT_SUCCESS;
        }
        r = setup_events(&d);
        if (r >= 0)
                r = setup_daemon(&d, a.user_bus);
        if (r >= 0) {
                log_info("handrecd %s ready on the %s bus as %s: %u hand%s, output in %s.", HANDREC_VERSION,
                         a.user_bus ? "session" : "system", BUS_NAME, d.n_hands, d.n_hands == 1 ? "" : "s",
                         d.config->output_dir);
                publish(&d);
                hand_release_hdf5(&d); /* what HDF5 kept of the takes recovery read */
                log_debug("Gave back %" PRIu64 " kB the start used.", process_memory_release() >> 10);
                sd_notify(false, "READY=1");
                r = sd_event_loop(d.event);
                if (r < 0)
                        log_error_errno(r, "Event loop failed: %m");
                else if (r == 0)
                        ret = EXIT_SUCCESS; /* else the bus was lost: exit non-zero, so systemd restarts us */
        }
        teardown(&d);
        return ret;
}
