/* What the management terminal's commands share: one request to a daemon with its answer
 * parsed, a name escaped into a path, and --json's printing. */
#define _POSIX_C_SOURCE 200809L
#include "cli/terminal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "net/http.h"
#include "net/http_client.h"

/* GET or POST `path` on `url`; on success *ret_json holds the parsed answer.
 * Returns CLI_EXIT_* after printing any error. */
int
terminal_ask(const char *url, const char *method, const char *path, const char *body,
             json_t **ret_json)
{
    if (http_url_check(url) < 0) {
        cli_error("%s: not a daemon URL (expected http://HOST:PORT)", url);
        return CLI_EXIT_USAGE;
    }
    struct http_answer ans;
    int r = cli_fetch(url, method, path, body, TERMINAL_TIMEOUT_S, &ans);
    if (r < 0) {
        cli_error("%s: %s", url, ans.err != NULL ? ans.err : strerror(-r));
        return CLI_EXIT_FAIL;
    }
    int status = ans.status;
    char *answer = ans.body;
    json_error_t je;
    json_t *j = json_loads(answer, 0, &je);
    if (status < 200 || status >= 300) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        cli_error("%s%s: %d %s", url, path, status, msg != NULL ? msg : answer);
        json_decref(j);
        free(answer);
        return status >= 400 && status < 500 ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    free(answer);
    if (j == NULL) {
        cli_error("%s%s: answer is not JSON: %s", url, path, je.text);
        return CLI_EXIT_FAIL;
    }
    *ret_json = j;
    return CLI_EXIT_OK;
}

/* PREFIX NAME SUFFIX into `path`, NAME escaped for a URL path segment. */
void
terminal_name_path(char *path, size_t len, const char *prefix, const char *name, const char *suffix)
{
    size_t off = (size_t)snprintf(path, len, "%s", prefix);
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && off + 4 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.')
            path[off++] = (char)*p;
        else
            off += (size_t)snprintf(path + off, len - off, "%%%02X", *p);
    }
    if (off < len)
        (void)snprintf(path + off, len - off, "%s", suffix);
}

int
terminal_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    (void)puts(s);
    free(s);
    return CLI_EXIT_OK;
}
