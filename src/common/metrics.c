/* Prometheus text exposition (metrics.h). */
#include "common/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mtext_init(struct mtext *t)
{
    memset(t, 0, sizeof(*t));
}

void
mtext_done(struct mtext *t)
{
    free(t->p);
    mtext_init(t);
}

static bool
reserve(struct mtext *t, size_t more)
{
    if (t->oom)
        return false;
    if (t->len + more + 1 <= t->cap)
        return true;
    size_t ncap = t->cap ? t->cap : 4096;
    while (ncap < t->len + more + 1)
        ncap *= 2;
    char *np = realloc(t->p, ncap);
    if (np == NULL) {
        t->oom = true;
        return false;
    }
    t->p = np;
    t->cap = ncap;
    return true;
}

void
mtext_printf(struct mtext *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    (void)vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void
mtext_family(struct mtext *t, const char *name, const char *type, const char *help)
{
    mtext_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
mtext_escaped(struct mtext *t, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\')
            mtext_printf(t, "\\\\");
        else if (*v == '"')
            mtext_printf(t, "\\\"");
        else if (*v == '\n')
            mtext_printf(t, "\\n");
        else
            mtext_printf(t, "%c", *v);
    }
}

/* The shortest decimal that reads back as `v` (0.1, not 0.10000000000000001): Prometheus
 * keeps a bucket's `le` as written, so le="0.1" must be spelt that way. */
static void
shortest(char *buf, size_t len, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        (void)snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void
value(struct mtext *t, double v)
{
    char buf[40];
    if (isnan(v)) {
        mtext_printf(t, "NaN\n");
    } else if (isinf(v)) {
        mtext_printf(t, v > 0 ? "+Inf\n" : "-Inf\n");
    } else {
        shortest(buf, sizeof(buf), v);
        mtext_printf(t, "%s\n", buf);
    }
}

void
mtext_sample(struct mtext *t, const char *name, const char *labels, double v)
{
    if (labels[0] != '\0')
        mtext_printf(t, "%s{%s} ", name, labels);
    else
        mtext_printf(t, "%s ", name);
    value(t, v);
}

void
mtext_one(struct mtext *t, const char *name, const char *type, const char *help, double v)
{
    mtext_family(t, name, type, help);
    mtext_sample(t, name, "", v);
}

void
histo_init(struct histo *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof(*h));
    h->n = n < HISTO_MAX_BUCKETS ? n : HISTO_MAX_BUCKETS;
    memcpy(h->bounds, bounds, h->n * sizeof(*bounds));
}

void
histo_observe(struct histo *h, double v)
{
    if (isnan(v))
        return;
    if (v < 0)
        v = 0; /* a duration from a wall clock that stepped back */
    size_t i = 0;
    while (i < h->n && v > h->bounds[i])
        i++;
    if (i < h->n)
        h->counts[i]++;
    h->count++;
    h->sum += v;
}

void
mtext_histo(struct mtext *t, const char *name, const char *help, const struct histo *h)
{
    mtext_family(t, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < h->n; i++) {
        char le[40];
        cum += h->counts[i];
        shortest(le, sizeof(le), h->bounds[i]);
        mtext_printf(t, "%s_bucket{le=\"%s\"} %llu\n", name, le, (unsigned long long)cum);
    }
    mtext_printf(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    mtext_printf(t, "%s_sum ", name);
    value(t, h->sum);
    mtext_printf(t, "%s_count %llu\n", name, (unsigned long long)h->count);
}
