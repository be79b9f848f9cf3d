/* The cluster model: growable arrays of hosts and VMs and an arena of names. */
#include "core/model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fnv.h"
#include "core/grow.h"

/* Names are copied into chunks of this size (larger names get a chunk of their own), so a
 * snapshot with millions of VMs costs a few hundred allocations, not millions. */
#define NAME_CHUNK_SIZE ((size_t)256 * 1024)

struct name_chunk {
    struct name_chunk *next;
    size_t used;
    size_t size;
    char data[];
};

static const char *const kind_names[KIND_COUNT] = {"cpu", "mem_bw", "disk", "net"};
static const char *const state_names[] = {"up", "maintenance", "down"};

const char *
kind_name(enum kind k)
{
    if ((unsigned)k >= KIND_COUNT)
        return "?";
    return kind_names[k];
}

const char *
pressure_res_name(enum pressure_res r)
{
    static const char *const names[PRESSURE_RES_COUNT] = {"cpu", "memory", "io"};
    return (unsigned)r < PRESSURE_RES_COUNT ? names[r] : "?";
}

const char *
pressure_line_name(enum pressure_line l)
{
    return l == PRESSURE_SOME ? "some" : l == PRESSURE_FULL ? "full" : "?";
}

/* Is `name` (not empty) the `len` bytes at `s` (which may hold NULs)? The first byte is
 * compared before `name` is measured: the decoder asks for every usage key of every VM, and
 * the names differ in their first byte. */
static bool
name_is(const char *name, const char *s, size_t len)
{
    return len > 0 && name[0] == s[0] && strlen(name) == len && memcmp(name, s, len) == 0;
}

int
kind_parse(const char *s, size_t len, enum kind *ret_k)
{
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (name_is(kind_names[k], s, len)) {
            *ret_k = (enum kind)k;
            return 0;
        }
    }
    return -EINVAL;
}

const char *
host_state_name(enum host_state s)
{
    if ((unsigned)s >= ARRAY_SIZE(state_names))
        return "?";
    return state_names[s];
}

int
host_state_parse(const char *s, size_t len, enum host_state *ret_s)
{
    for (unsigned i = 0; i < ARRAY_SIZE(state_names); i++) {
        if (name_is(state_names[i], s, len)) {
            *ret_s = (enum host_state)i;
            return 0;
        }
    }
    return -EINVAL;
}

void
cluster_init(struct cluster *cl)
{
    memset(cl, 0, sizeof(*cl));
}

void
cluster_done(struct cluster *cl)
{
    if (cl == NULL)
        return;
    free(cl->hosts);
    free(cl->vms);
    free(cl->moves);
    struct name_chunk *c = cl->names;
    while (c != NULL) {
        struct name_chunk *next = c->next;
        free(c);
        c = next;
    }
    cluster_init(cl);
}

/* Copy `len` bytes of `s` plus a NUL into the arena. NULL on OOM. */
static const char *
name_store(struct cluster *cl, const char *s, size_t len)
{
    struct name_chunk *c = cl->names;
    if (c == NULL || c->size - c->used < len + 1) {
        size_t size = len + 1 > NAME_CHUNK_SIZE ? len + 1 : NAME_CHUNK_SIZE;
        struct name_chunk *n = malloc(sizeof(*n) + size);
        if (n == NULL)
            return NULL;
        n->used = 0;
        n->size = size;
        n->next = c;
        cl->names = n;
        c = n;
    }
    char *p = c->data + c->used;
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    c->used += len + 1;
    return p;
}

/* Make room for one more element in a growable array. 0 or -ENOMEM. */
static int
grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    void *p = grow_array(*arr, cap, n + 1, elem, 16);
    if (p == NULL)
        return -ENOMEM;
    *arr = p;
    return 0;
}

int
cluster_reserve(struct cluster *cl, size_t hosts, size_t vms)
{
    if (hosts > MODEL_MAX_HOSTS)
        hosts = MODEL_MAX_HOSTS;
    if (vms > MODEL_MAX_VMS)
        vms = MODEL_MAX_VMS;
    if (hosts > cl->cap_hosts) {
        struct host *h = realloc(cl->hosts, hosts * sizeof(*h));
        if (h == NULL)
            return -ENOMEM;
        cl->hosts = h;
        cl->cap_hosts = hosts;
    }
    if (vms > cl->cap_vms) {
        struct vm *v = realloc(cl->vms, vms * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        cl->vms = v;
        cl->cap_vms = vms;
    }
    return 0;
}

int
cluster_add_host(struct cluster *cl, const char *name, size_t len, size_t *ret_i)
{
    if (cl->n_hosts >= MODEL_MAX_HOSTS || len > MODEL_MAX_NAME)
        return -E2BIG;
    int r = grow((void **)&cl->hosts, &cl->cap_hosts, cl->n_hosts, sizeof(struct host));
    if (r < 0)
        return r;
    const char *n = name_store(cl, name, len);
    if (n == NULL)
        return -ENOMEM;
    struct host *h = &cl->hosts[cl->n_hosts];
    memset(h, 0, sizeof(*h));
    h->name = n;
    h->capacity = 1.0;
    h->state = HOST_UP;
    h->vm_first = (uint32_t)cl->n_vms;
    *ret_i = cl->n_hosts++;
    return 0;
}

int
cluster_add_vm(struct cluster *cl, const char *name, size_t len, size_t *ret_i)
{
    if (cl->n_hosts == 0)
        return -EINVAL;
    if (cl->n_vms >= MODEL_MAX_VMS || len > MODEL_MAX_NAME)
        return -E2BIG;
    int r = grow((void **)&cl->vms, &cl->cap_vms, cl->n_vms, sizeof(struct vm));
    if (r < 0)
        return r;
    const char *n = name_store(cl, name, len);
    if (n == NULL)
        return -ENOMEM;
    struct vm *v = &cl->vms[cl->n_vms];
    memset(v, 0, sizeof(*v));
    v->name = n;
    v->arrived = -1.0;
    v->host = (uint32_t)(cl->n_hosts - 1);
    cl->hosts[cl->n_hosts - 1].vm_count++;
    *ret_i = cl->n_vms++;
    return 0;
}

int
cluster_set_vm_moves(struct cluster *cl, size_t vi, const double *times, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(times[i]) || (i > 0 && times[i] < times[i - 1]))
            return -EINVAL;
    }
    if (n > MODEL_MAX_VM_MOVES) {
        times += n - MODEL_MAX_VM_MOVES;
        n = MODEL_MAX_VM_MOVES;
    }
    struct vm *v = &cl->vms[vi];
    if (n == 0) {
        v->moves_first = 0;
        v->moves_count = 0;
        return 0;
    }
    double *p = grow_array(cl->moves, &cl->cap_moves, cl->n_moves + n, sizeof(*p), 64);
    if (p == NULL)
        return -ENOMEM;
    cl->moves = p;
    memcpy(cl->moves + cl->n_moves, times, n * sizeof(*times));
    v->moves_first = (uint32_t)cl->n_moves;
    v->moves_count = (uint32_t)n;
    cl->n_moves += n;
    return 0;
}

/* The VMs of one name (`first`, then `next[]`, indexes + 1, 0 ending): listed by two or more
 * hosts, none of its copies migrating? */
static bool
group_duplicate(const struct cluster *cl, uint32_t first, const uint32_t *next)
{
    bool migrating = false;
    bool other_host = false;
    const struct vm *a = &cl->vms[first - 1];
    for (uint32_t k = first; k != 0; k = next[k - 1]) {
        migrating |= cl->vms[k - 1].migrating;
        other_host |= cl->vms[k - 1].host != a->host;
    }
    return other_host && !migrating;
}

int
cluster_mark_duplicates(struct cluster *cl, size_t *ret_n)
{
    /* The VMs of hosts that are not down, grouped by name: a hash of each name's first VM
     * (open addressing, at most half full), the others of the name chained behind it. */
    if (cl->n_vms >= UINT32_MAX / 2)
        return -ENOMEM;
    size_t cap = 16;
    while (cap < 2 * cl->n_vms)
        cap *= 2;
    uint32_t *slot = calloc(cap, sizeof(*slot));
    uint32_t *next = malloc((cl->n_vms + 1) * sizeof(*next));
    if (slot == NULL || next == NULL) {
        free(slot);
        free(next);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cl->n_vms; i++) {
        cl->vms[i].duplicate = false;
        next[i] = 0;
        if (cl->hosts[cl->vms[i].host].state == HOST_DOWN)
            continue;
        size_t h = fnv1a(cl->vms[i].name) & (cap - 1);
        while (slot[h] != 0 && strcmp(cl->vms[slot[h] - 1].name, cl->vms[i].name) != 0)
            h = (h + 1) & (cap - 1);
        if (slot[h] == 0) {
            slot[h] = (uint32_t)i + 1;
        } else { /* behind the name's first VM */
            next[i] = next[slot[h] - 1];
            next[slot[h] - 1] = (uint32_t)i + 1;
        }
    }
    size_t names = 0;
    for (size_t h = 0; h < cap; h++) {
        uint32_t first = slot[h];
        if (first == 0 || next[first - 1] == 0 || !group_duplicate(cl, first, next))
            continue;
        names++;
        for (uint32_t k = first; k != 0; k = next[k - 1])
            cl->vms[k - 1].duplicate = true;
    }
    free(slot);
    free(next);
    if (ret_n != NULL)
        *ret_n = names;
    return 0;
}

int
cluster_set_host_name(struct cluster *cl, size_t i, const char *name, size_t len)
{
    if (len > MODEL_MAX_NAME)
        return -E2BIG;
    const char *n = name_store(cl, name, len);
    if (n == NULL)
        return -ENOMEM;
    cl->hosts[i].name = n;
    return 0;
}

int
cluster_set_vm_name(struct cluster *cl, size_t i, const char *name, size_t len)
{
    if (len > MODEL_MAX_NAME)
        return -E2BIG;
    const char *n = name_store(cl, name, len);
    if (n == NULL)
        return -ENOMEM;
    cl->vms[i].name = n;
    return 0;
}

int
cluster_copy(struct cluster *dst, const struct cluster *src)
{
    cluster_init(dst);
    dst->time = src->time;
    dst->has_time = src->has_time;
    for (size_t i = 0; i < src->n_hosts; i++) {
        const struct host *h = &src->hosts[i];
        size_t hi;
        int r = cluster_add_host(dst, h->name, strlen(h->name), &hi);
        if (r < 0)
            goto fail;
        const char *keep = dst->hosts[hi].name;
        dst->hosts[hi] = *h;
        dst->hosts[hi].name = keep;
        dst->hosts[hi].vm_first = (uint32_t)dst->n_vms;
        dst->hosts[hi].vm_count = 0;
        for (uint32_t j = 0; j < h->vm_count; j++) {
            const struct vm *v = &src->vms[h->vm_first + j];
            size_t vi;
            r = cluster_add_vm(dst, v->name, strlen(v->name), &vi);
            if (r < 0)
                goto fail;
            const char *vkeep = dst->vms[vi].name;
            dst->vms[vi] = *v;
            dst->vms[vi].name = vkeep;
            dst->vms[vi].host = (uint32_t)hi;
            dst->vms[vi].moves_count = 0;
            r = cluster_set_vm_moves(dst, vi, cluster_vm_moves(src, v), v->moves_count);
            if (r < 0)
                goto fail;
        }
    }
    return 0;
fail:
    cluster_done(dst);
    return -ENOMEM;
}
