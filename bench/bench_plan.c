/* bench_plan: how long plan_compute(), snapshot_encode() and snapshot_decode() take on
 * generated clusters of 1,000 to 100,000 hosts with 25 VMs each, and how much memory they
 * need. Each size runs in forked children (plan + encode, in-memory decode, streaming decode,
 * and jansson's json_loadb() of the same JSON, the tree-building parser the snapshot decoder
 * does not use: docs/design.md) so that one size's heap does not inflate the next one's peak; the
 * peak is the child's ru_maxrss from wait4(). The cluster comes from a fixed xorshift generator, so
 * every run sees the same hosts. A benchmark, not a gate: it always exits 0 once the options parse.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/model.h"
#include "core/plan.h"
#include "core/policy.h"
#include "proto/perr.h"
#include "proto/snapshot.h"

#define VMS_PER_HOST 25
#define MAX_SIZES 16
#define DEFAULT_RUNS 5
#define MAX_RUNS 1000
#define DECODE_MAX_RUNS 3
#define STREAM_CHUNK (64u * 1024u)
/* The largest cluster the model accepts at VMS_PER_HOST VMs a host. */
#define MAX_HOSTS                                                                                  \
    (MODEL_MAX_VMS / VMS_PER_HOST < MODEL_MAX_HOSTS ? MODEL_MAX_VMS / VMS_PER_HOST                 \
                                                    : MODEL_MAX_HOSTS)

/* The targets this benchmark checks (bench/README.md). */
#define TARGET_PLAN_HOSTS 10000u
#define TARGET_PLAN_MS 20.0
#define TARGET_DECODE_HOSTS 100000u
#define TARGET_DECODE_MS 2000.0

/* ---- deterministic generator --------------------------------------------------------- */

/* xorshift64* (Vigna): tiny, fast, good enough for test data, and the same everywhere. */
struct rng {
    uint64_t s;
};

static uint64_t
rng_next(struct rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, 1). */
static double
rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double
rng_range(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

/* Exponential with mean 1: a few VMs take most of a host, as in real clusters. */
static double
rng_exp(struct rng *r)
{
    return -log(1.0 - rng_unit(r));
}

/* Round down to a multiple of 1/8: exact in binary, so any encoder prints it in few digits
 * ("23.375"), which keeps the JSON compact whatever precision it uses. */
static double
q8(double x)
{
    if (x < 0.0)
        return 0.0;
    if (x > 100.0)
        return 100.0;
    return floor(x * 8.0) / 8.0;
}

/* "h" or "v" plus the index in base 36: short names keep the 100,000-host JSON near 100 MB. */
static size_t
make_name(char *buf, size_t size, char prefix, size_t i)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char tmp[32];
    size_t n = 0;
    do {
        tmp[n++] = digits[i % 36];
        i /= 36;
    } while (i > 0 && n < sizeof(tmp));
    size_t len = 0;
    buf[len++] = prefix;
    while (n > 0 && len + 1 < size)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

enum host_kind {
    HK_NORMAL,   /* 5..72 % busy: never a conflict */
    HK_CONFLICT, /* >= 80 % with 2..4 VMs >= 20 %: a conflict under the default policy */
    HK_HOT_ONE,  /* >= 80 % but only one VM >= 20 %: hot, not a conflict */
    HK_MAINT,    /* in maintenance: not checked, not a destination */
};

static enum host_kind
pick_kind(struct rng *r)
{
    double u = rng_unit(r);
    if (u < 0.03)
        return HK_CONFLICT;
    if (u < 0.06)
        return HK_HOT_ONE;
    if (u < 0.065)
        return HK_MAINT;
    return HK_NORMAL;
}

/* Spread `total` percent over the VMs not marked heavy, exponentially, each below `cap`. */
static void
spread_small(struct rng *r, double *cpu, const bool *heavy, double total, double cap)
{
    double w[VMS_PER_HOST];
    double sum = 0.0;
    for (int i = 0; i < VMS_PER_HOST; i++) {
        w[i] = heavy[i] ? 0.0 : rng_exp(r);
        sum += w[i];
    }
    for (int i = 0; i < VMS_PER_HOST; i++) {
        if (heavy[i])
            continue;
        double v = sum > 0.0 ? total * w[i] / sum : 0.0;
        cpu[i] = q8(v < cap ? v : cap);
    }
}

/* The cpu usage of one host's VMs, by the kind of host. */
static void
vm_cpus(struct rng *r, enum host_kind hk, double *cpu)
{
    bool heavy[VMS_PER_HOST] = {false};
    double heavy_sum = 0.0;
    int n_heavy = 0;
    double target;
    if (hk == HK_CONFLICT)
        n_heavy = 2 + (int)(rng_next(r) % 3);
    else if (hk == HK_HOT_ONE)
        n_heavy = 1;
    while (n_heavy > 0) {
        int pos = (int)(rng_next(r) % VMS_PER_HOST);
        if (heavy[pos])
            continue;
        heavy[pos] = true;
        cpu[pos] = hk == HK_CONFLICT ? q8(rng_range(r, 20.0, 32.0)) : q8(rng_range(r, 25.0, 45.0));
        heavy_sum += cpu[pos];
        n_heavy--;
    }
    if (hk == HK_CONFLICT || hk == HK_HOT_ONE) {
        target = rng_range(r, 82.0, 95.0) - heavy_sum;
        if (target < 5.0)
            target = 5.0;
        spread_small(r, cpu, heavy, target, 19.875);
    } else {
        target = rng_range(r, 5.0, 72.0);
        spread_small(r, cpu, heavy, target, 60.0);
    }
}

/* Fill the VMs just added to host `hi` and the host's own totals. */
static void
fill_host(struct rng *r, struct cluster *cl, size_t hi, enum host_kind hk, const double *cpu)
{
    struct host *h = &cl->hosts[hi];
    double sum = 0.0;
    for (uint32_t j = 0; j < h->vm_count; j++) {
        struct vm *v = &cl->vms[h->vm_first + j];
        usage_set(&v->usage, KIND_CPU, cpu[j]);
        sum += cpu[j];
        if (rng_unit(r) < 0.10)
            usage_set(&v->usage, KIND_DISK, q8(rng_range(r, 0.0, 6.0)));
        if (rng_unit(r) < 0.20) {
            static const double sizes[] = {2048, 4096, 8192, 16384};
            v->mem_mib = sizes[rng_next(r) % 4];
            v->has_mem = true;
        }
        v->pinned = rng_unit(r) < 0.01;
    }
    /* Measured on its own: a little below the VMs' sum, plus the hypervisor's share. */
    double total = q8(sum * rng_range(r, 0.95, 0.99) + rng_range(r, 1.0, 3.0));
    if ((hk == HK_CONFLICT || hk == HK_HOT_ONE) && total < 80.0)
        total = q8(rng_range(r, 80.5, 88.0));
    if ((hk == HK_NORMAL || hk == HK_MAINT) && total >= 80.0)
        total = 79.875;
    usage_set(&h->usage, KIND_CPU, total);
    usage_set(&h->usage, KIND_DISK, q8(rng_range(r, 2.0, 60.0)));
    if (hk == HK_MAINT)
        h->state = HOST_MAINTENANCE;
}

/* Build the cluster of `n_hosts` hosts with VMS_PER_HOST VMs each into the empty `cl`.
 * 0 or a negative errno from the model. */
static int
gen_cluster(size_t n_hosts, struct cluster *cl)
{
    struct rng r = {0x9E3779B97F4A7C15ULL ^ (uint64_t)n_hosts};
    char name[32];
    size_t vm_no = 0;
    cl->time = 1764140400.0;
    cl->has_time = true;
    for (size_t i = 0; i < n_hosts; i++) {
        size_t hi;
        size_t len = make_name(name, sizeof(name), 'h', i);
        int ret = cluster_add_host(cl, name, len, &hi);
        if (ret < 0)
            return ret;
        enum host_kind hk = pick_kind(&r);
        bool big = rng_unit(&r) < 0.15;
        cl->hosts[hi].capacity = big ? 2.0 : 1.0;
        if (rng_unit(&r) < 0.90) {
            cl->hosts[hi].mem_mib = big ? 524288.0 : 262144.0;
            cl->hosts[hi].has_mem = true;
        }
        for (int j = 0; j < VMS_PER_HOST; j++) {
            size_t vi;
            len = make_name(name, sizeof(name), 'v', vm_no++);
            ret = cluster_add_vm(cl, name, len, &vi);
            if (ret < 0)
                return ret;
        }
        double cpu[VMS_PER_HOST];
        vm_cpus(&r, hk, cpu);
        fill_host(&r, cl, hi, hk, cpu);
    }
    return 0;
}

/* ---- measurement ---------------------------------------------------------------------- */

static double
now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    if (x < y)
        return -1;
    if (x > y)
        return 1;
    return 0;
}

static double
median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    if (n % 2 == 1)
        return v[n / 2];
    return (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* What one child reports through its pipe. */
struct result {
    int err; /* 0, or a negative errno; msg says where */
    char msg[PERR_MAX + 64];
    size_t hosts;
    size_t vms;
    size_t conflicts;
    size_t moves;
    size_t unresolved;
    double plan_ms; /* median */
    double plan_min_ms;
    double encode_ms;
    size_t json_bytes;
    double decode_ms; /* median of the in-memory decodes */
    double stream_ms;
    double jansson_ms; /* json_loadb() of the JSON in memory, once */
};

/* One line per size, assembled by the parent from its four children. */
struct row {
    size_t n_hosts;
    struct result plan;    /* generate, plan_compute x runs, snapshot_encode */
    struct result decode;  /* snapshot_decode of the JSON in memory */
    struct result stream;  /* streaming decoder fed from the file in 64 KiB chunks */
    struct result jansson; /* json_loadb() of the JSON in memory */
    long peak_plan_kib;
    long peak_decode_kib;
    long peak_stream_kib;
    long peak_jansson_kib;
    bool ok;
};

static void
fail(struct result *res, int err, const char *what)
{
    res->err = err < 0 ? err : -EIO;
    (void)snprintf(res->msg, sizeof(res->msg), "%s: %s", what, strerror(-res->err));
}

static int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
read_all(int fd, void *buf, size_t len, size_t *ret_n)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *ret_n = got;
    return 0;
}

/* Time plan_compute() `runs` times on `cl` under the default policy. */
static int
time_plan(const struct cluster *cl, int runs, struct result *res)
{
    struct policy pol;
    double t[MAX_RUNS];
    policy_init(&pol);
    policy_finish(&pol);
    for (int i = 0; i < runs; i++) {
        struct plan p;
        plan_init(&p);
        double t0 = now_ms();
        int ret = plan_compute(cl, &pol, NULL, &p);
        t[i] = now_ms() - t0;
        if (ret < 0) {
            fail(res, ret, "plan_compute");
            policy_done(&pol);
            return ret;
        }
        res->conflicts = p.n_conflicts;
        res->moves = p.n_moves;
        res->unresolved = p.n_unresolved;
        plan_done(&p);
    }
    policy_done(&pol);
    res->plan_ms = median(t, (size_t)runs);
    res->plan_min_ms = t[0]; /* sorted by median() */
    return 0;
}

/* Child 1: generate, plan, encode, and leave the JSON in `fd`. */
static void
child_plan(size_t n_hosts, int runs, int fd, struct result *res)
{
    struct cluster cl;
    char *json = NULL;
    size_t len = 0;
    cluster_init(&cl);
    int ret = gen_cluster(n_hosts, &cl);
    if (ret < 0) {
        fail(res, ret, "generating the cluster");
        goto out;
    }
    res->hosts = cl.n_hosts;
    res->vms = cl.n_vms;
    if (time_plan(&cl, runs, res) < 0)
        goto out;
    double t0 = now_ms();
    ret = snapshot_encode(&cl, 0, &json, &len);
    res->encode_ms = now_ms() - t0;
    if (ret < 0) {
        fail(res, ret, "snapshot_encode");
        goto out;
    }
    res->json_bytes = len;
    ret = write_all(fd, json, len);
    if (ret < 0)
        fail(res, ret, "writing the JSON");
out:
    free(json);
    cluster_done(&cl);
}

/* Read the whole file `fd` into a new buffer. */
static int
slurp(int fd, char **ret_buf, size_t *ret_len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        return -ENOMEM;
    size_t got;
    int ret = read_all(fd, buf, len, &got);
    if (ret == 0 && got != len)
        ret = -EIO;
    if (ret < 0) {
        free(buf);
        return ret;
    }
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

/* Decoded clusters must match what was generated, and plan to the same result. */
static void
check_decoded(const struct cluster *cl, const struct result *want, struct result *res)
{
    res->hosts = cl->n_hosts;
    res->vms = cl->n_vms;
    if (cl->n_hosts != want->hosts || cl->n_vms != want->vms) {
        res->err = -EPROTO;
        (void)snprintf(res->msg, sizeof(res->msg),
                       "decoded %zu hosts and %zu VMs, encoded %zu and %zu", cl->n_hosts, cl->n_vms,
                       want->hosts, want->vms);
        return;
    }
    if (time_plan(cl, 1, res) < 0)
        return;
    if (res->conflicts != want->conflicts || res->moves != want->moves) {
        res->err = -EPROTO;
        (void)snprintf(res->msg, sizeof(res->msg),
                       "plan after decode: %zu conflicts, %zu moves; before encode: %zu, %zu",
                       res->conflicts, res->moves, want->conflicts, want->moves);
    }
}

/* Child 2: snapshot_decode() of the whole JSON held in memory, a few times. */
static void
child_decode(int fd, int runs, const struct result *want, struct result *res)
{
    char *json = NULL;
    size_t len = 0;
    double t[DECODE_MAX_RUNS];
    int n = runs < DECODE_MAX_RUNS ? runs : DECODE_MAX_RUNS;
    int ret = slurp(fd, &json, &len);
    if (ret < 0) {
        fail(res, ret, "reading the JSON");
        return;
    }
    for (int i = 0; i < n; i++) {
        struct cluster cl;
        struct perr err = {{0}};
        cluster_init(&cl);
        double t0 = now_ms();
        ret = snapshot_decode(json, len, "bench.json", &cl, &err);
        t[i] = now_ms() - t0;
        if (ret < 0) {
            res->err = ret;
            (void)snprintf(res->msg, sizeof(res->msg), "snapshot_decode: %s", err.msg);
            break;
        }
        if (i == n - 1)
            check_decoded(&cl, want, res);
        cluster_done(&cl);
    }
    if (res->err == 0)
        res->decode_ms = median(t, (size_t)n);
    free(json);
}

/* Child 3: the streaming decoder fed from the file, as `vmloc plan` reads a snapshot. */
static void
child_stream(int fd, const struct result *want, struct result *res)
{
    static char chunk[STREAM_CHUNK];
    struct perr err = {{0}};
    struct cluster cl;
    cluster_init(&cl);
    double t0 = now_ms();
    struct snapshot_decoder *d = snapshot_decoder_new("bench.json");
    int ret = d != NULL ? 0 : -ENOMEM;
    while (ret == 0) {
        size_t got;
        ret = read_all(fd, chunk, sizeof(chunk), &got);
        if (ret < 0 || got == 0)
            break;
        ret = snapshot_decoder_feed(d, chunk, got, &err);
    }
    if (ret == 0)
        ret = snapshot_decoder_finish(d, &cl, &err);
    res->stream_ms = now_ms() - t0;
    snapshot_decoder_free(d);
    if (ret < 0) {
        res->err = ret;
        (void)snprintf(res->msg, sizeof(res->msg), "streaming decode: %s", err.msg);
    } else {
        check_decoded(&cl, want, res);
    }
    cluster_done(&cl);
}

/* jansson's tree of the same JSON, as the decoder would have to build it first (docs/design.md,
 * "Why yajl for snapshots"): its time, and (from the child's peak) its memory. */
static void
child_jansson(int fd, const struct result *want, struct result *res)
{
    char *json = NULL;
    size_t len = 0;
    int ret = slurp(fd, &json, &len);
    if (ret < 0) {
        fail(res, ret, "reading the JSON");
        return;
    }
    json_error_t jerr;
    double t0 = now_ms();
    json_t *root = json_loadb(json, len, 0, &jerr);
    res->jansson_ms = now_ms() - t0;
    json_t *hosts = json_object_get(root, "hosts");
    if (root == NULL) {
        res->err = -EINVAL;
        (void)snprintf(res->msg, sizeof(res->msg), "json_loadb: %s", jerr.text);
    } else if (json_array_size(hosts) != want->hosts) {
        res->err = -EINVAL;
        (void)snprintf(res->msg, sizeof(res->msg), "json_loadb: %zu hosts, want %zu",
                       json_array_size(hosts), want->hosts);
    }
    json_decref(root);
    free(json);
}

enum phase { PHASE_PLAN, PHASE_DECODE, PHASE_STREAM, PHASE_JANSSON };

/* Run one phase in a child; *ret_res gets its report and *ret_peak_kib its ru_maxrss. */
static void
run_child(enum phase ph, size_t n_hosts, int runs, int fd, const struct result *want,
          struct result *ret_res, long *ret_peak_kib)
{
    int pfd[2];
    memset(ret_res, 0, sizeof(*ret_res));
    *ret_peak_kib = 0;
    if (pipe(pfd) < 0) {
        fail(ret_res, -errno, "pipe");
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fail(ret_res, -errno, "fork");
        (void)close(pfd[0]);
        (void)close(pfd[1]);
        return;
    }
    if (pid == 0) {
        struct result res;
        memset(&res, 0, sizeof(res));
        (void)close(pfd[0]);
        if (lseek(fd, 0, SEEK_SET) < 0)
            fail(&res, -errno, "lseek");
        else if (ph == PHASE_PLAN)
            child_plan(n_hosts, runs, fd, &res);
        else if (ph == PHASE_DECODE)
            child_decode(fd, runs, want, &res);
        else if (ph == PHASE_STREAM)
            child_stream(fd, want, &res);
        else
            child_jansson(fd, want, &res);
        int ret = write_all(pfd[1], &res, sizeof(res));
        _exit(ret < 0 ? 1 : 0);
    }
    (void)close(pfd[1]);
    size_t got = 0;
    int ret = read_all(pfd[0], ret_res, sizeof(*ret_res), &got);
    (void)close(pfd[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        continue;
    *ret_peak_kib = ru.ru_maxrss; /* KiB on Linux */
    if (ret < 0 || got != sizeof(*ret_res)) {
        memset(ret_res, 0, sizeof(*ret_res));
        ret_res->err = -ECHILD;
        if (WIFSIGNALED(status))
            (void)snprintf(ret_res->msg, sizeof(ret_res->msg), "child killed by signal %d",
                           WTERMSIG(status));
        else
            (void)snprintf(ret_res->msg, sizeof(ret_res->msg), "child exited with status %d",
                           WEXITSTATUS(status));
    }
}

/* Measure one size: four children sharing a temporary file that holds the JSON. */
static void
run_size(size_t n_hosts, int runs, struct row *row)
{
    char path[4096];
    const char *dir = getenv("TMPDIR");
    memset(row, 0, sizeof(*row));
    row->n_hosts = n_hosts;
    (void)snprintf(path, sizeof(path), "%s/bench_plan.XXXXXX",
                   dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        fail(&row->plan, -errno, "mkstemp");
        return;
    }
    (void)unlink(path); /* the children share the open descriptor */
    (void)fflush(NULL);
    run_child(PHASE_PLAN, n_hosts, runs, fd, NULL, &row->plan, &row->peak_plan_kib);
    if (row->plan.err == 0)
        run_child(PHASE_DECODE, n_hosts, runs, fd, &row->plan, &row->decode, &row->peak_decode_kib);
    if (row->plan.err == 0)
        run_child(PHASE_STREAM, n_hosts, runs, fd, &row->plan, &row->stream, &row->peak_stream_kib);
    if (row->plan.err == 0)
        run_child(PHASE_JANSSON, n_hosts, runs, fd, &row->plan, &row->jansson,
                  &row->peak_jansson_kib);
    row->ok =
        row->plan.err == 0 && row->decode.err == 0 && row->stream.err == 0 && row->jansson.err == 0;
    (void)close(fd);
}

/* ---- reporting ----------------------------------------------------------------------- */

static double
mib(long kib)
{
    return (double)kib / 1024.0;
}

static double
mbytes(size_t bytes)
{
    return (double)bytes / 1e6;
}

static const char *
verdict(bool pass)
{
    return pass ? "PASS" : "MISS";
}

static const struct row *
find_row(const struct row *rows, size_t n, size_t hosts)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i].n_hosts == hosts)
            return &rows[i];
    }
    return NULL;
}

/* Growth from `a` to `b` hosts: measured, and what n log n would predict. */
static void
growth(const struct row *a, const struct row *b, double *ret_ratio, double *ret_nlogn)
{
    double na = (double)a->n_hosts;
    double nb = (double)b->n_hosts;
    *ret_ratio = a->plan.plan_ms > 0.0 ? b->plan.plan_ms / a->plan.plan_ms : 0.0;
    *ret_nlogn = na > 1.0 ? (nb * log(nb)) / (na * log(na)) : nb / na;
}

static void
print_text_row(const struct row *r)
{
    if (r->plan.err != 0) {
        printf("%9zu  ERROR %s\n", r->n_hosts, r->plan.msg);
        return;
    }
    printf("%9zu %10zu %9zu %7zu %9.3f %9.3f %9.1f %8.1f %9.1f %9.1f %7.0f %7.0f %7.0f\n",
           r->plan.hosts, r->plan.vms, r->plan.conflicts, r->plan.moves, r->plan.plan_ms,
           r->plan.plan_min_ms, r->plan.encode_ms, mbytes(r->plan.json_bytes), r->decode.decode_ms,
           r->stream.stream_ms, mib(r->peak_plan_kib), mib(r->peak_decode_kib),
           mib(r->peak_stream_kib));
    if (r->decode.err != 0)
        printf("%9s  ERROR %s\n", "", r->decode.msg);
    if (r->stream.err != 0)
        printf("%9s  ERROR %s\n", "", r->stream.msg);
    if (r->jansson.err != 0)
        printf("%9s  ERROR %s\n", "", r->jansson.msg);
}

/* jansson's tree against the decoders, size by size: the figures behind docs/design.md's choice
 * of yajl. */
static void
print_jansson(const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (r->plan.err != 0 || r->jansson.err != 0 || r->decode.err != 0)
            continue;
        printf("jansson json_loadb %zu hosts (%.1f MB): %.1f ms, peak %.0f MiB; snapshot_decode "
               "%.1f ms, peak %.0f MiB: jansson x%.1f the time, x%.1f the memory (its tree "
               "alone, before any check)\n",
               r->n_hosts, mbytes(r->plan.json_bytes), r->jansson.jansson_ms,
               mib(r->peak_jansson_kib), r->decode.decode_ms, mib(r->peak_decode_kib),
               r->decode.decode_ms > 0 ? r->jansson.jansson_ms / r->decode.decode_ms : 0.0,
               r->peak_decode_kib > 0 ? (double)r->peak_jansson_kib / (double)r->peak_decode_kib
                                      : 0.0);
    }
}

static void
print_text(const struct row *rows, size_t n, int runs)
{
    printf("bench_plan: %d VMs per host, default policy (cpu, host 80 %%, vm fixed 20 %%, "
           "min_vms 2), plan median of %d runs\n",
           VMS_PER_HOST, runs);
    printf("%9s %10s %9s %7s %9s %9s %9s %8s %9s %9s %7s %7s %7s\n", "hosts", "vms", "conflicts",
           "moves", "plan_ms", "plan_min", "encode_ms", "json_MB", "decode_ms", "stream_ms",
           "rss_pl", "rss_dec", "rss_str");
    for (size_t i = 0; i < n; i++)
        print_text_row(&rows[i]);
    printf("(rss_* = peak RSS in MiB of the child that planned+encoded, decoded in memory, "
           "decoded streaming)\n");
    print_jansson(rows, n);
    for (size_t i = 0; i + 1 < n; i++) {
        const struct row *a = &rows[i];
        const struct row *b = &rows[i + 1];
        if (a->plan.err != 0 || b->plan.err != 0 || b->n_hosts <= a->n_hosts)
            continue;
        double ratio, nlogn;
        growth(a, b, &ratio, &nlogn);
        printf("growth plan_compute %zu -> %zu hosts: x%.2f (n log n predicts x%.2f, linear "
               "x%.2f)%s\n",
               a->n_hosts, b->n_hosts, ratio, nlogn, (double)b->n_hosts / (double)a->n_hosts,
               ratio <= nlogn * 1.25 ? "" : "  (faster growth than n log n)");
    }
    const struct row *p = find_row(rows, n, TARGET_PLAN_HOSTS);
    if (p != NULL && p->plan.err == 0)
        printf("target plan_compute(%u hosts) < %.0f ms: %.3f ms %s\n", TARGET_PLAN_HOSTS,
               TARGET_PLAN_MS, p->plan.plan_ms, verdict(p->plan.plan_ms < TARGET_PLAN_MS));
    else if (p != NULL)
        printf("target plan_compute(%u hosts) < %.0f ms: MISS (error)\n", TARGET_PLAN_HOSTS,
               TARGET_PLAN_MS);
    const struct row *d = find_row(rows, n, TARGET_DECODE_HOSTS);
    if (d != NULL && d->ok)
        printf("target snapshot_decode(%u hosts, %.1f MB) < %.0f ms: %.1f ms %s\n",
               TARGET_DECODE_HOSTS, mbytes(d->plan.json_bytes), TARGET_DECODE_MS,
               d->decode.decode_ms, verdict(d->decode.decode_ms < TARGET_DECODE_MS));
    else if (d != NULL)
        printf("target snapshot_decode(%u hosts) < %.0f ms: MISS (error)\n", TARGET_DECODE_HOSTS,
               TARGET_DECODE_MS);
}

/* Error messages come from perr (one line, control characters replaced), but may hold
 * quotes or backslashes. */
static void
print_json_string(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        if ((unsigned char)*s < 0x20)
            putchar('?');
        else
            putchar(*s);
    }
    putchar('"');
}

static void
print_json_row(const struct row *r)
{
    printf("{\"hosts\":%zu,\"ok\":%s", r->n_hosts, r->ok ? "true" : "false");
    if (r->plan.err == 0)
        printf(",\"vms\":%zu,\"conflicts\":%zu,\"moves\":%zu,\"unresolved\":%zu,"
               "\"plan_ms\":%.4f,\"plan_min_ms\":%.4f,\"encode_ms\":%.3f,\"json_bytes\":%zu,"
               "\"peak_plan_kib\":%ld",
               r->plan.vms, r->plan.conflicts, r->plan.moves, r->plan.unresolved, r->plan.plan_ms,
               r->plan.plan_min_ms, r->plan.encode_ms, r->plan.json_bytes, r->peak_plan_kib);
    if (r->plan.err == 0 && r->decode.err == 0)
        printf(",\"decode_ms\":%.3f,\"peak_decode_kib\":%ld", r->decode.decode_ms,
               r->peak_decode_kib);
    if (r->plan.err == 0 && r->stream.err == 0)
        printf(",\"stream_decode_ms\":%.3f,\"peak_stream_kib\":%ld", r->stream.stream_ms,
               r->peak_stream_kib);
    if (r->plan.err == 0 && r->jansson.err == 0)
        printf(",\"jansson_ms\":%.3f,\"peak_jansson_kib\":%ld", r->jansson.jansson_ms,
               r->peak_jansson_kib);
    const struct result *bad = r->plan.err != 0      ? &r->plan
                               : r->decode.err != 0  ? &r->decode
                               : r->stream.err != 0  ? &r->stream
                               : r->jansson.err != 0 ? &r->jansson
                                                     : NULL;
    if (bad != NULL) {
        printf(",\"error\":");
        print_json_string(bad->msg);
    }
    putchar('}');
}

static void
print_json(const struct row *rows, size_t n, int runs)
{
    printf("{\"vms_per_host\":%d,\"runs\":%d,\"sizes\":[", VMS_PER_HOST, runs);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            putchar(',');
        print_json_row(&rows[i]);
    }
    printf("],\"growth\":[");
    bool first = true;
    for (size_t i = 0; i + 1 < n; i++) {
        const struct row *a = &rows[i];
        const struct row *b = &rows[i + 1];
        if (a->plan.err != 0 || b->plan.err != 0 || b->n_hosts <= a->n_hosts)
            continue;
        double ratio, nlogn;
        growth(a, b, &ratio, &nlogn);
        printf("%s{\"from\":%zu,\"to\":%zu,\"ratio\":%.3f,\"nlogn_ratio\":%.3f}", first ? "" : ",",
               a->n_hosts, b->n_hosts, ratio, nlogn);
        first = false;
    }
    printf("],\"targets\":[");
    const struct row *p = find_row(rows, n, TARGET_PLAN_HOSTS);
    const struct row *d = find_row(rows, n, TARGET_DECODE_HOSTS);
    if (p != NULL)
        printf("{\"name\":\"plan_compute_%u\",\"limit_ms\":%.0f,\"ms\":%.4f,\"pass\":%s}",
               TARGET_PLAN_HOSTS, TARGET_PLAN_MS, p->plan.plan_ms,
               p->plan.err == 0 && p->plan.plan_ms < TARGET_PLAN_MS ? "true" : "false");
    if (d != NULL)
        printf("%s{\"name\":\"snapshot_decode_%u\",\"limit_ms\":%.0f,\"ms\":%.3f,\"pass\":%s}",
               p != NULL ? "," : "", TARGET_DECODE_HOSTS, TARGET_DECODE_MS, d->decode.decode_ms,
               d->ok && d->decode.decode_ms < TARGET_DECODE_MS ? "true" : "false");
    printf("]}\n");
}

/* ---- options ------------------------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: bench_plan [--sizes N,N,...] [--runs N] [--json] [--help]\n"
            "  --sizes  host counts to generate, %d VMs each (default 1000,10000,100000)\n"
            "  --runs   plan_compute() runs per size; the median is reported (default %d;\n"
            "           snapshot_decode() runs min(N, %d) times)\n"
            "  --json   one JSON object on stdout instead of the table\n"
            "Targets (reported, never fatal): plan_compute(%u hosts) < %.0f ms,\n"
            "snapshot_decode(%u hosts) < %.0f ms.\n",
            VMS_PER_HOST, DEFAULT_RUNS, DECODE_MAX_RUNS, TARGET_PLAN_HOSTS, TARGET_PLAN_MS,
            TARGET_DECODE_HOSTS, TARGET_DECODE_MS);
}

static int
parse_count(const char *s, unsigned long max, unsigned long *ret)
{
    char *end = NULL;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return -EINVAL;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || v == 0 || v > max)
        return -EINVAL;
    *ret = v;
    return (int)(end - s);
}

static int
parse_sizes(const char *s, size_t *sizes, size_t *ret_n)
{
    size_t n = 0;
    for (;;) {
        unsigned long v;
        int used = parse_count(s, MAX_HOSTS, &v);
        if (used < 0 || n == MAX_SIZES)
            return -EINVAL;
        sizes[n++] = v;
        s += used;
        if (*s == '\0')
            break;
        if (*s != ',')
            return -EINVAL;
        s++;
    }
    *ret_n = n;
    return 0;
}

int
main(int argc, char **argv)
{
    size_t sizes[MAX_SIZES] = {1000, 10000, 100000};
    size_t n_sizes = 3;
    int runs = DEFAULT_RUNS;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--sizes") == 0 && i + 1 < argc) {
            if (parse_sizes(argv[++i], sizes, &n_sizes) < 0) {
                fprintf(stderr,
                        "bench_plan: --sizes: expected up to %d counts from 1 to %u, "
                        "comma-separated\n",
                        MAX_SIZES, MAX_HOSTS);
                return 2;
            }
        } else if (strcmp(a, "--runs") == 0 && i + 1 < argc) {
            unsigned long v;
            const char *s = argv[++i];
            if (parse_count(s, MAX_RUNS, &v) < 0 || s[strspn(s, "0123456789")] != '\0') {
                fprintf(stderr, "bench_plan: --runs: expected a count from 1 to %d\n", MAX_RUNS);
                return 2;
            }
            runs = (int)v;
        } else {
            fprintf(stderr, "bench_plan: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    struct row rows[MAX_SIZES];
    for (size_t i = 0; i < n_sizes; i++) {
        run_size(sizes[i], runs, &rows[i]);
        if (!json) {
            /* Progress for a person watching a long run; the table follows. */
            fprintf(stderr, "bench_plan: %zu hosts done%s\n", sizes[i],
                    rows[i].ok ? "" : " (with errors)");
        }
    }
    if (json)
        print_json(rows, n_sizes, runs);
    else
        print_text(rows, n_sizes, runs);
    return 0;
}
