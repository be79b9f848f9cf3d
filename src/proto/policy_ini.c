/* The policy config parser: inih splits lines, this file checks the syntax and sections and
 * hands every key to the key table (policy_ini_keys.c), which reads its value.
 *
 * A pre-scan checks what inih does not report to its handler: over-long lines and section
 * headers (an unknown section with no key in it is still an error). inih reads through our
 * own line reader so the handler knows the line number of every key without inih's
 * compile-time option. Keys of sections that are not the policy's go to the caller's
 * struct config_ext. */
#include "proto/policy_ini.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/policy_ini_keys.h"
#include "proto/wire.h"

enum section_kind {
    SEC_DETECT = POLICY_INI_DETECT,
    SEC_RELOCATE = POLICY_INI_RELOCATE,
    SEC_HOST = POLICY_INI_HOST,
    SEC_RULE = POLICY_INI_RULE,
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
    struct policy_ini_keys_state keys;
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

/* --- sections --------------------------------------------------------------------------- */

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
    if (ext != NULL && ext->owns(ext->ctx, s, len)) {
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
        const char *bad_chars;
    } named[] = {
        {"host", SEC_HOST, "host section must be [host \"NAME\"]",
         "host name must be 1 to 255 characters without quotes",
         "host name must be UTF-8 without control, bidirectional or invisible formatting "
         "characters"},
        {"rule", SEC_RULE, "rule section must be [rule \"NAME\"]",
         "rule name must be 1 to 255 characters without quotes",
         "rule name must be UTF-8 without control, bidirectional or invisible formatting "
         "characters"},
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
        char buf[160];
        if (wire_name_problem(p + 1, nlen, buf, sizeof(buf)) != NULL) {
            *why = named[i].bad_chars;
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

/* The struct a key of section `sk` goes into: the policy, or the host's override or the
 * rule named `name` (`len` bytes), created on first use. 0 or -ENOMEM. */
static int
key_target(struct parser *p, enum section_kind sk, const char *name, size_t len, void **ret)
{
    int r = 0;
    struct host_override *o = NULL;
    struct placement_rule *rule = NULL;
    switch (sk) {
    case SEC_HOST:
        r = policy_override_get(p->pol, name, len, &o);
        *ret = o;
        break;
    case SEC_RULE:
        r = policy_rule_get(p->pol, name, len, &rule);
        *ret = rule;
        break;
    default:
        *ret = p->pol;
        break;
    }
    return r;
}

/* A key of a section of the caller's: refused when repeated, else handed to ext->apply. */
static int
ext_key(struct parser *p, const char *section, const char *name, const char *value)
{
    const char *why = NULL;
    int rs = mark_seen(p, section, name);
    if (rs < 0)
        return failf(p, -ENOMEM, section, name, "out of memory");
    if (rs == 1)
        return failf(p, -EINVAL, section, name, "given twice");
    if (p->ext->apply(p->ext->ctx, section, name, value, &why) < 0)
        return failf(p, -EINVAL, section, name, why != NULL ? why : "invalid");
    return 1;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
    struct parser *p = user;
    if (p->err_code != 0)
        return 1; /* report only the first error */
    enum section_kind sk = SEC_DETECT;
    const char *hname = NULL;
    size_t hlen = 0;
    const char *why = NULL;
    if (section[0] == '\0')
        return failf(p, -EINVAL, NULL, NULL, "key outside of any section");
    if (classify_section(p->ext, section, strlen(section), &sk, &hname, &hlen, &why) < 0)
        return failf(p, -EINVAL, NULL, NULL, why);
    if (sk == SEC_EXT)
        return ext_key(p, section, name, value);
    const char *label = sk == SEC_HOST || sk == SEC_RULE ? section : section_label(sk);

    /* NAME or NAME.KIND */
    const char *dot = strchr(name, '.');
    size_t base_len = dot != NULL ? (size_t)(dot - name) : strlen(name);
    const struct policy_ini_key *k =
        policy_ini_key_find((enum policy_ini_section)sk, name, base_len);
    bool per_kind =
        k != NULL && (k->special == POLICY_INI_THRESHOLD || k->special == POLICY_INI_VM_THRESHOLD);
    if (k == NULL || (dot != NULL && !per_kind))
        return failf(p, -EINVAL, label, name, "unknown key");
    enum kind kd = KIND_CPU;
    if (dot != NULL && kind_parse(dot + 1, strlen(dot + 1), &kd) < 0)
        return failf(p, -EINVAL, label, name, "unknown kind (expected cpu, mem_bw, disk, net)");
    int r = mark_seen(p, section, name);
    if (r < 0)
        return failf(p, -ENOMEM, label, name, "out of memory");
    /* Name lists may go on over several lines: each `vms = ...` adds to the list. */
    if (r == 1 && k->special != POLICY_INI_NAMES)
        return failf(p, -EINVAL, label, name, "given twice");
    void *target = NULL;
    r = key_target(p, sk, hname, hlen, &target);
    if (r < 0)
        return failf(p, r, label, name, "out of memory");
    char what[SETTING_WHY_MAX];
    r = policy_ini_key_apply(&p->keys, k, target, dot != NULL, kd, value, what, sizeof(what));
    return r < 0 ? failf(p, r, label, name, what) : 1;
}

int
config_parse_string(const char *text, const char *source, struct policy *pol, struct perr *err)
{
    return config_parse_string_ext(text, source, pol, NULL, err);
}

/* What holds between keys: the rules are complete, and consolidation stays below the
 * threshold. 0 or -EINVAL with the error set. */
static int
check_policy(struct parser *p)
{
    const struct policy *pol = p->pol;
    int r = check_rules(p);
    if (r < 0)
        return r;
    if (pol->consolidate_below > 0 && pol->consolidate_target >= pol->host_threshold[KIND_CPU]) {
        perr_set(p->err,
                 "%s: [relocate] consolidate_target must be below the cpu host threshold (%g), "
                 "or consolidation would fill hosts into conflict",
                 p->source, pol->host_threshold[KIND_CPU]);
        return -EINVAL;
    }
    if (pol->consolidate_below > 0 && pol->consolidate_below >= pol->consolidate_target) {
        perr_set(p->err, "%s: [relocate] consolidate_below must be below consolidate_target",
                 p->source);
        return -EINVAL;
    }
    return 0;
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
    policy_ini_keys_finish(&p.keys, pol);
    r = check_policy(&p);
    if (r == 0)
        policy_finish(pol);
out:
    for (size_t i = 0; i < p.n_seen; i++)
        free(p.seen[i]);
    free(p.seen);
    return r;
}
