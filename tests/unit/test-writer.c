/* SPDX-License-Identifier: MIT */
/* The writer against the HDF5 library itself: what is written reads back, bytes and index. */
#include <errno.h>
#include <hdf5.h>
#include <unistd.h>

#include "../../daemon/config.h"
#include "../../daemon/queue.h"
#include "../../daemon/util.h"
#include "../../daemon/writer.h"
#include "test.h"

static char dir[] = "/tmp/handrec-test-writer-XXXXXX";

static struct config config = {.text = (char *) "test config", .jpeg_quality = 85};
static struct hand_config hand = {.name = "right", .camera = {.width = 320, .height = 240, .fps = 30}};

static long long read_len(hid_t f, const char *name) {
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT), s = H5Dget_space(d);
        hsize_t n = 0;
        H5Sget_simple_extent_dims(s, &n, NULL);
        H5Sclose(s);
        H5Dclose(d);
        return (long long) n;
}

static void read_all(hid_t f, const char *name, hid_t type, void *buf) {
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
        CHECK(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        H5Dclose(d);
}

static void read_string_attr(hid_t f, const char *name, char *buf, size_t len) {
        hid_t a = H5Aopen(f, name, H5P_DEFAULT), t = H5Aget_type(a);
        char *s = NULL;
        CHECK(H5Aread(a, t, &s) >= 0);
        snprintf(buf, len, "%s", s ?: "");
        H5free_memory(s);
        H5Tclose(t);
        H5Aclose(a);
}

TEST(bytes_and_index_round_trip) {
        char path[256], error[512] = "", text[64];
        struct queue *q = NULL;
        struct writer *w = NULL;
        const struct queue_entry *batch[4];
        uint8_t data[700];
        unsigned total = 0;

        snprintf(path, sizeof(path), "%s/take.h5", dir);
        /* a small ring, so batches wrap around its end and are written in two runs */
        CHECK(queue_new(8, 2000, &q) == 0);
        struct take_info info = {.hand = "right",
                                 .label = "unit",
                                 .started_utc = "2026-01-01T00:00:00Z",
                                 .jpeg_quality = 85,
                                 .config = &config,
                                 .hand_config = &hand,
                                 .batch_size = 4};
        CHECK(writer_create(path, -1, &info, &w, error, sizeof(error)) == 0);
        if (!w)
                return;
        for (unsigned round = 0; round < 10; round++) {
                unsigned n = 1 + round % 4;
                for (unsigned i = 0; i < n; i++) {
                        unsigned k = total + i;
                        struct frame_meta m = {.number = k,
                                               .timestamp_ns = 1000 + k,
                                               .left_timestamp_ns = 999 + k,
                                               .right_timestamp_ns = 1001 + k,
                                               .left_sequence = k,
                                               .right_sequence = k};
                        memset(data, (int) k, sizeof(data));
                        CHECK(queue_push(q, data, 100 + 37 * (k % 13), &m, 0) == 0);
                }
                for (unsigned i = 0; i < n; i++)
                        batch[i] = queue_peek(q, i);
                CHECK(writer_append(w, q, batch, n, error, sizeof(error)) == 0);
                queue_release(q, n);
                total += n;
        }
        struct take_result res = {.stop_reason = "requested",
                                  .stopped_utc = "x",
                                  .frames_written = total,
                                  .frames_captured = total,
                                  .last_error = ""};
        res.dropped[DROP_QUEUE_FULL] = 2;
        CHECK(writer_finish(w, &res, error, sizeof(error)) == 0);
        queue_free(q);

        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        CHECK(f >= 0);
        CHECK_EQ_INT(read_len(f, "stereo/size"), total);
        CHECK_EQ_INT(read_len(f, "stereo/offset"), total);
        CHECK_EQ_INT(read_len(f, "stereo/left_sequence"), total);
        uint64_t off[64];
        uint32_t size[64], seq[64];
        int64_t ts[64];
        long long nbytes = read_len(f, "stereo/jpeg");
        uint8_t *bytes = malloc((size_t) nbytes);
        read_all(f, "stereo/offset", H5T_NATIVE_UINT64, off);
        read_all(f, "stereo/size", H5T_NATIVE_UINT32, size);
        read_all(f, "stereo/right_sequence", H5T_NATIVE_UINT32, seq);
        read_all(f, "stereo/timestamp_ns", H5T_NATIVE_INT64, ts);
        read_all(f, "stereo/jpeg", H5T_NATIVE_UINT8, bytes);
        uint64_t expect_off = 0;
        for (unsigned k = 0; k < total; k++) {
                CHECK_EQ_INT(off[k], expect_off);
                CHECK_EQ_INT(size[k], 100 + 37 * (k % 13));
                CHECK_EQ_INT(seq[k], k);
                CHECK_EQ_INT(ts[k], 1000 + k);
                CHECK_EQ_INT(bytes[off[k]], k & 0xff);
                CHECK_EQ_INT(bytes[off[k] + size[k] - 1], k & 0xff);
                expect_off += size[k];
        }
        CHECK_EQ_INT(nbytes, expect_off);
        read_string_attr(f, "status", text, sizeof(text));
        CHECK(streq(text, "complete"));
        read_string_attr(f, "stop_reason", text, sizeof(text));
        CHECK(streq(text, "requested"));
        read_string_attr(f, "format", text, sizeof(text));
        CHECK(streq(text, "handrec"));
        uint64_t dropped = 0;
        hid_t a = H5Aopen(f, "dropped_queue_full", H5P_DEFAULT);
        H5Aread(a, H5T_NATIVE_UINT64, &dropped);
        H5Aclose(a);
        CHECK_EQ_INT(dropped, 2);
        free(bytes);
        H5Fclose(f);
        unlink(path);
}

TEST(create_in_missing_folder_fails_clearly) {
        char error[512] = "";
        struct writer *w = NULL;
        struct take_info info = {.hand = "right",
                                 .label = "",
                                 .started_utc = "",
                                 .config = &config,
                                 .hand_config = &hand,
                                 .batch_size = 4};
        CHECK(writer_create("/nonexistent/dir/take.h5", -1, &info, &w, error, sizeof(error)) < 0);
        CHECK(w == NULL);
        CHECK_CONTAINS(error, "Cannot create /nonexistent/dir/take.h5");
}

int main(void) {
        static const struct test tests[] = {T(bytes_and_index_round_trip), T(create_in_missing_folder_fails_clearly)};
        int r;
        CHECK(mkdtemp(dir) != NULL);
        r = test_main("writer", tests, ELEMENTSOF(tests));
        rmdir(dir);
        return r;
}
