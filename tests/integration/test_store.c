/* The store across vmloc versions, through the real manager: a store written before schema
 * versions were kept (tests/data/store-v0.sql) is upgraded when the manager starts, which
 * logs it and serves the old rows; a store newer than this vmloc makes the manager exit 1
 * with an error that names the file and both versions. */
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_store_upgraded),
        cmocka_unit_test(test_newer_store_refused),
    };
    return cmocka_run_group_tests_name("store upgrade", tests, NULL, NULL);
}
