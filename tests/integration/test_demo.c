/* `vmloc demo` end to end, in each mode: it starts its agents (and a manager unless the mode
 * is peer), drives its scripted spikes, and must print a detected conflict and a completed
 * migration, then stop everything it started and exit 0. */
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

/* Run the demo in `mode` for 9 s: a conflict on h1 is detected and its migration done. */
static void
demo_in_mode(const char *mode)
{
    const char *argv[] = {"demo", "--duration", "9", "--interval", "0.2", "--mode", mode, NULL};
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
    char head[64];
    (void)snprintf(head, sizeof(head), "(%s mode)", mode);
    assert_non_null(strstr(out, head));
    free(out);
    out = NULL;
}

static void
test_demo_runs_and_moves(void **state)
{
    (void)state;
    demo_in_mode("central");
}

static void
test_demo_edge(void **state)
{
    (void)state;
    demo_in_mode("edge");
}

static void
test_demo_peer(void **state)
{
    (void)state;
    demo_in_mode("peer");
}

static void
test_demo_bad_arguments(void **state)
{
    (void)state;
    const char *a1[] = {"demo", "--agents", "1", NULL};
    const char *a2[] = {"demo", "--duration", "-3", NULL};
    const char *a3[] = {"demo", "extra", NULL};
    const char *a4[] = {"demo", "--mode", "mesh", NULL};
    assert_int_equal(run_cli(a4, NULL), 2);
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
        cmocka_unit_test(test_demo_edge),
        cmocka_unit_test(test_demo_peer),
        cmocka_unit_test(test_demo_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
