/* The destination's side of the simulated backend's reservation protocol (sim_transfer.c
 * tells the source's): what POST /v1/incoming and its follow-ups do on the host a VM moves to.
 *
 *   reserve   the source announces the VM: this host checks its memory and holds 10% of the
 *             VM's demand while the copy runs; a reservation never committed expires;
 *   commit    the source's last word: the VM runs here from now on (saved before the answer);
 *   abort     the source gives up before committing: the reservation goes;
 *   settle    the source knows the VM moved: the record may now be forgotten.
 *
 * Every function answers with an HTTP status and, for an error, a message in `msg`. */
#ifndef VMLOC_AGENT_SIM_ARRIVAL_H
#define VMLOC_AGENT_SIM_ARRIVAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "proto/wire.h"

struct sim_arrivals;

/* `refusal`: not NULL when the host takes no VM from this source now (a retried reservation
 * still gets its 200): the message of the 409. */
int sim_arrival_reserve(struct sim_arrivals *t, const struct wire_incoming *in, const char *refusal,
                        char *msg, size_t len);
int sim_arrival_commit(struct sim_arrivals *t, const char *id, const struct wire_load *final,
                       char *msg, size_t len);
int sim_arrival_abort(struct sim_arrivals *t, const char *id, char *msg, size_t len);
int sim_arrival_settle(struct sim_arrivals *t, const char *id, char *msg, size_t len);

/* GET /v1/incoming/ID: {"id", "vm", "state", "settled"}; NULL when there is no such arrival
 * (or on OOM, with *ret_known true). */
json_t *sim_arrival_json(const struct sim_arrivals *t, const char *id, bool *ret_known);

/* The source of arrival `id`, or NULL when there is no such arrival. */
const char *sim_arrival_source(const struct sim_arrivals *t, const char *id);

/* The id of the newest arrival still reserved from a source other than `not_from` (its source
 * in *ret_from), or NULL when there is none. */
const char *sim_arrival_reserved(const struct sim_arrivals *t, const char *not_from,
                                 const char **ret_from);

/* Drop the reservations that `from` announced and did not commit (its lock's lease ran out:
 * it died or cannot reach this host, so it cannot commit either). */
void sim_arrival_drop_from(struct sim_arrivals *t, const char *from);

#endif
