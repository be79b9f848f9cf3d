/* The policy config parser: inih splits lines, this file validates every key.
 *
 * One table describes every key (section, name, type, range, help) and drives parsing,
 * validation and config_format(). A pre-scan checks what inih does not report to its
 * handler: over-long lines and section headers (an unknown section with no key in it is
 * still an error). inih reads through our own line reader so the handler knows the line
 * number of every key without inih's compile-time option. */
#include "proto/policy_ini.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"

enum section_kind {
    SEC_NONE,
    SEC_DETECT,
    SEC_RELOCATE,
    SEC_HOST,
    SEC_RULE,
    SEC_EXT, /* a section of the caller's (struct config_ext) */
};

struct parser {
    struct policy *pol;
    const struct config_ext *ext;
    const char *source;
    const char *text; /* what the reader has not handed out yet */
    size_t line;      /* number of the line last handed to inih */
    struct perr *err;
    size_t err_line;
    int err_code;
    /* keys seen so far, "section\nkey", for refusing repeats */
    char **seen;
    size_t n_seen;
    size_t cap_seen;
    /* [detect] general values, applied to the kinds without their own value at the end */
    unsigned host_thr_explicit;
    unsigned vm_thr_explicit;
    bool has_host_thr_all;
    bool has_vm_thr_all;
    double host_thr_all;
    double vm_thr_all;
};

static int
failf(struct parser *p, int code, const char *section, const char *key, const char *what)
{
    if (p->err_code != 0)
        return 0;
    p->err_line = p->line;
    p->err_code = code;
    if (key != NULL)
        perr_set(p->err, "%s:%zu: [%s] %s: %s", p->source, p->line, section, key, what);
    else
        perr_set(p->err, "%s:%zu: %s", p->source, p->line, what);
    return 0;
}

/* --- value parsers: 0 or -EINVAL with *ret_why set ---------------------------------------- */

static int
parse_double(const char *v, double lo, double hi, bool lo_open, double *ret, const char **why)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (*v == '\0' || end == v || *end != '\0' || errno == ERANGE || !isfinite(d)) {
        *why = "must be a finite number";
        return -EINVAL;
    }
    if ((lo_open ? !(d > lo) : !(d >= lo)) || !(d <= hi)) {
        *why = NULL;
        return -ERANGE;
    }
    *ret = d;
    return 0;
}

static int
parse_bool(const char *v, bool *ret)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

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
    const char *why = NULL;
    if (parse_double(num, 0.0, 1e9, false, &w, &why) < 0) {
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

/* --- the key table ---------------------------------------------------------------------- */

enum key_type {
    KT_THRESHOLD, /* percent 0..100, optionally per kind (key.KIND) */
    KT_VM_THRESHOLD,
    KT_NONNEG,  /* vm_threshold_k */
    KT_MIN_VMS, /* integer >= 1 */
    KT_KINDS,   /* resources */
    KT_KIND,    /* vm_select_resource, dest_select_resource */
    KT_COMBINE,
    KT_VM_MODE,
    KT_VM_SELECT,
    KT_DEST_SELECT,
    KT_BOOL,
    KT_WEIGHTS,
    KT_CAPACITY,
    KT_PERSIST, /* persistence = K/N */
    KT_SECONDS, /* cooldown */
    KT_MOVES,   /* max_moves_per_vm */
    KT_WINDOW,  /* storm_window */
    KT_COUNT,   /* max_migrations, max_per_host */
    KT_MIB,     /* mem_reserve_mib */
    KT_NAMES,   /* vms, hosts, exclude_hosts: comma-separated names */
    KT_RULE_TYPE,
    KT_STRENGTH,
    KT_AUTOMATION,
    KT_PERCENT, /* consolidate_below, consolidate_target */
};

struct key_def {
    enum section_kind section;
    const char *name;
    enum key_type type;
    bool per_kind; /* also accepts NAME.KIND */
    const char *help;
};

static const struct key_def keys[] = {
    {SEC_DETECT, "resources", KT_KINDS, false, "kinds checked: any of cpu, mem_bw, disk, net"},
    {SEC_DETECT, "combine", KT_COMBINE, false, "any | all"},
    {SEC_DETECT, "host_threshold", KT_THRESHOLD, true, "percent; per kind: host_threshold.KIND"},
    {SEC_DETECT, "vm_threshold", KT_VM_MODE, false, "fixed | share"},
    {SEC_DETECT, "vm_threshold_value", KT_VM_THRESHOLD, true, "percent, for fixed"},
    {SEC_DETECT, "vm_threshold_k", KT_NONNEG, false, "for share: threshold = Up / N - k"},
    {SEC_DETECT, "min_vms", KT_MIN_VMS, false, "how many VMs must be high at once"},
    {SEC_RELOCATE, "vm_select", KT_VM_SELECT, false, "usage | priority | weighted"},
    {SEC_RELOCATE, "vm_select_resource", KT_KIND, false, "the kind for vm_select = usage"},
    {SEC_RELOCATE, "dest_select", KT_DEST_SELECT, false, "free | least-used | weighted"},
    {SEC_RELOCATE, "dest_select_resource", KT_KIND, false, "the kind for dest_select"},
    {SEC_RELOCATE, "prefer_busy_hosts", KT_BOOL, false, "yes: empty hosts only as a last resort"},
    {SEC_RELOCATE, "dest_headroom", KT_BOOL, false,
     "yes: the destination stays below its threshold"},
    {SEC_RELOCATE, "weights", KT_WEIGHTS, false, "kind:weight pairs, plus priority:W"},
    {SEC_RELOCATE, "persistence", KT_PERSIST, false,
     "K/N: act on a conflict seen in K of the host's last N samples"},
    {SEC_RELOCATE, "cooldown", KT_SECONDS, false, "seconds a VM stays put after it arrived"},
    {SEC_RELOCATE, "max_moves_per_vm", KT_MOVES, false,
     "storm guard: moves of one VM within storm_window (1..16)"},
    {SEC_RELOCATE, "storm_window", KT_WINDOW, false, "storm guard: the window, in seconds"},
    {SEC_RELOCATE, "max_migrations", KT_COUNT, false, "migrations at once in the cluster (0: any)"},
    {SEC_RELOCATE, "max_per_host", KT_COUNT, false,
     "moves into or out of one host in a decision (0: any)"},
    {SEC_RELOCATE, "mem_reserve_mib", KT_MIB, false, "MiB a destination keeps free after a move"},
    {SEC_RELOCATE, "exclude_hosts", KT_NAMES, false, "hosts never chosen as a destination"},
    {SEC_RELOCATE, "automation", KT_AUTOMATION, false, "automatic | manual | dry-run"},
    {SEC_RELOCATE, "consolidate_below", KT_PERCENT, false,
     "power saving: empty a host used below this cpu percent (0: off)"},
    {SEC_RELOCATE, "consolidate_target", KT_PERCENT, false,
     "power saving: onto hosts that stay below this cpu percent"},
    {SEC_RULE, "type", KT_RULE_TYPE, false, "together | apart | on | not-on"},
    {SEC_RULE, "vms", KT_NAMES, false, "the VMs the rule is about"},
    {SEC_RULE, "hosts", KT_NAMES, false, "for on and not-on: the hosts"},
    {SEC_RULE, "strength", KT_STRENGTH, false, "must (never broken) | should (preferred)"},
    {SEC_HOST, "capacity", KT_CAPACITY, false, "relative capacity coefficient (> 0)"},
    {SEC_HOST, "mem_reserve_mib", KT_MIB, false, "MiB this host keeps free after a move"},
    {SEC_HOST, "host_threshold", KT_THRESHOLD, true, "percent; per kind: host_threshold.KIND"},
};

static const char *
section_label(enum section_kind s)
{
    switch (s) {
    case SEC_DETECT:
        return "detect";
    case SEC_RELOCATE:
        return "relocate";
    case SEC_HOST:
        return "host";
    case SEC_RULE:
        return "rule";
    case SEC_EXT:
    case SEC_NONE:
        break;
    }
    return "";
}

/* Classify a section name as inih passes it ("detect", "host \"h1\""). For a host section
 * *ret_name and *ret_len give the host name. 0 or -EINVAL with *why. */
static int
classify_section(const struct config_ext *ext, const char *s, size_t len, enum section_kind *ret,
                 const char **ret_name, size_t *ret_len, const char **why)
{
    if (ext != NULL && ext->owns(s, len)) {
        *ret = SEC_EXT;
        return 0;
    }
    if (len == 6 && memcmp(s, "detect", 6) == 0) {
        *ret = SEC_DETECT;
        return 0;
    }
    if (len == 8 && memcmp(s, "relocate", 8) == 0) {
        *ret = SEC_RELOCATE;
        return 0;
    }
    static const struct {
        const char *word;
        enum section_kind kind;
        const char *form;
        const char *name_rule;
    } named[] = {
        {"host", SEC_HOST, "host section must be [host \"NAME\"]",
         "host name must be 1 to 255 characters without quotes"},
        {"rule", SEC_RULE, "rule section must be [rule \"NAME\"]",
         "rule name must be 1 to 255 characters without quotes"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(named); i++) {
        size_t wl = strlen(named[i].word);
        if (len < wl || memcmp(s, named[i].word, wl) != 0 ||
            (len != wl && s[wl] != ' ' && s[wl] != '\t'))
            continue;
        const char *p = s + wl;
        const char *end = s + len;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || *p != '"' || end[-1] != '"') {
            *why = named[i].form;
            return -EINVAL;
        }
        size_t nlen = (size_t)(end - p - 2);
        if (nlen == 0 || nlen > MODEL_MAX_NAME || memchr(p + 1, '"', nlen) != NULL) {
            *why = named[i].name_rule;
            return -EINVAL;
        }
        *ret = named[i].kind;
        *ret_name = p + 1;
        *ret_len = nlen;
        return 0;
    }
    *why = ext != NULL ? "unknown section (see the config's documentation for the sections)"
                       : "unknown section (expected [detect], [relocate], [host \"NAME\"] or "
                         "[rule \"NAME\"])";
    return -EINVAL;
}

/* Check the syntax of every line before inih runs, so the first error is reported with its
 * line whatever kind it is: length, section headers (an unknown section with no key in it
 * is still an error), "KEY = VALUE" lines (inih would also take "KEY: VALUE"), keys outside
 * any section, and indented lines that inih would glue to the previous value. */
/* Whitespace as inih sees it (isspace() in the C locale): a line that starts with any of it is
 * indented, and an indented line continues the previous value. */
static bool
ini_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

static int
prescan_line(struct parser *p, const char *a, const char *b, bool *in_section, bool *after_key)
{
    char what[160];
    bool indented = a < b && ini_space(*a);
    while (a < b && ini_space(*a))
        a++;
    if (a == b || *a == ';' || *a == '#')
        return 0;
    /* inih reads any indented line after a key as more of that key's value, even one that
     * looks like a section header or another key: refuse it before looking at what it says. */
    if (indented && *after_key) {
        const char *shown_end = b;
        while (shown_end > a && ini_space(shown_end[-1]))
            shown_end--;
        (void)snprintf(what, sizeof(what),
                       "indented line \"%.*s\" would continue the previous value; remove the "
                       "indentation",
                       (int)(shown_end - a > 60 ? 60 : shown_end - a), a);
        return failf(p, -EINVAL, NULL, NULL, what), -EINVAL;
    }
    if (*a == '[') {
        const char *close = memchr(a, ']', (size_t)(b - a));
        if (close == NULL)
            return failf(p, -EINVAL, NULL, NULL, "section header without ']'"), -EINVAL;
        const char *after = close + 1;
        while (after < b && ini_space(*after))
            after++;
        if (after < b && *after != ';' && *after != '#')
            return failf(p, -EINVAL, NULL, NULL, "text after section header"), -EINVAL;
        enum section_kind sk;
        const char *hn = NULL;
        size_t hl = 0;
        const char *why = NULL;
        size_t nlen = (size_t)(close - a - 1);
        if (classify_section(p->ext, a + 1, nlen, &sk, &hn, &hl, &why) < 0) {
            (void)snprintf(what, sizeof(what), "[%.*s]: %s", (int)(nlen > 80 ? 80 : nlen), a + 1,
                           why);
            return failf(p, -EINVAL, NULL, NULL, what), -EINVAL;
        }
        *in_section = true;
        *after_key = false;
        return 0;
    }
    const char *eq = memchr(a, '=', (size_t)(b - a));
    const char *colon = memchr(a, ':', (size_t)(b - a));
    const char *k_end = eq != NULL ? eq : b;
    while (k_end > a && ini_space(k_end[-1]))
        k_end--;
    int klen = (int)(k_end - a > 60 ? 60 : k_end - a);
    if (eq == NULL || (colon != NULL && colon < eq)) {
        (void)snprintf(what, sizeof(what), "expected KEY = VALUE, got \"%.*s\"",
                       (int)(b - a > 60 ? 60 : b - a), a);
        return failf(p, -EINVAL, NULL, NULL, what), -EINVAL;
    }
    if (!*in_section) {
        (void)snprintf(what, sizeof(what), "key \"%.*s\" outside of any section", klen, a);
        return failf(p, -EINVAL, NULL, NULL, what), -EINVAL;
    }
    *after_key = true;
    return 0;
}

static int
prescan(struct parser *p, const char *text)
{
    const char *s = text;
    size_t line = 0;
    bool in_section = false;
    bool after_key = false;
    while (*s != '\0') {
        line++;
        const char *nl = strchr(s, '\n');
        size_t len = nl != NULL ? (size_t)(nl - s) : strlen(s);
        size_t l = len;
        if (l > 0 && s[l - 1] == '\r')
            l--;
        p->line = line;
        if (l > POLICY_INI_MAX_LINE)
            return failf(p, -EINVAL, NULL, NULL, "line longer than 190 bytes"), -EINVAL;
        const char *a = s;
        if (line == 1 && l >= 3 && memcmp(a, "\xEF\xBB\xBF", 3) == 0)
            a += 3;
        if (prescan_line(p, a, s + l, &in_section, &after_key) < 0)
            return -EINVAL;
        if (nl == NULL)
            break;
        s = nl + 1;
    }
    return 0;
}

/* fgets-like reader over p->text that counts lines. */
static char *
reader(char *str, int num, void *stream)
{
    struct parser *p = stream;
    if (*p->text == '\0' || num <= 1)
        return NULL;
    size_t max = (size_t)num - 1;
    size_t i = 0;
    while (i < max && p->text[i] != '\0') {
        str[i] = p->text[i];
        i++;
        if (str[i - 1] == '\n')
            break;
    }
    str[i] = '\0';
    p->text += i;
    p->line++;
    return str;
}

static int
mark_seen(struct parser *p, const char *section, const char *key)
{
    size_t sl = strlen(section);
    size_t kl = strlen(key);
    for (size_t i = 0; i < p->n_seen; i++) {
        const char *e = p->seen[i];
        if (strncmp(e, section, sl) == 0 && e[sl] == '\n' && strcmp(e + sl + 1, key) == 0)
            return 1;
    }
    if (p->n_seen == p->cap_seen) {
        size_t ncap = p->cap_seen == 0 ? 16 : p->cap_seen * 2;
        char **n = realloc(p->seen, ncap * sizeof(*n));
        if (n == NULL)
            return -ENOMEM;
        p->seen = n;
        p->cap_seen = ncap;
    }
    char *e = malloc(sl + kl + 2);
    if (e == NULL)
        return -ENOMEM;
    memcpy(e, section, sl);
    e[sl] = '\n';
    memcpy(e + sl + 1, key, kl + 1);
    p->seen[p->n_seen++] = e;
    return 0;
}

static int
set_enum(struct parser *p, const char *sec, const char *key, const char *v,
         const char *const *names, size_t n, int *ret)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v, names[i]) == 0) {
            *ret = (int)i;
            return 1;
        }
    }
    char what[128];
    size_t off = (size_t)snprintf(what, sizeof(what), "must be one of");
    for (size_t i = 0; i < n && off < sizeof(what); i++)
        off += (size_t)snprintf(what + off, sizeof(what) - off, "%s %s", i ? "," : "", names[i]);
    return failf(p, -EINVAL, sec, key, what);
}

static int
apply_threshold(struct parser *p, enum section_kind sk, struct host_override *o, bool vm,
                bool has_kind, enum kind k, double d)
{
    if (sk == SEC_HOST) {
        if (has_kind) {
            o->host_threshold[k] = d;
            o->has_threshold = (uint8_t)(o->has_threshold | KIND_BIT(k));
        } else {
            o->host_threshold_all = d;
            o->has_threshold_all = true;
        }
        return 1;
    }
    if (has_kind) {
        (vm ? p->pol->vm_threshold_value : p->pol->host_threshold)[k] = d;
        if (vm)
            p->vm_thr_explicit |= KIND_BIT(k);
        else
            p->host_thr_explicit |= KIND_BIT(k);
    } else if (vm) {
        p->has_vm_thr_all = true;
        p->vm_thr_all = d;
    } else {
        p->has_host_thr_all = true;
        p->host_thr_all = d;
    }
    return 1;
}

static int parse_names(const char *v, char ***list, size_t *n, const char **why);

static int
apply_key(struct parser *p, enum section_kind sk, struct host_override *o, const char *sec,
          const char *key, const struct key_def *def, bool has_kind, enum kind kd, const char *v)
{
    struct policy *pol = p->pol;
    double d = 0.0;
    const char *why = NULL;
    int r;
    switch (def->type) {
    case KT_THRESHOLD:
    case KT_VM_THRESHOLD:
        r = parse_double(v, 0.0, 100.0, false, &d, &why);
        if (r < 0)
            return failf(p, -EINVAL, sec, key, why ? why : "must be between 0 and 100");
        return apply_threshold(p, sk, o, def->type == KT_VM_THRESHOLD, has_kind, kd, d);
    case KT_NONNEG:
        r = parse_double(v, 0.0, 100.0, false, &d, &why);
        if (r < 0)
            return failf(p, -EINVAL, sec, key, why ? why : "must be between 0 and 100");
        pol->vm_threshold_k = d;
        return 1;
    case KT_MIN_VMS: {
        char *end = NULL;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno != 0 || n < 1 || n > 1000000)
            return failf(p, -EINVAL, sec, key, "must be an integer from 1 to 1000000");
        pol->min_vms = (uint32_t)n;
        return 1;
    }
    case KT_CAPACITY:
        r = parse_double(v, 0.0, 1e6, true, &d, &why);
        if (r < 0)
            return failf(p, -EINVAL, sec, key, why ? why : "must be greater than 0 (at most 1e6)");
        o->capacity = d;
        o->has_capacity = true;
        return 1;
    case KT_KINDS: {
        struct kinds_ctx c = {.out = pol->resources};
        r = for_each_item(v, kinds_item, &c);
        if (r == -ENOENT)
            return failf(p, -EINVAL, sec, key, "must list at least one kind");
        if (r == -EBADMSG)
            return failf(p, -EINVAL, sec, key, "empty item in the list");
        if (r < 0)
            return failf(p, -EINVAL, sec, key, c.bad);
        pol->n_resources = c.n;
        return 1;
    }
    case KT_KIND: {
        enum kind k;
        if (kind_parse(v, strlen(v), &k) < 0)
            return failf(p, -EINVAL, sec, key, "must be one of cpu, mem_bw, disk, net");
        if (strcmp(def->name, "vm_select_resource") == 0)
            pol->vm_select_resource = k;
        else
            pol->dest_select_resource = k;
        return 1;
    }
    case KT_COMBINE: {
        static const char *const n[] = {"any", "all"};
        int i = 0;
        r = set_enum(p, sec, key, v, n, ARRAY_SIZE(n), &i);
        if (r)
            pol->combine = (enum combine)i;
        return r;
    }
    case KT_VM_MODE: {
        static const char *const n[] = {"fixed", "share"};
        int i = 0;
        r = set_enum(p, sec, key, v, n, ARRAY_SIZE(n), &i);
        if (r)
            pol->vm_threshold = (enum vm_threshold_mode)i;
        return r;
    }
    case KT_VM_SELECT: {
        static const char *const n[] = {"usage", "priority", "weighted"};
        int i = 0;
        r = set_enum(p, sec, key, v, n, ARRAY_SIZE(n), &i);
        if (r)
            pol->vm_select = (enum vm_select)i;
        return r;
    }
    case KT_DEST_SELECT: {
        static const char *const n[] = {"free", "least-used", "weighted"};
        int i = 0;
        r = set_enum(p, sec, key, v, n, ARRAY_SIZE(n), &i);
        if (r)
            pol->dest_select = (enum dest_select)i;
        return r;
    }
    case KT_BOOL: {
        bool b;
        if (parse_bool(v, &b) < 0)
            return failf(p, -EINVAL, sec, key, "must be yes or no");
        if (strcmp(def->name, "dest_headroom") == 0)
            pol->dest_headroom = b;
        else
            pol->prefer_busy_hosts = b;
        return 1;
    }
    case KT_PERSIST: {
        uint32_t k = 0;
        uint32_t n = 0;
        if (config_parse_persistence(v, &k, &n) < 0)
            return failf(p, -EINVAL, sec, key,
                         "must be K/N with whole numbers 1 <= K <= N <= 31, e.g. 2/3");
        pol->persist_k = k;
        pol->persist_n = n;
        return 1;
    }
    case KT_COUNT: {
        char *end = NULL;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || !isdigit((unsigned char)v[0]) || *end != '\0' || errno != 0 || n < 0 ||
            n > 1000000)
            return failf(p, -EINVAL, sec, key,
                         "must be a whole number from 0 (no limit) to 1000000");
        if (strcmp(def->name, "max_migrations") == 0)
            pol->max_migrations = (uint32_t)n;
        else
            pol->max_per_host = (uint32_t)n;
        return 1;
    }
    case KT_NAMES:
        r = parse_names(v, &pol->exclude_hosts, &pol->n_exclude_hosts, &why);
        return r < 0 ? failf(p, r, sec, key, why) : 1;
    case KT_PERCENT:
        r = parse_double(v, 0.0, 100.0, false, &d, &why);
        if (r < 0)
            return failf(p, -EINVAL, sec, key, why ? why : "must be between 0 and 100");
        if (strcmp(def->name, "consolidate_below") == 0)
            pol->consolidate_below = d;
        else
            pol->consolidate_target = d;
        return 1;
    case KT_AUTOMATION: {
        static const char *const n[] = {"automatic", "manual", "dry-run"};
        int i = 0;
        r = set_enum(p, sec, key, v, n, ARRAY_SIZE(n), &i);
        if (r > 0)
            pol->automation = (enum automation)i;
        return r;
    }
    case KT_RULE_TYPE:
    case KT_STRENGTH:
        break;
    case KT_MIB:
        r = parse_double(v, 0.0, 1e12, false, &d, &why);
        if (r < 0)
            return failf(p, -EINVAL, sec, key, why ? why : "must be MiB from 0 to 1e12");
        if (sk == SEC_HOST) {
            o->mem_reserve_mib = d;
            o->has_mem_reserve = true;
        } else {
            pol->mem_reserve_mib = d;
        }
        return 1;
    case KT_SECONDS:
        r = parse_double(v, 0.0, 86400.0 * 365.0, false, &d, &why);
        if (r < 0)
            return failf(p, -EINVAL, sec, key,
                         why ? why : "must be seconds from 0 (none) to a year");
        pol->cooldown_s = d;
        return 1;
    case KT_MOVES: {
        char *end = NULL;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || !isdigit((unsigned char)v[0]) || *end != '\0' || errno != 0 || n < 1 ||
            n > (long)MODEL_MAX_VM_MOVES)
            return failf(p, -EINVAL, sec, key, "must be a whole number from 1 to 16");
        pol->max_moves_per_vm = (uint32_t)n;
        return 1;
    }
    case KT_WINDOW:
        r = parse_double(v, 1.0, 86400.0 * 365.0, false, &d, &why);
        if (r < 0)
            return failf(p, -EINVAL, sec, key,
                         why ? why : "must be seconds from 1 to a year (the guard is never off)");
        pol->storm_window_s = d;
        return 1;
    case KT_WEIGHTS: {
        struct weights_ctx c;
        memset(&c, 0, sizeof(c));
        r = for_each_item(v, weights_item, &c);
        if (r == -ENOENT)
            return failf(p, -EINVAL, sec, key, "must list at least one KIND:WEIGHT");
        if (r == -EBADMSG)
            return failf(p, -EINVAL, sec, key, "empty item in the list");
        if (r < 0)
            return failf(p, -EINVAL, sec, key, c.bad);
        memcpy(pol->weights, c.w, sizeof(pol->weights));
        pol->weight_priority = c.prio;
        return 1;
    }
    }
    return failf(p, -EINVAL, sec, key, "unknown key");
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

/* A comma-separated list of names (each trimmed; inner spaces kept) appended to `list`.
 * 0, or -EINVAL with *why. */
static int
parse_names(const char *v, char ***list, size_t *n, const char **why)
{
    const char *p = v;
    size_t before = *n;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);
        const char *a = p;
        const char *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b) {
            *why = "empty name in the list";
            return -EINVAL;
        }
        for (const char *c = a; c < b; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                *why = "a name has a control character";
                return -EINVAL;
            }
        }
        if (!utf8_valid((const unsigned char *)a, (size_t)(b - a))) {
            *why = "a name is not valid UTF-8";
            return -EINVAL;
        }
        /* After a space (as config_format() writes lists) ';' or '#' would start a comment:
         * such a name could not be read back. */
        if (*a == ';' || *a == '#') {
            *why = "a name may not start with ';' or '#' (a comment)";
            return -EINVAL;
        }
        for (size_t i = 0; i < *n; i++) {
            if (strlen((*list)[i]) == (size_t)(b - a) &&
                memcmp((*list)[i], a, (size_t)(b - a)) == 0) {
                *why = "a name is listed twice";
                return -EINVAL;
            }
        }
        int r = policy_names_add(list, n, a, (size_t)(b - a));
        if (r == -E2BIG) {
            *why = "a name is longer than 255 bytes";
            return -EINVAL;
        }
        if (r < 0) {
            *why = "out of memory";
            return r;
        }
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

static int
apply_rule_key(struct parser *p, struct placement_rule *rule, const char *sec, const char *key,
               const struct key_def *def, const char *v)
{
    const char *why = NULL;
    int r;
    switch (def->type) {
    case KT_RULE_TYPE: {
        static const char *const n[] = {"together", "apart", "on", "not-on"};
        int i = 0;
        r = set_enum(p, sec, key, v, n, ARRAY_SIZE(n), &i);
        if (r > 0) {
            rule->kind = (enum rule_kind)i;
            rule->has_kind = true;
        }
        return r;
    }
    case KT_STRENGTH: {
        static const char *const n[] = {"must", "should"};
        int i = 0;
        r = set_enum(p, sec, key, v, n, ARRAY_SIZE(n), &i);
        if (r > 0)
            rule->must = i == 0;
        return r;
    }
    case KT_NAMES:
        r = strcmp(def->name, "vms") == 0 ? parse_names(v, &rule->vms, &rule->n_vms, &why)
                                          : parse_names(v, &rule->hosts, &rule->n_hosts, &why);
        return r < 0 ? failf(p, r, sec, key, why) : 1;
    default:
        break;
    }
    return failf(p, -EINVAL, sec, key, "unknown key");
}

/* Every rule is complete: a type, VMs, and hosts exactly for on and not-on. */
static int
check_rules(struct parser *p)
{
    for (size_t i = 0; i < p->pol->n_rules; i++) {
        const struct placement_rule *r = &p->pol->rules[i];
        const char *why = NULL;
        bool hosts = r->has_kind && (r->kind == RULE_ON || r->kind == RULE_NOT_ON);
        if (!r->has_kind)
            why = "type is required (together, apart, on or not-on)";
        else if (r->n_vms == 0)
            why = "vms is required";
        else if ((r->kind == RULE_TOGETHER || r->kind == RULE_APART) && r->n_vms < 2)
            why = "vms must list at least two VMs for together and apart";
        else if (hosts && r->n_hosts == 0)
            why = "hosts is required for on and not-on";
        else if (!hosts && r->n_hosts > 0)
            why = "hosts is only for on and not-on";
        if (why != NULL) {
            perr_set(p->err, "%s: [rule \"%s\"]: %s", p->source, r->name, why);
            return -EINVAL;
        }
    }
    return 0;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
    struct parser *p = user;
    if (p->err_code != 0)
        return 1; /* report only the first error */
    enum section_kind sk = SEC_NONE;
    const char *hname = NULL;
    size_t hlen = 0;
    const char *why = NULL;
    if (section[0] == '\0')
        return failf(p, -EINVAL, NULL, NULL, "key outside of any section");
    if (classify_section(p->ext, section, strlen(section), &sk, &hname, &hlen, &why) < 0)
        return failf(p, -EINVAL, NULL, NULL, why);
    const char *label =
        sk == SEC_HOST || sk == SEC_RULE || sk == SEC_EXT ? section : section_label(sk);
    if (sk == SEC_EXT) {
        int rs = mark_seen(p, section, name);
        if (rs < 0)
            return failf(p, -ENOMEM, label, name, "out of memory");
        if (rs == 1)
            return failf(p, -EINVAL, label, name, "given twice");
        if (p->ext->apply(p->ext->ctx, section, name, value, &why) < 0)
            return failf(p, -EINVAL, label, name, why != NULL ? why : "invalid");
        return 1;
    }

    /* NAME or NAME.KIND */
    const char *dot = strchr(name, '.');
    size_t base_len = dot != NULL ? (size_t)(dot - name) : strlen(name);
    const struct key_def *def = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (keys[i].section == sk && strlen(keys[i].name) == base_len &&
            memcmp(keys[i].name, name, base_len) == 0) {
            def = &keys[i];
            break;
        }
    }
    if (def == NULL || (dot != NULL && !def->per_kind))
        return failf(p, -EINVAL, label, name, "unknown key");
    enum kind kd = KIND_CPU;
    if (dot != NULL && kind_parse(dot + 1, strlen(dot + 1), &kd) < 0)
        return failf(p, -EINVAL, label, name, "unknown kind (expected cpu, mem_bw, disk, net)");
    int r = mark_seen(p, section, name);
    if (r < 0)
        return failf(p, -ENOMEM, label, name, "out of memory");
    /* Name lists may go on over several lines: each `vms = ...` adds to the list. */
    if (r == 1 && def->type != KT_NAMES)
        return failf(p, -EINVAL, label, name, "given twice");
    struct host_override *o = NULL;
    if (sk == SEC_HOST) {
        r = policy_override_get(p->pol, hname, hlen, &o);
        if (r < 0)
            return failf(p, r, label, name, "out of memory");
    }
    if (sk == SEC_RULE) {
        struct placement_rule *rule = NULL;
        r = policy_rule_get(p->pol, hname, hlen, &rule);
        if (r < 0)
            return failf(p, r, label, name, "out of memory");
        return apply_rule_key(p, rule, label, name, def, value);
    }
    return apply_key(p, sk, o, label, name, def, dot != NULL, kd, value);
}

int
config_parse_string(const char *text, const char *source, struct policy *pol, struct perr *err)
{
    return config_parse_string_ext(text, source, pol, NULL, err);
}

int
config_parse_string_ext(const char *text, const char *source, struct policy *pol,
                        const struct config_ext *ext, struct perr *err)
{
    struct parser p;
    memset(&p, 0, sizeof(p));
    p.pol = pol;
    p.ext = ext;
    p.source = source != NULL ? source : "<config>";
    p.text = text;
    p.err = err;
    int r = prescan(&p, text);
    if (r < 0)
        goto out;
    p.line = 0;
    int ir = ini_parse_stream(reader, &p, handler, &p);
    if (p.err_code != 0 && (ir <= 0 || (size_t)ir >= p.err_line)) {
        r = p.err_code;
        goto out;
    }
    if (ir == -2) {
        perr_set(err, "%s: out of memory", p.source);
        r = -ENOMEM;
        goto out;
    }
    if (ir != 0) {
        perr_set(err, "%s:%d: syntax error (expected KEY = VALUE or [SECTION])", p.source, ir);
        r = -EINVAL;
        goto out;
    }
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (p.has_host_thr_all && !(p.host_thr_explicit & KIND_BIT(k)))
            pol->host_threshold[k] = p.host_thr_all;
        if (p.has_vm_thr_all && !(p.vm_thr_explicit & KIND_BIT(k)))
            pol->vm_threshold_value[k] = p.vm_thr_all;
    }
    r = check_rules(&p);
    if (r < 0)
        goto out;
    if (pol->consolidate_below > 0 && pol->consolidate_target >= pol->host_threshold[KIND_CPU]) {
        perr_set(err,
                 "%s: [relocate] consolidate_target must be below the cpu host threshold (%g), "
                 "or consolidation would fill hosts into conflict",
                 p.source, pol->host_threshold[KIND_CPU]);
        r = -EINVAL;
        goto out;
    }
    if (pol->consolidate_below > 0 && pol->consolidate_below >= pol->consolidate_target) {
        perr_set(err, "%s: [relocate] consolidate_below must be below consolidate_target",
                 p.source);
        r = -EINVAL;
        goto out;
    }
    policy_finish(pol);
    r = 0;
out:
    for (size_t i = 0; i < p.n_seen; i++)
        free(p.seen[i]);
    free(p.seen);
    return r;
}

/* --- formatting ------------------------------------------------------------------------- */

struct sbuf {
    char *s;
    size_t len;
    size_t cap;
    bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *ns = realloc(b->s, ncap);
        if (ns == NULL) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = ncap;
    }
}

/* `key = A, B, ...` lines of at most POLICY_INI_MAX_LINE bytes (the parser adds repeated name
 * keys to one list). A name too long for "key = NAME" goes on a line "key=NAME", which always
 * fits: the parser read it from a line at least that long. */
static void
format_names(struct sbuf *b, const char *key, char *const *names, size_t n)
{
    size_t used = 0; /* bytes on the current line; 0: none open */
    size_t klen = strlen(key);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (used > 0 && used + 2 + len <= POLICY_INI_MAX_LINE) {
            sb_printf(b, ", %s", names[i]);
            used += 2 + len;
            continue;
        }
        if (used > 0)
            sb_printf(b, "\n");
        bool tight = klen + 3 + len > POLICY_INI_MAX_LINE;
        sb_printf(b, tight ? "%s=%s" : "%s = %s", key, names[i]);
        used = klen + (tight ? 1 : 3) + len;
    }
    if (used > 0)
        sb_printf(b, "\n");
}

int
config_format(const struct policy *pol, char **ret_s)
{
    static const char *const combine[] = {"any", "all"};
    static const char *const vmmode[] = {"fixed", "share"};
    static const char *const vmsel[] = {"usage", "priority", "weighted"};
    static const char *const dsel[] = {"free", "least-used", "weighted"};
    struct sbuf b = {NULL, 0, 0, false};
    b.s = malloc(256);
    if (b.s == NULL)
        return -ENOMEM;
    b.cap = 256;
    b.s[0] = '\0';
    sb_printf(&b, "[detect]\nresources =");
    for (size_t i = 0; i < pol->n_resources; i++)
        sb_printf(&b, "%s %s", i ? "," : "", kind_name(pol->resources[i]));
    sb_printf(&b, "\ncombine = %s\n", combine[pol->combine]);
    for (unsigned k = 0; k < KIND_COUNT; k++)
        sb_printf(&b, "host_threshold.%s = %.17g\n", kind_name((enum kind)k),
                  pol->host_threshold[k]);
    sb_printf(&b, "vm_threshold = %s\n", vmmode[pol->vm_threshold]);
    for (unsigned k = 0; k < KIND_COUNT; k++)
        sb_printf(&b, "vm_threshold_value.%s = %.17g\n", kind_name((enum kind)k),
                  pol->vm_threshold_value[k]);
    sb_printf(&b, "vm_threshold_k = %.17g\nmin_vms = %u\n", pol->vm_threshold_k,
              (unsigned)pol->min_vms);
    sb_printf(&b, "\n[relocate]\nvm_select = %s\nvm_select_resource = %s\n", vmsel[pol->vm_select],
              kind_name(pol->vm_select_resource));
    sb_printf(&b, "dest_headroom = %s\n", pol->dest_headroom ? "yes" : "no");
    sb_printf(&b, "dest_select = %s\ndest_select_resource = %s\nprefer_busy_hosts = %s\n",
              dsel[pol->dest_select], kind_name(pol->dest_select_resource),
              pol->prefer_busy_hosts ? "yes" : "no");
    sb_printf(&b, "persistence = %u/%u\ncooldown = %.17g\n", (unsigned)pol->persist_k,
              (unsigned)pol->persist_n, pol->cooldown_s);
    sb_printf(&b, "max_moves_per_vm = %u\nstorm_window = %.17g\n", (unsigned)pol->max_moves_per_vm,
              pol->storm_window_s);
    sb_printf(&b, "max_migrations = %u\nmax_per_host = %u\n", (unsigned)pol->max_migrations,
              (unsigned)pol->max_per_host);
    sb_printf(&b, "mem_reserve_mib = %.17g\n", pol->mem_reserve_mib);
    sb_printf(&b, "automation = %s\n", automation_name(pol->automation));
    sb_printf(&b, "consolidate_below = %.17g\nconsolidate_target = %.17g\n", pol->consolidate_below,
              pol->consolidate_target);
    format_names(&b, "exclude_hosts", pol->exclude_hosts, pol->n_exclude_hosts);
    sb_printf(&b, "weights =");
    for (unsigned k = 0; k < KIND_COUNT; k++)
        sb_printf(&b, "%s %s:%.17g", k ? "," : "", kind_name((enum kind)k), pol->weights[k]);
    sb_printf(&b, ", priority:%.17g\n", pol->weight_priority);
    for (size_t i = 0; i < pol->n_rules; i++) {
        const struct placement_rule *r = &pol->rules[i];
        sb_printf(&b, "\n[rule \"%s\"]\ntype = %s\nstrength = %s\n", r->name,
                  rule_kind_name(r->kind), r->must ? "must" : "should");
        format_names(&b, "vms", r->vms, r->n_vms);
        format_names(&b, "hosts", r->hosts, r->n_hosts);
    }
    for (size_t i = 0; i < pol->n_overrides; i++) {
        const struct host_override *o = &pol->overrides[i];
        sb_printf(&b, "\n[host \"%s\"]\n", o->name);
        if (o->has_capacity)
            sb_printf(&b, "capacity = %.17g\n", o->capacity);
        if (o->has_mem_reserve)
            sb_printf(&b, "mem_reserve_mib = %.17g\n", o->mem_reserve_mib);
        if (o->has_threshold_all)
            sb_printf(&b, "host_threshold = %.17g\n", o->host_threshold_all);
        for (unsigned k = 0; k < KIND_COUNT; k++) {
            if (o->has_threshold & KIND_BIT(k))
                sb_printf(&b, "host_threshold.%s = %.17g\n", kind_name((enum kind)k),
                          o->host_threshold[k]);
        }
    }
    if (b.oom) {
        free(b.s);
        return -ENOMEM;
    }
    *ret_s = b.s;
    return 0;
}
