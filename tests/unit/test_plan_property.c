/* Property tests of plan_compute() on random clusters and policies, from a seeded xorshift
 * generator (no rand(), no clock: every run draws the same cases):
 *  (a) differential: plan_compute() equals ref_plan_compute() (tests/unit/ref_plan.c, the
 *      spec read naively) on thousands of small clusters and on a few medium ones;
 *  (b) the plan depends on nothing but the documented order: renaming every host and VM
 *      (and the overrides with them) gives the same plan, and a second call the same again;
 *  (c) invariants on large clusters, checked by replaying the plan move by move.
 * On a mismatch the case is shrunk (hosts, VMs, options dropped while it still fails) and
 * printed with its seed as a policy text and C table rows that paste into test_plan.c. */
#include <math.h>
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

#include "core/detect.h"
#include "core/model.h"
#include "core/plan.h"
#include "core/policy.h"
#include "ref_plan.h"

/* Table rows give only the fields that matter to them; the rest are zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define GEN_MAX_VMS 6
/* Sized to keep the executable under 1 s with -O0 and ASan/UBSan. */
#define N_DIFF_SMALL 2000
#define N_DIFF_MEDIUM 40
#define N_RENAME 300
#define N_LARGE 2
#define LARGE_HOSTS 2000

static const char *const kind_names[KIND_COUNT] = {"cpu", "mem_bw", "disk", "net"};

/* ---- PRNG: xorshift64*, seeded through splitmix64 ------------------------------------ */

struct rng {
    uint64_t s;
};

static void
rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    r->s = z != 0 ? z : 1;
}

static uint64_t
rng_next(struct rng *r)
{
    uint64_t x = r->s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Uniform enough in [0, n). */
static uint32_t
rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)((rng_next(r) >> 11) % n);
}

static bool
rng_chance(struct rng *r, unsigned pct)
{
    return rng_below(r, 100) < pct;
}

#define PICK(r, a) ((a)[rng_below((r), (uint32_t)ARRAY_SIZE(a))])

/* ---- growable string ----------------------------------------------------------------- */

struct str {
    char *p;
    size_t len;
    size_t cap;
};

PRINTF_LIKE(2, 3)
static void
str_add(struct str *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (s->len + (size_t)n + 1 > s->cap) {
        size_t cap = (s->cap + (size_t)n + 1) * 2;
        char *p = realloc(s->p, cap);

        assert_non_null(p);
        s->p = p;
        s->cap = cap;
    }
    va_start(ap, fmt);
    (void)vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

static const char *
str_get(const struct str *s)
{
    return s->p != NULL ? s->p : "";
}

static void
str_done(struct str *s)
{
    free(s->p);
    memset(s, 0, sizeof(*s));
}

/* ---- a generated case: plain data, rebuilt into cluster + policy as needed ----------- */

struct gvm {
    double u[KIND_COUNT];
    uint8_t present;
    int64_t prio;
    bool pinned;
    bool has_mem;
    double mem;
};

struct ghost {
    double u[KIND_COUNT];
    uint8_t present;
    double cap;
    enum host_state state;
    bool has_mem;
    double mem;
    bool no_dest;
    bool no_source;
    size_t n_vms;
    struct gvm vms[GEN_MAX_VMS];
    /* [host] override */
    bool ovr;
    bool ovr_has_cap;
    double ovr_cap;
    bool ovr_has_all;
    double ovr_all;
    uint8_t ovr_kinds;
    double ovr_thr[KIND_COUNT];
};

struct gcase {
    uint64_t seed;
    struct policy base;  /* no overrides */
    bool stray_override; /* an override naming no host */
    bool use_opts;
    size_t n_hosts;
    struct ghost *hosts;
};

/* Powers of two only: usage * cap(source) / cap(dest) is then exact whatever the order of
 * the operations, so plans compare bit for bit (1.5 is covered in test_plan.c). */
static const double caps[] = {1, 1, 1, 1, 0.5, 2, 4, 0.25};
static const double host_thresholds[] = {0, 50, 60, 70, 75, 80, 80, 85, 90, 100};
static const double vm_values[] = {0, 5, 10, 15, 20, 20, 25, 30, 40};
static const double ks[] = {0, 0, 0, 1, 2.5, 5, 10};
static const double weights[] = {0, 0, 0.5, 1, 2, 3};
static const double prio_weights[] = {0, 0, 0.5, 1, 10};
static const double usage_pool[] = {0, 5, 10, 15, 20, 20, 21, 25, 30, 40, 45, 50, 60};
static const double host_pool[] = {0, 10, 30, 50, 60, 70, 75, 80, 80, 85, 90, 95, 100};
static const double mems[] = {0, 512, 1024, 2048, 4096, 8192, 16384};

static void
gen_policy(struct rng *r, struct policy *pol)
{
    enum kind order[KIND_COUNT] = {KIND_CPU, KIND_MEM_BW, KIND_DISK, KIND_NET};
    uint32_t n;

    policy_init(pol);
    for (uint32_t i = KIND_COUNT - 1; i > 0; i--) {
        uint32_t j = rng_below(r, i + 1);
        enum kind t = order[i];

        order[i] = order[j];
        order[j] = t;
    }
    n = rng_chance(r, 50) ? 1 : 1 + rng_below(r, KIND_COUNT);
    pol->n_resources = n;
    for (uint32_t i = 0; i < n; i++) {
        pol->resources[i] = order[i];
    }
    pol->combine = rng_chance(r, 50) ? COMBINE_ALL : COMBINE_ANY;
    for (int k = 0; k < KIND_COUNT; k++) {
        pol->host_threshold[k] = PICK(r, host_thresholds);
        pol->vm_threshold_value[k] = PICK(r, vm_values);
        pol->weights[k] = PICK(r, weights);
    }
    pol->vm_threshold = rng_chance(r, 50) ? VM_THRESHOLD_SHARE : VM_THRESHOLD_FIXED;
    pol->vm_threshold_k = PICK(r, ks);
    pol->min_vms = rng_chance(r, 60) ? 1 + rng_below(r, 2) : 1 + rng_below(r, 4);
    pol->vm_select = (enum vm_select)rng_below(r, 3);
    pol->vm_select_resource = (enum kind)rng_below(r, KIND_COUNT);
    pol->dest_select = (enum dest_select)rng_below(r, 3);
    pol->dest_select_resource = (enum kind)rng_below(r, KIND_COUNT);
    pol->prefer_busy_hosts = rng_chance(r, 50);
    pol->dest_headroom = rng_chance(r, 50);
    pol->weight_priority = PICK(r, prio_weights);
}

/* Usage of one kind for a VM: pool values (thresholds, ties) or any half percent. */
static double
gen_vm_usage(struct rng *r)
{
    if (rng_chance(r, 60)) {
        return PICK(r, usage_pool);
    }
    return (double)rng_below(r, 121) * 0.5;
}

static void
gen_host_usage(struct rng *r, struct ghost *h, int k)
{
    double sum = 0.0;
    double u;

    for (size_t j = 0; j < h->n_vms; j++) {
        sum += h->vms[j].u[k];
    }
    switch (rng_below(r, 4)) {
    case 0: /* measured on its own, near the VMs' sum */
        u = sum + (double)rng_below(r, 4) * 2.5 - 2.5;
        break;
    case 1: /* on a threshold or a round value */
        u = PICK(r, host_pool);
        break;
    case 2: /* N times a VM's usage: U / N lands exactly on it */
        u = h->n_vms > 0 ? (double)h->n_vms * h->vms[rng_below(r, (uint32_t)h->n_vms)].u[k] : 0;
        break;
    default:
        u = (double)rng_below(r, 201) * 0.5;
        break;
    }
    h->u[k] = u < 0 ? 0 : u > 100 ? 100 : u;
}

static void
gen_host(struct rng *r, struct ghost *h, uint32_t max_vms)
{
    bool all_pinned;

    memset(h, 0, sizeof(*h));
    h->state = rng_chance(r, 80) ? HOST_UP : rng_chance(r, 50) ? HOST_MAINTENANCE : HOST_DOWN;
    h->cap = PICK(r, caps);
    h->has_mem = rng_chance(r, 30);
    h->mem = PICK(r, mems);
    h->n_vms = rng_below(r, max_vms + 1);
    all_pinned = rng_chance(r, 8);
    for (size_t j = 0; j < h->n_vms; j++) {
        struct gvm *v = &h->vms[j];

        if (j > 0 && rng_chance(r, 15)) {
            *v = h->vms[j - 1]; /* an exact tie with the previous VM */
        } else {
            for (int k = 0; k < KIND_COUNT; k++) {
                if (k == KIND_CPU || rng_chance(r, 60)) {
                    v->u[k] = gen_vm_usage(r);
                    v->present = (uint8_t)(v->present | KIND_BIT(k));
                }
            }
            v->has_mem = rng_chance(r, 50);
            v->mem = PICK(r, mems) / 4;
        }
        v->prio = (int64_t)rng_below(r, 6) - 2;
        v->pinned = all_pinned || rng_chance(r, 15);
    }
    for (int k = 0; k < KIND_COUNT; k++) {
        if (k == KIND_CPU || rng_chance(r, 70)) {
            gen_host_usage(r, h, k);
            h->present = (uint8_t)(h->present | KIND_BIT(k));
        }
    }
    h->no_dest = rng_chance(r, 10);
    h->no_source = rng_chance(r, 10);
    if (rng_chance(r, 20)) {
        h->ovr = true;
        h->ovr_has_cap = rng_chance(r, 50);
        h->ovr_cap = PICK(r, caps);
        h->ovr_has_all = rng_chance(r, 40);
        h->ovr_all = PICK(r, host_thresholds);
        for (int k = 0; k < KIND_COUNT; k++) {
            if (rng_chance(r, 25)) {
                h->ovr_kinds = (uint8_t)(h->ovr_kinds | KIND_BIT(k));
                h->ovr_thr[k] = PICK(r, host_thresholds);
            }
        }
    }
}

static void
gen_case(uint64_t seed, size_t min_hosts, size_t max_hosts, struct gcase *g)
{
    struct rng r;

    rng_seed(&r, seed);
    memset(g, 0, sizeof(*g));
    g->seed = seed;
    gen_policy(&r, &g->base);
    g->n_hosts = min_hosts + rng_below(&r, (uint32_t)(max_hosts - min_hosts + 1));
    g->hosts = calloc(g->n_hosts + 1, sizeof(*g->hosts));
    assert_non_null(g->hosts);
    for (size_t i = 0; i < g->n_hosts; i++) {
        gen_host(&r, &g->hosts[i], GEN_MAX_VMS);
    }
    g->stray_override = rng_chance(&r, 20);
    g->use_opts = rng_chance(&r, 30);
}

static void
gcase_done(struct gcase *g)
{
    free(g->hosts);
    g->hosts = NULL;
}

/* Naming 0: "h3", "h3v1". Naming 1: other, differently sorted names of other lengths. */
static void
host_label(char *buf, size_t size, int naming, size_t i, size_t n_hosts)
{
    if (naming == 0) {
        (void)snprintf(buf, size, "h%zu", i);
    } else {
        (void)snprintf(buf, size, "%c-%zu", (int)('z' - (char)(i % 26)), (n_hosts - i) * 7919);
    }
}

static void
vm_label(char *buf, size_t size, int naming, size_t hi, size_t j, size_t vi)
{
    if (naming == 0) {
        (void)snprintf(buf, size, "h%zuv%zu", hi, j);
    } else {
        (void)snprintf(buf, size, "vm%zu", 1000000 - vi * 13);
    }
}

/* Build the cluster, the policy (policy_finish() done) and the opts arrays. */
static void
build_case(const struct gcase *g, int naming, struct cluster *cl, struct policy *pol, bool *no_dest,
           bool *no_source)
{
    char name[64];

    cluster_init(cl);
    *pol = g->base;
    pol->overrides = NULL;
    pol->n_overrides = 0;
    pol->cap_overrides = 0;
    for (size_t i = 0; i < g->n_hosts; i++) {
        const struct ghost *gh = &g->hosts[i];
        struct host *h;
        size_t hi = 0;

        host_label(name, sizeof(name), naming, i, g->n_hosts);
        assert_int_equal(cluster_add_host(cl, name, strlen(name), &hi), 0);
        h = &cl->hosts[hi];
        for (int k = 0; k < KIND_COUNT; k++) {
            if ((gh->present & KIND_BIT(k)) != 0) {
                usage_set(&h->usage, (enum kind)k, gh->u[k]);
            }
        }
        h->capacity = gh->cap;
        h->state = gh->state;
        h->has_mem = gh->has_mem;
        h->mem_mib = gh->mem;
        for (size_t j = 0; j < gh->n_vms; j++) {
            const struct gvm *gv = &gh->vms[j];
            struct vm *v;
            size_t vi = 0;

            vm_label(name, sizeof(name), naming, i, j, cl->n_vms);
            assert_int_equal(cluster_add_vm(cl, name, strlen(name), &vi), 0);
            v = &cl->vms[vi];
            for (int k = 0; k < KIND_COUNT; k++) {
                if ((gv->present & KIND_BIT(k)) != 0) {
                    usage_set(&v->usage, (enum kind)k, gv->u[k]);
                }
            }
            v->priority = gv->prio;
            v->pinned = gv->pinned;
            v->has_mem = gv->has_mem;
            v->mem_mib = gv->mem;
        }
        no_dest[i] = gh->no_dest;
        no_source[i] = gh->no_source;
        if (gh->ovr) {
            struct host_override *o = NULL;

            host_label(name, sizeof(name), naming, i, g->n_hosts);
            assert_int_equal(policy_override_get(pol, name, strlen(name), &o), 0);
            o->has_capacity = gh->ovr_has_cap;
            o->capacity = gh->ovr_cap;
            o->has_threshold_all = gh->ovr_has_all;
            o->host_threshold_all = gh->ovr_all;
            o->has_threshold = gh->ovr_kinds;
            memcpy(o->host_threshold, gh->ovr_thr, sizeof(o->host_threshold));
        }
    }
    if (g->stray_override) {
        struct host_override *o = NULL;
        const char *stray = naming == 0 ? "h-none" : "a-none";

        assert_int_equal(policy_override_get(pol, stray, strlen(stray), &o), 0);
        o->has_capacity = true;
        o->capacity = 0.125;
        o->has_threshold_all = true;
        o->host_threshold_all = 1;
    }
    policy_finish(pol);
}

/* ---- canonical text of a plan, by index (names play no part) ------------------------- */

static double
shown_score(const struct policy *pol, double score)
{
    /* The sign convention of a least-used score is not part of the contract. */
    return pol->dest_select == DEST_SELECT_LEAST_USED ? fabs(score) : score;
}

static void
add_conflict(struct str *s, const struct policy *pol, uint32_t host, uint8_t kinds,
             const double *host_thr, const double *vm_thr, const uint32_t *vms, size_t n)
{
    str_add(s, "C h%u kinds=%#x thr=[", host, kinds);
    for (size_t i = 0; i < pol->n_resources; i++) {
        enum kind k = pol->resources[i];

        str_add(s, "%s%s:%.17g/%.17g", i > 0 ? " " : "", kind_names[k], host_thr[k], vm_thr[k]);
    }
    str_add(s, "] vms=");
    for (size_t i = 0; i < n; i++) {
        str_add(s, "%sv%u", i > 0 ? "," : "", vms[i]);
    }
    str_add(s, "\n");
}

static void
add_move(struct str *s, const struct policy *pol, uint32_t vm, uint32_t from, uint32_t to,
         double score, const double *vu, const double *du)
{
    str_add(s, "M v%u h%u>h%u score=%.17g vu=[%.17g %.17g %.17g %.17g]", vm, from, to,
            shown_score(pol, score), vu[0], vu[1], vu[2], vu[3]);
    str_add(s, " du=[%.17g %.17g %.17g %.17g]\n", du[0], du[1], du[2], du[3]);
}

static const char *
reason_text(int reason)
{
    switch (reason) {
    case REF_REASON_NO_MOVABLE_VM:
        return "no-movable-vm";
    case REF_REASON_NO_DESTINATION:
        return "no-destination";
    case REF_REASON_SOURCE_BUSY:
        return "source-busy";
    default:
        return "?";
    }
}

static void
add_unresolved(struct str *s, uint32_t host, uint32_t vm, int reason)
{
    if (vm == UINT32_MAX) {
        str_add(s, "U h%u %s\n", host, reason_text(reason));
    } else {
        str_add(s, "U h%u %s v%u\n", host, reason_text(reason), vm);
    }
}

static void
format_plan(const struct policy *pol, const struct plan *p, struct str *s)
{
    for (size_t i = 0; i < p->n_conflicts; i++) {
        const struct plan_conflict *c = &p->conflicts[i];

        assert_true((size_t)c->vm_off + c->vm_count <= p->n_conflict_vms);
        add_conflict(s, pol, c->host, c->kinds, c->host_threshold, c->vm_threshold,
                     p->conflict_vms + c->vm_off, c->vm_count);
    }
    for (size_t i = 0; i < p->n_moves; i++) {
        const struct plan_move *m = &p->moves[i];

        add_move(s, pol, m->vm, m->from, m->to, m->score, m->vm_usage, m->dest_usage);
    }
    for (size_t i = 0; i < p->n_unresolved; i++) {
        const struct plan_unresolved *u = &p->unresolved[i];

        add_unresolved(s, u->host, u->vm, (int)u->reason);
    }
}

static void
format_ref(const struct policy *pol, const struct ref_plan *p, struct str *s)
{
    for (size_t i = 0; i < p->n_conflicts; i++) {
        const struct ref_conflict *c = &p->conflicts[i];

        add_conflict(s, pol, c->host, c->kinds, c->host_threshold, c->vm_threshold,
                     p->conflict_vms + c->vm_off, c->vm_count);
    }
    for (size_t i = 0; i < p->n_moves; i++) {
        const struct ref_move *m = &p->moves[i];

        add_move(s, pol, m->vm, m->from, m->to, m->score, m->vm_usage, m->dest_usage);
    }
    for (size_t i = 0; i < p->n_unresolved; i++) {
        const struct ref_unresolved *u = &p->unresolved[i];

        add_unresolved(s, u->host, u->vm, (int)u->reason);
    }
}

/* ---- a readable dump: policy text and table rows for test_plan.c --------------------- */

static void
dump_policy(const struct gcase *g, struct str *s)
{
    const struct policy *pol = &g->base;
    static const char *const sel[] = {"usage", "priority", "weighted"};
    static const char *const dst[] = {"free", "least-used", "weighted"};

    str_add(s, "     \"resources=");
    for (size_t i = 0; i < pol->n_resources; i++) {
        str_add(s, "%s%s", i > 0 ? "," : "", kind_names[pol->resources[i]]);
    }
    str_add(s, " combine=%s", pol->combine == COMBINE_ALL ? "all" : "any");
    for (int k = 0; k < KIND_COUNT; k++) {
        str_add(s, " host_threshold.%s=%g", kind_names[k], pol->host_threshold[k]);
    }
    str_add(s, " vm_threshold=%s", pol->vm_threshold == VM_THRESHOLD_SHARE ? "share" : "fixed");
    for (int k = 0; k < KIND_COUNT; k++) {
        str_add(s, " vm_threshold_value.%s=%g", kind_names[k], pol->vm_threshold_value[k]);
    }
    str_add(s, " vm_threshold_k=%g min_vms=%u", pol->vm_threshold_k, pol->min_vms);
    str_add(s, " vm_select=%s vm_select_resource=%s", sel[pol->vm_select],
            kind_names[pol->vm_select_resource]);
    str_add(s, " dest_select=%s dest_select_resource=%s", dst[pol->dest_select],
            kind_names[pol->dest_select_resource]);
    str_add(s, " prefer_busy_hosts=%s weights=", pol->prefer_busy_hosts ? "yes" : "no");
    for (int k = 0; k < KIND_COUNT; k++) {
        str_add(s, "%s:%g,", kind_names[k], pol->weights[k]);
    }
    str_add(s, "priority:%g", pol->weight_priority);
    for (size_t i = 0; i < g->n_hosts; i++) {
        const struct ghost *h = &g->hosts[i];

        if (h->ovr && h->ovr_has_cap) {
            str_add(s, " host:h%zu.capacity=%g", i, h->ovr_cap);
        }
        if (h->ovr && h->ovr_has_all) {
            str_add(s, " host:h%zu.host_threshold=%g", i, h->ovr_all);
        }
        for (int k = 0; h->ovr && k < KIND_COUNT; k++) {
            if ((h->ovr_kinds & KIND_BIT(k)) != 0) {
                str_add(s, " host:h%zu.host_threshold.%s=%g", i, kind_names[k], h->ovr_thr[k]);
            }
        }
    }
    if (g->stray_override) {
        str_add(s, " host:h-none.capacity=0.125 host:h-none.host_threshold=1");
    }
    str_add(s, "\",\n");
}

static void
dump_case(const struct gcase *g, struct str *s)
{
    static const char *const states[] = {"HOST_UP", "HOST_MAINTENANCE", "HOST_DOWN"};

    str_add(s, "    {\"seed %#llx\",\n", (unsigned long long)g->seed);
    dump_policy(g, s);
    str_add(s, "     {");
    for (size_t i = 0; i < g->n_hosts; i++) {
        const struct ghost *h = &g->hosts[i];

        str_add(s, "%s{\"h%zu\", {%g, %g, %g, %g}, %g, %s", i > 0 ? ",\n      " : "", i, h->u[0],
                h->u[1], h->u[2], h->u[3], h->cap, states[h->state]);
        if (h->has_mem) {
            str_add(s, ", MEM(%g)", h->mem);
        }
        str_add(s, "%s", h->n_vms > 0 ? ", .vms = {" : "");
        for (size_t j = 0; j < h->n_vms; j++) {
            const struct gvm *v = &h->vms[j];

            str_add(s, "%s{\"h%zuv%zu\", {%g, %g, %g, %g}, %lld, %s", j > 0 ? ", " : "", i, j,
                    v->u[0], v->u[1], v->u[2], v->u[3], (long long)v->prio,
                    v->pinned ? "true" : "false");
            if (v->has_mem) {
                str_add(s, ", MEM(%g)", v->mem);
            }
            str_add(s, "}");
        }
        str_add(s, "%s", h->n_vms > 0 ? "}}" : "}");
    }
    str_add(s, "%s},\n", g->n_hosts == 0 ? "{NULL}" : "");
    for (int pass = 0; pass < 2; pass++) {
        const char *sep = "\"";

        str_add(s, "     ");
        for (size_t i = 0; g->use_opts && i < g->n_hosts; i++) {
            if (pass == 0 ? g->hosts[i].no_dest : g->hosts[i].no_source) {
                str_add(s, "%sh%zu", sep, i);
                sep = " ";
            }
        }
        str_add(s, "%s, /* no_%s */\n", sep[0] == '"' ? "NULL" : "\"",
                pass == 0 ? "dest" : "source");
    }
    str_add(s, "     \"(expected)\"},\n");
}

/* ---- (a) differential ---------------------------------------------------------------- */

/* What the reference plans contained, to check that the generator reaches every rule. */
struct coverage {
    size_t conflicts;
    size_t moves;
    size_t reasons[4];
    size_t moved_twice;
};

static void
count_coverage(const struct ref_plan *rp, struct coverage *cov)
{
    cov->conflicts += rp->n_conflicts;
    cov->moves += rp->n_moves;
    for (size_t j = 0; j < rp->n_unresolved; j++) {
        cov->reasons[rp->unresolved[j].reason]++;
    }
    for (size_t j = 1; j < rp->n_moves; j++) {
        for (size_t k = 0; k < j; k++) {
            cov->moved_twice += rp->moves[j].vm == rp->moves[k].vm ? 1u : 0u;
        }
    }
}

/* Plan `g` both ways; 0 when equal, else 1 with both texts in *got and *want. `cov` may
 * be NULL. */
static int
compare_case(const struct gcase *g, struct str *got, struct str *want, struct coverage *cov)
{
    struct cluster cl;
    struct policy pol;
    struct plan p;
    struct ref_plan rp;
    struct plan_opts opts = {0};
    bool *no_dest = calloc(g->n_hosts + 1, sizeof(bool));
    bool *no_source = calloc(g->n_hosts + 1, sizeof(bool));
    int same;

    assert_non_null(no_dest);
    assert_non_null(no_source);
    build_case(g, 0, &cl, &pol, no_dest, no_source);
    opts.no_dest = g->use_opts ? no_dest : NULL;
    opts.no_source = g->use_opts ? no_source : NULL;
    opts.check = NULL;
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, &opts, &p), 0);
    assert_int_equal(ref_plan_compute(&cl, &pol, opts.no_dest, opts.no_source, &rp), 0);
    format_plan(&pol, &p, got);
    format_ref(&pol, &rp, want);
    same = strcmp(str_get(got), str_get(want)) == 0;
    if (cov != NULL) {
        count_coverage(&rp, cov);
    }
    ref_plan_done(&rp);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
    free(no_dest);
    free(no_source);
    return same ? 0 : 1;
}

static int
still_fails(const struct gcase *g)
{
    struct str a = {0};
    struct str b = {0};
    int bad = compare_case(g, &a, &b, NULL);

    str_done(&a);
    str_done(&b);
    return bad;
}

/* Drop hosts, VMs, overrides and flags while the mismatch stays. */
static void
shrink(struct gcase *g)
{
    bool changed = true;

    while (changed) {
        changed = false;
        for (size_t i = 0; i < g->n_hosts; i++) {
            struct ghost saved = g->hosts[i];

            memmove(&g->hosts[i], &g->hosts[i + 1], (g->n_hosts - i - 1) * sizeof(saved));
            g->n_hosts--;
            if (still_fails(g)) {
                changed = true;
                i--;
                continue;
            }
            memmove(&g->hosts[i + 1], &g->hosts[i], (g->n_hosts - i) * sizeof(saved));
            g->hosts[i] = saved;
            g->n_hosts++;
        }
        for (size_t i = 0; i < g->n_hosts; i++) {
            struct ghost *h = &g->hosts[i];

            for (size_t j = 0; j < h->n_vms; j++) {
                struct ghost saved = *h;

                memmove(&h->vms[j], &h->vms[j + 1], (h->n_vms - j - 1) * sizeof(h->vms[0]));
                h->n_vms--;
                if (still_fails(g)) {
                    changed = true;
                    j--;
                    continue;
                }
                *h = saved;
            }
            if (h->ovr) {
                h->ovr = false;
                if (still_fails(g)) {
                    changed = true;
                } else {
                    h->ovr = true;
                }
            }
        }
        if (g->stray_override) {
            g->stray_override = false;
            if (still_fails(g)) {
                changed = true;
            } else {
                g->stray_override = true;
            }
        }
        if (g->use_opts) {
            g->use_opts = false;
            if (still_fails(g)) {
                changed = true;
            } else {
                g->use_opts = true;
            }
        }
    }
}

/* print_message() has a short buffer: print a long text one line at a time. */
static void
print_long(const char *text)
{
    while (*text != '\0') {
        size_t len = strcspn(text, "\n");

        while (len > 0) {
            int n = len > 400 ? 400 : (int)len;

            print_message("%.*s%s", n, text, (size_t)n == len ? "\n" : "");
            text += n;
            len -= (size_t)n;
        }
        text += *text == '\n' ? 1 : 0;
    }
}

static void
report_mismatch(struct gcase *g)
{
    struct str got = {0};
    struct str want = {0};
    struct str dump = {0};

    shrink(g);
    (void)compare_case(g, &got, &want, NULL);
    dump_case(g, &dump);
    print_message("plan_compute() differs from ref_plan_compute(), seed %#llx (shrunk):\n",
                  (unsigned long long)g->seed);
    print_long(str_get(&dump));
    print_message("plan_compute:\n");
    print_long(str_get(&got));
    print_message("ref_plan:\n");
    print_long(str_get(&want));
    str_done(&got);
    str_done(&want);
    str_done(&dump);
}

static void
differential(uint64_t seed0, int n, size_t min_hosts, size_t max_hosts, struct coverage *cov)
{
    for (int i = 0; i < n; i++) {
        struct gcase g;
        struct str got = {0};
        struct str want = {0};
        int bad;

        gen_case(seed0 + (uint64_t)i, min_hosts, max_hosts, &g);
        bad = compare_case(&g, &got, &want, cov);
        str_done(&got);
        str_done(&want);
        if (bad) {
            report_mismatch(&g);
            gcase_done(&g);
            fail_msg("differential mismatch, seed %#llx", (unsigned long long)(seed0 + i));
        }
        gcase_done(&g);
    }
}

static void
test_differential_small(void **state)
{
    struct coverage cov = {0};

    (void)state;
    differential(0x5eed0000, N_DIFF_SMALL, 1, 12, &cov);
    /* The generator must reach every outcome, or agreement proves little. */
    print_message("differential: %d cases, %zu conflicts, %zu moves, %zu moved twice, "
                  "unresolved %zu no-movable-vm %zu no-destination %zu source-busy\n",
                  N_DIFF_SMALL, cov.conflicts, cov.moves, cov.moved_twice,
                  cov.reasons[REF_REASON_NO_MOVABLE_VM], cov.reasons[REF_REASON_NO_DESTINATION],
                  cov.reasons[REF_REASON_SOURCE_BUSY]);
    assert_true(cov.conflicts > N_DIFF_SMALL / 2);
    assert_true(cov.moves > N_DIFF_SMALL / 4);
    assert_true(cov.reasons[REF_REASON_NO_MOVABLE_VM] > 20);
    assert_true(cov.reasons[REF_REASON_NO_DESTINATION] > 20);
    assert_true(cov.reasons[REF_REASON_SOURCE_BUSY] > 20);
    assert_true(cov.moved_twice > 0);
}

static void
test_differential_medium(void **state)
{
    (void)state;
    differential(0x3ed10000, N_DIFF_MEDIUM, 40, 80, NULL);
}

/* The comparison itself can fail: a plan with one move redirected is not the reference. */
static void
test_differential_detects_a_difference(void **state)
{
    static const struct ghost h1 = {{90}, 1, 1, HOST_UP, .n_vms = 2, .vms = {{{40}, 1}, {{30}, 1}}};
    static const struct ghost h2 = {{10}, 1, 1, HOST_UP, .n_vms = 0};
    struct ghost hosts[3] = {h1, h2, h2};
    struct gcase g = {.n_hosts = 3, .hosts = hosts};
    struct cluster cl;
    struct policy pol;
    struct plan p;
    struct ref_plan rp;
    struct str a = {0};
    struct str b = {0};
    bool nd[3];
    bool ns[3];

    (void)state;
    policy_init(&g.base);
    build_case(&g, 0, &cl, &pol, nd, ns);
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(ref_plan_compute(&cl, &pol, NULL, NULL, &rp), 0);
    format_plan(&pol, &p, &a);
    format_ref(&pol, &rp, &b);
    assert_string_equal(str_get(&a), str_get(&b));
    assert_int_equal(rp.n_moves, 1);
    assert_int_equal(rp.moves[0].to, 1);
    rp.moves[0].to = 2;
    str_done(&b);
    format_ref(&pol, &rp, &b);
    assert_true(strcmp(str_get(&a), str_get(&b)) != 0);
    str_done(&a);
    str_done(&b);
    ref_plan_done(&rp);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* ---- (b) names are not tie-breakers; a second call gives the same plan --------------- */

static void
plan_text(const struct gcase *g, int naming, struct str *out)
{
    struct cluster cl;
    struct policy pol;
    struct plan p;
    struct plan_opts opts = {0};
    bool *no_dest = calloc(g->n_hosts + 1, sizeof(bool));
    bool *no_source = calloc(g->n_hosts + 1, sizeof(bool));

    assert_non_null(no_dest);
    assert_non_null(no_source);
    build_case(g, naming, &cl, &pol, no_dest, no_source);
    opts.no_dest = g->use_opts ? no_dest : NULL;
    opts.no_source = g->use_opts ? no_source : NULL;
    opts.check = NULL;
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, &opts, &p), 0);
    format_plan(&pol, &p, out);
    plan_done(&p);
    /* Second call on the same inputs. */
    assert_int_equal(plan_compute(&cl, &pol, &opts, &p), 0);
    str_add(out, "--\n");
    format_plan(&pol, &p, out);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
    free(no_dest);
    free(no_source);
}

static void
test_rename_and_repeat(void **state)
{
    (void)state;
    for (int i = 0; i < N_RENAME; i++) {
        struct gcase g;
        struct str a = {0};
        struct str b = {0};
        const char *sa;
        const char *sep;

        gen_case(0xa11a5000 + (uint64_t)i, 1, 12, &g);
        plan_text(&g, 0, &a);
        plan_text(&g, 1, &b);
        sa = str_get(&a);
        sep = strstr(sa, "--\n");
        assert_non_null(sep);
        if (strncmp(sa, sep + 3, (size_t)(sep - sa)) != 0 ||
            strlen(sep + 3) != (size_t)(sep - sa)) {
            print_message("seed %#llx: second call differs:\n", (unsigned long long)g.seed);
            print_long(sa);
            fail();
        }
        if (strcmp(sa, str_get(&b)) != 0) {
            struct str dump = {0};

            dump_case(&g, &dump);
            print_message("seed %#llx: renaming changed the plan\n", (unsigned long long)g.seed);
            print_long(str_get(&dump));
            print_message("names 0:\n");
            print_long(sa);
            print_message("names 1:\n");
            print_long(str_get(&b));
            str_done(&dump);
            fail();
        }
        str_done(&a);
        str_done(&b);
        gcase_done(&g);
    }
}

/* ---- (c) invariants on large clusters, by replay ------------------------------------- */

struct replay {
    const struct cluster *cl;
    const struct policy *pol;
    const bool *no_dest;
    const bool *no_source;
    double *cap;
    double (*hu)[KIND_COUNT];
    double (*vu)[KIND_COUNT];
    uint32_t *on;
    uint32_t *count;
    double *mem_used;
};

static double
vm_score(const struct replay *w, size_t v)
{
    const struct policy *pol = w->pol;
    double s = 0.0;

    switch (pol->vm_select) {
    case VM_SELECT_USAGE:
        return w->vu[v][pol->vm_select_resource];
    case VM_SELECT_PRIORITY:
        return (double)w->cl->vms[v].priority;
    case VM_SELECT_WEIGHTED:
        for (int k = 0; k < KIND_COUNT; k++) {
            s += pol->weights[k] * w->vu[v][k];
        }
        return s + pol->weight_priority * (double)w->cl->vms[v].priority;
    case VM_SELECT_WAIT: /* not drawn by random_policy() */
        return w->cl->vms[v].has_cpu_wait ? w->cl->vms[v].cpu_wait_pct : 0.0;
    }
    return s;
}

/* Higher is better for every mode (least-used negated). */
static double
host_score(const struct replay *w, size_t d)
{
    const struct policy *pol = w->pol;
    double s = 0.0;

    switch (pol->dest_select) {
    case DEST_SELECT_FREE:
        return (100.0 - w->hu[d][pol->dest_select_resource]) * w->cap[d];
    case DEST_SELECT_LEAST_USED:
        return -(w->hu[d][pol->dest_select_resource] * w->cap[d]);
    case DEST_SELECT_WEIGHTED:
        for (int k = 0; k < KIND_COUNT; k++) {
            s += pol->weights[k] * (100.0 - w->hu[d][k]) * w->cap[d];
        }
        return s;
    }
    return s;
}

static bool
eligible(const struct replay *w, size_t src, size_t d)
{
    return d != src && w->cl->hosts[d].state == HOST_UP && (w->no_dest == NULL || !w->no_dest[d]);
}

static bool
fits(const struct replay *w, size_t v, size_t src, size_t d)
{
    unsigned mask = policy_resource_mask(w->pol) | KIND_BIT(KIND_CPU);
    const struct host *h = &w->cl->hosts[d];
    const struct vm *vm = &w->cl->vms[v];
    struct host_params hp;

    policy_host_params(w->pol, h, &hp);
    for (int k = 0; k < KIND_COUNT; k++) {
        double limit = w->pol->dest_headroom ? hp.host_threshold[k] : 100.0;

        if ((mask & KIND_BIT(k)) != 0 &&
            !((limit - w->hu[d][k]) * w->cap[d] > w->vu[v][k] * w->cap[src])) {
            return false;
        }
    }
    return !h->has_mem || !vm->has_mem || h->mem_mib - w->mem_used[d] >= vm->mem_mib;
}

/* Whether a feasible eligible host other than `chosen` beats it (prefer_busy classes
 * included); `chosen` SIZE_MAX: whether any feasible eligible host exists at all. */
static bool
better_host_exists(const struct replay *w, size_t v, size_t src, size_t chosen)
{
    bool chosen_busy = chosen != SIZE_MAX && w->count[chosen] > 0;
    double cs = chosen != SIZE_MAX ? host_score(w, chosen) : 0.0;

    for (size_t d = 0; d < w->cl->n_hosts; d++) {
        if (d == chosen || !eligible(w, src, d) || !fits(w, v, src, d)) {
            continue;
        }
        if (chosen == SIZE_MAX) {
            return true;
        }
        if (w->pol->prefer_busy_hosts && (w->count[d] > 0) != chosen_busy) {
            if (w->count[d] > 0) {
                return true; /* an idle host was chosen over a feasible busy one */
            }
            continue;
        }
        if (host_score(w, d) > cs || (host_score(w, d) == cs && d < chosen)) {
            return true;
        }
    }
    return false;
}

static void
apply(struct replay *w, size_t v, size_t src, size_t d)
{
    for (int k = 0; k < KIND_COUNT; k++) {
        double moved = w->vu[v][k] * w->cap[src] / w->cap[d];

        w->hu[src][k] -= w->vu[v][k];
        if (w->hu[src][k] < 0.0) {
            w->hu[src][k] = 0.0;
        }
        w->hu[d][k] += moved;
        w->vu[v][k] = moved;
    }
    w->on[v] = (uint32_t)d;
    w->count[src]--;
    w->count[d]++;
    if (w->cl->vms[v].has_mem) {
        w->mem_used[src] -= w->cl->vms[v].mem_mib;
        w->mem_used[d] += w->cl->vms[v].mem_mib;
    }
}

static void
replay_init(struct replay *w, const struct cluster *cl, const struct policy *pol)
{
    w->cl = cl;
    w->pol = pol;
    w->cap = calloc(cl->n_hosts + 1, sizeof(*w->cap));
    w->hu = calloc(cl->n_hosts + 1, sizeof(*w->hu));
    w->vu = calloc(cl->n_vms + 1, sizeof(*w->vu));
    w->on = calloc(cl->n_vms + 1, sizeof(*w->on));
    w->count = calloc(cl->n_hosts + 1, sizeof(*w->count));
    w->mem_used = calloc(cl->n_hosts + 1, sizeof(*w->mem_used));
    assert_true(w->cap != NULL && w->hu != NULL && w->vu != NULL && w->on != NULL &&
                w->count != NULL && w->mem_used != NULL);
    for (size_t h = 0; h < cl->n_hosts; h++) {
        struct host_params hp;

        policy_host_params(pol, &cl->hosts[h], &hp);
        w->cap[h] = hp.capacity;
        memcpy(w->hu[h], cl->hosts[h].usage.pct, sizeof(w->hu[h]));
        w->count[h] = cl->hosts[h].vm_count;
    }
    for (size_t v = 0; v < cl->n_vms; v++) {
        memcpy(w->vu[v], cl->vms[v].usage.pct, sizeof(w->vu[v]));
        w->on[v] = cl->vms[v].host;
        if (cl->vms[v].has_mem) {
            w->mem_used[cl->vms[v].host] += cl->vms[v].mem_mib;
        }
    }
}

static void
replay_done(struct replay *w)
{
    free(w->cap);
    free(w->hu);
    free(w->vu);
    free(w->on);
    free(w->count);
    free(w->mem_used);
}

/* Conflicts are exactly the hosts detect_host() flags, in model order, with its VMs. */
static void
check_conflicts(const struct cluster *cl, const struct policy *pol, const struct plan *p)
{
    uint32_t *vms = calloc(GEN_MAX_VMS + 1, sizeof(*vms));
    size_t ci = 0;

    assert_non_null(vms);
    for (size_t h = 0; h < cl->n_hosts; h++) {
        struct host_params hp;
        struct detection d;
        size_t n = 0;

        policy_host_params(pol, &cl->hosts[h], &hp);
        detect_host(cl, pol, &hp, h, &d, vms, &n);
        if (!d.conflict) {
            assert_true(ci == p->n_conflicts || p->conflicts[ci].host != h);
            continue;
        }
        assert_true(ci < p->n_conflicts);
        assert_int_equal(p->conflicts[ci].host, h);
        assert_int_equal(p->conflicts[ci].kinds, d.kinds);
        assert_int_equal(p->conflicts[ci].vm_count, n);
        assert_memory_equal(p->conflict_vms + p->conflicts[ci].vm_off, vms, n * sizeof(*vms));
        ci++;
    }
    assert_int_equal(ci, p->n_conflicts);
    free(vms);
}

/* One conflicting host moved: the VM was on it, movable and a best choice; the destination
 * was eligible, feasible and a best choice; the VM was not moved before unless it landed
 * on this (later) conflicting host. */
static void
check_move(struct replay *w, const struct plan_move *m, uint32_t *last_from)
{
    const struct cluster *cl = w->cl;

    assert_true(m->vm < cl->n_vms && m->to < cl->n_hosts);
    assert_int_equal(w->on[m->vm], m->from);
    assert_false(cl->vms[m->vm].pinned);
    if (last_from[m->vm] != UINT32_MAX) {
        assert_true(last_from[m->vm] < m->from); /* moved again from a later host */
    }
    last_from[m->vm] = m->from;
    for (size_t v = 0; v < cl->n_vms; v++) {
        if (w->on[v] == m->from && !cl->vms[v].pinned) {
            assert_false(vm_score(w, v) > vm_score(w, m->vm));
        }
    }
    assert_true(eligible(w, m->from, m->to));
    assert_true(cl->hosts[m->to].state == HOST_UP);
    assert_true(fits(w, m->vm, m->from, m->to));
    assert_false(better_host_exists(w, m->vm, m->from, m->to));
    apply(w, m->vm, m->from, m->to);
}

static void
check_unresolved(const struct replay *w, const struct plan_unresolved *u)
{
    const struct cluster *cl = w->cl;
    bool movable = false;

    for (size_t v = 0; v < cl->n_vms; v++) {
        movable = movable || (w->on[v] == u->host && !cl->vms[v].pinned);
    }
    switch (u->reason) {
    case PLAN_REASON_SOURCE_BUSY:
        assert_true(w->no_source != NULL && w->no_source[u->host]);
        assert_int_equal(u->vm, UINT32_MAX);
        break;
    case PLAN_REASON_NO_MOVABLE_VM:
        assert_false(movable);
        assert_int_equal(u->vm, UINT32_MAX);
        break;
    case PLAN_REASON_NO_DESTINATION:
        assert_true(u->vm < cl->n_vms);
        assert_int_equal(w->on[u->vm], u->host);
        assert_false(cl->vms[u->vm].pinned);
        assert_false(better_host_exists(w, u->vm, u->host, SIZE_MAX));
        break;
    default:
        fail_msg("unknown reason %d", (int)u->reason);
    }
    if (u->reason != PLAN_REASON_SOURCE_BUSY) {
        assert_true(w->no_source == NULL || !w->no_source[u->host]);
    }
}

static void
check_invariants(const struct cluster *cl, const struct policy *pol, const struct plan_opts *o,
                 const struct plan *p)
{
    struct replay w;
    uint32_t *last_from = malloc((cl->n_vms + 1) * sizeof(*last_from));
    size_t mi = 0;
    size_t ui = 0;

    assert_non_null(last_from);
    memset(last_from, 0xff, (cl->n_vms + 1) * sizeof(*last_from));
    check_conflicts(cl, pol, p);
    replay_init(&w, cl, pol);
    w.no_dest = o->no_dest;
    w.no_source = o->no_source;
    /* Walk the conflicts in order: each host is exactly once in moves or in unresolved,
     * and both lists follow the order the hosts were handled in. */
    for (size_t ci = 0; ci < p->n_conflicts; ci++) {
        uint32_t h = p->conflicts[ci].host;
        bool moved = mi < p->n_moves && p->moves[mi].from == h;
        bool unresolved = ui < p->n_unresolved && p->unresolved[ui].host == h;

        assert_true(moved != unresolved);
        if (moved) {
            check_move(&w, &p->moves[mi++], last_from);
        } else {
            check_unresolved(&w, &p->unresolved[ui++]);
        }
    }
    assert_int_equal(mi, p->n_moves);
    assert_int_equal(ui, p->n_unresolved);
    replay_done(&w);
    free(last_from);
}

/* Large clusters with a policy that makes many conflicts: fixed thresholds low enough. */
/* opts.check: examining one conflicting host alone finds exactly that host's conflict (the
 * same kinds and VMs), and the first conflicting host's decision is the same as in the whole
 * plan (nothing was planned before it there either). Every host checked is no restriction. */
static void
test_check_one_host(void **state)
{
    size_t checked = 0;

    (void)state;
    for (int i = 0; i < 400; i++) {
        struct gcase g;
        struct cluster cl;
        struct policy pol;
        struct plan full;
        bool *no_dest = calloc(80 + 1, sizeof(bool));
        bool *no_source = calloc(80 + 1, sizeof(bool));
        bool *check = calloc(80 + 1, sizeof(bool));

        assert_non_null(no_dest);
        assert_non_null(no_source);
        assert_non_null(check);
        gen_case(0xc4ecc000 + (uint64_t)i, 1, 80, &g);
        build_case(&g, 0, &cl, &pol, no_dest, no_source);
        plan_init(&full);
        assert_int_equal(plan_compute(&cl, &pol, NULL, &full), 0);
        for (size_t c = 0; c < full.n_conflicts; c++) {
            const struct plan_conflict *fc = &full.conflicts[c];
            struct plan_opts o = {.check = check};
            struct plan one;

            memset(check, 0, cl.n_hosts * sizeof(bool));
            check[fc->host] = true;
            plan_init(&one);
            assert_int_equal(plan_compute(&cl, &pol, &o, &one), 0);
            assert_int_equal(one.n_conflicts, 1);
            assert_int_equal(one.conflicts[0].host, fc->host);
            assert_int_equal(one.conflicts[0].kinds, fc->kinds);
            assert_int_equal(one.conflicts[0].vm_count, fc->vm_count);
            assert_memory_equal(&one.conflict_vms[one.conflicts[0].vm_off],
                                &full.conflict_vms[fc->vm_off], fc->vm_count * sizeof(uint32_t));
            assert_int_equal(one.n_moves + one.n_unresolved, 1);
            if (c == 0) {
                assert_int_equal(one.n_moves, full.n_moves > 0 && full.moves[0].from == fc->host);
                if (one.n_moves == 1) {
                    assert_int_equal(one.moves[0].vm, full.moves[0].vm);
                    assert_int_equal(one.moves[0].to, full.moves[0].to);
                }
            }
            for (size_t k = 0; k < one.n_moves; k++)
                assert_int_equal(one.moves[k].from, fc->host);
            plan_done(&one);
            checked++;
        }
        {
            struct plan all;
            struct str a = {0};
            struct str b = {0};
            struct plan_opts o = {.check = check};

            for (size_t h = 0; h < cl.n_hosts; h++)
                check[h] = true;
            plan_init(&all);
            assert_int_equal(plan_compute(&cl, &pol, &o, &all), 0);
            format_plan(&pol, &full, &a);
            format_plan(&pol, &all, &b);
            assert_true(a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0));
            str_done(&a);
            str_done(&b);
            plan_done(&all);
        }
        plan_done(&full);
        policy_done(&pol);
        cluster_done(&cl);
        gcase_done(&g);
        free(no_dest);
        free(no_source);
        free(check);
    }
    print_message("check: %zu conflicts examined alone\n", checked);
    assert_true(checked > 100);
}

static void
gen_large(uint64_t seed, struct gcase *g)
{
    struct rng r;

    gen_case(seed, LARGE_HOSTS, LARGE_HOSTS, g);
    rng_seed(&r, seed ^ 0xfeedull);
    if (rng_chance(&r, 50)) {
        g->base.n_resources = 1;
        g->base.resources[0] = KIND_CPU;
        g->base.combine = COMBINE_ANY;
        g->base.host_threshold[KIND_CPU] = 70;
        g->base.min_vms = 2;
    }
    g->use_opts = true;
}

static void
test_invariants_large(void **state)
{
    size_t total_moves = 0;
    size_t total_conflicts = 0;

    (void)state;
    for (int i = 0; i < N_LARGE; i++) {
        struct gcase g;
        struct cluster cl;
        struct policy pol;
        struct plan p;
        struct plan_opts opts = {0};
        bool *no_dest = calloc(LARGE_HOSTS + 1, sizeof(bool));
        bool *no_source = calloc(LARGE_HOSTS + 1, sizeof(bool));
        struct str a = {0};
        struct str b = {0};

        assert_non_null(no_dest);
        assert_non_null(no_source);
        gen_large(0x1a96e000 + (uint64_t)i, &g);
        build_case(&g, 0, &cl, &pol, no_dest, no_source);
        opts.no_dest = no_dest;
        opts.no_source = no_source;
        opts.check = NULL;
        plan_init(&p);
        assert_int_equal(plan_compute(&cl, &pol, &opts, &p), 0);
        check_invariants(&cl, &pol, &opts, &p);
        total_moves += p.n_moves;
        total_conflicts += p.n_conflicts;
        /* And the same plan again. */
        format_plan(&pol, &p, &a);
        plan_done(&p);
        assert_int_equal(plan_compute(&cl, &pol, &opts, &p), 0);
        format_plan(&pol, &p, &b);
        assert_string_equal(str_get(&a), str_get(&b));
        str_done(&a);
        str_done(&b);
        plan_done(&p);
        policy_done(&pol);
        cluster_done(&cl);
        gcase_done(&g);
        free(no_dest);
        free(no_source);
    }
    print_message("large: %d clusters of %d hosts, %zu conflicts, %zu moves\n", N_LARGE,
                  LARGE_HOSTS, total_conflicts, total_moves);
    /* The generator must actually produce work, or the checks above prove nothing. */
    assert_true(total_conflicts > 100);
    assert_true(total_moves > 50);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_differential_detects_a_difference),
        cmocka_unit_test(test_differential_small),
        cmocka_unit_test(test_differential_medium),
        cmocka_unit_test(test_rename_and_repeat),
        cmocka_unit_test(test_invariants_large),
        cmocka_unit_test(test_check_one_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
