/* `vmloc plan` output for people: the conflicts with the thresholds that made them, the
 * migrations with why that destination, and what could not be resolved. */
#ifndef VMLOC_CLI_PLAN_TEXT_H
#define VMLOC_CLI_PLAN_TEXT_H

#include <stdio.h>

#include "core/model.h"
#include "core/plan.h"
#include "core/policy.h"

/* Write the report of `p` (computed on `cl` under `pol`) to `f`. */
void plan_text_print(FILE *f, const struct cluster *cl, const struct policy *pol,
                     const struct plan *p);

#endif
