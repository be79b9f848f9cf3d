/* The VM names a collector (the manager, or a peer agent) sees on two hosts at once outside a
 * migration, after cluster_mark_duplicates(): each such name is an error, logged once when it
 * appears (and a line when it is on one host again), listed by the API and counted in
 * /metrics, while the core leaves every copy where it is. */
#ifndef VMLOC_VIEW_DUPVMS_H
#define VMLOC_VIEW_DUPVMS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/model.h"

/* Names kept with their hosts (more are counted, not listed), hosts kept per name, and names
 * logged one by one in one update (the rest in one line). */
#define DUPVMS_MAX 256
#define DUPVMS_MAX_HOSTS 4
#define DUPVMS_LOG_MAX 10

struct dupvm {
    char name[MODEL_MAX_NAME + 1];
    char hosts[DUPVMS_MAX_HOSTS][MODEL_MAX_NAME + 1]; /* in the cluster's order */
    size_t n_hosts;                                   /* hosts listing it (may exceed the kept) */
};

struct dupvms {
    struct dupvm *e; /* sorted by name */
    size_t n;        /* listed (at most DUPVMS_MAX) */
    size_t count;    /* every name on two hosts at the last update */
    uint64_t episodes_total;
};

/* Free what `d` holds; it may then be zeroed to start again. A zeroed struct is empty. */
void dupvms_done(struct dupvms *d);

/* Take the VMs of `cl` marked `duplicate` as the current list: a name new to it is logged as an
 * error (`what` says what holds, e.g. "not moved until it runs on one host only"), a name gone
 * from it as resolved. 0, or -ENOMEM (the old list stays, nothing logged). */
int dupvms_update(struct dupvms *d, const struct cluster *cl, const char *what);

/* Is `vm` listed as a duplicate? The entry or NULL. */
const struct dupvm *dupvms_find(const struct dupvms *d, const char *vm);

/* The duplicates host `host` lists: [{"vm", "hosts": [...]}], or NULL when none (or OOM). */
json_t *dupvms_host_json(const struct dupvms *d, const char *host);

/* Every listed duplicate: [{"vm", "hosts": [...]}]. NULL on OOM. */
json_t *dupvms_json(const struct dupvms *d);

#endif
