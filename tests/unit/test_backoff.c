/* test_backoff — unit tests of mqg_backoff: bounds, growth, cap, reset, determinism.
 *
 * Each delay must lie in [base, min(cap, 3 * previous)), the first one in [base, 3 * base);
 * checked over many seeds and iterations, as the generator is seeded and pure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_backoff.h"
#include "mqg_model.h"

static uint64_t s_min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Check one delay against the previous one (0 = first after init/reset). */
static void s_check(const struct mqg_backoff *b, uint32_t prev, uint32_t d)
{
    uint64_t p = prev ? prev : b->base_ms;
    if (d < b->base_ms || d > b->cap_ms) {
        fail_msg("delay %u outside [%u, %u]", d, b->base_ms, b->cap_ms);
    }
    /* below 3 * prev, unless capped (the cap itself may be above a delay drawn from below) */
    if (d != b->cap_ms && d >= 3 * p) {
        fail_msg("delay %u not below 3 * %llu", d, (unsigned long long)p);
    }
    if (d > s_min64(b->cap_ms, 3 * p)) {
        fail_msg("delay %u above min(cap, 3 * prev)", d);
    }
}

static void test_bounds(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct mqg_backoff b;
        mqg_backoff_init(&b, 100, 30000, seed * 0x9e3779b97f4a7c15ull);
        uint32_t prev = 0;
        for (int i = 0; i < 1000; i++) {
            uint32_t d = mqg_backoff_next(&b);
            s_check(&b, prev, d);
            assert_int_equal(b.prev_ms, d);
            prev = d;
        }
        assert_int_equal(b.attempts, 1000);
        assert_true(b.rng != 0);
    }
}

static void test_first_delay(void **state)
{
    (void)state;
    uint32_t lo = UINT32_MAX;
    uint32_t hi = 0;
    for (uint64_t seed = 1; seed <= 2000; seed++) {
        struct mqg_backoff b;
        mqg_backoff_init(&b, 1000, 60000, seed);
        assert_int_equal(b.prev_ms, 0);
        assert_int_equal(b.attempts, 0);
        uint32_t d = mqg_backoff_next(&b);
        assert_true(d >= 1000 && d < 3000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* jitter really spreads over the range */
    assert_true(lo < 1100);
    assert_true(hi > 2900);
}

static void test_grows_to_cap(void **state)
{
    (void)state;
    struct mqg_backoff b;
    mqg_backoff_init(&b, 10, 5000, 12345);
    int at_cap = 0;
    uint32_t max = 0;
    for (int i = 0; i < 2000; i++) {
        uint32_t d = mqg_backoff_next(&b);
        assert_true(d <= 5000);
        at_cap += d == 5000;
        max = d > max ? d : max;
    }
    assert_int_equal(max, 5000);
    /* from the cap, min(cap, U[base, 3 cap)) stays at the cap 2/3 of the time, but a draw
     * below it lowers the next range: about a quarter of the delays are at the cap */
    assert_true(at_cap > 300);
    assert_true(at_cap < 800);
}

static void test_reset(void **state)
{
    (void)state;
    struct mqg_backoff b;
    mqg_backoff_init(&b, 50, 100000, 7);
    for (int i = 0; i < 100; i++) {
        (void)mqg_backoff_next(&b);
    }
    assert_int_equal(b.attempts, 100);
    assert_true(b.prev_ms > 150);
    for (int round = 0; round < 500; round++) {
        mqg_backoff_reset(&b);
        assert_int_equal(b.prev_ms, 0);
        assert_int_equal(b.attempts, 0);
        assert_true(b.rng != 0);
        uint32_t d = mqg_backoff_next(&b);
        assert_true(d >= 50 && d < 150);
        assert_int_equal(b.attempts, 1);
        for (int i = 0; i < 20; i++) {
            (void)mqg_backoff_next(&b);
        }
    }
}

static void test_cap_equals_base(void **state)
{
    (void)state;
    struct mqg_backoff b;
    mqg_backoff_init(&b, 500, 500, 99);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(mqg_backoff_next(&b), 500);
    }
    /* cap below base is raised to base */
    mqg_backoff_init(&b, 500, 10, 99);
    assert_int_equal(b.cap_ms, 500);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(mqg_backoff_next(&b), 500);
    }
    /* base 0 is raised to 1 */
    mqg_backoff_init(&b, 0, 0, 99);
    assert_int_equal(b.base_ms, 1);
    assert_int_equal(b.cap_ms, 1);
    assert_int_equal(mqg_backoff_next(&b), 1);
    /* base 1: delays 1 or 2 first */
    mqg_backoff_init(&b, 1, 1000, 5);
    uint32_t d = mqg_backoff_next(&b);
    assert_true(d == 1 || d == 2);
}

static void test_determinism(void **state)
{
    (void)state;
    struct mqg_backoff a;
    struct mqg_backoff b;
    struct mqg_backoff c;
    mqg_backoff_init(&a, 100, 60000, 0xfeedface);
    mqg_backoff_init(&b, 100, 60000, 0xfeedface);
    mqg_backoff_init(&c, 100, 60000, 0xfeedfacf);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t da = mqg_backoff_next(&a);
        assert_int_equal(da, mqg_backoff_next(&b));
        differ += da != mqg_backoff_next(&c);
        if (i % 97 == 0) {
            mqg_backoff_reset(&a);
            mqg_backoff_reset(&b);
            mqg_backoff_reset(&c);
        }
    }
    assert_true(differ > 900);
    assert_int_equal(a.prev_ms, b.prev_ms);
    assert_true(a.rng == b.rng);
    assert_int_equal(a.attempts, b.attempts);
}

static void test_seed_zero(void **state)
{
    (void)state;
    struct mqg_backoff a;
    struct mqg_backoff b;
    mqg_backoff_init(&a, 100, 60000, 0);
    mqg_backoff_init(&b, 100, 60000, 0);
    assert_true(a.rng != 0);
    uint32_t first = mqg_backoff_next(&a);
    assert_int_equal(first, mqg_backoff_next(&b));
    int same = 0;
    for (int i = 0; i < 100; i++) {
        mqg_backoff_reset(&a);
        same += mqg_backoff_next(&a) == first;
    }
    assert_true(same < 10); /* not stuck */
}

/* Values near UINT32_MAX: no overflow of 3 * prev, delays stay within [base, cap]. */
static void test_large_values(void **state)
{
    (void)state;
    struct mqg_backoff b;
    mqg_backoff_init(&b, UINT32_MAX / 2, UINT32_MAX, 3);
    uint32_t prev = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t d = mqg_backoff_next(&b);
        s_check(&b, prev, d);
        prev = d;
    }
    mqg_backoff_init(&b, UINT32_MAX, UINT32_MAX, 3);
    assert_int_equal(mqg_backoff_next(&b), UINT32_MAX);
}

static void test_attempts_saturate(void **state)
{
    (void)state;
    struct mqg_backoff b;
    mqg_backoff_init(&b, 1, 10, 3);
    b.attempts = UINT32_MAX - 1;
    (void)mqg_backoff_next(&b);
    assert_int_equal(b.attempts, UINT32_MAX);
    (void)mqg_backoff_next(&b);
    assert_int_equal(b.attempts, UINT32_MAX);
}

/* connectionStrategy: the delays Connectware documents, without jitter: initialDelay, times
 * incrementFactor each time, at most maxDelay; from initialDelay again after a success. */
static void test_connection_strategy(void **state)
{
    (void)state;
    struct mqg_connection c = {
        .reconnect_period_ms = 1000, .reconnect_max_ms = 5000, .reconnect_factor = 2};
    struct mqg_backoff b;
    mqg_backoff_init_conn(&b, &c, 7);
    static const uint32_t want[] = {1000, 2000, 4000, 5000, 5000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(mqg_backoff_next(&b), want[i]);
    }
    mqg_backoff_reset(&b);
    assert_int_equal(mqg_backoff_next(&b), 1000);
    assert_int_equal(mqg_backoff_next(&b), 2000);

    /* factor 3 from 1500, maxDelay 30000: 1500, 4500, 13500, 30000 */
    c = (struct mqg_connection){
        .reconnect_period_ms = 1500, .reconnect_max_ms = 30000, .reconnect_factor = 3};
    mqg_backoff_init_conn(&b, &c, 7);
    static const uint32_t want3[] = {1500, 4500, 13500, 30000, 30000};
    for (size_t i = 0; i < sizeof(want3) / sizeof(want3[0]); i++) {
        assert_int_equal(mqg_backoff_next(&b), want3[i]);
    }
    /* a huge factor does not overflow */
    c.reconnect_factor = 2147483647;
    c.reconnect_max_ms = 2147483647;
    mqg_backoff_init_conn(&b, &c, 7);
    assert_int_equal(mqg_backoff_next(&b), 1500);
    assert_int_equal(mqg_backoff_next(&b), 2147483647u);
    assert_int_equal(mqg_backoff_next(&b), 2147483647u);
}

/* Without connectionStrategy: reconnectPeriod (0 = 1000) with jitter up to 60 s, or up to
 * reconnectPeriod when longer, or up to reconnect_max_ms (the internal broker's 5 s). */
static void test_reconnect_period(void **state)
{
    (void)state;
    struct mqg_connection c = {.reconnect_period_ms = 0};
    struct mqg_backoff b;
    mqg_backoff_init_conn(&b, &c, 7);
    assert_int_equal(b.base_ms, 1000);
    assert_int_equal(b.cap_ms, 60000);
    assert_int_equal(b.factor, 0);
    uint32_t d = mqg_backoff_next(&b);
    assert_true(d >= 1000 && d < 3000);
    c.reconnect_period_ms = 90000;
    mqg_backoff_init_conn(&b, &c, 7);
    assert_int_equal(b.cap_ms, 90000);
    c = (struct mqg_connection){.reconnect_period_ms = 250, .reconnect_max_ms = 5000};
    mqg_backoff_init_conn(&b, &c, 7);
    for (int i = 0; i < 50; i++) {
        d = mqg_backoff_next(&b);
        assert_true(d >= 250 && d <= 5000);
    }
    assert_int_equal(d, 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_first_delay),
        cmocka_unit_test(test_grows_to_cap),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_cap_equals_base),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_seed_zero),
        cmocka_unit_test(test_large_values),
        cmocka_unit_test(test_attempts_saturate),
        cmocka_unit_test(test_connection_strategy),
        cmocka_unit_test(test_reconnect_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
