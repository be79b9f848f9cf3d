/* bench_scale: one real vmloc manager against many agents. Running 1,000 vmloc agents would
 * need 1,000 processes, so this process is the load generator: it serves N fake agents on N
 * loopback ports with libevent's evhttp, or in one-port mode all of them on one port with a
 * lean server of its own (fake_http.h), each speaking the agent protocol the manager uses
 * (GET /v1/sample in the agent's JSON layout, POST /v1/migrations, GET /v1/migrations/ID),
 * registers each with the manager through POST /v1/agents and refreshes that registration
 * every 5 s as a real agent does. Each interval it puts about 1 % of the hosts in conflict
 * (two VMs raised to 25-45 %); a fake agent carries out an ordered migration at once (the VM
 * appears on the destination, the source calms down) and reports it done.
 *
 * After the registrations and a warm-up it measures, for --seconds: the manager's CPU time
 * (utime + stime from /proc/PID/stat) as a share of one core, its resident memory
 * (/proc/PID/status), and from GET /v1/health the collection round time (last_round_ms) and
 * the decision time (last_decide_ms) of every round. The fake agents also time each round
 * from their side (first to last sample request). Targets at a 1 s interval: manager < 25 %
 * of one core and rounds < 200 ms (p99) up to 1,000 agents, < 60 % and < 500 ms from 10,000
 * agents, none between. A benchmark, not a gate: it
 * exits 0 once the options parse (2 for bad options).
 *
 * It is also the load test: it reports how long each conflict waited from the first sample
 * that showed it to the manager's order, the rounds missed (fewer round starts than
 * intervals), and the manager's memory over the second half of the run; with --check it exits
 * 1 unless no round was missed, every conflict was ordered within one interval, and memory
 * held steady (the CI runs 2,000 agents for a short while this way). */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "core/model.h"
#include "fake_http.h"
#include "net/http_client.h"
#include "store/store.h"
#include "store/store_codec.h"

#define KINDS 4
#define MAX_AGENTS 60000 /* one-port mode names up to 64,000 addresses */
#define MAX_VMS_PER_AGENT 1000
#define MIG_HISTORY 8
#define REREGISTER_S 5.0 /* as src/agent/agent.c */
#define REG_CONCURRENCY 32
#define REREG_IN_FLIGHT 200
#define HOST_MEM_MIB 262144.0
#define OVERHEAD_CPU 2.0

/* The scale targets (bench/README.md): up to 1,000 agents, and from 10,000; none between. */
#define TARGET_1K_AGENTS 1000
#define TARGET_CPU_PCT 25.0
#define TARGET_ROUND_MS 200.0
#define TARGET_10K_AGENTS 10000
#define TARGET_10K_CPU_PCT 60.0
#define TARGET_10K_ROUND_MS 500.0
/* Load test (--check): RSS may grow at most this much over the second half of the run. */
#define TARGET_RSS_GROWTH_MIB 4.0
/* The store's write rate in steady state, per 1,000 hosts (issue's target, bench/README.md). */
#define TARGET_WRITE_MIB_PER_K 0.1
/* The manager's default --retention (docs/running.md), and the least steady state to measure. */
#define MANAGER_RETENTION_S 600.0
#define STEADY_MIN_S 60.0
/* Raw samples are emptied a table at a time, a table a sixth of the retention
 * (src/store/store_ring.c): the store holds from the retention to a sixth more (the table
 * emptied as the current one begins, whose pages the current one then takes). */
#define RAW_SEGMENT (1.0 / 6.0)

/* ---- deterministic generator --------------------------------------------------------- */

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

/* Multiples of 1/8, as the agent's rounding to 3 decimals keeps them exact. */
static double
q8(double v)
{
    return round(v * 8.0) / 8.0;
}

/* ---- fake agents --------------------------------------------------------------------- */

struct fvm {
    char name[24];
    double demand[KINDS];
    double normal_cpu; /* the demand it returns to when its host calms down */
    double mem_mib;
};

struct fmig {
    char id[72];
    char vm[24];
    char to_name[24];
    char to_url[64];
    double started;
    double mem_mib;
};

/* A growing text buffer. */
struct sb {
    char *p;
    size_t len;
    size_t cap;
};

struct lg;

struct fagent {
    struct lg *lg;
    size_t idx;
    char name[24];
    char url[64];
    struct evhttp *http;
    uint64_t seq;
    struct fvm *vms;
    size_t n_vms;
    size_t cap_vms;
    struct fmig migs[MIG_HISTORY];
    size_t n_migs;                  /* total; the last MIG_HISTORY are kept */
    bool hot;                       /* a conflict was put here and no migration resolved it yet */
    double hot_shown;               /* monotonic: first sample served while hot (0: none yet) */
    double last_move;               /* monotonic: a VM last left or arrived (0: never) */
    double hot_x, hot_y, hot_total; /* the conflict put: the two VMs' demand, the host's */
    bool reg_in_flight;
    bool registered;
    double next_reg; /* monotonic time of the next registration */
    uint64_t served;
    struct sb rest; /* the sample after its time (NULL: to be built) */
};

enum phase {
    PH_REGISTER = 0,
    PH_WARMUP = 1,
    PH_MEASURE = 2,
    PH_DONE = 3,
};

struct opts {
    size_t agents;
    size_t vms;
    double seconds;
    double interval;
    double warmup;
    double conflict_pct; /* % of hosts put in conflict each interval */
    bool reregister;
    long manager_nofile; /* 0: the hard limit */
    double retention;    /* the manager's --retention; 0: its default */
    bool json;
    bool keep;
    bool check;        /* exit 1 when the load test's conditions fail */
    bool one_port;     /* every agent on one listening socket, even when descriptors suffice */
    bool full_samples; /* every field of every VM, as agents before the compact sample */
    const char *vmloc;
};

/* What the store holds once the manager stopped, read with SQLite (its dbstat table): the
 * bytes of each kind of row, tables and indexes, and how many rows. */
struct store_fig {
    bool read;
    long long raw_rows;
    long long raw_bytes;
    long long ru_rows;
    long long ru_minutes;
    long long ru_blob_bytes; /* the roll-up BLOBs alone */
    /* The BLOBs read with the store's codec: what each row's first minute costs (header,
     * each column's mode and first value) and what the minutes after add. */
    long long ru_first_bytes;
    long long ru_more_bytes;
    long long ru_more_minutes;
    long long ru_unread; /* BLOBs the codec refused */
    long long ru_bytes;
    long long other_bytes; /* names, events, agents, the schema */
};

/* One integer from `sql`, 0 when it fails (a table this store lacks). */
static long long
sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Split each roll-up BLOB into its first minute (the hour encoded again with only that
 * minute) and the rest: a run of a minute or two holds rows of one to three minutes, whose
 * first minute would otherwise count as much as the 59 after it. */
static void
rollup_split(sqlite3 *db, struct store_fig *f)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT data FROM rollups", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        struct store_hour h;
        if (p == NULL || store_hour_decode(p, len, &h) < 0 || h.present == 0) {
            f->ru_unread++;
            continue;
        }
        uint64_t all = h.present;
        h.present = all & (~all + 1); /* the first minute alone */
        uint8_t buf[STORE_HOUR_MAX_BYTES];
        size_t first = store_hour_encode(&h, buf);
        f->ru_first_bytes += (long long)first;
        f->ru_more_bytes += (long long)len - (long long)first;
        f->ru_more_minutes += __builtin_popcountll(all) - 1;
    }
    sqlite3_finalize(st);
}

static void
store_figures(const char *data, struct store_fig *f)
{
    char path[700];
    (void)snprintf(path, sizeof(path), "%s/vmloc.db", data);
    sqlite3 *db = NULL;
    memset(f, 0, sizeof(*f));
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name", -1, &st,
                           NULL) == SQLITE_OK) {
        f->read = true;
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *n = (const char *)sqlite3_column_text(st, 0);
            long long b = sqlite3_column_int64(st, 1);
            /* Raw samples: the table and its index (samples_time before v3, samples_host in
             * v7, samples_time_host from v8), or the ring's tables and theirs (from v9). */
            if (strncmp(n, "samples", 7) == 0)
                f->raw_bytes += b;
            else if (strncmp(n, "rollups", 7) == 0)
                f->ru_bytes += b;
            else
                f->other_bytes += b;
        }
    }
    sqlite3_finalize(st);
    /* The ring's tables (schema 9), or the one table of a manager older than them (a pair
     * run against an older build). */
    bool ring = sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'samples_0'") > 0;
    f->raw_rows = sql_int(db, ring ? STORE_RAW_COUNT_SQL : "SELECT count(*) FROM samples");
    f->ru_rows = sql_int(db, "SELECT count(*) FROM rollups");
    f->ru_minutes = sql_int(db, "SELECT SUM(minutes) FROM rollups");
    f->ru_blob_bytes = sql_int(db, "SELECT SUM(length(data)) FROM rollups");
    rollup_split(db, f);
    sqlite3_close(db);
}

/* Bytes per host in steady state at the default retentions (10 minutes of raw samples, one
 * every 10 s, and up to a segment more; 7 days of roll-ups, an hour to a row),
 * from the store's own per-row sizes: a raw row at its measured size; an hour of roll-ups at the
 * measured bytes of a row's first minute plus 59 times the measured bytes of each minute after,
 * plus the measured bytes per row beside the BLOB (key, index, page slack). The roll-ups are
 * unknown (*ret_ru_day and the result < 0) while no row holds two minutes: a short run that crossed
 * no minute. */
static double
steady_bytes_per_host(const struct store_fig *f, double *ret_raw, double *ret_ru_day)
{
    double raw = f->raw_rows > 0
                     ? (double)f->raw_bytes / (double)f->raw_rows * 60.0 * (1.0 + RAW_SEGMENT)
                     : 0;
    double ru_day = -1;
    long long rows = f->ru_rows - f->ru_unread;
    if (rows > 0 && f->ru_more_minutes > 0) {
        double first = (double)f->ru_first_bytes / (double)rows;
        double more = (double)f->ru_more_bytes / (double)f->ru_more_minutes;
        double beside = (double)(f->ru_bytes - f->ru_blob_bytes) / (double)f->ru_rows;
        ru_day = 24.0 * (beside + first + 59.0 * more);
    }
    *ret_raw = raw;
    *ret_ru_day = ru_day;
    return ru_day >= 0 ? raw + 7.0 * ru_day : -1;
}

struct round_rec {
    double round_ms;
    double decide_ms;
};

struct proc_snap {
    double wall;
    long long write_bytes;    /* /proc/PID/io: bytes it had written to storage */
    unsigned long long ticks; /* utime + stime */
    unsigned long long utime;
    unsigned long long stime;
    long rss_kib;
    long hwm_kib;
};

struct lg {
    struct opts o;
    struct event_base *base;
    struct http_client *client;
    struct fagent *agents;
    size_t n;
    struct bench_daemon mgr;
    char dir[512];
    enum phase phase;
    double phase_started;
    /* registration */
    size_t next_initial;
    size_t rereg_next; /* the agent reregister_due() looks at next */
    size_t reg_in_flight;
    size_t registered;
    uint64_t reg_posts;
    uint64_t reg_failures;
    int reg_last_status;
    /* health */
    bool health_in_flight;
    double last_round_seen;
    double last_decide_seen;
    long long health_agents;
    long long health_rounds;
    long long health_active;
    long long stored_samples;
    long long store_bytes;
    long long rounds_at_start;
    long long rounds_at_end;
    struct round_rec *rounds;
    size_t n_rounds;
    size_t cap_rounds;
    uint64_t health_failures;
    /* the agents' view of rounds */
    double burst_first;
    double burst_last;
    size_t burst_count;
    double *bursts_ms;
    double *burst_starts; /* monotonic time of each round's first request */
    size_t *burst_sizes;
    size_t n_bursts;
    size_t cap_bursts;
    /* counters */
    uint64_t samples_served;
    uint64_t samples_at_start;
    uint64_t samples_at_end;
    uint64_t conflicts_put;
    uint64_t orders;
    uint64_t orders_at_start;
    uint64_t orders_at_end;
    uint64_t follows;
    uint64_t other_requests;
    /* conflicts: sample that first showed one to the order that resolved it, measured */
    double *lat_s;
    size_t n_lat;
    size_t cap_lat;
    size_t late_open;   /* shown for more than one interval and never ordered by the end */
    double *rss_series; /* MiB, per second of the measurement */
    size_t n_rss;
    size_t cap_rss;
    /* manager process */
    long clk_tck;
    struct proc_snap p_start;  /* just after it listens */
    struct proc_snap p_warm;   /* start of the measurement */
    struct proc_snap p_end;    /* end of the measurement */
    struct proc_snap p_steady; /* the first once the store holds its retention; wall 0: never */
    double *cpu_series;        /* % of one core, per second of the measurement */
    size_t n_series;
    size_t cap_series;
    struct proc_snap p_prev;
    struct rusage self_start;
    struct rusage self_end;
    double self_wall_start;
    double self_wall_end;
    long long data_bytes;
    struct store_fig sf;
    struct event *tick_ev;     /* 100 ms: registrations, phases */
    struct event *inject_ev;   /* every interval: conflicts */
    struct event *health_ev;   /* interval / 4 */
    struct event *proc_ev;     /* 1 s */
    struct fhttp *shared_http; /* one-port mode: the listener of every agent (fake_http.h) */
    unsigned shared_port;
    bool failed;
    char fail_msg[256];
};

static void
sb_add(struct sb *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 8192;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_str(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* A real number as jansson prints one (json_real: "%.17g", ".0" added to integers). */
static void
sb_real(struct sb *b, double v)
{
    char t[48];
    int n = snprintf(t, sizeof(t), "%.17g", v);
    if (n < 0)
        return;
    sb_add(b, t, (size_t)n);
    if (strpbrk(t, ".eE") == NULL && strcmp(t, "inf") != 0 && strcmp(t, "nan") != 0)
        sb_str(b, ".0");
}

static void
sb_kinds(struct sb *b, const double *v)
{
    sb_str(b, "{");
    for (int k = 0; k < KINDS; k++) {
        sb_str(b, k > 0 ? ",\"" : "\"");
        sb_str(b, kind_name((enum kind)k));
        sb_str(b, "\":");
        sb_real(b, round(v[k] * 1000.0) / 1000.0);
    }
    sb_str(b, "}");
}

/* The sample after its time, field by field as agent_sample() in src/agent/agent.c writes it
 * (compact), with the usage simhost_allocate() gives: every VM gets its demand while the host has
 * room, else the same fraction of it, per kind; the host's total is capped at 100. */
static void
build_rest(struct fagent *a, struct sb *b)
{
    const double overhead[KINDS] = {OVERHEAD_CPU, 0, 0, 0};
    double scale[KINDS];
    double host[KINDS];
    for (int k = 0; k < KINDS; k++) {
        double want = 0;
        for (size_t i = 0; i < a->n_vms; i++)
            want += a->vms[i].demand[k];
        double avail = 100.0 - overhead[k];
        scale[k] = want > avail && want > 0 ? avail / want : 1.0;
        double total = overhead[k] + want * scale[k];
        host[k] = total > 100.0 ? 100.0 : total;
    }
    sb_str(b, ",\"url\":\"");
    sb_str(b, a->url);
    sb_str(b, "\",\"host\":{\"name\":\"");
    sb_str(b, a->name);
    sb_str(b, "\",\"capacity\":1.0,\"mem_mib\":");
    sb_real(b, HOST_MEM_MIB);
    sb_str(b, ",\"state\":\"up\",\"usage\":");
    sb_kinds(b, host);
    sb_str(b, ",\"vms\":[");
    for (size_t i = 0; i < a->n_vms; i++) {
        const struct fvm *v = &a->vms[i];
        double use[KINDS];
        for (int k = 0; k < KINDS; k++)
            use[k] = v->demand[k] * scale[k];
        sb_str(b, i > 0 ? ",{\"name\":\"" : "{\"name\":\"");
        sb_str(b, v->name);
        sb_str(b, "\",\"usage\":");
        sb_kinds(b, use);
        /* As the agent: demand only where it differs from usage as written; priority 0, not
         * pinned and running are the defaults, left out. */
        bool same = !a->lg->o.full_samples;
        for (int k = 0; k < KINDS; k++)
            same = same && round(use[k] * 1000.0) == round(v->demand[k] * 1000.0);
        if (!same) {
            sb_str(b, ",\"demand\":");
            sb_kinds(b, v->demand);
        }
        sb_str(b, ",\"mem_mib\":");
        sb_real(b, v->mem_mib);
        sb_str(b, a->lg->o.full_samples ? ",\"priority\":0,\"pinned\":false,\"state\":\"running\"}"
                                        : "}");
    }
    sb_str(b, "]}}");
}

/* The sample: its sequence number and time, then the rest, built again only after the
 * agent's VMs changed (agent_changed()): serving 10,000 agents a second leaves the manager
 * most of the machine. */
static void
build_sample(struct fagent *a, struct sb *b)
{
    a->seq++;
    char t[160];
    (void)snprintf(t, sizeof(t),
                   "{\"version\":1,\"seq\":%llu,\"time\":", (unsigned long long)a->seq);
    sb_str(b, t);
    sb_real(b, bench_wall_s());
    if (a->rest.p == NULL)
        build_rest(a, &a->rest);
    if (a->rest.p != NULL)
        sb_add(b, a->rest.p, a->rest.len);
    else { /* out of memory: no sample */
        free(b->p);
        memset(b, 0, sizeof(*b));
    }
}

/* The agent's VMs or their demand changed: its sample is built afresh. */
static void
agent_changed(struct fagent *a)
{
    free(a->rest.p);
    memset(&a->rest, 0, sizeof(a->rest));
}

static void
reply(struct evhttp_request *req, int code, const char *body, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    (void)evhttp_add_header(h, "Content-Type", "application/json");
    (void)evhttp_add_header(h, "Cache-Control", "no-store");
    (void)evbuffer_add(buf, body, len);
    evhttp_send_reply(req, code, NULL, buf);
    evbuffer_free(buf);
}

/* A fake agent's answer: its status and JSON body (NULL: none; out of memory in building it
 * gives a short body, a benchmark's figure, not the manager's). */
struct answer {
    int code;
    struct sb body;
};

static void
answer_error(struct answer *ans, int code, const char *msg)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\": \"%s\"}", msg);
    ans->code = code;
    free(ans->body.p);
    memset(&ans->body, 0, sizeof(ans->body));
    sb_add(&ans->body, body, n > 0 ? (size_t)n : 0);
}

static void
migration_json(const struct fagent *a, const struct fmig *m, const char *state, struct sb *b)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:o,s:n,s:f,s:f}", "id", m->id, "vm", m->vm,
                          "from", a->name, "to", m->to_name, "to_url", m->to_url, "state", state,
                          "started", m->started, "finished",
                          strcmp(state, "running") == 0 ? json_null() : json_real(m->started),
                          "error", "mem_mib", m->mem_mib, "transfer_s", 0.0);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s != NULL)
        sb_str(b, s);
    free(s);
}

static struct fagent *
agent_by_name(struct lg *lg, const char *name)
{
    if (strncmp(name, "fh", 2) != 0)
        return NULL;
    char *end = NULL;
    errno = 0;
    unsigned long i = strtoul(name + 2, &end, 10);
    if (errno != 0 || *end != '\0' || i >= lg->n)
        return NULL;
    return &lg->agents[i];
}

static int
vm_push(struct fagent *a, const struct fvm *v)
{
    if (a->n_vms == a->cap_vms) {
        size_t cap = a->cap_vms > 0 ? a->cap_vms * 2 : 32;
        struct fvm *n = realloc(a->vms, cap * sizeof(*n));
        if (n == NULL)
            return -ENOMEM;
        a->vms = n;
        a->cap_vms = cap;
    }
    a->vms[a->n_vms++] = *v;
    return 0;
}

/* Every VM back to its normal demand: the load that caused a conflict went away. */
static void
calm_down(struct fagent *a)
{
    for (size_t i = 0; i < a->n_vms; i++)
        a->vms[i].demand[0] = a->vms[i].normal_cpu;
    agent_changed(a);
    a->hot = false;
    a->hot_shown = 0;
}

/* Append `v` to a growing array of doubles (dropped on OOM: a benchmark figure, not state). */
static void
push_double(double **arr, size_t *n, size_t *cap, double v)
{
    if (*n == *cap) {
        size_t c = *cap > 0 ? *cap * 2 : 256;
        double *p = realloc(*arr, c * sizeof(*p));
        if (p == NULL)
            return;
        *arr = p;
        *cap = c;
    }
    (*arr)[(*n)++] = v;
}

/* POST /v1/migrations: carried out at once. The VM leaves, the source calms down, the
 * destination runs the VM at its normal demand. */
static void
post_migration(struct fagent *a, const char *body, size_t len, struct answer *ans)
{
    struct lg *lg = a->lg;
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *vm = json_string_value(json_object_get(j, "vm"));
    const char *to = json_string_value(json_object_get(j, "to"));
    const char *to_name = json_string_value(json_object_get(j, "to_name"));
    if (id == NULL || vm == NULL || to == NULL || to_name == NULL) {
        json_decref(j);
        answer_error(ans, 400, "id, vm, to and to_name are required");
        return;
    }
    for (size_t i = 0; i < MIG_HISTORY && i < a->n_migs; i++) {
        if (strcmp(a->migs[i].id, id) == 0) {
            json_decref(j);
            answer_error(ans, 409, "a migration with this id exists");
            return;
        }
    }
    struct fagent *dst = agent_by_name(lg, to_name);
    size_t vi = a->n_vms;
    for (size_t i = 0; i < a->n_vms; i++) {
        if (strcmp(a->vms[i].name, vm) == 0)
            vi = i;
    }
    if (vi == a->n_vms || dst == NULL || dst == a) {
        json_decref(j);
        answer_error(ans, vi == a->n_vms ? 404 : 400, "no such VM or destination");
        return;
    }
    struct fvm v = a->vms[vi];
    memmove(&a->vms[vi], &a->vms[vi + 1], (a->n_vms - vi - 1) * sizeof(v));
    a->n_vms--;
    double now = bench_mono_s();
    if (a->hot && a->hot_shown > 0 && lg->phase == PH_MEASURE) {
        double lat = now - a->hot_shown;
        push_double(&lg->lat_s, &lg->n_lat, &lg->cap_lat, lat);
        if (lat > lg->o.interval)
            (void)fprintf(stderr,
                          "late: %s %.0f ms after it showed the conflict; its last move "
                          "%.0f ms before that\n",
                          a->name, lat * 1000.0,
                          a->last_move > 0 ? (a->hot_shown - a->last_move) * 1000.0 : -1.0);
    }
    a->last_move = now;
    dst->last_move = now;
    calm_down(a);
    v.demand[0] = v.normal_cpu;
    (void)vm_push(dst, &v);
    agent_changed(dst);
    struct fmig *m = &a->migs[a->n_migs % MIG_HISTORY];
    a->n_migs++;
    memset(m, 0, sizeof(*m));
    (void)snprintf(m->id, sizeof(m->id), "%s", id);
    (void)snprintf(m->vm, sizeof(m->vm), "%s", vm);
    (void)snprintf(m->to_name, sizeof(m->to_name), "%s", to_name);
    (void)snprintf(m->to_url, sizeof(m->to_url), "%s", to);
    m->started = bench_wall_s();
    m->mem_mib = v.mem_mib;
    json_decref(j);
    lg->orders++;
    ans->code = 202;
    migration_json(a, m, "running", &ans->body);
}

static void
get_migration(struct fagent *a, const char *id, struct answer *ans)
{
    a->lg->follows++;
    size_t n = a->n_migs < MIG_HISTORY ? a->n_migs : MIG_HISTORY;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a->migs[i].id, id) == 0) {
            ans->code = 200;
            migration_json(a, &a->migs[i], "done", &ans->body);
            return;
        }
    }
    answer_error(ans, 404, "no such migration");
}

static void
note_sample_request(struct lg *lg)
{
    if (lg->phase != PH_MEASURE)
        return;
    double now = bench_mono_s();
    /* A gap of half an interval separates two rounds. */
    if (lg->burst_count > 0 && now - lg->burst_last > lg->o.interval / 2) {
        if (lg->n_bursts == lg->cap_bursts) {
            size_t cap = lg->cap_bursts > 0 ? lg->cap_bursts * 2 : 256;
            double *nb = realloc(lg->bursts_ms, cap * sizeof(*nb));
            if (nb != NULL)
                lg->bursts_ms = nb;
            double *nt = realloc(lg->burst_starts, cap * sizeof(*nt));
            if (nt != NULL)
                lg->burst_starts = nt;
            size_t *ns = realloc(lg->burst_sizes, cap * sizeof(*ns));
            if (ns != NULL)
                lg->burst_sizes = ns;
            if (nb != NULL && nt != NULL && ns != NULL)
                lg->cap_bursts = cap;
        }
        if (lg->n_bursts < lg->cap_bursts) {
            lg->bursts_ms[lg->n_bursts] = (lg->burst_last - lg->burst_first) * 1000.0;
            lg->burst_starts[lg->n_bursts] = lg->burst_first;
            lg->burst_sizes[lg->n_bursts] = lg->burst_count;
            lg->n_bursts++;
        }
        lg->burst_count = 0;
    }
    if (lg->burst_count == 0)
        lg->burst_first = now;
    lg->burst_last = now;
    lg->burst_count++;
}

/* What fake agent `a` answers to a GET (`post` false) or POST of `path`. */
static void
agent_answer(struct fagent *a, bool post, const char *path, const char *body, size_t len,
             struct answer *ans)
{
    struct lg *lg = a->lg;
    if (!post && strcmp(path, "/v1/sample") == 0) {
        note_sample_request(lg);
        build_sample(a, &ans->body);
        if (ans->body.p == NULL) {
            answer_error(ans, 503, "out of memory");
            return;
        }
        ans->code = 200;
        if (a->hot && a->hot_shown == 0)
            a->hot_shown = bench_mono_s();
        a->served++;
        lg->samples_served++;
        return;
    }
    if (post && strcmp(path, "/v1/migrations") == 0) {
        post_migration(a, body, len, ans);
        return;
    }
    if (!post && strncmp(path, "/v1/migrations/", 15) == 0) {
        get_migration(a, path + 15, ans);
        return;
    }
    lg->other_requests++;
    if (!post && strcmp(path, "/v1/health") == 0) {
        char t[256];
        int n = snprintf(t, sizeof(t),
                         "{\"role\":\"agent\",\"name\":\"%s\",\"mode\":\"central\",\"backend\":"
                         "\"sim\",\"version\":1,\"vms\":%zu}",
                         a->name, a->n_vms);
        ans->code = 200;
        sb_add(&ans->body, t, n > 0 ? (size_t)n : 0);
        return;
    }
    answer_error(ans, 404, "no such resource");
}

/* A fake agent on its own evhttp listener. */
static void
agent_cb(struct evhttp_request *req, void *arg)
{
    struct fagent *a = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct answer ans = {0};
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *body = malloc(len + 1);
    if (uri == NULL || body == NULL) {
        answer_error(&ans, uri == NULL ? 400 : 503, uri == NULL ? "no URI" : "out of memory");
    } else {
        (void)evbuffer_copyout(in, body, len);
        body[len] = '\0';
        agent_answer(a, cmd == EVHTTP_REQ_POST, uri, body, len, &ans);
    }
    free(body);
    reply(req, ans.code, ans.body.p != NULL ? ans.body.p : "{}",
          ans.body.p != NULL ? ans.body.len : 2);
    free(ans.body.p);
}

/* The address of agent `i` in one-port mode: 127.1.X.Y, Y from 1 to 250. */
static void
agent_addr(size_t i, char *buf, size_t len)
{
    (void)snprintf(buf, len, "127.1.%zu.%zu", i / 250, 1 + i % 250);
}

/* One-port mode: the agent whose address the request was sent to (the Host header, its
 * port removed by libevent), or NULL. */
static struct fagent *
agent_by_host(struct lg *lg, const char *host)
{
    if (host == NULL || strncmp(host, "127.1.", 6) != 0)
        return NULL;
    const char *p = host + 6;
    char *end = NULL;
    errno = 0;
    unsigned long x = strtoul(p, &end, 10);
    if (end == p || *end != '.' || errno != 0 || x > 255)
        return NULL;
    p = end + 1;
    unsigned long y = strtoul(p, &end, 10);
    if (end == p || *end != '\0' || errno != 0 || y < 1 || y > 250)
        return NULL;
    size_t i = (size_t)x * 250 + (size_t)(y - 1);
    return i < lg->n ? &lg->agents[i] : NULL;
}

/* One-port mode (fake_http.h, loopback peers only): the agent the Host header names. */
static int
shared_answer(void *arg, const struct fhttp_req *req, char **ret_body, size_t *ret_len)
{
    struct lg *lg = arg;
    struct answer ans = {0};
    struct fagent *a = agent_by_host(lg, req->host);
    if (a == NULL)
        answer_error(&ans, 404, "no fake agent at this address");
    else
        agent_answer(a, req->post, req->path, req->body, req->body_len, &ans);
    *ret_body = ans.body.p;
    *ret_len = ans.body.len;
    return ans.code;
}

/* A server of fake agents on `addr`, a port the kernel chooses, calling `cb` with `arg`. The
 * server, or NULL (errno set); *ret_port the port. */
static struct evhttp *
serve_on(struct lg *lg, const char *addr, void (*cb)(struct evhttp_request *, void *), void *arg,
         unsigned *ret_port)
{
    struct evhttp *http = evhttp_new(lg->base);
    if (http == NULL)
        return NULL;
    evhttp_set_timeout(http, HTTP_TIMEOUT_S);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_gencb(http, cb, arg);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(http, addr, 0);
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    if (s == NULL || getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sin, &sl) < 0) {
        int e = errno;
        evhttp_free(http);
        errno = e;
        return NULL;
    }
    *ret_port = ntohs(sin.sin_port);
    return http;
}

/* Listen on 127.0.0.1, on a port the kernel chooses (a->url says which); in one-port mode
 * (lg->shared_http: one listening socket on the wildcard address for every agent), only name
 * the agent's own address on the shared port. 0 or -1. */
static int
agent_listen(struct lg *lg, struct fagent *a)
{
    unsigned port = lg->shared_port;
    char addr[32] = "127.0.0.1";
    if (lg->shared_http != NULL) {
        agent_addr(a->idx, addr, sizeof(addr));
    } else {
        a->http = serve_on(lg, addr, agent_cb, a, &port);
        if (a->http == NULL)
            return -1;
    }
    (void)snprintf(a->url, sizeof(a->url), "http://%s:%u", addr, port);
    return 0;
}

/* The cluster: 25 VMs a host, 5 to 72 % busy with an exponential spread over the VMs (a few
 * VMs take most of the host), as bench_plan generates; some VMs use mem_bw, disk, net. */
static int
agent_populate(struct fagent *a, size_t n_vms)
{
    static const double mems[] = {1024, 2048, 4096, 8192};
    double total = q8(5.0 + 67.0 * bench_rng_unit(&rng_state));
    double w[MAX_VMS_PER_AGENT];
    double sw = 0;
    for (size_t i = 0; i < n_vms; i++) {
        w[i] = -log(1.0 - bench_rng_unit(&rng_state));
        sw += w[i];
    }
    for (size_t i = 0; i < n_vms; i++) {
        struct fvm v;
        memset(&v, 0, sizeof(v));
        (void)snprintf(v.name, sizeof(v.name), "v%zu-%zu", a->idx, i);
        v.demand[0] = q8(total * w[i] / sw);
        /* Keep it below the VM threshold (20 %) so that only injected conflicts count. */
        if (v.demand[0] > 18.0)
            v.demand[0] = 18.0;
        v.normal_cpu = v.demand[0];
        v.demand[1] = q8(5.0 * bench_rng_unit(&rng_state));
        if (bench_rng_unit(&rng_state) < 0.1)
            v.demand[2] = q8(6.0 * bench_rng_unit(&rng_state));
        v.demand[3] = q8(3.0 * bench_rng_unit(&rng_state));
        v.mem_mib = mems[(size_t)(bench_rng_unit(&rng_state) * 4.0) % 4];
        if (vm_push(a, &v) < 0)
            return -1;
    }
    return 0;
}

/* Two VMs at 22-45 %: the host is over 80 % with 2 VMs over 20 %, a conflict. The two stay
 * within what the host can give (a host asked for more than it has gives every VM the same
 * fraction, which could bring a VM under the VM threshold: no conflict at all). false: this
 * host's other VMs leave no room for that; pick another. */
static bool
make_hot(struct fagent *a)
{
    if (a->n_vms < 2)
        return false;
    size_t i = (size_t)(bench_rng_unit(&rng_state) * (double)a->n_vms) % a->n_vms;
    size_t j = (i + 1 + (size_t)(bench_rng_unit(&rng_state) * (double)(a->n_vms - 1))) % a->n_vms;
    double x = q8(25.0 + 10.0 * bench_rng_unit(&rng_state));
    double y = q8(25.0 + 10.0 * bench_rng_unit(&rng_state));
    double others = 0;
    for (size_t k = 0; k < a->n_vms; k++) {
        if (k != i && k != j)
            others += a->vms[k].demand[0];
    }
    double room = 100.0 - OVERHEAD_CPU - others; /* for x + y without scaling */
    if (room < 2.0 * 22.0)
        return false;
    x = fmin(x, q8(room / 2.0));
    y = fmin(y, q8(room / 2.0));
    double total = OVERHEAD_CPU + others + x + y;
    double want = 86.0 + 6.0 * bench_rng_unit(&rng_state);
    if (total < want) {
        double add = (want - total) / 2.0;
        x = fmin(fmin(45.0, q8(room / 2.0)), q8(x + add));
        y = fmin(fmin(45.0, q8(room / 2.0)), q8(y + add));
    }
    a->vms[i].demand[0] = x;
    a->vms[j].demand[0] = y;
    agent_changed(a);
    a->hot_x = x;
    a->hot_y = y;
    a->hot_total = OVERHEAD_CPU + others + x + y;
    a->hot = true;
    a->lg->conflicts_put++;
    return true;
}

/* ---- registration -------------------------------------------------------------------- */

static void register_agent(struct lg *lg, struct fagent *a);

/* Start the re-registrations that are due, at most REREG_IN_FLIGHT at once and looking at
 * `window` agents at most, from where the last call stopped (so that every agent gets its
 * turn): all fake agents post from 127.0.0.1, and the manager closes connections past its
 * max_connections_per_client (real agents post from an address each). */
static void
reregister_due(struct lg *lg, double now, size_t window)
{
    for (size_t seen = 0; seen < window && seen < lg->n && lg->reg_in_flight < REREG_IN_FLIGHT;
         seen++) {
        struct fagent *a = &lg->agents[lg->rereg_next];
        lg->rereg_next = (lg->rereg_next + 1) % lg->n;
        if (!a->reg_in_flight && a->next_reg <= now)
            register_agent(lg, a);
    }
}

static void
register_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct fagent *a = arg;
    struct lg *lg = a->lg;
    (void)err;
    a->reg_in_flight = false;
    lg->reg_in_flight--;
    if (status == 200) {
        if (!a->registered)
            lg->registered++;
        a->registered = true;
        /* Less often when the manager asks for it ("register_every" over the agents' 5 s),
         * each agent between 0.75 and 1.25 times that, as vmloc's agents do; else (5 s asked,
         * or a manager that does not say) as before this benchmark knew of it: the agents'
         * fixed period, the refreshes spread over one to two of them as agents started at
         * different times. */
        json_t *j = json_loadb(body != NULL ? body : "", len, 0, NULL);
        double every = json_number_value(json_object_get(j, "register_every"));
        json_decref(j);
        double f = (double)a->idx / (double)lg->n;
        a->next_reg = bench_mono_s() +
                      (every > REREGISTER_S ? every * (0.75 + 0.5 * f) : REREGISTER_S * (1.0 + f));
    } else {
        lg->reg_failures++;
        lg->reg_last_status = status;
        a->next_reg = bench_mono_s() + (a->registered ? REREGISTER_S : 0.5);
    }
    if (lg->phase == PH_REGISTER) {
        while (lg->next_initial < lg->n && lg->reg_in_flight < REG_CONCURRENCY)
            register_agent(lg, &lg->agents[lg->next_initial++]);
    } else if (lg->o.reregister) {
        reregister_due(lg, bench_mono_s(), 32); /* the next due one, without waiting a tick */
    }
}

static void
register_agent(struct lg *lg, struct fagent *a)
{
    char body[256];
    (void)snprintf(body, sizeof(body),
                   "{\"name\":\"%s\",\"url\":\"%s\",\"backend\":\"sim\",\"version\":1}", a->name,
                   a->url);
    if (http_request(lg->client, lg->mgr.url, "POST", "/v1/agents", body, HTTP_TIMEOUT_S,
                     register_done, a) < 0) {
        lg->reg_failures++;
        a->next_reg = bench_mono_s() + 1.0;
        return;
    }
    a->reg_in_flight = true;
    lg->reg_in_flight++;
    lg->reg_posts++;
}

/* ---- the manager process ------------------------------------------------------------- */

static int
read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    (void)close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

static int
proc_snap(struct lg *lg, struct proc_snap *s)
{
    char path[64];
    char buf[4096];
    memset(s, 0, sizeof(*s));
    s->wall = bench_mono_s();
    (void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)lg->mgr.pid);
    if (read_file(path, buf, sizeof(buf)) < 0)
        return -1;
    /* Fields after the command's closing parenthesis start with field 3 (state);
     * utime and stime are fields 14 and 15. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    p++;
    for (int field = 3; field <= 15; field++) {
        while (*p == ' ')
            p++;
        char *end = p;
        while (*end != ' ' && *end != '\0')
            end++;
        if (field == 14 || field == 15) {
            unsigned long long v = strtoull(p, NULL, 10);
            if (field == 14)
                s->utime = v;
            else
                s->stime = v;
        }
        p = end;
    }
    s->ticks = s->utime + s->stime;
    (void)snprintf(path, sizeof(path), "/proc/%ld/io", (long)lg->mgr.pid);
    if (read_file(path, buf, sizeof(buf)) == 0) {
        const char *w = strstr(buf, "\nwrite_bytes:");
        if (w != NULL)
            s->write_bytes = strtoll(w + 13, NULL, 10);
    }
    (void)snprintf(path, sizeof(path), "/proc/%ld/status", (long)lg->mgr.pid);
    if (read_file(path, buf, sizeof(buf)) < 0)
        return -1;
    const char *r = strstr(buf, "VmRSS:");
    if (r != NULL)
        s->rss_kib = strtol(r + 6, NULL, 10);
    r = strstr(buf, "VmHWM:");
    if (r != NULL)
        s->hwm_kib = strtol(r + 6, NULL, 10);
    return 0;
}

/* Bytes of the files in the store's directory (the database, its WAL and index). */
static long long
dir_bytes(const char *path)
{
    long long total = 0;
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char p[1024];
        struct stat st;
        (void)snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            total += (long long)st.st_size;
    }
    (void)closedir(d);
    return total;
}

/* ---- timers -------------------------------------------------------------------------- */

static void
health_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct lg *lg = arg;
    (void)err;
    lg->health_in_flight = false;
    if (status != 200) {
        lg->health_failures++;
        return;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    if (j == NULL) {
        lg->health_failures++;
        return;
    }
    double round_ms = json_number_value(json_object_get(j, "last_round_ms"));
    double decide_ms = json_number_value(json_object_get(j, "last_decide_ms"));
    lg->health_agents = json_integer_value(json_object_get(j, "agents"));
    lg->health_rounds = json_integer_value(json_object_get(j, "rounds"));
    lg->health_active = json_integer_value(json_object_get(j, "active_migrations"));
    lg->stored_samples = json_integer_value(json_object_get(j, "stored_samples"));
    lg->store_bytes = json_integer_value(json_object_get(j, "store_bytes"));
    json_decref(j);
    /* A new completed round shows as a new value (they are microsecond-precise). */
    if (round_ms != lg->last_round_seen || decide_ms != lg->last_decide_seen) {
        lg->last_round_seen = round_ms;
        lg->last_decide_seen = decide_ms;
        if (lg->phase == PH_MEASURE) {
            if (lg->n_rounds == lg->cap_rounds) {
                size_t cap = lg->cap_rounds > 0 ? lg->cap_rounds * 2 : 128;
                struct round_rec *n = realloc(lg->rounds, cap * sizeof(*n));
                if (n == NULL)
                    return;
                lg->rounds = n;
                lg->cap_rounds = cap;
            }
            lg->rounds[lg->n_rounds].round_ms = round_ms;
            lg->rounds[lg->n_rounds].decide_ms = decide_ms;
            lg->n_rounds++;
        }
    }
}

static void
health_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lg *lg = arg;
    (void)fd;
    (void)what;
    if (lg->health_in_flight)
        return;
    if (http_request(lg->client, lg->mgr.url, "GET", "/v1/health", NULL, 2.0, health_done, lg) == 0)
        lg->health_in_flight = true;
}

/* When the store holds its retention and prunes as fast as it writes: the manager's retention
 * and a segment after it started listening (the first raw table is emptied), and a minute
 * more for the registrations and the roll-ups' first minute. Its writes from then on are the
 * steady state's; a measurement of whole segments from then weighs each emptying as often as
 * it comes. */
static double
steady_from(const struct lg *lg)
{
    double retention = lg->o.retention > 0 ? lg->o.retention : MANAGER_RETENTION_S;
    return lg->p_start.wall + retention * (1.0 + RAW_SEGMENT) + 60.0;
}

static void
proc_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lg *lg = arg;
    (void)fd;
    (void)what;
    struct proc_snap s;
    if (proc_snap(lg, &s) < 0)
        return;
    if (lg->phase == PH_MEASURE && lg->p_prev.wall > 0 && s.wall > lg->p_prev.wall) {
        if (lg->n_series == lg->cap_series) {
            size_t cap = lg->cap_series > 0 ? lg->cap_series * 2 : 64;
            double *n = realloc(lg->cpu_series, cap * sizeof(*n));
            if (n == NULL)
                return;
            lg->cpu_series = n;
            lg->cap_series = cap;
        }
        lg->cpu_series[lg->n_series++] = (double)(s.ticks - lg->p_prev.ticks) /
                                         (double)lg->clk_tck / (s.wall - lg->p_prev.wall) * 100.0;
        push_double(&lg->rss_series, &lg->n_rss, &lg->cap_rss, (double)s.rss_kib / 1024.0);
        if (lg->p_steady.wall == 0 && s.wall >= steady_from(lg))
            lg->p_steady = s;
    }
    lg->p_prev = s;
}

static void
inject_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lg *lg = arg;
    (void)fd;
    (void)what;
    if (lg->phase != PH_WARMUP && lg->phase != PH_MEASURE)
        return;
    double want = (double)lg->n * lg->o.conflict_pct / 100.0;
    size_t k = (size_t)want;
    if (bench_rng_unit(&rng_state) < want - (double)k)
        k++;
    for (size_t t = 0; t < k; t++) {
        /* A few tries to find a calm host. */
        for (int tries = 0; tries < 8; tries++) {
            struct fagent *a =
                &lg->agents[(size_t)(bench_rng_unit(&rng_state) * (double)lg->n) % lg->n];
            if (!a->hot && make_hot(a))
                break;
        }
    }
}

static void
start_measure(struct lg *lg)
{
    lg->phase = PH_MEASURE;
    lg->phase_started = bench_mono_s();
    (void)proc_snap(lg, &lg->p_warm);
    lg->p_prev = lg->p_warm;
    (void)getrusage(RUSAGE_SELF, &lg->self_start);
    lg->self_wall_start = bench_mono_s();
    lg->rounds_at_start = lg->health_rounds;
    lg->samples_at_start = lg->samples_served;
    lg->orders_at_start = lg->orders;
    lg->burst_count = 0;
    if (!lg->o.json)
        (void)fprintf(stderr, "measuring for %g s\n", lg->o.seconds);
}

static void
stop_measure(struct lg *lg)
{
    lg->phase = PH_DONE;
    (void)proc_snap(lg, &lg->p_end);
    double now = bench_mono_s();
    for (size_t i = 0; i < lg->n; i++) {
        const struct fagent *a = &lg->agents[i];
        if (a->hot && a->hot_shown > 0 && now - a->hot_shown > lg->o.interval) {
            lg->late_open++;
            (void)fprintf(stderr,
                          "never ordered: %s showed its conflict %.0f ms before the end; "
                          "%zu VMs (two at %.1f and %.1f %%, host %.1f %%); its last move %.0f ms "
                          "before that\n",
                          a->name, (now - a->hot_shown) * 1000.0, a->n_vms, a->hot_x, a->hot_y,
                          a->hot_total,
                          a->last_move > 0 ? (a->hot_shown - a->last_move) * 1000.0 : -1.0);
        }
    }
    (void)getrusage(RUSAGE_SELF, &lg->self_end);
    lg->self_wall_end = bench_mono_s();
    lg->rounds_at_end = lg->health_rounds;
    lg->samples_at_end = lg->samples_served;
    lg->orders_at_end = lg->orders;
    (void)event_base_loopexit(lg->base, NULL);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lg *lg = arg;
    (void)fd;
    (void)what;
    double now = bench_mono_s();
    if (lg->phase != PH_REGISTER && lg->o.reregister)
        reregister_due(lg, now, lg->n);
    switch (lg->phase) {
    case PH_REGISTER:
        if (lg->registered == lg->n && lg->health_agents == (long long)lg->n) {
            lg->phase = PH_WARMUP;
            lg->phase_started = now;
            if (!lg->o.json)
                (void)fprintf(stderr, "%zu agents registered; warming up for %g s\n", lg->n,
                              lg->o.warmup);
        } else if (now - lg->phase_started > 60.0 + (double)lg->n * 0.05) {
            (void)snprintf(lg->fail_msg, sizeof(lg->fail_msg),
                           "only %zu of %zu agents registered (manager knows %lld; last status %d)",
                           lg->registered, lg->n, lg->health_agents, lg->reg_last_status);
            lg->failed = true;
            (void)event_base_loopexit(lg->base, NULL);
        } else {
            /* Registrations that failed are retried here. */
            for (size_t i = 0; i < lg->next_initial; i++) {
                struct fagent *a = &lg->agents[i];
                if (!a->registered && !a->reg_in_flight && a->next_reg <= now &&
                    lg->reg_in_flight < REG_CONCURRENCY)
                    register_agent(lg, a);
            }
        }
        break;
    case PH_WARMUP:
        if (now - lg->phase_started >= lg->o.warmup)
            start_measure(lg);
        break;
    case PH_MEASURE:
        if (now - lg->phase_started >= lg->o.seconds)
            stop_measure(lg);
        break;
    case PH_DONE:
        break;
    }
}

static struct event *
timer(struct lg *lg, double period, event_callback_fn fn)
{
    struct event *ev = event_new(lg->base, -1, EV_PERSIST, fn, lg);
    if (ev == NULL)
        return NULL;
    struct timeval tv;
    tv.tv_sec = (time_t)period;
    tv.tv_usec = (suseconds_t)((period - (double)tv.tv_sec) * 1e6);
    (void)event_add(ev, &tv);
    return ev;
}

/* ---- run ------------------------------------------------------------------------------ */

/* Raise our soft file limit to the hard one. Each fake agent holds a listening socket and
 * the manager's connection; when the limit cannot hold that, all agents share one listening
 * socket (one-port mode), which needs only the connections. */
static void
raise_nofile(struct lg *lg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    if ((double)rl.rlim_cur < (double)lg->n * 2.0 + 256.0 && !lg->o.one_port) {
        lg->o.one_port = true;
        if (!lg->o.json)
            (void)fprintf(stderr,
                          "bench_scale: RLIMIT_NOFILE is %llu, too low for a listener per agent: "
                          "one-port mode\n",
                          (unsigned long long)rl.rlim_cur);
    }
    if ((double)rl.rlim_cur < (double)lg->n + 256.0)
        (void)fprintf(stderr,
                      "bench_scale: warning: RLIMIT_NOFILE is %llu, low for %zu agents "
                      "(raise the hard limit)\n",
                      (unsigned long long)rl.rlim_cur, lg->n);
}

static int
start_manager(struct lg *lg, const char *bin)
{
    char data[600];
    char log[600];
    char iv[32];
    (void)snprintf(data, sizeof(data), "%s/data", lg->dir);
    (void)snprintf(log, sizeof(log), "%s/manager.log", lg->dir);
    (void)snprintf(iv, sizeof(iv), "%g", lg->o.interval);
    char ret[32];
    (void)snprintf(ret, sizeof(ret), "%g", lg->o.retention);
    const char *argv[] = {"manager",    "--listen", "127.0.0.1:0", "--data", data,
                          "--interval", iv,         "--retention", ret,      NULL};
    if (lg->o.retention <= 0)
        argv[7] = NULL;
    /* The manager inherits our file limit; --manager-nofile lowers its soft limit. */
    struct rlimit saved;
    bool lowered = false;
    if (lg->o.manager_nofile > 0 && getrlimit(RLIMIT_NOFILE, &saved) == 0) {
        struct rlimit rl = saved;
        rl.rlim_cur = (rlim_t)lg->o.manager_nofile;
        lowered = setrlimit(RLIMIT_NOFILE, &rl) == 0;
    }
    int r = bench_daemon_start(&lg->mgr, bin, argv, log, 15.0);
    if (lowered)
        (void)setrlimit(RLIMIT_NOFILE, &saved);
    return r;
}

static int
run(struct lg *lg, const char *bin)
{
    lg->clk_tck = sysconf(_SC_CLK_TCK);
    raise_nofile(lg);
    if (start_manager(lg, bin) < 0)
        return -1;
    (void)proc_snap(lg, &lg->p_start);
    lg->base = event_base_new();
    lg->client = lg->base != NULL ? http_client_new(lg->base) : NULL;
    lg->agents = calloc(lg->n, sizeof(*lg->agents));
    if (lg->client == NULL || lg->agents == NULL)
        return -1;
    if (http_client_set_token(lg->client, bench_token()) < 0)
        return -1;
    if (lg->o.one_port)
        lg->shared_http = fhttp_listen(lg->base, "0.0.0.0", shared_answer, lg, &lg->shared_port);
    if (lg->o.one_port && lg->shared_http == NULL) {
        (void)snprintf(lg->fail_msg, sizeof(lg->fail_msg), "cannot listen on one port: %s",
                       strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < lg->n; i++) {
        struct fagent *a = &lg->agents[i];
        a->lg = lg;
        a->idx = i;
        (void)snprintf(a->name, sizeof(a->name), "fh%zu", i);
        if (agent_listen(lg, a) < 0) {
            (void)snprintf(lg->fail_msg, sizeof(lg->fail_msg),
                           "cannot listen for fake agent %zu: %s", i, strerror(errno));
            return -1;
        }
        if (agent_populate(a, lg->o.vms) < 0)
            return -1;
    }
    if (!lg->o.json)
        (void)fprintf(stderr, "manager %s (pid %ld); %zu fake agents listening; registering\n",
                      lg->mgr.url, (long)lg->mgr.pid, lg->n);
    lg->phase = PH_REGISTER;
    lg->phase_started = bench_mono_s();
    while (lg->next_initial < lg->n && lg->reg_in_flight < REG_CONCURRENCY)
        register_agent(lg, &lg->agents[lg->next_initial++]);
    lg->tick_ev = timer(lg, 0.1, tick_cb);
    lg->inject_ev = timer(lg, lg->o.interval, inject_cb);
    lg->health_ev = timer(lg, lg->o.interval / 4.0, health_cb);
    lg->proc_ev = timer(lg, 1.0, proc_cb);
    if (lg->tick_ev == NULL || lg->inject_ev == NULL || lg->health_ev == NULL ||
        lg->proc_ev == NULL)
        return -1;
    if (event_base_dispatch(lg->base) < 0)
        return -1;
    return lg->failed ? -1 : 0;
}

static void
cleanup(struct lg *lg)
{
    struct event *evs[] = {lg->tick_ev, lg->inject_ev, lg->health_ev, lg->proc_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        if (evs[i] != NULL)
            event_free(evs[i]);
    }
    http_client_free(lg->client);
    for (size_t i = 0; lg->agents != NULL && i < lg->n; i++) {
        if (lg->agents[i].http != NULL)
            evhttp_free(lg->agents[i].http);
        free(lg->agents[i].vms);
        free(lg->agents[i].rest.p);
    }
    fhttp_free(lg->shared_http);
    free(lg->agents);
    if (lg->base != NULL)
        event_base_free(lg->base);
    free(lg->rounds);
    free(lg->bursts_ms);
    free(lg->burst_starts);
    free(lg->burst_sizes);
    free(lg->cpu_series);
    free(lg->lat_s);
    free(lg->rss_series);
}

/* ---- report -------------------------------------------------------------------------- */

struct summary {
    double cpu_pct, user_pct, sys_pct, cpu_max_1s;
    double rss_start, rss_warm, rss_end, hwm; /* MiB */
    double round_p50, round_p99, round_max, round_mean;
    double decide_p50, decide_p99, decide_max;
    double burst_p50, burst_p99, burst_max;
    size_t burst_min_size;
    double gap_p50, gap_max; /* between the starts of consecutive rounds */
    double self_cpu_pct;
    double measured_s;
    long long rounds;
    double rounds_expected;
    unsigned long long samples;
    unsigned long long orders;
    double store_mib_per_s;
    double write_mib_per_s;
    double
        steady_write_mib_per_s; /* < 0: the run ended before the steady state, or too soon after */
    bool cpu_pass, round_pass, write_pass;
    double target_cpu, target_round; /* the targets for this many agents; 0: none */
    /* the load test (--check) */
    double lat_p50, lat_p99, lat_max; /* conflict shown -> order, s */
    size_t late;                      /* handled later than one interval, or not at all */
    long long missed_rounds;
    double rss_mid, rss_growth_2nd; /* MiB: at mid-measurement; end minus mid */
    double rss_max;
    bool load_pass;
};

static double
tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void
summarize(struct lg *lg, struct summary *s)
{
    memset(s, 0, sizeof(*s));
    double wall = lg->p_end.wall - lg->p_warm.wall;
    s->measured_s = wall;
    if (wall > 0) {
        double tck = (double)lg->clk_tck;
        s->cpu_pct = (double)(lg->p_end.ticks - lg->p_warm.ticks) / tck / wall * 100.0;
        s->user_pct = (double)(lg->p_end.utime - lg->p_warm.utime) / tck / wall * 100.0;
        s->sys_pct = (double)(lg->p_end.stime - lg->p_warm.stime) / tck / wall * 100.0;
    }
    for (size_t i = 0; i < lg->n_series; i++)
        s->cpu_max_1s = fmax(s->cpu_max_1s, lg->cpu_series[i]);
    s->rss_start = (double)lg->p_start.rss_kib / 1024.0;
    s->rss_warm = (double)lg->p_warm.rss_kib / 1024.0;
    s->rss_end = (double)lg->p_end.rss_kib / 1024.0;
    s->hwm = (double)lg->p_end.hwm_kib / 1024.0;
    size_t n = lg->n_rounds;
    double *v = calloc(n + 1, sizeof(*v));
    if (v != NULL) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            v[i] = lg->rounds[i].round_ms;
            sum += v[i];
        }
        s->round_mean = n > 0 ? sum / (double)n : 0;
        s->round_p50 = bench_percentile(v, n, 50);
        s->round_p99 = bench_percentile(v, n, 99);
        s->round_max = n > 0 ? v[n - 1] : 0;
        for (size_t i = 0; i < n; i++)
            v[i] = lg->rounds[i].decide_ms;
        s->decide_p50 = bench_percentile(v, n, 50);
        s->decide_p99 = bench_percentile(v, n, 99);
        s->decide_max = n > 0 ? v[n - 1] : 0;
        free(v);
    }
    v = calloc(lg->n_bursts + 1, sizeof(*v));
    if (v != NULL) {
        memcpy(v, lg->bursts_ms, lg->n_bursts * sizeof(*v));
        s->burst_p50 = bench_percentile(v, lg->n_bursts, 50);
        s->burst_p99 = bench_percentile(v, lg->n_bursts, 99);
        s->burst_max = lg->n_bursts > 0 ? v[lg->n_bursts - 1] : 0;
        free(v);
    }
    if (lg->n_bursts > 1) {
        v = calloc(lg->n_bursts, sizeof(*v));
        if (v != NULL) {
            for (size_t i = 1; i < lg->n_bursts; i++)
                v[i - 1] = (lg->burst_starts[i] - lg->burst_starts[i - 1]) * 1000.0;
            s->gap_p50 = bench_percentile(v, lg->n_bursts - 1, 50);
            s->gap_max = v[lg->n_bursts - 2];
            free(v);
        }
    }
    s->burst_min_size = lg->n_bursts > 0 ? (size_t)-1 : 0;
    for (size_t i = 0; i < lg->n_bursts; i++) {
        if (lg->burst_sizes[i] < s->burst_min_size)
            s->burst_min_size = lg->burst_sizes[i];
    }
    double self_wall = lg->self_wall_end - lg->self_wall_start;
    if (self_wall > 0)
        s->self_cpu_pct = (tv_s(lg->self_end.ru_utime) - tv_s(lg->self_start.ru_utime) +
                           tv_s(lg->self_end.ru_stime) - tv_s(lg->self_start.ru_stime)) /
                          self_wall * 100.0;
    s->rounds = lg->rounds_at_end - lg->rounds_at_start;
    s->rounds_expected = wall / lg->o.interval;
    s->samples = (unsigned long long)(lg->samples_at_end - lg->samples_at_start);
    s->orders = (unsigned long long)(lg->orders_at_end - lg->orders_at_start);
    double elapsed = lg->p_end.wall - lg->p_start.wall;
    s->store_mib_per_s = elapsed > 0 ? (double)lg->data_bytes / 1048576.0 / elapsed : 0;
    s->write_mib_per_s =
        wall > 0 ? (double)(lg->p_end.write_bytes - lg->p_warm.write_bytes) / 1048576.0 / wall : 0;
    double steady_wall = lg->p_end.wall - lg->p_steady.wall;
    s->steady_write_mib_per_s = -1;
    if (lg->p_steady.wall > 0 && steady_wall >= STEADY_MIN_S)
        s->steady_write_mib_per_s =
            (double)(lg->p_end.write_bytes - lg->p_steady.write_bytes) / 1048576.0 / steady_wall;
    s->write_pass = s->steady_write_mib_per_s >= 0 && lg->n > 0 &&
                    s->steady_write_mib_per_s * 1000.0 / (double)lg->n <= TARGET_WRITE_MIB_PER_K;
    v = calloc(lg->n_lat + 1, sizeof(*v));
    if (v != NULL) {
        memcpy(v, lg->lat_s, lg->n_lat * sizeof(*v));
        s->lat_p50 = bench_percentile(v, lg->n_lat, 50);
        s->lat_p99 = bench_percentile(v, lg->n_lat, 99);
        s->lat_max = lg->n_lat > 0 ? v[lg->n_lat - 1] : 0;
        for (size_t i = 0; i < lg->n_lat; i++)
            s->late += v[i] > lg->o.interval;
        free(v);
    }
    s->late += lg->late_open;
    s->missed_rounds = (long long)floor(s->rounds_expected + 1e-9) - 1 - s->rounds;
    if (s->missed_rounds < 0)
        s->missed_rounds = 0;
    /* Memory: the second half of the measurement must not grow (the first absorbs caches). */
    if (lg->n_rss > 0) {
        s->rss_mid = lg->rss_series[lg->n_rss / 2];
        s->rss_growth_2nd = lg->rss_series[lg->n_rss - 1] - s->rss_mid;
        for (size_t i = 0; i < lg->n_rss; i++)
            s->rss_max = fmax(s->rss_max, lg->rss_series[i]);
    }
    s->load_pass = s->missed_rounds == 0 && s->late == 0 && lg->n_lat > 0 &&
                   s->rss_growth_2nd <= fmax(TARGET_RSS_GROWTH_MIB, 0.05 * s->rss_mid) &&
                   s->gap_max <= 1500.0 * lg->o.interval;
    s->target_cpu = lg->n <= 1000                ? TARGET_CPU_PCT
                    : lg->n >= TARGET_10K_AGENTS ? TARGET_10K_CPU_PCT
                                                 : 0;
    s->target_round = lg->n <= 1000                ? TARGET_ROUND_MS
                      : lg->n >= TARGET_10K_AGENTS ? TARGET_10K_ROUND_MS
                                                   : 0;
    s->cpu_pass = wall > 0 && s->cpu_pct < s->target_cpu;
    s->round_pass = n > 0 && s->round_p99 < s->target_round;
}

/* PASS, MISS, or none (no target for this many agents). */
static const char *
verdict(double target, bool pass)
{
    return target <= 0 ? "none" : pass ? "PASS" : "MISS";
}

static void
print_store(const struct lg *lg, const struct summary *s)
{
    double per_k = lg->n > 0 ? 1000.0 / (double)lg->n : 0;
    (void)printf("store writes         %.3f MiB/s (%.3f MiB/s per 1,000 hosts; the manager's "
                 "write_bytes during the measurement)\n",
                 s->write_mib_per_s, s->write_mib_per_s * per_k);
    if (s->steady_write_mib_per_s >= 0)
        (void)printf("store writes, steady %.3f MiB/s (%.3f MiB/s per 1,000 hosts; from %.0f s "
                     "after the manager started, when it holds its retention and prunes)\n",
                     s->steady_write_mib_per_s, s->steady_write_mib_per_s * per_k,
                     steady_from(lg) - lg->p_start.wall);
    else
        (void)printf("store writes, steady unknown: measure until %.0f s after the manager "
                     "starts (its retention and a sixth, a minute, and %.0f s more)\n",
                     steady_from(lg) - lg->p_start.wall + STEADY_MIN_S, STEADY_MIN_S);
    const struct store_fig *f = &lg->sf;
    if (!f->read || lg->n == 0)
        return;
    double raw = 0;
    double ru_day = 0;
    double steady = steady_bytes_per_host(f, &raw, &ru_day);
    long long ru_read = f->ru_rows - f->ru_unread;
    (void)printf(
        "store per host       raw sample %.0f B (%lld rows), roll-ups %.1f B a row's first "
        "minute and %.2f B each minute after (%lld minutes in %lld rows%s)\n",
        f->raw_rows > 0 ? (double)f->raw_bytes / (double)f->raw_rows : 0, f->raw_rows,
        ru_read > 0 ? (double)f->ru_first_bytes / (double)ru_read : 0,
        f->ru_more_minutes > 0 ? (double)f->ru_more_bytes / (double)f->ru_more_minutes : 0,
        f->ru_minutes, f->ru_rows, f->ru_unread > 0 ? "; some unreadable" : "");
    if (steady < 0) {
        (void)printf("  steady state       unknown: no roll-up row holds two minutes (run longer); "
                     "raw %.0f KiB per host per day\n",
                     raw * 144.0 / 1024.0);
        return;
    }
    (void)printf("  bytes/host/day     %.0f KiB raw (one sample every 10 s, unpruned), %.0f KiB of "
                 "roll-ups\n",
                 raw * 144.0 / 1024.0, ru_day / 1024.0);
    (void)printf("  steady state       %.0f KiB per host = %.1f MiB per 1,000 hosts (10 min raw "
                 "%.0f KiB + 7 days of roll-ups %.0f KiB), other tables now %.1f MiB\n",
                 steady / 1024.0, steady * 1000.0 / 1048576.0, raw / 1024.0, 7.0 * ru_day / 1024.0,
                 (double)f->other_bytes / 1048576.0);
}

static void
print_text(const struct lg *lg, const struct summary *s)
{
    const struct opts *o = &lg->o;
    (void)printf("bench_scale: 1 vmloc manager, %zu fake agents x %zu VMs on %s, interval "
                 "%g s, %.1f s measured after %g s warm-up\n\n",
                 lg->n, o->vms, o->one_port ? "127.1.X.Y, one port" : "127.0.0.1", o->interval,
                 s->measured_s, o->warmup);
    (void)printf("manager CPU          %6.1f %% of one core (user %.1f %%, sys %.1f %%; busiest "
                 "second %.1f %%)\n",
                 s->cpu_pct, s->user_pct, s->sys_pct, s->cpu_max_1s);
    (void)printf("manager RSS          start %.1f MiB, after warm-up %.1f MiB, end %.1f MiB "
                 "(peak %.1f MiB)\n",
                 s->rss_start, s->rss_warm, s->rss_end, s->hwm);
    (void)printf("collection round     p50 %.1f ms, p99 %.1f ms, max %.1f ms, mean %.1f ms "
                 "(%zu rounds seen)\n",
                 s->round_p50, s->round_p99, s->round_max, s->round_mean, lg->n_rounds);
    (void)printf("  seen by agents     p50 %.1f ms, p99 %.1f ms, max %.1f ms (first to last "
                 "sample request; smallest round %zu requests)\n",
                 s->burst_p50, s->burst_p99, s->burst_max, s->burst_min_size);
    (void)printf("  round starts       every %.1f ms (p50), longest gap %.1f ms\n", s->gap_p50,
                 s->gap_max);
    (void)printf("decide + follow      p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", s->decide_p50,
                 s->decide_p99, s->decide_max);
    (void)printf("rounds               %lld started (%.1f intervals); %llu samples served "
                 "(%.0f expected)\n",
                 s->rounds, s->rounds_expected, s->samples, s->rounds_expected * (double)lg->n);
    (void)printf("migrations           %llu ordered during the measurement (%llu conflicts put "
                 "in all)\n",
                 s->orders, (unsigned long long)lg->conflicts_put);
    (void)printf("registrations        %llu POST /v1/agents (%llu failed)\n",
                 (unsigned long long)lg->reg_posts, (unsigned long long)lg->reg_failures);
    if (o->retention > 0)
        (void)printf("store                %lld samples, %.1f MiB on disk (pruned to %g s of "
                     "samples)\n",
                     lg->stored_samples, (double)lg->data_bytes / 1048576.0, o->retention);
    else
        (void)printf("store                %lld samples, %.1f MiB on disk (grows %.1f MiB/s: "
                     "%.1f GiB for one hour of retention)\n",
                     lg->stored_samples, (double)lg->data_bytes / 1048576.0, s->store_mib_per_s,
                     s->store_mib_per_s * 3600.0 / 1024.0);
    print_store(lg, s);
    (void)printf("load generator CPU   %.1f %% of one core\n", s->self_cpu_pct);
    (void)printf("conflicts            %zu handled; sample showing it -> order p50 %.0f ms, p99 "
                 "%.0f ms, max %.0f ms; %zu later than one interval or never\n",
                 lg->n_lat, s->lat_p50 * 1000.0, s->lat_p99 * 1000.0, s->lat_max * 1000.0, s->late);
    (void)printf("memory trend         RSS at mid-measurement %.1f MiB, at the end %.1f MiB "
                 "(second half %+.1f MiB), max %.1f MiB\n",
                 s->rss_mid, s->rss_end, s->rss_growth_2nd, s->rss_max);
    (void)printf("missed rounds        %lld (longest gap between round starts %.0f ms)\n\n",
                 s->missed_rounds, s->gap_max);
    if (s->target_cpu <= 0)
        (void)printf("target: none at %zu agents (set up to 1,000 and from 10,000)\n", lg->n);
    else
        (void)printf("target (%s agents): manager CPU < %.0f %% of one core: %s (%.1f %%",
                     lg->n <= TARGET_1K_AGENTS ? "up to 1,000" : "10,000 and more", s->target_cpu,
                     verdict(s->target_cpu, s->cpu_pass), s->cpu_pct);
    if (s->target_cpu > 0 && !s->cpu_pass)
        (void)printf(", %.1f points over, x%.2f", s->cpu_pct - s->target_cpu,
                     s->cpu_pct / s->target_cpu);
    if (s->target_cpu > 0)
        (void)printf(")\n");
    (void)printf("load test: no missed round, every conflict ordered within one interval, "
                 "memory steady (second half < %.0f MiB or 5 %%): %s\n",
                 TARGET_RSS_GROWTH_MIB, s->load_pass ? "PASS" : "FAIL");
    if (s->target_round > 0) {
        (void)printf("target (%s agents): collection round < %.0f ms (p99): %s (%.1f ms",
                     lg->n <= TARGET_1K_AGENTS ? "up to 1,000" : "10,000 and more", s->target_round,
                     verdict(s->target_round, s->round_pass), s->round_p99);
        if (!s->round_pass && lg->n_rounds > 0)
            (void)printf(", %.1f ms over, x%.2f", s->round_p99 - s->target_round,
                         s->round_p99 / s->target_round);
        (void)printf(")\n");
    }
    if (s->steady_write_mib_per_s >= 0)
        (void)printf("target: store writes in steady state <= %.1f MiB/s per 1,000 hosts: %s "
                     "(%.3f)\n",
                     TARGET_WRITE_MIB_PER_K, s->write_pass ? "PASS" : "MISS",
                     s->steady_write_mib_per_s * 1000.0 / (double)lg->n);
}

static void
print_json(const struct lg *lg, const struct summary *s)
{
    const struct opts *o = &lg->o;
    (void)printf("{\"bench\":\"scale\",\"agents\":%zu,\"vms_per_agent\":%zu,\"interval_s\":%g,"
                 "\"warmup_s\":%g,\"measured_s\":%.3f,\"one_port\":%s,",
                 lg->n, o->vms, o->interval, o->warmup, s->measured_s,
                 o->one_port ? "true" : "false");
    (void)printf("\"cpu_pct\":%.2f,\"cpu_user_pct\":%.2f,\"cpu_sys_pct\":%.2f,"
                 "\"cpu_max_1s_pct\":%.2f,",
                 s->cpu_pct, s->user_pct, s->sys_pct, s->cpu_max_1s);
    (void)printf("\"rss_start_mib\":%.2f,\"rss_warm_mib\":%.2f,\"rss_end_mib\":%.2f,"
                 "\"rss_peak_mib\":%.2f,",
                 s->rss_start, s->rss_warm, s->rss_end, s->hwm);
    (void)printf("\"rounds_seen\":%zu,\"round_p50_ms\":%.3f,\"round_p99_ms\":%.3f,"
                 "\"round_max_ms\":%.3f,\"round_mean_ms\":%.3f,",
                 lg->n_rounds, s->round_p50, s->round_p99, s->round_max, s->round_mean);
    (void)printf("\"agent_side_round_p50_ms\":%.3f,\"agent_side_round_p99_ms\":%.3f,"
                 "\"agent_side_round_max_ms\":%.3f,\"round_start_gap_p50_ms\":%.3f,"
                 "\"round_start_gap_max_ms\":%.3f,",
                 s->burst_p50, s->burst_p99, s->burst_max, s->gap_p50, s->gap_max);
    (void)printf("\"decide_p50_ms\":%.3f,\"decide_p99_ms\":%.3f,\"decide_max_ms\":%.3f,",
                 s->decide_p50, s->decide_p99, s->decide_max);
    (void)printf("\"rounds_started\":%lld,\"samples_served\":%llu,\"migrations_ordered\":%llu,"
                 "\"registrations\":%llu,\"registration_failures\":%llu,",
                 s->rounds, s->samples, s->orders, (unsigned long long)lg->reg_posts,
                 (unsigned long long)lg->reg_failures);
    (void)printf("\"stored_samples\":%lld,\"store_bytes\":%lld,\"store_mib_per_s\":%.3f,"
                 "\"loadgen_cpu_pct\":%.2f,",
                 lg->stored_samples, lg->data_bytes, s->store_mib_per_s, s->self_cpu_pct);
    double raw = 0;
    double ru_day = 0;
    double steady = steady_bytes_per_host(&lg->sf, &raw, &ru_day);
    (void)printf("\"store_write_mib_per_s\":%.4f,\"store_raw_bytes_per_host_day\":%.0f,",
                 s->write_mib_per_s, raw * 144.0);
    if (s->steady_write_mib_per_s < 0)
        (void)printf("\"store_write_steady_mib_per_s\":null,\"write_verdict\":null,");
    else
        (void)printf("\"store_write_steady_mib_per_s\":%.4f,\"write_verdict\":\"%s\",",
                     s->steady_write_mib_per_s, s->write_pass ? "PASS" : "MISS");
    if (steady < 0) /* unknown: no roll-up row held two minutes */
        (void)printf("\"store_rollup_bytes_per_host_day\":null,"
                     "\"store_steady_bytes_per_host\":null,");
    else
        (void)printf("\"store_rollup_bytes_per_host_day\":%.0f,"
                     "\"store_steady_bytes_per_host\":%.0f,",
                     ru_day, steady);
    (void)printf("\"cpu_series_pct\":[");
    for (size_t i = 0; i < lg->n_series; i++)
        (void)printf("%s%.1f", i > 0 ? "," : "", lg->cpu_series[i]);
    (void)printf("],\"round_ms\":[");
    for (size_t i = 0; i < lg->n_rounds; i++)
        (void)printf("%s%.3f", i > 0 ? "," : "", lg->rounds[i].round_ms);
    (void)printf("],\"conflicts_handled\":%zu,\"conflict_p50_ms\":%.1f,\"conflict_p99_ms\":%.1f,"
                 "\"conflict_max_ms\":%.1f,\"conflicts_late\":%zu,\"missed_rounds\":%lld,"
                 "\"rss_mid_mib\":%.2f,\"rss_growth_second_half_mib\":%.2f,\"load_verdict\":\"%s\"",
                 lg->n_lat, s->lat_p50 * 1000.0, s->lat_p99 * 1000.0, s->lat_max * 1000.0, s->late,
                 s->missed_rounds, s->rss_mid, s->rss_growth_2nd, s->load_pass ? "PASS" : "FAIL");
    (void)printf(",\"target_cpu_pct\":%.0f,\"cpu_verdict\":\"%s\",\"target_round_ms\":%.0f,"
                 "\"round_verdict\":\"%s\"}\n",
                 s->target_cpu, verdict(s->target_cpu, s->cpu_pass), s->target_round,
                 verdict(s->target_round, s->round_pass));
}

/* ---- options ------------------------------------------------------------------------- */

static void
usage(FILE *f)
{
    (void)fprintf(
        f, "usage: bench_scale [--agents N] [--vms N] [--seconds S] [--interval S] [--warmup S]\n"
           "                   [--conflicts PCT] [--no-reregister] [--one-port] [--full-samples]\n"
           "                   [--manager-nofile N]\n"
           "                   [--retention S]\n"
           "                   [--vmloc PATH] [--json] [--keep] [--check] [--help]\n\n"
           "Run one vmloc manager against N fake agents served by this process on 127.0.0.1\n"
           "and measure the manager's CPU, memory, collection round and decision times.\n\n"
           "  --agents N          fake agents (default 1000)\n"
           "  --vms N             VMs per agent (default 25)\n"
           "  --seconds S         measured duration (default 30)\n"
           "  --interval S        the manager's collection interval (default 1)\n"
           "  --warmup S          after the registrations, before measuring (default 5)\n"
           "  --conflicts PCT     %% of hosts put in conflict each interval (default 1)\n"
           "  --no-reregister     register once (agents refresh every 5 s by default)\n"
           "  --full-samples      write every field of every VM, as agents did before the\n"
           "                      fields at their defaults were left out (for an older vmloc)\n"
           "  --one-port          every agent at its own address 127.1.X.Y on one listening\n"
           "                      socket (the wildcard address; loopback peers only); chosen\n"
           "                      by itself when RLIMIT_NOFILE cannot hold a listener each\n"
           "  --check             the load test: exit 1 on a missed round, a conflict not\n"
           "                      ordered within one interval, or memory growing\n"
           "  --manager-nofile N  the manager's soft RLIMIT_NOFILE (default: the hard limit)\n"
           "  --retention S       the manager's --retention (default: its own, 600 s)\n"
           "  --vmloc PATH        the vmloc binary (default $VMLOC_BIN, else ./build/vmloc)\n"
           "  --json              one JSON object on stdout instead of the report\n"
           "  --keep              keep the manager's log and store (path printed)\n");
}

static int
parse_num(const char *s, double lo, double hi, double *ret)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(d) || d < lo || d > hi)
        return -1;
    *ret = d;
    return 0;
}

int
main(int argc, char **argv)
{
    static struct lg lg;
    struct opts *o = &lg.o;
    o->agents = 1000;
    o->vms = 25;
    o->seconds = 30;
    o->interval = 1;
    o->warmup = 5;
    o->conflict_pct = 1;
    o->reregister = true;
    double d;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = true;
        } else if (strcmp(a, "--check") == 0) {
            o->check = true;
        } else if (strcmp(a, "--full-samples") == 0) {
            o->full_samples = true;
        } else if (strcmp(a, "--one-port") == 0) {
            o->one_port = true;
        } else if (strcmp(a, "--no-reregister") == 0) {
            o->reregister = false;
        } else if (strcmp(a, "--agents") == 0 && has &&
                   parse_num(argv[++i], 1, MAX_AGENTS, &d) == 0) {
            o->agents = (size_t)d;
        } else if (strcmp(a, "--vms") == 0 && has &&
                   parse_num(argv[++i], 2, MAX_VMS_PER_AGENT, &d) == 0) {
            o->vms = (size_t)d;
        } else if (strcmp(a, "--seconds") == 0 && has && parse_num(argv[++i], 1, 86400, &d) == 0) {
            o->seconds = d;
        } else if (strcmp(a, "--interval") == 0 && has &&
                   parse_num(argv[++i], 0.01, 3600, &d) == 0) {
            o->interval = d;
        } else if (strcmp(a, "--warmup") == 0 && has && parse_num(argv[++i], 0, 3600, &d) == 0) {
            o->warmup = d;
        } else if (strcmp(a, "--conflicts") == 0 && has && parse_num(argv[++i], 0, 100, &d) == 0) {
            o->conflict_pct = d;
        } else if (strcmp(a, "--manager-nofile") == 0 && has &&
                   parse_num(argv[++i], 16, 1e7, &d) == 0) {
            o->manager_nofile = (long)d;
        } else if (strcmp(a, "--retention") == 0 && has && parse_num(argv[++i], 1, 1e9, &d) == 0) {
            o->retention = d;
        } else if (strcmp(a, "--vmloc") == 0 && has) {
            o->vmloc = argv[++i];
        } else {
            (void)fprintf(stderr, "bench_scale: bad option or value: %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    const char *bin = bench_vmloc_path(o->vmloc);
    if (bin == NULL)
        return 2;
    char *dir = bench_mkdtemp("vmloc-bench-scale");
    if (dir == NULL)
        return 0;
    (void)snprintf(lg.dir, sizeof(lg.dir), "%s", dir);
    lg.n = o->agents;
    (void)signal(SIGPIPE, SIG_IGN);
    int r = run(&lg, bin);
    char data[600];
    (void)snprintf(data, sizeof(data), "%s/data", lg.dir);
    lg.data_bytes = dir_bytes(data);
    if (lg.mgr.pid > 0 && bench_daemon_stop(&lg.mgr, 10.0) != 0)
        (void)fprintf(stderr, "bench_scale: the manager did not stop cleanly\n");
    store_figures(data, &lg.sf);
    if (r < 0) {
        (void)fprintf(stderr, "bench_scale: %s\n",
                      lg.fail_msg[0] != '\0' ? lg.fail_msg : "setup failed");
        bench_daemon_tail_log(&lg.mgr, 20);
        (void)fprintf(stderr, "bench_scale: logs kept in %s\n", lg.dir);
        if (o->json)
            (void)printf("{\"bench\":\"scale\",\"agents\":%zu,\"error\":\"setup failed\"}\n", lg.n);
        cleanup(&lg);
        free(dir);
        return 0;
    }
    struct summary s;
    summarize(&lg, &s);
    if (o->json)
        print_json(&lg, &s);
    else
        print_text(&lg, &s);
    cleanup(&lg);
    if (o->keep)
        (void)fprintf(stderr, "bench_scale: logs and store kept in %s\n", lg.dir);
    else
        bench_rm_rf(lg.dir);
    free(dir);
    if (o->check) /* the load test: one closing line for the test runner */
        (void)printf("load test %s: %zu agents, %.0f s\n", s.load_pass ? "passed" : "FAILED", lg.n,
                     s.measured_s);
    return o->check && !s.load_pass ? 1 : 0;
}
