/* test_queue — unit tests of the connector's message queue (connector/queue.c): order,
 * sequence numbers, and its bounds in items and in bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "queue.h"

static void s_push(struct cq *q, const char *topic, size_t payload_len)
{
    static char payload[4096];
    assert_true(payload_len <= sizeof(payload));
    memset(payload, 'p', payload_len);
    assert_int_equal(cq_push(q, topic, strlen(topic), payload, payload_len, 1, false), 0);
}

static void test_order_seq_and_bytes(void **state)
{
    struct cq q;
    cq_init(&q, 100);
    assert_int_equal(q.max_bytes, SIZE_MAX);
    s_push(&q, "a", 10);
    s_push(&q, "bb", 20);
    s_push(&q, "ccc", 30);
    assert_int_equal(q.count, 3);
    assert_int_equal(q.bytes, 1 + 10 + 2 + 20 + 3 + 30);
    assert_string_equal(cq_at(&q, 0)->topic, "a");
    assert_string_equal(cq_at(&q, 2)->topic, "ccc");
    uint64_t s1 = cq_at(&q, 1)->seq;
    size_t idx;
    assert_ptr_equal(cq_find(&q, s1, &idx), cq_at(&q, 1));
    assert_int_equal(idx, 1);
    cq_pop(&q);
    assert_int_equal(q.bytes, 2 + 20 + 3 + 30);
    assert_null(cq_find(&q, s1 - 1, NULL)); /* gone */
    assert_ptr_equal(cq_find(&q, s1, &idx), cq_at(&q, 0));
    cq_free(&q);
    assert_int_equal(q.count, 0);
}

static void test_item_bound(void **state)
{
    struct cq q;
    cq_init(&q, 3);
    for (int i = 0; i < 3; i++) {
        assert_false(cq_full(&q));
        assert_false(cq_over(&q, 1));
        s_push(&q, "t", 1);
    }
    assert_true(cq_full(&q));
    assert_true(cq_over(&q, 0));
    cq_free(&q);
    cq_init(&q, 0); /* 0 means 1 */
    assert_int_equal(q.max, 1);
    cq_free(&q);
}

static void test_byte_bound(void **state)
{
    struct cq q;
    cq_init(&q, 1000);
    q.max_bytes = 100;
    assert_false(cq_full(&q));
    s_push(&q, "t1", 38); /* 40 bytes */
    s_push(&q, "t2", 38); /* 80 */
    assert_false(cq_full(&q));
    assert_false(cq_over(&q, 20)); /* exactly 100 fits */
    assert_true(cq_over(&q, 21));
    assert_true(cq_over(&q, 1000)); /* larger than the bound */
    s_push(&q, "t3", 18);           /* 100 */
    assert_int_equal(q.bytes, 100);
    assert_true(cq_full(&q));
    /* the caller drops the oldest while over: one 40-byte item makes room for 40 */
    int dropped = 0;
    while (q.count && cq_over(&q, 40)) {
        cq_pop(&q);
        dropped++;
    }
    assert_int_equal(dropped, 1);
    s_push(&q, "t4", 38);
    assert_int_equal(q.bytes, 100);
    assert_string_equal(cq_at(&q, 0)->topic, "t2");
    /* an item larger than the bound empties the queue, and is then held alone */
    while (q.count && cq_over(&q, 500)) {
        cq_pop(&q);
    }
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    s_push(&q, "big", 497);
    assert_true(cq_full(&q));
    cq_free(&q);
}

static void test_seq_wrap(void **state)
{
    struct cq q;
    cq_init(&q, 100);
    q.next_seq = UINT64_MAX - 1;
    for (int i = 0; i < 4; i++) {
        s_push(&q, "w", 1);
    }
    assert_true(cq_at(&q, 0)->seq == UINT64_MAX - 1);
    assert_true(cq_at(&q, 2)->seq == 0);
    assert_true(cq_at(&q, 3)->seq == 1);
    size_t idx;
    assert_ptr_equal(cq_find(&q, 0, &idx), cq_at(&q, 2));
    assert_int_equal(idx, 2);
    assert_ptr_equal(cq_find(&q, UINT64_MAX, &idx), cq_at(&q, 1));
    assert_null(cq_find(&q, 2, NULL));              /* not pushed yet */
    assert_null(cq_find(&q, UINT64_MAX - 2, NULL)); /* before the oldest */
    cq_pop(&q);
    cq_pop(&q);
    assert_null(cq_find(&q, UINT64_MAX, NULL)); /* gone */
    assert_ptr_equal(cq_find(&q, 1, &idx), cq_at(&q, 1));
    cq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_seq_and_bytes),
        cmocka_unit_test(test_item_bound),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_seq_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
