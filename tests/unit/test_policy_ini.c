/* Unit tests of the policy config parser (proto/policy_ini.h) against spec/policy.md §2:
 * every key with valid values and its default, per-kind keys, [host "NAME"] sections,
 * comments; every kind of error naming the source, the line and the key; and
 * config_format() round trips. Table-driven: each table row becomes one cmocka test. */
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

#include "core/model.h"
#include "core/policy.h"
#include "proto/perr.h"
#include "proto/policy_ini.h"

#define SRC "t.ini"

/* ---------------------------------------------------------------------------------------- */
/* Comparing policies */

static bool
override_is_empty(const struct host_override *o)
{
    return !o->has_capacity && !o->has_threshold_all && o->has_threshold == 0 &&
           !o->has_mem_reserve;
}

static bool
override_equal(const struct host_override *a, const struct host_override *b)
{
    if (strcmp(a->name, b->name) != 0 || a->has_capacity != b->has_capacity ||
        a->has_threshold_all != b->has_threshold_all || a->has_threshold != b->has_threshold)
        return false;
    if (a->has_capacity && a->capacity != b->capacity)
        return false;
    if (a->has_mem_reserve != b->has_mem_reserve ||
        (a->has_mem_reserve && a->mem_reserve_mib != b->mem_reserve_mib))
        return false;
    if (a->has_threshold_all && a->host_threshold_all != b->host_threshold_all)
        return false;
    for (int k = 0; k < KIND_COUNT; k++) {
        if ((a->has_threshold & KIND_BIT(k)) && a->host_threshold[k] != b->host_threshold[k])
            return false;
    }
    return true;
}

/* The overrides that set something, in order (policy_finish() sorted them). */
static size_t
nonempty_overrides(const struct policy *p, const struct host_override **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_overrides && n < max; i++) {
        if (!override_is_empty(&p->overrides[i]))
            out[n++] = &p->overrides[i];
    }
    return n;
}

static bool
policy_equal(const struct policy *a, const struct policy *b, char *why, size_t whylen)
{
#define DIFF(field)                                                                                \
    do {                                                                                           \
        snprintf(why, whylen, "%s differs", field);                                                \
        return false;                                                                              \
    } while (0)
    if (a->n_resources != b->n_resources)
        DIFF("resources (count)");
    for (size_t i = 0; i < a->n_resources; i++) {
        if (a->resources[i] != b->resources[i])
            DIFF("resources (order or kind)");
    }
    if (a->combine != b->combine)
        DIFF("combine");
    for (int k = 0; k < KIND_COUNT; k++) {
        if (a->host_threshold[k] != b->host_threshold[k]) {
            snprintf(why, whylen, "host_threshold.%s differs: %g / %g", kind_name((enum kind)k),
                     a->host_threshold[k], b->host_threshold[k]);
            return false;
        }
        if (a->vm_threshold_value[k] != b->vm_threshold_value[k]) {
            snprintf(why, whylen, "vm_threshold_value.%s differs: %g / %g", kind_name((enum kind)k),
                     a->vm_threshold_value[k], b->vm_threshold_value[k]);
            return false;
        }
        if (a->weights[k] != b->weights[k]) {
            snprintf(why, whylen, "weights %s differs: %g / %g", kind_name((enum kind)k),
                     a->weights[k], b->weights[k]);
            return false;
        }
    }
    if (a->vm_threshold != b->vm_threshold)
        DIFF("vm_threshold");
    if (a->vm_threshold_k != b->vm_threshold_k)
        DIFF("vm_threshold_k");
    if (a->min_vms != b->min_vms)
        DIFF("min_vms");
    if (a->contention != b->contention || a->contention_wait_pct != b->contention_wait_pct ||
        a->contention_pressure_pct != b->contention_pressure_pct)
        DIFF("contention");
    if (a->vm_select != b->vm_select)
        DIFF("vm_select");
    if (a->vm_select_resource != b->vm_select_resource)
        DIFF("vm_select_resource");
    if (a->dest_select != b->dest_select)
        DIFF("dest_select");
    if (a->dest_select_resource != b->dest_select_resource)
        DIFF("dest_select_resource");
    if (a->prefer_busy_hosts != b->prefer_busy_hosts)
        DIFF("prefer_busy_hosts");
    if (a->dest_headroom != b->dest_headroom)
        DIFF("dest_headroom");
    if (a->persist_k != b->persist_k || a->persist_n != b->persist_n)
        DIFF("persistence");
    if (a->cooldown_s != b->cooldown_s)
        DIFF("cooldown");
    if (a->max_moves_per_vm != b->max_moves_per_vm || a->storm_window_s != b->storm_window_s)
        DIFF("storm guard");
    if (a->max_migrations != b->max_migrations)
        DIFF("max_migrations");
    if (a->max_per_host != b->max_per_host)
        DIFF("max_per_host");
    if (a->mem_reserve_mib != b->mem_reserve_mib)
        DIFF("mem_reserve_mib");
    if (a->automation != b->automation)
        DIFF("automation");
    if (a->consolidate_below != b->consolidate_below ||
        a->consolidate_target != b->consolidate_target)
        DIFF("consolidate_below/target");
    if (a->n_exclude_hosts != b->n_exclude_hosts)
        DIFF("exclude_hosts (count)");
    for (size_t i = 0; i < a->n_exclude_hosts; i++) {
        if (strcmp(a->exclude_hosts[i], b->exclude_hosts[i]) != 0)
            DIFF("exclude_hosts");
    }
    if (a->n_rules != b->n_rules)
        DIFF("rules (count)");
    for (size_t i = 0; i < a->n_rules; i++) {
        const struct placement_rule *x = &a->rules[i], *y = &b->rules[i];
        if (strcmp(x->name, y->name) != 0 || x->kind != y->kind || x->must != y->must ||
            x->n_vms != y->n_vms || x->n_hosts != y->n_hosts)
            DIFF("a rule");
        for (size_t j = 0; j < x->n_vms; j++)
            if (strcmp(x->vms[j], y->vms[j]) != 0)
                DIFF("a rule's vms");
        for (size_t j = 0; j < x->n_hosts; j++)
            if (strcmp(x->hosts[j], y->hosts[j]) != 0)
                DIFF("a rule's hosts");
    }
    if (a->weight_priority != b->weight_priority)
        DIFF("weights priority");
    const struct host_override *oa[64], *ob[64];
    size_t na = nonempty_overrides(a, oa, ARRAY_SIZE(oa));
    size_t nb = nonempty_overrides(b, ob, ARRAY_SIZE(ob));
    if (na != nb) {
        snprintf(why, whylen, "number of host overrides differs: %zu / %zu", na, nb);
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        if (!override_equal(oa[i], ob[i])) {
            snprintf(why, whylen, "host override %zu (%s / %s) differs", i, oa[i]->name,
                     ob[i]->name);
            return false;
        }
    }
    return true;
#undef DIFF
}

static bool
msg_is_one_clean_line(const char *m)
{
    if (m[0] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)m; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

static struct host_override *
ovr(struct policy *p, const char *name)
{
    struct host_override *o = NULL;
    assert_int_equal(policy_override_get(p, name, strlen(name), &o), 0);
    return o;
}

static void
all_kinds(double *v, double x)
{
    for (int k = 0; k < KIND_COUNT; k++)
        v[k] = x;
}

/* ---------------------------------------------------------------------------------------- */
/* Valid configs: the expected policy is the default with the row's changes applied. */

static void
x_none(struct policy *p)
{
    (void)p;
}

static void
x_res_cpu_disk(struct policy *p)
{
    p->resources[0] = KIND_CPU;
    p->resources[1] = KIND_DISK;
    p->n_resources = 2;
}

static void
x_res_net_cpu(struct policy *p)
{
    p->resources[0] = KIND_NET;
    p->resources[1] = KIND_CPU;
    p->n_resources = 2;
}

static void
x_res_all(struct policy *p)
{
    p->resources[0] = KIND_MEM_BW;
    p->resources[1] = KIND_DISK;
    p->resources[2] = KIND_NET;
    p->resources[3] = KIND_CPU;
    p->n_resources = 4;
}

static void
x_res_disk(struct policy *p)
{
    p->resources[0] = KIND_DISK;
    p->n_resources = 1;
}

static void
x_combine_all(struct policy *p)
{
    p->combine = COMBINE_ALL;
}

static void
x_ht_70(struct policy *p)
{
    all_kinds(p->host_threshold, 70);
}

static void
x_ht_disk_70(struct policy *p)
{
    p->host_threshold[KIND_DISK] = 70;
}

static void
x_ht_70_net_90(struct policy *p)
{
    all_kinds(p->host_threshold, 70);
    p->host_threshold[KIND_NET] = 90;
}

static void
x_ht_0(struct policy *p)
{
    all_kinds(p->host_threshold, 0);
}

static void
x_ht_100(struct policy *p)
{
    all_kinds(p->host_threshold, 100);
}

static void
x_ht_85_5(struct policy *p)
{
    all_kinds(p->host_threshold, 85.5);
}

static void
x_ht_each(struct policy *p)
{
    p->host_threshold[KIND_CPU] = 10;
    p->host_threshold[KIND_MEM_BW] = 20;
    p->host_threshold[KIND_DISK] = 30;
    p->host_threshold[KIND_NET] = 40;
}

static void
x_share(struct policy *p)
{
    p->vm_threshold = VM_THRESHOLD_SHARE;
}

static void
x_vtv_25(struct policy *p)
{
    all_kinds(p->vm_threshold_value, 25);
}

static void
x_vtv_net_15(struct policy *p)
{
    p->vm_threshold_value[KIND_NET] = 15;
}

static void
x_vtv_25_net_15(struct policy *p)
{
    all_kinds(p->vm_threshold_value, 25);
    p->vm_threshold_value[KIND_NET] = 15;
}

static void
x_vtv_bounds(struct policy *p)
{
    all_kinds(p->vm_threshold_value, 100);
    p->vm_threshold_value[KIND_DISK] = 0;
}

static void
x_k_5(struct policy *p)
{
    p->vm_threshold = VM_THRESHOLD_SHARE;
    p->vm_threshold_k = 5;
}

static void
x_k_2_5(struct policy *p)
{
    p->vm_threshold_k = 2.5;
}

static void
x_min_1(struct policy *p)
{
    p->min_vms = 1;
}

static void
x_min_17(struct policy *p)
{
    p->min_vms = 17;
}

static void
x_sel_priority(struct policy *p)
{
    p->vm_select = VM_SELECT_PRIORITY;
}

static void
x_min_17_priority(struct policy *p)
{
    p->min_vms = 17;
    p->vm_select = VM_SELECT_PRIORITY;
}

static void
x_contention(struct policy *p)
{
    p->contention = CONTENTION_CONFIRM;
    p->contention_wait_pct = 20;
    p->contention_pressure_pct = 2.5;
}

static void
x_sel_wait(struct policy *p)
{
    p->vm_select = VM_SELECT_WAIT;
}

static void
x_sel_weighted(struct policy *p)
{
    p->vm_select = VM_SELECT_WEIGHTED;
}

static void
x_sel_res_disk(struct policy *p)
{
    p->vm_select_resource = KIND_DISK;
}

static void
x_sel_res_mem_bw(struct policy *p)
{
    p->vm_select_resource = KIND_MEM_BW;
}

static void
x_dest_least(struct policy *p)
{
    p->dest_select = DEST_SELECT_LEAST_USED;
}

static void
x_dest_weighted(struct policy *p)
{
    p->dest_select = DEST_SELECT_WEIGHTED;
}

static void
x_dest_res_net(struct policy *p)
{
    p->dest_select_resource = KIND_NET;
}

static void
x_busy(struct policy *p)
{
    p->prefer_busy_hosts = true;
}

static void
x_persist_2_3(struct policy *p)
{
    p->persist_k = 2;
    p->persist_n = 3;
}

static void
x_persist_31(struct policy *p)
{
    p->persist_k = 31;
    p->persist_n = 31;
}

static void
x_cooldown_0(struct policy *p)
{
    p->cooldown_s = 0;
}

static void
x_literal(struct policy *p)
{
    p->dest_headroom = false;
    p->cooldown_s = 0;
}

static void
x_storm(struct policy *p)
{
    p->max_moves_per_vm = 2;
    p->storm_window_s = 600.5;
}

static void
x_cooldown_frac(struct policy *p)
{
    p->cooldown_s = 0.5;
}

static void
x_reserve(struct policy *p)
{
    p->mem_reserve_mib = 2048;
    struct host_override *o = ovr(p, "h1");
    o->has_mem_reserve = true;
    o->mem_reserve_mib = 512.5;
}

static void
x_rules(struct policy *p)
{
    struct placement_rule *r = NULL;
    assert_int_equal(policy_rule_get(p, "web apart", 9, &r), 0);
    r->kind = RULE_APART;
    r->has_kind = true;
    assert_int_equal(policy_names_add(&r->vms, &r->n_vms, "web-1", 5), 0);
    assert_int_equal(policy_names_add(&r->vms, &r->n_vms, "web 2", 5), 0);
    assert_int_equal(policy_rule_get(p, "db", 2, &r), 0);
    r->kind = RULE_NOT_ON;
    r->has_kind = true;
    r->must = false;
    assert_int_equal(policy_names_add(&r->vms, &r->n_vms, "db", 2), 0);
    assert_int_equal(policy_names_add(&r->hosts, &r->n_hosts, "h1", 2), 0);
    assert_int_equal(policy_names_add(&p->exclude_hosts, &p->n_exclude_hosts, "h9", 2), 0);
}

static void
x_consolidate(struct policy *p)
{
    p->consolidate_below = 25;
    p->consolidate_target = 55.5;
}

static void
x_rule_two_lines(struct policy *p)
{
    struct placement_rule *r = NULL;
    assert_int_equal(policy_rule_get(p, "r", 1, &r), 0);
    r->kind = RULE_APART;
    r->has_kind = true;
    assert_int_equal(policy_names_add(&r->vms, &r->n_vms, "a", 1), 0);
    assert_int_equal(policy_names_add(&r->vms, &r->n_vms, "b", 1), 0);
    assert_int_equal(policy_names_add(&r->vms, &r->n_vms, "c", 1), 0);
}

static void
x_manual(struct policy *p)
{
    p->automation = AUTOMATION_MANUAL;
}

static void
x_dry(struct policy *p)
{
    p->automation = AUTOMATION_DRY_RUN;
}

static void
x_limits(struct policy *p)
{
    p->max_migrations = 4;
    p->max_per_host = 1;
}

static void
x_weights_doc(struct policy *p)
{
    p->weights[KIND_CPU] = 1;
    p->weights[KIND_DISK] = 0.5;
    p->weight_priority = 2;
}

static void
x_weights_disk_only(struct policy *p)
{
    /* A weights list replaces the default cpu:1. */
    p->weights[KIND_CPU] = 0;
    p->weights[KIND_DISK] = 0.5;
}

static void
x_weights_all(struct policy *p)
{
    p->weights[KIND_CPU] = 0.25;
    p->weights[KIND_MEM_BW] = 1;
    p->weights[KIND_DISK] = 2;
    p->weights[KIND_NET] = 3;
    p->weight_priority = 0.5;
}

static void
x_host_cap(struct policy *p)
{
    struct host_override *o = ovr(p, "h1");
    o->has_capacity = true;
    o->capacity = 2;
}

static void
x_host_thr(struct policy *p)
{
    struct host_override *o = ovr(p, "h1");
    o->has_threshold_all = true;
    o->host_threshold_all = 70;
    o->has_threshold = (uint8_t)KIND_BIT(KIND_DISK);
    o->host_threshold[KIND_DISK] = 60;
}

static void
x_hosts_many(struct policy *p)
{
    struct host_override *o = ovr(p, "zeta");
    o->has_capacity = true;
    o->capacity = 0.5;
    o = ovr(p, "alpha");
    o->has_threshold = (uint8_t)(KIND_BIT(KIND_CPU) | KIND_BIT(KIND_NET));
    o->host_threshold[KIND_CPU] = 95;
    o->host_threshold[KIND_NET] = 0;
    o = ovr(p, "host with spaces");
    o->has_capacity = true;
    o->capacity = 4;
    o->has_threshold_all = true;
    o->host_threshold_all = 100;
    all_kinds(p->host_threshold, 75);
}

static void
x_doc_block(struct policy *p)
{
    struct host_override *o = ovr(p, "NAME");
    o->has_capacity = true;
    o->capacity = 1.0;
    o->has_threshold_all = true;
    o->host_threshold_all = 80;
}

static void
x_everything(struct policy *p)
{
    x_res_all(p);
    p->combine = COMBINE_ALL;
    x_ht_each(p);
    p->vm_threshold = VM_THRESHOLD_SHARE;
    x_vtv_25_net_15(p);
    p->vm_threshold_k = 1.5;
    p->min_vms = 3;
    p->vm_select = VM_SELECT_WEIGHTED;
    p->vm_select_resource = KIND_NET;
    p->dest_select = DEST_SELECT_LEAST_USED;
    p->dest_select_resource = KIND_MEM_BW;
    p->prefer_busy_hosts = true;
    p->dest_headroom = true;
    p->persist_k = 3;
    p->persist_n = 5;
    p->cooldown_s = 600;
    p->max_migrations = 8;
    p->max_per_host = 2;
    p->automation = AUTOMATION_MANUAL;
    x_weights_all(p);
    x_host_thr(p);
    struct host_override *o = ovr(p, "h2");
    o->has_capacity = true;
    o->capacity = 0.125;
}

static char doc_block[] =
    "[detect]\n"
    "resources = cpu          ; kinds checked: any of cpu, mem_bw, disk, net\n"
    "combine = any            ; any | all\n"
    "host_threshold = 80      ; percent; per kind: host_threshold.disk = 70\n"
    "vm_threshold = fixed     ; fixed | share\n"
    "vm_threshold_value = 20  ; percent, for fixed; per kind: vm_threshold_value.net = 15\n"
    "vm_threshold_k = 0       ; for share: threshold = Up / N - k   (k >= 0)\n"
    "min_vms = 2              ; how many VMs must be high at once (>= 1)\n"
    "\n"
    "[relocate]\n"
    "vm_select = usage        ; usage | priority | weighted\n"
    "vm_select_resource = cpu ; the kind for vm_select = usage\n"
    "dest_select = free       ; free | least-used | weighted\n"
    "dest_select_resource = cpu\n"
    "prefer_busy_hosts = no   ; yes: hosts with no VM are chosen only when no busy host fits\n"
    "weights = cpu:1          ; for weighted: kind:weight pairs, plus priority:W for VMs\n"
    "\n"
    "[host \"NAME\"]            ; per-host overrides\n"
    "capacity = 1.0           ; relative capacity coefficient (> 0), overrides the snapshot's\n"
    "host_threshold = 80      ; and per kind, as above\n";

/* Lines longer than the 190 bytes of old, filled in by main(): a comment of 600 bytes, and a
 * line whose tail (in its comment) looks like a key, which a line reader with a fixed buffer
 * would have read as a line of its own. */
static char long_comment[1024];
static char long_tail_key[1024];

static void
x_min_2(struct policy *p)
{
    p->min_vms = 2;
}

/* A line of exactly POLICY_INI_MAX_LINE bytes, filled in by main(). */
static char line_max[POLICY_INI_MAX_LINE + 64];
/* 100 KiB of exclude_hosts on one line (N_WIDE names), filled in by main(). */
#define N_WIDE 10000
static char line_wide[N_WIDE * 12 + 64];
/* A host section whose name is longer than inih's 50-byte section names. */
#define LONG_HOST "a-host-name-of-more-than-fifty-bytes.rack-17.row-3.dc-west.example.org"

static void
x_wide(struct policy *p)
{
    char name[16];
    for (int i = 0; i < N_WIDE; i++) {
        int n = snprintf(name, sizeof(name), "h%08d", i);
        assert_int_equal(policy_names_add(&p->exclude_hosts, &p->n_exclude_hosts, name, (size_t)n),
                         0);
    }
}

static void
x_long_host(struct policy *p)
{
    struct host_override *o = NULL;
    assert_int_equal(policy_override_get(p, LONG_HOST, strlen(LONG_HOST), &o), 0);
    o->capacity = 2;
    o->has_capacity = true;
}

static void
x_exclude_three_lines(struct policy *p)
{
    assert_int_equal(policy_names_add(&p->exclude_hosts, &p->n_exclude_hosts, "a", 1), 0);
    assert_int_equal(policy_names_add(&p->exclude_hosts, &p->n_exclude_hosts, "b", 1), 0);
    assert_int_equal(policy_names_add(&p->exclude_hosts, &p->n_exclude_hosts, "c", 1), 0);
}

struct valid_case {
    const char *name;
    const char *text;
    void (*expect)(struct policy *p);
};

static struct valid_case valid_cases[] = {
    {"empty text: all defaults", "", x_none},
    {"comments and blank lines only", "; a comment\n\n   ; indented comment\n\n", x_none},
    {"empty sections", "[detect]\n[relocate]\n", x_none},
    {"the documented block gives the defaults", doc_block, x_doc_block},
    {"resources = cpu, disk", "[detect]\nresources = cpu, disk\n", x_res_cpu_disk},
    {"resources order kept", "[detect]\nresources = net, cpu\n", x_res_net_cpu},
    {"resources without spaces", "[detect]\nresources=mem_bw,disk,net,cpu\n", x_res_all},
    {"resources with extra spaces", "[detect]\nresources =   mem_bw ,  disk,net , cpu   \n",
     x_res_all},
    {"resources = disk alone", "[detect]\nresources = disk\n", x_res_disk},
    {"combine = all", "[detect]\ncombine = all\n", x_combine_all},
    {"combine = any", "[detect]\ncombine = any\n", x_none},
    {"host_threshold for all kinds", "[detect]\nhost_threshold = 70\n", x_ht_70},
    {"host_threshold.disk", "[detect]\nhost_threshold.disk = 70\n", x_ht_disk_70},
    {"host_threshold then per kind", "[detect]\nhost_threshold = 70\nhost_threshold.net = 90\n",
     x_ht_70_net_90},
    {"per kind then host_threshold", "[detect]\nhost_threshold.net = 90\nhost_threshold = 70\n",
     x_ht_70_net_90},
    {"host_threshold = 0", "[detect]\nhost_threshold = 0\n", x_ht_0},
    {"host_threshold = 100", "[detect]\nhost_threshold = 100\n", x_ht_100},
    {"host_threshold = 85.5", "[detect]\nhost_threshold = 85.5\n", x_ht_85_5},
    {"host_threshold per kind, every kind",
     "[detect]\nhost_threshold.cpu = 10\nhost_threshold.mem_bw = 20\n"
     "host_threshold.disk = 30\nhost_threshold.net = 40\n",
     x_ht_each},
    {"vm_threshold = share", "[detect]\nvm_threshold = share\n", x_share},
    {"vm_threshold = fixed", "[detect]\nvm_threshold = fixed\n", x_none},
    {"vm_threshold_value", "[detect]\nvm_threshold_value = 25\n", x_vtv_25},
    {"vm_threshold_value.net", "[detect]\nvm_threshold_value.net = 15\n", x_vtv_net_15},
    {"vm_threshold_value and per kind",
     "[detect]\nvm_threshold_value.net = 15\nvm_threshold_value = 25\n", x_vtv_25_net_15},
    {"vm_threshold_value bounds",
     "[detect]\nvm_threshold_value = 100\nvm_threshold_value.disk = 0\n", x_vtv_bounds},
    {"vm_threshold_k = 5 with share", "[detect]\nvm_threshold = share\nvm_threshold_k = 5\n",
     x_k_5},
    {"vm_threshold_k = 2.5", "[detect]\nvm_threshold_k = 2.5\n", x_k_2_5},
    {"vm_threshold_k = 0", "[detect]\nvm_threshold_k = 0\n", x_none},
    {"min_vms = 1", "[detect]\nmin_vms = 1\n", x_min_1},
    {"min_vms = 17", "[detect]\nmin_vms = 17\n", x_min_17},
    {"vm_select = priority", "[relocate]\nvm_select = priority\n", x_sel_priority},
    {"vm_select = weighted", "[relocate]\nvm_select = weighted\n", x_sel_weighted},
    {"vm_select = usage", "[relocate]\nvm_select = usage\n", x_none},
    {"vm_select = wait", "[relocate]\nvm_select = wait\n", x_sel_wait},
    {"contention = confirm with its figures",
     "[detect]\ncontention = confirm\ncontention_wait = 20\ncontention_pressure = 2.5\n",
     x_contention},
    {"contention = off", "[detect]\ncontention = off\n", x_none},
    {"vm_select_resource = disk", "[relocate]\nvm_select_resource = disk\n", x_sel_res_disk},
    {"vm_select_resource = mem_bw", "[relocate]\nvm_select_resource = mem_bw\n", x_sel_res_mem_bw},
    {"dest_select = least-used", "[relocate]\ndest_select = least-used\n", x_dest_least},
    {"dest_select = weighted", "[relocate]\ndest_select = weighted\n", x_dest_weighted},
    {"dest_select = free", "[relocate]\ndest_select = free\n", x_none},
    {"dest_select_resource = net", "[relocate]\ndest_select_resource = net\n", x_dest_res_net},
    {"prefer_busy_hosts = yes", "[relocate]\nprefer_busy_hosts = yes\n", x_busy},
    {"prefer_busy_hosts = no", "[relocate]\nprefer_busy_hosts = no\n", x_none},
    {"persistence = 2/3", "[relocate]\npersistence = 2/3\n", x_persist_2_3},
    {"persistence = 1/1", "[relocate]\npersistence = 1/1\n", x_none},
    {"persistence = 31/31", "[relocate]\npersistence = 31/31\n", x_persist_31},
    {"cooldown = 300 (the default)", "[relocate]\ncooldown = 300\n", x_none},
    {"dest_headroom = yes (the default)", "[relocate]\ndest_headroom = yes\n", x_none},
    {"the patent's literal rule", "[relocate]\ndest_headroom = no\ncooldown = 0\n", x_literal},
    {"cooldown = 0.5", "[relocate]\ncooldown = 0.5\n", x_cooldown_frac},
    {"cooldown = 0", "[relocate]\ncooldown = 0\n", x_cooldown_0},
    {"storm guard", "[relocate]\nmax_moves_per_vm = 2\nstorm_window = 600.5\n", x_storm},
    {"storm guard defaults", "[relocate]\nmax_moves_per_vm = 4\nstorm_window = 3600\n", x_none},
    {"limits", "[relocate]\nmax_migrations = 4\nmax_per_host = 1\n", x_limits},
    {"limits off", "[relocate]\nmax_migrations = 0\nmax_per_host = 0\n", x_none},
    {"automation = manual", "[relocate]\nautomation = manual\n", x_manual},
    {"power saving", "[relocate]\nconsolidate_below = 25\nconsolidate_target = 55.5\n",
     x_consolidate},
    {"a rule's VMs over several lines", "[rule \"r\"]\ntype = apart\nvms = a, b\nvms = c\n",
     x_rule_two_lines},
    {"automation = dry-run", "[relocate]\nautomation = dry-run\n", x_dry},
    {"automation = automatic", "[relocate]\nautomation = automatic\n", x_none},
    {"rules and excluded hosts",
     "[rule \"web apart\"]\ntype = apart\nvms = web-1 , web 2\n[relocate]\nexclude_hosts = h9\n"
     "[rule \"db\"]\nstrength = should\ntype = not-on\nvms = db\nhosts = h1\n",
     x_rules},
    {"memory reserve",
     "[relocate]\nmem_reserve_mib = 2048\n[host \"h1\"]\nmem_reserve_mib = 512.5\n", x_reserve},
    {"weights as documented", "[relocate]\nweights = cpu:1, disk:0.5, priority:2\n", x_weights_doc},
    {"weights replace the default", "[relocate]\nweights = disk:0.5\n", x_weights_disk_only},
    {"weights, every kind, no spaces",
     "[relocate]\nweights=priority:0.5,net:3,disk:2,mem_bw:1,cpu:0.25\n", x_weights_all},
    {"host capacity", "[host \"h1\"]\ncapacity = 2\n", x_host_cap},
    {"host thresholds", "[host \"h1\"]\nhost_threshold.disk = 60\nhost_threshold = 70\n",
     x_host_thr},
    {"several hosts, any order",
     "[detect]\nhost_threshold = 75\n\n[host \"zeta\"]\ncapacity = 0.5\n"
     "[host \"alpha\"]\nhost_threshold.cpu = 95\nhost_threshold.net = 0\n"
     "[host \"host with spaces\"]\ncapacity = 4\nhost_threshold = 100\n",
     x_hosts_many},
    {"inline comments",
     "[detect] ; the detector\nmin_vms = 17 ; seventeen\ncombine = any\t; tab first\n", x_min_17},
    {"CRLF line endings", "[detect]\r\nmin_vms = 17\r\n\r\n[relocate]\r\nvm_select = priority\r\n",
     x_min_17_priority},
    {"no final newline", "[detect]\nmin_vms = 17", x_min_17},
    {"whitespace around keys and values", "  [detect]  \n\t min_vms\t=\t17  \n", x_min_17},
    {"a line of exactly the longest length", line_max, x_min_17},
    {"a line of 100 KiB", line_wide, x_wide},
    {"a comment of 600 bytes", long_comment, x_min_2},
    {"a long line whose comment looks like a key", long_tail_key, x_none},
    {"a host section with a long name", "[host \"" LONG_HOST "\"]\ncapacity = 2\n", x_long_host},
    {"exclude_hosts over three lines",
     "[relocate]\nexclude_hosts = a\n; more\nexclude_hosts = b\nexclude_hosts=c\n",
     x_exclude_three_lines},
    {"everything at once",
     "; every key\n"
     "[detect]\n"
     "resources = mem_bw, disk, net, cpu\n"
     "combine = all\n"
     "host_threshold.cpu = 10\n"
     "host_threshold.mem_bw = 20\n"
     "host_threshold.disk = 30\n"
     "host_threshold.net = 40\n"
     "vm_threshold = share\n"
     "vm_threshold_value = 25\n"
     "vm_threshold_value.net = 15\n"
     "vm_threshold_k = 1.5\n"
     "min_vms = 3\n"
     "[relocate]\n"
     "vm_select = weighted\n"
     "vm_select_resource = net\n"
     "dest_select = least-used\n"
     "dest_select_resource = mem_bw\n"
     "prefer_busy_hosts = yes\n"
     "dest_headroom = yes\n"
     "persistence = 3/5\n"
     "cooldown = 600\n"
     "max_migrations = 8\n"
     "max_per_host = 2\n"
     "automation = manual\n"
     "weights = cpu:0.25, mem_bw:1, disk:2, net:3, priority:0.5\n"
     "[host \"h2\"]\n"
     "capacity = 0.125\n"
     "[host \"h1\"]\n"
     "host_threshold = 70\n"
     "host_threshold.disk = 60\n",
     x_everything},
};

static void
test_valid(void **state)
{
    const struct valid_case *vc = *state;
    struct policy want, got;
    struct perr err;
    char why[256];

    policy_init(&want);
    vc->expect(&want);
    policy_finish(&want);

    policy_init(&got);
    memset(err.msg, 0, sizeof(err.msg));
    int r = config_parse_string(vc->text, SRC, &got, &err);
    if (r != 0)
        fail_msg("%s: rejected (%d): %s", vc->name, r, err.msg);
    if (!policy_equal(&want, &got, why, sizeof(why)))
        fail_msg("%s: %s", vc->name, why);

    /* Overrides are found by name after parsing. */
    for (size_t i = 0; i < want.n_overrides; i++) {
        const struct host_override *o = policy_override_find(&got, want.overrides[i].name);
        if (o == NULL && !override_is_empty(&want.overrides[i]))
            fail_msg("%s: override \"%s\" not found", vc->name, want.overrides[i].name);
    }
    assert_null(policy_override_find(&got, "no-such-host"));
    policy_done(&want);
    policy_done(&got);
}

/* config_format() writes text that parses back to an equal policy. */
static void
test_format_roundtrip(void **state)
{
    const struct valid_case *vc = *state;
    struct policy a, b;
    struct perr err;
    char why[256];
    char *text = NULL;

    policy_init(&a);
    int r = config_parse_string(vc->text, SRC, &a, &err);
    if (r != 0)
        fail_msg("%s: rejected (%d): %s", vc->name, r, err.msg);
    r = config_format(&a, &text);
    assert_int_equal(r, 0);
    assert_non_null(text);
    policy_init(&b);
    r = config_parse_string(text, "formatted", &b, &err);
    if (r != 0)
        fail_msg("%s: formatted text rejected (%d): %s\n%s", vc->name, r, err.msg, text);
    if (!policy_equal(&a, &b, why, sizeof(why)))
        fail_msg("%s: round trip: %s\n%s", vc->name, why, text);
    free(text);
    policy_done(&a);
    policy_done(&b);
}

/* Long names in lists: the formatted text keeps every line within the parser's limit (the
 * names go on several lines) and parses back to the same policy. Found by fuzz_config. */
static void
test_format_long_names(void **state)
{
    (void)state;
    char n150[151];
    char n186[187];
    memset(n150, 'h', 150);
    n150[150] = '\0';
    memset(n186, 'v', 186);
    n186[186] = '\0';
    char text[2048];
    (void)snprintf(text, sizeof(text),
                   "[relocate]\nexclude_hosts = %s\nexclude_hosts = a, b, c\nexclude_hosts=%.*sx\n"
                   "[rule \"r\"]\ntype = apart\nvms=%s\nvms = w\n",
                   n150, 175, n186, n186);
    struct policy a, b;
    struct perr err;
    char why[256];
    char *out = NULL;
    policy_init(&a);
    if (config_parse_string(text, SRC, &a, &err) != 0)
        fail_msg("rejected: %s", err.msg);
    assert_int_equal(a.n_exclude_hosts, 5);
    assert_int_equal(config_format(&a, &out), 0);
    for (const char *l = out; *l != '\0';) {
        const char *nl = strchr(l, '\n');
        size_t len = nl != NULL ? (size_t)(nl - l) : strlen(l);
        if (len > POLICY_INI_MAX_LINE)
            fail_msg("formatted line of %zu bytes:\n%s", len, out);
        l += len + (nl != NULL);
    }
    policy_init(&b);
    if (config_parse_string(out, "formatted", &b, &err) != 0)
        fail_msg("formatted text rejected: %s\n%s", err.msg, out);
    if (!policy_equal(&a, &b, why, sizeof(why)))
        fail_msg("round trip: %s\n%s", why, out);
    free(out);
    policy_done(&a);
    policy_done(&b);
}

/* A policy built in memory (not through the parser) also round-trips. */
static void
test_format_built(void **state)
{
    (void)state;
    struct policy a, b;
    struct perr err;
    char why[256];
    char *text = NULL;

    policy_init(&a);
    x_everything(&a);
    a.host_threshold[KIND_CPU] = 12.345678901234567;
    a.vm_threshold_k = 0.1 + 0.2;
    a.weights[KIND_NET] = 1e-9;
    struct host_override *o = ovr(&a, "z");
    o->has_threshold = (uint8_t)KIND_MASK_ALL;
    all_kinds(o->host_threshold, 33.3);
    policy_finish(&a);
    assert_int_equal(config_format(&a, &text), 0);
    policy_init(&b);
    int r = config_parse_string(text, "formatted", &b, &err);
    if (r != 0)
        fail_msg("formatted text rejected (%d): %s\n%s", r, err.msg, text);
    if (!policy_equal(&a, &b, why, sizeof(why)))
        fail_msg("round trip: %s\n%s", why, text);
    free(text);
    policy_done(&a);
    policy_done(&b);

    /* The default policy too. */
    policy_init(&a);
    policy_finish(&a);
    assert_int_equal(config_format(&a, &text), 0);
    policy_init(&b);
    r = config_parse_string(text, "formatted", &b, &err);
    if (r != 0)
        fail_msg("formatted defaults rejected (%d): %s\n%s", r, err.msg, text);
    if (!policy_equal(&a, &b, why, sizeof(why)))
        fail_msg("defaults round trip: %s\n%s", why, text);
    free(text);
    policy_done(&a);
    policy_done(&b);
}

/* ---------------------------------------------------------------------------------------- */
/* Bad configs */

struct bad_case {
    const char *name;
    const char *text;
    int line;          /* the line the message must name */
    const char *want;  /* text the message must contain (the key or section), or NULL */
    const char *want2; /* more text the message must contain, or NULL */
};

/* Filled in by main(): lines longer than POLICY_INI_MAX_LINE. */
static char long_line[POLICY_INI_MAX_LINE + 64];
static char long_value[1024];

static struct bad_case bad_cases[] = {
    /* Unknown sections and keys. */
    {"unknown section", "[bogus]\nmin_vms = 2\n", 1, "bogus", NULL},
    {"contention not a choice", "[detect]\ncontention = maybe\n", 2, "contention", "confirm"},
    {"contention_wait over 100", "[detect]\ncontention_wait = 101\n", 2, "contention_wait",
     "between 0 and 100"},
    /* A name that a formatted list would turn into a comment (found by fuzz_config). */
    {"name starting with ;", "[relocate]\nexclude_hosts=;\n", 2, "exclude_hosts", "comment"},
    {"name starting with #", "[rule \"r\"]\ntype = apart\nvms = a,#b\n", 3, "vms", "comment"},
    /* inih takes a form feed or vertical tab as indentation: the line would continue the
     * value above it, comment and all (found by fuzz_config). */
    {"line indented by a form feed", "[relocate]\nexclude_hosts = a\n\fexclude_hosts=b ;\n", 3,
     "exclude_hosts", "indented"},
    /* Also one that looks like a section header or a key: inih still reads it as more of the
     * value above (found by fuzz_config). */
    {"indented section header after a key", "[relocate]\nexclude_hosts = a\n  [detect]\n", 3,
     "[detect]", "indented"},
    {"indented header, then an indented key",
     "[relocate]\nexclude_hosts = a\n\f[detect] \r\n  min_vms=3 ;\n", 3, "[detect]", "indented"},
    {"indented section header after a section",
     "[detect]\n  [relocate]\n  exclude_hosts = a\nx = 1\n", 4, "x", NULL},
    {"unknown section after comments", "; c\n\n[detect]\n[relocation]\n", 4, "relocation", NULL},
    {"key before any section", "min_vms = 2\n[detect]\n", 1, "min_vms", NULL},
    {"unknown key in detect", "[detect]\nthreshold = 5\n", 2, "threshold", NULL},
    {"relocate key in detect", "[detect]\nmin_vms = 2\nvm_select = usage\n", 3, "vm_select", NULL},
    {"detect key in relocate", "[relocate]\n\n\nmin_vms = 2\n", 4, "min_vms", NULL},
    {"detect key in a host section", "[host \"h\"]\ncapacity = 2\nmin_vms = 2\n", 3, "min_vms",
     NULL},
    {"keys are case-sensitive", "[detect]\nMin_VMs = 2\n", 2, "Min_VMs", NULL},
    {"host section without a name", "[host]\ncapacity = 2\n", 1, "host", NULL},
    {"malformed host header alone", "[detect]\nmin_vms = 2\n[host \"a\" ]\n", 3, NULL, NULL},
    {"malformed host header, keys later", "[host \"a\" ]\n; c\n\ncapacity = 2\n", 1, NULL, NULL},
    {"host header with text after it", "[host \"a\"] x\ncapacity = 2\n", 1, NULL, NULL},
    {"unknown section alone, after a blank line", "[detect]\n\n[bogus]\n", 3, "bogus", NULL},
    {"unterminated section header", "[detect\nmin_vms = 2\n", 1, NULL, NULL},
    {"empty key", "[detect]\n = 5\n", 2, NULL, NULL},

    /* Unknown kinds. */
    {"host_threshold.gpu", "[detect]\nhost_threshold.gpu = 70\n", 2, "host_threshold.gpu", NULL},
    {"vm_threshold_value.gpu", "[detect]\n\nvm_threshold_value.gpu = 5\n", 3,
     "vm_threshold_value.gpu", NULL},
    {"host_threshold. with no kind", "[detect]\nhost_threshold. = 5\n", 2, "host_threshold", NULL},
    {"host_threshold.CPU (case)", "[detect]\nhost_threshold.CPU = 5\n", 2, "host_threshold.CPU",
     NULL},
    {"per-kind key on a key without kinds", "[detect]\nmin_vms.cpu = 2\n", 2, "min_vms.cpu", NULL},
    {"host_threshold.gpu in a host section", "[host \"h\"]\nhost_threshold.gpu = 5\n", 2,
     "host_threshold.gpu", NULL},
    {"resources with an unknown kind", "[detect]\nresources = cpu, gpu\n", 2, "resources", NULL},
    {"resources empty", "[detect]\nresources =\n", 2, "resources", NULL},
    {"resources with an empty item", "[detect]\nresources = cpu,,disk\n", 2, "resources", NULL},
    {"resources ending in a comma", "[detect]\nresources = cpu,\n", 2, "resources", NULL},
    {"vm_select_resource unknown", "[relocate]\nvm_select_resource = gpu\n", 2,
     "vm_select_resource", NULL},
    {"dest_select_resource unknown", "[relocate]\ndest_select_resource = all\n", 2,
     "dest_select_resource", NULL},
    {"weights with an unknown kind", "[relocate]\nweights = cpu:1, gpu:1\n", 2, "weights", NULL},
    {"weights without a colon", "[relocate]\nweights = cpu\n", 2, "weights", NULL},
    {"weights with a bad number", "[relocate]\nweights = cpu:abc\n", 2, "weights", NULL},
    {"weights with no number", "[relocate]\nweights = cpu:\n", 2, "weights", NULL},
    {"weights with no kind", "[relocate]\nweights = :1\n", 2, "weights", NULL},
    {"weights not finite", "[relocate]\nweights = cpu:inf\n", 2, "weights", NULL},
    {"weights nan", "[relocate]\nweights = disk:nan\n", 2, "weights", NULL},
    {"weights empty", "[relocate]\nweights =\n", 2, "weights", NULL},

    /* Out of range. */
    {"host_threshold above 100", "[detect]\nhost_threshold = 100.5\n", 2, "host_threshold", NULL},
    {"host_threshold 101", "[detect]\nhost_threshold = 101\n", 2, "host_threshold", NULL},
    {"host_threshold negative", "[detect]\nhost_threshold = -1\n", 2, "host_threshold", NULL},
    {"host_threshold.disk 150", "[detect]\nhost_threshold.disk = 150\n", 2, "host_threshold.disk",
     NULL},
    {"vm_threshold_value 101", "[detect]\nvm_threshold_value = 101\n", 2, "vm_threshold_value",
     NULL},
    {"vm_threshold_value negative", "[detect]\nvm_threshold_value = -0.5\n", 2,
     "vm_threshold_value", NULL},
    {"vm_threshold_value.net negative", "[detect]\nvm_threshold_value.net = -1\n", 2,
     "vm_threshold_value.net", NULL},
    {"k negative", "[detect]\nvm_threshold_k = -1\n", 2, "vm_threshold_k", NULL},
    {"k slightly negative", "[detect]\nvm_threshold_k = -0.001\n", 2, "vm_threshold_k", NULL},
    {"min_vms 0", "[detect]\nmin_vms = 0\n", 2, "min_vms", NULL},
    {"min_vms negative", "[detect]\nmin_vms = -1\n", 2, "min_vms", NULL},
    {"min_vms not an integer", "[detect]\nmin_vms = 2.5\n", 2, "min_vms", NULL},
    {"min_vms overflows", "[detect]\nmin_vms = 99999999999999999999\n", 2, "min_vms", NULL},
    {"min_vms beyond 32 bits", "[detect]\nmin_vms = 4294967297\n", 2, "min_vms", NULL},
    {"capacity 0", "[host \"h\"]\ncapacity = 0\n", 2, "capacity", NULL},
    {"capacity negative", "[host \"h\"]\n\ncapacity = -1\n", 3, "capacity", NULL},
    {"host section threshold 101", "[host \"h\"]\nhost_threshold = 101\n", 2, "host_threshold",
     NULL},
    {"host section threshold.cpu negative", "[host \"h\"]\nhost_threshold.cpu = -5\n", 2,
     "host_threshold.cpu", NULL},

    /* Bad enum values. */
    {"combine = some", "[detect]\ncombine = some\n", 2, "combine", NULL},
    {"combine empty", "[detect]\ncombine =\n", 2, "combine", NULL},
    {"vm_threshold = dynamic", "[detect]\nvm_threshold = dynamic\n", 2, "vm_threshold", NULL},
    {"vm_select = random", "[relocate]\nvm_select = random\n", 2, "vm_select", NULL},
    {"dest_select = least_used", "[relocate]\ndest_select = least_used\n", 2, "dest_select", NULL},
    {"dest_select = most-used", "[relocate]\ndest_select = most-used\n", 2, "dest_select", NULL},
    {"prefer_busy_hosts = maybe", "[relocate]\nprefer_busy_hosts = maybe\n", 2, "prefer_busy_hosts",
     NULL},
    {"prefer_busy_hosts empty", "[relocate]\nprefer_busy_hosts =\n", 2, "prefer_busy_hosts", NULL},
    {"persistence K > N", "[relocate]\npersistence = 3/2\n", 2, "persistence", "K/N"},
    {"persistence 0/1", "[relocate]\npersistence = 0/1\n", 2, "persistence", "K/N"},
    {"persistence without N", "[relocate]\npersistence = 2\n", 2, "persistence", "K/N"},
    {"persistence N too large", "[relocate]\npersistence = 1/32\n", 2, "persistence", "31"},
    {"persistence signed", "[relocate]\npersistence = +1/2\n", 2, "persistence", NULL},
    {"persistence trailing", "[relocate]\npersistence = 1/2x\n", 2, "persistence", NULL},
    {"persistence fraction", "[relocate]\npersistence = 1.5/2\n", 2, "persistence", NULL},
    {"cooldown negative", "[relocate]\ncooldown = -1\n", 2, "cooldown", NULL},
    {"max_moves_per_vm 0", "[relocate]\nmax_moves_per_vm = 0\n", 2, "max_moves_per_vm", NULL},
    {"max_moves_per_vm 17", "[relocate]\nmax_moves_per_vm = 17\n", 2, "max_moves_per_vm", NULL},
    {"max_moves_per_vm 2.5", "[relocate]\nmax_moves_per_vm = 2.5\n", 2, "max_moves_per_vm", NULL},
    {"storm_window 0", "[relocate]\nstorm_window = 0\n", 2, "storm_window", NULL},
    {"storm_window negative", "[relocate]\nstorm_window = -5\n", 2, "storm_window", NULL},
    {"storm_window a word", "[relocate]\nstorm_window = hour\n", 2, "storm_window", NULL},
    {"max_migrations negative", "[relocate]\nmax_migrations = -1\n", 2, "max_migrations",
     "whole number"},
    {"max_migrations fraction", "[relocate]\nmax_migrations = 1.5\n", 2, "max_migrations", NULL},
    {"max_per_host huge", "[relocate]\nmax_per_host = 99999999999\n", 2, "max_per_host", NULL},
    {"max_per_host empty", "[relocate]\nmax_per_host =\n", 2, "max_per_host", NULL},
    {"mem_reserve_mib negative", "[relocate]\nmem_reserve_mib = -1\n", 2, "mem_reserve_mib", NULL},
    {"automation unknown", "[relocate]\nautomation = auto\n", 2, "automation", "manual"},
    {"consolidate_below over 100", "[relocate]\nconsolidate_below = 101\n", 2, "consolidate_below",
     NULL},
    {"rule type unknown", "[rule \"r\"]\ntype = near\nvms = a, b\n", 2, "type", "together"},
    {"rule strength unknown", "[rule \"r\"]\nstrength = maybe\n", 2, "strength", "must"},
    {"rule empty vm name", "[rule \"r\"]\nvms = a,,b\n", 2, "vms", "empty"},
    {"rule vm twice", "[rule \"r\"]\nvms = a, a\n", 2, "vms", "twice"},
    {"rule vm twice over two lines", "[rule \"r\"]\nvms = a\nvms = a\n", 3, "vms", "twice"},
    {"rule vm with a control character", "[rule \"r\"]\nvms = a\x01b\n", 2, "vms", "control"},
    {"rule vm with a right-to-left override",
     "[rule \"r\"]\nvms = a\xe2\x80\xae"
     "b\n",
     2, "vms", "bidirectional"},
    {"excluded host with a zero-width space",
     "[relocate]\nexclude_hosts = h\xe2\x80\x8b"
     "1\n",
     2, "exclude_hosts", "invisible"},
    {"rule name with a right-to-left override", "[rule \"r\xe2\x80\xae\"]\ntype = apart\n", 1,
     "rule", "bidirectional"},
    {"host name with a C1 control", "[host \"h\xc2\x85\"]\nmem_reserve_mib = 1\n", 1, "host",
     "control"},
    {"rule section without a name", "[rule]\ntype = apart\n", 1, "rule", NULL},
    {"rule unknown key", "[rule \"r\"]\nweight = 2\n", 2, "weight", NULL},
    {"exclude_hosts empty item", "[relocate]\nexclude_hosts = h1,\n", 2, "exclude_hosts", NULL},
    {"host mem_reserve_mib word", "[host \"h\"]\nmem_reserve_mib = lots\n", 2, "mem_reserve_mib",
     NULL},
    {"cooldown not a number", "[relocate]\ncooldown = soon\n", 2, "cooldown", NULL},
    {"cooldown over a year", "[relocate]\ncooldown = 40000000\n", 2, "cooldown", NULL},
    {"enum with a trailing word", "[detect]\ncombine = any all\n", 2, "combine", NULL},

    /* Bad numbers. */
    {"80abc", "[detect]\nhost_threshold = 80abc\n", 2, "host_threshold", NULL},
    {"empty number", "[detect]\nhost_threshold =\n", 2, "host_threshold", NULL},
    {"empty number, spaces", "[detect]\nhost_threshold =    \n", 2, "host_threshold", NULL},
    {"nan", "[detect]\nhost_threshold = nan\n", 2, "host_threshold", NULL},
    {"NaN", "[detect]\nvm_threshold_value = NaN\n", 2, "vm_threshold_value", NULL},
    {"inf", "[detect]\nhost_threshold = inf\n", 2, "host_threshold", NULL},
    {"-inf", "[detect]\nvm_threshold_k = -inf\n", 2, "vm_threshold_k", NULL},
    {"infinity k", "[detect]\nvm_threshold_k = infinity\n", 2, "vm_threshold_k", NULL},
    {"1e999", "[detect]\nvm_threshold_k = 1e999\n", 2, "vm_threshold_k", NULL},
    {"inf capacity", "[host \"h\"]\ncapacity = inf\n", 2, "capacity", NULL},
    {"nan capacity", "[host \"h\"]\ncapacity = nan\n", 2, "capacity", NULL},
    {"two numbers", "[detect]\nhost_threshold = 8 0\n", 2, "host_threshold", NULL},
    {"min_vms = abc", "[detect]\nmin_vms = abc\n", 2, "min_vms", NULL},
    {"min_vms empty", "[detect]\nmin_vms =\n", 2, "min_vms", NULL},
    {"min_vms 3x", "[detect]\nmin_vms = 3x\n", 2, "min_vms", NULL},

    /* Repeated keys. */
    {"min_vms twice", "[detect]\nmin_vms = 2\nmin_vms = 3\n", 3, "min_vms", NULL},
    {"host_threshold.disk twice",
     "[detect]\nhost_threshold.disk = 60\nhost_threshold = 70\nhost_threshold.disk = 60\n", 4,
     "host_threshold.disk", NULL},
    {"resources (a list of kinds) twice", "[detect]\nresources = cpu\nresources = disk\n", 3,
     "resources", "given twice"},
    {"exclude_hosts: a name again on a later line",
     "[relocate]\nexclude_hosts = a, b\nexclude_hosts = c, a\n", 3, "exclude_hosts", "twice"},
    {"weights twice", "[relocate]\nweights = cpu:1\n; again\nweights = disk:1\n", 4, "weights",
     NULL},
    {"capacity twice in a host section", "[host \"a\"]\ncapacity = 1\ncapacity = 2\n", 3,
     "capacity", NULL},
    {"host_threshold twice in a host section",
     "[host \"a\"]\nhost_threshold = 1\n[host \"b\"]\nhost_threshold = 1\n[host \"c\"]\n"
     "host_threshold.net = 1\nhost_threshold.net = 1\n",
     7, "host_threshold.net", NULL},

    /* Lines without '='. */
    {"a bare word", "[detect]\njust words\n", 2, NULL, NULL},
    {"a bare key", "[detect]\n\nmin_vms\n", 3, NULL, NULL},
    {"key and value without '='", "[detect]\nmin_vms 3\n", 2, NULL, NULL},
    {"colon instead of '='", "[detect]\nmin_vms: 3\n", 2, NULL, NULL},

    /* Over-long lines. */
    {"a line one byte too long", long_line, 2, "longer than 262144 bytes", NULL},
    {"an over-long value", long_value, 3, NULL, NULL},

    /* Line counting with CRLF, comments and blank lines. */
    {"CRLF line count", "[detect]\r\n\r\n; c\r\nmin_vms = 0\r\n", 4, "min_vms", NULL},
    {"error after a host section",
     "[detect]\nmin_vms = 2\n[host \"a\"]\ncapacity = 2\n[relocate]\nvm_select = best\n", 6,
     "vm_select", NULL},
};

static void
test_bad(void **state)
{
    const struct bad_case *bc = *state;
    struct policy pol;
    struct perr err;

    policy_init(&pol);
    memset(err.msg, 0, sizeof(err.msg));
    int r = config_parse_string(bc->text, SRC, &pol, &err);
    if (r != -EINVAL)
        fail_msg("%s: returned %d, want -EINVAL (%s)", bc->name, r, r == 0 ? "" : err.msg);
    if (!msg_is_one_clean_line(err.msg))
        fail_msg("%s: message empty or not one clean line: \"%s\"", bc->name, err.msg);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), SRC ":%d:", bc->line);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("%s: message does not start with \"%s\": %s", bc->name, prefix, err.msg);
    if (bc->want != NULL && strstr(err.msg + strlen(prefix), bc->want) == NULL)
        fail_msg("%s: message does not name \"%s\": %s", bc->name, bc->want, err.msg);
    if (bc->want2 != NULL && strstr(err.msg + strlen(prefix), bc->want2) == NULL)
        fail_msg("%s: message does not contain \"%s\": %s", bc->name, bc->want2, err.msg);
    policy_done(&pol); /* a partial policy is freed the usual way */
}

/* "[ detect ]": trimming the spaces and reading it as [detect] is fine, and so is an error;
 * but an error must name the header's line, not the line of a later key. */
static void
test_spaced_section_header(void **state)
{
    (void)state;
    struct policy pol;
    struct perr err;
    policy_init(&pol);
    int r = config_parse_string("[ detect ]\n\n; c\nmin_vms = 3\n", SRC, &pol, &err);
    if (r == 0) {
        if (pol.min_vms != 3)
            fail_msg("[ detect ] accepted but min_vms = %u", pol.min_vms);
    } else if (strncmp(err.msg, SRC ":1:", strlen(SRC ":1:")) != 0) {
        fail_msg("[ detect ] rejected on the wrong line: %s", err.msg);
    }
    policy_done(&pol);

    policy_init(&pol);
    r = config_parse_string("[ detect ]\n", SRC, &pol, &err);
    policy_done(&pol);
    int r2;
    policy_init(&pol);
    r2 = config_parse_string("[ detect ]\nmin_vms = 3\n", SRC, &pol, &err);
    policy_done(&pol);
    if ((r == 0) != (r2 == 0))
        fail_msg("[ detect ] is accepted alone (%d) but not with a key (%d), or the reverse", r,
                 r2);
}

static void
test_source_default(void **state)
{
    (void)state;
    struct policy pol;
    struct perr err;
    policy_init(&pol);
    assert_int_equal(config_parse_string("[detect]\nmin_vms = 0\n", NULL, &pol, &err), -EINVAL);
    if (strncmp(err.msg, "<config>:2:", 11) != 0)
        fail_msg("NULL source not named <config>: %s", err.msg);
    policy_done(&pol);
}

/* Parsing is pure: the same text gives the same policy, and a failed parse does not
 * affect the next one. */
static void
test_repeatable(void **state)
{
    (void)state;
    struct policy a, b;
    struct perr err;
    char why[256];
    policy_init(&a);
    assert_int_equal(
        config_parse_string(valid_cases[ARRAY_SIZE(valid_cases) - 1].text, SRC, &a, &err), 0);
    policy_init(&b);
    assert_int_equal(config_parse_string("[detect]\nmin_vms = x\n", SRC, &b, &err), -EINVAL);
    policy_done(&b);
    policy_init(&b);
    assert_int_equal(
        config_parse_string(valid_cases[ARRAY_SIZE(valid_cases) - 1].text, SRC, &b, &err), 0);
    if (!policy_equal(&a, &b, why, sizeof(why)))
        fail_msg("parsing twice differs: %s", why);
    policy_done(&a);
    policy_done(&b);
}

/* ---------------------------------------------------------------------------------------- */

static void
fill_long_lines(void)
{
    /* "min_vms = 17" padded with spaces and a comment to exactly POLICY_INI_MAX_LINE bytes. */
    static char line[POLICY_INI_MAX_LINE + 2];
    memset(line, ' ', sizeof(line));
    memcpy(line, "min_vms = 17", 12);
    line[40] = ';';
    memset(line + 41, 'c', POLICY_INI_MAX_LINE - 41);
    line[POLICY_INI_MAX_LINE] = '\0';
    snprintf(line_max, sizeof(line_max), "[detect]\n%s\n", line);

    /* The same with one more byte. */
    line[POLICY_INI_MAX_LINE] = 'c';
    line[POLICY_INI_MAX_LINE + 1] = '\0';
    snprintf(long_line, sizeof(long_line), "[detect]\n%s\n", line);

    size_t off = (size_t)snprintf(line_wide, sizeof(line_wide), "[relocate]\nexclude_hosts = ");
    for (int i = 0; i < N_WIDE; i++)
        off += (size_t)snprintf(line_wide + off, sizeof(line_wide) - off, "%sh%08d",
                                i > 0 ? ", " : "", i);
    snprintf(line_wide + off, sizeof(line_wide) - off, "\n");
    assert_true(off > 100 * 1024 && off < POLICY_INI_MAX_LINE);

    char big[900];
    memset(big, 'x', sizeof(big));
    big[0] = ';';
    snprintf(long_comment, sizeof(long_comment), "[detect]\n%.*s\nmin_vms = 2\n", 600, big);

    /* A line reader with a fixed buffer would see "min_vms = 1" as a line of its own. */
    memset(big, ' ', sizeof(big));
    memcpy(big, "combine = any", 13);
    big[20] = ';';
    memcpy(big + 400, "min_vms = 1", 11);
    snprintf(long_tail_key, sizeof(long_tail_key), "[detect]\n%.*s\n", 411, big);

    memset(big, 'a', sizeof(big));
    snprintf(long_value, sizeof(long_value), "[detect]\nmin_vms = 2\n[host \"%.*s\"]\n", 300, big);
}

static int
run_table(const char *group, void *rows, size_t row_size, size_t n,
          const char *(*row_name)(const void *row), void (*fn)(void **state))
{
    struct CMUnitTest *t = calloc(n, sizeof(*t));
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        void *row = (char *)rows + i * row_size;
        t[i].name = row_name(row);
        t[i].test_func = fn;
        t[i].initial_state = row;
    }
    int failed = _cmocka_run_group_tests(group, t, n, NULL, NULL);
    free(t);
    return failed;
}

static const char *
valid_name(const void *row)
{
    return ((const struct valid_case *)row)->name;
}

static const char *
bad_name(const void *row)
{
    return ((const struct bad_case *)row)->name;
}

int
main(void)
{
    fill_long_lines();
    int failed = 0;
    failed += run_table("policy_ini valid", valid_cases, sizeof(valid_cases[0]),
                        ARRAY_SIZE(valid_cases), valid_name, test_valid);
    failed += run_table("policy_ini bad", bad_cases, sizeof(bad_cases[0]), ARRAY_SIZE(bad_cases),
                        bad_name, test_bad);
    failed += run_table("policy_ini format round trip", valid_cases, sizeof(valid_cases[0]),
                        ARRAY_SIZE(valid_cases), valid_name, test_format_roundtrip);
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_format_built),          cmocka_unit_test(test_format_long_names),
        cmocka_unit_test(test_source_default),        cmocka_unit_test(test_repeatable),
        cmocka_unit_test(test_spaced_section_header),
    };
    failed += cmocka_run_group_tests_name("policy_ini misc", misc, NULL, NULL);
    return failed != 0 ? 1 : 0;
}
