/* `vmloc demo`: a small cluster on 127.0.0.1 (a few agents with the simulated backend, and a
 * manager unless the mode is peer) and a workload that changes over time. Sudden spikes
 * create resource conflicts; the demo prints each load change, each conflict detected and
 * each migration ordered, with their reasons and outcomes, until Ctrl-C (or --duration).
 * --mode central|edge|peer runs the same cluster and workload in each deployment. Everything
 * it starts is stopped on the way out. The daemons are this same binary, run as children. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/child.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/token.h"
#include "net/http_client.h"

#define DEMO_MAX_AGENTS 8

static volatile sig_atomic_t demo_stop;

static void
on_signal(int sig)
{
    (void)sig;
    demo_stop = 1;
}

enum demo_mode { DEMO_CENTRAL, DEMO_EDGE, DEMO_PEER };
static const char *const mode_names[] = {"central", "edge", "peer"};

struct demo {
    enum demo_mode mode;
    struct child manager; /* not in peer mode */
    struct child agents[DEMO_MAX_AGENTS];
    int n_agents;
    double interval;
    char data[4096];
    bool own_data;
    char token_file[4096];  /* the cluster's token, given to every daemon */
    double conflicts_since; /* conflicts before this time were printed */
    json_t *conflicts_at;   /* "host" -> true for those printed at exactly that time */
    size_t seen_migrations;
    json_t *migration_states; /* id -> last state printed */
};

static void
stamp(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL || strftime(buf, len, "%H:%M:%S", &tm) == 0)
        (void)snprintf(buf, len, "--:--:--");
}

/* Start `vmloc ARGS...` and wait for its listening line. 0 or -1. */
static int
spawn(struct child *c, const char *self, char *const argv[], const char *log)
{
    size_t bad = 0;
    if (child_start(c, self, argv, log) < 0)
        return -1;
    if (child_wait_ready(c, 1, clock_wall_s() + 15.0, &bad) < 0) {
        (void)child_stop(c, 2.0);
        return -1;
    }
    return 0;
}

static void
stop_child(struct child *c)
{
    (void)child_stop(c, 2.0);
}

static json_t *
get(const char *url, const char *path)
{
    struct http_answer ans;
    if (cli_fetch(url, "GET", path, NULL, 5.0, &ans) < 0)
        return NULL;
    json_t *j = ans.status == 200 ? json_loads(ans.body, 0, NULL) : NULL;
    free(ans.body);
    return j;
}

static int
by_time(const void *a, const void *b)
{
    double x = json_number_value(json_object_get(*(json_t *const *)a, "time"));
    double y = json_number_value(json_object_get(*(json_t *const *)b, "time"));
    return x < y ? -1 : x > y;
}

/* GET `path` as one JSON array: from the manager, or in peer mode from every agent (their
 * lists joined; conflicts in time order). An empty array when nothing answers. */
static json_t *
list(struct demo *d, const char *path)
{
    if (d->mode != DEMO_PEER) {
        json_t *j = get(d->manager.url, path);
        return json_is_array(j) ? j : (json_decref(j), json_array());
    }
    json_t *all = json_array();
    for (int a = 0; a < d->n_agents; a++) {
        json_t *j = get(d->agents[a].url, path);
        if (json_is_array(j))
            (void)json_array_extend(all, j);
        json_decref(j);
    }
    if (strcmp(path, "/v1/conflicts") == 0 && json_array_size(all) > 1) {
        size_t n = json_array_size(all);
        json_t **items = calloc(n, sizeof(json_t *));
        if (items == NULL)
            return all;
        for (size_t i = 0; i < n; i++)
            items[i] = json_incref(json_array_get(all, i));
        qsort(items, n, sizeof(json_t *), by_time);
        (void)json_array_clear(all);
        for (size_t i = 0; i < n; i++)
            (void)json_array_append_new(all, items[i]);
        free(items);
    }
    return all;
}

/* The agent URL of the host that runs `vm` now, or NULL. */
static const char *
vm_home(struct demo *d, const char *vm, char *host, size_t len)
{
    json_t *vms = list(d, "/v1/vms");
    const char *url = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(vms, i, v)
    {
        const char *name = cli_jstr(v, "name");
        const char *st = cli_jstr(v, "state");
        if (name == NULL || strcmp(name, vm) != 0 || (st != NULL && strcmp(st, "incoming") == 0))
            continue;
        const char *h = cli_jstr(v, "host");
        for (int a = 0; h != NULL && a < d->n_agents; a++) {
            if (strcmp(d->agents[a].name, h) == 0) {
                url = d->agents[a].url;
                (void)snprintf(host, len, "%s", h);
            }
        }
    }
    json_decref(vms);
    return url;
}

static void
set_load(struct demo *d, const char *vm, double cpu, const char *why)
{
    char host[64] = "?";
    const char *url = vm_home(d, vm, host, sizeof(host));
    char t[16];
    stamp(t, sizeof(t));
    if (url == NULL) {
        (void)printf("[%s] load      %s: not found (moving?), skipped\n", t, vm);
        return;
    }
    char path[128];
    char body[64];
    (void)snprintf(path, sizeof(path), "/v1/vms/%s/load", vm);
    (void)snprintf(body, sizeof(body), "{\"cpu\": %g}", cpu);
    struct http_answer ans;
    if (cli_fetch(url, "POST", path, body, 5.0, &ans) == 0 && ans.status == 200)
        (void)printf("[%s] load      %-10s on %-4s cpu -> %4.0f%%   (%s)\n", t, vm, host, cpu, why);
    else
        (void)printf("[%s] load      %s: not set (%s)\n", t, vm,
                     ans.err != NULL ? ans.err : "refused");
    free(ans.body);
    (void)fflush(stdout);
}

/* Print conflicts and migration changes the manager recorded since the last look. */
static void
report(struct demo *d)
{
    char t[16];
    /* The manager lists its latest conflicts (a bounded number), oldest first: print those
     * not seen yet by their time, so the demo keeps up however long it runs. */
    json_t *cs = list(d, "/v1/conflicts");
    size_t n = json_array_size(cs);
    double newest = d->conflicts_since;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cs, i);
        double when = json_number_value(json_object_get(c, "time"));
        const char *host = cli_jstr(c, "host");
        if (when < d->conflicts_since ||
            (when == d->conflicts_since && json_object_get(d->conflicts_at, host) != NULL))
            continue;
        if (when > newest) {
            newest = when;
            json_object_clear(d->conflicts_at);
        }
        if (when == newest)
            (void)json_object_set_new(d->conflicts_at, host, json_true());
        char res[64];
        char vms[256];
        cli_join(json_object_get(c, "resources"), ", ", res, sizeof(res));
        cli_join(json_object_get(c, "vms"), ", ", vms, sizeof(vms));
        stamp(t, sizeof(t));
        (void)printf("[%s] conflict  on %s: %s high, heavy VMs %s -> %s\n", t, cli_jstr(c, "host"),
                     res, vms, cli_jstr(c, "outcome"));
    }
    d->conflicts_since = newest;
    json_decref(cs);
    json_t *ms = list(d, "/v1/migrations");
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        const char *st = json_string_value(json_object_get(m, "state"));
        if (id == NULL || st == NULL)
            continue;
        const char *was = json_string_value(json_object_get(d->migration_states, id));
        if (was != NULL && strcmp(was, st) == 0)
            continue;
        (void)json_object_set_new(d->migration_states, id, json_string(st));
        stamp(t, sizeof(t));
        const char *vm = cli_jstr(m, "vm");
        const char *from = cli_jstr(m, "from");
        const char *to = cli_jstr(m, "to");
        if (strcmp(st, "done") == 0) {
            double secs = json_number_value(json_object_get(m, "finished")) -
                          json_number_value(json_object_get(m, "started"));
            (void)printf("[%s] migration %s %s -> %s done in %.2f s\n", t, vm, from, to, secs);
        } else if (strcmp(st, "failed") == 0) {
            (void)printf("[%s] migration %s %s -> %s FAILED: %s\n", t, vm, from, to,
                         cli_jstr(m, "error"));
        } else if (was == NULL) {
            (void)printf("[%s] migration %s %s -> %s ordered (%s)\n", t, vm, from, to,
                         cli_jstr(m, "reason"));
        }
    }
    json_decref(ms);
    (void)fflush(stdout);
}

/* The VMs of each agent: name and baseline CPU demand. */
static const char *const demo_vms[DEMO_MAX_AGENTS][4] = {
    {"web-1:cpu=14,mem=2048", "web-2:cpu=12,mem=2048", "cache-1:cpu=8,mem=1024", NULL},
    {"db-1:cpu=20,mem=4096", "api-1:cpu=15,mem=1024", NULL, NULL},
    {"batch-1:cpu=12,mem=2048", "batch-2:cpu=10,mem=2048", "etl-1:cpu=9,mem=2048", NULL},
    {"ci-1:cpu=10,mem=1024", NULL, NULL, NULL},
    {"mail-1:cpu=10,mem=1024", NULL, NULL, NULL},
    {"dns-1:cpu=5,mem=512", NULL, NULL, NULL},
    {"log-1:cpu=10,mem=1024", NULL, NULL, NULL},
    {"mon-1:cpu=8,mem=1024", NULL, NULL, NULL},
};

/* One step of the scripted workload (it repeats every 40 s). */
struct step {
    double at;
    const char *vm;
    double cpu;
    const char *why;
};

static const struct step script[] = {
    {3, "web-1", 46, "traffic spike"},  {3, "web-2", 41, "traffic spike"},
    {14, "batch-1", 48, "nightly job"}, {14, "batch-2", 40, "nightly job"},
    {26, "web-1", 14, "spike over"},    {26, "web-2", 12, "spike over"},
    {28, "batch-1", 12, "job done"},    {28, "batch-2", 10, "job done"},
};

static int
demo_start(struct demo *d, const char *self)
{
    char log[4200];
    char interval[32];
    (void)snprintf(interval, sizeof(interval), "%g", d->interval);
    (void)snprintf(log, sizeof(log), "%s/manager.log", d->data);
    /* The demo runs the default policy, with no config file: what a new user gets. */
    /* The token first, so that the daemons and this process read the same one. */
    char token[TOKEN_MAX + 1];
    char err[600];
    bool created = false;
    const char *source = NULL;
    bool create = false;
    if (cli_token_path(NULL, d->token_file, sizeof(d->token_file), &source, &create) < 0) {
        cli_error("demo: no token file: give vmloc --token-file FILE demo");
        return -1;
    }
    if (token_load(d->token_file, create, token, NULL, &created, err, sizeof(err)) < 0) {
        cli_error("demo: %s", err);
        return -1;
    }
    explicit_bzero(token, sizeof(token));
    char *mode = (char *)mode_names[d->mode];
    if (d->mode != DEMO_PEER) {
        char *margv[] = {(char *)self,   "manager",     "--listen", "127.0.0.1:0", "--data",
                         d->data,        "--interval",  interval,   "--mode",      mode,
                         "--token-file", d->token_file, NULL};
        if (spawn(&d->manager, self, margv, log) < 0) {
            cli_error("demo: the manager did not start (see %s)", log);
            return -1;
        }
    }
    /* Every daemon binds a port the kernel chooses and says which. Peers learn each other
     * from a peers file written once all of them listen. */
    char data[DEMO_MAX_AGENTS][4200];
    char peers[4200];
    (void)snprintf(peers, sizeof(peers), "%s/peers", d->data);
    for (int i = 0; i < d->n_agents; i++) {
        (void)snprintf(d->agents[i].name, sizeof(d->agents[i].name), "h%d", i + 1);
        (void)snprintf(data[i], sizeof(data[i]), "%s/%s", d->data, d->agents[i].name);
    }
    for (int i = 0; i < d->n_agents; i++) {
        struct child *a = &d->agents[i];
        char *argv[64] = {(char *)self,  "agent",  "--name",       a->name,      "--listen",
                          "127.0.0.1:0", "--mode", mode,           "--interval", interval,
                          "--bandwidth", "4096",   "--token-file", d->token_file};
        int n = 14;
        /* Each simulated host keeps its VMs in its directory (it survives a restart). */
        argv[n++] = "--data";
        argv[n++] = data[i];
        if (d->mode == DEMO_PEER) {
            argv[n++] = "--peers-file";
            argv[n++] = peers;
        } else {
            argv[n++] = "--manager";
            argv[n++] = d->manager.url;
        }
        for (int v = 0; v < 4 && demo_vms[i][v] != NULL; v++) {
            argv[n++] = "--vm";
            argv[n++] = (char *)demo_vms[i][v];
        }
        argv[n] = NULL;
        (void)snprintf(log, sizeof(log), "%s/%s.log", d->data, a->name);
        if (spawn(a, self, argv, log) < 0) {
            cli_error("demo: agent %s did not start (see %s)", a->name, log);
            return -1;
        }
    }
    if (d->mode == DEMO_PEER) {
        int r = child_share_peers(d->agents, (size_t)d->n_agents, peers);
        if (r < 0) {
            cli_error("demo: cannot write %s: %s", peers, strerror(-r));
            return -1;
        }
    }
    return 0;
}

static void
demo_stop_all(struct demo *d)
{
    for (int i = 0; i < d->n_agents; i++)
        stop_child(&d->agents[i]);
    stop_child(&d->manager);
}

/* Wait until the manager has a sample from every agent (peer mode: every agent answers and
 * lists all the others). */
static bool
demo_wait_ready(struct demo *d)
{
    double deadline = clock_wall_s() + 20.0;
    while (!demo_stop && clock_wall_s() < deadline) {
        int up = 0;
        for (int a = 0; d->mode == DEMO_PEER && a < d->n_agents; a++) {
            json_t *h = get(d->agents[a].url, "/v1/health");
            up += json_integer_value(json_object_get(h, "peers")) == d->n_agents - 1;
            json_decref(h);
        }
        json_t *hosts = d->mode == DEMO_PEER ? NULL : get(d->manager.url, "/v1/hosts");
        size_t i;
        json_t *h;
        json_array_foreach(hosts, i, h)
        {
            const char *st = cli_jstr(h, "state");
            if (st != NULL && strcmp(st, "up") == 0)
                up++;
        }
        json_decref(hosts);
        if (up == d->n_agents)
            return true;
        struct timespec ts = {0, 100L * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    return false;
}

static void
demo_usage(FILE *f)
{
    (void)fprintf(f,
                  "usage: vmloc demo [--mode MODE] [--agents N] [--duration SECONDS]\n"
                  "                  [--interval SECONDS] [--data DIR]\n\n"
                  "Start N agents (default 5, at most 8) on 127.0.0.1 with simulated hosts,\n"
                  "and a manager, drive a workload with sudden spikes, and print what vmloc\n"
                  "detects and moves as it happens. Ctrl-C stops everything; --duration stops\n"
                  "after that many seconds. --data keeps the stores and the daemons' logs in\n"
                  "DIR (default: a temporary directory, removed at the end).\n\n"
                  "  --mode central  the manager detects and decides (default)\n"
                  "  --mode edge     each agent detects and notifies the manager, which decides\n"
                  "  --mode peer     no manager: agents decide among themselves, locking the\n"
                  "                  destination\n");
}

static int
parse_args(int argc, char **argv, struct demo *d, double *duration)
{
    static const struct option opts[] = {
        {"agents", required_argument, NULL, 'a'},
        {"duration", required_argument, NULL, 't'},
        {"interval", required_argument, NULL, 'i'},
        {"data", required_argument, NULL, 'd'},
        {"mode", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":a:t:i:d:m:h", opts, NULL)) != -1) {
        char *end = NULL;
        double v = optarg != NULL ? strtod(optarg, &end) : 0;
        bool num_ok =
            optarg != NULL && *optarg != '\0' && end != NULL && *end == '\0' && isfinite(v);
        switch (c) {
        case 'a':
            if (!num_ok || v < 2 || v > DEMO_MAX_AGENTS || v != floor(v)) {
                cli_error("demo: --agents must be 2 to %d", DEMO_MAX_AGENTS);
                return CLI_EXIT_USAGE;
            }
            d->n_agents = (int)v;
            break;
        case 't':
            if (!num_ok || v <= 0 || v > 1e7) {
                cli_error("demo: --duration must be a number of seconds > 0");
                return CLI_EXIT_USAGE;
            }
            *duration = v;
            break;
        case 'i':
            if (!num_ok || v < 0.05 || v > 60) {
                cli_error("demo: --interval must be 0.05 to 60 seconds");
                return CLI_EXIT_USAGE;
            }
            d->interval = v;
            break;
        case 'd':
            if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(d->data) - 32) {
                cli_error("demo: --data must be a directory path");
                return CLI_EXIT_USAGE;
            }
            (void)snprintf(d->data, sizeof(d->data), "%s", optarg);
            d->own_data = false;
            break;
        case 'm':
            if (strcmp(optarg, "central") == 0) {
                d->mode = DEMO_CENTRAL;
            } else if (strcmp(optarg, "edge") == 0) {
                d->mode = DEMO_EDGE;
            } else if (strcmp(optarg, "peer") == 0) {
                d->mode = DEMO_PEER;
            } else {
                cli_error("demo: --mode must be central, edge or peer");
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h':
            demo_usage(stdout);
            return -1;
        case ':':
            return cli_missing_value("demo", argv);
        default:
            return cli_unknown_option("demo", argv, ":a:t:i:d:m:h");
        }
    }
    if (optind < argc) {
        cli_error("demo: unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int
cmd_demo(int argc, char **argv)
{
    struct demo d;
    memset(&d, 0, sizeof(d));
    d.n_agents = 5;
    d.interval = 0.5;
    d.own_data = true;
    double duration = 0;
    int r = parse_args(argc, argv, &d, &duration);
    if (r != 0)
        return r < 0 ? CLI_EXIT_OK : r;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        cli_error("demo: cannot find the vmloc binary: %s", strerror(errno));
        return CLI_EXIT_FAIL;
    }
    self[n] = '\0';
    if (d.own_data) {
        const char *tmp = getenv("TMPDIR");
        (void)snprintf(d.data, sizeof(d.data), "%s/vmloc-demo-XXXXXX", tmp != NULL ? tmp : "/tmp");
        if (mkdtemp(d.data) == NULL) {
            cli_error("demo: cannot create a temporary directory: %s", strerror(errno));
            return CLI_EXIT_FAIL;
        }
    } else if (mkdir(d.data, 0700) < 0 && errno != EEXIST) {
        cli_error("demo: %s: %s", d.data, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    d.migration_states = json_object();
    d.conflicts_at = json_object();
    int ret = CLI_EXIT_FAIL;
    if (demo_start(&d, self) < 0)
        goto out;
    if (!demo_wait_ready(&d)) {
        if (!demo_stop)
            cli_error("demo: the agents did not all report to the manager (logs in %s)", d.data);
        goto out;
    }
    if (d.mode == DEMO_PEER)
        (void)printf("vmloc demo (peer mode): no manager, %d agents (h1..h%d), interval %g s.%s\n"
                     "  look around: vmloc --agent %s hosts | vms | conflicts | migrations\n"
                     "  web page: %s/ (any agent serves it)\n"
                     "  API token: in %s (the page asks for it)\n",
                     d.n_agents, d.n_agents, d.interval, duration > 0 ? "" : " Ctrl-C stops.",
                     d.agents[0].url, d.agents[0].url, d.token_file);
    else
        (void)printf("vmloc demo (%s mode): manager %s, %d agents (h1..h%d), interval %g s.%s\n"
                     "  look around: vmloc --manager %s hosts | vms | conflicts | migrations\n"
                     "  web page: %s/\n"
                     "  API token: in %s (the page asks for it)\n",
                     mode_names[d.mode], d.manager.url, d.n_agents, d.n_agents, d.interval,
                     duration > 0 ? "" : " Ctrl-C stops.", d.manager.url, d.manager.url,
                     d.token_file);
    (void)fflush(stdout);
    double start = clock_wall_s();
    double cycle = 40.0;
    size_t next = 0;
    double cycle_start = start;
    while (!demo_stop && (duration <= 0 || clock_wall_s() - start < duration)) {
        double now = clock_wall_s();
        if (now - cycle_start >= cycle) {
            cycle_start += cycle;
            next = 0;
        }
        while (next < sizeof(script) / sizeof(script[0]) && now - cycle_start >= script[next].at) {
            set_load(&d, script[next].vm, script[next].cpu, script[next].why);
            next++;
        }
        report(&d);
        struct timespec ts = {0, 200L * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    report(&d);
    (void)printf("vmloc demo: stopping (logs and store: %s)\n", d.own_data ? "removed" : d.data);
    ret = CLI_EXIT_OK;
out:
    demo_stop_all(&d);
    json_decref(d.migration_states);
    json_decref(d.conflicts_at);
    /* The whole temporary directory: stores, logs and each simulated host's state file. */
    if (d.own_data && ret == CLI_EXIT_OK) {
        int rm = file_remove_tree(d.data);
        if (rm < 0)
            (void)fprintf(stderr, "vmloc demo: cannot remove %s: %s\n", d.data, strerror(-rm));
    }
    return ret;
}
