/* bench_reaction: the method's reaction time with real daemons, in each deployment. Three
 * vmloc agents (simulated hypervisors, 3 VMs each) run on 127.0.0.1 with a vmloc manager
 * (central and edge modes) or none (peer mode); each repetition raises the demand of two VMs
 * of one host so that the host is in conflict, and measures the time from the return of the
 * second load call (POST /v1/vms/NAME/load, what `vmloc load` sends) to the "started" time of
 * the migration ordered for it (GET /v1/migrations on the manager, or on the agents in peer
 * mode; both wall clock on this machine). It then waits for the migration to finish, lowers
 * the demand again and waits until the cluster is calm with no migration in flight before
 * the next repetition: every wait polls with a deadline. The load rises at a uniformly random
 * moment of the longer of the two intervals (--phase random, a fixed-seed generator), or
 * just after the cluster
 * was seen calm (--phase after-round, the worst case).
 *
 * Where the time goes: in central mode the manager detects at the end of each collection
 * round, so a conflict waits up to one interval for the next round; in edge and peer modes
 * the agent detects at its next sample, so it waits up to one agent interval, then notifies
 * (edge) or gathers its peers' samples and locks the destination (peer). The order time
 * bounds the detection time from above. Target, for every mode: interval + 50 ms (p99). A
 * benchmark, not a gate: it exits 0 once the options parse (2 for bad options). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

#define N_HOSTS 3
#define VMS_PER_HOST 3
#define N_VMS (N_HOSTS * VMS_PER_HOST)
#define MAX_INTERVALS 8
#define MAX_SETTINGS (MAX_INTERVALS * N_MODES)
#define MAX_REPS 10000
#define BASE_CPU 10.0    /* every VM's demand between repetitions: hosts at 32 % */
#define HIGH_CPU 40.0    /* two VMs at 40 %: the host is at 92 %, in conflict (80 %, 2 VMs >= 20) */
#define BANDWIDTH "8192" /* MiB/s: a 1024 MiB VM moves in 0.125 s */
#define TARGET_SLACK_MS 50.0
#define HTTP_TIMEOUT 5.0

struct vmrec {
    char name[16];
    int host; /* index into hosts[] */
};

enum mode { MODE_CENTRAL, MODE_EDGE, MODE_EDGE_NOTIFIED, MODE_PEER };
#define N_MODES 4
static const char *const mode_names[] = {"central", "edge", "edge-notified", "peer"};

struct cluster {
    enum mode mode;
    struct bench_daemon manager; /* not started in peer mode */
    struct bench_daemon agents[N_HOSTS];
    char host_names[N_HOSTS][8];
    struct vmrec vms[N_VMS];
    char **seen_ids; /* migration ids already counted */
    size_t n_seen;
    double interval;
};

struct result {
    enum mode mode;
    double interval;
    int reps;
    int ordered;
    int done;
    int failed;
    int no_order;
    int unexpected;
    double *reaction_ms; /* load call returned -> manager ordered */
    double *deliver_ms;  /* load call returned -> source agent accepted the order */
    size_t n_deliver;
    double *load_call_ms; /* duration of the second load call */
    double p50, p99, max, min, mean;
    double deliver_p50, deliver_p99;
    double target_ms;
    bool pass;
    bool setup_failed;
    double rounds_per_s; /* the manager's collection rounds per second; NAN in peer mode */
};

static bool verbose = false;
/* The manager's collection interval when it differs from the agents' (0: the same). */
static double manager_interval = 0;
/* Conflicts arrive at a uniformly random moment of the manager's round (true), or right after
 * the round that saw the cluster calm (false: the worst case, about one interval). */
static bool random_phase = true;
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

/* ---- cluster ------------------------------------------------------------------------- */

/* The longer of the agents' and the manager's intervals: deadlines scale with it. */
static double
slowest(const struct cluster *c)
{
    return manager_interval > c->interval ? manager_interval : c->interval;
}

static bool
seen(const struct cluster *c, const char *id)
{
    for (size_t i = 0; i < c->n_seen; i++) {
        if (strcmp(c->seen_ids[i], id) == 0)
            return true;
    }
    return false;
}

static void
mark_seen(struct cluster *c, const char *id)
{
    char **n = realloc(c->seen_ids, (c->n_seen + 1) * sizeof(*n));
    if (n == NULL)
        return;
    c->seen_ids = n;
    c->seen_ids[c->n_seen] = strdup(id);
    if (c->seen_ids[c->n_seen] != NULL)
        c->n_seen++;
}

static int
host_index(const struct cluster *c, const char *name)
{
    for (int i = 0; i < N_HOSTS; i++) {
        if (strcmp(c->host_names[i], name) == 0)
            return i;
    }
    return -1;
}

static int
vm_index(const struct cluster *c, const char *name)
{
    for (int i = 0; i < N_VMS; i++) {
        if (strcmp(c->vms[i].name, name) == 0)
            return i;
    }
    return -1;
}

static int
set_load(const struct cluster *c, int vm, double cpu)
{
    char path[96];
    char body[64];
    (void)snprintf(path, sizeof(path), "/v1/vms/%s/load", c->vms[vm].name);
    (void)snprintf(body, sizeof(body), "{\"cpu\": %g}", cpu);
    int st = bench_http(c->agents[c->vms[vm].host].url, "POST", path, body, HTTP_TIMEOUT, NULL);
    if (st != 200) {
        (void)fprintf(stderr, "bench_reaction: load of %s on %s: status %d\n", c->vms[vm].name,
                      c->host_names[c->vms[vm].host], st);
        return -1;
    }
    return 0;
}

/* Asking the agents (peer mode, and edge mode when the manager collects only on
 * notification): does every agent answer, idle and out of conflict, with its VMs where we
 * think they are, running at their base demand? */
static bool
agents_calm(struct cluster *c)
{
    size_t total = 0;
    for (int h = 0; h < N_HOSTS; h++) {
        json_t *hj = NULL;
        bool ok =
            bench_http(c->agents[h].url, "GET", "/v1/health", NULL, HTTP_TIMEOUT, &hj) == 200 &&
            !json_is_true(json_object_get(hj, "in_conflict"));
        /* Peer agents also say whether a decision of theirs is under way. */
        const char *phase = json_string_value(json_object_get(hj, "phase"));
        ok = ok && (phase == NULL || strcmp(phase, "idle") == 0);
        /* ...and list every other agent (the peers file is read). */
        json_t *listed = json_object_get(hj, "peers");
        ok = ok && (listed == NULL || json_integer_value(listed) == N_HOSTS - 1);
        json_decref(hj);
        json_t *vms = NULL;
        if (!ok ||
            bench_http(c->agents[h].url, "GET", "/v1/vms", NULL, HTTP_TIMEOUT, &vms) != 200) {
            json_decref(vms);
            return false;
        }
        for (size_t i = 0; i < json_array_size(vms) && ok; i++) {
            json_t *o = json_array_get(vms, i);
            const char *name = json_string_value(json_object_get(o, "name"));
            const char *st = json_string_value(json_object_get(o, "state"));
            double cpu = json_number_value(json_object_get(json_object_get(o, "demand"), "cpu"));
            int vi = name != NULL ? vm_index(c, name) : -1;
            if (vi < 0 || c->vms[vi].host != h || st == NULL || strcmp(st, "running") != 0 ||
                fabs(cpu - BASE_CPU) > 1e-6)
                ok = false;
        }
        total += json_array_size(vms);
        json_decref(vms);
        if (!ok)
            return false;
    }
    return total == N_VMS;
}

/* Does the manager see every VM where we think it is, at its base demand and running, with
 * no migration in flight and no host in conflict? (Peer mode: ask the agents.) */
static bool
cluster_calm(struct cluster *c)
{
    if (c->mode == MODE_PEER)
        return agents_calm(c);
    json_t *h = NULL;
    if (bench_http(c->manager.url, "GET", "/v1/health", NULL, HTTP_TIMEOUT, &h) != 200) {
        json_decref(h);
        return false;
    }
    json_int_t active = json_integer_value(json_object_get(h, "active_migrations"));
    json_decref(h);
    if (active != 0)
        return false;
    if (c->mode == MODE_EDGE_NOTIFIED)
        return agents_calm(c); /* the manager's view is only as fresh as its last round */
    json_t *hosts = NULL;
    if (bench_http(c->manager.url, "GET", "/v1/hosts", NULL, HTTP_TIMEOUT, &hosts) != 200 ||
        json_array_size(hosts) != N_HOSTS) {
        json_decref(hosts);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < json_array_size(hosts) && ok; i++) {
        json_t *o = json_array_get(hosts, i);
        const char *st = json_string_value(json_object_get(o, "state"));
        if (st == NULL || strcmp(st, "up") != 0 || json_is_true(json_object_get(o, "in_conflict")))
            ok = false;
    }
    json_decref(hosts);
    if (!ok)
        return false;
    json_t *vms = NULL;
    if (bench_http(c->manager.url, "GET", "/v1/vms", NULL, HTTP_TIMEOUT, &vms) != 200 ||
        json_array_size(vms) != N_VMS) {
        json_decref(vms);
        return false;
    }
    for (size_t i = 0; i < json_array_size(vms) && ok; i++) {
        json_t *o = json_array_get(vms, i);
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *host = json_string_value(json_object_get(o, "host"));
        const char *st = json_string_value(json_object_get(o, "state"));
        double cpu = json_number_value(json_object_get(json_object_get(o, "demand"), "cpu"));
        int vi = name != NULL ? vm_index(c, name) : -1;
        int hi = host != NULL ? host_index(c, host) : -1;
        if (vi < 0 || hi != c->vms[vi].host || st == NULL || strcmp(st, "running") != 0 ||
            fabs(cpu - BASE_CPU) > 1e-6)
            ok = false;
    }
    json_decref(vms);
    return ok;
}

static bool
wait_calm(struct cluster *c, double timeout_s)
{
    double deadline = bench_mono_s() + timeout_s;
    for (;;) {
        if (cluster_calm(c))
            return true;
        if (bench_mono_s() > deadline)
            return false;
        bench_pause_ms(20);
    }
}

struct mig {
    char id[72];
    char vm[16];
    char from[8];
    char to[8];
    char state[16];
    double started;
};

/* Every migration ordered: the manager's list, or in peer mode the agents' lists joined.
 * NULL when a daemon does not answer. */
static json_t *
all_migrations(const struct cluster *c)
{
    if (c->mode != MODE_PEER) {
        json_t *arr = NULL;
        if (bench_http(c->manager.url, "GET", "/v1/migrations", NULL, HTTP_TIMEOUT, &arr) != 200 ||
            !json_is_array(arr)) {
            json_decref(arr);
            return NULL;
        }
        return arr;
    }
    json_t *all = json_array();
    for (int h = 0; h < N_HOSTS && all != NULL; h++) {
        json_t *arr = NULL;
        if (bench_http(c->agents[h].url, "GET", "/v1/migrations", NULL, HTTP_TIMEOUT, &arr) !=
                200 ||
            !json_is_array(arr)) {
            json_decref(all);
            all = NULL;
        } else {
            (void)json_array_extend(all, arr);
        }
        json_decref(arr);
    }
    return all;
}

/* The first migration ordered that is not in c->seen_ids. 1 found, 0 none, -1 error. */
static int
find_new_migration(struct cluster *c, struct mig *ret)
{
    json_t *arr = all_migrations(c);
    if (arr == NULL)
        return -1;
    int found = 0;
    for (size_t i = 0; i < json_array_size(arr) && !found; i++) {
        json_t *o = json_array_get(arr, i);
        const char *id = json_string_value(json_object_get(o, "id"));
        if (id == NULL || seen(c, id))
            continue;
        memset(ret, 0, sizeof(*ret));
        (void)snprintf(ret->id, sizeof(ret->id), "%s", id);
        const char *s = json_string_value(json_object_get(o, "vm"));
        (void)snprintf(ret->vm, sizeof(ret->vm), "%s", s != NULL ? s : "");
        s = json_string_value(json_object_get(o, "from"));
        (void)snprintf(ret->from, sizeof(ret->from), "%s", s != NULL ? s : "");
        s = json_string_value(json_object_get(o, "to"));
        (void)snprintf(ret->to, sizeof(ret->to), "%s", s != NULL ? s : "");
        s = json_string_value(json_object_get(o, "state"));
        (void)snprintf(ret->state, sizeof(ret->state), "%s", s != NULL ? s : "");
        ret->started = json_number_value(json_object_get(o, "started"));
        found = 1;
    }
    json_decref(arr);
    return found;
}

/* The state of migration `id` ("" when not listed). */
static void
migration_state(const struct cluster *c, const char *id, char *state, size_t len)
{
    state[0] = '\0';
    json_t *arr = all_migrations(c);
    if (arr != NULL) {
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *o = json_array_get(arr, i);
            const char *mid = json_string_value(json_object_get(o, "id"));
            const char *st = json_string_value(json_object_get(o, "state"));
            if (mid != NULL && st != NULL && strcmp(mid, id) == 0)
                (void)snprintf(state, len, "%s", st);
        }
    }
    json_decref(arr);
}

/* When the source agent accepted migration `id` (its own "started"); NAN if it cannot say
 * within `timeout_s`. */
static double
agent_started(const struct cluster *c, int host, const char *id, double timeout_s)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/migrations/%s", id);
    double deadline = bench_mono_s() + timeout_s;
    for (;;) {
        json_t *o = NULL;
        int st = bench_http(c->agents[host].url, "GET", path, NULL, HTTP_TIMEOUT, &o);
        double t = st == 200 ? json_number_value(json_object_get(o, "started")) : NAN;
        json_decref(o);
        if (st == 200)
            return t;
        if (bench_mono_s() > deadline)
            return NAN;
        bench_pause_ms(5);
    }
}

static void
cluster_stop(struct cluster *c)
{
    for (int i = 0; i < N_HOSTS; i++) {
        if (c->agents[i].pid > 0 && bench_daemon_stop(&c->agents[i], 5.0) != 0)
            (void)fprintf(stderr, "bench_reaction: agent %s did not stop cleanly\n",
                          c->host_names[i]);
    }
    if (c->manager.pid > 0 && bench_daemon_stop(&c->manager, 5.0) != 0)
        (void)fprintf(stderr, "bench_reaction: the manager did not stop cleanly\n");
    for (size_t i = 0; i < c->n_seen; i++)
        free(c->seen_ids[i]);
    free(c->seen_ids);
    c->seen_ids = NULL;
    c->n_seen = 0;
}

static int
cluster_start(struct cluster *c, const char *bin, const char *dir, double interval, enum mode mode)
{
    memset(c, 0, sizeof(*c));
    c->interval = interval;
    c->mode = mode;
    char iv[32];
    char data[640];
    char log[640];
    /* The daemons' mode: edge-notified is edge with a manager that collects on notification. */
    const char *mname = mode == MODE_EDGE_NOTIFIED ? "edge" : mode_names[mode];
    const char *collect = mode == MODE_EDGE_NOTIFIED ? "notified" : "interval";
    char miv[32];
    (void)snprintf(iv, sizeof(iv), "%g", interval);
    (void)snprintf(miv, sizeof(miv), "%g", manager_interval > 0 ? manager_interval : interval);
    (void)snprintf(data, sizeof(data), "%s/data", dir);
    (void)snprintf(log, sizeof(log), "%s/manager.log", dir);
    /* The default policy, but for the anti-flapping: each repetition moves one of the same nine
     * VMs, dozens of times a minute, so the cooldown and the storm guard (which rightly stop
     * that in a cluster) would leave repetitions without a migration to time. */
    char policy[700];
    (void)snprintf(policy, sizeof(policy), "%s/policy.ini", dir);
    FILE *pf = fopen(policy, "w");
    if (pf == NULL ||
        fputs("[relocate]\ncooldown = 0\nmax_moves_per_vm = 16\nstorm_window = 1\n", pf) < 0 ||
        fclose(pf) != 0)
        return -1;
    const char *margv[] = {"manager",    "--listen", "127.0.0.1:0", "--data", data,
                           "--interval", miv,        "--mode",      mname,    "--config",
                           policy,       NULL,       NULL,          NULL};
    if (mode != MODE_CENTRAL) {
        margv[11] = "--collect";
        margv[12] = collect;
    }
    if (mode != MODE_PEER && bench_daemon_start(&c->manager, bin, margv, log, 10.0) < 0)
        return -1;
    /* Every agent binds a port the kernel chooses; peers learn each other from a peers file
     * written once all of them listen. */
    char pdata[N_HOSTS][700];
    char peers_file[700];
    (void)snprintf(peers_file, sizeof(peers_file), "%s/peers", dir);
    for (int h = 0; h < N_HOSTS; h++)
        (void)snprintf(pdata[h], sizeof(pdata[h]), "%s/data-h%d", dir, h + 1);
    char specs[N_HOSTS][VMS_PER_HOST][64];
    for (int h = 0; h < N_HOSTS; h++) {
        (void)snprintf(c->host_names[h], sizeof(c->host_names[h]), "h%d", h + 1);
        const char *argv[40];
        int n = 0;
        argv[n++] = "agent";
        argv[n++] = "--name";
        argv[n++] = c->host_names[h];
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
        argv[n++] = "--mode";
        argv[n++] = mname;
        if (mode == MODE_PEER) {
            argv[n++] = "--data";
            argv[n++] = pdata[h];
            argv[n++] = "--peers-file";
            argv[n++] = peers_file;
        } else {
            argv[n++] = "--manager";
            argv[n++] = c->manager.url;
        }
        argv[n++] = "--interval";
        argv[n++] = iv;
        argv[n++] = "--bandwidth";
        argv[n++] = BANDWIDTH;
        argv[n++] = "--config";
        argv[n++] = policy;
        for (int v = 0; v < VMS_PER_HOST; v++) {
            struct vmrec *r = &c->vms[h * VMS_PER_HOST + v];
            (void)snprintf(r->name, sizeof(r->name), "h%dv%d", h + 1, v + 1);
            r->host = h;
            (void)snprintf(specs[h][v], sizeof(specs[h][v]), "%s:cpu=%g,mem=1024", r->name,
                           BASE_CPU);
            argv[n++] = "--vm";
            argv[n++] = specs[h][v];
        }
        argv[n] = NULL;
        (void)snprintf(log, sizeof(log), "%s/agent-%s.log", dir, c->host_names[h]);
        if (bench_daemon_start(&c->agents[h], bin, argv, log, 10.0) < 0) {
            cluster_stop(c);
            return -1;
        }
    }
    if (mode == MODE_PEER) {
        const struct bench_daemon *ds[N_HOSTS];
        for (int h = 0; h < N_HOSTS; h++)
            ds[h] = &c->agents[h];
        if (bench_share_peers(peers_file, ds, N_HOSTS) < 0) {
            cluster_stop(c);
            return -1;
        }
    }
    /* Agents register at start; the manager has them after its next round. */
    if (!wait_calm(c, 10.0 + 5.0 * slowest(c))) {
        (void)fprintf(stderr, "bench_reaction: %s mode: the cluster was not calm in time\n", mname);
        bench_daemon_tail_log(mode == MODE_PEER ? &c->agents[0] : &c->manager, 20);
        cluster_stop(c);
        return -1;
    }
    return 0;
}

/* The host with the most VMs (ties: the next one after `rep`'s turn). */
static int
pick_source(const struct cluster *c, int rep)
{
    int best = -1;
    int best_n = 0;
    for (int k = 0; k < N_HOSTS; k++) {
        int h = (rep + k) % N_HOSTS;
        int n = 0;
        for (int v = 0; v < N_VMS; v++)
            n += c->vms[v].host == h;
        if (n > best_n) {
            best = h;
            best_n = n;
        }
    }
    return best_n >= 2 ? best : -1;
}

/* One repetition. 1: measured; 0: no order came (counted); -1: the cluster is unusable. */
static int
one_rep(struct cluster *c, int rep, struct result *res, bool count)
{
    int src = pick_source(c, rep);
    if (src < 0)
        return -1;
    int pair[2];
    int k = 0;
    for (int v = 0; v < N_VMS && k < 2; v++) {
        if (c->vms[v].host == src)
            pair[k++] = v;
    }
    /* The arrival phase: wait_calm() returned just after a round ended. */
    if (random_phase)
        bench_pause_ms((int)(bench_rng_unit(&rng_state) * slowest(c) * 1000.0));
    if (set_load(c, pair[0], HIGH_CPU) < 0)
        return -1;
    double call_start = bench_wall_s();
    if (set_load(c, pair[1], HIGH_CPU) < 0)
        return -1;
    double t_load = bench_wall_s();
    /* The order: the manager's next round, or the source agent's next sample, must see the
     * conflict. */
    struct mig m;
    int found = 0;
    double deadline = bench_mono_s() + 5.0 * slowest(c) + 5.0;
    while (found == 0 && bench_mono_s() < deadline) {
        found = find_new_migration(c, &m);
        if (found <= 0)
            bench_pause_ms(10);
    }
    int ret = 1;
    if (found <= 0) {
        (void)fprintf(stderr, "bench_reaction: rep %d: no migration ordered for %s within %.1f s\n",
                      rep, c->host_names[src], 5.0 * slowest(c) + 5.0);
        if (count)
            res->no_order++;
        ret = 0;
    } else {
        mark_seen(c, m.id);
        int vi = vm_index(c, m.vm);
        int from = host_index(c, m.from);
        int to = host_index(c, m.to);
        if (vi < 0 || from != src || to < 0 || (vi != pair[0] && vi != pair[1])) {
            (void)fprintf(stderr,
                          "bench_reaction: rep %d: unexpected migration %s of %s from %s to %s\n",
                          rep, m.id, m.vm, m.from, m.to);
            if (count)
                res->unexpected++;
        }
        double t_agent = agent_started(c, src, m.id, 2.0);
        if (count) {
            res->reaction_ms[res->ordered] = (m.started - t_load) * 1000.0;
            res->load_call_ms[res->ordered] = (t_load - call_start) * 1000.0;
            res->ordered++;
            if (!isnan(t_agent))
                res->deliver_ms[res->n_deliver++] = (t_agent - t_load) * 1000.0;
        }
        if (verbose)
            (void)fprintf(stderr,
                          "rep %3d%s: %s %s->%s ordered after %8.2f ms, accepted after %8.2f ms\n",
                          rep, count ? "" : " (warm-up)", m.vm, m.from, m.to,
                          (m.started - t_load) * 1000.0, (t_agent - t_load) * 1000.0);
        /* Its end: the manager follows it every round. */
        char state[16] = "";
        deadline = bench_mono_s() + 10.0 * slowest(c) + 10.0;
        while (bench_mono_s() < deadline) {
            migration_state(c, m.id, state, sizeof(state));
            if (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0)
                break;
            bench_pause_ms(10);
        }
        if (strcmp(state, "done") == 0) {
            if (vi >= 0 && to >= 0)
                c->vms[vi].host = to;
            if (count)
                res->done++;
        } else {
            (void)fprintf(stderr, "bench_reaction: rep %d: migration %s ended as '%s'\n", rep, m.id,
                          state[0] != '\0' ? state : "(still running)");
            if (count)
                res->failed++;
            if (state[0] == '\0' || strcmp(state, "failed") != 0)
                return -1;
        }
    }
    /* Calm again: both VMs back to the base demand, wherever they run now. */
    if (set_load(c, pair[0], BASE_CPU) < 0 || set_load(c, pair[1], BASE_CPU) < 0)
        return -1;
    if (!wait_calm(c, 10.0 * slowest(c) + 10.0)) {
        (void)fprintf(stderr, "bench_reaction: rep %d: the cluster did not calm down\n", rep);
        return -1;
    }
    return ret;
}

static void
summarize(struct result *r)
{
    size_t n = (size_t)r->ordered;
    double *tmp = malloc((n + 1) * sizeof(*tmp));
    if (tmp == NULL)
        return;
    memcpy(tmp, r->reaction_ms, n * sizeof(*tmp));
    r->p50 = bench_percentile(tmp, n, 50);
    r->p99 = bench_percentile(tmp, n, 99);
    r->min = n > 0 ? tmp[0] : 0.0;
    r->max = n > 0 ? tmp[n - 1] : 0.0;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += tmp[i];
    r->mean = n > 0 ? sum / (double)n : 0.0;
    free(tmp);
    tmp = malloc((r->n_deliver + 1) * sizeof(*tmp));
    if (tmp != NULL) {
        memcpy(tmp, r->deliver_ms, r->n_deliver * sizeof(*tmp));
        r->deliver_p50 = bench_percentile(tmp, r->n_deliver, 50);
        r->deliver_p99 = bench_percentile(tmp, r->n_deliver, 99);
        free(tmp);
    }
    /* Central mode waits for the manager's round; edge and peer for the agent's sample. */
    double wait_s =
        r->mode == MODE_CENTRAL && manager_interval > 0 ? manager_interval : r->interval;
    r->target_ms = wait_s * 1000.0 + TARGET_SLACK_MS;
    /* Every repetition must get its order, and the slowest one (p99) within the target. */
    r->pass = !r->setup_failed && r->ordered == r->reps && r->p99 <= r->target_ms;
}

static void
run_setting(const char *bin, const char *root, enum mode mode, double interval, int reps,
            int warmup, bool keep, struct result *r)
{
    memset(r, 0, sizeof(*r));
    r->mode = mode;
    r->interval = interval;
    r->reps = reps;
    r->reaction_ms = calloc((size_t)reps + 1, sizeof(double));
    r->deliver_ms = calloc((size_t)reps + 1, sizeof(double));
    r->load_call_ms = calloc((size_t)reps + 1, sizeof(double));
    char dir[512];
    (void)snprintf(dir, sizeof(dir), "%s/%s-interval-%g", root, mode_names[mode], interval);
    if (r->reaction_ms == NULL || r->deliver_ms == NULL || r->load_call_ms == NULL ||
        mkdir(dir, 0755) < 0) {
        r->setup_failed = true;
        return;
    }
    struct cluster c;
    double t_start = bench_mono_s();
    if (cluster_start(&c, bin, dir, interval, mode) < 0) {
        r->setup_failed = true;
        return;
    }
    if (!verbose)
        (void)fprintf(stderr, "%s, interval %g s: ", mode_names[mode], interval);
    for (int rep = -warmup; rep < reps; rep++) {
        int k = one_rep(&c, rep, r, rep >= 0);
        if (k < 0) {
            (void)fprintf(stderr,
                          "bench_reaction: stopping this interval after rep %d; logs in %s\n", rep,
                          dir);
            bench_daemon_tail_log(mode == MODE_PEER ? &c.agents[0] : &c.manager, 10);
            r->setup_failed = true;
            keep = true;
            break;
        }
        if (!verbose)
            (void)fputc('.', stderr);
    }
    if (!verbose)
        (void)fputc('\n', stderr);
    r->rounds_per_s = NAN;
    if (mode != MODE_PEER) {
        json_t *h = NULL;
        if (bench_http(c.manager.url, "GET", "/v1/health", NULL, HTTP_TIMEOUT, &h) == 200)
            r->rounds_per_s = (double)json_integer_value(json_object_get(h, "rounds")) /
                              (bench_mono_s() - t_start);
        json_decref(h);
    }
    cluster_stop(&c);
    if (!keep) {
        char data[600];
        (void)snprintf(data, sizeof(data), "%s/data", dir);
        bench_rm_rf(data);
        for (int h = 0; h < N_HOSTS; h++) {
            (void)snprintf(data, sizeof(data), "%s/data-h%d", dir, h + 1);
            bench_rm_rf(data);
        }
    }
    summarize(r);
}

/* ---- output -------------------------------------------------------------------------- */

static void
print_table(const struct result *rs, size_t n, int reps, int warmup)
{
    (void)printf("bench_reaction: %d agents (%d VMs each) on 127.0.0.1, with a vmloc manager "
                 "(central, edge) or none (peer); %d repetitions per setting (+%d warm-up), %s "
                 "phase",
                 N_HOSTS, VMS_PER_HOST, reps, warmup, random_phase ? "random" : "after-round");
    if (manager_interval > 0)
        (void)printf("; the manager collects every %g s", manager_interval);
    (void)printf("\n");
    (void)printf("reaction = load call returned -> migration ordered (its \"started\"; in peer "
                 "mode the source agent's own decision)\n\n");
    (void)printf("%-13s %9s %5s %7s %8s %8s %8s %8s %8s %10s %10s %9s %8s %7s\n", "mode",
                 "interval", "reps", "ordered", "min_ms", "p50_ms", "mean_ms", "p99_ms", "max_ms",
                 "accept_p50", "accept_p99", "target_ms", "rounds/s", "verdict");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &rs[i];
        if (r->setup_failed && r->ordered == 0) {
            (void)printf("%-13s %7g s %5d %7s  (setup failed, see the messages above)\n",
                         mode_names[r->mode], r->interval, r->reps, "-");
            continue;
        }
        char rps[32] = "-"; /* peer mode: no manager, no rounds */
        if (!isnan(r->rounds_per_s))
            (void)snprintf(rps, sizeof(rps), "%.2f", r->rounds_per_s);
        (void)printf("%-13s %7g s %5d %7d %8.1f %8.1f %8.1f %8.1f %8.1f %10.1f %10.1f %9.0f %8s "
                     "%7s\n",
                     mode_names[r->mode], r->interval, r->reps, r->ordered, r->min, r->p50, r->mean,
                     r->p99, r->max, r->deliver_p50, r->deliver_p99, r->target_ms, rps,
                     r->pass ? "PASS" : "MISS");
    }
    (void)printf("\n");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &rs[i];
        (void)printf("%s, interval %g s: %s", mode_names[r->mode], r->interval,
                     r->pass ? "PASS" : "MISS");
        if (r->ordered > 0)
            (void)printf(" (p99 %.1f ms against %.0f ms; %d done, %d failed", r->p99, r->target_ms,
                         r->done, r->failed);
        if (r->no_order > 0)
            (void)printf(", %d without an order", r->no_order);
        if (r->unexpected > 0)
            (void)printf(", %d unexpected", r->unexpected);
        (void)printf(r->ordered > 0 ? ")\n" : "\n");
    }
}

static void
print_array(const double *v, size_t n)
{
    (void)printf("[");
    for (size_t i = 0; i < n; i++)
        (void)printf("%s%.3f", i > 0 ? "," : "", v[i]);
    (void)printf("]");
}

static void
print_json(const struct result *rs, size_t n, int reps, int warmup)
{
    (void)printf("{\"bench\":\"reaction\",\"agents\":%d,\"vms_per_agent\":%d,\"reps\":%d,"
                 "\"warmup\":%d,\"phase\":\"%s\",\"settings\":[",
                 N_HOSTS, VMS_PER_HOST, reps, warmup, random_phase ? "random" : "after-round");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &rs[i];
        char rps[32] = "null"; /* peer mode: no manager, no rounds */
        if (!isnan(r->rounds_per_s))
            (void)snprintf(rps, sizeof(rps), "%.3f", r->rounds_per_s);
        (void)printf("%s{\"mode\":\"%s\",\"interval_s\":%g,\"reps\":%d,\"ordered\":%d,\"done\":%d,"
                     "\"failed\":%d,"
                     "\"no_order\":%d,\"unexpected\":%d,\"setup_failed\":%s,\"min_ms\":%.3f,"
                     "\"p50_ms\":%.3f,\"mean_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
                     "\"accept_p50_ms\":%.3f,\"accept_p99_ms\":%.3f,\"target_ms\":%.1f,"
                     "\"rounds_per_s\":%s,\"verdict\":\"%s\",\"reaction_ms\":",
                     i > 0 ? "," : "", mode_names[r->mode], r->interval, r->reps, r->ordered,
                     r->done, r->failed, r->no_order, r->unexpected,
                     r->setup_failed ? "true" : "false", r->min, r->p50, r->mean, r->p99, r->max,
                     r->deliver_p50, r->deliver_p99, r->target_ms, rps, r->pass ? "PASS" : "MISS");
        print_array(r->reaction_ms, (size_t)r->ordered);
        (void)printf(",\"accept_ms\":");
        print_array(r->deliver_ms, r->n_deliver);
        (void)printf(",\"load_call_ms\":");
        print_array(r->load_call_ms, (size_t)r->ordered);
        (void)printf("}");
    }
    (void)printf("]}\n");
}

/* ---- options ------------------------------------------------------------------------- */

static void
usage(FILE *f)
{
    (void)fprintf(
        f, "usage: bench_reaction [--reps N] [--intervals S,S,...] [--modes M,M,...]\n"
           "                      [--warmup N] [--phase P] [--vmloc PATH] [--json] [--keep]\n"
           "                      [--verbose] [--help]\n\n"
           "Start 3 agents on 127.0.0.1 (and a manager, except in peer mode) per mode and\n"
           "interval and measure, over N repetitions, the time from a load call that creates\n"
           "a conflict to the migration order. Target: interval + 50 ms (p99).\n\n"
           "  --modes LIST       central, edge, edge-notified (edge with a manager that\n"
           "                     collects only when notified), peer (default all four)\n"
           "  --manager-interval S  the manager's collection interval (default: the\n"
           "                     agents' interval); central mode's target uses it\n"
           "  --reps N           measured repetitions per interval (default 30)\n"
           "  --intervals LIST   collection intervals in seconds (default 0.1,1)\n"
           "  --warmup N         repetitions before measuring (default 1)\n"
           "  --phase P          when the load rises within the manager's round: random\n"
           "                     (default; uniform over one interval) or after-round (just\n"
           "                     after a round: the worst case)\n"
           "  --vmloc PATH       the vmloc binary (default $VMLOC_BIN, else ./build/vmloc)\n"
           "  --json             one JSON object on stdout instead of the table\n"
           "  --keep             keep the daemons' logs and stores (printed path)\n"
           "  --verbose          one line per repetition on stderr\n");
}

static int
parse_intervals(const char *s, double *out, size_t *n)
{
    *n = 0;
    const char *p = s;
    while (*p != '\0') {
        char *end = NULL;
        errno = 0;
        double d = strtod(p, &end);
        if (end == p || errno != 0 || !isfinite(d) || d < 0.01 || d > 60 || *n == MAX_INTERVALS)
            return -1;
        out[(*n)++] = d;
        if (*end == ',')
            end++;
        else if (*end != '\0')
            return -1;
        p = end;
    }
    return *n > 0 ? 0 : -1;
}

static int
parse_modes(const char *s, enum mode *out, size_t *n)
{
    *n = 0;
    char buf[64];
    if (strlen(s) >= sizeof(buf))
        return -1;
    (void)snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        int m = -1;
        for (int k = 0; k < N_MODES; k++) {
            if (strcmp(t, mode_names[k]) == 0)
                m = k;
        }
        if (m < 0 || *n == N_MODES)
            return -1;
        out[(*n)++] = (enum mode)m;
    }
    return *n > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    int reps = 30;
    int warmup = 1;
    double intervals[MAX_INTERVALS] = {0.1, 1.0};
    size_t n_intervals = 2;
    enum mode modes[N_MODES] = {MODE_CENTRAL, MODE_EDGE, MODE_EDGE_NOTIFIED, MODE_PEER};
    size_t n_modes = N_MODES;
    const char *vmloc_opt = NULL;
    bool json = false;
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--keep") == 0) {
            keep = true;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(a, "--reps") == 0 && has_val) {
            if (bench_parse_int(argv[++i], 1, MAX_REPS, &reps) < 0) {
                (void)fprintf(stderr, "bench_reaction: --reps: 1 to %d\n", MAX_REPS);
                return 2;
            }
        } else if (strcmp(a, "--warmup") == 0 && has_val) {
            if (bench_parse_int(argv[++i], 0, 100, &warmup) < 0) {
                (void)fprintf(stderr, "bench_reaction: --warmup: 0 to 100\n");
                return 2;
            }
        } else if (strcmp(a, "--intervals") == 0 && has_val) {
            if (parse_intervals(argv[++i], intervals, &n_intervals) < 0) {
                (void)fprintf(stderr,
                              "bench_reaction: --intervals: up to %d numbers from 0.01 to 60\n",
                              MAX_INTERVALS);
                return 2;
            }
        } else if (strcmp(a, "--manager-interval") == 0 && has_val) {
            double v[1];
            size_t nv = 0;
            if (parse_intervals(argv[++i], v, &nv) < 0 || nv != 1) {
                (void)fprintf(stderr, "bench_reaction: --manager-interval: 0.01 to 60\n");
                return 2;
            }
            manager_interval = v[0];
        } else if (strcmp(a, "--modes") == 0 && has_val) {
            if (parse_modes(argv[++i], modes, &n_modes) < 0) {
                (void)fprintf(stderr, "bench_reaction: --modes: central, edge, edge-notified "
                                      "and/or peer\n");
                return 2;
            }
        } else if (strcmp(a, "--phase") == 0 && has_val) {
            const char *v = argv[++i];
            if (strcmp(v, "random") == 0) {
                random_phase = true;
            } else if (strcmp(v, "after-round") == 0) {
                random_phase = false;
            } else {
                (void)fprintf(stderr, "bench_reaction: --phase: random or after-round\n");
                return 2;
            }
        } else if (strcmp(a, "--vmloc") == 0 && has_val) {
            vmloc_opt = argv[++i];
        } else {
            (void)fprintf(stderr, "bench_reaction: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    const char *bin = bench_vmloc_path(vmloc_opt);
    if (bin == NULL)
        return 2;
    char *root = bench_mkdtemp("vmloc-bench-reaction");
    if (root == NULL)
        return 0;
    struct result rs[MAX_SETTINGS];
    size_t n_rs = 0;
    bool any_failed = false;
    for (size_t i = 0; i < n_intervals; i++) {
        for (size_t k = 0; k < n_modes; k++) {
            run_setting(bin, root, modes[k], intervals[i], reps, warmup, keep, &rs[n_rs]);
            any_failed |= rs[n_rs].setup_failed;
            n_rs++;
        }
    }
    if (json)
        print_json(rs, n_rs, reps, warmup);
    else
        print_table(rs, n_rs, reps, warmup);
    if (keep || any_failed)
        (void)fprintf(stderr, "bench_reaction: logs kept in %s\n", root);
    else
        bench_rm_rf(root);
    for (size_t i = 0; i < n_rs; i++) {
        free(rs[i].reaction_ms);
        free(rs[i].deliver_ms);
        free(rs[i].load_call_ms);
    }
    free(root);
    return 0;
}
