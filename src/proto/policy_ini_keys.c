/* The policy file's key table and the reading of each value (policy_ini_keys.h).
 *
 * A plain key is a struct setting: its type, range and field are in the table, and reading
 * it is setting_parse(). The special ones are read here: the thresholds (NAME or NAME.KIND,
 * and in [detect] a general value that applies at the end to the kinds without their own),
 * lists of kinds and of names, weights, and persistence K/N. */
#include "proto/policy_ini_keys.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "proto/policy_ini.h"
#include "proto/wire.h"

static const char *const combine_names[] = {"any", "all", NULL};
static const char *const vm_mode_names[] = {"fixed", "share", NULL};
static const char *const vm_select_names[] = {"usage", "priority", "weighted", "wait", NULL};
static const char *const contention_names[] = {"off", "confirm", NULL};
static const char *const dest_select_names[] = {"free", "least-used", "weighted", NULL};
static const char *const kind_names[] = {"cpu", "mem_bw", "disk", "net", NULL};
static const char *const automation_names[] = {"automatic", "manual", "dry-run", NULL};
static const char *const rule_type_names[] = {"together", "apart", "on", "not-on", NULL};
static const char *const strength_names[] = {"must", "should", NULL};
static const int strength_values[] = {true, false}; /* into placement_rule.must */

#define PCT_WHY "must be between 0 and 100"
#define YEAR_S (86400.0 * 365.0)
#define P(member) SETTING_FIELD(struct policy, member)
#define H(member) SETTING_FIELD(struct host_override, member)
#define R(member) SETTING_FIELD(struct placement_rule, member)

/* A row: {KEY(SECTION, name, setting, help)}, the setting one of the macros below. A special
 * key (enum policy_ini_special) adds `.special`, and for lists and K/N `.aux`. */
#define KEY(sec, name_, set_, help_)                                                               \
    .section = POLICY_INI_##sec, .name = name_, .set = {set_}, .help = help_
#define PCT(field) SETTING_DOUBLE, field, .lo = 0, .hi = 100, .why = PCT_WHY
#define YES_NO(field) SETTING_BOOL, field
#define LIST(field) SETTING_STRING, field
#define COUNT(field)                                                                               \
    SETTING_INT, field, .lo = 0, .hi = 1e6,                                                        \
                        .why = "must be a whole number from 0 (no limit) to 1000000"
#define MIB(field) SETTING_DOUBLE, field, .lo = 0, .hi = 1e12, .why = "must be MiB from 0 to 1e12"

/* In the order config_format() writes them. */
static const struct policy_ini_key keys[] = {
    {KEY(DETECT, "resources", LIST(P(resources)), "kinds checked: any of cpu, mem_bw, disk, net"),
     .special = POLICY_INI_KINDS, .aux = offsetof(struct policy, n_resources)},
    {KEY(DETECT, "combine", SETTING_CHOICE(P(combine), combine_names, NULL), "any | all")},
    {KEY(DETECT, "host_threshold", PCT(P(host_threshold)),
         "percent; per kind: host_threshold.KIND"),
     .special = POLICY_INI_THRESHOLD},
    {KEY(DETECT, "vm_threshold", SETTING_CHOICE(P(vm_threshold), vm_mode_names, NULL),
         "fixed | share")},
    {KEY(DETECT, "vm_threshold_value", PCT(P(vm_threshold_value)),
         "percent, for fixed; per kind: vm_threshold_value.KIND"),
     .special = POLICY_INI_VM_THRESHOLD},
    {KEY(DETECT, "vm_threshold_k", PCT(P(vm_threshold_k)), "for share: threshold = Up / N - k")},
    {KEY(DETECT, "min_vms",
         SETTING_WHOLE(P(min_vms), 1, 1e6, "must be an integer from 1 to 1000000"),
         "how many VMs must be high at once")},
    {KEY(DETECT, "contention", SETTING_CHOICE(P(contention), contention_names, NULL),
         "off | confirm: a conflict counts only when CPU wait or pressure confirms it")},
    {KEY(DETECT, "contention_wait", PCT(P(contention_wait_pct)),
         "percent of wall time a heavy VM's vCPUs wait, for confirm")},
    {KEY(DETECT, "contention_pressure", PCT(P(contention_pressure_pct)),
         "percent: the host's cpu pressure (some, avg10), for confirm")},
    {KEY(RELOCATE, "vm_select", SETTING_CHOICE(P(vm_select), vm_select_names, NULL),
         "usage | priority | weighted | wait")},
    {KEY(RELOCATE, "vm_select_resource", SETTING_CHOICE(P(vm_select_resource), kind_names, NULL),
         "the kind for vm_select = usage")},
    {KEY(RELOCATE, "dest_headroom", YES_NO(P(dest_headroom)),
         "yes: the destination stays below its threshold")},
    {KEY(RELOCATE, "dest_select", SETTING_CHOICE(P(dest_select), dest_select_names, NULL),
         "free | least-used | weighted")},
    {KEY(RELOCATE, "dest_select_resource",
         SETTING_CHOICE(P(dest_select_resource), kind_names, NULL), "the kind for dest_select")},
    {KEY(RELOCATE, "prefer_busy_hosts", YES_NO(P(prefer_busy_hosts)),
         "yes: empty hosts only as a last resort")},
    {KEY(RELOCATE, "persistence",
         SETTING_WHOLE(P(persist_k), 1, POLICY_MAX_PERSIST_N,
                       "must be K/N with whole numbers 1 <= K <= N <= 31, e.g. 2/3"),
         "K/N: act on a conflict seen in K of the host's last N samples"),
     .special = POLICY_INI_PERSIST, .aux = offsetof(struct policy, persist_n)},
    {KEY(RELOCATE, "cooldown",
         SETTING_NUMBER(P(cooldown_s), 0, YEAR_S, "must be seconds from 0 (none) to a year"),
         "seconds a VM stays put after it arrived")},
    {KEY(RELOCATE, "max_moves_per_vm",
         SETTING_WHOLE(P(max_moves_per_vm), 1, MODEL_MAX_VM_MOVES,
                       "must be a whole number from 1 to 16"),
         "storm guard: moves of one VM within storm_window (1..16)")},
    {KEY(RELOCATE, "storm_window",
         SETTING_NUMBER(P(storm_window_s), 1, YEAR_S,
                        "must be seconds from 1 to a year (the guard is never off)"),
         "storm guard: the window, in seconds")},
    {KEY(RELOCATE, "max_migrations", COUNT(P(max_migrations)),
         "migrations at once in the cluster (0: any)")},
    {KEY(RELOCATE, "max_per_host", COUNT(P(max_per_host)),
         "moves into or out of one host in a decision (0: any)")},
    {KEY(RELOCATE, "mem_reserve_mib", MIB(P(mem_reserve_mib)),
         "MiB a destination keeps free after a move")},
    {KEY(RELOCATE, "automation", SETTING_CHOICE(P(automation), automation_names, NULL),
         "automatic | manual | dry-run")},
    {KEY(RELOCATE, "consolidate_below", PCT(P(consolidate_below)),
         "power saving: empty a host used below this cpu percent (0: off)")},
    {KEY(RELOCATE, "consolidate_target", PCT(P(consolidate_target)),
         "power saving: onto hosts that stay below this cpu percent")},
    {KEY(RELOCATE, "exclude_hosts", LIST(P(exclude_hosts)), "hosts never chosen as a destination"),
     .special = POLICY_INI_NAMES, .aux = offsetof(struct policy, n_exclude_hosts)},
    {KEY(RELOCATE, "weights", SETTING_NUMBER(P(weights), 0, 1e9, NULL),
         "kind:weight pairs, plus priority:W"),
     .special = POLICY_INI_WEIGHTS},
    {.section = POLICY_INI_RULE,
     .name = "type",
     .set = {SETTING_CHOICE(R(kind), rule_type_names, NULL),
             SETTING_FLAG(struct placement_rule, has_kind)},
     .help = "together | apart | on | not-on"},
    {.section = POLICY_INI_RULE,
     .name = "strength",
     .set = {SETTING_CHOICE(R(must), strength_names, NULL), .values = strength_values},
     .help = "must (never broken) | should (preferred)"},
    {KEY(RULE, "vms", LIST(R(vms)), "the VMs the rule is about"), .special = POLICY_INI_NAMES,
     .aux = offsetof(struct placement_rule, n_vms)},
    {KEY(RULE, "hosts", LIST(R(hosts)), "for on and not-on: the hosts"),
     .special = POLICY_INI_NAMES, .aux = offsetof(struct placement_rule, n_hosts)},
    {.section = POLICY_INI_HOST,
     .name = "capacity",
     .set = {SETTING_NUMBER(H(capacity), 0, 1e6, "must be greater than 0 (at most 1e6)"),
             .lo_open = true, SETTING_FLAG(struct host_override, has_capacity)},
     .help = "relative capacity coefficient (> 0)"},
    {.section = POLICY_INI_HOST,
     .name = "mem_reserve_mib",
     .set = {MIB(H(mem_reserve_mib)), SETTING_FLAG(struct host_override, has_mem_reserve)},
     .help = "MiB this host keeps free after a move"},
    {KEY(HOST, "host_threshold", PCT(H(host_threshold)), "percent; per kind: host_threshold.KIND"),
     .special = POLICY_INI_THRESHOLD},
};

const struct policy_ini_key *
policy_ini_keys(size_t *ret_n)
{
    *ret_n = ARRAY_SIZE(keys);
    return keys;
}

const struct policy_ini_key *
policy_ini_key_find(enum policy_ini_section section, const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (keys[i].section == section && strlen(keys[i].name) == len &&
            memcmp(keys[i].name, name, len) == 0)
            return &keys[i];
    }
    return NULL;
}

/* --- lists ------------------------------------------------------------------------------ */

/* Split `v` on commas, then each part on white space; call `fn` for each item. An empty
 * part ("cpu,,disk", "cpu,") is an error: -EBADMSG. No item at all: -ENOENT. */
static int
for_each_item(const char *v, int (*fn)(void *ctx, const char *item, size_t len), void *ctx)
{
    const char *p = v;
    size_t items = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);
        size_t in_part = 0;
        const char *q = p;
        while (q < end) {
            while (q < end && (*q == ' ' || *q == '\t'))
                q++;
            if (q == end)
                break;
            const char *start = q;
            while (q < end && *q != ' ' && *q != '\t')
                q++;
            int r = fn(ctx, start, (size_t)(q - start));
            if (r < 0)
                return r;
            in_part++;
        }
        if (in_part == 0 && (comma != NULL || items > 0))
            return -EBADMSG;
        items += in_part;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return items == 0 ? -ENOENT : 0;
}

/* for_each_item() with its errors said in `why`: "must list at least one `what`". */
static int
read_items(const char *v, int (*fn)(void *ctx, const char *item, size_t len), void *ctx,
           const char *item_why, const char *what, char *why, size_t len)
{
    int r = for_each_item(v, fn, ctx);
    if (r == -ENOENT)
        (void)snprintf(why, len, "must list at least one %s", what);
    else if (r == -EBADMSG)
        (void)snprintf(why, len, "empty item in the list");
    else if (r < 0)
        (void)snprintf(why, len, "%s", item_why);
    return r < 0 ? -EINVAL : 0;
}

struct kinds_ctx {
    enum kind *out;
    size_t n;
    unsigned mask;
    char bad[48];
};

static int
kinds_item(void *ctx, const char *item, size_t len)
{
    struct kinds_ctx *c = ctx;
    enum kind k;
    if (kind_parse(item, len, &k) < 0) {
        (void)snprintf(c->bad, sizeof(c->bad), "unknown kind \"%.*s\"", (int)(len > 20 ? 20 : len),
                       item);
        return -EINVAL;
    }
    if (c->mask & KIND_BIT(k)) {
        (void)snprintf(c->bad, sizeof(c->bad), "kind \"%s\" listed twice", kind_name(k));
        return -EINVAL;
    }
    c->mask |= KIND_BIT(k);
    c->out[c->n++] = k;
    return 0;
}

struct weights_ctx {
    double w[KIND_COUNT];
    double prio;
    unsigned seen; /* KIND_BIT, and bit 4 for priority */
    char bad[64];
};

static int
weights_item(void *ctx, const char *item, size_t len)
{
    static const struct setting weight = {SETTING_DOUBLE, .size = sizeof(double), .lo = 0,
                                          .hi = 1e9};
    struct weights_ctx *c = ctx;
    const char *colon = memchr(item, ':', len);
    if (colon == NULL) {
        (void)snprintf(c->bad, sizeof(c->bad), "expected KIND:WEIGHT, got \"%.*s\"",
                       (int)(len > 20 ? 20 : len), item);
        return -EINVAL;
    }
    size_t klen = (size_t)(colon - item);
    char num[40];
    size_t nlen = len - klen - 1;
    if (nlen == 0 || nlen >= sizeof(num)) {
        (void)snprintf(c->bad, sizeof(c->bad), "bad weight for \"%.*s\"", (int)klen, item);
        return -EINVAL;
    }
    memcpy(num, colon + 1, nlen);
    num[nlen] = '\0';
    double w;
    char why[SETTING_WHY_MAX];
    if (setting_parse(&weight, &w, num, why, sizeof(why)) < 0) {
        (void)snprintf(c->bad, sizeof(c->bad), "weight of \"%.*s\" must be a number from 0 to 1e9",
                       (int)(klen > 20 ? 20 : klen), item);
        return -EINVAL;
    }
    unsigned bit;
    enum kind k = KIND_CPU;
    if (klen == 8 && memcmp(item, "priority", 8) == 0) {
        bit = 0x10u;
    } else if (kind_parse(item, klen, &k) == 0) {
        bit = KIND_BIT(k);
    } else {
        (void)snprintf(c->bad, sizeof(c->bad), "unknown weight \"%.*s\" (kinds or priority)",
                       (int)(klen > 20 ? 20 : klen), item);
        return -EINVAL;
    }
    if (c->seen & bit) {
        (void)snprintf(c->bad, sizeof(c->bad), "\"%.*s\" given twice", (int)klen, item);
        return -EINVAL;
    }
    c->seen |= bit;
    if (bit == 0x10u)
        c->prio = w;
    else
        c->w[k] = w;
    return 0;
}

/* One name of a list, `a` to `b` (trimmed): checked and appended to `list` unless it is there.
 * 0, -EINVAL with *why, or -ENOMEM. */
static int
add_name(const char *a, const char *b, char ***list, size_t *n, const char **why)
{
    size_t len = (size_t)(b - a);
    if (len == 0) {
        *why = "empty name in the list";
        return -EINVAL;
    }
    /* Every name is checked the same way (wire_name_fault()), here said as a config error. */
    uint32_t cp = 0;
    switch (wire_name_fault(a, len, &cp)) {
    case NAME_OK:
        break;
    case NAME_EMPTY:
        *why = "empty name in the list";
        return -EINVAL;
    case NAME_TOO_LONG:
        *why = "a name is longer than 255 bytes";
        return -EINVAL;
    case NAME_CONTROL:
        *why = "a name has a control character";
        return -EINVAL;
    case NAME_NOT_UTF8:
        *why = "a name is not valid UTF-8";
        return -EINVAL;
    case NAME_HIDDEN:
        *why = "a name has a bidirectional or invisible formatting character (U+00AD, "
               "U+061C, U+200B-U+200F, U+2028-U+202E, U+2060-U+206F, U+FEFF ...)";
        return -EINVAL;
    }
    /* After a space (as config_format() writes lists) ';' or '#' would start a comment: such
     * a name could not be read back. */
    if (*a == ';' || *a == '#') {
        *why = "a name may not start with ';' or '#' (a comment)";
        return -EINVAL;
    }
    for (size_t i = 0; i < *n; i++) {
        if (strlen((*list)[i]) == len && memcmp((*list)[i], a, len) == 0) {
            *why = "a name is listed twice";
            return -EINVAL;
        }
    }
    int r = policy_names_add(list, n, a, len);
    if (r == -E2BIG)
        *why = "a name is longer than 255 bytes";
    else if (r < 0)
        *why = "out of memory";
    return r == -E2BIG ? -EINVAL : r;
}

/* A comma-separated list of names (each trimmed; inner spaces kept) appended to `list`.
 * 0, -EINVAL with *why, or -ENOMEM. */
static int
parse_names(const char *v, char ***list, size_t *n, const char **why)
{
    const char *p = v;
    size_t before = *n;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *a = p;
        const char *b = comma != NULL ? comma : p + strlen(p);
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        int r = add_name(a, b, list, n, why);
        if (r < 0)
            return r;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (*n - before > 100000) {
        *why = "at most 100000 names";
        return -EINVAL;
    }
    return 0;
}

int
config_parse_persistence(const char *v, uint32_t *ret_k, uint32_t *ret_n)
{
    char *end = NULL;
    errno = 0;
    long k = strtol(v, &end, 10);
    if (end == v || *end != '/' || errno != 0)
        return -EINVAL;
    const char *nv = end + 1;
    long n = strtol(nv, &end, 10);
    if (end == nv || *end != '\0' || errno != 0)
        return -EINVAL;
    if (k < 1 || n < k || n > (long)POLICY_MAX_PERSIST_N || !isdigit((unsigned char)v[0]) ||
        !isdigit((unsigned char)nv[0]))
        return -EINVAL;
    *ret_k = (uint32_t)k;
    *ret_n = (uint32_t)n;
    return 0;
}

/* --- applying a value ------------------------------------------------------------------- */

/* A threshold of [detect] (into the policy, or the general value kept in `st`) or of a
 * [host "NAME"] section (into its override). */
static void
apply_threshold(struct policy_ini_keys_state *st, const struct policy_ini_key *k, void *target,
                bool has_kind, enum kind kind, double d)
{
    if (k->section == POLICY_INI_HOST) {
        struct host_override *o = target;
        if (has_kind) {
            o->host_threshold[kind] = d;
            o->has_threshold = (uint8_t)(o->has_threshold | KIND_BIT(kind));
        } else {
            o->host_threshold_all = d;
            o->has_threshold_all = true;
        }
        return;
    }
    bool vm = k->special == POLICY_INI_VM_THRESHOLD;
    if (has_kind) {
        double *per_kind = (double *)((char *)target + k->set.offset);
        per_kind[kind] = d;
        *(vm ? &st->vm_thr_explicit : &st->host_thr_explicit) |= KIND_BIT(kind);
    } else if (vm) {
        st->has_vm_thr_all = true;
        st->vm_thr_all = d;
    } else {
        st->has_host_thr_all = true;
        st->host_thr_all = d;
    }
}

/* The value of a key that goes somewhere else than its table field: parsed as its setting
 * says, into a double. "must be a finite number" for what is no number at all. */
static int
parse_number(const struct policy_ini_key *k, const char *v, double *ret, char *why, size_t len)
{
    struct setting s = k->set;
    s.offset = 0;
    s.size = sizeof(double);
    s.flag = 0;
    int r = setting_parse(&s, ret, v, why, len);
    if (r == -EINVAL)
        (void)snprintf(why, len, "must be a finite number");
    return r < 0 ? -EINVAL : 0;
}

static int
apply_special(struct policy_ini_keys_state *st, const struct policy_ini_key *k, char *target,
              bool has_kind, enum kind kind, const char *v, char *why, size_t len)
{
    double d = 0.0;
    const char *what = NULL;
    int r = 0;
    switch (k->special) {
    case POLICY_INI_PLAIN:
        break;
    case POLICY_INI_THRESHOLD:
    case POLICY_INI_VM_THRESHOLD:
        r = parse_number(k, v, &d, why, len);
        if (r == 0)
            apply_threshold(st, k, target, has_kind, kind, d);
        return r;
    case POLICY_INI_KINDS: {
        struct kinds_ctx c = {.out = (enum kind *)(target + k->set.offset)};
        r = read_items(v, kinds_item, &c, c.bad, "kind", why, len);
        if (r == 0)
            *(size_t *)(target + k->aux) = c.n;
        return r;
    }
    case POLICY_INI_NAMES:
        r = parse_names(v, (char ***)(target + k->set.offset), (size_t *)(target + k->aux), &what);
        if (r < 0)
            (void)snprintf(why, len, "%s", what);
        return r;
    case POLICY_INI_WEIGHTS: {
        struct weights_ctx c;
        memset(&c, 0, sizeof(c));
        r = read_items(v, weights_item, &c, c.bad, "KIND:WEIGHT", why, len);
        if (r == 0) {
            struct policy *pol = (struct policy *)target;
            memcpy(pol->weights, c.w, sizeof(pol->weights));
            pol->weight_priority = c.prio;
        }
        return r;
    }
    case POLICY_INI_PERSIST:
        r = config_parse_persistence(v, (uint32_t *)(target + k->set.offset),
                                     (uint32_t *)(target + k->aux));
        if (r < 0)
            (void)snprintf(why, len, "%s", k->set.why);
        return r;
    }
    return 0;
}

int
policy_ini_key_apply(struct policy_ini_keys_state *st, const struct policy_ini_key *k, void *target,
                     bool has_kind, enum kind kind, const char *v, char *why, size_t len)
{
    if (k->special != POLICY_INI_PLAIN)
        return apply_special(st, k, target, has_kind, kind, v, why, len);
    int r = setting_parse(&k->set, target, v, why, len);
    if (r == -EINVAL && k->set.type == SETTING_DOUBLE)
        (void)snprintf(why, len, "must be a finite number");
    return r < 0 ? -EINVAL : 0;
}

void
policy_ini_keys_finish(const struct policy_ini_keys_state *st, struct policy *pol)
{
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (st->has_host_thr_all && !(st->host_thr_explicit & KIND_BIT(k)))
            pol->host_threshold[k] = st->host_thr_all;
        if (st->has_vm_thr_all && !(st->vm_thr_explicit & KIND_BIT(k)))
            pol->vm_threshold_value[k] = st->vm_thr_all;
    }
}
