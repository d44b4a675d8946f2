/* SPDX-License-Identifier: MIT */
/*
 * reload.c — SIGHUP, which `systemctl reload handrecd` sends: the configuration file is read
 * again and the hands set up from it, while no take runs. A take running is never disturbed: the
 * reload is refused with a log line. A file with errors is reported line by line and the running
 * configuration kept. Takes recovered at start and the bus connection stay as they are.
 */
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "bus.h"
#include "memory-budget.h"
#include "process-memory.h"
#include "../lib/util.h"

static struct hand *active_hand(struct daemon *d) {
        for (unsigned i = 0; i < d->n_hands; i++)
                if (hand_is_active(&d->hands[i]))
                        return &d->hands[i];
        return NULL;
}

/* Tear the hands down and set them up again from @c, which the daemon then owns. */
static int replace_hands(struct daemon *d, struct config *c) {
        int r;

        for (unsigned i = 0; i < d->n_hands; i++) {
                bus_remove_hand(&d->hands[i]);
                hand_done(&d->hands[i]);
        }
        d->n_hands = 0;
        config_free(d->config);
        d->config = c;
        for (unsigned i = 0; i < c->n_hands; i++) {
                r = hand_init(&d->hands[i], d, &c->hands[i]);
                d->n_hands = i + 1;
                if (r >= 0)
                        r = bus_add_hand(&d->hands[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int daemon_reload(struct daemon *d) {
        struct hand *busy = active_hand(d);
        struct config *c = NULL;
        int r;

        if (busy) {
                log_notice("Reload asked while hand %s records %s: the configuration was not read again, and the "
                           "take goes on. Reload once no take runs.",
                           busy->config->name, busy->file);
                return 0;
        }
        sd_notify(false, "RELOADING=1\nSTATUS=Reading the configuration again");
        r = config_load(d->config->path, memory_budget_check, &c, stderr);
        if (r < 0) {
                log_error("%s has errors (above); keeping the configuration handrecd runs with.", d->config->path);
                sd_notify(false, "READY=1");
                return 0;
        }
        r = replace_hands(d, c);
        if (r < 0)
                return log_error_errno(r, "Cannot set the hands up again after the reload: %m; exiting");
        log_info("Configuration %s read again: %u hand%s, output in %s.", d->config->path, d->n_hands,
                 d->n_hands == 1 ? "" : "s", d->config->output_dir);
        hand_release_hdf5(d);
        process_memory_release(); /* the old hands' and the reading's memory */
        sd_notify(false, "READY=1");
        return 0;
}
