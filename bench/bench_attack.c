/* bench_attack: one real manager, with one real agent, under attack on 127.0.0.1, and what a
 * legitimate client sees meanwhile. The manager runs at a 256-descriptor limit (soft and hard,
 * through prlimit(1)), as a small service might. Phases of --seconds each:
 *
 *   idle           nothing but the agent and the legitimate client (the baseline)
 *   connections    --conns idle TCP connections, no token, reopened as soon as one is closed
 *                  (every attacking connection comes from 127.0.0.2)
 *   slow           --slow clients sending a request head one byte a second, reopened likewise
 *   registrations  --rogue-rate registrations a second under fresh names, with the token (a
 *                  stolen token, or a broken script), each naming an address nobody serves
 *   all            the three at once
 *
 * In each phase the legitimate client asks GET /v1/health with the token every 100 ms on a
 * new connection; it prints the answer times (p50, p99, max) and failures, the manager's CPU
 * (share of one core), its RSS (highest sample), its log volume (lines a minute) and the
 * attacking connections held open, then PASS or MISS against the targets: answers under
 * 100 ms (p99), CPU under 50 %, log under 100 lines a minute, RSS under 64 MiB. The agent must
 * still be "up" on the manager at the end. A benchmark, not a gate: exit 0 (2: bad options,
 * 1: the manager could not be started). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_ATTACK 4000
#define MAX_PROBES 4000

struct opts {
    const char *vmloc;
    int seconds;
    int conns;
    int slow;
    int rogue_rate;
    int nofile;
    bool json;
};

/* One attacking connection: fd (-1: closed), and for a slow client how much of its request it
 * has sent and when it sends the next byte. */
struct atk {
    int fd;
    size_t sent;
    double next_s;
};

struct phase {
    const char *name;
    bool conns, slow, rogue;
    /* results */
    double probe_ms[MAX_PROBES];
    size_t n_probe;
    size_t probe_fail;
    double cpu_pct, rss_mib, log_per_min;
    size_t held, reopened, rogue_sent, rogue_refused;
};

static const char slow_head[] = "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
                                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

static void
usage(FILE *f)
{
    (void)fprintf(f, "usage: bench_attack [--vmloc PATH] [--seconds N] [--conns N] [--slow N]\n"
                     "                    [--rogue-rate N] [--nofile N] [--json]\n"
                     "  --seconds N      length of each phase (default 15)\n"
                     "  --conns N        idle connections held open (default 500)\n"
                     "  --slow N         clients sending one byte a second (default 100)\n"
                     "  --rogue-rate N   rogue registrations a second (default 100)\n"
                     "  --nofile N       the manager's descriptor limit (default 256)\n"
                     "  --json           one JSON object on standard output\n");
}

static int
parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){NULL, 15, 500, 100, 100, 256, false};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *num = NULL;
        int lo = 0, hi = 0;
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        } else if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--vmloc") == 0 && v != NULL) {
            o->vmloc = v;
            i++;
            continue;
        } else if (strcmp(a, "--seconds") == 0) {
            num = &o->seconds, lo = 1, hi = 3600;
        } else if (strcmp(a, "--conns") == 0) {
            num = &o->conns, lo = 0, hi = MAX_ATTACK;
        } else if (strcmp(a, "--slow") == 0) {
            num = &o->slow, lo = 0, hi = MAX_ATTACK;
        } else if (strcmp(a, "--rogue-rate") == 0) {
            num = &o->rogue_rate, lo = 0, hi = 2000;
        } else if (strcmp(a, "--nofile") == 0) {
            num = &o->nofile, lo = 64, hi = 1048576;
        }
        if (num == NULL || v == NULL || bench_parse_int(v, lo, hi, num) < 0) {
            (void)fprintf(stderr, "bench_attack: bad option or value: %s%s%s\n", a,
                          v != NULL ? " " : "", v != NULL ? v : "");
            usage(stderr);
            return -1;
        }
        i++;
    }
    if (o->conns + o->slow > MAX_ATTACK) {
        (void)fprintf(stderr, "bench_attack: --conns plus --slow is at most %d\n", MAX_ATTACK);
        return -1;
    }
    return 0;
}

/* A non-blocking connection to 127.0.0.1:port being made, from 127.0.0.2 (the attacker is
 * not the legitimate client, which calls from 127.0.0.1); -1 when none could be opened. */
static int
open_conn(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        (void)close(fd);
        return -1;
    }
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* Reopen every closed attacking connection, and close those the manager closed (readable
 * with nothing or an answer, or in error). Counts the reopened ones. */
static void
tend(struct atk *a, size_t n, int port, size_t *reopened)
{
    static struct pollfd pf[MAX_ATTACK];
    for (size_t i = 0; i < n; i++) {
        pf[i].fd = a[i].fd;
        pf[i].events = POLLIN;
        pf[i].revents = 0;
    }
    (void)poll(pf, (nfds_t)n, 0);
    for (size_t i = 0; i < n; i++) {
        if (a[i].fd >= 0 && (pf[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
            char buf[512];
            ssize_t got = recv(a[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN) || got > 0) {
                (void)close(a[i].fd);
                a[i].fd = -1;
            }
        }
        if (a[i].fd < 0) {
            a[i].fd = open_conn(port);
            a[i].sent = 0;
            a[i].next_s = bench_mono_s() + 1.0;
            if (a[i].fd >= 0)
                (*reopened)++;
        }
    }
}

/* Slow clients: one more byte of the request head from each whose time has come. */
static void
dribble(struct atk *a, size_t n)
{
    double now = bench_mono_s();
    for (size_t i = 0; i < n; i++) {
        if (a[i].fd < 0 || now < a[i].next_s)
            continue;
        if (a[i].sent < sizeof(slow_head) - 1 &&
            send(a[i].fd, slow_head + a[i].sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
            a[i].sent++;
        a[i].next_s = now + 1.0;
    }
}

static void
close_all(struct atk *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].fd >= 0)
            (void)close(a[i].fd);
        a[i].fd = -1;
    }
}

static size_t
count_open(const struct atk *a, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += a[i].fd >= 0;
    return k;
}

/* The manager's CPU time (user + system, seconds) and RSS (MiB) from /proc. */
static void
proc_read(pid_t pid, double *cpu_s, double *rss_mib)
{
    char path[64], buf[4096];
    *cpu_s = 0;
    *rss_mib = 0;
    (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        (void)fclose(f);
        const char *p = strrchr(buf, ')');
        /* After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15. */
        for (int field = 3; p != NULL && field < 14; field++)
            p = strchr(p + 1, ' ');
        if (p != NULL) {
            char *end = NULL;
            unsigned long ut = strtoul(p + 1, &end, 10);
            unsigned long st = strtoul(end, NULL, 10);
            *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        }
    }
    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f != NULL) {
        while (fgets(buf, sizeof(buf), f) != NULL) {
            if (strncmp(buf, "VmRSS:", 6) == 0)
                *rss_mib = strtod(buf + 6, NULL) / 1024.0;
        }
        (void)fclose(f);
    }
}

static size_t
log_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    (void)fclose(f);
    return n;
}

static int
url_port(const char *url)
{
    const char *c = strrchr(url, ':');
    return c != NULL ? (int)strtol(c + 1, NULL, 10) : 0;
}

/* One rogue registration under a fresh name; its status. */
static int
rogue(const char *url, unsigned long k)
{
    char body[200];
    (void)snprintf(body, sizeof(body),
                   "{\"name\": \"rogue-%lu\", \"url\": \"http://127.0.0.1:9\", \"interval\": 1}",
                   k);
    return bench_http(url, "POST", "/v1/agents", body, 2.0, NULL);
}

static void
run_phase(struct phase *ph, const struct opts *o, const struct bench_daemon *m, struct atk *conns,
          struct atk *slow, unsigned long *rogue_k)
{
    int port = url_port(m->url);
    size_t n_conns = ph->conns ? (size_t)o->conns : 0;
    size_t n_slow = ph->slow ? (size_t)o->slow : 0;
    for (size_t i = 0; i < n_conns; i++)
        conns[i].fd = open_conn(port);
    for (size_t i = 0; i < n_slow; i++) {
        slow[i].fd = open_conn(port);
        slow[i].sent = 0;
        slow[i].next_s = bench_mono_s() + 1.0;
    }
    size_t lines0 = log_lines(m->log_path);
    double cpu0, rss;
    proc_read(m->pid, &cpu0, &rss);
    double t0 = bench_mono_s();
    double end = t0 + o->seconds;
    double next_probe = t0, next_rogue = t0;
    while (bench_mono_s() < end) {
        double now = bench_mono_s();
        if (now >= next_probe && ph->n_probe < MAX_PROBES) {
            double s = bench_mono_s();
            int st = bench_http(m->url, "GET", "/v1/health", NULL, 5.0, NULL);
            double ms = (bench_mono_s() - s) * 1000.0;
            if (st == 200)
                ph->probe_ms[ph->n_probe++] = ms;
            else
                ph->probe_fail++;
            next_probe = now + 0.1;
        }
        if (ph->rogue && o->rogue_rate > 0) {
            int burst = 0;
            while (bench_mono_s() >= next_rogue && burst++ < 50) {
                int st = rogue(m->url, (*rogue_k)++);
                ph->rogue_sent++;
                ph->rogue_refused += st != 200;
                next_rogue += 1.0 / o->rogue_rate;
            }
        }
        tend(conns, n_conns, port, &ph->reopened);
        tend(slow, n_slow, port, &ph->reopened);
        dribble(slow, n_slow);
        double c, r;
        proc_read(m->pid, &c, &r);
        if (r > ph->rss_mib)
            ph->rss_mib = r;
        bench_pause_ms(10);
    }
    double cpu1, r;
    proc_read(m->pid, &cpu1, &r);
    double wall = bench_mono_s() - t0;
    ph->cpu_pct = (cpu1 - cpu0) / wall * 100.0;
    /* The daemons' log budgets are per minute: a phase shorter than that is judged by all its
     * lines (any minute that holds it holds at least those). */
    double lines = (double)(log_lines(m->log_path) - lines0);
    ph->log_per_min = wall < 60.0 ? lines : lines / wall * 60.0;
    ph->held = count_open(conns, n_conns) + count_open(slow, n_slow);
    close_all(conns, n_conns);
    close_all(slow, n_slow);
}

static const char *
verdict(bool ok)
{
    return ok ? "PASS" : "MISS";
}

static void
report(struct phase *ph, size_t n, bool agent_up, const struct opts *o)
{
    if (o->json) {
        (void)printf("{\"nofile\": %d, \"conns\": %d, \"slow\": %d, \"rogue_rate\": %d, "
                     "\"seconds\": %d, \"agent_up\": %s, \"phases\": [",
                     o->nofile, o->conns, o->slow, o->rogue_rate, o->seconds,
                     agent_up ? "true" : "false");
    } else {
        (void)printf("manager at a %d-descriptor limit; %d s a phase; targets: answer p99 < 100 "
                     "ms, CPU < 50 %%, log < 100 lines/min, RSS < 64 MiB\n",
                     o->nofile, o->seconds);
        if (o->seconds < 60)
            (void)printf("(phases under a minute: log/min is all the lines of the phase)\n");
        (void)printf("%-13s %7s %7s %7s %5s %6s %7s %8s %6s %8s %7s  %s\n", "phase", "p50_ms",
                     "p99_ms", "max_ms", "fail", "cpu_%", "rss_MiB", "log/min", "held", "reopened",
                     "rogue", "verdict");
    }
    for (size_t i = 0; i < n; i++) {
        struct phase *p = &ph[i];
        double mx = 0;
        for (size_t k = 0; k < p->n_probe; k++)
            mx = p->probe_ms[k] > mx ? p->probe_ms[k] : mx;
        double p50 = bench_percentile(p->probe_ms, p->n_probe, 50);
        double p99 = bench_percentile(p->probe_ms, p->n_probe, 99);
        bool ok_ans = p->n_probe > 0 && p->probe_fail == 0 && p99 < 100.0;
        bool ok = ok_ans && p->cpu_pct < 50.0 && p->log_per_min < 100.0 && p->rss_mib < 64.0;
        if (o->json)
            (void)printf("%s{\"phase\": \"%s\", \"answers\": %zu, \"failed\": %zu, \"p50_ms\": "
                         "%.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, \"cpu_pct\": %.1f, "
                         "\"rss_mib\": %.1f, \"log_lines_per_min\": %.1f, \"held\": %zu, "
                         "\"reopened\": %zu, \"rogue_sent\": %zu, \"rogue_refused\": %zu, "
                         "\"pass\": %s}",
                         i > 0 ? ", " : "", p->name, p->n_probe, p->probe_fail, p50, p99, mx,
                         p->cpu_pct, p->rss_mib, p->log_per_min, p->held, p->reopened,
                         p->rogue_sent, p->rogue_refused, ok ? "true" : "false");
        else
            (void)printf("%-13s %7.1f %7.1f %7.1f %5zu %6.1f %7.1f %8.0f %6zu %8zu %3zu/%-3zu  "
                         "%s\n",
                         p->name, p50, p99, mx, p->probe_fail, p->cpu_pct, p->rss_mib,
                         p->log_per_min, p->held, p->reopened, p->rogue_refused, p->rogue_sent,
                         verdict(ok));
    }
    if (o->json)
        (void)printf("]}\n");
    else
        (void)printf("agent still up on the manager after the attack: %s\n",
                     agent_up ? "yes" : "NO");
}

/* Is host "legit" up on the manager? */
static bool
agent_up(const char *url)
{
    json_t *j = NULL;
    bool up = false;
    if (bench_http(url, "GET", "/v1/hosts", NULL, 5.0, &j) == 200 && j != NULL) {
        json_t *hosts = json_is_array(j) ? j : json_object_get(j, "hosts");
        size_t i;
        json_t *h;
        json_array_foreach(hosts, i, h)
        {
            const char *name = json_string_value(json_object_get(h, "name"));
            const char *state = json_string_value(json_object_get(h, "state"));
            if (name != NULL && strcmp(name, "legit") == 0 && state != NULL)
                up = strcmp(state, "up") == 0;
        }
    }
    json_decref(j);
    return up;
}

static void
raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int
main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) < 0)
        return 2;
    const char *bin = bench_vmloc_path(o.vmloc);
    if (bin == NULL)
        return 2;
    raise_nofile();
    (void)bench_token();
    char *dir = bench_mkdtemp("vmloc-attack");
    if (dir == NULL)
        return 1;
    char data[600], mlog[600], alog[600], nofile[64];
    (void)snprintf(data, sizeof(data), "%s/data", dir);
    (void)snprintf(mlog, sizeof(mlog), "%s/manager.log", dir);
    (void)snprintf(alog, sizeof(alog), "%s/agent.log", dir);
    (void)snprintf(nofile, sizeof(nofile), "--nofile=%d:%d", o.nofile, o.nofile);
    const char *margv[] = {nofile,   bin,  "manager",    "--listen", "127.0.0.1:0",
                           "--data", data, "--interval", "1",        NULL};
    struct bench_daemon m, a;
    if (bench_daemon_start(&m, "/usr/bin/prlimit", margv, mlog, 15.0) < 0) {
        bench_rm_rf(dir);
        return 1;
    }
    const char *aargv[] = {"agent",     "--name", "legit",      "--listen", "127.0.0.1:0",
                           "--manager", m.url,    "--interval", "1",        NULL};
    if (bench_daemon_start(&a, bin, aargv, alog, 15.0) < 0) {
        (void)bench_daemon_stop(&m, 5.0);
        bench_rm_rf(dir);
        return 1;
    }
    static struct atk conns[MAX_ATTACK], slow[MAX_ATTACK];
    static struct phase ph[] = {
        {.name = "idle"},
        {.name = "connections", .conns = true},
        {.name = "slow", .slow = true},
        {.name = "registrations", .rogue = true},
        {.name = "all", .conns = true, .slow = true, .rogue = true},
    };
    size_t n = sizeof(ph) / sizeof(ph[0]);
    unsigned long rogue_k = 0;
    double until = bench_mono_s() + 10.0;
    while (!agent_up(m.url) && bench_mono_s() < until)
        bench_pause_ms(100);
    for (size_t i = 0; i < n; i++) {
        if (!o.json)
            (void)fprintf(stderr, "bench_attack: phase %s (%d s)\n", ph[i].name, o.seconds);
        run_phase(&ph[i], &o, &m, conns, slow, &rogue_k);
    }
    /* The agent registers again within a few intervals if it was dropped. */
    until = bench_mono_s() + 10.0;
    bool up = agent_up(m.url);
    while (!up && bench_mono_s() < until) {
        bench_pause_ms(200);
        up = agent_up(m.url);
    }
    report(ph, n, up, &o);
    (void)bench_daemon_stop(&a, 5.0);
    (void)bench_daemon_stop(&m, 5.0);
    bench_rm_rf(dir);
    free(dir);
    return 0;
}
