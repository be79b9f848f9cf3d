/* SQLite store of the manager (see store.h). */
#define _POSIX_C_SOURCE 200809L
#include "store/store.h"
#include "store/store_internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/failpoint.h"

/* The schema's history, oldest first: step N upgrades a store of version N-1 to version N.
 * store_open() runs the steps a store lacks, each in one transaction that also sets
 * PRAGMA user_version and meta.schema_version to N, so a store is always at one version.
 *
 * To change the schema, append a step and raise STORE_SCHEMA_VERSION (store.h) to the number
 * of steps; never edit a step that has shipped, since stores out there already ran it. A step
 * runs once per store, so it may use plain ALTER TABLE ... ADD COLUMN (with a DEFAULT for the
 * rows there are) or CREATE TABLE. Then extend tests/unit/test_store.c: it builds a store of
 * an older version from its SQL (tests/data/store-v0.sql) and opens it with this code. */
/* A raw sample table of step 9: samples' columns after step 5, and step 8's index. */
#define RAW_TABLE(n)                                                                               \
    "CREATE TABLE samples_" #n "(id INTEGER PRIMARY KEY, time REAL NOT NULL,"                      \
    " host INTEGER NOT NULL, cpu INTEGER, mem_bw INTEGER, disk INTEGER, net INTEGER,"              \
    " vms BLOB NOT NULL, psi_cpu_some INTEGER, psi_cpu_full INTEGER, psi_memory_some INTEGER,"     \
    " psi_memory_full INTEGER, psi_io_some INTEGER, psi_io_full INTEGER);"                         \
    "CREATE INDEX samples_" #n "_time_host ON samples_" #n "(CAST(time / 10 AS INTEGER), host);"

static const char *const steps[] = {
    /* 1: the baseline, the schema vmloc had when versions began (meta.schema_version '1',
     * user_version 0). Stores older still, from before the maintenance and recommendations
     * tables, were opened with "IF NOT EXISTS" and get those tables here. */
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS samples(id INTEGER PRIMARY KEY, time REAL NOT NULL,"
    "  host TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS samples_time ON samples(time);"
    "CREATE TABLE IF NOT EXISTS conflicts(id INTEGER PRIMARY KEY, time REAL NOT NULL,"
    "  host TEXT NOT NULL, resources TEXT NOT NULL, vms TEXT NOT NULL, outcome TEXT);"
    "CREATE TABLE IF NOT EXISTS migrations(id TEXT PRIMARY KEY, vm TEXT NOT NULL,"
    "  src TEXT NOT NULL, dst TEXT NOT NULL, state TEXT NOT NULL, started REAL NOT NULL,"
    "  finished REAL, error TEXT, reason TEXT);"
    "CREATE INDEX IF NOT EXISTS migrations_started ON migrations(started);"
    "CREATE TABLE IF NOT EXISTS agents(name TEXT PRIMARY KEY, url TEXT NOT NULL,"
    "  registered REAL NOT NULL);"
    /* Hosts an operator put into maintenance (vmloc drain), until undrained. */
    "CREATE TABLE IF NOT EXISTS maintenance(host TEXT PRIMARY KEY, since REAL NOT NULL);"
    /* Moves decided but not made ([relocate] automation = manual or dry-run). */
    "CREATE TABLE IF NOT EXISTS recommendations(id TEXT PRIMARY KEY, time REAL NOT NULL,"
    "  vm TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL, reason TEXT NOT NULL,"
    "  state TEXT NOT NULL, migration TEXT NOT NULL DEFAULT '', updated REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS recommendations_time ON recommendations(time);",
    /* 2: the time a migration's source last answered, kept so that a restarted manager goes
     * on counting from it (NULL in older rows: no answer recorded). */
    "ALTER TABLE migrations ADD COLUMN answered REAL;",
    /* 3: samples as numbers (store_samples.c, store_codec.h), no longer as their JSON. The
     * JSON samples are dropped, not converted (upgrade() counts them for the log): at the old
     * default of an hour at 1,000 hosts they are some 360,000 bodies of a few KB, a start
     * delayed by minutes, and they would be kept only the new default of 10 minutes anyway;
     * the page's chart fills again in as long. Conflicts, migrations and recommendations
     * stay. */
    "DROP INDEX IF EXISTS samples_time;"
    "DROP TABLE samples;"
    "CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    /* Usage in hundredths of a percent, NULL for a kind the sample did not give; the VMs
     * in one BLOB (store_codec.h). New figures go after `net`, as columns with no default
     * (NULL in the older rows), and in the BLOB's column count. */
    "CREATE TABLE samples(id INTEGER PRIMARY KEY, time REAL NOT NULL, host INTEGER NOT NULL,"
    "  cpu INTEGER, mem_bw INTEGER, disk INTEGER, net INTEGER, vms BLOB NOT NULL);"
    /* A host's hour of one-minute roll-ups (store_codec.h), rewritten as each minute ends. */
    "CREATE TABLE rollups(id INTEGER PRIMARY KEY, host INTEGER NOT NULL, hour INTEGER NOT NULL,"
    "  minutes INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE UNIQUE INDEX rollups_host ON rollups(host, hour);",
    /* 4: what a finished migration's job took, as its source agent reports it (libvirt's
     * completed job): the VM's pause, the data sent, the whole time. NULL when unknown
     * (older rows, a failed migration, a backend that gave none). */
    "ALTER TABLE migrations ADD COLUMN downtime_ms REAL;"
    "ALTER TABLE migrations ADD COLUMN transferred_mib REAL;"
    "ALTER TABLE migrations ADD COLUMN total_ms REAL;",
    /* 5: the host's pressure stall information (PSI, the 10 s averages) beside its usage, in
     * hundredths of a percent, NULL where not measured (and in the older rows). The VMs' CPU
     * wait needs no step: it is a column appended in the VMs' BLOB (store_codec.h). */
    "ALTER TABLE samples ADD COLUMN psi_cpu_some INTEGER;"
    "ALTER TABLE samples ADD COLUMN psi_cpu_full INTEGER;"
    "ALTER TABLE samples ADD COLUMN psi_memory_some INTEGER;"
    "ALTER TABLE samples ADD COLUMN psi_memory_full INTEGER;"
    "ALTER TABLE samples ADD COLUMN psi_io_some INTEGER;"
    "ALTER TABLE samples ADD COLUMN psi_io_full INTEGER;",
    /* 6: roll-up hours in format 2 (store_codec.h). No table changes: a row says its format
     * in its first byte, and format-1 rows are still read. The step is there so that a vmloc
     * that reads only format 1 refuses the store (newer than it knows) instead of taking
     * today's hours for unreadable rows and writing them again with their later minutes
     * only. */
    "INSERT OR REPLACE INTO meta(key, value) VALUES ('rollup_format', '2');",
    /* 7: one host's raw samples by an index, not a walk of every host's (GET
     * /v1/hosts/NAME/history?vms=1: some 250 MB at 10,000 hosts and the default retention,
     * read twice with the loop stopped). An entry is the host's id and the row's rowid, which
     * SQLite appends to every index: one host's rows come in rowid order, oldest first. */
    "CREATE INDEX samples_host ON samples(host);",
    /* 8: the same reads by an index whose entries lie in time order, ten seconds at a time,
     * then by host: (CAST(time / 10 AS INTEGER), host). Step 7's entries lay in host order,
     * so each round's inserts and each pruning's deletes wrote pages all over the index: in a
     * model of the store's steady state (bench/README.md, "An index in time order") 0.56 MiB
     * of the log a commit at 1,000 hosts against 0.10 without it, 5.4 against 0.75 at 10,000.
     * A round's entries now fill pages at the index's end and pruning empties them at its
     * start (0.14 and 1.0); one host's rows are two seeks per ten seconds that hold rows
     * (store_each_sample(), whose query must divide by the same 10 to use the index). */
    ("DROP INDEX samples_host;"
     "CREATE INDEX samples_time_host ON samples(CAST(time / 10 AS INTEGER), host);"),
    /* 9: raw samples in a ring of eight tables samples_0 .. samples_7 of the same columns and
     * index, and a view `samples` of them all (store_ring.c): old rows go by emptying a whole
     * table, not by deletes from one, which rewrote most of the pages they freed (bench/
     * README.md, "A ring of tables"). The rows kept move to samples_0, ids and all. */
    (RAW_TABLE(0) RAW_TABLE(1) RAW_TABLE(2) RAW_TABLE(3) RAW_TABLE(4) RAW_TABLE(5) RAW_TABLE(6)
         RAW_TABLE(7) "INSERT INTO samples_0 SELECT id, time, host, cpu, mem_bw, disk, net, vms,"
                      " psi_cpu_some, psi_cpu_full, psi_memory_some, psi_memory_full,"
                      " psi_io_some, psi_io_full FROM samples;"
                      "DROP TABLE samples;"
                      "CREATE VIEW samples AS SELECT * FROM samples_0 UNION ALL SELECT * FROM"
                      " samples_1 UNION ALL SELECT * FROM samples_2 UNION ALL SELECT * FROM"
                      " samples_3 UNION ALL SELECT * FROM samples_4 UNION ALL SELECT * FROM"
                      " samples_5 UNION ALL SELECT * FROM samples_6 UNION ALL SELECT * FROM"
                      " samples_7;"),
};

_Static_assert(sizeof(steps) / sizeof(steps[0]) == STORE_SCHEMA_VERSION,
               "one migration step per schema version");
_Static_assert(STORE_RAW_TABLES == 8,
               "step 9 made eight raw sample tables (and STORE_RAW_COUNT_SQL counts eight)");

static int
prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
    return sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* One integer from `sql` (0 when it returns no row). 0 or -EIO. */
static int
query_int64(struct store *s, const char *sql, long long *ret)
{
    sqlite3_stmt *st = NULL;
    if (prepare(s, sql, &st) < 0)
        return -EIO;
    int rc = sqlite3_step(st);
    *ret = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

static int
query_int(struct store *s, const char *sql, int *ret)
{
    long long v = 0;
    int r = query_int64(s, sql, &v);
    *ret = (int)v;
    return r;
}

/* The store's schema version: PRAGMA user_version, or meta.schema_version when that says more
 * (a store written before user_version was kept says 1 there and 0 in the pragma, which is
 * version 0). *ret_new: the file has no table yet. 0 or -EIO. */
static int
schema_version(struct store *s, int *ret, bool *ret_new)
{
    int uv = 0;
    int tables = 0;
    int meta = 0;
    if (query_int(s, "PRAGMA user_version", &uv) < 0 ||
        query_int(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &tables) < 0)
        return -EIO;
    if (tables > 0 &&
        query_int(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                  &meta) < 0)
        return -EIO;
    int mv = 0;
    if (meta > 0 &&
        query_int(s, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'", &mv) <
            0)
        return -EIO;
    /* Before user_version, meta said 1 for what is version 0 now. */
    *ret = uv == 0 && mv <= 1 ? 0 : (uv > mv ? uv : mv);
    *ret_new = tables == 0;
    return 0;
}

/* Run step `n` (from version n-1 to n) in one transaction. 0, or -EIO with `err` filled. */
static int
upgrade_step(struct store *s, int n, char *err, size_t errlen)
{
    char set[160];
    (void)snprintf(set, sizeof(set),
                   "PRAGMA user_version = %d;"
                   "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '%d');",
                   n, n);
    const char *what = "begin";
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    what = "run";
    if (sqlite3_exec(s->db, steps[n - 1], NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, set, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    what = "commit";
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    (void)snprintf(err, errlen, "%s: cannot %s the schema upgrade from version %d to %d: %s",
                   s->path, what, n - 1, n, sqlite3_errmsg(s->db));
    (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -EIO;
}

/* Bring the store to STORE_SCHEMA_VERSION, or refuse a newer one. 0; -EPROTO (newer) or
 * -EIO with `err` filled. */
static int
upgrade(struct store *s, char *err, size_t errlen)
{
    int version = 0;
    bool fresh = false;
    if (schema_version(s, &version, &fresh) < 0) {
        (void)snprintf(err, errlen, "%s: cannot read the schema version: %s", s->path,
                       sqlite3_errmsg(s->db));
        return -EIO;
    }
    if (version > STORE_SCHEMA_VERSION) {
        (void)snprintf(err, errlen,
                       "%s: store schema version %d is newer than this vmloc knows (%d); run "
                       "the vmloc that wrote it, or give another data directory",
                       s->path, version, STORE_SCHEMA_VERSION);
        return -EPROTO;
    }
    s->found_version = fresh ? -1 : version;
    int json_samples = 0;
    if (!fresh && version < 3 &&
        query_int(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'samples'",
                  &json_samples) == 0 &&
        json_samples > 0 && query_int(s, "SELECT count(*) FROM samples", &json_samples) == 0)
        s->dropped = json_samples;
    for (int n = version + 1; n <= STORE_SCHEMA_VERSION; n++) {
        int r = upgrade_step(s, n, err, errlen);
        if (r < 0)
            return r;
    }
    return 0;
}

long long
store_dropped_samples(const struct store *s)
{
    return s->dropped;
}

bool
store_upgraded(const struct store *s, int *ret_from)
{
    if (s->found_version < 0 || s->found_version == STORE_SCHEMA_VERSION)
        return false;
    *ret_from = s->found_version;
    return true;
}

const char *
store_path(const struct store *s)
{
    return s->path;
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    store_samples_done(s);
    sqlite3_finalize(s->add_conflict);
    sqlite3_finalize(s->put_migration);
    sqlite3_finalize(s->put_agent);
    sqlite3_close(s->db);
    free(s);
}

int
store_open(const char *dir, struct store **ret, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int r = -errno;
        (void)snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return r;
    }
    struct store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if ((size_t)snprintf(s->path, sizeof(s->path), "%s/%s", dir, STORE_FILE) >= sizeof(s->path)) {
        (void)snprintf(err, errlen, "%s: path too long", dir);
        free(s);
        return -ENAMETOOLONG;
    }
    const char *path = s->path;
    const char *step = "open";
    int r = 0;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        goto fail;
    (void)sqlite3_busy_timeout(s->db, 2000);
    step = "set WAL mode";
    if (sqlite3_exec(
            s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=FAST;",
            NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    r = upgrade(s, err, errlen);
    if (r < 0) {
        store_close(s);
        return r;
    }
    step = "prepare statements";
    if (store_samples_prepare(s) < 0 ||
        prepare(s, "INSERT INTO conflicts(time, host, resources, vms, outcome) VALUES (?,?,?,?,?)",
                &s->add_conflict) < 0 ||
        /* In place: a REPLACE deleted the row and inserted it anew at each change of state,
         * rewriting its pages in the table and in both indexes (a migration's record is
         * written three to four times). `started` is not set again, so its index is left
         * alone (SQLite rewrites only the indexes of the columns an update sets). */
        prepare(s,
                "INSERT INTO migrations(id, vm, src, dst, state, started, finished, error, reason,"
                " answered, downtime_ms, transferred_mib, total_ms)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                " vm = excluded.vm, src = excluded.src, dst = excluded.dst,"
                " state = excluded.state,"
                " finished = excluded.finished, error = excluded.error, reason = excluded.reason,"
                " answered = excluded.answered, downtime_ms = excluded.downtime_ms,"
                " transferred_mib = excluded.transferred_mib, total_ms = excluded.total_ms",
                &s->put_migration) < 0 ||
        prepare(s, "INSERT OR REPLACE INTO agents(name, url, registered) VALUES (?,?,?)",
                &s->put_agent) < 0)
        goto fail;
    *ret = s;
    return 0;
fail:
    (void)snprintf(err, errlen, "%s: cannot %s: %s", path, step,
                   s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
    store_close(s);
    return -EIO;
}

int
store_begin(struct store *s)
{
    return sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int
store_commit(struct store *s)
{
    /* The queued samples go in the same transaction, unless held; the commit is tried even
     * when they fail, for the other rows of the round. */
    int r = s->raw_hold ? 0 : store_samples_flush(s);
    if (failpoint_drop("store-commit") ||
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        /* A COMMIT that failed may leave the transaction open (SQLITE_BUSY): rolled back, so
         * that the writes that follow are not held in it, unknown to the caller. */
        if (!sqlite3_get_autocommit(s->db))
            (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -EIO;
    }
    store_names_committed(s);
    return r;
}

void
store_rollback(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Step a prepared statement once and reset it. */
static int
run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int
store_add_conflict(struct store *s, double time, const char *host, const char *resources_json,
                   const char *vms_json, const char *outcome)
{
    sqlite3_stmt *st = s->add_conflict;
    (void)sqlite3_bind_double(st, 1, time);
    (void)sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 3, resources_json, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 4, vms_json, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 5, outcome, -1, SQLITE_TRANSIENT);
    return run(st);
}

/* A figure of a migration's job: NULL when unknown. */
static void
bind_figure(sqlite3_stmt *st, int col, bool known, double v)
{
    if (known && v >= 0)
        (void)sqlite3_bind_double(st, col, v);
    else
        (void)sqlite3_bind_null(st, col);
}

/* The figure in column `col`, < 0 when NULL; *known set when it is not. */
static double
column_figure(sqlite3_stmt *st, int col, bool *known)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return -1;
    *known = true;
    return sqlite3_column_double(st, col);
}

int
store_put_migration(struct store *s, const struct store_migration *m)
{
    sqlite3_stmt *st = s->put_migration;
    (void)sqlite3_bind_text(st, 1, m->id, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 2, m->vm, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 3, m->src, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 4, m->dst, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 5, m->state, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_double(st, 6, m->started);
    if (m->finished >= 0)
        (void)sqlite3_bind_double(st, 7, m->finished);
    else
        (void)sqlite3_bind_null(st, 7);
    if (m->error[0] != '\0')
        (void)sqlite3_bind_text(st, 8, m->error, -1, SQLITE_TRANSIENT);
    else
        (void)sqlite3_bind_null(st, 8);
    (void)sqlite3_bind_text(st, 9, m->reason, -1, SQLITE_TRANSIENT);
    if (m->answered > 0)
        (void)sqlite3_bind_double(st, 10, m->answered);
    else
        (void)sqlite3_bind_null(st, 10);
    bind_figure(st, 11, m->has_job, m->downtime_ms);
    bind_figure(st, 12, m->has_job, m->transferred_mib);
    bind_figure(st, 13, m->has_job, m->total_ms);
    return run(st);
}

static void
copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    (void)snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

int
store_each_migration(struct store *s, bool active_only, int limit,
                     void (*fn)(void *ctx, const struct store_migration *m), void *ctx)
{
    const char *sql = active_only
                          ? "SELECT id, vm, src, dst, state, started, finished, error, reason,"
                            " answered, downtime_ms, transferred_mib, total_ms FROM migrations"
                            " WHERE state IN ('planned', 'running') ORDER BY started"
                          : "SELECT * FROM (SELECT id, vm, src, dst, state, started, finished,"
                            " error, reason, answered, downtime_ms, transferred_mib, total_ms"
                            " FROM migrations ORDER BY started DESC LIMIT ?) ORDER BY started";
    sqlite3_stmt *st = NULL;
    if (prepare(s, sql, &st) < 0)
        return -EIO;
    if (!active_only)
        (void)sqlite3_bind_int(st, 1, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_migration m;
        memset(&m, 0, sizeof(m));
        copy_col(st, 0, m.id, sizeof(m.id));
        copy_col(st, 1, m.vm, sizeof(m.vm));
        copy_col(st, 2, m.src, sizeof(m.src));
        copy_col(st, 3, m.dst, sizeof(m.dst));
        copy_col(st, 4, m.state, sizeof(m.state));
        m.started = sqlite3_column_double(st, 5);
        m.finished =
            sqlite3_column_type(st, 6) == SQLITE_NULL ? -1.0 : sqlite3_column_double(st, 6);
        copy_col(st, 7, m.error, sizeof(m.error));
        copy_col(st, 8, m.reason, sizeof(m.reason));
        m.answered = sqlite3_column_type(st, 9) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 9);
        m.downtime_ms = column_figure(st, 10, &m.has_job);
        m.transferred_mib = column_figure(st, 11, &m.has_job);
        m.total_ms = column_figure(st, 12, &m.has_job);
        fn(ctx, &m);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int
store_each_conflict(struct store *s, int limit,
                    void (*fn)(void *ctx, double time, const char *host, const char *resources_json,
                               const char *vms_json, const char *outcome),
                    void *ctx)
{
    sqlite3_stmt *st = NULL;
    if (prepare(s,
                "SELECT * FROM (SELECT time, host, resources, vms, outcome FROM conflicts"
                " ORDER BY id DESC LIMIT ?) ORDER BY time",
                &st) < 0)
        return -EIO;
    (void)sqlite3_bind_int(st, 1, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *o = sqlite3_column_text(st, 4);
        fn(ctx, sqlite3_column_double(st, 0), (const char *)sqlite3_column_text(st, 1),
           (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
           o != NULL ? (const char *)o : "");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int
store_put_agent(struct store *s, const char *name, const char *url, double time)
{
    sqlite3_stmt *st = s->put_agent;
    (void)sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 2, url, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_double(st, 3, time);
    return run(st);
}

int
store_each_agent(struct store *s,
                 void (*fn)(void *ctx, const char *name, const char *url, double registered),
                 void *ctx)
{
    sqlite3_stmt *st = NULL;
    if (prepare(s, "SELECT name, url, registered FROM agents ORDER BY name", &st) < 0)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           sqlite3_column_double(st, 2));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int
store_forget_agent(struct store *s, const char *name)
{
    static const char *const sql[] = {"DELETE FROM agents WHERE name = ?1",
                                      "DELETE FROM maintenance WHERE host = ?1"};
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        sqlite3_stmt *st = NULL;
        if (prepare(s, sql[i], &st) < 0)
            return -EIO;
        (void)sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return -EIO;
    }
    return 0;
}

int
store_set_maintenance(struct store *s, const char *host, bool on, double since)
{
    sqlite3_stmt *st = NULL;
    if (prepare(s,
                on ? "INSERT OR REPLACE INTO maintenance(host, since) VALUES (?1, ?2)"
                   : "DELETE FROM maintenance WHERE host = ?1",
                &st) < 0)
        return -EIO;
    (void)sqlite3_bind_text(st, 1, host, -1, SQLITE_TRANSIENT);
    if (on)
        (void)sqlite3_bind_double(st, 2, since);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int
store_each_maintenance(struct store *s, void (*fn)(void *ctx, const char *host, double since),
                       void *ctx)
{
    sqlite3_stmt *st = NULL;
    if (prepare(s, "SELECT host, since FROM maintenance ORDER BY host", &st) < 0)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int
store_put_recommendation(struct store *s, const struct store_rec *r)
{
    sqlite3_stmt *st = NULL;
    if (prepare(s,
                "INSERT OR REPLACE INTO recommendations(id, time, vm, src, dst, reason, state,"
                " migration, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                &st) < 0)
        return -EIO;
    (void)sqlite3_bind_text(st, 1, r->id, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_double(st, 2, r->time);
    (void)sqlite3_bind_text(st, 3, r->vm, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 4, r->src, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 5, r->dst, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 6, r->reason, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 7, r->state, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 8, r->migration, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_double(st, 9, r->updated);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int
store_each_recommendation(struct store *s, bool pending_only, int limit,
                          void (*fn)(void *ctx, const struct store_rec *r), void *ctx)
{
    const char *sql = pending_only
                          ? "SELECT id, time, vm, src, dst, reason, state, migration, updated"
                            " FROM recommendations WHERE state = 'pending' ORDER BY time"
                          : "SELECT * FROM (SELECT id, time, vm, src, dst, reason, state,"
                            " migration, updated FROM recommendations ORDER BY time DESC LIMIT ?)"
                            " ORDER BY time";
    sqlite3_stmt *st = NULL;
    if (prepare(s, sql, &st) < 0)
        return -EIO;
    if (!pending_only)
        (void)sqlite3_bind_int(st, 1, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_rec r;
        memset(&r, 0, sizeof(r));
        copy_col(st, 0, r.id, sizeof(r.id));
        r.time = sqlite3_column_double(st, 1);
        copy_col(st, 2, r.vm, sizeof(r.vm));
        copy_col(st, 3, r.src, sizeof(r.src));
        copy_col(st, 4, r.dst, sizeof(r.dst));
        copy_col(st, 5, r.reason, sizeof(r.reason));
        copy_col(st, 6, r.state, sizeof(r.state));
        copy_col(st, 7, r.migration, sizeof(r.migration));
        r.updated = sqlite3_column_double(st, 8);
        fn(ctx, &r);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int
store_stats(struct store *s, long long *ret_samples, long long *ret_bytes)
{
    /* The rows are counted once (after the store opens, or a rollback), then followed as
     * they are written and pruned. */
    if (!s->raw_rows_known) {
        if (query_int64(s, STORE_RAW_COUNT_SQL, &s->raw_rows) < 0)
            return -EIO;
        s->raw_rows_known = true;
    }
    if (query_int64(s, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                    ret_bytes) < 0)
        return -EIO;
    *ret_samples = s->raw_rows + (long long)s->n_raw;
    return 0;
}

/* ---- pruning ------------------------------------------------------------------------------- */

/* Run `sql` with ?1 = `before`, ?2 = STORE_PRUNE_BATCH; add the rows deleted to *n. 0 or
 * -EIO. */
static int
prune_one(struct store *s, const char *sql, double before, long long *n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    (void)sqlite3_bind_double(st, 1, before);
    (void)sqlite3_bind_int(st, 2, STORE_PRUNE_BATCH);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -EIO;
    *n += sqlite3_changes(s->db);
    return 0;
}

int
store_prune(struct store *s, double now, const struct store_retention *r)
{
    /* Raw samples a table at a time (store_ring.c). Other rows are written oldest first,
     * so the lowest ids are the oldest: each delete looks at a range of at most
     * STORE_PRUNE_BATCH ids from the lowest (a rowid range, no index), and deletes the rows in
     * it old enough. An hour of roll-ups keeps the id of its first minute: the hours of all
     * hosts are begun in time order. */
    long long n = 0;
    if (store_ring_prune(s, now, r->raw_s, &n) < 0)
        return -EIO;
    const struct {
        const char *sql;
        double before;
    } jobs[] = {
        {"DELETE FROM rollups WHERE id >= (SELECT min(id) FROM rollups) AND id < (SELECT min(id)"
         " FROM rollups) + ?2 AND (hour + 1) * 3600 <= ?1",
         now - r->rollup_s},
        {"DELETE FROM conflicts WHERE id >= (SELECT min(id) FROM conflicts) AND id < (SELECT"
         " min(id) FROM conflicts) + ?2 AND time < ?1",
         now - r->event_s},
        /* Through the index on started: only rows that started before the cut are looked at. */
        {"DELETE FROM migrations WHERE rowid IN (SELECT rowid FROM migrations WHERE started < ?1"
         " AND finished IS NOT NULL AND finished < ?1 LIMIT ?2)",
         now - r->event_s},
        {"DELETE FROM recommendations WHERE rowid IN (SELECT rowid FROM recommendations WHERE"
         " time < ?1 AND state != 'pending' AND updated < ?1 LIMIT ?2)",
         now - r->event_s},
    };
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
        if (prune_one(s, jobs[i].sql, jobs[i].before, &n) < 0)
            return -EIO;
    }
    return n > INT32_MAX ? INT32_MAX : (int)n;
}
