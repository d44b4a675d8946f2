/* SPDX-License-Identifier: MIT */
/*
 * Pairing two cameras' frames by timestamp (daemon/pair.c), with made-up times: single decisions
 * (ties at exactly half a period, which eye is older, negative and extreme timestamps, the
 * counters), and whole streams run through the loop a two-device source runs (exact, jittered,
 * one eye late, drifting, one eye missing).
 */
#include <stdint.h>

#include "../../daemon/pair.h"
#include "../../lib/util.h"
#include "test.h"

#define P INT64_C(33333333) /* 30 fps: odd, so half a period is 16666666 (integer division) */

static struct pair_held at(int64_t ts) {
        return (struct pair_held){.held = true, .timestamp_ns = ts};
}

static const struct pair_held nothing = {.held = false};

/* pair_next() on two held frames */
static enum pair_action decide(struct pair *p, int64_t left, int64_t right, struct pair_result *ret) {
        const struct pair_held held[2] = {at(left), at(right)};
        return pair_next(p, held, ret);
}

/* ---- single decisions --------------------------------------------------------------------- */

TEST(needs_what_is_not_held) {
        struct pair p;
        struct pair_result res;

        pair_init(&p, P);
        CHECK_EQ_INT(pair_next(&p, (struct pair_held[2]){nothing, nothing}, &res), PAIR_NEED);
        CHECK_EQ_INT(res.need, (1u << PAIR_LEFT) | (1u << PAIR_RIGHT));
        CHECK_EQ_INT(pair_next(&p, (struct pair_held[2]){at(0), nothing}, &res), PAIR_NEED);
        CHECK_EQ_INT(res.need, 1u << PAIR_RIGHT);
        CHECK_EQ_INT(pair_next(&p, (struct pair_held[2]){nothing, at(0)}, &res), PAIR_NEED);
        CHECK_EQ_INT(res.need, 1u << PAIR_LEFT);
        /* a held frame is never counted while its partner is awaited, however old */
        CHECK_EQ_INT(pair_next(&p, (struct pair_held[2]){at(-100 * P), nothing}, &res), PAIR_NEED);
        CHECK_EQ_INT(decide(&p, 0, 0, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.unpaired[PAIR_LEFT], 0);
        CHECK_EQ_INT(res.unpaired[PAIR_RIGHT], 0);
}

TEST(exact_pair_at_its_time) {
        struct pair p;
        struct pair_result res;

        pair_init(&p, P);
        CHECK_EQ_INT(decide(&p, 5 * P, 5 * P, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.timestamp_ns, 5 * P);
        CHECK_EQ_INT(decide(&p, 1000, 1010, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.timestamp_ns, 1005); /* the midpoint */
        CHECK_EQ_INT(decide(&p, 1010, 1000, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.timestamp_ns, 1005);
}

TEST(ties_at_exactly_half_a_period) {
        struct pair p;
        struct pair_result res;
        int64_t half = P / 2;

        pair_init(&p, P);
        CHECK_EQ_INT(decide(&p, 0, half, &res), PAIR_MATCH); /* at most half a period: a pair */
        CHECK_EQ_INT(decide(&p, half, 0, &res), PAIR_MATCH);
        CHECK_EQ_INT(decide(&p, 0, half + 1, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_LEFT); /* the older */
        CHECK_EQ_INT(decide(&p, half + 1, 0, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_RIGHT);
        /* an even period: half of it exactly */
        pair_init(&p, 40000000);
        CHECK_EQ_INT(decide(&p, 100, 100 + 20000000, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.timestamp_ns, 100 + 10000000);
        CHECK_EQ_INT(decide(&p, 100 + 20000001, 100, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_RIGHT);
}

TEST(negative_and_wrapping_timestamps) {
        struct pair p;
        struct pair_result res;

        pair_init(&p, P);
        /* before zero, and straddling it: the difference is negative, the rule the same */
        CHECK_EQ_INT(decide(&p, -3 * P, -3 * P + 10, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.timestamp_ns, -3 * P + 5);
        CHECK_EQ_INT(decide(&p, -P / 4, P / 4, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.timestamp_ns, 0);
        CHECK_EQ_INT(decide(&p, P / 4, -P / 4, &res), PAIR_MATCH); /* exactly half a period apart */
        CHECK_EQ_INT(res.timestamp_ns, 0);
        CHECK_EQ_INT(decide(&p, P / 4 + 1, -P / 4, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_RIGHT);
        CHECK_EQ_INT(decide(&p, -P, 0, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_LEFT);
        CHECK_EQ_INT(decide(&p, 0, -P, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_RIGHT);
        /* differences beyond INT64_MAX (the subtraction wraps): still far apart, the lower older */
        CHECK_EQ_INT(decide(&p, INT64_MIN, INT64_MAX, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_LEFT);
        CHECK_EQ_INT(decide(&p, INT64_MAX, INT64_MIN + 1, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_RIGHT);
        CHECK_EQ_INT(decide(&p, -P, INT64_MAX - P, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_LEFT);
        /* at the ends of the range, a pair and its midpoint without overflow */
        CHECK_EQ_INT(decide(&p, INT64_MAX, INT64_MAX - 10, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.timestamp_ns, INT64_MAX - 5);
        CHECK_EQ_INT(decide(&p, INT64_MIN + 10, INT64_MIN, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.timestamp_ns, INT64_MIN + 5);
}

TEST(counters_reset_after_a_pair_is_reported) {
        struct pair p;
        struct pair_result res;

        pair_init(&p, P);
        CHECK_EQ_INT(decide(&p, 0, 2 * P, &res), PAIR_DISCARD);
        CHECK_EQ_INT(decide(&p, P, 2 * P, &res), PAIR_DISCARD);
        CHECK_EQ_INT(decide(&p, 4 * P, 2 * P, &res), PAIR_DISCARD);
        CHECK_EQ_INT(res.discard, PAIR_RIGHT);
        CHECK_EQ_INT(decide(&p, 4 * P, 4 * P + 7, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.unpaired[PAIR_LEFT], 2);
        CHECK_EQ_INT(res.unpaired[PAIR_RIGHT], 1);
        CHECK_EQ_INT(decide(&p, 5 * P, 5 * P, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.unpaired[PAIR_LEFT], 0);
        CHECK_EQ_INT(res.unpaired[PAIR_RIGHT], 0);
        /* and pair_init() starts from zero too */
        CHECK_EQ_INT(decide(&p, 0, 2 * P, &res), PAIR_DISCARD);
        pair_init(&p, P);
        CHECK_EQ_INT(decide(&p, 0, 0, &res), PAIR_MATCH);
        CHECK_EQ_INT(res.unpaired[PAIR_LEFT], 0);
}

/* ---- streams, through the loop a two-device source runs ------------------------------------ */

/* Two cameras' frame times, read one frame at a time as pair_next() asks. */
struct streams {
        const int64_t *ts[2];
        size_t n[2], next[2];
        struct pair_held held[2];
        uint32_t discarded[2]; /* what the loop gave back, to compare with what pair.c reports */
};

/* Run the loop until a pair, as read_pair() in capture-v4l2.c does. Return: PAIR_MATCH with
 * *@ret, or PAIR_NEED when an eye it needs has no frame left (a camera that stopped). */
static enum pair_action next_pair(struct streams *s, struct pair *p, int64_t ret_ts[2], struct pair_result *ret) {
        for (;;) {
                switch (pair_next(p, s->held, ret)) {
                case PAIR_MATCH:
                        for (int i = 0; i < 2; i++) {
                                ret_ts[i] = s->held[i].timestamp_ns;
                                s->held[i].held = false; /* converted, given back */
                        }
                        return PAIR_MATCH;
                case PAIR_DISCARD:
                        s->held[ret->discard].held = false;
                        s->discarded[ret->discard]++;
                        break;
                case PAIR_NEED: {
                        bool stopped = false;
                        for (int i = 0; i < 2; i++) {
                                if (!(ret->need & (1u << i)))
                                        continue;
                                if (s->next[i] < s->n[i])
                                        s->held[i] = at(s->ts[i][s->next[i]++]);
                                else
                                        stopped = true;
                        }
                        if (stopped)
                                return PAIR_NEED;
                        break;
                }
                }
        }
}

#define N 300

/* Pair every frame of two streams. Return: pairs; the unpaired pair.c reported in @unpaired. */
static unsigned run(struct streams *s, int64_t max_skew, uint32_t unpaired[2]) {
        struct pair p;
        struct pair_result res;
        int64_t ts[2];
        unsigned pairs = 0;

        pair_init(&p, P);
        unpaired[0] = unpaired[1] = 0;
        while (next_pair(s, &p, ts, &res) == PAIR_MATCH) {
                int64_t skew = ts[0] > ts[1] ? ts[0] - ts[1] : ts[1] - ts[0];
                CHECK(skew <= max_skew);
                CHECK(res.timestamp_ns >= MIN(ts[0], ts[1]) && res.timestamp_ns <= MAX(ts[0], ts[1]));
                unpaired[0] += res.unpaired[0];
                unpaired[1] += res.unpaired[1];
                pairs++;
        }
        return pairs;
}

TEST(exact_pairs) {
        static int64_t t[N];
        for (int i = 0; i < N; i++)
                t[i] = 1000 + i * P;
        struct streams s = {.ts = {t, t}, .n = {N, N}};
        uint32_t unpaired[2];

        CHECK_EQ_INT(run(&s, 0, unpaired), N);
        CHECK_EQ_INT(unpaired[0] + unpaired[1], 0);
}

TEST(jitter_within_half_a_period) {
        static int64_t l[N], r[N];
        uint64_t rng = 7;
        uint32_t unpaired[2];
        for (int i = 0; i < N; i++) {
                rng = rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
                l[i] = i * P;
                r[i] = i * P + (int64_t) ((rng >> 33) % (uint64_t) (2 * (P / 2) + 1)) - P / 2; /* ±P/2 */
        }
        struct streams s = {.ts = {l, r}, .n = {N, N}};

        CHECK_EQ_INT(run(&s, P / 2, unpaired), N);
        CHECK_EQ_INT(unpaired[0] + unpaired[1], 0);
}

TEST(one_eye_lagging_by_frames) {
        static int64_t l[N], r[N];
        for (int i = 0; i < N; i++) {
                l[i] = i * P;
                r[i] = (i + 3) * P + 1000; /* the right camera started three frames later */
        }
        struct streams s = {.ts = {l, r}, .n = {N, N}};
        struct pair p;
        struct pair_result res;
        int64_t ts[2];

        pair_init(&p, P);
        CHECK_EQ_INT(next_pair(&s, &p, ts, &res), PAIR_MATCH);
        /* the three older lefts went back, one at a time, until the streams lined up */
        CHECK_EQ_INT(s.discarded[PAIR_LEFT], 3);
        CHECK_EQ_INT(res.unpaired[PAIR_LEFT], 3);
        CHECK_EQ_INT(res.unpaired[PAIR_RIGHT], 0);
        CHECK_EQ_INT(ts[0], 3 * P);
        CHECK_EQ_INT(ts[1], 3 * P + 1000);
        /* from then on, aligned: every frame pairs */
        for (int i = 1; i < N - 3; i++) {
                CHECK_EQ_INT(next_pair(&s, &p, ts, &res), PAIR_MATCH);
                CHECK_EQ_INT(res.unpaired[PAIR_LEFT] + res.unpaired[PAIR_RIGHT], 0);
        }
        CHECK_EQ_INT(s.discarded[PAIR_LEFT], 3);
        CHECK_EQ_INT(s.discarded[PAIR_RIGHT], 0);
}

TEST(drift) {
        /* the right camera runs 1% slow: about every 100 frames the left has one more, which cannot pair */
        static int64_t l[N], r[N];
        uint32_t unpaired[2];
        for (int i = 0; i < N; i++) {
                l[i] = i * P;
                r[i] = i * (P + P / 100);
        }
        struct streams s = {.ts = {l, r}, .n = {N, N}};
        unsigned pairs = run(&s, P / 2, unpaired);

        CHECK_EQ_INT(unpaired[PAIR_RIGHT], 0);
        CHECK(unpaired[PAIR_LEFT] >= 2 && unpaired[PAIR_LEFT] <= 3);
        /* what pair.c reported is what the loop gave back, and every left frame is accounted for */
        CHECK_EQ_INT(unpaired[PAIR_LEFT], s.discarded[PAIR_LEFT]);
        CHECK_EQ_INT(pairs + unpaired[PAIR_LEFT], s.next[PAIR_LEFT] - s.held[PAIR_LEFT].held);
        CHECK(pairs >= N - 4);
}

TEST(a_missing_eye) {
        static int64_t l[N];
        for (int i = 0; i < N; i++)
                l[i] = i * P;
        struct streams s = {.ts = {l, NULL}, .n = {N, 0}};
        struct pair p;
        struct pair_result res;
        int64_t ts[2];

        pair_init(&p, P);
        /* no right frame ever: it waits for one, holding the left, discarding nothing */
        CHECK_EQ_INT(next_pair(&s, &p, ts, &res), PAIR_NEED);
        CHECK_EQ_INT(res.need, (1u << PAIR_LEFT) | (1u << PAIR_RIGHT));
        CHECK_EQ_INT(next_pair(&s, &p, ts, &res), PAIR_NEED);
        CHECK_EQ_INT(next_pair(&s, &p, ts, &res), PAIR_NEED);
        CHECK_EQ_INT(res.need, 1u << PAIR_RIGHT);
        CHECK(s.held[PAIR_LEFT].held);
        CHECK_EQ_INT(s.next[PAIR_LEFT], 1);
        CHECK_EQ_INT(s.discarded[PAIR_LEFT] + s.discarded[PAIR_RIGHT], 0);
}

/* A device's times only go forward: one that steps back (uvcvideo's estimate) or repeats is
 * held 1 µs after the previous, and says by how much it went back; the next ones, later again,
 * are kept as they came. */
TEST(a_device_time_that_goes_back_is_held_forward) {
        int64_t last = 0, back = -1;

        CHECK_EQ_INT(pair_forward_timestamp(1000000000, &last, &back), 1000000000);
        CHECK_EQ_INT(back, 0);
        CHECK_EQ_INT(pair_forward_timestamp(1033000000, &last, &back), 1033000000);
        CHECK_EQ_INT(pair_forward_timestamp(1032264000, &last, &back), 1033001000); /* 736 µs back */
        CHECK_EQ_INT(back, 736000);
        CHECK_EQ_INT(pair_forward_timestamp(1033001000, &last, &back), 1033002000); /* the same time */
        CHECK_EQ_INT(back, 0);
        CHECK_EQ_INT(pair_forward_timestamp(1066000000, &last, &back), 1066000000);
        CHECK_EQ_INT(back, 0);
        CHECK_EQ_INT(last, 1066000000);
}

int main(void) {
        static const struct test tests[] = {
                T(needs_what_is_not_held),
                T(exact_pair_at_its_time),
                T(ties_at_exactly_half_a_period),
                T(negative_and_wrapping_timestamps),
                T(counters_reset_after_a_pair_is_reported),
                T(exact_pairs),
                T(jitter_within_half_a_period),
                T(one_eye_lagging_by_frames),
                T(drift),
                T(a_missing_eye),
                T(a_device_time_that_goes_back_is_held_forward),
        };
        return test_main("pair", tests, ELEMENTSOF(tests));
}
