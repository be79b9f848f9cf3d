/* `vmloc replay` (cmd_replay.c reads the arguments): the run itself. replay_prepare() sets up
 * the simulator's data centre and runs the simulator; replay_live() starts the daemons, plays
 * the trace in wall time while it watches every agent (replay_watch.c), and stops them;
 * replay_output() (replay_report.c) prints the two side by side. */
#ifndef VMLOC_CLI_REPLAY_H
#define VMLOC_CLI_REPLAY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/child.h"
#include "cli/sim_report.h"
#include "common/token.h"
#include "core/policy.h"
#include "net/http.h"
#include "sim/dc.h"
#include "sim/livestat.h"
#include "sim/sim.h"
#include "sim/trace.h"

#define REPLAY_DEFAULT_HOSTS 60
#define REPLAY_DEFAULT_VMS 100
#define REPLAY_DEFAULT_STEP_S 1.0
/* Below this the daemons' own timing (sampling, collection offset, HTTP) is a large part of a
 * step. */
#define REPLAY_MIN_STEP_S 0.2
#define REPLAY_MAX_HOSTS 1000
#define REPLAY_MAX_VMS 20000

enum replay_mode { REPLAY_CENTRAL = 0, REPLAY_EDGE = 1, REPLAY_PEER = 2 };

/* "central", "edge", "peer". */
const char *replay_mode_name(enum replay_mode m);

struct replay_invariants {
    uint32_t vm_on_two_hosts; /* the most hosts one VM ran on at once (arrivals not counted) */
    size_t lost_vms;
    size_t returns_within_cooldown;
    size_t failed_migrations;
    uint64_t missed_observations; /* host-steps with no fresh sample (not an invariant) */
};

struct replay {
    /* Arguments. */
    const char *trace_dir;
    enum trace_format format;
    size_t n_hosts;
    size_t n_vms;
    size_t n_steps; /* 0: the whole trace */
    double step_s;
    enum replay_mode mode;
    const char *config; /* NULL: the defaults */
    bool json;
    const char *report;
    char data[4096]; /* the daemons' folder */
    bool keep;       /* given with --data: not removed */
    bool quiet;
    volatile sig_atomic_t *stop; /* set by a signal: end the run early */
    /* Inputs. */
    char *policy_text; /* the config file's text, NULL for none */
    struct policy policy;
    struct trace trace; /* the first M VMs over steps + 1 samples */
    struct dc dc;       /* the data centre at time 0: types, sizes, placement */
    bool dc_ready;
    struct sim_vmloc sim_cfg; /* the policy in the simulator's terms */
    /* The live run. */
    char token[TOKEN_MAX + 1];
    double t0; /* wall time of step 0 */
    struct child manager;
    struct child *agents;
    char (*agent_url)[128];
    char manager_url[128];
    const struct power_host_type **types; /* per host */
    struct livestat ls;
    struct livestat_move *moves;
    size_t n_moves;
    struct sim_point *points; /* the live run's series, one point per step */
    size_t n_points;
    double wall_s;
    /* Results. */
    struct sim_run sim;
    struct sim_run live;
    struct replay_invariants inv;
};

/* Defaults: 60 hosts, 100 VMs, the whole trace, 1 s steps, central mode. */
void replay_init(struct replay *rp);

/* Free everything; children still running are stopped. */
void replay_done(struct replay *rp);

/* The data centre at time 0 and the simulator's run on it. CLI_EXIT_OK, or an exit status
 * after printing why. */
int replay_prepare(struct replay *rp);

/* The live run, from the daemons' start to their stop. CLI_EXIT_OK, or CLI_EXIT_FAIL after
 * printing why. */
int replay_live(struct replay *rp);

#endif
