/* SPDX-License-Identifier: MIT */
/*
 * pipeline-events.h — for the unit tests that drive a pipeline without a hand's event loop: wait
 * for its events on the eventfd it posts to, as on_pipeline_event() would be woken.
 */
#pragma once

#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "../../daemon/pipeline.h"

/* Wait up to 20 s for @event; return the events seen (also those before it). */
static inline unsigned wait_for(struct pipeline *p, int efd, unsigned event) {
        unsigned seen = 0;
        for (int i = 0; i < 200 && !(seen & event); i++) {
                struct pollfd pfd = {.fd = efd, .events = POLLIN};
                uint64_t n;
                if (poll(&pfd, 1, 100) > 0 && read(efd, &n, sizeof(n)) < 0)
                        break;
                seen |= pipeline_take_events(p);
        }
        return seen;
}
