/* The model of a cluster at one instant: hosts, the VMs on each host, and their usage per
 * resource kind as a percent of the host's capacity (the patent's "resource usage state
 * data"). A cluster owns its hosts, VMs and names; VMs are stored grouped by host, in the
 * order they were added, which is the order every tie-break in vmloc refers to.
 * Pure C: no I/O, no clock, no globals. Allocation failures are returned as -ENOMEM. */
#ifndef VMLOC_CORE_MODEL_H
#define VMLOC_CORE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

/* Resource kinds, in their canonical order. */
enum kind {
    KIND_CPU = 0,
    KIND_MEM_BW = 1,
    KIND_DISK = 2,
    KIND_NET = 3,
};
#define KIND_COUNT 4
#define KIND_MASK_ALL 0x0fu
#define KIND_BIT(k) (1u << (unsigned)(k))

/* The wire name of a kind ("cpu", "mem_bw", "disk", "net"); never NULL for a valid kind. */
const char *kind_name(enum kind k);

/* Look up a kind by name (exactly `len` bytes, not necessarily NUL-terminated).
 * 0: *ret_k set. -EINVAL: not a kind name. */
MUST_CHECK int kind_parse(const char *s, size_t len, enum kind *ret_k);

enum host_state {
    HOST_UP = 0,
    HOST_MAINTENANCE = 1,
    HOST_DOWN = 2,
};

/* "up", "maintenance", "down". */
const char *host_state_name(enum host_state s);
/* 0: *ret_s set. -EINVAL: unknown state name. */
MUST_CHECK int host_state_parse(const char *s, size_t len, enum host_state *ret_s);

/* Usage per kind in percent (0..100) of the capacity of the host the VM or total belongs to.
 * A kind whose bit is not in `present` was not measured; its `pct` is 0. */
struct usage {
    double pct[KIND_COUNT];
    uint8_t present;
};

/* Linux pressure stall information (PSI) of a host: for each resource, the share of wall
 * time in which some of its tasks (`some`) or all of its non-idle tasks (`full`) were
 * stalled waiting for it, in percent, over the kernel's last 10 seconds (avg10). A line
 * whose bit is not in `present` was not measured; its `pct` is 0. */
enum pressure_res {
    PRESSURE_CPU = 0,
    PRESSURE_MEMORY = 1,
    PRESSURE_IO = 2,
};
#define PRESSURE_RES_COUNT 3
enum pressure_line {
    PRESSURE_SOME = 0,
    PRESSURE_FULL = 1,
};
#define PRESSURE_LINE_COUNT 2
#define PRESSURE_BIT(r, l) (1u << ((unsigned)(r)*PRESSURE_LINE_COUNT + (unsigned)(l)))

struct pressure {
    double pct[PRESSURE_RES_COUNT][PRESSURE_LINE_COUNT];
    uint8_t present;
};

/* "cpu", "memory", "io"; "some", "full". Never NULL for a valid value. */
const char *pressure_res_name(enum pressure_res r);
const char *pressure_line_name(enum pressure_line l);

/* Is line `l` of resource `r` in `p`? */
static inline bool
pressure_has(const struct pressure *p, enum pressure_res r, enum pressure_line l)
{
    return (p->present & PRESSURE_BIT(r, l)) != 0;
}

/* Set line `l` of resource `r` to `pct` and mark it present. */
static inline void
pressure_set(struct pressure *p, enum pressure_res r, enum pressure_line l, double pct)
{
    p->pct[r][l] = pct;
    p->present = (uint8_t)(p->present | PRESSURE_BIT(r, l));
}

struct vm {
    const char *name; /* owned by the cluster */
    struct usage usage;
    /* CPU wait: the share of wall time its vCPUs were runnable but not running on a host CPU
     * (the guest's steal time), percent 0..100; meaningful only when has_cpu_wait. */
    double cpu_wait_pct;
    double mem_mib; /* meaningful only when has_mem */
    int64_t priority;
    double arrived; /* seconds since the epoch it arrived on its host; < 0: unknown */
    uint32_t host;  /* index of the host running it */
    /* Its recent moves (arrival times by migration, seconds since the epoch, oldest first):
     * cluster.moves[moves_first .. moves_first + moves_count). */
    uint32_t moves_first;
    uint32_t moves_count;
    bool has_mem;
    bool pinned;
    bool held; /* the caller holds it back for now (a recent failed migration) */
    /* A migration of it runs (its host's sample says it leaves, or the caller ordered one):
     * its name on a second host is then the migration's two ends, not a duplicate. */
    bool migrating;
    /* Its name is also that of a VM on another host that is not down, outside a migration
     * (cluster_mark_duplicates()): one of the two is a stray copy or a misnamed VM, and
     * neither is moved until the name is on one host only. */
    bool duplicate;
    bool has_cpu_wait;
};

struct host {
    const char *name; /* owned by the cluster */
    struct usage usage;
    double capacity;   /* relative capacity coefficient, > 0 */
    double mem_mib;    /* meaningful only when has_mem */
    uint32_t vm_first; /* index of its first VM in cluster.vms */
    uint32_t vm_count;
    enum host_state state;
    bool has_mem;
    struct pressure pressure; /* its PSI, where measured */
};

struct name_chunk;

struct cluster {
    struct host *hosts;
    size_t n_hosts;
    size_t cap_hosts;
    struct vm *vms;
    size_t n_vms;
    size_t cap_vms;
    double time; /* seconds since the epoch; meaningful only when has_time */
    bool has_time;
    double *moves; /* the VMs' recent moves (see struct vm) */
    size_t n_moves;
    size_t cap_moves;
    struct name_chunk *names; /* arena holding every name */
};

/* Limits that keep indices in 32 bits; a snapshot beyond them is refused with -E2BIG. */
#define MODEL_MAX_HOSTS 4000000u
#define MODEL_MAX_VMS 40000000u
#define MODEL_MAX_NAME 255u
/* The most recent moves a VM carries (the storm guard counts at most this many). */
#define MODEL_MAX_VM_MOVES 16u

/* Prepare an empty cluster in caller's storage. Never fails. */
void cluster_init(struct cluster *cl);

/* Free everything `cl` owns and leave it empty (as after cluster_init). Accepts NULL. */
void cluster_done(struct cluster *cl);

/* Append a host named `name` (`len` bytes, copied) with default fields (capacity 1, state up,
 * no usage, no memory size, no VMs). VMs added afterwards belong to the last host added.
 * 0: *ret_i is its index. -E2BIG: too many hosts or name too long. -ENOMEM. */
MUST_CHECK int cluster_add_host(struct cluster *cl, const char *name, size_t len, size_t *ret_i);

/* Append a VM named `name` (copied) to the last host added, with default fields.
 * 0: *ret_i is its index. -EINVAL: no host yet. -E2BIG: too many VMs or name too long.
 * -ENOMEM. */
MUST_CHECK int cluster_add_vm(struct cluster *cl, const char *name, size_t len, size_t *ret_i);

/* Rename host `i` / VM `i` to `name` (`len` bytes, copied). Lets a decoder add an entry
 * before its name is known. 0; -E2BIG: name too long; -ENOMEM (the old name stays). */
MUST_CHECK int cluster_set_host_name(struct cluster *cl, size_t i, const char *name, size_t len);
MUST_CHECK int cluster_set_vm_name(struct cluster *cl, size_t i, const char *name, size_t len);

/* Give VM `vi` its recent moves: `n` arrival times by migration (seconds since the epoch),
 * oldest first; only the newest MODEL_MAX_VM_MOVES are kept. Replaces what it had.
 * 0; -EINVAL: not finite or not in order; -ENOMEM (the VM keeps what it had). */
MUST_CHECK int cluster_set_vm_moves(struct cluster *cl, size_t vi, const double *times, size_t n);

/* Find the VM names listed by two or more hosts that are not down (a down host's list is the
 * last it sent, and may be stale) and set `duplicate` on every such VM, clearing it on every
 * other; a name with a `migrating` copy is left unmarked (a migration's two ends). The number
 * of such names into *ret_n (may be NULL). 0, or -ENOMEM (no flag changed). O(V): a hash of
 * the names. */
MUST_CHECK int cluster_mark_duplicates(struct cluster *cl, size_t *ret_n);

/* Make room for `hosts` hosts and `vms` VMs in total (a hint for decoders that can
 * estimate the size; adding more still works). 0 or -ENOMEM (nothing changed). */
MUST_CHECK int cluster_reserve(struct cluster *cl, size_t hosts, size_t vms);

/* Copy `src` into the empty cluster `dst` (names included).
 * 0 on success; -ENOMEM (dst left empty). */
MUST_CHECK int cluster_copy(struct cluster *dst, const struct cluster *src);

/* VM `v`'s moves in `cl` (v->moves_count of them), or NULL when it has none. */
static inline const double *
cluster_vm_moves(const struct cluster *cl, const struct vm *v)
{
    return v->moves_count > 0 ? cl->moves + v->moves_first : NULL;
}

/* Append a move at `t` to a VM's moves `times` (`*n` of them, oldest first, room for
 * MODEL_MAX_VM_MOVES): the oldest is dropped when full. A time before the newest is taken as
 * the newest (a clock stepped back), so the list stays in order. Never fails. */
static inline void
vm_moves_push(double *times, uint32_t *n, double t)
{
    if (*n > 0 && t < times[*n - 1])
        t = times[*n - 1];
    if (*n == MODEL_MAX_VM_MOVES) {
        for (uint32_t i = 1; i < *n; i++)
            times[i - 1] = times[i];
        (*n)--;
    }
    times[(*n)++] = t;
}

/* Usage of kind `k` (0 when not present). */
static inline double
usage_get(const struct usage *u, enum kind k)
{
    return u->pct[k];
}

/* Set usage of kind `k` and mark it present. */
static inline void
usage_set(struct usage *u, enum kind k, double pct)
{
    u->pct[k] = pct;
    u->present = (uint8_t)(u->present | KIND_BIT(k));
}

#endif
