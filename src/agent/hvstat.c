/* Host and domain counters turned into usage (hvstat.h). */
#include "agent/hvstat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

/* A decimal number at *p (advanced past it), below `limit`. false when there is none. */
static bool
read_uint(const char **p, const char *end, uint64_t limit, uint64_t *ret)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return false;
    while (s < end && *s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        s++;
    }
    if (v >= limit)
        return false;
    *p = s;
    *ret = v;
    return true;
}

int
cpuset_parse(const char *s, struct cpuset *ret)
{
    memset(ret, 0, sizeof(*ret));
    const char *p = s;
    const char *end = s + strlen(s);
    while (p < end) {
        uint64_t lo;
        uint64_t hi;
        if (!read_uint(&p, end, HVSTAT_MAX_CPUS, &lo))
            return -EINVAL;
        hi = lo;
        if (p < end && *p == '-') {
            p++;
            if (!read_uint(&p, end, HVSTAT_MAX_CPUS, &hi) || hi < lo)
                return -EINVAL;
        }
        for (uint64_t c = lo; c <= hi; c++) {
            if (ret->on[c])
                return -EINVAL;
            ret->on[c] = true;
            ret->n++;
        }
        if (p < end) {
            if (*p != ',' || p + 1 == end)
                return -EINVAL;
            p++;
        }
    }
    return 0;
}

/* The fields of one "cpu..." line after its name: busy and total jiffies. */
static bool
line_jiffies(const char *p, const char *end, uint64_t *busy, uint64_t *total)
{
    uint64_t f[8] = {0};
    size_t n = 0;
    while (n < 8) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end || !read_uint(&p, end, UINT64_MAX, &f[n]))
            break;
        n++;
    }
    if (n < 4)
        return false;
    /* user nice system idle iowait irq softirq steal */
    *busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    *total = *busy + f[3] + f[4];
    return true;
}

int
procstat_parse(const char *text, size_t len, const struct cpuset *set, uint64_t *ret_busy,
               uint64_t *ret_total, unsigned *ret_ncpus)
{
    const char *p = text;
    const char *end = text + len;
    uint64_t busy = 0;
    uint64_t total = 0;
    unsigned found = 0;
    unsigned ncpus = 0;
    bool all_line = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        if (le - p > 3 && memcmp(p, "cpu", 3) == 0) {
            const char *q = p + 3;
            uint64_t b;
            uint64_t t;
            if (q < le && *q == ' ') {
                if (set->n == 0 && line_jiffies(q, le, &b, &t)) {
                    busy = b;
                    total = t;
                    all_line = true;
                }
            } else {
                uint64_t cpu;
                if (read_uint(&q, le, HVSTAT_MAX_CPUS, &cpu) && q < le && *q == ' ') {
                    ncpus++;
                    if (set->n > 0 && set->on[cpu] && line_jiffies(q, le, &b, &t)) {
                        busy += b;
                        total += t;
                        found++;
                    }
                }
            }
        }
        p = nl != NULL ? nl + 1 : end;
    }
    if (set->n == 0) {
        if (!all_line || ncpus == 0)
            return -EINVAL;
        *ret_ncpus = ncpus;
    } else {
        if (found != set->n)
            return -EINVAL;
        *ret_ncpus = found;
    }
    *ret_busy = busy;
    *ret_total = total;
    return 0;
}

int
meminfo_total_mib(const char *text, size_t len, double *ret_mib)
{
    const char *p = text;
    const char *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        if (le - p > 9 && memcmp(p, "MemTotal:", 9) == 0) {
            const char *q = p + 9;
            while (q < le && *q == ' ')
                q++;
            uint64_t kib;
            if (!read_uint(&q, le, UINT64_MAX / 2, &kib) || kib == 0)
                return -EINVAL;
            *ret_mib = (double)kib / 1024.0;
            return 0;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    return -EINVAL;
}

void
rate_table_init(struct rate_table *t)
{
    memset(t, 0, sizeof(*t));
}

void
rate_table_done(struct rate_table *t)
{
    free(t->e);
    rate_table_init(t);
}

/* Start the baseline of `e` again from this reading. */
static void
rebase(struct rate_entry *e, uint64_t gen, double now, const uint64_t *c)
{
    e->gen = gen;
    e->t = now;
    memcpy(e->c, c, sizeof(e->c));
    e->has_rates = false;
}

void
rate_forget(struct rate_table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->e[i].key, key) == 0) {
            t->e[i] = t->e[--t->n];
            return;
        }
    }
}

int
rate_update(struct rate_table *t, const char *key, uint64_t gen, double now, double min_dt,
            const uint64_t *c, double *ret_rates)
{
    size_t klen = strlen(key);
    if (klen == 0 || klen >= sizeof(t->e[0].key))
        return -EINVAL;
    struct rate_entry *e = NULL;
    for (size_t i = 0; i < t->n && e == NULL; i++) {
        if (strcmp(t->e[i].key, key) == 0)
            e = &t->e[i];
    }
    if (e == NULL) {
        struct rate_entry *ne = grow_array(t->e, &t->cap, t->n + 1, sizeof(*ne), 16);
        if (ne == NULL)
            return -ENOMEM;
        t->e = ne;
        e = &t->e[t->n++];
        memset(e, 0, sizeof(*e));
        memcpy(e->key, key, klen + 1);
        rebase(e, gen, now, c);
        e->seen = true;
        return 0;
    }
    e->seen = true;
    /* Another run of the domain counts from its own start: even where its counters are not
     * below the old ones, their difference means nothing. */
    bool backwards = gen != e->gen;
    for (int i = 0; i < RATE_COUNTERS; i++)
        backwards = backwards || c[i] < e->c[i];
    if (backwards) {
        rebase(e, gen, now, c);
        return 0;
    }
    double dt = now - e->t;
    if (dt <= 0 || dt < min_dt) {
        if (!e->has_rates)
            return 0;
        memcpy(ret_rates, e->rates, sizeof(e->rates));
        return 1;
    }
    for (int i = 0; i < RATE_COUNTERS; i++)
        e->rates[i] = (double)(c[i] - e->c[i]) / dt;
    e->has_rates = true;
    memcpy(ret_rates, e->rates, sizeof(e->rates));
    e->t = now;
    memcpy(e->c, c, sizeof(e->c));
    return 1;
}

void
rate_sweep(struct rate_table *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->e[i].seen) {
            t->e[i].seen = false;
            t->e[k++] = t->e[i];
        }
    }
    t->n = k;
}

double
hvstat_cpu_wait_pct(double delay_ns_s, unsigned n_vcpus)
{
    if (n_vcpus == 0 || !(delay_ns_s > 0))
        return 0.0;
    double pct = 100.0 * delay_ns_s / (1e9 * (double)n_vcpus);
    return pct > 100.0 ? 100.0 : pct;
}

/* "avg10=12.34" at *p: the number, 0..100 with at most two decimals as the kernel writes. */
static bool
read_avg10(const char *p, const char *end, double *ret)
{
    static const char key[] = "avg10=";
    if ((size_t)(end - p) < sizeof(key) - 1 || memcmp(p, key, sizeof(key) - 1) != 0)
        return false;
    p += sizeof(key) - 1;
    uint64_t whole;
    if (!read_uint(&p, end, 101, &whole))
        return false;
    double v = (double)whole;
    if (p < end && *p == '.') {
        p++;
        double scale = 0.1;
        if (p >= end || *p < '0' || *p > '9')
            return false;
        while (p < end && *p >= '0' && *p <= '9') {
            v += (double)(*p - '0') * scale;
            scale /= 10.0;
            p++;
        }
    }
    if ((p < end && *p != ' ') || v > 100.0)
        return false;
    *ret = v;
    return true;
}

int
psi_parse(const char *text, size_t len, enum pressure_res res, struct pressure *ret)
{
    const char *p = text;
    const char *end = text + len;
    bool any = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        enum pressure_line line = PRESSURE_SOME;
        const char *q = NULL;
        if (le - p > 5 && memcmp(p, "some ", 5) == 0) {
            q = p + 5;
        } else if (le - p > 5 && memcmp(p, "full ", 5) == 0) {
            q = p + 5;
            line = PRESSURE_FULL;
        }
        double v;
        if (q != NULL && read_avg10(q, le, &v)) {
            pressure_set(ret, res, line, v);
            any = true;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    return any ? 0 : -EINVAL;
}
