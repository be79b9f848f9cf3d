/* Time-0 placement by groups of interchangeable hosts (see place0.h). */
#include "sim/place0.h"

#include <errno.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

struct group {
    const struct power_host_type *type;
    double alloc;    /* MIPS allocated */
    double ram_used; /* MiB */
    uint32_t n_vms;
    uint32_t *heap; /* host indices, min-heap */
    size_t n;
    size_t cap;
};

struct groups {
    struct group *g;
    size_t n;
    size_t cap;
};

static int
heap_push(struct group *g, uint32_t h)
{
    uint32_t *nh = grow_array(g->heap, &g->cap, g->n + 1, sizeof(*nh), 16);
    if (nh == NULL)
        return -ENOMEM;
    g->heap = nh;
    size_t i = g->n++;
    while (i > 0 && g->heap[(i - 1) / 2] > h) {
        g->heap[i] = g->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    g->heap[i] = h;
    return 0;
}

static void
heap_pop(struct group *g)
{
    uint32_t last = g->heap[--g->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g->n)
            break;
        if (c + 1 < g->n && g->heap[c + 1] < g->heap[c])
            c++;
        if (last <= g->heap[c])
            break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (g->n > 0)
        g->heap[i] = last;
}

/* The group with this state, created empty if needed; NULL on -ENOMEM. */
static struct group *
group_get(struct groups *gs, const struct power_host_type *type, double alloc, double ram,
          uint32_t n_vms)
{
    for (size_t i = 0; i < gs->n; i++) {
        struct group *g = &gs->g[i];
        if (g->type == type && g->alloc == alloc && g->ram_used == ram && g->n_vms == n_vms)
            return g;
    }
    struct group *ng = grow_array(gs->g, &gs->cap, gs->n + 1, sizeof(*ng), 32);
    if (ng == NULL)
        return NULL;
    gs->g = ng;
    struct group *g = &gs->g[gs->n++];
    *g = (struct group){.type = type, .alloc = alloc, .ram_used = ram, .n_vms = n_vms};
    return g;
}

static bool
suitable(const struct dc *d, const struct group *g, const struct dc_vm *v)
{
    double total = g->type->pe_mips * g->type->pes;
    if (g->n == 0 || g->type->pe_mips * v->pes < v->size0 || total - g->alloc < v->size0)
        return false;
    if (d->place_ram && g->type->ram_mib - g->ram_used < v->ram_mib)
        return false;
    return d->place_max_vms == 0 || g->n_vms < d->place_max_vms;
}

int
place0_all(struct dc *d, bool first_fit, uint32_t *ret_vm)
{
    struct groups gs = {0};
    int r = 0;
    for (uint32_t h = 0; h < d->n_hosts; h++) {
        const struct dc_host *hs = &d->hosts[h];
        struct group *g =
            group_get(&gs, hs->type, hs->total_mips - hs->available,
                      d->place_ram ? hs->ram_used_mib : 0, d->place_max_vms != 0 ? hs->n_slots : 0);
        if (g == NULL || heap_push(g, h) < 0) {
            r = -ENOMEM;
            goto out;
        }
    }
    for (uint32_t vi = 0; vi < d->n_vms; vi++) {
        struct dc_vm *v = &d->vms[vi];
        v->req = v->size0;
        v->instantiating = true;
        size_t best = SIZE_MAX;
        double best_diff = DBL_MAX;
        uint32_t best_host = UINT32_MAX;
        for (size_t i = 0; i < gs.n; i++) {
            const struct group *g = &gs.g[i];
            if (!suitable(d, g, v))
                continue;
            uint32_t h = g->heap[0];
            double diff = 0;
            if (!first_fit) {
                double total = g->type->pe_mips * g->type->pes;
                diff =
                    power_watts(g->type, (g->alloc + v->size0) / total) - power_watts(g->type, 0);
            }
            if (diff < best_diff || (diff == best_diff && h < best_host)) {
                best = i;
                best_diff = diff;
                best_host = h;
            }
        }
        if (best == SIZE_MAX) {
            *ret_vm = vi;
            r = -ENOSPC;
            goto out;
        }
        struct group *g = &gs.g[best];
        const struct power_host_type *type = g->type;
        double alloc = g->alloc + v->size0;
        double ram = d->place_ram ? g->ram_used + v->ram_mib : 0;
        uint32_t n_vms = d->place_max_vms != 0 ? g->n_vms + 1 : 0;
        heap_pop(g);
        struct group *ng = group_get(&gs, type, alloc, ram, n_vms);
        if (ng == NULL || heap_push(ng, best_host) < 0) {
            r = -ENOMEM;
            goto out;
        }
        r = dc_place(d, vi, best_host);
        if (r < 0)
            goto out;
    }
out:
    for (size_t i = 0; i < gs.n; i++)
        free(gs.g[i].heap);
    free(gs.g);
    return r;
}
