/* What the terminal's commands share (cmd_terminal.c lists, cmd_drain.c changes): one request
 * to a daemon with its answer parsed as JSON, a path with a name escaped in it, and the JSON
 * printed as --json prints it. Writes errors to stderr, never exits. */
#ifndef VMLOC_CLI_TERMINAL_H
#define VMLOC_CLI_TERMINAL_H

#include <jansson.h>
#include <stddef.h>

/* How long a terminal command waits for the daemon's answer. */
#define TERMINAL_TIMEOUT_S 10.0

/* GET or POST `path` on `url` (`body` may be NULL); on success *ret_json holds the parsed
 * answer (the caller's, json_decref() it). Returns CLI_EXIT_* after printing any error;
 * *ret_json untouched on error. */
int terminal_ask(const char *url, const char *method, const char *path, const char *body,
                 json_t **ret_json);

/* PREFIX NAME SUFFIX into `path` (`len` bytes), NAME escaped for a URL path segment; cut short
 * (still terminated) when it does not fit. */
void terminal_name_path(char *path, size_t len, const char *prefix, const char *name,
                        const char *suffix);

/* Print `j` (borrowed) indented, as --json does. CLI_EXIT_OK, or CLI_EXIT_FAIL on OOM. */
int terminal_print_json(json_t *j);

#endif
