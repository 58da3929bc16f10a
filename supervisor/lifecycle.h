/* lifecycle — a child's life cycle as one state table, as s6-supervise drives its service.
 *
 * Used by supervisor.c, one record per child; tested alone by tests/unit/test_lifecycle.c.
 * Pure: no I/O, no clock (each event comes with the time), no log. lifecycle_step() looks the
 * pair (state, event) up in one table, which names the next state and the action for the
 * supervisor to take; where the table leaves the next state to the restart policy (a process
 * ended, or could not be started), mqg_restart decides: waiting, failed or config. The
 * supervisor carries the action out (spawn, signal, log) and posts what came of it as the next
 * event. The table is drawn in docs/architecture.md §6.1.
 */
#ifndef SUPERVISOR_LIFECYCLE_H
#define SUPERVISOR_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "mqg_restart.h"

enum lifecycle_state {
    LC_STARTING,   /* its process runs and has not reported ready yet */
    LC_RUNNING,    /* its process reported ready */
    LC_STOPPING,   /* its process was asked to stop with the gateway */
    LC_RESTARTING, /* its process was asked to stop, to be started again at once */
    LC_WAITING,    /* no process: started again at due_ms */
    LC_FAILED,     /* no process, crashed too often: started again at due_ms */
    LC_CONFIG,     /* no process, exited with a configuration error: never started again */
    LC_STOPPED,    /* no process, and none is started again: the gateway stops */
    LC_N_STATES
};

enum lifecycle_event {
    LC_EV_DUE,          /* timer: due_ms has come */
    LC_EV_SPAWNED,      /* its process was started */
    LC_EV_SPAWN_FAILED, /* its process could not be started */
    LC_EV_READY,        /* it reported ready */
    LC_EV_HUNG,         /* heartbeats missed: nothing from it for interval x misses */
    LC_EV_BAD_CTL,      /* it sent a malformed control message */
    LC_EV_EXITED,       /* its process ended: with an exit code, or by a signal (code < 0) */
    LC_EV_RESTART,      /* a deliberate restart is asked (the router, to bind the bus again) */
    LC_EV_STOP,         /* the gateway stops */
    LC_EV_GRACE_OVER,   /* the stop's grace period is over (posted again every second) */
    LC_N_EVENTS
};

/* What the supervisor does after a step. */
enum lifecycle_action {
    LC_DO_NOTHING,
    LC_DO_START_NOW,      /* nothing more: due_ms was set to now */
    LC_DO_SPAWN,          /* start its process, then post SPAWNED or SPAWN_FAILED */
    LC_DO_LOG_READY,      /* log that it is ready */
    LC_DO_TERM,           /* ask its process to stop: TERM message and SIGTERM */
    LC_DO_KILL_HUNG,      /* SIGKILL its process: it stopped answering */
    LC_DO_KILL_BAD,       /* SIGKILL its process: it broke the control protocol */
    LC_DO_KILL_LATE,      /* SIGKILL its process: it did not stop within the grace period */
    LC_DO_REPORT_END,     /* log an unexpected end and the policy's decision */
    LC_DO_REPORT_RETRY,   /* log the policy's decision after a start that failed */
    LC_DO_REPORT_STOPPED, /* log that its process stopped with the gateway */
    LC_DO_REPORT_RESTART, /* log that its process stopped for the deliberate restart */
};

struct lifecycle {
    enum lifecycle_state state;
    int64_t due_ms;             /* waiting, failed: when to start it (the caller may postpone) */
    int64_t started_ms;         /* when its process was last started; 0 before the first */
    struct mqg_restart restart; /* the restart policy's record (restarts: for the status) */
};

struct lifecycle_step {
    enum lifecycle_state from;
    enum lifecycle_state to;
    enum lifecycle_action action;
    bool decided;                         /* the restart policy decided `to` */
    struct mqg_restart_decision decision; /* what it decided, when decided */
};

/* Set lc up: state waiting, due at once. Returns 0 or -ENOMEM (mqg_restart_init). */
int lifecycle_init(struct lifecycle *lc, const struct mqg_restart_policy *policy, uint64_t seed);

/* Free what lifecycle_init made; NULL-safe, and safe on a zeroed record. */
void lifecycle_free(struct lifecycle *lc);

/* Take event ev at now (monotonic ms); exit_code only for LC_EV_EXITED (< 0: a signal). Moves
 * lc to the table's next state, keeps started_ms (set on SPAWNED) and due_ms (from the restart
 * policy, or now for START_NOW), and returns the step. An event a state does not expect is
 * ignored: the same state, LC_DO_NOTHING. */
struct lifecycle_step lifecycle_step(struct lifecycle *lc, enum lifecycle_event ev, int64_t now,
                                     int exit_code);

/* Has a child in state s a process (to poll, send heartbeats to, wait for)? */
bool lifecycle_has_process(enum lifecycle_state s);

/* Is a child in state s waiting for due_ms to be started again (waiting, failed)? */
bool lifecycle_waits(enum lifecycle_state s);

/* The STATE column of the status file: "running" for every state with a process, else
 * "waiting", "failed", "config" or "stopped". */
const char *lifecycle_state_name(enum lifecycle_state s);

#endif
