/* VM names on two hosts at once: the list after each model, and its log lines. */
#include "view/dupvms.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

void
dupvms_done(struct dupvms *d)
{
    free(d->e);
    d->e = NULL;
    d->n = 0;
    d->count = 0;
}

/* A VM marked duplicate: its name and index, sorted by name then index. */
struct marked {
    const char *name;
    uint32_t vm;
};

static int
marked_cmp(const void *a, const void *b)
{
    const struct marked *x = a;
    const struct marked *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return x->vm < y->vm ? -1 : x->vm > y->vm;
}

/* The hosts of an entry, "h1, h2", into `buf`. */
static void
hosts_text(const struct dupvm *e, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < e->n_hosts && i < DUPVMS_MAX_HOSTS && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s\"%s\"", i > 0 ? "," : "", e->hosts[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (e->n_hosts > DUPVMS_MAX_HOSTS && used < len)
        (void)snprintf(buf + used, len - used, ",...");
}

/* The new list from the cluster's marks, sorted by name. 0 or -ENOMEM. */
static int
collect(const struct cluster *cl, struct dupvm **ret, size_t *ret_n, size_t *ret_count)
{
    size_t k = 0;
    for (size_t i = 0; i < cl->n_vms; i++)
        k += cl->vms[i].duplicate;
    struct marked *all = malloc((k + 1) * sizeof(*all));
    struct dupvm *e = calloc(k < DUPVMS_MAX ? k + 1 : DUPVMS_MAX, sizeof(*e));
    if (all == NULL || e == NULL) {
        free(all);
        free(e);
        return -ENOMEM;
    }
    k = 0;
    for (size_t i = 0; i < cl->n_vms; i++) {
        if (cl->vms[i].duplicate)
            all[k++] = (struct marked){cl->vms[i].name, (uint32_t)i};
    }
    qsort(all, k, sizeof(*all), marked_cmp);
    size_t n = 0;
    size_t count = 0;
    for (size_t i = 0; i < k;) {
        struct dupvm *d = n < DUPVMS_MAX ? &e[n++] : NULL;
        count++;
        if (d != NULL)
            (void)snprintf(d->name, sizeof(d->name), "%s", all[i].name);
        size_t j = i;
        for (; j < k && strcmp(all[j].name, all[i].name) == 0; j++) {
            if (d != NULL && d->n_hosts < DUPVMS_MAX_HOSTS)
                (void)snprintf(d->hosts[d->n_hosts], sizeof(d->hosts[0]), "%s",
                               cl->hosts[cl->vms[all[j].vm].host].name);
            if (d != NULL)
                d->n_hosts++;
        }
        i = j;
    }
    free(all);
    *ret = e;
    *ret_n = n;
    *ret_count = count;
    return 0;
}

const struct dupvm *
dupvms_find(const struct dupvms *d, const char *vm)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->e[i].name, vm) == 0)
            return &d->e[i];
    }
    return NULL;
}

int
dupvms_update(struct dupvms *d, const struct cluster *cl, const char *what)
{
    struct dupvm *e;
    size_t n;
    size_t count;
    if (collect(cl, &e, &n, &count) < 0)
        return -ENOMEM;
    struct dupvms next = {e, n, count, d->episodes_total};
    size_t logged = 0;
    size_t unlogged = 0;
    char hosts[DUPVMS_MAX_HOSTS * (MODEL_MAX_NAME + 4) + 8];
    for (size_t i = 0; i < n; i++) {
        if (dupvms_find(d, e[i].name) != NULL)
            continue;
        next.episodes_total++;
        if (logged++ >= DUPVMS_LOG_MAX) {
            unlogged++;
            continue;
        }
        hosts_text(&e[i], hosts, sizeof(hosts));
        log_errorx("VM on two hosts vm=\"%s\" hosts=%s: %s; keep one copy (or rename one) to "
                   "end it",
                   e[i].name, hosts, what);
    }
    /* Beyond the names listed only the count is known: said when it grows. */
    if (unlogged > 0 || (count > n && count > d->count))
        log_errorx("VMs on two hosts: %zu names in all, not moved (GET /v1/health lists %zu)",
                   count, n);
    size_t gone = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (dupvms_find(&next, d->e[i].name) != NULL)
            continue;
        if (gone++ < DUPVMS_LOG_MAX)
            log_info("VM on one host again vm=\"%s\"", d->e[i].name);
    }
    if (gone > DUPVMS_LOG_MAX)
        log_info("VMs on one host again: %zu more names", gone - DUPVMS_LOG_MAX);
    free(d->e);
    *d = next;
    return 0;
}

static json_t *
entry_json(const struct dupvm *e)
{
    json_t *hosts = json_array();
    for (size_t i = 0; hosts != NULL && i < e->n_hosts && i < DUPVMS_MAX_HOSTS; i++) {
        if (json_array_append_new(hosts, json_string(e->hosts[i])) < 0) {
            json_decref(hosts);
            hosts = NULL;
        }
    }
    return hosts != NULL ? json_pack("{s:s,s:o}", "vm", e->name, "hosts", hosts) : NULL;
}

static bool
entry_has_host(const struct dupvm *e, const char *host)
{
    for (size_t i = 0; i < e->n_hosts && i < DUPVMS_MAX_HOSTS; i++) {
        if (strcmp(e->hosts[i], host) == 0)
            return true;
    }
    return false;
}

/* Every entry (host NULL) or those of `host`; with `host`, NULL when none. */
static json_t *
list_json(const struct dupvms *d, const char *host)
{
    json_t *arr = NULL;
    for (size_t i = 0; i < d->n; i++) {
        if (host != NULL && !entry_has_host(&d->e[i], host))
            continue;
        if (arr == NULL)
            arr = json_array();
        json_t *o = entry_json(&d->e[i]);
        if (arr == NULL || o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    if (arr == NULL && host == NULL)
        arr = json_array();
    return arr;
}

json_t *
dupvms_host_json(const struct dupvms *d, const char *host)
{
    return list_json(d, host);
}

json_t *
dupvms_json(const struct dupvms *d)
{
    return list_json(d, NULL);
}
