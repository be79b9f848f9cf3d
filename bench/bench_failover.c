/* bench_failover: how long conflicts go unresolved when the leading manager dies. A
 * three-member etcd (Debian's `etcd`, loopback ports, a scratch directory), two managers
 * campaigning on it (--etcd URL,URL,URL --ha-id m1/m2) and four simulated agents (3 VMs
 * each) registered with both run on 127.0.0.1.
 *
 * A steady stream of conflicts runs for the whole benchmark: as soon as one is resolved (its
 * two heavy VMs no longer share a host), both are lowered again and, a moment later, two VMs
 * of the fullest host are raised; a conflict not resolved within a deadline is missed. Over
 * the stream, --kills N times: wait until one manager leads and the other follows with the
 * same term, wait a random time (fixed seed) so that the kill falls at any phase of the
 * stream, the rounds and the follower's look at etcd, send SIGKILL to the leader (and bring
 * the stream's next conflict forward to that moment when none is open), and time
 * the survivor's first order of its new term (the "started" of that migration in its GET
 * /v1/migrations, against the wall time of the kill); then start the killed manager again,
 * on its address and store, as the new follower. Every VM must run on exactly one host
 * throughout (a VM running on two hosts, or on none outside a migration, is counted).
 *
 * Where the time goes: the dead leader's lease has to run out on etcd (ha_lease), the
 * follower notices at its next look (every sixth of the lease), campaigns, and decides at
 * its next round (one interval). Target: p99 <= lease + interval + 0.5 s, no conflict
 * missed, no VM lost or on two hosts. A benchmark, not a gate: it exits 0 once the options
 * parse (2 for bad options), and 0 with a message when etcd is not installed. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define N_ETCD 3
#define N_HOSTS 4
#define VMS_PER_HOST 3
#define N_VMS (N_HOSTS * VMS_PER_HOST)
#define N_MANAGERS 2
#define MAX_KILLS 1000
#define MAX_CONFLICTS 100000
#define BASE_CPU 10.0    /* every VM's demand outside a conflict: hosts at 32 % */
#define HIGH_CPU 40.0    /* two VMs at 40 %: the host is at 92 %, in conflict */
#define BANDWIDTH "8192" /* MiB/s: a 1024 MiB VM moves in 0.125 s */
#define TARGET_SLACK_S 0.5
#define HTTP_TIMEOUT 2.0
#define POLL_MS 20
#define STREAM_EVERY_S 0.1 /* how often the agents' VMs are read for the stream */
#define STREAM_GAP_S 0.2   /* from a conflict's resolution to the next one */

struct bench {
    const char *bin;
    const char *etcd_bin;
    char dir[512];
    double interval;
    int lease;
    pid_t etcd_pid[N_ETCD];
    char etcd_urls[N_ETCD * 40]; /* URL,URL,URL for --etcd */
    char etcd_url[N_ETCD][40];
    struct bench_daemon mgr[N_MANAGERS];
    int mgr_port[N_MANAGERS];
    struct bench_daemon agents[N_HOSTS];
    char agent_list[400]; /* --manager URL1,URL2 */
    char policy[600];
};

/* The stream: one conflict at a time, the next raised STREAM_GAP_S after the last ended. */
struct stream {
    bool open;
    int host;
    char vm[2][32];
    double raised;     /* monotonic */
    double next_raise; /* monotonic: when the next may be raised */
    double last_read;  /* monotonic: the agents' VMs last read */
    int raised_n, resolved_n, missed_n;
    int placement_errors; /* VM readings on two hosts, or on none outside a migration */
    int misplaced[N_VMS]; /* reads in a row that found the VM misplaced */
    int final_vms;        /* VMs running exactly once at the end (N_VMS expected) */
    double *resolve_s;    /* raise -> both VMs on different hosts */
};

/* The kills: ready (one leader, one follower of its term) -> waiting (random) -> killed
 * (the survivor's first order awaited) -> ready again once the killed one is back. */
enum kill_phase { K_READY, K_WAITING, K_KILLED };

struct killer {
    enum kill_phase phase;
    int leader, surv;
    long long old_term;
    double kill_at;   /* monotonic: when to kill (K_WAITING) */
    double kill_wall; /* wall time of the kill */
    double kill_mono;
    double takeover; /* kill -> the survivor says it leads with a newer term (NAN: not yet) */
    double deadline;
    double ready_deadline;
    int done;
};

struct result {
    int kills;
    int measured;
    int no_order;       /* kills after which the survivor ordered nothing in time */
    double *failover_s; /* kill -> first order of the new leader */
    double *takeover_s; /* kill -> the survivor says it leads (poll resolution) */
    double p50, p99, max, takeover_p50, target_s;
    double resolve_p50, resolve_p99;
    bool aborted;
    bool pass;
};

static bool verbose = false;
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL; /* fixed: runs are repeatable */

/* ---- processes ----------------------------------------------------------------------- */

/* etcd and the managers need ports known before they start (the managers are started again
 * on theirs); the race with another process taking one in between is accepted here. */
static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    (void)close(fd);
    return port;
}

static bool
etcd_healthy(const char *url)
{
    json_t *j = NULL;
    int st = bench_http(url, "GET", "/health", NULL, HTTP_TIMEOUT, &j);
    const char *h = json_string_value(json_object_get(j, "health"));
    bool ok = st == 200 && h != NULL && strcmp(h, "true") == 0;
    json_decref(j);
    return ok;
}

static void
etcd_stop(struct bench *b)
{
    for (int i = 0; i < N_ETCD; i++) {
        if (b->etcd_pid[i] > 0) {
            (void)kill(-b->etcd_pid[i], SIGTERM);
            (void)kill(b->etcd_pid[i], SIGTERM);
        }
    }
    for (int i = 0; i < N_ETCD; i++) {
        if (b->etcd_pid[i] <= 0)
            continue;
        double deadline = bench_mono_s() + 5.0;
        while (bench_mono_s() < deadline && waitpid(b->etcd_pid[i], NULL, WNOHANG) == 0)
            bench_pause_ms(20);
        if (waitpid(b->etcd_pid[i], NULL, WNOHANG) == 0) {
            (void)kill(-b->etcd_pid[i], SIGKILL);
            (void)waitpid(b->etcd_pid[i], NULL, 0);
        }
        b->etcd_pid[i] = 0;
    }
}

/* Three etcd members on free loopback ports, each with its data and log in the scratch
 * directory, elections tuned as docs/running.md advises for a 3 s lease. */
static int
etcd_start(struct bench *b)
{
    char pu[N_ETCD][40], cluster[N_ETCD * 48] = "";
    b->etcd_urls[0] = '\0';
    for (int i = 0; i < N_ETCD; i++) {
        int cp = free_port();
        int pp = free_port();
        if (cp < 0 || pp < 0)
            return -1;
        (void)snprintf(b->etcd_url[i], sizeof(b->etcd_url[i]), "http://127.0.0.1:%d", cp);
        (void)snprintf(pu[i], sizeof(pu[i]), "http://127.0.0.1:%d", pp);
        size_t len = strlen(cluster);
        (void)snprintf(cluster + len, sizeof(cluster) - len, "%se%d=%s", i > 0 ? "," : "", i,
                       pu[i]);
        len = strlen(b->etcd_urls);
        (void)snprintf(b->etcd_urls + len, sizeof(b->etcd_urls) - len, "%s%s", i > 0 ? "," : "",
                       b->etcd_url[i]);
    }
    for (int i = 0; i < N_ETCD; i++) {
        char name[8], data[600], log[600];
        (void)snprintf(name, sizeof(name), "e%d", i);
        (void)snprintf(data, sizeof(data), "%s/etcd-%s", b->dir, name);
        (void)snprintf(log, sizeof(log), "%s/etcd-%s.log", b->dir, name);
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            (void)setpgid(0, 0);
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd >= 0) {
                (void)dup2(fd, STDOUT_FILENO);
                (void)dup2(fd, STDERR_FILENO);
            }
            execl(b->etcd_bin, "etcd", "--name", name, "--data-dir", data, "--listen-client-urls",
                  b->etcd_url[i], "--advertise-client-urls", b->etcd_url[i], "--listen-peer-urls",
                  pu[i], "--initial-advertise-peer-urls", pu[i], "--initial-cluster", cluster,
                  "--heartbeat-interval", "100", "--election-timeout", "750", (char *)NULL);
            _exit(127);
        }
        b->etcd_pid[i] = pid;
    }
    double deadline = bench_mono_s() + 30.0;
    while (bench_mono_s() < deadline) {
        int up = 0;
        for (int i = 0; i < N_ETCD; i++)
            up += etcd_healthy(b->etcd_url[i]) ? 1 : 0;
        if (up == N_ETCD)
            return 0;
        bench_pause_ms(50);
    }
    (void)fprintf(stderr,
                  "bench_failover: etcd did not become healthy; its logs are %s/etcd-*.log\n",
                  b->dir);
    return -1;
}

/* Manager `i` (id m1 or m2) on its own port and store; the same ones when started again. */
static int
manager_start(struct bench *b, int i)
{
    char id[16], listen[40], data[600], log[600], iv[32], lease[16];
    (void)snprintf(id, sizeof(id), "m%d", i + 1);
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%d", b->mgr_port[i]);
    (void)snprintf(data, sizeof(data), "%s/data-%s", b->dir, id);
    (void)snprintf(log, sizeof(log), "%s/manager-%s.log", b->dir, id);
    (void)snprintf(iv, sizeof(iv), "%g", b->interval);
    (void)snprintf(lease, sizeof(lease), "%d", b->lease);
    const char *argv[] = {"manager", "--listen",   listen,    "--data", data,         "--interval",
                          iv,        "--config",   b->policy, "--etcd", b->etcd_urls, "--ha-id",
                          id,        "--ha-lease", lease,     NULL};
    return bench_daemon_start(&b->mgr[i], b->bin, argv, log, 10.0);
}

static void
kill_now(struct bench_daemon *d)
{
    if (d->pid > 0)
        (void)kill(d->pid, SIGKILL);
    (void)bench_daemon_stop(d, 5.0); /* reaps it */
}
static int
agents_start(struct bench *b)
{
    char iv[32];
    (void)snprintf(iv, sizeof(iv), "%g", b->interval);
    for (int h = 0; h < N_HOSTS; h++) {
        char name[16], data[600], log[600], specs[VMS_PER_HOST][64];
        (void)snprintf(name, sizeof(name), "h%d", h + 1);
        (void)snprintf(data, sizeof(data), "%s/data-%s", b->dir, name);
        (void)snprintf(log, sizeof(log), "%s/agent-%s.log", b->dir, name);
        const char *argv[32];
        int n = 0;
        argv[n++] = "agent";
        argv[n++] = "--name";
        argv[n++] = name;
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
        argv[n++] = "--manager";
        argv[n++] = b->agent_list;
        argv[n++] = "--data";
        argv[n++] = data;
        argv[n++] = "--interval";
        argv[n++] = iv;
        argv[n++] = "--bandwidth";
        argv[n++] = BANDWIDTH;
        argv[n++] = "--config";
        argv[n++] = b->policy;
        for (int v = 0; v < VMS_PER_HOST; v++) {
            (void)snprintf(specs[v], sizeof(specs[v]), "h%dv%d:cpu=%g,mem=1024", h + 1, v + 1,
                           BASE_CPU);
            argv[n++] = "--vm";
            argv[n++] = specs[v];
        }
        argv[n] = NULL;
        if (bench_daemon_start(&b->agents[h], b->bin, argv, log, 10.0) < 0)
            return -1;
    }
    return 0;
}

static void
cluster_stop(struct bench *b)
{
    for (int h = 0; h < N_HOSTS; h++)
        (void)bench_daemon_stop(&b->agents[h], 5.0);
    for (int i = 0; i < N_MANAGERS; i++)
        (void)bench_daemon_stop(&b->mgr[i], 5.0);
    etcd_stop(b);
}

/* ---- the cluster's state ------------------------------------------------------------- */

/* Manager `i`'s role ("" when it does not answer) and term. */
static void
manager_role(const struct bench *b, int i, char *role, size_t len, long long *term)
{
    role[0] = '\0';
    *term = 0;
    if (b->mgr[i].pid <= 0)
        return;
    json_t *h = NULL;
    if (bench_http(b->mgr[i].url, "GET", "/v1/health", NULL, HTTP_TIMEOUT, &h) == 200) {
        const char *r = json_string_value(json_object_get(h, "role"));
        (void)snprintf(role, len, "%s", r != NULL ? r : "");
        *term = (long long)json_integer_value(json_object_get(h, "term"));
    }
    json_decref(h);
}

/* Every VM of the agents, each with "agent" (its host's index) added; NULL when one does not
 * answer. */
static json_t *
agents_vms(const struct bench *b)
{
    json_t *all = json_array();
    for (int h = 0; h < N_HOSTS && all != NULL; h++) {
        json_t *arr = NULL;
        if (bench_http(b->agents[h].url, "GET", "/v1/vms", NULL, HTTP_TIMEOUT, &arr) != 200 ||
            !json_is_array(arr)) {
            json_decref(all);
            all = NULL;
        } else {
            size_t k;
            json_t *v;
            json_array_foreach(arr, k, v)(void) json_object_set_new(v, "agent", json_integer(h));
            (void)json_array_extend(all, arr);
        }
        json_decref(arr);
    }
    return all;
}

static int
set_load(const struct bench *b, int host, const char *vm, double cpu)
{
    char path[96], body[64];
    (void)snprintf(path, sizeof(path), "/v1/vms/%s/load", vm);
    (void)snprintf(body, sizeof(body), "{\"cpu\": %g}", cpu);
    int st = bench_http(b->agents[host].url, "POST", path, body, HTTP_TIMEOUT, NULL);
    if (st != 200)
        (void)fprintf(stderr, "bench_failover: load of %s on h%d: status %d\n", vm, host + 1, st);
    return st == 200 ? 0 : -1;
}

/* Where VM `name` runs in `vms`: its host's index when it is "running" on exactly one host
 * and nowhere else in any state, -2 while it is in a migration (listed by two hosts, one of
 * them "incoming" or "migrating-out"), -3 on two hosts as "running" (double placed), -1
 * nowhere, or listed by one host only and not running there. */
static int
vm_place(const json_t *vms, const char *name)
{
    int running = 0, other = 0, host = -1;
    size_t k;
    json_t *v;
    json_array_foreach(vms, k, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        const char *st = json_string_value(json_object_get(v, "state"));
        if (n == NULL || strcmp(n, name) != 0)
            continue;
        if (st != NULL && strcmp(st, "running") == 0) {
            running++;
            host = (int)json_integer_value(json_object_get(v, "agent"));
        } else {
            other++;
        }
    }
    if (running > 1)
        return -3;
    if (running + other > 1)
        return -2;                   /* on its way: listed by both hosts */
    return running == 1 ? host : -1; /* -1 also when only one host lists it, not running */
}

/* The survivor's first migration of term `term`: 1 with its "started" (wall seconds), 0
 * none yet. */
static int
new_order(const struct bench *b, int m, long long term, double *started)
{
    json_t *arr = NULL;
    if (term <= 0 ||
        bench_http(b->mgr[m].url, "GET", "/v1/migrations", NULL, HTTP_TIMEOUT, &arr) != 200) {
        json_decref(arr);
        return 0;
    }
    char tag[40];
    (void)snprintf(tag, sizeof(tag), "-t%lld-", term);
    double first = INFINITY;
    size_t k;
    json_t *o;
    json_array_foreach(arr, k, o)
    {
        const char *mid = json_string_value(json_object_get(o, "id"));
        double t = json_number_value(json_object_get(o, "started"));
        if (mid != NULL && strstr(mid, tag) != NULL && t < first)
            first = t;
    }
    json_decref(arr);
    *started = first;
    return isfinite(first) ? 1 : 0;
}

/* ---- the stream of conflicts --------------------------------------------------------- */

static double
conflict_deadline(const struct bench *b)
{
    return b->lease * 2.0 + b->interval * 5.0 + 10.0;
}

/* Raise two VMs of the fullest host with at least two running there. */
static void
stream_raise(const struct bench *b, struct stream *s, const json_t *vms, double now)
{
    int count[N_HOSTS] = {0};
    size_t k;
    json_t *v;
    json_array_foreach(vms, k, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        int h = name != NULL ? vm_place(vms, name) : -1;
        if (h >= 0)
            count[h]++;
    }
    int src = 0;
    for (int h = 1; h < N_HOSTS; h++)
        src = count[h] > count[src] ? h : src;
    if (count[src] < 2)
        return;
    int n = 0;
    json_array_foreach(vms, k, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (n < 2 && name != NULL && vm_place(vms, name) == src)
            (void)snprintf(s->vm[n++], sizeof(s->vm[0]), "%s", name);
    }
    if (set_load(b, src, s->vm[0], HIGH_CPU) < 0 || set_load(b, src, s->vm[1], HIGH_CPU) < 0)
        return; /* tried again at the next read */
    s->open = true;
    s->host = src;
    s->raised = now;
    s->raised_n++;
}

/* Lower the VMs of the conflict that ended, wherever they run now (a VM in a migration is
 * lowered at its arrival: calm_vms() at the next read). */
static void
stream_end(const struct bench *b, struct stream *s, const json_t *vms, double now)
{
    for (int i = 0; i < 2; i++) {
        int h = vm_place(vms, s->vm[i]);
        if (h >= 0)
            (void)set_load(b, h, s->vm[i], BASE_CPU);
    }
    s->open = false;
    s->next_raise = now + STREAM_GAP_S;
}

/* Every VM that is not in the open conflict at its base demand; false while one is not. */
static bool
calm_vms(const struct bench *b, const struct stream *s, const json_t *vms)
{
    bool calm = true;
    size_t k;
    json_t *v;
    json_array_foreach(vms, k, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *st = json_string_value(json_object_get(v, "state"));
        double cpu = json_number_value(json_object_get(json_object_get(v, "demand"), "cpu"));
        if (name == NULL || st == NULL || strcmp(st, "running") != 0 || fabs(cpu - BASE_CPU) < 1e-6)
            continue;
        if (s->open && (strcmp(name, s->vm[0]) == 0 || strcmp(name, s->vm[1]) == 0))
            continue;
        calm = false;
        (void)set_load(b, (int)json_integer_value(json_object_get(v, "agent")), name, BASE_CPU);
    }
    return calm;
}

/* One look at the agents: count misplaced VMs, end the open conflict (resolved or missed),
 * raise the next one. */
static void
stream_step(const struct bench *b, struct stream *s, double now)
{
    if (now - s->last_read < STREAM_EVERY_S)
        return;
    s->last_read = now;
    json_t *vms = agents_vms(b);
    if (vms == NULL)
        return;
    /* The agents are read one after the other: a VM that ends its migration between two
     * reads may be seen on neither host, or only arriving, once, so those count when seen
     * twice in a row;
     * "running on two hosts" cannot come from the order of the reads. */
    for (int v = 0; v < N_VMS; v++) {
        char name[32];
        (void)snprintf(name, sizeof(name), "h%dv%d", v / VMS_PER_HOST + 1, v % VMS_PER_HOST + 1);
        int p = vm_place(vms, name);
        int was = s->misplaced[v];
        s->misplaced[v] = p == -1   ? (was > 0 ? was + 1 : 1)
                          : p == -3 ? (was >= 2 ? was + 1 : 2)
                                    : 0;
        if (s->misplaced[v] == 2) {
            s->placement_errors++;
            (void)fprintf(stderr, "bench_failover: VM %s %s\n", name,
                          p == -1 ? "runs on no host" : "runs on two hosts");
        }
    }
    bool calm = calm_vms(b, s, vms);
    if (s->open) {
        int h0 = vm_place(vms, s->vm[0]);
        int h1 = vm_place(vms, s->vm[1]);
        if (h0 >= 0 && h1 >= 0 && h0 != h1) {
            s->resolve_s[s->resolved_n++] = now - s->raised;
            stream_end(b, s, vms, now);
        } else if (now - s->raised > conflict_deadline(b)) {
            (void)fprintf(stderr, "bench_failover: conflict of %s and %s on h%d missed\n", s->vm[0],
                          s->vm[1], s->host + 1);
            s->missed_n++;
            stream_end(b, s, vms, now);
        }
    } else if (calm && now >= s->next_raise && s->raised_n < MAX_CONFLICTS) {
        stream_raise(b, s, vms, now);
    }
    json_decref(vms);
}

/* ---- the kills ----------------------------------------------------------------------- */

/* One step of the kills' state machine. -1 when the cluster is unusable. */
static int
kill_step(struct bench *b, struct killer *k, struct stream *s, struct result *r, double now)
{
    char role[N_MANAGERS][16];
    long long term[N_MANAGERS];
    switch (k->phase) {
    case K_READY:
        for (int i = 0; i < N_MANAGERS; i++)
            manager_role(b, i, role[i], sizeof(role[i]), &term[i]);
        k->leader = strcmp(role[0], "leader") == 0 ? 0 : strcmp(role[1], "leader") == 0 ? 1 : -1;
        if (k->leader >= 0 && strcmp(role[1 - k->leader], "follower") == 0 && term[0] == term[1]) {
            /* Uniform over a few conflicts of the stream, the rounds and the follower's
             * looks at etcd (a sixth of the lease). */
            double span = 2.0 * (b->interval > b->lease / 6.0 ? b->interval : b->lease / 6.0);
            k->kill_at = now + 1.0 + bench_rng_unit(&rng_state) * span;
            k->old_term = term[k->leader];
            k->phase = K_WAITING;
        } else if (now > k->ready_deadline) {
            (void)fprintf(stderr, "bench_failover: kill %d: no leader with a follower in time\n",
                          k->done);
            return -1;
        }
        return 0;
    case K_WAITING:
        if (now < k->kill_at)
            return 0;
        k->surv = 1 - k->leader;
        k->kill_wall = bench_wall_s();
        k->kill_mono = bench_mono_s();
        kill_now(&b->mgr[k->leader]);
        /* A conflict arrives while nobody leads: when none is open, the stream's next one is
         * brought forward to the kill. */
        if (!s->open) {
            s->next_raise = now;
            s->last_read = -INFINITY;
            stream_step(b, s, now);
        }
        k->takeover = NAN;
        k->deadline = k->kill_mono + conflict_deadline(b);
        k->phase = K_KILLED;
        return 0;
    case K_KILLED: {
        manager_role(b, k->surv, role[0], sizeof(role[0]), &term[0]);
        bool leads = strcmp(role[0], "leader") == 0 && term[0] > k->old_term;
        if (leads && isnan(k->takeover))
            k->takeover = bench_mono_s() - k->kill_mono;
        double started = 0;
        bool found = leads && new_order(b, k->surv, term[0], &started);
        if (!found && now < k->deadline)
            return 0;
        if (found) {
            r->failover_s[r->measured] = started - k->kill_wall;
            r->takeover_s[r->measured] = k->takeover;
            r->measured++;
            if (verbose)
                (void)fprintf(stderr,
                              "kill %2d: m%d killed, m%d leads after %.2f s, orders after "
                              "%.2f s\n",
                              k->done, k->leader + 1, k->surv + 1, k->takeover,
                              started - k->kill_wall);
        } else {
            r->no_order++;
            (void)fprintf(stderr, "bench_failover: kill %d: no order from m%d (%s)\n", k->done,
                          k->surv + 1, leads ? "it leads" : "it does not lead");
        }
        k->done++;
        if (!verbose)
            (void)fputc('.', stderr);
        /* The killed manager comes back on its address, as the follower. */
        if (manager_start(b, k->leader) < 0)
            return -1;
        k->phase = K_READY;
        k->ready_deadline = bench_mono_s() + 20.0 + 5.0 * b->lease;
        return 0;
    }
    }
    return 0;
}

/* ---- summary and output -------------------------------------------------------------- */

static void
summarize(struct result *r, const struct bench *b, const struct stream *s)
{
    size_t n = (size_t)r->measured;
    size_t nr = (size_t)s->resolved_n;
    double *tmp = malloc(((n > nr ? n : nr) + 1) * sizeof(*tmp));
    if (tmp != NULL) {
        memcpy(tmp, r->failover_s, n * sizeof(*tmp));
        r->p50 = bench_percentile(tmp, n, 50);
        r->p99 = bench_percentile(tmp, n, 99);
        r->max = n > 0 ? tmp[n - 1] : 0.0;
        memcpy(tmp, r->takeover_s, n * sizeof(*tmp));
        r->takeover_p50 = bench_percentile(tmp, n, 50);
        memcpy(tmp, s->resolve_s, nr * sizeof(*tmp));
        r->resolve_p50 = bench_percentile(tmp, nr, 50);
        r->resolve_p99 = bench_percentile(tmp, nr, 99);
        free(tmp);
    }
    r->target_s = b->lease + b->interval + TARGET_SLACK_S;
    r->pass = !r->aborted && r->no_order == 0 && r->measured == r->kills && r->p99 <= r->target_s &&
              s->missed_n == 0 && s->placement_errors == 0 && s->final_vms == N_VMS;
}

static void
print_text(const struct result *r, const struct bench *b, const struct stream *s)
{
    (void)printf("bench_failover: etcd (%d members), 2 managers (lease %d s, interval %g s), %d "
                 "agents x %d VMs on 127.0.0.1; %d kills of the leader (kill -9) under a steady "
                 "stream of conflicts\n",
                 N_ETCD, b->lease, b->interval, N_HOSTS, VMS_PER_HOST, r->kills);
    (void)printf("failover = kill -> \"started\" of the new leader's first order; resolve = a "
                 "conflict raised -> its two VMs on two hosts\n\n");
    (void)printf("%6s %8s %8s %8s %8s %12s %9s\n", "kills", "measured", "p50_s", "p99_s", "max_s",
                 "takeover_p50", "target_s");
    (void)printf("%6d %8d %8.2f %8.2f %8.2f %12.2f %9.2f\n\n", r->kills, r->measured, r->p50,
                 r->p99, r->max, r->takeover_p50, r->target_s);
    (void)printf("%9s %8s %7s %13s %13s %10s %9s\n", "conflicts", "resolved", "missed",
                 "resolve_p50_s", "resolve_p99_s", "misplaced", "final_vms");
    (void)printf("%9d %8d %7d %13.2f %13.2f %10d %6d/%d\n", s->raised_n, s->resolved_n, s->missed_n,
                 r->resolve_p50, r->resolve_p99, s->placement_errors, s->final_vms, N_VMS);
    (void)printf("\n%s: failover p99 %.2f s against %.2f s (lease + interval + %.1f s), %d "
                 "conflicts missed, %d times a VM was misplaced%s\n",
                 r->pass ? "PASS" : "MISS", r->p99, r->target_s, TARGET_SLACK_S, s->missed_n,
                 s->placement_errors, r->aborted ? "; stopped early (see the messages above)" : "");
}

static void
print_json(const struct result *r, const struct bench *b, const struct stream *s)
{
    (void)printf("{\"bench\":\"failover\",\"etcd_members\":%d,\"lease_s\":%d,\"interval_s\":%g,"
                 "\"agents\":%d,\"kills\":%d,\"measured\":%d,\"no_order\":%d,\"aborted\":%s,"
                 "\"p50_s\":%.3f,\"p99_s\":%.3f,\"max_s\":%.3f,\"takeover_p50_s\":%.3f,"
                 "\"target_s\":%.3f,\"conflicts\":%d,\"resolved\":%d,\"missed\":%d,"
                 "\"resolve_p50_s\":%.3f,\"resolve_p99_s\":%.3f,\"misplaced\":%d,"
                 "\"final_vms\":%d,\"vms\":%d,\"verdict\":\"%s\",\"failover_s\":[",
                 N_ETCD, b->lease, b->interval, N_HOSTS, r->kills, r->measured, r->no_order,
                 r->aborted ? "true" : "false", r->p50, r->p99, r->max, r->takeover_p50,
                 r->target_s, s->raised_n, s->resolved_n, s->missed_n, r->resolve_p50,
                 r->resolve_p99, s->placement_errors, s->final_vms, N_VMS,
                 r->pass ? "PASS" : "MISS");
    for (int i = 0; i < r->measured; i++)
        (void)printf("%s%.3f", i > 0 ? "," : "", r->failover_s[i]);
    (void)printf("]}\n");
}

/* ---- options and main ---------------------------------------------------------------- */

static void
usage(FILE *f)
{
    (void)fprintf(f,
                  "usage: bench_failover [--kills N] [--lease S] [--interval S] [--etcd PATH]\n"
                  "                      [--vmloc PATH] [--json] [--keep] [--verbose] [--help]\n\n"
                  "Start a 3-member etcd, two managers on it and 4 agents on 127.0.0.1, and a\n"
                  "steady stream of conflicts; N times, kill -9 the leader and time the new\n"
                  "leader's first order. Target: p99 <= lease + interval + 0.5 s, no conflict\n"
                  "missed, every VM on exactly one host.\n\n"
                  "  --kills N      kills of the leader (default 20)\n"
                  "  --lease S      the managers' ha_lease, whole seconds (default 3)\n"
                  "  --interval S   collection interval of managers and agents (default 1)\n"
                  "  --etcd PATH    the etcd binary (default $ETCD_BIN, /usr/bin/etcd or\n"
                  "                 /usr/local/bin/etcd; none: skip)\n"
                  "  --vmloc PATH   the vmloc binary (default $VMLOC_BIN, else ./build/vmloc)\n"
                  "  --json         one JSON object on stdout instead of the table\n"
                  "  --keep         keep the logs and stores (printed path)\n"
                  "  --verbose      one line per kill on stderr\n");
}
static const char *
find_etcd(const char *opt)
{
    if (opt != NULL) /* given: that one or none */
        return access(opt, X_OK) == 0 ? opt : NULL;
    const char *env = getenv("ETCD_BIN");
    const char *cands[] = {env, "/usr/bin/etcd", "/usr/local/bin/etcd"};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
        if (cands[i] != NULL && cands[i][0] != '\0' && access(cands[i], X_OK) == 0)
            return cands[i];
    }
    return NULL;
}

static int
parse_args(int argc, char **argv, struct bench *b, int *kills, const char **vmloc_opt,
           const char **etcd_opt, bool *json, bool *keep)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        char *end = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--json") == 0) {
            *json = true;
        } else if (strcmp(a, "--keep") == 0) {
            *keep = true;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(a, "--kills") == 0 && has_val) {
            if (bench_parse_int(argv[++i], 1, MAX_KILLS, kills) < 0) {
                (void)fprintf(stderr, "bench_failover: --kills: 1 to %d\n", MAX_KILLS);
                return -1;
            }
        } else if (strcmp(a, "--lease") == 0 && has_val) {
            if (bench_parse_int(argv[++i], 1, 60, &b->lease) < 0) {
                (void)fprintf(stderr, "bench_failover: --lease: 1 to 60 whole seconds\n");
                return -1;
            }
        } else if (strcmp(a, "--interval") == 0 && has_val) {
            errno = 0;
            b->interval = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || errno != 0 || !isfinite(b->interval) ||
                b->interval < 0.05 || b->interval > 60) {
                (void)fprintf(stderr, "bench_failover: --interval: 0.05 to 60 seconds\n");
                return -1;
            }
        } else if (strcmp(a, "--etcd") == 0 && has_val) {
            *etcd_opt = argv[++i];
        } else if (strcmp(a, "--vmloc") == 0 && has_val) {
            *vmloc_opt = argv[++i];
        } else {
            (void)fprintf(stderr, "bench_failover: unknown option or missing value: %s\n", a);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* etcd, both managers (m1 first, so that it leads), the agents. */
static int
cluster_start(struct bench *b)
{
    (void)snprintf(b->policy, sizeof(b->policy), "%s/policy.ini", b->dir);
    /* The default policy but the anti-flapping: the stream moves the same twelve VMs again
     * and again. */
    FILE *pf = fopen(b->policy, "w");
    if (pf == NULL ||
        fputs("[relocate]\ncooldown = 0\nmax_moves_per_vm = 16\nstorm_window = 1\n", pf) < 0 ||
        fclose(pf) != 0)
        return -1;
    if (etcd_start(b) < 0)
        return -1;
    for (int i = 0; i < N_MANAGERS; i++) {
        b->mgr_port[i] = free_port();
        if (b->mgr_port[i] < 0 || manager_start(b, i) < 0)
            return -1;
    }
    (void)snprintf(b->agent_list, sizeof(b->agent_list), "%s,%s", b->mgr[0].url, b->mgr[1].url);
    return agents_start(b);
}

/* After the last kill: no new conflict, the open one ends, and every VM must run on exactly
 * one host (within a deadline: one may still be on its way). */
static void
finish(const struct bench *b, struct stream *s)
{
    s->next_raise = INFINITY;
    double deadline = bench_mono_s() + conflict_deadline(b);
    while (s->open && bench_mono_s() < deadline) {
        stream_step(b, s, bench_mono_s());
        bench_pause_ms(POLL_MS);
    }
    deadline = bench_mono_s() + 10.0 + 5.0 * b->interval;
    for (;;) {
        json_t *vms = agents_vms(b);
        s->final_vms = 0;
        for (int v = 0; vms != NULL && v < N_VMS; v++) {
            char name[32];
            (void)snprintf(name, sizeof(name), "h%dv%d", v / VMS_PER_HOST + 1,
                           v % VMS_PER_HOST + 1);
            s->final_vms += vm_place(vms, name) >= 0 ? 1 : 0;
        }
        json_decref(vms);
        if (s->final_vms == N_VMS || bench_mono_s() > deadline)
            break;
        bench_pause_ms(50);
    }
    if (s->final_vms != N_VMS)
        (void)fprintf(stderr, "bench_failover: at the end %d of %d VMs run on exactly one host\n",
                      s->final_vms, N_VMS);
}

static void
run(struct bench *b, int kills, struct result *r, struct stream *s)
{
    if (cluster_start(b) < 0) {
        r->aborted = true;
        return;
    }
    struct killer k;
    memset(&k, 0, sizeof(k));
    k.phase = K_READY;
    k.ready_deadline = bench_mono_s() + 20.0 + 5.0 * b->lease;
    if (!verbose)
        (void)fprintf(stderr, "kills: ");
    while (k.done < kills) {
        double now = bench_mono_s();
        stream_step(b, s, now);
        if (kill_step(b, &k, s, r, now) < 0) {
            r->aborted = true;
            break;
        }
        bench_pause_ms(POLL_MS);
    }
    if (!verbose)
        (void)fputc('\n', stderr);
    finish(b, s);
}

int
main(int argc, char **argv)
{
    static struct bench b;
    b.interval = 1.0;
    b.lease = 3;
    int kills = 20;
    const char *vmloc_opt = NULL;
    const char *etcd_opt = NULL;
    bool json = false;
    bool keep = false;
    int pr = parse_args(argc, argv, &b, &kills, &vmloc_opt, &etcd_opt, &json, &keep);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    b.etcd_bin = find_etcd(etcd_opt);
    if (b.etcd_bin == NULL) {
        (void)printf("bench_failover: SKIP: etcd is not installed%s%s%s (apt-get install "
                     "etcd-server, or give --etcd PATH)\n",
                     etcd_opt != NULL ? " (no executable " : "", etcd_opt != NULL ? etcd_opt : "",
                     etcd_opt != NULL ? ")" : "");
        return 0;
    }
    b.bin = bench_vmloc_path(vmloc_opt);
    if (b.bin == NULL)
        return 2;
    char *root = bench_mkdtemp("vmloc-bench-failover");
    if (root == NULL)
        return 0;
    (void)snprintf(b.dir, sizeof(b.dir), "%s", root);
    struct result r;
    memset(&r, 0, sizeof(r));
    r.kills = kills;
    static struct stream s;
    r.failover_s = calloc((size_t)kills + 1, sizeof(double));
    r.takeover_s = calloc((size_t)kills + 1, sizeof(double));
    s.resolve_s = calloc(MAX_CONFLICTS, sizeof(double));
    if (r.failover_s == NULL || r.takeover_s == NULL || s.resolve_s == NULL)
        r.aborted = true;
    else
        run(&b, kills, &r, &s);
    cluster_stop(&b);
    summarize(&r, &b, &s);
    if (json)
        print_json(&r, &b, &s);
    else
        print_text(&r, &b, &s);
    if (keep || !r.pass)
        (void)fprintf(stderr, "bench_failover: logs kept in %s\n", root);
    else
        bench_rm_rf(root);
    free(r.failover_s);
    free(r.takeover_s);
    free(s.resolve_s);
    free(root);
    return 0;
}
