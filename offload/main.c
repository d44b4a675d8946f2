/* SPDX-License-Identifier: MIT */
/*
 * main.c — handrec-offload: arguments, the daemon's configuration (its group offload), the
 * sd-event loop, signals, sd_notify (READY once the bus name is owned, STATUS), and the timer
 * that scans the hand folders and applies the space policy every minute. offload.h has the
 * design.
 */
#include <getopt.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "offload.h"
#include "../lib/take-reader.h"
#include "../lib/util.h"

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct offload *o = userdata;
        (void) s;

        log_info("Received %s.", strsignal((int) si->ssi_signo));
        upload_stop(o);
        return 0;
}

static int on_scan(sd_event_source *s, uint64_t usec, void *userdata) {
        struct offload *o = userdata;

        sd_event_source_set_time(s, usec + o->scan_usec);
        scan_takes(o);
        upload_kick(o);
        space_check(o);
        return 0;
}

static void help(void) {
        printf("handrec-offload — uploads handrecd's finished takes with rclone, verifies them, and frees space\n"
               "by removing only takes whose remote copy is verified (%s).\n\n"
               "Usage: handrec-offload [OPTIONS]\n\n"
               "  -c, --config FILE   handrecd's configuration file, group offload (default " CONFIG_DEFAULT_PATH ")\n"
               "      --user          use the session bus instead of the system bus (as handrecd --user)\n"
               "  -v, --verbose       log debug messages\n"
               "      --version       print the version and exit\n"
               "  -h, --help          show this help\n\n"
               "See its state with handrecctl status and handrecctl takes, or over D-Bus: " OFFLOAD_BUS_NAME
               " " OFFLOAD_PATH ".\n",
               HANDREC_VERSION);
}

/* Return: -1 to go on, or the exit code. */
static int parse_args(int argc, char *argv[], const char **config, bool *user) {
        enum { ARG_USER = 0x100, ARG_VERSION };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'}, {"user", no_argument, NULL, ARG_USER},
                {"verbose", no_argument, NULL, 'v'},      {"version", no_argument, NULL, ARG_VERSION},
                {"help", no_argument, NULL, 'h'},         {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:vh", options, NULL)) >= 0)
                switch (c) {
                case 'c': *config = optarg; break;
                case ARG_USER: *user = true; break;
                case 'v': log_max_level = LOG_LEVEL_DEBUG; break;
                case ARG_VERSION: printf("handrec-offload %s\n", HANDREC_VERSION); return EXIT_SUCCESS;
                case 'h': help(); return EXIT_SUCCESS;
                default: fprintf(stderr, "Try 'handrec-offload --help'.\n"); return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "handrec-offload: unexpected argument '%s'; try 'handrec-offload --help'.\n",
                        argv[optind]);
                return 2;
        }
        return -1;
}

static int setup_events(struct offload *o) {
        const char *scan = getenv("HANDREC_OFFLOAD_SCAN_SECONDS");
        sigset_t mask;
        int r;

        o->scan_usec = scan && atof(scan) > 0 ? (uint64_t) (atof(scan) * 1e6) : OFFLOAD_SCAN_USEC;
        /* SIGCHLD blocked too: sd-event reaps rclone (sd_event_add_child) */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        r = sd_event_default(&o->event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");
        r = sd_event_add_signal(o->event, NULL, SIGTERM, on_signal, o);
        if (r >= 0)
                r = sd_event_add_signal(o->event, NULL, SIGINT, on_signal, o);
        if (r >= 0)
                r = sd_event_add_time(o->event, &o->scan_timer, CLOCK_MONOTONIC,
                                      (uint64_t) now_ns(CLOCK_MONOTONIC) / 1000 + o->scan_usec, 0, on_scan, o);
        if (r >= 0)
                r = sd_event_source_set_enabled(o->scan_timer, SD_EVENT_ON);
        return r < 0 ? log_error_errno(r, "Cannot set up the event loop: %m") : 0;
}

/* What the configuration says before anything runs, so a mistake shows in the log at once. */
static void announce(struct offload *o) {
        if (!o->oc->enabled) {
                snprintf(o->last_error, sizeof(o->last_error),
                         "no offload group in %s: nothing is uploaded (README: Getting takes off the board)",
                         o->config->path);
                log_notice("%s", o->last_error);
                return;
        }
        if (access(o->oc->rclone_config, R_OK) < 0)
                log_warning("Cannot read offload.rclone_config %s: %m. Create it with `rclone config --config %s` "
                            "(README: Getting takes off the board); uploads fail until then.",
                            o->oc->rclone_config, o->oc->rclone_config);
        log_info("Uploading the takes of %s to %s (bwlimit %s, keep_free_gb %g, max_takes_gb %g); state in %s",
                 o->config->output_dir, o->oc->remote, o->oc->bwlimit[0] ? o->oc->bwlimit : "none", o->oc->keep_free_gb,
                 o->oc->max_takes_gb, o->oc->state_dir);
}

int main(int argc, char *argv[]) {
        const char *config_path = CONFIG_DEFAULT_PATH;
        struct offload o = {.job = {.out_fd = -1, .err_fd = -1}, .reader = TAKE_READER_INIT};
        int r;

        if (argc == 2 && streq(argv[1], TAKE_READER_ARG))
                take_reader_serve(TAKE_READER_FD); /* the scan's own child (lib/take-reader.h): never returns */
        log_program = "handrec-offload";
        /* HDF5 1.10 locks a file it opens; handrecd must never find a take locked by our reads
         * (its recovery and its reopen at the end of a take open them for writing) */
        setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
        if ((r = parse_args(argc, argv, &config_path, &o.user)) >= 0)
                return r;
        if (config_load(config_path, NULL, &o.config, stderr) < 0) {
                fprintf(stderr, "handrec-offload: %s is not usable; fix the lines above.\n", config_path);
                return EXIT_FAILURE;
        }
        o.oc = &o.config->offload;
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        announce(&o);
        if (setup_events(&o) < 0 || bus_setup(&o) < 0)
                return EXIT_FAILURE;
        scan_takes(&o);
        scan_orphans(&o);
        sd_notify(false, "READY=1");
        upload_kick(&o);
        space_check(&o);
        offload_notify_status(&o);
        r = sd_event_loop(o.event);
        sd_notify(false, "STOPPING=1");
        rclone_job_free(&o.job);
        take_reader_stop(&o.reader);
        source_free(o.scan_timer);
        source_free(o.retry_timer);
        source_free(o.stall_timer);
        source_free(o.next_defer);
        sd_bus_flush_close_unref(o.bus);
        sd_event_unref(o.event);
        free(o.takes);
        config_free(o.config);
        return r < 0 || o.exit_code ? EXIT_FAILURE : EXIT_SUCCESS;
}
