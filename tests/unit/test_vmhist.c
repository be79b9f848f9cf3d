/* The VMs' history of a host's raw samples (view/vmhist.h), as GET /v1/hosts/NAME/history?vms=1
 * serves it: per VM its own times, the kinds and the wait, null where not measured; only the
 * newest VMHIST_SAMPLES samples of the host, only that host's VMs, `since` selecting. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "testdir.h"
#include "view/vmhist.h"

static int
group_setup(void **state)
{
    (void)state;
    return testdir_setup(VMLOC_TEST_TMP, "vmhist-test");
}

/* List `key` (of object `sub` when not NULL) of VM object `v`. */
static json_t *
vm_list(json_t *v, const char *sub, const char *key)
{
    json_t *o = sub != NULL ? json_object_get(v, sub) : v;
    json_t *l = json_object_get(o, key);
    assert_true(json_is_array(l));
    return l;
}

static void
test_vm_history(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = NULL;
    char err[512] = "";
    if (store_open(dir, &s, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    /* 605 samples of h1 a second apart: VM a in each, its wait measured every other one; VM
     * b only in the first five (older than the newest 600); h2's VM c beside them. */
    const int n = VMHIST_SAMPLES + 5;
    const double t0 = 1.7e9;
    assert_int_equal(store_begin(s), 0);
    for (int i = 0; i < n; i++) {
        double pct[KIND_COUNT] = {50, 10, 0, 0};
        double t = t0 + i;
        assert_int_equal(store_add_sample(s, t, "h1", pct, KIND_MASK_ALL, NULL, true), 0);
        const double a[KIND_COUNT] = {(double)(i % 90), 3, 0, 0};
        double wait = (i % 40) * 0.25;
        assert_int_equal(store_add_vm(s, "a", a, KIND_BIT(KIND_CPU) | KIND_BIT(KIND_MEM_BW),
                                      i % 2 == 0 ? &wait : NULL),
                         0);
        if (i < 5)
            assert_int_equal(store_add_vm(s, "b", a, KIND_BIT(KIND_CPU), NULL), 0);
        assert_int_equal(store_add_sample(s, t, "h2", pct, KIND_MASK_ALL, NULL, true), 0);
        assert_int_equal(store_add_vm(s, "c", a, KIND_BIT(KIND_CPU), &wait), 0);
    }
    assert_int_equal(store_commit(s), 0);

    json_t *arr = vmhist_json(s, "h1", 0);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 1); /* b is older than the window, c is h2's */
    json_t *v = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(v, "name")), "a");
    json_t *time = vm_list(v, NULL, "time");
    assert_int_equal(json_array_size(time), VMHIST_SAMPLES);
    for (size_t j = 0; j < json_array_size(time); j++) {
        int i = (int)j + 5;
        assert_true(json_number_value(json_array_get(time, j)) == t0 + i);
        assert_true(json_number_value(json_array_get(vm_list(v, "usage", "cpu"), j)) ==
                    (double)(i % 90));
        assert_true(json_number_value(json_array_get(vm_list(v, "usage", "mem_bw"), j)) == 3);
        assert_true(json_is_null(json_array_get(vm_list(v, "usage", "disk"), j)));
        assert_true(json_is_null(json_array_get(vm_list(v, "usage", "net"), j)));
        json_t *w = json_array_get(vm_list(v, NULL, "cpu_wait"), j);
        if (i % 2 == 0)
            assert_true(json_number_value(w) == (i % 40) * 0.25);
        else
            assert_true(json_is_null(w));
    }
    json_decref(arr);

    /* since selects; an unknown host has no VMs. */
    arr = vmhist_json(s, "h1", t0 + n - 3);
    assert_non_null(arr);
    assert_int_equal(json_array_size(vm_list(json_array_get(arr, 0), NULL, "time")), 3);
    assert_int_equal(json_array_size(vm_list(json_array_get(arr, 0), NULL, "cpu_wait")), 3);
    json_decref(arr);
    arr = vmhist_json(s, "nobody", 0);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
    arr = vmhist_json(s, "h1", t0 + n + 1); /* after the newest: none */
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
    store_close(s);
}

/* A host whose clock went back: the newest samples as stored, not the latest times, are the
 * ones kept (the samples stamped earlier after the step are not left out). */
static void
test_clock_back(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = NULL;
    char err[512] = "";
    if (store_open(dir, &s, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    const int n = VMHIST_SAMPLES + 5;
    const double t0 = 1.7e9;
    const double pct[KIND_COUNT] = {50, 10, 0, 0};
    const double a[KIND_COUNT] = {20, 0, 0, 0};
    assert_int_equal(store_begin(s), 0);
    for (int i = 0; i < n; i++) {
        /* The last five an hour earlier than the first: the clock was set back. */
        double t = i < n - 5 ? t0 + i : t0 - 3600 + i;
        assert_int_equal(store_add_sample(s, t, "h1", pct, KIND_MASK_ALL, NULL, true), 0);
        assert_int_equal(store_add_vm(s, i < n - 5 ? "a" : "d", a, KIND_BIT(KIND_CPU), NULL), 0);
    }
    assert_int_equal(store_commit(s), 0);
    json_t *arr = vmhist_json(s, "h1", 0);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 2);
    size_t total = 0;
    bool d_seen = false;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        size_t k = json_array_size(vm_list(v, NULL, "time"));
        total += k;
        if (strcmp(json_string_value(json_object_get(v, "name")), "d") == 0) {
            d_seen = true;
            assert_int_equal(k, 5);
        }
    }
    assert_true(d_seen);
    assert_int_equal(total, VMHIST_SAMPLES);
    json_decref(arr);
    store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_history),
        cmocka_unit_test(test_clock_back),
    };
    return cmocka_run_group_tests_name("vmhist", tests, group_setup, testdir_teardown);
}
