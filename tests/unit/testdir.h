/* Scratch directories for a test program: one directory per program (made by the group's
 * setup, removed with all in it by its teardown), and a fresh one inside it per test. */
#pragma once

#include <stddef.h>

/* Make PARENT/PREFIX-XXXXXX, the program's directory. 0, or -1 (cmocka's setup convention). */
int testdir_setup(const char *parent, const char *prefix);

/* A fresh directory inside the program's; fails the test when it cannot be made. */
void testdir_fresh(char *dir, size_t len);

/* Remove the program's directory and all in it: a cmocka group teardown. 0 or -1. */
int testdir_teardown(void **state);
