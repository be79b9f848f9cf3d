/* Peer mode's list of peers (peer_internal.h): the list given at start and each new one from
 * a peers file, applied between decisions; peers still listed keep their view, dropped ones
 * are freed once no request to them is in flight. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/peer_internal.h"
#include "common/log.h"

void
peer_destroy(struct peer *p)
{
    if (p == NULL)
        return;
    hview_done(&p->v);
    free(p);
}

/* Free the retired peers whose requests have all come back. */
static void
sweep_retired(struct peer_mode *pm)
{
    size_t kept = 0;
    for (size_t i = 0; i < pm->n_retired; i++) {
        if (pm->retired[i]->inflight > 0)
            pm->retired[kept++] = pm->retired[i];
        else
            peer_destroy(pm->retired[i]);
    }
    pm->n_retired = kept;
}

static struct peer *
find_peer(struct peer *const *peers, size_t n, const char *url)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(peers[i]->v.url, url) == 0)
            return peers[i];
    }
    return NULL;
}

/* Make `urls` (`n`) the peers; a peer listed before stays as it is. Only while no decision
 * runs: a decision's indices and phase refer to the list. 0 or -ENOMEM (the list in use
 * stays). */
int
peer_list_apply(struct peer_mode *pm, const char (*urls)[WIRE_MAX_URL + 1], size_t n)
{
    struct peer **next = calloc(n + 1, sizeof(struct peer *));
    struct peer **retired =
        realloc(pm->retired, (pm->n_retired + pm->n_peers + 1) * sizeof(struct peer *));
    if (retired != NULL)
        pm->retired = retired;
    if (next == NULL || retired == NULL) {
        free(next);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(urls[i], pm->o.url) == 0 || find_peer(next, k, urls[i]) != NULL)
            continue; /* a shared list may name this agent too */
        struct peer *p = find_peer(pm->peers, pm->n_peers, urls[i]);
        if (p == NULL) {
            p = calloc(1, sizeof(*p)); /* p->pm stays NULL until the list is taken */
            if (p == NULL) {
                for (size_t t = 0; t < k; t++) {
                    if (next[t]->pm == NULL)
                        peer_destroy(next[t]);
                }
                free(next);
                return -ENOMEM;
            }
            hview_init(&p->v, "", urls[i]);
        }
        next[k++] = p;
    }
    for (size_t j = 0; j < pm->n_peers; j++) {
        struct peer *p = pm->peers[j];
        if (find_peer(next, k, p->v.url) != NULL)
            continue;
        log_info("peer dropped url=%s host=\"%s\"", p->v.url, p->v.name);
        p->retired = true;
        pm->retired[pm->n_retired++] = p;
    }
    for (size_t t = 0; t < k; t++) {
        if (next[t]->pm == NULL) {
            next[t]->pm = pm;
            if (pm->peers != NULL)
                log_info("peer added url=%s", next[t]->v.url);
        }
    }
    free(pm->peers);
    pm->peers = next;
    pm->n_peers = k;
    sweep_retired(pm);
    return 0;
}

int
peer_set_peers(struct peer_mode *pm, const char (*urls)[WIRE_MAX_URL + 1], size_t n)
{
    char(*copy)[WIRE_MAX_URL + 1] = calloc(n + 1, sizeof(*copy));
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, urls, n * sizeof(*copy));
    free(pm->pending);
    pm->pending = copy;
    pm->n_pending = n;
    pm->has_pending = true;
    peer_list_tick(pm);
    return 0;
}

void
peer_list_tick(struct peer_mode *pm)
{
    sweep_retired(pm);
    if (!pm->has_pending || pm->phase != PEER_IDLE)
        return;
    if (peer_list_apply(pm, (const char(*)[WIRE_MAX_URL + 1]) pm->pending, pm->n_pending) < 0) {
        log_warnx("peer list not changed: out of memory; trying again at the next sample");
        return;
    }
    free(pm->pending);
    pm->pending = NULL;
    pm->has_pending = false;
    if (pm->n_peers == 0)
        log_warnx("peer mode without peers: conflicts will be detected but cannot be resolved");
}
