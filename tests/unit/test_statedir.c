/* The daemons' default state directory (common/statedir.c): $STATE_DIRECTORY first (its first
 * entry), /var/lib/vmloc only as root, the XDG state directory otherwise; the role's
 * subdirectory; the parents made for a default and named for a given path. The euid is an
 * argument, so the root case runs as any user and the user case as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/statedir.h"

static char dir[256];

static void
clear_env(void)
{
    assert_int_equal(unsetenv("STATE_DIRECTORY"), 0);
    assert_int_equal(unsetenv("XDG_STATE_HOME"), 0);
    assert_int_equal(unsetenv("HOME"), 0);
}

static int
setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "%s/vmloc-statedir-XXXXXX",
                   getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    (void)state;
    return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_default(void **state)
{
    (void)state;
    char buf[512];
    char err[300];
    clear_env();
    assert_int_equal(setenv("HOME", "/home/op", 1), 0);
    assert_int_equal(setenv("XDG_STATE_HOME", "/xdg/state", 1), 0);
    /* The service manager's directory wins, for root and for a user; its first entry. */
    assert_int_equal(setenv("STATE_DIRECTORY", "/var/lib/vmloc:/var/lib/other", 1), 0);
    for (unsigned euid = 0; euid < 2000; euid += 1000) {
        assert_int_equal(statedir_default("manager", euid, buf, sizeof(buf), err, sizeof(err)), 0);
        assert_string_equal(buf, "/var/lib/vmloc/manager");
    }
    assert_int_equal(setenv("STATE_DIRECTORY", "/run/state", 1), 0);
    assert_int_equal(statedir_default("agent-h1", 1000, buf, sizeof(buf), err, sizeof(err)), 0);
    assert_string_equal(buf, "/run/state/agent-h1");
    /* Without it: /var/lib/vmloc as root only, the XDG state directory for a user. */
    assert_int_equal(unsetenv("STATE_DIRECTORY"), 0);
    assert_int_equal(statedir_default("manager", 0, buf, sizeof(buf), err, sizeof(err)), 0);
    assert_string_equal(buf, STATEDIR_SYSTEM "/manager");
    assert_int_equal(statedir_default("manager", 1000, buf, sizeof(buf), err, sizeof(err)), 0);
    assert_string_equal(buf, "/xdg/state/vmloc/manager");
    /* Relative XDG_STATE_HOME (or STATE_DIRECTORY) is ignored: ~/.local/state. */
    assert_int_equal(setenv("XDG_STATE_HOME", "state", 1), 0);
    assert_int_equal(setenv("STATE_DIRECTORY", "relative", 1), 0);
    assert_int_equal(statedir_default("agent-h1", 1000, buf, sizeof(buf), err, sizeof(err)), 0);
    assert_string_equal(buf, "/home/op/.local/state/vmloc/agent-h1");
    /* Nothing to go by: an error that says what to do. */
    clear_env();
    assert_int_equal(statedir_default("manager", 1000, buf, sizeof(buf), err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "--data"));
    /* The role is one path component. */
    static const char *const bad[] = {"", ".", "..", "a/b", "/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(statedir_default(bad[i], 0, buf, sizeof(buf), err, sizeof(err)), -EINVAL);
    assert_int_equal(statedir_default("manager", 0, buf, 10, err, sizeof(err)), -ENAMETOOLONG);
}

static bool
is_dir(const char *path, mode_t mode)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == mode;
}

static void
test_prepare(void **state)
{
    (void)state;
    char path[400];
    char parent[400];
    char err[600];
    /* A default: the missing parents are made, owner only; the directory itself is not. */
    (void)snprintf(path, sizeof(path), "%s/a/b/vmloc/manager", dir);
    assert_int_equal(statedir_prepare(path, true, err, sizeof(err)), 0);
    (void)snprintf(parent, sizeof(parent), "%s/a/b/vmloc", dir);
    assert_true(is_dir(parent, 0700));
    (void)snprintf(parent, sizeof(parent), "%s/a", dir);
    assert_true(is_dir(parent, 0700));
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(statedir_prepare(path, true, err, sizeof(err)), 0); /* again: fine */
    /* A given path: its missing parent is named, not made. */
    (void)snprintf(path, sizeof(path), "%s/missing/data/", dir);
    assert_int_equal(statedir_prepare(path, false, err, sizeof(err)), -ENOENT);
    (void)snprintf(parent, sizeof(parent), "%s/missing: does not exist", dir);
    assert_non_null(strstr(err, parent));
    (void)snprintf(parent, sizeof(parent), "%s/missing", dir);
    assert_int_equal(stat(parent, &st), -1);
    /* A parent that is a file. */
    (void)snprintf(parent, sizeof(parent), "%s/file", dir);
    FILE *f = fopen(parent, "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    (void)snprintf(path, sizeof(path), "%s/file/data", dir);
    assert_int_equal(statedir_prepare(path, true, err, sizeof(err)), -ENOTDIR);
    assert_non_null(strstr(err, "not a directory"));
    (void)snprintf(path, sizeof(path), "%s/file/x/data", dir);
    assert_int_equal(statedir_prepare(path, true, err, sizeof(err)), -ENOTDIR);
    assert_non_null(strstr(err, "/file/x"));
    /* Relative, or right under the root: nothing to check. */
    assert_int_equal(statedir_prepare("vmloc-data", false, err, sizeof(err)), 0);
    assert_int_equal(statedir_prepare("/data", false, err, sizeof(err)), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default),
        cmocka_unit_test_setup_teardown(test_prepare, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
