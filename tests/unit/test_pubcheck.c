/* test_pubcheck — PUBLISH packet sizes against MQTT's and the broker's limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pubcheck.h"

static void test_sizes_as_paho_writes_them(void **state)
{
    (void)state;
    uint64_t rem;
    /* "a/b", "hi", QoS 0, MQTT 3.1.1: 30 07 00 03 'a/b' 'hi' */
    assert_int_equal(pc_publish_size(4, 3, 2, 0, &rem), 9);
    assert_int_equal(rem, 7);
    /* QoS 1 adds the packet id, MQTT 5 the empty property list */
    assert_int_equal(pc_publish_size(4, 3, 2, 1, NULL), 11);
    assert_int_equal(pc_publish_size(5, 3, 2, 1, NULL), 12);
    assert_int_equal(pc_publish_size(5, 3, 2, 0, NULL), 10);
    /* the Remaining Length takes 2 bytes from 128 on, 3 from 16384, 4 from 2097152 */
    assert_int_equal(pc_publish_size(4, 1, 124, 0, &rem), 1 + 1 + 127);
    assert_int_equal(pc_publish_size(4, 1, 125, 0, &rem), 1 + 2 + 128);
    assert_int_equal(pc_publish_size(4, 1, 16381, 0, &rem), 1 + 3 + 16384);
    assert_int_equal(pc_publish_size(4, 1, 2097149, 0, &rem), 1 + 4 + 2097152);
}

static void test_mqtt_maximum(void **state)
{
    (void)state;
    uint64_t size;
    /* Remaining Length exactly 268,435,455: still fits (packet 268,435,460 bytes) */
    size_t payload = PC_MAX_REMAINING - 2 - 10 - 2;
    assert_int_equal(pc_size_check(4, 10, payload, 1, 0, &size), PC_SIZE_OK);
    assert_int_equal(size, 1 + 4 + (uint64_t)PC_MAX_REMAINING);
    assert_int_equal(pc_size_check(4, 10, payload + 1, 1, 0, &size), PC_SIZE_MQTT);
    /* the same payload at QoS 0 has two bytes to spare, MQTT 5 one */
    assert_int_equal(pc_size_check(4, 10, payload + 2, 0, 0, &size), PC_SIZE_OK);
    assert_int_equal(pc_size_check(5, 10, payload + 2, 0, 0, &size), PC_SIZE_MQTT);
    assert_int_equal(pc_size_check(5, 10, payload + 1, 0, 0, &size), PC_SIZE_OK);
}

static void test_broker_maximum(void **state)
{
    (void)state;
    uint64_t size;
    /* MQTT 5, QoS 1, topic "out/x": 1 + 2 (Remaining Length) + 2 + 5 + 2 + 1 + payload */
    assert_int_equal(pc_size_check(5, 5, 9987, 1, 10000, &size), PC_SIZE_OK);
    assert_int_equal(size, 10000);
    assert_int_equal(pc_size_check(5, 5, 9988, 1, 10000, &size), PC_SIZE_BROKER);
    assert_int_equal(size, 10001);
    /* 0: no maximum announced */
    assert_int_equal(pc_size_check(5, 5, 1000000, 1, 0, &size), PC_SIZE_OK);
    /* MQTT's own bound comes first */
    assert_int_equal(pc_size_check(5, 5, PC_MAX_REMAINING, 1, 10000, &size), PC_SIZE_MQTT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_as_paho_writes_them),
        cmocka_unit_test(test_mqtt_maximum),
        cmocka_unit_test(test_broker_maximum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
