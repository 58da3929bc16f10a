/* cli — the command line of `mqgate`: its commands, their options and their help texts.
 *
 * Used by main.c. One table lists the commands (run, check, status, tap, version, help); each names
 * the options it takes and its help text, printed by `mqgate COMMAND --help` (or `mqgate help
 * COMMAND`); `mqgate --help` lists the commands. Parsing only: nothing is read or started here.
 */
#ifndef SUPERVISOR_CLI_H
#define SUPERVISOR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mqg_service.h"
#include "mqg_settings.h"

struct cli {
    const char *cmd;        /* "run", "check", "status", "tap", "version" */
    const char *cfg;        /* -c */
    const char *service_id; /* --service-id */
    const char **files;     /* service files (run, check), filters (tap) */
    size_t n_files;
    struct mqg_param *params; /* -p NAME=VALUE; name owned below, value points into argv */
    size_t n_params;
    char **owned;
    size_t n_owned;
    bool json;                /* status, tap: --json */
    unsigned long long count; /* tap --count; 0: none */
    size_t max_bytes;         /* tap --max-bytes (1024 unless given) */
};

/* Parse argv into *c (zeroed first). Returns 0: run c->cmd; -1: a help text was printed to
 * standard output (exit 0); or an exit code after an error printed to standard error (2: usage,
 * 78: a -p without a value or given twice, 70: out of memory). Free c with cli_free either way. */
int cli_parse(struct cli *c, int argc, char **argv);

/* NULL-safe. */
void cli_free(struct cli *c);

/* The settings of -c (or the defaults without it) into *set. 0, or the exit code after the
 * errors were printed (78 for a bad file). */
int cli_settings(const struct cli *c, struct mqg_settings *set);

/* The help text of cmd (NULL or unknown: the list of commands) onto f. */
void cli_usage(FILE *f, const char *cmd);

#endif
