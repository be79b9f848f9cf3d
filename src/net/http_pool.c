/* The HTTP client's kept-alive connections: at most one per peer, by peer in a hash table
 * and by age in a list, closed when too old or too many (http_client_int.h). Never sends a
 * request; http_client.c takes and returns connections here. */
#define _POSIX_C_SOURCE 200809L
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_client_int.h"

/* At most this many connections are kept alive (the oldest go first). */
#define HTTP_IDLE_MAX 16384

/* Idle connections older than this are closed rather than reused. */
#define HTTP_IDLE_MAX_AGE_S 60

/* A manager keeps a connection to each of up to 10,000 agents: the keys share their first
 * characters ("127.1.39.") and a walk of a bucket compared them all; now the hashes first. */
static size_t
idle_bucket(uint32_t hash)
{
    return hash & (HTTP_IDLE_BUCKETS - 1);
}

static void
idle_unlink_age(struct http_client *cl, struct idle *i)
{
    if (i->older != NULL)
        i->older->newer = i->newer;
    else
        cl->oldest = i->newer;
    if (i->newer != NULL)
        i->newer->older = i->older;
    else
        cl->newest = i->older;
}

/* Remove `i` from its bucket and the age list, and keep it for the next put (at most as
 * many as can be idle: a manager's connections are all in use during a round, and all come
 * back after it); its connection is returned. */
static struct evhttp_connection *
idle_remove(struct http_client *cl, struct idle *i)
{
    for (struct idle **p = &cl->idle[idle_bucket(i->hash)]; *p != NULL; p = &(*p)->next) {
        if (*p == i) {
            *p = i->next;
            break;
        }
    }
    idle_unlink_age(cl, i);
    struct evhttp_connection *conn = i->conn;
    if (cl->n_spare < HTTP_IDLE_MAX) {
        i->next = cl->spare;
        cl->spare = i;
        cl->n_spare++;
    } else {
        free(i);
    }
    cl->n_idle--;
    return conn;
}

/* Whether libevent still holds the connection's socket: it drops a connection on which the
 * peer sent something while it was idle, and reusing such a one can trip an assertion in
 * libevent 2.1 when the reconnect then fails. */
static bool
conn_open(struct evhttp_connection *conn)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    return bev != NULL && bufferevent_getfd(bev) >= 0;
}

/* Close one of the client's connections. */
void
http_pool_conn_free(struct http_client *cl, struct evhttp_connection *conn)
{
    evhttp_connection_free(conn);
    cl->n_conns--;
}

/* Is a connection to `key` kept alive? */
bool
http_pool_has(const struct http_client *cl, const char *key, uint32_t hash)
{
    for (const struct idle *i = cl->idle[idle_bucket(hash)]; i != NULL; i = i->next) {
        if (i->hash == hash && strcmp(i->key, key) == 0)
            return true;
    }
    return false;
}

/* Take the kept-alive connection to `key`, or NULL. */
struct evhttp_connection *
http_pool_take(struct http_client *cl, const char *key, uint32_t hash)
{
    for (struct idle *i = cl->idle[idle_bucket(hash)]; i != NULL; i = i->next) {
        if (i->hash != hash || strcmp(i->key, key) != 0)
            continue;
        struct evhttp_connection *conn = idle_remove(cl, i);
        if (conn_open(conn))
            return conn;
        http_pool_conn_free(cl, conn);
        return NULL;
    }
    return NULL;
}

/* Keep `conn` for the next request to `key`, or free it. The oldest idle connections go
 * first when there are too many or they are too old, so peers that went away do not fill
 * the pool. */
void
http_pool_put(struct http_client *cl, const char *key, uint32_t hash,
              struct evhttp_connection *conn)
{
    struct timeval now;
    if (event_base_gettimeofday_cached(cl->base, &now) < 0)
        now.tv_sec = 0;
    while (cl->oldest != NULL &&
           (cl->n_idle >= HTTP_IDLE_MAX || now.tv_sec - cl->oldest->since > HTTP_IDLE_MAX_AGE_S))
        http_pool_close_oldest(cl);
    if (!conn_open(conn)) {
        http_pool_conn_free(cl, conn);
        return;
    }
    struct idle *i = cl->spare;
    if (i != NULL) {
        cl->spare = i->next;
        cl->n_spare--;
    } else {
        i = malloc(sizeof(*i));
        if (i == NULL) {
            http_pool_conn_free(cl, conn);
            return;
        }
    }
    size_t n = strnlen(key, sizeof(i->key) - 1);
    memcpy(i->key, key, n);
    i->key[n] = '\0';
    i->hash = hash;
    i->conn = conn;
    i->since = now.tv_sec;
    size_t b = idle_bucket(i->hash);
    i->next = cl->idle[b];
    cl->idle[b] = i;
    i->older = cl->newest;
    i->newer = NULL;
    if (cl->newest != NULL)
        cl->newest->newer = i;
    else
        cl->oldest = i;
    cl->newest = i;
    cl->n_idle++;
}

void
http_pool_close_oldest(struct http_client *cl)
{
    http_pool_conn_free(cl, idle_remove(cl, cl->oldest));
}

void
http_pool_free_spares(struct http_client *cl)
{
    while (cl->spare != NULL) {
        struct idle *i = cl->spare;
        cl->spare = i->next;
        free(i);
    }
    cl->n_spare = 0;
}
