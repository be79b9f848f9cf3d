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

double
uhist_psi(const struct uhist *h, size_t i, enum pressure_res r, enum pressure_line l)
{
    return (double)h->psi[slot(h, i)][(unsigned)r * PRESSURE_LINE_COUNT + (unsigned)l];
}

/* Line c (resource * PRESSURE_LINE_COUNT + line) of `psi`, or NaN when not measured. */
static float
psi_line(const struct pressure *psi, unsigned c)
{
    enum pressure_res r = (enum pressure_res)(c / PRESSURE_LINE_COUNT);
    enum pressure_line l = (enum pressure_line)(c % PRESSURE_LINE_COUNT);
    if (psi == NULL || !pressure_has(psi, r, l) || !isfinite(psi->pct[r][l]))
        return NAN;
    return (float)psi->pct[r][l];
}

void
uhist_push(struct uhist *h, double time, const double *pct, const struct pressure *psi)
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
            for (unsigned c = 0; c < UHIST_PSI; c++) {
                float v = psi_line(psi, c);
                if (!isnan(v) && (isnan(h->psi[last][c]) || v > h->psi[last][c]))
                    h->psi[last][c] = v;
            }
            return;
        }
    }
    h->time[h->head] = time;
    for (unsigned k = 0; k < KIND_COUNT; k++)
        h->pct[h->head][k] = isfinite(pct[k]) ? (float)pct[k] : 0.0f;
    for (unsigned c = 0; c < UHIST_PSI; c++)
        h->psi[h->head][c] = psi_line(psi, c);
    h->head = (h->head + 1) % UHIST_POINTS;
    if (h->n < UHIST_POINTS)
        h->n++;
}

/* The time of point i as shown (to the millisecond), so that a time read from an answer
 * selects that point again. */
static double
shown_time(const struct uhist *h, size_t i)
{
    return round(uhist_time(h, i) * 1000.0) / 1000.0;
}

/* Add "pressure" to the answer `o` when a point at or after `since` has a line: per resource
 * and line that any of them has, one value per point (null: not measured there). 0 or -1. */
static int
psi_json(const struct uhist *h, double since, json_t *o)
{
    size_t n = uhist_len(h);
    bool any[UHIST_PSI] = {false};
    bool some = false;
    for (size_t i = 0; i < n; i++) {
        if (shown_time(h, i) < since)
            continue;
        for (unsigned c = 0; c < UHIST_PSI; c++) {
            any[c] = any[c] || !isnan(h->psi[slot(h, i)][c]);
            some = some || any[c];
        }
    }
    if (!some)
        return 0;
    json_t *psi = json_object();
    if (psi == NULL || json_object_set_new(o, "pressure", psi) < 0)
        return -1;
    for (unsigned c = 0; c < UHIST_PSI; c++) {
        if (!any[c])
            continue;
        const char *rn = pressure_res_name((enum pressure_res)(c / PRESSURE_LINE_COUNT));
        json_t *res = json_object_get(psi, rn);
        if (res == NULL && (json_object_set_new(psi, rn, json_object()) < 0 ||
                            (res = json_object_get(psi, rn)) == NULL))
            return -1;
        json_t *list = json_array();
        if (list == NULL ||
            json_object_set_new(
                res, pressure_line_name((enum pressure_line)(c % PRESSURE_LINE_COUNT)), list) < 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if (shown_time(h, i) < since)
                continue;
            float v = h->psi[slot(h, i)][c];
            json_t *e = isnan(v) ? json_null() : json_real(round((double)v * 10.0) / 10.0);
            if (json_array_append_new(list, e) < 0)
                return -1;
        }
    }
    return 0;
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
        double t = shown_time(h, i);
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
    if (o != NULL && h != NULL && psi_json(h, since, o) < 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}
