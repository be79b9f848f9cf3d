/* Usage samples in the store (store.h, "usage samples"): names interned in a cache in front of
 * the names table, raw samples queued until store_commit() and written a few dozen rows to an
 * INSERT, one-minute roll-ups summed in memory per host and written as the host's hour row
 * once a minute. (The raw sample tables are store_ring.c's; the pruning of the other rows is
 * in store.c.) */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fnv.h"
#include "core/grow.h"
#include "store/store_internal.h"

#define RAW_PSI_COLS STORE_RAW_PSI_COLS

/* SQLite's rollback hook: a transaction was rolled back, by ROLLBACK or by an error, and the
 * names and raw rows it added with it. Only noted here: the hook must not use the connection,
 * and may run inside a walk of the cache; names_settle() and store_stats() act on it. */
static void
on_rollback(void *arg)
{
    struct store *s = arg;
    s->names_rolled_back = true;
    s->raw_rows_known = false; /* what it had written or pruned is back as it was */
    s->ring.known = false;     /* and the raw tables' state: store_ring_load() reads it */
}

int
store_samples_prepare(struct store *s)
{
    if (store_ring_prepare(s) < 0)
        return -EIO;
    const struct {
        const char *sql;
        sqlite3_stmt **st;
    } stmts[] = {
        {"SELECT id FROM names WHERE name = ?", &s->find_name},
        {"INSERT INTO names(name) VALUES (?)", &s->add_name},
        /* In place, keeping the id and index entry of the hour's first minute (a REPLACE
         * rewrote an index page per host each minute once a week of hours was kept). */
        {"INSERT INTO rollups(host, hour, minutes, data) VALUES (?,?,?,?) ON CONFLICT(host, hour)"
         " DO UPDATE SET minutes = excluded.minutes, data = excluded.data",
         &s->put_hour},
        {"SELECT data FROM rollups WHERE host = ? AND hour = ?", &s->get_hour},
    };
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        if (sqlite3_prepare_v2(s->db, stmts[i].sql, -1, stmts[i].st, NULL) != SQLITE_OK)
            return -EIO;
    }
    (void)sqlite3_rollback_hook(s->db, on_rollback, s);
    return 0;
}

void
store_samples_done(struct store *s)
{
    store_ring_done(s);
    sqlite3_finalize(s->find_name);
    sqlite3_finalize(s->add_name);
    sqlite3_finalize(s->put_hour);
    sqlite3_finalize(s->get_hour);
    for (size_t i = 0; i < s->names_cap; i++) {
        free(s->names[i].name);
        free(s->names[i].ru);
    }
    free(s->names);
    free(s->raw);
    free(s->bytes);
}

/* ---- names -------------------------------------------------------------------------------- */

/* The cache slot of `name`, of hash `hash` (name_hash()): its entry, or the free slot where
 * it belongs. The hashes are compared first: a manager of 10,000 hosts looks up 250,000 VM
 * names, and each name compared is a read of memory elsewhere. */
static struct store_name *
name_slot(struct store_name *tab, size_t cap, const char *name, uint32_t hash)
{
    size_t i = hash & (cap - 1);
    while (tab[i].name != NULL && (tab[i].hash != hash || strcmp(tab[i].name, name) != 0))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static uint32_t
name_hash(const char *name)
{
    return (uint32_t)fnv1a_64(name);
}

/* Room for one more cache entry. 0 or -ENOMEM. */
static int
names_grow(struct store *s)
{
    if ((s->names_n + 1) * 4 < s->names_cap * 3)
        return 0;
    size_t cap = s->names_cap != 0 ? s->names_cap * 2 : 256;
    struct store_name *tab = calloc(cap, sizeof(*tab));
    if (tab == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < s->names_cap; i++) {
        if (s->names[i].name != NULL)
            *name_slot(tab, cap, s->names[i].name, s->names[i].hash) = s->names[i];
    }
    free(s->names);
    s->names = tab;
    s->names_cap = cap;
    return 0;
}

/* Step `st` for an id (0: no row) and reset it. 0 or -EIO. */
static int
step_id(sqlite3_stmt *st, int64_t *ret)
{
    int rc = sqlite3_step(st);
    *ret = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

/* After a rollback: the names added in the rolled-back transaction have no row any more, so
 * their entries forget their ids (looked up or added again when next used), and the raw
 * samples queued for it, which may carry those ids, are dropped with it (those held from
 * transactions committed before stay). */
static void
names_settle(struct store *s)
{
    if (!s->names_rolled_back)
        return;
    s->names_rolled_back = false;
    bool stale = false;
    for (size_t i = 0; i < s->names_cap && s->names_fresh != 0; i++) {
        if (s->names[i].fresh) {
            s->names[i].fresh = false;
            s->names[i].id = 0;
            stale = true;
        }
    }
    s->names_fresh = 0;
    if (stale && s->n_raw > s->raw_kept) {
        const struct store_raw *last = s->raw_kept > 0 ? &s->raw[s->raw_kept - 1] : NULL;
        s->n_raw = s->raw_kept;
        s->n_bytes = last != NULL ? last->off + last->len : 0;
        s->raw_open = false;
    }
}

void
store_names_committed(struct store *s)
{
    /* A rollback since the last look took its names with it: forgotten first, so that they
     * are not taken for stored now (their ids may be given to other names). */
    names_settle(s);
    s->raw_kept = s->n_raw;
    for (size_t i = 0; i < s->names_cap && s->names_fresh != 0; i++)
        s->names[i].fresh = false;
    s->names_fresh = 0;
}

/* Set e->id from the names table (0: no row), and when `add` and there is none, add one.
 * 0 or -EIO. */
static int
name_resolve(struct store *s, struct store_name *e, bool add)
{
    (void)sqlite3_bind_text(s->find_name, 1, e->name, -1, SQLITE_TRANSIENT);
    if (step_id(s->find_name, &e->id) < 0)
        return -EIO;
    if (e->id != 0 || !add)
        return 0;
    (void)sqlite3_bind_text(s->add_name, 1, e->name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s->add_name);
    (void)sqlite3_reset(s->add_name);
    (void)sqlite3_clear_bindings(s->add_name);
    if (rc != SQLITE_DONE)
        return -EIO;
    e->id = sqlite3_last_insert_rowid(s->db);
    /* In a transaction the row may yet be rolled back (names_settle()). */
    e->fresh = sqlite3_get_autocommit(s->db) == 0;
    s->names_fresh += e->fresh ? 1 : 0;
    return 0;
}

/* The cache entry of `name`, read from the names table or (when `add`) added to it. 0 with
 * *ret (NULL: not in the table and not `add`); -ENOMEM; -EIO. */
static int
name_find(struct store *s, const char *name, bool add, struct store_name **ret)
{
    names_settle(s);
    uint32_t hash = name_hash(name);
    if (s->names_cap != 0) {
        struct store_name *e = name_slot(s->names, s->names_cap, name, hash);
        if (e->name != NULL) {
            if (e->id == 0 && name_resolve(s, e, add) < 0)
                return -EIO;
            *ret = e->id != 0 ? e : NULL;
            return 0;
        }
    }
    struct store_name found = {.name = (char *)name};
    if (name_resolve(s, &found, false) < 0)
        return -EIO;
    if (found.id == 0 && !add) {
        *ret = NULL;
        return 0;
    }
    if (names_grow(s) < 0)
        return -ENOMEM;
    char *copy = strdup(name);
    if (copy == NULL)
        return -ENOMEM;
    if (found.id == 0 && name_resolve(s, &found, true) < 0) {
        free(copy);
        return -EIO;
    }
    struct store_name *e = name_slot(s->names, s->names_cap, name, hash);
    *e = found;
    e->name = copy;
    e->hash = hash;
    e->ru = NULL;
    s->names_n++;
    *ret = e;
    return 0;
}

/* ---- roll-ups ------------------------------------------------------------------------------ */

/* Read host `host`'s row of `hour` into ru->h (empty when there is none, or it does not
 * decode: it is written anew). 0 or -EIO. */
static int
hour_load(struct store *s, int64_t host, int64_t hour, struct store_ru *ru)
{
    memset(&ru->h, 0, sizeof(ru->h));
    ru->hour = hour;
    sqlite3_stmt *st = s->get_hour;
    (void)sqlite3_bind_int64(st, 1, host);
    (void)sqlite3_bind_int64(st, 2, hour);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        if (p == NULL || store_hour_decode(p, (size_t)len, &ru->h) < 0)
            memset(&ru->h, 0, sizeof(ru->h));
    }
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        /* Not loaded: read it again next time rather than write the hour over with only
         * the minutes still to come. */
        memset(&ru->h, 0, sizeof(ru->h));
        ru->hour = INT64_MIN;
        return -EIO;
    }
    return 0;
}

static unsigned
minutes_in(uint64_t mask)
{
    unsigned n = 0;
    for (; mask != 0; mask &= mask - 1)
        n++;
    return n;
}

/* Put the minute being summed into its hour and write the hour's row. 0 or -EIO. */
static int
minute_close(struct store *s, int64_t host, struct store_ru *ru)
{
    if (ru->minute < 0 || ru->count == 0)
        return 0;
    unsigned m = (unsigned)(ru->minute - ru->hour * 60);
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        ru->h.q[m][k * STORE_RU_STATS + STORE_RU_MIN] = store_half(ru->min[k]);
        ru->h.q[m][k * STORE_RU_STATS + STORE_RU_MEAN] = store_half(ru->sum[k] / ru->count);
        ru->h.q[m][k * STORE_RU_STATS + STORE_RU_MAX] = store_half(ru->max[k]);
    }
    uint8_t *psi = &ru->h.q[m][STORE_RU_COL_PSI];
    psi[STORE_RU_MIN] = ru->psi_count > 0 ? store_half(ru->psi_min) : (uint8_t)STORE_RU_NONE;
    psi[STORE_RU_MEAN] =
        ru->psi_count > 0 ? store_half(ru->psi_sum / ru->psi_count) : (uint8_t)STORE_RU_NONE;
    psi[STORE_RU_MAX] = ru->psi_count > 0 ? store_half(ru->psi_max) : (uint8_t)STORE_RU_NONE;
    ru->psi_count = 0;
    ru->h.present |= (uint64_t)1 << m;
    ru->count = 0;
    uint8_t blob[STORE_HOUR_MAX_BYTES];
    size_t len = store_hour_encode(&ru->h, blob);
    sqlite3_stmt *st = s->put_hour;
    (void)sqlite3_bind_int64(st, 1, host);
    (void)sqlite3_bind_int64(st, 2, ru->hour);
    (void)sqlite3_bind_int(st, 3, (int)minutes_in(ru->h.present));
    (void)sqlite3_bind_blob(st, 4, blob, (int)len, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Start summing `minute`. A minute the store already holds (the manager stopped within it and
 * came back) goes on from its stored values, counted as one sample. 0 or -EIO. */
static int
minute_open(struct store *s, int64_t host, struct store_ru *ru, int64_t minute)
{
    int64_t hour = minute >= 0 ? minute / 60 : (minute - 59) / 60;
    if (hour != ru->hour && hour_load(s, host, hour, ru) < 0)
        return -EIO;
    ru->minute = minute;
    ru->count = 0;
    ru->psi_count = 0;
    unsigned m = (unsigned)(minute - hour * 60);
    uint64_t bit = (uint64_t)1 << m;
    if ((ru->h.present & bit) != 0) {
        ru->h.present &= ~bit;
        ru->count = 1;
        for (unsigned k = 0; k < KIND_COUNT; k++) {
            ru->min[k] = store_unhalf(ru->h.q[m][k * STORE_RU_STATS + STORE_RU_MIN]);
            ru->sum[k] = store_unhalf(ru->h.q[m][k * STORE_RU_STATS + STORE_RU_MEAN]);
            ru->max[k] = store_unhalf(ru->h.q[m][k * STORE_RU_STATS + STORE_RU_MAX]);
        }
        const uint8_t *psi = &ru->h.q[m][STORE_RU_COL_PSI];
        if (psi[STORE_RU_MEAN] != STORE_RU_NONE) {
            ru->psi_count = 1;
            ru->psi_min = store_unhalf(psi[STORE_RU_MIN]);
            ru->psi_sum = store_unhalf(psi[STORE_RU_MEAN]);
            ru->psi_max = store_unhalf(psi[STORE_RU_MAX]);
        }
    }
    return 0;
}

static int
rollup_fold(struct store *s, struct store_name *e, double time, const double *pct, unsigned kinds,
            const struct pressure *psi)
{
    if (e->ru == NULL) {
        e->ru = calloc(1, sizeof(*e->ru));
        if (e->ru == NULL)
            return -ENOMEM;
        e->ru->hour = INT64_MIN;
        e->ru->minute = -1;
    }
    struct store_ru *ru = e->ru;
    int64_t minute = (int64_t)floor(time / 60.0);
    if (minute < ru->minute)
        return 0;
    if (minute != ru->minute) {
        if (minute_close(s, e->id, ru) < 0 || minute_open(s, e->id, ru, minute) < 0)
            return -EIO;
    }
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        double v = (kinds & KIND_BIT(k)) != 0 && pct[k] > 0 ? pct[k] : 0;
        ru->min[k] = ru->count == 0 || v < ru->min[k] ? v : ru->min[k];
        ru->max[k] = ru->count == 0 || v > ru->max[k] ? v : ru->max[k];
        ru->sum[k] = ru->count == 0 ? v : ru->sum[k] + v;
    }
    ru->count++;
    /* Pressure only from the samples that carry it: never a 0 for one that did not. */
    if (psi != NULL && pressure_has(psi, PRESSURE_CPU, PRESSURE_SOME)) {
        double v = psi->pct[PRESSURE_CPU][PRESSURE_SOME];
        ru->psi_min = ru->psi_count == 0 || v < ru->psi_min ? v : ru->psi_min;
        ru->psi_max = ru->psi_count == 0 || v > ru->psi_max ? v : ru->psi_max;
        ru->psi_sum = ru->psi_count == 0 ? v : ru->psi_sum + v;
        ru->psi_count++;
    }
    return 0;
}

/* ---- raw samples --------------------------------------------------------------------------- */

static int
bytes_reserve(struct store *s, size_t more)
{
    if (s->cap_bytes - s->n_bytes >= more)
        return 0;
    size_t cap = s->cap_bytes != 0 ? s->cap_bytes : 4096;
    while (cap - s->n_bytes < more)
        cap *= 2;
    uint8_t *b = realloc(s->bytes, cap);
    if (b == NULL)
        return -ENOMEM;
    s->bytes = b;
    s->cap_bytes = cap;
    return 0;
}

static int
raw_queue(struct store *s, double time, int64_t host, const double *pct, unsigned kinds,
          const struct pressure *psi)
{
    struct store_raw *raw = grow_array(s->raw, &s->cap_raw, s->n_raw + 1, sizeof(*raw), 64);
    if (raw == NULL)
        return -ENOMEM;
    s->raw = raw;
    if (bytes_reserve(s, STORE_VMS_HEADER) < 0)
        return -ENOMEM;
    struct store_raw *r = &s->raw[s->n_raw++];
    r->time = time;
    r->host = host;
    memcpy(r->pct, pct, sizeof(r->pct));
    r->kinds = kinds;
    memset(&r->psi, 0, sizeof(r->psi));
    if (psi != NULL)
        r->psi = *psi;
    r->off = s->n_bytes;
    store_vms_header(s->bytes + s->n_bytes);
    s->n_bytes += STORE_VMS_HEADER;
    r->len = STORE_VMS_HEADER;
    s->raw_open = true;
    return 0;
}

int
store_add_sample(struct store *s, double time, const char *host, const double *pct, unsigned kinds,
                 const struct pressure *psi, bool keep_raw)
{
    s->raw_open = false;
    if (host[0] == '\0')
        return -EINVAL;
    struct store_name *e = NULL;
    int r = name_find(s, host, true, &e);
    if (r < 0)
        return r;
    r = rollup_fold(s, e, time, pct, kinds, psi);
    if (r < 0 || !keep_raw)
        return r;
    return raw_queue(s, time, e->id, pct, kinds, psi);
}

int
store_add_vm(struct store *s, const char *vm, const double *pct, unsigned kinds,
             const double *cpu_wait)
{
    if (!s->raw_open)
        return 0;
    if (vm[0] == '\0')
        return -EINVAL;
    struct store_name *e = NULL;
    int r = name_find(s, vm, true, &e);
    if (r < 0)
        return r;
    if (bytes_reserve(s, STORE_VM_MAX_BYTES) < 0)
        return -ENOMEM;
    double cols[STORE_VM_COLS];
    memcpy(cols, pct, KIND_COUNT * sizeof(double));
    cols[STORE_COL_CPU_WAIT] = cpu_wait != NULL ? *cpu_wait : 0;
    unsigned given = (kinds & KIND_MASK_ALL) | (cpu_wait != NULL ? 1u << STORE_COL_CPU_WAIT : 0);
    size_t n = store_vm_encode(s->bytes + s->n_bytes, (uint64_t)e->id, cols, given);
    s->n_bytes += n;
    s->raw[s->n_raw - 1].len += n;
    return 0;
}

static void
raw_bind(struct store *s, sqlite3_stmt *st, int base, const struct store_raw *r)
{
    s->ring.last_id++;
    (void)sqlite3_bind_int64(st, base + 1, s->ring.last_id);
    base++; /* then the columns after the id */
    (void)sqlite3_bind_double(st, base + 1, r->time);
    (void)sqlite3_bind_int64(st, base + 2, r->host);
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((r->kinds & KIND_BIT(k)) != 0)
            (void)sqlite3_bind_int(st, base + 3 + (int)k, store_centi(r->pct[k]));
        else
            (void)sqlite3_bind_null(st, base + 3 + (int)k);
    }
    (void)sqlite3_bind_blob(st, base + 7, s->bytes + r->off, (int)r->len, SQLITE_STATIC);
    for (unsigned c = 0; c < RAW_PSI_COLS; c++) {
        unsigned res = c / PRESSURE_LINE_COUNT, l = c % PRESSURE_LINE_COUNT;
        if (pressure_has(&r->psi, (enum pressure_res)res, (enum pressure_line)l))
            (void)sqlite3_bind_int(st, base + 8 + (int)c, store_centi(r->psi.pct[res][l]));
        else
            (void)sqlite3_bind_null(st, base + 8 + (int)c);
    }
}

int
store_samples_flush(struct store *s)
{
    /* A write of the round that failed may have rolled the transaction back already: the
     * queued samples may then carry ids that no longer exist. */
    names_settle(s);
    int ret = s->n_raw != 0 ? store_ring_load(s) : 0;
    size_t i = 0;
    while (i < s->n_raw && ret == 0) {
        bool many = s->n_raw - i >= STORE_RAW_PER_INSERT;
        unsigned k = s->ring.cur;
        sqlite3_stmt *st = many ? s->ring.add_many[k] : s->ring.add[k];
        size_t n = many ? STORE_RAW_PER_INSERT : 1;
        for (size_t j = 0; j < n; j++)
            raw_bind(s, st, (int)(j * STORE_RAW_BINDS), &s->raw[i + j]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            ret = -EIO;
        } else {
            s->raw_rows += (long long)n;
            s->ring.used[k] = true;
        }
        (void)sqlite3_reset(st);
        (void)sqlite3_clear_bindings(st);
        i += n;
    }
    s->n_raw = 0;
    s->raw_kept = 0;
    s->n_bytes = 0;
    s->raw_open = false;
    return ret;
}

void
store_hold_raw(struct store *s, bool hold)
{
    s->raw_hold = hold;
}

static int
raw_write(struct store *s)
{
    if (s->n_raw == 0)
        return 0;
    if (!sqlite3_get_autocommit(s->db))
        return store_samples_flush(s);
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        s->n_raw = 0;
        s->raw_kept = 0;
        s->n_bytes = 0;
        s->raw_open = false;
        return -EIO;
    }
    if (store_samples_flush(s) == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    if (!sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -EIO;
}

int
store_write_raw(struct store *s)
{
    return raw_write(s);
}

int
store_sync(struct store *s)
{
    names_settle(s);
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return -EIO;
    int r = 0;
    for (size_t i = 0; i < s->names_cap && r == 0; i++) {
        struct store_name *e = &s->names[i];
        if (e->ru == NULL)
            continue;
        if (e->id == 0)
            r = name_resolve(s, e, true); /* its row was rolled back: added again */
        if (r == 0)
            r = minute_close(s, e->id, e->ru);
    }
    if (r == 0)
        r = store_samples_flush(s);
    if (r == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
        store_names_committed(s);
        return 0;
    }
    (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -EIO;
}

/* ---- reading back -------------------------------------------------------------------------- */

/* The name of id `id` into `buf`. 0, -ENOENT or -EIO. */
static int
name_of(sqlite3_stmt *st, int64_t id, char *buf, size_t len)
{
    (void)sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        (void)snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
    (void)sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

/* The VMs of a raw sample, decoded, with their names. */
struct vm_list {
    struct store_vm_row *v;
    char (*names)[MODEL_MAX_NAME + 1];
    size_t n;
    size_t cap;
};

/* Decode the VMs `p` (`len` bytes) into `l`. 0; -EINVAL (bad bytes, unknown name); -ENOMEM;
 * -EIO. */
static int
vms_read(sqlite3_stmt *by_id, const uint8_t *p, size_t len, struct vm_list *l)
{
    l->n = 0;
    size_t pos = 0;
    for (;;) {
        uint64_t id = 0;
        double cols[STORE_VM_COLS];
        unsigned given = 0;
        int r = store_vm_decode(p, len, &pos, &id, cols, &given);
        if (r <= 0)
            return r;
        if (l->n == l->cap) {
            size_t cap = l->cap != 0 ? l->cap * 2 : 32;
            struct store_vm_row *v = realloc(l->v, cap * sizeof(*v));
            if (v != NULL)
                l->v = v;
            char(*names)[MODEL_MAX_NAME + 1] = realloc(l->names, cap * sizeof(*names));
            if (names != NULL)
                l->names = names;
            if (v == NULL || names == NULL)
                return -ENOMEM;
            l->cap = cap;
        }
        r = name_of(by_id, id > INT64_MAX ? 0 : (int64_t)id, l->names[l->n], sizeof(l->names[0]));
        if (r < 0)
            return r == -ENOENT ? -EINVAL : r;
        struct store_vm_row *v = &l->v[l->n];
        memcpy(v->pct, cols, sizeof(v->pct));
        v->kinds = given & KIND_MASK_ALL;
        v->has_cpu_wait = (given & (1u << STORE_COL_CPU_WAIT)) != 0;
        v->cpu_wait = cols[STORE_COL_CPU_WAIT];
        l->n++;
    }
}

/* What one read of samples carries from table to table. */
struct sample_read {
    sqlite3_stmt *by_id;
    bool with_vms;
    struct vm_list l;
    long long bad;
    void (*fn)(void *ctx, const struct store_row *r);
    void *ctx;
};

/* The rows of `st` (a statement of store_sample_sql()) to rd->fn. 0, -EIO or -ENOMEM. */
static int
each_row(sqlite3_stmt *st, struct sample_read *rd)
{
    int ret = 0;
    int rc;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_row row = {.time = sqlite3_column_double(st, 0),
                                .host = (const char *)sqlite3_column_text(st, 1)};
        for (unsigned k = 0; k < KIND_COUNT; k++) {
            if (sqlite3_column_type(st, 2 + (int)k) == SQLITE_NULL)
                continue;
            row.pct[k] = sqlite3_column_double(st, 2 + (int)k) / 100.0;
            row.kinds |= KIND_BIT(k);
        }
        for (unsigned c = 0; c < RAW_PSI_COLS; c++) {
            if (sqlite3_column_type(st, 7 + (int)c) != SQLITE_NULL)
                pressure_set(&row.pressure, (enum pressure_res)(c / PRESSURE_LINE_COUNT),
                             (enum pressure_line)(c % PRESSURE_LINE_COUNT),
                             sqlite3_column_double(st, 7 + (int)c) / 100.0);
        }
        if (rd->with_vms) {
            struct vm_list *l = &rd->l;
            const uint8_t *p = sqlite3_column_blob(st, 6);
            int r = vms_read(rd->by_id, p, p != NULL ? (size_t)sqlite3_column_bytes(st, 6) : 0, l);
            if (r == -EINVAL) {
                rd->bad++;
                continue;
            }
            ret = r;
            for (size_t j = 0; j < l->n; j++)
                l->v[j].name = l->names[j];
            row.vms = l->v;
            row.n_vms = l->n;
        }
        if (ret == 0)
            rd->fn(rd->ctx, &row);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = -EIO;
    return ret;
}

int
store_each_sample(struct store *s, const char *host, double since, bool with_vms,
                  void (*fn)(void *ctx, const struct store_row *r), void *ctx, long long *ret_bad)
{
    /* Held samples are written first, to be read with the others; when they cannot be, they
     * are dropped (the roll-ups have them) and what is stored is read all the same. */
    (void)raw_write(s);
    struct sample_read rd = {.with_vms = with_vms, .fn = fn, .ctx = ctx};
    if (store_ring_load(s) < 0 || sqlite3_prepare_v2(s->db, "SELECT name FROM names WHERE id = ?",
                                                     -1, &rd.by_id, NULL) != SQLITE_OK)
        return -EIO;
    /* The tables oldest first, each in id order: every row in the order written. */
    int ret = 0;
    for (unsigned i = 0; i < STORE_RAW_TABLES && ret == 0; i++) {
        char sql[1024];
        store_sample_sql(host != NULL, store_ring_nth(s, i), sql, sizeof(sql));
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
            ret = -EIO;
            break;
        }
        (void)sqlite3_bind_double(st, 1, since);
        if (host != NULL)
            (void)sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
        ret = each_row(st, &rd);
        sqlite3_finalize(st);
    }
    sqlite3_finalize(rd.by_id);
    free(rd.l.v);
    free(rd.l.names);
    if (ret_bad != NULL)
        *ret_bad = rd.bad;
    return ret;
}

/* The minutes of `h` (of `hour`) at or after `since`, but `skip` (the minute in progress). */
static void
hour_minutes(const struct store_hour *h, int64_t hour, double since, int64_t skip,
             void (*fn)(void *ctx, const struct store_minute *m), void *ctx)
{
    for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
        int64_t minute = hour * 60 + m;
        if ((h->present & ((uint64_t)1 << m)) == 0 || minute == skip ||
            (double)minute * 60.0 < since)
            continue;
        struct store_minute out = {.time = (double)minute * 60.0};
        for (unsigned k = 0; k < KIND_COUNT; k++) {
            out.min[k] = store_unhalf(h->q[m][k * STORE_RU_STATS + STORE_RU_MIN]);
            out.mean[k] = store_unhalf(h->q[m][k * STORE_RU_STATS + STORE_RU_MEAN]);
            out.max[k] = store_unhalf(h->q[m][k * STORE_RU_STATS + STORE_RU_MAX]);
        }
        const uint8_t *psi = h->q[m] + STORE_RU_COL_PSI;
        if (psi[STORE_RU_MEAN] != STORE_RU_NONE) {
            out.has_cpu_some = true;
            out.cpu_some_min = store_unhalf(psi[STORE_RU_MIN]);
            out.cpu_some_mean = store_unhalf(psi[STORE_RU_MEAN]);
            out.cpu_some_max = store_unhalf(psi[STORE_RU_MAX]);
        }
        fn(ctx, &out);
    }
}

int
store_each_minute(struct store *s, const char *host, double since,
                  void (*fn)(void *ctx, const struct store_minute *m), void *ctx)
{
    struct store_name *e = NULL;
    if (name_find(s, host, false, &e) < 0)
        return -EIO;
    if (e == NULL)
        return 0;
    const struct store_ru *ru = e->ru;
    int64_t current = ru != NULL && ru->count > 0 ? ru->minute : INT64_MIN;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT hour, data FROM rollups WHERE host = ? AND hour >= ?"
                           " ORDER BY hour",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    (void)sqlite3_bind_int64(st, 1, e->id);
    (void)sqlite3_bind_int64(st, 2, (int64_t)floor(since / 3600.0));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_hour h;
        const uint8_t *p = sqlite3_column_blob(st, 1);
        if (p != NULL && store_hour_decode(p, (size_t)sqlite3_column_bytes(st, 1), &h) == 0)
            hour_minutes(&h, sqlite3_column_int64(st, 0), since, current, fn, ctx);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -EIO;
    if (current != INT64_MIN && (double)current * 60.0 >= since) {
        struct store_minute out = {.time = (double)current * 60.0, .samples = ru->count};
        for (unsigned k = 0; k < KIND_COUNT; k++) {
            out.min[k] = ru->min[k];
            out.mean[k] = ru->sum[k] / ru->count;
            out.max[k] = ru->max[k];
        }
        if (ru->psi_count > 0) {
            out.has_cpu_some = true;
            out.cpu_some_min = ru->psi_min;
            out.cpu_some_mean = ru->psi_sum / ru->psi_count;
            out.cpu_some_max = ru->psi_max;
        }
        fn(ctx, &out);
    }
    return 0;
}
