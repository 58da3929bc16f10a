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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_then_summaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
