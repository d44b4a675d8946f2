/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "../../daemon/queue.h"
#include "../../daemon/util.h"
#include "test.h"

static uint8_t data[4096];

static int push(struct queue *q, size_t size, uint64_t number) {
        struct frame_meta m = {.number = number};
        memset(data, (int) (number & 0xff), size);
        return queue_push(q, data, size, &m, (int64_t) number);
}

TEST(push_peek_release_in_order) {
        struct queue *q = NULL;
        CHECK(queue_new(4, 1000, &q) == 0);
        CHECK(push(q, 100, 1) == 0);
        CHECK(push(q, 200, 2) == 0);
        CHECK_EQ_INT(queue_depth(q), 2);
        CHECK_EQ_INT(queue_bytes_used(q), 300);
        const struct queue_entry *e = queue_peek(q, 0);
        CHECK_EQ_INT(e->meta.number, 1);
        CHECK_EQ_INT(e->size, 100);
        CHECK_EQ_INT(queue_data(q, e)[99], 1);
        CHECK_EQ_INT(queue_peek(q, 1)->meta.number, 2);
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 100); /* adjacent: the writer writes them in one go */
        CHECK(queue_peek(q, 2) == NULL);
        queue_release(q, 1);
        CHECK_EQ_INT(queue_peek(q, 0)->meta.number, 2);
        queue_release(q, 1);
        CHECK_EQ_INT(queue_depth(q), 0);
        CHECK_EQ_INT(queue_bytes_used(q), 0);
        queue_free(q);
}

TEST(full_by_entries) {
        struct queue *q = NULL;
        CHECK(queue_new(3, 10000, &q) == 0);
        for (int i = 0; i < 3; i++)
                CHECK(push(q, 10, (uint64_t) i) == 0);
        CHECK(push(q, 10, 9) == -ENOBUFS);
        CHECK_EQ_INT(queue_depth(q), 3); /* the newest frame is refused, the queued ones kept */
        CHECK_EQ_INT(queue_peek(q, 2)->meta.number, 2);
        queue_free(q);
}

TEST(full_by_bytes_and_wrap) {
        struct queue *q = NULL;
        CHECK(queue_new(16, 1000, &q) == 0);
        CHECK(push(q, 400, 1) == 0);        /* [0,400) */
        CHECK(push(q, 400, 2) == 0);        /* [400,800) */
        CHECK(push(q, 300, 3) == -ENOBUFS); /* 200 at the end, nothing at the start */
        queue_release(q, 1);                /* frees [0,400) */
        CHECK(push(q, 300, 3) == 0);        /* does not fit at the end: wraps to 0 */
        CHECK_EQ_INT(queue_peek(q, 1)->pos, 0);
        CHECK_EQ_INT(queue_data(q, queue_peek(q, 1))[299], 3);
        CHECK_EQ_INT(queue_bytes_used(q), 1000 - 400 + 300);
        CHECK(push(q, 101, 4) == -ENOBUFS); /* only [300,400) is free: 100 bytes */
        CHECK(push(q, 100, 4) == 0);        /* exactly fills it */
        CHECK(push(q, 1, 5) == -ENOBUFS);
        CHECK_EQ_INT(queue_bytes_used(q), 1000); /* 800 of frames + the 200 skipped at the wrap */
        queue_release(q, 3);
        CHECK_EQ_INT(queue_depth(q), 0);
        CHECK(push(q, 1000, 6) == 0); /* an empty ring starts again at 0 */
        CHECK_EQ_INT(queue_peek(q, 0)->pos, 0);
        queue_free(q);
}

TEST(never_overlaps) {
        /* a long random run: no two live entries ever share a byte, order is kept */
        struct queue *q = NULL;
        uint32_t rng = 1;
        uint64_t next = 0, expect = 0;
        CHECK(queue_new(8, 3000, &q) == 0);
        for (int step = 0; step < 20000; step++) {
                rng = rng * 1103515245u + 12345u;
                if ((rng >> 16) % 3 != 0) {
                        size_t size = 1 + (rng >> 8) % 900;
                        if (push(q, size, next) == 0)
                                next++;
                } else if (queue_depth(q) > 0) {
                        const struct queue_entry *e = queue_peek(q, 0);
                        CHECK_EQ_INT(e->meta.number, expect);
                        CHECK_EQ_INT(queue_data(q, e)[e->size - 1], expect & 0xff);
                        queue_release(q, 1);
                        expect++;
                }
                for (unsigned i = 0; i < queue_depth(q); i++)
                        for (unsigned j = i + 1; j < queue_depth(q); j++) {
                                const struct queue_entry *a = queue_peek(q, i), *b = queue_peek(q, j);
                                CHECK(a->pos + a->size <= b->pos || b->pos + b->size <= a->pos);
                        }
        }
        CHECK(next > 1000);
        queue_free(q);
}

int main(void) {
        static const struct test tests[] = {T(push_peek_release_in_order), T(full_by_entries),
                                            T(full_by_bytes_and_wrap), T(never_overlaps)};
        return test_main("queue", tests, ELEMENTSOF(tests));
}
