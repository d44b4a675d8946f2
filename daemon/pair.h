/* SPDX-License-Identifier: MIT */
/*
 * pair.h — which frames of two cameras, one per eye, make a stereo pair, decided from their
 * timestamps alone: no device and no I/O here, so any two-camera source can drive it and the
 * unit test drives it with made-up times.
 *
 * The source holds at most one frame per eye and asks pair_next() what to do with them:
 *
 *   PAIR_NEED     read a frame from each eye in ret->need (it holds none)
 *   PAIR_DISCARD  give eye ret->discard's frame back unused: it is the older of the two by more
 *                 than half a frame period, so it has no partner (counted as unpaired)
 *   PAIR_MATCH    the two held frames are a pair, at ret->timestamp_ns (their midpoint); the
 *                 frames discarded per eye since the previous pair are in ret->unpaired
 *
 * and then asks again, until PAIR_MATCH. Timestamps may be any int64_t values, negative ones
 * and differences beyond INT64_MAX included.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum pair_eye {
        PAIR_LEFT,
        PAIR_RIGHT,
};

enum pair_action {
        PAIR_NEED,
        PAIR_DISCARD,
        PAIR_MATCH,
};

/* what one eye holds */
struct pair_held {
        bool held;            /* a frame, not yet paired or given back */
        int64_t timestamp_ns; /* its capture time (any clock, the same for both eyes) */
};

struct pair_result {
        unsigned need;         /* PAIR_NEED: 1 << PAIR_LEFT and/or 1 << PAIR_RIGHT */
        enum pair_eye discard; /* PAIR_DISCARD: the eye whose frame goes back */
        int64_t timestamp_ns;  /* PAIR_MATCH: the pair's time */
        uint32_t unpaired[2];  /* PAIR_MATCH: frames discarded per eye since the previous match */
};

/* One pairing, embedded in its source; the fields are pair.c's. */
struct pair {
        int64_t period_ns;
        uint32_t unpaired[2];
};

/** pair_init() - start pairing frames @period_ns apart (> 0), no frame counted as unpaired. */
void pair_init(struct pair *p, int64_t period_ns);

/**
 * pair_next() - what to do with the frames the eyes hold (@held[PAIR_LEFT], @held[PAIR_RIGHT]).
 * Two frames pair when their timestamps differ by at most period_ns / 2 (integer division).
 * PAIR_DISCARD counts the frame as unpaired; PAIR_MATCH reports the counts and resets them.
 * Return: the action, with its details in *@ret.
 */
enum pair_action pair_next(struct pair *p, const struct pair_held held[2], struct pair_result *ret);

/**
 * pair_forward_timestamp() - @ts, one device's frame time, kept after *@last (the same device's
 * previous frame time, 0 before the first), which becomes it. A driver's time that does not go
 * forward becomes *@last + 1 µs: uvcvideo derives a frame's time from the camera's clock and the
 * bus's, and that estimate steps back by a fraction of a millisecond at times (seen through
 * USB/IP: 736 µs), while a take's times must only go forward (docs/file-format.md).
 * Return: the time to use; *@went_back: by how much @ts was not after *@last (0 when it was).
 */
int64_t pair_forward_timestamp(int64_t ts, int64_t *last, int64_t *went_back);
