/* The agent's state shared by its parts: agent.c (lifecycle, sampling, registration),
 * agent_api.c (HTTP handlers) and agent_migrate.c (moving VMs between agents). */
#ifndef VMLOC_AGENT_AGENT_INTERNAL_H
#define VMLOC_AGENT_AGENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/hv_sim.h"
#include "net/http.h"
#include "net/loop.h"

struct event;
struct event_base;

enum mig_state {
    MIG_RUNNING = 0,
    MIG_DONE = 1,
    MIG_FAILED = 2,
};

/* A migration out of this host, from order to outcome. */
struct migration {
    struct agent *a;
    char id[WIRE_MAX_ID + 1];
    char vm[MODEL_MAX_NAME + 1];
    char to_url[WIRE_MAX_URL + 1];
    char to_name[MODEL_MAX_NAME + 1];
    enum mig_state state;
    double started; /* wall clock, seconds */
    double finished;
    double mem_mib;
    double transfer_s;
    char error[256];
    struct event *timer;
    bool in_flight; /* an HTTP request for it is outstanding */
    bool resolving; /* a commit got no answer: asking until the destination answers */
};

enum in_state {
    IN_RESERVED = 0,
    IN_COMMITTED = 1,
    IN_ABORTED = 2,
};

/* A VM arriving on this host. */
struct incoming {
    struct agent *a;
    char id[WIRE_MAX_ID + 1];
    char vm[MODEL_MAX_NAME + 1];
    char from[MODEL_MAX_NAME + 1];
    enum in_state state;
    double since;
    struct event *expiry;
};

#define AGENT_MAX_HISTORY 1000

struct agent {
    struct agent_opts opts;
    struct loop loop;
    struct event_base *base;    /* loop.base */
    struct http_client *client; /* loop.client */
    struct hv_sim hv;
    char url[WIRE_MAX_URL + 1];
    uint64_t seq;
    double sample_time;
    char *sample_json; /* latest sample, as served */
    struct event *sample_ev;
    struct event *register_ev;
    bool registered;
    struct migration *migs[AGENT_MAX_HISTORY];
    size_t n_migs;
    struct incoming *ins[AGENT_MAX_HISTORY];
    size_t n_ins;
    uint64_t next_id;
};

/* The HTTP routes of an agent (agent_api.c). */
extern const struct http_route agent_routes[];
extern const size_t agent_n_routes;

/* Take a sample now and cache its JSON (agent.c). */
void agent_sample(struct agent *a);

/* JSON of a VM list or of one VM, for the API (agent.c). Caller frees. NULL on OOM. */
char *agent_vms_json(struct agent *a);

/* Start migrating VM `o->vm` to `o->to`. 0: *ret_m set (owned by the agent). -ENOENT: no
 * such VM; -EBUSY: it is already migrating or arriving; -EPERM: it is pinned; -EEXIST:
 * the id is taken; -ENOMEM (agent_migrate.c). */
int agent_migrate_start(struct agent *a, const struct wire_order *o, struct migration **ret_m);

/* Find a migration or an arrival by id; NULL if none. */
struct migration *agent_migration_find(struct agent *a, const char *id);
struct incoming *agent_incoming_find(struct agent *a, const char *id);

/* Handle the destination side: reserve, commit, abort (agent_migrate.c). Return an HTTP
 * status and fill `msg` on errors. */
int agent_incoming_reserve(struct agent *a, const struct wire_incoming *in, char *msg, size_t len);
int agent_incoming_commit(struct agent *a, const char *id, const struct wire_load *final, char *msg,
                          size_t len);
int agent_incoming_abort(struct agent *a, const char *id, char *msg, size_t len);

/* JSON of one migration / all migrations (agent_migrate.c). Caller frees. */
char *agent_migration_json(const struct migration *m);
char *agent_migrations_json(struct agent *a);
const char *mig_state_name(enum mig_state s);

/* Free migration and arrival records (agent_migrate.c). */
void agent_migrate_done(struct agent *a);

#endif
