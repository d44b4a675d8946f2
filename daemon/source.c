/* SPDX-License-Identifier: MIT */
/* source.c — picks the source implementation a camera config names. */
#include "source.h"

#include <errno.h>

int source_new(const struct camera_config *c, struct source **ret) {
        switch (c->source) {
        case SOURCE_SYNTHETIC: return source_synthetic_new(c, ret);
        case SOURCE_V4L2: return source_v4l2_new(c, ret);
        case SOURCE_REPLAY: return source_replay_new(c, ret);
        default: return -EOPNOTSUPP;
        }
}

struct source *source_free(struct source *s) {
        if (s)
                s->ops->free(s);
        return NULL;
}
