/* The API token for the daemons (loaded, created at first start) and for the terminal
 * commands (loaded, never created). See common/token.h and docs/security.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/token.h"
#include "net/http.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/tls.h"

static const char *global_token_file;

void
cli_set_token_file(const char *path)
{
    global_token_file = path;
}

int
cli_token_path(const char *given, char *buf, size_t len, const char **ret_source, bool *ret_create)
{
    if (given == NULL || given[0] == '\0')
        given = global_token_file;
    if (given != NULL && given[0] != '\0') {
        if (snprintf(buf, len, "%s", given) >= (int)len)
            return -ENAMETOOLONG;
        *ret_source = "option";
        *ret_create = true;
        return 0;
    }
    enum token_source src;
    int r = token_search(TOKEN_SYSTEM_PATH, buf, len, &src);
    if (r < 0)
        return r;
    *ret_source = token_source_name(src);
    *ret_create = token_source_creates(src);
    return 0;
}

int
cli_check_tls(const struct http_security_conf *c)
{
    if (c->tls_bind_names && c->tls_cert[0] == '\0') {
        cli_error("tls_bind_names (--tls-bind-names) needs TLS: tls_cert, tls_key and tls_ca");
        return CLI_EXIT_USAGE;
    }
    struct http_tls *tls = NULL;
    int r = cli_daemon_tls(c->tls_cert, c->tls_key, c->tls_ca, &tls);
    http_tls_free(tls);
    return r;
}

int
cli_daemon_security(const struct http_security_conf *c, struct http_auth *auth,
                    struct http_tls **ret_tls)
{
    *ret_tls = NULL;
    if (c->tls_bind_names && c->tls_cert[0] == '\0')
        return cli_check_tls(c); /* says why */
    int r = cli_daemon_auth(c->token_file, c->open_reads, auth);
    if (r == CLI_EXIT_OK)
        r = cli_daemon_tls(c->tls_cert, c->tls_key, c->tls_ca, ret_tls);
    if (r == CLI_EXIT_OK && *ret_tls != NULL)
        log_info("mutual TLS cert=%s ca=%s bind_names=%s", c->tls_cert, c->tls_ca,
                 c->tls_bind_names ? "yes" : "no");
    auth->bind_names = c->tls_bind_names;
    (void)snprintf(auth->allowed_hosts, sizeof(auth->allowed_hosts), "%s", c->allowed_hosts);
    return r;
}

int
cli_daemon_auth(const char *token_file, bool open_reads, struct http_auth *out)
{
    char path[4096];
    const char *source = NULL;
    bool create = false;
    if (cli_token_path(token_file, path, sizeof(path), &source, &create) < 0) {
        cli_error("no token file: give --token-file FILE (none of VMLOC_TOKEN_FILE, "
                  "CREDENTIALS_DIRECTORY/token, " TOKEN_SYSTEM_PATH " and HOME is there)");
        return CLI_EXIT_USAGE;
    }
    char err[512];
    bool created = false;
    memset(out, 0, sizeof(*out));
    if (token_load(path, create, out->token, out->prev_token, &created, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        return CLI_EXIT_USAGE;
    }
    out->open_reads = open_reads;
    (void)snprintf(out->token_file, sizeof(out->token_file), "%s", path);
    if (created)
        log_warnx("created a new API token file=%s (mode 0600; copy it to every host of the "
                  "cluster and to where vmloc commands run)",
                  path);
    else
        log_info("API token loaded file=%s source=%s reads=%s%s", path, source,
                 open_reads ? "open" : "need token",
                 out->prev_token[0] != '\0' ? " previous_token=accepted" : "");
    return CLI_EXIT_OK;
}

int
cli_daemon_tls(const char *cert, const char *key, const char *ca, struct http_tls **ret)
{
    *ret = NULL;
    int given = (cert[0] != '\0') + (key[0] != '\0') + (ca[0] != '\0');
    if (given == 0)
        return CLI_EXIT_OK;
    if (given != 3) {
        cli_error("TLS needs all of tls_cert, tls_key and tls_ca (--tls-cert, --tls-key, "
                  "--tls-ca)");
        return CLI_EXIT_USAGE;
    }
    char err[600];
    if (http_tls_new(cert, key, ca, ret, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static const char *tls_paths[3]; /* the terminal's --tls-cert, --tls-key, --tls-ca */

void
cli_set_tls_path(int which, const char *path)
{
    tls_paths[which] = path;
}

/* The terminal's TLS, loaded once from --tls-* (or VMLOC_TLS_CERT, _KEY, _CA). NULL when none
 * is given; exits with a message when the files are not usable. */
static struct http_tls *
cli_tls(void)
{
    static struct http_tls *tls;
    static bool tried;
    if (tried)
        return tls;
    tried = true;
    static const char *const env[3] = {"VMLOC_TLS_CERT", "VMLOC_TLS_KEY", "VMLOC_TLS_CA"};
    const char *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = tls_paths[i] != NULL ? tls_paths[i] : getenv(env[i]);
        if (p[i] == NULL)
            p[i] = "";
    }
    if (cli_daemon_tls(p[0], p[1], p[2], &tls) != CLI_EXIT_OK)
        exit(CLI_EXIT_USAGE);
    return tls;
}

const char *
cli_token(const char **ret_why)
{
    static char token[TOKEN_MAX + 1];
    static char why[600];
    static int state; /* 0 not tried, 1 loaded, -1 failed */
    if (state == 0) {
        char path[4096];
        const char *source = NULL;
        bool create = false;
        bool created = false;
        state = -1;
        if (cli_token_path(global_token_file, path, sizeof(path), &source, &create) < 0)
            (void)snprintf(why, sizeof(why), "no token file (give --token-file FILE)");
        else if (token_load(path, false, token, NULL, &created, why, sizeof(why)) == 0)
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
    struct http_creds creds = {token, cli_tls()};
    int r = http_fetch(url, method, path, body, &creds, timeout_s, ret);
    /* A manager that does not lead (active/standby on etcd) sends changes to the leader with a
     * 307 naming it in its body: follow it once. */
    if (r == 0 && ret->status == 307) {
        json_t *j = json_loads(ret->body != NULL ? ret->body : "", 0, NULL);
        const char *leader = json_string_value(json_object_get(j, "leader"));
        if (leader != NULL && http_url_check(leader) == 0 && strcmp(leader, url) != 0) {
            free(ret->body);
            r = http_fetch(leader, method, path, body, &creds, timeout_s, ret);
        }
        json_decref(j);
    }
    if (r == 0 && ret->status == 401 && token == NULL)
        cli_error("%s refused the request without a token: %s", url, why);
    return r;
}
