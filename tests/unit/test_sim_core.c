/* The simulator on traces built in memory:
 *  - a hand-computed case: one VM at a constant demand on a two-host data centre draws the
 *    energy the power table gives, from the first processing (300.1 s) to the last
 *    decision instant, with no migration and no violation, and the energy bound is that
 *    demand at the G5's watts per MIPS at 80 % (and at 100 %);
 *  - the bound's host type and threshold, between two tenths of the power table;
 *  - vmloc's policy gives the same results whether the core sees every host or only the
 *    busy part plus the idle hosts it could need (sim.c's vmloc_all_hosts), on random
 *    PlanetLab-like and Bitbrains-like traces under several settings;
 *  - with [detect] contention = confirm, vmloc moves no more VMs than with off, acts only
 *    on conflicts whose VMs wait (the simulator models the wait of over-subscribed hosts),
 *    and never on a conflict that nothing confirms;
 *  - every policy of the reference's matrix runs on a random trace with metrics in range and
 *    the physical bound below its energy, and a trace whose VMs do not
 *    fit reports -ENOSPC. */
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

#include "core/policy.h"
#include "sim/sim.h"
#include "sim/trace.h"

static uint64_t rng_state;

static uint64_t
rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static double
uniform(void)
{
    return (double)(rng() >> 11) / 9007199254740992.0;
}

/* A trace of `n_vms` VMs and `n_samples` samples, stored sample by sample. Demand is a
 * per-VM base with bursts; Bitbrains-like traces also get sizes, memory, disk and network.
 * Values are multiples of 1/100 so that runs are reproducible to the bit. */
static void
make_trace(struct trace *t, enum trace_format fmt, size_t n_vms, size_t n_samples,
           unsigned base_max)
{
    trace_init(t);
    t->format = fmt;
    t->n_vms = n_vms;
    t->n_samples = n_samples;
    size_t per = n_samples + 1;
    t->names = calloc(n_vms, sizeof(*t->names));
    t->cpu = calloc(n_vms * per, sizeof(double));
    assert_non_null(t->names);
    assert_non_null(t->cpu);
    if (fmt == TRACE_BITBRAINS) {
        t->cpu_mhz = calloc(n_vms, sizeof(double));
        t->cores = calloc(n_vms, sizeof(double));
        t->mem_cap_mib = calloc(n_vms, sizeof(double));
        t->mem_mib = calloc(n_vms * per, sizeof(double));
        t->disk_kbs = calloc(n_vms * per, sizeof(double));
        t->net_kbs = calloc(n_vms * per, sizeof(double));
        assert_non_null(t->net_kbs);
        for (size_t v = 0; v < n_vms; v++) {
            t->cores[v] = (double)(2 + rng() % 11);
            t->cpu_mhz[v] = t->cores[v] * 2600;
            t->mem_cap_mib[v] = (double)(1024 * (1 + rng() % 16));
        }
    }
    for (size_t v = 0; v < n_vms; v++) {
        double base = (double)(rng() % base_max);
        size_t burst_at = rng() % n_samples;
        for (size_t k = 0; k < n_samples; k++) {
            double pct = base + (double)(rng() % 10);
            if (k >= burst_at && k < burst_at + 4)
                pct += 50;
            if (pct > 99)
                pct = 99;
            t->cpu[k * n_vms + v] = pct / 100.0;
            if (fmt == TRACE_BITBRAINS) {
                t->mem_mib[k * n_vms + v] = t->mem_cap_mib[v] * (0.25 + uniform() / 2);
                /* Disk bursts of their own, so that disk alone can make a conflict. */
                bool disk_burst = k >= (burst_at + n_samples / 2) % n_samples &&
                                  k < (burst_at + n_samples / 2) % n_samples + 3;
                t->disk_kbs[k * n_vms + v] = (double)(rng() % 20000) + (disk_burst ? 60000 : 0);
                t->net_kbs[k * n_vms + v] = (double)(rng() % 30000);
            }
        }
        t->cpu[n_samples * n_vms + v] = t->cpu[(n_samples - 1) * n_vms + v];
        if (fmt == TRACE_BITBRAINS) {
            t->mem_mib[n_samples * n_vms + v] = t->mem_mib[(n_samples - 1) * n_vms + v];
            t->disk_kbs[n_samples * n_vms + v] = t->disk_kbs[(n_samples - 1) * n_vms + v];
            t->net_kbs[n_samples * n_vms + v] = t->net_kbs[(n_samples - 1) * n_vms + v];
        }
    }
}

static void
test_hand_computed_energy(void **state)
{
    (void)state;
    struct trace t;
    trace_init(&t);
    t.format = TRACE_PLANETLAB;
    t.n_vms = 1;
    t.n_samples = 288;
    t.names = calloc(1, sizeof(*t.names));
    t.cpu = calloc(289, sizeof(double));
    assert_non_null(t.cpu);
    for (size_t k = 0; k < 289; k++)
        t.cpu[k] = 0.5;
    /* One 2500-MIPS VM (the first quarter's type) fits only on the G5 host (cores of 2660
     * MIPS): 1250 of 5320 MIPS. */
    struct sim_config cfg = {.policy = SIM_NONE, .n_hosts = 2};
    struct sim_result res;
    assert_int_equal(sim_run(&t, &cfg, NULL, NULL, &res), 0);
    double u = 1250.0 / 5320.0;
    double watts = 101 + (105 - 101) / 10.0 * (u - 0.2) * 100;
    double seconds = 86100.1 - 300.1; /* first processing to the last decision instant */
    double kwh = watts * seconds / 3.6e6;
    assert_true(fabs(res.stats.energy_kwh - kwh) < 1e-9);
    assert_int_equal(res.stats.migrations, 0);
    assert_true(res.stats.slatah == 0);
    assert_true(res.stats.overall_sla_violation == 0);
    /* The G4 host was idle from the start: one shutdown, as the reference counts. */
    assert_int_equal(res.stats.host_shutdowns, 1);
    assert_int_equal(res.n_points, 287);
    /* The bound: 1250 MIPS on the most efficient type, the G5 (129 W at 80 % of 5320 MIPS,
     * against the G4's 112 W at 80 % of 3720, and either's lower tenths), over the same
     * time; at 100 %, the G5's 135 W for 5320 MIPS. */
    assert_true(res.bound_threshold == 0.8);
    double low = 1250 * 129 / (0.8 * 5320) * seconds / 3.6e6;
    double phys = 1250 * 135 / 5320.0 * seconds / 3.6e6;
    assert_true(fabs(res.lower_bound_kwh - low) < 1e-9);
    assert_true(fabs(res.physical_bound_kwh - phys) < 1e-9);
    assert_true(fabs(res.points[res.n_points - 1].bound_kwh - low) < 1e-9);
    assert_true(res.points[0].bound_kwh == 0);
    sim_result_done(&res);
    trace_done(&t);
}

static void
test_bound_efficiency(void **state)
{
    (void)state;
    const struct power_host_type *types[2] = {&power_hp_g4, &power_hp_g5};
    /* Between two tenths: the G5 at 45 % (113 W, halfway from 110 to 116) beats its 40 %
     * (110 W for 0.4 x 5320) and the G4 at 45 % (100.75 W for 0.45 x 3720). */
    double w = sim_bound_watts_per_mips(types, 2, 0.45);
    assert_true(fabs(w - 113 / (0.45 * 5320)) < 1e-15);
    assert_true(fabs(sim_bound_watts_per_mips(types, 1, 1.0) - 117 / 3720.0) < 1e-15);
    /* The bound's threshold: THR's own, vmloc's cpu threshold, 80 % for the others. */
    struct sim_config thr = {.policy = SIM_THR_MC, .param = 0.9};
    assert_true(sim_bound_threshold(&thr) == 0.9);
    thr.param = 1.2;
    assert_true(sim_bound_threshold(&thr) == 1.0);
    struct sim_config lr = {.policy = SIM_LRR_RS, .param = 1.2};
    assert_true(sim_bound_threshold(&lr) == 0.8);
    struct sim_vmloc v;
    sim_vmloc_defaults(&v);
    v.policy.host_threshold[KIND_CPU] = 70;
    struct sim_config vm = {.policy = SIM_VMLOC, .vmloc = &v};
    assert_true(fabs(sim_bound_threshold(&vm) - 0.7) < 1e-15);
    policy_done(&v.policy);
}

struct setting {
    const char *name;
    void (*apply)(struct sim_vmloc *v);
};

static void
set_default(struct sim_vmloc *v)
{
    (void)v;
}

static void
set_no_cooldown(struct sim_vmloc *v)
{
    v->cooldown_s = 0;
}

static void
set_no_headroom(struct sim_vmloc *v)
{
    v->policy.dest_headroom = false;
    v->cooldown_s = 0;
}

static void
set_multi(struct sim_vmloc *v)
{
    v->policy.resources[0] = KIND_CPU;
    v->policy.resources[1] = KIND_DISK;
    v->policy.resources[2] = KIND_NET;
    v->policy.n_resources = 3;
    v->cooldown_s = 0;
}

static void
set_memory(struct sim_vmloc *v)
{
    v->memory = true;
}

static void
set_persist(struct sim_vmloc *v)
{
    v->persist_k = 2;
    v->persist_n = 3;
    v->consolidate_below_pct = 45;
    v->consolidate_target_pct = 70;
}

static const struct setting settings[] = {
    {"default", set_default},         {"no cooldown", set_no_cooldown},
    {"no headroom", set_no_headroom}, {"cpu, disk, net", set_multi},
    {"memory", set_memory},           {"persistence 2/3", set_persist},
};

static void
test_busy_model_equals_full(void **state)
{
    (void)state;
    rng_state = 0x9e3779b97f4a7c15ull;
    size_t runs = 0, moved = 0;
    for (int round = 0; round < 6; round++) {
        for (int fmt = 0; fmt < 2; fmt++) {
            struct trace t;
            size_t n_vms = 20 + rng() % 60;
            /* Busy traces: conflicts that busy hosts cannot absorb, so idle hosts are
             * needed, in both rounds. */
            make_trace(&t, fmt == 0 ? TRACE_PLANETLAB : TRACE_BITBRAINS, n_vms, 48,
                       round % 2 == 0 ? 40 : 85);
            for (size_t s = 0; s < sizeof(settings) / sizeof(settings[0]); s++) {
                struct sim_vmloc v;
                sim_vmloc_defaults(&v);
                settings[s].apply(&v);
                policy_finish(&v.policy);
                struct sim_config cfg = {
                    .policy = SIM_VMLOC, .n_hosts = n_vms * (fmt == 0 ? 2 : 1), .vmloc = &v};
                struct sim_result a, b;
                assert_int_equal(sim_run(&t, &cfg, NULL, NULL, &a), 0);
                cfg.vmloc_all_hosts = true;
                assert_int_equal(sim_run(&t, &cfg, NULL, NULL, &b), 0);
                if (a.stats.migrations != b.stats.migrations ||
                    a.stats.energy_kwh != b.stats.energy_kwh || a.stats.slatah != b.stats.slatah ||
                    a.stats.pdm != b.stats.pdm)
                    fail_msg("%s, %s trace of %zu VMs: busy model %llu migrations %.9g kWh, full "
                             "model %llu migrations %.9g kWh",
                             settings[s].name, fmt == 0 ? "PlanetLab" : "Bitbrains", n_vms,
                             (unsigned long long)a.stats.migrations, a.stats.energy_kwh,
                             (unsigned long long)b.stats.migrations, b.stats.energy_kwh);
                moved += a.stats.migrations;
                runs++;
                sim_result_done(&a);
                sim_result_done(&b);
                policy_done(&v.policy);
            }
            trace_done(&t);
        }
    }
    /* The traces must make vmloc act, or the comparison proves nothing. */
    assert_true(moved > runs);
}

/* One vmloc run of `t` on `n_hosts` with vmloc's defaults and conflicts handled under
 * `contention`, with contention_wait `wait_pct`. */
static void
contention_run(const struct trace *t, size_t n_hosts, enum contention contention, double wait_pct,
               struct sim_result *ret)
{
    struct sim_vmloc v;
    sim_vmloc_defaults(&v);
    v.policy.contention = contention;
    v.policy.contention_wait_pct = wait_pct;
    policy_finish(&v.policy);
    struct sim_config cfg = {.policy = SIM_VMLOC, .n_hosts = n_hosts, .vmloc = &v};
    assert_int_equal(sim_run(t, &cfg, NULL, NULL, ret), 0);
    policy_done(&v.policy);
}

static void
test_contention_confirm(void **state)
{
    (void)state;
    rng_state = 0x2545f4914f6cdd1dull;
    uint64_t confirmed = 0;
    for (int round = 0; round < 4; round++) {
        struct trace t;
        size_t n_vms = 40 + rng() % 40;
        make_trace(&t, TRACE_PLANETLAB, n_vms, 48, 85);
        size_t n_hosts = n_vms * 2;
        struct sim_result off, confirm, never;
        contention_run(&t, n_hosts, CONTENTION_OFF, 5, &off);
        contention_run(&t, n_hosts, CONTENTION_CONFIRM, 5, &confirm);
        /* No VM can wait 100 %: every usage conflict stays unconfirmed. */
        contention_run(&t, n_hosts, CONTENTION_CONFIRM, 100, &never);
        print_message("%zu VMs: off %llu conflict host-steps, %llu of %llu migrations; confirm "
                      "%llu (%llu unconfirmed), %llu of %llu; confirm at 100 %% wait %llu (%llu "
                      "unconfirmed), %llu of %llu\n",
                      n_vms, (unsigned long long)off.conflict_host_steps,
                      (unsigned long long)off.conflict_migrations,
                      (unsigned long long)off.stats.migrations,
                      (unsigned long long)confirm.conflict_host_steps,
                      (unsigned long long)confirm.unconfirmed_host_steps,
                      (unsigned long long)confirm.conflict_migrations,
                      (unsigned long long)confirm.stats.migrations,
                      (unsigned long long)never.conflict_host_steps,
                      (unsigned long long)never.unconfirmed_host_steps,
                      (unsigned long long)never.conflict_migrations,
                      (unsigned long long)never.stats.migrations);
        /* Off: the patent's rule, nothing left unconfirmed. */
        assert_true(off.conflict_migrations > 0);
        assert_int_equal(off.unconfirmed_host_steps, 0);
        /* Confirm: some usage conflicts do not hurt and are not acted on. */
        assert_true(confirm.unconfirmed_host_steps > 0);
        assert_true(confirm.conflict_migrations <= off.conflict_migrations);
        assert_true(confirm.stats.migrations <= off.stats.migrations);
        /* Nothing confirms: no conflict at all, and no VM moved for one. */
        assert_true(never.unconfirmed_host_steps > 0);
        assert_int_equal(never.conflict_host_steps, 0);
        assert_int_equal(never.conflict_migrations, 0);
        confirmed += confirm.conflict_host_steps;
        sim_result_done(&off);
        sim_result_done(&confirm);
        sim_result_done(&never);
        trace_done(&t);
    }
    /* The simulator models the VMs' wait on over-subscribed hosts: some conflicts hurt. */
    assert_true(confirmed > 0);
}

static void
test_every_policy_in_range(void **state)
{
    (void)state;
    rng_state = 12345;
    struct trace t;
    make_trace(&t, TRACE_PLANETLAB, 40, 36, 40);
    for (int p = SIM_VMLOC; p < SIM_POLICY_COUNT; p++) {
        struct sim_config cfg = {.policy = (enum sim_policy)p,
                                 .param = sim_policy_default_param((enum sim_policy)p),
                                 .n_hosts = 60};
        struct sim_result res;
        assert_int_equal(sim_run(&t, &cfg, NULL, NULL, &res), 0);
        const struct dc_stats *s = &res.stats;
        assert_true(s->energy_kwh > 0);
        assert_true(s->slatah >= 0 && s->slatah <= 1);
        assert_true(s->pdm >= 0 && s->pdm <= 1);
        assert_true(s->overall_sla_violation >= 0 && s->overall_sla_violation <= 1);
        assert_true(fabs(s->slav - s->slatah * s->pdm) <= 1e-15);
        if (p == SIM_NONE)
            assert_int_equal(s->migrations, 0);
        else if (p != SIM_VMLOC)
            assert_true(s->migrations > 0);
        assert_int_equal(res.n_points, 35);
        assert_true(res.physical_bound_kwh > 0);
        assert_true(res.physical_bound_kwh <= res.lower_bound_kwh);
        assert_true(res.physical_bound_kwh < s->energy_kwh);
        sim_result_done(&res);
    }
    trace_done(&t);
}

static void
test_no_fit(void **state)
{
    (void)state;
    rng_state = 7;
    struct trace t;
    make_trace(&t, TRACE_PLANETLAB, 30, 12, 40);
    struct sim_config cfg = {.policy = SIM_THR_MMT, .param = 0.8, .n_hosts = 2};
    struct sim_result res;
    memset(&res, 0, sizeof(res));
    assert_int_equal(sim_run(&t, &cfg, NULL, NULL, &res), -ENOSPC);
    assert_null(res.points);
    trace_done(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed_energy),   cmocka_unit_test(test_bound_efficiency),
        cmocka_unit_test(test_busy_model_equals_full), cmocka_unit_test(test_contention_confirm),
        cmocka_unit_test(test_every_policy_in_range),  cmocka_unit_test(test_no_fit),
    };
    return cmocka_run_group_tests_name("sim core", tests, NULL, NULL);
}
