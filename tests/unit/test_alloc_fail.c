/* Allocation-failure tests: the core and the decoders run with the n-th allocation failing,
 * for every n until a run needs no failure. Each run must return -ENOMEM (or succeed when
 * the failed allocation was not needed), never crash, and leave nothing allocated (the
 * sanitizer build's leak checker sees to that). malloc, calloc and realloc of the code under
 * test are wrapped with the linker's --wrap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/plan.h"
#include "proto/plan_json.h"
#include "proto/policy_ini.h"
#include "proto/snapshot.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static long fail_at = -1; /* fail the allocation with this number; -1: never */
static long calls;

static int
should_fail(void)
{
    return fail_at >= 0 && calls++ == fail_at;
}

void *
__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
    return should_fail() ? NULL : __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

static const char snapshot_text[] =
    "{\"time\": 1, \"hosts\": ["
    "{\"name\": \"h1\", \"mem_mib\": 8192, \"usage\": {\"cpu\": 90, \"disk\": 85},"
    " \"vms\": [{\"name\": \"a\", \"usage\": {\"cpu\": 40, \"disk\": 30}, \"mem_mib\": 1024},"
    "          {\"name\": \"b\", \"usage\": {\"cpu\": 35, \"disk\": 40}, \"priority\": 3,"
    "           \"moves\": [0.25, 0.5, 0.75, 0.9]},"
    "          {\"name\": \"c\", \"usage\": {\"cpu\": 10}, \"pinned\": true}]},"
    "{\"name\": \"h2\", \"usage\": {\"cpu\": 85}, \"vms\": ["
    "  {\"name\": \"d\", \"usage\": {\"cpu\": 42}}, {\"name\": \"e\", \"usage\": {\"cpu\": 41}}]},"
    "{\"name\": \"h3\", \"capacity\": 2, \"usage\": {\"cpu\": 10}, \"vms\": []},"
    "{\"name\": \"h4\", \"usage\": {\"cpu\": 20}, \"extra\": {\"x\": [1, 2]}}]}";

static const char config_text[] = "[detect]\n"
                                  "resources = cpu, disk\n"
                                  "host_threshold.disk = 70\n"
                                  "[relocate]\n"
                                  "dest_select = weighted\n"
                                  "weights = cpu:1, disk:0.5\n"
                                  "[host \"h3\"]\n"
                                  "capacity = 2\n"
                                  "[host \"h4\"]\n"
                                  "host_threshold = 95\n";

/* One full run: parse config and snapshot, plan, encode. 0, or the first error. */
static int
run_once(void)
{
    struct policy pol;
    struct cluster cl;
    struct plan p;
    struct perr err;
    char *json = NULL;
    char *ini = NULL;
    char *snap = NULL;
    size_t snap_len = 0;
    policy_init(&pol);
    cluster_init(&cl);
    plan_init(&p);
    int r = config_parse_string(config_text, "t.ini", &pol, &err);
    if (r == 0)
        r = snapshot_decode(snapshot_text, sizeof(snapshot_text) - 1, "t.json", &cl, &err);
    if (r == 0)
        r = cluster_mark_duplicates(&cl, NULL);
    if (r == 0) {
        r = plan_compute(&cl, &pol, NULL, &p);
        if (r < 0) {
            /* A failed plan leaves nothing behind. */
            assert_int_equal(p.n_conflicts, 0);
            assert_null(p.conflicts);
            assert_null(p.moves);
        } else {
            assert_int_equal(p.n_conflicts, 2);
            assert_int_equal(p.n_moves + p.n_unresolved, 2);
        }
    }
    if (r == 0)
        r = plan_json_encode(&cl, &pol, &p, &json);
    if (r == 0)
        r = config_format(&pol, &ini);
    if (r == 0)
        r = snapshot_encode(&cl, 1, &snap, &snap_len);
    free(json);
    free(ini);
    free(snap);
    plan_done(&p);
    cluster_done(&cl);
    policy_done(&pol);
    return r;
}

static void
test_every_allocation_fails_cleanly(void **state)
{
    (void)state;
    fail_at = -1;
    assert_int_equal(run_once(), 0);
    long n;
    for (n = 0; n < 100000; n++) {
        fail_at = n;
        calls = 0;
        int r = run_once();
        fail_at = -1;
        if (calls <= n) {
            /* The run needed fewer allocations than n: nothing failed, and all succeeded. */
            assert_int_equal(r, 0);
            break;
        }
        /* An allocation failed: the run reports it as -ENOMEM (the decoders may surface a
         * failure inside a callback the same way). */
        assert_int_equal(r, -ENOMEM);
    }
    assert_true(n > 10); /* the loop really exercised the failure paths */
}

static void
test_streaming_decoder_oom(void **state)
{
    (void)state;
    for (long n = 0; n < 100000; n++) {
        fail_at = n;
        calls = 0;
        struct perr err;
        struct cluster cl;
        cluster_init(&cl);
        struct snapshot_decoder *d = snapshot_decoder_new("x");
        int r = d == NULL ? -ENOMEM : 0;
        for (size_t off = 0; r == 0 && off < sizeof(snapshot_text) - 1; off += 7) {
            size_t len = sizeof(snapshot_text) - 1 - off;
            r = snapshot_decoder_feed(d, snapshot_text + off, len < 7 ? len : 7, &err);
        }
        if (r == 0)
            r = snapshot_decoder_finish(d, &cl, &err);
        snapshot_decoder_free(d);
        cluster_done(&cl);
        fail_at = -1;
        if (calls <= n) {
            assert_int_equal(r, 0);
            return;
        }
        assert_int_equal(r, -ENOMEM);
    }
    fail();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_cleanly),
        cmocka_unit_test(test_streaming_decoder_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
