/* SPDX-License-Identifier: MIT */
/*
 * pipeline-internal.h — the state one hand's threads share, and the rules for touching it.
 * Only pipeline*.c include this; everyone else sees pipeline.h.
 *
 * DESIGN
 *
 *   source thread ──job──► work FIFO ──► N encoder workers ──(in ticket order)──► writer queue
 *   (pipeline-source.c)        ▲         (pipeline-encode.c)                          │
 *        ▲                     │                │                    writer thread ▼ HDF5
 *        └──────── free jobs ◄─┴────────────────┘                 (pipeline-writer.c)
 *
 *   main thread (pipeline.c): pipeline_new/free, start/stop a take, read counters and events.
 *
 * Threads
 * - Source thread: the only caller of source_*(). Takes a free job, fills it, appends it to
 *   the work FIFO with the next ticket. Ends a take for duration, end of input or a lost camera.
 * - Encoder workers: take the job at the head of the work FIFO together with room in the writer
 *   queue (reserved under the lock as they take it, so rooms are handed out in ticket order),
 *   then with the lock released decode the camera's JPEG into their own frame when the take
 *   needs pixels, and encode straight into the room (the remap feeding the encoder band by band
 *   when rectifying), or copy the camera's JPEG into it as it came. At their ticket's turn they
 *   commit the real size, free the job and pass the turn on. So the queue is in capture order
 *   whatever order the workers finish in.
 * - Writer thread: the only caller of writer_*() (HDF5). Writes each committed frame's bytes as
 *   soon as it is queued, with the lock released, and releases its queue entry; commits a batch
 *   to the file's index when it closes. Ends a take for a full disk or an I/O error; finishes
 *   the file when the source is done and nothing is in flight, then posts ENDED.
 * - Preview tap (preview-tap.h): when the preview thread wants a frame, the source thread copies
 *   the job it has just filled (only reading it) into the tap before submitting it, or, idle,
 *   reads the frame it would discard into the tap; a claim is one compare-and-swap, never a wait.
 *   `tap.watching` (lock) keeps a per-take source open for the preview. The preview thread never
 *   touches a job, the queue or the counters.
 * - Main thread: pipeline_start() fills `take` and resets `counters` while no take is active;
 *   pipeline_stop() sets end_reason. It never waits on a thread except in pipeline_free().
 *
 * Lock rules
 * - One mutex, `lock`, guards everything below marked "lock": the job lists, the tickets, the
 *   take state, the writer queue's bookkeeping and last_error/device_error. Nobody holds it
 *   across a frame's read, copy, encoding or disk write.
 * - `counters` and the other atomics are written by the threads named beside them and read
 *   by the main thread at any time (pipeline_stats()). They are reset only by pipeline_start(),
 *   under the lock, when no take is active: then no other thread touches them (the source is
 *   not recording, in_flight is 0, the writer has finished), so a plain reset is race-free.
 * - end_reason: the first reason wins (compare-and-swap in pipeline_end_take_locked()); it is
 *   read without the lock between frames.
 *
 * Ownership of buffers (all allocated in pipeline_new(); a take allocates nothing of ours)
 * - A job belongs to nobody on the free list, to the source thread while it fills it, to one
 *   worker from the work FIFO until it is back on the free list. It holds what the source can
 *   deliver: I420 planes, or, for a source that hands over the camera's JPEG
 *   (SOURCE_CAP_CAMERA_JPEG; asked SOURCE_WANT_ANY), only a JPEG buffer.
 * - A worker owns its encoder and, for a camera-JPEG source on a hand with a calibration, its
 *   band decoder (jpeg-bands.h) with the window of decoded rows the remap reads. No decoded
 *   frame and no rectified frame: the encoder pulls rectified bands through rectify_rows_from(),
 *   which the decoder feeds with the rows each band reads.
 * - Writer queue bytes: a room belongs to the worker that reserved it, from the moment it took
 *   its job (under the lock) until it commits or cancels it at its turn (under the lock); it
 *   writes the room without the lock. Committed entries belong to the writer thread from
 *   commit until it releases them (once their bytes are written); `batch` is the writer's. The queue never gives out a byte
 *   of an open room or of an unreleased entry (queue.h), so neither side needs the lock for
 *   the bytes themselves. A JPEG that outgrew its room (it is then whole in the encoder's
 *   buffer) is copied into fresh room at its turn, the room cancelled; an encoding error
 *   cancels the room.
 * - jpeg_largest (lock): the largest JPEG of the take so far, which sizes the next rooms.
 * - Resident memory (issue 23): every job's buffer is kept resident up to job_ceiling, and the
 *   writer queue's working set as soon as it grows (queue.h), so the RSS of minute 1 is that of
 *   hour 1. The source thread writes a free job's buffer beyond what it last held: it alone
 *   takes jobs off the free list, so that job stays free while it does.
 *
 * Queue-full policy: a frame that finds no free job (encoders behind) is dropped by the source
 * as encoder-busy; a job whose worker finds no room for it in the writer queue (disk behind)
 * is not encoded and is dropped at its turn as queue-full, as is a JPEG that outgrew its room
 * and finds no fresh room at its turn. Newest first, each counted by cause: the camera is never
 * blocked and what is already queued is never discarded. A source paced by the pipeline (a
 * replay at "max") waits instead: for a free job, and with its job still on the work FIFO for
 * room (as long as the writer or a worker ahead holds room that will come back).
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "../lib/frame.h"
#include "pipeline.h"
#include "preview-tap.h"
#include "queue.h"
#include "source.h"

struct encoder;
struct jpeg_bands;
struct rectify;

struct job {
        struct frame frame;
        uint64_t ticket;
        size_t resident; /* source thread: bytes of its buffer written so far (pipeline-source.c) */
};

struct worker {
        struct pipeline *p;
        struct encoder *encoder;
        struct jpeg_bands *bands;       /* camera-JPEG source and a calibration: the decoder and its
                                         * window of rows (jpeg-bands.h), else NULL */
        void *qc_tj;                    /* camera-JPEG source: a TurboJPEG decoder for the 1/8 grey look (qc.h) */
        uint8_t *qc_gray;               /* ... and the image it decodes into */
        atomic_int_fast64_t busy_since; /* CLOCK_MONOTONIC ns it began the job in hand; 0: waiting */
        pthread_t thread;
        unsigned index;
        bool started;
};

/* The counters of the current (or last) take. Writers: source thread (captured, timestamps,
 * camera-side drops), workers (encode and queue drops), writer thread (written, bytes, write
 * drops, and the pair skew of the frames stored: writer_stored()). Reset as a whole by
 * pipeline_start(). Timestamps: 0 means none yet. */
struct take_counters {
        atomic_uint_fast64_t captured, written, bytes, dropped[_DROP_MAX];
        atomic_int_fast64_t first_ts, last_ts;
        atomic_int_fast64_t skew_mean_ns, skew_max_ns;
        atomic_bool dequeue_ts;
};

struct pipeline {
        const struct config *config;
        const struct hand_config *hand;
        int event_fd;
        atomic_uint events;

        pthread_mutex_t lock;
        pthread_cond_t cv_source; /* a take to capture, a take ended (pipeline_free waits on it) */
        pthread_cond_t cv_work;   /* a job in the work FIFO */
        pthread_cond_t cv_turn;   /* next_commit moved */
        pthread_cond_t cv_writer; /* entries, end of stream, or a take */
        pthread_cond_t cv_room;   /* a free job or queue room (sources paced by the pipeline) */
        atomic_bool quit;         /* also read without the lock, between frames */

        /* the take, under lock */
        bool take_active; /* set by pipeline_start(), cleared by the writer when the file is done */
        bool source_done; /* the source will push nothing more for this take */
        struct take_params take;
        atomic_int end_reason;
        char last_error[PIPELINE_ERROR_MAX];

        /* jobs, under lock */
        struct job *jobs;
        unsigned n_jobs;
        struct job **free_jobs;
        unsigned n_free;
        struct job **work;
        unsigned work_head, work_count;
        uint64_t next_ticket, next_commit;
        unsigned in_flight;  /* taken from the free list, not yet back */
        size_t job_ceiling;  /* source thread: the most bytes a frame has needed in a job's buffer */
        unsigned jobs_below; /* source thread: jobs whose buffers are not yet resident to it */

        struct queue *queue;      /* bookkeeping under lock; bytes as described above */
        size_t jpeg_largest;      /* lock: the largest JPEG encoded in this take */
        size_t raw_bytes;         /* an I420 stereo frame's bytes (constant) */
        struct rectify *rectify;  /* maps, when the hand has a calibration; read-only */
        const char *dump_dir;     /* HANDREC_DEBUG_DUMP_DIR: pre-JPEG planes written here (tests) */
        struct frame_meta *batch; /* the writer's: the frames written, not yet committed */
        struct source *source;    /* the source thread's */
        struct worker *workers;
        unsigned n_workers;
        pthread_t source_thread, writer_thread;
        bool source_started, writer_started;

        struct take_counters counters;
        atomic_int_fast64_t writer_busy_since; /* writer: when its disk write began; 0: waiting (watchdog) */
        atomic_uint queue_depth;               /* workers and writer */
        atomic_int_fast64_t camera_fps_micro;  /* source thread, at warm-up; in 1e-6 fps */

        /* quality at the rig (qc.h): the writer counts, in order, what the workers measured; read
         * by the main thread (pipeline_qc()); lock */
        struct qc_take qc;

        /* the preview's frame (preview-tap.h): the source thread offers a frame when one is wanted */
        struct preview_tap tap;

        /* the camera, for sources kept warm: source thread; device_error under lock */
        atomic_bool device_present;
        char device_error[PIPELINE_ERROR_MAX];
        /* lock: the camera as the source thread found it when it last opened it (its controls in
         * force), for the writer's take attributes; camera_described: a source that describes itself */
        struct source_camera camera;
        bool camera_described;
};

/**
 * pipeline_new_with_source() - pipeline_new() with @source (taken over, freed with the
 * pipeline, also on failure) instead of the one the camera config names: for tests whose
 * source is their own.
 */
int pipeline_new_with_source(const struct config *config, const struct hand_config *hand, struct source *source,
                             int event_fd, struct pipeline **ret);

/* Thread entry points, started by pipeline_new(). */
void *pipeline_source_main(void *userdata);
void *pipeline_worker_main(void *userdata);
void *pipeline_writer_main(void *userdata);

/**
 * pipeline_end_take_locked() - end the take for @reason with @error (may be NULL); the first
 * reason wins, and everyone who may be waiting is woken. Called with the lock held.
 * Return: whether this call set the reason.
 */
bool pipeline_end_take_locked(struct pipeline *p, enum stop_reason reason, const char *error);

/** pipeline_end_take() - the same, taking the lock. */
void pipeline_end_take(struct pipeline *p, enum stop_reason reason, const char *error);

/** pipeline_give_back_locked() - put job @j back on the free list. Called with the lock held. */
void pipeline_give_back_locked(struct pipeline *p, struct job *j);

static inline bool pipeline_ending(struct pipeline *p) {
        return atomic_load(&p->end_reason) != STOP_NONE;
}

/* Tests (HANDREC_DEBUG_DUMP_DIR, pipeline-dump.c): pipeline_dump_open() the raw I420 file of
 * frame @m (-1 on failure), pipeline_dump_rows() rows [y0, y0 + n) of planes @rows into it,
 * pipeline_dump_frame() a whole frame. Failures only lose the dump. */
int pipeline_dump_open(const struct pipeline *p, const struct frame_meta *m);
void pipeline_dump_rows(int fd, unsigned w, unsigned h, unsigned y0, unsigned n, const uint8_t *const rows[3],
                        const int strides[3]);
void pipeline_dump_frame(const struct pipeline *p, const struct frame *f);
