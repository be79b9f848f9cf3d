/* bench_failover: how long conflicts go unresolved when the leading manager dies. A
 * single-member etcd (Debian's `etcd`, loopback ports, a scratch directory), two managers
 * campaigning on it (--etcd URL --ha-id m1/m2) and three simulated agents (3 VMs each)
 * registered with both run on 127.0.0.1. Each of --kills N rounds waits until the cluster is
 * calm (one leader, a warm follower, every VM at its base demand, no migration in flight),
 * waits a random part (fixed seed) of the longer of one round and the follower's look at
 * etcd, sends SIGKILL to the leader and at once raises the demand of two VMs of one host, so the
 * conflict arrives while nobody leads. The failover time runs from the kill (wall clock) to
 * the "started" time of the first migration the survivor orders (its GET /v1/migrations,
 * migrations of its own term); a conflict that gets no order, or whose migration does not
 * end with the VM moved, within a deadline is missed. The killed manager is then started
 * again on its address, as the new follower, and the demand lowered.
 *
 * Where the time goes: the dead leader's lease has to run out on etcd (ha_lease), the
 * follower notices at its next look (every third of the lease), campaigns, and decides at
 * its next round (one interval). Target: p99 <= lease + interval + 0.5 s, no conflict
 * missed. A benchmark, not a gate: it exits 0 once the options parse (2 for bad options),
 * and 0 with a message when etcd is not installed. */
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

#define N_HOSTS 3
#define VMS_PER_HOST 3
#define N_VMS (N_HOSTS * VMS_PER_HOST)
#define N_MANAGERS 2
#define MAX_KILLS 1000
#define BASE_CPU 10.0    /* every VM's demand between kills: hosts at 32 % */
#define HIGH_CPU 40.0    /* two VMs at 40 %: the host is at 92 %, in conflict */
#define BANDWIDTH "8192" /* MiB/s: a 1024 MiB VM moves in 0.125 s */
#define TARGET_SLACK_S 0.5
#define HTTP_TIMEOUT 2.0
#define POLL_MS 10

struct bench {
    const char *bin;
    const char *etcd_bin;
    char dir[512];
    double interval;
    int lease;
    pid_t etcd_pid;
    char etcd_url[64];
    struct bench_daemon mgr[N_MANAGERS];
    int mgr_port[N_MANAGERS];
    struct bench_daemon agents[N_HOSTS];
    char agent_list[400]; /* --manager URL1,URL2 */
    char policy[600];
};

struct result {
    int kills;
    int measured;
    int missed;
    double *failover_s; /* kill -> first order of the new leader */
    double *takeover_s; /* kill -> the survivor says it leads (poll resolution) */
    double p50, p99, max, takeover_p50, target_s;
    bool aborted;
    bool pass;
};

static bool verbose = false;
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL; /* fixed: runs are repeatable */

/* ---- processes ----------------------------------------------------------------------- */

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
etcd_healthy(const struct bench *b)
{
    json_t *j = NULL;
    int st = bench_http(b->etcd_url, "GET", "/health", NULL, HTTP_TIMEOUT, &j);
    const char *h = json_string_value(json_object_get(j, "health"));
    bool ok = st == 200 && h != NULL && strcmp(h, "true") == 0;
    json_decref(j);
    return ok;
}

/* One etcd member on two free loopback ports, its data and log in the scratch directory. */
static int
etcd_start(struct bench *b)
{
    int cp = free_port();
    int pp = free_port();
    if (cp < 0 || pp < 0)
        return -1;
    char cu[64], pu[64], cluster[80], data[600], log[600];
    (void)snprintf(cu, sizeof(cu), "http://127.0.0.1:%d", cp);
    (void)snprintf(pu, sizeof(pu), "http://127.0.0.1:%d", pp);
    (void)snprintf(cluster, sizeof(cluster), "b=%s", pu);
    (void)snprintf(data, sizeof(data), "%s/etcd", b->dir);
    (void)snprintf(log, sizeof(log), "%s/etcd.log", b->dir);
    (void)snprintf(b->etcd_url, sizeof(b->etcd_url), "%s", cu);
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
        execl(b->etcd_bin, "etcd", "--name", "b", "--data-dir", data, "--listen-client-urls", cu,
              "--advertise-client-urls", cu, "--listen-peer-urls", pu,
              "--initial-advertise-peer-urls", pu, "--initial-cluster", cluster, (char *)NULL);
        _exit(127);
    }
    b->etcd_pid = pid;
    double deadline = bench_mono_s() + 30.0;
    while (bench_mono_s() < deadline) {
        if (etcd_healthy(b))
            return 0;
        bench_pause_ms(50);
    }
    (void)fprintf(stderr, "bench_failover: etcd did not become healthy; its log is %s\n", log);
    return -1;
}

static void
etcd_stop(struct bench *b)
{
    if (b->etcd_pid <= 0)
        return;
    (void)kill(-b->etcd_pid, SIGTERM);
    (void)kill(b->etcd_pid, SIGTERM);
    double deadline = bench_mono_s() + 5.0;
    while (bench_mono_s() < deadline && waitpid(b->etcd_pid, NULL, WNOHANG) == 0)
        bench_pause_ms(20);
    if (waitpid(b->etcd_pid, NULL, WNOHANG) == 0) {
        (void)kill(-b->etcd_pid, SIGKILL);
        (void)waitpid(b->etcd_pid, NULL, 0);
    }
    b->etcd_pid = 0;
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
    const char *argv[] = {"manager", "--listen",   listen,    "--data", data,        "--interval",
                          iv,        "--config",   b->policy, "--etcd", b->etcd_url, "--ha-id",
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

/* Manager `i` sees every host up and none in conflict (its view is warm). */
static bool
manager_view_calm(const struct bench *b, int i)
{
    json_t *hosts = NULL;
    bool ok = bench_http(b->mgr[i].url, "GET", "/v1/hosts", NULL, HTTP_TIMEOUT, &hosts) == 200 &&
              json_array_size(hosts) == N_HOSTS;
    for (size_t k = 0; ok && k < json_array_size(hosts); k++) {
        json_t *o = json_array_get(hosts, k);
        const char *st = json_string_value(json_object_get(o, "state"));
        if (st == NULL || strcmp(st, "up") != 0 || json_is_true(json_object_get(o, "in_conflict")))
            ok = false;
    }
    json_decref(hosts);
    return ok;
}

/* Every VM of the agents, joined (NULL when one does not answer). */
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

/* Every VM running once, at its base demand; those above it are lowered again. */
static bool
vms_calm(const struct bench *b)
{
    json_t *vms = agents_vms(b);
    if (vms == NULL)
        return false;
    size_t running = 0;
    bool ok = true;
    size_t k;
    json_t *v;
    json_array_foreach(vms, k, v)
    {
        const char *st = json_string_value(json_object_get(v, "state"));
        const char *name = json_string_value(json_object_get(v, "name"));
        double cpu = json_number_value(json_object_get(json_object_get(v, "demand"), "cpu"));
        if (st == NULL || strcmp(st, "running") != 0 || name == NULL) {
            ok = false;
            continue;
        }
        running++;
        if (fabs(cpu - BASE_CPU) > 1e-6) {
            ok = false;
            char path[96], body[64];
            (void)snprintf(path, sizeof(path), "/v1/vms/%s/load", name);
            (void)snprintf(body, sizeof(body), "{\"cpu\": %g}", BASE_CPU);
            int h = (int)json_integer_value(json_object_get(v, "agent"));
            (void)bench_http(b->agents[h].url, "POST", path, body, HTTP_TIMEOUT, NULL);
        }
    }
    json_decref(vms);
    return ok && running == N_VMS;
}

/* Calm: one leader with no migration in flight, one follower of the same term, both with a
 * warm and quiet view, every VM at its base demand. The leader's index, or -1. */
static int
cluster_calm(const struct bench *b)
{
    char role[N_MANAGERS][16];
    long long term[N_MANAGERS];
    for (int i = 0; i < N_MANAGERS; i++)
        manager_role(b, i, role[i], sizeof(role[i]), &term[i]);
    int leader = strcmp(role[0], "leader") == 0 ? 0 : strcmp(role[1], "leader") == 0 ? 1 : -1;
    if (leader < 0 || strcmp(role[1 - leader], "follower") != 0 || term[0] != term[1])
        return -1;
    json_t *h = NULL;
    int st = bench_http(b->mgr[leader].url, "GET", "/v1/health", NULL, HTTP_TIMEOUT, &h);
    json_int_t active = json_integer_value(json_object_get(h, "active_migrations"));
    json_decref(h);
    if (st != 200 || active != 0)
        return -1;
    if (!vms_calm(b) || !manager_view_calm(b, 0) || !manager_view_calm(b, 1))
        return -1;
    return leader;
}

static int
wait_calm(const struct bench *b, double timeout_s)
{
    double deadline = bench_mono_s() + timeout_s;
    for (;;) {
        int l = cluster_calm(b);
        if (l >= 0 || bench_mono_s() > deadline)
            return l;
        bench_pause_ms(50);
    }
}

/* The host with the most running VMs (at least 2) and two of them, or -1. */
static int
pick_conflict(const struct bench *b, char vm[2][32])
{
    json_t *vms = agents_vms(b);
    if (vms == NULL)
        return -1;
    int count[N_HOSTS] = {0};
    size_t k;
    json_t *v;
    json_array_foreach(vms, k, v) count[json_integer_value(json_object_get(v, "agent"))]++;
    int src = 0;
    for (int h = 1; h < N_HOSTS; h++)
        src = count[h] > count[src] ? h : src;
    int n = 0;
    json_array_foreach(vms, k, v)
    {
        if (json_integer_value(json_object_get(v, "agent")) == src && n < 2)
            (void)snprintf(vm[n++], 32, "%s", json_string_value(json_object_get(v, "name")));
    }
    json_decref(vms);
    return n == 2 ? src : -1;
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

/* The survivor's first migration of term `term` from host `src` ("h1".."h3"): 1 with its id
 * and "started", 0 none yet. */
static int
new_order(const struct bench *b, int m, long long term, const char *src, char *id, size_t len,
          double *started)
{
    json_t *arr = NULL;
    if (term <= 0 ||
        bench_http(b->mgr[m].url, "GET", "/v1/migrations", NULL, HTTP_TIMEOUT, &arr) != 200) {
        json_decref(arr);
        return 0;
    }
    char tag[40];
    (void)snprintf(tag, sizeof(tag), "-t%lld-", term);
    int found = 0;
    double first = INFINITY;
    size_t k;
    json_t *o;
    json_array_foreach(arr, k, o)
    {
        const char *mid = json_string_value(json_object_get(o, "id"));
        const char *from = json_string_value(json_object_get(o, "from"));
        double t = json_number_value(json_object_get(o, "started"));
        if (mid == NULL || from == NULL || strstr(mid, tag) == NULL || strcmp(from, src) != 0 ||
            t >= first)
            continue;
        first = t;
        (void)snprintf(id, len, "%s", mid);
        found = 1;
    }
    json_decref(arr);
    *started = first;
    return found;
}

/* The state of migration `id` on manager `m` ("" when not listed). */
static void
migration_state(const struct bench *b, int m, const char *id, char *state, size_t len)
{
    json_t *arr = NULL;
    state[0] = '\0';
    if (bench_http(b->mgr[m].url, "GET", "/v1/migrations", NULL, HTTP_TIMEOUT, &arr) == 200) {
        size_t k;
        json_t *o;
        json_array_foreach(arr, k, o)
        {
            const char *mid = json_string_value(json_object_get(o, "id"));
            const char *s = json_string_value(json_object_get(o, "state"));
            if (mid != NULL && s != NULL && strcmp(mid, id) == 0)
                (void)snprintf(state, len, "%s", s);
        }
    }
    json_decref(arr);
}

/* ---- one kill ------------------------------------------------------------------------ */

/* Wait for the survivor's order and the migration's end. 1 resolved (failover in *ret_s),
 * 0 missed. */
static int
await_resolution(struct bench *b, int surv, int src, double kill_wall, double kill_mono,
                 double *ret_s, double *ret_takeover)
{
    char src_name[16], id[96] = "", role[16];
    (void)snprintf(src_name, sizeof(src_name), "h%d", src + 1);
    long long term = 0;
    double started = 0;
    *ret_takeover = NAN;
    double deadline = kill_mono + b->lease * 2.0 + b->interval * 5.0 + 10.0;
    int found = 0;
    while (!found && bench_mono_s() < deadline) {
        manager_role(b, surv, role, sizeof(role), &term);
        if (strcmp(role, "leader") != 0) {
            term = 0;
        } else if (isnan(*ret_takeover)) {
            *ret_takeover = bench_mono_s() - kill_mono;
        }
        found = new_order(b, surv, term, src_name, id, sizeof(id), &started);
        if (!found)
            bench_pause_ms(POLL_MS);
    }
    if (!found) {
        (void)fprintf(stderr, "bench_failover: no order from h%d by the new leader m%d\n", src + 1,
                      surv + 1);
        return 0;
    }
    *ret_s = started - kill_wall;
    char state[16] = "";
    deadline = bench_mono_s() + 10.0 * b->interval + 10.0;
    while (bench_mono_s() < deadline) {
        migration_state(b, surv, id, state, sizeof(state));
        if (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0)
            break;
        bench_pause_ms(POLL_MS);
    }
    if (strcmp(state, "done") != 0) {
        (void)fprintf(stderr, "bench_failover: migration %s ended as '%s'\n", id,
                      state[0] != '\0' ? state : "(still running)");
        return 0;
    }
    return 1;
}

/* One kill of the leader. 0 measured or missed (counted), -1 the cluster is unusable. */
static int
one_kill(struct bench *b, int k, struct result *r)
{
    int leader = wait_calm(b, 20.0 + 5.0 * b->lease);
    if (leader < 0) {
        (void)fprintf(stderr, "bench_failover: kill %d: the cluster was not calm in time\n", k);
        return -1;
    }
    char vm[2][32];
    int src = pick_conflict(b, vm);
    if (src < 0)
        return -1;
    int surv = 1 - leader;
    /* The kill's phase: uniform over the follower's look (a third of the lease) or a round,
     * the longer; wait_calm() returns at a fixed phase of both. */
    double span = b->interval > b->lease / 3.0 ? b->interval : b->lease / 3.0;
    bench_pause_ms((int)(bench_rng_unit(&rng_state) * span * 1000.0));
    double kill_wall = bench_wall_s();
    double kill_mono = bench_mono_s();
    kill_now(&b->mgr[leader]);
    /* The conflict arrives while nobody leads. */
    if (set_load(b, src, vm[0], HIGH_CPU) < 0 || set_load(b, src, vm[1], HIGH_CPU) < 0)
        return -1;
    double fo = 0, takeover = NAN;
    if (await_resolution(b, surv, src, kill_wall, kill_mono, &fo, &takeover)) {
        r->failover_s[r->measured] = fo;
        r->takeover_s[r->measured] = takeover;
        r->measured++;
        if (verbose)
            (void)fprintf(stderr,
                          "kill %2d: m%d killed, m%d leads after %.2f s, orders after "
                          "%.2f s\n",
                          k, leader + 1, surv + 1, takeover, fo);
    } else {
        r->missed++;
    }
    /* The killed manager comes back on its address, as the follower. */
    if (manager_start(b, leader) < 0)
        return -1;
    return 0;
}

/* ---- summary and output -------------------------------------------------------------- */

static void
summarize(struct result *r, const struct bench *b)
{
    size_t n = (size_t)r->measured;
    double *tmp = malloc((n + 1) * sizeof(*tmp));
    if (tmp != NULL) {
        memcpy(tmp, r->failover_s, n * sizeof(*tmp));
        r->p50 = bench_percentile(tmp, n, 50);
        r->p99 = bench_percentile(tmp, n, 99);
        r->max = n > 0 ? tmp[n - 1] : 0.0;
        memcpy(tmp, r->takeover_s, n * sizeof(*tmp));
        r->takeover_p50 = bench_percentile(tmp, n, 50);
        free(tmp);
    }
    r->target_s = b->lease + b->interval + TARGET_SLACK_S;
    r->pass = !r->aborted && r->missed == 0 && r->measured == r->kills && r->p99 <= r->target_s;
}

static void
print_text(const struct result *r, const struct bench *b)
{
    (void)printf("bench_failover: etcd (1 member), 2 managers (lease %d s, interval %g s), %d "
                 "agents x %d VMs on 127.0.0.1; %d kills of the leader (kill -9), a conflict "
                 "arriving right after each\n",
                 b->lease, b->interval, N_HOSTS, VMS_PER_HOST, r->kills);
    (void)printf("failover = kill -> \"started\" of the new leader's first order\n\n");
    (void)printf("%6s %8s %7s %8s %8s %8s %12s %9s %8s\n", "kills", "measured", "missed", "p50_s",
                 "p99_s", "max_s", "takeover_p50", "target_s", "verdict");
    (void)printf("%6d %8d %7d %8.2f %8.2f %8.2f %12.2f %9.2f %8s\n", r->kills, r->measured,
                 r->missed, r->p50, r->p99, r->max, r->takeover_p50, r->target_s,
                 r->pass ? "PASS" : "MISS");
    (void)printf("\n%s: p99 %.2f s against %.2f s (lease + interval + %.1f s), %d conflicts "
                 "missed%s\n",
                 r->pass ? "PASS" : "MISS", r->p99, r->target_s, TARGET_SLACK_S, r->missed,
                 r->aborted ? "; stopped early (see the messages above)" : "");
}

static void
print_json(const struct result *r, const struct bench *b)
{
    (void)printf("{\"bench\":\"failover\",\"lease_s\":%d,\"interval_s\":%g,\"agents\":%d,"
                 "\"kills\":%d,\"measured\":%d,\"missed\":%d,\"aborted\":%s,\"p50_s\":%.3f,"
                 "\"p99_s\":%.3f,\"max_s\":%.3f,\"takeover_p50_s\":%.3f,\"target_s\":%.3f,"
                 "\"verdict\":\"%s\",\"failover_s\":[",
                 b->lease, b->interval, N_HOSTS, r->kills, r->measured, r->missed,
                 r->aborted ? "true" : "false", r->p50, r->p99, r->max, r->takeover_p50,
                 r->target_s, r->pass ? "PASS" : "MISS");
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
                  "Start etcd, two managers on it and 3 agents on 127.0.0.1; N times, kill -9\n"
                  "the leader, raise a conflict at once and time the new leader's first order.\n"
                  "Target: p99 <= lease + interval + 0.5 s, no conflict missed.\n\n"
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
    /* The default policy but the anti-flapping: every kill moves one of the same nine VMs. */
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

static void
run(struct bench *b, int kills, struct result *r)
{
    if (cluster_start(b) < 0) {
        r->aborted = true;
        return;
    }
    if (!verbose)
        (void)fprintf(stderr, "kills: ");
    for (int k = 0; k < kills; k++) {
        if (one_kill(b, k, r) < 0) {
            r->aborted = true;
            break;
        }
        if (!verbose)
            (void)fputc('.', stderr);
    }
    if (!verbose)
        (void)fputc('\n', stderr);
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
    r.failover_s = calloc((size_t)kills + 1, sizeof(double));
    r.takeover_s = calloc((size_t)kills + 1, sizeof(double));
    if (r.failover_s == NULL || r.takeover_s == NULL)
        r.aborted = true;
    else
        run(&b, kills, &r);
    cluster_stop(&b);
    summarize(&r, &b);
    if (json)
        print_json(&r, &b);
    else
        print_text(&r, &b);
    if (keep || r.aborted || r.missed > 0)
        (void)fprintf(stderr, "bench_failover: logs kept in %s\n", root);
    else
        bench_rm_rf(root);
    free(r.failover_s);
    free(r.takeover_s);
    free(root);
    return 0;
}
