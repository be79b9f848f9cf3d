/* The policy config (INI): text -> struct policy, strictly validated. Sections [detect],
 * [relocate], [host "NAME"] and [rule "NAME"]; every key optional with the documented
 * default; lines up to POLICY_INI_MAX_LINE bytes; unknown sections or keys, repeated keys
 * (but name lists, which each line adds to) and out-of-range values are errors that name the file,
 * line and key ("policy.ini:4: [detect] host_threshold: must be between 0 and 100").
 * Pure: the caller reads the file. */
#ifndef VMLOC_PROTO_POLICY_INI_H
#define VMLOC_PROTO_POLICY_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/policy.h"
#include "proto/perr.h"

/* Longest line accepted, in bytes (without the line ending): far more than a list of a
 * thousand peers or names needs, and a bound on what one line may cost. A longer line is an
 * error naming the file and line. The whole file is bounded too (LIMIT_CONFIG_BYTES). */
#define POLICY_INI_MAX_LINE ((size_t)256 * 1024u)
/* config_format() starts a new `key = ...` line for a name list past this width, for people
 * reading the file; the parser reads the lines back at any length up to POLICY_INI_MAX_LINE. */
#define POLICY_INI_FORMAT_WIDTH 190

/* Parse the NUL-terminated `text`; `source` names it in errors ("<config>" when NULL).
 * `*pol` must have had policy_init(); on success it holds the parsed policy with
 * policy_finish() done. 0 on success; -EINVAL with err filled (pol holds a partial policy
 * that the caller frees with policy_done()); -ENOMEM. */
MUST_CHECK int config_parse_string(const char *text, const char *source, struct policy *pol,
                                   struct perr *err);

/* Sections of a daemon's config file that are not the policy's ([manager], [agent],
 * [vm "NAME"], ...): the parser checks their syntax, refuses repeated keys (except lists, see
 * `repeats`), and hands each key to `apply` (cli/opt_table.c makes one from an option table). */
struct config_ext {
    /* Is `section` (`len` bytes, as written between the brackets) one of ours? */
    bool (*owns)(void *ctx, const char *section, size_t len);
    /* Apply one key. 0, or -EINVAL with *why set to what is wrong with the value or key. */
    int (*apply)(void *ctx, const char *section, const char *key, const char *value,
                 const char **why);
    /* May `key` of `section` be given on several lines, each handed to `apply` (a list that
     * each line adds to)? NULL: no key may; a repeated key is "given twice". */
    bool (*repeats)(void *ctx, const char *section, const char *key);
    void *ctx;
};

/* config_parse_string() for a file that also has the sections of `ext` (may be NULL). */
MUST_CHECK int config_parse_string_ext(const char *text, const char *source, struct policy *pol,
                                       const struct config_ext *ext, struct perr *err);

/* Write `pol` as INI text that config_parse_string() reads back to an equal policy.
 * 0: *ret_s (caller frees) set. -ENOMEM. */
MUST_CHECK int config_format(const struct policy *pol, char **ret_s);

/* "K/N" (whole numbers, 1 <= K <= N <= POLICY_MAX_PERSIST_N) into *ret_k, *ret_n; 0 or
 * -EINVAL. The one reading of a persistence setting ([relocate] and the simulator's [sim]). */
MUST_CHECK int config_parse_persistence(const char *v, uint32_t *ret_k, uint32_t *ret_n);

#endif
