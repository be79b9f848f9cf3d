/* See clitest.h. */
#define _POSIX_C_SOURCE 200809L
#include "clitest.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* cmocka.h needs the headers above included first. */
#include <cmocka.h>

static char tmpdir[512];
static char *made[4096];
static size_t n_made;

const char *
clitest_bin(void)
{
    const char *bin = getenv("VMLOC_BIN");
    if (bin == NULL || bin[0] == '\0') {
        fprintf(stderr, "VMLOC_BIN is not set: the path of the vmloc binary is needed\n");
        return NULL;
    }
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "%s: %s\n", bin, strerror(errno));
        return NULL;
    }
    return bin;
}

char *
clitest_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        abort();
    va_start(ap, fmt);
    (void)vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int
clitest_setup_dir(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/vmloc-%s-XXXXXX", base, prefix);
    if (mkdtemp(tmpdir) == NULL) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpdir, strerror(errno));
        tmpdir[0] = '\0';
        return -1;
    }
    return 0;
}

const char *
clitest_dir(void)
{
    return tmpdir;
}

static void
remember(char *path)
{
    if (n_made == sizeof(made) / sizeof(made[0]))
        fail_msg("too many files");
    made[n_made++] = path;
}

const char *
clitest_mkdir(const char *name)
{
    char *path = clitest_asprintf("%s/%s", tmpdir, name);
    if (mkdir(path, 0700) != 0)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    remember(path);
    return path;
}

const char *
clitest_mkfifo(const char *name)
{
    char *path = clitest_asprintf("%s/%s", tmpdir, name);
    if (mkfifo(path, 0600) != 0)
        fail_msg("cannot create the FIFO %s: %s", path, strerror(errno));
    remember(path);
    return path;
}

const char *
clitest_write(const char *name, const void *data, size_t len)
{
    char *path = clitest_asprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    if (len > 0 && fwrite(data, 1, len, f) != len)
        fail_msg("cannot write %s", path);
    if (fclose(f) != 0)
        fail_msg("cannot close %s", path);
    remember(path);
    return path;
}

void
clitest_cleanup_dir(void)
{
    /* Newest first, so files go before the directories that hold them. */
    for (size_t i = n_made; i > 0; i--) {
        struct stat st;
        if (stat(made[i - 1], &st) == 0 && S_ISDIR(st.st_mode))
            (void)rmdir(made[i - 1]);
        else
            (void)unlink(made[i - 1]);
        free(made[i - 1]);
    }
    n_made = 0;
    if (tmpdir[0] != '\0' && rmdir(tmpdir) != 0)
        fprintf(stderr, "rmdir %s: %s\n", tmpdir, strerror(errno));
}

void
clitest_run(const char *name, const char *const *argv, double timeout_s, struct run_result *res)
{
    int r = run_program(argv, NULL, 0, timeout_s, res);
    if (r != 0)
        fail_msg("%s: cannot run %s: %s", name, argv[0], strerror(-r));
}

void
clitest_check_failed(const char *name, struct run_result *res, const char *want1, const char *want2)
{
    if (res->exit_status != 2)
        FAIL_RUN(res, "%s: %s, want exit 2; stdout: %.200s; stderr: %s", name, run_describe(res),
                 res->out, res->err);
    if (res->out_len != 0)
        FAIL_RUN(res, "%s: stdout not empty: %.300s", name, res->out);
    if (res->err_len == 0 || res->err[res->err_len - 1] != '\n')
        FAIL_RUN(res, "%s: stderr is not one line ending in a newline: \"%s\"", name, res->err);
    for (size_t i = 0; i + 1 < res->err_len; i++) {
        unsigned char c = (unsigned char)res->err[i];
        if (c == '\n')
            FAIL_RUN(res, "%s: stderr has more than one line: \"%s\"", name, res->err);
        if (c < 0x20 || c == 0x7f)
            FAIL_RUN(res, "%s: stderr has control character 0x%02x: \"%s\"", name, c, res->err);
    }
    if (strncmp(res->err, "vmloc: ", 7) != 0)
        FAIL_RUN(res, "%s: stderr does not start with \"vmloc: \": %s", name, res->err);
    if (want1 != NULL && strstr(res->err, want1) == NULL)
        FAIL_RUN(res, "%s: stderr does not contain \"%s\": %s", name, want1, res->err);
    if (want2 != NULL && strstr(res->err, want2) == NULL)
        FAIL_RUN(res, "%s: stderr does not contain \"%s\": %s", name, want2, res->err);
    run_result_done(res);
}

json_t *
clitest_run_json(const char *name, const char *const *argv, double timeout_s, int want_exit)
{
    struct run_result res;
    clitest_run(name, argv, timeout_s, &res);
    if (res.exit_status != want_exit)
        FAIL_RUN(&res, "%s: %s, want exit %d; stderr:\n%s", name, run_describe(&res), want_exit,
                 res.err);
    json_error_t je;
    json_t *j = json_loads(res.out, 0, &je);
    if (j == NULL)
        FAIL_RUN(&res, "%s: standard output is not JSON (%s): %.300s", name, je.text, res.out);
    run_result_done(&res);
    return j;
}

double
clitest_num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("key \"%s\" missing or not a number", key);
    return json_number_value(v);
}
