/* test_ratelog — the first of a series at WARN, then one summary per interval. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mqg_ratelog.h"

static void test_first_then_summaries(void **state)
{
    (void)state;
    struct mqg_ratelog r;
    mqg_ratelog_init(&r, 60000);
    assert_int_equal(mqg_ratelog_summary(&r, 0), 0);
    /* a burst: the first in detail, the others counted */
    assert_true(mqg_ratelog_hit(&r, 1000));
    for (int i = 0; i < 999; i++) {
        assert_false(mqg_ratelog_hit(&r, 1000 + i));
    }
    assert_int_equal(r.total, 1000);
    assert_int_equal(mqg_ratelog_summary(&r, 60999), 0); /* not a full interval yet */
    assert_int_equal(mqg_ratelog_summary(&r, 61000), 999);
    assert_int_equal(mqg_ratelog_summary(&r, 200000), 0); /* nothing new */
    /* it goes on: one summary per interval, never a second detail line */
    assert_false(mqg_ratelog_hit(&r, 70000));
    assert_false(mqg_ratelog_hit(&r, 110000));
    assert_int_equal(mqg_ratelog_summary(&r, 120999), 0);
    assert_int_equal(mqg_ratelog_summary(&r, 121000), 2);
    /* quiet for an interval: the next one starts a new series, in detail */
    assert_true(mqg_ratelog_hit(&r, 181000));
    assert_false(mqg_ratelog_hit(&r, 181001));
    assert_int_equal(r.total, 1004);
}

static void test_tally(void **state)
{
    (void)state;
    uint64_t n = 0;
    assert_true(mqg_ratelog_tally(&n, 1)); /* the first */
    assert_false(mqg_ratelog_tally(&n, 1));
    assert_false(mqg_ratelog_tally(&n, 9997));
    assert_int_equal(n, 9999);
    assert_true(mqg_ratelog_tally(&n, 1)); /* reaches 10000 */
    assert_false(mqg_ratelog_tally(&n, 9999));
    assert_true(mqg_ratelog_tally(&n, 5)); /* passes 20000 */
    assert_int_equal(n, 20004);
    assert_true(mqg_ratelog_tally(&n, 30000)); /* passes two at once: one line */
    n = 0;
    assert_true(mqg_ratelog_tally(&n, 25000)); /* many at once the first time */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_then_summaries),
        cmocka_unit_test(test_tally),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
