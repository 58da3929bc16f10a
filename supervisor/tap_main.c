/* mqgate-tap — `mqgate tap` in a program of its own.
 *
 * `mqgate` hands a tap command to this program (execv, the same arguments), so that the
 * supervisor, which runs all the time, does not carry ZeroMQ and the C++ runtime it needs:
 * only a tap talks to the router's tap socket. The command line is mqgate's (cli.c);
 * supervisor_tap (tap.c) does the work.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mqg_error.h"
#include "tap.h"

int main(int argc, char **argv)
{
    struct cli c;
    int rc = cli_parse(&c, argc, argv);
    if (rc != 0) {
        cli_free(&c);
        return rc < 0 ? MQG_EXIT_OK : rc;
    }
    if (strcmp(c.cmd, "tap") != 0) {
        fprintf(stderr, "mqgate-tap: runs `mqgate tap` only (got '%s')\n", c.cmd);
        cli_free(&c);
        return MQG_EXIT_USAGE;
    }
    struct mqg_settings set;
    if ((rc = cli_settings(&c, &set)) != 0) {
        cli_free(&c);
        return rc;
    }
    struct tap_opts to = {.filters = (char *const *)c.files,
                          .n_filters = c.n_files,
                          .count = c.count,
                          .max_bytes = c.max_bytes,
                          .json = c.json};
    rc = supervisor_tap(&set, &to);
    mqg_settings_free(&set);
    cli_free(&c);
    return rc;
}
