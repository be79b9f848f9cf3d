/* Log budgets (common/ratelog.h): `burst` lines a minute, the rest counted, and one line that
 * says how many were left out when the next minute's first line is allowed. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/ratelog.h"

/* Run ratelog_allow() with standard error sent to a file; what it wrote, in `out`. */
static bool
allow_logged(struct ratelog *r, double now, unsigned burst, char *out, size_t len)
{
    char path[] = "/tmp/vmloc-ratelog-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    (void)fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    bool ok = ratelog_allow(r, now, burst, "agent registered");
    (void)fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    (void)close(saved);
    ssize_t n = pread(fd, out, len - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    (void)close(fd);
    (void)unlink(path);
    return ok;
}

static void
test_budget(void **state)
{
    (void)state;
    log_init("test", LOG_LEVEL_INFO);
    struct ratelog r = {0};
    char out[1024];
    for (int i = 0; i < 5; i++)
        assert_true(allow_logged(&r, 100.0 + i, 5, out, sizeof(out)));
    for (int i = 0; i < 1000; i++)
        assert_false(ratelog_allow(&r, 110.0 + i * 0.01, 5, "agent registered"));
    assert_int_equal(r.left_out, 1000);
    assert_string_equal(out, "");
    /* Still the same minute: nothing said yet. */
    assert_false(allow_logged(&r, 159.0, 5, out, sizeof(out)));
    assert_string_equal(out, "");
    /* A new minute: the summary, then this line is allowed. */
    assert_true(allow_logged(&r, 160.5, 5, out, sizeof(out)));
    assert_non_null(
        strstr(out, "agent registered: 1001 more left out of the log in the last 60 s"));
    assert_int_equal(r.left_out, 0);
    assert_int_equal(r.used, 1);
    /* A quiet minute after that says nothing. */
    for (int i = 0; i < 4; i++)
        assert_true(ratelog_allow(&r, 161.0, 5, "agent registered"));
    assert_true(allow_logged(&r, 300.0, 5, out, sizeof(out)));
    assert_string_equal(out, "");
}

/* A clock that went back (a fresh struct's 0, or a restarted count) starts a new window
 * rather than holding lines back for ever. */
static void
test_clock_back(void **state)
{
    (void)state;
    log_init("test", LOG_LEVEL_INFO);
    struct ratelog r = {0};
    assert_true(ratelog_allow(&r, 500.0, 1, "x"));
    assert_false(ratelog_allow(&r, 501.0, 1, "x"));
    assert_true(ratelog_allow(&r, 400.0, 1, "x"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_clock_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
