/* A migration's record (migration.h). */
#include "agent/migration.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "proto/utf8.h"

const char *
mig_state_name(enum mig_state s)
{
    switch (s) {
    case MIG_DONE:
        return "done";
    case MIG_FAILED:
        return "failed";
    case MIG_RUNNING:
        break;
    }
    return "running";
}

struct migration *
migration_new(const char *id, const char *vm, const char *to_url, const char *to_name)
{
    struct migration *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    (void)snprintf(m->id, sizeof(m->id), "%s", id);
    (void)snprintf(m->vm, sizeof(m->vm), "%s", vm);
    (void)snprintf(m->to_url, sizeof(m->to_url), "%s", to_url);
    (void)snprintf(m->to_name, sizeof(m->to_name), "%s", to_name[0] != '\0' ? to_name : to_url);
    m->state = MIG_RUNNING;
    m->started = clock_wall_s();
    m->started_mono = clock_mono_s();
    m->downtime_ms = -1;
    m->transferred_mib = -1;
    m->total_ms = -1;
    return m;
}

void
migration_finish(struct migration *m, enum mig_state state)
{
    m->state = state;
    m->finished = clock_wall_s();
    m->took_s = clock_mono_s() - m->started_mono;
}

/* A figure of the completed job: null while unknown. */
static json_t *
figure(double v)
{
    return v >= 0 ? json_real(v) : json_null();
}

/* `m`'s error as JSON: null when none; a byte-bounded copy of a message that names a VM may
 * be cut inside a character (cut back to it), and a hypervisor's message may not be UTF-8 at
 * all (made valid): rather than a record that cannot be listed. */
static json_t *
error_json(const struct migration *m)
{
    if (m->error[0] == '\0')
        return json_null();
    char whole[sizeof(m->error)];
    (void)snprintf(whole, sizeof(whole), "%s", m->error);
    utf8_trim_partial(whole);
    return wire_text_json(whole);
}

json_t *
migration_json(const struct migration *m, const char *from)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:o,s:o,s:f,s:f}", "id", m->id, "vm", m->vm,
                          "from", from, "to", m->to_name, "to_url", m->to_url, "state",
                          mig_state_name(m->state), "started", m->started, "finished",
                          m->state == MIG_RUNNING ? json_null() : json_real(m->finished), "error",
                          error_json(m), "mem_mib", m->mem_mib, "transfer_s", m->transfer_s);
    if (j != NULL &&
        json_object_update_new(j, json_pack("{s:o,s:o,s:o}", "downtime_ms", figure(m->downtime_ms),
                                            "transferred_mib", figure(m->transferred_mib),
                                            "total_ms", figure(m->total_ms))) < 0) {
        json_decref(j);
        j = NULL;
    }
    if (j != NULL && m->has_progress &&
        json_object_update_new(j, json_pack("{s:f,s:f}", "progress_mib", m->progress_mib,
                                            "total_mib", m->total_mib)) < 0) {
        json_decref(j);
        j = NULL;
    }
    return j;
}
