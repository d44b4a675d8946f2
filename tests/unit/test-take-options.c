/* SPDX-License-Identifier: MIT */
/* StartRecording's options read from real sd-bus messages (made on a bus that never connects,
 * sealed as if sent): what is accepted, each refusal's exact sentence (docs/dbus-api.md and the
 * integration tests quote them), and the inputs tests/fuzz/fuzz-take-options.c ran into. */
#include <math.h>
#include <sys/socket.h>

#include "../../lib/calibration.h"
#include "../../daemon/daemon.h"
#include "../../daemon/take-options.h"
#include "../../lib/util.h"
#include "test.h"

static sd_bus *bus;
static struct calibration calibration; /* the parser only asks whether a hand has one */

/* A StartRecording call whose body is appended by the caller. */
static sd_bus_message *new_call(void) {
        sd_bus_message *m = NULL;

        if (sd_bus_message_new_method_call(bus, &m, "org.handrec1", "/org/handrec1", "org.handrec1.Manager",
                                           "StartRecording") < 0)
                abort();
        return m;
}

/* Seal @m as sending would, and read its options for the right hand (@calibrated: with a
 * calibration). @o starts with the daemon's defaults. The message is freed. */
static int read_options(sd_bus_message *m, bool calibrated, struct take_options *o, sd_bus_error *error) {
        struct hand_config hand = {.name = "right", .calibration = calibrated ? &calibration : NULL};
        int r;

        *o = (struct take_options){.jpeg_quality = 85, .rectify = -1};
        CHECK(sd_bus_message_seal(m, 1, 0) >= 0);
        CHECK(sd_bus_message_rewind(m, true) >= 0);
        r = take_options_read(m, &hand, o, error);
        if (r >= 0)
                CHECK(sd_bus_message_at_end(m, true) > 0);
        sd_bus_message_unref(m);
        return r;
}

/* Options given as sd_bus_message_append() takes an a{sv}: count, then key, type, value... */
#define OPTIONS(...)                                                                                                   \
        ({                                                                                                             \
                sd_bus_message *_m = new_call();                                                                       \
                CHECK(sd_bus_message_append(_m, "a{sv}", __VA_ARGS__) >= 0);                                           \
                _m;                                                                                                    \
        })

static bool untouched(const struct take_options *o) {
        return o->duration == 0 && o->label[0] == 0 && o->jpeg_quality == 85 && o->rectify == -1 &&
               o->episode[0] == 0 && o->task[0] == 0;
}

/* The call is refused with InvalidOption and exactly @sentence, leaving the options as they were. */
static void check_refused(sd_bus_message *m, bool calibrated, const char *sentence) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct take_options o;

        CHECK(read_options(m, calibrated, &o, &error) < 0);
        CHECK(sd_bus_error_has_name(&error, ERROR_INVALID_OPTION));
        if (!error.message || !streq(error.message, sentence)) {
                fprintf(stderr, "  got:  %s\n  want: %s\n", error.message ?: "(none)", sentence);
                CHECK(false);
        }
        CHECK(untouched(&o));
}

TEST(every_option) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct take_options o;

        CHECK_EQ_INT(read_options(OPTIONS(4, "duration", "d", 60.5, "label", "s", "pick_cup-2", "jpeg_quality", "i", 95,
                                          "rectify", "b", 1),
                                  true, &o, &error),
                     0);
        CHECK(!sd_bus_error_is_set(&error));
        CHECK(o.duration == 60.5);
        CHECK(streq(o.label, "pick_cup-2"));
        CHECK_EQ_INT(o.jpeg_quality, 95);
        CHECK_EQ_INT(o.rectify, 1);
}

TEST(no_options_keep_the_defaults) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct take_options o;

        CHECK_EQ_INT(read_options(OPTIONS(0), false, &o, &error), 0);
        CHECK(untouched(&o));
        /* rectify = false needs no calibration */
        CHECK_EQ_INT(read_options(OPTIONS(1, "rectify", "b", 0), false, &o, &error), 0);
        CHECK_EQ_INT(o.rectify, 0);
}

TEST(numbers_of_any_type) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct take_options o;

        CHECK_EQ_INT(
                read_options(OPTIONS(2, "duration", "t", UINT64_C(604800), "jpeg_quality", "y", 60), false, &o, &error),
                0);
        CHECK(o.duration == 604800);
        CHECK_EQ_INT(o.jpeg_quality, 60);
        CHECK_EQ_INT(read_options(OPTIONS(2, "duration", "q", 1, "jpeg_quality", "d", 80.0), false, &o, &error), 0);
        CHECK(o.duration == 1);
        CHECK_EQ_INT(o.jpeg_quality, 80);
        CHECK_EQ_INT(read_options(OPTIONS(2, "duration", "n", 7, "jpeg_quality", "x", INT64_C(61)), false, &o, &error),
                     0);
        CHECK(o.duration == 7);
        CHECK_EQ_INT(o.jpeg_quality, 61);
}

TEST(each_refusal_says_what_to_give) {
        check_refused(OPTIONS(1, "colour", "s", "red"), false,
                      "Unknown option \"colour\"; known options: duration (d, seconds), label (s), jpeg_quality (i, "
                      "60-95), rectify (b), episode (s), task (s), operator (s).");
        check_refused(OPTIONS(2, "duration", "d", 1.0, "duration", "d", 2.0), false,
                      "Option \"duration\" is given twice; give it once.");
        check_refused(OPTIONS(1, "duration", "s", "ten"), false,
                      "Option \"duration\" must be a number (d), not \"s\".");
        check_refused(OPTIONS(1, "duration", "d", -1.0), false,
                      "Duration -1 is out of range: give seconds, more than 0 and at most 604800 (a week).");
        check_refused(OPTIONS(1, "duration", "d", (double) NAN), false,
                      "Duration nan is out of range: give seconds, more than 0 and at most 604800 (a week).");
        check_refused(OPTIONS(1, "duration", "t", UINT64_C(604801)), false,
                      "Duration 604801 is out of range: give seconds, more than 0 and at most 604800 (a week).");
        check_refused(OPTIONS(1, "label", "i", 3), false, "Option \"label\" must be a string (s), not \"i\".");
        check_refused(OPTIONS(1, "label", "s", "../x"), false,
                      "Label \"../x\" is not allowed: use 1 to 64 letters, digits, '_' or '-'.");
        check_refused(OPTIONS(1, "label", "s", ""), false,
                      "Label \"\" is not allowed: use 1 to 64 letters, digits, '_' or '-'.");
        check_refused(OPTIONS(1, "jpeg_quality", "i", 101), false,
                      "JPEG quality 101 is out of range: use a whole number from 60 to 95.");
        check_refused(OPTIONS(1, "jpeg_quality", "d", 85.5), false,
                      "JPEG quality 85.5 is out of range: use a whole number from 60 to 95.");
        check_refused(OPTIONS(1, "jpeg_quality", "s", "high"), false,
                      "Option \"jpeg_quality\" must be a number (i), not \"s\".");
        check_refused(OPTIONS(1, "rectify", "i", 1), true, "Option \"rectify\" must be a boolean (b), not \"i\".");
        check_refused(OPTIONS(1, "rectify", "b", 1), false,
                      "Hand right has no calibration to rectify with; set calibration in its config group "
                      "(right_hand.calibration), or leave rectify out.");
}

TEST(a_refusal_after_good_options_changes_nothing) {
        check_refused(OPTIONS(3, "duration", "d", 5.0, "label", "s", "ok", "jpeg_quality", "i", 20), false,
                      "JPEG quality 20 is out of range: use a whole number from 60 to 95.");
}

TEST(long_labels_are_cut_in_the_sentence) {
        char label[1000], want[256];

        memset(label, 'a', sizeof(label) - 1);
        label[sizeof(label) - 1] = 0;
        snprintf(want, sizeof(want), "Label \"%.80s…\" is not allowed: use 1 to 64 letters, digits, '_' or '-'.",
                 label);
        check_refused(OPTIONS(1, "label", "s", label), false, want);
        /* never cut inside a UTF-8 character: 79 bytes, then two-byte ones (the reply could not be sent) */
        snprintf(label, sizeof(label), "%.79s%s", want + 7, "éééé");
        snprintf(want, sizeof(want), "Label \"%.79s…\" is not allowed: use 1 to 64 letters, digits, '_' or '-'.",
                 label);
        check_refused(OPTIONS(1, "label", "s", label), false, want);
        memset(label, 'a', sizeof(label) - 1);
        label[sizeof(label) - 1] = 0;
        /* 64 is allowed */
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct take_options o;
        label[64] = 0;
        CHECK_EQ_INT(read_options(OPTIONS(1, "label", "s", label), false, &o, &error), 0);
        CHECK(streq(o.label, label));
}

/* Containers in the variant are refused by their type, never read as a number or a string. */
TEST(containers_in_the_variant) {
        check_refused(OPTIONS(1, "duration", "v", "d", 3.0), false,
                      "Option \"duration\" must be a number (d), not \"v\".");
        check_refused(OPTIONS(1, "label", "a{sv}", 1, "label", "s", "x"), false,
                      "Option \"label\" must be a string (s), not \"a{sv}\".");
        check_refused(OPTIONS(1, "jpeg_quality", "(id)", 90, 1.0), false,
                      "Option \"jpeg_quality\" must be a number (i), not \"(id)\".");
        check_refused(OPTIONS(1, "rectify", "ab", 1, 1), true, "Option \"rectify\" must be a boolean (b), not \"ab\".");
}

TEST(episode_and_task) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *task = "Pick the \"red\" cup — 90°, 'gently' ↗ 日本";
        char episode[65], long_task[1026];
        struct take_options o;

        CHECK_EQ_INT(read_options(OPTIONS(2, "episode", "s", "20261126T043000Z-a1.b_2", "task", "s", task), false, &o,
                                  &error),
                     0);
        CHECK(streq(o.episode, "20261126T043000Z-a1.b_2"));
        CHECK(streq(o.task, task));
        memset(episode, 'e', 64);
        episode[64] = 0;
        memset(long_task, 'x', 1024);
        long_task[1024] = 0;
        CHECK_EQ_INT(read_options(OPTIONS(2, "episode", "s", episode, "task", "s", long_task), false, &o, &error), 0);
        CHECK(streq(o.episode, episode) && streq(o.task, long_task));
        /* 1024 bytes of two-byte characters */
        for (int i = 0; i < 512; i++)
                memcpy(long_task + 2 * i, "é", 2);
        long_task[1024] = 0;
        CHECK_EQ_INT(read_options(OPTIONS(1, "task", "s", long_task), false, &o, &error), 0);
        CHECK(strlen(o.task) == 1024);
}

TEST(episode_and_task_refusals) {
        char long_task[1026];

        memset(long_task, 'x', 1025);
        long_task[1025] = 0;
        check_refused(OPTIONS(1, "task", "s", long_task), false,
                      "The task is 1025 bytes long; describe it in at most 1024 bytes of UTF-8.");
        check_refused(OPTIONS(1, "task", "s", "two\nlines"), false,
                      "The task must be printable text: no control characters such as newlines or tabs.");
        check_refused(OPTIONS(1, "task", "s", "C1 \xc2\x85 next line"), false,
                      "The task must be printable text: no control characters such as newlines or tabs.");
        check_refused(OPTIONS(1, "task", "i", 3), false, "Option \"task\" must be a string (s), not \"i\".");
        check_refused(OPTIONS(1, "episode", "s", "a b"), false,
                      "Episode \"a b\" is not allowed: use 1 to 64 letters, digits, '_', '.' or '-'.");
        check_refused(OPTIONS(1, "episode", "s", ""), false,
                      "Episode \"\" is not allowed: use 1 to 64 letters, digits, '_', '.' or '-'.");
        check_refused(OPTIONS(1, "episode", "s", "../x/y"), false,
                      "Episode \"../x/y\" is not allowed: use 1 to 64 letters, digits, '_', '.' or '-'.");
        check_refused(OPTIONS(1, "episode", "b", 1), false, "Option \"episode\" must be a string (s), not \"b\".");
        check_refused(OPTIONS(2, "task", "s", "ok", "task", "s", "again"), false,
                      "Option \"task\" is given twice; give it once.");
}

/* Not UTF-8: sd-bus will not even put it in a message; the check does not rely on that. */
TEST(task_text_must_be_utf8) {
        sd_bus_message *m = new_call();

        CHECK(sd_bus_message_append(m, "a{sv}", 1, "task", "s", "bad \xff byte") < 0);
        sd_bus_message_unref(m);
        CHECK(text_printable("plain ascii, \"quotes\" and 'more'"));
        CHECK(text_printable("é 日本 😀 \xf4\x8f\xbf\xbf")); /* up to U+10FFFF */
        CHECK(text_printable(""));
        CHECK(!text_printable("\xff"));             /* never a UTF-8 byte */
        CHECK(!text_printable("\xc3"));             /* cut short */
        CHECK(!text_printable("\xc3x"));            /* not a continuation */
        CHECK(!text_printable("\xc0\xaf"));         /* overlong '/' */
        CHECK(!text_printable("\xe0\x80\xaf"));     /* overlong, 3 bytes */
        CHECK(!text_printable("\xed\xa0\x80"));     /* a surrogate */
        CHECK(!text_printable("\xf4\x90\x80\x80")); /* beyond U+10FFFF */
        CHECK(!text_printable("tab\t") && !text_printable("del\x7f") && !text_printable("\xc2\x9f"));
}

int main(void) {
        static const struct test tests[] = {T(every_option),
                                            T(no_options_keep_the_defaults),
                                            T(numbers_of_any_type),
                                            T(each_refusal_says_what_to_give),
                                            T(a_refusal_after_good_options_changes_nothing),
                                            T(long_labels_are_cut_in_the_sentence),
                                            T(containers_in_the_variant),
                                            T(episode_and_task),
                                            T(episode_and_task_refusals),
                                            T(task_text_must_be_utf8)};
        int fds[2], r;

        /* messages need a bus that has been started; this one never gets past authentication */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0 || sd_bus_new(&bus) < 0 ||
            sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0) {
                fprintf(stderr, "cannot make a bus to build messages on\n");
                return EXIT_FAILURE;
        }
        r = test_main("take-options", tests, ELEMENTSOF(tests));
        sd_bus_close_unref(bus);
        close(fds[1]);
        return r;
}
