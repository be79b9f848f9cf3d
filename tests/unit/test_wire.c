/* The small wire messages of proto/wire.c and the translation of a sample into the core's
 * model, which the manager, edge agents and peer agents all decide on:
 *  - lock requests and releases (peer mode), with their optional token: good ones, and every
 *    kind of bad one refused with the field named;
 *  - wire_sample_to_cluster(): the host and its VMs as the sample says, arriving VMs left
 *    out, the host up or down as asked, several samples one after the other;
 *  - wire_sample_moving(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/model.h"
#include "proto/wire.h"

struct lock_case {
    const char *body;
    int need_lease;
    const char *want; /* NULL: accepted; else a piece of the error message */
    const char *holder;
    double lease;
    uint64_t token;
};

static const struct lock_case lock_cases[] = {
    {"{\"holder\":\"h1\",\"lease_s\":30}", 1, NULL, "h1", 30, 0},
    {"{\"holder\":\"h 2\",\"lease_s\":0.1}", 1, NULL, "h 2", 0.1, 0},
    {"{\"holder\":\"h1\",\"lease_s\":3600,\"extra\":[1]}", 1, NULL, "h1", 3600, 0},
    {"{\"holder\":\"h1\"}", 0, NULL, "h1", 0, 0},
    {"{\"holder\":\"h1\",\"lease_s\":\"x\"}", 0, NULL, "h1", 0, 0}, /* a release ignores it */
    {"{\"holder\":\"h1\"}", 1, "lease_s: missing", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"lease_s\":0.05}", 1, "lease_s: must be a number", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"lease_s\":3601}", 1, "lease_s: must be a number", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"lease_s\":\"30\"}", 1, "lease_s: must be a number", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"lease_s\":null}", 1, "lease_s: must be a number", NULL, 0, 0},
    {"{\"lease_s\":30}", 1, "holder: missing", NULL, 0, 0},
    {"{\"holder\":\"\",\"lease_s\":30}", 1, "holder", NULL, 0, 0},
    {"{\"holder\":7,\"lease_s\":30}", 1, "holder", NULL, 0, 0},
    {"{\"holder\":\"a\\u0001b\",\"lease_s\":30}", 1, "holder", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"holder\":\"h2\",\"lease_s\":30}", 1, "", NULL, 0, 0},
    {"[]", 1, "", NULL, 0, 0},
    {"", 1, "", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"lease_s\":30", 1, "", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"lease_s\":30,\"token\":1}", 1, NULL, "h1", 30, 1},
    {"{\"holder\":\"h1\",\"token\":9007199254740991}", 0, NULL, "h1", 0, 9007199254740991ull},
    {"{\"holder\":\"h1\",\"lease_s\":30,\"token\":0}", 1, "token: must be a whole number", NULL, 0,
     0},
    {"{\"holder\":\"h1\",\"token\":-3}", 0, "token: must be a whole number", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"token\":9007199254740992}", 0, "token: must be", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"token\":1.5}", 0, "token: must be", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"token\":\"7\"}", 0, "token: must be", NULL, 0, 0},
    {"{\"holder\":\"h1\",\"token\":null}", 0, "token: must be", NULL, 0, 0},
};

/* Names: UTF-8 without control, bidirectional or invisible formatting characters. */
static void
test_name_valid(void **state)
{
    (void)state;
    assert_true(wire_name_valid("web-1"));
    assert_true(wire_name_valid("h\xc3\xa9te-\xe6\x97\xa5\xe6\x9c\xac")); /* hete-nihon */
    assert_false(wire_name_valid(""));
    assert_false(wire_name_valid("a\tb"));
    assert_false(wire_name_valid("a\x7f"));
    assert_false(wire_name_valid("a\xc2\x85")); /* U+0085, a C1 control */
    assert_false(wire_name_valid("evil\xe2\x80\xae"
                                 "gnp.exe"));       /* U+202E */
    assert_false(wire_name_valid("a\xe2\x80\x8b")); /* U+200B zero width space */
    assert_false(wire_name_valid("a\xe2\x81\xa6"
                                 "b")); /* U+2066 left-to-right isolate */
    assert_false(wire_name_valid("\xef\xbb\xbf"
                                 "a"));         /* U+FEFF */
    assert_false(wire_name_valid("a\xc2\xad")); /* U+00AD soft hyphen */
    assert_false(wire_name_valid("a\xd8\x9c")); /* U+061C Arabic letter mark */
    assert_false(wire_name_valid("a\xff"));     /* not UTF-8 */
    char buf[160];
    const char *why = wire_name_problem("x\xe2\x80\xae", 4, buf, sizeof(buf));
    assert_non_null(why);
    assert_non_null(strstr(why, "U+202E"));
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = '\0';
    assert_false(wire_name_valid(longname));
    longname[255] = '\0';
    assert_true(wire_name_valid(longname));
}

static void
test_lock_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(lock_cases) / sizeof(lock_cases[0]); i++) {
        const struct lock_case *c = &lock_cases[i];
        struct wire_lock l;
        struct perr err;
        memset(&l, 0x5a, sizeof(l));
        err.msg[0] = '\0';
        int r = wire_lock_decode(c->body, strlen(c->body), c->need_lease != 0, &l, &err);
        if (c->want == NULL) {
            if (r != 0)
                print_error("case %zu %s: refused: %s\n", i, c->body, err.msg);
            assert_int_equal(r, 0);
            assert_string_equal(l.holder, c->holder);
            assert_true(l.lease_s == c->lease);
            assert_true(l.token == c->token);
        } else {
            if (r != -EINVAL || strstr(err.msg, c->want) == NULL)
                print_error("case %zu %s: r=%d msg '%s', want '%s'\n", i, c->body, r, err.msg,
                            c->want);
            assert_int_equal(r, -EINVAL);
            assert_non_null(strstr(err.msg, c->want));
            assert_true(err.msg[0] != '\0');
        }
    }
}

/* An order's names are names: the destination's too, which logs, the state file and
 * /v1/migrations carry. */
static void
test_order_decode(void **state)
{
    (void)state;
    struct wire_order o;
    struct perr err;
    const char *good = "{\"id\": \"m1\", \"vm\": \"web 1\", \"to\": \"http://127.0.0.1:7702\", "
                       "\"to_name\": \"h2\", \"term\": 7}";
    assert_int_equal(wire_order_decode(good, strlen(good), &o, &err), 0);
    assert_string_equal(o.vm, "web 1");
    assert_string_equal(o.to_name, "h2");
    assert_true(o.term == 7);
    const char *no_name = "{\"vm\": \"a\", \"to\": \"http://127.0.0.1:7702\"}";
    assert_int_equal(wire_order_decode(no_name, strlen(no_name), &o, &err), 0);
    assert_string_equal(o.to_name, "");
    const char *bad[][2] = {
        {"{\"vm\": \"a\", \"to\": \"http://h:1\", \"to_name\": \"h2\\\" x=\\u001b[2J\"}",
         "to_name: not a valid host name"},
        {"{\"vm\": \"a\", \"to\": \"http://h:1\", \"to_name\": \"h\\u202e2\"}",
         "to_name: not a valid host name"},
        {"{\"vm\": \"a\\tb\", \"to\": \"http://h:1\"}", "vm: not a valid VM name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.msg[0] = '\0';
        int r = wire_order_decode(bad[i][0], strlen(bad[i][0]), &o, &err);
        if (r != -EINVAL || strstr(err.msg, bad[i][1]) == NULL)
            print_error("%s: r=%d msg '%s', want '%s'\n", bad[i][0], r, err.msg, bad[i][1]);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(err.msg, bad[i][1]));
    }
}

static void
decode(const char *body, struct wire_sample *s)
{
    struct perr err;
    int r = wire_sample_decode(body, strlen(body), s, &err);
    if (r != 0)
        print_error("%s\n", err.msg);
    assert_int_equal(r, 0);
}

static void
test_sample_to_cluster(void **state)
{
    (void)state;
    struct wire_sample s1;
    struct wire_sample s2;
    decode("{\"seq\":1,\"time\":1,\"host\":{\"name\":\"h1\",\"capacity\":2,\"mem_mib\":4096,"
           "\"usage\":{\"cpu\":60,\"disk\":7},\"vms\":["
           "{\"name\":\"a\",\"usage\":{\"cpu\":30,\"net\":2},\"mem_mib\":512,\"priority\":4,"
           "\"pinned\":true},"
           "{\"name\":\"in\",\"usage\":{\"cpu\":0},\"state\":\"incoming\"},"
           "{\"name\":\"b\",\"usage\":{\"cpu\":20},\"state\":\"migrating-out\"}]}}",
           &s1);
    decode("{\"seq\":1,\"time\":1,\"host\":{\"name\":\"h2\",\"usage\":{\"cpu\":5},\"vms\":[]}}",
           &s2);
    assert_true(wire_sample_moving(&s1));
    assert_false(wire_sample_moving(&s2));
    struct cluster cl;
    cluster_init(&cl);
    size_t h1 = 99;
    size_t h2 = 99;
    assert_int_equal(wire_sample_to_cluster(&s1, true, &cl, &h1), 0);
    assert_int_equal(wire_sample_to_cluster(&s2, false, &cl, &h2), 0);
    assert_int_equal(h1, 0);
    assert_int_equal(h2, 1);
    assert_int_equal(cl.n_hosts, 2);
    const struct host *a = &cl.hosts[0];
    assert_string_equal(a->name, "h1");
    assert_true(a->capacity == 2.0);
    assert_true(a->has_mem && a->mem_mib == 4096.0);
    assert_int_equal(a->state, HOST_UP);
    assert_true(usage_get(&a->usage, KIND_CPU) == 60.0);
    assert_true(usage_get(&a->usage, KIND_DISK) == 7.0);
    /* The arriving VM is not yet the host's; the leaving one still is. */
    assert_int_equal(a->vm_count, 2);
    assert_int_equal(cl.n_vms, 2);
    const struct vm *va = &cl.vms[a->vm_first];
    const struct vm *vb = &cl.vms[a->vm_first + 1];
    assert_string_equal(va->name, "a");
    assert_true(usage_get(&va->usage, KIND_CPU) == 30.0);
    assert_true(usage_get(&va->usage, KIND_NET) == 2.0);
    assert_true(va->has_mem && va->mem_mib == 512.0);
    assert_int_equal(va->priority, 4);
    assert_true(va->pinned);
    assert_string_equal(vb->name, "b");
    assert_false(vb->pinned);
    assert_false(vb->has_mem);
    const struct host *b = &cl.hosts[1];
    assert_string_equal(b->name, "h2");
    assert_int_equal(b->state, HOST_DOWN);
    assert_false(b->has_mem);
    assert_int_equal(b->vm_count, 0);
    cluster_done(&cl);
    wire_sample_done(&s1);
    wire_sample_done(&s2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_lock_decode),
        cmocka_unit_test(test_order_decode),
        cmocka_unit_test(test_sample_to_cluster),
    };
    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
