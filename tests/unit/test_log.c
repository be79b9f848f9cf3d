/* The log line (common/log.c): journald's form ("<N>" first, no time stamp) and the usual one,
 * the priorities, a line too long, and whether JOURNAL_STREAM names a given file. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"

static void
test_priorities(void **state)
{
    (void)state;
    assert_int_equal(log_priority(LOG_LEVEL_ERROR), 3);
    assert_int_equal(log_priority(LOG_LEVEL_WARN), 4);
    assert_int_equal(log_priority(LOG_LEVEL_INFO), 6);
    assert_int_equal(log_priority(LOG_LEVEL_DEBUG), 7);
}

static void
test_format(void **state)
{
    (void)state;
    char buf[256];
    static const struct {
        enum log_level level;
        bool journal;
        int err;
        const char *want;
    } cases[] = {
        {LOG_LEVEL_ERROR, true, 0, "<3>error manager: cannot listen\n"},
        {LOG_LEVEL_WARN, true, 0, "<4>warn manager: cannot listen\n"},
        {LOG_LEVEL_INFO, true, 0, "<6>info manager: cannot listen\n"},
        {LOG_LEVEL_DEBUG, true, 0, "<7>debug manager: cannot listen\n"},
        {LOG_LEVEL_WARN, true, 2, "<4>warn manager: cannot listen: No such file or directory\n"},
        {LOG_LEVEL_ERROR, false, 0, "2026-11-27T03:55:08.123Z error manager: cannot listen\n"},
        {LOG_LEVEL_INFO, false, 2,
         "2026-11-27T03:55:08.123Z info manager: cannot listen: No such file or directory\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct log_line l = {cases[i].level, cases[i].journal, "2026-11-27T03:55:08.123Z",
                             "manager",      "cannot listen",  cases[i].err};
        size_t n = log_format(buf, sizeof(buf), &l);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
    /* Too long: cut, and still one line. */
    struct log_line l = {LOG_LEVEL_INFO, true, "", "agent", "0123456789abcdef", 0};
    char small[16];
    assert_int_equal(log_format(small, sizeof(small), &l), 15);
    assert_string_equal(small, "<6>info agent:\n");
    assert_int_equal(log_format(small, 1, &l), 0);
    assert_string_equal(small, "");
}

/* Text from outside cannot start a line or drive the terminal. */
static void
test_clean(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(log_clean(buf, sizeof(buf), "a\nb\rc\td"), 7);
    assert_string_equal(buf, "a b c d");
    assert_int_equal(log_clean(buf, sizeof(buf), "h2\x1b[2J\x7fz"), 14);
    assert_string_equal(buf, "h2\\x1b[2J\\x7fz");
    assert_int_equal(log_clean(buf, sizeof(buf), "caf\xc3\xa9"), 5); /* UTF-8 stays */
    assert_string_equal(buf, "caf\xc3\xa9");
    /* Cut where it does not fit, never inside an escape. */
    char small[6];
    assert_int_equal(log_clean(small, sizeof(small),
                               "ab\x01"
                               "cd"),
                     2);
    assert_string_equal(small, "ab");
    assert_int_equal(log_clean(small, sizeof(small), "abcdefgh"), 5);
    assert_string_equal(small, "abcde");
    assert_int_equal(log_clean(small, 0, "x"), 0);
}

static void
test_journal_stream(void **state)
{
    (void)state;
    assert_true(log_journal_stream_matches("8:12345", 8, 12345));
    assert_true(
        log_journal_stream_matches("2049:18446744073709551615", 2049, 18446744073709551615ull));
    assert_false(log_journal_stream_matches("8:12345", 8, 12346));
    assert_false(log_journal_stream_matches("8:12345", 9, 12345));
    static const char *const bad[] = {
        "",         "8",   "8:",       ":12345",   "8:12345:1",
        "8:12345 ", "x:1", "-8:12345", "8:+12345", "99999999999999999999999:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(log_journal_stream_matches(bad[i], 8, 12345));
    assert_false(log_journal_stream_matches(NULL, 0, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priorities),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_journal_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
