/* config_format(): a policy as INI text that config_parse_string() reads back to an equal
 * policy. It walks the key table (policy_ini_keys.c) in order, so every key the parser reads
 * is written; a [host "NAME"] section writes only the overrides it has. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "proto/policy_ini.h"
#include "proto/policy_ini_keys.h"

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

/* `key = A, B, ...` lines of at most POLICY_INI_FORMAT_WIDTH bytes (the parser adds repeated name
 * keys to one list). A name too long for "key = NAME" goes on a line "key=NAME", which always
 * fits: the parser reads lines far longer than a name (POLICY_INI_MAX_LINE). */
static void
format_names(struct sbuf *b, const char *key, char *const *names, size_t n)
{
    size_t used = 0; /* bytes on the current line; 0: none open */
    size_t klen = strlen(key);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (used > 0 && used + 2 + len <= POLICY_INI_FORMAT_WIDTH) {
            sb_printf(b, ", %s", names[i]);
            used += 2 + len;
            continue;
        }
        if (used > 0)
            sb_printf(b, "\n");
        bool tight = klen + 3 + len > POLICY_INI_FORMAT_WIDTH;
        sb_printf(b, tight ? "%s=%s" : "%s = %s", key, names[i]);
        used = klen + (tight ? 1 : 3) + len;
    }
    if (used > 0)
        sb_printf(b, "\n");
}

/* NAME.KIND lines of the kinds in `mask`. */
static void
format_per_kind(struct sbuf *b, const char *name, const double *v, unsigned mask)
{
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (mask & KIND_BIT(k))
            sb_printf(b, "%s.%s = %.17g\n", name, kind_name((enum kind)k), v[k]);
    }
}

static void
format_threshold(struct sbuf *b, const struct policy_ini_key *k, const char *target)
{
    if (k->section != POLICY_INI_HOST) {
        format_per_kind(b, k->name, (const double *)(target + k->set.offset), KIND_MASK_ALL);
        return;
    }
    const struct host_override *o = (const struct host_override *)target;
    if (o->has_threshold_all)
        sb_printf(b, "%s = %.17g\n", k->name, o->host_threshold_all);
    format_per_kind(b, k->name, o->host_threshold, o->has_threshold);
}

static void
format_key(struct sbuf *b, const struct policy_ini_key *k, const char *target)
{
    char v[128];
    switch (k->special) {
    case POLICY_INI_PLAIN:
        if (k->section != POLICY_INI_HOST || setting_given(&k->set, target))
            sb_printf(b, "%s = %s\n", k->name, setting_format(&k->set, target, true, v, sizeof(v)));
        return;
    case POLICY_INI_THRESHOLD:
    case POLICY_INI_VM_THRESHOLD:
        format_threshold(b, k, target);
        return;
    case POLICY_INI_KINDS: {
        const enum kind *kinds = (const enum kind *)(target + k->set.offset);
        size_t n = *(const size_t *)(target + k->aux);
        sb_printf(b, "%s =", k->name);
        for (size_t i = 0; i < n; i++)
            sb_printf(b, "%s %s", i ? "," : "", kind_name(kinds[i]));
        sb_printf(b, "\n");
        return;
    }
    case POLICY_INI_NAMES:
        format_names(b, k->name, *(char *const *const *)(target + k->set.offset),
                     *(const size_t *)(target + k->aux));
        return;
    case POLICY_INI_WEIGHTS: {
        const struct policy *pol = (const struct policy *)target;
        sb_printf(b, "%s =", k->name);
        for (unsigned i = 0; i < KIND_COUNT; i++)
            sb_printf(b, "%s %s:%.17g", i ? "," : "", kind_name((enum kind)i), pol->weights[i]);
        sb_printf(b, ", priority:%.17g\n", pol->weight_priority);
        return;
    }
    case POLICY_INI_PERSIST:
        sb_printf(b, "%s = %u/%u\n", k->name, (unsigned)*(const uint32_t *)(target + k->set.offset),
                  (unsigned)*(const uint32_t *)(target + k->aux));
        return;
    }
}

/* Every key of `section`, from the struct at `target`. */
static void
format_section(struct sbuf *b, enum policy_ini_section section, const void *target)
{
    size_t n = 0;
    const struct policy_ini_key *keys = policy_ini_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].section == section)
            format_key(b, &keys[i], target);
    }
}

int
config_format(const struct policy *pol, char **ret_s)
{
    struct sbuf b = {NULL, 0, 0, false};
    b.s = malloc(256);
    if (b.s == NULL)
        return -ENOMEM;
    b.cap = 256;
    b.s[0] = '\0';
    sb_printf(&b, "[detect]\n");
    format_section(&b, POLICY_INI_DETECT, pol);
    sb_printf(&b, "\n[relocate]\n");
    format_section(&b, POLICY_INI_RELOCATE, pol);
    for (size_t i = 0; i < pol->n_rules; i++) {
        sb_printf(&b, "\n[rule \"%s\"]\n", pol->rules[i].name);
        format_section(&b, POLICY_INI_RULE, &pol->rules[i]);
    }
    for (size_t i = 0; i < pol->n_overrides; i++) {
        sb_printf(&b, "\n[host \"%s\"]\n", pol->overrides[i].name);
        format_section(&b, POLICY_INI_HOST, &pol->overrides[i]);
    }
    if (b.oom) {
        free(b.s);
        return -ENOMEM;
    }
    *ret_s = b.s;
    return 0;
}
