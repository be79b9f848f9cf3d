/* What a decider (the manager, or a peer agent) records of the conflicts it acts on: each
 * conflict episode once, with its outcome, in its store and its log; and the VMs the storm
 * guard holds, logged once per VM and window.
 *
 * A conflict is named by its key: the kinds in conflict and the conflicting VMs, in the
 * order the core gives them. An episode lasts while its host stays in conflict; it is recorded
 * when it appears, when its key changes, and when its outcome changes, except that "waiting"
 * (for a migration that runs) is never a new outcome of an episode already recorded. */
#ifndef VMLOC_VIEW_CONFLICTLOG_H
#define VMLOC_VIEW_CONFLICTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/once.h"
#include "core/model.h"
#include "core/policy.h"
#include "store/store.h"

/* A conflict's key (caller frees): the kinds (KIND_BIT mask) then each VM's name, separated by
 * '\n' (names hold no control characters). NULL on OOM. */
char *conflict_key(uint8_t kinds, const char *const *vms, size_t n);

/* "resources=cpu,disk vms=a,b" for a log line (caller frees), or NULL on OOM. */
char *conflict_key_text(const char *key);

struct episode {
    bool open;     /* the host is in the conflict last recorded */
    char *key;     /* owned */
    char *outcome; /* owned */
};

/* Is conflict `key` with `outcome` to be recorded now (a new episode, or a new outcome of the
 * open one)? true: it is, and `e` now holds it; false: already recorded (or out of memory:
 * then it is recorded at the next call). */
bool episode_note(struct episode *e, const char *key, const char *outcome);

/* The host is no longer in conflict: the next one is a new episode. */
void episode_close(struct episode *e);

/* Free what `e` holds (and close it). */
void episode_done(struct episode *e);

/* Record conflict `key` of host `host` with `outcome` in `st` at wall time `when` (resources
 * and VMs as JSON arrays); with `log`, an info line too. A failure is logged, not returned:
 * the store is the decider's memory, not its condition to act. */
void conflict_record(struct store *st, double when, const char *host, const char *key,
                     const char *outcome, bool log);

/* The outcome recorded for a usage conflict that [detect] contention = confirm did not
 * confirm. */
#define CONFLICT_UNCONFIRMED "not confirmed: not acted on"

/* Usage conflict `key` of host `host`, which contention = confirm did not confirm (`why`, as
 * plan_confirm_describe() puts it), seen at wall time `when`: recorded in `st` with the outcome
 * CONFLICT_UNCONFIRMED and logged with why, once per episode of `e` (the figures move from
 * one sample to the next; the outcome does not, so the episode is recorded once). true: it
 * was recorded now. */
bool conflict_note_unconfirmed(struct episode *e, struct store *st, double when, const char *host,
                               const char *key, const char *why);

/* The storm guard holds VM `vm` of `cl` until `until` (pol's window): logged once per VM and
 * window (`once` remembers), with `extra` at the end of the line. true when it was logged now
 * (count it). */
bool storm_note(struct once *once, const struct policy *pol, const struct cluster *cl, uint32_t vm,
                double until, const char *extra);

#endif
