/* SPDX-License-Identifier: MIT */
/*
 * preview.h — a hand's live preview (OpenPreview): clients, each a local stream socket that gets
 * the hand's latest frames as JPEG (preview-protocol.h), and the one preview thread per hand that
 * renders and writes them. The thread exists only while someone watches.
 */
#pragma once

#include "preview-options.h"

struct hand_config;
struct pipeline;
struct preview;

/* Previews open at once on one hand: a bound on the memory and CPU they take. */
#define PREVIEW_MAX_CLIENTS 8

/** preview_new() - a hand's preview, nothing started. @hand, @p: borrowed, outlive it. */
int preview_new(const struct hand_config *hand, struct pipeline *p, struct preview **ret);

/** preview_free() - end every preview (its reader sees EOF), join the thread. Accepts NULL. */
struct preview *preview_free(struct preview *pv);

/**
 * preview_open() - a new client with options @o. Main thread.
 * Return: 0 and *@ret_fd, the reader's end of the socket (the caller owns it and closes it once
 * it is sent), -EUSERS when PREVIEW_MAX_CLIENTS are open, or -ENOMEM and the like.
 */
int preview_open(struct preview *pv, const struct preview_options *o, int *ret_fd);

/** preview_reap() - main thread, on PIPELINE_EVENT_PREVIEW: join a preview thread that has ended
 * (nobody watches) and free what it used. */
void preview_reap(struct preview *pv);

/** preview_count() - previews open now (the Hand property Previews). */
unsigned preview_count(struct preview *pv);
