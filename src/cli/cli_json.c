/* Reading JSON answers for display: the terminal commands and the demo share these. */
#include <stdio.h>

#include "cli/cli.h"

const char *
cli_jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "?";
}

void
cli_join(json_t *arr, const char *sep, char *buf, size_t len)
{
    size_t off = 0;
    size_t i;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (off < len)
            off +=
                (size_t)snprintf(buf + off, len - off, "%s%s", i ? sep : "", s != NULL ? s : "?");
    }
}
