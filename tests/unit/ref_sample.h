/* The jansson sample decoder, as a reference for tests (see ref_sample.c). */
#ifndef VMLOC_TESTS_REF_SAMPLE_H
#define VMLOC_TESTS_REF_SAMPLE_H

#include <stddef.h>

#include "proto/perr.h"
#include "proto/wire.h"

/* wire_sample_decode() as decoded through a jansson tree: same contract. */
int ref_sample_decode(const char *body, size_t len, struct wire_sample *ret, struct perr *err);

#endif
