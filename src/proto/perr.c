/* One-line error messages for the decoders. */
#include "proto/perr.h"

#include <stdarg.h>
#include <stdio.h>

void
perr_set(struct perr *e, const char *fmt, ...)
{
    if (e == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        e->msg[0] = '\0';
    /* Names from the input end up here: keep the message on one printable line. */
    for (char *p = e->msg; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            *p = '?';
    }
}
