/* The blocking HTTP fetch of the commands (http_client.h): one request on an event loop of
 * its own, run until the answer or the time-out. For the command line, never inside a
 * daemon's loop. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_client.h"

struct fetch {
    struct event_base *base;
    struct http_client *client;
    int status;
    char *body;
    char err[160]; /* "" when none */
    bool done;
};

static void
fetch_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct fetch *f = arg;
    f->status = status;
    if (err != NULL)
        (void)snprintf(f->err, sizeof(f->err), "%s", err);
    if (body != NULL) {
        f->body = malloc(len + 1);
        if (f->body != NULL) {
            memcpy(f->body, body, len);
            f->body[len] = '\0';
        }
    }
    f->done = true;
    (void)event_base_loopbreak(f->base);
}

int
http_fetch(const char *base_url, const char *method, const char *path, const char *body,
           const struct http_creds *creds, double timeout_s, struct http_answer *ret)
{
    struct fetch f;
    memset(&f, 0, sizeof(f));
    memset(ret, 0, sizeof(*ret));
    f.base = event_base_new();
    if (f.base == NULL)
        return -ENOMEM;
    f.client = http_client_new(f.base);
    if (f.client == NULL) {
        event_base_free(f.base);
        return -ENOMEM;
    }
    int r = http_client_set_token(f.client, creds != NULL ? creds->token : NULL);
    if (creds != NULL)
        http_client_set_tls(f.client, creds->tls);
    if (r == 0)
        r = http_request(f.client, base_url, method, path, body, timeout_s, fetch_done, &f);
    if (r < 0) {
        http_client_free(f.client);
        event_base_free(f.base);
        return r;
    }
    while (!f.done) {
        if (event_base_dispatch(f.base) < 0)
            break;
    }
    http_client_free(f.client);
    event_base_free(f.base);
    if (!f.done || f.status == 0) {
        (void)snprintf(ret->err_buf, sizeof(ret->err_buf), "%s",
                       f.err[0] != '\0' ? f.err : "no answer");
        ret->err = ret->err_buf;
        free(f.body);
        /* "timed out", or "timed out waiting for a connection ..." */
        if (strncmp(f.err, "timed out", strlen("timed out")) == 0)
            return -ETIMEDOUT;
        return -ECONNREFUSED;
    }
    if (f.body == NULL)
        return -ENOMEM;
    ret->status = f.status;
    ret->body = f.body;
    return 0;
}
