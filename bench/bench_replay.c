/* bench_replay: the running system on real traces next to the simulator, as a user runs it:
 * `vmloc replay --json` on each trace and mode, and a table of the live and simulated
 * figures with their ratio. The targets: with the default policy, on the first 100
 * VMs of each PlanetLab day and of the Bitbrains day on 60 hosts, 96 steps of 0.5 s, in every
 * mode, the invariants hold and the live migrations and overloaded host-steps are within 25 %
 * of the simulator's (both zero counts as within); a whole PlanetLab day on 100 hosts in
 * central mode finishes with the invariants holding. A run with power saving on (the
 * simulator's own vmloc settings, `--config`) shows the same comparison with migrations in
 * it. Not a gate: it prints MET or MISSED and exits 0 (1 when a run fails, 2 for bad options).
 * The traces come from $VMLOC_SHARED/traces (../shared beside the repository). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

struct job {
    const char *name;
    const char *trace; /* under traces/ */
    const char *format;
    const char *mode;
    int hosts;
    int vms;
    int steps;          /* 0: the whole trace */
    const char *config; /* a policy (INI text), or NULL for the defaults */
    bool quick;         /* part of --quick */
};

/* The targets are the runs with the default policy; the others (power saving) are shown to
 * compare a run with migrations in it, and their differences are explained in docs/sim.md. */

/* The simulator's own vmloc settings (docs/sim.md), as a policy file: power saving on. */
static const char saving[] = "[detect]\nvm_threshold_value.cpu = 5\n\n"
                             "[relocate]\nprefer_busy_hosts = yes\nconsolidate_below = 30\n"
                             "consolidate_target = 60\n";
/* Bitbrains' three kinds checked. */
static const char kinds3[] = "[detect]\nresources = cpu, disk, net\n";

#define PL3 "planetlab/20110303"
#define PL6 "planetlab/20110306"
#define BB1 "bitbrains-rnd/2013-7-day1"

static const struct job jobs[] = {
    {"planetlab-0303", PL3, "planetlab", "central", 60, 100, 96, NULL, true},
    {"planetlab-0303", PL3, "planetlab", "edge", 60, 100, 96, NULL, false},
    {"planetlab-0303", PL3, "planetlab", "peer", 60, 100, 96, NULL, false},
    {"planetlab-0306", PL6, "planetlab", "central", 60, 100, 96, NULL, false},
    {"planetlab-0306", PL6, "planetlab", "edge", 60, 100, 96, NULL, false},
    {"planetlab-0306", PL6, "planetlab", "peer", 60, 100, 96, NULL, false},
    {"bitbrains-day1", BB1, "bitbrains", "central", 60, 100, 96, NULL, true},
    {"bitbrains-day1", BB1, "bitbrains", "edge", 60, 100, 96, NULL, false},
    {"bitbrains-day1", BB1, "bitbrains", "peer", 60, 100, 96, NULL, false},
    {"bitbrains-day1 3 kinds", BB1, "bitbrains", "central", 60, 100, 96, kinds3, false},
    {"bitbrains-day1 3 kinds", BB1, "bitbrains", "edge", 60, 100, 96, kinds3, false},
    {"bitbrains-day1 3 kinds", BB1, "bitbrains", "peer", 60, 100, 96, kinds3, false},
    {"planetlab-0303 saving", PL3, "planetlab", "central", 60, 100, 96, saving, true},
    {"planetlab-0303 saving", PL3, "planetlab", "edge", 60, 100, 96, saving, false},
    {"planetlab-0306 saving", PL6, "planetlab", "central", 60, 100, 96, saving, false},
    {"planetlab-0303 day", PL3, "planetlab", "central", 100, 100, 0, NULL, false},
};

/* Run `argv` and capture its standard output (caller frees). The exit status in *ret_status. */
static char *
capture(const char *const *argv, int *ret_status)
{
    int p[2];
    if (pipe(p) < 0)
        return NULL;
    pid_t pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        (void)dup2(p[1], STDOUT_FILENO);
        (void)close(p[0]);
        (void)close(p[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    (void)close(p[1]);
    size_t cap = 65536;
    size_t len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            break;
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(p[0], buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    (void)close(p[0]);
    int st = 0;
    (void)waitpid(pid, &st, 0);
    *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

static double
num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* Within 25 %: |live - sim| <= 0.25 sim, both zero included. */
static bool
within(double live, double sim)
{
    return fabs(live - sim) <= 0.25 * sim + 1e-9;
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
usage(FILE *f)
{
    (void)fprintf(f, "usage: bench_replay [--vmloc PATH] [--quick] [--step S] [--only NAME]\n"
                     "  --quick     three runs (one per trace, central; power saving)\n"
                     "  --step S    seconds per trace step (default 0.5)\n"
                     "  --only NAME the runs whose name contains NAME\n");
}

int
main(int argc, char **argv)
{
    const char *bin_opt = NULL;
    const char *only = NULL;
    const char *step = "0.5";
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vmloc") == 0 && i + 1 < argc) {
            bin_opt = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--step") == 0 && i + 1 < argc) {
            step = argv[++i];
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    const char *bin = bench_vmloc_path(bin_opt);
    if (bin == NULL)
        return 2;
    const char *shared = getenv("VMLOC_SHARED");
    char traces[4096];
    (void)snprintf(traces, sizeof(traces), "%s/traces", shared != NULL ? shared : "../shared");
    struct stat st;
    if (stat(traces, &st) != 0) {
        (void)printf("bench_replay: %s is not there (set VMLOC_SHARED): nothing to run\n", traces);
        return 0;
    }
    char *dir = bench_mkdtemp("vmloc-bench-replay");
    if (dir == NULL) {
        (void)fprintf(stderr, "bench_replay: no scratch folder\n");
        return 1;
    }
    (void)printf("vmloc replay, live against the simulator (%s s a step)\n\n", step);
    (void)printf("%-22s %-7s %5s %5s %5s | %9s %9s %5s | %7s %7s %5s | %8s %8s %5s | %6s %s\n",
                 "run", "mode", "hosts", "vms", "steps", "migr live", "sim", "ratio", "over live",
                 "sim", "ratio", "kWh live", "sim", "ratio", "wall s", "invariants");
    int failed = 0;
    int missed = 0;
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
        const struct job *jb = &jobs[i];
        if ((quick && !jb->quick) || (only != NULL && strstr(jb->name, only) == NULL))
            continue;
        char trace[4200];
        char hosts[16];
        char vms[16];
        char steps[16];
        (void)snprintf(trace, sizeof(trace), "%s/%s", traces, jb->trace);
        (void)snprintf(hosts, sizeof(hosts), "%d", jb->hosts);
        (void)snprintf(vms, sizeof(vms), "%d", jb->vms);
        (void)snprintf(steps, sizeof(steps), "%d", jb->steps);
        const char *args[32] = {bin,       "replay", "--trace", trace,    "--format", jb->format,
                                "--hosts", hosts,    "--vms",   vms,      "--step",   step,
                                "--mode",  jb->mode, "--json",  "--quiet"};
        size_t n = 16;
        if (jb->steps > 0) {
            args[n++] = "--steps";
            args[n++] = steps;
        }
        char ini[4200];
        if (jb->config != NULL) {
            (void)snprintf(ini, sizeof(ini), "%s/policy-%zu.ini", dir, i);
            FILE *f = fopen(ini, "w");
            if (f == NULL || fputs(jb->config, f) < 0 || fclose(f) != 0) {
                (void)fprintf(stderr, "bench_replay: cannot write %s\n", ini);
                return 1;
            }
            args[n++] = "--config";
            args[n++] = ini;
        }
        args[n] = NULL;
        int status = 0;
        double t0 = bench_mono_s();
        char *out = capture(args, &status);
        double wall = bench_mono_s() - t0;
        json_t *j = out != NULL ? json_loads(out, 0, NULL) : NULL;
        free(out);
        if (j == NULL) {
            (void)printf("%-22s %-7s: the run failed (exit %d)\n", jb->name, jb->mode, status);
            failed++;
            continue;
        }
        json_t *l = json_object_get(j, "live");
        json_t *s = json_object_get(j, "sim");
        json_t *inv = json_object_get(j, "invariants");
        char r1[16];
        char r2[16];
        char r3[16];
        ratio(num(l, "migrations"), num(s, "migrations"), r1, sizeof(r1));
        ratio(num(l, "overloaded_host_steps"), num(s, "overloaded_host_steps"), r2, sizeof(r2));
        ratio(num(l, "energy_kwh"), num(s, "energy_kwh"), r3, sizeof(r3));
        bool hold = json_is_true(json_object_get(inv, "hold"));
        bool target = jb->config == NULL;
        bool met = hold && within(num(l, "migrations"), num(s, "migrations")) &&
                   within(num(l, "overloaded_host_steps"), num(s, "overloaded_host_steps"));
        missed += target && !met;
        (void)printf("%-22s %-7s %5d %5d %5.0f | %9.0f %9.0f %5s | %7.0f %7.0f %5s | %8.3f %8.3f "
                     "%5s | %6.1f %s%s\n",
                     jb->name, jb->mode, jb->hosts, jb->vms, num(j, "steps"), num(l, "migrations"),
                     num(s, "migrations"), r1, num(l, "overloaded_host_steps"),
                     num(s, "overloaded_host_steps"), r2, num(l, "energy_kwh"),
                     num(s, "energy_kwh"), r3, wall, hold ? "hold" : "VIOLATED",
                     met ? "" : " (MISSED: not within 25 %)");
        json_decref(j);
    }
    (void)printf("\n%d runs failed, %d target runs outside 25 %%\n", failed, missed);
    bench_rm_rf(dir);
    free(dir);
    return failed > 0 ? 1 : 0;
}
