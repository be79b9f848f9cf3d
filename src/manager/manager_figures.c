/* The figures of a finished migration's job (downtime, data sent, total time): read from the
 * source's answer, and asked of the source once more when the samples ended the migration
 * before the source said so. Owns the manager's list of those requests (m->asks); never
 * changes a migration's state. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "manager/manager_internal.h"

/* A figure of the finished job from the source's answer: a number from 0 to JOB_FIGURE_MAX,
 * else unknown (-1: absent, null, or not a figure a job could take). */
#define JOB_FIGURE_MAX 1e12
static double
job_figure(const json_t *j, const char *key)
{
    const json_t *v = json_object_get(j, key);
    double d = json_is_number(v) ? json_number_value(v) : -1;
    return d >= 0 && d <= JOB_FIGURE_MAX ? d : -1;
}

/* What the source says its finished job took (downtime, data sent, total time). */
void
manager_job_figures(struct store_migration *rec, const json_t *j)
{
    rec->downtime_ms = job_figure(j, "downtime_ms");
    rec->transferred_mib = job_figure(j, "transferred_mib");
    rec->total_ms = job_figure(j, "total_ms");
    rec->has_job = rec->downtime_ms >= 0 || rec->transferred_mib >= 0 || rec->total_ms >= 0;
}

/* A migration the samples settled, whose source is asked once more for its job's figures. It
 * is on the manager's list while the request is in flight, so that one the manager's exit
 * cancels (its callback then never runs) is freed too. */
struct figures_ask {
    struct manager *m;
    struct store_migration rec;
    struct figures_ask *prev, *next;
};

static void
figures_unlink(struct figures_ask *a)
{
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        a->m->asks = a->next;
    if (a->next != NULL)
        a->next->prev = a->prev;
}

static void
figures_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct figures_ask *a = arg;
    (void)err;
    figures_unlink(a);
    json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *st = json_string_value(json_object_get(j, "state"));
    if (st != NULL && strcmp(st, "done") == 0) {
        manager_job_figures(&a->rec, j);
        if (a->rec.has_job) {
            log_info("migration job id=%s downtime_ms=%.0f transferred_mib=%.1f total_ms=%.0f",
                     a->rec.id, a->rec.downtime_ms, a->rec.transferred_mib, a->rec.total_ms);
            if (store_put_migration(a->m->store, &a->rec) < 0)
                log_warnx("migration not stored id=%s, ignoring", a->rec.id);
        }
    }
    json_decref(j);
    free(a);
}

/* `g` ended as the samples showed, before its source said so: ask the source what its job
 * took, to store with it (a failed request leaves the figures unknown). */
void
manager_figures_ask(struct manager *m, const struct mmig *g)
{
    struct mhost *src = manager_host_find(m, g->rec.src);
    struct figures_ask *a = src != NULL ? calloc(1, sizeof(*a)) : NULL;
    if (a == NULL)
        return;
    a->m = m;
    a->rec = g->rec;
    char path[160];
    (void)snprintf(path, sizeof(path), "/v1/migrations/%s", g->rec.id);
    if (http_request(m->client, src->v.url, "GET", path, NULL, HTTP_TIMEOUT_S, figures_done, a) <
        0) {
        free(a);
        return;
    }
    a->next = m->asks;
    if (m->asks != NULL)
        m->asks->prev = a;
    m->asks = a;
}

void
manager_figures_free(struct manager *m)
{
    while (m->asks != NULL) {
        struct figures_ask *a = m->asks;
        m->asks = a->next;
        free(a);
    }
}
