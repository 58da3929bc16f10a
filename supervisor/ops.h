/* ops — operating the gateway over HTTP: /metrics and /health, off unless `http.listen` is set.
 *
 * Used by supervisor.c: ops_open() at set-up, the descriptor in its poll set (ops_fd),
 * ops_run() after every poll, ops_tick() every 0.5 s (logs changes of health: HEALTH-BAD,
 * HEALTH-OK), ops_close() at tear-down. Requests are answered from the
 * supervisor's own records, in its loop (http.c): no thread, no lock, and nothing a client does
 * can make the loop wait. /metrics is metrics.c; /health applies health.c's rules to every
 * child process and connection (observe.c).
 */
#ifndef SUPERVISOR_OPS_H
#define SUPERVISOR_OPS_H

#include <stdint.h>

#include "sup.h"

/* Start the HTTP server when the settings ask for one (S->ops stays NULL otherwise); logs
 * HTTP-LISTEN. Returns 0, or an exit code after a logged error: 78 when the address cannot be
 * resolved, 1 when it cannot be listened on (e.g. in use). */
int ops_open(struct sup *S);

/* A reload changed http.listen to next's (S->set is still the running settings): listen on
 * the new address, then close the old one; none: stop serving. When the new address cannot be
 * listened on, the server goes on at the old one (HTTP-LISTEN error logged if even that is
 * lost): -errno, why (cap bytes) says what failed. 0 when switched. */
int ops_reopen(struct sup *S, const struct mqg_settings *next, char *why, size_t cap);

/* NULL-safe on S->ops. */
void ops_close(struct sup *S);

/* The descriptor to poll for POLLIN, or -1 when off. */
int ops_fd(const struct sup *S);

/* After every poll: answer what is ready. */
void ops_run(struct sup *S);

/* The longest the loop may wait for the server, in ms (-1: no limit, or off). */
int ops_timeout_ms(const struct sup *S);

/* Every 0.5 s: judge health and log when it changes. */
void ops_tick(struct sup *S, int64_t now);

#endif
