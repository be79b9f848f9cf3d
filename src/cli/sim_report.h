/* The HTML report of `vmloc sim --report FILE.html`: one self-contained page (inline CSS
 * and SVG, no script, nothing fetched) with the metrics of each policy side by side and
 * charts over time of active hosts, energy, overloaded hosts and migrations. */
#ifndef VMLOC_CLI_SIM_REPORT_H
#define VMLOC_CLI_SIM_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/compiler.h"
#include "sim/sim.h"

/* One policy's run. */
struct sim_run {
    enum sim_policy policy;
    double param;
    /* vmloc: its anti-flapping settings; `variant` when --persistence or --cooldown gave
     * several (they are then part of its label). */
    uint32_t persist_k;
    uint32_t persist_n;
    double cooldown_s;
    bool variant;
    uint64_t seed;     /* the random selection's (rs) */
    bool show_seed;    /* several seeds were run: the seed is part of the label */
    const char *label; /* NULL: made from the policy (sim_run_label()); else this */
    struct sim_result res;
    /* Extra figures, when known (NAN: not): host-steps above their threshold. */
    double overloaded_host_steps;
};

/* The run as `vmloc sim --json` prints it: policy, hosts, vms, energy_kwh, migrations,
 * slatah, pdm, slav, esv, overall_sla_violation, host_shutdowns, simulated_s, wall_s (and
 * param, seed, persistence, cooldown_s where they apply, overloaded_host_steps when known,
 * the energy bound's bound_threshold, lower_bound_kwh, physical_bound_kwh and bound_ratio
 * when it was computed). A new object, NULL on OOM. */
json_t *sim_run_json(const struct sim_run *run);

/* Energy over the lower bound (NAN without a bound). */
double sim_run_bound_ratio(const struct sim_run *run);

/* "thr-mmt 0.8", "thr-rs 0.8 s3", "vmloc", "vmloc 2/3 1h", or the run's label. */
void sim_run_label(const struct sim_run *r, char *buf, size_t len);

/* Write the report for `runs` (`n` of them, over trace `trace`) to `path`.
 * 0; -errno when the file cannot be written. */
MUST_CHECK int sim_report_write(const char *path, const char *trace, const struct sim_run *runs,
                                size_t n);

#endif
