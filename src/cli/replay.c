/* The run of `vmloc replay` (see replay.h and the top of cmd_replay.c).
 *
 * Time. Live step j (j = 0 .. K-1) is the wall interval from t0 + j * step: the agents sample
 * at its start (they sample on whole intervals of the wall clock, and t0 is one), ask then
 * for trace sample j + 1, which is the one the simulator decides on at its step j + 1; the
 * manager collects a fifth of a step later and orders, or the peers decide at once. This
 * command reads every agent's sample a tenth of a step after its start, before the decisions
 * of that step: the state the simulator's series records at a step. Before t0 the VMs ask for
 * sample 1 already, so a daemon that decides before the start decides on what step 0 shows.
 *
 * Scale. A trace step is 300 s and lasts `step` wall seconds: times in the policy, which the
 * daemons apply in wall time (the cooldown, the storm window), are multiplied by 300 / step for
 * the simulator; the agents' migration bandwidth is the simulator's (half of 1 Gbit/s)
 * multiplied by the same factor, so that a migration takes the same share of a step. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "cli/replay.h"
#include "cli/replay_watch.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/hv_trace.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/file.h"
#include "proto/policy_ini.h"
#include "proto/wire.h"

/* The simulator's migration bandwidth, MB/s: half of 1 Gbit/s (sim-model.md). */
#define SIM_MIGRATION_MB_S 62.5
/* When the samples of a step are read, as a share of the step after its start: the agents
 * serve the one they took at the start (scheduled=1) until the next. */
#define OBSERVE_AT 0.4

static const char *const mode_names[] = {"central", "edge", "peer"};

const char *
replay_mode_name(enum replay_mode m)
{
    return (unsigned)m < 3 ? mode_names[m] : "?";
}

void
replay_init(struct replay *rp)
{
    memset(rp, 0, sizeof(*rp));
    rp->format = TRACE_PLANETLAB;
    rp->n_hosts = REPLAY_DEFAULT_HOSTS;
    rp->n_vms = REPLAY_DEFAULT_VMS;
    rp->step_s = REPLAY_DEFAULT_STEP_S;
    rp->mode = REPLAY_CENTRAL;
    trace_init(&rp->trace);
    dc_init(&rp->dc);
    policy_init(&rp->policy);
    sim_vmloc_defaults(&rp->sim_cfg);
    rp->manager.pid = 0;
    rp->manager.out = -1;
    rp->sim.overloaded_host_steps = NAN;
    rp->live.overloaded_host_steps = NAN;
}

static void
stop_all(struct replay *rp)
{
    for (size_t i = 0; rp->agents != NULL && i < rp->n_hosts; i++)
        (void)child_stop(&rp->agents[i], 5.0);
    (void)child_stop(&rp->manager, 5.0);
}

void
replay_done(struct replay *rp)
{
    stop_all(rp);
    free(rp->agents);
    free(rp->agent_url);
    free(rp->types);
    free(rp->moves);
    free(rp->points);
    free(rp->policy_text);
    livestat_done(&rp->ls);
    sim_result_done(&rp->sim.res);
    policy_done(&rp->policy);
    policy_done(&rp->sim_cfg.policy);
    trace_done(&rp->trace);
    dc_done(&rp->dc);
    if (rp->data[0] != '\0' && !rp->keep && file_remove_tree(rp->data) < 0)
        (void)fprintf(stderr, "vmloc: replay: %s could not be removed entirely\n", rp->data);
}

/* ---- the simulator ------------------------------------------------------------------------ */

/* The live policy in the simulator's terms: the same keys, its times in trace seconds, one
 * relocation round a step (the daemons decide once a step), memory where the trace has hosts
 * of fixed memory. */
static int
sim_policy(struct replay *rp)
{
    struct sim_vmloc *v = &rp->sim_cfg;
    policy_done(&v->policy);
    policy_init(&v->policy);
    struct perr err;
    if (rp->policy_text != NULL &&
        config_parse_string(rp->policy_text, rp->config, &v->policy, &err) < 0) {
        cli_error("%s", err.msg);
        return CLI_EXIT_USAGE;
    }
    if (rp->policy_text == NULL)
        policy_finish(&v->policy);
    double scale = TRACE_STEP_S / rp->step_s;
    v->persist_k = rp->policy.persist_k;
    v->persist_n = rp->policy.persist_n;
    v->cooldown_s = rp->policy.cooldown_s * scale;
    v->policy.cooldown_s = v->cooldown_s;
    v->policy.storm_window_s = rp->policy.storm_window_s * scale;
    /* Power saving is the manager's: peers do not consolidate. */
    v->consolidate_below_pct = rp->mode == REPLAY_PEER ? 0 : rp->policy.consolidate_below;
    v->consolidate_target_pct = rp->policy.consolidate_target;
    v->memory = rp->format == TRACE_PLANETLAB;
    v->rounds = 1;
    return 0;
}

int
replay_prepare(struct replay *rp)
{
    int r = sim_policy(rp);
    if (r != 0)
        return r;
    struct sim_config cfg = {.policy = SIM_VMLOC,
                             .n_hosts = rp->n_hosts,
                             .vmloc = &rp->sim_cfg,
                             .format = rp->format,
                             .keep_idle_vms = true};
    size_t hosts = 0;
    uint32_t bad = 0;
    r = sim_start(&rp->trace, &cfg, &rp->dc, &hosts, &bad);
    if (r == -ENOSPC) {
        cli_error("replay: the %zu VMs do not fit on %zu hosts at time 0 (VM %s has no room; use "
                  "--hosts or --vms)",
                  rp->trace.n_vms, rp->n_hosts, rp->trace.names[bad]);
        return CLI_EXIT_USAGE;
    }
    if (r < 0) {
        cli_error("replay: %s", strerror(-r));
        return CLI_EXIT_FAIL;
    }
    rp->dc_ready = true;
    rp->types = calloc(rp->n_hosts + 1, sizeof(const struct power_host_type *));
    if (rp->types == NULL) {
        cli_error("replay: out of memory");
        return CLI_EXIT_FAIL;
    }
    for (size_t h = 0; h < rp->n_hosts; h++)
        rp->types[h] = rp->dc.hosts[h].type;
    uint64_t t0 = clock_now_us();
    r = sim_run(&rp->trace, &cfg, NULL, NULL, &rp->sim.res);
    if (r < 0) {
        cli_error("replay: the simulator: %s", strerror(-r));
        return CLI_EXIT_FAIL;
    }
    rp->sim.res.wall_s = (double)(clock_now_us() - t0) / 1e6;
    rp->sim.policy = SIM_VMLOC;
    rp->sim.label = "simulator";
    rp->sim.persist_k = rp->sim_cfg.persist_k;
    rp->sim.persist_n = rp->sim_cfg.persist_n;
    rp->sim.cooldown_s = rp->sim_cfg.cooldown_s;
    rp->sim.overloaded_host_steps = sim_overloaded_host_steps(&rp->sim.res);
    return 0;
}

/* ---- files for the daemons ---------------------------------------------------------------- */

static int
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    int r = fputs(text, f) < 0 ? -EIO : 0;
    if (fclose(f) != 0 && r == 0)
        r = -EIO;
    return r;
}

/* A growing text. */
struct text {
    char *s;
    size_t len;
    size_t cap;
    bool oom;
};

PRINTF_LIKE(2, 3)
static void
tx_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = t->oom ? -1 : vsnprintf(t->s != NULL ? t->s + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t nc = t->cap != 0 ? t->cap * 2 : 4096;
        while (nc < t->len + (size_t)n + 1)
            nc *= 2;
        char *p = realloc(t->s, nc);
        if (p == NULL) {
            t->oom = true;
            return;
        }
        t->s = p;
        t->cap = nc;
    }
}

/* Agent h's config: the policy, then [sim] (the host and the trace) and its VMs at time 0. */
static int
agent_config(struct replay *rp, size_t h, const char *path, char *abs_trace)
{
    const struct dc_host *dh = &rp->dc.hosts[h];
    const struct power_host_type *t = dh->type;
    double mips = t->pe_mips * t->pes;
    struct text tx = {NULL, 0, 0, false};
    if (rp->policy_text != NULL)
        tx_add(&tx, "%s\n", rp->policy_text);
    tx_add(&tx,
           "[sim]\ncapacity = %.17g\nmem_mib = %.17g\noverhead_cpu = 0\nbandwidth = %.17g\n"
           "trace = %s\ntrace_format = %s\ntrace_start = %.6f\ntrace_step = %.17g\n"
           "host_mips = %.17g\nhost_cores = %u\n",
           mips / 1000.0, rp->format == TRACE_PLANETLAB ? t->ram_mib : 1e12,
           SIM_MIGRATION_MB_S * TRACE_STEP_S / rp->step_s, abs_trace, trace_format_name(rp->format),
           rp->t0 - rp->step_s, rp->step_s, mips, (unsigned)t->pes);
    if (t->disk_kbs > 0)
        tx_add(&tx, "disk_kbs = %.17g\n", t->disk_kbs);
    if (rp->format == TRACE_BITBRAINS)
        tx_add(&tx, "net_kbs = %.17g\n", t->bw_mbit * 1000.0 / 8.0);
    for (uint32_t s = 0; s < dh->n_slots; s++) {
        uint32_t v = dh->slots[s].vm;
        const struct dc_vm *dv = &rp->dc.vms[v];
        char vn[32];
        replay_vm_name(v, vn, sizeof(vn));
        tx_add(&tx, "\n[vm \"%s\"]\ntrace = %s\nmips = %.17g\ncores = %u\nmem_mib = %.17g\n", vn,
               rp->trace.names[v], dv->mips, (unsigned)(dv->pes > 0 ? dv->pes : 1), dv->ram_mib);
    }
    int r = tx.oom ? -ENOMEM : write_file(path, tx.s != NULL ? tx.s : "");
    free(tx.s);
    return r;
}

/* ---- the daemons -------------------------------------------------------------------------- */

static int
start_daemons(struct replay *rp, const char *self)
{
    char path[4200];
    char log[4200];
    char tok[4200];
    char interval[32];
    (void)snprintf(interval, sizeof(interval), "%.17g", rp->step_s);
    (void)snprintf(tok, sizeof(tok), "%s/token", rp->data);
    char abs_trace[4096];
    if (realpath(rp->trace_dir, abs_trace) == NULL) {
        cli_error("%s: %s", rp->trace_dir, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    rp->agents = calloc(rp->n_hosts, sizeof(*rp->agents));
    rp->agent_url = calloc(rp->n_hosts, sizeof(*rp->agent_url));
    if (rp->agents == NULL || rp->agent_url == NULL) {
        cli_error("replay: out of memory");
        return CLI_EXIT_FAIL;
    }
    for (size_t h = 0; h < rp->n_hosts; h++)
        rp->agents[h].out = -1;
    const char *mode = replay_mode_name(rp->mode);
    char policy[4200] = "";
    if (rp->policy_text != NULL) {
        (void)snprintf(policy, sizeof(policy), "%s/policy.ini", rp->data);
        if (write_file(policy, rp->policy_text) < 0) {
            cli_error("replay: cannot write %s", policy);
            return CLI_EXIT_FAIL;
        }
    }
    if (rp->mode != REPLAY_PEER) {
        (void)snprintf(path, sizeof(path), "%s/manager", rp->data);
        (void)snprintf(log, sizeof(log), "%s/manager.log", rp->data);
        char *argv[] = {(char *)self,   "manager",    "--listen", "127.0.0.1:0", "--data",
                        path,           "--interval", interval,   "--mode",      (char *)mode,
                        "--token-file", tok,          NULL,       NULL,          NULL};
        if (policy[0] != '\0') {
            argv[12] = "--config";
            argv[13] = policy;
        }
        size_t bad = 0;
        if (child_start(&rp->manager, self, argv, log) < 0 ||
            child_wait_ready(&rp->manager, 1, clock_wall_s() + 15.0, &bad) < 0) {
            cli_error("replay: the manager did not start (see %s)", log);
            return CLI_EXIT_FAIL;
        }
        (void)snprintf(rp->manager_url, sizeof(rp->manager_url), "%s", rp->manager.url);
    }
    /* Every agent binds a port the kernel chooses and says which; peers learn each other
     * from a peers file written once all of them listen. */
    char peers[4200];
    (void)snprintf(peers, sizeof(peers), "%s/peers", rp->data);
    char *argv[32];
    int ret = 0;
    for (size_t h = 0; h < rp->n_hosts && ret == 0; h++) {
        char name[32];
        char conf[4200];
        char data[4200];
        replay_host_name(h, name, sizeof(name));
        (void)snprintf(conf, sizeof(conf), "%s/%s.ini", rp->data, name);
        (void)snprintf(data, sizeof(data), "%s/%s", rp->data, name);
        (void)snprintf(log, sizeof(log), "%s/%s.log", rp->data, name);
        if (agent_config(rp, h, conf, abs_trace) < 0) {
            cli_error("replay: cannot write %s", conf);
            ret = CLI_EXIT_FAIL;
            break;
        }
        size_t n = 0;
        const char *fixed[] = {self,         "agent",       "--name",       name,
                               "--listen",   "127.0.0.1:0", "--mode",       mode,
                               "--interval", interval,      "--config",     conf,
                               "--data",     data,          "--token-file", tok};
        for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
            argv[n++] = (char *)fixed[k];
        if (rp->mode == REPLAY_PEER) {
            argv[n++] = "--peers-file";
            argv[n++] = peers;
        } else {
            argv[n++] = "--manager";
            argv[n++] = rp->manager_url;
        }
        argv[n] = NULL;
        if (child_start(&rp->agents[h], self, argv, log) < 0) {
            cli_error("replay: agent %s did not start", name);
            ret = CLI_EXIT_FAIL;
        }
    }
    if (ret != 0)
        return ret;
    size_t bad = 0;
    int r = child_wait_ready(rp->agents, rp->n_hosts, rp->t0 - rp->step_s / 2, &bad);
    if (r < 0) {
        char name[32];
        replay_host_name(bad, name, sizeof(name));
        cli_error("replay: agent %s %s (see %s/%s.log)", name,
                  r == -ETIMEDOUT ? "did not start before the trace's start" : "failed to start",
                  rp->data, name);
        return CLI_EXIT_FAIL;
    }
    for (size_t h = 0; h < rp->n_hosts; h++)
        (void)snprintf(rp->agent_url[h], sizeof(rp->agent_url[h]), "%s", rp->agents[h].url);
    if (rp->mode == REPLAY_PEER) {
        r = child_share_peers(rp->agents, rp->n_hosts, peers);
        if (r < 0) {
            cli_error("replay: cannot write %s: %s", peers, strerror(-r));
            return CLI_EXIT_FAIL;
        }
    }
    return 0;
}

static int
push_point(struct replay *rp, size_t j, uint32_t active, uint32_t overloaded, uint32_t started)
{
    struct sim_point *p = realloc(rp->points, (rp->n_points + 1) * sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    rp->points = p;
    p[rp->n_points++] = (struct sim_point){
        .time_s = (double)(j + 1) * TRACE_STEP_S,
        .active_hosts = active,
        .overloaded_hosts = overloaded,
        .migrations = started,
        .energy_kwh = rp->ls.energy_j / 3.6e6,
    };
    return 0;
}

static int
make_dir(struct replay *rp)
{
    if (rp->keep) {
        if (mkdir(rp->data, 0700) < 0 && errno != EEXIST) {
            cli_error("replay: --data %s: %s", rp->data, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    (void)snprintf(rp->data, sizeof(rp->data), "%s/vmloc-replay-XXXXXX",
                   tmp != NULL && tmp[0] != '\0' && strlen(tmp) < 3000 ? tmp : "/tmp");
    if (mkdtemp(rp->data) == NULL) {
        cli_error("replay: cannot create a folder in %s: %s", tmp != NULL ? tmp : "/tmp",
                  strerror(errno));
        rp->data[0] = '\0';
        return CLI_EXIT_FAIL;
    }
    return 0;
}

static void
progress(const struct replay *rp, size_t j)
{
    if (rp->quiet || !isatty(STDERR_FILENO))
        return;
    if (j + 1 != rp->n_steps && (j % 8) != 0)
        return;
    (void)fprintf(stderr, "\rvmloc replay: %s, step %zu/%zu", replay_mode_name(rp->mode), j + 1,
                  rp->n_steps);
    if (j + 1 == rp->n_steps)
        (void)fprintf(stderr, "\r%60s\r", "");
    (void)fflush(stderr);
}

/* The state the simulator starts from: the placement at time 0 asking for trace sample 1 (what
 * the daemons see before t0, and may act on already). */
static int
start_state(struct replay *rp)
{
    double *util = calloc(rp->n_hosts + 1, sizeof(*util));
    bool *active = calloc(rp->n_hosts + 1, sizeof(*active));
    if (util == NULL || active == NULL) {
        free(util);
        free(active);
        return -ENOMEM;
    }
    for (size_t h = 0; h < rp->n_hosts; h++) {
        const struct dc_host *dh = &rp->dc.hosts[h];
        double pe = dh->type->pe_mips;
        double mips = 0;
        for (uint32_t s = 0; s < dh->n_slots; s++) {
            const struct dc_vm *v = &rp->dc.vms[dh->slots[s].vm];
            double req = trace_value(&rp->trace, rp->trace.cpu, dh->slots[s].vm,
                                     TRACE_STEP_S + HV_TRACE_OFFSET_S) *
                         v->mips;
            double cap = pe * (v->pes > 0 ? v->pes : 1);
            mips += req < cap ? req : cap;
        }
        util[h] = fmin(1.0, mips / dh->total_mips);
        active[h] = mips > 0;
    }
    livestat_start(&rp->ls, util, active);
    free(util);
    free(active);
    return 0;
}

/* The steps, from t0: read every agent a tenth of a step after each start. */
static int
play(struct replay *rp, struct replay_fetch *fe, struct replay_fetch *fm, json_t *seen)
{
    struct livestat_host *obs = calloc(rp->n_hosts + 1, sizeof(*obs));
    if (obs == NULL)
        return -ENOMEM;
    int r = 0;
    for (size_t j = 0; j < rp->n_steps && r == 0; j++) {
        if (*rp->stop) {
            r = -EINTR;
            break;
        }
        double start = rp->t0 + (double)j * rp->step_s;
        replay_sleep_until(start + OBSERVE_AT * rp->step_s);
        uint32_t active = 0;
        replay_observe(rp, fe, true, start - rp->step_s / 2, start + rp->step_s * 0.9, obs,
                       &active);
        livestat_step(&rp->ls, obs);
        uint32_t over = 0;
        for (size_t h = 0; h < rp->n_hosts; h++)
            over += obs[h].seen && obs[h].overloaded;
        /* The migrations, now and then: the manager lists the last 1,000. */
        if (j % 16 == 15)
            (void)replay_collect_moves(rp, fm, seen, start + rp->step_s * 0.95);
        r = push_point(rp, j, active, over, 0);
        progress(rp, j);
    }
    free(obs);
    return r;
}

int
replay_live(struct replay *rp)
{
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0) {
        cli_error("replay: cannot find the vmloc binary (/proc/self/exe)");
        return CLI_EXIT_FAIL;
    }
    self[sl] = '\0';
    int ret = make_dir(rp);
    if (ret != 0)
        return ret;
    char tok[4200];
    char err[600];
    bool created = false;
    (void)snprintf(tok, sizeof(tok), "%s/token", rp->data);
    if (token_load(tok, true, rp->token, NULL, &created, err, sizeof(err)) < 0) {
        cli_error("replay: %s", err);
        return CLI_EXIT_FAIL;
    }
    if (livestat_init(&rp->ls, rp->n_hosts, rp->types, rp->trace.n_vms, TRACE_STEP_S) < 0) {
        cli_error("replay: out of memory");
        return CLI_EXIT_FAIL;
    }
    /* Step 0 starts on a whole step of the wall clock (the agents sample on those), after
     * the time the daemons need to start and load the trace. */
    double margin = 3.0 + 0.05 * (double)rp->n_hosts;
    rp->t0 = ceil((clock_wall_s() + margin) / rp->step_s) * rp->step_s;
    ret = start_daemons(rp, self);
    if (ret != 0)
        return ret;
    struct replay_fetch fe;
    struct replay_fetch fm;
    json_t *seen = json_object();
    int r = replay_fetcher_init(&fe, rp->n_hosts, rp->token);
    if (r == 0)
        r = replay_fetcher_init(&fm, rp->mode == REPLAY_PEER ? rp->n_hosts : 1, rp->token);
    if (r < 0 || seen == NULL) {
        cli_error("replay: out of memory");
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    if (rp->mode != REPLAY_PEER) {
        while (replay_hosts_up(rp, &fm, clock_wall_s() + 1.0) < rp->n_hosts &&
               clock_wall_s() < rp->t0 - rp->step_s / 2 && !*rp->stop)
            replay_sleep_until(clock_wall_s() + 0.05);
        size_t up = replay_hosts_up(rp, &fm, clock_wall_s() + 1.0);
        if (up < rp->n_hosts) {
            cli_error("replay: the manager knows %zu of the %zu hosts at the trace's start (see "
                      "%s/manager.log)",
                      up, rp->n_hosts, rp->data);
            ret = CLI_EXIT_FAIL;
            goto out;
        }
    }
    if (clock_wall_s() > rp->t0) {
        cli_error("replay: the daemons took longer than %.1f s to start; the trace's start has "
                  "passed",
                  margin);
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    if (start_state(rp) < 0) {
        cli_error("replay: out of memory");
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    double w0 = clock_mono_s();
    r = play(rp, &fe, &fm, seen);
    if (r == -EINTR) {
        cli_error("replay: interrupted");
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    if (r < 0) {
        cli_error("replay: %s", strerror(-r));
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    /* The end: migrations still running finish (or fail), then the last placement. */
    double until = clock_wall_s() + 30.0;
    int running = 0;
    while ((running = replay_collect_moves(rp, &fm, seen, clock_wall_s() + 2.0)) != 0 &&
           clock_wall_s() < until)
        replay_sleep_until(clock_wall_s() + rp->step_s / 4);
    if (running < 0) {
        cli_error("replay: the migrations could not be read at the end");
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    struct livestat_host *obs = calloc(rp->n_hosts + 1, sizeof(*obs));
    uint32_t active = 0;
    if (obs == NULL || replay_moves_from(rp, seen) < 0) {
        free(obs);
        cli_error("replay: out of memory");
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    replay_observe(rp, &fe, false, 0, clock_wall_s() + 5.0, obs, &active);
    free(obs);
    /* Each step's migrations, by their start, for the series. */
    for (size_t i = 0; i < rp->n_moves; i++) {
        double j = floor((rp->moves[i].started - rp->t0) / rp->step_s);
        size_t k = j < 0 ? 0 : (size_t)j;
        if (rp->n_points > 0)
            rp->points[k < rp->n_points ? k : rp->n_points - 1].migrations++;
    }
    rp->wall_s = clock_mono_s() - w0;
out:
    replay_fetcher_done(&fe);
    replay_fetcher_done(&fm);
    json_decref(seen);
    /* Stopped cleanly: a daemon that does not end on SIGTERM is worth a word. */
    for (size_t h = 0; rp->agents != NULL && h < rp->n_hosts; h++) {
        if (child_stop(&rp->agents[h], 5.0) != 0 && ret == 0)
            (void)fprintf(stderr, "vmloc: replay: agent h%03zu did not stop cleanly\n", h);
    }
    if (child_stop(&rp->manager, 5.0) > 0 && ret == 0)
        (void)fprintf(stderr, "vmloc: replay: the manager did not stop cleanly\n");
    return ret;
}
