/* `vmloc replay`: the results of a run, as a table or JSON, the HTML report, and the verdict
 * on the invariants. */
#ifndef VMLOC_CLI_REPLAY_REPORT_H
#define VMLOC_CLI_REPLAY_REPORT_H

#include "cli/replay.h"

/* Print the results (table or JSON) and write the report. CLI_EXIT_OK when the invariants
 * hold, CLI_EXIT_FAIL otherwise (saying which) or when the report cannot be written. */
int replay_output(struct replay *rp);

#endif
