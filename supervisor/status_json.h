/* status_json — the gateway's status as JSON, for scripts: `mqgate status --json`.
 *
 * Used by status.c, which writes it to <runtime_dir>/<instance>/status.json next to the status
 * file, every 0.5 s, and prints it for `mqgate status --json`. The same facts as the status
 * file (docs/architecture.md §8): the gateway, each process with its counters, and each
 * connection with its broker URL, state and counters.
 */
#ifndef SUPERVISOR_STATUS_JSON_H
#define SUPERVISOR_STATUS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "sup.h"

/* The JSON text at now (monotonic ms), one line with a final newline, as a new heap buffer
 * (caller frees; *len its length); NULL when out of memory. */
char *status_json(const struct sup *S, int64_t now, size_t *len);

/* "YYYY-MM-DDThh:mm:ssZ" of wall-clock ms since the epoch into buf (at least 24 bytes). */
void status_iso_time(int64_t wall_ms, char *buf, size_t cap);

#endif
