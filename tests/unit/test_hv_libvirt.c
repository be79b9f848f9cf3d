/* The libvirt backend against libvirt's test driver (test:///default: one running domain
 * "test", no real counters, no migration) and against a libvirt that cannot be reached:
 * options, the host's CPUs and memory from files the test writes, listing and state of the
 * domains, the host's CPU rate, and connection failures with their back-off. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libvirt/libvirt.h>

#include "agent/hv_libvirt.h"
#include "common/log.h"

static char dir[] = "/tmp/vmloc-hvlv-XXXXXX";
static char stat_path[256];
static char mem_path[256];

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void
opts(struct hv_libvirt_opts *o, const char *uri, const char *cpus)
{
    hv_libvirt_opts_init(o);
    (void)snprintf(o->uri, sizeof(o->uri), "%s", uri);
    (void)snprintf(o->cpus, sizeof(o->cpus), "%s", cpus);
    (void)snprintf(o->proc_stat, sizeof(o->proc_stat), "%s", stat_path);
    (void)snprintf(o->proc_meminfo, sizeof(o->proc_meminfo), "%s", mem_path);
}

static int
setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    (void)snprintf(stat_path, sizeof(stat_path), "%s/stat", dir);
    (void)snprintf(mem_path, sizeof(mem_path), "%s/meminfo", dir);
    log_init("test", LOG_LEVEL_ERROR);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    (void)unlink(stat_path);
    (void)unlink(mem_path);
    (void)rmdir(dir);
    return 0;
}

static void
test_flags(void **state)
{
    (void)state;
    unsigned f = 99;
    assert_int_equal(hv_libvirt_flags_parse("", &f), 0);
    assert_int_equal(f, 0);
    assert_int_equal(hv_libvirt_flags_parse("unsafe,compressed", &f), 0);
    assert_int_equal(f, HV_MIGRATE_UNSAFE | HV_MIGRATE_COMPRESSED);
    assert_int_equal(hv_libvirt_flags_parse("auto-converge", &f), 0);
    assert_int_equal(f, HV_MIGRATE_AUTO_CONVERGE);
    assert_int_equal(hv_libvirt_flags_parse("unsafe,", &f), -EINVAL);
    assert_int_equal(hv_libvirt_flags_parse("fast", &f), -EINVAL);
    assert_int_equal(hv_libvirt_flags_parse("unsafe,,compressed", &f), -EINVAL);
}

static void
test_bad_host(void **state)
{
    (void)state;
    struct hv_libvirt hv;
    struct hv_libvirt_opts o;
    char err[512];
    write_file(stat_path, "cpu  1 0 1 10 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0\n");
    write_file(mem_path, "MemTotal: 1048576 kB\n");
    /* A CPU the host does not have. */
    opts(&o, "test:///default", "3");
    assert_int_equal(hv_libvirt_init(&hv, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "\"3\""));
    hv_libvirt_done(&hv);
    /* Not a CPU list. */
    opts(&o, "test:///default", "x");
    assert_int_equal(hv_libvirt_init(&hv, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cpus"));
    hv_libvirt_done(&hv);
    /* No memory size anywhere. */
    write_file(mem_path, "MemFree: 1 kB\n");
    opts(&o, "test:///default", "");
    assert_int_equal(hv_libvirt_init(&hv, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "MemTotal"));
    hv_libvirt_done(&hv);
    /* ... unless it is configured. */
    o.mem_mib = 4096;
    assert_int_equal(hv_libvirt_init(&hv, &o, err, sizeof(err)), 0);
    assert_true(hv.host_mem_mib == 4096);
    hv_libvirt_done(&hv);
}

static void
test_listing_and_host_rate(void **state)
{
    (void)state;
    struct hv_libvirt hv;
    struct hv_libvirt_opts o;
    char err[512];
    write_file(stat_path, "cpu  100 0 100 800 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0\n"
                          "cpu1 50 0 50 400 0 0 0 0\n");
    write_file(mem_path, "MemTotal: 2097152 kB\n");
    opts(&o, "test:///default", "1");
    assert_int_equal(hv_libvirt_init(&hv, &o, err, sizeof(err)), 0);
    assert_true(hv.connected);
    assert_true(hv.host_mem_mib == 2048);
    assert_int_equal(hv.ncpus, 1);
    assert_int_equal(hv_libvirt_sample(&hv, 1.0), 0);
    assert_int_equal(hv.n_vms, 1);
    assert_string_equal(hv.vms[0].name, "test");
    assert_int_equal(strlen(hv.vms[0].uuid), 36);
    assert_false(hv.vms[0].measured); /* first sight: a baseline */
    /* cpu1 did 30 busy jiffies of 100: 30 %. */
    write_file(stat_path, "cpu  200 0 200 1600 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0\n"
                          "cpu1 70 0 60 470 0 0 0 0\n");
    assert_int_equal(hv_libvirt_sample(&hv, 2.0), 0);
    assert_true(hv.host_cpu_known);
    assert_true(hv.host_cpu > 29.999 && hv.host_cpu < 30.001);
    assert_true(hv.vms[0].measured);
    assert_true(hv.vms[0].usage[KIND_CPU] == 0.0); /* the test driver has no cpu.time */
    /* A domain that is not there cannot be migrated. */
    struct lv_mig *m = NULL;
    assert_int_equal(hv_libvirt_migrate_start(&hv, "nope", "test:///default", "", &m), -ENOENT);
    assert_null(m);
    assert_true(hv_libvirt_retry_in(&hv, 2.0) == 0);
    hv_libvirt_done(&hv);
}

static void
test_unreachable(void **state)
{
    (void)state;
    struct hv_libvirt hv;
    struct hv_libvirt_opts o;
    char err[512];
    char uri[400];
    write_file(stat_path, "cpu  1 0 1 10 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0\n");
    write_file(mem_path, "MemTotal: 1048576 kB\n");
    (void)snprintf(uri, sizeof(uri), "test://%s/no-such-file.xml", dir);
    opts(&o, uri, "");
    /* Not fatal at start: the samples keep trying. */
    assert_int_equal(hv_libvirt_init(&hv, &o, err, sizeof(err)), 0);
    assert_false(hv.connected);
    assert_true(hv.error[0] != '\0');
    assert_int_equal(hv_libvirt_sample(&hv, 0.5), -EIO); /* before the retry time: no try */
    double first = hv_libvirt_retry_in(&hv, 0.0);
    assert_true(first > 0.99 && first < 1.01);
    assert_int_equal(hv_libvirt_sample(&hv, 1.0), -EIO); /* tried again: fails, waits longer */
    double second = hv_libvirt_retry_in(&hv, 1.0);
    assert_true(second > 1.99 && second < 2.01);
    for (double t = 3.0; t < 400; t += 70)
        assert_int_equal(hv_libvirt_sample(&hv, t), -EIO);
    assert_true(hv.backoff_s <= 60.0); /* the back-off is bounded */
    struct lv_mig *m = NULL;
    assert_int_equal(hv_libvirt_migrate_start(&hv, "test", "test:///default", "", &m), -EIO);
    hv_libvirt_done(&hv);
    /* The same test file appears: the next due attempt connects. */
    char path[300];
    (void)snprintf(path, sizeof(path), "%s/no-such-file.xml", dir);
    write_file(path, "<node><domain type='test'><name>late</name><memory>1024</memory>"
                     "<os><type>hvm</type></os></domain></node>");
    assert_int_equal(hv_libvirt_init(&hv, &o, err, sizeof(err)), 0);
    assert_true(hv.connected);
    assert_int_equal(hv_libvirt_sample(&hv, 1.0), 0);
    assert_int_equal(hv.n_vms, 1);
    assert_string_equal(hv.vms[0].name, "late");
    hv_libvirt_done(&hv);
    (void)unlink(path);
}

static void
param(virTypedParameter *p, const char *field, unsigned long long v)
{
    memset(p, 0, sizeof(*p));
    (void)snprintf(p->field, sizeof(p->field), "%s", field);
    p->type = VIR_TYPED_PARAM_ULLONG;
    p->value.ul = v;
}

/* What a stats record yields: CPU time, the sums of every disk's and interface's bytes, the
 * balloon's memory, and the platform's memory transfer when it reports it. */
static void
test_record_counters(void **state)
{
    (void)state;
    virTypedParameter p[12];
    int n = 0;
    param(&p[n++], "state.state", 1);
    param(&p[n++], "cpu.time", 123456789);
    param(&p[n++], "block.0.rd.bytes", 1000);
    param(&p[n++], "block.0.wr.bytes", 24);
    param(&p[n++], "block.1.rd.bytes", 5);
    param(&p[n++], "block.0.rd.reqs", 99999); /* not bytes: not counted */
    param(&p[n++], "net.0.rx.bytes", 300);
    param(&p[n++], "net.0.tx.bytes", 40);
    param(&p[n++], "net.0.rx.pkts", 77777);
    param(&p[n++], "balloon.maximum", 262144);
    param(&p[n++], "balloon.current", 131072);
    param(&p[n++], "perf.mbmt", 1048576);
    virDomainStatsRecord rec = {NULL, p, n};
    uint64_t c[RATE_COUNTERS];
    double kib;
    double mbmt;
    hv_libvirt_record_counters(&rec, c, &kib, &mbmt);
    assert_int_equal(c[RATE_CPU_NS], 123456789);
    assert_int_equal(c[RATE_DISK_BYTES], 1029);
    assert_int_equal(c[RATE_NET_BYTES], 340);
    assert_true(kib == 131072);
    assert_true(mbmt == 1048576);
    /* Without balloon.current the maximum; without perf events no memory transfer. */
    rec.nparams = 10;
    hv_libvirt_record_counters(&rec, c, &kib, &mbmt);
    assert_true(kib == 262144);
    assert_true(mbmt < 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),       cmocka_unit_test(test_record_counters),
        cmocka_unit_test(test_bad_host),    cmocka_unit_test(test_listing_and_host_rate),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests_name("hv_libvirt", tests, setup, teardown);
}
