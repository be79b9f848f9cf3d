/* bench_store: what a week of one-minute roll-ups costs on real hosts' usage.
 *
 * bench_scale's fake agents hold their load still between the conflicts it puts, which the
 * roll-ups' codec stores for almost nothing. This feeds the store (store_add_sample(), as the
 * manager does for every sample it collects) with a real trace of hosts' usage taken every 10
 * to 30 s, the Alibaba 2018 sample ($VMLOC_SHARED/traces/alibaba2018-machine-usage-sample:
 * 16 machines, cpu, memory, network in and out, disk), then reads the store back with SQLite:
 * the roll-ups' bytes, the part of them a row's first minute takes (re-encoded alone) and what
 * each further minute adds, and what format 1 (before the column modes) took for the same
 * hours. From those it projects an hour, a day and the default 7 days of a host.
 *
 *   bench_store [--trace FILE] [--json]
 *
 * Exits 0, also when the trace is missing (it says so); 1 when the store fails. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "store/store.h"
#include "store/store_codec.h"

#define TRACE_REL "traces/alibaba2018-machine-usage-sample/machine_usage.csv"
#define ROWS_PER_COMMIT 1000
/* The trace's times are seconds from its start: put them on a recent wall clock. */
#define TIME_BASE 1.7e9

struct row {
    char host[16];
    long t;
    double pct[KIND_COUNT];
};

struct rows {
    struct row *v;
    size_t n;
    size_t cap;
};

/* Field `i` (0-based) of the comma-separated `line` into `out`; false when missing. */
static bool
field(const char *line, int i, char *out, size_t len)
{
    const char *p = line;
    for (; i > 0; i--) {
        p = strchr(p, ',');
        if (p == NULL)
            return false;
        p++;
    }
    size_t n = strcspn(p, ",\r\n");
    if (n >= len)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool
number(const char *line, int i, double *ret)
{
    char buf[64];
    char *end = NULL;
    if (!field(line, i, buf, sizeof(buf)) || buf[0] == '\0')
        return false;
    errno = 0;
    double d = strtod(buf, &end);
    if (*end != '\0' || errno != 0 || !isfinite(d) || d < 0 || d > 100)
        return false;
    *ret = d;
    return true;
}

/* One line of machine_usage.csv (machine, time, cpu %, memory %, -, -, net in, net out,
 * disk %): the host's usage per kind, network as the mean of in and out. */
static bool
parse_row(const char *line, struct row *r)
{
    char t[32];
    double cpu = 0;
    double mem = 0;
    double in = 0;
    double out = 0;
    double disk = 0;
    if (!field(line, 0, r->host, sizeof(r->host)) || r->host[0] == '\0' ||
        !field(line, 1, t, sizeof(t)) || !number(line, 2, &cpu) || !number(line, 3, &mem) ||
        !number(line, 6, &in) || !number(line, 7, &out) || !number(line, 8, &disk))
        return false;
    char *end = NULL;
    errno = 0;
    r->t = strtol(t, &end, 10);
    if (*end != '\0' || errno != 0 || r->t < 0)
        return false;
    r->pct[KIND_CPU] = cpu;
    r->pct[KIND_MEM_BW] = mem;
    r->pct[KIND_NET] = (in + out) / 2.0;
    r->pct[KIND_DISK] = disk;
    return true;
}

static int
read_trace(const char *path, struct rows *rs, size_t *ret_bad)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    char line[512];
    size_t bad = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        struct row r;
        if (!parse_row(line, &r)) {
            bad++; /* empty fields in the sample: skipped and counted */
            continue;
        }
        if (rs->n == rs->cap) {
            size_t cap = rs->cap != 0 ? rs->cap * 2 : 4096;
            struct row *v = realloc(rs->v, cap * sizeof(*v));
            if (v == NULL) {
                (void)fclose(f);
                return -ENOMEM;
            }
            rs->v = v;
            rs->cap = cap;
        }
        rs->v[rs->n++] = r;
    }
    (void)fclose(f);
    *ret_bad = bad;
    return 0;
}

static int
by_time(const void *a, const void *b)
{
    const struct row *x = a;
    const struct row *y = b;
    return x->t != y->t ? (x->t > y->t) - (x->t < y->t) : strcmp(x->host, y->host);
}

/* Every row into a new store in `dir`, in time order, as a manager folds its samples. */
static int
feed(const char *dir, const struct rows *rs)
{
    struct store *s = NULL;
    char err[300];
    int r = store_open(dir, &s, err, sizeof(err));
    if (r < 0) {
        (void)fprintf(stderr, "bench_store: %s\n", err);
        return r;
    }
    unsigned kinds = (1u << KIND_COUNT) - 1u;
    r = store_begin(s);
    for (size_t i = 0; r == 0 && i < rs->n; i++) {
        const struct row *w = &rs->v[i];
        r = store_add_sample(s, TIME_BASE + (double)w->t, w->host, w->pct, kinds, NULL, false);
        if (r == 0 && (i + 1) % ROWS_PER_COMMIT == 0)
            r = store_commit(s) < 0 ? -EIO : store_begin(s);
    }
    if (r == 0)
        r = store_commit(s);
    store_close(s); /* writes the minute in progress */
    return r;
}

struct figures {
    long long rows; /* roll-up rows (host hours) */
    long long minutes;
    long long bytes; /* their BLOBs */
    long long first; /* the BLOBs re-encoded with their first minute alone */
    long long format1;
    long long table; /* the rollups table and its index (dbstat) */
};

/* Format 1's bytes for `h`: a nibble a value, three past a difference of 7. */
static long long
format1_bytes(const struct store_hour *h)
{
    long long nibbles = 0;
    for (unsigned c = 0; c < STORE_RU_COLS; c++) {
        int prev = 0;
        for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
            if ((h->present >> m & 1u) == 0)
                continue;
            int d = h->q[m][c] - prev;
            nibbles += d >= -7 && d <= 7 ? 1 : 3;
            prev = h->q[m][c];
        }
    }
    return STORE_HOUR_HEADER + (nibbles + 1) / 2;
}

static int
read_store(const char *dir, struct figures *f)
{
    char path[600];
    (void)snprintf(path, sizeof(path), "%s/vmloc.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int r = -EIO;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT data FROM rollups", -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        struct store_hour h;
        if (p == NULL || store_hour_decode(p, len, &h) < 0 || h.present == 0) {
            (void)fprintf(stderr, "bench_store: a roll-up row does not decode\n");
            goto out;
        }
        f->rows++;
        f->minutes += __builtin_popcountll(h.present);
        f->bytes += (long long)len;
        f->format1 += format1_bytes(&h);
        h.present &= ~h.present + 1;
        uint8_t buf[STORE_HOUR_MAX_BYTES];
        f->first += (long long)store_hour_encode(&h, buf);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'rollups%'", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        goto out;
    f->table = sqlite3_column_int64(st, 0);
    r = f->rows > 0 && f->minutes > f->rows ? 0 : -ENODATA;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return r;
}

static void
report(const struct figures *f, size_t n_rows, size_t bad, bool json)
{
    double first = (double)f->first / (double)f->rows;
    double more = (double)(f->bytes - f->first) / (double)(f->minutes - f->rows);
    double beside = (double)(f->table - f->bytes) / (double)f->rows;
    double hour = beside + first + 59.0 * more;
    double week = 7.0 * 24.0 * hour;
    double per_min_f1 = (double)f->format1 / (double)f->minutes;
    double per_min = (double)f->bytes / (double)f->minutes;
    if (json) {
        (void)printf("{\"bench\":\"store\",\"samples\":%zu,\"skipped_lines\":%zu,\"rows\":%lld,"
                     "\"minutes\":%lld,\"bytes_per_minute\":%.3f,\"format1_bytes_per_minute\":%.3f,"
                     "\"first_minute_bytes\":%.2f,\"further_minute_bytes\":%.3f,"
                     "\"row_overhead_bytes\":%.2f,\"hour_bytes\":%.1f,\"week_bytes\":%.0f,"
                     "\"week_mib_per_1000_hosts\":%.2f}\n",
                     n_rows, bad, f->rows, f->minutes, per_min, per_min_f1, first, more, beside,
                     hour, week, week * 1000.0 / 1048576.0);
        return;
    }
    (void)printf("bench_store: %zu samples of 16 real hosts (%zu lines without every field "
                 "skipped) folded into %lld minutes in %lld host hours\n\n",
                 n_rows, bad, f->minutes, f->rows);
    (void)printf("roll-ups as stored    %.2f B a minute (format 1: %.2f B, x%.2f)\n", per_min,
                 per_min_f1, per_min / per_min_f1);
    (void)printf("  a row's first minute %.1f B (header, each column's mode and first value), "
                 "each minute after %.2f B, %.1f B a row beside its BLOB\n",
                 first, more, beside);
    (void)printf("a full hour of a host %.0f B; a day %.1f KiB; 7 days (rollup_retention) %.0f KiB "
                 "= %.1f MiB per 1,000 hosts\n",
                 hour, hour * 24.0 / 1024.0, week / 1024.0, week * 1000.0 / 1048576.0);
}

int
main(int argc, char **argv)
{
    const char *trace = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
            trace = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            (void)printf("usage: bench_store [--trace FILE] [--json]\n\nFold a trace of hosts' "
                         "usage (the Alibaba 2018 machine_usage.csv; default\n"
                         "$VMLOC_SHARED/" TRACE_REL ")\ninto a store's one-minute roll-ups "
                         "and print what they cost per host.\n");
            return 0;
        } else {
            (void)fprintf(stderr, "bench_store: bad option: %s (try --help)\n", argv[i]);
            return 2;
        }
    }
    static char buf[1024];
    const char *shared = getenv("VMLOC_SHARED");
    if (trace == NULL && shared != NULL) {
        (void)snprintf(buf, sizeof(buf), "%s/%s", shared, TRACE_REL);
        trace = buf;
    }
    struct rows rs = {0};
    size_t bad = 0;
    int r = trace != NULL ? read_trace(trace, &rs, &bad) : -ENOENT;
    if (r == -ENOMEM) {
        (void)fprintf(stderr, "bench_store: %s: out of memory\n", trace);
        free(rs.v);
        return 1;
    }
    if (r < 0 || rs.n == 0) {
        (void)printf("bench_store: no trace at %s (give --trace FILE or set VMLOC_SHARED): "
                     "nothing to run\n",
                     trace != NULL ? trace : "$VMLOC_SHARED/" TRACE_REL);
        free(rs.v);
        return 0;
    }
    qsort(rs.v, rs.n, sizeof(*rs.v), by_time);
    char *dir = bench_mkdtemp("vmloc-bench-store");
    struct figures f = {0};
    r = dir != NULL ? feed(dir, &rs) : -EIO;
    if (r == 0)
        r = read_store(dir, &f);
    if (r == 0)
        report(&f, rs.n, bad, json);
    else
        (void)fprintf(stderr, "bench_store: the store failed: %s\n", strerror(-r));
    if (dir != NULL)
        bench_rm_rf(dir);
    free(dir);
    free(rs.v);
    return r == 0 ? 0 : 1;
}
