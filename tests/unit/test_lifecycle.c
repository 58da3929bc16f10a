/* test_lifecycle — unit tests of the supervisor's child life cycle table (supervisor/lifecycle.c).
 *
 * The whole table is written out here once more, cell by cell: every listed (state, event)
 * must lead to the listed state and action, and every pair not listed must change nothing.
 * Then whole lives: start, ready, crashes with growing pauses, failed, the retry, exit 78,
 * the deliberate restart, the stop with its grace period.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lifecycle.h"

#define S_BASE 100
#define S_RETRY 60000
#define S_STABLE 10000

static void s_init(struct lifecycle *lc, int max, uint64_t seed)
{
    struct mqg_restart_policy p = {.backoff_ms = S_BASE,
                                   .backoff_max_ms = 30000,
                                   .max = max,
                                   .window_ms = 60000,
                                   .failed_retry_ms = S_RETRY,
                                   .stable_after_ms = S_STABLE};
    assert_int_equal(lifecycle_init(lc, &p, seed), 0);
}

struct s_row {
    enum lifecycle_state from;
    enum lifecycle_event ev;
    int code; /* LC_EV_EXITED */
    enum lifecycle_state to;
    enum lifecycle_action action;
};

/* clang-format off */
static const struct s_row s_rows[] = {
    {LC_STARTING,   LC_EV_READY,        0,  LC_RUNNING,    LC_DO_LOG_READY},
    {LC_STARTING,   LC_EV_HUNG,         0,  LC_STARTING,   LC_DO_KILL_HUNG},
    {LC_STARTING,   LC_EV_BAD_CTL,      0,  LC_STARTING,   LC_DO_KILL_BAD},
    {LC_STARTING,   LC_EV_EXITED,       1,  LC_WAITING,    LC_DO_REPORT_END},
    {LC_STARTING,   LC_EV_EXITED,       78, LC_CONFIG,     LC_DO_REPORT_END},
    {LC_STARTING,   LC_EV_RESTART,      0,  LC_RESTARTING, LC_DO_TERM},
    {LC_STARTING,   LC_EV_STOP,         0,  LC_STOPPING,   LC_DO_TERM},

    {LC_RUNNING,    LC_EV_HUNG,         0,  LC_RUNNING,    LC_DO_KILL_HUNG},
    {LC_RUNNING,    LC_EV_BAD_CTL,      0,  LC_RUNNING,    LC_DO_KILL_BAD},
    {LC_RUNNING,    LC_EV_EXITED,       0,  LC_WAITING,    LC_DO_REPORT_END},
    {LC_RUNNING,    LC_EV_EXITED,       -1, LC_WAITING,    LC_DO_REPORT_END},
    {LC_RUNNING,    LC_EV_EXITED,       78, LC_CONFIG,     LC_DO_REPORT_END},
    {LC_RUNNING,    LC_EV_RESTART,      0,  LC_RESTARTING, LC_DO_TERM},
    {LC_RUNNING,    LC_EV_STOP,         0,  LC_STOPPING,   LC_DO_TERM},

    {LC_STOPPING,   LC_EV_READY,        0,  LC_STOPPING,   LC_DO_LOG_READY},
    {LC_STOPPING,   LC_EV_BAD_CTL,      0,  LC_STOPPING,   LC_DO_KILL_BAD},
    {LC_STOPPING,   LC_EV_EXITED,       1,  LC_STOPPED,    LC_DO_REPORT_STOPPED},
    {LC_STOPPING,   LC_EV_EXITED,       78, LC_STOPPED,    LC_DO_REPORT_STOPPED},
    {LC_STOPPING,   LC_EV_GRACE_OVER,   0,  LC_STOPPING,   LC_DO_KILL_LATE},

    {LC_RESTARTING, LC_EV_READY,        0,  LC_RESTARTING, LC_DO_LOG_READY},
    {LC_RESTARTING, LC_EV_HUNG,         0,  LC_RESTARTING, LC_DO_KILL_HUNG},
    {LC_RESTARTING, LC_EV_BAD_CTL,      0,  LC_RESTARTING, LC_DO_KILL_BAD},
    {LC_RESTARTING, LC_EV_EXITED,       0,  LC_WAITING,    LC_DO_REPORT_RESTART},
    {LC_RESTARTING, LC_EV_EXITED,       78, LC_WAITING,    LC_DO_REPORT_RESTART},
    {LC_RESTARTING, LC_EV_RESTART,      0,  LC_RESTARTING, LC_DO_TERM},
    {LC_RESTARTING, LC_EV_STOP,         0,  LC_STOPPING,   LC_DO_TERM},
    {LC_RESTARTING, LC_EV_GRACE_OVER,   0,  LC_RESTARTING, LC_DO_KILL_LATE},

    {LC_WAITING,    LC_EV_DUE,          0,  LC_WAITING,    LC_DO_SPAWN},
    {LC_WAITING,    LC_EV_SPAWNED,      0,  LC_STARTING,   LC_DO_NOTHING},
    {LC_WAITING,    LC_EV_SPAWN_FAILED, 0,  LC_WAITING,    LC_DO_REPORT_RETRY},
    {LC_WAITING,    LC_EV_RESTART,      0,  LC_WAITING,    LC_DO_START_NOW},
    {LC_WAITING,    LC_EV_STOP,         0,  LC_STOPPED,    LC_DO_NOTHING},

    {LC_FAILED,     LC_EV_DUE,          0,  LC_FAILED,     LC_DO_SPAWN},
    {LC_FAILED,     LC_EV_SPAWNED,      0,  LC_STARTING,   LC_DO_NOTHING},
    {LC_FAILED,     LC_EV_SPAWN_FAILED, 0,  LC_WAITING,    LC_DO_REPORT_RETRY},
    {LC_FAILED,     LC_EV_RESTART,      0,  LC_FAILED,     LC_DO_START_NOW},
    {LC_FAILED,     LC_EV_STOP,         0,  LC_STOPPED,    LC_DO_NOTHING},
};
/* clang-format on */

#define S_N_ROWS (sizeof(s_rows) / sizeof(s_rows[0]))

static void test_every_listed_transition(void **state)
{
    (void)state;
    for (size_t i = 0; i < S_N_ROWS; i++) {
        const struct s_row *r = &s_rows[i];
        struct lifecycle lc;
        s_init(&lc, 10, i + 1);
        lc.state = r->from;
        struct lifecycle_step st = lifecycle_step(&lc, r->ev, 50000, r->code);
        if (st.from != r->from || st.to != r->to || lc.state != r->to || st.action != r->action) {
            fail_msg("row %zu (state %d, event %d, code %d): got state %d action %d, "
                     "want %d %d",
                     i, r->from, r->ev, r->code, st.to, st.action, r->to, r->action);
        }
        lifecycle_free(&lc);
    }
}

static bool s_listed(enum lifecycle_state s, enum lifecycle_event ev)
{
    for (size_t i = 0; i < S_N_ROWS; i++) {
        if (s_rows[i].from == s && s_rows[i].ev == ev) {
            return true;
        }
    }
    return false;
}

static void test_everything_else_changes_nothing(void **state)
{
    (void)state;
    int ignored = 0;
    for (int s = 0; s < LC_N_STATES; s++) {
        for (int ev = 0; ev < LC_N_EVENTS; ev++) {
            if (s_listed((enum lifecycle_state)s, (enum lifecycle_event)ev)) {
                continue;
            }
            for (int code = -1; code <= 78; code += 79) {
                struct lifecycle lc;
                s_init(&lc, 1, 3);
                lc.state = (enum lifecycle_state)s;
                lc.due_ms = 1234;
                lc.started_ms = 567;
                struct lifecycle_step st =
                    lifecycle_step(&lc, (enum lifecycle_event)ev, 50000, code);
                if ((int)st.to != s || (int)lc.state != s || st.action != LC_DO_NOTHING ||
                    st.decided || lc.due_ms != 1234 || lc.started_ms != 567 ||
                    lc.restart.restarts != 0 || lc.restart.n_crashes != 0) {
                    fail_msg("state %d, event %d: expected to change nothing", s, ev);
                }
                lifecycle_free(&lc);
            }
            ignored++;
        }
    }
    /* the config and stopped states take no event at all */
    assert_int_equal(ignored, LC_N_STATES * LC_N_EVENTS - 32);
}

/* Start lc (waiting or failed, due) at now: DUE asks for a spawn, SPAWNED makes it starting. */
static void s_spawn(struct lifecycle *lc, int64_t now)
{
    assert_true(lifecycle_waits(lc->state));
    struct lifecycle_step st = lifecycle_step(lc, LC_EV_DUE, now, 0);
    assert_int_equal(st.action, LC_DO_SPAWN);
    st = lifecycle_step(lc, LC_EV_SPAWNED, now, 0);
    assert_int_equal(st.to, LC_STARTING);
    assert_true(lc->started_ms == now);
    assert_true(lifecycle_has_process(lc->state));
}

static void test_a_life_of_crashes_failed_and_retry(void **state)
{
    (void)state;
    struct lifecycle lc;
    s_init(&lc, 3, 77);
    assert_int_equal(lc.state, LC_WAITING);
    assert_true(lc.due_ms == 0);
    int64_t now = 1000;
    for (int round = 0; round < 2; round++) {
        for (int crash = 1; crash <= 3; crash++) {
            s_spawn(&lc, now);
            assert_int_equal(lifecycle_step(&lc, LC_EV_READY, now + 10, 0).to, LC_RUNNING);
            now += 500;
            struct lifecycle_step st = lifecycle_step(&lc, LC_EV_EXITED, now, 1);
            assert_true(st.decided);
            assert_int_equal(st.action, LC_DO_REPORT_END);
            assert_int_equal(lc.restart.restarts, 3 * round + crash);
            if (crash < 3) {
                assert_int_equal(st.to, LC_WAITING);
                assert_int_equal(st.decision.next, MQG_RESTART_AFTER);
                assert_true(st.decision.delay_ms >= S_BASE);
                assert_true(lc.due_ms == now + st.decision.delay_ms);
            } else {
                assert_int_equal(st.to, LC_FAILED);
                assert_string_equal(lifecycle_state_name(lc.state), "failed");
                assert_int_equal(st.decision.crashes, 3);
                assert_true(lc.due_ms == now + S_RETRY);
            }
            now = lc.due_ms;
        }
    }
    lifecycle_free(&lc);
}

static void test_configuration_error_ends_the_life(void **state)
{
    (void)state;
    struct lifecycle lc;
    s_init(&lc, 3, 5);
    s_spawn(&lc, 100);
    struct lifecycle_step st = lifecycle_step(&lc, LC_EV_EXITED, 200, 78);
    assert_int_equal(st.to, LC_CONFIG);
    assert_int_equal(st.decision.next, MQG_RESTART_NEVER);
    assert_int_equal(lc.restart.restarts, 0);
    assert_string_equal(lifecycle_state_name(lc.state), "config");
    assert_false(lifecycle_waits(lc.state));
    assert_false(lifecycle_has_process(lc.state));
    for (int ev = 0; ev < LC_N_EVENTS; ev++) { /* nothing starts it again, not even a stop */
        st = lifecycle_step(&lc, (enum lifecycle_event)ev, 100000, 0);
        assert_int_equal(st.to, LC_CONFIG);
        assert_int_equal(st.action, LC_DO_NOTHING);
    }
    lifecycle_free(&lc);
}

static void test_deliberate_restart_is_at_once_and_not_counted(void **state)
{
    (void)state;
    struct lifecycle lc;
    s_init(&lc, 2, 9);
    for (int i = 0; i < 5; i++) { /* more than restart.max: never failed */
        int64_t now = 1000 + i * 100;
        s_spawn(&lc, now);
        (void)lifecycle_step(&lc, LC_EV_READY, now + 1, 0);
        assert_int_equal(lifecycle_step(&lc, LC_EV_RESTART, now + 2, 0).action, LC_DO_TERM);
        assert_int_equal(lifecycle_step(&lc, LC_EV_RESTART, now + 3, 0).action, LC_DO_TERM);
        assert_string_equal(lifecycle_state_name(lc.state), "running");
        struct lifecycle_step st = lifecycle_step(&lc, LC_EV_EXITED, now + 4, i ? 0 : 78);
        assert_int_equal(st.action, LC_DO_REPORT_RESTART);
        assert_int_equal(st.to, LC_WAITING);
        assert_int_equal(st.decision.delay_ms, 0);
        assert_true(lc.due_ms == now + 4);
    }
    assert_int_equal(lc.restart.restarts, 0);
    assert_int_equal(lc.restart.n_crashes, 0);
    /* asked while waiting or failed: due at once */
    lc.due_ms = 99999;
    assert_int_equal(lifecycle_step(&lc, LC_EV_RESTART, 5000, 0).action, LC_DO_START_NOW);
    assert_true(lc.due_ms == 5000);
    lc.state = LC_FAILED;
    lc.due_ms = 99999;
    assert_int_equal(lifecycle_step(&lc, LC_EV_RESTART, 6000, 0).to, LC_FAILED);
    assert_true(lc.due_ms == 6000);
    lifecycle_free(&lc);
}

static void test_failed_starts_follow_the_policy(void **state)
{
    (void)state;
    struct lifecycle lc;
    s_init(&lc, 2, 13);
    struct lifecycle_step st = lifecycle_step(&lc, LC_EV_SPAWN_FAILED, 1000, 0);
    assert_int_equal(st.to, LC_WAITING);
    assert_true(st.decision.delay_ms >= S_BASE && lc.due_ms == 1000 + st.decision.delay_ms);
    st = lifecycle_step(&lc, LC_EV_SPAWN_FAILED, lc.due_ms, 0);
    assert_int_equal(st.to, LC_FAILED);
    assert_int_equal(st.action, LC_DO_REPORT_RETRY);
    assert_int_equal(lc.restart.restarts, 0); /* not an end of a process */
    assert_true(lc.started_ms == 0);
    lifecycle_free(&lc);
}

/* The start time reaches the policy: after a run of stable_after_ms the pause starts over. */
static void test_a_stable_run_resets_the_pauses(void **state)
{
    (void)state;
    int short_runs_grew = 0;
    for (uint64_t seed = 1; seed <= 100; seed++) {
        struct lifecycle lc;
        s_init(&lc, 1000, seed);
        int64_t now = 1000;
        uint32_t delay = 0;
        for (int i = 0; i < 8; i++) { /* short runs: the pause grows */
            s_spawn(&lc, now);
            delay = lifecycle_step(&lc, LC_EV_EXITED, now + 100, 1).decision.delay_ms;
            now = lc.due_ms;
        }
        short_runs_grew += delay >= 3 * S_BASE;
        s_spawn(&lc, now);
        delay = lifecycle_step(&lc, LC_EV_EXITED, now + S_STABLE, 1).decision.delay_ms;
        assert_true(delay >= S_BASE && delay < 3 * S_BASE);
        lifecycle_free(&lc);
    }
    assert_true(short_runs_grew > 80);
}

static void test_stop_with_grace_period(void **state)
{
    (void)state;
    struct lifecycle lc;
    s_init(&lc, 3, 21);
    s_spawn(&lc, 100);
    assert_int_equal(lifecycle_step(&lc, LC_EV_STOP, 200, 0).action, LC_DO_TERM);
    assert_int_equal(lc.state, LC_STOPPING);
    assert_string_equal(lifecycle_state_name(lc.state), "running");
    /* no verdict on heartbeats while stopping, no second TERM, no restart */
    assert_int_equal(lifecycle_step(&lc, LC_EV_HUNG, 300, 0).action, LC_DO_NOTHING);
    assert_int_equal(lifecycle_step(&lc, LC_EV_STOP, 300, 0).action, LC_DO_NOTHING);
    assert_int_equal(lifecycle_step(&lc, LC_EV_RESTART, 300, 0).action, LC_DO_NOTHING);
    assert_int_equal(lifecycle_step(&lc, LC_EV_GRACE_OVER, 3200, 0).action, LC_DO_KILL_LATE);
    assert_int_equal(lifecycle_step(&lc, LC_EV_GRACE_OVER, 4200, 0).action, LC_DO_KILL_LATE);
    struct lifecycle_step st = lifecycle_step(&lc, LC_EV_EXITED, 4300, -1);
    assert_int_equal(st.to, LC_STOPPED);
    assert_int_equal(st.action, LC_DO_REPORT_STOPPED);
    assert_false(st.decided);
    assert_int_equal(lc.restart.restarts, 0);
    assert_string_equal(lifecycle_state_name(lc.state), "stopped");
    assert_int_equal(lifecycle_step(&lc, LC_EV_DUE, 99999, 0).action, LC_DO_NOTHING);
    /* a waiting child is stopped at once */
    lc.state = LC_WAITING;
    assert_int_equal(lifecycle_step(&lc, LC_EV_STOP, 5000, 0).to, LC_STOPPED);
    lifecycle_free(&lc);
}

static void test_state_queries(void **state)
{
    (void)state;
    static const char *const names[LC_N_STATES] = {"running", "running", "running", "running",
                                                   "waiting", "failed",  "config",  "stopped"};
    for (int s = 0; s < LC_N_STATES; s++) {
        assert_string_equal(lifecycle_state_name((enum lifecycle_state)s), names[s]);
        assert_int_equal(lifecycle_has_process((enum lifecycle_state)s), s <= LC_RESTARTING);
        assert_int_equal(lifecycle_waits((enum lifecycle_state)s),
                         s == LC_WAITING || s == LC_FAILED);
    }
    assert_string_equal(lifecycle_state_name(LC_N_STATES), "?");
    lifecycle_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_listed_transition),
        cmocka_unit_test(test_everything_else_changes_nothing),
        cmocka_unit_test(test_a_life_of_crashes_failed_and_retry),
        cmocka_unit_test(test_configuration_error_ends_the_life),
        cmocka_unit_test(test_deliberate_restart_is_at_once_and_not_counted),
        cmocka_unit_test(test_failed_starts_follow_the_policy),
        cmocka_unit_test(test_a_stable_run_resets_the_pauses),
        cmocka_unit_test(test_stop_with_grace_period),
        cmocka_unit_test(test_state_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
