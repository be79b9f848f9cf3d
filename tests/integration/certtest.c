/* Certificates for TLS tests, made with the openssl command (certtest.h). */
#define _POSIX_C_SOURCE 200809L
#include "certtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* Run `argv` (argv[0] looked up in PATH) with its output discarded; its exit status. */
static int
run(const char *const *argv)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *n = freopen("/dev/null", "w", stdout);
        FILE *e = freopen("/dev/null", "w", stderr);
        (void)n;
        (void)e;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    (void)waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void
certtest_make_ca(const char *dir, const char *name)
{
    char key[600], pem[600], subj[64];
    (void)snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    (void)snprintf(pem, sizeof(pem), "%s/%s.pem", dir, name);
    (void)snprintf(subj, sizeof(subj), "/CN=%s", name);
    const char *argv[] = {
        "openssl", "req",     "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes",  "-keyout", key,     "-out",    pem,  "-days",    "2",
        "-subj",   subj,      NULL};
    assert_int_equal(run(argv), 0);
}

void
certtest_make_cert(const char *dir, const char *name, const char *ca, const char *san)
{
    char key[600], csr[600], pem[600], cak[600], cap[600], subj[64], ext[600];
    (void)snprintf(ext, sizeof(ext), "%s/%s.ext", dir, name);
    FILE *f = fopen(ext, "w");
    assert_non_null(f);
    (void)fprintf(f, "subjectAltName = %s\n", san);
    assert_int_equal(fclose(f), 0);
    (void)snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    (void)snprintf(csr, sizeof(csr), "%s/%s.csr", dir, name);
    (void)snprintf(pem, sizeof(pem), "%s/%s.pem", dir, name);
    (void)snprintf(cak, sizeof(cak), "%s/%s.key", dir, ca);
    (void)snprintf(cap, sizeof(cap), "%s/%s.pem", dir, ca);
    (void)snprintf(subj, sizeof(subj), "/CN=%s", name);
    const char *req[] = {
        "openssl", "req",     "-newkey", "ec",   "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes",  "-keyout", key,       "-out", csr,        "-subj",
        subj,      NULL};
    assert_int_equal(run(req), 0);
    const char *sign[] = {
        "openssl",         "x509", "-req", "-in",   csr, "-CA",      cap, "-CAkey", cak,
        "-CAcreateserial", "-out", pem,    "-days", "2", "-extfile", ext, NULL};
    assert_int_equal(run(sign), 0);
    assert_int_equal(chmod(key, 0600), 0);
}

bool
certtest_have_openssl(void)
{
    const char *probe[] = {"openssl", "version", NULL};
    return run(probe) == 0;
}
