/* SPDX-License-Identifier: MIT */
/*
 * upload-backlog.h — what handrec-offload has yet to upload, as handrecd sees it from the
 * offload's state folder (upload-backlog.c).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The state of a take whose remote copy is verified: the first line of its state file is
 * "state=" this (offload/state.c writes it, upload-backlog.c reads it). */
#define UPLOAD_STATE_VERIFIED "uploaded-verified"

struct upload_backlog {
        unsigned takes; /* not uploaded and verified */
        uint64_t bytes;
        unsigned verified_takes;
        uint64_t verified_bytes;
};

/** upload_backlog() - count the takes of @c's hand folders by their upload state; zero without offload. */
void upload_backlog(const struct config *c, struct upload_backlog *ret);

/**
 * upload_backlog_sentence() - " N takes (X GB) here are not yet uploaded ..." for a StorageFull
 * refusal, beginning with a space; "" when @c has no offload group.
 */
void upload_backlog_sentence(const struct config *c, char *buf, size_t len);
