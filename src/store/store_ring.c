/* The raw sample tables of the store: a ring of STORE_RAW_TABLES tables (store_internal.h,
 * struct store_ring). Rows are written to one, the current table; store_ring_prune() makes
 * the next one current once the current one has been written for a segment of the retention,
 * and empties a table whole once all of it is older than the retention. Emptying a table
 * writes a few pages; deleting its oldest rows from one big table rewrote most of the pages
 * it freed (SQLite rebalances the pages beside the ones a delete empties first), the largest
 * part of the store's writes at 1,000 hosts (bench/README.md, "A ring of tables"). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "store/store_internal.h"

#define RAW_COLUMNS                                                                                \
    "INSERT INTO samples_%u(id, time, host, cpu, mem_bw, disk, net, vms, psi_cpu_some,"            \
    " psi_cpu_full, psi_memory_some, psi_memory_full, psi_io_some, psi_io_full) VALUES "
static const char raw_row[] = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
_Static_assert(sizeof(raw_row) - 1 == 2 * STORE_RAW_BINDS + 1, "one ? per bind");

int
store_ring_prepare(struct store *s)
{
    struct store_ring *g = &s->ring;
    for (unsigned k = 0; k < STORE_RAW_TABLES; k++) {
        char head[sizeof(RAW_COLUMNS) + 16];
        (void)snprintf(head, sizeof(head), RAW_COLUMNS, k);
        char one[sizeof(head) + sizeof(raw_row)];
        (void)snprintf(one, sizeof(one), "%s%s", head, raw_row);
        char many[sizeof(head) + STORE_RAW_PER_INSERT * sizeof(raw_row)];
        size_t n = (size_t)snprintf(many, sizeof(many), "%s", head);
        for (unsigned i = 0; i < STORE_RAW_PER_INSERT; i++)
            n += (size_t)snprintf(many + n, sizeof(many) - n, "%s%s", i ? "," : "", raw_row);
        if (sqlite3_prepare_v2(s->db, one, -1, &g->add[k], NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, many, -1, &g->add_many[k], NULL) != SQLITE_OK)
            return -EIO;
    }
    g->cur_started = NAN;
    return 0;
}

void
store_ring_done(struct store *s)
{
    for (unsigned k = 0; k < STORE_RAW_TABLES; k++) {
        sqlite3_finalize(s->ring.add[k]);
        sqlite3_finalize(s->ring.add_many[k]);
    }
}

/* The id and time of table k's newest row (`newest`) or oldest: 1, 0 (empty) or -EIO. */
static int
row_at_end(struct store *s, unsigned k, bool newest, int64_t *ret_id, double *ret_time)
{
    char sql[96];
    (void)snprintf(sql, sizeof(sql), "SELECT id, time FROM samples_%u ORDER BY id %s LIMIT 1", k,
                   newest ? "DESC" : "ASC");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ret_id = sqlite3_column_int64(st, 0);
        *ret_time = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

int
store_ring_load(struct store *s)
{
    struct store_ring *g = &s->ring;
    if (g->known)
        return 0;
    int64_t top = 0;
    for (unsigned k = 0; k < STORE_RAW_TABLES; k++) {
        int64_t id = 0;
        double time = 0;
        int r = row_at_end(s, k, true, &id, &time);
        if (r < 0)
            return -EIO;
        g->used[k] = r > 0;
        g->ended[k] = time;
        if (r > 0 && id > top) {
            top = id;
            g->cur = k; /* the newest row is in the table written last */
        }
    }
    /* Ids go on from the highest ever given (a rolled-back row's id is not taken again, so
     * that ids stay in the order rows were written, which is time order). */
    g->last_id = top > g->last_id ? top : g->last_id;
    g->cur_started = NAN;
    if (g->used[g->cur]) {
        int64_t id = 0;
        if (row_at_end(s, g->cur, false, &id, &g->cur_started) < 0)
            return -EIO;
    }
    g->clamp = true;
    g->known = true;
    return 0;
}

/* Empty table k, adding its rows to *n. 0 or -EIO. */
static int
ring_empty(struct store *s, unsigned k, long long *n)
{
    char sql[64];
    (void)snprintf(sql, sizeof(sql), "DELETE FROM samples_%u", k);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -EIO;
    long long gone = sqlite3_changes64(s->db);
    *n += gone;
    s->raw_rows -= gone;
    s->ring.used[k] = false;
    return 0;
}

int
store_ring_prune(struct store *s, double now, double raw_s, long long *n)
{
    struct store_ring *g = &s->ring;
    if (store_ring_load(s) < 0)
        return -EIO;
    /* Times read from the rows may be ahead of this clock (an agent's clock): none is later
     * than the first call's `now`, so that no table is kept past it. */
    if (g->clamp) {
        for (unsigned k = 0; k < STORE_RAW_TABLES; k++)
            g->ended[k] = fmin(g->ended[k], now);
        if (!isnan(g->cur_started))
            g->cur_started = fmin(g->cur_started, now);
        g->clamp = false;
    }
    for (unsigned k = 0; k < STORE_RAW_TABLES; k++) {
        if (k != g->cur && g->used[k] && g->ended[k] <= now - raw_s && ring_empty(s, k, n) < 0)
            return -EIO;
    }
    /* A segment begins with the first call that finds rows in it. */
    if (!g->used[g->cur] || isnan(g->cur_started)) {
        g->cur_started = now;
        return 0;
    }
    /* A segment is a (STORE_RAW_TABLES - 2)th of the retention: the table after the current
     * one was left a whole segment more than the retention ago, and is empty by now (unless
     * the retention grew: the current table is then written on until it is). */
    unsigned next = (g->cur + 1) % STORE_RAW_TABLES;
    if (now - g->cur_started < raw_s / (STORE_RAW_TABLES - 2) || g->used[next])
        return 0;
    g->ended[g->cur] = now;
    g->cur = next;
    g->cur_started = now;
    return 0;
}

void
store_sample_sql(bool one_host, unsigned table, char *buf, size_t len)
{
#define SAMPLE_COLS                                                                                \
    "SELECT s.time, n.name, s.cpu, s.mem_bw, s.disk, s.net, s.vms, s.psi_cpu_some,"                \
    " s.psi_cpu_full, s.psi_memory_some, s.psi_memory_full, s.psi_io_some, s.psi_io_full"
    /* One host's: each ten seconds from `since` that hold rows, each by a seek past the one
     * before (a row dated decades off adds one step), then the host's rows in it. */
#define TEN_S "CAST(time / 10 AS INTEGER)"
    if (one_host)
        (void)snprintf(buf, len,
                       "WITH RECURSIVE b(k) AS (SELECT (SELECT MIN(" TEN_S ") FROM samples_%u"
                       " WHERE " TEN_S " >= CAST(?1 / 10 AS INTEGER)) UNION ALL SELECT (SELECT"
                       " MIN(" TEN_S ") FROM samples_%u WHERE " TEN_S " > b.k) FROM b WHERE b.k"
                       " IS NOT NULL) " SAMPLE_COLS " FROM b JOIN names n ON n.name = ?2"
                       " JOIN samples_%u s ON CAST(s.time / 10 AS INTEGER) = b.k AND s.host = n.id"
                       " WHERE s.time >= ?1 ORDER BY s.id",
                       table, table, table);
    else
        (void)snprintf(buf, len,
                       SAMPLE_COLS " FROM samples_%u s JOIN names n ON n.id = s.host"
                                   " WHERE s.time >= ?1 ORDER BY s.id",
                       table);
#undef TEN_S
#undef SAMPLE_COLS
}

unsigned
store_ring_nth(const struct store *s, unsigned i)
{
    return (s->ring.cur + 1 + i) % STORE_RAW_TABLES;
}
