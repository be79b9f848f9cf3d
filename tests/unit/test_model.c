/* The cluster model: names and kinds, hosts and VMs grouped by host in the order added, the
 * limits that keep indices in 32 bits, VMs' moves, and copies that own their names. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/model.h"

static void
test_kind_names(void **state)
{
    (void)state;
    static const char *const names[KIND_COUNT] = {"cpu", "mem_bw", "disk", "net"};
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        assert_string_equal(kind_name((enum kind)k), names[k]);
        enum kind got = KIND_COUNT;
        assert_int_equal(kind_parse(names[k], strlen(names[k]), &got), 0);
        assert_int_equal(got, k);
    }
    enum kind got = KIND_CPU;
    /* exactly `len` bytes: a prefix or a longer word is not a kind */
    assert_int_equal(kind_parse("cpu", 2, &got), -EINVAL);
    assert_int_equal(kind_parse("cpux", 4, &got), -EINVAL);
    assert_int_equal(kind_parse("memory", 6, &got), -EINVAL);
    assert_int_equal(kind_parse("", 0, &got), -EINVAL);
    assert_int_equal(kind_parse("diskette", 4, &got), 0);
    assert_int_equal(got, KIND_DISK);
}

static void
test_host_states(void **state)
{
    (void)state;
    static const char *const names[] = {"up", "maintenance", "down"};
    for (int s = HOST_UP; s <= HOST_DOWN; s++) {
        assert_string_equal(host_state_name((enum host_state)s), names[s]);
        enum host_state got = HOST_DOWN;
        assert_int_equal(host_state_parse(names[s], strlen(names[s]), &got), 0);
        assert_int_equal(got, s);
    }
    enum host_state got;
    assert_int_equal(host_state_parse("UP", 2, &got), -EINVAL);
    assert_int_equal(host_state_parse("drain", 5, &got), -EINVAL);
}

static void
test_grouping_and_defaults(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl);
    size_t i;
    /* a VM needs a host to belong to */
    assert_int_equal(cluster_add_vm(&cl, "orphan", 6, &i), -EINVAL);
    assert_int_equal(cl.n_vms, 0);
    char name[64];
    for (size_t h = 0; h < 40; h++) { /* past the arrays' first growth */
        (void)snprintf(name, sizeof(name), "h%zu", h);
        assert_int_equal(cluster_add_host(&cl, name, strlen(name), &i), 0);
        assert_int_equal(i, h);
        for (size_t v = 0; v < h % 4; v++) {
            (void)snprintf(name, sizeof(name), "h%zu-v%zu", h, v);
            assert_int_equal(cluster_add_vm(&cl, name, strlen(name), &i), 0);
        }
    }
    assert_int_equal(cl.n_hosts, 40);
    size_t seen = 0;
    for (size_t h = 0; h < cl.n_hosts; h++) {
        const struct host *ho = &cl.hosts[h];
        (void)snprintf(name, sizeof(name), "h%zu", h);
        assert_string_equal(ho->name, name);
        assert_true(ho->capacity == 1.0);
        assert_int_equal(ho->state, HOST_UP);
        assert_false(ho->has_mem);
        assert_int_equal(ho->usage.present, 0);
        assert_int_equal(ho->vm_first, seen);
        assert_int_equal(ho->vm_count, h % 4);
        for (uint32_t j = 0; j < ho->vm_count; j++) {
            const struct vm *v = &cl.vms[ho->vm_first + j];
            (void)snprintf(name, sizeof(name), "h%zu-v%u", h, j);
            assert_string_equal(v->name, name);
            assert_int_equal(v->host, h);
            assert_true(v->arrived < 0); /* unknown */
            assert_int_equal(v->moves_count, 0);
            assert_null(cluster_vm_moves(&cl, v));
            assert_false(v->pinned || v->held || v->has_mem);
        }
        seen += ho->vm_count;
    }
    assert_int_equal(seen, cl.n_vms);
    cluster_done(&cl);
    assert_int_equal(cl.n_hosts, 0);
    assert_null(cl.hosts);
    cluster_done(&cl); /* again, and on NULL: nothing */
    cluster_done(NULL);
}

static void
test_names(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl);
    char longest[MODEL_MAX_NAME + 2];
    memset(longest, 'x', sizeof(longest));
    longest[MODEL_MAX_NAME + 1] = '\0';
    size_t i;
    assert_int_equal(cluster_add_host(&cl, longest, MODEL_MAX_NAME + 1, &i), -E2BIG);
    assert_int_equal(cluster_add_host(&cl, longest, MODEL_MAX_NAME, &i), 0);
    assert_int_equal(strlen(cl.hosts[i].name), MODEL_MAX_NAME);
    assert_int_equal(cluster_add_vm(&cl, longest, MODEL_MAX_NAME + 1, &i), -E2BIG);
    /* names are copied, `len` bytes of them, and may hold what a decoder gives */
    char buf[8] = "abcdefg";
    assert_int_equal(cluster_add_vm(&cl, buf, 3, &i), 0);
    buf[0] = 'z';
    assert_string_equal(cl.vms[i].name, "abc");
    assert_int_equal(cluster_add_vm(&cl, "", 0, &i), 0);
    assert_string_equal(cl.vms[i].name, "");
    assert_int_equal(cluster_set_vm_name(&cl, i, "later", 5), 0);
    assert_string_equal(cl.vms[i].name, "later");
    assert_int_equal(cluster_set_vm_name(&cl, i, longest, MODEL_MAX_NAME + 1), -E2BIG);
    assert_string_equal(cl.vms[i].name, "later");
    assert_int_equal(cluster_set_host_name(&cl, 0, "h", 1), 0);
    assert_string_equal(cl.hosts[0].name, "h");
    assert_int_equal(cluster_set_host_name(&cl, 0, longest, MODEL_MAX_NAME + 1), -E2BIG);
    /* many names: the arena grows in chunks and earlier names stay where they were */
    const char *first = cl.vms[0].name;
    for (int n = 0; n < 5000; n++) {
        char name[16];
        (void)snprintf(name, sizeof(name), "vm-%d", n);
        assert_int_equal(cluster_add_vm(&cl, name, strlen(name), &i), 0);
    }
    assert_string_equal(first, "abc");
    assert_string_equal(cl.vms[cl.n_vms - 1].name, "vm-4999");
    cluster_done(&cl);
}

static void
test_moves(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl);
    size_t h, a, b;
    assert_int_equal(cluster_add_host(&cl, "h", 1, &h), 0);
    assert_int_equal(cluster_add_vm(&cl, "a", 1, &a), 0);
    assert_int_equal(cluster_add_vm(&cl, "b", 1, &b), 0);
    double t[MODEL_MAX_VM_MOVES + 4];
    for (size_t i = 0; i < MODEL_MAX_VM_MOVES + 4; i++)
        t[i] = 1000.0 + 10.0 * (double)i;
    /* only the newest MODEL_MAX_VM_MOVES are kept */
    assert_int_equal(cluster_set_vm_moves(&cl, a, t, MODEL_MAX_VM_MOVES + 4), 0);
    assert_int_equal(cl.vms[a].moves_count, MODEL_MAX_VM_MOVES);
    assert_true(cluster_vm_moves(&cl, &cl.vms[a])[0] == t[4]);
    assert_int_equal(cluster_set_vm_moves(&cl, b, t, 2), 0);
    assert_true(cluster_vm_moves(&cl, &cl.vms[b])[1] == t[1]);
    /* out of order or not finite: refused, what the VM had stays */
    double bad[2] = {20.0, 10.0};
    assert_int_equal(cluster_set_vm_moves(&cl, b, bad, 2), -EINVAL);
    double inf[1] = {INFINITY};
    assert_int_equal(cluster_set_vm_moves(&cl, b, inf, 1), -EINVAL);
    assert_int_equal(cl.vms[b].moves_count, 2);
    /* replaced, or cleared */
    assert_int_equal(cluster_set_vm_moves(&cl, b, t + 3, 1), 0);
    assert_int_equal(cl.vms[b].moves_count, 1);
    assert_true(cluster_vm_moves(&cl, &cl.vms[b])[0] == t[3]);
    assert_int_equal(cluster_set_vm_moves(&cl, b, NULL, 0), 0);
    assert_null(cluster_vm_moves(&cl, &cl.vms[b]));
    cluster_done(&cl);
}

static void
test_moves_push(void **state)
{
    (void)state;
    double times[MODEL_MAX_VM_MOVES];
    uint32_t n = 0;
    for (uint32_t i = 0; i < MODEL_MAX_VM_MOVES + 3; i++)
        vm_moves_push(times, &n, 100.0 + i);
    assert_int_equal(n, MODEL_MAX_VM_MOVES); /* the oldest dropped */
    assert_true(times[0] == 103.0);
    assert_true(times[n - 1] == 100.0 + MODEL_MAX_VM_MOVES + 2);
    /* a clock stepped back: taken as the newest, the list stays in order */
    double newest = times[n - 1];
    vm_moves_push(times, &n, 5.0);
    assert_true(times[n - 1] == newest);
    for (uint32_t i = 1; i < n; i++)
        assert_true(times[i - 1] <= times[i]);
}

static void
test_copy(void **state)
{
    (void)state;
    struct cluster src;
    cluster_init(&src);
    src.time = 1.7e9;
    src.has_time = true;
    size_t h, v;
    assert_int_equal(cluster_add_host(&src, "h1", 2, &h), 0);
    src.hosts[h].capacity = 2.5;
    src.hosts[h].state = HOST_MAINTENANCE;
    usage_set(&src.hosts[h].usage, KIND_NET, 12.5);
    assert_int_equal(cluster_add_vm(&src, "a", 1, &v), 0);
    src.vms[v].pinned = true;
    src.vms[v].priority = -3;
    usage_set(&src.vms[v].usage, KIND_CPU, 40.0);
    double t[3] = {1.0, 2.0, 3.0};
    assert_int_equal(cluster_set_vm_moves(&src, v, t, 3), 0);
    assert_int_equal(cluster_add_host(&src, "h2", 2, &h), 0);
    assert_int_equal(cluster_add_vm(&src, "b", 1, &v), 0);
    assert_int_equal(cluster_add_vm(&src, "c", 1, &v), 0);

    struct cluster dst;
    assert_int_equal(cluster_copy(&dst, &src), 0);
    assert_true(dst.has_time && dst.time == src.time);
    assert_int_equal(dst.n_hosts, 2);
    assert_int_equal(dst.n_vms, 3);
    assert_true(dst.hosts[0].capacity == 2.5);
    assert_int_equal(dst.hosts[0].state, HOST_MAINTENANCE);
    assert_true(usage_get(&dst.hosts[0].usage, KIND_NET) == 12.5);
    assert_int_equal(dst.hosts[0].usage.present, KIND_BIT(KIND_NET));
    assert_int_equal(dst.hosts[1].vm_first, 1);
    assert_int_equal(dst.hosts[1].vm_count, 2);
    assert_int_equal(dst.vms[2].host, 1);
    assert_true(dst.vms[0].pinned && dst.vms[0].priority == -3);
    assert_int_equal(dst.vms[0].moves_count, 3);
    assert_true(cluster_vm_moves(&dst, &dst.vms[0])[2] == 3.0);
    /* the copy owns its names: the source may go */
    assert_ptr_not_equal(dst.vms[0].name, src.vms[0].name);
    cluster_done(&src);
    assert_string_equal(dst.hosts[1].name, "h2");
    assert_string_equal(dst.vms[2].name, "c");
    cluster_done(&dst);
}

static void
test_reserve(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl);
    assert_int_equal(cluster_reserve(&cl, 100, 1000), 0);
    assert_true(cl.cap_hosts >= 100 && cl.cap_vms >= 1000);
    struct host *hosts = cl.hosts;
    size_t i;
    for (int h = 0; h < 100; h++)
        assert_int_equal(cluster_add_host(&cl, "h", 1, &i), 0);
    assert_ptr_equal(cl.hosts, hosts); /* no growth within what was reserved */
    /* a smaller reservation keeps what is there */
    assert_int_equal(cluster_reserve(&cl, 1, 1), 0);
    assert_int_equal(cl.n_hosts, 100);
    cluster_done(&cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_host_states),
        cmocka_unit_test(test_grouping_and_defaults),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_moves),
        cmocka_unit_test(test_moves_push),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_reserve),
    };
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
