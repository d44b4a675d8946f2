/* SPDX-License-Identifier: MIT */
/* source.c — what every source shares behind source.h (the pipeline chooses one: pipeline.c). */
#include "source.h"

struct source *source_free(struct source *s) {
        if (s)
                s->ops->free(s);
        return NULL;
}
