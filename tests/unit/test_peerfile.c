#define _POSIX_C_SOURCE 200809L
/* The peers file of peer mode (agent/peerfile.c): what a line may hold, the errors that name
 * the file and the line, and noticing a change of the file on disk (in a temporary folder). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/peerfile.h"

/* Texts that parse, and the URLs they list ("|" between them). */
static const struct {
    const char *text;
    const char *urls;
} good[] = {
    {"", ""},
    {"\n\n", ""},
    {"# only a comment\n", ""},
    {"http://127.0.0.1:7701\n", "http://127.0.0.1:7701"},
    {"http://127.0.0.1:7701", "http://127.0.0.1:7701"}, /* no final newline */
    {"  http://a:1  \r\n\thttps://b:2/\n", "http://a:1|https://b:2"},
    {"http://a:1 # h1\n# h2 is away\nhttp://c:3#h3\n", "http://a:1|http://c:3"},
    {"http://[::1]:7701\n", "http://[::1]:7701"},
};

/* Texts that do not parse, and the start of their message. */
static const struct {
    const char *text;
    const char *msg;
} bad[] = {
    {"http://a:1\nnot-a-url\n", "peers:2: \"not-a-url\" is not a peer URL"},
    {"ftp://a:1\n", "peers:1: \"ftp://a:1\" is not a peer URL"},
    {"http://a\n", "peers:1: \"http://a\" is not a peer URL"},       /* no port */
    {"http://a:1/v1\n", "peers:1: \"http://a:1/v1\" is not a peer"}, /* a path */
    {"http://a:1 http://b:2\n", "peers:1: one URL per line"},
    {"# a\nhttp://a:1\n\nhttp://a:1/\n", "peers:4: http://a:1 given twice (first on line 2)"},
};

static void
expect_urls(const struct peerfile_list *l, const char *urls)
{
    char all[1024] = "";
    for (size_t i = 0; i < l->n; i++) {
        size_t used = strlen(all);
        (void)snprintf(all + used, sizeof(all) - used, "%s%s", i > 0 ? "|" : "", l->urls[i]);
    }
    assert_string_equal(all, urls);
}

static void
test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct peerfile_list l;
        struct perr err = {""};
        int r = peerfile_parse(good[i].text, strlen(good[i].text), "peers", &l, &err);
        if (r != 0)
            print_message("case %zu: %s\n", i, err.msg);
        assert_int_equal(r, 0);
        expect_urls(&l, good[i].urls);
        peerfile_list_done(&l);
    }
}

static void
test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct peerfile_list l = {NULL, 42};
        struct perr err = {""};
        assert_int_equal(peerfile_parse(bad[i].text, strlen(bad[i].text), "peers", &l, &err),
                         -EINVAL);
        if (strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)) != 0)
            print_message("case %zu: got \"%s\"\n", i, err.msg);
        assert_true(strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)) == 0);
        assert_null(l.urls); /* untouched */
        assert_int_equal(l.n, 42);
    }
}

/* A NUL byte, and the most peers a file may list. */
static void
test_limits(void **state)
{
    (void)state;
    struct peerfile_list l;
    struct perr err = {""};
    assert_int_equal(peerfile_parse("http://a:1\n\0", 12, "p", &l, &err), -EINVAL);
    assert_string_equal(err.msg, "p: not a text file (it holds a NUL byte)");

    size_t cap = (PEERFILE_MAX_PEERS + 1) * 32;
    char *text = calloc(1, cap);
    assert_non_null(text);
    size_t len = 0;
    for (int i = 0; i < PEERFILE_MAX_PEERS; i++)
        len += (size_t)snprintf(text + len, cap - len, "http://h%d:%d\n", i, 1000 + i);
    assert_int_equal(peerfile_parse(text, len, "p", &l, &err), 0);
    assert_int_equal(l.n, PEERFILE_MAX_PEERS);
    assert_string_equal(l.urls[PEERFILE_MAX_PEERS - 1], "http://h1023:2023");
    peerfile_list_done(&l);
    len += (size_t)snprintf(text + len, cap - len, "http://over:1\n");
    assert_int_equal(peerfile_parse(text, len, "p", &l, &err), -EINVAL);
    assert_string_equal(err.msg, "p:1025: more than 1024 peers");
    free(text);
}

static void
write_file(const char *path, const char *text)
{
    char tmp[600];
    (void)snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* Missing at first, then written, unchanged, replaced by a bad one, then a good one again. */
static void
test_check(void **state)
{
    (void)state;
    char dir[] = "/tmp/vmloc-peerfile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/peers", dir);
    struct peerfile w;
    peerfile_init(&w, path);
    struct peerfile_list l;
    struct perr err = {""};
    assert_int_equal(peerfile_check(&w, false, &l, &err), -ENOENT); /* said once */
    assert_int_equal(peerfile_check(&w, false, &l, &err), 0);
    write_file(path, "http://a:1\n");
    assert_int_equal(peerfile_check(&w, false, &l, &err), 1);
    expect_urls(&l, "http://a:1");
    peerfile_list_done(&l);
    assert_int_equal(peerfile_check(&w, false, &l, &err), 0); /* unchanged */
    assert_int_equal(peerfile_check(&w, true, &l, &err), 1);  /* SIGHUP: read anyway */
    peerfile_list_done(&l);
    write_file(path, "http://a:1\nhttp://b\n");
    assert_int_equal(peerfile_check(&w, false, &l, &err), -EINVAL);
    char want[600];
    (void)snprintf(want, sizeof(want), "%s:2: \"http://b\" is not a peer URL", path);
    assert_true(strncmp(err.msg, want, strlen(want)) == 0);
    assert_int_equal(peerfile_check(&w, false, &l, &err), 0); /* not said twice */
    write_file(path, "http://a:1\nhttp://b:2\n");
    assert_int_equal(peerfile_check(&w, false, &l, &err), 1);
    expect_urls(&l, "http://a:1|http://b:2");
    peerfile_list_done(&l);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(peerfile_check(&w, false, &l, &err), -ENOENT);
    assert_int_equal(peerfile_check(&w, false, &l, &err), 0);
    assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
