/* status — the status file <runtime_dir>/<instance>/status, rewritten every 0.5 s.
 *
 * Used by supervisor.c; the reading side, `mqgate status`, is supervisor_status() in
 * supervisor.h. Single-threaded; the file I/O is synchronous and small.
 */
#ifndef SUPERVISOR_STATUS_H
#define SUPERVISOR_STATUS_H

#include <stdint.h>

#include "sup.h"

/* Write the status of the gateway and of every child at now (monotonic ms) to status.tmp and
 * rename it over status. A failure keeps the old file: the first of a series is logged
 * (STATUS-WRITE, warn), repeats at debug, the recovery at notice (STATUS-OK); S->status_err
 * holds the last result. */
void status_write(struct sup *S, int64_t now);

#endif
