/* SPDX-License-Identifier: MIT */
/*
 * pipeline-dump.c — for tests only (HANDREC_DEBUG_DUMP_DIR): the planes the encoder workers
 * compress, written as raw I420 files <dir>/<hand>-<number>.i420, whole or band by band as the
 * encoder receives them. Not on the path of a daemon run without the variable.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "pipeline-internal.h"

/* Tests: the planes that go to the encoder, as raw I420 files <dir>/<hand>-<number>.i420. */
int pipeline_dump_open(const struct pipeline *p, const struct frame_meta *m) {
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s-%06llu.i420", p->dump_dir, p->hand->name, (unsigned long long) m->number);
        return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

/* Rows [y0, y0 + n) of planes @rows (@strides) into the dump file of a @w × @h frame. */
void pipeline_dump_rows(int fd, unsigned w, unsigned h, unsigned y0, unsigned n, const uint8_t *const rows[3],
                        const int strides[3]) {
        off_t plane_at[3] = {0, (off_t) w * h, (off_t) w * h + (off_t) (w / 2) * (h / 2)};

        for (unsigned p = 0; p < 3; p++) {
                unsigned pw = p ? w / 2 : w, py = p ? y0 / 2 : y0, pn = p ? n / 2 : n;
                for (unsigned y = 0; y < pn; y++)
                        if (pwrite(fd, rows[p] + (size_t) y * strides[p], pw, plane_at[p] + (off_t) (py + y) * pw) < 0)
                                return;
        }
}

void pipeline_dump_frame(const struct pipeline *p, const struct frame *f) {
        int fd = pipeline_dump_open(p, &f->meta);

        if (fd < 0)
                return;
        pipeline_dump_rows(fd, f->width, f->height, 0, f->height, (const uint8_t *const *) f->planes, f->strides);
        close(fd);
}
