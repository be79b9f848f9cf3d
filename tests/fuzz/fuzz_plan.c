/* libFuzzer target for the decision procedure with every operating rule in play: the input
 * is a policy config, a line "====", then a snapshot. Both are parsed (a bad one ends the
 * run); then plan_compute() runs with drains on and the caller's running migrations and
 * held VMs taken from the input's bytes, and plan_explain_vm() on every VM. The plan must
 * keep its own promises: no VM in two moves when a cooldown is set, no move to its own host, never
 * onto a host in maintenance or down, and no must rule broken by the placement the plan ends with;
 * any breach aborts, so the fuzzer reports it. Frees everything. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/plan.h"
#include "proto/perr.h"
#include "proto/policy_ini.h"
#include "proto/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP "\n====\n"

/* The host VM `v` is on after the plan's moves. */
static uint32_t
final_host(const struct cluster *cl, const struct plan *p, uint32_t v)
{
    uint32_t h = cl->vms[v].host;
    for (size_t i = 0; i < p->n_moves; i++) {
        if (p->moves[i].vm == v)
            h = p->moves[i].to;
    }
    return h;
}

/* Every must rule holds after the plan for the VMs the plan moved (rules already broken
 * before are not the plan's doing). */
static void
check_rules(const struct cluster *cl, const struct policy *pol, const struct plan *p)
{
    for (size_t i = 0; i < p->n_moves; i++) {
        uint32_t v = p->moves[i].vm;
        uint32_t at = final_host(cl, p, v);
        for (size_t r = 0; r < pol->n_rules; r++) {
            const struct placement_rule *pr = &pol->rules[r];
            if (!pr->must)
                continue;
            bool named = false;
            for (size_t j = 0; j < pr->n_vms && !named; j++)
                named = strcmp(pr->vms[j], cl->vms[v].name) == 0;
            if (!named)
                continue;
            if (pr->kind == RULE_ON || pr->kind == RULE_NOT_ON) {
                bool in = false;
                for (size_t j = 0; j < pr->n_hosts && !in; j++)
                    in = strcmp(pr->hosts[j], cl->hosts[at].name) == 0;
                if ((pr->kind == RULE_ON) != in)
                    abort();
                continue;
            }
            for (size_t u = 0; u < cl->n_vms; u++) {
                if (u == v)
                    continue;
                bool mate = false;
                for (size_t j = 0; j < pr->n_vms && !mate; j++)
                    mate = strcmp(pr->vms[j], cl->vms[u].name) == 0;
                if (!mate)
                    continue;
                bool same = final_host(cl, p, (uint32_t)u) == at;
                if (pr->kind == RULE_APART && same)
                    abort();
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 64 * 1024)
        return 0;
    const char *sep = NULL;
    for (size_t i = 0; i + strlen(SEP) <= size && sep == NULL; i++) {
        if (memcmp(data + i, SEP, strlen(SEP)) == 0)
            sep = (const char *)data + i;
    }
    if (sep == NULL)
        return 0;
    size_t clen = (size_t)(sep - (const char *)data);
    char *config = malloc(clen + 1);
    if (config == NULL)
        return 0;
    memcpy(config, data, clen);
    config[clen] = '\0';
    struct policy pol;
    policy_init(&pol);
    struct perr err;
    struct cluster cl;
    cluster_init(&cl);
    const uint8_t *snap = (const uint8_t *)sep + strlen(SEP);
    size_t slen = size - clen - strlen(SEP);
    if (strlen(config) != clen || config_parse_string(config, "fuzz.ini", &pol, &err) < 0 ||
        snapshot_decode(snap, slen, "fuzz.json", &cl, &err) < 0)
        goto out;
    /* The caller's side, from the first bytes: running migrations, and held VMs. */
    bool *busy = calloc(cl.n_hosts + 1, sizeof(*busy));
    if (busy == NULL)
        goto out;
    for (size_t i = 0; i < cl.n_vms; i++)
        cl.vms[i].held = (data[i % size] & 0x40u) != 0;
    for (size_t i = 0; i < cl.n_hosts; i++)
        busy[i] = (data[(i * 7) % size] & 0x20u) != 0;
    struct plan_opts o = {
        .no_dest = busy, .no_source = busy, .running = data[0] % 4, .drain = true};
    struct plan p;
    plan_init(&p);
    if (plan_compute(&cl, &pol, &o, &p) == 0) {
        bool *moved = calloc(cl.n_vms + 1, sizeof(*moved));
        for (size_t i = 0; moved != NULL && i < p.n_moves; i++) {
            const struct plan_move *mv = &p.moves[i];
            /* A VM may move twice in one plan (contract step 4) unless a cooldown is set. */
            if ((moved[mv->vm] && pol.cooldown_s > 0) || mv->from == mv->to ||
                cl.hosts[mv->to].state != HOST_UP || busy[mv->to] || cl.vms[mv->vm].pinned ||
                cl.vms[mv->vm].held)
                abort();
            moved[mv->vm] = true;
        }
        free(moved);
        if (pol.max_migrations > 0 && p.n_moves + o.running > pol.max_migrations && p.n_moves > 0)
            abort();
        check_rules(&cl, &pol, &p);
        plan_done(&p);
    }
    for (size_t v = 0; v < cl.n_vms && v < 16; v++) {
        struct vm_explain e;
        if (plan_explain_vm(&cl, &pol, &o, v, &e) == 0)
            vm_explain_done(&e);
    }
    free(busy);
out:
    cluster_done(&cl);
    policy_done(&pol);
    free(config);
    return 0;
}
