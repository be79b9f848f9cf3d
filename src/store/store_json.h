/* The store's lists as the JSON the HTTP APIs serve (docs/protocol.md): the manager and a
 * peer agent answer GET /v1/conflicts and GET /v1/migrations the same way. */
#ifndef VMLOC_STORE_STORE_JSON_H
#define VMLOC_STORE_STORE_JSON_H

#include <jansson.h>

#include "store/store.h"

/* The newest `limit` conflicts / migrations, oldest first, as a new JSON array the caller
 * owns. NULL when the store cannot be read or memory runs out. */
json_t *store_conflicts_json(struct store *s, int limit);
json_t *store_migrations_json(struct store *s, int limit);
/* [{"id", "time", "vm", "from", "to", "reason", "state", "updated", "migration"?}], the newest
 * `limit`, oldest first; NULL on error. */
json_t *store_recommendations_json(struct store *s, int limit);

#endif
