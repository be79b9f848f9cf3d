/* The list of VM names on two hosts a collector keeps (view/dupvms.c): built from the marks of
 * cluster_mark_duplicates(), an episode counted once while it lasts and again when it comes
 * back, the hosts of each name, the per-host and whole lists the API serves, and the bound on
 * the names listed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/model.h"
#include "view/dupvms.h"

static void
add_host(struct cluster *cl, const char *name)
{
    size_t i;
    assert_int_equal(cluster_add_host(cl, name, strlen(name), &i), 0);
}

static void
add_vm(struct cluster *cl, const char *name)
{
    size_t i;
    assert_int_equal(cluster_add_vm(cl, name, strlen(name), &i), 0);
}

static void
test_episodes(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl);
    add_host(&cl, "h1");
    add_vm(&cl, "a");
    add_vm(&cl, "b");
    add_host(&cl, "h2");
    add_vm(&cl, "a");
    add_host(&cl, "h3");
    add_vm(&cl, "c");
    struct dupvms d = {0};
    assert_int_equal(cluster_mark_duplicates(&cl, NULL), 0);
    assert_int_equal(dupvms_update(&d, &cl, "not moved"), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.episodes_total, 1);
    const struct dupvm *e = dupvms_find(&d, "a");
    assert_non_null(e);
    assert_int_equal(e->n_hosts, 2);
    assert_string_equal(e->hosts[0], "h1");
    assert_string_equal(e->hosts[1], "h2");
    assert_null(dupvms_find(&d, "b"));

    json_t *j = dupvms_host_json(&d, "h2");
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "vm")), "a");
    json_decref(j);
    assert_null(dupvms_host_json(&d, "h3"));
    j = dupvms_json(&d);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);

    /* Still there: the same episode. */
    assert_int_equal(dupvms_update(&d, &cl, "not moved"), 0);
    assert_int_equal(d.episodes_total, 1);
    /* Gone (h2 down), then back: a second episode. */
    cl.hosts[1].state = HOST_DOWN;
    assert_int_equal(cluster_mark_duplicates(&cl, NULL), 0);
    assert_int_equal(dupvms_update(&d, &cl, "not moved"), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(d.count, 0);
    j = dupvms_json(&d);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    cl.hosts[1].state = HOST_UP;
    assert_int_equal(cluster_mark_duplicates(&cl, NULL), 0);
    assert_int_equal(dupvms_update(&d, &cl, "not moved"), 0);
    assert_int_equal(d.episodes_total, 2);
    dupvms_done(&d);
    cluster_done(&cl);
}

/* More names than are listed: all counted, DUPVMS_MAX listed, in name order. */
static void
test_bounded(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl);
    char name[32];
    for (int h = 0; h < 2; h++) {
        add_host(&cl, h == 0 ? "x" : "y");
        for (int i = 0; i < DUPVMS_MAX + 44; i++) {
            (void)snprintf(name, sizeof(name), "vm%04d", i);
            add_vm(&cl, name);
        }
    }
    struct dupvms d = {0};
    size_t n = 0;
    assert_int_equal(cluster_mark_duplicates(&cl, &n), 0);
    assert_int_equal(n, DUPVMS_MAX + 44);
    assert_int_equal(dupvms_update(&d, &cl, "not moved"), 0);
    assert_int_equal(d.count, DUPVMS_MAX + 44);
    assert_int_equal(d.n, DUPVMS_MAX);
    assert_string_equal(d.e[0].name, "vm0000");
    assert_string_equal(d.e[DUPVMS_MAX - 1].name, "vm0255");
    dupvms_done(&d);
    cluster_done(&cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_episodes),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
