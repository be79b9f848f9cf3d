/* A host's recent usage and pressure for the web page's history chart: a ring of the last
 * UHIST_POINTS samples, at most one point per `min_gap` seconds (samples closer together fold
 * into the newest point, keeping each kind's and each pressure line's highest value so a short
 * spike still shows). Fixed size, no allocation after uhist_new(). */
#ifndef VMLOC_PROTO_UHIST_H
#define VMLOC_PROTO_UHIST_H

#include <jansson.h>
#include <stddef.h>

#include "core/compiler.h"
#include "core/model.h"

#define UHIST_POINTS 600
/* The pressure lines kept per point: [resource * PRESSURE_LINE_COUNT + line]. */
#define UHIST_PSI (PRESSURE_RES_COUNT * PRESSURE_LINE_COUNT)

struct uhist {
    double min_gap;
    size_t head; /* the slot of the next point */
    size_t n;    /* points held, <= UHIST_POINTS */
    double time[UHIST_POINTS];
    float pct[UHIST_POINTS][KIND_COUNT];
    float psi[UHIST_POINTS][UHIST_PSI]; /* NaN: not measured at that point */
};

/* An empty ring keeping points at least `min_gap` seconds apart (>= 0). NULL on OOM. */
struct uhist *uhist_new(double min_gap);

/* Free. Accepts NULL. */
void uhist_free(struct uhist *h);

/* Add the usage `pct` (percent per kind) and the pressure `psi` (its lines present; NULL:
 * none measured) measured at `time` (seconds since the epoch). A time earlier than the newest
 * point (a clock set back) starts the ring again. */
void uhist_push(struct uhist *h, double time, const double *pct, const struct pressure *psi);

/* Points held. */
size_t uhist_len(const struct uhist *h);

/* The i-th point, oldest first (i < uhist_len()). */
double uhist_time(const struct uhist *h, size_t i);
double uhist_pct(const struct uhist *h, size_t i, enum kind k);
/* Line `l` of resource `r` of the i-th point's pressure (percent), or NaN where it was not
 * measured. */
double uhist_psi(const struct uhist *h, size_t i, enum pressure_res r, enum pressure_line l);

/* The answer of GET /v1/hosts/NAME/history:
 * {"host", "time": [t...], "usage": {"cpu": [...], ...}, "threshold": {"cpu": ...}}, the points
 * no older than `since` (seconds since the epoch; 0 for all), and when one of them has a
 * pressure line, "pressure": {"cpu": {"some": [...], ...}, ...} with the lines and resources
 * that any of them has, a list as long as "time", null at a point without that line. `h` may
 * be NULL (no sample yet: empty lists). NULL on OOM. */
json_t *uhist_json(const struct uhist *h, const char *host, const double *threshold, double since);

#endif
