/* metrics — the text of /metrics: the gateway, its processes, connections, router and routes
 * in the Prometheus text format (common/mqg_prom.h).
 *
 * Used by ops.c for each scrape. Reads the supervisor's records as they are (the children's
 * last heartbeats, observe.c's connection states, the router's per-route reports) and each
 * running process's memory from /proc/<pid>/statm. Every name and label is listed in
 * docs/architecture.md §8.2; names and labels are stable (service, connection, endpoint, route,
 * role, cause). Counters count from 0 again when the process that keeps them restarts
 * (mqgate_process_restarts_total says when); Prometheus' rate() and increase() allow for that.
 */
#ifndef SUPERVISOR_METRICS_H
#define SUPERVISOR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sup.h"

/* The metrics at now (monotonic ms) as a new heap text (caller frees; *len its length), or
 * NULL when out of memory. */
char *metrics_render(const struct sup *S, int64_t now, size_t *len);

#endif
