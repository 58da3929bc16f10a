/* spawn — starting a child process (router or connector) for its record.
 *
 * Used by supervisor.c. fork/exec with a socketpair as the control channel (fd 3), a pipe for
 * its stderr and stdout, and the child's part of the model handed over first.
 */
#ifndef SUPERVISOR_SPAWN_H
#define SUPERVISOR_SPAWN_H

#include "mqg_settings.h"
#include "sup.h"

/* Start c's program. On success fills c->pid, c->ctl_fd, c->log_fd (both non-blocking, owned
 * by c), c->ctl and c->last_rx_ms (the start time), clears its log buffer and status text,
 * sends its configuration (CHILD-CONFIG when that fails: the child times out and is
 * restarted), logs CHILD-START and returns 0. Returns -errno when socketpair, pipe2, fork or
 * the encoding of its configuration failed; nothing is left open then. */
int spawn_child(struct sup *S, struct sup_child *c);

/* cpu_affinity: pin this process before the first fork; the children and all their threads
 * inherit it (CPU-AFFINITY). A failure is reported and the gateway runs unpinned. */
void spawn_pin_cpus(const struct mqg_settings *set);

#endif
