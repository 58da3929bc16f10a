/* lifecycle — a child's life cycle as one state table (see lifecycle.h).
 *
 * s_table holds, for every state, the events it reacts to: the next state (or the restart
 * policy's word on it) and the action. Every pair not listed leaves the state as it is and
 * does nothing, so an event that comes late (a heartbeat verdict while stopping) is harmless.
 */
#include "lifecycle.h"

#include <stddef.h>

/* Where a cell leads: the same state, the restart policy's decision, or GO's state + 2. */
#define S_SAME 0
#define S_POLICY 1

struct s_cell {
    unsigned char to; /* S_SAME, S_POLICY or state + 2 */
    unsigned char action;
};

/* clang-format off */
#define STAY(act)      {S_SAME, (act)}
#define POLICY(act)    {S_POLICY, (act)}
#define GO(state, act) {(state) + 2, (act)}

static const struct s_cell s_table[LC_N_STATES][LC_N_EVENTS] = {
    [LC_STARTING] = {
        [LC_EV_READY]      = GO(LC_RUNNING, LC_DO_LOG_READY),
        [LC_EV_HUNG]       = STAY(LC_DO_KILL_HUNG),
        [LC_EV_BAD_CTL]    = STAY(LC_DO_KILL_BAD),
        [LC_EV_EXITED]     = POLICY(LC_DO_REPORT_END),
        [LC_EV_RESTART]    = GO(LC_RESTARTING, LC_DO_TERM),
        [LC_EV_STOP]       = GO(LC_STOPPING, LC_DO_TERM),
    },
    [LC_RUNNING] = {
        [LC_EV_HUNG]       = STAY(LC_DO_KILL_HUNG),
        [LC_EV_BAD_CTL]    = STAY(LC_DO_KILL_BAD),
        [LC_EV_EXITED]     = POLICY(LC_DO_REPORT_END),
        [LC_EV_RESTART]    = GO(LC_RESTARTING, LC_DO_TERM),
        [LC_EV_STOP]       = GO(LC_STOPPING, LC_DO_TERM),
    },
    [LC_STOPPING] = {
        /* children report ready once per process: this one had not yet */
        [LC_EV_READY]      = STAY(LC_DO_LOG_READY),
        [LC_EV_BAD_CTL]    = STAY(LC_DO_KILL_BAD),
        [LC_EV_EXITED]     = GO(LC_STOPPED, LC_DO_REPORT_STOPPED),
        [LC_EV_GRACE_OVER] = STAY(LC_DO_KILL_LATE),
    },
    [LC_RESTARTING] = {
        [LC_EV_READY]      = STAY(LC_DO_LOG_READY),
        [LC_EV_HUNG]       = STAY(LC_DO_KILL_HUNG),
        [LC_EV_BAD_CTL]    = STAY(LC_DO_KILL_BAD),
        [LC_EV_EXITED]     = POLICY(LC_DO_REPORT_RESTART),
        [LC_EV_RESTART]    = STAY(LC_DO_TERM),
        [LC_EV_GRACE_OVER] = STAY(LC_DO_KILL_LATE), /* a reload's bound */
        [LC_EV_STOP]       = GO(LC_STOPPING, LC_DO_TERM),
    },
    [LC_WAITING] = {
        [LC_EV_DUE]          = STAY(LC_DO_SPAWN),
        [LC_EV_SPAWNED]      = GO(LC_STARTING, LC_DO_NOTHING),
        [LC_EV_SPAWN_FAILED] = POLICY(LC_DO_REPORT_RETRY),
        [LC_EV_RESTART]      = STAY(LC_DO_START_NOW),
        [LC_EV_STOP]         = GO(LC_STOPPED, LC_DO_NOTHING),
    },
    [LC_FAILED] = {
        [LC_EV_DUE]          = STAY(LC_DO_SPAWN),
        [LC_EV_SPAWNED]      = GO(LC_STARTING, LC_DO_NOTHING),
        [LC_EV_SPAWN_FAILED] = POLICY(LC_DO_REPORT_RETRY),
        [LC_EV_RESTART]      = STAY(LC_DO_START_NOW),
        [LC_EV_STOP]         = GO(LC_STOPPED, LC_DO_NOTHING),
    },
    /* LC_CONFIG (never started again, shown as config to the end) and LC_STOPPED take no
     * event: their rows are empty */
};
/* clang-format on */

static const char *const s_names[LC_N_STATES] = {
    [LC_STARTING] = "running",   [LC_RUNNING] = "running", [LC_STOPPING] = "running",
    [LC_RESTARTING] = "running", [LC_WAITING] = "waiting", [LC_FAILED] = "failed",
    [LC_CONFIG] = "config",      [LC_STOPPED] = "stopped",
};

int lifecycle_init(struct lifecycle *lc, const struct mqg_restart_policy *policy, uint64_t seed)
{
    lc->state = LC_WAITING;
    lc->due_ms = 0;
    lc->started_ms = 0;
    return mqg_restart_init(&lc->restart, policy, seed);
}

void lifecycle_free(struct lifecycle *lc)
{
    if (lc) {
        mqg_restart_free(&lc->restart);
    }
}

/* How the run ended, for the restart policy, by the action the table named. */
static enum mqg_restart_end s_end(enum lifecycle_action action, int exit_code)
{
    switch (action) {
    case LC_DO_REPORT_RESTART:
        return MQG_RESTART_DELIBERATE;
    case LC_DO_REPORT_RETRY:
        return MQG_RESTART_START_FAILED;
    default:
        return mqg_restart_end_of_exit(exit_code);
    }
}

static enum lifecycle_state s_decided_state(const struct mqg_restart_decision *d)
{
    switch (d->next) {
    case MQG_RESTART_FAILED:
        return LC_FAILED;
    case MQG_RESTART_NEVER:
        return LC_CONFIG;
    case MQG_RESTART_AFTER:
        break;
    }
    return LC_WAITING;
}

struct lifecycle_step lifecycle_step(struct lifecycle *lc, enum lifecycle_event ev, int64_t now,
                                     int exit_code)
{
    struct s_cell cell = s_table[lc->state][ev];
    struct lifecycle_step st = {.from = lc->state, .to = lc->state, .action = cell.action};
    if (cell.to == S_POLICY) {
        st.decided = true;
        st.decision =
            mqg_restart_ended(&lc->restart, now, lc->started_ms, s_end(st.action, exit_code));
        st.to = s_decided_state(&st.decision);
        lc->due_ms = st.decision.at_ms;
    } else if (cell.to != S_SAME) {
        st.to = (enum lifecycle_state)(cell.to - 2);
    }
    if (st.to == LC_STARTING && st.from != LC_STARTING) { /* a process was started */
        lc->started_ms = now;
    }
    if (st.action == LC_DO_START_NOW) {
        lc->due_ms = now;
    }
    lc->state = st.to;
    return st;
}

bool lifecycle_has_process(enum lifecycle_state s)
{
    return s == LC_STARTING || s == LC_RUNNING || s == LC_STOPPING || s == LC_RESTARTING;
}

bool lifecycle_waits(enum lifecycle_state s)
{
    return s == LC_WAITING || s == LC_FAILED;
}

const char *lifecycle_state_name(enum lifecycle_state s)
{
    return (unsigned)s < LC_N_STATES ? s_names[s] : "?";
}
