/* Scratch directories for a test program (testdir.h). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp() */
#include "testdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/file.h"

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

int
testdir_teardown(void **state)
{
    (void)state;
    if (root[0] == '\0')
        return 0;
    int r = file_remove_tree(root);
    if (r < 0)
        fprintf(stderr, "cannot remove %s: %s\n", root, strerror(-r));
    return r < 0 ? -1 : 0;
}
