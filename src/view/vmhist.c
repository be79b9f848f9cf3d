/* The VMs' history of a host's raw samples (vmhist.h). */
#include "view/vmhist.h"

#include <stdbool.h>
#include <stdlib.h>

/* The first pass: how many rows there are. */
static void
count_row(void *ctx, const struct store_row *r)
{
    (void)r;
    size_t *n = ctx;
    (*n)++;
}

struct vm_hist {
    json_t *arr;   /* the answer */
    json_t *index; /* name -> its object in `arr` (borrowed) */
    size_t skip;   /* the older rows left out, before the newest VMHIST_SAMPLES */
    size_t rows;   /* rows taken, at most VMHIST_SAMPLES */
    bool oom;
};

/* A new VM's object, appended to the answer; NULL on OOM. */
static json_t *
vm_series(struct vm_hist *h, const char *name)
{
    json_t *usage = json_object();
    for (unsigned k = 0; k < KIND_COUNT && usage != NULL; k++) {
        if (json_object_set_new(usage, kind_name((enum kind)k), json_array()) < 0) {
            json_decref(usage);
            usage = NULL;
        }
    }
    json_t *o = json_pack("{s:s,s:o,s:o,s:o}", "name", name, "time", json_array(), "usage", usage,
                          "cpu_wait", json_array());
    if (o == NULL || json_array_append_new(h->arr, o) < 0 || json_object_set(h->index, name, o) < 0)
        return NULL; /* `o`, if made, is the answer's, freed with it */
    return o;
}

/* Append `v` (NULL: json null) to list `key` of `o`; false on OOM. */
static bool
push(json_t *o, const char *key, json_t *v)
{
    return json_array_append_new(json_object_get(o, key), v != NULL ? v : json_null()) == 0;
}

static void
add_vm_row(void *ctx, const struct store_row *r)
{
    struct vm_hist *h = ctx;
    if (h->skip > 0) {
        h->skip--;
        return;
    }
    if (h->oom || h->rows == VMHIST_SAMPLES)
        return;
    h->rows++;
    for (size_t i = 0; i < r->n_vms && !h->oom; i++) {
        const struct store_vm_row *v = &r->vms[i];
        json_t *o = json_object_get(h->index, v->name);
        if (o == NULL)
            o = vm_series(h, v->name);
        bool ok = o != NULL && push(o, "time", json_real(r->time)) &&
                  push(o, "cpu_wait", v->has_cpu_wait ? json_real(v->cpu_wait) : NULL);
        json_t *usage = ok ? json_object_get(o, "usage") : NULL;
        for (unsigned k = 0; k < KIND_COUNT && ok; k++)
            ok = push(usage, kind_name((enum kind)k),
                      (v->kinds & KIND_BIT(k)) ? json_real(v->pct[k]) : NULL);
        h->oom = !ok;
    }
}

json_t *
vmhist_json(struct store *s, const char *host, double since)
{
    /* Two passes: the rows are counted first, to keep the newest VMHIST_SAMPLES of them
     * (in the order they were stored: a sample's time is its agent's clock, which may go
     * back) without holding more than those. Both passes read the same rows. */
    size_t n = 0;
    if (store_each_sample(s, host, since, true, count_row, &n, NULL) < 0)
        return NULL;
    struct vm_hist h = {.arr = json_array(),
                        .index = json_object(),
                        .skip = n > VMHIST_SAMPLES ? n - VMHIST_SAMPLES : 0};
    if (h.arr == NULL || h.index == NULL ||
        store_each_sample(s, host, since, true, add_vm_row, &h, NULL) < 0 || h.oom) {
        json_decref(h.arr);
        json_decref(h.index);
        return NULL;
    }
    json_decref(h.index);
    return h.arr;
}
