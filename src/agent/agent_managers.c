/* The managers an agent works with: it registers with every one it is given (--manager URL,
 * a list, or several), each on its own schedule, and in edge mode notifies each of them.
 *
 * Active/standby managers (manager --etcd) all collect from every agent, and only the leader
 * orders; an agent does not need to know which one leads. Registration is refreshed every
 * AGENT_REGISTER_EVERY_S while a manager takes it, or as often as the manager asks in its
 * answer ("register_every": a large cluster's manager asks for fewer refreshes), each delay
 * then between 0.75 and 1.25 times that, from agent to agent; after a failure it is tried again
 * after 1 s, doubling up to AGENT_REGISTER_EVERY_S, each delay shortened by up to a half, which
 * differs from agent to agent and attempt to attempt: hundreds of agents refused together
 * by a busy manager (its connection limit) come back spread, not in one wave again. The
 * failure is logged once per episode (a warning at its start, a line when the manager
 * answers again). A manager that
 * refuses this agent's name (409) is asked again every AGENT_REGISTER_EVERY_S, said once.
 *
 * Edge notifications go to every manager that does not refuse the name, one in flight per
 * manager: the leader decides on it, a follower keeps the sample (its view stays warm, and
 * it decides at once if it takes over). Sending only to the leader would need the agent to
 * follow elections, and a notification lost at a change of leader would wait a tick more;
 * the cost of sending to all is one small request per manager and conflicting tick. Orders
 * are taken from any manager: each carries its leader's term, and agent_fence.c refuses one
 * older than the newest seen. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "common/log.h"
#include "core/fnv.h"

#define AGENT_REGISTER_EVERY_S 5.0
/* The refresh period a manager may ask for ("register_every" in its answer): seconds. */
#define AGENT_REGISTER_ASKED_MIN_S 1.0
#define AGENT_REGISTER_ASKED_MAX_S 3600.0
#define AGENT_REGISTER_BACKOFF_FIRST_S 1.0
#define AGENT_REGISTER_BACKOFF_MAX_S AGENT_REGISTER_EVERY_S

/* A factor in [0.5, 1) from the agent's name, the manager's URL and the attempt (FNV-1a). */
static double
spread(const struct agent_mgr *g)
{
    uint64_t h = FNV64_BASIS;
    const char *parts[2] = {g->a->opts->name, g->url};
    for (size_t k = 0; k < 2; k++) {
        for (const char *p = parts[k]; *p != '\0'; p++)
            h = (h ^ (unsigned char)*p) * FNV64_PRIME;
        h = (h ^ 0xffu) * FNV64_PRIME;
    }
    h = (h ^ g->failures) * FNV64_PRIME;
    h ^= h >> 29;
    return 0.5 + 0.5 * (double)(h % 1000u) / 1000.0;
}

static void
register_later(struct agent_mgr *g, double delay_s)
{
    struct timeval tv = loop_tv(delay_s);
    if (event_add(g->ev, &tv) < 0)
        log_errorx("the next registration with manager=%s cannot be scheduled", g->url);
}

/* A failure (`what` said once per episode): try again after the back-off. */
static void register_failed(struct agent_mgr *g, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void
register_failed(struct agent_mgr *g, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    g->registered = false;
    g->failures++;
    g->failures_total++;
    if (!g->failing)
        log_warnx("%s; retrying (said once until it answers)", what);
    else
        log_debug("%s; retrying failures=%u", what, g->failures);
    g->failing = true;
    double delay = g->retry_s * spread(g);
    g->retry_s = g->retry_s * 2.0 < AGENT_REGISTER_BACKOFF_MAX_S ? g->retry_s * 2.0
                                                                 : AGENT_REGISTER_BACKOFF_MAX_S;
    register_later(g, delay);
}

/* The refresh period the manager's answer asks for; AGENT_REGISTER_EVERY_S when it does not
 * say (an older manager, an empty answer) or says something unusable: a period out of range
 * or a body that is not JSON, logged once until a usable answer comes. */
static double
asked_every(struct agent_mgr *g, const char *body, size_t len)
{
    json_t *j = len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *v = json_object_get(j, "register_every");
    double every = json_number_value(v);
    bool ok = (len == 0 || j != NULL) &&
              (v == NULL || (json_is_number(v) && every >= AGENT_REGISTER_ASKED_MIN_S &&
                             every <= AGENT_REGISTER_ASKED_MAX_S));
    if (!ok && !g->every_bad && j == NULL) {
        log_warnx("manager url=%s answered the registration with a body that is not JSON; "
                  "registering every %g s",
                  g->url, AGENT_REGISTER_EVERY_S);
    } else if (!ok && !g->every_bad) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        log_warnx("manager url=%s answered register_every=%.40s: not a number of seconds from "
                  "%g to %g; registering every %g s",
                  g->url, text != NULL ? text : "?", AGENT_REGISTER_ASKED_MIN_S,
                  AGENT_REGISTER_ASKED_MAX_S, AGENT_REGISTER_EVERY_S);
        free(text);
    }
    json_decref(j);
    g->every_bad = !ok;
    if (v == NULL || !ok)
        every = AGENT_REGISTER_EVERY_S;
    if (every != g->every_s)
        log_info("registering every %g s with manager url=%s", every, g->url);
    return every;
}

static void
register_taken(struct agent_mgr *g, const char *body, size_t len)
{
    if (g->failing)
        log_info("registered with manager url=%s after %u failure%s", g->url, g->failures,
                 g->failures == 1 ? "" : "s");
    else if (!g->registered)
        log_info("registered with manager url=%s", g->url);
    g->registered = true;
    g->name_refused = false;
    g->failing = false;
    g->failures = 0;
    g->retry_s = AGENT_REGISTER_BACKOFF_FIRST_S;
    g->every_s = asked_every(g, body, len);
    /* The default's refreshes stay on the dot, as before; longer ones are spread. */
    register_later(g, g->every_s == AGENT_REGISTER_EVERY_S ? g->every_s
                                                           : g->every_s * (spread(g) + 0.25));
}

/* Another agent holds this name on this manager: an error an operator must end; said once
 * while it lasts, and the registration keeps being tried (the name frees when the other
 * agent stops answering, or is forgotten). */
static void
register_name_refused(struct agent_mgr *g, const char *body, size_t len)
{
    json_t *j = json_loadb(body != NULL ? body : "", len, 0, NULL);
    const char *e = json_string_value(json_object_get(j, "error"));
    if (!g->name_refused)
        log_errorx("registration refused manager=%s host=\"%s\": %.400s; retrying every 5 s",
                   g->url, g->a->opts->name, e != NULL ? e : "name held by another agent");
    json_decref(j);
    g->name_refused = true;
    g->registered = false;
    g->failing = false;
    g->failures = 0;
    g->retry_s = AGENT_REGISTER_BACKOFF_FIRST_S;
    register_later(g, AGENT_REGISTER_EVERY_S);
}

static void
register_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct agent_mgr *g = arg;
    if (status >= 200 && status < 300)
        register_taken(g, body, len);
    else if (status == 409)
        register_name_refused(g, body, len);
    else if (status == 0)
        register_failed(g, "registration failed manager=%s error=\"%s\"", g->url, err);
    else
        register_failed(g, "registration refused manager=%s status=%d body=%.200s", g->url, status,
                        body != NULL ? body : "");
}

static void
register_cb(evutil_socket_t fd, short what, void *arg)
{
    struct agent_mgr *g = arg;
    struct agent *a = g->a;
    (void)fd;
    (void)what;
    json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:f,s:s}", "name", a->opts->name, "url", a->url,
                          "backend", agent_backend_name(a->opts->backend), "version", WIRE_VERSION,
                          "interval", a->opts->interval_s, "mode", agent_mode_name(a->opts->mode));
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int r = body != NULL ? http_request(a->client, g->url, "POST", "/v1/agents", body,
                                        HTTP_TIMEOUT_S, register_done, g)
                         : -ENOMEM;
    free(body);
    if (r < 0)
        register_failed(g, "registration not sent manager=%s error=\"%s\"", g->url, strerror(-r));
}

int
agent_managers_start(struct agent *a)
{
    const struct agent_opts *o = a->opts;
    if (o->mode == AGENT_MODE_PEER || o->n_managers == 0)
        return 0;
    a->mgrs = calloc(o->n_managers, sizeof(*a->mgrs));
    if (a->mgrs == NULL)
        return -ENOMEM;
    a->n_mgrs = o->n_managers;
    for (size_t i = 0; i < a->n_mgrs; i++) {
        struct agent_mgr *g = &a->mgrs[i];
        g->a = a;
        g->url = o->managers[i];
        g->retry_s = AGENT_REGISTER_BACKOFF_FIRST_S;
        g->every_s = AGENT_REGISTER_EVERY_S;
        g->ev = event_new(a->base, -1, 0, register_cb, g);
        if (g->ev == NULL) {
            agent_managers_free(a);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < a->n_mgrs; i++)
        event_active(a->mgrs[i].ev, 0, 0);
    return 0;
}

void
agent_managers_free(struct agent *a)
{
    for (size_t i = 0; i < a->n_mgrs; i++) {
        if (a->mgrs[i].ev != NULL)
            event_free(a->mgrs[i].ev);
    }
    free(a->mgrs);
    a->mgrs = NULL;
    a->n_mgrs = 0;
}

struct agent_mgr_counts
agent_managers_count(const struct agent *a)
{
    struct agent_mgr_counts c = {0, 0, 0};
    for (size_t i = 0; i < a->n_mgrs; i++) {
        c.registered += a->mgrs[i].registered ? 1 : 0;
        c.refusing += a->mgrs[i].name_refused ? 1 : 0;
        c.failures += a->mgrs[i].failures_total;
    }
    return c;
}

static void
notify_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct agent_mgr *g = arg;
    (void)len;
    g->notify_in_flight = false;
    if (status == 200 || status == 202) {
        g->a->notifications++;
        return;
    }
    char what[400];
    if (status == 0)
        (void)snprintf(what, sizeof(what),
                       "conflict notification got no answer manager=%s error=\"%s\"; sending "
                       "again next sample",
                       g->url, err);
    else
        (void)snprintf(what, sizeof(what),
                       "conflict notification refused manager=%s status=%d body=%.200s", g->url,
                       status, body != NULL ? body : "");
    /* A manager whose registration fails already was said once: no warning each sample. */
    if (g->failing)
        log_debug("%s", what);
    else
        log_warnx("%s", what);
}

void
agent_managers_notify(struct agent *a, const char *body)
{
    if (a->n_mgrs == 0) {
        log_warnx("conflict on this host but no manager to notify (--manager URL)");
        return;
    }
    for (size_t i = 0; i < a->n_mgrs; i++) {
        struct agent_mgr *g = &a->mgrs[i];
        if (g->name_refused) {
            log_debug("conflict not notified manager=%s: it refuses this host's name (see "
                      "above)",
                      g->url);
            continue;
        }
        if (g->notify_in_flight)
            continue;
        int r = http_request(a->client, g->url, "POST", "/v1/notify",
                             body != NULL ? body : a->sample_json, HTTP_TIMEOUT_S, notify_done, g);
        if (r < 0) {
            log_warnx("conflict notification not sent manager=%s error=\"%s\"", g->url,
                      strerror(-r));
            continue;
        }
        g->notify_in_flight = true;
    }
}
