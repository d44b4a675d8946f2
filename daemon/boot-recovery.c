/* SPDX-License-Identifier: MIT */
/*
 * boot-recovery.c — at start, before any take: every take a crash or a power cut left marked
 * "recording" is recovered (recover.c), logged, reported to systemd as progress (a long take
 * can take a while to check: the start timeout is extended as it goes), and remembered so it
 * can be announced over D-Bus (TakeRecovered, ListRecovered) once the bus is up.
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "../lib/recover.h"
#include "../lib/util.h"

#define MAX_REMEMBERED 256

static void on_progress(const char *path, uint64_t done, uint64_t total, void *userdata _unused_) {
        /* 30 s more each time: a check that is moving never hits systemd's start timeout */
        sd_notifyf(false, "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=Recovering %s: %llu of %llu frames checked", path,
                   (unsigned long long) done, (unsigned long long) total);
}

static void remember(struct daemon *d, const char *path, const struct take_check *c) {
        struct recovered_take *list, *t;

        if (d->n_recovered >= MAX_REMEMBERED) {
                static bool said; /* once: recovery runs once, at start */
                if (!said)
                        log_warning("More than %d takes recovered: ListRecovered and TakeRecovered name the first "
                                    "%d; the log names every one.",
                                    MAX_REMEMBERED, MAX_REMEMBERED);
                said = true;
                return;
        }
        list = realloc(d->recovered, (d->n_recovered + 1) * sizeof(*list));
        if (!list)
                return;
        d->recovered = list;
        t = &list[d->n_recovered];
        *t = (struct recovered_take){.frames = c->frames,
                                     .frames_cut = c->index_frames - MIN(c->index_frames, c->frames),
                                     .path = strdup(path),
                                     .note = strdup(c->problem)};
        if (!t->path || !t->note) {
                free(t->path);
                free(t->note);
                return;
        }
        d->n_recovered++;
}

static void on_found(const char *path, int r, const struct take_check *c, const char *error, void *userdata) {
        if (r < 0) {
                log_error("Cannot recover %s, left as it is: %s", path, error);
                return;
        }
        log_notice("Recovered %s after a crash: %llu frames kept%s%s", path, (unsigned long long) c->frames,
                   c->problem[0] ? "; cut at " : "", c->problem);
        remember(userdata, path, c);
}

int boot_recover_takes(struct daemon *d) {
        int n;

        sd_notify(false, "STATUS=Looking for takes a crash left unfinished");
        n = recover_scan(d->config->output_dir, on_found, on_progress, d);
        if (n < 0)
                return log_warning_errno(n, "Cannot look for unfinished takes in %s, ignoring: %m",
                                         d->config->output_dir);
        if (n > 0)
                log_notice("%d take%s recovered in %s.", n, n == 1 ? "" : "s", d->config->output_dir);
        return n;
}

void boot_recovered_free(struct daemon *d) {
        for (unsigned i = 0; i < d->n_recovered; i++) {
                free(d->recovered[i].path);
                free(d->recovered[i].note);
        }
        free(d->recovered);
        d->recovered = NULL;
        d->n_recovered = 0;
}
