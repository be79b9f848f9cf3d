/* Scratch directories for a test program (testdir.h). */
#define _XOPEN_SOURCE 700 /* nftw() */
#include "testdir.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>

static char root[400];

int
testdir_setup(const char *parent, const char *prefix)
{
    int n = snprintf(root, sizeof(root), "%s/%s-XXXXXX", parent, prefix);
    if (n < 0 || (size_t)n >= sizeof(root))
        return -1;
    return mkdtemp(root) != NULL ? 0 : -1;
}

void
testdir_fresh(char *dir, size_t len)
{
    (void)snprintf(dir, len, "%s/XXXXXX", root);
    assert_non_null(mkdtemp(dir));
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int
testdir_teardown(void)
{
    if (root[0] == '\0')
        return 0;
    return nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
