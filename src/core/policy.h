/* The policy: how conflicts are detected and how a relocation is chosen (the `[detect]` and
 * `[relocate]` sections of the config, and the per-host `[host "NAME"]` overrides). A policy
 * owns its override table. policy_init() gives the documented defaults; the INI parser in
 * proto/ fills one in. Pure data plus lookups: no I/O, no globals. */
#ifndef VMLOC_CORE_POLICY_H
#define VMLOC_CORE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/model.h"

enum combine {
    COMBINE_ANY = 0,
    COMBINE_ALL = 1,
};

enum vm_threshold_mode {
    VM_THRESHOLD_FIXED = 0,
    VM_THRESHOLD_SHARE = 1, /* T = U / N - k */
};

enum vm_select {
    VM_SELECT_USAGE = 0,
    VM_SELECT_PRIORITY = 1,
    VM_SELECT_WEIGHTED = 2,
    VM_SELECT_WAIT = 3, /* the VM whose vCPUs wait the most (unknown counts as none) */
};

/* Does a usage conflict need the hypervisor's word that it hurts ([detect] contention)? */
enum contention {
    CONTENTION_OFF = 0,     /* no: the patent's rule */
    CONTENTION_CONFIRM = 1, /* yes: heavy VMs' CPU wait or the host's cpu pressure confirms it */
};

enum automation {
    AUTOMATION_AUTOMATIC = 0, /* decisions are carried out at once */
    AUTOMATION_MANUAL = 1,    /* recorded as recommendations an operator applies */
    AUTOMATION_DRY_RUN = 2,   /* recorded and logged, never carried out */
};

/* "automatic", "manual", "dry-run". */
const char *automation_name(enum automation a);

enum dest_select {
    DEST_SELECT_FREE = 0,
    DEST_SELECT_LEAST_USED = 1,
    DEST_SELECT_WEIGHTED = 2,
};

/* A placement rule ([rule "NAME"]): keep VMs together or apart, or on or off a set of hosts.
 * A "must" rule is never broken by a move; "should" rules weigh in the choice of a
 * destination (one that keeps more of them wins; the score breaks ties). */
enum rule_kind {
    RULE_TOGETHER = 0, /* the VMs run on one host */
    RULE_APART = 1,    /* no two of the VMs share a host */
    RULE_ON = 2,       /* the VMs run on one of `hosts` */
    RULE_NOT_ON = 3,   /* the VMs never run on one of `hosts` */
};

/* "together", "apart", "on", "not-on". */
const char *rule_kind_name(enum rule_kind k);

struct placement_rule {
    char *name; /* owned */
    enum rule_kind kind;
    bool must;
    bool has_kind;
    char **vms; /* owned names */
    size_t n_vms;
    char **hosts; /* owned names; RULE_ON and RULE_NOT_ON */
    size_t n_hosts;
};

/* Per-host overrides; a field applies only when its has_* flag (or bit) is set. */
struct host_override {
    char *name; /* owned */
    double capacity;
    double host_threshold[KIND_COUNT];
    double host_threshold_all; /* `host_threshold = X` in the host's section */
    double mem_reserve_mib;
    uint8_t has_threshold; /* KIND_BIT(k) set: host_threshold[k] applies */
    bool has_threshold_all;
    bool has_capacity;
    bool has_mem_reserve;
};

struct policy {
    /* [detect] */
    enum kind resources[KIND_COUNT]; /* kinds checked, in the configured order */
    size_t n_resources;
    enum combine combine;
    double host_threshold[KIND_COUNT]; /* percent */
    enum vm_threshold_mode vm_threshold;
    double vm_threshold_value[KIND_COUNT]; /* percent, for VM_THRESHOLD_FIXED */
    double vm_threshold_k;                 /* >= 0, for VM_THRESHOLD_SHARE */
    uint32_t min_vms;                      /* >= 1 */
    /* With CONTENTION_CONFIRM, a usage conflict counts only when at least min_vms of its
     * heavy VMs wait at least contention_wait_pct (CPU wait, percent of wall time) or the
     * host's cpu pressure (`some`, avg10) is at least contention_pressure_pct. */
    enum contention contention;
    double contention_wait_pct;
    double contention_pressure_pct;
    /* [relocate] */
    enum vm_select vm_select;
    enum kind vm_select_resource;
    enum dest_select dest_select;
    enum kind dest_select_resource;
    bool prefer_busy_hosts;
    /* A destination must stay below its own host threshold after the move, in cpu and every
     * checked kind, so a move never creates the next conflict (default on; off is the
     * patent's literal rule: free capacity greater than the VM's usage). */
    bool dest_headroom;
    /* Anti-flapping: a host acts on a conflict only when it was in conflict in `persist_k` of
     * its last `persist_n` samples (1 of 1: at once); a VM that arrived on its host less than
     * `cooldown_s` ago (the cluster's time minus the VM's `arrived`) is not moved (0: none). */
    uint32_t persist_k;
    uint32_t persist_n;
    double cooldown_s;
    /* The storm guard, whatever the other settings: a VM that moved `max_moves_per_vm` times
     * within `storm_window_s` before the cluster's time is not moved by a conflict (nor by
     * consolidation) until the oldest of those moves leaves the window; drains still move it.
     * 1 <= max_moves_per_vm <= MODEL_MAX_VM_MOVES. */
    uint32_t max_moves_per_vm;
    double storm_window_s;
    /* Limits: at most `max_migrations` migrations at once (a plan orders at most that many
     * minus the ones running) and at most `max_per_host` moves into or out of one host in a
     * plan; 0: no limit. */
    uint32_t max_migrations;
    uint32_t max_per_host;
    /* What the running system does with a decision (drains excepted: an operator asked for
     * them, and they run unless dry-run). */
    enum automation automation;
    /* Power saving in the running system: when nothing else is to be done, empty one host
     * whose cpu usage is below `consolidate_below` (percent; 0: off) onto hosts that stay
     * below `consolidate_target` (percent), and report empty hosts as ready to power off. */
    double consolidate_below;
    double consolidate_target;
    /* Memory a destination keeps free for itself: a VM goes only where its memory fits with
     * this much left (MiB; per host in [host "NAME"]). */
    double mem_reserve_mib;
    double weights[KIND_COUNT]; /* for the weighted choices */
    double weight_priority;     /* for vm_select = weighted */
    /* [rule "NAME"], in the order given */
    struct placement_rule *rules;
    size_t n_rules;
    size_t cap_rules;
    /* [relocate] exclude_hosts: never a destination */
    char **exclude_hosts;
    size_t n_exclude_hosts;
    /* [host "NAME"], sorted by name once policy_finish() ran */
    struct host_override *overrides;
    size_t n_overrides;
    size_t cap_overrides;
};

/* Fill `pol` with the documented defaults (cpu only, any, 80 %, fixed 20 %, k 0, min_vms 2,
 * contention off (wait 5 %, pressure 10 %), usage/cpu, free/cpu, no busy preference, destination
 * headroom, cooldown 300 s, storm guard 4 moves in 3600 s, weights cpu:1) and no overrides. Never
 * fails. */
void policy_init(struct policy *pol);

/* The most samples a persistence window may span. */
#define POLICY_MAX_PERSIST_N 31u

/* A host's conflict history for the persistence filter: bit 0 is its newest sample. Add a
 * sample's detection result. */
uint32_t policy_persist_push(uint32_t seen, bool conflict);

/* Did the host's conflicts persist: in conflict in at least persist_k of its last persist_n
 * samples? */
bool policy_persist_holds(const struct policy *pol, uint32_t seen);

/* Is VM `vi` of `cl` in its cooldown under `pol` (it arrived on its host less than
 * cooldown_s before the cluster's time)? False when either time is unknown. */
bool policy_vm_cooling(const struct policy *pol, const struct cluster *cl, size_t vi);

/* The same on bare times: a VM that arrived at `arrived` (< 0: unknown), at time `now`. When
 * cooling, *ret_until (may be NULL) gets the end of its cooldown. */
bool policy_cooling_until(const struct policy *pol, double arrived, double now, double *ret_until);

/* Is VM `vi` of `cl` held by the storm guard: counting `extra` more moves at the cluster's
 * clock (a plan's own earlier moves of it), did it move max_moves_per_vm times within
 * storm_window_s before that instant? When it is, *ret_until (may be NULL) gets the instant
 * (seconds since the epoch) the guard lets it go. False when the cluster has no clock. Moves
 * dated more than a minute after the cluster's clock come from a wrong one: not counted. */
bool policy_vm_storm_guarded(const struct policy *pol, const struct cluster *cl, size_t vi,
                             uint32_t extra, double *ret_until);

/* The same on bare times: a VM whose moves are `moves` (`n`, oldest first), at time `now`. */
bool policy_storm_until(const struct policy *pol, const double *moves, size_t n, uint32_t extra,
                        double now, double *ret_until);

/* How many of `moves` (`n`, oldest first) count towards the storm guard at `now`. */
uint32_t policy_storm_count(const struct policy *pol, const double *moves, size_t n, double now);

/* Free the overrides `pol` owns; leaves `pol` as after policy_init(). Accepts NULL. */
void policy_done(struct policy *pol);

/* Mask of the kinds in pol->resources. */
unsigned policy_resource_mask(const struct policy *pol);

/* Find or create the rule named `name` (`len` bytes, copied; a new one is a "must" rule of no
 * kind yet). 0: *ret_r points into pol (valid until the next call). -ENOMEM; -E2BIG. */
MUST_CHECK int policy_rule_get(struct policy *pol, const char *name, size_t len,
                               struct placement_rule **ret_r);

/* Is host `name` in [relocate] exclude_hosts (never a destination)? */
bool policy_host_excluded(const struct policy *pol, const char *name);

/* Does any placement rule name VM `name`? (Consolidation leaves such VMs where they are.) */
bool policy_vm_has_rules(const struct policy *pol, const char *name);

/* Append a name (copied) to a list of names: a rule's VMs or hosts, or the excluded hosts.
 * 0, -ENOMEM or -E2BIG (name too long). */
MUST_CHECK int policy_names_add(char ***list, size_t *n, const char *name, size_t len);

/* Find or create the override for host `name` (`len` bytes, copied).
 * 0: *ret_o points into pol (valid until the next call). -ENOMEM. -E2BIG: name too long. */
MUST_CHECK int policy_override_get(struct policy *pol, const char *name, size_t len,
                                   struct host_override **ret_o);

/* Sort the overrides so policy_override_find() can be used. Call after the last
 * policy_override_get(). Never fails. */
void policy_finish(struct policy *pol);

/* The override for host `name`, or NULL. Borrowed. Needs policy_finish(). */
const struct host_override *policy_override_find(const struct policy *pol, const char *name);

/* Effective settings for one host: its capacity coefficient (override, else the snapshot's)
 * and its host threshold per kind (the host's own per-kind value, then its own general one,
 * then [detect]'s per-kind value). */
struct host_params {
    double capacity;
    double host_threshold[KIND_COUNT];
    double mem_reserve_mib;
};

/* Resolve `h`'s parameters under `pol` into *ret. Never fails. */
void policy_host_params(const struct policy *pol, const struct host *h, struct host_params *ret);

#endif
