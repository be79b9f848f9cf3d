/* Recording conflicts and storm-guard holds (conflictlog.h). */
#define _POSIX_C_SOURCE 200809L
#include "view/conflictlog.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "core/plan.h"

char *
conflict_key(uint8_t kinds, const char *const *vms, size_t n)
{
    size_t len = 4;
    for (size_t i = 0; i < n; i++)
        len += strlen(vms[i]) + 1;
    char *key = malloc(len);
    if (key == NULL)
        return NULL;
    size_t off = (size_t)snprintf(key, len, "%u", (unsigned)kinds);
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(key + off, len - off, "\n%s", vms[i]);
    return key;
}

/* The kinds of a key (its first line). */
static uint8_t
key_kinds(const char *key)
{
    return (uint8_t)strtoul(key, NULL, 10);
}

/* The VMs of a key: the text after its first line, names separated by '\n' ("" when none). */
static const char *
key_vms(const char *key)
{
    const char *nl = strchr(key, '\n');
    return nl != NULL ? nl + 1 : "";
}

/* The key's kinds and VMs as two JSON arrays. false on OOM (both freed). */
static bool
key_json(const char *key, json_t **ret_kinds, json_t **ret_vms)
{
    json_t *kinds = json_array();
    json_t *vms = json_array();
    bool ok = kinds != NULL && vms != NULL;
    uint8_t mask = key_kinds(key);
    for (unsigned k = 0; ok && k < KIND_COUNT; k++) {
        if (mask & KIND_BIT(k))
            ok = json_array_append_new(kinds, json_string(kind_name((enum kind)k))) == 0;
    }
    for (const char *p = key_vms(key); ok && *p != '\0';) {
        size_t n = strcspn(p, "\n");
        ok = json_array_append_new(vms, json_stringn(p, n)) == 0;
        p += n + (p[n] == '\n');
    }
    if (!ok) {
        json_decref(kinds);
        json_decref(vms);
        return false;
    }
    *ret_kinds = kinds;
    *ret_vms = vms;
    return true;
}

char *
conflict_key_text(const char *key)
{
    char kinds[64] = "";
    size_t off = 0;
    uint8_t mask = key_kinds(key);
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (mask & KIND_BIT(k))
            off += (size_t)snprintf(kinds + off, sizeof(kinds) - off, "%s%s", off ? "," : "",
                                    kind_name((enum kind)k));
    }
    const char *vms = key_vms(key);
    size_t len = strlen(kinds) + strlen(vms) + 32;
    char *s = malloc(len);
    if (s == NULL)
        return NULL;
    (void)snprintf(s, len, "resources=%s vms=%s", kinds, vms);
    for (char *p = s; *p != '\0'; p++) {
        if (*p == '\n')
            *p = ',';
    }
    return s;
}

static bool
waiting(const char *outcome)
{
    return strncmp(outcome, "waiting", 7) == 0;
}

bool
episode_note(struct episode *e, const char *key, const char *outcome)
{
    bool same = e->open && e->key != NULL && strcmp(e->key, key) == 0;
    /* Waiting for a running migration is not a new outcome of an episode already recorded. */
    if (same && (waiting(outcome) || (e->outcome != NULL && strcmp(e->outcome, outcome) == 0)))
        return false;
    char *k = strdup(key);
    char *o = strdup(outcome);
    if (k == NULL || o == NULL) {
        free(k);
        free(o);
        return false;
    }
    free(e->key);
    free(e->outcome);
    e->key = k;
    e->outcome = o;
    e->open = true;
    return true;
}

void
episode_close(struct episode *e)
{
    e->open = false;
}

void
episode_done(struct episode *e)
{
    free(e->key);
    free(e->outcome);
    memset(e, 0, sizeof(*e));
}

void
conflict_record(struct store *st, double when, const char *host, const char *key,
                const char *outcome, bool log)
{
    json_t *kinds = NULL;
    json_t *vms = NULL;
    char *ks = NULL;
    char *vs = NULL;
    if (key_json(key, &kinds, &vms)) {
        ks = json_dumps(kinds, JSON_COMPACT);
        vs = json_dumps(vms, JSON_COMPACT);
    }
    if (log)
        log_info("conflict detected host=\"%s\" resources=%s vms=%s outcome=\"%s\"", host,
                 ks != NULL ? ks : "?", vs != NULL ? vs : "?", outcome);
    if (ks == NULL || vs == NULL || store_add_conflict(st, when, host, ks, vs, outcome) < 0)
        log_warnx("conflict not stored host=\"%s\", ignoring", host);
    free(ks);
    free(vs);
    json_decref(kinds);
    json_decref(vms);
}

bool
conflict_note_unconfirmed(struct episode *e, struct store *st, double when, const char *host,
                          const char *key, const char *why)
{
    if (!episode_note(e, key, CONFLICT_UNCONFIRMED))
        return false;
    char *text = conflict_key_text(key);
    log_info("usage conflict %s host=\"%s\" %s: not acted on", why, host, text != NULL ? text : "");
    free(text);
    conflict_record(st, when, host, key, CONFLICT_UNCONFIRMED, false);
    return true;
}

bool
storm_note(struct once *once, const struct policy *pol, const struct cluster *cl, uint32_t vm,
           double until, const char *extra)
{
    const char *name = cl->vms[vm].name;
    if (!once_first(once, name, until, cl->time))
        return false;
    char what[400];
    plan_storm_describe(pol, cl, vm, until, what, sizeof(what));
    log_warnx("storm guard holds vm=\"%s\" host=\"%s\" until=%.0f: %s; a conflict does not move "
              "it until then%s",
              name, cl->hosts[cl->vms[vm].host].name, until, what, extra);
    return true;
}
