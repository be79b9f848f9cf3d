/* The web page (web/ in the source tree, built into the binary): GET / serves index.html and
 * GET /ui/NAME the page's other files. The page reads everything else from the daemon's own
 * HTTP API, like any client. */
#ifndef VMLOC_NET_WEB_H
#define VMLOC_NET_WEB_H

#include <stddef.h>

#include "net/http_server.h"

struct web_asset {
    const char *name; /* file name, e.g. "app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct web_asset web_assets[];
extern const size_t web_n_assets;

/* Route handler for "/" and "/ui/ *" (ctx unused). */
void web_get(struct http_req *r, void *ctx);

#endif
