/* broker — the embedded internal broker (mosquitto) as a child of the supervisor.
 *
 * Used by supervisor.c, which runs the broker through the same life cycle as any child
 * (lifecycle.h): started first, restarted with the same backoff, stopped last. These are the
 * parts that only concern the broker. No state of their own: all of it is in struct sup.
 */
#ifndef SUPERVISOR_BROKER_H
#define SUPERVISOR_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sup.h"

/* At the gateway's start, connectors wait this long at most for the broker's first start, so
 * that the internal broker's connector finds it (it would retry, but later). */
#define SUP_BROKER_HOLD_MS 5000
/* Ready, unless its output said so: its port accepts connections (looked at this often). */
#define SUP_BROKER_PROBE_AFTER_MS 2000

/* Does the broker's loopback listener accept a TCP connection? (A fallback: the broker says
 * when it is ready in its output.) */
bool sup_broker_listening(const struct sup *S);

/* A line of the broker's output as an mqgate log line in its name (BROKER-LOG, at mosquitto's
 * level); "Address already in use" is remembered in c. Returns true when the line says that
 * its listeners are open ("mosquitto version ... running"): it is ready. */
bool sup_broker_line(struct sup_child *c, const char *line, size_t len);

/* The broker reported ready: its status text, BROKER-UP. */
void sup_broker_ready(struct sup *S, struct sup_child *c);

/* Does child c (a connector) still wait for the broker's first start (SUP_BROKER_HOLD_MS), or
 * for its start after a reload restarted it (S->broker_hold_until)? */
bool sup_broker_holds(const struct sup *S, const struct sup_child *c, int64_t now);

/* Before an embedded broker of settings ib starts (at set-up, running NULL; or when a reload
 * changed them, running: the running settings, whose ports are the running broker's own): the
 * program (its path into exe[0..cap)), the password file and the ports. Returns 0, or 78
 * after a logged error naming the setting. */
int sup_broker_check(const struct mqg_ib_settings *ib, const struct mqg_ib_settings *running,
                     char *exe, size_t cap);

/* Did the broker end before its first start because its port was taken (the check at set-up
 * raced with another program)? Then S->exit_code is 78, logged, and the gateway stops. Not for
 * a broker a reload started or restarted: that one is restarted with backoff like a crash. */
bool sup_broker_port_lost(struct sup *S, const struct sup_child *c);

#endif
