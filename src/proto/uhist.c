#include "proto/uhist.h"

#include <math.h>
#include <stdlib.h>

#include "proto/wire.h"

struct uhist *
uhist_new(double min_gap)
{
    struct uhist *h = calloc(1, sizeof(*h));
    if (h != NULL)
        h->min_gap = min_gap > 0 ? min_gap : 0;
    return h;
}

void
uhist_free(struct uhist *h)
{
    free(h);
}

size_t
uhist_len(const struct uhist *h)
{
    return h->n;
}

static size_t
slot(const struct uhist *h, size_t i)
{
    return (h->head + UHIST_POINTS - h->n + i) % UHIST_POINTS;
}

double
uhist_time(const struct uhist *h, size_t i)
{
    return h->time[slot(h, i)];
}

double
uhist_pct(const struct uhist *h, size_t i, enum kind k)
{
    return (double)h->pct[slot(h, i)][k];
}

void
uhist_push(struct uhist *h, double time, const double *pct)
{
    if (!isfinite(time))
        return;
    if (h->n > 0) {
        size_t last = (h->head + UHIST_POINTS - 1) % UHIST_POINTS;
        if (time < h->time[last]) {
            h->n = 0; /* the clock went back: what came before no longer lines up */
            h->head = 0;
        } else if (time - h->time[last] < h->min_gap) {
            for (unsigned k = 0; k < KIND_COUNT; k++) {
                if (isfinite(pct[k]) && (float)pct[k] > h->pct[last][k])
                    h->pct[last][k] = (float)pct[k];
            }
            return;
        }
    }
    h->time[h->head] = time;
    for (unsigned k = 0; k < KIND_COUNT; k++)
        h->pct[h->head][k] = isfinite(pct[k]) ? (float)pct[k] : 0.0f;
    h->head = (h->head + 1) % UHIST_POINTS;
    if (h->n < UHIST_POINTS)
        h->n++;
}

json_t *
uhist_json(const struct uhist *h, const char *host, const double *threshold, double since)
{
    json_t *times = json_array();
    json_t *usage = json_object();
    json_t *lists[KIND_COUNT] = {NULL};
    bool ok = times != NULL && usage != NULL;
    for (unsigned k = 0; k < KIND_COUNT && ok; k++) {
        lists[k] = json_array();
        ok = lists[k] != NULL && json_object_set_new(usage, kind_name((enum kind)k), lists[k]) == 0;
    }
    size_t n = h != NULL ? uhist_len(h) : 0;
    for (size_t i = 0; i < n && ok; i++) {
        /* Compared as shown (to the millisecond), so a time read from an answer selects
         * that point again. */
        double t = round(uhist_time(h, i) * 1000.0) / 1000.0;
        if (t < since)
            continue;
        ok = json_array_append_new(times, json_real(t)) == 0;
        for (unsigned k = 0; k < KIND_COUNT && ok; k++) {
            double v = round(uhist_pct(h, i, (enum kind)k) * 10.0) / 10.0;
            ok = json_array_append_new(lists[k], json_real(v)) == 0;
        }
    }
    json_t *thr = ok ? wire_kinds_json(threshold) : NULL;
    json_t *o = NULL;
    if (thr != NULL)
        o = json_pack("{s:s,s:o,s:o,s:o}", "host", host, "time", times, "usage", usage, "threshold",
                      thr);
    else {
        json_decref(times);
        json_decref(usage);
    }
    return o;
}
