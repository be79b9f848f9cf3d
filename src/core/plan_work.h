/* The working state of one plan (plan.c), shared with the explanation of one VM
 * (plan_explain.c), which asks the same questions of the same state. Internal to src/core/. */
#ifndef VMLOC_CORE_PLAN_WORK_H
#define VMLOC_CORE_PLAN_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/destidx.h"
#include "core/detect.h"
#include "core/plan.h"

/* A VM's place after a planned move. Entries are never changed: a VM moved again gets a new
 * entry, and vm_loc[] points at its latest one. */
struct moved {
    uint32_t vm;
    uint32_t host;
    int32_t next_in; /* next entry moved into the same host, or -1 */
    double usage[KIND_COUNT];
};

struct work {
    const struct cluster *cl;
    const struct policy *pol;
    const struct plan_opts *opts;
    struct host_params *hp;      /* per host */
    double (*usage)[KIND_COUNT]; /* per host, current */
    uint32_t *vm_count;          /* per host, current */
    double *mem_used;            /* per host, current */
    int32_t *moved_head;         /* per host: newest moved-in entry, or -1 */
    int32_t *vm_loc;             /* per VM: its latest moved entry, or -1 (never moved) */
    uint32_t *moves_at;          /* per host: moves into or out of it in this plan */
    /* Placement rules and excluded hosts (built only when the policy has some). */
    bool *excluded;          /* per host, or NULL */
    uint32_t *vm_rule_off;   /* per VM + 1: its rules are vm_rules[off[v] .. off[v + 1]) */
    uint32_t *vm_rules;      /* rule indices */
    uint32_t *rule_vm_off;   /* per rule + 1: its VMs in this cluster */
    uint32_t *rule_vms;      /* VM indices */
    uint32_t *rule_host_off; /* per rule + 1: its hosts in this cluster */
    uint32_t *rule_hosts;    /* host indices */
    uint32_t last_rule_id;   /* place(): 1 + the rule that excluded the best host, 0: none */
    uint32_t last_rule_host;
    struct moved *moved;
    size_t n_moved;
    struct destidx idx;
};

/* Set up `w` for `cl` under `pol` and `opts`: the hosts' parameters and usage, the destination
 * index and the placement rules. 0 or -ENOMEM (then plan_work_done() is still safe). */
int plan_work_init(struct work *w, const struct cluster *cl, const struct policy *pol,
                   const struct plan_opts *opts);

/* The rules' and excluded hosts' tables of `w` (plan_rules.c), when the policy has any. 0 or
 * -ENOMEM. */
int plan_work_prepare_rules(struct work *w);

/* Room for the moves of up to `n_conflicts` conflicts. 0 or -ENOMEM. */
int plan_work_prepare_moves(struct work *w, size_t n_conflicts);

void plan_work_done(struct work *w);

/* Host `hi`'s leaf of the destination index as the working state stands. */
void plan_work_leaf(const struct work *w, size_t hi, struct destleaf *ret);

/* Does VM `v` have placement rules; does a must-together rule hold it on host `src`; is rule `r`
 * kept if VM `v` goes to host `d`. */
bool plan_work_has_rules(const struct work *w, uint32_t v);
bool plan_work_held_together(const struct work *w, uint32_t v, size_t src);
bool plan_work_rule_kept(const struct work *w, uint32_t r, uint32_t v, size_t d);

#endif
