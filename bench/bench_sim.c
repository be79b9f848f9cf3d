/* Benchmark of `vmloc sim`.
 *
 * 1. One PlanetLab day with thr-mmt 0.8 and with vmloc, through the real binary: wall time
 *    (median of --reps runs) and the child's peak memory (ru_maxrss from wait4), against
 *    the reference Java implementation's ~24 s and 2 GB for the same run on these machines
 *    (targets: under 0.25 s and under 100 MB).
 * 2. A synthetic scale run of vmloc's policy, in process: the day's VMs repeated --scale
 *    times on --scale x 800 hosts (100: 80,000 hosts, 105,200 VMs), target under 10 s for the
 *    day; a second run at a tenth of the size shows how the cost grows.
 *
 * Not a gate: it prints its figures and whether each target was met, and exits 0 unless it
 * could not run. */
#define _DEFAULT_SOURCE /* wait4() */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim/trace.h"

#define REF_JAVA_S 24.0
#define REF_JAVA_MB 2048.0

static double
now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Run `vmloc sim` once; wall seconds and peak RSS in MB. 0 or -1. */
static int
run_once(const char *bin, const char *trace, const char *policy, double *ret_s, double *ret_mb)
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            (void)dup2(fd, STDOUT_FILENO);
            (void)close(fd);
        }
        execl(bin, bin, "sim", "--trace", trace, "--policy", policy, "--json", "-q", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        return -1;
    *ret_s = now_s() - t0;
    *ret_mb = (double)ru.ru_maxrss / 1024.0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_sim: %s sim --policy %s failed (status %d)\n", bin, policy, status);
        return -1;
    }
    return 0;
}

static int
bench_day(const char *bin, const char *trace, int reps)
{
    static const char *const policies[] = {"thr-mmt", "vmloc"};
    printf("== one PlanetLab day: %s (median of %d runs, whole process)\n", trace, reps);
    printf("%-10s %10s %10s %12s %10s\n", "policy", "wall s", "peak MB", "Java 24 s /", "target");
    for (size_t p = 0; p < 2; p++) {
        double *t = calloc((size_t)reps, sizeof(*t));
        double mb = 0;
        if (t == NULL)
            return -1;
        for (int i = 0; i < reps; i++) {
            double m = 0;
            if (run_once(bin, trace, policies[p], &t[i], &m) < 0) {
                free(t);
                return -1;
            }
            if (m > mb)
                mb = m;
        }
        qsort(t, (size_t)reps, sizeof(*t), cmp_double);
        double med = t[reps / 2];
        bool ok = med < 0.25 && mb < 100;
        printf("%-10s %10.3f %10.1f %11.0fx %10s\n", policies[p], med, mb, REF_JAVA_S / med,
               ok ? "MET" : "MISSED");
        free(t);
    }
    printf("(reference: about %.0f s and %.0f MB for the Java implementation on these "
           "machines; targets 0.25 s and 100 MB)\n\n",
           REF_JAVA_S, REF_JAVA_MB);
    return 0;
}

/* The day's VMs repeated `times` times. */
static int
replicate(const struct trace *src, size_t times, struct trace *ret)
{
    trace_init(ret);
    size_t per = src->n_samples + 1;
    size_t n = src->n_vms * times;
    ret->n_vms = n;
    ret->n_samples = src->n_samples;
    ret->names = calloc(n, sizeof(*ret->names));
    ret->cpu = malloc(n * per * sizeof(*ret->cpu));
    if (ret->names == NULL || ret->cpu == NULL) {
        trace_done(ret);
        return -1;
    }
    /* Sample by sample: each row holds every VM's value at one instant. */
    for (size_t s = 0; s < per; s++)
        for (size_t k = 0; k < times; k++)
            memcpy(ret->cpu + s * n + k * src->n_vms, src->cpu + s * src->n_vms,
                   src->n_vms * sizeof(double));
    return 0;
}

static int
bench_scale(const char *trace, size_t scale)
{
    struct trace day;
    trace_init(&day);
    struct trace_error err;
    if (trace_read(trace, TRACE_PLANETLAB, &day, &err) < 0) {
        fprintf(stderr, "bench_sim: %s\n", err.msg);
        return -1;
    }
    printf("== synthetic scale, vmloc policy: the day's VMs repeated, 800 hosts per copy\n");
    printf("%8s %10s %10s %10s %12s %10s\n", "copies", "hosts", "VMs", "wall s", "migrations",
           "target");
    size_t sizes[2] = {scale / 10 != 0 ? scale / 10 : 1, scale};
    double walls[2] = {0, 0};
    for (size_t i = 0; i < 2; i++) {
        struct trace big;
        if (replicate(&day, sizes[i], &big) < 0) {
            trace_done(&day);
            return -1;
        }
        struct sim_config cfg = {.policy = SIM_VMLOC, .n_hosts = 800 * sizes[i]};
        struct sim_result res;
        double t0 = now_s();
        int r = sim_run(&big, &cfg, NULL, NULL, &res);
        walls[i] = now_s() - t0;
        if (r < 0) {
            fprintf(stderr, "bench_sim: scale run failed: %s\n", strerror(-r));
            trace_done(&big);
            trace_done(&day);
            return -1;
        }
        const char *verdict = i == 1 ? (walls[i] < 10 ? "MET" : "MISSED") : "-";
        printf("%8zu %10zu %10zu %10.2f %12llu %10s\n", sizes[i], res.n_hosts, res.n_vms, walls[i],
               (unsigned long long)res.stats.migrations, verdict);
        sim_result_done(&res);
        trace_done(&big);
    }
    printf("growth for %zux the size: %.1fx the time (linear would be %zux)\n\n",
           sizes[1] / sizes[0], walls[1] / walls[0], sizes[1] / sizes[0]);
    trace_done(&day);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"vmloc", required_argument, NULL, 'v'},
        {"trace", required_argument, NULL, 't'},
        {"reps", required_argument, NULL, 'r'},
        {"scale", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *bin = getenv("VMLOC_BIN");
    const char *trace = NULL;
    int reps = 5;
    long scale = 100;
    int c;
    while ((c = getopt_long(argc, argv, "v:t:r:s:", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            bin = optarg;
            break;
        case 't':
            trace = optarg;
            break;
        case 'r':
            reps = (int)strtol(optarg, NULL, 10);
            break;
        case 's':
            scale = strtol(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: bench_sim --vmloc BIN --trace DIR [--reps N] [--scale N]\n");
            return 2;
        }
    }
    if (trace == NULL) {
        const char *shared = getenv("VMLOC_SHARED");
        static char buf[1024];
        if (shared != NULL) {
            snprintf(buf, sizeof(buf), "%s/traces/planetlab/20110303", shared);
            trace = buf;
        }
    }
    struct stat st;
    if (trace == NULL || stat(trace, &st) != 0) {
        printf("bench_sim: no PlanetLab day (give --trace DIR or set VMLOC_SHARED): skipping\n");
        return 0;
    }
    if (bin == NULL || reps < 1 || scale < 1) {
        fprintf(stderr, "bench_sim: --vmloc BIN, --reps >= 1 and --scale >= 1 are needed\n");
        return 2;
    }
    if (bench_day(bin, trace, reps) < 0)
        return 1;
    if (bench_scale(trace, (size_t)scale) < 0)
        return 1;
    return 0;
}
