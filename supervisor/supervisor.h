/* supervisor — runs the gateway: spawns the router and one connector per connection, hands
 * each its configuration, watches heartbeats, restarts children that die, collects their
 * logs, writes the status file and stops everything in order on SIGTERM/SIGINT. */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_model.h"
#include "mqg_settings.h"

struct sup_reload;

/* Run until stopped; reload (may be NULL) reads the configuration again on SIGHUP (reload.h).
 * Returns the process exit code. */
int supervisor_run(const struct mqg_settings *s, const struct mqg_model *m,
                   const struct sup_reload *reload);

/* Print the status file of a running instance (json: status.json instead, after the same
 * checks of the status file). Returns the exit code. */
int supervisor_status(const struct mqg_settings *s, bool json);

/* "<runtime_dir>/<instance>" into out. */
int supervisor_instance_dir(const struct mqg_settings *s, char *out, size_t cap);

#endif
