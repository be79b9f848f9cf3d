/* The libvirt backend against libvirt's test driver (test:///default: one running domain
 * "test", no real counters, no migration) and against a libvirt that cannot be reached:
 * options, the host's CPUs and memory from files the test writes, listing and state of the
 * domains, the host's CPU rate, and connection failures with their back-off; the reader
 * thread while the host changes faster than a (slowed) reading. Also the move
 * history kept in a domain's metadata (parsed strictly, written and read back through the test
 * driver) and how a domain's state tells an arrival by migration. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <poll.h>
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

#include "agent/lv.h"
#include "agent/lv_reader.h"
#include "common/clock.h"
#include "common/failpoint.h"
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
    char empty[300]; /* test_settle_look's, left by a failed check */
    (void)snprintf(empty, sizeof(empty), "%s/empty.xml", dir);
    (void)unlink(empty);
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

/* A destination's libvirt URI from another agent: only the transports and parameters that
 * choose how to connect pass; what runs a command or names a file to write is refused. */
static void
test_peer_uri_check(void **state)
{
    (void)state;
    char why[160];
    const char *ok[] = {
        "qemu+tcp://127.0.0.1:16612/system",
        "qemu+ssh://root@host-b/system?keyfile=/etc/vmloc/id&no_verify=1",
        "qemu+tls://host-b.example/system?pkipath=/etc/pki/libvirt",
        "qemu+libssh2://h/system?sshauth=privkey&keyfile=/etc/vmloc/id",
        "qemu+tcp://[::1]:16509/system",
        "qemu+tls://kvm-07.example./system",
        "QEMU+TCP://h/system?Name=qemu:///system&mode=direct;no_tty=1",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (hv_libvirt_peer_uri_check(ok[i], why, sizeof(why)) != 0)
            fail_msg("%s refused: %s", ok[i], why);
    }
    const char *bad[] = {
        "qemu+ext:///system?command=/bin/sh",
        "qemu+EXT://host/system",
        "qemu+ssh://host/system?netcat=/tmp/x",
        "qemu+ssh://host/system?keyfile=k&Command=/bin/sh",
        "qemu+ssh://host/system?no_tty=1;netcat=x",
        "qemu+ssh://host/system?%63ommand=/bin/sh",
        "qemu+tcp://host/system\n",
        "host-b",
        "qemu+extra://host/system",
        "qemu+unix:///system?socket=/tmp/s",
        "qemu+libssh://h/system?known_hosts=/etc/passwd&known_hosts_verify=auto",
        "qemu+ext:/system?command=/tmp/x#://",
        "qemu+ssh:/s?command=/tmp/x&y=://",
        "qemu+ssh://h/s?no_tty=1&command",
        "-qemu://h/s",
        "qemu:///system",
        "qemu+tcp://?name=x",
        "qemu+tcp://:16509/system",
        "qemu+ssh://root@/system",
        "qemu+tcp://[]:1/system",
        "qemu+tcp://[::1/system",
        "qemu+tcp://[::1]junk/system",
        "qemu+tcp://a@b@/system",
        "qemu+tcp://-x/system",
        "qemu+tcp://a..b/system",
        "qemu+tcp://h:16x/system",
        "qemu+tcp://h:65536/system",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (hv_libvirt_peer_uri_check(bad[i], why, sizeof(why)) != -EINVAL)
            fail_msg("%s accepted", bad[i]);
    }
    assert_int_equal(hv_libvirt_peer_uri_check("qemu+ssh://h/s?netcat=x", why, sizeof(why)),
                     -EINVAL);
    assert_string_equal(why, "the parameter \"netcat\" (not one that only chooses how to connect)");
}

/* Where a migration's data may go: a host name or an IP address alone, never a port, a URL,
 * or words libvirt would read as more than an address. */
static void
test_address_check(void **state)
{
    (void)state;
    char why[160];
    const char *ok[] = {
        "",         "127.0.0.1", "host-b",         "kvm-07.example.org", "::1", "2001:db8::7",
        "10.0.0.1", "kvm_07",    "kvm-07.example."};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (hv_libvirt_address_check(ok[i], why, sizeof(why)) != 0)
            fail_msg("%s refused: %s", ok[i], why);
    }
    const char *bad[] = {"127.0.0.1:49152",
                         "tcp://host-b",
                         "host-b/x",
                         "[::1]",
                         "host b",
                         "-host",
                         "host-",
                         "a..b",
                         ".a",
                         "a..",
                         ".",
                         "a.-b",
                         "host?x=1",
                         "host#x",
                         "h\n",
                         "fe80::1%",
                         "fe80::1%eth0",
                         "2001:db8::7:49152:1:2:3:4",
                         "h:1",
                         "a23456789012345678901234567890123456789012345678901234567890abcd.b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (hv_libvirt_address_check(bad[i], why, sizeof(why)) != -EINVAL)
            fail_msg("%s accepted", bad[i]);
    }
    assert_int_equal(hv_libvirt_address_check("10.0.0.2:49152", why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "a port or a URL, not a host name or an IPv4 or IPv6 address");
}

static void
test_bad_host(void **state)
{
    (void)state;
    struct lv_conn hv;
    struct hv_libvirt_opts o;
    char err[512];
    write_file(stat_path, "cpu  1 0 1 10 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0\n");
    write_file(mem_path, "MemTotal: 1048576 kB\n");
    /* A CPU the host does not have. */
    opts(&o, "test:///default", "3");
    assert_int_equal(lv_init(&hv, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "\"3\""));
    lv_done(&hv);
    /* Not a CPU list. */
    opts(&o, "test:///default", "x");
    assert_int_equal(lv_init(&hv, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cpus"));
    lv_done(&hv);
    /* No memory size anywhere. */
    write_file(mem_path, "MemFree: 1 kB\n");
    opts(&o, "test:///default", "");
    assert_int_equal(lv_init(&hv, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "MemTotal"));
    lv_done(&hv);
    /* ... unless it is configured. */
    o.mem_mib = 4096;
    assert_int_equal(lv_init(&hv, &o, err, sizeof(err)), 0);
    assert_true(hv.host_mem_mib == 4096);
    lv_done(&hv);
}

static void
test_listing_and_host_rate(void **state)
{
    (void)state;
    struct lv_conn hv;
    struct hv_libvirt_opts o;
    char err[512];
    write_file(stat_path, "cpu  100 0 100 800 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0\n"
                          "cpu1 50 0 50 400 0 0 0 0\n");
    write_file(mem_path, "MemTotal: 2097152 kB\n");
    opts(&o, "test:///default", "1");
    assert_int_equal(lv_init(&hv, &o, err, sizeof(err)), 0);
    assert_true(hv.connected);
    assert_true(hv.host_mem_mib == 2048);
    assert_int_equal(hv.ncpus, 1);
    assert_int_equal(lv_sample(&hv, 1.0), 0);
    assert_int_equal(hv.n_vms, 1);
    assert_string_equal(hv.vms[0].name, "test");
    assert_int_equal(strlen(hv.vms[0].uuid), 36);
    assert_false(hv.vms[0].measured); /* first sight: a baseline */
    /* cpu1 did 30 busy jiffies of 100: 30 %. */
    write_file(stat_path, "cpu  200 0 200 1600 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0\n"
                          "cpu1 70 0 60 470 0 0 0 0\n");
    assert_int_equal(lv_sample(&hv, 2.0), 0);
    assert_true(hv.host_cpu_known);
    assert_true(hv.host_cpu > 29.999 && hv.host_cpu < 30.001);
    assert_true(hv.vms[0].measured);
    assert_true(hv.vms[0].usage[KIND_CPU] == 0.0); /* the test driver has no cpu.time */
    /* A domain that is not there cannot be migrated: the migration's thread looks it up (no
     * libvirt call on the caller's side) and ends with the reason, on the wake-up pipe. */
    struct lv_mig *m = NULL;
    assert_int_equal(virConnectRef(hv.conn), 0); /* the migration takes this reference */
    assert_int_equal(
        lv_migrate_start(hv.conn, &hv.o, hv.wake[1], "nope", "test:///default", "", &m), 0);
    char e[256] = "";
    int st = 0;
    for (int i = 0; i < 50 && st == 0; i++) {
        struct pollfd pfd = {.fd = hv.wake[0], .events = POLLIN};
        (void)poll(&pfd, 1, 100);
        st = lv_migrate_poll(m, e, sizeof(e));
    }
    assert_int_equal(st, -1);
    /* libvirt's own reason, not a guess (a lost connection reads differently). */
    assert_true(strncmp(e, "domain lookup failed: ", 22) == 0);
    assert_non_null(strstr(e, "not found"));
    lv_migrate_free(m);
    (void)lv_drain(hv.wake[0]);
    assert_true(lv_retry_in(&hv, 2.0) == 0);
    lv_done(&hv);
}

static void
test_unreachable(void **state)
{
    (void)state;
    struct lv_conn hv;
    struct hv_libvirt_opts o;
    char err[512];
    char uri[400];
    write_file(stat_path, "cpu  1 0 1 10 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0\n");
    write_file(mem_path, "MemTotal: 1048576 kB\n");
    (void)snprintf(uri, sizeof(uri), "test://%s/no-such-file.xml", dir);
    opts(&o, uri, "");
    /* Not fatal at start: the samples keep trying. */
    assert_int_equal(lv_init(&hv, &o, err, sizeof(err)), 0);
    assert_false(hv.connected);
    assert_true(hv.error[0] != '\0');
    assert_int_equal(lv_sample(&hv, 0.5), -EIO); /* before the retry time: no try */
    double first = lv_retry_in(&hv, 0.0);
    assert_true(first > 0.99 && first < 1.01);
    assert_int_equal(lv_sample(&hv, 1.0), -EIO); /* tried again: fails, waits longer */
    double second = lv_retry_in(&hv, 1.0);
    assert_true(second > 1.99 && second < 2.01);
    for (double t = 3.0; t < 400; t += 70)
        assert_int_equal(lv_sample(&hv, t), -EIO);
    assert_true(hv.backoff_s <= 60.0); /* the back-off is bounded */
    struct lv_mig *m = NULL;
    assert_null(hv.conn); /* not connected: nothing to migrate over */
    assert_int_equal(
        lv_migrate_start(hv.conn, &hv.o, hv.wake[1], "test", "test:///default", "", &m), -EIO);
    lv_done(&hv);
    /* The same test file appears: the next due attempt connects. */
    char path[300];
    (void)snprintf(path, sizeof(path), "%s/no-such-file.xml", dir);
    write_file(path, "<node><domain type='test'><name>late</name><memory>1024</memory>"
                     "<os><type>hvm</type></os></domain></node>");
    assert_int_equal(lv_init(&hv, &o, err, sizeof(err)), 0);
    assert_true(hv.connected);
    assert_int_equal(lv_sample(&hv, 1.0), 0);
    assert_int_equal(hv.n_vms, 1);
    assert_string_equal(hv.vms[0].name, "late");
    lv_done(&hv);
    (void)unlink(path);
}

/* A domain whose name vmloc does not take (libvirt takes a tab, or 300 bytes) is left out of
 * the sample, counted; the others are listed as before. */
static void
test_odd_names_left_out(void **state)
{
    (void)state;
    struct lv_conn hv;
    struct hv_libvirt_opts o;
    char err[512];
    char uri[400];
    char path[300];
    char xml[2048];
    char longname[301];
    memset(longname, 'a', 300);
    longname[300] = '\0';
    write_file(stat_path, "cpu  1 0 1 10 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0\n");
    write_file(mem_path, "MemTotal: 1048576 kB\n");
    (void)snprintf(path, sizeof(path), "%s/odd-names.xml", dir);
    (void)snprintf(xml, sizeof(xml),
                   "<node><domain type='test'><name>web-1</name><memory>1024</memory>"
                   "<os><type>hvm</type></os></domain>"
                   "<domain type='test'><name>%s</name><memory>1048576</memory>"
                   "<os><type>hvm</type></os></domain>"
                   "<domain type='test'><name>tab&#9;vm</name><memory>2097152</memory>"
                   "<os><type>hvm</type></os></domain></node>",
                   longname);
    write_file(path, xml);
    (void)snprintf(uri, sizeof(uri), "test://%s", path);
    opts(&o, uri, "");
    assert_int_equal(lv_init(&hv, &o, err, sizeof(err)), 0);
    assert_true(hv.connected);
    assert_int_equal(lv_sample(&hv, 1.0), 0);
    assert_int_equal(hv.n_vms, 1);
    assert_string_equal(hv.vms[0].name, "web-1");
    assert_int_equal(hv.names_skipped, 2);
    assert_int_equal(lv_sample(&hv, 2.0), 0);
    assert_int_equal(hv.n_vms, 1);
    assert_int_equal(hv.names_skipped, 2);
    lv_done(&hv);
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

static void
param_int(virTypedParameter *p, const char *field, int type, int v)
{
    memset(p, 0, sizeof(*p));
    (void)snprintf(p->field, sizeof(p->field), "%s", field);
    p->type = type;
    p->value.i = v;
}

/* The completed job's statistics in the fields and types libvirt's QEMU driver uses for a
 * migration out (a peer-to-peer live migration of a 128 MiB guest; the end-to-end test saw a
 * downtime of 98 ms, 68.7 MiB and 2843 ms from libvirt 9.0): the downtime, the data sent and
 * the job's time are read; the other fields are ignored. */
static void
test_job_stats(void **state)
{
    (void)state;
    virTypedParameter p[16];
    int n = 0;
    param_int(&p[n++], "operation", VIR_TYPED_PARAM_INT, VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT);
    param_int(&p[n++], "success", VIR_TYPED_PARAM_BOOLEAN, 1);
    param(&p[n++], "time_elapsed", 3412);
    param(&p[n++], "time_elapsed_net", 3409);
    param(&p[n++], "downtime", 87);
    param(&p[n++], "downtime_net", 84);
    param(&p[n++], "setup_time", 12);
    param(&p[n++], "data_total", 139460608);
    param(&p[n++], "data_processed", 68157440); /* 65 MiB */
    param(&p[n++], "data_remaining", 0);
    param(&p[n++], "memory_total", 139460608);
    param(&p[n++], "memory_processed", 68157440);
    param(&p[n++], "memory_bps", 21474836);
    param(&p[n++], "memory_dirty_rate", 1200);
    param(&p[n++], "memory_iteration", 4);
    struct lv_job_stats st = {0, 0, 0};
    assert_int_equal(lv_job_stats_parse(p, n, &st), 0);
    assert_true(st.downtime_ms == 87);
    assert_true(st.data_mib == 65);
    assert_true(st.total_ms == 3412);

    /* A figure libvirt left out is unknown, not 0. */
    assert_int_equal(lv_job_stats_parse(&p[2], 1, &st), 0);
    assert_true(st.total_ms == 3412);
    assert_true(st.downtime_ms < 0);
    assert_true(st.data_mib < 0);

    /* Not a migration out that succeeded: left alone. */
    struct lv_job_stats keep = {1, 2, 3};
    param_int(&p[1], "success", VIR_TYPED_PARAM_BOOLEAN, 0);
    assert_int_equal(lv_job_stats_parse(p, n, &keep), -EINVAL);
    param_int(&p[1], "success", VIR_TYPED_PARAM_BOOLEAN, 1);
    param_int(&p[0], "operation", VIR_TYPED_PARAM_INT, VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN);
    assert_int_equal(lv_job_stats_parse(p, n, &keep), -EINVAL);
    assert_true(keep.downtime_ms == 1 && keep.data_mib == 2 && keep.total_ms == 3);
    /* Without any of the three figures there is nothing to report. */
    param_int(&p[0], "operation", VIR_TYPED_PARAM_INT, VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT);
    assert_int_equal(lv_job_stats_parse(p, 2, &keep), -EINVAL);
    /* A figure of the wrong type is not read as one. */
    param_int(&p[4], "downtime", VIR_TYPED_PARAM_INT, 87);
    assert_int_equal(lv_job_stats_parse(p, n, &st), 0);
    assert_true(st.downtime_ms < 0);
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
    unsigned nd;
    lv_record_counters(&rec, c, &kib, &mbmt, &nd);
    assert_int_equal(nd, 0); /* no vcpu.N.delay: no wait */
    assert_int_equal(c[RATE_DELAY_NS], 0);
    assert_int_equal(c[RATE_CPU_NS], 123456789);
    assert_int_equal(c[RATE_DISK_BYTES], 1029);
    assert_int_equal(c[RATE_NET_BYTES], 340);
    assert_true(kib == 131072);
    assert_true(mbmt == 1048576);
    /* Without balloon.current the maximum; without perf events no memory transfer. */
    rec.nparams = 10;
    lv_record_counters(&rec, c, &kib, &mbmt, &nd);
    assert_true(kib == 262144);
    assert_true(mbmt < 0);
}

/* The vCPU fields libvirt 9.0's QEMU driver reports (virsh domstats --vcpu, Debian 12), as
 * one record holds them: vcpu.N.delay summed over the vCPUs, the others ignored; then the
 * wait from two records 2 s apart: 0.8 s of delay over 2 vCPUs in 2 s is 20 %. */
static void
record_vcpus(virTypedParameter *p, int *n, uint64_t delay0, uint64_t delay1)
{
    param(&p[(*n)++], "vcpu.current", 2);
    p[*n - 1].type = VIR_TYPED_PARAM_UINT;
    param(&p[(*n)++], "vcpu.maximum", 2);
    p[*n - 1].type = VIR_TYPED_PARAM_UINT;
    param(&p[(*n)++], "vcpu.0.state", 1);
    p[*n - 1].type = VIR_TYPED_PARAM_INT;
    param(&p[(*n)++], "vcpu.0.time", 7340000000ull);
    param(&p[(*n)++], "vcpu.0.wait", 0);
    param(&p[(*n)++], "vcpu.0.delay", delay0);
    param(&p[(*n)++], "vcpu.1.state", 1);
    p[*n - 1].type = VIR_TYPED_PARAM_INT;
    param(&p[(*n)++], "vcpu.1.time", 6120000000ull);
    param(&p[(*n)++], "vcpu.1.wait", 0);
    param(&p[(*n)++], "vcpu.1.delay", delay1);
    param(&p[(*n)++], "vcpu.1.halted", 0);
    p[*n - 1].type = VIR_TYPED_PARAM_BOOLEAN;
    param(&p[(*n)++], "vcpu.10delay", 999); /* not a vCPU's delay */
}

static void
test_record_vcpu_delay(void **state)
{
    (void)state;
    virTypedParameter p[16];
    int n = 0;
    param(&p[n++], "cpu.time", 1000000000ull);
    record_vcpus(p, &n, 1000000000ull, 2000000000ull);
    virDomainStatsRecord rec = {NULL, p, n};
    uint64_t c[RATE_COUNTERS];
    double kib;
    double mbmt;
    unsigned nd;
    lv_record_counters(&rec, c, &kib, &mbmt, &nd);
    assert_int_equal(nd, 2);
    assert_int_equal(c[RATE_DELAY_NS], 3000000000ull);
    struct rate_table t;
    rate_table_init(&t);
    double rates[RATE_COUNTERS];
    assert_int_equal(rate_update(&t, "uuid", 1, 10.0, 0.0, c, rates), 0);
    n = 0;
    param(&p[n++], "cpu.time", 3000000000ull);
    record_vcpus(p, &n, 1200000000ull, 2600000000ull);
    lv_record_counters(&rec, c, &kib, &mbmt, &nd);
    assert_int_equal(rate_update(&t, "uuid", 1, 12.0, 0.0, c, rates), 1);
    double w = hvstat_cpu_wait_pct(rates[RATE_DELAY_NS], nd);
    assert_true(w > 19.999 && w < 20.001);
    rate_table_done(&t);
}

/* ---- move history -------------------------------------------------------------------------- */

struct parse_case {
    const char *xml;
    int r;
    uint32_t n;
    double first; /* the oldest kept, when n > 0 */
    double last;  /* the newest */
};

static void
test_moves_parse(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        /* What vmloc writes, and what libvirt gives back. */
        {"<moves>1764140100.250 1764143700.5</moves>", 0, 2, 1764140100.25, 1764143700.5},
        {"<moves/>", 0, 0, 0, 0},
        {"<moves></moves>", 0, 0, 0, 0},
        {"<moves >\n</moves >", 0, 0, 0, 0},
        {"<moves xmlns=\"https://vmloc.org/xmlns/libvirt/moves/1\"/>", 0, 0, 0, 0},
        /* White space anywhere between, attributes (even with '>' inside) ignored. */
        {"\n  <moves a=\"x>y\" b='1'>\n\t1\t2  3\r\n</moves>\n", 0, 3, 1, 3},
        {"<moves>0 0 5 5</moves>", 0, 4, 0, 5}, /* equal times: a clock stepped back */
        {"<moves>100000000000</moves>", 0, 1, 1e11, 1e11},
        {"<moves>1.123456789</moves>", 0, 1, 1.123456789, 1.123456789},
        /* Garbage. */
        {"", -EINVAL, 0, 0, 0},
        {"garbage", -EINVAL, 0, 0, 0},
        {"<move>1</move>", -EINVAL, 0, 0, 0},
        {"<movesx>1</movesx>", -EINVAL, 0, 0, 0},
        {"<vmloc:moves>1</vmloc:moves>", -EINVAL, 0, 0, 0},
        {"<moves", -EINVAL, 0, 0, 0},
        {"<moves a=\"1>", -EINVAL, 0, 0, 0},
        {"<moves>1 2", -EINVAL, 0, 0, 0},
        {"<moves>1</moves", -EINVAL, 0, 0, 0},
        {"<moves>1</moves><x/>", -EINVAL, 0, 0, 0},
        {"<moves>1</moves>2", -EINVAL, 0, 0, 0},
        {"<moves/>1", -EINVAL, 0, 0, 0},
        {"<moves>1<move t=\"2\"/></moves>", -EINVAL, 0, 0, 0},
        {"<moves><move t=\"2\"/></moves>", -EINVAL, 0, 0, 0},
        {"<moves><!-- 1 -->2</moves>", -EINVAL, 0, 0, 0},
        {"<moves><![CDATA[1]]></moves>", -EINVAL, 0, 0, 0},
        {"<moves>1</other>", -EINVAL, 0, 0, 0},
        /* Not numbers, or not plain ones. */
        {"<moves>abc</moves>", -EINVAL, 0, 0, 0},
        {"<moves>1,2</moves>", -EINVAL, 0, 0, 0},
        {"<moves>12abc</moves>", -EINVAL, 0, 0, 0},
        {"<moves>1e9</moves>", -EINVAL, 0, 0, 0},
        {"<moves>nan</moves>", -EINVAL, 0, 0, 0},
        {"<moves>inf</moves>", -EINVAL, 0, 0, 0},
        {"<moves>0x10</moves>", -EINVAL, 0, 0, 0},
        {"<moves>1.</moves>", -EINVAL, 0, 0, 0},
        {"<moves>.5</moves>", -EINVAL, 0, 0, 0},
        {"<moves>1.2.3</moves>", -EINVAL, 0, 0, 0},
        {"<moves>&#49;</moves>", -EINVAL, 0, 0, 0},
        {"<moves>1.1234567890</moves>", -EINVAL, 0, 0, 0}, /* more than 9 decimals */
        /* Negative, too large, out of order. */
        {"<moves>-5</moves>", -EINVAL, 0, 0, 0},
        {"<moves>+5</moves>", -EINVAL, 0, 0, 0},
        {"<moves>100000000000.001</moves>", -EINVAL, 0, 0, 0},
        {"<moves>1000000000000</moves>", -EINVAL, 0, 0, 0},
        {"<moves>000000000000000001</moves>", -EINVAL, 0, 0, 0},
        {"<moves>5 4</moves>", -EINVAL, 0, 0, 0},
        {"<moves>1 2 3 2.999</moves>", -EINVAL, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct parse_case *c = &cases[i];
        double t[MODEL_MAX_VM_MOVES] = {-7};
        uint32_t n = 99;
        char err[200] = "";
        int r = lv_moves_parse(c->xml, t, &n, err, sizeof(err));
        if (r != c->r)
            fail_msg("case %zu \"%s\": %d, expected %d (%s)", i, c->xml, r, c->r, err);
        if (r < 0) {
            assert_true(err[0] != '\0');
            assert_int_equal(n, 99); /* untouched on error */
            assert_true(t[0] == -7);
            continue;
        }
        if (n != c->n)
            fail_msg("case %zu \"%s\": %u moves, expected %u", i, c->xml, n, c->n);
        if (n > 0 && (t[0] != c->first || t[n - 1] != c->last))
            fail_msg("case %zu \"%s\": %f .. %f", i, c->xml, t[0], t[n - 1]);
    }
}

/* "<moves> FIRST 1002.5 1003.5 ... 1040.5</moves>" in `xml`. */
static void
long_list(char *xml, size_t size, double first)
{
    size_t at = (size_t)snprintf(xml, size, "<moves> %.1f", first);
    for (int i = 2; i <= 40; i++)
        at += (size_t)snprintf(xml + at, size - at, " %d.5", 1000 + i);
    (void)snprintf(xml + at, size - at, "</moves>");
}

/* More than MODEL_MAX_VM_MOVES: the newest are kept, in order; too long a text is refused. */
static void
test_moves_parse_long(void **state)
{
    (void)state;
    char xml[LV_MOVES_MAX_XML + 64];
    long_list(xml, sizeof(xml), 1001.5);
    double t[MODEL_MAX_VM_MOVES];
    uint32_t n = 0;
    char err[200];
    assert_int_equal(lv_moves_parse(xml, t, &n, err, sizeof(err)), 0);
    assert_int_equal(n, MODEL_MAX_VM_MOVES);
    for (uint32_t i = 0; i < n; i++)
        assert_true(t[i] == 1000 + 25 + i + 0.5); /* 1025.5 .. 1040.5 */
    /* An out-of-order time among the dropped ones still makes it bad. */
    long_list(xml, sizeof(xml), 9999.5);
    assert_int_equal(lv_moves_parse(xml, t, &n, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "move 2"));
    /* Beyond LV_MOVES_MAX_XML bytes (white space will do): refused before any
     * parsing; at the limit, read. */
    int pad = LV_MOVES_MAX_XML - 15 + 1;
    assert_int_equal(snprintf(xml, sizeof(xml), "<moves>%*s</moves>", pad, ""),
                     LV_MOVES_MAX_XML + 1);
    assert_int_equal(lv_moves_parse(xml, t, &n, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "longer"));
    assert_int_equal(snprintf(xml, sizeof(xml), "<moves>%*s</moves>", pad - 1, ""),
                     LV_MOVES_MAX_XML);
    assert_int_equal(lv_moves_parse(xml, t, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
}

static void
test_moves_format(void **state)
{
    (void)state;
    double t[MODEL_MAX_VM_MOVES + 1];
    for (uint32_t i = 0; i <= MODEL_MAX_VM_MOVES; i++)
        t[i] = 1764140100.25 + 60.0 * i;
    char buf[1024];
    assert_int_equal(lv_moves_format(t, 2, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "<moves>1764140100.250 1764140160.250</moves>");
    assert_int_equal(lv_moves_format(t, 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "<moves></moves>");
    /* What it writes, the parser reads back. */
    assert_int_equal(lv_moves_format(t, MODEL_MAX_VM_MOVES, buf, sizeof(buf)), 0);
    double back[MODEL_MAX_VM_MOVES];
    uint32_t n = 0;
    char err[200];
    assert_int_equal(lv_moves_parse(buf, back, &n, err, sizeof(err)), 0);
    assert_int_equal(n, MODEL_MAX_VM_MOVES);
    assert_memory_equal(back, t, sizeof(back));
    /* Refused: too many, not in order, negative, not finite, too small a buffer. */
    assert_int_equal(lv_moves_format(t, MODEL_MAX_VM_MOVES + 1, buf, sizeof(buf)), -EINVAL);
    assert_string_equal(buf, "");
    double bad[2] = {5, 4};
    assert_int_equal(lv_moves_format(bad, 2, buf, sizeof(buf)), -EINVAL);
    bad[0] = -1;
    assert_int_equal(lv_moves_format(bad, 1, buf, sizeof(buf)), -EINVAL);
    bad[0] = NAN;
    assert_int_equal(lv_moves_format(bad, 1, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(lv_moves_format(t, 2, buf, 30), -E2BIG);
    assert_string_equal(buf, "");
    assert_int_equal(lv_moves_format(t, 2, buf, 44), -E2BIG); /* one byte short */
    assert_int_equal(lv_moves_format(t, 2, buf, 45), 0);
}

static int
setup_test_domain(struct lv_conn *hv, char *uuid)
{
    struct hv_libvirt_opts o;
    char err[512];
    write_file(stat_path, "cpu  1 0 1 10 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0\n");
    write_file(mem_path, "MemTotal: 1048576 kB\n");
    opts(&o, "test:///default", "");
    if (lv_init(hv, &o, err, sizeof(err)) < 0 || lv_sample(hv, 1.0) < 0 || hv->n_vms != 1)
        return -1;
    (void)snprintf(uuid, 40, "%s", hv->vms[0].uuid);
    return 0;
}

/* Set the test domain's moves element to `xml` (live and config) behind vmloc's back. */
static void
set_raw(struct lv_conn *hv, const char *uuid, const char *xml)
{
    virDomainPtr dom = virDomainLookupByUUIDString(hv->conn, uuid);
    assert_non_null(dom);
    assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, LV_MOVES_KEY,
                                          LV_MOVES_URI,
                                          VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG),
                     0);
    (void)virDomainFree(dom);
}

/* The element as libvirt keeps it, live or persistent (`flags`); NULL when absent. */
static char *
get_raw(struct lv_conn *hv, const char *uuid, unsigned flags)
{
    virDomainPtr dom = virDomainLookupByUUIDString(hv->conn, uuid);
    assert_non_null(dom);
    char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, LV_MOVES_URI, flags);
    (void)virDomainFree(dom);
    return xml;
}

/* Written into the domain (live and persistent) and read back; absent and bad metadata. */
static void
test_moves_metadata(void **state)
{
    (void)state;
    struct lv_conn hv;
    char uuid[40];
    char err[256];
    double t[MODEL_MAX_VM_MOVES];
    uint32_t n = 99;
    assert_int_equal(setup_test_domain(&hv, uuid), 0);
    /* The test driver's domain runs, booted: nothing arrived. */
    assert_int_equal(hv.vms[0].arrival, LV_ARRIVAL_NONE);
    /* None yet: no moves, no error. */
    assert_int_equal(lv_moves_read(&hv, uuid, t, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    /* Written: live and in the persistent definition, and read back. */
    double w[3] = {1764140100.25, 1764143700.5, 1764147300};
    assert_int_equal(lv_moves_write(&hv, uuid, w, 3, err, sizeof(err)), 0);
    assert_int_equal(lv_moves_read(&hv, uuid, t, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(t, w, sizeof(w));
    char *live = get_raw(&hv, uuid, VIR_DOMAIN_AFFECT_LIVE);
    char *config = get_raw(&hv, uuid, VIR_DOMAIN_AFFECT_CONFIG);
    assert_non_null(live);
    assert_non_null(config);
    assert_string_equal(live, "<moves>1764140100.250 1764143700.500 1764147300.000</moves>");
    assert_string_equal(config, live);
    free(live);
    free(config);
    /* The full history: the newest 16, oldest first. */
    double full[MODEL_MAX_VM_MOVES];
    uint32_t nf = 0;
    for (int i = 0; i < 20; i++)
        vm_moves_push(full, &nf, 1764140000.0 + 100.0 * i);
    assert_int_equal(lv_moves_write(&hv, uuid, full, nf, err, sizeof(err)), 0);
    assert_int_equal(lv_moves_read(&hv, uuid, t, &n, err, sizeof(err)), 0);
    assert_int_equal(n, MODEL_MAX_VM_MOVES);
    assert_true(t[0] == 1764140400.0 && t[15] == 1764141900.0);
    /* Someone else's edit with more than 16: the newest 16. */
    set_raw(&hv, uuid, "<moves>1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18</moves>");
    assert_int_equal(lv_moves_read(&hv, uuid, t, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 16);
    assert_true(t[0] == 3 && t[15] == 18);
    /* Bad: refused with the reason, nothing returned. */
    static const char *const bad[] = {
        "<moves>garbage</moves>",           "<moves>5 4</moves>",   "<moves>-1</moves>",
        "<moves>1 <move t=\"2\"/></moves>", "<moves>1e300</moves>", "<other>1</other>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set_raw(&hv, uuid, bad[i]);
        n = 99;
        err[0] = '\0';
        assert_int_equal(lv_moves_read(&hv, uuid, t, &n, err, sizeof(err)), -EINVAL);
        assert_int_equal(n, 99);
        assert_true(err[0] != '\0');
    }
    /* A fresh write replaces a bad history. */
    assert_int_equal(lv_moves_write(&hv, uuid, w, 1, err, sizeof(err)), 0);
    assert_int_equal(lv_moves_read(&hv, uuid, t, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    /* Nothing to write, or nothing in order: refused before libvirt. */
    assert_int_equal(lv_moves_write(&hv, uuid, w, 0, err, sizeof(err)), -EINVAL);
    double rev[2] = {2, 1};
    assert_int_equal(lv_moves_write(&hv, uuid, rev, 2, err, sizeof(err)), -EINVAL);
    /* No such domain. */
    const char *none = "00000000-0000-0000-0000-000000000001";
    assert_int_equal(lv_moves_read(&hv, none, t, &n, err, sizeof(err)), -ENOENT);
    assert_int_equal(lv_moves_write(&hv, none, w, 1, err, sizeof(err)), -ENOENT);
    /* Cleared (as docs/libvirt.md says, with virsh metadata --remove): none again. */
    virDomainPtr dom = virDomainLookupByUUIDString(hv.conn, uuid);
    assert_non_null(dom);
    assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, NULL, NULL,
                                          LV_MOVES_URI,
                                          VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG),
                     0);
    (void)virDomainFree(dom);
    assert_int_equal(lv_moves_read(&hv, uuid, t, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    lv_done(&hv);
    /* Not connected: an error, not a crash. */
    memset(&hv, 0, sizeof(hv));
    assert_int_equal(lv_moves_read(&hv, uuid, t, &n, err, sizeof(err)), -EIO);
    assert_int_equal(lv_moves_write(&hv, uuid, w, 1, err, sizeof(err)), -EIO);
}

static void
int_param(virTypedParameter *p, const char *field, int v)
{
    memset(p, 0, sizeof(*p));
    (void)snprintf(p->field, sizeof(p->field), "%s", field);
    p->type = VIR_TYPED_PARAM_INT;
    p->value.i = v;
}

static enum lv_arrival
arrival_of(int st, int reason)
{
    virTypedParameter p[3];
    int n = 0;
    param(&p[n++], "cpu.time", 1);
    if (st >= 0)
        int_param(&p[n++], "state.state", st);
    if (reason >= 0)
        int_param(&p[n++], "state.reason", reason);
    virDomainStatsRecord rec = {NULL, p, n};
    return lv_record_arrival(&rec);
}

/* A domain's state and reason: paused for an incoming migration, resumed by one, or else. */
static void
test_record_arrival(void **state)
{
    (void)state;
    assert_int_equal(arrival_of(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED),
                     LV_ARRIVAL_MIGRATED);
    assert_int_equal(arrival_of(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION),
                     LV_ARRIVAL_INCOMING);
    assert_int_equal(arrival_of(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED), LV_ARRIVAL_NONE);
    assert_int_equal(arrival_of(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_RESTORED), LV_ARRIVAL_NONE);
    /* A source resumed after its migration failed is no arrival. */
    assert_int_equal(arrival_of(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATION_CANCELED),
                     LV_ARRIVAL_NONE);
    assert_int_equal(arrival_of(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER), LV_ARRIVAL_NONE);
    assert_int_equal(arrival_of(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_STARTING_UP),
                     LV_ARRIVAL_STARTING);
    assert_int_equal(arrival_of(VIR_DOMAIN_RUNNING, -1), LV_ARRIVAL_UNKNOWN);
    assert_int_equal(arrival_of(-1, -1), LV_ARRIVAL_UNKNOWN);
}

/* One reading of a domain as virConnectGetAllDomainStats() gives it on the destination of a
 * migration (libvirt 9.0, QEMU, NOWAIT): the state, cpu.time, one vCPU, the balloon, and the
 * disk and network counters, which a paused incoming domain's busy monitor leaves out. */
struct reading {
    double t;
    int state;
    int reason;
    unsigned long long cpu_ns;
    bool io; /* block and net counters present */
};

static void
read_domain(struct lv_conn *hv, const struct reading *rd, struct lv_vm *v)
{
    virTypedParameter p[16];
    int n = 0;
    param(&p[n++], "state.state", (unsigned long long)rd->state);
    p[n - 1].type = VIR_TYPED_PARAM_INT;
    param(&p[n++], "state.reason", (unsigned long long)rd->reason);
    p[n - 1].type = VIR_TYPED_PARAM_INT;
    param(&p[n++], "cpu.time", rd->cpu_ns);
    param(&p[n++], "cpu.user", rd->cpu_ns / 2);
    param(&p[n++], "cpu.system", rd->cpu_ns / 4);
    param(&p[n++], "balloon.current", 131072);
    param(&p[n++], "balloon.maximum", 131072);
    param(&p[n++], "vcpu.current", 1);
    p[n - 1].type = VIR_TYPED_PARAM_UINT;
    param(&p[n++], "vcpu.0.time", rd->cpu_ns * 9 / 10);
    param(&p[n++], "vcpu.0.delay", 1000000);
    if (rd->io) {
        param(&p[n++], "block.0.rd.bytes", 4096);
        param(&p[n++], "block.0.wr.bytes", 0);
        param(&p[n++], "net.0.rx.bytes", 1200);
        param(&p[n++], "net.0.tx.bytes", 800);
    }
    virDomainStatsRecord rec = {NULL, p, n};
    memset(v, 0, sizeof(*v));
    (void)snprintf(v->uuid, sizeof(v->uuid), "%s", "6f1c0e2a-3b9d-4c55-9a7e-0d2b8f41c7aa");
    (void)snprintf(v->name, sizeof(v->name), "%s", "g1");
    lv_vm_read(hv, &rec, 5, rd->t, v);
    rate_sweep(&hv->rates);
}

/* A busy guest arriving by live migration on a host of one CPU, sampled every second and on
 * libvirt's events (minimum interval 0.5 s): while it is starting up and paused for the
 * incoming migration its QEMU's CPU time is the migration stream's work (44 %, then 2 % while
 * it waits for the source to finish), not the guest's, and is no usage; the first reading once
 * it runs (on the resume event, 0.3 s after the last paused one) is a fresh baseline, and the
 * next one gives the guest's true share, 100 %. Before, the paused readings were the baseline:
 * the domain read 44 % and 2 % while paused, the 2 % was repeated at the resume (too early for
 * a rate), and the first running interval read 71 %. */
static void
test_arrival_rates(void **state)
{
    (void)state;
    struct lv_conn hv;
    memset(&hv, 0, sizeof(hv));
    hv_libvirt_opts_init(&hv.o);
    hv.o.min_dt_s = 0.5;
    hv.ncpus = 1;
    rate_table_init(&hv.rates);
    static const struct {
        struct reading rd;
        bool measured;
        double cpu;
    } seq[] = {
        {{10.0, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_STARTING_UP, 8000000ull, false}, false, 0},
        {{10.05, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION, 150000000ull, false}, false, 0},
        {{11.0, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION, 450000000ull, false}, false, 0},
        {{12.0, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION, 470000000ull, false}, false, 0},
        {{12.3, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED, 480000000ull, true}, false, 0},
        {{13.0, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED, 1180000000ull, true}, true, 100},
        {{14.0, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED, 2175000000ull, true}, true, 99.5},
    };
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        struct lv_vm v;
        read_domain(&hv, &seq[i].rd, &v);
        if (v.measured != seq[i].measured || fabs(v.usage[KIND_CPU] - seq[i].cpu) > 0.01)
            fail_msg("reading %zu at t=%.2f: measured=%d cpu=%.2f%%, expected measured=%d "
                     "cpu=%.2f%%",
                     i, seq[i].rd.t, v.measured, v.usage[KIND_CPU], seq[i].measured, seq[i].cpu);
        assert_true(v.mem_mib == 128.0);
    }
    rate_table_done(&hv.rates);
}

struct step {
    enum lv_arrival a;
    bool first;
    bool initial;
    bool arrives;
};

static void
run_steps(const struct step *s, size_t n)
{
    enum lv_watch w = LV_WATCH_INCOMING; /* a new record's value must not matter */
    for (size_t i = 0; i < n; i++) {
        bool got = lv_arrival_step(s[i].a, s[i].first, s[i].initial, &w);
        if (got != s[i].arrives)
            fail_msg("step %zu: arrives=%d, expected %d", i, got, s[i].arrives);
    }
}

/* When a domain counts as arrived by migration: exactly once per arrival. */
static void
test_arrival_step(void **state)
{
    (void)state;
    enum lv_arrival none = LV_ARRIVAL_NONE;
    enum lv_arrival in = LV_ARRIVAL_INCOMING;
    enum lv_arrival mig = LV_ARRIVAL_MIGRATED;
    enum lv_arrival unk = LV_ARRIVAL_UNKNOWN;
    /* Seen first running migrated: arrived, once. */
    const struct step a[] = {{mig, true, false, true}, {mig, false, false, false}};
    run_steps(a, 2);
    /* ... but at the agent's first sample it came before the agent watched. */
    const struct step b[] = {{mig, true, true, false}, {mig, false, false, false}};
    run_steps(b, 2);
    /* Booted here: never. */
    const struct step c[] = {{none, true, false, false}, {none, false, false, false}};
    run_steps(c, 2);
    /* Seen paused for the incoming migration, then running: arrived when it runs. A state
     * missing in between changes nothing. */
    const struct step d[] = {{in, true, false, false},
                             {in, false, false, false},
                             {unk, false, false, false},
                             {mig, false, false, true},
                             {mig, false, false, false}};
    run_steps(d, 5);
    /* An incoming migration under way at the agent's first sample ends while it watches. */
    const struct step e[] = {{in, true, true, false}, {none, false, false, true}};
    run_steps(e, 2);
    /* A domain already here paused for a migration (a source) and resumed after it failed. */
    const struct step f[] = {
        {none, true, false, false}, {in, false, false, false}, {none, false, false, false}};
    run_steps(f, 3);
    /* Seen first with no state: not counted later as new. */
    const struct step g[] = {{unk, true, false, false}, {mig, false, false, false}};
    run_steps(g, 2);
    /* libvirt lists an incoming domain "starting up" before it is paused for the migration: a
     * sample then must not settle it as booted (the arrival was missed on a busy host). */
    enum lv_arrival up = LV_ARRIVAL_STARTING;
    const struct step h[] = {{up, true, false, false},
                             {up, false, false, false},
                             {in, false, false, false},
                             {mig, false, false, true},
                             {mig, false, false, false}};
    run_steps(h, 5);
    /* Starting up, then already running migrated at the next sample. */
    const struct step i[] = {{up, true, false, false}, {mig, false, false, true}};
    run_steps(i, 2);
    /* Starting up at the agent's first sample: it arrives while the agent watches. */
    const struct step j[] = {
        {up, true, true, false}, {in, false, false, false}, {none, false, false, true}};
    run_steps(j, 3);
    /* Starting up, then booted: never an arrival, nor later when paused as a source. */
    const struct step k[] = {{up, true, false, false},
                             {none, false, false, false},
                             {in, false, false, false},
                             {none, false, false, false}};
    run_steps(k, 4);
}

/* Readings taken while the host changes every 0.1 s, `strict` or not, for at most `for_s`
 * seconds: when the first reading was served (seconds after the start), or -1 when none was. */
static double
served_during_changes(struct lv_reader *r, bool strict, double for_s, struct lv_view *v)
{
    double t0 = clock_mono_s();
    while (clock_mono_s() - t0 < for_s) {
        lv_reader_refresh(r, strict);
        int got = lv_reader_take(r, 0.1, v);
        assert_true(got >= 0);
        if (got == 1)
            return clock_mono_s() - t0;
    }
    return -1;
}

static int
reader_teardown(void **state)
{
    lv_reader_stop(*state);
    (void)unsetenv("VMLOC_FAILPOINT"); /* after: the reader's thread reads it */
    return 0;
}

/* The reader while the host changes faster than libvirt reads it (a burst of domain events,
 * each reading taking 1.5 s): a reading begun before a change is dropped, but once the loop
 * has gone `max_wait` without one it is served all the same, so that the agent goes on serving
 * samples; never one begun before a migration's end. */
static void
test_reader_change_burst(void **state)
{
    write_file(stat_path, "cpu  100 0 100 800 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0\n");
    write_file(mem_path, "MemTotal: 2097152 kB\n");
    struct lv_conn lv;
    struct hv_libvirt_opts o;
    char err[512];
    opts(&o, "test:///default", "");
    assert_int_equal(lv_init(&lv, &o, err, sizeof(err)), 0);
    const double read_s = FAILPOINT_SLOW_MS / 1000.0;
    const double max_wait = 1.6 * read_s;
    struct lv_reader *r = NULL;
    assert_int_equal(lv_reader_start(&lv, max_wait, &r), 0);
    *state = r;
    struct lv_view v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(lv_reader_take(r, 5.0, &v), 1); /* a first, at once */
    assert_int_equal(setenv("VMLOC_FAILPOINT", "libvirt-reading:slow", 1), 0);

    /* Changes that are not strict: the reading that ends before max_wait is dropped, the
     * next is served. */
    double t = served_during_changes(r, false, max_wait + 3.0 * read_s, &v);
    printf("served after %.2f s of changes (a reading takes %.1f s, max_wait %.1f s)\n", t, read_s,
           max_wait);
    assert_true(t >= max_wait);
    assert_int_equal(v.rc, 0);
    assert_int_equal(v.n_vms, 1);
    /* A migration's end at every change: nothing begun before it is served, however long the
     * loop has gone without a reading. */
    assert_true(served_during_changes(r, true, max_wait + 2.0 * read_s, &v) < 0);
    /* The changes over, the next reading is served. */
    assert_int_equal(lv_reader_take(r, 3.0 * read_s, &v), 1);
    lv_view_done(&v);
}

/* Looks at a VM whose migration call failed, `n` of them, each `w[i]` at `t[i]` seconds:
 * what each decides. */
static void
settle_looks(const enum lv_where *w, const double *t, size_t n, const enum lv_settled *want)
{
    struct lv_settle s = {.here_since_s = -1};
    for (size_t i = 0; i < n; i++) {
        enum lv_settled got = lv_settle_step(&s, w[i], t[i]);
        if (got != want[i])
            fail_msg("look %zu at %.1f s: %d, expected %d", i, t[i], got, want[i]);
    }
}

#define LOOKS(...) ((const enum lv_where[]){__VA_ARGS__})
#define AT(...) ((const double[]){__VA_ARGS__})
#define WANT(...) ((const enum lv_settled[]){__VA_ARGS__})

/* When a failed migration call is settled, and how: the VM must be found here for
 * LV_SETTLE_HERE_S, a migration still running is awaited, and looks that learn nothing fail
 * it only after LV_SETTLE_REACH_S without one that found the migration running. */
static void
test_settle_step(void **state)
{
    (void)state;
    const enum lv_where here = LV_WHERE_HERE;
    const enum lv_where moving = LV_WHERE_MOVING;
    const enum lv_where moved = LV_WHERE_MOVED;
    const enum lv_where nowhere = LV_WHERE_NOWHERE;
    const enum lv_where unk = LV_WHERE_UNKNOWN;
    const enum lv_settled wait = LV_SETTLED_NOT_YET;
    const enum lv_settled failed = LV_SETTLED_FAILED;
    const double reach = LV_SETTLE_REACH_S;
    const double span = LV_SETTLE_HERE_S;
    /* Here for the span: failed; the first look alone decides nothing. */
    settle_looks(LOOKS(here, here), AT(0, span), 2, WANT(wait, failed));
    /* Two looks here close together (a wake-up before the second): not yet. */
    settle_looks(LOOKS(here, here, here), AT(0, span / 100, span), 3, WANT(wait, wait, failed));
    /* Here, then moving (the job began late), then moved: done. */
    settle_looks(LOOKS(here, moving, moving, moved), AT(0, 1, 2, 3), 4,
                 WANT(wait, wait, wait, LV_SETTLED_DONE));
    /* Here, moving, here: the span starts again. */
    settle_looks(LOOKS(here, moving, here, here), AT(0, 1, 2, 2 + span), 4,
                 WANT(wait, wait, wait, failed));
    /* Here, a look that learnt nothing, here: not in a row. */
    settle_looks(LOOKS(here, unk, here, here), AT(0, 1, 2, 2 + span), 4,
                 WANT(wait, wait, wait, failed));
    /* Moved or gone at the first look: decided at once. */
    settle_looks(LOOKS(moved), AT(0), 1, WANT(LV_SETTLED_DONE));
    settle_looks(LOOKS(nowhere), AT(0), 1, WANT(LV_SETTLED_LEFT));
    settle_looks(LOOKS(here, nowhere), AT(0, 1), 2, WANT(wait, LV_SETTLED_LEFT));
    /* Nothing learnt: not yet until LV_SETTLE_REACH_S after the first look. */
    settle_looks(LOOKS(unk, unk, unk), AT(100, 100 + reach - 1, 100 + reach), 3,
                 WANT(wait, wait, LV_SETTLED_UNKNOWN));
    /* Here once, then nothing learnt: the limit counts from the first look. */
    settle_looks(LOOKS(here, unk, unk), AT(0, 1, reach), 3, WANT(wait, wait, LV_SETTLED_UNKNOWN));
    /* Here and nothing learnt, by turns: the looks here do not put the limit off. */
    settle_looks(LOOKS(here, unk, here, unk), AT(0, 1, reach - 1, reach), 4,
                 WANT(wait, wait, wait, LV_SETTLED_UNKNOWN));
    /* A migration that runs for long, then a libvirt that answers no more: the wait counts
     * from the last look that learnt something, not from the first. */
    settle_looks(LOOKS(moving, moving, unk, unk), AT(0, 10 * reach, 10 * reach + 1, 11 * reach), 4,
                 WANT(wait, wait, wait, LV_SETTLED_UNKNOWN));
    settle_looks(LOOKS(moving, unk, moving, unk), AT(0, 1, 2 * reach, 3 * reach - 1), 4,
                 WANT(wait, wait, wait, wait));
}

/* One look at where a VM is, on libvirt's test driver: test:///default runs "test", and a
 * node file without domains is a host where it is not. */
static void
test_settle_look(void **state)
{
    (void)state;
    char empty[300];
    (void)snprintf(empty, sizeof(empty), "%s/empty.xml", dir);
    write_file(empty, "<node>\n</node>\n");
    char empty_uri[320];
    (void)snprintf(empty_uri, sizeof(empty_uri), "test://%s", empty);
    char why[256];
    /* Running here with no job (the driver has none): here. */
    assert_int_equal(lv_settle_look("test:///default", empty_uri, "test", why, sizeof(why)),
                     LV_WHERE_HERE);
    assert_string_equal(why, "");
    /* Gone from here, running at the destination: moved. */
    assert_int_equal(lv_settle_look(empty_uri, "test:///default", "test", why, sizeof(why)),
                     LV_WHERE_MOVED);
    /* Gone from here, and not at the destination: nowhere. */
    assert_int_equal(lv_settle_look(empty_uri, empty_uri, "test", why, sizeof(why)),
                     LV_WHERE_NOWHERE);
    /* Gone from here, and the destination cannot be asked: not known, and said so. */
    char nowhere_uri[320];
    (void)snprintf(nowhere_uri, sizeof(nowhere_uri), "test://%s/none.xml", dir);
    assert_int_equal(lv_settle_look(empty_uri, nowhere_uri, "test", why, sizeof(why)),
                     LV_WHERE_UNKNOWN);
    assert_non_null(strstr(why, "gone from this host; at the destination: "));
    /* This host's libvirt cannot be asked: not known. */
    assert_int_equal(lv_settle_look(nowhere_uri, "test:///default", "test", why, sizeof(why)),
                     LV_WHERE_UNKNOWN);
    assert_true(why[0] != '\0');
    (void)unlink(empty);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_peer_uri_check),
        cmocka_unit_test(test_address_check),
        cmocka_unit_test(test_odd_names_left_out),
        cmocka_unit_test(test_record_counters),
        cmocka_unit_test(test_record_vcpu_delay),
        cmocka_unit_test(test_bad_host),
        cmocka_unit_test(test_listing_and_host_rate),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_moves_parse),
        cmocka_unit_test(test_moves_parse_long),
        cmocka_unit_test(test_moves_format),
        cmocka_unit_test(test_moves_metadata),
        cmocka_unit_test(test_record_arrival),
        cmocka_unit_test(test_arrival_step),
        cmocka_unit_test(test_arrival_rates),
        cmocka_unit_test(test_job_stats),
        cmocka_unit_test(test_settle_step),
        cmocka_unit_test(test_settle_look),
        cmocka_unit_test_teardown(test_reader_change_burst, reader_teardown),
    };
    return cmocka_run_group_tests_name("hv_libvirt", tests, setup, teardown);
}
