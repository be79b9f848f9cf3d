/* The API token file (common/token.c): default path, creation, the checks on reading. */
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
#include <unistd.h>

#include <cmocka.h>

#include "common/token.h"

static char dir[256];

static int
setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "%s/vmloc-token-XXXXXX",
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
write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void
test_default_path(void **state)
{
    (void)state;
    char buf[512];
    char system[400];
    enum token_source src;
    (void)snprintf(system, sizeof(system), "%s/no-system-token", dir);
    assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
    assert_int_equal(setenv("VMLOC_TOKEN_FILE", "/x/token", 1), 0);
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), 0);
    assert_string_equal(buf, "/x/token");
    assert_int_equal(src, TOKEN_SOURCE_ENV);
    assert_int_equal(unsetenv("VMLOC_TOKEN_FILE"), 0);
    assert_int_equal(setenv("XDG_CONFIG_HOME", "/cfg", 1), 0);
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), 0);
    assert_string_equal(buf, "/cfg/vmloc/token");
    assert_int_equal(src, TOKEN_SOURCE_USER);
    assert_int_equal(setenv("XDG_CONFIG_HOME", "relative", 1), 0); /* ignored, as the spec says */
    assert_int_equal(setenv("HOME", "/home/op", 1), 0);
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), 0);
    assert_string_equal(buf, "/home/op/.config/vmloc/token");
    assert_int_equal(token_search(system, buf, 8, &src), -ENAMETOOLONG);
    assert_int_equal(unsetenv("HOME"), 0);
    assert_int_equal(unsetenv("XDG_CONFIG_HOME"), 0);
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), -ENOENT);
}

/* The order a daemon and the terminal look in: $VMLOC_TOKEN_FILE, the credential systemd
 * passed ($CREDENTIALS_DIRECTORY/token), the system file, the XDG path; each of the middle two
 * only when it is there, so a missing credentials directory or file falls through. */
static void
test_search_order(void **state)
{
    (void)state;
    char buf[512];
    char want[512];
    char system[400];
    char creds[400];
    char xdg[400];
    enum token_source src;
    (void)snprintf(system, sizeof(system), "%s/etc-token", dir);
    (void)snprintf(creds, sizeof(creds), "%s/credentials", dir);
    (void)snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
    assert_int_equal(unsetenv("VMLOC_TOKEN_FILE"), 0);
    assert_int_equal(setenv("XDG_CONFIG_HOME", xdg, 1), 0);
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", creds, 1), 0); /* not there yet */
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), 0);
    (void)snprintf(want, sizeof(want), "%s/vmloc/token", xdg);
    assert_string_equal(buf, want);
    assert_int_equal(src, TOKEN_SOURCE_USER);
    assert_true(token_source_creates(src));

    /* The system file, once there, before the XDG path. */
    write_file(system, "0123456789abcdef0123\n", 0600);
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), 0);
    assert_string_equal(buf, system);
    assert_int_equal(src, TOKEN_SOURCE_SYSTEM);
    assert_false(token_source_creates(src));
    assert_string_equal(token_source_name(src), "system");

    /* A credentials directory without the token: still the system file. */
    assert_int_equal(mkdir(creds, 0700), 0);
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), 0);
    assert_int_equal(src, TOKEN_SOURCE_SYSTEM);

    /* The credential wins over both. */
    char cred[500];
    (void)snprintf(cred, sizeof(cred), "%s/token", creds);
    write_file(cred, "abcdefabcdefabcdef\n", 0400);
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), 0);
    assert_string_equal(buf, cred);
    assert_int_equal(src, TOKEN_SOURCE_CREDENTIAL);
    assert_false(token_source_creates(src));
    assert_string_equal(token_source_name(src), "credential");
    char tok[TOKEN_MAX + 1];
    char err[600];
    bool created = false;
    assert_int_equal(token_load_default(tok, err, sizeof(err)), 0);
    assert_string_equal(tok, "abcdefabcdefabcdef");
    /* Without the system file, no XDG file is created while the credential is there. */
    assert_int_equal(unlink(system), 0);
    assert_int_equal(token_load_default(tok, err, sizeof(err)), 0);
    struct stat st;
    (void)snprintf(want, sizeof(want), "%s/vmloc/token", xdg);
    assert_int_equal(stat(want, &st), -1);

    /* systemd decides who reads a credential: a file its ACL opens to this user (group bits
     * showing the mask) loads there, and is refused anywhere else. */
    write_file(cred, "abcdefabcdefabcdef\n", 0440);
    assert_int_equal(token_load(cred, false, tok, NULL, &created, err, sizeof(err)), 0);
    char elsewhere[400];
    (void)snprintf(elsewhere, sizeof(elsewhere), "%s/token-0440", dir);
    write_file(elsewhere, "abcdefabcdefabcdef\n", 0440);
    assert_int_equal(token_load(elsewhere, false, tok, NULL, &created, err, sizeof(err)), -EPERM);
    /* ... nor does a file in a subdirectory of it count as the credential. */
    char sub[500];
    (void)snprintf(sub, sizeof(sub), "%s/sub", creds);
    assert_int_equal(mkdir(sub, 0700), 0);
    (void)snprintf(sub, sizeof(sub), "%s/sub/token", creds);
    write_file(sub, "abcdefabcdefabcdef\n", 0440);
    assert_int_equal(token_load(sub, false, tok, NULL, &created, err, sizeof(err)), -EPERM);

    /* $VMLOC_TOKEN_FILE before everything; a relative CREDENTIALS_DIRECTORY is ignored. */
    assert_int_equal(setenv("VMLOC_TOKEN_FILE", "/x/token", 1), 0);
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), 0);
    assert_string_equal(buf, "/x/token");
    assert_int_equal(unsetenv("VMLOC_TOKEN_FILE"), 0);
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", "credentials", 1), 0);
    assert_int_equal(token_search(system, buf, sizeof(buf), &src), 0);
    assert_int_equal(src, TOKEN_SOURCE_USER);
    assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
    assert_int_equal(unsetenv("XDG_CONFIG_HOME"), 0);
}

static void
test_create_and_reload(void **state)
{
    (void)state;
    char path[400];
    (void)snprintf(path, sizeof(path), "%s/a/b/token", dir);
    char tok[TOKEN_MAX + 1];
    char tok2[TOKEN_MAX + 1];
    char err[600] = "";
    bool created = false;
    /* Not created when the caller only reads. */
    assert_int_equal(token_load(path, false, tok, NULL, &created, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, path));
    assert_int_equal(token_load(path, true, tok, NULL, &created, err, sizeof(err)), 0);
    assert_true(created);
    assert_int_equal(strlen(tok), 64);
    for (size_t i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", tok[i]));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Loaded again, not replaced. */
    assert_int_equal(token_load(path, true, tok2, NULL, &created, err, sizeof(err)), 0);
    assert_false(created);
    assert_string_equal(tok, tok2);
    /* Two files get different tokens. */
    char other[400];
    (void)snprintf(other, sizeof(other), "%s/other", dir);
    assert_int_equal(token_load(other, true, tok2, NULL, &created, err, sizeof(err)), 0);
    assert_string_not_equal(tok, tok2);
}

static void
test_refused_files(void **state)
{
    (void)state;
    char path[400];
    char tok[TOKEN_MAX + 1];
    char err[600];
    bool created = false;
    (void)snprintf(path, sizeof(path), "%s/t", dir);
    write_file(path, "0123456789abcdef0123\n", 0644);
    assert_int_equal(token_load(path, true, tok, NULL, &created, err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "0644"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(token_load(path, true, tok, NULL, &created, err, sizeof(err)), 0);
    assert_string_equal(tok, "0123456789abcdef0123");
    static const char *const bad[] = {
        "short\n",
        "0123456789abcdef 0123\n",
        "0123456789abcdef0123\nsecond line\n",
        "\n",
        "\n0123456789abcdef0123\n",                                       /* no first token */
        "0123456789abcdef0123\nshort\n",                                  /* a bad previous one */
        "0123456789abcdef0123\n0123456789abcdef0124\n\n",                 /* a third line */
        "0123456789abcdef0123\n0123456789abcdef0124\nabcdefabcdefabcdef", /* a third token */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(path, bad[i], 0600);
        assert_int_equal(token_load(path, false, tok, NULL, &created, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, path));
    }
    /* CRLF line end is accepted. */
    write_file(path, "0123456789abcdef0123\r\n", 0600);
    assert_int_equal(token_load(path, false, tok, NULL, &created, err, sizeof(err)), 0);
    assert_string_equal(tok, "0123456789abcdef0123");
    /* A rotation: the new token first, the previous one on the second line (with or without
     * a line end, CRLF too); a caller that does not want the previous one gets the first. */
    char prev[TOKEN_MAX + 1];
    static const char *const pairs[] = {
        "0123456789abcdef0123\nabcdefabcdefabcdef\n",
        "0123456789abcdef0123\nabcdefabcdefabcdef",
        "0123456789abcdef0123\r\nabcdefabcdefabcdef\r\n",
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        write_file(path, pairs[i], 0600);
        assert_int_equal(token_load(path, false, tok, prev, &created, err, sizeof(err)), 0);
        assert_string_equal(tok, "0123456789abcdef0123");
        assert_string_equal(prev, "abcdefabcdefabcdef");
        assert_int_equal(token_load(path, false, tok, NULL, &created, err, sizeof(err)), 0);
        assert_string_equal(tok, "0123456789abcdef0123");
    }
    /* No previous token: one line, or a blank second one (LF or CRLF). */
    static const char *const singles[] = {"0123456789abcdef0123\n", "0123456789abcdef0123\n\n",
                                          "0123456789abcdef0123\r\n\r\n"};
    for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]); i++) {
        write_file(path, singles[i], 0600);
        assert_int_equal(token_load(path, false, tok, prev, &created, err, sizeof(err)), 0);
        assert_string_equal(tok, "0123456789abcdef0123");
        assert_string_equal(prev, "");
    }
    /* A directory, a symbolic link. */
    assert_int_equal(token_load(dir, false, tok, NULL, &created, err, sizeof(err)) < 0, 1);
    char link_path[400];
    (void)snprintf(link_path, sizeof(link_path), "%s/link", dir);
    assert_int_equal(symlink(path, link_path), 0);
    assert_int_equal(token_load(link_path, false, tok, NULL, &created, err, sizeof(err)), -ELOOP);
    assert_non_null(strstr(err, "symbolic link"));
}

static void
test_equal(void **state)
{
    (void)state;
    assert_true(token_equal("abcdefabcdefabcd", "abcdefabcdefabcd", 16));
    assert_false(token_equal("abcdefabcdefabcd", "abcdefabcdefabce", 16));
    assert_false(token_equal("abcdefabcdefabcd", "abcdefabcdefabc", 15));
    assert_false(token_equal("abcdefabcdefabcd", "abcdefabcdefabcdX", 17));
    assert_false(token_equal("abcdefabcdefabcd", "", 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_search_order),
        cmocka_unit_test(test_create_and_reload),
        cmocka_unit_test(test_refused_files),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
