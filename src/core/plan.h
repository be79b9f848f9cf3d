/* Relocation determination for a whole cluster: find every conflict on the snapshot as given,
 * then give each conflicting host, in model order, at most one migration (the heaviest
 * movable VM to the best feasible destination), applying each planned move to a working
 * copy of the usage before the next host is handled. This is the one decision procedure of
 * vmloc; every deployment and the simulator call plan_compute(). Pure: no I/O, clock or
 * globals; deterministic for equal inputs. */
#ifndef VMLOC_CORE_PLAN_H
#define VMLOC_CORE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/model.h"
#include "core/policy.h"

enum plan_reason {
    PLAN_REASON_NO_MOVABLE_VM = 1,  /* every VM on the source is pinned, held or a duplicate */
    PLAN_REASON_NO_DESTINATION = 2, /* no other up host can take the chosen VM */
    PLAN_REASON_SOURCE_BUSY = 3,    /* the caller excluded the source (opts.no_source) */
    PLAN_REASON_LIMIT = 4,          /* max_migrations or max_per_host reached in this plan */
    PLAN_REASON_STORM_GUARD = 5,    /* the VMs that could move are held by the storm guard */
};

/* "no-movable-vm", "no-destination", "source-busy", "limit", "storm-guard". */
const char *plan_reason_name(enum plan_reason r);

struct plan_conflict {
    uint32_t host;
    uint8_t kinds;   /* KIND_BIT mask of the triggering kinds */
    uint32_t vm_off; /* the conflicting VMs are plan.conflict_vms[vm_off .. vm_off+vm_count) */
    uint32_t vm_count;
    double host_threshold[KIND_COUNT];
    double vm_threshold[KIND_COUNT];
    /* [detect] contention = confirm: what confirmed it (DETECT_BY_* of core/detect.h; 0 with
     * contention off, and in plan.unconfirmed), how many of its VMs wait at least
     * contention_wait_pct, and the host's cpu pressure (`some`; < 0: not measured). */
    uint8_t confirmed_by;
    uint32_t waiting;
    double cpu_pressure;
};

enum plan_move_why {
    PLAN_MOVE_CONFLICT = 0, /* resolves the conflict on `from` */
    PLAN_MOVE_DRAIN = 1,    /* evacuates `from`, a host in maintenance (plan_opts.drain) */
};

struct plan_move {
    uint32_t vm;
    uint32_t from;
    uint32_t to;
    enum plan_move_why why;
    double score;                  /* the destination's score when chosen */
    double vm_usage[KIND_COUNT];   /* the VM's usage, in percent of the source */
    double dest_usage[KIND_COUNT]; /* the destination's usage before the move */
    /* A VM of the source that would have been chosen but for the storm guard (UINT32_MAX:
     * none), and when the guard lets it go (seconds since the epoch). */
    uint32_t held_vm;
    double held_until;
};

struct plan_unresolved {
    uint32_t host;
    /* the VM that could not be placed (no-destination), or the one the storm guard holds
     * that would have moved (storm-guard), else UINT32_MAX */
    uint32_t vm;
    enum plan_reason reason;
    /* no-destination: 1 + the index in pol->rules of the "must" rule that kept the VM off the
     * host it would have gone to, 0: none (so a zeroed entry names no rule) */
    uint32_t rule_id;
    uint32_t rule_host; /* that host, when rule_id > 0 */
    double until;       /* storm-guard: when the guard lets `vm` go (seconds since the epoch) */
};

/* A host in maintenance that still runs VMs but none of them can leave in this plan. */
enum plan_block {
    PLAN_BLOCK_PINNED = 1,         /* every VM left is pinned */
    PLAN_BLOCK_NO_DESTINATION = 2, /* no host can take the VM tried */
    PLAN_BLOCK_LIMIT = 3,          /* max_migrations reached */
    PLAN_BLOCK_BUSY = 4,           /* the caller excluded it (opts.no_source: a move runs) */
    PLAN_BLOCK_RULE = 5,           /* every VM left is held by a "together" rule */
    PLAN_BLOCK_DUPLICATE = 6,      /* a VM left has its name on another host too */
};

/* "pinned", "no-destination", "limit", "busy", "rule", "duplicate". */
const char *plan_block_name(enum plan_block b);

struct plan_drain {
    uint32_t host;
    uint32_t vms_left;     /* VMs still on it, before this plan's moves */
    uint32_t moving;       /* moves off it in this plan */
    uint32_t vm;           /* the VM that blocks (pinned, no-destination), else UINT32_MAX */
    enum plan_block block; /* 0: not blocked (moving, or empty) */
    uint32_t rule_id;      /* as in plan_unresolved */
    uint32_t rule_host;
};

struct plan {
    struct plan_conflict *conflicts;
    size_t n_conflicts;
    uint32_t *conflict_vms;
    size_t n_conflict_vms;
    struct plan_move *moves;
    size_t n_moves;
    struct plan_unresolved *unresolved;
    size_t n_unresolved;
    struct plan_drain *drains; /* one per host in maintenance, with opts.drain */
    size_t n_drains;
    /* [detect] contention = confirm: the usage conflicts that neither CPU wait nor pressure
     * confirmed (not acted on), with their VMs in conflict_vms as for `conflicts`. */
    struct plan_conflict *unconfirmed;
    size_t n_unconfirmed;
};

/* Optional restrictions from the caller (a running system): per-host flags, each array
 * n_hosts long, or NULL for none. A host with no_dest set is never a destination (a
 * migration into or out of it is running, or its lock was refused); a conflicting host with
 * no_source set is reported as unresolved with PLAN_REASON_SOURCE_BUSY. When `check` is
 * given, only hosts with check set are examined for conflicts (edge and peer modes, where an
 * agent has detected the conflict on its own host); every host may still be a destination. */
struct plan_opts {
    const bool *no_dest;
    const bool *no_source;
    const bool *check;
    size_t running; /* migrations already running, counted against pol->max_migrations */
    /* Evacuate hosts in maintenance: after the conflicts, each such host sends off up to
     * max(1, max_per_host) of its VMs (heaviest first; pinned ones stay; the cooldown does
     * not hold a VM back), within max_migrations, to destinations chosen as for a conflict. */
    bool drain;
};

/* Prepare an empty plan in caller's storage. Never fails. */
void plan_init(struct plan *p);

/* Free what `p` owns; leaves it as after plan_init(). Accepts NULL. */
void plan_done(struct plan *p);

/* Detect and relocate on `cl` under `pol` (which must have had policy_finish()); `opts` may
 * be NULL. Borrows all inputs; the plan refers to hosts and VMs of `cl` by index.
 * 0: *ret filled (it may hold no conflict at all). -ENOMEM: *ret left empty.
 * -EINVAL: `ret` not empty on entry. */
MUST_CHECK int plan_compute(const struct cluster *cl, const struct policy *pol,
                            const struct plan_opts *opts, struct plan *ret);

/* --- explanations ------------------------------------------------------------------------ */

/* Why a host could or could not take a VM now. */
enum dest_verdict {
    DEST_OK = 0,
    DEST_NOT_UP = 1,      /* down */
    DEST_MAINTENANCE = 2, /* in maintenance */
    DEST_EXCLUDED = 3,    /* [relocate] exclude_hosts */
    DEST_BUSY = 4,        /* the caller excluded it (opts.no_dest: a migration runs there) */
    DEST_NO_ROOM = 5,     /* not enough free `kind` (below its threshold with dest_headroom) */
    DEST_NO_MEMORY = 6,   /* the VM's memory does not fit (with the host's reserve) */
    DEST_RULE = 7,        /* a "must" rule (rule_id) */
};

/* "ok", "down", "maintenance", "excluded", "busy", "no-room", "no-memory", "rule". */
const char *dest_verdict_name(enum dest_verdict v);

struct dest_explain {
    uint32_t host;
    enum dest_verdict verdict;
    enum kind kind;       /* no-room: the kind */
    double free;          /* no-room: its free capacity; no-memory: free MiB */
    double need;          /* no-room, no-memory: what the VM needs */
    uint32_t rule_id;     /* rule: 1 + index in pol->rules */
    uint32_t should_kept; /* ok: "should" rules kept there */
    double score;         /* the destination's score */
};

/* What the core thinks of VM `vm` now: can it move, is its host in conflict, and for every
 * other host whether it could take the VM and why not. */
struct vm_explain {
    uint32_t vm;
    uint32_t host;
    bool host_in_conflict;
    /* [detect] contention = confirm: its host has a usage conflict that neither signal
     * confirmed (host_in_conflict is then false); what confirmed the host's conflict
     * (DETECT_BY_*), its heavy VMs that wait, and its cpu pressure (some; < 0 unknown) */
    bool host_unconfirmed;
    uint8_t confirmed_by;
    uint32_t waiting;
    double cpu_pressure;
    bool heavy; /* one of the heavy VMs of the host's conflict (or unconfirmed one) */
    bool pinned;
    bool held;             /* held back by the caller (a recent failed migration) */
    bool duplicate;        /* its name is on another host too (cluster_mark_duplicates()) */
    bool cooling;          /* in its cooldown */
    double cooldown_left;  /* seconds, when cooling */
    double cooldown_until; /* when cooling: the end of the cooldown (seconds since the epoch) */
    bool storm_guard;      /* held by the storm guard (a conflict does not move it) */
    double storm_until;    /* when storm_guard: when the guard lets it go */
    uint32_t recent_moves; /* its moves within the storm window */
    uint32_t held_rule_id; /* 1 + the "must together" rule that holds it on its host, 0: none */
    struct dest_explain *dests; /* every other host: the possible ones first, best first */
    size_t n_dests;
    size_t n_ok; /* how many of them could take it */
};

/* Explain VM `vm` of `cl` under `pol` and `opts` (no_dest, as for plan_compute). 0 with *ret
 * filled (free with vm_explain_done()); -EINVAL (no such VM); -ENOMEM. */
MUST_CHECK int plan_explain_vm(const struct cluster *cl, const struct policy *pol,
                               const struct plan_opts *opts, size_t vm, struct vm_explain *ret);
void vm_explain_done(struct vm_explain *e);

/* What the storm guard does to VM `vm` of `cl`, as one line into `buf` ("a moved 4 times
 * within 3600 s (max_moves_per_vm 4): the storm guard holds it until 2026-12-05 04:15:00
 * UTC"), given the `until` the plan reported; the same text all through one window, so a
 * record of it does not change from one decision to the next. Every deployment uses it. */
void plan_storm_describe(const struct policy *pol, const struct cluster *cl, uint32_t vm,
                         double until, char *buf, size_t len);

/* Under [detect] contention = confirm, what confirmed a conflict or why a usage conflict was
 * not confirmed, as one line into `buf`: "confirmed by cpu wait (2 heavy VMs wait >= 5 %)",
 * "confirmed by cpu pressure some 34.0 % >= 10 %", both, or "not confirmed: 1 heavy VM
 * waits >= 5 % (min_vms 2); cpu pressure not measured". "" with contention off. */
void plan_confirm_describe(const struct policy *pol, const struct plan_conflict *c, char *buf,
                           size_t len);

/* Why move `mv` was chosen, in the policy's own terms, as one line into `buf` ("conflict on
 * h1; movable VM with the highest cpu usage; destination with the most free cpu (score
 * 62.0)"). Every deployment records this as the migration's reason. */
void plan_move_describe(const struct policy *pol, const struct cluster *cl,
                        const struct plan_move *mv, char *buf, size_t len);

#endif
