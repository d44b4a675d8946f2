/* SPDX-License-Identifier: MIT */
/*
 * pair.c — owns the rule that pairs the frames of two cameras by timestamp (see pair.h): a pair
 * when the two held frames are at most half a frame period apart, otherwise the older one is
 * given back and counted as unpaired for its eye, until the two streams line up again.
 */
#include "pair.h"

void pair_init(struct pair *p, int64_t period_ns) {
        *p = (struct pair){.period_ns = period_ns};
}

/* |a - b| without overflow, for any two int64_t */
static uint64_t distance(int64_t a, int64_t b) {
        return a < b ? (uint64_t) b - (uint64_t) a : (uint64_t) a - (uint64_t) b;
}

enum pair_action pair_next(struct pair *p, const struct pair_held held[2], struct pair_result *ret) {
        int64_t l = held[PAIR_LEFT].timestamp_ns, r = held[PAIR_RIGHT].timestamp_ns;

        *ret = (struct pair_result){0};
        for (unsigned i = 0; i < 2; i++)
                if (!held[i].held)
                        ret->need |= 1u << i;
        if (ret->need)
                return PAIR_NEED;
        if (distance(l, r) > (uint64_t) (p->period_ns / 2)) {
                ret->discard = l < r ? PAIR_LEFT : PAIR_RIGHT;
                p->unpaired[ret->discard]++;
                return PAIR_DISCARD;
        }
        /* within half a period, so r - l cannot overflow; halved toward zero */
        ret->timestamp_ns = l + (r - l) / 2;
        ret->unpaired[PAIR_LEFT] = p->unpaired[PAIR_LEFT];
        ret->unpaired[PAIR_RIGHT] = p->unpaired[PAIR_RIGHT];
        p->unpaired[PAIR_LEFT] = p->unpaired[PAIR_RIGHT] = 0;
        return PAIR_MATCH;
}

int64_t pair_forward_timestamp(int64_t ts, int64_t *last, int64_t *went_back) {
        *went_back = 0;
        if (*last && ts <= *last) {
                *went_back = *last - ts;
                ts = *last + 1000;
        }
        *last = ts;
        return ts;
}
