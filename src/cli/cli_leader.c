/* Which manager the terminal commands talk to when they are given several (--manager
 * URL,URL... or VMLOC_MANAGER): active/standby managers on etcd, any of which may lead.
 *
 * Each URL in turn is asked GET /v1/health (a short timeout): the first that says it leads
 * (role "leader", or "manager" for one without etcd) is used. Failing that, the first that
 * answers as a follower (it serves reads, and answers changes with a 307 to the leader,
 * which cli_fetch() follows), else the first that answers at all (no leader known: reads
 * work, changes get 503), else the first URL, so the command's error names it. One URL is
 * used as given, without asking. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "net/http.h"
#include "net/http_client.h"
#include "proto/wire.h"

#define LEADER_ASK_TIMEOUT_S 2.0

/* How good a manager `url` is to talk to: 3 leads, 2 follows, 1 answers, 0 does not. */
static int
rank(const char *url)
{
    struct http_answer ans;
    if (cli_fetch(url, "GET", "/v1/health", NULL, LEADER_ASK_TIMEOUT_S, &ans) < 0)
        return 0;
    json_t *j = ans.status == 200 ? json_loads(ans.body != NULL ? ans.body : "", 0, NULL) : NULL;
    free(ans.body);
    if (j == NULL)
        return 1; /* it answers, if only to refuse (a token, TLS): the command will say */
    const char *role = json_string_value(json_object_get(j, "role"));
    int r = 1;
    if (role != NULL && (strcmp(role, "leader") == 0 || strcmp(role, "manager") == 0))
        r = 3;
    else if (role != NULL && strcmp(role, "follower") == 0)
        r = 2;
    json_decref(j);
    return r;
}

/* The next element of the list at *p into `out` (`len` bytes), *p moved past it: its length
 * (0: no more; `len` or more: too long to be a URL, and `out` holds as much as fits). */
static size_t
next_url(const char **p, char *out, size_t len)
{
    *p += strspn(*p, ", \t");
    size_t k = strcspn(*p, ", \t");
    (void)snprintf(out, len, "%.*s", (int)k, *p);
    *p += k;
    return k;
}

void
cli_leader_find(const char *list, char *buf, size_t len)
{
    /* Two passes over the list, so that it has no length limit: the first checks every
     * element, the second asks them in turn. */
    char url[WIRE_MAX_URL + 1];
    size_t n = 0;
    const char *p = list;
    for (size_t k = next_url(&p, url, sizeof(url)); k != 0; k = next_url(&p, url, sizeof(url))) {
        if (k >= sizeof(url) || http_url_check(url) < 0) {
            /* Not a URL: handed on as it is (a part when too long), for the caller to
             * refuse. */
            (void)snprintf(buf, len, "%.*s", (int)k, p - k);
            return;
        }
        if (n++ == 0)
            (void)snprintf(buf, len, "%s", url);
    }
    if (n == 0)
        (void)snprintf(buf, len, "%s", list);
    if (n <= 1)
        return; /* one URL is used as given; buf holds it */
    int best_rank = -1;
    p = list;
    while (best_rank < 3 && next_url(&p, url, sizeof(url)) != 0) {
        int r = rank(url);
        if (r > best_rank) {
            (void)snprintf(buf, len, "%s", url);
            best_rank = r;
        }
    }
}
