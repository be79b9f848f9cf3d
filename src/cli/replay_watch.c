/* `vmloc replay`: watching the live run (see replay_watch.h). */
#define _POSIX_C_SOURCE 200809L
#include "cli/replay_watch.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/hv_trace.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "net/http_client.h"
#include "proto/wire.h"

/* Host h's name, and VM v's. */
void
replay_host_name(size_t h, char *buf, size_t len)
{
    (void)snprintf(buf, len, "h%03zu", h);
}

void
replay_vm_name(size_t v, char *buf, size_t len)
{
    (void)snprintf(buf, len, "v%04zu", v);
}

/* The index in a name made by host_name() or vm_name(), or -1. */
long
replay_name_index(const char *name, char prefix, size_t n)
{
    if (name[0] != prefix || name[1] < '0' || name[1] > '9')
        return -1;
    char *end = NULL;
    unsigned long i = strtoul(name + 1, &end, 10);
    return *end == '\0' && i < n ? (long)i : -1;
}

static void
fetch_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct replay_fetch_one *f = arg;
    (void)err;
    f->status = status;
    f->done = true;
    free(f->body);
    f->body = NULL;
    if (status == 200 && body != NULL) {
        f->body = malloc(len + 1);
        if (f->body != NULL) {
            memcpy(f->body, body, len);
            f->body[len] = '\0';
        }
    }
}

static void
loop_exit_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)event_base_loopbreak(arg);
}

/* GET `path` from each of `urls` (`n`) at once, each with the time left until wall time
 * `deadline` to answer. Answers in fe->f[i]. Every request ends by its own time-out, so none
 * is left in flight to answer into the next round; should one be (the loop failing), the
 * client is replaced, which cancels it. */
void
replay_fetch_all(struct replay_fetch *fe, char (*urls)[128], size_t n, const char *path,
                 double deadline)
{
    for (size_t i = 0; i < n; i++) {
        free(fe->f[i].body);
        fe->f[i] = (struct replay_fetch_one){NULL, 0, false};
        double left = deadline - clock_wall_s();
        if (fe->client == NULL ||
            http_request(fe->client, urls[i], "GET", path, NULL, left > 0.05 ? left : 0.05,
                         fetch_done, &fe->f[i]) < 0)
            fe->f[i].done = true;
    }
    struct event *tick = evtimer_new(fe->base, loop_exit_cb, fe->base);
    double give_up = (deadline > clock_wall_s() ? deadline : clock_wall_s()) + 5.0;
    size_t pending = 0;
    for (;;) {
        pending = 0;
        for (size_t i = 0; i < n; i++)
            pending += !fe->f[i].done;
        if (pending == 0 || tick == NULL || clock_wall_s() > give_up)
            break;
        struct timeval tv = {0, 20000};
        (void)event_add(tick, &tv);
        (void)event_base_loop(fe->base, EVLOOP_ONCE);
    }
    if (tick != NULL)
        event_free(tick);
    if (pending > 0) {
        http_client_free(fe->client);
        fe->client = http_client_new(fe->base);
        if (fe->client != NULL && http_client_set_token(fe->client, fe->token) < 0) {
            http_client_free(fe->client);
            fe->client = NULL;
        }
    }
}

int
replay_fetcher_init(struct replay_fetch *fe, size_t n, const char *token)
{
    memset(fe, 0, sizeof(*fe));
    fe->base = event_base_new();
    fe->client = fe->base != NULL ? http_client_new(fe->base) : NULL;
    fe->f = calloc(n + 1, sizeof(*fe->f));
    fe->n = n;
    fe->token = token;
    if (fe->client == NULL || fe->f == NULL || http_client_set_token(fe->client, token) < 0)
        return -ENOMEM;
    return 0;
}

void
replay_fetcher_done(struct replay_fetch *fe)
{
    for (size_t i = 0; fe->f != NULL && i < fe->n; i++)
        free(fe->f[i].body);
    free(fe->f);
    http_client_free(fe->client);
    if (fe->base != NULL)
        event_base_free(fe->base);
}

void
replay_sleep_until(double wall)
{
    for (;;) {
        double left = wall - clock_wall_s();
        if (left <= 0)
            return;
        struct timespec ts = {(time_t)left, (long)((left - floor(left)) * 1e9)};
        if (nanosleep(&ts, NULL) == 0)
            return;
    }
}

/* The host's thresholds under the policy, per kind (its [host] overrides included). */
static void
host_thresholds(const struct replay *rp, size_t h, double *ret)
{
    struct host hs;
    memset(&hs, 0, sizeof(hs));
    char name[32];
    replay_host_name(h, name, sizeof(name));
    hs.name = name;
    hs.capacity = rp->dc.hosts[h].total_mips / 1000.0;
    struct host_params hp;
    policy_host_params(&rp->policy, &hs, &hp);
    memcpy(ret, hp.host_threshold, sizeof(hp.host_threshold));
}

/* One observation of every agent: the step's figures and the placement. Samples older than
 * `oldest` (wall time) are not this step's. */
void
replay_observe(struct replay *rp, struct replay_fetch *fe, bool scheduled, double oldest,
               double deadline, struct livestat_host *obs, uint32_t *active)
{
    replay_fetch_all(fe, rp->agent_url, rp->n_hosts,
                     scheduled ? "/v1/sample?scheduled=1" : "/v1/sample", deadline);
    unsigned checked = policy_resource_mask(&rp->policy) | KIND_BIT(KIND_CPU);
    livestat_place_begin(&rp->ls);
    *active = 0;
    for (size_t h = 0; h < rp->n_hosts; h++) {
        struct livestat_host *o = &obs[h];
        memset(o, 0, sizeof(*o));
        struct wire_sample s;
        struct perr err;
        if (fe->f[h].body == NULL ||
            wire_sample_decode(fe->f[h].body, strlen(fe->f[h].body), &s, &err) < 0)
            continue;
        if (s.time >= oldest) {
            double thr[KIND_COUNT];
            host_thresholds(rp, h, thr);
            o->seen = true;
            o->cpu_pct = s.usage[KIND_CPU];
            for (unsigned k = 0; k < KIND_COUNT; k++)
                o->overloaded |= (checked & KIND_BIT(k)) && s.usage[k] > thr[k];
        }
        /* The trace sample the agents ask for at this sample's time. */
        double k = floor((s.time - (rp->t0 - rp->step_s)) / rp->step_s + 0.5);
        double at = (k < 1 ? 1 : k) * TRACE_STEP_S + HV_TRACE_OFFSET_S;
        for (size_t i = 0; i < s.n_vms; i++) {
            const struct wire_sample_vm *v = &s.vms[i];
            long vi = replay_name_index(v->name, 'v', rp->trace.n_vms);
            if (vi >= 0)
                livestat_place_vm(&rp->ls, (uint32_t)vi, !v->incoming && !v->migrating_out);
            if (o->seen) {
                o->demand_pct += v->demand[KIND_CPU];
                o->served_pct += v->usage[KIND_CPU];
                o->busy |= vi >= 0 && !v->incoming && rp->dc.vms[vi].mips > 0 &&
                           trace_value(&rp->trace, rp->trace.cpu, (size_t)vi, at) > 0;
            }
        }
        *active += o->seen && o->cpu_pct > 0;
        wire_sample_done(&s);
    }
    livestat_place_end(&rp->ls);
}

/* The migrations the system recorded, from the manager or from every peer, into rp->moves
 * (merged by id: a list is the last 1,000). */
int
replay_collect_moves(struct replay *rp, struct replay_fetch *fe, json_t *seen, double deadline)
{
    bool peer = rp->mode == REPLAY_PEER;
    size_t n = peer ? rp->n_hosts : 1;
    char(*urls)[128] = peer ? rp->agent_url : &rp->manager_url;
    replay_fetch_all(fe, urls, n, "/v1/migrations?limit=1000", deadline);
    int running = 0;
    for (size_t i = 0; i < n; i++) {
        if (fe->f[i].body == NULL)
            return -EIO;
        json_t *arr = json_loads(fe->f[i].body, 0, NULL);
        size_t k;
        json_t *m;
        json_array_foreach(arr, k, m)
        {
            const char *state = cli_jstr(m, "state");
            if (strcmp(state, "done") != 0 && strcmp(state, "failed") != 0)
                running++;
            (void)json_object_set(seen, cli_jstr(m, "id"), m);
        }
        json_decref(arr);
    }
    return running;
}

/* rp->moves from the records: indices, times and what the VM asked for when it started. */
int
replay_moves_from(struct replay *rp, json_t *seen)
{
    size_t n = json_object_size(seen);
    free(rp->moves);
    rp->moves = calloc(n + 1, sizeof(*rp->moves));
    if (rp->moves == NULL)
        return -ENOMEM;
    rp->n_moves = 0;
    const char *key;
    json_t *m;
    json_object_foreach(seen, key, m)
    {
        long vm = replay_name_index(cli_jstr(m, "vm"), 'v', rp->trace.n_vms);
        long from = replay_name_index(cli_jstr(m, "from"), 'h', rp->n_hosts);
        long to = replay_name_index(cli_jstr(m, "to"), 'h', rp->n_hosts);
        if (vm < 0 || from < 0 || to < 0)
            continue;
        struct livestat_move *mv = &rp->moves[rp->n_moves++];
        mv->vm = (uint32_t)vm;
        mv->from = (uint32_t)from;
        mv->to = (uint32_t)to;
        mv->started = json_number_value(json_object_get(m, "started"));
        mv->finished = json_number_value(json_object_get(m, "finished"));
        mv->done = strcmp(cli_jstr(m, "state"), "done") == 0;
        if (!(mv->finished >= mv->started))
            mv->finished = mv->started;
        /* What it asked for then: its trace sample of that step, capped at a core of the
         * source per VM core. */
        double j = floor((mv->started - rp->t0) / rp->step_s);
        size_t k = j < 0 ? 1 : (size_t)j + 1;
        const struct dc_vm *dv = &rp->dc.vms[vm];
        const struct power_host_type *t = rp->types[from];
        double req = trace_value(&rp->trace, rp->trace.cpu, (size_t)vm,
                                 (double)k * TRACE_STEP_S + HV_TRACE_OFFSET_S) *
                     dv->mips;
        double cap = t->pe_mips * (dv->pes > 0 ? dv->pes : 1);
        mv->demand_mips = req < cap ? req : cap;
    }
    return 0;
}

/* The hosts known to the manager and up. */
size_t
replay_hosts_up(struct replay *rp, struct replay_fetch *fe, double deadline)
{
    replay_fetch_all(fe, &rp->manager_url, 1, "/v1/hosts", deadline);
    json_t *arr = fe->f[0].body != NULL ? json_loads(fe->f[0].body, 0, NULL) : NULL;
    size_t up = 0;
    size_t k;
    json_t *h;
    json_array_foreach(arr, k, h)
    {
        up += strcmp(cli_jstr(h, "state"), "up") == 0;
    }
    json_decref(arr);
    return up;
}
