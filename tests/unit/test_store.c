/* The store's schema versions (src/store/store.c): a store written before versions were kept
 * (tests/data/store-v0.sql, the oldest schema) is upgraded on open and keeps its rows; a new
 * store starts at STORE_SCHEMA_VERSION; a store newer than this code is refused, untouched,
 * with a message that names the file and both versions. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/file.h" /* file_read_all() */
#include "store/store.h"
#include "store/store_codec.h"
#include "store/store_internal.h" /* store_sample_sql() */
#include "testdir.h"

#ifndef VMLOC_TEST_DATA
#error "VMLOC_TEST_DATA: the folder tests/data"
#endif

static int
group_setup(void **state)
{
    (void)state;
    return testdir_setup(VMLOC_TEST_TMP, "store-test");
}

/* Run `sql` on DIR/vmloc.db with SQLite itself, as an older vmloc would have. */
static void
exec_sql(const char *dir, const char *sql)
{
    char path[600];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* One integer from `sql` on DIR/vmloc.db. */
static int
query_int(const char *dir, const char *sql)
{
    char path[600];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return v;
}

static void
one_migration(void *ctx, const struct store_migration *m)
{
    struct store_migration *out = ctx;
    assert_string_equal(out->id, ""); /* only one */
    *out = *m;
}

static void
one_agent(void *ctx, const char *name, const char *url, double registered)
{
    int *n = ctx;
    assert_string_equal(name, "h1");
    assert_string_equal(url, "http://127.0.0.1:1");
    assert_true(registered == 1764140000);
    (*n)++;
}

static void
one_conflict(void *ctx, double time, const char *host, const char *res, const char *vms,
             const char *outcome)
{
    int *n = ctx;
    assert_true(time == 1764140001);
    assert_string_equal(host, "h1");
    assert_string_equal(res, "[\"cpu\"]");
    assert_string_equal(vms, "[\"web-1\",\"db-1\"]");
    assert_string_equal(outcome, "migrated");
    (*n)++;
}

static void
one_maintenance(void *ctx, const char *host, double since)
{
    int *n = ctx;
    assert_string_equal(host, "h2");
    assert_true(since == 5);
    (*n)++;
}

static void
test_upgrade_oldest(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    char *sql = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(VMLOC_TEST_DATA "/store-v0.sql", 1 << 20, &sql, &len), 0);
    exec_sql(dir, sql);
    free(sql);
    assert_int_equal(query_int(dir, "PRAGMA user_version"), 0);

    struct store *s = NULL;
    char err[512] = "";
    if (store_open(dir, &s, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    int from = -1;
    assert_true(store_upgraded(s, &from));
    assert_int_equal(from, 0);
    assert_non_null(strstr(store_path(s), dir));

    /* The rows survive. */
    struct store_migration m = {.id = ""};
    assert_int_equal(store_each_migration(s, false, 10, one_migration, &m), 0);
    assert_string_equal(m.id, "m-old-1");
    assert_string_equal(m.vm, "web-1");
    assert_string_equal(m.dst, "h2");
    assert_string_equal(m.state, "done");
    assert_string_equal(m.reason, "cpu conflict");
    assert_true(m.finished == 1764140030);
    int n = 0;
    assert_int_equal(store_each_agent(s, one_agent, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(store_each_conflict(s, 10, one_conflict, &n), 0);
    assert_int_equal(n, 1);

    /* The tables added since are there and work. */
    assert_int_equal(store_set_maintenance(s, "h2", true, 5), 0);
    n = 0;
    assert_int_equal(store_each_maintenance(s, one_maintenance, &n), 0);
    assert_int_equal(n, 1);
    struct store_rec r = {.id = "r1",
                          .time = 6,
                          .vm = "web-1",
                          .src = "h1",
                          .dst = "h2",
                          .reason = "test",
                          .state = "pending",
                          .updated = 6};
    assert_int_equal(store_put_recommendation(s, &r), 0);
    /* Step 3 dropped the JSON sample of the old store; samples are numbers now. */
    assert_int_equal(store_dropped_samples(s), 1);
    const double pct[KIND_COUNT] = {10, 20, 30, 40};
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, 7, "h1", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_commit(s), 0);
    store_close(s);

    assert_int_equal(query_int(dir, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(dir, "SELECT CAST(value AS INTEGER) FROM meta"
                                    " WHERE key = 'schema_version'"),
                     STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 1);
    assert_int_equal(query_int(dir, "SELECT cpu FROM samples"), 1000);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM recommendations"), 1);
    /* Step 2 gave the old migrations table its answered column. */
    assert_int_equal(query_int(dir, "SELECT count(*) FROM pragma_table_info('migrations')"
                                    " WHERE name = 'answered'"),
                     1);
    /* Step 7 indexed the raw samples by host, step 8 by ten seconds and host instead, and
     * step 9 split them into a ring of tables, each with step 8's index, under a view. */
    assert_int_equal(query_int(dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                    " AND name IN ('samples_host', 'samples_time_host')"),
                     0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                    " AND name GLOB 'samples_[0-7]_time_host'"),
                     8);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM sqlite_master WHERE type = 'view'"
                                    " AND name = 'samples'"),
                     1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples s JOIN names n"
                                    " ON s.host = n.id WHERE n.name = 'h1'"),
                     1);

    /* Opened again: up to date, nothing to upgrade. */
    assert_int_equal(store_open(dir, &s, err, sizeof(err)), 0);
    assert_false(store_upgraded(s, &from));
    store_close(s);
}

static void
test_new_store(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = NULL;
    char err[512] = "";
    if (store_open(dir, &s, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    int from = -1;
    assert_false(store_upgraded(s, &from));
    store_close(s);
    assert_int_equal(query_int(dir, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(
        query_int(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'recommendations'"), 1);
}

static void
test_newer_refused(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = NULL;
    char err[512] = "";
    assert_int_equal(store_open(dir, &s, err, sizeof(err)), 0);
    store_close(s);
    char sql[64];
    (void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
    exec_sql(dir, sql);

    s = NULL;
    assert_int_equal(store_open(dir, &s, err, sizeof(err)), -EPROTO);
    assert_null(s);
    char want[700];
    (void)snprintf(want, sizeof(want),
                   "%s/%s: store schema version %d is newer than this vmloc knows (%d)", dir,
                   STORE_FILE, STORE_SCHEMA_VERSION + 1, STORE_SCHEMA_VERSION);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("message: %s\nwant: %s...", err, want);
    assert_null(strchr(err, '\n'));
    /* Untouched. */
    assert_int_equal(query_int(dir, "PRAGMA user_version"), STORE_SCHEMA_VERSION + 1);

    /* meta.schema_version alone says newer too (as an older vmloc checks it). */
    (void)snprintf(sql, sizeof(sql), "PRAGMA user_version = 0");
    exec_sql(dir, sql);
    (void)snprintf(sql, sizeof(sql), "UPDATE meta SET value = '%d'", STORE_SCHEMA_VERSION + 1);
    exec_sql(dir, sql);
    assert_int_equal(store_open(dir, &s, err, sizeof(err)), -EPROTO);
}

/* ---- samples as numbers (store_samples.c, store_codec.h) ---------------------------------- */

static struct store *
open_store(const char *dir)
{
    struct store *s = NULL;
    char err[512] = "";
    if (store_open(dir, &s, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    return s;
}

/* A minute-aligned time (2025-11-26 07:00:00 UTC). */
#define T0 1764140400.0

/* Host HOST's usage at step i of a test: cpu rises by 1 % a step, the other kinds fixed. */
static void
usage_at(int i, double *pct)
{
    pct[KIND_CPU] = 10.0 + i;
    pct[KIND_MEM_BW] = 20.25;
    pct[KIND_DISK] = 5;
    pct[KIND_NET] = 0;
}

/* One round: hosts h1 and h2 at `time`, two VMs each, raw when `raw`. */
static void
write_round(struct store *s, double time, int i, bool raw)
{
    double pct[KIND_COUNT];
    usage_at(i, pct);
    assert_int_equal(store_begin(s), 0);
    const char *hosts[] = {"h1", "h2"};
    for (unsigned h = 0; h < 2; h++) {
        assert_int_equal(store_add_sample(s, time, hosts[h], pct, KIND_MASK_ALL, NULL, raw), 0);
        const double vm1[KIND_COUNT] = {4.5, 1, 2, 3};
        const double vm2[KIND_COUNT] = {5.5 + i, 0, 0, 0};
        char name[32];
        (void)snprintf(name, sizeof(name), "%s-web", hosts[h]);
        assert_int_equal(store_add_vm(s, name, vm1, KIND_MASK_ALL, NULL), 0);
        /* A VM whose sample gives only its cpu. */
        assert_int_equal(store_add_vm(s, "db", vm2, KIND_BIT(KIND_CPU), NULL), 0);
    }
    assert_int_equal(store_commit(s), 0);
}

struct rows {
    int n;
    struct store_row r[16];
    char vm[16][2][32];
    double vm_cpu[16][2];
    unsigned vm_kinds[16][2];
};

static void
keep_row(void *ctx, const struct store_row *r)
{
    struct rows *rs = ctx;
    assert_true(rs->n < 16);
    rs->r[rs->n] = *r;
    rs->r[rs->n].host = NULL;
    assert_string_equal(r->host, "h1");
    assert_int_equal(r->n_vms, 2);
    for (size_t j = 0; j < 2; j++) {
        (void)snprintf(rs->vm[rs->n][j], sizeof(rs->vm[0][0]), "%s", r->vms[j].name);
        rs->vm_cpu[rs->n][j] = r->vms[j].pct[KIND_CPU];
        rs->vm_kinds[rs->n][j] = r->vms[j].kinds;
    }
    rs->r[rs->n].vms = NULL;
    rs->n++;
}

struct minutes {
    int n;
    struct store_minute m[64];
};

static void
keep_minute(void *ctx, const struct store_minute *m)
{
    struct minutes *ms = ctx;
    assert_true(ms->n < 64);
    ms->m[ms->n++] = *m;
}

/* The number of `table`'s rows whose host is named `name`. */
static int
rows_of(const char *dir, const char *table, const char *name)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM %s JOIN names ON names.id = %s.host WHERE names.name = "
                   "'%s'",
                   table, table, name);
    return query_int(dir, sql);
}

/* A round whose write fails rolls back the names it added: a name added then is added
 * again when next used, and its samples and roll-ups name it, not a name added in between
 * that took its id. */
static void
test_names_after_rollback(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    write_round(s, T0, 0, true);
    /* A failing write: the raw sample of the next round rolls its transaction back. */
    exec_sql(dir, "CREATE TRIGGER full BEFORE INSERT ON samples_0 BEGIN "
                  "SELECT RAISE(ROLLBACK, 'disk full'); END;");
    double pct[KIND_COUNT];
    usage_at(1, pct);
    const double vm[KIND_COUNT] = {1, 2, 3, 4};
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, T0 + 10, "h9", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_add_vm(s, "vm9", vm, KIND_MASK_ALL, NULL), 0);
    assert_int_equal(store_commit(s), -EIO);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM names WHERE name = 'h9'"), 0);

    exec_sql(dir, "DROP TRIGGER full;");
    assert_int_equal(store_begin(s), 0);
    /* A new name first: it may be given the id the rolled-back row had. */
    assert_int_equal(store_add_sample(s, T0 + 20, "h8", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_add_sample(s, T0 + 20, "h9", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_add_vm(s, "vm9", vm, KIND_MASK_ALL, NULL), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM names WHERE name = 'h9'"), 1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM names WHERE name = 'vm9'"), 1);
    assert_int_equal(rows_of(dir, "samples", "h9"), 1);
    assert_int_equal(rows_of(dir, "samples", "h8"), 1);

    /* The minute's roll-ups, written at a clean stop, name h9 and h8 each once. */
    assert_int_equal(store_sync(s), 0);
    assert_int_equal(rows_of(dir, "rollups", "h9"), 1);
    assert_int_equal(rows_of(dir, "rollups", "h8"), 1);
    store_close(s);
}

/* The same when another write of the round fails and SQLite rolls the transaction back by
 * itself: the raw samples queued for the round carry the lost ids, and the commit drops them
 * rather than write them (outside any transaction then) under an id the next name takes. */
static void
test_names_after_midround_rollback(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    write_round(s, T0, 0, true);
    exec_sql(dir, "CREATE TRIGGER full BEFORE INSERT ON conflicts BEGIN "
                  "SELECT RAISE(ROLLBACK, 'disk full'); END;");
    double pct[KIND_COUNT];
    usage_at(1, pct);
    const double vm[KIND_COUNT] = {1, 2, 3, 4};
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, T0 + 10, "h9", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_add_vm(s, "vm9", vm, KIND_MASK_ALL, NULL), 0);
    assert_true(store_add_conflict(s, T0 + 10, "h9", "[]", "[]", "x") < 0);
    assert_true(store_commit(s) < 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples WHERE host NOT IN "
                                    "(SELECT id FROM names)"),
                     0);

    exec_sql(dir, "DROP TRIGGER full;");
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, T0 + 20, "h8", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(rows_of(dir, "samples", "h8"), 1);
    assert_int_equal(rows_of(dir, "samples", "h9"), 0);
    store_close(s);
}

/* store_stats()'s count of raw samples, kept as rows are written and pruned, is the table's
 * at every step: rounds committed, a round whose write rolls back, a round SQLite rolls back
 * by itself, a commit of a store reopened on its file, pruning in batches, and a write
 * outside a round (the raw rows then commit on their own, and the commit fails). */
static void
expect_count_at(struct store *s, const char *dir, long long want, int line)
{
    long long n = -1;
    long long bytes = -1;
    assert_int_equal(store_stats(s, &n, &bytes), 0);
    int table = query_int(dir, "SELECT count(*) FROM samples");
    if (n != want || table != want)
        fail_msg("line %d: store_stats() counts %lld, the table holds %d, expected %lld", line, n,
                 table, want);
    assert_true(bytes > 0);
}

#define expect_count(s, d, w) expect_count_at(s, d, w, __LINE__)

static void
test_stats_count(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    expect_count(s, dir, 0);
    write_round(s, T0, 0, true);
    write_round(s, T0 + 10, 1, true);
    expect_count(s, dir, 4);

    double pct[KIND_COUNT];
    usage_at(2, pct);
    exec_sql(dir, "CREATE TRIGGER full BEFORE INSERT ON samples_0 WHEN NEW.time > "
                  "1764140425"
                  " BEGIN SELECT RAISE(ROLLBACK, 'disk full'); END;");
    /* 40 rows (more than one statement writes), the last of which fails. */
    assert_int_equal(store_begin(s), 0);
    for (int i = 0; i < 39; i++) {
        char host[16];
        (void)snprintf(host, sizeof(host), "h%d", i);
        assert_int_equal(store_add_sample(s, T0 + 20, host, pct, KIND_MASK_ALL, NULL, true), 0);
    }
    assert_int_equal(store_add_sample(s, T0 + 30, "h1", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_commit(s), -EIO);
    expect_count(s, dir, 4);
    exec_sql(dir, "DROP TRIGGER full;");

    exec_sql(dir, "CREATE TRIGGER full BEFORE INSERT ON conflicts BEGIN "
                  "SELECT RAISE(ROLLBACK, 'disk full'); END;");
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, T0 + 20, "h1", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_true(store_add_conflict(s, T0 + 20, "h1", "[]", "[]", "x") < 0);
    assert_true(store_commit(s) < 0);
    /* h1's name was stored before: its queued sample is written all the same, on its own. */
    expect_count(s, dir, 5);
    exec_sql(dir, "DROP TRIGGER full;");

    /* Written outside a round: each statement commits by itself. */
    assert_int_equal(store_add_sample(s, T0 + 20, "h1", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_add_sample(s, T0 + 20, "h2", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_commit(s), -EIO); /* no transaction to commit */
    expect_count(s, dir, 7);
    store_close(s);

    s = open_store(dir);
    write_round(s, T0 + 1000, 3, true);
    expect_count(s, dir, 9);
    /* All nine in table 0, begun at T0: with a retention of 60 s (segments of 10 s) the ring
     * moves on to table 1, and table 0 is kept until T0 + 1060. */
    struct store_retention keep = {60, 1e9, 1e9};
    assert_int_equal(store_prune(s, T0 + 1000, &keep), 0);
    write_round(s, T0 + 1010, 4, true);
    expect_count(s, dir, 11);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_1"), 2);
    assert_int_equal(store_prune(s, T0 + 1059, &keep), 0);
    /* Emptied in a round that is rolled back: the rows are back, and the ring knows it. */
    exec_sql(dir, "CREATE TRIGGER full BEFORE INSERT ON conflicts BEGIN "
                  "SELECT RAISE(ROLLBACK, 'disk full'); END;");
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_prune(s, T0 + 1060, &keep), 9);
    assert_true(store_add_conflict(s, T0 + 1060, "h1", "[]", "[]", "x") < 0);
    assert_true(store_commit(s) < 0);
    exec_sql(dir, "DROP TRIGGER full;");
    expect_count(s, dir, 11);
    /* Pruned in a transaction, then on its own. Read again from the tables, table 0 ends with
     * the ten seconds of its newest row, T0 + 1010. */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_prune(s, T0 + 1069, &keep), 0);
    assert_int_equal(store_prune(s, T0 + 1070, &keep), 9);
    assert_int_equal(store_commit(s), 0);
    expect_count(s, dir, 2);
    /* Table 1 was left at T0 + 1069. */
    assert_int_equal(store_prune(s, T0 + 1128, &keep), 0);
    assert_int_equal(store_prune(s, T0 + 1129, &keep), 2);
    expect_count(s, dir, 0);
    write_round(s, T0 + 1140, 5, true);
    expect_count(s, dir, 2);
    store_close(s);
}

/* One host's raw samples come through the index of ten-second steps (store.c, step 8) as a
 * walk of every host's gives them: each of the host's rows at or after `since`, in the order
 * stored, across steps with no rows, on a step's edges, with a row dated before the one
 * stored ahead of it; none from an empty store or for an unknown host. */
struct timed_rows {
    int n;
    double time[32];
    char host[32][8];
};

static void
keep_time(void *ctx, const struct store_row *r)
{
    struct timed_rows *t = ctx;
    assert_true(t->n < 32);
    t->time[t->n] = r->time;
    (void)snprintf(t->host[t->n], sizeof(t->host[0]), "%s", r->host);
    t->n++;
}

static void
test_one_host_by_ten_seconds(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    struct timed_rows rs = {0};
    assert_int_equal(store_each_sample(s, "h1", 0, false, keep_time, &rs, NULL), 0);
    assert_int_equal(rs.n, 0);
    /* ...and one dated 1970 by its host's clock: a step of its own, not one per ten seconds
     * since (a walk of 176 million steps would not end in the test's time). */
    const double at[] = {T0 + 3, T0 + 9.99, T0 + 10, T0 + 47, T0 + 5, T0 + 1000, 12.5};
    const int n_at = (int)(sizeof(at) / sizeof(at[0]));
    for (int i = 0; i < n_at; i++)
        write_round(s, at[i], i, true);
    const double since[] = {0,       13,        T0 + 3,    T0 + 4,   T0 + 9.99,
                            T0 + 10, T0 + 10.5, T0 + 1000, T0 + 1001};
    for (size_t c = 0; c < sizeof(since) / sizeof(since[0]); c++) {
        print_message("since %.2f\n", since[c] - T0);
        struct timed_rows all = {0};
        assert_int_equal(store_each_sample(s, NULL, since[c], false, keep_time, &all, NULL), 0);
        rs.n = 0;
        assert_int_equal(store_each_sample(s, "h1", since[c], false, keep_time, &rs, NULL), 0);
        int k = 0;
        for (int i = 0; i < all.n; i++) {
            if (strcmp(all.host[i], "h1") != 0)
                continue;
            assert_true(k < rs.n);
            assert_true(rs.time[k] == all.time[i]);
            assert_string_equal(rs.host[k], "h1");
            k++;
        }
        assert_int_equal(k, rs.n);
        /* The walk's own answer, for the rows written above. */
        int want = 0;
        for (int i = 0; i < n_at; i++)
            want += at[i] >= since[c];
        assert_int_equal(rs.n, want);
    }
    rs.n = 0;
    assert_int_equal(store_each_sample(s, "h1", T0 + 4, false, keep_time, &rs, NULL), 0);
    assert_int_equal(rs.n, 5);
    assert_true(rs.time[0] == T0 + 9.99);
    assert_true(rs.time[3] == T0 + 5); /* stored after T0 + 47 */
    assert_true(rs.time[4] == T0 + 1000);
    rs.n = 0;
    assert_int_equal(store_each_sample(s, "h9", 0, false, keep_time, &rs, NULL), 0);
    assert_int_equal(rs.n, 0);
    store_close(s);
}

/* The one-host query of a raw table reads through its index by ten seconds and host, for
 * each step and for the rows of one (the query must divide the time as the index does, or
 * SQLite walks the table); every host's walks the table in rowid order. */
static void
test_one_host_uses_the_index(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    store_close(open_store(dir));
    char path[600];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (int one = 0; one < 2; one++) {
        char query[1024];
        store_sample_sql(one != 0, 3, query, sizeof(query));
        char sql[2048];
        (void)snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", query);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        char plan[4096] = "";
        size_t used = 0;
        while (sqlite3_step(st) == SQLITE_ROW && used < sizeof(plan))
            used += (size_t)snprintf(plan + used, sizeof(plan) - used, "%s\n",
                                     (const char *)sqlite3_column_text(st, 3));
        sqlite3_finalize(st);
        print_message("%s", plan);
        if (one) {
            assert_non_null(strstr(plan, "USING INDEX samples_3_time_host (<expr>=? AND host=?)"));
            assert_non_null(strstr(plan, "USING INDEX samples_3_time_host (<expr>>?)"));
            assert_null(strstr(plan, "SCAN s"));
        } else {
            assert_non_null(strstr(plan, "SCAN s"));
        }
    }
    sqlite3_close(db);
}

/* Rounds written in one transaction each come back as raw samples, with their VMs, and as
 * one-minute roll-ups: the minute in progress exactly, a finished one to half a percent. */
static void
test_samples_round(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    /* Samples every 10 s for a minute and 10 s: raw every other one. */
    for (int i = 0; i < 8; i++)
        write_round(s, T0 + 10.0 * i, i, i % 2 == 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 2 * 4);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM names"), 2 + 2 + 1);

    struct rows rs = {0};
    assert_int_equal(store_each_sample(s, "h1", 0, true, keep_row, &rs, NULL), 0);
    assert_int_equal(rs.n, 4);
    for (int k = 0; k < 4; k++) {
        assert_true(rs.r[k].time == T0 + 20.0 * k);
        assert_true(fabs(rs.r[k].pct[KIND_CPU] - (10.0 + 2 * k)) < 1e-9);
        assert_true(fabs(rs.r[k].pct[KIND_MEM_BW] - 20.25) < 1e-9);
        assert_int_equal(rs.r[k].kinds, KIND_MASK_ALL);
        assert_string_equal(rs.vm[k][0], "h1-web");
        assert_string_equal(rs.vm[k][1], "db");
        assert_true(fabs(rs.vm_cpu[k][1] - (5.5 + 2 * k)) < 1e-9);
        assert_int_equal(rs.vm_kinds[k][1], KIND_BIT(KIND_CPU));
    }
    /* since: from the third raw sample on. */
    rs.n = 0;
    assert_int_equal(store_each_sample(s, "h1", T0 + 40, true, keep_row, &rs, NULL), 0);
    assert_int_equal(rs.n, 2);

    /* Roll-ups: the first minute is done (samples 0..5), the second is in progress (6, 7). */
    struct minutes ms = {0};
    assert_int_equal(store_each_minute(s, "h1", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 2);
    assert_true(ms.m[0].time == T0);
    assert_int_equal(ms.m[0].samples, 0);
    assert_true(ms.m[0].min[KIND_CPU] == 10);
    assert_true(ms.m[0].max[KIND_CPU] == 15);
    assert_true(ms.m[0].mean[KIND_CPU] == 12.5);
    assert_true(ms.m[0].mean[KIND_MEM_BW] == 20.5); /* 20.25 to the half percent */
    assert_true(ms.m[1].time == T0 + 60);
    assert_int_equal(ms.m[1].samples, 2);
    assert_true(ms.m[1].mean[KIND_CPU] == 16.5);
    assert_true(ms.m[1].mean[KIND_MEM_BW] == 20.25);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM rollups"), 2);
    /* since selects minutes. */
    ms.n = 0;
    assert_int_equal(store_each_minute(s, "h1", T0 + 1, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 1);
    ms.n = 0;
    assert_int_equal(store_each_minute(s, "nobody", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 0);

    /* A clean stop writes the minute in progress; opened again, its roll-ups are there, and
     * a sample in the same minute goes on from them. */
    assert_int_equal(store_sync(s), 0);
    store_close(s);
    s = open_store(dir);
    ms.n = 0;
    assert_int_equal(store_each_minute(s, "h1", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 2);
    assert_true(ms.m[1].mean[KIND_CPU] == 16.5);
    write_round(s, T0 + 80, 8, false);
    ms.n = 0;
    assert_int_equal(store_each_minute(s, "h1", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 2);
    assert_int_equal(ms.m[1].samples, 2); /* the stored minute counts as one */
    assert_true(ms.m[1].min[KIND_CPU] == 16);
    assert_true(ms.m[1].max[KIND_CPU] == 18);
    assert_true(ms.m[1].mean[KIND_CPU] == (16.5 + 18) / 2);
    /* A sample dated before the minute in progress is left out of the roll-ups. */
    write_round(s, T0 + 5, 50, true);
    ms.n = 0;
    assert_int_equal(store_each_minute(s, "h1", 0, keep_minute, &ms), 0);
    assert_true(ms.m[0].max[KIND_CPU] == 15);
    store_close(s);
}

/* Format 1 of `h`, as a vmloc before format 2 wrote an hour: 4-bit differences from the
 * value before (the first from 0), 15 and the value in two more nibbles past -7 .. 7. */
static size_t
format1_encode(const struct store_hour *h, uint8_t *out)
{
    out[0] = 1;
    out[1] = STORE_RU_COLS;
    for (unsigned b = 0; b < 8; b++)
        out[2 + b] = (uint8_t)(h->present >> (8 * b));
    uint8_t *p = out + STORE_HOUR_HEADER;
    size_t n = 0;
    unsigned nib[3];
    for (unsigned c = 0; c < STORE_RU_COLS; c++) {
        int prev = 0;
        for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
            if ((h->present >> m & 1u) == 0)
                continue;
            int v = h->q[m][c];
            int d = v - prev;
            unsigned zz = d >= 0 ? 2u * (unsigned)d : 2u * (unsigned)(-d) - 1u;
            unsigned k = 0;
            if (zz < 15) {
                nib[k++] = zz;
            } else {
                nib[k++] = 15;
                nib[k++] = (unsigned)v >> 4;
                nib[k++] = (unsigned)v & 15u;
            }
            for (unsigned i = 0; i < k; i++, n++)
                p[n / 2] = n % 2 == 0 ? (uint8_t)(nib[i] << 4) : (uint8_t)(p[n / 2] | nib[i]);
            prev = v;
        }
    }
    return STORE_HOUR_HEADER + (n + 1) / 2;
}

/* A roll-up row of format 1 (from before the column modes) is read as it was written, and the
 * hour it holds goes on in format 2 when the next minute of it is folded in. */
static void
test_rollup_format1_row(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    write_round(s, T0, 0, false);
    assert_int_equal(store_sync(s), 0);
    store_close(s);
    /* Minute 0 of h1's hour as format 1: cpu 20 %, memory bandwidth 30.5 %, no pressure. */
    struct store_hour h;
    memset(&h, 0, sizeof(h));
    h.present = 1;
    for (unsigned st = 0; st < STORE_RU_STATS; st++) {
        h.q[0][KIND_CPU * STORE_RU_STATS + st] = store_half(20);
        h.q[0][KIND_MEM_BW * STORE_RU_STATS + st] = store_half(30.5);
        h.q[0][STORE_RU_COL_PSI + st] = STORE_RU_NONE;
    }
    uint8_t blob[STORE_HOUR_MAX_BYTES];
    size_t len = format1_encode(&h, blob);
    char sql[1024] = "UPDATE rollups SET minutes = 1, data = x'";
    for (size_t i = 0; i < len; i++)
        (void)snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), "%02x", blob[i]);
    (void)snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
                   "' WHERE host = (SELECT id FROM names WHERE name = 'h1')");
    exec_sql(dir, sql);
#define FORMAT_OF_H1                                                                               \
    "SELECT unicode(CAST(substr(hex(data), 2, 1) AS TEXT)) - 48 FROM rollups "                     \
    "WHERE host = (SELECT id FROM names WHERE name = 'h1')"
    assert_int_equal(query_int(dir, FORMAT_OF_H1), 1);

    s = open_store(dir);
    struct minutes ms = {0};
    assert_int_equal(store_each_minute(s, "h1", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 1);
    assert_true(ms.m[0].mean[KIND_CPU] == 20);
    assert_true(ms.m[0].max[KIND_MEM_BW] == 30.5);
    write_round(s, T0 + 120, 2, false); /* minute 2 of the same hour: cpu 12 % */
    assert_int_equal(store_sync(s), 0);
    store_close(s);
    assert_int_equal(query_int(dir, FORMAT_OF_H1), 2);
#undef FORMAT_OF_H1
    s = open_store(dir);
    ms.n = 0;
    assert_int_equal(store_each_minute(s, "h1", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 2);
    assert_true(ms.m[0].time == T0);
    assert_true(ms.m[0].min[KIND_CPU] == 20);
    assert_true(ms.m[0].mean[KIND_MEM_BW] == 30.5);
    assert_true(ms.m[1].time == T0 + 120);
    assert_true(ms.m[1].mean[KIND_CPU] == 12);
    store_close(s);
}

/* An hour's roll-up row is rewritten in place as its minutes end: same id, so its index entry
 * stays where it is. */
static void
test_rollup_in_place(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    const double pct[KIND_COUNT] = {1, 2, 3, 4};
    int id = -1;
    for (int m = 0; m < 4; m++) {
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(
            store_add_sample(s, T0 + 60.0 * m + 5, "h1", pct, KIND_MASK_ALL, NULL, false), 0);
        /* Another host's hour begun in between. */
        assert_int_equal(store_add_sample(s, T0 + 60.0 * m + 6, m == 1 ? "h2" : "h3", pct,
                                          KIND_MASK_ALL, NULL, false),
                         0);
        assert_int_equal(store_commit(s), 0);
        if (m == 0)
            continue;
        assert_int_equal(query_int(dir, "SELECT minutes FROM rollups WHERE hour * 3600 = 1764140400"
                                        " AND host = (SELECT id FROM names WHERE name = 'h1')"),
                         m);
        int now = query_int(dir, "SELECT id FROM rollups WHERE host = (SELECT id FROM names WHERE"
                                 " name = 'h1')");
        if (id >= 0)
            assert_int_equal(now, id);
        id = now;
    }
    store_close(s);
}

/* Held raw samples (store_hold_raw()) stay out of the table through commits and are counted
 * by store_stats(); store_write_raw(), a read of samples and store_sync() write them. */
static void
test_hold_raw(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    store_hold_raw(s, true);
    write_round(s, T0, 0, true);
    write_round(s, T0 + 10, 1, true);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 0);
    long long n = -1;
    long long bytes = -1;
    assert_int_equal(store_stats(s, &n, &bytes), 0);
    assert_int_equal(n, 4);
    assert_int_equal(store_write_raw(s), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 4);
    assert_int_equal(store_stats(s, &n, &bytes), 0);
    assert_int_equal(n, 4);
    /* A read writes what is held first, and sees it with its VMs. */
    write_round(s, T0 + 20, 2, true);
    struct rows rs = {0};
    assert_int_equal(store_each_sample(s, "h1", 0, true, keep_row, &rs, NULL), 0);
    assert_int_equal(rs.n, 3);
    assert_true(rs.r[2].time == T0 + 20);
    assert_string_equal(rs.vm[2][0], "h1-web");
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 6);
    /* A clean stop writes it. */
    write_round(s, T0 + 30, 3, true);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 6);
    assert_int_equal(store_sync(s), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 8);
    store_close(s);
}

/* A round rolled back with a new host's name, then a commit with no sample: the name is
 * forgotten all the same (its id may go to the next new name), and the samples held from the
 * rounds committed before stay. */
static void
test_hold_raw_rollback(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    store_hold_raw(s, true);
    const double pct[KIND_COUNT] = {1, 2, 3, 4};
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, T0, "h1", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_commit(s), 0);
    exec_sql(dir, "CREATE TRIGGER full BEFORE INSERT ON conflicts BEGIN "
                  "SELECT RAISE(ROLLBACK, 'disk full'); END;");
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, T0 + 10, "h9", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_true(store_add_conflict(s, T0 + 10, "h9", "[]", "[]", "x") < 0);
    assert_true(store_commit(s) < 0);
    exec_sql(dir, "DROP TRIGGER full;");
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, T0 + 20, "h8", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_add_sample(s, T0 + 20, "h9", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_write_raw(s), 0);
    assert_int_equal(query_int(dir, "SELECT count(DISTINCT id) FROM names"), 3);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples s JOIN names n ON n.id = s.host"
                                    " WHERE n.name = 'h1'"),
                     1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples s JOIN names n ON n.id = s.host"
                                    " WHERE n.name = 'h8'"),
                     1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples s JOIN names n ON n.id = s.host"
                                    " WHERE n.name = 'h9' AND s.time = 1764140420"),
                     1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 3);
    store_close(s);
}

/* Raw samples go to one table of the ring at a time. store_prune() moves on to the next a
 * sixth of the retention after the first call that finds rows in the current one, and
 * empties a table once it was left a retention ago, not before. Reads go oldest first across
 * the tables; opened again, the store writes on in the table written last, ids still
 * growing, and keeps a table a retention after its newest row. */
static void
test_ring(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    struct store_retention keep = {60, 1e9, 1e9}; /* segments of 10 s */
    write_round(s, T0, 0, true);
    assert_int_equal(store_prune(s, T0, &keep), 0); /* table 0's segment begins */
    write_round(s, T0 + 5, 1, true);
    assert_int_equal(store_prune(s, T0 + 9, &keep), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_0"), 4);
    assert_int_equal(store_prune(s, T0 + 10, &keep), 0); /* on to table 1 */
    write_round(s, T0 + 10, 2, true);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_0"), 4);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_1"), 2);
    assert_int_equal(store_prune(s, T0 + 69, &keep), 0); /* on to table 2; 0 kept */
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_0"), 4);
    assert_int_equal(store_prune(s, T0 + 70, &keep), 4);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_0"), 0);
    write_round(s, T0 + 70, 3, true);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_2"), 2);
    struct rows rs = {0};
    assert_int_equal(store_each_sample(s, "h1", 0, true, keep_row, &rs, NULL), 0);
    assert_int_equal(rs.n, 2);
    assert_true(rs.r[0].time == T0 + 10 && rs.r[1].time == T0 + 70);
    store_close(s);

    s = open_store(dir);
    write_round(s, T0 + 80, 4, true);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_2"), 4);
    assert_true(query_int(dir, "SELECT min(id) FROM samples_2") >
                query_int(dir, "SELECT max(id) FROM samples_1"));
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(store_each_sample(s, "h1", 0, true, keep_row, &rs, NULL), 0);
    assert_int_equal(rs.n, 3);
    assert_true(rs.r[0].time == T0 + 10 && rs.r[1].time == T0 + 70 && rs.r[2].time == T0 + 80);
    /* Table 1's newest row is of T0 + 10: read by the index, to the end of its ten seconds. */
    assert_int_equal(store_prune(s, T0 + 79, &keep), 0);
    assert_int_equal(store_prune(s, T0 + 80, &keep), 2);
    store_close(s);
}

/* A backlog (the retention lowered) goes a table a call, the oldest first, after the ring has
 * gone round (the oldest table is then not the lowest numbered). */
static void
test_ring_one_a_call(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    struct store_retention keep = {600, 1e9, 1e9}; /* segments of 100 s */
    for (int i = 0; i <= 65; i++) {
        write_round(s, T0 + 20.0 * i, i, true);
        assert_true(store_prune(s, T0 + 20.0 * i, &keep) >= 0);
    }
    /* Table k was current from T0 + 100 k, so 13 turns: table 5 is current (empty), 7, 0, 1, 2,
     * 3 and 4 hold rows, 7 the oldest; 5 and 6 were emptied. */
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_5"), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_6"), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_7"), 2 * 5);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_0"), 2 * 5);
    keep.raw_s = 10;
    assert_int_equal(store_prune(s, T0 + 1400, &keep), 2 * 5);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_7"), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_0"), 2 * 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(store_prune(s, T0 + 1400, &keep), 2 * 5);
    assert_int_equal(store_prune(s, T0 + 1400, &keep), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 0);
    store_close(s);
}

/* The wall clock stepped back an hour for a moment, then put right: no table is emptied
 * early (the times the ring set are not lowered to the stepped-back clock). */
static void
test_ring_clock_back(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    struct store_retention keep = {60, 1e9, 1e9};
    for (int i = 0; i <= 20; i++) {
        write_round(s, T0 + 5.0 * i, i, true);
        assert_true(store_prune(s, T0 + 5.0 * i, &keep) >= 0);
    }
    assert_int_equal(store_prune(s, T0 + 101 - 3600, &keep), 0);
    assert_int_equal(store_prune(s, T0 + 102, &keep), 0);
    /* Every row of the last 60 s is there. */
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples WHERE time > 1764140442"),
                     2 * 12);
    store_close(s);
}

/* The last row written to a table may be dated before others in it (a host whose clock is
 * behind): read again after a reopen, the table is kept a retention after its newest time,
 * not after the last row's. */
static void
test_ring_backdated(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    struct store_retention keep = {60, 1e9, 1e9};
    const double pct[KIND_COUNT] = {1, 2, 3, 4};
    write_round(s, T0, 0, true);
    assert_int_equal(store_prune(s, T0, &keep), 0);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, T0 + 5, "h1", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_add_sample(s, T0 - 30, "lagging", pct, KIND_MASK_ALL, NULL, true), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_prune(s, T0 + 10, &keep), 0); /* on to table 1 */
    write_round(s, T0 + 10, 1, true);
    store_close(s);
    s = open_store(dir);
    assert_int_equal(store_prune(s, T0 + 61, &keep), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_0"), 4);
    assert_int_equal(store_prune(s, T0 + 70, &keep), 4);
    store_close(s);
}

struct order {
    double last;
    int n;
    bool ordered;
};

static void
check_order(void *ctx, const struct store_row *r)
{
    struct order *o = ctx;
    o->ordered = o->ordered && r->time >= o->last;
    o->last = r->time;
    o->n++;
}

/* Rounds every 5 s, pruned after each: every raw sample younger than the retention is kept,
 * none older than the retention, a segment and a round or two; when the retention grows,
 * no young row goes either (the current table is written on until the next is old enough).
 * After going round the ring, a read still gives the rows in time order. */
static void
test_ring_keeps_retention(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    struct store_retention keep = {60, 1e9, 1e9};
    int emptied = 0;
    for (int i = 0; i < 120; i++) {
        double now = T0 + 5.0 * i;
        if (i == 60)
            keep.raw_s = 120;
        write_round(s, now, i, true);
        int n = store_prune(s, now, &keep);
        assert_true(n >= 0);
        emptied += n > 0;
        char sql[160];
        /* After the retention grows, the rows the shorter one let go stay gone. */
        double window = i < 60 ? keep.raw_s : fmin(keep.raw_s, now - (T0 + 5.0 * 59 - 60));
        (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM samples WHERE time > %.1f",
                       now - window);
        int young = 0;
        for (int j = 0; j <= i; j++)
            young += T0 + 5.0 * j > now - window ? 2 : 0;
        assert_int_equal(query_int(dir, sql), young);
        (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM samples WHERE time < %.1f",
                       now - keep.raw_s - keep.raw_s / 6 - 15);
        if (i < 60)
            assert_int_equal(query_int(dir, sql), 0);
        /* Read across the tables, oldest first, from wherever the ring has come to. */
        struct order o = {.ordered = true};
        assert_int_equal(store_each_sample(s, "h1", 0, false, check_order, &o, NULL), 0);
        assert_true(o.ordered);
        assert_int_equal(o.n * 2, query_int(dir, "SELECT count(*) FROM samples"));
    }
    assert_true(emptied >= 8); /* round the ring at least once */
    long long n = -1;
    long long bytes = -1;
    assert_int_equal(store_stats(s, &n, &bytes), 0);
    assert_int_equal(n, query_int(dir, "SELECT count(*) FROM samples"));
    store_close(s);
}

/* Each store_prune() call deletes at most STORE_PRUNE_BATCH rows of a table (but the raw
 * samples'), the oldest, and keeps what is young enough, unfinished or pending. */
static void
test_prune_batches(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    const int old = STORE_PRUNE_BATCH + 100;
    const double pct[KIND_COUNT] = {1, 2, 3, 4};
    assert_int_equal(store_begin(s), 0);
    for (int i = 0; i < old; i++)
        assert_int_equal(store_add_conflict(s, T0 + i * 0.01, "h1", "[]", "[]", "x"), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(store_add_sample(s, T0 + 1000 + i, "h1", pct, KIND_MASK_ALL, NULL, true),
                         0);
    /* Roll-ups of three hours of h2 (two whole hours before the cut, the third across it) and
     * one of h1 (T0 is on the hour). */
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_add_sample(s, T0 + 3600.0 * i + 5000, "h2", pct, 1, NULL, false), 0);
    assert_int_equal(store_add_conflict(s, T0, "h1", "[]", "[]", "x"), 0);
    assert_int_equal(store_add_conflict(s, T0 + 1000, "h1", "[]", "[]", "x"), 0);
    struct store_migration done = {.id = "m1", .state = "done", .started = T0, .finished = T0};
    struct store_migration running = {
        .id = "m2", .state = "running", .started = T0, .finished = -1};
    assert_int_equal(store_put_migration(s, &done), 0);
    assert_int_equal(store_put_migration(s, &running), 0);
    struct store_rec pending = {.id = "r1", .time = T0, .state = "pending", .updated = T0};
    struct store_rec settled = {.id = "r2", .time = T0, .state = "expired", .updated = T0};
    assert_int_equal(store_put_recommendation(s, &pending), 0);
    assert_int_equal(store_put_recommendation(s, &settled), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_sync(s), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM rollups"), 4);

    /* Raw kept 500 s, roll-ups until 2 h after T0 + 5000 + 3600 * 2 - 1, events 500 s. */
    double now = T0 + 1500;
    struct store_retention keep = {500, now - (T0 + 5000 + 7200), 500};
    int n = store_prune(s, now, &keep);
    /* A batch of conflicts, three hours of roll-ups, a migration, a recommendation; the raw
     * samples are all in the table being written, which is never emptied (test_ring). */
    assert_int_equal(n, STORE_PRUNE_BATCH + 3 + 1 + 1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM conflicts"), 100 + 1 + 1);
    n = store_prune(s, now, &keep);
    assert_int_equal(n, 100 + 1);
    assert_int_equal(store_prune(s, now, &keep), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 10);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM rollups"), 1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM conflicts"), 1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM migrations WHERE id = 'm2'"), 1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM migrations"), 1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM recommendations WHERE id = 'r1'"), 1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM recommendations"), 1);
    store_close(s);
}

/* The schema of version 2, as vmloc wrote it (steps 1 and 2 of store.c when version 2
 * shipped), with JSON samples. */
static const char v2_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE samples(id INTEGER PRIMARY KEY, time REAL NOT NULL,"
    "  host TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE INDEX samples_time ON samples(time);"
    "CREATE TABLE conflicts(id INTEGER PRIMARY KEY, time REAL NOT NULL,"
    "  host TEXT NOT NULL, resources TEXT NOT NULL, vms TEXT NOT NULL, outcome TEXT);"
    "CREATE TABLE migrations(id TEXT PRIMARY KEY, vm TEXT NOT NULL,"
    "  src TEXT NOT NULL, dst TEXT NOT NULL, state TEXT NOT NULL, started REAL NOT NULL,"
    "  finished REAL, error TEXT, reason TEXT);"
    "CREATE INDEX migrations_started ON migrations(started);"
    "CREATE TABLE agents(name TEXT PRIMARY KEY, url TEXT NOT NULL, registered REAL NOT NULL);"
    "CREATE TABLE maintenance(host TEXT PRIMARY KEY, since REAL NOT NULL);"
    "CREATE TABLE recommendations(id TEXT PRIMARY KEY, time REAL NOT NULL,"
    "  vm TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL, reason TEXT NOT NULL,"
    "  state TEXT NOT NULL, migration TEXT NOT NULL DEFAULT '', updated REAL NOT NULL);"
    "CREATE INDEX recommendations_time ON recommendations(time);"
    "ALTER TABLE migrations ADD COLUMN answered REAL;"
    "PRAGMA user_version = 2;"
    "INSERT INTO meta VALUES ('schema_version', '2');"
    "INSERT INTO samples(time, host, body) VALUES (1764140000.5, 'h1',"
    "  '{\"version\":1,\"seq\":1,\"time\":1764140000.5,\"url\":\"http://127.0.0.1:1\","
    "\"host\":{\"name\":\"h1\",\"capacity\":1,\"mem_mib\":1024,\"state\":\"up\","
    "\"usage\":{\"cpu\":10},\"vms\":[]}}');"
    "INSERT INTO samples(time, host, body) VALUES (1764140010.5, 'h1', '{}');"
    "INSERT INTO samples(time, host, body) VALUES (1764140010.5, 'h2', '{}');"
    "INSERT INTO conflicts(time, host, resources, vms, outcome) VALUES (1764140001, 'h1',"
    "  '[\"cpu\"]', '[\"web-1\",\"db-1\"]', 'migrated');"
    "INSERT INTO migrations VALUES ('m-old-1', 'web-1', 'h1', 'h2', 'done', 1764140002,"
    "  1764140030, NULL, 'cpu conflict', 1764140029);"
    "INSERT INTO agents VALUES ('h1', 'http://127.0.0.1:1', 1764140000);";

/* A fresh store in `dir` with two rounds of write_round(), closed. */
static void
two_rounds_stored(char *dir, size_t len)
{
    testdir_fresh(dir, len);
    struct store *s = open_store(dir);
    write_round(s, T0, 0, true);
    write_round(s, T0 + 10, 1, true);
    store_close(s);
}

/* Version 8 to 9: the raw samples of the one table move to the ring's first table with
 * their ids, are read as before, and the rows written after them come after them. (The
 * store of version 8 is made from one of today's, its raw tables folded back into one, with
 * ids from 101.) */
static void
test_upgrade_v8(void **state)
{
    (void)state;
    char dir[512];
    two_rounds_stored(dir, sizeof(dir));
    struct store *s = NULL;
    exec_sql(dir, "CREATE TABLE old AS SELECT * FROM samples;"
                  "DROP VIEW samples;"
                  "DROP TABLE samples_0; DROP TABLE samples_1; DROP TABLE samples_2;"
                  "DROP TABLE samples_3; DROP TABLE samples_4; DROP TABLE samples_5;"
                  "DROP TABLE samples_6; DROP TABLE samples_7;"
                  "CREATE TABLE samples(id INTEGER PRIMARY KEY, time REAL NOT NULL,"
                  "  host INTEGER NOT NULL, cpu INTEGER, mem_bw INTEGER, disk INTEGER,"
                  "  net INTEGER, vms BLOB NOT NULL, psi_cpu_some INTEGER, psi_cpu_full INTEGER,"
                  "  psi_memory_some INTEGER, psi_memory_full INTEGER, psi_io_some INTEGER,"
                  "  psi_io_full INTEGER);"
                  "INSERT INTO samples SELECT id + 100, time, host, cpu, mem_bw, disk, net, vms,"
                  " psi_cpu_some, psi_cpu_full, psi_memory_some, psi_memory_full, psi_io_some,"
                  " psi_io_full FROM old; DROP TABLE old;"
                  "CREATE INDEX samples_time_host ON samples(CAST(time / 10 AS INTEGER), host);"
                  "PRAGMA user_version = 8; UPDATE meta SET value = '8'"
                  " WHERE key = 'schema_version';");
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 4);
    s = open_store(dir);
    int from = -1;
    assert_true(store_upgraded(s, &from));
    assert_int_equal(from, 8);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples_0"), 4);
    assert_int_equal(query_int(dir, "SELECT min(id) FROM samples_0"), 101);
    assert_int_equal(query_int(dir, "SELECT max(id) FROM samples_0"), 104);
    write_round(s, T0 + 20, 2, true);
    struct rows rs = {0};
    assert_int_equal(store_each_sample(s, "h1", 0, true, keep_row, &rs, NULL), 0);
    assert_int_equal(rs.n, 3);
    assert_true(rs.r[0].time == T0 && rs.r[1].time == T0 + 10 && rs.r[2].time == T0 + 20);
    assert_string_equal(rs.vm[1][0], "h1-web");
    assert_int_equal(query_int(dir, "SELECT max(id) FROM samples"), 106);
    store_close(s);
}

/* Version 2 to 3: the JSON samples are dropped and counted, the events stay, and the new
 * tables take samples. */
static void
test_upgrade_v2(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    exec_sql(dir, v2_sql);
    struct store *s = open_store(dir);
    int from = -1;
    assert_true(store_upgraded(s, &from));
    assert_int_equal(from, 2);
    assert_int_equal(store_dropped_samples(s), 3);
    struct store_migration m = {.id = ""};
    assert_int_equal(store_each_migration(s, false, 10, one_migration, &m), 0);
    assert_string_equal(m.id, "m-old-1");
    assert_true(m.answered == 1764140029);
    assert_false(m.has_job); /* step 4: no figures of its job in an older row */
    int n = 0;
    assert_int_equal(store_each_conflict(s, 10, one_conflict, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(store_each_agent(s, one_agent, &n), 0);
    assert_int_equal(n, 1);
    struct rows rs = {0};
    assert_int_equal(store_each_sample(s, NULL, 0, true, keep_row, &rs, NULL), 0);
    assert_int_equal(rs.n, 0);
    write_round(s, T0, 0, true);
    assert_int_equal(store_each_sample(s, "h1", 0, true, keep_row, &rs, NULL), 0);
    assert_int_equal(rs.n, 1);
    store_close(s);
    assert_int_equal(query_int(dir, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(
        query_int(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'samples_time'"), 0);

    /* Opened again: nothing more to drop. */
    s = open_store(dir);
    assert_int_equal(store_dropped_samples(s), 0);
    assert_false(store_upgraded(s, &from));
    store_close(s);
}

/* A finished migration's job figures are kept as given; one not reported, or a record without
 * them, reads back as unknown (NULL in the table). */
static void
test_migration_job(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    struct store_migration done = {.id = "m1",
                                   .state = "done",
                                   .started = T0,
                                   .finished = T0 + 4,
                                   .has_job = true,
                                   .downtime_ms = 37,
                                   .transferred_mib = 131.5,
                                   .total_ms = -1};
    assert_int_equal(store_put_migration(s, &done), 0);
    struct store_migration m = {.id = ""};
    assert_int_equal(store_each_migration(s, false, 10, one_migration, &m), 0);
    assert_true(m.has_job);
    assert_true(m.downtime_ms == 37);
    assert_true(m.transferred_mib == 131.5);
    assert_true(m.total_ms < 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM migrations WHERE total_ms IS NULL"), 1);

    struct store_migration failed = {
        .id = "m1", .state = "failed", .started = T0, .finished = T0 + 4, .downtime_ms = 5};
    assert_int_equal(store_put_migration(s, &failed), 0);
    m = (struct store_migration){.id = ""};
    assert_int_equal(store_each_migration(s, false, 10, one_migration, &m), 0);
    assert_false(m.has_job);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM migrations WHERE downtime_ms IS NULL"),
                     1);
    /* Rewritten in place: a row keeps its rowid with another written after it. */
    struct store_migration other = {.id = "m2", .state = "planned", .started = T0 + 1};
    assert_int_equal(store_put_migration(s, &other), 0);
    assert_int_equal(store_put_migration(s, &failed), 0);
    assert_int_equal(query_int(dir, "SELECT rowid FROM migrations WHERE id = 'm1'"), 1);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM migrations"), 2);
    /* Its start is the one first stored. */
    failed.started = T0 + 100;
    assert_int_equal(store_put_migration(s, &failed), 0);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM migrations WHERE id = 'm1' AND started = "
                                    "(SELECT min(started) FROM migrations)"),
                     1);
    store_close(s);
}

/* A raw sample whose VMs do not decode is skipped and counted. */
static void
test_bad_vms_skipped(void **state)
{
    (void)state;
    char dir[512];
    two_rounds_stored(dir, sizeof(dir));
    struct store *s = NULL;
    exec_sql(dir, "UPDATE samples_0 SET vms = x'0104ff' WHERE id = 1");
    s = open_store(dir);
    struct rows rs = {0};
    long long bad = 0;
    assert_int_equal(store_each_sample(s, "h1", 0, true, keep_row, &rs, &bad), 0);
    assert_int_equal(rs.n, 1);
    assert_int_equal(bad, 1);
    store_close(s);
}

/* Bytes the hour `h` took in format 1 (4-bit differences from the value before, the first
 * from 0; 15 and the value in two more nibbles beyond -7 .. 7). */
static size_t
format1_bytes(const struct store_hour *h)
{
    size_t nibbles = 0;
    for (unsigned c = 0; c < STORE_RU_COLS; c++) {
        int prev = 0;
        for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
            if ((h->present & ((uint64_t)1 << m)) == 0)
                continue;
            int d = h->q[m][c] - prev;
            nibbles += d >= -7 && d <= 7 ? 1 : 3;
            prev = h->q[m][c];
        }
    }
    return STORE_HOUR_HEADER + (nibbles + 1) / 2;
}

/* An hour of roll-ups comes back as encoded, whatever the values and the minutes present, in
 * at most STORE_HOUR_MAX_BYTES and about what format 1 took at worst; cut or padded bytes
 * are refused. */
static void
test_hour_codec(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252u; /* xorshift64 */
    for (int round = 0; round < 3000; round++) {
        struct store_hour h;
        memset(&h, 0, sizeof(h));
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        h.present = round == 0 ? (((uint64_t)1 << 60) - 1) : x >> 4;
        for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
            for (unsigned c = 0; c < STORE_RU_COLS; c++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                /* In turn wild, smooth and still series. */
                unsigned v = round % 3 == 0   ? (unsigned)(x % 255)
                             : round % 3 == 1 ? 100 + (unsigned)(x % 7) + m
                                              : 40 + c;
                h.q[m][c] = (h.present & ((uint64_t)1 << m)) != 0 ? (uint8_t)(v % 255) : 0;
            }
        }
        uint8_t buf[STORE_HOUR_MAX_BYTES + 1];
        size_t len = store_hour_encode(&h, buf);
        assert_true(len <= STORE_HOUR_MAX_BYTES);
        /* Each column's 3 bits of mode and first value's 8 bits may cost more than format 1's
         * first difference from 0; past that, never more. */
        assert_true(len <= format1_bytes(&h) + (STORE_RU_COLS * 11 + 7) / 8);
        if (round % 3 == 1)
            assert_true(len <= STORE_HOUR_HEADER + 60 * STORE_RU_COLS / 2 + 60);
        if (round % 3 == 2) /* 3 bits of mode and the first value a column */
            assert_true(len <= STORE_HOUR_HEADER + (STORE_RU_COLS * 11 + 7) / 8);
        struct store_hour back;
        assert_int_equal(store_hour_decode(buf, len, &back), 0);
        assert_memory_equal(&back, &h, sizeof(h));
        if (len > STORE_HOUR_HEADER + 1)
            assert_int_equal(store_hour_decode(buf, len - 1, &back), -EINVAL);
        buf[len] = 0;
        assert_int_equal(store_hour_decode(buf, len + 1, &back), -EINVAL);
    }
    uint8_t bad[STORE_HOUR_HEADER] = {3, STORE_RU_COLS};
    struct store_hour h;
    assert_int_equal(store_hour_decode(bad, sizeof(bad), &h), -EINVAL); /* format 3 */
    bad[0] = 2;
    bad[9] = 0x10; /* minute 60 */
    assert_int_equal(store_hour_decode(bad, sizeof(bad), &h), -EINVAL);
    bad[9] = 0;
    assert_int_equal(store_hour_decode(bad, sizeof(bad), &h), 0);
    assert_int_equal(h.present, 0);
}

/* Usage that moves by a step or two a minute costs about 2 bits a value; a mode past the
 * last, or bits left set after the last column, are refused. */
static void
test_hour_codec_smooth(void **state)
{
    (void)state;
    struct store_hour h;
    memset(&h, 0, sizeof(h));
    h.present = ((uint64_t)1 << 60) - 1;
    uint64_t x = 1234567u;
    for (unsigned c = 0; c < STORE_RU_COLS; c++) {
        int v = 60 + (int)c;
        for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v += (int)(x % 3) - 1; /* -1, 0 or +1 half percent */
            h.q[m][c] = (uint8_t)v;
        }
    }
    uint8_t buf[STORE_HOUR_MAX_BYTES + 1];
    size_t len = store_hour_encode(&h, buf);
    size_t values = (size_t)STORE_RU_COLS * (STORE_RU_MINUTES - 1);
    assert_true(len <= STORE_HOUR_HEADER + (STORE_RU_COLS * 11 + values * 2 + 7) / 8);
    assert_true((len - STORE_HOUR_HEADER) * 5 <= (format1_bytes(&h) - STORE_HOUR_HEADER) * 3);
    struct store_hour back;
    assert_int_equal(store_hour_decode(buf, len, &back), 0);
    assert_memory_equal(&back, &h, sizeof(h));
    /* The first column's mode is its first 3 bits: 7 is no mode. */
    uint8_t saved = buf[STORE_HOUR_HEADER];
    buf[STORE_HOUR_HEADER] = (uint8_t)(saved | 0xe0);
    assert_int_equal(store_hour_decode(buf, len, &back), -EINVAL);
    buf[STORE_HOUR_HEADER] = saved;
    /* A padding bit set. */
    memset(&h, 0, sizeof(h));
    h.present = 1;
    len = store_hour_encode(&h, buf); /* 15 columns x 11 bits: 165 bits, 3 of padding */
    assert_int_equal(len, STORE_HOUR_HEADER + 21);
    assert_int_equal(store_hour_decode(buf, len, &back), 0);
    buf[len - 1] |= 1;
    assert_int_equal(store_hour_decode(buf, len, &back), -EINVAL);
}

static uint64_t
xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Encoded hours with a few bits flipped: refused, or read into values 0 .. 254 that encode
 * and decode again to the same hour (under the sanitizers in CI: no read past the end of
 * the bytes, which sit in a block of their exact size). */
static void
test_hour_codec_garbage(void **state)
{
    (void)state;
    uint64_t x = 99991u;
    int read = 0;
    for (int round = 0; round < 20000; round++) {
        struct store_hour h;
        memset(&h, 0, sizeof(h));
        h.present = xorshift(&x) & xorshift(&x) & (((uint64_t)1 << 60) - 1);
        for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
            for (unsigned c = 0; c < STORE_RU_COLS && (h.present >> m & 1) != 0; c++)
                h.q[m][c] = (uint8_t)(round % 2 == 0 ? xorshift(&x) % 255 : 50 + xorshift(&x) % 4);
        }
        uint8_t buf[STORE_HOUR_MAX_BYTES];
        size_t len = store_hour_encode(&h, buf);
        for (int flips = 1 + (int)(xorshift(&x) % 3); flips > 0; flips--) {
            size_t bit = STORE_HOUR_HEADER * 8 + xorshift(&x) % ((len - STORE_HOUR_HEADER) * 8 + 1);
            if (bit < len * 8)
                buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        size_t cut =
            xorshift(&x) % 8 == 0 ? len - xorshift(&x) % (len - STORE_HOUR_HEADER + 1) : len;
        uint8_t *heap = malloc(cut);
        assert_non_null(heap);
        memcpy(heap, buf, cut);
        struct store_hour got;
        if (store_hour_decode(heap, cut, &got) == 0) {
            read++;
            for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
                for (unsigned c = 0; c < STORE_RU_COLS; c++)
                    assert_true(got.q[m][c] <= 254);
            }
            struct store_hour back;
            assert_int_equal(store_hour_decode(buf, store_hour_encode(&got, buf), &back), 0);
            assert_memory_equal(&back, &got, sizeof(got));
        }
        free(heap);
    }
    assert_true(read > 1000 && read < 19000); /* both ways taken, many times */
}

/* Rows written in format 1 read as they were written. */
static void
test_hour_codec_format1(void **state)
{
    (void)state;
    /* Minutes 0 and 1 present; column 0: 100 then 101 (escape 15, 6, 4; then zig-zag 2);
     * every other column: 0 then 0 (two zero nibbles). */
    uint8_t p[STORE_HOUR_HEADER + 1 + STORE_RU_COLS] = {1, STORE_RU_COLS, 0x03};
    p[STORE_HOUR_HEADER] = 0xf6;
    p[STORE_HOUR_HEADER + 1] = 0x42;
    size_t len = STORE_HOUR_HEADER + 2 + (size_t)(STORE_RU_COLS - 1); /* 2 nibbles a column */
    struct store_hour h;
    assert_int_equal(store_hour_decode(p, len, &h), 0);
    assert_int_equal(h.present, 3);
    assert_int_equal(h.q[0][0], 100);
    assert_int_equal(h.q[1][0], 101);
    assert_int_equal(h.q[0][1], 0);
    assert_int_equal(h.q[1][STORE_RU_COLS - 1], 0);
    assert_int_equal(store_hour_decode(p, len - 1, &h), -EINVAL);
}

/* A VM's row comes back with its id, its usage to the hundredth and its kinds. */
static void
test_vm_codec(void **state)
{
    (void)state;
    uint8_t buf[STORE_VMS_HEADER + 3 * STORE_VM_MAX_BYTES];
    store_vms_header(buf);
    size_t len = STORE_VMS_HEADER;
    const double a[STORE_VM_COLS] = {12.345, 0, 100, 700, 33.333};
    const unsigned wait = 1u << STORE_COL_CPU_WAIT;
    len += store_vm_encode(buf + len, 1, a, KIND_MASK_ALL | wait);
    len += store_vm_encode(buf + len, 300, a, KIND_BIT(KIND_DISK));
    len += store_vm_encode(buf + len, UINT64_MAX, a, 0);
    size_t pos = 0;
    uint64_t id = 0;
    double pct[STORE_VM_COLS];
    unsigned kinds = 0;
    assert_int_equal(store_vm_decode(buf, len, &pos, &id, pct, &kinds), 1);
    assert_true(id == 1);
    assert_int_equal(kinds, KIND_MASK_ALL | wait);
    assert_true(pct[KIND_CPU] == 12.35 && pct[KIND_DISK] == 100 && pct[KIND_NET] == 655.34);
    assert_true(pct[STORE_COL_CPU_WAIT] == 33.33);
    assert_int_equal(store_vm_decode(buf, len, &pos, &id, pct, &kinds), 1);
    assert_true(id == 300);
    assert_int_equal(kinds, KIND_BIT(KIND_DISK));
    assert_true(pct[KIND_CPU] == 0);
    assert_int_equal(store_vm_decode(buf, len, &pos, &id, pct, &kinds), 1);
    assert_true(id == UINT64_MAX);
    assert_int_equal(kinds, 0);
    assert_int_equal(store_vm_decode(buf, len, &pos, &id, pct, &kinds), 0);
    pos = 0;
    assert_int_equal(store_vm_decode(buf, len - 1, &pos, &id, pct, &kinds), 1);
    assert_int_equal(store_vm_decode(buf, len - 1, &pos, &id, pct, &kinds), 1);
    assert_int_equal(store_vm_decode(buf, len - 1, &pos, &id, pct, &kinds), -EINVAL);
    buf[1] = KIND_COUNT - 1;
    pos = 0;
    assert_int_equal(store_vm_decode(buf, len, &pos, &id, pct, &kinds), -EINVAL);

    /* A row of the first layout (the usage columns only, before the wait was appended) reads
     * with no wait; a row with a column more than this vmloc knows reads with it skipped. */
    uint8_t old[] = {STORE_VMS_FORMAT, KIND_COUNT, 7, 0x10, 0x27, 0, 0, 0xff, 0xff, 1, 0};
    pos = 0;
    assert_int_equal(store_vm_decode(old, sizeof(old), &pos, &id, pct, &kinds), 1);
    assert_true(id == 7);
    assert_int_equal(kinds, KIND_BIT(KIND_CPU) | KIND_BIT(KIND_MEM_BW) | KIND_BIT(KIND_NET));
    assert_true(pct[KIND_CPU] == 100 && pct[STORE_COL_CPU_WAIT] == 0);
    assert_int_equal(store_vm_decode(old, sizeof(old), &pos, &id, pct, &kinds), 0);
    uint8_t newer[] = {STORE_VMS_FORMAT,
                       STORE_VM_COLS + 1,
                       2,
                       1,
                       0,
                       2,
                       0,
                       3,
                       0,
                       4,
                       0,
                       5,
                       0,
                       6,
                       0,
                       3,
                       0xff,
                       0xff,
                       0xff,
                       0xff,
                       0xff,
                       0xff,
                       0xff,
                       0xff,
                       0xff,
                       0xff,
                       9,
                       9};
    pos = 0;
    assert_int_equal(store_vm_decode(newer, sizeof(newer), &pos, &id, pct, &kinds), 1);
    assert_true(id == 2 && pct[STORE_COL_CPU_WAIT] == 0.05);
    assert_int_equal(kinds, KIND_MASK_ALL | wait);
    assert_int_equal(store_vm_decode(newer, sizeof(newer), &pos, &id, pct, &kinds), 1);
    assert_true(id == 3);
    assert_int_equal(kinds, 0);
    assert_int_equal(store_vm_decode(newer, sizeof(newer), &pos, &id, pct, &kinds), 0);
}

struct contention_rows {
    int n;
    struct pressure psi[8];
    bool has_wait[8][3];
    double wait[8][3];
    char vm[8][3][16];
    size_t n_vms[8];
};

static void
keep_contention(void *ctx, const struct store_row *r)
{
    struct contention_rows *c = ctx;
    assert_true(c->n < 8);
    c->psi[c->n] = r->pressure;
    c->n_vms[c->n] = r->n_vms;
    for (size_t j = 0; j < r->n_vms && j < 3; j++) {
        c->has_wait[c->n][j] = r->vms[j].has_cpu_wait;
        c->wait[c->n][j] = r->vms[j].cpu_wait;
        (void)snprintf(c->vm[c->n][j], sizeof(c->vm[0][0]), "%s", r->vms[j].name);
    }
    c->n++;
}

/* The host's pressure and the VMs' CPU wait come back with the raw samples, to the hundredth,
 * absent where not given; a row written before either existed (no pressure columns' values,
 * the VMs' BLOB of four columns) reads with both absent. */
static void
test_contention_history(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    const double pct[KIND_COUNT] = {90, 0, 0, 0};
    const double vm[KIND_COUNT] = {40, 0, 0, 0};
    struct pressure psi = {0};
    pressure_set(&psi, PRESSURE_CPU, PRESSURE_SOME, 24.125);
    pressure_set(&psi, PRESSURE_CPU, PRESSURE_FULL, 0);
    pressure_set(&psi, PRESSURE_IO, PRESSURE_FULL, 100);
    const double w1 = 18.004, w2 = 0;
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_add_sample(s, T0, "h1", pct, KIND_BIT(KIND_CPU), &psi, true), 0);
    assert_int_equal(store_add_vm(s, "a", vm, KIND_BIT(KIND_CPU), &w1), 0);
    assert_int_equal(store_add_vm(s, "b", vm, KIND_BIT(KIND_CPU), &w2), 0);
    assert_int_equal(store_add_vm(s, "c", vm, KIND_BIT(KIND_CPU), NULL), 0);
    assert_int_equal(store_add_sample(s, T0 + 10, "h1", pct, KIND_BIT(KIND_CPU), NULL, true), 0);
    assert_int_equal(store_add_vm(s, "a", vm, KIND_BIT(KIND_CPU), NULL), 0);
    assert_int_equal(store_commit(s), 0);
    store_close(s);
    /* A row as the schema before the pressure columns and the wait column wrote it: VM "a" at
     * 40 % cpu (0x0fa0), the other kinds absent, in a BLOB of four columns. */
    int a_id = query_int(dir, "SELECT id FROM names WHERE name = 'a'");
    assert_true(a_id > 0 && a_id < 128);
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "INSERT INTO samples_0(time, host, cpu, vms) VALUES (%.0f, (SELECT id FROM names"
                   " WHERE name = 'h1'), 5000, x'0104%02xa00fffffffffffff')",
                   T0 + 20, a_id);
    exec_sql(dir, sql);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples WHERE psi_cpu_some = 2413"), 1);

    s = open_store(dir);
    struct contention_rows c = {0};
    long long bad = -1;
    assert_int_equal(store_each_sample(s, "h1", 0, true, keep_contention, &c, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.psi[0].present, PRESSURE_BIT(PRESSURE_CPU, PRESSURE_SOME) |
                                           PRESSURE_BIT(PRESSURE_CPU, PRESSURE_FULL) |
                                           PRESSURE_BIT(PRESSURE_IO, PRESSURE_FULL));
    assert_true(c.psi[0].pct[PRESSURE_CPU][PRESSURE_SOME] == 24.13);
    assert_true(c.psi[0].pct[PRESSURE_CPU][PRESSURE_FULL] == 0);
    assert_true(c.psi[0].pct[PRESSURE_IO][PRESSURE_FULL] == 100);
    assert_int_equal(c.n_vms[0], 3);
    assert_string_equal(c.vm[0][0], "a");
    assert_true(c.has_wait[0][0] && c.wait[0][0] == 18);
    assert_true(c.has_wait[0][1] && c.wait[0][1] == 0);
    assert_false(c.has_wait[0][2]);
    assert_int_equal(c.psi[1].present, 0);
    assert_false(c.has_wait[1][0]);
    assert_int_equal(c.psi[2].present, 0);
    assert_int_equal(c.n_vms[2], 1);
    assert_string_equal(c.vm[2][0], "a");
    assert_false(c.has_wait[2][0]);
    store_close(s);
}

/* Sample at `t` of host `host` at 50 % cpu, with cpu pressure (some) `psi` when >= 0. */
static void
psi_sample(struct store *s, const char *host, double t, double psi)
{
    const double pct[KIND_COUNT] = {50, 0, 0, 0};
    struct pressure p = {0};
    if (psi >= 0)
        pressure_set(&p, PRESSURE_CPU, PRESSURE_SOME, psi);
    pressure_set(&p, PRESSURE_IO, PRESSURE_SOME, 77); /* not in the roll-ups */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(
        store_add_sample(s, t, host, pct, KIND_BIT(KIND_CPU), psi >= 0 ? &p : NULL, false), 0);
    assert_int_equal(store_commit(s), 0);
}

/* The roll-ups keep the minimum, mean and maximum of the host's cpu pressure over the samples
 * of the minute that carried it; a minute where none did has none (not 0), a row written
 * before the pressure columns reads as none, and a minute taken up again after a restart goes
 * on from its stored pressure. */
static void
test_pressure_rollups(void **state)
{
    (void)state;
    char dir[512];
    testdir_fresh(dir, sizeof(dir));
    struct store *s = open_store(dir);
    psi_sample(s, "h1", T0, 20);
    psi_sample(s, "h1", T0 + 10, -1); /* not measured: not a 0 in the mean */
    psi_sample(s, "h1", T0 + 20, 30);
    psi_sample(s, "h1", T0 + 60, -1);
    psi_sample(s, "h1", T0 + 70, -1);
    psi_sample(s, "h1", T0 + 120, 10.2);
    struct minutes ms = {0};
    assert_int_equal(store_each_minute(s, "h1", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 3);
    assert_true(ms.m[0].has_cpu_some);
    assert_true(ms.m[0].cpu_some_min == 20 && ms.m[0].cpu_some_max == 30);
    assert_true(ms.m[0].cpu_some_mean == 25);
    assert_false(ms.m[1].has_cpu_some);
    assert_true(ms.m[1].mean[KIND_CPU] == 50);
    assert_true(ms.m[2].has_cpu_some); /* in progress: exact */
    assert_true(ms.m[2].cpu_some_mean == 10.2);
    assert_int_equal(store_sync(s), 0);
    store_close(s);

    /* An hour row as vmloc wrote it before the pressure columns: 12 columns, minutes 0 to 3,
     * every value 0 (one nibble each). */
    exec_sql(dir, "INSERT INTO names(name) VALUES ('old')");
    char sql[512];
    (void)snprintf(sql, sizeof(sql),
                   "INSERT INTO rollups(host, hour, minutes, data) VALUES ((SELECT id FROM names "
                   "WHERE name = 'old'), %.0f, 4, x'010c0f00000000000000%048d')",
                   T0 / 3600.0, 0);
    exec_sql(dir, sql);

    s = open_store(dir);
    ms.n = 0;
    assert_int_equal(store_each_minute(s, "h1", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 3);
    assert_true(ms.m[0].has_cpu_some && ms.m[0].cpu_some_mean == 25);
    assert_true(ms.m[0].cpu_some_min == 20 && ms.m[0].cpu_some_max == 30);
    assert_false(ms.m[1].has_cpu_some);
    assert_true(ms.m[2].has_cpu_some && ms.m[2].cpu_some_mean == 10); /* to the half percent */
    /* The stored minute counts as one sample. */
    psi_sample(s, "h1", T0 + 130, 30);
    ms.n = 0;
    assert_int_equal(store_each_minute(s, "h1", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 3);
    assert_true(ms.m[2].cpu_some_min == 10 && ms.m[2].cpu_some_max == 30);
    assert_true(ms.m[2].cpu_some_mean == 20);
    /* A minute stored without pressure, taken up by a sample with it: its pressure alone. */
    psi_sample(s, "h1", T0 + 180, -1);
    assert_int_equal(store_sync(s), 0);
    store_close(s);
    s = open_store(dir);
    psi_sample(s, "h1", T0 + 190, 40);
    ms.n = 0;
    assert_int_equal(store_each_minute(s, "h1", T0 + 180, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 1);
    assert_true(ms.m[0].has_cpu_some && ms.m[0].cpu_some_mean == 40);
    assert_true(ms.m[0].cpu_some_min == 40 && ms.m[0].cpu_some_max == 40);

    ms.n = 0;
    assert_int_equal(store_each_minute(s, "old", 0, keep_minute, &ms), 0);
    assert_int_equal(ms.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_false(ms.m[i].has_cpu_some);
        assert_true(ms.m[i].mean[KIND_CPU] == 0);
    }
    store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_oldest),
        cmocka_unit_test(test_new_store),
        cmocka_unit_test(test_newer_refused),
        cmocka_unit_test(test_samples_round),
        cmocka_unit_test(test_one_host_by_ten_seconds),
        cmocka_unit_test(test_one_host_uses_the_index),
        cmocka_unit_test(test_prune_batches),
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_ring_backdated),
        cmocka_unit_test(test_ring_one_a_call),
        cmocka_unit_test(test_ring_clock_back),
        cmocka_unit_test(test_ring_keeps_retention),
        cmocka_unit_test(test_hold_raw),
        cmocka_unit_test(test_hold_raw_rollback),
        cmocka_unit_test(test_rollup_in_place),
        cmocka_unit_test(test_stats_count),
        cmocka_unit_test(test_upgrade_v2),
        cmocka_unit_test(test_upgrade_v8),
        cmocka_unit_test(test_bad_vms_skipped),
        cmocka_unit_test(test_hour_codec),
        cmocka_unit_test(test_hour_codec_smooth),
        cmocka_unit_test(test_hour_codec_format1),
        cmocka_unit_test(test_hour_codec_garbage),
        cmocka_unit_test(test_rollup_format1_row),
        cmocka_unit_test(test_vm_codec),
        cmocka_unit_test(test_migration_job),
        cmocka_unit_test(test_contention_history),
        cmocka_unit_test(test_names_after_rollback),
        cmocka_unit_test(test_names_after_midround_rollback),
        cmocka_unit_test(test_pressure_rollups),
    };
    return cmocka_run_group_tests_name("store", tests, group_setup, testdir_teardown);
}
