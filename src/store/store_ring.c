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

/* One number from `sql`: 1, 0 (NULL: of an empty table) or -EIO. */
static int
table_number(struct store *s, const char *sql, double *ret)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    int rc = sqlite3_step(st);
    bool got = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (got)
        *ret = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? got : -EIO;
}

int
store_ring_load(struct store *s)
{
    struct store_ring *g = &s->ring;
    if (g->known)
        return 0;
    double top = 0;
    char sql[128];
    for (unsigned k = 0; k < STORE_RAW_TABLES; k++) {
        double id = 0;
        (void)snprintf(sql, sizeof(sql), "SELECT max(id) FROM samples_%u", k);
        int r = table_number(s, sql, &id);
        if (r < 0)
            return -EIO;
        g->used[k] = r > 0;
        /* The newest time, not the newest id's: the last row written may be a sample dated
         * earlier than others (a host whose clock is behind). By the index, to 10 s. */
        (void)snprintf(sql, sizeof(sql),
                       "SELECT (max(CAST(time / 10 AS INTEGER)) + 1) * 10.0 FROM samples_%u", k);
        if (r > 0 && table_number(s, sql, &g->ended[k]) < 0)
            return -EIO;
        if (r > 0 && id > top) {
            top = id;
            g->cur = k; /* the newest row is in the table written last */
        }
    }
    /* Ids go on from the highest ever given (a rolled-back row's id is not taken again, so
     * that ids stay in the order rows were written, which is time order). */
    g->last_id = (int64_t)top > g->last_id ? (int64_t)top : g->last_id;
    g->cur_started = NAN;
    (void)snprintf(sql, sizeof(sql),
                   "SELECT min(CAST(time / 10 AS INTEGER)) * 10.0 FROM samples_%u", g->cur);
    if (g->used[g->cur] && table_number(s, sql, &g->cur_started) < 0)
        return -EIO;
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
    /* Times read from the rows may be ahead of this clock (an agent's, or the wall clock
     * stepped back since): none is later than the first call's `now`. Times this clock set
     * are left alone: lowered to a clock stepped back for a moment, they would empty tables
     * early once it is put right. (A clock stepped back by D holds the tables D longer.) */
    if (g->clamp) {
        for (unsigned k = 0; k < STORE_RAW_TABLES; k++)
            g->ended[k] = fmin(g->ended[k], now);
        if (!isnan(g->cur_started))
            g->cur_started = fmin(g->cur_started, now);
        g->clamp = false;
    }
    /* The oldest table old enough, one a call. */
    for (unsigned i = 0; i + 1 < STORE_RAW_TABLES; i++) {
        unsigned k = store_ring_nth(s, i);
        if (g->used[k] && g->ended[k] <= now - raw_s) {
            if (ring_empty(s, k, n) < 0)
                return -EIO;
            break;
        }
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
