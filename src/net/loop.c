/* The daemons' event loop (see loop.h). */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "net/loop.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/log.h"
#include "common/token.h"
#include "net/http_client.h"
#include "net/http_conns.h" /* HTTP_FD_RESERVE */

/* The token file's tokens go into struct http_auth as they are. */
_Static_assert(HTTP_MAX_TOKEN == TOKEN_MAX, "one limit for the API token");

/* Ask the daemon for its status and send it when it changed. */
static void
send_status(struct loop *l)
{
    if (l->status_fn == NULL || l->notify.fd < 0)
        return;
    char buf[SDNOTIFY_MAX_STATUS + 1] = "";
    l->status_fn(l->status_ctx, buf, sizeof(buf));
    (void)sdnotify_status(&l->notify, buf);
}

static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    send_status(arg);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    struct loop *l = arg;
    (void)fd;
    (void)what;
    (void)sdnotify_send(&l->notify, "WATCHDOG=1");
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct loop *l = arg;
    (void)what;
    log_info("stopping signal=%d", (int)sig);
    (void)sdnotify_send(&l->notify, "STOPPING=1\nSTATUS=stopping");
    (void)event_base_loopexit(l->base, NULL);
}

int
loop_reload_token(struct loop *l)
{
    if (l->auth.token_file[0] == '\0') {
        log_warnx("SIGHUP: no token file to read again, ignoring");
        return -ENOENT;
    }
    char token[TOKEN_MAX + 1];
    char prev[TOKEN_MAX + 1];
    char err[600] = "";
    bool created = false;
    int r = token_load(l->auth.token_file, false, token, prev, &created, err, sizeof(err));
    bool loaded = r == 0;
    if (r == 0)
        r = http_client_set_token(l->client, token);
    if (r < 0) {
        log_errorx("API token not reloaded: %s; the tokens in use stay",
                   loaded ? (r == -ENOMEM ? "out of memory" : "the client refused it") : err);
        explicit_bzero(token, sizeof(token));
        explicit_bzero(prev, sizeof(prev));
        return r;
    }
    /* No byte of a retired token stays behind the new one's end. */
    explicit_bzero(l->auth.token, sizeof(l->auth.token));
    explicit_bzero(l->auth.prev_token, sizeof(l->auth.prev_token));
    (void)snprintf(l->auth.token, sizeof(l->auth.token), "%s", token);
    (void)snprintf(l->auth.prev_token, sizeof(l->auth.prev_token), "%s", prev);
    if (l->http != NULL)
        http_server_set_auth(l->http, &l->auth);
    explicit_bzero(token, sizeof(token));
    explicit_bzero(prev, sizeof(prev));
    log_info("API token reloaded file=%s previous_token=%s", l->auth.token_file,
             l->auth.prev_token[0] != '\0' ? "accepted" : "none");
    return 0;
}

static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
    struct loop *l = arg;
    (void)sig;
    (void)what;
    /* MONOTONIC_USEC dates the reload for systemd's Type=notify-reload (older ones ignore
     * it); READY=1 ends it. */
    struct timespec ts;
    char msg[80] = "RELOADING=1";
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        (void)snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
                       (unsigned long long)ts.tv_sec * 1000000ull +
                           (unsigned long long)ts.tv_nsec / 1000ull);
    (void)sdnotify_send(&l->notify, msg);
    /* A failure is logged and the tokens in use stay; the daemon's hook runs either way. */
    if (loop_reload_token(l) < 0)
        log_debug("SIGHUP: the token file was not read again");
    if (l->on_hup != NULL)
        l->on_hup(l->on_hup_ctx);
    (void)sdnotify_send(&l->notify, "READY=1");
    send_status(l);
}

void
loop_on_hup(struct loop *l, void (*fn)(void *ctx), void *ctx)
{
    l->on_hup = fn;
    l->on_hup_ctx = ctx;
}

/* How many outgoing connections a daemon keeps open at most: what the open-file limit leaves
 * beside its server's connections (`server_max`, max_connections, as the server lowers it to
 * fit the limit: http_conns.h) and HTTP_FD_RESERVE descriptors for the store, the logs and
 * the files it reads; never less than the quarter of the limit that the server always
 * leaves, less 16. A manager of 10,000 hosts holds a connection to each. 0: no limit. */
static size_t
client_conns(size_t server_max)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    size_t n = (size_t)rl.rlim_cur;
    size_t reserve = n <= 2 * HTTP_FD_RESERVE  ? n / 2
                     : n / 4 > HTTP_FD_RESERVE ? n / 4
                                               : HTTP_FD_RESERVE;
    size_t least = reserve > 32 ? reserve - 16 : reserve / 2 + 1;
    size_t server = n - reserve < server_max ? n - reserve : server_max;
    size_t rest = n > server + HTTP_FD_RESERVE ? n - server - HTTP_FD_RESERVE : 0;
    return rest > least ? rest : least;
}

void
loop_set_status(struct loop *l, void (*fn)(void *ctx, char *buf, size_t len), void *ctx)
{
    l->status_fn = fn;
    l->status_ctx = ctx;
}

/* The service manager's socket and, when it asks for them, the watchdog's pings and the
 * status timer. A bad environment is logged and ignored: the daemon runs without. 0 or
 * -ENOMEM. */
static int
notify_start(struct loop *l)
{
    char err[300];
    if (sdnotify_init(&l->notify, err, sizeof(err)) < 0)
        log_warnx("service manager: %s, ignoring", err);
    if (l->notify.fd < 0)
        return 0;
    l->status_ev = event_new(l->base, -1, EV_PERSIST, status_cb, l);
    struct timeval every = loop_tv(LOOP_STATUS_EVERY_S);
    if (l->status_ev == NULL || event_add(l->status_ev, &every) < 0)
        return -ENOMEM;
    if (l->notify.watchdog_us == 0)
        return 0;
    /* Half the interval, as sd_watchdog_enabled(3) advises: one late ping is no restart. */
    l->watchdog_ev = event_new(l->base, -1, EV_PERSIST, watchdog_cb, l);
    struct timeval half = loop_tv((double)l->notify.watchdog_us / 2e6);
    if (l->watchdog_ev == NULL || event_add(l->watchdog_ev, &half) < 0)
        return -ENOMEM;
    log_info("service manager watchdog every_s=%g", (double)l->notify.watchdog_us / 2e6);
    return 0;
}

int
loop_init(struct loop *l)
{
    memset(l, 0, sizeof(*l));
    http_limits_init(&l->limits);
    l->notify.fd = -1;
    (void)signal(SIGPIPE, SIG_IGN); /* a peer closing early must not kill a daemon */
    /* A manager holds a connection per agent at once: use all the descriptors allowed. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("cannot raise the open-file limit to %llu, ignoring",
                     (unsigned long long)want);
    }
    /* epoll's change list: an event added and deleted again before the loop waits (evhttp
     * does so around each request) costs no system call; 5 points of a core at 10,000
     * agents (bench/README.md). libevent's one condition, that no descriptor it watches is a
     * dup() of another, holds: vmloc dups only in a child before exec (child.c). */
    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        return -ENOMEM;
    (void)event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    l->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (l->base == NULL)
        return -ENOMEM;
    l->client = http_client_new(l->base);
    if (l->client != NULL)
        http_client_set_max_conns(l->client, client_conns(l->limits.max_connections));
    l->sig_term = evsignal_new(l->base, SIGTERM, signal_cb, l);
    l->sig_int = evsignal_new(l->base, SIGINT, signal_cb, l);
    l->sig_hup = evsignal_new(l->base, SIGHUP, hup_cb, l);
    if (l->client == NULL || l->sig_term == NULL || l->sig_int == NULL || l->sig_hup == NULL)
        return -ENOMEM;
    if (event_add(l->sig_term, NULL) < 0 || event_add(l->sig_int, NULL) < 0 ||
        event_add(l->sig_hup, NULL) < 0)
        return -ENOMEM;
    return notify_start(l);
}

int
loop_set_auth(struct loop *l, const struct http_auth *auth)
{
    int r = http_client_set_token(l->client, auth->token);
    if (r < 0)
        return r;
    l->auth = *auth;
    return 0;
}

void
loop_set_limits(struct loop *l, const struct http_limits *lim)
{
    l->limits = *lim;
    http_client_set_max_conns(l->client, client_conns(lim->max_connections));
}

void
loop_set_tls(struct loop *l, struct http_tls *tls)
{
    l->tls = tls;
    http_client_set_tls(l->client, tls);
}

int
loop_setup(struct loop *l, const struct loop_conf *c)
{
    int r = loop_init(l);
    if (r < 0) {
        log_errorx("cannot create the event loop");
        return r;
    }
    if (http_client_set_limits(l->client, c->max_answer, c->max_held) < 0) {
        log_errorx("the answer limits are not usable");
        return -EINVAL;
    }
    if (loop_set_auth(l, c->auth) < 0) {
        log_errorx("the API token is not usable");
        return -EINVAL;
    }
    loop_set_limits(l, c->limits);
    if (c->tls != NULL)
        loop_set_tls(l, c->tls);
    return 0;
}

int
loop_listen(struct loop *l, const char *listen, const struct http_route *routes, size_t n_routes,
            void *ctx)
{
    uint16_t unused;
    if (http_split_hostport(listen, l->addr, sizeof(l->addr), &unused) < 0)
        return -EINVAL;
    int r = http_server_start(l->base, listen, routes, n_routes, ctx, &l->http, &l->port);
    if (r < 0)
        return r;
    http_server_set_auth(l->http, &l->auth);
    http_server_set_limits(l->http, &l->limits);
    if (l->tls != NULL)
        http_server_set_tls(l->http, l->tls);
    (void)snprintf(l->url, sizeof(l->url), "%s://%s:%u", l->tls != NULL ? "https" : "http", l->addr,
                   (unsigned)l->port);
    return 0;
}

void
loop_announce(struct loop *l)
{
    (void)printf("listening on %s\n", l->url);
    (void)fflush(stdout);
    (void)sdnotify_send(&l->notify, "READY=1");
    send_status(l);
}

int
loop_run(struct loop *l)
{
    return event_base_dispatch(l->base) < 0 ? -EIO : 0;
}

void
loop_done(struct loop *l)
{
    if (l->sig_term != NULL)
        event_free(l->sig_term);
    if (l->sig_int != NULL)
        event_free(l->sig_int);
    if (l->sig_hup != NULL)
        event_free(l->sig_hup);
    if (l->watchdog_ev != NULL)
        event_free(l->watchdog_ev);
    if (l->status_ev != NULL)
        event_free(l->status_ev);
    sdnotify_done(&l->notify);
    http_server_free(l->http);
    http_client_free(l->client);
    if (l->base != NULL)
        event_base_free(l->base);
    memset(l, 0, sizeof(*l));
}

struct timeval
loop_tv(double seconds)
{
    struct timeval tv;
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    return tv;
}
