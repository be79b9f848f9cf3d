/* The policy config parser: reads the text line by line, checks the syntax and sections, and
 * hands every key to the key table (policy_ini_keys.c), which reads its value.
 *
 * The lines are read here, not by an INI library: a line may be as long as
 * POLICY_INI_MAX_LINE (inih, which vmloc used before, cut lines at 200 bytes and section
 * names at 50), every error names its line, and the first error in the file is the one
 * reported. Keys of sections that are not the policy's go to the caller's struct config_ext. */
#include "proto/policy_ini.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
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
    size_t line; /* number of the line being read */
    char *buf;   /* its copy, cut into key and value */
    size_t cap_buf;
    char *section; /* the current section as written between the brackets */
    size_t section_cap;
    bool in_section;
    bool after_key; /* a key came since the section header */
    struct perr *err;
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

/* Whitespace as isspace() in the C locale sees it (without '\n', which ends a line): a line
 * that starts with any of it is indented. */
static bool
ini_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

static int handler(struct parser *p, const char *section, const char *name, const char *value);

/* A section header, `a` ('[') to `b` (trimmed): checked, and made the current section. */
static int
section_line(struct parser *p, const char *a, const char *b)
{
    char what[160];
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
        (void)snprintf(what, sizeof(what), "[%.*s]: %s", (int)(nlen > 80 ? 80 : nlen), a + 1, why);
        return failf(p, -EINVAL, NULL, NULL, what), -EINVAL;
    }
    if (nlen + 1 > p->section_cap) {
        char *n = realloc(p->section, nlen + 1);
        if (n == NULL)
            return failf(p, -ENOMEM, NULL, NULL, "out of memory"), -ENOMEM;
        p->section = n;
        p->section_cap = nlen + 1;
    }
    memcpy(p->section, a + 1, nlen);
    p->section[nlen] = '\0';
    p->in_section = true;
    p->after_key = false;
    return 0;
}

/* A "KEY = VALUE" line, `a` to `b` (trimmed, writable): checked, the key and its value cut out
 * (an inline comment is ';' after white space) and handed to handler(). */
static int
key_line(struct parser *p, char *a, char *b)
{
    char what[160];
    char *eq = memchr(a, '=', (size_t)(b - a));
    const char *colon = memchr(a, ':', (size_t)(b - a));
    if (eq == NULL || (colon != NULL && colon < eq)) {
        (void)snprintf(what, sizeof(what), "expected KEY = VALUE, got \"%.*s\"",
                       (int)(b - a > 60 ? 60 : b - a), a);
        return failf(p, -EINVAL, NULL, NULL, what), -EINVAL;
    }
    char *k_end = eq;
    while (k_end > a && ini_space(k_end[-1]))
        k_end--;
    if (!p->in_section) {
        (void)snprintf(what, sizeof(what), "key \"%.*s\" outside of any section",
                       (int)(k_end - a > 60 ? 60 : k_end - a), a);
        return failf(p, -EINVAL, NULL, NULL, what), -EINVAL;
    }
    p->after_key = true;
    *k_end = '\0';
    char *v = eq + 1;
    char *e = v;
    for (bool was_space = false; e < b && !(was_space && *e == ';'); e++)
        was_space = ini_space(*e);
    while (v < e && ini_space(*v))
        v++;
    while (e > v && ini_space(e[-1]))
        e--;
    *e = '\0';
    (void)handler(p, p->section, a, v);
    return p->err_code;
}

/* One line, `a` to `b` (without its line ending, writable). Comments and blank lines are
 * skipped; an indented line after a key is refused (other INI readers, and inih which vmloc
 * once used, read it as more of that key's value), so is a key outside any section and any
 * line that is neither a section header nor "KEY = VALUE" ("KEY: VALUE" too). */
static int
parse_line(struct parser *p, char *a, char *b)
{
    char what[160];
    bool indented = a < b && ini_space(*a);
    while (a < b && ini_space(*a))
        a++;
    while (b > a && ini_space(b[-1]))
        b--;
    if (a == b || *a == ';' || *a == '#')
        return 0;
    if (indented && p->after_key) {
        (void)snprintf(what, sizeof(what),
                       "indented line \"%.*s\" would continue the previous value; remove the "
                       "indentation",
                       (int)(b - a > 60 ? 60 : b - a), a);
        return failf(p, -EINVAL, NULL, NULL, what), -EINVAL;
    }
    if (*a == '[')
        return section_line(p, a, b);
    return key_line(p, a, b);
}

/* Every line of `text` in order, each copied into p->buf (grown as needed, up to
 * POLICY_INI_MAX_LINE bytes): the first error stops the parse, so the message names the
 * first problem in the file, whatever its kind. */
static int
parse_text(struct parser *p, const char *text)
{
    const char *s = text;
    char what[96];
    while (*s != '\0') {
        p->line++;
        const char *nl = strchr(s, '\n');
        size_t l = nl != NULL ? (size_t)(nl - s) : strlen(s);
        if (l > 0 && s[l - 1] == '\r')
            l--;
        if (l > POLICY_INI_MAX_LINE) {
            (void)snprintf(what, sizeof(what), "line longer than %u bytes (the limit)",
                           (unsigned)POLICY_INI_MAX_LINE);
            return failf(p, -EINVAL, NULL, NULL, what), -EINVAL;
        }
        const char *a = s;
        if (p->line == 1 && l >= 3 && memcmp(a, "\xEF\xBB\xBF", 3) == 0) {
            a += 3;
            l -= 3;
        }
        if (l + 1 > p->cap_buf) {
            size_t ncap = p->cap_buf == 0 ? 256 : p->cap_buf;
            while (ncap < l + 1)
                ncap *= 2;
            char *n = realloc(p->buf, ncap);
            if (n == NULL)
                return failf(p, -ENOMEM, NULL, NULL, "out of memory"), -ENOMEM;
            p->buf = n;
            p->cap_buf = ncap;
        }
        memcpy(p->buf, a, l);
        p->buf[l] = '\0';
        int r = parse_line(p, p->buf, p->buf + l);
        if (r < 0)
            return r;
        if (nl == NULL)
            break;
        s = nl + 1;
    }
    return 0;
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
    char **n = grow_array(p->seen, &p->cap_seen, p->n_seen + 1, sizeof(*n), 16);
    if (n == NULL)
        return -ENOMEM;
    p->seen = n;
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

/* A key of a section of the caller's: refused when repeated (unless ext->repeats says it is a
 * list that each line adds to), else handed to ext->apply. */
static int
ext_key(struct parser *p, const char *section, const char *name, const char *value)
{
    const char *why = NULL;
    int rs = mark_seen(p, section, name);
    if (rs < 0)
        return failf(p, -ENOMEM, section, name, "out of memory");
    if (rs == 1 && (p->ext->repeats == NULL || !p->ext->repeats(p->ext->ctx, section, name)))
        return failf(p, -EINVAL, section, name, "given twice");
    if (p->ext->apply(p->ext->ctx, section, name, value, &why) < 0)
        return failf(p, -EINVAL, section, name, why != NULL ? why : "invalid");
    return 1;
}

/* One key of the current section: found in the key table (or the caller's), refused when
 * repeated unless it is a list, read into its struct. Returns 1; an error is in p->err_code. */
static int
handler(struct parser *p, const char *section, const char *name, const char *value)
{
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
    p.err = err;
    int r = parse_text(&p, text);
    if (r < 0)
        goto out;
    policy_ini_keys_finish(&p.keys, pol);
    r = check_policy(&p);
    if (r == 0)
        policy_finish(pol);
out:
    for (size_t i = 0; i < p.n_seen; i++)
        free(p.seen[i]);
    free(p.seen);
    free(p.buf);
    free(p.section);
    return r;
}
