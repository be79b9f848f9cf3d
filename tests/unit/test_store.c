/* The store's schema versions (src/store/store.c): a store written before versions were kept
 * (tests/data/store-v0.sql, the oldest schema) is upgraded on open and keeps its rows; a new
 * store starts at STORE_SCHEMA_VERSION; a store newer than this code is refused, untouched,
 * with a message that names the file and both versions. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
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

#ifndef VMLOC_TEST_DATA
#error "VMLOC_TEST_DATA: the folder tests/data"
#endif

/* A fresh directory in the build directory. */
static void
fresh_dir(char *dir, size_t len)
{
    (void)snprintf(dir, len, "%s/store-test-XXXXXX", VMLOC_TEST_TMP);
    assert_non_null(mkdtemp(dir));
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
    fresh_dir(dir, sizeof(dir));
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
    assert_int_equal(store_add_sample(s, 7, "h1", "{}"), 0);
    store_close(s);

    assert_int_equal(query_int(dir, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(dir, "SELECT CAST(value AS INTEGER) FROM meta"
                                    " WHERE key = 'schema_version'"),
                     STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM samples"), 2);
    assert_int_equal(query_int(dir, "SELECT count(*) FROM recommendations"), 1);
    /* Step 2 gave the old migrations table its answered column. */
    assert_int_equal(query_int(dir, "SELECT count(*) FROM pragma_table_info('migrations')"
                                    " WHERE name = 'answered'"),
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
    fresh_dir(dir, sizeof(dir));
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
    fresh_dir(dir, sizeof(dir));
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_oldest),
        cmocka_unit_test(test_new_store),
        cmocka_unit_test(test_newer_refused),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
