/* The keys of the policy file: one table gives each key's section, type, range and field in
 * struct policy (or struct host_override, struct placement_rule), and drives both reading a
 * value (policy_ini_key_apply()) and writing it back (config_format()). Most keys are a
 * struct setting; the few that are not (per-kind thresholds, lists, weights, K/N) say so in
 * `special`. Internal to policy_ini*.c: the INI syntax, sections and error positions are
 * policy_ini.c's. */
#ifndef VMLOC_PROTO_POLICY_INI_KEYS_H
#define VMLOC_PROTO_POLICY_INI_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compiler.h"
#include "core/model.h" /* enum kind */
#include "proto/setting.h"

struct policy;

/* The policy's sections; what a key's target struct is. */
enum policy_ini_section {
    POLICY_INI_DETECT = 0, /* struct policy */
    POLICY_INI_RELOCATE,   /* struct policy */
    POLICY_INI_HOST,       /* [host "NAME"]: struct host_override */
    POLICY_INI_RULE,       /* [rule "NAME"]: struct placement_rule */
};

enum policy_ini_special {
    POLICY_INI_PLAIN = 0,    /* `set` says it all */
    POLICY_INI_THRESHOLD,    /* NAME or NAME.KIND, percent: the host thresholds */
    POLICY_INI_VM_THRESHOLD, /* likewise, the VM thresholds */
    POLICY_INI_KINDS,        /* a list of kinds */
    POLICY_INI_NAMES,        /* a list of names; each line of the key adds to it */
    POLICY_INI_WEIGHTS,      /* KIND:W pairs and priority:W */
    POLICY_INI_PERSIST,      /* K/N into the field and the one at `aux` */
};

struct policy_ini_key {
    enum policy_ini_section section;
    const char *name;
    enum policy_ini_special special;
    struct setting set; /* the field, and for PLAIN its type and range; `why` when refused */
    size_t aux;         /* KINDS, NAMES: offset of the number of items; PERSIST: of N */
    const char *help;
};

/* What the keys read so far leave for the end: the general [detect] thresholds, which apply
 * to every kind that has no value of its own, wherever in the section that is given. */
struct policy_ini_keys_state {
    unsigned host_thr_explicit; /* KIND_BIT()s given as host_threshold.KIND */
    unsigned vm_thr_explicit;
    bool has_host_thr_all;
    bool has_vm_thr_all;
    double host_thr_all;
    double vm_thr_all;
};

/* The key table, in the order config_format() writes the keys; *ret_n entries. */
const struct policy_ini_key *policy_ini_keys(size_t *ret_n);

/* The key `name` (`len` bytes, without any ".KIND") of `section`, or NULL. */
const struct policy_ini_key *policy_ini_key_find(enum policy_ini_section section, const char *name,
                                                 size_t len);

/* Apply `v` to key `k` of the struct at `target` (the section's: see enum
 * policy_ini_section); `has_kind`: it was given as NAME.KIND, for `kind`. 0; -EINVAL with
 * `why` (`len` bytes) saying what is wrong; -ENOMEM. */
MUST_CHECK int policy_ini_key_apply(struct policy_ini_keys_state *st,
                                    const struct policy_ini_key *k, void *target, bool has_kind,
                                    enum kind kind, const char *v, char *why, size_t len);

/* Apply the general thresholds of `st` to `pol`'s kinds that have no value of their own. */
void policy_ini_keys_finish(const struct policy_ini_keys_state *st, struct policy *pol);

#endif
