/* `vmloc sim --trace DIR [...]`: run one or several policies over a workload trace on a
 * simulated data centre and print the energy and SLA metrics of the consolidation
 * literature, as a table or JSON, and optionally an HTML report. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt_table.h"
#include "cli/sim_report.h"
#include "common/clock.h"
#include "core/model.h"
#include "proto/policy_ini.h"
#include "sim/sim.h"
#include "sim/trace.h"

#define MAX_POLICIES 64
#define MAX_SETTINGS 16

static void
sim_usage(FILE *f)
{
    (void)fprintf(
        f, "usage: vmloc sim --trace DIR [--format planetlab|bitbrains] [--policy NAME[,NAME...]]\n"
           "                 [--param X] [--config FILE] [--hosts N] [--json]\n"
           "                 [--persistence K/N,...] [--cooldown S,...] [--seed N,...]\n"
           "                 [--report FILE.html] [--quiet]\n\n"
           "Replay a VM workload trace on a simulated data centre and report energy, migrations\n"
           "and SLA violations, for vmloc's method and for the literature's reference policies.\n\n"
           "options:\n"
           "  -t, --trace DIR       folder with one trace file per VM\n"
           "  -f, --format FMT      planetlab (default: one CPU percentage per line, 288 lines)\n"
           "                        or bitbrains (GWA-T-12 ';'+TAB rows)\n"
           "  -p, --policy LIST     comma-separated: vmloc (default), none, or a reference policy\n"
           "                        DETECTOR-SELECTION: thr, iqr, mad, lr or lrr with mmt, mc,\n"
           "                        mu or rs (thr-mmt, lrr-mc, ...); NAME:X gives one policy\n"
           "                        its parameter (thr-mmt:0.8,thr-mmt:1.0)\n"
           "  -x, --param X         the reference detector's parameter (thr 0.8, iqr 1.5,\n"
           "                        mad 2.5, lr and lrr 1.2 by default)\n"
           "  -s, --seed LIST       seeds of the random selection (rs): each rs policy runs once\n"
           "                        per seed (default 1)\n"
           "  -c, --config FILE     vmloc's policy: [detect], [relocate] as for `vmloc plan`,\n"
           "                        plus [sim] (persistence, cooldown, consolidation)\n"
           "  -H, --hosts N         number of hosts (default 800, alternating HP G4 and G5;\n"
           "                        Bitbrains: 200 IBM x3550 M3)\n"
           "  -P, --persistence LIST  run vmloc once per K/N (1/1,2/3,3/5): the anti-flapping\n"
           "                        trade-off, side by side (the report draws it)\n"
           "  -C, --cooldown LIST   run vmloc once per cooldown in seconds (0,3600), combined\n"
           "                        with each --persistence\n"
           "  -j, --json            print JSON: one object, or an array for several policies\n"
           "  -r, --report FILE     write a self-contained HTML page with charts\n"
           "  -q, --quiet           no progress on a terminal\n"
           "  -h, --help            show this help\n\n"
           "Exit status: 0 success, 1 the run failed, 2 bad arguments, trace or config.\n"
           "See docs/sim.md for the model, the metrics and vmloc's settings.\n");
}

static int
set_persistence(void *target, const char *v, char *why, size_t len)
{
    struct sim_vmloc *s = target;
    if (config_parse_persistence(v, &s->persist_k, &s->persist_n) < 0) {
        (void)snprintf(why, len, "must be K/N with whole numbers 1 <= K <= N <= 31, e.g. 2/3");
        return -EINVAL;
    }
    s->persist_set = true;
    return 0;
}

#define SV(member) SETTING_FIELD(struct sim_vmloc, member)

/* The [sim] section: the simulator's own settings for vmloc's policy (docs/sim.md). */
static const struct opt_def sim_defs[] = {
    {.key = "persistence", .setter = set_persistence},
    {.key = "cooldown",
     .set = {SETTING_NUMBER(SV(cooldown_s), 0, 86400 * 365.0, "must be seconds, 0 or more"),
             SETTING_FLAG(struct sim_vmloc, cooldown_set)}},
    {.key = "consolidate_below",
     .set = {SETTING_NUMBER(SV(consolidate_below_pct), 0, 100,
                            "must be between 0 and 100 (0: off)"),
             SETTING_FLAG(struct sim_vmloc, consolidate_set)}},
    {.key = "consolidate_target",
     .set = {SETTING_NUMBER(SV(consolidate_target_pct), 1, 100, "must be between 1 and 100"),
             SETTING_FLAG(struct sim_vmloc, consolidate_set)}},
    {.key = "memory", .set = {SETTING_BOOL, SV(memory), .why = "must be yes or no"}},
    {.key = "consolidate_efficient",
     .set = {SETTING_BOOL, SV(consolidate_efficient), .why = "must be yes or no"}},
    {.key = "peak_window",
     .set = {SETTING_WHOLE(SV(peak_window), 0, 288, "must be a whole number of steps, 0 to 288")}},
};

static const struct opt_table sim_tables[] = {
    {"sim", sim_defs, ARRAY_SIZE(sim_defs), 0, NULL, NULL},
};

static const struct opt_cmd sim_cmd = {"sim", sim_tables, ARRAY_SIZE(sim_tables), "", ""};

static int
load_config(const char *path, struct sim_vmloc *v)
{
    /* The parser sets cooldown only when the key is given: a negative value left here tells
     * that [relocate] said nothing, and the simulator keeps its own default. */
    v->policy.cooldown_s = -1.0;
    int r = opt_config_load(&sim_cmd, v, path, &v->policy, NULL);
    if (r != CLI_EXIT_OK)
        return r;
    if (v->policy.automation != AUTOMATION_AUTOMATIC) {
        cli_error("%s: [relocate] automation = %s: the simulator carries out every decision "
                  "(there is no operator to apply them); use automatic",
                  path, automation_name(v->policy.automation));
        return CLI_EXIT_USAGE;
    }
    /* [relocate] persistence and cooldown are the running system's; the simulator takes them
     * too, unless [sim] gives its own. */
    if (!v->persist_set && (v->policy.persist_k != 1 || v->policy.persist_n != 1)) {
        v->persist_k = v->policy.persist_k;
        v->persist_n = v->policy.persist_n;
    }
    if (v->policy.cooldown_s < 0) {
        struct policy defaults;
        policy_init(&defaults);
        v->policy.cooldown_s = defaults.cooldown_s;
    } else if (!v->cooldown_set) {
        v->cooldown_s = v->policy.cooldown_s;
    }
    if (!v->consolidate_set && v->policy.consolidate_below > 0) {
        v->consolidate_below_pct = v->policy.consolidate_below;
        v->consolidate_target_pct = v->policy.consolidate_target;
    }
    if (v->consolidate_below_pct > 0 && v->consolidate_below_pct >= v->consolidate_target_pct) {
        cli_error("%s: [sim] consolidate_below must be below consolidate_target", path);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

struct progress_ctx {
    const char *label;
    size_t last;
};

static void
progress(void *ctx, size_t step, size_t n_steps)
{
    struct progress_ctx *p = ctx;
    if (step != n_steps && step - p->last < 8)
        return;
    p->last = step;
    (void)fprintf(stderr, "\rvmloc sim: %-14s step %zu/%zu", p->label, step, n_steps);
    if (step == n_steps)
        (void)fprintf(stderr, "\r%60s\r", "");
    (void)fflush(stderr);
}

static void
print_table(const struct sim_run *runs, size_t n, const char *trace)
{
    (void)printf("trace %s: %zu VMs on %zu hosts\n\n", trace, runs[0].res.n_vms,
                 runs[0].res.n_hosts);
    (void)printf("%-18s %11s %9s %7s %10s %9s %9s %10s %10s %9s %9s %8s\n", "policy", "energy kWh",
                 "bound kWh", "E/bound", "migrations", "SLATAH %", "PDM %", "SLAV", "ESV",
                 "SLA viol%", "shutdowns", "time s");
    for (size_t i = 0; i < n; i++) {
        const struct dc_stats *s = &runs[i].res.stats;
        char label[32];
        sim_run_label(&runs[i], label, sizeof(label));
        (void)printf("%-18s %11.2f %9.2f %7.3f %10llu %9.3f %9.4f %10.3e %10.3e %9.3f %9llu "
                     "%8.2f\n",
                     label, s->energy_kwh, runs[i].res.lower_bound_kwh,
                     sim_run_bound_ratio(&runs[i]), (unsigned long long)s->migrations,
                     s->slatah * 100, s->pdm * 100, s->slav, s->esv, s->overall_sla_violation * 100,
                     (unsigned long long)s->host_shutdowns, runs[i].res.wall_s);
    }
    (void)printf("\nbound: the demand served on the most efficient host type loaded to the "
                 "policy's threshold (docs/sim.md); at 100 %%: %.2f kWh\n",
                 runs[0].res.physical_bound_kwh);
}

/* --persistence K/N,... (`persist`) or --cooldown S,... into the arrays; -EINVAL after the
 * message. */
static int
parse_settings(const char *arg, bool persist, uint32_t *k, uint32_t *n, double *cool, size_t *ret_n)
{
    const char *opt = persist ? "--persistence" : "--cooldown";
    char buf[512];
    if (strlen(arg) >= sizeof(buf)) {
        cli_error("sim: %s: list too long", opt);
        return -EINVAL;
    }
    (void)snprintf(buf, sizeof(buf), "%s", arg);
    size_t count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (count == MAX_SETTINGS) {
            cli_error("sim: %s: at most %d values", opt, MAX_SETTINGS);
            return -EINVAL;
        }
        if (persist && config_parse_persistence(tok, &k[count], &n[count]) < 0) {
            cli_error("sim: --persistence: '%s' must be K/N with whole numbers 1 <= K <= N <= "
                      "31",
                      tok);
            return -EINVAL;
        }
        if (!persist && cli_parse_num(tok, 0, 86400.0 * 365, &cool[count]) < 0) {
            cli_error("sim: --cooldown: '%s' must be seconds from 0 to a year", tok);
            return -EINVAL;
        }
        count++;
    }
    if (count == 0) {
        cli_error("sim: %s: no value given", opt);
        return -EINVAL;
    }
    *ret_n = count;
    return 0;
}

/* --seed N,... into `seeds`; -EINVAL after the message. */
static int
parse_seeds(const char *arg, uint64_t *seeds, size_t *ret_n)
{
    char buf[512];
    if (strlen(arg) >= sizeof(buf)) {
        cli_error("sim: --seed: list too long");
        return -EINVAL;
    }
    (void)snprintf(buf, sizeof(buf), "%s", arg);
    size_t count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (count == MAX_SETTINGS) {
            cli_error("sim: --seed: at most %d values", MAX_SETTINGS);
            return -EINVAL;
        }
        if (cli_parse_num(tok, 0, 4294967295.0, &v) < 0 || v != floor(v)) {
            cli_error("sim: --seed: '%s' must be a whole number from 0 to 4294967295", tok);
            return -EINVAL;
        }
        seeds[count++] = (uint64_t)v;
    }
    if (count == 0) {
        cli_error("sim: --seed: no value given");
        return -EINVAL;
    }
    *ret_n = count;
    return 0;
}

static int
parse_policies(char *list, struct sim_run *runs, size_t *ret_n)
{
    size_t n = 0;
    char *tok = list;
    while (tok != NULL && *tok != '\0') {
        char *comma = strchr(tok, ',');
        if (comma != NULL)
            *comma = '\0';
        if (n == MAX_POLICIES) {
            cli_error("sim: at most %d policies at once", MAX_POLICIES);
            return -EINVAL;
        }
        /* NAME or NAME:PARAM */
        char *colon = strchr(tok, ':');
        if (colon != NULL)
            *colon = '\0';
        if (sim_policy_parse(tok, &runs[n].policy) < 0) {
            cli_error("sim: --policy: unknown policy '%s' (vmloc, none, or DETECTOR-SELECTION "
                      "with thr, iqr, mad, lr or lrr and mmt, mc, mu or rs, e.g. thr-mmt)",
                      tok);
            return -EINVAL;
        }
        runs[n].param = NAN;
        if (colon != NULL) {
            bool takes = sim_policy_is_reference(runs[n].policy);
            if (!takes || cli_parse_num(colon + 1, 0, 100, &runs[n].param) < 0) {
                cli_error("sim: --policy: '%s:%s': %s", tok, colon + 1,
                          takes ? "the parameter must be a number between 0 and 100"
                                : "this policy takes no parameter");
                return -EINVAL;
            }
        }
        n++;
        tok = comma != NULL ? comma + 1 : NULL;
    }
    if (n == 0) {
        cli_error("sim: --policy: no policy given");
        return -EINVAL;
    }
    *ret_n = n;
    return 0;
}

/* What `vmloc sim` was asked. */
struct sim_args {
    uint32_t pk[MAX_SETTINGS];
    uint32_t pn[MAX_SETTINGS];
    double cool[MAX_SETTINGS];
    uint64_t seeds[MAX_SETTINGS];
    size_t n_persist;
    size_t n_cool;
    size_t n_seeds;
    const char *trace_dir;
    const char *conf_path;
    const char *report;
    char policy_buf[256];
    enum trace_format fmt;
    double param;
    double hosts;
    bool json;
    bool quiet;
};

/* One option of `vmloc sim` into `a`: -1 when it was taken, else the command's exit status. */
static int
sim_option(int c, struct sim_args *a, char **argv)
{
    switch (c) {
    case 't':
        a->trace_dir = optarg;
        break;
    case 'f':
        if (trace_format_parse(optarg, &a->fmt) < 0) {
            cli_error("sim: --format: must be planetlab or bitbrains, not '%s'", optarg);
            return CLI_EXIT_USAGE;
        }
        break;
    case 'p':
        if (strlen(optarg) >= sizeof(a->policy_buf)) {
            cli_error("sim: --policy: list too long");
            return CLI_EXIT_USAGE;
        }
        (void)snprintf(a->policy_buf, sizeof(a->policy_buf), "%s", optarg);
        break;
    case 'x':
        if (cli_parse_num(optarg, 0, 100, &a->param) < 0) {
            cli_error("sim: --param: must be a number between 0 and 100, not '%s'", optarg);
            return CLI_EXIT_USAGE;
        }
        break;
    case 'c':
        a->conf_path = optarg;
        break;
    case 'H':
        if (cli_parse_num(optarg, 1, MODEL_MAX_HOSTS, &a->hosts) < 0 ||
            a->hosts != floor(a->hosts)) {
            cli_error("sim: --hosts: must be a whole number from 1 to %u, not '%s'",
                      MODEL_MAX_HOSTS, optarg);
            return CLI_EXIT_USAGE;
        }
        break;
    case 'P':
        if (parse_settings(optarg, true, a->pk, a->pn, NULL, &a->n_persist) < 0)
            return CLI_EXIT_USAGE;
        break;
    case 'C':
        if (parse_settings(optarg, false, NULL, NULL, a->cool, &a->n_cool) < 0)
            return CLI_EXIT_USAGE;
        break;
    case 's':
        if (parse_seeds(optarg, a->seeds, &a->n_seeds) < 0)
            return CLI_EXIT_USAGE;
        break;
    case 'j':
        a->json = true;
        break;
    case 'r':
        a->report = optarg;
        break;
    case 'q':
        a->quiet = true;
        break;
    case 'h':
        sim_usage(stdout);
        return CLI_EXIT_OK;
    case ':':
        return cli_missing_value("sim", argv);
    default:
        return cli_unknown_option("sim", argv, ":t:f:p:x:c:H:P:C:s:jr:qh");
    }
    return -1;
}

/* The command line into `a`: -1 to go on, else the command's exit status. */
static int
sim_parse_args(int argc, char **argv, struct sim_args *a)
{
    static const struct option opts[] = {
        {"trace", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'f'},
        {"policy", required_argument, NULL, 'p'},
        {"param", required_argument, NULL, 'x'},
        {"config", required_argument, NULL, 'c'},
        {"hosts", required_argument, NULL, 'H'},
        {"persistence", required_argument, NULL, 'P'},
        {"cooldown", required_argument, NULL, 'C'},
        {"seed", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"report", required_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    (void)snprintf(a->policy_buf, sizeof(a->policy_buf), "vmloc");
    a->fmt = TRACE_PLANETLAB;
    a->param = NAN;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":t:f:p:x:c:H:P:C:s:jr:qh", opts, NULL)) != -1) {
        int r = sim_option(c, a, argv);
        if (r >= 0)
            return r;
    }
    if (optind < argc) {
        cli_error("sim: unexpected argument '%s' (see vmloc sim --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (a->trace_dir == NULL) {
        cli_error("sim: --trace DIR is required (see vmloc sim --help)");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Each random policy once per seed of --seed (with the default seed when none is given). 0 or
 * CLI_EXIT_USAGE (too many runs). */
static int
expand_seeds(const struct sim_args *a, struct sim_run *runs, size_t *n_runs)
{
    struct sim_run expanded[MAX_POLICIES];
    size_t ne = 0;
    for (size_t i = 0; i < *n_runs; i++) {
        bool rnd = sim_policy_is_random(runs[i].policy);
        size_t ns = rnd && a->n_seeds > 0 ? a->n_seeds : 1;
        for (size_t k = 0; k < ns; k++) {
            if (ne == MAX_POLICIES) {
                cli_error("sim: at most %d runs at once", MAX_POLICIES);
                return CLI_EXIT_USAGE;
            }
            struct sim_run r = runs[i];
            r.seed = a->n_seeds > 0 ? a->seeds[k] : SIM_DEFAULT_SEED;
            r.show_seed = rnd && a->n_seeds > 1;
            expanded[ne++] = r;
        }
    }
    memcpy(runs, expanded, ne * sizeof(runs[0]));
    *n_runs = ne;
    return 0;
}

/* vmloc once per anti-flapping setting asked for, each with its own copy of the config in
 * `vcopy` (the copies share the policy's override table, which the runs only read). 0 or
 * CLI_EXIT_USAGE (too many runs). */
static int
expand_runs(const struct sim_args *a, const struct sim_vmloc *vcfg, struct sim_run *runs,
            size_t *n_runs, struct sim_vmloc *vcopy)
{
    if (a->n_persist > 0 || a->n_cool > 0) {
        struct sim_run expanded[MAX_POLICIES];
        size_t ne = 0;
        size_t np = a->n_persist > 0 ? a->n_persist : 1;
        size_t nc = a->n_cool > 0 ? a->n_cool : 1;
        for (size_t i = 0; i < *n_runs; i++) {
            for (size_t x = 0; x < (runs[i].policy == SIM_VMLOC ? np : 1); x++) {
                for (size_t y = 0; y < (runs[i].policy == SIM_VMLOC ? nc : 1); y++) {
                    if (ne == MAX_POLICIES) {
                        cli_error("sim: at most %d runs at once", MAX_POLICIES);
                        return CLI_EXIT_USAGE;
                    }
                    struct sim_run r = runs[i];
                    if (r.policy == SIM_VMLOC) {
                        r.variant = true;
                        r.persist_k = a->n_persist > 0 ? a->pk[x] : vcfg->persist_k;
                        r.persist_n = a->n_persist > 0 ? a->pn[x] : vcfg->persist_n;
                        r.cooldown_s = a->n_cool > 0 ? a->cool[y] : vcfg->cooldown_s;
                    }
                    expanded[ne++] = r;
                }
            }
        }
        memcpy(runs, expanded, ne * sizeof(runs[0]));
        *n_runs = ne;
    }
    for (size_t i = 0; i < *n_runs; i++) {
        vcopy[i] = *vcfg;
        if (runs[i].policy == SIM_VMLOC && runs[i].variant) {
            vcopy[i].persist_k = runs[i].persist_k;
            vcopy[i].persist_n = runs[i].persist_n;
            vcopy[i].cooldown_s = runs[i].cooldown_s;
        } else if (runs[i].policy == SIM_VMLOC) {
            runs[i].persist_k = vcfg->persist_k;
            runs[i].persist_n = vcfg->persist_n;
            runs[i].cooldown_s = vcfg->cooldown_s;
        }
    }
    return 0;
}

/* Every run on the trace, each checked for finite metrics. 0 or the command's exit status. */
static int
run_all(const struct sim_args *a, const struct trace *tr, struct sim_run *runs, size_t n_runs,
        struct sim_vmloc *vcopy)
{
    bool show = !a->quiet && isatty(STDERR_FILENO);
    for (size_t i = 0; i < n_runs; i++) {
        struct sim_config cfg = {
            .policy = runs[i].policy,
            .param = runs[i].param,
            .n_hosts = (size_t)a->hosts,
            .vmloc = &vcopy[i],
            .format = a->fmt,
            .seed = runs[i].seed,
        };
        char plabel[32];
        sim_run_label(&runs[i], plabel, sizeof(plabel));
        struct progress_ctx pc = {.label = plabel, .last = 0};
        uint64_t t0 = clock_now_us();
        int r = sim_run(tr, &cfg, show ? progress : NULL, &pc, &runs[i].res);
        if (r == -ENOSPC) {
            cli_error("sim: the %zu VMs of %s do not fit on %zu hosts at time 0 (use --hosts)",
                      tr->n_vms, a->trace_dir,
                      cfg.n_hosts != 0 ? cfg.n_hosts : sim_default_hosts(a->fmt));
            return CLI_EXIT_USAGE;
        }
        if (r < 0) {
            cli_error("sim: %s", strerror(-r));
            return CLI_EXIT_FAIL;
        }
        runs[i].res.wall_s = (double)(clock_now_us() - t0) / 1e6;
        runs[i].overloaded_host_steps = sim_overloaded_host_steps(&runs[i].res);
    }
    for (size_t i = 0; i < n_runs; i++) {
        const struct dc_stats *st = &runs[i].res.stats;
        if (!isfinite(st->energy_kwh) || !isfinite(st->slatah) || !isfinite(st->pdm) ||
            !isfinite(st->overall_sla_violation)) {
            cli_error("sim: %s: the metrics are not finite numbers (demands too large to add "
                      "up?)",
                      sim_policy_name(runs[i].policy));
            return CLI_EXIT_FAIL;
        }
    }
    return 0;
}

/* The results: JSON or the table, and the report when asked. 0 or CLI_EXIT_FAIL. */
static int
sim_output(const struct sim_args *a, const struct sim_run *runs, size_t n_runs)
{
    if (a->json) {
        json_t *out = n_runs == 1 ? sim_run_json(&runs[0]) : json_array();
        for (size_t i = 0; n_runs > 1 && out != NULL && i < n_runs; i++) {
            json_t *o = sim_run_json(&runs[i]);
            if (o == NULL || json_array_append_new(out, o) < 0) {
                json_decref(out);
                out = NULL;
            }
        }
        char *s = out != NULL ? json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
        json_decref(out);
        if (s == NULL) {
            cli_error("sim: out of memory");
            return CLI_EXIT_FAIL;
        }
        (void)printf("%s\n", s);
        free(s);
    } else {
        print_table(runs, n_runs, a->trace_dir);
    }
    if (a->report != NULL) {
        int r = sim_report_write(a->report, a->trace_dir, runs, n_runs);
        if (r < 0) {
            cli_error("sim: %s: %s", a->report, strerror(-r));
            return CLI_EXIT_FAIL;
        }
    }
    return 0;
}

int
cmd_sim(int argc, char **argv)
{
    struct sim_args a;
    int ret = sim_parse_args(argc, argv, &a);
    if (ret >= 0)
        return ret;
    struct sim_run runs[MAX_POLICIES];
    memset(runs, 0, sizeof(runs));
    size_t n_runs = 0;
    if (parse_policies(a.policy_buf, runs, &n_runs) < 0)
        return CLI_EXIT_USAGE;
    for (size_t i = 0; i < n_runs; i++)
        if (isnan(runs[i].param))
            runs[i].param = isnan(a.param) ? sim_policy_default_param(runs[i].policy) : a.param;

    struct sim_vmloc vcfg;
    sim_vmloc_defaults(&vcfg);
    struct trace tr;
    trace_init(&tr);
    static struct sim_vmloc vcopy[MAX_POLICIES];
    ret = a.conf_path != NULL ? load_config(a.conf_path, &vcfg) : 0;
    if (ret != 0)
        goto out;
    policy_finish(&vcfg.policy);
    ret = expand_seeds(&a, runs, &n_runs);
    if (ret == 0)
        ret = expand_runs(&a, &vcfg, runs, &n_runs, vcopy);
    if (ret != 0)
        goto out;
    struct trace_error terr;
    int r = trace_read(a.trace_dir, a.fmt, &tr, &terr);
    if (r < 0) {
        cli_error("%s", terr.msg);
        ret = r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
        goto out;
    }
    ret = run_all(&a, &tr, runs, n_runs, vcopy);
    if (ret == 0)
        ret = sim_output(&a, runs, n_runs);
out:
    for (size_t i = 0; i < n_runs; i++)
        sim_result_done(&runs[i].res);
    trace_done(&tr);
    policy_done(&vcfg.policy);
    return ret;
}
