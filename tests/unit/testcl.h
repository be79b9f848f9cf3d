/* Building small clusters and plans in unit tests: one line per host or VM with its cpu
 * usage, and a plan computed (and checked to succeed) in one call. */
#ifndef VMLOC_TESTS_TESTCL_H
#define VMLOC_TESTS_TESTCL_H

#include <string.h>

#include "core/model.h"
#include "core/plan.h"
#include "core/policy.h"

/* Add host `name` using `cpu` percent; its index. VMs added next are its VMs. */
static inline size_t
tc_host(struct cluster *cl, const char *name, double cpu)
{
    size_t i = 0;
    assert_int_equal(cluster_add_host(cl, name, strlen(name), &i), 0);
    usage_set(&cl->hosts[i].usage, KIND_CPU, cpu);
    return i;
}

/* Add VM `name` to the last host added, using `cpu` percent; its index. */
static inline size_t
tc_vm(struct cluster *cl, const char *name, double cpu)
{
    size_t i = 0;
    assert_int_equal(cluster_add_vm(cl, name, strlen(name), &i), 0);
    usage_set(&cl->vms[i].usage, KIND_CPU, cpu);
    return i;
}

/* plan_init() and a plan_compute() that must succeed; plan_done() stays the caller's. */
static inline void
tc_plan(const struct cluster *cl, const struct policy *pol, const struct plan_opts *o,
        struct plan *p)
{
    plan_init(p);
    assert_int_equal(plan_compute(cl, pol, o, p), 0);
}

#endif
