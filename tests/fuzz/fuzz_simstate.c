/* libFuzzer target for the simulated host's state file (proto/simstate.c). Whatever the bytes,
 * the decoder returns 0 with every field in range, or -EINVAL / -ENOMEM with a NUL-terminated,
 * non-empty, single-line message; what it read is written again and must read back the same
 * (the writer's text is the reader's input; demand to a thousandth of a percent). Frees everything
 * on every path. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/simstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_error(int r, const struct perr *err)
{
    if (r != -EINVAL && r != -ENOMEM)
        abort();
    if (memchr(err->msg, '\0', sizeof(err->msg)) == NULL || err->msg[0] == '\0' ||
        strchr(err->msg, '\n') != NULL)
        abort();
}

static void
check_fields(const struct simstate *s)
{
    if (s->n_vms > SIMSTATE_MAX_VMS || s->n_ins > SIMSTATE_MAX_RECORDS ||
        s->n_migs > SIMSTATE_MAX_RECORDS || !wire_name_valid(s->host))
        abort();
    for (size_t i = 0; i < s->n_vms; i++) {
        const struct simstate_vm *v = &s->vms[i];
        for (unsigned k = 0; k < KIND_COUNT; k++)
            if (!(v->demand[k] >= 0 && v->demand[k] <= 100))
                abort();
        if (!wire_name_valid(v->name) || v->n_moves > MODEL_MAX_VM_MOVES ||
            (unsigned)v->state > 2 || !isfinite(v->mem_mib) || !isfinite(v->arrived))
            abort();
        for (uint32_t m = 1; m < v->n_moves; m++)
            if (v->moves[m] < v->moves[m - 1])
                abort();
    }
    for (size_t i = 0; i < s->n_ins; i++)
        if ((unsigned)s->ins[i].state > 2 || !(s->ins[i].scale > 0) || s->ins[i].id[0] == '\0')
            abort();
    for (size_t i = 0; i < s->n_migs; i++)
        if ((unsigned)s->migs[i].state > 2 || s->migs[i].to_url[0] == '\0' ||
            !(s->migs[i].transfer_s >= 0))
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct simstate s;
    struct perr err;
    int r = simstate_decode((const char *)data, size, &s, &err);
    if (r < 0) {
        check_error(r, &err);
        simstate_done(&s);
        return 0;
    }
    if (r != 0)
        abort();
    check_fields(&s);
    char *text = NULL;
    if (simstate_encode(&s, &text) == 0) {
        struct simstate d;
        if (simstate_decode(text, strlen(text), &d, &err) != 0 || d.n_vms != s.n_vms ||
            d.n_ins != s.n_ins || d.n_migs != s.n_migs || strcmp(d.host, s.host) != 0)
            abort();
        for (size_t i = 0; i < s.n_vms; i++) {
            if (strcmp(d.vms[i].name, s.vms[i].name) != 0)
                abort();
            /* Demand is written to a thousandth of a percent. */
            for (unsigned k = 0; k < KIND_COUNT; k++)
                if (fabs(d.vms[i].demand[k] - s.vms[i].demand[k]) > 0.0005)
                    abort();
        }
        simstate_done(&d);
        free(text);
    }
    simstate_done(&s);
    return 0;
}
