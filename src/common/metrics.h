/* Prometheus text exposition (version 0.0.4) for the daemons' GET /metrics: a growable text
 * buffer with the format's escaping, and fixed-bucket histograms. Names follow Prometheus'
 * conventions (vmloc_ prefix, base units: seconds, bytes, ratios; _total for counters). */
#ifndef VMLOC_COMMON_METRICS_H
#define VMLOC_COMMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

struct mtext {
    char *p;
    size_t len;
    size_t cap;
    bool oom; /* an append failed: the text is incomplete */
};

void mtext_init(struct mtext *t);
void mtext_done(struct mtext *t);

/* Append printf-style text. */
void mtext_printf(struct mtext *t, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* "# HELP name help\n# TYPE name type\n". */
void mtext_family(struct mtext *t, const char *name, const char *type, const char *help);

/* A label value, escaped (backslash, double quote, newline), without the quotes. */
void mtext_escaped(struct mtext *t, const char *v);

/* One sample: `name{labels} value\n`; `labels` is "" or already formatted ("a=\"b\""). */
void mtext_sample(struct mtext *t, const char *name, const char *labels, double value);

/* A family of one sample without labels: mtext_family() then mtext_sample(). */
void mtext_one(struct mtext *t, const char *name, const char *type, const char *help, double value);

#define HISTO_MAX_BUCKETS 16

struct histo {
    double bounds[HISTO_MAX_BUCKETS]; /* upper bounds, ascending; +Inf is implicit */
    size_t n;
    uint64_t counts[HISTO_MAX_BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;
    double sum;
};

/* `n` (at most HISTO_MAX_BUCKETS) ascending upper bounds. */
void histo_init(struct histo *h, const double *bounds, size_t n);
void histo_observe(struct histo *h, double v);

/* The family, its _bucket lines (cumulative, with le="+Inf"), _sum and _count. */
void mtext_histo(struct mtext *t, const char *name, const char *help, const struct histo *h);

#endif
