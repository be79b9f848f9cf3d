/* `vmloc demo` end to end: it starts a manager and agents, drives its scripted spikes, and
 * must print a detected conflict and a completed migration, then stop everything it started
 * and exit 0. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"

static void
test_demo_runs_and_moves(void **state)
{
    (void)state;
    const char *argv[] = {"demo", "--duration", "9", "--interval", "0.2", NULL};
    char *out = NULL;
    int st = run_cli(argv, &out);
    if (st != 0 || strstr(out, "conflict  on h1") == NULL || strstr(out, " done in ") == NULL) {
        printf("demo exited %d, output:\n%s\n", st, out != NULL ? out : "(none)");
        free(out);
        fail();
    }
    assert_non_null(strstr(out, "conflict  on h1: cpu high"));
    assert_non_null(strstr(out, "migration web-1 h1 -> "));
    assert_non_null(strstr(out, " done in "));
    assert_non_null(strstr(out, "vmloc demo: stopping"));
    free(out);
    out = NULL;
}

static void
test_demo_bad_arguments(void **state)
{
    (void)state;
    const char *a1[] = {"demo", "--agents", "1", NULL};
    const char *a2[] = {"demo", "--duration", "-3", NULL};
    const char *a3[] = {"demo", "extra", NULL};
    assert_int_equal(run_cli(a1, NULL), 2);
    assert_int_equal(run_cli(a2, NULL), 2);
    assert_int_equal(run_cli(a3, NULL), 2);
}

int
main(void)
{
    if (getenv("VMLOC_BIN") == NULL) {
        printf("VMLOC_BIN not set; run through meson test\n");
        return 77;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_runs_and_moves),
        cmocka_unit_test(test_demo_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
