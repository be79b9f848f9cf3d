/* libFuzzer target for the wire decoders (proto/wire.c): the messages agents and the manager
 * send each other, and the `--vm` specs of the command line. The first byte picks the
 * decoder; the rest is the body. Each decoder must return 0 with fields in range, or a
 * negative errno with a NUL-terminated, non-empty, single-line message; anything else
 * aborts, and sanitizers catch memory errors. Samples are also decoded by the tree-based
 * reference decoder (tests/unit/ref_sample.c): both must give the same verdict, except
 * where only the streaming one has a limit (nesting depth) or is right
 * where the reference is lax (a raw NUL byte between tokens). Frees
 * everything on every path. */
#define _GNU_SOURCE /* memmem() */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/perr.h"
#include "proto/wire.h"
#include "ref_sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_error(int r, const struct perr *err)
{
    if (r != -EINVAL && r != -ENOMEM && r != -E2BIG)
        abort();
    if (memchr(err->msg, '\0', sizeof(err->msg)) == NULL || err->msg[0] == '\0' ||
        strchr(err->msg, '\n') != NULL)
        abort();
}

static void
check_kinds(const double *v)
{
    for (size_t k = 0; k < KIND_COUNT; k++)
        if (!isfinite(v[k]) || v[k] < 0 || v[k] > 100)
            abort();
}

static void
check_terminated(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct perr err;
    memset(&err, 0, sizeof(err));
    switch (data[0] % 5) {
    case 0: {
        struct wire_sample s;
        int r = wire_sample_decode(body, len, &s, &err);
        struct wire_sample ref;
        struct perr ref_err;
        int rr = ref_sample_decode(body, len, &ref, &ref_err);
        if (rr == 0)
            wire_sample_done(&ref);
        bool limit = r < 0 && (strstr(err.msg, "nested too deeply") != NULL || r == -ENOMEM);
        /* jansson lets a raw NUL byte between tokens pass, which JSON does not, and refuses
         * an escaped NUL in a key, which JSON allows. */
        bool nul = memchr(body, '\0', len) != NULL;
        bool esc_nul = memmem(body, len, "\\u0000", 6) != NULL;
        if ((r == 0) != (rr == 0) && !limit && !nul && !esc_nul && rr != -ENOMEM)
            abort();
        if (nul && r == 0)
            abort();
        if (r < 0) {
            check_error(r, &err);
            break;
        }
        check_terminated(s.name, sizeof(s.name));
        check_kinds(s.usage);
        if (s.n_vms > WIRE_MAX_SAMPLE_VMS || (s.n_vms > 0 && s.vms == NULL))
            abort();
        for (size_t i = 0; i < s.n_vms; i++) {
            check_terminated(s.vms[i].name, sizeof(s.vms[i].name));
            check_kinds(s.vms[i].usage);
        }
        wire_sample_done(&s);
        break;
    }
    case 1: {
        struct wire_load l;
        int r = wire_load_decode(body, len, &l, &err);
        if (r < 0)
            check_error(r, &err);
        else if ((l.mask & ~KIND_MASK_ALL) != 0)
            abort();
        break;
    }
    case 2: {
        struct wire_order o;
        int r = wire_order_decode(body, len, &o, &err);
        if (r < 0) {
            check_error(r, &err);
            break;
        }
        check_terminated(o.id, sizeof(o.id));
        check_terminated(o.vm, sizeof(o.vm));
        check_terminated(o.to, sizeof(o.to));
        break;
    }
    case 3: {
        struct wire_incoming in;
        int r = wire_incoming_decode(body, len, &in, &err);
        if (r < 0) {
            check_error(r, &err);
            break;
        }
        check_terminated(in.vm.name, sizeof(in.vm.name));
        if (!isfinite(in.transfer_s) || in.transfer_s < 0)
            abort();
        break;
    }
    default: {
        /* A NUL-terminated copy: the spec parser takes a C string. */
        char *spec = malloc(len + 1);
        if (spec == NULL)
            return 0;
        memcpy(spec, body, len);
        spec[len] = '\0';
        struct wire_vmdef def;
        int r = wire_vmspec_parse(spec, &def, &err);
        if (r < 0)
            check_error(r, &err);
        else
            check_terminated(def.name, sizeof(def.name));
        free(spec);
        break;
    }
    }
    return 0;
}
