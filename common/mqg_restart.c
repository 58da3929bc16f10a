/* mqg_restart — when a supervised child is started again (see mqg_restart.h).
 *
 * The crash window is a ring of the last `max` crash times: the child is failed when all of
 * the crashes it holds (since the last failed verdict) lie within the window. Pure: no I/O,
 * no clock, randomness from the seeded mqg_backoff.
 */
#include "mqg_restart.h"

#include <errno.h>
#include <stdlib.h>

#include "mqg_error.h"

int mqg_restart_init(struct mqg_restart *r, const struct mqg_restart_policy *policy, uint64_t seed)
{
    r->policy = *policy;
    if (r->policy.max < 1) {
        r->policy.max = 1;
    }
    r->crashes = calloc((size_t)r->policy.max, sizeof(*r->crashes));
    if (!r->crashes) {
        return -ENOMEM;
    }
    r->n_crashes = 0;
    r->restarts = 0;
    mqg_backoff_init(&r->backoff, policy->backoff_ms, policy->backoff_max_ms, seed);
    return 0;
}

int mqg_restart_set_policy(struct mqg_restart *r, const struct mqg_restart_policy *policy)
{
    int max = policy->max < 1 ? 1 : policy->max;
    if (max != r->policy.max) {
        int64_t *ring = calloc((size_t)max, sizeof(*ring));
        if (!ring) {
            return -ENOMEM;
        }
        free(r->crashes);
        r->crashes = ring;
        r->n_crashes = 0;
    }
    r->policy = *policy;
    r->policy.max = max;
    uint64_t rng = r->backoff.rng;
    mqg_backoff_init(&r->backoff, policy->backoff_ms, policy->backoff_max_ms, rng);
    return 0;
}

void mqg_restart_free(struct mqg_restart *r)
{
    if (r) {
        free(r->crashes);
        r->crashes = NULL;
    }
}

enum mqg_restart_end mqg_restart_end_of_exit(int exit_code)
{
    return exit_code == MQG_EXIT_CONFIG ? MQG_RESTART_CONFIG : MQG_RESTART_CRASH;
}

/* Record a crash at now; returns how many of the recorded ones lie within the window. */
static int s_record_crash(struct mqg_restart *r, int64_t now)
{
    int max = r->policy.max;
    r->crashes[r->n_crashes % max] = now;
    r->n_crashes++;
    int recent = 0;
    for (int i = 0; i < max && i < r->n_crashes; i++) {
        if (now - r->crashes[i] <= r->policy.window_ms) {
            recent++;
        }
    }
    return recent;
}

struct mqg_restart_decision mqg_restart_ended(struct mqg_restart *r, int64_t now,
                                              int64_t started_ms, enum mqg_restart_end end)
{
    struct mqg_restart_decision d = {.next = MQG_RESTART_AFTER, .at_ms = now};
    switch (end) {
    case MQG_RESTART_CONFIG:
        d.next = MQG_RESTART_NEVER;
        d.at_ms = 0;
        return d;
    case MQG_RESTART_DELIBERATE:
        return d;
    case MQG_RESTART_CRASH:
        r->restarts++;
        break;
    case MQG_RESTART_START_FAILED:
        break;
    }
    if (now - started_ms >= r->policy.stable_after_ms) {
        mqg_backoff_reset(&r->backoff);
    }
    int recent = s_record_crash(r, now);
    if (recent >= r->policy.max) {
        d.next = MQG_RESTART_FAILED;
        d.at_ms = now + r->policy.failed_retry_ms;
        d.crashes = recent;
        r->n_crashes = 0;
        return d;
    }
    d.delay_ms = mqg_backoff_next(&r->backoff);
    d.at_ms = now + d.delay_ms;
    return d;
}
