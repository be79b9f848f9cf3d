/* The agent's sample as JSON (GET /v1/sample), with yajl's generator: what
 * wire_sample_decode() reads back, and the rounding that makes the agent's own figures equal
 * what its readers decode. The decoder is wire_sample.c. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "proto/wire.h"

/* What the encoder carries along: the generator and the first error. */
struct enc {
    yajl_gen g;
    int err;
};

static void
e_str(struct enc *e, const char *s)
{
    if (e->err == 0 &&
        yajl_gen_string(e->g, (const unsigned char *)s, strlen(s)) != yajl_gen_status_ok)
        e->err = -ENOMEM;
}

/* A real number as the shortest text that reads back to the same double, always with a
 * fraction or an exponent ("30.0"), as JSON libraries write a real. */
static void
e_num(struct enc *e, double v)
{
    char buf[48];
    int n = snprintf(buf, sizeof(buf), "%.15g", v);
    if (n > 0 && strtod(buf, NULL) != v)
        n = snprintf(buf, sizeof(buf), "%.17g", v);
    if (n > 0 && strpbrk(buf, ".eEn") == NULL)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, ".0");
    if (e->err == 0 && (n <= 0 || yajl_gen_number(e->g, buf, (size_t)n) != yajl_gen_status_ok))
        e->err = -ENOMEM;
}

/* An integer. */
static void
e_int(struct enc *e, long long v)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", v);
    if (e->err == 0 && yajl_gen_number(e->g, buf, (size_t)n) != yajl_gen_status_ok)
        e->err = -ENOMEM;
}

static void
e_key_num(struct enc *e, const char *k, double v)
{
    e_str(e, k);
    e_num(e, v);
}

static void
e_open(struct enc *e, bool map)
{
    if (e->err == 0 &&
        (map ? yajl_gen_map_open(e->g) : yajl_gen_array_open(e->g)) != yajl_gen_status_ok)
        e->err = -ENOMEM;
}

static void
e_close(struct enc *e, bool map)
{
    if (e->err == 0 &&
        (map ? yajl_gen_map_close(e->g) : yajl_gen_array_close(e->g)) != yajl_gen_status_ok)
        e->err = -ENOMEM;
}

/* A usage figure to a thousandth of a percent. */
static double
round_usage(double v)
{
    return round(v * 1000.0) / 1000.0;
}

/* A kind left out of the JSON (not in `kinds`) reads back as 0. */
static double
as_written(double v, uint8_t kinds, unsigned k)
{
    return (kinds & KIND_BIT(k)) ? round_usage(v) : 0.0;
}

void
wire_sample_round(struct wire_sample *s)
{
    for (unsigned k = 0; k < KIND_COUNT; k++)
        s->usage[k] = as_written(s->usage[k], s->usage_kinds, k);
    for (size_t i = 0; i < s->n_vms; i++) {
        struct wire_sample_vm *v = &s->vms[i];
        for (unsigned k = 0; k < KIND_COUNT; k++) {
            v->usage[k] = as_written(v->usage[k], v->usage_kinds, k);
            v->demand[k] = as_written(v->demand[k], v->demand_kinds, k);
        }
        v->cpu_wait = v->has_cpu_wait ? round_usage(v->cpu_wait) : 0.0;
    }
    for (unsigned r = 0; r < PRESSURE_RES_COUNT; r++) {
        for (unsigned l = 0; l < PRESSURE_LINE_COUNT; l++)
            s->pressure.pct[r][l] = (s->pressure.present & PRESSURE_BIT(r, l))
                                        ? round_usage(s->pressure.pct[r][l])
                                        : 0.0;
    }
}

/* {"cpu": {"some": ..., "full": ...}, ...}: the lines present, each to a thousandth. */
static void
e_pressure(struct enc *e, const struct pressure *p)
{
    e_open(e, true);
    for (unsigned r = 0; r < PRESSURE_RES_COUNT; r++) {
        if (!(p->present & (PRESSURE_BIT(r, PRESSURE_SOME) | PRESSURE_BIT(r, PRESSURE_FULL))))
            continue;
        e_str(e, pressure_res_name((enum pressure_res)r));
        e_open(e, true);
        for (unsigned l = 0; l < PRESSURE_LINE_COUNT; l++) {
            if (p->present & PRESSURE_BIT(r, l))
                e_key_num(e, pressure_line_name((enum pressure_line)l), round_usage(p->pct[r][l]));
        }
        e_close(e, true);
    }
    e_close(e, true);
}

/* {"cpu": ..., ...}: the kinds in `kinds`, each to a thousandth of a percent. */
static void
e_kinds(struct enc *e, const double *v, uint8_t kinds)
{
    e_open(e, true);
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (kinds & KIND_BIT(k))
            e_key_num(e, kind_name((enum kind)k), round_usage(v[k]));
    }
    e_close(e, true);
}

/* Does `v`'s demand read back as its usage (the same kinds, the same figures as written)? It
 * is then left out, and the decoder takes the usage for it. */
static bool
demand_is_usage(const struct wire_sample_vm *v)
{
    if (v->demand_kinds != v->usage_kinds)
        return false;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (as_written(v->demand[k], v->demand_kinds, k) !=
            as_written(v->usage[k], v->usage_kinds, k))
            return false;
    }
    return true;
}

/* A VM: the fields at their defaults (demand equal to usage, priority 0, not pinned,
 * running) are left out, which halves a sample and its decoding (docs/protocol.md). */
static void
e_vm(struct enc *e, const struct wire_sample *s, const struct wire_sample_vm *v)
{
    e_open(e, true);
    e_str(e, "name");
    e_str(e, v->name);
    e_str(e, "usage");
    e_kinds(e, v->usage, v->usage_kinds);
    if (!demand_is_usage(v)) {
        e_str(e, "demand");
        e_kinds(e, v->demand, v->demand_kinds);
    }
    e_key_num(e, "mem_mib", v->mem_mib);
    if (v->priority != 0) {
        e_str(e, "priority");
        e_int(e, (long long)v->priority);
    }
    if (v->pinned) {
        e_str(e, "pinned");
        if (e->err == 0 && yajl_gen_bool(e->g, true) != yajl_gen_status_ok)
            e->err = -ENOMEM;
    }
    if (v->incoming || v->migrating_out) {
        e_str(e, "state");
        e_str(e, v->incoming ? "incoming" : "migrating-out");
    }
    /* By what the strings hold, not their offsets: an empty one is "not given" (the decoder
     * refuses "" for both). */
    const char *trace = wire_vm_trace(s, v);
    if (trace[0] != '\0') {
        e_str(e, "trace");
        e_str(e, trace);
    }
    const char *uuid = wire_vm_uuid(s, v);
    if (uuid[0] != '\0') {
        e_str(e, "uuid");
        e_str(e, uuid);
    }
    if (v->measured >= 0) {
        e_str(e, "measured");
        if (e->err == 0 && yajl_gen_bool(e->g, v->measured != 0) != yajl_gen_status_ok)
            e->err = -ENOMEM;
    }
    if (v->arrived >= 0)
        e_key_num(e, "arrived", v->arrived);
    if (v->has_cpu_wait)
        e_key_num(e, "cpu_wait", round_usage(v->cpu_wait));
    if (v->n_moves > 0) {
        e_str(e, "moves");
        e_open(e, false);
        for (uint32_t i = 0; i < v->n_moves; i++)
            e_num(e, s->moves[v->moves_first + i]);
        e_close(e, false);
    }
    e_close(e, true);
}

int
wire_sample_encode(const struct wire_sample *s, char **ret_json)
{
    struct enc e = {yajl_gen_alloc(NULL), 0};
    if (e.g == NULL)
        return -ENOMEM;
    e_open(&e, true);
    e_str(&e, "version");
    e_int(&e, WIRE_VERSION);
    e_str(&e, "seq");
    e_int(&e, (long long)s->seq);
    e_key_num(&e, "time", s->time);
    e_str(&e, "url");
    e_str(&e, s->url);
    if (s->unconfirmed) { /* POST /v1/notify of a conflict not confirmed */
        e_str(&e, "unconfirmed");
        e_open(&e, true);
        e_str(&e, "waiting");
        e_int(&e, (long long)s->unconfirmed_waiting);
        if (s->unconfirmed_cpu_pressure >= 0)
            e_key_num(&e, "cpu_pressure", s->unconfirmed_cpu_pressure);
        e_close(&e, true);
    }
    e_str(&e, "host");
    e_open(&e, true);
    e_str(&e, "name");
    e_str(&e, s->name);
    e_key_num(&e, "capacity", s->capacity);
    e_key_num(&e, "mem_mib", s->mem_mib);
    e_str(&e, "state");
    e_str(&e, "up");
    e_str(&e, "usage");
    e_kinds(&e, s->usage, s->usage_kinds);
    if (s->pressure.present != 0) {
        e_str(&e, "pressure");
        e_pressure(&e, &s->pressure);
    }
    e_str(&e, "vms");
    e_open(&e, false);
    for (size_t i = 0; i < s->n_vms; i++)
        e_vm(&e, s, &s->vms[i]);
    e_close(&e, false);
    e_close(&e, true);
    e_close(&e, true);
    const unsigned char *buf = NULL;
    size_t len = 0;
    if (e.err == 0 && yajl_gen_get_buf(e.g, &buf, &len) != yajl_gen_status_ok)
        e.err = -ENOMEM;
    char *out = e.err == 0 ? malloc(len + 1) : NULL;
    if (e.err == 0 && out == NULL)
        e.err = -ENOMEM;
    if (out != NULL) {
        memcpy(out, buf, len);
        out[len] = '\0';
        *ret_json = out;
    }
    yajl_gen_free(e.g);
    return e.err;
}
