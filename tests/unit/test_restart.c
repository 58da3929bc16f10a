/* test_restart — unit tests of mqg_restart, the supervisor's restart policy.
 *
 * Pauses grow with jitter within [base, min(cap, 3 * previous)) and start over after a child
 * stayed up; the max-th crash within the window marks the child failed and says when it is
 * tried again; exit 78 is never restarted; deliberate restarts count nowhere. The policy is
 * pure and seeded, so every case runs on fixed times and over many seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_restart.h"

#define S_BASE 100
#define S_CAP 30000
#define S_WINDOW 60000
#define S_RETRY 3600000
#define S_STABLE 10000

static struct mqg_restart_policy s_policy(int max)
{
    return (struct mqg_restart_policy){.backoff_ms = S_BASE,
                                       .backoff_max_ms = S_CAP,
                                       .max = max,
                                       .window_ms = S_WINDOW,
                                       .failed_retry_ms = S_RETRY,
                                       .stable_after_ms = S_STABLE};
}

static void s_init(struct mqg_restart *r, int max, uint64_t seed)
{
    struct mqg_restart_policy p = s_policy(max);
    assert_int_equal(mqg_restart_init(r, &p, seed), 0);
}

/* A crash at now of a child started 1 s before: a restart after a pause, checked. */
static uint32_t s_crash_after(struct mqg_restart *r, int64_t now)
{
    struct mqg_restart_decision d = mqg_restart_ended(r, now, now - 1000, MQG_RESTART_CRASH);
    assert_int_equal(d.next, MQG_RESTART_AFTER);
    assert_true(d.at_ms == now + (int64_t)d.delay_ms);
    return d.delay_ms;
}

static void test_pauses_grow_with_jitter_within_bounds(void **state)
{
    (void)state;
    uint32_t first_lo = UINT32_MAX, first_hi = 0;
    int reached_cap = 0; /* children whose pause reached the cap */
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct mqg_restart r;
        s_init(&r, 1000000, seed * 0x9e3779b97f4a7c15ull);
        int64_t now = 1000000;
        uint32_t prev = 0;
        bool capped = false;
        for (int i = 0; i < 60; i++) {
            uint32_t d = s_crash_after(&r, now);
            uint64_t hi = 3ull * (prev ? prev : S_BASE);
            if (d < S_BASE || d > S_CAP || (d != S_CAP && d >= hi)) {
                fail_msg("seed %llu crash %d: pause %u outside [%u, min(%u, %llu))",
                         (unsigned long long)seed, i, d, S_BASE, S_CAP, (unsigned long long)hi);
            }
            if (i == 0) {
                first_lo = d < first_lo ? d : first_lo;
                first_hi = d > first_hi ? d : first_hi;
            }
            capped |= d == S_CAP;
            prev = d;
            now += d + 1000; /* started again after the pause, up for 1 s */
        }
        assert_int_equal(r.restarts, 60);
        reached_cap += capped;
        mqg_restart_free(&r);
    }
    /* jitter: the first pause spreads over [base, 3 * base) */
    assert_true(first_lo < S_BASE + 20);
    assert_true(first_hi > 3 * S_BASE - 20);
    /* growth: most children reach the cap within 60 crashes */
    assert_true(reached_cap > 200);
}

/* Drive r to a pause above 3 * base with short-lived runs; returns the time. */
static int64_t s_grow(struct mqg_restart *r, int64_t now)
{
    for (int i = 0; i < 200; i++) {
        uint32_t d = s_crash_after(r, now);
        now += d + 1000;
        if (d >= 3 * S_BASE) {
            return now;
        }
    }
    fail_msg("the pause never grew above 3 * base");
    return now;
}

static void test_pauses_start_over_after_a_stable_run(void **state)
{
    (void)state;
    int kept_growing = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct mqg_restart stable;
        struct mqg_restart brief;
        s_init(&stable, 1000000, seed);
        s_init(&brief, 1000000, seed);
        int64_t now = s_grow(&stable, 5000000);
        assert_true(s_grow(&brief, 5000000) == now);
        /* up exactly stable_after_ms: the pause starts from base again */
        struct mqg_restart_decision d =
            mqg_restart_ended(&stable, now, now - S_STABLE, MQG_RESTART_CRASH);
        assert_int_equal(d.next, MQG_RESTART_AFTER);
        assert_true(d.delay_ms >= S_BASE && d.delay_ms < 3 * S_BASE);
        /* up 1 ms less: it keeps growing from the last pause */
        d = mqg_restart_ended(&brief, now, now - S_STABLE + 1, MQG_RESTART_CRASH);
        assert_int_equal(d.next, MQG_RESTART_AFTER);
        kept_growing += d.delay_ms >= 3 * S_BASE;
        mqg_restart_free(&stable);
        mqg_restart_free(&brief);
    }
    assert_true(kept_growing > 100);
}

static void test_max_crashes_in_window_mark_failed(void **state)
{
    (void)state;
    struct mqg_restart r;
    s_init(&r, 4, 42);
    int64_t now = 100000;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3; i++) {
            (void)s_crash_after(&r, now);
            now += 1000;
        }
        struct mqg_restart_decision d = mqg_restart_ended(&r, now, now - 500, MQG_RESTART_CRASH);
        assert_int_equal(d.next, MQG_RESTART_FAILED);
        assert_true(d.at_ms == now + S_RETRY);
        assert_int_equal(d.crashes, 4);
        assert_int_equal(r.restarts, 4 * (round + 1));
        /* after the failed period: the count starts over (3 more crashes are restarted) */
        now = d.at_ms + 1000;
    }
    mqg_restart_free(&r);
}

/* A failed period shorter than the window: the crashes before it do not count after it. */
static void test_crashes_are_counted_afresh_after_failed(void **state)
{
    (void)state;
    struct mqg_restart_policy p = s_policy(3);
    p.failed_retry_ms = 5000;
    struct mqg_restart r;
    assert_int_equal(mqg_restart_init(&r, &p, 11), 0);
    int64_t now = 100000;
    for (int round = 0; round < 4; round++) {
        (void)s_crash_after(&r, now);
        (void)s_crash_after(&r, now + 100);
        struct mqg_restart_decision d =
            mqg_restart_ended(&r, now + 200, now + 150, MQG_RESTART_CRASH);
        assert_int_equal(d.next, MQG_RESTART_FAILED);
        assert_true(d.at_ms == now + 200 + 5000);
        now = d.at_ms + 10; /* all within one window of 60 s */
    }
    mqg_restart_free(&r);
}

static void test_crashes_spread_beyond_the_window_do_not_fail(void **state)
{
    (void)state;
    struct mqg_restart r;
    s_init(&r, 3, 7);
    int64_t now = 100000;
    for (int i = 0; i < 50; i++) { /* every 30.001 s: never three within 60 s */
        (void)s_crash_after(&r, now);
        now += S_WINDOW / 2 + 1;
    }
    mqg_restart_free(&r);
    /* the window is inclusive: three crashes exactly 60 s apart end to end do fail */
    s_init(&r, 3, 7);
    (void)s_crash_after(&r, 100000);
    (void)s_crash_after(&r, 100000 + S_WINDOW / 2);
    struct mqg_restart_decision d =
        mqg_restart_ended(&r, 100000 + S_WINDOW, 100000 + S_WINDOW - 1, MQG_RESTART_CRASH);
    assert_int_equal(d.next, MQG_RESTART_FAILED);
    assert_int_equal(d.crashes, 3);
    mqg_restart_free(&r);
    /* a crash that slid out of the window does not count */
    s_init(&r, 3, 7);
    (void)s_crash_after(&r, 100000);
    (void)s_crash_after(&r, 100001 + S_WINDOW);
    (void)s_crash_after(&r, 100002 + S_WINDOW);
    d = mqg_restart_ended(&r, 100003 + S_WINDOW, 100002 + S_WINDOW, MQG_RESTART_CRASH);
    assert_int_equal(d.next, MQG_RESTART_FAILED); /* now the last three are within it */
    mqg_restart_free(&r);
}

static void test_configuration_error_is_never_restarted(void **state)
{
    (void)state;
    assert_int_equal(mqg_restart_end_of_exit(78), MQG_RESTART_CONFIG);
    assert_int_equal(mqg_restart_end_of_exit(0), MQG_RESTART_CRASH);
    assert_int_equal(mqg_restart_end_of_exit(1), MQG_RESTART_CRASH);
    assert_int_equal(mqg_restart_end_of_exit(70), MQG_RESTART_CRASH);
    assert_int_equal(mqg_restart_end_of_exit(-1), MQG_RESTART_CRASH); /* a signal */
    struct mqg_restart r;
    s_init(&r, 3, 3);
    (void)s_crash_after(&r, 1000);
    for (int i = 0; i < 10; i++) {
        struct mqg_restart_decision d = mqg_restart_ended(&r, 2000 + i, 1500, MQG_RESTART_CONFIG);
        assert_int_equal(d.next, MQG_RESTART_NEVER);
        assert_true(d.at_ms == 0);
    }
    assert_int_equal(r.restarts, 1); /* not counted as restarts ... */
    (void)s_crash_after(&r, 3000);   /* ... nor in the window: 2 crashes of 3 */
    mqg_restart_free(&r);
}

static void test_deliberate_restarts_are_not_counted(void **state)
{
    (void)state;
    struct mqg_restart with;
    struct mqg_restart without;
    s_init(&with, 3, 99);
    s_init(&without, 3, 99);
    int64_t now = 100000;
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 20; k++) {
            struct mqg_restart_decision d =
                mqg_restart_ended(&with, now, now - 100, MQG_RESTART_DELIBERATE);
            assert_int_equal(d.next, MQG_RESTART_AFTER);
            assert_true(d.at_ms == now); /* at once */
            assert_int_equal(d.delay_ms, 0);
            now += 10;
        }
        /* the pauses of the crashes are those of a child never restarted deliberately */
        assert_int_equal(s_crash_after(&with, now), s_crash_after(&without, now));
        now += 1000;
    }
    assert_int_equal(with.restarts, 2);
    /* two crashes and forty deliberate restarts in the window: not failed (max 3) */
    assert_int_equal(with.n_crashes, 2);
    mqg_restart_free(&with);
    mqg_restart_free(&without);
}

static void test_failed_starts_count_in_the_window_only(void **state)
{
    (void)state;
    struct mqg_restart r;
    s_init(&r, 3, 5);
    int64_t now = 100000;
    struct mqg_restart_decision d;
    for (int i = 0; i < 2; i++) {
        d = mqg_restart_ended(&r, now, 0, MQG_RESTART_START_FAILED);
        assert_int_equal(d.next, MQG_RESTART_AFTER);
        assert_true(d.delay_ms >= S_BASE);
        now += d.delay_ms;
    }
    d = mqg_restart_ended(&r, now, 0, MQG_RESTART_START_FAILED);
    assert_int_equal(d.next, MQG_RESTART_FAILED);
    assert_true(d.at_ms == now + S_RETRY);
    assert_int_equal(r.restarts, 0);
    mqg_restart_free(&r);
}

static void test_seeded_and_deterministic(void **state)
{
    (void)state;
    struct mqg_restart a;
    struct mqg_restart b;
    struct mqg_restart c;
    s_init(&a, 1000, 0xfeed);
    s_init(&b, 1000, 0xfeed);
    s_init(&c, 1000, 0xfeee);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        int64_t now = 1000000 + (int64_t)i * 100000; /* the window holds one crash only */
        int64_t up = now - S_STABLE; /* each pause drawn afresh from [base, 3 * base) */
        uint32_t da = mqg_restart_ended(&a, now, up, MQG_RESTART_CRASH).delay_ms;
        assert_int_equal(da, mqg_restart_ended(&b, now, up, MQG_RESTART_CRASH).delay_ms);
        differ += da != mqg_restart_ended(&c, now, up, MQG_RESTART_CRASH).delay_ms;
    }
    assert_true(differ > 90);
    mqg_restart_free(&a);
    mqg_restart_free(&b);
    mqg_restart_free(&c);
}

static void test_max_below_one_is_one(void **state)
{
    (void)state;
    struct mqg_restart r;
    s_init(&r, 0, 1);
    assert_int_equal(r.policy.max, 1);
    struct mqg_restart_decision d = mqg_restart_ended(&r, 5000, 4000, MQG_RESTART_CRASH);
    assert_int_equal(d.next, MQG_RESTART_FAILED);
    assert_int_equal(d.crashes, 1);
    mqg_restart_free(&r);
    mqg_restart_free(&r); /* twice, and NULL: harmless */
    mqg_restart_free(NULL);
}

/* A reload's new policy on a running record: the new bounds and max apply from the next end;
 * the restarts counted stay; a different max counts the crashes afresh. */
static void test_new_policy_applies_to_the_next_end(void **state)
{
    (void)state;
    struct mqg_restart r;
    s_init(&r, 5, 7);
    int64_t now = 100000;
    for (int i = 0; i < 3; i++) {
        (void)s_crash_after(&r, now);
        now += 1000;
    }
    struct mqg_restart_policy p = s_policy(2);
    p.backoff_ms = 5000;
    p.backoff_max_ms = 6000;
    assert_int_equal(mqg_restart_set_policy(&r, &p), 0);
    assert_int_equal(r.restarts, 3);
    assert_int_equal(r.policy.max, 2);
    uint32_t pause = s_crash_after(&r, now); /* 1st of the 2 counted afresh */
    assert_true(pause >= 5000 && pause <= 6000);
    now += 1000;
    struct mqg_restart_decision d = mqg_restart_ended(&r, now, now - 500, MQG_RESTART_CRASH);
    assert_int_equal(d.next, MQG_RESTART_FAILED);
    assert_int_equal(d.crashes, 2);
    assert_int_equal(r.restarts, 5);
    p.max = 0; /* below one is one, as at init */
    assert_int_equal(mqg_restart_set_policy(&r, &p), 0);
    assert_int_equal(r.policy.max, 1);
    mqg_restart_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pauses_grow_with_jitter_within_bounds),
        cmocka_unit_test(test_pauses_start_over_after_a_stable_run),
        cmocka_unit_test(test_max_crashes_in_window_mark_failed),
        cmocka_unit_test(test_crashes_are_counted_afresh_after_failed),
        cmocka_unit_test(test_crashes_spread_beyond_the_window_do_not_fail),
        cmocka_unit_test(test_configuration_error_is_never_restarted),
        cmocka_unit_test(test_deliberate_restarts_are_not_counted),
        cmocka_unit_test(test_failed_starts_count_in_the_window_only),
        cmocka_unit_test(test_seeded_and_deterministic),
        cmocka_unit_test(test_max_below_one_is_one),
        cmocka_unit_test(test_new_policy_applies_to_the_next_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
