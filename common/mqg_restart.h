/* mqg_restart — when a supervised child is started again after its process ended.
 *
 * The restart policy of the supervisor, one per child (supervisor/lifecycle.c keeps it). Pure:
 * no I/O and no clock (every call gets the time, monotonic ms); the randomness is the seeded
 * generator inside mqg_backoff, so a seed gives the same delays every time. Not thread-safe.
 * - a crash is restarted after a decorrelated-jitter pause (mqg_backoff: first in
 *   [backoff_ms, 3 * backoff_ms), then in [backoff_ms, 3 * previous), at most backoff_max_ms),
 *   which starts from backoff_ms again when the child had been up stable_after_ms;
 * - the max-th crash within window_ms marks the child failed: it is tried again
 *   failed_retry_ms later, and the crashes are counted from zero again;
 * - exit code 78 (configuration error) is never restarted;
 * - a deliberate restart (the supervisor stopped the child to start it again) is restarted at
 *   once and counts nowhere.
 */
#ifndef MQG_RESTART_H
#define MQG_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#include "mqg_backoff.h"

struct mqg_restart_policy {
    uint32_t backoff_ms;     /* first pause at least this (>= 1) */
    uint32_t backoff_max_ms; /* no pause longer (raised to backoff_ms if lower) */
    int max;                 /* crashes within window_ms that make the child failed (< 1: 1) */
    int64_t window_ms;
    int64_t failed_retry_ms; /* a failed child is started again after this */
    int64_t stable_after_ms; /* up this long before it ended: the pauses start over */
};

/* How a child's run ended, as the supervisor tells it. */
enum mqg_restart_end {
    MQG_RESTART_CRASH,        /* ended unexpectedly: an exit code other than 78, or a signal */
    MQG_RESTART_CONFIG,       /* exited with 78, a configuration error */
    MQG_RESTART_DELIBERATE,   /* stopped by the supervisor to be started again at once */
    MQG_RESTART_START_FAILED, /* its process could not be started (fork, pipe, socketpair) */
};

/* What to do next. */
enum mqg_restart_next {
    MQG_RESTART_AFTER,  /* start again at at_ms, delay_ms from now */
    MQG_RESTART_FAILED, /* crashed max times within the window: start again at at_ms */
    MQG_RESTART_NEVER,  /* configuration error: not restarted */
};

struct mqg_restart_decision {
    enum mqg_restart_next next;
    int64_t at_ms;     /* AFTER, FAILED: when to start again; NEVER: 0 */
    uint32_t delay_ms; /* AFTER: at_ms - now */
    int crashes;       /* FAILED: the crashes within the window that made it failed */
};

struct mqg_restart {
    struct mqg_restart_policy policy; /* max already raised to 1 */
    struct mqg_backoff backoff;
    int64_t *crashes; /* ring of the last policy.max crash times (owned) */
    int n_crashes;    /* crashes recorded since init or the last FAILED */
    int restarts;     /* unexpected ends (MQG_RESTART_CRASH) since init, for the status */
};

/* Set r up for a new child. seed: randomness of the pauses (0 is replaced). Returns 0, or
 * -ENOMEM (the crash ring is policy->max entries long). Free with mqg_restart_free. */
int mqg_restart_init(struct mqg_restart *r, const struct mqg_restart_policy *policy, uint64_t seed);

/* A new policy for a running child (a reload changed the restart settings): the pauses start
 * over from the new backoff_ms (the generator keeps its state); the crashes recorded stay
 * when max is the same, else they are counted afresh; restarts stays. 0 or -ENOMEM (r
 * unchanged). */
int mqg_restart_set_policy(struct mqg_restart *r, const struct mqg_restart_policy *policy);

/* Free the crash ring; r may be zeroed or freed before (NULL-safe). */
void mqg_restart_free(struct mqg_restart *r);

/* Which end an exit is: exit_code 78 is MQG_RESTART_CONFIG, any other code (0 included) or a
 * signal (exit_code < 0) MQG_RESTART_CRASH. */
enum mqg_restart_end mqg_restart_end_of_exit(int exit_code);

/* The child's run ended at now; it had been started at started_ms (for a START_FAILED end:
 * the last start that worked, 0 if none). Records the end and decides when to start again. */
struct mqg_restart_decision mqg_restart_ended(struct mqg_restart *r, int64_t now,
                                              int64_t started_ms, enum mqg_restart_end end);

#endif
