/* The simulated host's state file (proto/simstate.c): what is written reads back the same,
 * files of earlier versions read with their safe defaults, and every bad field is refused with
 * its path. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/simstate.h"

static int
decode(const char *text, struct simstate *s, struct perr *err)
{
    return simstate_decode(text, strlen(text), s, err);
}

static void
test_roundtrip(void **state)
{
    (void)state;
    struct simstate s;
    memset(&s, 0, sizeof(s));
    (void)snprintf(s.host, sizeof(s.host), "h1");
    s.n_vms = 2;
    s.vms = calloc(2, sizeof(*s.vms));
    s.n_ins = 1;
    s.ins = calloc(1, sizeof(*s.ins));
    s.n_migs = 1;
    s.migs = calloc(1, sizeof(*s.migs));
    assert_true(s.vms != NULL && s.ins != NULL && s.migs != NULL);
    struct simstate_vm *v = &s.vms[0];
    (void)snprintf(v->name, sizeof(v->name), "a \"quoted\" \u00e9");
    v->demand[KIND_CPU] = 42.5;
    v->demand[KIND_NET] = 3.0;
    v->mem_mib = 1024;
    v->priority = -7;
    v->pinned = true;
    v->arrived = 1.7e9 + 0.25;
    v->moves[0] = 1.6e9;
    v->moves[1] = 1.7e9;
    v->n_moves = 2;
    v->state = SIMSTATE_VM_MIGRATING_OUT;
    (void)snprintf(v->trace, sizeof(v->trace), "146-179_surfsnet_dnsl");
    v->mips = 2500;
    v->cores = 2;
    (void)snprintf(s.vms[1].name, sizeof(s.vms[1].name), "b");
    s.vms[1].arrived = -1;
    s.vms[1].state = SIMSTATE_VM_INCOMING;
    struct simstate_in *in = &s.ins[0];
    (void)snprintf(in->id, sizeof(in->id), "m1-2");
    (void)snprintf(in->vm, sizeof(in->vm), "b");
    (void)snprintf(in->from, sizeof(in->from), "h2");
    in->state = SIMSTATE_IN_COMMITTED;
    in->settled = false;
    in->since = 1.7e9;
    in->transfer_s = 1.5;
    in->scale = 0.5;
    struct simstate_mig *m = &s.migs[0];
    (void)snprintf(m->id, sizeof(m->id), "m9");
    (void)snprintf(m->vm, sizeof(m->vm), "c");
    (void)snprintf(m->to_url, sizeof(m->to_url), "http://127.0.0.1:7702");
    (void)snprintf(m->to_name, sizeof(m->to_name), "h3");
    m->state = SIMSTATE_MIG_RUNNING;
    m->started = 1.7e9;
    m->mem_mib = 512;
    m->transfer_s = 0.5;
    (void)snprintf(m->reason, sizeof(m->reason), "cpu 90%% over 80%%");
    /* a text cut inside a character: the partial character is left out */
    memset(m->error, 'x', sizeof(m->error));
    m->error[sizeof(m->error) - 3] = (char)0xc3;
    m->error[sizeof(m->error) - 2] = '\0';
    m->commit_sent = true;
    m->settled = false;

    char *text = NULL;
    assert_int_equal(simstate_encode(&s, &text), 0);
    struct simstate d;
    struct perr err;
    if (decode(text, &d, &err) != 0)
        fail_msg("%s\n%s", err.msg, text);
    assert_string_equal(d.host, "h1");
    assert_int_equal(d.n_vms, 2);
    assert_string_equal(d.vms[0].name, v->name);
    assert_memory_equal(d.vms[0].demand, v->demand, sizeof(v->demand));
    assert_true(d.vms[0].mem_mib == 1024 && d.vms[0].priority == -7 && d.vms[0].pinned);
    assert_true(d.vms[0].arrived == v->arrived);
    assert_int_equal(d.vms[0].n_moves, 2);
    assert_true(d.vms[0].moves[1] == 1.7e9);
    assert_int_equal(d.vms[0].state, SIMSTATE_VM_MIGRATING_OUT);
    assert_string_equal(d.vms[0].trace, v->trace);
    assert_true(d.vms[0].mips == 2500 && d.vms[0].cores == 2);
    assert_int_equal(d.vms[1].state, SIMSTATE_VM_INCOMING);
    assert_string_equal(d.vms[1].trace, "");
    assert_int_equal(d.n_ins, 1);
    assert_string_equal(d.ins[0].id, "m1-2");
    assert_int_equal(d.ins[0].state, SIMSTATE_IN_COMMITTED);
    assert_false(d.ins[0].settled);
    assert_true(d.ins[0].since == 1.7e9 && d.ins[0].transfer_s == 1.5 && d.ins[0].scale == 0.5);
    assert_int_equal(d.n_migs, 1);
    assert_string_equal(d.migs[0].to_url, "http://127.0.0.1:7702");
    assert_int_equal(d.migs[0].state, SIMSTATE_MIG_RUNNING);
    assert_string_equal(d.migs[0].reason, m->reason);
    assert_int_equal(strlen(d.migs[0].error), sizeof(m->error) - 3);
    assert_true(d.migs[0].commit_sent && !d.migs[0].settled);
    simstate_done(&d);
    free(text);
    simstate_done(&s);
}

/* Files written before arrivals were settled, before the storm guard, and before the source
 * knew whether its commit went out: their safe readings. */
static void
test_older_files(void **state)
{
    (void)state;
    struct simstate s;
    struct perr err;
    const char *text =
        "{\"version\": 1, \"host\": \"h1\", \"vms\": [{\"name\": \"a\", \"demand\": {\"cpu\": 1, "
        "\"mem_bw\": 0, \"disk\": 0, \"net\": 0}, \"mem_mib\": 64, \"priority\": 0, \"pinned\": "
        "false, \"arrived\": -1, \"state\": \"running\"}], \"incoming\": [{\"id\": \"m1\", "
        "\"vm\": \"x\", \"from\": \"h2\", \"state\": \"committed\"}], \"migrations\": [{\"id\": "
        "\"m2\", \"vm\": \"y\", \"to_url\": \"http://h3:1\", \"to_name\": \"h3\", \"state\": "
        "\"running\", \"started\": 1, \"finished\": 0, \"mem_mib\": 1, \"transfer_s\": 0}]}";
    if (decode(text, &s, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(s.vms[0].n_moves, 0);
    assert_true(s.ins[0].settled);      /* forgettable, as it was then */
    assert_true(s.ins[0].since < 0);    /* unknown: the reader takes now */
    assert_true(s.ins[0].scale == 1.0); /* the same size */
    assert_true(s.migs[0].commit_sent); /* only the destination decides */
    assert_false(s.migs[0].settled);    /* telling again does no harm */
    assert_string_equal(s.migs[0].error, "");
    simstate_done(&s);
}

struct bad {
    const char *text;
    const char *expect; /* a part of the message */
};

#define VM_OK                                                                                      \
    "{\"name\": \"a\", \"demand\": {\"cpu\": 1, \"mem_bw\": 0, \"disk\": 0, \"net\": 0}, "         \
    "\"mem_mib\": 64, \"priority\": 0, \"pinned\": false, \"arrived\": -1, \"state\": "            \
    "\"running\""

static const struct bad bads[] = {
    {"", "1:"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": []", "1:"},
    {"{\"version\": 2, \"host\": \"h1\", \"vms\": [], \"incoming\": [], \"migrations\": []}",
     "version: must be 1"},
    {"{\"version\": 1, \"version\": 1}", "duplicate"},
    {"{\"version\": 1, \"host\": \"\", \"vms\": [], \"incoming\": [], \"migrations\": []}",
     "host:"},
    {"{\"version\": 1, \"host\": \"h1\", \"incoming\": [], \"migrations\": []}",
     "vms: missing or not an array"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [7], \"incoming\": [], \"migrations\": []}",
     "vms[0]: not an object"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [{\"name\": \"a\"}], \"incoming\": [], "
     "\"migrations\": []}",
     "vms[0].mem_mib"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [{\"name\": \"a\", \"demand\": {\"cpu\": 101, "
     "\"mem_bw\": 0, \"disk\": 0, \"net\": 0}, \"mem_mib\": 64, \"priority\": 0, \"pinned\": "
     "false, \"arrived\": -1, \"state\": \"running\"}], \"incoming\": [], \"migrations\": []}",
     "vms[0].demand"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [" VM_OK ", \"moves\": [3, 2]}], "
     "\"incoming\": [], \"migrations\": []}",
     "vms[0]"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [" VM_OK ", \"trace\": \"t\"}], "
     "\"incoming\": [], \"migrations\": []}",
     "vms[0].mips"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [" VM_OK ", \"state\": \"gone\"}], "
     "\"incoming\": [], \"migrations\": []}",
     "1:"}, /* a repeated key */
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [], \"incoming\": [{\"id\": \"m1\", \"vm\": "
     "\"a\", \"from\": \"h2\", \"state\": \"committed\", \"settled\": \"yes\"}], "
     "\"migrations\": []}",
     "incoming[0].settled: must be true or false"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [], \"incoming\": [{\"id\": \"m1\", \"vm\": "
     "\"a\", \"from\": \"h2\", \"state\": \"reserved\", \"transfer_s\": -1}], "
     "\"migrations\": []}",
     "incoming[0].transfer_s"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [], \"incoming\": [{\"id\": \"m1\", \"vm\": "
     "\"a\", \"from\": \"h2\", \"state\": \"lost\"}], \"migrations\": []}",
     "incoming[0].state"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [], \"incoming\": [], \"migrations\": [{\"id\": "
     "\"m2\", \"vm\": \"y\", \"to_url\": \"http://h3:1\", \"to_name\": \"h3\", \"state\": "
     "\"done\", \"started\": 1, \"finished\": 2, \"mem_mib\": 1, \"transfer_s\": 0, "
     "\"commit_sent\": 1}]}",
     "migrations[0].commit_sent"},
    {"{\"version\": 1, \"host\": \"h1\", \"vms\": [], \"incoming\": [], \"migrations\": [{\"id\": "
     "\"m2\", \"vm\": \"y\", \"to_url\": \"http://h3:1\", \"to_name\": \"h3\", \"state\": "
     "\"done\", \"started\": 1, \"finished\": 2, \"mem_mib\": 1}]}",
     "migrations[0].transfer_s"},
};

static void
test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct simstate s;
        struct perr err;
        int r = decode(bads[i].text, &s, &err);
        if (r != -EINVAL || strstr(err.msg, bads[i].expect) == NULL)
            fail_msg("case %zu: %d \"%s\", want \"%s\"", i, r, err.msg, bads[i].expect);
        simstate_done(&s);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_older_files),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests_name("simstate", tests, NULL, NULL);
}
