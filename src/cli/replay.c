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
    rp->types = calloc(rp->n_hosts + 1, sizeof(*rp->types));
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

/* Host h's name, and VM v's. */
static void
host_name(size_t h, char *buf, size_t len)
{
    (void)snprintf(buf, len, "h%03zu", h);
}

static void
vm_name(size_t v, char *buf, size_t len)
{
    (void)snprintf(buf, len, "v%04zu", v);
}

/* The index in a name made by host_name() or vm_name(), or -1. */
static long
name_index(const char *name, char prefix, size_t n)
{
    if (name[0] != prefix || name[1] < '0' || name[1] > '9')
        return -1;
    char *end = NULL;
    unsigned long i = strtoul(name + 1, &end, 10);
    return *end == '\0' && i < n ? (long)i : -1;
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
           SIM_MIGRATION_MB_S * TRACE_STEP_S / rp->step_s, abs_trace,
           rp->format == TRACE_BITBRAINS ? "bitbrains" : "planetlab", rp->t0 - rp->step_s,
           rp->step_s, mips, (unsigned)t->pes);
    if (t->disk_kbs > 0)
        tx_add(&tx, "disk_kbs = %.17g\n", t->disk_kbs);
    if (rp->format == TRACE_BITBRAINS)
        tx_add(&tx, "net_kbs = %.17g\n", t->bw_mbit * 1000.0 / 8.0);
    for (uint32_t s = 0; s < dh->n_slots; s++) {
        uint32_t v = dh->slots[s].vm;
        const struct dc_vm *dv = &rp->dc.vms[v];
        char vn[32];
        vm_name(v, vn, sizeof(vn));
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
    int *ports = calloc(rp->n_hosts + 1, sizeof(*ports));
    if (rp->agents == NULL || rp->agent_url == NULL || ports == NULL) {
        free(ports);
        cli_error("replay: out of memory");
        return CLI_EXIT_FAIL;
    }
    for (size_t h = 0; h < rp->n_hosts; h++)
        rp->agents[h].out = -1;
    if (rp->mode == REPLAY_PEER && http_free_ports(ports, rp->n_hosts) < 0) {
        free(ports);
        cli_error("replay: no free ports on 127.0.0.1");
        return CLI_EXIT_FAIL;
    }
    const char *mode = replay_mode_name(rp->mode);
    char policy[4200] = "";
    if (rp->policy_text != NULL) {
        (void)snprintf(policy, sizeof(policy), "%s/policy.ini", rp->data);
        if (write_file(policy, rp->policy_text) < 0) {
            free(ports);
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
            free(ports);
            cli_error("replay: the manager did not start (see %s)", log);
            return CLI_EXIT_FAIL;
        }
        (void)snprintf(rp->manager_url, sizeof(rp->manager_url), "%s", rp->manager.url);
    }
    char **argv = calloc(2 * rp->n_hosts + 32, sizeof(*argv));
    char(*peer_url)[64] = calloc(rp->n_hosts + 1, sizeof(*peer_url));
    if (argv == NULL || peer_url == NULL) {
        free(argv);
        free(peer_url);
        free(ports);
        cli_error("replay: out of memory");
        return CLI_EXIT_FAIL;
    }
    for (size_t h = 0; h < rp->n_hosts; h++)
        (void)snprintf(peer_url[h], sizeof(peer_url[h]), "http://127.0.0.1:%d", ports[h]);
    int ret = 0;
    for (size_t h = 0; h < rp->n_hosts && ret == 0; h++) {
        char name[32];
        char listen[32];
        char conf[4200];
        char data[4200];
        host_name(h, name, sizeof(name));
        (void)snprintf(listen, sizeof(listen), "127.0.0.1:%d", ports[h]);
        (void)snprintf(conf, sizeof(conf), "%s/%s.ini", rp->data, name);
        (void)snprintf(data, sizeof(data), "%s/%s", rp->data, name);
        (void)snprintf(log, sizeof(log), "%s/%s.log", rp->data, name);
        if (agent_config(rp, h, conf, abs_trace) < 0) {
            cli_error("replay: cannot write %s", conf);
            ret = CLI_EXIT_FAIL;
            break;
        }
        size_t n = 0;
        const char *fixed[] = {self,     "agent", "--name",       name,     "--listen", listen,
                               "--mode", mode,    "--interval",   interval, "--config", conf,
                               "--data", data,    "--token-file", tok};
        for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
            argv[n++] = (char *)fixed[k];
        if (rp->mode == REPLAY_PEER) {
            for (size_t k = 0; k < rp->n_hosts; k++) {
                if (k != h) {
                    argv[n++] = "--peer";
                    argv[n++] = peer_url[k];
                }
            }
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
    free(argv);
    free(peer_url);
    free(ports);
    if (ret != 0)
        return ret;
    size_t bad = 0;
    int r = child_wait_ready(rp->agents, rp->n_hosts, rp->t0 - rp->step_s / 2, &bad);
    if (r < 0) {
        char name[32];
        host_name(bad, name, sizeof(name));
        cli_error("replay: agent %s %s (see %s/%s.log)", name,
                  r == -ETIMEDOUT ? "did not start before the trace's start" : "failed to start",
                  rp->data, name);
        return CLI_EXIT_FAIL;
    }
    for (size_t h = 0; h < rp->n_hosts; h++)
        (void)snprintf(rp->agent_url[h], sizeof(rp->agent_url[h]), "%s", rp->agents[h].url);
    return 0;
}

/* ---- watching ----------------------------------------------------------------------------- */

/* Requests to every agent (or to the manager) at once, on one event loop. */
struct fetch_one {
    char *body; /* the answer when status 200 */
    int status;
    bool done;
};

struct fetcher {
    struct event_base *base;
    struct http_client *client; /* NULL after an allocation failure: requests then fail */
    struct fetch_one *f;
    size_t n;
    const char *token;
};

static void
fetch_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct fetch_one *f = arg;
    (void)err;
    f->status = status;
    f->done = true;
    free(f->body);
    f->body = NULL;
    if (status == 200 && body != NULL) {
        f->body = malloc(len + 1);
        if (f->body != NULL) {
            memcpy(f->body, body, len);
            f->body[len] = '\0';
        }
    }
}

static void
loop_exit_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)event_base_loopbreak(arg);
}

/* GET `path` from each of `urls` (`n`) at once, each with the time left until wall time
 * `deadline` to answer. Answers in fe->f[i]. Every request ends by its own time-out, so none
 * is left in flight to answer into the next round; should one be (the loop failing), the
 * client is replaced, which cancels it. */
static void
fetch_all(struct fetcher *fe, char (*urls)[128], size_t n, const char *path, double deadline)
{
    for (size_t i = 0; i < n; i++) {
        free(fe->f[i].body);
        fe->f[i] = (struct fetch_one){NULL, 0, false};
        double left = deadline - clock_wall_s();
        if (fe->client == NULL ||
            http_request(fe->client, urls[i], "GET", path, NULL, left > 0.05 ? left : 0.05,
                         fetch_done, &fe->f[i]) < 0)
            fe->f[i].done = true;
    }
    struct event *tick = evtimer_new(fe->base, loop_exit_cb, fe->base);
    double give_up = (deadline > clock_wall_s() ? deadline : clock_wall_s()) + 5.0;
    size_t pending = 0;
    for (;;) {
        pending = 0;
        for (size_t i = 0; i < n; i++)
            pending += !fe->f[i].done;
        if (pending == 0 || tick == NULL || clock_wall_s() > give_up)
            break;
        struct timeval tv = {0, 20000};
        (void)event_add(tick, &tv);
        (void)event_base_loop(fe->base, EVLOOP_ONCE);
    }
    if (tick != NULL)
        event_free(tick);
    if (pending > 0) {
        http_client_free(fe->client);
        fe->client = http_client_new(fe->base);
        if (fe->client != NULL && http_client_set_token(fe->client, fe->token) < 0) {
            http_client_free(fe->client);
            fe->client = NULL;
        }
    }
}

static int
fetcher_init(struct fetcher *fe, size_t n, const char *token)
{
    memset(fe, 0, sizeof(*fe));
    fe->base = event_base_new();
    fe->client = fe->base != NULL ? http_client_new(fe->base) : NULL;
    fe->f = calloc(n + 1, sizeof(*fe->f));
    fe->n = n;
    fe->token = token;
    if (fe->client == NULL || fe->f == NULL || http_client_set_token(fe->client, token) < 0)
        return -ENOMEM;
    return 0;
}

static void
fetcher_done(struct fetcher *fe)
{
    for (size_t i = 0; fe->f != NULL && i < fe->n; i++)
        free(fe->f[i].body);
    free(fe->f);
    http_client_free(fe->client);
    if (fe->base != NULL)
        event_base_free(fe->base);
}

static void
sleep_until(double wall)
{
    for (;;) {
        double left = wall - clock_wall_s();
        if (left <= 0)
            return;
        struct timespec ts = {(time_t)left, (long)((left - floor(left)) * 1e9)};
        if (nanosleep(&ts, NULL) == 0)
            return;
    }
}

/* The host's thresholds under the policy, per kind (its [host] overrides included). */
static void
host_thresholds(const struct replay *rp, size_t h, double *ret)
{
    struct host hs;
    memset(&hs, 0, sizeof(hs));
    char name[32];
    host_name(h, name, sizeof(name));
    hs.name = name;
    hs.capacity = rp->dc.hosts[h].total_mips / 1000.0;
    struct host_params hp;
    policy_host_params(&rp->policy, &hs, &hp);
    memcpy(ret, hp.host_threshold, sizeof(hp.host_threshold));
}

/* One observation of every agent: the step's figures and the placement. Samples older than
 * `oldest` (wall time) are not this step's. */
static void
observe(struct replay *rp, struct fetcher *fe, bool scheduled, double oldest, double deadline,
        struct livestat_host *obs, uint32_t *active)
{
    fetch_all(fe, rp->agent_url, rp->n_hosts, scheduled ? "/v1/sample?scheduled=1" : "/v1/sample",
              deadline);
    unsigned checked = policy_resource_mask(&rp->policy) | KIND_BIT(KIND_CPU);
    livestat_place_begin(&rp->ls);
    *active = 0;
    for (size_t h = 0; h < rp->n_hosts; h++) {
        struct livestat_host *o = &obs[h];
        memset(o, 0, sizeof(*o));
        struct wire_sample s;
        struct perr err;
        if (fe->f[h].body == NULL ||
            wire_sample_decode(fe->f[h].body, strlen(fe->f[h].body), &s, &err) < 0)
            continue;
        if (s.time >= oldest) {
            double thr[KIND_COUNT];
            host_thresholds(rp, h, thr);
            o->seen = true;
            o->cpu_pct = s.usage[KIND_CPU];
            for (unsigned k = 0; k < KIND_COUNT; k++)
                o->overloaded |= (checked & KIND_BIT(k)) && s.usage[k] > thr[k];
        }
        /* The trace sample the agents ask for at this sample's time. */
        double k = floor((s.time - (rp->t0 - rp->step_s)) / rp->step_s + 0.5);
        double at = (k < 1 ? 1 : k) * TRACE_STEP_S + HV_TRACE_OFFSET_S;
        for (size_t i = 0; i < s.n_vms; i++) {
            const struct wire_sample_vm *v = &s.vms[i];
            long vi = name_index(v->name, 'v', rp->trace.n_vms);
            if (vi >= 0)
                livestat_place_vm(&rp->ls, (uint32_t)vi, !v->incoming && !v->migrating_out);
            if (o->seen) {
                o->demand_pct += v->demand[KIND_CPU];
                o->served_pct += v->usage[KIND_CPU];
                o->busy |= vi >= 0 && !v->incoming && rp->dc.vms[vi].mips > 0 &&
                           trace_value(&rp->trace, rp->trace.cpu, (size_t)vi, at) > 0;
            }
        }
        *active += o->seen && o->cpu_pct > 0;
        wire_sample_done(&s);
    }
    livestat_place_end(&rp->ls);
}

/* The migrations the system recorded, from the manager or from every peer, into rp->moves
 * (merged by id: a list is the last 1,000). */
static int
collect_moves(struct replay *rp, struct fetcher *fe, json_t *seen, double deadline)
{
    bool peer = rp->mode == REPLAY_PEER;
    size_t n = peer ? rp->n_hosts : 1;
    char(*urls)[128] = peer ? rp->agent_url : &rp->manager_url;
    fetch_all(fe, urls, n, "/v1/migrations?limit=1000", deadline);
    int running = 0;
    for (size_t i = 0; i < n; i++) {
        if (fe->f[i].body == NULL)
            return -EIO;
        json_t *arr = json_loads(fe->f[i].body, 0, NULL);
        size_t k;
        json_t *m;
        json_array_foreach(arr, k, m)
        {
            const char *state = cli_jstr(m, "state");
            if (strcmp(state, "done") != 0 && strcmp(state, "failed") != 0)
                running++;
            (void)json_object_set(seen, cli_jstr(m, "id"), m);
        }
        json_decref(arr);
    }
    return running;
}

/* rp->moves from the records: indices, times and what the VM asked for when it started. */
static int
moves_from(struct replay *rp, json_t *seen)
{
    size_t n = json_object_size(seen);
    free(rp->moves);
    rp->moves = calloc(n + 1, sizeof(*rp->moves));
    if (rp->moves == NULL)
        return -ENOMEM;
    rp->n_moves = 0;
    const char *key;
    json_t *m;
    json_object_foreach(seen, key, m)
    {
        long vm = name_index(cli_jstr(m, "vm"), 'v', rp->trace.n_vms);
        long from = name_index(cli_jstr(m, "from"), 'h', rp->n_hosts);
        long to = name_index(cli_jstr(m, "to"), 'h', rp->n_hosts);
        if (vm < 0 || from < 0 || to < 0)
            continue;
        struct livestat_move *mv = &rp->moves[rp->n_moves++];
        mv->vm = (uint32_t)vm;
        mv->from = (uint32_t)from;
        mv->to = (uint32_t)to;
        mv->started = json_number_value(json_object_get(m, "started"));
        mv->finished = json_number_value(json_object_get(m, "finished"));
        mv->done = strcmp(cli_jstr(m, "state"), "done") == 0;
        if (!(mv->finished >= mv->started))
            mv->finished = mv->started;
        /* What it asked for then: its trace sample of that step, capped at a core of the
         * source per VM core. */
        double j = floor((mv->started - rp->t0) / rp->step_s);
        size_t k = j < 0 ? 1 : (size_t)j + 1;
        const struct dc_vm *dv = &rp->dc.vms[vm];
        const struct power_host_type *t = rp->types[from];
        double req = trace_value(&rp->trace, rp->trace.cpu, (size_t)vm,
                                 (double)k * TRACE_STEP_S + HV_TRACE_OFFSET_S) *
                     dv->mips;
        double cap = t->pe_mips * (dv->pes > 0 ? dv->pes : 1);
        mv->demand_mips = req < cap ? req : cap;
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

/* The hosts known to the manager and up. */
static size_t
hosts_up(struct replay *rp, struct fetcher *fe, double deadline)
{
    fetch_all(fe, &rp->manager_url, 1, "/v1/hosts", deadline);
    json_t *arr = fe->f[0].body != NULL ? json_loads(fe->f[0].body, 0, NULL) : NULL;
    size_t up = 0;
    size_t k;
    json_t *h;
    json_array_foreach(arr, k, h)
    {
        up += strcmp(cli_jstr(h, "state"), "up") == 0;
    }
    json_decref(arr);
    return up;
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
play(struct replay *rp, struct fetcher *fe, struct fetcher *fm, json_t *seen)
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
        sleep_until(start + OBSERVE_AT * rp->step_s);
        uint32_t active = 0;
        observe(rp, fe, true, start - rp->step_s / 2, start + rp->step_s * 0.9, obs, &active);
        livestat_step(&rp->ls, obs);
        uint32_t over = 0;
        for (size_t h = 0; h < rp->n_hosts; h++)
            over += obs[h].seen && obs[h].overloaded;
        /* The migrations, now and then: the manager lists the last 1,000. */
        if (j % 16 == 15)
            (void)collect_moves(rp, fm, seen, start + rp->step_s * 0.95);
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
    struct fetcher fe;
    struct fetcher fm;
    json_t *seen = json_object();
    int r = fetcher_init(&fe, rp->n_hosts, rp->token);
    if (r == 0)
        r = fetcher_init(&fm, rp->mode == REPLAY_PEER ? rp->n_hosts : 1, rp->token);
    if (r < 0 || seen == NULL) {
        cli_error("replay: out of memory");
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    if (rp->mode != REPLAY_PEER) {
        while (hosts_up(rp, &fm, clock_wall_s() + 1.0) < rp->n_hosts &&
               clock_wall_s() < rp->t0 - rp->step_s / 2 && !*rp->stop)
            sleep_until(clock_wall_s() + 0.05);
        size_t up = hosts_up(rp, &fm, clock_wall_s() + 1.0);
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
    while ((running = collect_moves(rp, &fm, seen, clock_wall_s() + 2.0)) != 0 &&
           clock_wall_s() < until)
        sleep_until(clock_wall_s() + rp->step_s / 4);
    if (running < 0) {
        cli_error("replay: the migrations could not be read at the end");
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    struct livestat_host *obs = calloc(rp->n_hosts + 1, sizeof(*obs));
    uint32_t active = 0;
    if (obs == NULL || moves_from(rp, seen) < 0) {
        free(obs);
        cli_error("replay: out of memory");
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    observe(rp, &fe, false, 0, clock_wall_s() + 5.0, obs, &active);
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
    fetcher_done(&fe);
    fetcher_done(&fm);
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

/* ---- results ------------------------------------------------------------------------------ */

static void
live_result(struct replay *rp)
{
    struct sim_run *l = &rp->live;
    l->policy = SIM_VMLOC;
    l->label = "live";
    l->persist_k = rp->policy.persist_k;
    l->persist_n = rp->policy.persist_n;
    l->cooldown_s = rp->policy.cooldown_s;
    l->res.n_hosts = rp->n_hosts;
    l->res.n_vms = rp->trace.n_vms;
    l->res.points = rp->points;
    l->res.n_points = rp->n_points;
    l->res.wall_s = rp->wall_s;
    livestat_totals(&rp->ls, rp->moves, rp->n_moves, rp->step_s / TRACE_STEP_S, &l->res.stats);
    l->overloaded_host_steps = (double)rp->ls.overloaded_host_steps;
    struct replay_invariants *inv = &rp->inv;
    inv->vm_on_two_hosts = rp->ls.max_hosts_per_vm;
    inv->lost_vms = livestat_lost(&rp->ls);
    inv->failed_migrations = livestat_failed(rp->moves, rp->n_moves);
    inv->missed_observations = rp->ls.missed_observations;
    if (livestat_returns(rp->moves, rp->n_moves, rp->policy.cooldown_s,
                         &inv->returns_within_cooldown) < 0)
        inv->returns_within_cooldown = SIZE_MAX; /* not known: the invariant is not shown */
}

static bool
invariants_hold(const struct replay_invariants *inv)
{
    return inv->vm_on_two_hosts <= 1 && inv->lost_vms == 0 && inv->returns_within_cooldown == 0;
}

static json_t *
invariants_json(const struct replay_invariants *inv)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:b}", "vm_on_two_hosts",
                     (json_int_t)inv->vm_on_two_hosts, "lost_vms", (json_int_t)inv->lost_vms,
                     "returns_within_cooldown", (json_int_t)inv->returns_within_cooldown,
                     "failed_migrations", (json_int_t)inv->failed_migrations, "missed_observations",
                     (json_int_t)inv->missed_observations, "hold", invariants_hold(inv));
}

static void
ratio(double a, double b, char *buf, size_t len)
{
    if (b > 0)
        (void)snprintf(buf, len, "%.2f", a / b);
    else
        (void)snprintf(buf, len, a > 0 ? "-" : "=");
}

static void
print_table(const struct replay *rp)
{
    const struct dc_stats *l = &rp->live.res.stats;
    const struct dc_stats *s = &rp->sim.res.stats;
    (void)printf("vmloc replay: %s (%s), %zu VMs on %zu hosts, %zu steps of %g s, %s mode\n\n",
                 rp->trace_dir, rp->format == TRACE_BITBRAINS ? "bitbrains" : "planetlab",
                 rp->trace.n_vms, rp->n_hosts, rp->n_steps, rp->step_s, replay_mode_name(rp->mode));
    (void)printf("%-24s %12s %12s %9s\n", "", "live", "simulator", "live/sim");
    struct {
        const char *name;
        double a, b;
        int decimals;
    } rows[] = {
        {"energy kWh", l->energy_kwh, s->energy_kwh, 3},
        {"migrations", (double)l->migrations, (double)s->migrations, 0},
        {"SLATAH %", l->slatah * 100, s->slatah * 100, 4},
        {"PDM %", l->pdm * 100, s->pdm * 100, 5},
        {"overloaded host-steps", rp->live.overloaded_host_steps, rp->sim.overloaded_host_steps, 0},
        {"host shutdowns", (double)l->host_shutdowns, (double)s->host_shutdowns, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char r[32];
        ratio(rows[i].a, rows[i].b, r, sizeof(r));
        (void)printf("%-24s %12.*f %12.*f %9s\n", rows[i].name, rows[i].decimals, rows[i].a,
                     rows[i].decimals, rows[i].b, r);
    }
    const struct replay_invariants *inv = &rp->inv;
    (void)printf("\ninvariants: vm_on_two_hosts %u, lost_vms %zu, returns_within_cooldown %zu, "
                 "failed_migrations %zu: %s\n",
                 (unsigned)inv->vm_on_two_hosts, inv->lost_vms, inv->returns_within_cooldown,
                 inv->failed_migrations, invariants_hold(inv) ? "hold" : "VIOLATED");
    if (inv->missed_observations > 0)
        (void)printf("observations: %llu host-steps without a fresh sample (counted as the step "
                     "before)\n",
                     (unsigned long long)inv->missed_observations);
    (void)printf("wall time %.1f s (simulator %.3f s)\n", rp->live.res.wall_s, rp->sim.res.wall_s);
}

int
replay_output(struct replay *rp)
{
    live_result(rp);
    if (rp->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:f,s:o,s:o,s:o}", "trace", rp->trace_dir,
                              "format", rp->format == TRACE_BITBRAINS ? "bitbrains" : "planetlab",
                              "mode", replay_mode_name(rp->mode), "hosts", (json_int_t)rp->n_hosts,
                              "vms", (json_int_t)rp->trace.n_vms, "steps", (json_int_t)rp->n_steps,
                              "step_s", rp->step_s, "live", sim_run_json(&rp->live), "sim",
                              sim_run_json(&rp->sim), "invariants", invariants_json(&rp->inv));
        char *s = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
        json_decref(o);
        if (s == NULL) {
            cli_error("replay: out of memory");
            return CLI_EXIT_FAIL;
        }
        (void)printf("%s\n", s);
        free(s);
    } else {
        print_table(rp);
    }
    int ret = CLI_EXIT_OK;
    if (rp->report != NULL) {
        struct sim_run runs[2] = {rp->live, rp->sim};
        char title[4200];
        (void)snprintf(title, sizeof(title), "%s (replay, %s mode, %zu steps of %g s)",
                       rp->trace_dir, replay_mode_name(rp->mode), rp->n_steps, rp->step_s);
        int r = sim_report_write(rp->report, title, runs, 2);
        if (r < 0) {
            cli_error("replay: %s: %s", rp->report, strerror(-r));
            ret = CLI_EXIT_FAIL;
        }
    }
    /* The live run's series belongs to rp->points, freed once. */
    rp->live.res.points = NULL;
    rp->live.res.n_points = 0;
    if (!invariants_hold(&rp->inv)) {
        cli_error("replay: invariants violated: %s%s%s",
                  rp->inv.vm_on_two_hosts > 1 ? "a VM ran on two hosts at once; " : "",
                  rp->inv.lost_vms > 0 ? "VMs were lost; " : "",
                  rp->inv.returns_within_cooldown > 0 ? "VMs came back within the cooldown" : "");
        return CLI_EXIT_FAIL;
    }
    return ret;
}
