/* Snapshot encoding: struct cluster -> snapshot JSON (docs/snapshot.md), with yajl's
 * generator, in the order and with the defaults left out as snapshot_decode() reads them
 * back. Numbers are written in their shortest exact form, so a decode of the output gives
 * the same cluster. The decoder is in snapshot.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "proto/snapshot.h"

static int
gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok ? 0
                                                                                         : -ENOMEM;
}

static int
gen_num(yajl_gen g, double v)
{
    char buf[64];
    /* %.17g round-trips every double; drop to a shorter form when it is exact. */
    int n = snprintf(buf, sizeof(buf), "%.15g", v);
    if (n < 0)
        return -ENOMEM;
    if (strtod(buf, NULL) != v)
        n = snprintf(buf, sizeof(buf), "%.17g", v);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -ENOMEM;
    return yajl_gen_number(g, buf, (size_t)n) == yajl_gen_status_ok ? 0 : -ENOMEM;
}

static int
gen_usage(yajl_gen g, const struct usage *u)
{
    int r = 0;
    if (yajl_gen_map_open(g) != yajl_gen_status_ok)
        return -ENOMEM;
    for (unsigned k = 0; k < KIND_COUNT && r == 0; k++) {
        if (!(u->present & KIND_BIT(k)) && k != KIND_CPU)
            continue;
        r = gen_str(g, kind_name((enum kind)k));
        if (r == 0)
            r = gen_num(g, u->pct[k]);
    }
    if (r == 0 && yajl_gen_map_close(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    return r;
}

/* A host's pressure, only the lines present: {"cpu": {"some": 12.5}, ...}. */
static int
gen_pressure(yajl_gen g, const struct pressure *p)
{
    int r = 0;
    if (yajl_gen_map_open(g) != yajl_gen_status_ok)
        return -ENOMEM;
    for (unsigned res = 0; res < PRESSURE_RES_COUNT && r == 0; res++) {
        if (!(p->present & (PRESSURE_BIT(res, PRESSURE_SOME) | PRESSURE_BIT(res, PRESSURE_FULL))))
            continue;
        r = gen_str(g, pressure_res_name((enum pressure_res)res));
        if (r == 0 && yajl_gen_map_open(g) != yajl_gen_status_ok)
            r = -ENOMEM;
        for (unsigned l = 0; l < PRESSURE_LINE_COUNT && r == 0; l++) {
            if (!pressure_has(p, (enum pressure_res)res, (enum pressure_line)l))
                continue;
            r = gen_str(g, pressure_line_name((enum pressure_line)l));
            r = r ? r : gen_num(g, p->pct[res][l]);
        }
        if (r == 0 && yajl_gen_map_close(g) != yajl_gen_status_ok)
            r = -ENOMEM;
    }
    if (r == 0 && yajl_gen_map_close(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    return r;
}

static int
gen_vm(yajl_gen g, const struct cluster *cl, const struct vm *v)
{
    int r = 0;
    if (yajl_gen_map_open(g) != yajl_gen_status_ok)
        return -ENOMEM;
    r = gen_str(g, "name");
    r = r ? r : gen_str(g, v->name);
    r = r ? r : gen_str(g, "usage");
    r = r ? r : gen_usage(g, &v->usage);
    if (r == 0 && v->has_mem) {
        r = gen_str(g, "mem_mib");
        r = r ? r : gen_num(g, v->mem_mib);
    }
    if (r == 0 && v->priority != 0) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%" PRId64, v->priority);
        r = gen_str(g, "priority");
        if (r == 0 && (n < 0 || yajl_gen_number(g, buf, (size_t)n) != yajl_gen_status_ok))
            r = -ENOMEM;
    }
    if (r == 0 && v->pinned) {
        r = gen_str(g, "pinned");
        if (r == 0 && yajl_gen_bool(g, 1) != yajl_gen_status_ok)
            r = -ENOMEM;
    }
    if (r == 0 && v->arrived >= 0) {
        r = gen_str(g, "arrived");
        r = r ? r : gen_num(g, v->arrived);
    }
    if (r == 0 && v->has_cpu_wait) {
        r = gen_str(g, "cpu_wait");
        r = r ? r : gen_num(g, v->cpu_wait_pct);
    }
    if (r == 0 && v->moves_count > 0) {
        r = gen_str(g, "moves");
        if (r == 0 && yajl_gen_array_open(g) != yajl_gen_status_ok)
            r = -ENOMEM;
        for (uint32_t i = 0; r == 0 && i < v->moves_count; i++)
            r = gen_num(g, cl->moves[v->moves_first + i]);
        if (r == 0 && yajl_gen_array_close(g) != yajl_gen_status_ok)
            r = -ENOMEM;
    }
    if (r == 0 && yajl_gen_map_close(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    return r;
}

static int
gen_host(yajl_gen g, const struct cluster *cl, const struct host *h)
{
    int r = 0;
    if (yajl_gen_map_open(g) != yajl_gen_status_ok)
        return -ENOMEM;
    r = gen_str(g, "name");
    r = r ? r : gen_str(g, h->name);
    if (r == 0 && h->capacity != 1.0) {
        r = gen_str(g, "capacity");
        r = r ? r : gen_num(g, h->capacity);
    }
    if (r == 0 && h->has_mem) {
        r = gen_str(g, "mem_mib");
        r = r ? r : gen_num(g, h->mem_mib);
    }
    if (r == 0 && h->state != HOST_UP) {
        r = gen_str(g, "state");
        r = r ? r : gen_str(g, host_state_name(h->state));
    }
    r = r ? r : gen_str(g, "usage");
    r = r ? r : gen_usage(g, &h->usage);
    if (r == 0 && h->pressure.present != 0) {
        r = gen_str(g, "pressure");
        r = r ? r : gen_pressure(g, &h->pressure);
    }
    r = r ? r : gen_str(g, "vms");
    if (r == 0 && yajl_gen_array_open(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    for (uint32_t j = 0; j < h->vm_count && r == 0; j++)
        r = gen_vm(g, cl, &cl->vms[h->vm_first + j]);
    if (r == 0 && yajl_gen_array_close(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    if (r == 0 && yajl_gen_map_close(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    return r;
}

int
snapshot_encode(const struct cluster *cl, int pretty, char **ret_s, size_t *ret_len)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return -ENOMEM;
    int r = 0;
    if (pretty && !yajl_gen_config(g, yajl_gen_beautify, 1))
        r = -ENOMEM;
    if (r == 0 && yajl_gen_map_open(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    if (r == 0 && cl->has_time) {
        r = gen_str(g, "time");
        r = r ? r : gen_num(g, cl->time);
    }
    r = r ? r : gen_str(g, "hosts");
    if (r == 0 && yajl_gen_array_open(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    for (size_t i = 0; i < cl->n_hosts && r == 0; i++)
        r = gen_host(g, cl, &cl->hosts[i]);
    if (r == 0 && yajl_gen_array_close(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    if (r == 0 && yajl_gen_map_close(g) != yajl_gen_status_ok)
        r = -ENOMEM;
    if (r == 0) {
        const unsigned char *out;
        size_t len;
        if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok) {
            r = -ENOMEM;
        } else {
            char *s = malloc(len + 1);
            if (s == NULL) {
                r = -ENOMEM;
            } else {
                memcpy(s, out, len);
                s[len] = '\0';
                *ret_s = s;
                *ret_len = len;
            }
        }
    }
    yajl_gen_free(g);
    return r;
}
