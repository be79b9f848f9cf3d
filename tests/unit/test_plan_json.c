/* Unit tests of the plan encoder (proto/plan_json.h) against spec/policy.md §5: the output,
 * parsed with jansson, is one object whose "conflicts", "migrations" and "unresolved" lists
 * hold the documented keys in the documented order, with names resolved through the
 * cluster; extra keys are allowed. Plans are built by hand and computed by plan_compute(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs the headers above included first. */
#include <cmocka.h>

#include <jansson.h>

#include "core/model.h"
#include "core/plan.h"
#include "core/policy.h"
#include "proto/perr.h"
#include "proto/plan_json.h"
#include "proto/policy_ini.h"
#include "proto/snapshot.h"

static void
decode(const char *json, struct cluster *cl)
{
    struct perr err;
    cluster_init(cl);
    int r = snapshot_decode(json, strlen(json), "t.json", cl, &err);
    if (r != 0)
        fail_msg("test snapshot rejected (%d): %s", r, err.msg);
}

static void
parse_policy(const char *ini, struct policy *pol)
{
    struct perr err;
    policy_init(pol);
    int r = config_parse_string(ini, "t.ini", pol, &err);
    if (r != 0)
        fail_msg("test config rejected (%d): %s", r, err.msg);
}

/* Position of `key` among the keys of `obj`, or -1. */
static int
key_pos(json_t *obj, const char *key)
{
    int i = 0;
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        if (strcmp(json_object_iter_key(it), key) == 0)
            return i;
        i++;
    }
    return -1;
}

/* `obj` is an object holding `keys` (NULL-terminated) in that relative order. */
static void
assert_keys_in_order(json_t *obj, const char *const *keys, const char *what)
{
    if (!json_is_object(obj))
        fail_msg("%s is not an object", what);
    int last = -1;
    for (size_t i = 0; keys[i] != NULL; i++) {
        int p = key_pos(obj, keys[i]);
        if (p < 0)
            fail_msg("%s has no key \"%s\"", what, keys[i]);
        if (p <= last)
            fail_msg("%s: key \"%s\" out of order", what, keys[i]);
        last = p;
    }
}

static const char *const top_keys[] = {"conflicts", "migrations", "unresolved", NULL};
static const char *const conflict_keys[] = {"host", "resources", "vms", NULL};
static const char *const migration_keys[] = {"vm", "from", "to", NULL};
static const char *const unresolved_keys[] = {"host", "reason", NULL};

/* Encode, parse, check the shape, and compare the three lists with `want` (JSON text). */
static void
check_encoding(const struct cluster *cl, const struct policy *pol, const struct plan *p,
               const char *want_text)
{
    char *s = NULL;
    int r = plan_json_encode(cl, pol, p, &s);
    assert_int_equal(r, 0);
    assert_non_null(s);

    json_error_t jerr;
    json_t *got = json_loads(s, 0, &jerr);
    if (got == NULL)
        fail_msg("output is not one JSON value: %s (line %d)\n%s", jerr.text, jerr.line, s);
    assert_keys_in_order(got, top_keys, "the top-level value");

    const char *lists[] = {"conflicts", "migrations", "unresolved"};
    const char *const *item_keys[] = {conflict_keys, migration_keys, unresolved_keys};
    for (size_t l = 0; l < 3; l++) {
        json_t *a = json_object_get(got, lists[l]);
        if (!json_is_array(a))
            fail_msg("\"%s\" is not an array\n%s", lists[l], s);
        for (size_t i = 0; i < json_array_size(a); i++) {
            char what[64];
            snprintf(what, sizeof(what), "%s[%zu]", lists[l], i);
            json_t *item = json_array_get(a, i);
            assert_keys_in_order(item, item_keys[l], what);
        }
    }

    json_t *want = json_loads(want_text, 0, &jerr);
    if (want == NULL)
        fail_msg("bad expected JSON in the test: %s", jerr.text);
    for (size_t l = 0; l < 3; l++) {
        json_t *g = json_object_get(got, lists[l]);
        /* Compare only the documented keys of each item: others may be added. */
        json_t *trimmed = json_array();
        for (size_t i = 0; i < json_array_size(g); i++) {
            json_t *item = json_array_get(g, i);
            json_t *t = json_object();
            for (const char *const *k = item_keys[l]; *k != NULL; k++)
                json_object_set(t, *k, json_object_get(item, *k));
            json_array_append_new(trimmed, t);
        }
        json_t *w = json_object_get(want, lists[l]);
        if (!json_equal(trimmed, w)) {
            char *gs = json_dumps(trimmed, JSON_COMPACT);
            char *ws = json_dumps(w, JSON_COMPACT);
            fail_msg("\"%s\" differs:\n got  %s\n want %s", lists[l], gs, ws);
        }
        json_decref(trimmed);
    }
    json_decref(want);
    json_decref(got);
    free(s);
}

/* ---------------------------------------------------------------------------------------- */

static const char hand_snapshot[] =
    "{\"hosts\":["
    "{\"name\":\"h \\\"one\\\"\",\"usage\":{\"cpu\":90,\"disk\":95},\"vms\":["
    "{\"name\":\"a\",\"usage\":{\"cpu\":40,\"disk\":50}},"
    "{\"name\":\"b\\\\c\",\"usage\":{\"cpu\":40,\"disk\":40}},"
    "{\"name\":\"d\",\"usage\":{\"cpu\":5,\"disk\":1}}]},"
    "{\"name\":\"h2\",\"usage\":{\"cpu\":10,\"disk\":10},\"vms\":[]},"
    "{\"name\":\"h\\u00e93\",\"usage\":{\"cpu\":99},\"vms\":["
    "{\"name\":\"p\",\"usage\":{\"cpu\":50},\"pinned\":true},"
    "{\"name\":\"q\",\"usage\":{\"cpu\":49},\"pinned\":true}]},"
    "{\"name\":\"h4\",\"usage\":{\"cpu\":99},\"vms\":["
    "{\"name\":\"r\",\"usage\":{\"cpu\":50}},{\"name\":\"s\",\"usage\":{\"cpu\":49}}]}"
    "]}";

/* A plan written by hand, so the encoder is tested on its own: two conflicts (one on two
 * kinds, reported in the order of detect.resources, here disk before cpu), one move, and
 * every reason. */
static void
test_hand_built(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    decode(hand_snapshot, &cl);
    parse_policy("[detect]\nresources = disk, cpu\n", &pol);

    uint32_t cvms[] = {0, 1, 3, 4};
    struct plan_conflict conflicts[2];
    memset(conflicts, 0, sizeof(conflicts));
    conflicts[0].host = 0;
    conflicts[0].kinds = (uint8_t)(KIND_BIT(KIND_CPU) | KIND_BIT(KIND_DISK));
    conflicts[0].vm_off = 0;
    conflicts[0].vm_count = 2;
    conflicts[1].host = 2;
    conflicts[1].kinds = (uint8_t)KIND_BIT(KIND_CPU);
    conflicts[1].vm_off = 2;
    conflicts[1].vm_count = 2;
    struct plan_move moves[1];
    memset(moves, 0, sizeof(moves));
    moves[0].vm = 1;
    moves[0].from = 0;
    moves[0].to = 1;
    moves[0].score = 90;
    struct plan_unresolved unresolved[3] = {
        {.host = 2, .vm = UINT32_MAX, .reason = PLAN_REASON_NO_MOVABLE_VM},
        {.host = 3, .vm = 5, .reason = PLAN_REASON_NO_DESTINATION},
        {.host = 0, .vm = UINT32_MAX, .reason = PLAN_REASON_SOURCE_BUSY},
    };
    struct plan p;
    plan_init(&p);
    p.conflicts = conflicts;
    p.n_conflicts = 2;
    p.conflict_vms = cvms;
    p.n_conflict_vms = 4;
    p.moves = moves;
    p.n_moves = 1;
    p.unresolved = unresolved;
    p.n_unresolved = 3;

    check_encoding(&cl, &pol, &p,
                   "{\"conflicts\":["
                   "{\"host\":\"h \\\"one\\\"\",\"resources\":[\"disk\",\"cpu\"],"
                   "\"vms\":[\"a\",\"b\\\\c\"]},"
                   "{\"host\":\"h\\u00e93\",\"resources\":[\"cpu\"],\"vms\":[\"p\",\"q\"]}],"
                   "\"migrations\":[{\"vm\":\"b\\\\c\",\"from\":\"h \\\"one\\\"\",\"to\":\"h2\"}],"
                   "\"unresolved\":["
                   "{\"host\":\"h\\u00e93\",\"reason\":\"no-movable-vm\"},"
                   "{\"host\":\"h4\",\"reason\":\"no-destination\"},"
                   "{\"host\":\"h \\\"one\\\"\",\"reason\":\"source-busy\"}]}");
    /* Not plan_done(): the arrays are on the stack. */
    policy_done(&pol);
    cluster_done(&cl);
}

/* The same plan under resources = cpu, disk lists the kinds the other way round. */
static void
test_hand_built_resource_order(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    decode(hand_snapshot, &cl);
    parse_policy("[detect]\nresources = cpu, net, disk\n", &pol);
    uint32_t cvms[] = {0};
    struct plan_conflict c;
    memset(&c, 0, sizeof(c));
    c.host = 0;
    c.kinds = (uint8_t)(KIND_BIT(KIND_DISK) | KIND_BIT(KIND_CPU));
    c.vm_count = 1;
    struct plan p;
    plan_init(&p);
    p.conflicts = &c;
    p.n_conflicts = 1;
    p.conflict_vms = cvms;
    p.n_conflict_vms = 1;
    check_encoding(&cl, &pol, &p,
                   "{\"conflicts\":[{\"host\":\"h \\\"one\\\"\",\"resources\":[\"cpu\",\"disk\"],"
                   "\"vms\":[\"a\"]}],\"migrations\":[],\"unresolved\":[]}");
    policy_done(&pol);
    cluster_done(&cl);
}

/* ---------------------------------------------------------------------------------------- */
/* Plans computed by the core, as `vmloc plan` would print them. */

struct computed_case {
    const char *name;
    const char *snapshot;
    const char *ini;
    const char *want;
};

static struct computed_case computed_cases[] = {
    {"no conflict: three empty lists",
     "{\"hosts\":[{\"name\":\"h1\",\"usage\":{\"cpu\":10},\"vms\":[{\"name\":\"a\",\"usage\":{"
     "\"cpu\":5}}]}]}",
     "", "{\"conflicts\":[],\"migrations\":[],\"unresolved\":[]}"},
    {"no hosts at all", "{\"hosts\":[]}", "",
     "{\"conflicts\":[],\"migrations\":[],\"unresolved\":[]}"},
    {"share threshold, one move (example 02)",
     "{\"hosts\":[{\"name\":\"host1\",\"usage\":{\"cpu\":84},\"vms\":["
     "{\"name\":\"a\",\"usage\":{\"cpu\":40}},{\"name\":\"b\",\"usage\":{\"cpu\":19}},"
     "{\"name\":\"c\",\"usage\":{\"cpu\":17}},{\"name\":\"d\",\"usage\":{\"cpu\":6}}]},"
     "{\"name\":\"host2\",\"usage\":{\"cpu\":30},\"vms\":[{\"name\":\"e\",\"usage\":{\"cpu\":14}},"
     "{\"name\":\"f\",\"usage\":{\"cpu\":14}}]},"
     "{\"name\":\"host3\",\"usage\":{\"cpu\":50},\"vms\":[{\"name\":\"g\",\"usage\":{\"cpu\":48}}]}"
     "]}",
     "[detect]\nvm_threshold = share\nvm_threshold_k = 5\n",
     "{\"conflicts\":[{\"host\":\"host1\",\"resources\":[\"cpu\"],\"vms\":[\"a\",\"b\",\"c\"]}],"
     "\"migrations\":[{\"vm\":\"a\",\"from\":\"host1\",\"to\":\"host2\"}],\"unresolved\":[]}"},
    {"no destination (example 04)",
     "{\"hosts\":[{\"name\":\"h1\",\"usage\":{\"cpu\":95},\"vms\":["
     "{\"name\":\"p\",\"usage\":{\"cpu\":50}},{\"name\":\"q\",\"usage\":{\"cpu\":44}}]},"
     "{\"name\":\"h2\",\"usage\":{\"cpu\":70},\"vms\":[{\"name\":\"r\",\"usage\":{\"cpu\":68}}]},"
     "{\"name\":\"h3\",\"usage\":{\"cpu\":60},\"vms\":[{\"name\":\"s\",\"usage\":{\"cpu\":58}}]}"
     "]}",
     "",
     "{\"conflicts\":[{\"host\":\"h1\",\"resources\":[\"cpu\"],\"vms\":[\"p\",\"q\"]}],"
     "\"migrations\":[],\"unresolved\":[{\"host\":\"h1\",\"reason\":\"no-destination\"}]}"},
    {"every VM pinned: no movable VM",
     "{\"hosts\":[{\"name\":\"h1\",\"usage\":{\"cpu\":95},\"vms\":["
     "{\"name\":\"p\",\"usage\":{\"cpu\":50},\"pinned\":true},"
     "{\"name\":\"q\",\"usage\":{\"cpu\":44},\"pinned\":true}]},"
     "{\"name\":\"h2\",\"usage\":{\"cpu\":0},\"vms\":[]}]}",
     "",
     "{\"conflicts\":[{\"host\":\"h1\",\"resources\":[\"cpu\"],\"vms\":[\"p\",\"q\"]}],"
     "\"migrations\":[],\"unresolved\":[{\"host\":\"h1\",\"reason\":\"no-movable-vm\"}]}"},
    {"two kinds with combine = all, listed in config order",
     "{\"hosts\":[{\"name\":\"h1\",\"usage\":{\"cpu\":85,\"disk\":90},\"vms\":["
     "{\"name\":\"x\",\"usage\":{\"cpu\":40,\"disk\":40}},"
     "{\"name\":\"y\",\"usage\":{\"cpu\":40,\"disk\":45}}]},"
     "{\"name\":\"h2\",\"usage\":{\"cpu\":5,\"disk\":5},\"vms\":[]}]}",
     "[detect]\nresources = disk, cpu\ncombine = all\n",
     "{\"conflicts\":[{\"host\":\"h1\",\"resources\":[\"disk\",\"cpu\"],\"vms\":[\"x\",\"y\"]}],"
     "\"migrations\":[{\"vm\":\"x\",\"from\":\"h1\",\"to\":\"h2\"}],\"unresolved\":[]}"},
    {"two conflicts, handled in snapshot order",
     "{\"hosts\":[{\"name\":\"z\",\"usage\":{\"cpu\":90},\"vms\":["
     "{\"name\":\"z1\",\"usage\":{\"cpu\":40}},{\"name\":\"z2\",\"usage\":{\"cpu\":44}}]},"
     "{\"name\":\"a\",\"usage\":{\"cpu\":90},\"vms\":["
     "{\"name\":\"a1\",\"usage\":{\"cpu\":30}},{\"name\":\"a2\",\"usage\":{\"cpu\":34}}]},"
     "{\"name\":\"free\",\"usage\":{\"cpu\":0},\"vms\":[]}]}",
     "",
     "{\"conflicts\":[{\"host\":\"z\",\"resources\":[\"cpu\"],\"vms\":[\"z1\",\"z2\"]},"
     "{\"host\":\"a\",\"resources\":[\"cpu\"],\"vms\":[\"a1\",\"a2\"]}],"
     "\"migrations\":[{\"vm\":\"z2\",\"from\":\"z\",\"to\":\"free\"},"
     "{\"vm\":\"a2\",\"from\":\"a\",\"to\":\"free\"}],\"unresolved\":[]}"},
};

static void
test_computed(void **state)
{
    const struct computed_case *cc = *state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    decode(cc->snapshot, &cl);
    parse_policy(cc->ini, &pol);
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    check_encoding(&cl, &pol, &p, cc->want);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* The output is pretty-printed (one key per line) and ends in a newline or a brace. */
static void
test_pretty(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    decode(computed_cases[3].snapshot, &cl);
    policy_init(&pol);
    policy_finish(&pol);
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    char *s = NULL;
    assert_int_equal(plan_json_encode(&cl, &pol, &p, &s), 0);
    assert_non_null(strchr(s, '\n'));
    assert_true(s[0] == '{');
    free(s);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* The model holds names as bytes; the encoder's only failure is -ENOMEM, so a name that is
 * not UTF-8 must still give valid JSON (escaped or replaced), not an error. */
static void
test_names_not_utf8(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    size_t i;
    cluster_init(&cl);
    assert_int_equal(cluster_add_host(&cl, "h\xc0\xaf", 3, &i), 0);
    usage_set(&cl.hosts[i].usage, KIND_CPU, 95);
    assert_int_equal(cluster_add_vm(&cl, "a\xed\xa0\x80", 4, &i), 0);
    usage_set(&cl.vms[i].usage, KIND_CPU, 50);
    assert_int_equal(cluster_add_vm(&cl, "b\xff", 2, &i), 0);
    usage_set(&cl.vms[i].usage, KIND_CPU, 40);
    assert_int_equal(cluster_add_host(&cl, "h2", 2, &i), 0);
    usage_set(&cl.hosts[i].usage, KIND_CPU, 0);
    policy_init(&pol);
    policy_finish(&pol);
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(p.n_conflicts, 1);
    char *s = NULL;
    int r = plan_json_encode(&cl, &pol, &p, &s);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
    if (r != 0)
        fail_msg("names that are not UTF-8: plan_json_encode returned %d", r);
    json_error_t jerr;
    json_t *j = json_loads(s, 0, &jerr);
    if (j == NULL)
        fail_msg("names that are not UTF-8: output is not valid JSON: %s\n%s", jerr.text, s);
    if (json_array_size(json_object_get(j, "conflicts")) != 1 ||
        json_array_size(json_object_get(j, "migrations")) != 1)
        fail_msg("names that are not UTF-8: unexpected plan\n%s", s);
    json_decref(j);
    free(s);
}

static const char *
computed_name(const void *row)
{
    return ((const struct computed_case *)row)->name;
}

int
main(void)
{
    int failed = 0;
    const struct CMUnitTest hand[] = {
        cmocka_unit_test(test_hand_built),
        cmocka_unit_test(test_hand_built_resource_order),
        cmocka_unit_test(test_pretty),
        cmocka_unit_test(test_names_not_utf8),
    };
    failed += cmocka_run_group_tests_name("plan_json hand-built", hand, NULL, NULL);

    size_t n = ARRAY_SIZE(computed_cases);
    struct CMUnitTest *t = calloc(n, sizeof(*t));
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        t[i].name = computed_name(&computed_cases[i]);
        t[i].test_func = test_computed;
        t[i].initial_state = &computed_cases[i];
    }
    failed += _cmocka_run_group_tests("plan_json computed", t, n, NULL, NULL);
    free(t);
    return failed != 0 ? 1 : 0;
}
