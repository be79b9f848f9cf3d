#include "net/web.h"

#include <string.h>

void
web_get(struct http_req *r, void *ctx)
{
    (void)ctx;
    /* "/" is the page; "/ui/NAME" its other files. */
    const char *name = r->n_parts == 0 ? "index.html" : r->parts[r->n_parts - 1];
    for (size_t i = 0; i < web_n_assets; i++) {
        const struct web_asset *a = &web_assets[i];
        if (strcmp(a->name, name) == 0) {
            http_reply_raw(r, 200, a->type, (const char *)a->data, a->len);
            return;
        }
    }
    http_reply_error(r, 404, "no such resource: %s", r->path);
}
