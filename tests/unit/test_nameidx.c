/* The index of items by name (common/nameidx.h): lookups after every put and remove agree
 * with a plain list, in small tables where names collide and runs wrap around the end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/nameidx.h"

#define N_NAMES 12

struct item {
    char name[16];
    int in; /* in the index, per the reference */
};

static const char *
name_of(const void *p)
{
    const struct item *it = p;
    return it->name;
}

/* Every item is found exactly when the reference says it is in, and as itself. */
static void
check(const struct nameidx *x, struct item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *got = nameidx_find(x, items[i].name);
        if (items[i].in)
            assert_ptr_equal(got, &items[i]);
        else
            assert_null(got);
    }
    assert_null(nameidx_find(x, "never-put"));
}

static void
test_bad_init(void **state)
{
    (void)state;
    struct nameidx x;
    assert_int_equal(nameidx_init(&x, 12, name_of), -EINVAL);
}

/* Random puts and removes (a fixed seed) in 16 slots holding at most 8: every name collides
 * with others and runs wrap past the last slot. */
static void
test_against_reference(void **state)
{
    (void)state;
    struct item items[N_NAMES];
    for (size_t i = 0; i < N_NAMES; i++) {
        (void)snprintf(items[i].name, sizeof(items[i].name), "h%zu", i);
        items[i].in = 0;
    }
    struct nameidx x;
    assert_int_equal(nameidx_init(&x, 16, name_of), 0);
    uint32_t seed = 12345;
    size_t in = 0;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 16) % N_NAMES;
        if (!items[k].in && in < 8) {
            nameidx_put(&x, &items[k]);
            items[k].in = 1;
            in++;
        } else if (items[k].in) {
            nameidx_remove(&x, &items[k]);
            items[k].in = 0;
            in--;
        }
        check(&x, items, N_NAMES);
    }
    /* Removing what is not in changes nothing. */
    for (size_t i = 0; i < N_NAMES; i++) {
        if (!items[i].in) {
            nameidx_remove(&x, &items[i]);
            check(&x, items, N_NAMES);
        }
    }
    nameidx_free(&x);
}

/* A full run at the end of the table that wraps to its start, emptied from the middle. */
static void
test_wrapping_run(void **state)
{
    (void)state;
    struct item items[N_NAMES];
    struct nameidx x;
    assert_int_equal(nameidx_init(&x, 4, name_of), 0);
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(items[i].name, sizeof(items[i].name), "w%zu", i);
        items[i].in = 1;
        nameidx_put(&x, &items[i]);
    }
    check(&x, items, 3);
    for (size_t i = 0; i < 3; i++) {
        nameidx_remove(&x, &items[(i + 1) % 3]);
        items[(i + 1) % 3].in = 0;
        check(&x, items, 3);
    }
    nameidx_free(&x);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_init),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_wrapping_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
