/* bench_peers: peer mode at scale. N vmloc agents in peer mode (default 100, no manager) run
 * on 127.0.0.1, each listing every other as a peer, each with two simulated VMs. Once every
 * agent answers, K of them (default 20) get a conflict at the same moment: both their VMs
 * rise to 50 % and 45 % CPU. The idle hosts differ slightly in load, so every source's best
 * destination is the same least-loaded host and the sources contend for it.
 *
 * Reported: the time from the last load call to each source's migration order (p50, max)
 * and to the moment every conflict is resolved (every source has its migration done and is
 * out of conflict), the lock refusals the sources met, the locks the destinations granted
 * and refused, how many migrations went into each destination (at most one at a time is
 * checked from the sources' records), and whether every VM runs exactly once at the end.
 * A benchmark, not a gate: it exits 0 once the options parse (2 for bad options). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"

#define MAX_PEERS 400
#define HTTP_TIMEOUT 10.0

struct peer {
    struct bench_daemon d;
    char name[16];
    char data[600];
};

struct opts {
    int peers;
    int conflicts;
    double interval;
    const char *bandwidth;
    const char *lease;
    bool json;
    bool keep;
};

static struct peer *peers;

static void
usage(FILE *f)
{
    (void)fprintf(f,
                  "usage: bench_peers [--peers N] [--conflicts K] [--interval S] [--bandwidth M]\n"
                  "                   [--lock-lease S] [--vmloc PATH] [--json] [--keep]\n\n"
                  "Start N vmloc agents in peer mode on 127.0.0.1 (default 100), give K of them\n"
                  "(default 20) a conflict at the same moment, and measure how long until all\n"
                  "are resolved and how many lock refusals happened.\n\n"
                  "  --interval S     the agents' sampling interval (default 1)\n"
                  "  --bandwidth M    simulated migration bandwidth, MiB/s (default 1024: a\n"
                  "                   1024 MiB VM moves in 1 s)\n"
                  "  --lock-lease S   the destination lock's lease (default the agent's)\n");
}

/* Every agent answers /v1/health. */
static bool
all_up(int n, double timeout_s)
{
    double deadline = bench_mono_s() + timeout_s;
    for (int i = 0; i < n; i++) {
        for (;;) {
            json_t *h = NULL;
            int st = bench_http(peers[i].d.url, "GET", "/v1/health", NULL, HTTP_TIMEOUT, &h);
            json_int_t listed = json_integer_value(json_object_get(h, "peers"));
            json_decref(h);
            if (st == 200 && listed == n - 1)
                break;
            if (bench_mono_s() > deadline)
                return false;
            bench_pause_ms(20);
        }
    }
    return true;
}

static long long
health_int(const char *url, const char *key)
{
    json_t *h = NULL;
    long long v = -1;
    if (bench_http(url, "GET", "/v1/health", NULL, HTTP_TIMEOUT, &h) == 200 &&
        json_is_integer(json_object_get(h, key)))
        v = (long long)json_integer_value(json_object_get(h, key));
    json_decref(h);
    return v;
}

struct src {
    int peer;
    double ordered; /* wall clock of its migration's start; 0 until seen */
    double started;
    double finished;
    char to[16];
    bool done;
};

/* Look at source `s`'s migrations: fills ordered/done from its store. */
static void
poll_source(struct src *s)
{
    json_t *arr = NULL;
    if (bench_http(peers[s->peer].d.url, "GET", "/v1/migrations", NULL, HTTP_TIMEOUT, &arr) ==
            200 &&
        json_array_size(arr) > 0) {
        json_t *m = json_array_get(arr, 0);
        s->started = json_number_value(json_object_get(m, "started"));
        s->ordered = s->started;
        const char *to = json_string_value(json_object_get(m, "to"));
        (void)snprintf(s->to, sizeof(s->to), "%s", to != NULL ? to : "?");
        const char *st = json_string_value(json_object_get(m, "state"));
        if (st != NULL && strcmp(st, "done") == 0) {
            s->finished = json_number_value(json_object_get(m, "finished"));
            json_t *h = NULL;
            if (bench_http(peers[s->peer].d.url, "GET", "/v1/health", NULL, HTTP_TIMEOUT, &h) ==
                200)
                s->done = !json_is_true(json_object_get(h, "in_conflict"));
            json_decref(h);
        }
    }
    json_decref(arr);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* How many times VM `name` runs (state running) over all agents. */
static int
vm_count(int n, const char *name)
{
    int c = 0;
    for (int i = 0; i < n; i++) {
        json_t *arr = NULL;
        if (bench_http(peers[i].d.url, "GET", "/v1/vms", NULL, HTTP_TIMEOUT, &arr) == 200) {
            for (size_t k = 0; k < json_array_size(arr); k++) {
                json_t *v = json_array_get(arr, k);
                const char *nm = json_string_value(json_object_get(v, "name"));
                const char *st = json_string_value(json_object_get(v, "state"));
                c +=
                    nm != NULL && st != NULL && strcmp(nm, name) == 0 && strcmp(st, "running") == 0;
            }
        }
        json_decref(arr);
    }
    return c;
}

int
main(int argc, char **argv)
{
    struct opts o = {100, 20, 1.0, "1024", NULL, false, false};
    const char *vmloc_opt = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (strcmp(a, "--keep") == 0) {
            o.keep = true;
        } else if (strcmp(a, "--peers") == 0 && has) {
            if (bench_parse_int(argv[++i], 2, MAX_PEERS, &o.peers) < 0) {
                (void)fprintf(stderr, "bench_peers: --peers: 2 to %d\n", MAX_PEERS);
                return 2;
            }
        } else if (strcmp(a, "--conflicts") == 0 && has) {
            if (bench_parse_int(argv[++i], 1, MAX_PEERS, &o.conflicts) < 0) {
                (void)fprintf(stderr, "bench_peers: --conflicts: 1 to %d\n", MAX_PEERS);
                return 2;
            }
        } else if (strcmp(a, "--interval") == 0 && has) {
            char *end = NULL;
            o.interval = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || !(o.interval >= 0.05 && o.interval <= 60)) {
                (void)fprintf(stderr, "bench_peers: --interval: 0.05 to 60\n");
                return 2;
            }
        } else if (strcmp(a, "--bandwidth") == 0 && has) {
            o.bandwidth = argv[++i];
        } else if (strcmp(a, "--lock-lease") == 0 && has) {
            o.lease = argv[++i];
        } else if (strcmp(a, "--vmloc") == 0 && has) {
            vmloc_opt = argv[++i];
        } else {
            (void)fprintf(stderr, "bench_peers: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o.conflicts * 2 > o.peers) {
        (void)fprintf(stderr, "bench_peers: --conflicts must be at most half of --peers (room)\n");
        return 2;
    }
    const char *bin = bench_vmloc_path(vmloc_opt);
    if (bin == NULL)
        return 2;
    /* Each agent keeps a connection to each peer it asked: raise the descriptor limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    char *root = bench_mkdtemp("vmloc-bench-peers");
    peers = calloc((size_t)o.peers, sizeof(*peers));
    if (root == NULL || peers == NULL) {
        (void)fprintf(stderr, "bench_peers: out of memory or no scratch directory\n");
        return 1;
    }
    int n = o.peers;
    /* Every agent binds a port the kernel chooses; they learn each other from a peers file
     * written once all of them listen. */
    char peers_file[600];
    (void)snprintf(peers_file, sizeof(peers_file), "%s/peers", root);
    for (int i = 0; i < n; i++) {
        (void)snprintf(peers[i].name, sizeof(peers[i].name), "p%03d", i + 1);
        (void)snprintf(peers[i].data, sizeof(peers[i].data), "%s/%s", root, peers[i].name);
    }
    /* Sources are the first K; the others idle at slightly different loads (the lowest is the
     * best destination for every source). */
    double t_start = bench_mono_s();
    const char **args = calloc((size_t)(2 * n + 40), sizeof(*args));
    char iv[32];
    (void)snprintf(iv, sizeof(iv), "%g", o.interval);
    bool started = args != NULL;
    for (int i = 0; i < n && started; i++) {
        char vm1[64];
        char vm2[64];
        double base = i < o.conflicts ? 10.0 : 10.0 + (double)(i % 7);
        (void)snprintf(vm1, sizeof(vm1), "%s-a:cpu=%g,mem=1024", peers[i].name, base);
        (void)snprintf(vm2, sizeof(vm2), "%s-b:cpu=%g,mem=512", peers[i].name, base);
        int k = 0;
        const char *fixed[] = {
            "agent",       "--name",       peers[i].name, "--mode",     "peer", "--listen",
            "127.0.0.1:0", "--data",       peers[i].data, "--interval", iv,     "--bandwidth",
            o.bandwidth,   "--vm",         vm1,           "--vm",       vm2,    "--log-level",
            "warn",        "--peers-file", peers_file};
        for (size_t f = 0; f < sizeof(fixed) / sizeof(fixed[0]); f++)
            args[k++] = fixed[f];
        if (o.lease != NULL) {
            args[k++] = "--lock-lease";
            args[k++] = o.lease;
        }
        args[k] = NULL;
        char log[700];
        (void)snprintf(log, sizeof(log), "%s/%s.log", root, peers[i].name);
        if (bench_daemon_start(&peers[i].d, bin, args, log, 20.0) < 0)
            started = false;
    }
    free(args);
    int exit_code = 0;
    const struct bench_daemon **ds = calloc((size_t)n, sizeof(*ds));
    for (int i = 0; ds != NULL && i < n; i++)
        ds[i] = &peers[i].d;
    if (started && (ds == NULL || bench_share_peers(peers_file, ds, (size_t)n) < 0))
        started = false;
    free(ds);
    if (!started || !all_up(n, 30.0)) {
        (void)fprintf(stderr, "bench_peers: the agents did not all start\n");
        o.keep = true;
        goto out;
    }
    double t_up = bench_mono_s();
    struct src *src = calloc((size_t)o.conflicts, sizeof(*src));
    if (src == NULL)
        goto out;
    for (int i = 0; i < o.conflicts; i++) {
        src[i].peer = i;
        char path[128];
        (void)snprintf(path, sizeof(path), "/v1/vms/%s-a/load", peers[i].name);
        int a = bench_http(peers[i].d.url, "POST", path, "{\"cpu\": 50}", HTTP_TIMEOUT, NULL);
        (void)snprintf(path, sizeof(path), "/v1/vms/%s-b/load", peers[i].name);
        int b = bench_http(peers[i].d.url, "POST", path, "{\"cpu\": 45}", HTTP_TIMEOUT, NULL);
        if (a != 200 || b != 200)
            (void)fprintf(stderr, "bench_peers: load on %s refused\n", peers[i].name);
    }
    double t_load = bench_wall_s();
    double deadline = bench_mono_s() + 60.0 + 20.0 * o.interval;
    int done = 0;
    double t_all = NAN;
    while (done < o.conflicts && bench_mono_s() < deadline) {
        done = 0;
        for (int i = 0; i < o.conflicts; i++) {
            if (!src[i].done)
                poll_source(&src[i]);
            done += src[i].done;
        }
        if (done == o.conflicts)
            t_all = bench_wall_s();
        else
            bench_pause_ms(20);
    }
    /* Figures. */
    double *order_ms = calloc((size_t)o.conflicts + 1, sizeof(double));
    int n_ordered = 0;
    for (int i = 0; i < o.conflicts; i++) {
        if (src[i].ordered > 0)
            order_ms[n_ordered++] = (src[i].ordered - t_load) * 1000.0;
    }
    qsort(order_ms, (size_t)n_ordered, sizeof(double), cmp_double);
    long long refusals = 0;
    long long granted = 0;
    long long served = 0;
    long long denied = 0;
    for (int i = 0; i < n; i++) {
        if (i < o.conflicts) {
            refusals += health_int(peers[i].d.url, "lock_refusals");
            granted += health_int(peers[i].d.url, "locks_granted");
        }
        served += health_int(peers[i].d.url, "locks_served");
        denied += health_int(peers[i].d.url, "locks_denied");
    }
    /* At most one migration at a time into any destination. */
    int overlaps = 0;
    int distinct = 0;
    for (int i = 0; i < o.conflicts; i++) {
        bool first = true;
        for (int k = 0; k < o.conflicts; k++) {
            if (k == i || strcmp(src[i].to, src[k].to) != 0)
                continue;
            if (k < i)
                first = false;
            if (k > i && src[i].finished > 0 && src[k].finished > 0 &&
                !(src[i].finished <= src[k].started || src[k].finished <= src[i].started))
                overlaps++;
        }
        distinct += first;
    }
    int lost = 0;
    int doubled = 0;
    for (int i = 0; i < o.conflicts; i++) {
        char vm[32];
        for (int v = 0; v < 2; v++) {
            (void)snprintf(vm, sizeof(vm), "%s-%c", peers[i].name, v == 0 ? 'a' : 'b');
            int c = vm_count(n, vm);
            lost += c == 0;
            doubled += c > 1;
        }
    }
    double p50 = n_ordered > 0 ? order_ms[(n_ordered - 1) / 2] : NAN;
    double omax = n_ordered > 0 ? order_ms[n_ordered - 1] : NAN;
    double all_ms = isnan(t_all) ? NAN : (t_all - t_load) * 1000.0;
    if (o.json) {
        (void)printf("{\"bench\":\"peers\",\"peers\":%d,\"conflicts\":%d,\"interval_s\":%g,"
                     "\"start_s\":%.3f,\"ordered\":%d,\"resolved\":%d,\"order_p50_ms\":%.1f,"
                     "\"order_max_ms\":%.1f,\"all_resolved_ms\":%.1f,\"lock_refusals\":%lld,"
                     "\"locks_granted\":%lld,\"locks_served\":%lld,\"locks_denied\":%lld,"
                     "\"destinations\":%d,\"overlaps\":%d,\"vms_lost\":%d,\"vms_doubled\":%d}\n",
                     n, o.conflicts, o.interval, t_up - t_start, n_ordered, done, p50, omax, all_ms,
                     refusals, granted, served, denied, distinct, overlaps, lost, doubled);
    } else {
        (void)printf("bench_peers: %d vmloc agents in peer mode on 127.0.0.1 (no manager), "
                     "interval %g s; %d simultaneous conflicts\n\n",
                     n, o.interval, o.conflicts);
        (void)printf("  agents started and answering    %8.1f s\n", t_up - t_start);
        (void)printf("  conflicts with a migration      %8d of %d\n", n_ordered, o.conflicts);
        (void)printf("  load -> order, p50              %8.1f ms\n", p50);
        (void)printf("  load -> order, max              %8.1f ms\n", omax);
        (void)printf("  load -> all resolved            %8.1f ms  (%d of %d resolved)\n", all_ms,
                     done, o.conflicts);
        (void)printf("  lock refusals met by sources    %8lld\n", refusals);
        (void)printf("  locks granted to sources        %8lld\n", granted);
        (void)printf("  locks served / denied by hosts  %8lld / %lld\n", served, denied);
        (void)printf("  distinct destinations           %8d\n", distinct);
        (void)printf("  overlapping arrivals            %8d  (must be 0)\n", overlaps);
        (void)printf("  VMs lost / doubled              %4d / %d  (must be 0 / 0)\n", lost,
                     doubled);
    }
    free(order_ms);
    free(src);
out:
    for (int i = 0; i < n; i++) {
        if (peers[i].d.pid > 0)
            (void)bench_daemon_stop(&peers[i].d, 5.0);
    }
    if (o.keep)
        (void)fprintf(stderr, "bench_peers: logs and stores kept in %s\n", root);
    else
        bench_rm_rf(root);
    free(root);
    free(peers);
    return exit_code;
}
