/* libFuzzer target for the policy config parser (proto/policy_ini.c). The input is parsed
 * as a NUL-terminated copy (config_parse_string() takes a C string). A config that parses
 * is formatted, parsed and formatted again: the two texts must be equal, and the re-parse
 * must succeed. Any disagreement aborts, so the fuzzer reports it as a crash. Frees
 * everything, on success and on failure. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "proto/perr.h"
#include "proto/policy_ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* config_format(parse(config_format(pol))) must equal config_format(pol). */
static void
check_roundtrip(const struct policy *pol)
{
    char *text = NULL;
    if (config_format(pol, &text) < 0)
        return; /* OOM under libFuzzer's malloc limit */
    struct policy again;
    struct perr err;
    policy_init(&again);
    if (config_parse_string(text, "roundtrip", &again, &err) < 0)
        abort(); /* config_format() wrote something the parser rejects */
    char *text2 = NULL;
    if (config_format(&again, &text2) == 0 && strcmp(text, text2) != 0)
        abort(); /* a setting was lost or changed on the way */
    free(text2);
    free(text);
    policy_done(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    if (size > 0)
        memcpy(text, data, size);
    text[size] = '\0';

    struct policy pol;
    struct perr err;
    policy_init(&pol);
    memset(&err, 0, sizeof(err));
    int r = config_parse_string(text, "fuzz.ini", &pol, &err);
    if (r == 0)
        check_roundtrip(&pol);
    else if (r == -EINVAL && (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL))
        abort(); /* every rejection must come with a one-line message */
    policy_done(&pol);
    free(text);
    return 0;
}
