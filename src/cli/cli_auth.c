/* The API token for the daemons (loaded, created at first start) and for the terminal
 * commands (loaded, never created). See common/token.h and docs/security.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/token.h"
#include "net/http.h"

static const char *global_token_file;

void
cli_set_token_file(const char *path)
{
    global_token_file = path;
}

int
cli_token_path(const char *given, char *buf, size_t len)
{
    if (given == NULL || given[0] == '\0')
        given = global_token_file;
    if (given != NULL && given[0] != '\0') {
        if (snprintf(buf, len, "%s", given) >= (int)len)
            return -ENAMETOOLONG;
        return 0;
    }
    return token_default_path(buf, len);
}

int
cli_daemon_auth(const char *token_file, bool open_reads, struct http_auth *out)
{
    char path[4096];
    if (cli_token_path(token_file, path, sizeof(path)) < 0) {
        cli_error("no token file: give --token-file FILE (neither VMLOC_TOKEN_FILE nor HOME "
                  "is set)");
        return CLI_EXIT_USAGE;
    }
    char err[512];
    bool created = false;
    memset(out, 0, sizeof(*out));
    if (token_load(path, true, out->token, &created, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        return CLI_EXIT_USAGE;
    }
    out->open_reads = open_reads;
    if (created)
        log_warnx("created a new API token file=%s (mode 0600; copy it to every host of the "
                  "cluster and to where vmloc commands run)",
                  path);
    else
        log_info("API token loaded file=%s reads=%s", path, open_reads ? "open" : "need token");
    return CLI_EXIT_OK;
}

const char *
cli_token(const char **ret_why)
{
    static char token[TOKEN_MAX + 1];
    static char why[600];
    static int state; /* 0 not tried, 1 loaded, -1 failed */
    if (state == 0) {
        char path[4096];
        bool created = false;
        state = -1;
        if (cli_token_path(global_token_file, path, sizeof(path)) < 0)
            (void)snprintf(why, sizeof(why), "no token file (give --token-file FILE)");
        else if (token_load(path, false, token, &created, why, sizeof(why)) == 0)
            state = 1;
    }
    *ret_why = why;
    return state == 1 ? token : NULL;
}

int
cli_fetch(const char *url, const char *method, const char *path, const char *body, double timeout_s,
          struct http_answer *ret)
{
    const char *why = NULL;
    const char *token = cli_token(&why);
    int r = http_fetch(url, method, path, body, token, timeout_s, ret);
    if (r == 0 && ret->status == 401 && token == NULL)
        cli_error("%s refused the request without a token: %s", url, why);
    return r;
}
