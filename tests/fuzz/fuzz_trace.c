/* libFuzzer target for the trace readers' parsers (sim/trace.c): the first byte picks the
 * format, the rest is one file's contents. Whatever the input, the parser returns 0 with a
 * count within the room given and values in range (PlanetLab fractions 0..1; Bitbrains
 * timestamps strictly increasing, no negative field), or -EINVAL / -E2BIG with a line
 * number and a NUL-terminated reason; anything else aborts. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROOM 512

static void
check_error(int r, size_t line, const char *why)
{
    if (r != -EINVAL && r != -E2BIG)
        abort();
    if (line == 0 || memchr(why, '\0', 160) == NULL || why[0] == '\0')
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    char why[160];
    size_t n = 0;
    size_t line = 0;
    if (data[0] & 1) {
        static struct trace_bb_row rows[ROOM];
        int r = trace_parse_bitbrains(buf, len, rows, ROOM, &n, &line, why);
        if (r < 0) {
            check_error(r, line, why);
            return 0;
        }
        if (r != 0 || n == 0 || n > ROOM)
            abort();
        for (size_t i = 0; i < n; i++) {
            const struct trace_bb_row *w = &rows[i];
            if (!isfinite(w->ts) || w->cores < 0 || w->cap_mhz < 0 || w->use_mhz < 0 ||
                w->disk_kbs < 0 || w->net_kbs < 0 || (i > 0 && !(w->ts > rows[i - 1].ts)))
                abort();
        }
        return 0;
    }
    static double vals[ROOM];
    int r = trace_parse_planetlab(buf, len, vals, ROOM, &n, &line, why);
    if (r < 0) {
        check_error(r, line, why);
        return 0;
    }
    if (r != 0 || n == 0 || n > ROOM)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!(vals[i] >= 0 && vals[i] <= 1))
            abort();
    return 0;
}
