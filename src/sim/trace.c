/* Trace readers. A folder is listed, its regular files sorted by name byte by byte (as
 * `LC_ALL=C sort`, which is the order the PlanetLab reference numbers assume), and each file
 * parsed strictly: a number that does not parse, is out of range, or a row with the wrong
 * number of fields is refused with its file and line. Bitbrains rows come at irregular,
 * per-VM times; they are resampled onto one grid that starts at the earliest timestamp of
 * the folder, by linear interpolation between a VM's own neighbouring rows (its first and
 * last values hold before and after its rows). */
#define _POSIX_C_SOURCE 200809L
#include "sim/trace.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file.h"
#include "core/grow.h"

const char *const trace_format_names[] = {"planetlab", "bitbrains", NULL};

const char *
trace_format_name(enum trace_format f)
{
    return f == TRACE_BITBRAINS ? "bitbrains" : "planetlab";
}

int
trace_format_parse(const char *s, enum trace_format *ret)
{
    for (int i = 0; trace_format_names[i] != NULL; i++) {
        if (strcmp(s, trace_format_names[i]) == 0) {
            *ret = (enum trace_format)i;
            return 0;
        }
    }
    return -EINVAL;
}

void
trace_init(struct trace *t)
{
    memset(t, 0, sizeof(*t));
}

void
trace_done(struct trace *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_vms; i++)
        free(t->names[i]);
    free(t->names);
    free(t->cpu);
    free(t->cpu_mhz);
    free(t->cores);
    free(t->mem_cap_mib);
    free(t->mem_mib);
    free(t->disk_kbs);
    free(t->net_kbs);
    trace_init(t);
}

/* Series `s` of `src` (n_vms per sample) cut to `nv` VMs and `ns` samples plus the repeat. */
static double *
cut_series(const double *s, const struct trace *src, size_t nv, size_t ns)
{
    if (s == NULL)
        return NULL;
    double *d = malloc(nv * (ns + 1) * sizeof(*d));
    if (d == NULL)
        return NULL;
    for (size_t k = 0; k <= ns; k++) {
        size_t from = k < ns ? k : ns - 1;
        memcpy(d + k * nv, s + from * src->n_vms, nv * sizeof(*d));
    }
    return d;
}

static double *
cut_sizes(const double *s, size_t nv)
{
    if (s == NULL)
        return NULL;
    double *d = malloc(nv * sizeof(*d));
    if (d != NULL)
        memcpy(d, s, nv * sizeof(*d));
    return d;
}

int
trace_subset(const struct trace *src, size_t n_vms, size_t n_samples, struct trace *ret)
{
    if (n_vms > src->n_vms)
        n_vms = src->n_vms;
    if (n_samples > src->n_samples)
        n_samples = src->n_samples;
    if (n_vms == 0 || n_samples == 0)
        return -EINVAL;
    struct trace t;
    trace_init(&t);
    t.format = src->format;
    t.n_samples = n_samples;
    t.names = calloc(n_vms, sizeof(*t.names));
    if (t.names == NULL)
        return -ENOMEM;
    t.n_vms = n_vms;
    bool bad = false;
    for (size_t i = 0; i < n_vms; i++) {
        t.names[i] = strdup(src->names[i]);
        bad |= t.names[i] == NULL;
    }
    t.cpu = cut_series(src->cpu, src, n_vms, n_samples);
    t.mem_mib = cut_series(src->mem_mib, src, n_vms, n_samples);
    t.disk_kbs = cut_series(src->disk_kbs, src, n_vms, n_samples);
    t.net_kbs = cut_series(src->net_kbs, src, n_vms, n_samples);
    t.cpu_mhz = cut_sizes(src->cpu_mhz, n_vms);
    t.cores = cut_sizes(src->cores, n_vms);
    t.mem_cap_mib = cut_sizes(src->mem_cap_mib, n_vms);
    bad |= t.cpu == NULL || (src->mem_mib != NULL && t.mem_mib == NULL) ||
           (src->disk_kbs != NULL && t.disk_kbs == NULL) ||
           (src->net_kbs != NULL && t.net_kbs == NULL) ||
           (src->cpu_mhz != NULL && t.cpu_mhz == NULL) || (src->cores != NULL && t.cores == NULL) ||
           (src->mem_cap_mib != NULL && t.mem_cap_mib == NULL);
    if (bad) {
        trace_done(&t);
        return -ENOMEM;
    }
    *ret = t;
    return 0;
}

double
trace_value(const struct trace *tr, const double *s, size_t vm, double t_s)
{
    const double *v = s + vm;
    size_t st = tr->n_vms;
    if (t_s <= 0)
        return v[0];
    double pos = t_s / TRACE_STEP_S;
    if (pos >= (double)tr->n_samples)
        return v[tr->n_samples * st];
    size_t k = (size_t)floor(pos);
    double frac = pos - (double)k;
    return v[k * st] + (v[(k + 1) * st] - v[k * st]) * frac;
}

/* The next line of buf[*pos..len) without its end (LF or CRLF). false at the end. */
static bool
next_line(const char *buf, size_t len, size_t *pos, const char **ret_s, size_t *ret_n)
{
    if (*pos >= len)
        return false;
    const char *s = buf + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    size_t n = nl != NULL ? (size_t)(nl - s) : len - *pos;
    *pos += n + (nl != NULL ? 1 : 0);
    if (n > 0 && s[n - 1] == '\r')
        n--;
    *ret_s = s;
    *ret_n = n;
    return true;
}

static bool
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

/* A finite decimal number filling s[0..n) exactly (surrounding blanks allowed). */
static bool
parse_num(const char *s, size_t n, double *ret)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= 64)
        return false;
    char tmp[64];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        char c = tmp[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return false;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + n || errno != 0 || !isfinite(v))
        return false;
    *ret = v;
    return true;
}

int
trace_parse_planetlab(const char *buf, size_t len, double *out, size_t max, size_t *ret_n,
                      size_t *ret_line, char *why)
{
    size_t pos = 0;
    size_t line = 0;
    size_t n = 0;
    const char *s;
    size_t sl;
    while (next_line(buf, len, &pos, &s, &sl)) {
        line++;
        if (is_blank(s, sl)) {
            /* Blank lines are only allowed at the very end. */
            size_t p2 = pos;
            const char *s2;
            size_t n2;
            while (next_line(buf, len, &p2, &s2, &n2)) {
                if (!is_blank(s2, n2)) {
                    *ret_line = line;
                    (void)snprintf(why, 160, "empty line in the middle of the file");
                    return -EINVAL;
                }
            }
            break;
        }
        double v;
        if (!parse_num(s, sl, &v)) {
            *ret_line = line;
            (void)snprintf(why, 160, "expected a CPU percentage, got \"%.*s\"",
                           (int)(sl > 40 ? 40 : sl), s);
            return -EINVAL;
        }
        if (v < 0 || v > 100) {
            *ret_line = line;
            (void)snprintf(why, 160, "CPU percentage %g is outside 0..100", v);
            return -EINVAL;
        }
        if (n >= max) {
            *ret_line = line;
            (void)snprintf(why, 160, "more than %zu samples", max);
            return -EINVAL;
        }
        out[n++] = v / 100.0;
    }
    if (n == 0) {
        *ret_line = line > 0 ? line : 1;
        (void)snprintf(why, 160, "no samples");
        return -EINVAL;
    }
    *ret_n = n;
    return 0;
}

/* The Bitbrains columns, in file order. */
enum {
    BB_TS,
    BB_CORES,
    BB_CAP_MHZ,
    BB_USE_MHZ,
    BB_USE_PCT,
    BB_MEM_CAP_KB,
    BB_MEM_USE_KB,
    BB_DISK_R,
    BB_DISK_W,
    BB_NET_RX,
    BB_NET_TX,
    BB_COLS,
};

static const char *const bb_col_names[BB_COLS] = {
    "Timestamp",
    "CPU cores",
    "CPU capacity provisioned",
    "CPU usage [MHZ]",
    "CPU usage [%]",
    "Memory capacity provisioned",
    "Memory usage",
    "Disk read throughput",
    "Disk write throughput",
    "Network received",
    "Network transmitted",
};

int
trace_parse_bitbrains(const char *buf, size_t len, struct trace_bb_row *rows, size_t max,
                      size_t *ret_n, size_t *ret_line, char *why)
{
    size_t pos = 0;
    size_t line = 0;
    size_t n = 0;
    const char *s;
    size_t sl;
    if (!next_line(buf, len, &pos, &s, &sl)) {
        *ret_line = 1;
        (void)snprintf(why, 160, "empty file (expected a header line)");
        return -EINVAL;
    }
    line = 1;
    if (sl < 9 || memcmp(s, "Timestamp", 9) != 0) {
        *ret_line = 1;
        (void)snprintf(why, 160, "expected the header line starting \"Timestamp\"");
        return -EINVAL;
    }
    while (next_line(buf, len, &pos, &s, &sl)) {
        line++;
        if (is_blank(s, sl))
            continue;
        double f[BB_COLS];
        size_t col = 0;
        size_t start = 0;
        for (size_t i = 0; i <= sl; i++) {
            if (i < sl && s[i] != ';')
                continue;
            if (col >= BB_COLS) {
                *ret_line = line;
                (void)snprintf(why, 160, "more than %d fields", BB_COLS);
                return -EINVAL;
            }
            if (!parse_num(s + start, i - start, &f[col])) {
                *ret_line = line;
                (void)snprintf(why, 160, "field %zu (%s): not a number: \"%.*s\"", col + 1,
                               bb_col_names[col], (int)((i - start) > 40 ? 40 : i - start),
                               s + start);
                return -EINVAL;
            }
            col++;
            start = i + 1;
        }
        if (col != BB_COLS) {
            *ret_line = line;
            (void)snprintf(why, 160, "%zu fields, expected %d separated by \";\\t\"", col, BB_COLS);
            return -EINVAL;
        }
        for (size_t c = 0; c < BB_COLS; c++) {
            if (c > 0 && f[c] < 0) {
                *ret_line = line;
                (void)snprintf(why, 160, "field %zu (%s) is negative: %g", c + 1, bb_col_names[c],
                               f[c]);
                return -EINVAL;
            }
            if (f[c] > TRACE_MAX_VALUE || f[c] < -TRACE_MAX_VALUE) {
                *ret_line = line;
                (void)snprintf(why, 160, "field %zu (%s) is %g, outside the accepted range (%g)",
                               c + 1, bb_col_names[c], f[c], TRACE_MAX_VALUE);
                return -EINVAL;
            }
        }
        if (f[BB_CORES] > TRACE_MAX_CORES || f[BB_CORES] != floor(f[BB_CORES])) {
            *ret_line = line;
            (void)snprintf(why, 160, "field 2 (CPU cores) must be a whole number up to %d, not %g",
                           TRACE_MAX_CORES, f[BB_CORES]);
            return -EINVAL;
        }
        if (n > 0 && !(f[BB_TS] > rows[n - 1].ts)) {
            *ret_line = line;
            (void)snprintf(why, 160, "timestamp %.0f is not after the previous row's %.0f",
                           f[BB_TS], rows[n - 1].ts);
            return -EINVAL;
        }
        if (n >= max) {
            *ret_line = line;
            (void)snprintf(why, 160, "more than %zu rows", max);
            return -E2BIG;
        }
        struct trace_bb_row *r = &rows[n++];
        r->ts = f[BB_TS];
        r->cores = f[BB_CORES];
        r->cap_mhz = f[BB_CAP_MHZ];
        r->use_mhz = f[BB_USE_MHZ];
        r->mem_cap_kb = f[BB_MEM_CAP_KB];
        r->mem_use_kb = f[BB_MEM_USE_KB];
        r->disk_kbs = f[BB_DISK_R] + f[BB_DISK_W];
        r->net_kbs = f[BB_NET_RX] + f[BB_NET_TX];
    }
    if (n == 0) {
        *ret_line = line;
        (void)snprintf(why, 160, "no rows after the header");
        return -EINVAL;
    }
    *ret_n = n;
    return 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular, non-hidden, non-README files of `dir`, byte-sorted. */
static int
list_dir(const char *dir, char ***ret_names, size_t *ret_n, struct trace_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        int r = -errno;
        (void)snprintf(err->msg, sizeof(err->msg), "%s: %s", dir, strerror(-r));
        return r;
    }
    char **names = NULL;
    size_t n = 0;
    size_t cap = 0;
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strncmp(de->d_name, "README", 6) == 0)
            continue;
        size_t dl = strlen(dir);
        size_t nl = strlen(de->d_name);
        char *path = malloc(dl + nl + 2);
        if (path == NULL) {
            r = -ENOMEM;
            goto out;
        }
        memcpy(path, dir, dl);
        path[dl] = '/';
        memcpy(path + dl + 1, de->d_name, nl + 1);
        struct stat st;
        bool regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        free(path);
        if (!regular)
            continue;
        if (n >= TRACE_MAX_VMS) {
            (void)snprintf(err->msg, sizeof(err->msg), "%s: more than %u trace files", dir,
                           TRACE_MAX_VMS);
            r = -E2BIG;
            goto out;
        }
        char **nn = grow_array(names, &cap, n + 1, sizeof(*nn), 256);
        if (nn == NULL) {
            r = -ENOMEM;
            goto out;
        }
        names = nn;
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            r = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (n == 0) {
        (void)snprintf(err->msg, sizeof(err->msg), "%s: no trace files in the folder", dir);
        r = -EINVAL;
        goto out;
    }
    qsort(names, n, sizeof(*names), cmp_names);
out:
    (void)closedir(d);
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        if (r == -ENOMEM)
            (void)snprintf(err->msg, sizeof(err->msg), "out of memory");
        return r;
    }
    *ret_names = names;
    *ret_n = n;
    return 0;
}

static int
read_one(const char *dir, const char *name, char **ret_buf, size_t *ret_len,
         struct trace_error *err)
{
    size_t dl = strlen(dir);
    size_t nl = strlen(name);
    char *path = malloc(dl + nl + 2);
    if (path == NULL)
        return -ENOMEM;
    memcpy(path, dir, dl);
    path[dl] = '/';
    memcpy(path + dl + 1, name, nl + 1);
    int r = file_read_all(path, TRACE_MAX_FILE_BYTES, ret_buf, ret_len);
    if (r < 0) {
        if (r == -EFBIG)
            (void)snprintf(err->msg, sizeof(err->msg), "%s: larger than %zu bytes", path,
                           TRACE_MAX_FILE_BYTES);
        else
            (void)snprintf(err->msg, sizeof(err->msg), "%s: %s", path, file_strerror(r));
    }
    free(path);
    return r;
}

static int
read_planetlab(const char *dir, char **names, size_t n_files, struct trace *t,
               struct trace_error *err)
{
    double *vals = malloc((TRACE_MAX_SAMPLES + 1) * sizeof(*vals));
    if (vals == NULL)
        return -ENOMEM;
    int r = 0;
    for (size_t i = 0; i < n_files; i++) {
        char *buf = NULL;
        size_t len = 0;
        r = read_one(dir, names[i], &buf, &len, err);
        if (r < 0)
            goto out;
        size_t n = 0;
        size_t line = 0;
        char why[160];
        r = trace_parse_planetlab(buf, len, vals, TRACE_MAX_SAMPLES, &n, &line, why);
        free(buf);
        if (r < 0) {
            (void)snprintf(err->msg, sizeof(err->msg), "%s/%s:%zu: %s", dir, names[i], line, why);
            goto out;
        }
        if (i == 0) {
            t->n_samples = n;
            t->cpu = malloc(n_files * (n + 1) * sizeof(*t->cpu));
            if (t->cpu == NULL) {
                r = -ENOMEM;
                goto out;
            }
        } else if (n != t->n_samples) {
            (void)snprintf(err->msg, sizeof(err->msg),
                           "%s/%s: %zu samples, but %s has %zu (every VM of a trace must "
                           "cover the same period)",
                           dir, names[i], n, names[0], t->n_samples);
            r = -EINVAL;
            goto out;
        }
        for (size_t k = 0; k < n; k++)
            t->cpu[k * n_files + i] = vals[k];
        t->cpu[n * n_files + i] = vals[n - 1];
    }
out:
    free(vals);
    return r;
}

enum bb_field {
    BBF_USE_MHZ,
    BBF_MEM_USE_KB,
    BBF_DISK_KBS,
    BBF_NET_KBS,
};

static double
row_field(const struct trace_bb_row *r, enum bb_field f)
{
    switch (f) {
    case BBF_USE_MHZ:
        return r->use_mhz;
    case BBF_MEM_USE_KB:
        return r->mem_use_kb;
    case BBF_DISK_KBS:
        return r->disk_kbs;
    case BBF_NET_KBS:
        return r->net_kbs;
    }
    return 0;
}

/* Resample a VM's rows onto the grid t0 + k * step, k = 0 .. n (n + 1 values, `stride`
 * apart in dst). */
static void
resample(const struct trace_bb_row *rows, size_t nr, double t0, size_t n, enum bb_field f,
         double *dst, size_t stride)
{
    size_t j = 0;
    for (size_t k = 0; k <= n; k++) {
        double g = t0 + (double)k * TRACE_STEP_S;
        while (j + 1 < nr && rows[j + 1].ts <= g)
            j++;
        double v;
        if (g <= rows[0].ts) {
            v = row_field(&rows[0], f);
        } else if (j + 1 >= nr) {
            v = row_field(&rows[j], f);
        } else {
            double a = row_field(&rows[j], f);
            double b = row_field(&rows[j + 1], f);
            double w = (g - rows[j].ts) / (rows[j + 1].ts - rows[j].ts);
            v = a + (b - a) * w;
        }
        dst[k * stride] = v;
    }
}

static int
read_bitbrains(const char *dir, char **names, size_t n_files, struct trace *t,
               struct trace_error *err)
{
    /* Two passes: parse all files (to find the common start and end), then resample. */
    struct trace_bb_row **rows = calloc(n_files, sizeof(struct trace_bb_row *));
    size_t *nrows = calloc(n_files, sizeof(*nrows));
    int r = 0;
    if (rows == NULL || nrows == NULL) {
        r = -ENOMEM;
        goto out;
    }
    double t0 = INFINITY;
    double t1 = -INFINITY;
    for (size_t i = 0; i < n_files; i++) {
        char *buf = NULL;
        size_t len = 0;
        r = read_one(dir, names[i], &buf, &len, err);
        if (r < 0)
            goto out;
        /* A row is at least 22 bytes; this bounds the rows a file can hold. */
        size_t max = len / 22 + 1;
        if (max > (size_t)TRACE_MAX_SAMPLES * 4)
            max = (size_t)TRACE_MAX_SAMPLES * 4;
        rows[i] = malloc(max * sizeof(**rows));
        if (rows[i] == NULL) {
            free(buf);
            r = -ENOMEM;
            goto out;
        }
        size_t line = 0;
        char why[160];
        r = trace_parse_bitbrains(buf, len, rows[i], max, &nrows[i], &line, why);
        free(buf);
        if (r < 0) {
            (void)snprintf(err->msg, sizeof(err->msg), "%s/%s:%zu: %s", dir, names[i], line, why);
            goto out;
        }
        if (rows[i][0].ts < t0)
            t0 = rows[i][0].ts;
        if (rows[i][nrows[i] - 1].ts > t1)
            t1 = rows[i][nrows[i] - 1].ts;
    }
    double span = floor((t1 - t0) / TRACE_STEP_S) + 1;
    if (span > TRACE_MAX_SAMPLES) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "%s: the files span %.0f s, more than %u samples of %.0f s", dir, t1 - t0,
                       TRACE_MAX_SAMPLES, TRACE_STEP_S);
        r = -E2BIG;
        goto out;
    }
    size_t n = (size_t)span;
    size_t per = n + 1;
    t->n_samples = n;
    t->cpu = malloc(n_files * per * sizeof(double));
    t->mem_mib = malloc(n_files * per * sizeof(double));
    t->disk_kbs = malloc(n_files * per * sizeof(double));
    t->net_kbs = malloc(n_files * per * sizeof(double));
    t->cpu_mhz = malloc(n_files * sizeof(double));
    t->cores = malloc(n_files * sizeof(double));
    t->mem_cap_mib = malloc(n_files * sizeof(double));
    if (t->cpu == NULL || t->mem_mib == NULL || t->disk_kbs == NULL || t->net_kbs == NULL ||
        t->cpu_mhz == NULL || t->cores == NULL || t->mem_cap_mib == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_files; i++) {
        const struct trace_bb_row *rw = rows[i];
        size_t nr = nrows[i];
        /* Provisioned sizes: the largest seen (they rarely change within a day). */
        double cap = 0, cores = 0, mem_cap = 0;
        for (size_t j = 0; j < nr; j++) {
            cap = fmax(cap, rw[j].cap_mhz);
            cores = fmax(cores, rw[j].cores);
            mem_cap = fmax(mem_cap, rw[j].mem_cap_kb);
        }
        t->cpu_mhz[i] = cap;
        t->cores[i] = cores;
        t->mem_cap_mib[i] = mem_cap / 1024.0;
        /* A VM that is off reports 0 cores and 0 MHz: it uses nothing then. */
        double *cpu = t->cpu + i;
        resample(rw, nr, t0, n, BBF_USE_MHZ, cpu, n_files);
        for (size_t k = 0; k <= n; k++)
            cpu[k * n_files] = cap > 0 ? fmin(1.0, cpu[k * n_files] / cap) : 0;
        double *mem = t->mem_mib + i;
        resample(rw, nr, t0, n, BBF_MEM_USE_KB, mem, n_files);
        for (size_t k = 0; k <= n; k++)
            mem[k * n_files] /= 1024.0;
        resample(rw, nr, t0, n, BBF_DISK_KBS, t->disk_kbs + i, n_files);
        resample(rw, nr, t0, n, BBF_NET_KBS, t->net_kbs + i, n_files);
    }
out:
    if (rows != NULL)
        for (size_t i = 0; i < n_files; i++)
            free(rows[i]);
    free(rows);
    free(nrows);
    return r;
}

int
trace_read(const char *dir, enum trace_format format, struct trace *ret, struct trace_error *err)
{
    char **names = NULL;
    size_t n = 0;
    err->msg[0] = '\0';
    int r = list_dir(dir, &names, &n, err);
    if (r < 0)
        return r;
    struct trace t;
    trace_init(&t);
    t.format = format;
    t.names = names;
    t.n_vms = n;
    if (format == TRACE_PLANETLAB)
        r = read_planetlab(dir, names, n, &t, err);
    else
        r = read_bitbrains(dir, names, n, &t, err);
    if (r < 0) {
        if (r == -ENOMEM)
            (void)snprintf(err->msg, sizeof(err->msg), "out of memory reading %s", dir);
        trace_done(&t);
        return r;
    }
    *ret = t;
    return 0;
}
