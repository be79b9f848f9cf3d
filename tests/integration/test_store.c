/* The store across vmloc versions, through the real manager: a store written before schema
 * versions were kept (tests/data/store-v0.sql) is upgraded when the manager starts, which
 * logs it and serves the old rows; a store newer than this vmloc makes the manager exit 1
 * with an error that names the file and both versions. And an agent's registration, repeated
 * with the same URL, leaves its stored row alone (before and after a restart), while another
 * URL rewrites it. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon.h"
#include "store/store.h"

/* DIR/vmloc.db made from `sql` with SQLite itself, as another vmloc would have left it. */
static void
make_store(const char *dir, const char *sql)
{
    assert_int_equal(mkdir(dir, 0700), 0);
    char path[700];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s", msg);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static char *
read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[n] = '\0';
    return buf;
}

static void
test_old_store_upgraded(void **state)
{
    (void)state;
    char dir[600];
    (void)snprintf(dir, sizeof(dir), "%s/old-store", daemon_tmpdir());
    make_store(dir, read_text(VMLOC_TEST_DATA "/store-v0.sql"));
    const char *argv[] = {"manager", "--listen", "127.0.0.1:0", "--data", dir, NULL};
    struct daemon d;
    assert_int_equal(daemon_start(&d, "old-store", argv, 10), 0);
    json_t *migs = NULL;
    assert_int_equal(daemon_http(d.url, "GET", "/v1/migrations", NULL, &migs), 200);
    char *text = json_dumps(migs, 0);
    json_decref(migs);
    assert_non_null(strstr(text, "m-old-1"));
    free(text);
    assert_int_equal(daemon_stop(&d, 10), 0);
    char want[800];
    (void)snprintf(want, sizeof(want), "store upgraded file=%s/%s from=0 to=%d", dir, STORE_FILE,
                   STORE_SCHEMA_VERSION);
    assert_non_null(strstr(read_text(d.log_path), want));
}

static void
test_newer_store_refused(void **state)
{
    (void)state;
    char dir[600];
    char sql[64];
    (void)snprintf(dir, sizeof(dir), "%s/new-store", daemon_tmpdir());
    (void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d;", STORE_SCHEMA_VERSION + 1);
    make_store(dir, sql);
    char log[700];
    (void)snprintf(log, sizeof(log), "%s/new-store.log", daemon_tmpdir());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        execl(daemon_bin(), daemon_bin(), "manager", "--listen", "127.0.0.1:0", "--data", dir,
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    char want[800];
    (void)snprintf(want, sizeof(want),
                   "cannot open the store: %s/%s: store schema version %d is newer than this "
                   "vmloc knows (%d)",
                   dir, STORE_FILE, STORE_SCHEMA_VERSION + 1, STORE_SCHEMA_VERSION);
    assert_non_null(strstr(read_text(log), want));
}

/* No agent listens there: a host registered with it is down after a few rounds. */
#define NOWHERE "http://127.0.0.1:9"
#define OTHER_URL "http://127.0.0.1:10"

/* The stored row of agent `name` in DIR/vmloc.db, read by SQLite itself while the manager
 * runs (the store is in WAL mode): its URL into `url` and its registration time. */
static double
stored_agent(const char *dir, const char *name, char *url, size_t len)
{
    char path[700];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    (void)sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT url, registered FROM agents WHERE name = ?", -1, &st, NULL),
        SQLITE_OK);
    (void)sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    (void)snprintf(url, len, "%s", (const char *)sqlite3_column_text(st, 0));
    double t = sqlite3_column_double(st, 1);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return t;
}

static int
register_agent(const char *manager_url, const char *name, const char *url)
{
    char body[300];
    (void)snprintf(body, sizeof(body), "{\"name\":\"%s\",\"url\":\"%s\"}", name, url);
    json_t *j = NULL;
    int status = daemon_http(manager_url, "POST", "/v1/agents", body, &j);
    json_decref(j);
    return status;
}

/* A registration of the host under another URL is taken (its holder went silent). */
static bool
moved(void *arg)
{
    return register_agent(arg, "h1", OTHER_URL) == 200;
}

/* Wait until the wall clock has moved on from `t` (by at least 10 ms), so that a row
 * rewritten after it would show another time. */
static void
clock_past(double t)
{
    struct timespec now;
    do {
        struct timespec pause = {0, 10 * 1000 * 1000};
        (void)nanosleep(&pause, NULL);
        (void)clock_gettime(CLOCK_REALTIME, &now);
    } while ((double)now.tv_sec + (double)now.tv_nsec / 1e9 < t + 0.01);
}

static void
test_registration_written_on_change(void **state)
{
    (void)state;
    char dir[600];
    (void)snprintf(dir, sizeof(dir), "%s/reg-store", daemon_tmpdir());
    const char *argv[] = {"manager", "--listen",   "127.0.0.1:0", "--data",
                          dir,       "--interval", "0.2",         NULL};
    struct daemon d;
    assert_int_equal(daemon_start(&d, "reg-store", argv, 10), 0);
    char url[300];
    assert_int_equal(register_agent(d.url, "h1", NOWHERE), 200);
    double first = stored_agent(dir, "h1", url, sizeof(url));
    assert_string_equal(url, NOWHERE);
    assert_true(first > 0);

    /* The same registration again, as an agent repeats it every few seconds: not written. */
    clock_past(first);
    assert_int_equal(register_agent(d.url, "h1", NOWHERE), 200);
    assert_true(stored_agent(dir, "h1", url, sizeof(url)) == first);

    /* Nor after a restart: the manager knows the row it read. */
    assert_int_equal(daemon_stop(&d, 10), 0);
    assert_int_equal(daemon_start(&d, "reg-store-2", argv, 10), 0);
    assert_int_equal(register_agent(d.url, "h1", NOWHERE), 200);
    assert_true(stored_agent(dir, "h1", url, sizeof(url)) == first);

    /* Nobody answers at NOWHERE: once the host is down, another URL takes the name, and the
     * row follows at once, with the new time. */
    assert_true(wait_until(moved, d.url, 10));
    double second = stored_agent(dir, "h1", url, sizeof(url));
    assert_string_equal(url, OTHER_URL);
    assert_true(second > first);
    assert_int_equal(daemon_stop(&d, 10), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_store_upgraded),
        cmocka_unit_test(test_newer_store_refused),
        cmocka_unit_test(test_registration_written_on_change),
    };
    return cmocka_run_group_tests_name("store upgrade", tests, NULL, NULL);
}
