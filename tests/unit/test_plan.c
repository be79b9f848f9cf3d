/* Unit tests of plan_compute(): every rule of policy.md §4 (VM choice, destination choice,
 * feasibility, the working copy updated between conflicts, plan_opts), one table row per
 * rule, plus the eight worked examples of spec/examples rebuilt in C so that core is
 * checked without the parsers. A plan is compared as one line of text:
 *   "C host[kinds]=vm,vm ... M vm:from>to ... U host:reason[/vm] ..."
 * (conflicts, then moves, then unresolved, each list in the order of the plan). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs the headers above (cmocka 1.1). */
#include <cmocka.h>

#include "core/model.h"
#include "core/plan.h"
#include "core/policy.h"

/* Table rows give only the fields that matter to them; the rest are zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define MAX_HOSTS 8
#define MAX_VMS 6
#define OUT_MAX 1024

/* ---- cluster tables ------------------------------------------------------------------ */

/* Memory size for a vm_spec or host_spec initializer. */
#define MEM(x) .has_mem = true, .mem = (x)

/* Usage is {cpu, mem_bw, disk, net}; cpu is always set, another kind only when nonzero, so
 * a 0 there means "absent from the snapshot". */
struct vm_spec {
    const char *name;
    double u[KIND_COUNT];
    int64_t prio;
    bool pinned;
    bool has_mem;
    double mem;
};

struct host_spec {
    const char *name;
    double u[KIND_COUNT];
    double cap; /* 0: leave the default (1) */
    enum host_state state;
    bool has_mem;
    double mem;
    struct vm_spec vms[MAX_VMS];
};

static void
set_usage(struct usage *u, const double *pct)
{
    for (int k = 0; k < KIND_COUNT; k++) {
        if (k == KIND_CPU || pct[k] != 0.0) {
            usage_set(u, (enum kind)k, pct[k]);
        }
    }
}

static void
build(struct cluster *cl, const struct host_spec *hs, size_t n_hs)
{
    cluster_init(cl);
    for (size_t i = 0; i < n_hs && hs[i].name != NULL; i++) {
        struct host *h;
        size_t hi = 0;

        assert_int_equal(cluster_add_host(cl, hs[i].name, strlen(hs[i].name), &hi), 0);
        h = &cl->hosts[hi];
        set_usage(&h->usage, hs[i].u);
        h->state = hs[i].state;
        if (hs[i].cap != 0.0) {
            h->capacity = hs[i].cap;
        }
        h->has_mem = hs[i].has_mem;
        h->mem_mib = hs[i].mem;
        for (size_t j = 0; j < MAX_VMS && hs[i].vms[j].name != NULL; j++) {
            const struct vm_spec *vs = &hs[i].vms[j];
            struct vm *vm;
            size_t vi = 0;

            assert_int_equal(cluster_add_vm(cl, vs->name, strlen(vs->name), &vi), 0);
            vm = &cl->vms[vi];
            set_usage(&vm->usage, vs->u);
            vm->priority = vs->prio;
            vm->pinned = vs->pinned;
            vm->has_mem = vs->has_mem;
            vm->mem_mib = vs->mem;
        }
    }
}

/* ---- policy text: the INI keys as "key=value ...", host:NAME.key for [host "NAME"] ---- */

static const char *const kind_names[KIND_COUNT] = {"cpu", "mem_bw", "disk", "net"};

static int
kind_of(const char *s, size_t len)
{
    for (int k = 0; k < KIND_COUNT; k++) {
        if (strlen(kind_names[k]) == len && memcmp(kind_names[k], s, len) == 0) {
            return k;
        }
    }
    fail_msg("policy text: unknown kind '%.*s'", (int)len, s);
    return -1;
}

static double
number(const char *s)
{
    char *end = NULL;
    double d = strtod(s, &end);

    if (end == s || *end != '\0') {
        fail_msg("policy text: bad number '%s'", s);
    }
    return d;
}

static void
set_all(double *a, double v)
{
    for (int k = 0; k < KIND_COUNT; k++) {
        a[k] = v;
    }
}

static void
apply_host_key(struct policy *pol, const char *key, const char *val)
{
    const char *dot = strchr(key, '.');
    struct host_override *o = NULL;

    assert_non_null(dot);
    assert_int_equal(policy_override_get(pol, key, (size_t)(dot - key), &o), 0);
    if (strcmp(dot + 1, "capacity") == 0) {
        o->capacity = number(val);
        o->has_capacity = true;
    } else if (strcmp(dot + 1, "host_threshold") == 0) {
        o->host_threshold_all = number(val);
        o->has_threshold_all = true;
    } else if (strncmp(dot + 1, "host_threshold.", 15) == 0) {
        int k = kind_of(dot + 16, strlen(dot + 16));

        o->host_threshold[k] = number(val);
        o->has_threshold = (uint8_t)(o->has_threshold | KIND_BIT(k));
    } else {
        fail_msg("policy text: unknown host key '%s'", key);
    }
}

/* weights=cpu:1,disk:2,priority:3 replaces every weight. */
static void
apply_weights(struct policy *pol, const char *val)
{
    set_all(pol->weights, 0.0);
    pol->weight_priority = 0.0;
    while (*val != '\0') {
        size_t len = strcspn(val, ",");
        const char *colon = memchr(val, ':', len);
        char num[32];

        assert_non_null(colon);
        assert_true((size_t)(val + len - colon) < sizeof(num));
        memcpy(num, colon + 1, (size_t)(val + len - colon - 1));
        num[val + len - colon - 1] = '\0';
        if (colon - val == 8 && memcmp(val, "priority", 8) == 0) {
            pol->weight_priority = number(num);
        } else {
            pol->weights[kind_of(val, (size_t)(colon - val))] = number(num);
        }
        val += len + (val[len] == ',' ? 1 : 0);
    }
}

static void
apply_relocate_key(struct policy *pol, const char *key, const char *val)
{
    if (strcmp(key, "vm_select") == 0) {
        pol->vm_select = strcmp(val, "priority") == 0   ? VM_SELECT_PRIORITY
                         : strcmp(val, "weighted") == 0 ? VM_SELECT_WEIGHTED
                                                        : VM_SELECT_USAGE;
    } else if (strcmp(key, "vm_select_resource") == 0) {
        pol->vm_select_resource = (enum kind)kind_of(val, strlen(val));
    } else if (strcmp(key, "dest_select") == 0) {
        pol->dest_select = strcmp(val, "least-used") == 0 ? DEST_SELECT_LEAST_USED
                           : strcmp(val, "weighted") == 0 ? DEST_SELECT_WEIGHTED
                                                          : DEST_SELECT_FREE;
    } else if (strcmp(key, "dest_select_resource") == 0) {
        pol->dest_select_resource = (enum kind)kind_of(val, strlen(val));
    } else if (strcmp(key, "prefer_busy_hosts") == 0) {
        pol->prefer_busy_hosts = strcmp(val, "yes") == 0;
    } else if (strcmp(key, "weights") == 0) {
        apply_weights(pol, val);
    } else if (strcmp(key, "dest_headroom") == 0) {
        pol->dest_headroom = strcmp(val, "yes") == 0;
    } else if (strcmp(key, "cooldown") == 0) {
        pol->cooldown_s = number(val);
    } else {
        fail_msg("policy text: unknown key '%s'", key);
    }
}

static void
apply_key(struct policy *pol, const char *key, const char *val)
{
    if (strncmp(key, "host:", 5) == 0) {
        apply_host_key(pol, key + 5, val);
    } else if (strcmp(key, "resources") == 0) {
        pol->n_resources = 0;
        while (*val != '\0') {
            size_t len = strcspn(val, ",");

            pol->resources[pol->n_resources++] = (enum kind)kind_of(val, len);
            val += len + (val[len] == ',' ? 1 : 0);
        }
    } else if (strcmp(key, "combine") == 0) {
        pol->combine = strcmp(val, "all") == 0 ? COMBINE_ALL : COMBINE_ANY;
    } else if (strcmp(key, "host_threshold") == 0) {
        set_all(pol->host_threshold, number(val));
    } else if (strncmp(key, "host_threshold.", 15) == 0) {
        pol->host_threshold[kind_of(key + 15, strlen(key + 15))] = number(val);
    } else if (strcmp(key, "vm_threshold") == 0) {
        pol->vm_threshold = strcmp(val, "share") == 0 ? VM_THRESHOLD_SHARE : VM_THRESHOLD_FIXED;
    } else if (strcmp(key, "vm_threshold_value") == 0) {
        set_all(pol->vm_threshold_value, number(val));
    } else if (strncmp(key, "vm_threshold_value.", 19) == 0) {
        pol->vm_threshold_value[kind_of(key + 19, strlen(key + 19))] = number(val);
    } else if (strcmp(key, "vm_threshold_k") == 0) {
        pol->vm_threshold_k = number(val);
    } else if (strcmp(key, "min_vms") == 0) {
        pol->min_vms = (uint32_t)number(val);
    } else {
        apply_relocate_key(pol, key, val);
    }
}

/* Start from the defaults, apply "key=value key=value ...", then policy_finish(). */
static void
make_policy(struct policy *pol, const char *text)
{
    policy_init(pol);
    while (text != NULL && *text != '\0') {
        char tok[128];
        size_t len = strcspn(text, " ");
        char *eq;

        assert_true(len < sizeof(tok));
        memcpy(tok, text, len);
        tok[len] = '\0';
        text += len + (text[len] == ' ' ? 1 : 0);
        if (len == 0) {
            continue;
        }
        eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        apply_key(pol, tok, eq + 1);
    }
    policy_finish(pol);
}

/* ---- plan text ----------------------------------------------------------------------- */

PRINTF_LIKE(3, 4)
static void
add(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

static const char *
host_name(const struct cluster *cl, uint32_t i)
{
    return i < cl->n_hosts ? cl->hosts[i].name : "?";
}

static const char *
vm_name(const struct cluster *cl, uint32_t i)
{
    return i < cl->n_vms ? cl->vms[i].name : "?";
}

static void
format_kinds(const struct policy *pol, uint8_t kinds, char *out)
{
    unsigned seen = 0;
    const char *sep = "";

    for (size_t i = 0; i < pol->n_resources; i++) {
        if ((kinds & KIND_BIT(pol->resources[i])) != 0) {
            add(out, OUT_MAX, "%s%s", sep, kind_names[pol->resources[i]]);
            seen |= KIND_BIT(pol->resources[i]);
            sep = ",";
        }
    }
    for (int k = 0; k < KIND_COUNT; k++) {
        if ((kinds & KIND_BIT(k)) != 0 && (seen & KIND_BIT(k)) == 0) {
            add(out, OUT_MAX, "%s!%s", sep, kind_names[k]);
            sep = ",";
        }
    }
}

static void
format_plan(const struct cluster *cl, const struct policy *pol, const struct plan *p, char *out)
{
    out[0] = '\0';
    for (size_t i = 0; i < p->n_conflicts; i++) {
        const struct plan_conflict *c = &p->conflicts[i];

        add(out, OUT_MAX, "%sC %s[", out[0] != '\0' ? " " : "", host_name(cl, c->host));
        format_kinds(pol, c->kinds, out);
        add(out, OUT_MAX, "]=");
        for (uint32_t j = 0; j < c->vm_count; j++) {
            size_t at = (size_t)c->vm_off + j;

            add(out, OUT_MAX, "%s%s", j > 0 ? "," : "",
                at < p->n_conflict_vms ? vm_name(cl, p->conflict_vms[at]) : "?");
        }
    }
    for (size_t i = 0; i < p->n_moves; i++) {
        const struct plan_move *m = &p->moves[i];

        add(out, OUT_MAX, "%sM %s:%s>%s", out[0] != '\0' ? " " : "", vm_name(cl, m->vm),
            host_name(cl, m->from), host_name(cl, m->to));
    }
    for (size_t i = 0; i < p->n_unresolved; i++) {
        const struct plan_unresolved *u = &p->unresolved[i];

        add(out, OUT_MAX, "%sU %s:%s", out[0] != '\0' ? " " : "", host_name(cl, u->host),
            plan_reason_name(u->reason));
        if (u->vm != UINT32_MAX) {
            add(out, OUT_MAX, "/%s", vm_name(cl, u->vm));
        }
    }
}

/* ---- the table ----------------------------------------------------------------------- */

struct plan_case {
    const char *title;
    const char *pol;
    struct host_spec hosts[MAX_HOSTS];
    const char *no_dest;   /* NULL or space-separated host names */
    const char *no_source; /* idem */
    const char *expect;
    const char *check; /* NULL, or the only hosts examined for conflicts */
};

static const struct plan_case plan_cases[] = {
    /* §4.2 VM choice */
    {"usage: the heaviest VM moves",
     "",
     {{"h1", {90}, .vms = {{"a", {25}}, {"b", {45}}, {"c", {15}}}},
      {"h2", {20}, .vms = {{"d", {18}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M b:h1>h2"},
    {"usage: ties go to the first VM in model order",
     "",
     {{"h1", {90}, .vms = {{"a", {20}}, {"b", {40}}, {"c", {40}}}},
      {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b,c M b:h1>h2"},
    {"usage: vm_select_resource = disk",
     "vm_select_resource=disk",
     {{"h1", {90, 0, 50}, .vms = {{"a", {40, 0, 5}}, {"b", {30, 0, 30}}}},
      {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M b:h1>h2"},
    {"usage: a VM without the kind counts 0",
     "vm_select_resource=net",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30, 0, 0, 1}}}}, {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M b:h1>h2"},
    {"priority: the highest priority moves, even a VM not in conflict",
     "vm_select=priority",
     {{"h1", {92}, .vms = {{"a", {50}, 1}, {"b", {30}, 2}, {"c", {5}, 3}}},
      {"h2", {20}, .vms = {{"e", {18}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M c:h1>h2"},
    {"priority: ties go to the first VM",
     "vm_select=priority",
     {{"h1", {92}, .vms = {{"a", {30}, 2}, {"b", {50}, 2}, {"c", {5}, 1}}},
      {"h2", {20}, .vms = {{"e", {18}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"priority: negative priorities",
     "vm_select=priority",
     {{"h1", {92}, .vms = {{"a", {40}, -5}, {"b", {40}, -1}}}, {"h2", {20}, .vms = {{"e", {18}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M b:h1>h2"},
    {"weighted: sum of w_r * usage_r",
     "vm_select=weighted weights=cpu:1,disk:2",
     {{"h1", {90, 0, 50}, .vms = {{"a", {40, 0, 5}}, {"b", {30, 0, 15}}, {"c", {20, 0, 10}}}},
      {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b,c M b:h1>h2"},
    {"weighted: plus w_priority * priority",
     "vm_select=weighted weights=cpu:1,priority:10",
     {{"h1", {90}, .vms = {{"a", {40}, 0}, {"b", {25}, 2}, {"c", {20}, 1}}},
      {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b,c M b:h1>h2"},
    {"weighted: ties go to the first VM",
     "vm_select=weighted weights=cpu:1,priority:10",
     {{"h1", {90}, .vms = {{"a", {40}, 0}, {"b", {30}, 1}}}, {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"weighted: all scores 0, the first movable VM",
     "vm_select=weighted weights=disk:1",
     {{"h1", {90}, .vms = {{"a", {40}, .pinned = true}, {"b", {30}}, {"c", {35}}}},
      {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b,c M b:h1>h2"},
    {"pinned: the heaviest VM is pinned, the next one moves",
     "",
     {{"h1", {90}, .vms = {{"a", {50}, .pinned = true}, {"b", {30}}, {"c", {10}}}},
      {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M b:h1>h2"},
    {"pinned: the highest priority is pinned",
     "vm_select=priority",
     {{"h1", {90}, .vms = {{"a", {50}, 9, true}, {"b", {30}, 1}, {"c", {10}, 2}}},
      {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M c:h1>h2"},
    {"no-movable-vm: every VM pinned",
     "",
     {{"h1", {90}, .vms = {{"a", {50}, .pinned = true}, {"b", {30}, .pinned = true}}},
      {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b U h1:no-movable-vm"},
    {"no-movable-vm does not stop the next conflict",
     "",
     {{"h1", {90}, .vms = {{"a", {50}, .pinned = true}, {"b", {30}, .pinned = true}}},
      {"h2", {90}, .vms = {{"c", {40}}, {"d", {30}}}},
      {"h3", {10}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d M c:h2>h3 U h1:no-movable-vm"},

    /* §4.3 destination choice */
    {"free: the most free cpu",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {50}, .vms = {{"c", {5}}}},
      {"h3", {30}, .vms = {{"d", {5}}}},
      {"h4", {40}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"free: ties go to the first host",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {50}, .vms = {{"c", {5}}}},
      {"h3", {30}, .vms = {{"d", {5}}}},
      {"h4", {30}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"free: a host before the source wins a tie",
     "",
     {{"h0", {30}, .vms = {{"z", {5}}}},
      {"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h3", {30}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h0"},
    {"free: dest_select_resource = disk",
     "dest_headroom=no dest_select_resource=disk",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {30, 0, 60}, .vms = {{"c", {5}}}},
      {"h3", {50, 0, 10}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"free: free * cap",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {40}, 2, .vms = {{"c", {5}}}},
      {"h3", {30}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"free: a tie after capacity goes to the first host",
     "dest_headroom=no",
     {{"h1", {90}, .vms = {{"a", {30}}, {"b", {30}}}},
      {"h2", {80}, 2, .vms = {{"c", {5}}}},
      {"h3", {60}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"free: capacity override beats the snapshot",
     "host:h2.capacity=1",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {40}, 2, .vms = {{"c", {5}}}},
      {"h3", {30}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"least-used: lowest U * cap",
     "dest_select=least-used",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {40}, 2, .vms = {{"c", {5}}}},
      {"h3", {30}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"least-used: ties go to the first host",
     "dest_select=least-used",
     {{"h1", {90}, .vms = {{"a", {30}}, {"b", {30}}}},
      {"h2", {20}, 2, .vms = {{"c", {5}}}},
      {"h3", {40}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"least-used: dest_select_resource = net",
     "dest_select=least-used dest_select_resource=net",
     {{"h1", {90}, .vms = {{"a", {30}}, {"b", {30}}}},
      {"h2", {20, 0, 0, 10}, .vms = {{"c", {5}}}},
      {"h3", {40}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"weighted: sum of w_r * free_r * cap",
     "dest_headroom=no dest_select=weighted weights=cpu:1,disk:3",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {20, 0, 70}, .vms = {{"c", {5}}}},
      {"h3", {50, 0, 20}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"weighted: an absent kind is free 100",
     "dest_headroom=no dest_select=weighted weights=cpu:1,net:1",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {20, 0, 0, 30}, .vms = {{"c", {5}}}},
      {"h3", {45}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"weighted: capacity multiplies",
     "dest_select=weighted weights=cpu:2",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {20}, .vms = {{"c", {5}}}},
      {"h3", {60}, 2.5, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"not up: maintenance and down hosts are never destinations",
     "dest_headroom=no",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {0}, .state = HOST_MAINTENANCE},
      {"h3", {0}, .state = HOST_DOWN},
      {"h4", {50}, .state = HOST_UP}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h4"},
    {"no-destination: every other host is down",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}}, {"h2", {0}, .state = HOST_DOWN}},
     NULL,
     NULL,
     "C h1[cpu]=a,b U h1:no-destination/a"},
    {"no-destination: a single host is never its own destination",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b U h1:no-destination/a"},

    /* §4.4 feasibility */
    {"feasible: free exactly equal to the VM's usage is not enough",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {60}, .vms = {{"c", {5}}}},
      {"h3", {61}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b U h1:no-destination/a"},
    {"feasible: just above the VM's usage",
     "dest_headroom=no",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {59.5}, .vms = {{"c", {5}}}},
      {"h3", {61}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"feasible: free * cap(dest), strictly",
     "dest_headroom=no dest_select=least-used",
     {{"h1", {95}, .vms = {{"a", {50}}, {"b", {40}}}},
      {"h2", {0}, 0.5, .vms = {{"c", {0}}}},
      {"h3", {40}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"feasible: usage * cap(source)",
     "dest_select=least-used",
     {{"h1", {90}, 2, .vms = {{"a", {30}}, {"b", {25}}}},
      {"h2", {40}, .vms = {{"c", {5}}}},
      {"h3", {41}, .vms = {{"d", {5}}}},
      {"h4", {35}, 2, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h4"},
    {"feasible: cap(source) from the override",
     "dest_select=least-used host:h1.capacity=2",
     {{"h1", {90}, .vms = {{"a", {30}}, {"b", {25}}}},
      {"h2", {40}, .vms = {{"c", {5}}}},
      {"h3", {41}, .vms = {{"d", {5}}}},
      {"h4", {35}, 2, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h4"},
    {"feasible: cap(dest) from the override",
     "dest_headroom=no host:h2.capacity=0.5",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {0}, .vms = {{"c", {0}}}},
      {"h3", {45}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"feasible: cpu is checked even when not in resources",
     "dest_headroom=no resources=disk dest_select_resource=disk",
     {{"h1", {50, 0, 90}, .vms = {{"a", {40, 0, 30}}, {"b", {10, 0, 25}}}},
      {"h2", {10, 0, 80}, .vms = {{"c", {5}}}},
      {"h3", {61}, .vms = {{"d", {5}}}},
      {"h4", {55, 0, 5}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[disk]=a,b M a:h1>h4"},
    {"feasible: every kind in resources",
     "dest_headroom=no resources=cpu,disk combine=all",
     {{"h1", {90, 0, 90}, .vms = {{"a", {40, 0, 30}}, {"b", {30, 0, 30}}}},
      {"h2", {10, 0, 70}, .vms = {{"c", {5}}}},
      {"h3", {50, 0, 69.5}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu,disk]=a,b M a:h1>h3"},
    {"feasible: a kind outside resources is not checked",
     "",
     {{"h1", {90}, .vms = {{"a", {40, 50, 50, 50}}, {"b", {30}}}},
      {"h2", {10, 95, 95, 95}, .vms = {{"c", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"feasible: a full kind refuses even a VM with 0 of it",
     "dest_headroom=no resources=cpu,disk",
     {{"h1", {90, 0, 50}, .vms = {{"a", {40}}, {"b", {30, 0, 5}}}},
      {"h2", {10, 0, 100}, .vms = {{"c", {5}}}},
      {"h3", {50}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"memory: free memory must be at least the VM's",
     "",
     {{"h1", {90}, MEM(16384), .vms = {{"a", {40}, MEM(4096)}, {"b", {30}, MEM(1024)}}},
      {"h2", {10}, MEM(8192), .vms = {{"c", {5}, MEM(4096)}, {"d", {1}, MEM(2048)}}},
      {"h3", {30}, MEM(8192), .vms = {{"e", {5}, MEM(4096)}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"memory: one MiB short",
     "",
     {{"h1", {90}, MEM(16384), .vms = {{"a", {40}, MEM(4097)}, {"b", {30}, MEM(1024)}}},
      {"h2", {10}, MEM(8192), .vms = {{"c", {5}, MEM(4096)}, {"d", {1}, MEM(2048)}}},
      {"h3", {30}, MEM(8192), .vms = {{"e", {5}, MEM(4096)}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b U h1:no-destination/a"},
    {"memory: ignored when the host has no size",
     "",
     {{"h1", {90}, .vms = {{"a", {40}, MEM(4096)}, {"b", {30}}}},
      {"h2", {10}, .vms = {{"c", {5}, MEM(1e9)}}},
      {"h3", {30}, MEM(8192)}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"memory: ignored when the VM has no size",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}, MEM(1)}}},
      {"h2", {10}, MEM(0)},
      {"h3", {30}, MEM(8192)}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"memory: the destination's VMs without a size count 0",
     "",
     {{"h1", {90}, .vms = {{"a", {40}, MEM(4096)}, {"b", {30}}}},
      {"h2", {10}, MEM(4096), .vms = {{"c", {5}}, {"d", {5}, MEM(0)}}},
      {"h3", {30}, MEM(8192)}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},
    {"prefer_busy: a busy host beats a better idle one",
     "dest_headroom=no prefer_busy_hosts=yes",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"idle", {2}, .state = HOST_UP},
      {"busy", {45}, .vms = {{"d", {43}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>busy"},
    {"prefer_busy = no: the idle host by score",
     "prefer_busy_hosts=no",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"idle", {2}, .state = HOST_UP},
      {"busy", {45}, .vms = {{"d", {43}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>idle"},
    {"prefer_busy: idle hosts when no busy host is feasible",
     "dest_headroom=no prefer_busy_hosts=yes",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"idle1", {50}, .state = HOST_UP},
      {"busy", {60}, .vms = {{"d", {43}}}},
      {"idle2", {40}, .state = HOST_UP}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>idle2"},
    {"prefer_busy: a host running only pinned VMs is busy",
     "dest_headroom=no prefer_busy_hosts=yes",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"idle", {2}, .state = HOST_UP},
      {"busy", {45}, .vms = {{"d", {43}, .pinned = true}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>busy"},
    {"prefer_busy: a busy host that is not up does not count",
     "prefer_busy_hosts=yes",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"idle", {20}, .state = HOST_UP},
      {"busy", {0}, .state = HOST_MAINTENANCE, .vms = {{"d", {0}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>idle"},

    /* §4.5 the working copy */
    {"a later move lands on an earlier source",
     "dest_headroom=no",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {85}, .vms = {{"c", {30}}, {"d", {30}}}},
      {"h3", {50}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d M a:h1>h3 M c:h2>h1"},
    {"destination gains usage * cap(source) / cap(dest)",
     "",
     {{"h1", {90}, .vms = {{"a", {20}}, {"b", {20}}}},
      {"h2", {90}, .vms = {{"c", {20}}, {"d", {20}}}},
      {"h3", {40}, 2, .vms = {{"e", {5}}}},
      {"h4", {10}, .vms = {{"f", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d M a:h1>h3 M c:h2>h3"},
    {"destination gains usage * cap(source) / cap(dest), big source",
     "dest_headroom=no",
     {{"h1", {90}, 2, .vms = {{"a", {20}}, {"b", {20}}}},
      {"h2", {90}, .vms = {{"c", {20}}, {"d", {20}}}},
      {"h3", {50}, .vms = {{"e", {5}}}},
      {"h4", {85}, 1.5, .vms = {{"f", {5}}}}},
     "h1",
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d M a:h1>h3 M c:h2>h4"},
    {"only the planned move changes usage; conflicts come from the snapshot",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {75}, .vms = {{"c", {30}}, {"d", {30}}}},
      {"h3", {10}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"a VM moved onto a later conflicting host can move again",
     "dest_headroom=no cooldown=0 vm_select=priority",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}, {"p", {10}, 5}}},
      {"h2", {80}, .vms = {{"c", {20}}, {"d", {20}}, {"e", {20}}}},
      {"h3", {85}, .vms = {{"f", {85}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d,e M p:h1>h2 M p:h2>h1"},
    {"a moved VM's usage is re-expressed in percent of its new host",
     "dest_headroom=no cooldown=0 vm_select=priority",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}, {"p", {10}, 5}}},
      {"h2", {80}, 2, .vms = {{"c", {20}}, {"d", {20}}, {"e", {20}}}},
      {"h3", {85}, .vms = {{"f", {85}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d,e M p:h1>h2 M p:h2>h1"},
    /* ASSUMPTION (policy.md is silent): "first in the snapshot" is model order, so a VM
     * moved in from an earlier host precedes the host's own VMs on a tie. */
    {"a VM moved in from an earlier host wins a tie with the host's own VMs",
     "dest_headroom=no cooldown=0 vm_select=priority",
     {{"h1", {90}, .vms = {{"a", {40}, 1}, {"b", {30}}}},
      {"h2", {80}, 4, .vms = {{"c", {20}, 1}, {"d", {20}}}},
      {"h3", {50}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d M a:h1>h2 M a:h2>h1"},
    /* ASSUMPTION (policy.md is silent; snapshot.schema.md allows a host total below its
     * VMs' sum): the source's usage is clamped at 0 when it loses more than it has. Here
     * h1 (80 %) loses a (85 %) and ends at 0, tying h0 for c; unclamped it would be -5 %,
     * free 105, and take c. */
    {"a source's usage does not drop below 0",
     "dest_headroom=no",
     {{"h0", {0}, .state = HOST_UP, MEM(1024)},
      {"h1", {80}, .vms = {{"a", {85}, MEM(2048)}, {"b", {20}}}},
      {"h2", {10}, .vms = {{"e", {5}}}},
      {"h3", {95}, .vms = {{"c", {92}, MEM(512)}, {"d", {20}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h3[cpu]=c,d M a:h1>h2 M c:h3>h0"},
    {"the source is never its own destination, even with room",
     "vm_threshold_value=10",
     {{"h1", {80}, .vms = {{"a", {15}}, {"b", {15}}}}, {"h2", {90}, .vms = {{"c", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b U h1:no-destination/a"},
    {"prefer_busy: a VM moved onto an idle host makes it busy",
     "dest_headroom=no prefer_busy_hosts=yes",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {90}, .vms = {{"c", {40}}, {"d", {30}}}},
      {"busy", {65}, .vms = {{"e", {5}}}},
      {"idle1", {30}, .state = HOST_UP},
      {"idle2", {0}, .state = HOST_UP}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d M a:h1>idle2 M c:h2>idle2"},
    {"prefer_busy = no: the same cluster",
     "prefer_busy_hosts=no",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {90}, .vms = {{"c", {40}}, {"d", {30}}}},
      {"busy", {65}, .vms = {{"e", {5}}}},
      {"idle1", {30}, .state = HOST_UP},
      {"idle2", {0}, .state = HOST_UP}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d M a:h1>idle2 M c:h2>idle1"},
    {"prefer_busy: a source that lost its only VM is idle",
     "dest_headroom=no prefer_busy_hosts=yes min_vms=1",
     {{"h1", {90}, .vms = {{"a", {50}}}},
      {"h2", {85}, .vms = {{"c", {45}}}},
      {"h3", {40}, .vms = {{"d", {10}}}},
      {"h4", {50}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a C h2[cpu]=c M a:h1>h3 M c:h2>h4"},
    {"memory follows the moved VM",
     "dest_headroom=no",
     {{"h1", {90}, MEM(8192), .vms = {{"a", {40}, MEM(4096)}, {"b", {30}, MEM(1024)}}},
      {"h2", {90}, MEM(8192), .vms = {{"c", {40}, MEM(4096)}, {"d", {30}, MEM(1024)}}},
      {"h3", {0}, MEM(6144)},
      {"h4", {10}, MEM(4096), .vms = {{"e", {1}, MEM(1024)}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b C h2[cpu]=c,d M a:h1>h3 M c:h2>h1"},

    /* plan_opts */
    {"no_dest: the best host is excluded",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {10}, .vms = {{"c", {5}}}},
      {"h3", {20}, .vms = {{"d", {5}}}}},
     "h2",
     NULL,
     "C h1[cpu]=a,b M a:h1>h3"},
    {"no_dest: every other host excluded",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {10}, .vms = {{"c", {5}}}},
      {"h3", {20}, .vms = {{"d", {5}}}}},
     "h2 h3",
     NULL,
     "C h1[cpu]=a,b U h1:no-destination/a"},
    {"no_source: source-busy, the next conflict still moves",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {90}, .vms = {{"c", {40}}, {"d", {30}}}},
      {"h3", {10}, .vms = {{"e", {5}}}}},
     NULL,
     "h1",
     "C h1[cpu]=a,b C h2[cpu]=c,d M c:h2>h3 U h1:source-busy"},
    {"check: only the listed host is examined; the other conflict is not reported",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {90}, .vms = {{"c", {40}}, {"d", {30}}}},
      {"h3", {10}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "C h2[cpu]=c,d M c:h2>h3",
     .check = "h2"},
    {"check: an unchecked host in conflict may still not receive; a checked host's move is "
     "the same as without check",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
      {"h2", {10}, .vms = {{"c", {5}}}},
      {"h3", {20}, .vms = {{"d", {5}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>h2",
     .check = "h1"},
    {"check: a host without conflict examined alone gives an empty plan",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}}, {"h3", {10}, .vms = {{"e", {5}}}}},
     NULL,
     NULL,
     "",
     .check = "h3"},
    {"no_source on a host without conflict changes nothing",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}}, {"h3", {10}, .vms = {{"e", {5}}}}},
     NULL,
     "h3",
     "C h1[cpu]=a,b M a:h1>h3"},
    {"no_source: source-busy before no-movable-vm",
     "",
     {{"h1", {90}, .vms = {{"a", {50}, .pinned = true}, {"b", {30}, .pinned = true}}},
      {"h2", {10}, .vms = {{"d", {5}}}}},
     NULL,
     "h1",
     "C h1[cpu]=a,b U h1:source-busy"},
    {"no_dest on a source is irrelevant to its own move",
     "",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}}, {"h2", {10}, .vms = {{"c", {5}}}}},
     "h1",
     NULL,
     "C h1[cpu]=a,b M a:h1>h2"},

    /* nothing to do */
    {"empty cluster", "", {{NULL}}, NULL, NULL, ""},
    {"no conflict",
     "",
     {{"h1", {95}, .vms = {{"a", {90}}}}, {"h2", {10}, .state = HOST_UP}},
     NULL,
     NULL,
     ""},
};

/* ---- the eight worked examples of spec/examples -------------------------------------- */

static const struct plan_case example_cases[] = {
    {"01-share-threshold",
     "vm_threshold=share",
     {{"host1", {24}, .vms = {{"vm1-1", {15}}, {"vm1-2", {8}}}},
      {"host2", {40}, .vms = {{"vm2-1", {20}}, {"vm2-2", {18}}}},
      {"host3", {60}, .vms = {{"vm3-1", {30}}, {"vm3-2", {20}}, {"vm3-3", {9}}}},
      {"host4", {84}, .vms = {{"vm4-1", {30}}, {"vm4-2", {25}}, {"vm4-3", {21}}, {"vm4-4", {5}}}},
      {"host5", {10}, .vms = {{"vm5-1", {5}}, {"vm5-2", {4}}}}},
     NULL,
     NULL,
     "C host4[cpu]=vm4-1,vm4-2,vm4-3 M vm4-1:host4>host5"},
    {"02-share-minus-k",
     "vm_threshold=share vm_threshold_k=5",
     {{"host1", {84}, .vms = {{"a", {40}}, {"b", {19}}, {"c", {17}}, {"d", {6}}}},
      {"host2", {30}, .vms = {{"e", {14}}, {"f", {14}}}},
      {"host3", {50}, .vms = {{"g", {48}}}}},
     NULL,
     NULL,
     "C host1[cpu]=a,b,c M a:host1>host2"},
    {"03-fixed-threshold",
     "",
     {{"h1", {90}, .vms = {{"big", {70}}, {"small1", {10}}, {"small2", {8}}}},
      {"h2", {85}, .vms = {{"x", {45}}, {"y", {38}}}},
      {"h3", {20}, .vms = {{"z", {18}}}},
      {"h4", {35}, .vms = {{"w", {30}}}}},
     NULL,
     NULL,
     "C h2[cpu]=x,y M x:h2>h3"},
    {"04-no-destination",
     "",
     {{"h1", {95}, .vms = {{"p", {50}}, {"q", {44}}}},
      {"h2", {70}, .vms = {{"r", {68}}}},
      {"h3", {60}, .vms = {{"s", {58}}}}},
     NULL,
     NULL,
     "C h1[cpu]=p,q U h1:no-destination/p"},
    {"05-capacity",
     "",
     {{"h1", {88}, .vms = {{"a", {48}}, {"b", {38}}}},
      {"small", {50}, .vms = {{"c", {48}}}},
      {"large", {50}, 2.0, .vms = {{"d", {48}}}}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>large"},
    {"06-prefer-busy",
     "dest_headroom=no prefer_busy_hosts=yes",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}, {"c", {15}}}},
      {"busy", {45}, .vms = {{"d", {43}}}},
      {"idle", {2}, .state = HOST_UP}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>busy"},
    {"07-all-resources",
     "dest_headroom=no resources=cpu,disk combine=all",
     {{"h1", {85, 0, 90}, .vms = {{"db", {40, 0, 60}}, {"web", {35, 0, 5}}, {"etl", {25, 0, 25}}}},
      {"h2", {82, 0, 85}, .vms = {{"m1", {40, 0, 40}}, {"m2", {40, 0, 42}}}},
      {"h3", {10, 0, 20}, .vms = {{"n1", {8, 0, 18}}}},
      {"h4", {5, 0, 70}, .vms = {{"n2", {3, 0, 68}}}}},
     NULL,
     NULL,
     "C h1[cpu,disk]=db,etl C h2[cpu,disk]=m1,m2 M db:h1>h3 M m1:h2>h1"},
    {"08-priority",
     "vm_select=priority",
     {{"h1",
       {92},
       .vms = {{"critical", {50}, 1}, {"batch", {30}, 2}, {"pinned-hi", {10}, 9, true}}},
      {"h2", {20}, .vms = {{"e", {18}}}}},
     NULL,
     NULL,
     "C h1[cpu]=critical,batch M batch:h1>h2"},
    /* 06 under the default dest_headroom = yes: busy (45 %) would end at 85 %, above its
     * threshold, so a goes to the idle host although busy hosts are preferred. */
    {"09-headroom",
     "prefer_busy_hosts=yes",
     {{"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}, {"c", {15}}}},
      {"busy", {45}, .vms = {{"d", {43}}}},
      {"idle", {2}, .state = HOST_UP}},
     NULL,
     NULL,
     "C h1[cpu]=a,b M a:h1>idle"},
};

/* Host flags from "name name ..."; NULL stays NULL. */
static bool *
flags_of(const struct cluster *cl, const char *names, bool *flags)
{
    if (names == NULL) {
        return NULL;
    }
    memset(flags, 0, cl->n_hosts * sizeof(*flags));
    while (*names != '\0') {
        size_t len = strcspn(names, " ");
        bool found = false;

        for (size_t i = 0; i < cl->n_hosts; i++) {
            if (strlen(cl->hosts[i].name) == len && memcmp(cl->hosts[i].name, names, len) == 0) {
                flags[i] = true;
                found = true;
            }
        }
        if (!found) {
            fail_msg("no host '%.*s'", (int)len, names);
        }
        names += len + (names[len] == ' ' ? 1 : 0);
    }
    return flags;
}

/* Runs one row; returns 0, or 1 after printing the difference. */
static int
run_plan_case(const struct plan_case *tc)
{
    struct cluster cl;
    struct policy pol;
    struct plan p;
    struct plan_opts opts = {0};
    bool no_dest[MAX_HOSTS];
    bool no_source[MAX_HOSTS];
    bool check[MAX_HOSTS];
    char got[OUT_MAX];
    int bad = 0;
    int r;

    build(&cl, tc->hosts, MAX_HOSTS);
    make_policy(&pol, tc->pol);
    opts.no_dest = flags_of(&cl, tc->no_dest, no_dest);
    opts.no_source = flags_of(&cl, tc->no_source, no_source);
    opts.check = flags_of(&cl, tc->check, check);
    plan_init(&p);
    r = plan_compute(&cl, &pol, &opts, &p);
    if (r != 0) {
        print_error("%s: plan_compute() = %d\n", tc->title, r);
        bad = 1;
    } else {
        format_plan(&cl, &pol, &p, got);
        if (strcmp(got, tc->expect) != 0) {
            print_error("%s:\n  expected \"%s\"\n  got      \"%s\"\n", tc->title, tc->expect, got);
            bad = 1;
        }
    }
    /* Without restrictions, opts == NULL must mean the same as empty opts. */
    if (r == 0 && tc->no_dest == NULL && tc->no_source == NULL && tc->check == NULL) {
        struct plan q;
        char again[OUT_MAX];

        plan_init(&q);
        assert_int_equal(plan_compute(&cl, &pol, NULL, &q), 0);
        format_plan(&cl, &pol, &q, again);
        if (strcmp(got, again) != 0) {
            print_error("%s: with opts NULL \"%s\"\n", tc->title, again);
            bad = 1;
        }
        plan_done(&q);
    }
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
    return bad;
}

static void
test_plan_table(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(plan_cases); i++) {
        failed += run_plan_case(&plan_cases[i]);
    }
    assert_int_equal(failed, 0);
}

static void
test_plan_examples(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(example_cases); i++) {
        failed += run_plan_case(&example_cases[i]);
    }
    assert_int_equal(failed, 0);
}

/* The numbers carried by a move and a conflict, on "destination gains usage * cap(source) /
 * cap(dest)": a (20 % of h1, cap 1) goes to h3 (40 %, cap 2), which then holds 50 %; c (20 %
 * of h2) follows it there. */
static void
test_plan_move_numbers(void **state)
{
    const struct plan_case *tc = NULL;
    struct cluster cl;
    struct policy pol;
    struct plan p;

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(plan_cases); i++) {
        if (strcmp(plan_cases[i].title, "destination gains usage * cap(source) / cap(dest)") == 0) {
            tc = &plan_cases[i];
        }
    }
    assert_non_null(tc);
    build(&cl, tc->hosts, MAX_HOSTS);
    make_policy(&pol, tc->pol);
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(p.n_conflicts, 2);
    assert_int_equal(p.n_moves, 2);
    assert_int_equal(p.n_unresolved, 0);
    assert_true(p.conflicts[0].host_threshold[KIND_CPU] == 80.0);
    assert_true(p.conflicts[0].vm_threshold[KIND_CPU] == 20.0);
    assert_true(p.conflicts[0].kinds == KIND_BIT(KIND_CPU));
    /* First move: a, 20 % of h1, to h3 at 40 %; score free * cap = 60 * 2. */
    assert_true(p.moves[0].vm_usage[KIND_CPU] == 20.0);
    assert_true(p.moves[0].dest_usage[KIND_CPU] == 40.0);
    assert_true(p.moves[0].score == 120.0);
    /* Second move: h3 now at 40 + 20 * 1 / 2 = 50; score 50 * 2. */
    assert_true(p.moves[1].vm_usage[KIND_CPU] == 20.0);
    assert_true(p.moves[1].dest_usage[KIND_CPU] == 50.0);
    assert_true(p.moves[1].score == 100.0);
    /* The input cluster is borrowed, never changed. */
    assert_true(cl.hosts[0].usage.pct[KIND_CPU] == 90.0);
    assert_true(cl.hosts[2].usage.pct[KIND_CPU] == 40.0);
    assert_int_equal(cl.hosts[2].vm_count, 1);
    assert_int_equal(cl.vms[0].host, 0);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* The unresolved VM is named only for no-destination. */
static void
test_plan_unresolved_vm(void **state)
{
    static const struct host_spec hosts[] = {
        {"h1", {90}, .vms = {{"a", {50}, .pinned = true}, {"b", {30}, .pinned = true}}},
        {"h2", {95}, .vms = {{"c", {50}}, {"d", {40}}}},
        {"h3", {90}, .vms = {{"e", {50}}, {"f", {40}}}},
    };
    const bool no_source[] = {false, false, true};
    const struct plan_opts opts = {.no_source = no_source};
    struct cluster cl;
    struct policy pol;
    struct plan p;

    (void)state;
    build(&cl, hosts, ARRAY_SIZE(hosts));
    make_policy(&pol, "");
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, &opts, &p), 0);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.n_unresolved, 3);
    assert_int_equal(p.unresolved[0].host, 0);
    assert_int_equal(p.unresolved[0].reason, PLAN_REASON_NO_MOVABLE_VM);
    assert_int_equal(p.unresolved[0].vm, UINT32_MAX);
    assert_int_equal(p.unresolved[1].host, 1);
    assert_int_equal(p.unresolved[1].reason, PLAN_REASON_NO_DESTINATION);
    assert_int_equal(p.unresolved[1].vm, 2);
    assert_int_equal(p.unresolved[2].host, 2);
    assert_int_equal(p.unresolved[2].reason, PLAN_REASON_SOURCE_BUSY);
    assert_int_equal(p.unresolved[2].vm, UINT32_MAX);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

static void
test_plan_reason_name(void **state)
{
    (void)state;
    assert_string_equal(plan_reason_name(PLAN_REASON_NO_MOVABLE_VM), "no-movable-vm");
    assert_string_equal(plan_reason_name(PLAN_REASON_NO_DESTINATION), "no-destination");
    assert_string_equal(plan_reason_name(PLAN_REASON_SOURCE_BUSY), "source-busy");
}

/* plan_compute() refuses a plan that is not empty, and leaves it as it was. */
static void
test_plan_not_empty(void **state)
{
    static const struct host_spec hosts[] = {
        {"h1", {90}, .vms = {{"a", {40}}, {"b", {30}}}},
        {"h2", {10}, .state = HOST_UP},
    };
    struct cluster cl;
    struct policy pol;
    struct plan p;

    (void)state;
    build(&cl, hosts, ARRAY_SIZE(hosts));
    make_policy(&pol, "");
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(p.n_moves, 1);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), -EINVAL);
    assert_int_equal(p.n_conflicts, 1);
    assert_int_equal(p.n_moves, 1);
    plan_done(&p);
    assert_int_equal(p.n_conflicts, 0);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(p.n_moves, 1);
    plan_done(&p);
    plan_done(NULL);
    policy_done(&pol);
    cluster_done(&cl);
}

/* [detect] contention = confirm and vm_select = wait: h1 at 90 % with heavy VMs a (40 %) and
 * b (30 %); h2 empty. Unconfirmed, the usage conflict is listed apart and nothing moves;
 * confirmed by wait, a conflict records what confirmed it and the VM that waits the most
 * (b) moves, where vm_select = usage would move a. */
static void
test_plan_contention(void **state)
{
    (void)state;
    struct cluster cl;
    size_t i;
    cluster_init(&cl);
    assert_int_equal(cluster_add_host(&cl, "h1", 2, &i), 0);
    usage_set(&cl.hosts[i].usage, KIND_CPU, 90);
    assert_int_equal(cluster_add_vm(&cl, "a", 1, &i), 0);
    usage_set(&cl.vms[i].usage, KIND_CPU, 40);
    assert_int_equal(cluster_add_vm(&cl, "b", 1, &i), 0);
    usage_set(&cl.vms[i].usage, KIND_CPU, 30);
    assert_int_equal(cluster_add_host(&cl, "h2", 2, &i), 0);
    usage_set(&cl.hosts[i].usage, KIND_CPU, 5);
    struct policy pol;
    policy_init(&pol);
    pol.contention = CONTENTION_CONFIRM;
    policy_finish(&pol);

    struct plan p;
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(p.n_conflicts, 0);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.n_unconfirmed, 1);
    assert_int_equal(p.unconfirmed[0].host, 0);
    assert_int_equal(p.unconfirmed[0].vm_count, 2);
    assert_true(p.unconfirmed[0].cpu_pressure < 0);
    char text[256];
    plan_confirm_describe(&pol, &p.unconfirmed[0], text, sizeof(text));
    assert_string_equal(text, "not confirmed: 0 heavy VMs wait >= 5 % (min_vms 2); cpu pressure "
                              "not measured");
    plan_done(&p);

    cl.vms[0].has_cpu_wait = cl.vms[1].has_cpu_wait = true;
    cl.vms[0].cpu_wait_pct = 8;
    cl.vms[1].cpu_wait_pct = 12;
    pressure_set(&cl.hosts[0].pressure, PRESSURE_CPU, PRESSURE_SOME, 3);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(p.n_unconfirmed, 0);
    assert_int_equal(p.n_conflicts, 1);
    assert_int_equal(p.conflicts[0].confirmed_by, 1); /* DETECT_BY_WAIT */
    assert_int_equal(p.conflicts[0].waiting, 2);
    assert_true(p.conflicts[0].cpu_pressure == 3);
    plan_confirm_describe(&pol, &p.conflicts[0], text, sizeof(text));
    assert_string_equal(text, "confirmed by cpu wait (2 heavy VMs wait >= 5 %)");
    assert_int_equal(p.n_moves, 1);
    assert_int_equal(p.moves[0].vm, 0); /* vm_select = usage: a */
    plan_done(&p);

    pol.vm_select = VM_SELECT_WAIT;
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(p.n_moves, 1);
    assert_int_equal(p.moves[0].vm, 1); /* b waits the most */
    char why[256];
    plan_move_describe(&pol, &cl, &p.moves[0], why, sizeof(why));
    assert_non_null(strstr(why, "highest cpu wait"));
    plan_done(&p);

    /* Equal waits: the usage decides. */
    cl.vms[1].cpu_wait_pct = 8;
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(p.moves[0].vm, 0);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_contention),    cmocka_unit_test(test_plan_table),
        cmocka_unit_test(test_plan_examples),      cmocka_unit_test(test_plan_move_numbers),
        cmocka_unit_test(test_plan_unresolved_vm), cmocka_unit_test(test_plan_reason_name),
        cmocka_unit_test(test_plan_not_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
