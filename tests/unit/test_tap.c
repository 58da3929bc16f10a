/* test_tap — mqg_tap: frames built by the router and read by the tap, gaps, filters, the
 * printable check and the lines `mqgate tap` prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "mqg_tap.h"

static struct mqg_wire_rec s_rec(const char *topic, const void *payload, size_t len, int qos,
                                 bool retain)
{
    return (struct mqg_wire_rec){.flags = retain ? MQG_WIRE_F_RETAIN : 0,
                                 .qos = (uint8_t)qos,
                                 .topic = topic,
                                 .topic_len = strlen(topic),
                                 .payload = payload,
                                 .payload_len = len};
}

/* m printed with fmt at 2026-12-01T02:03:04.005Z, into a heap string (caller frees). */
static char *s_line(const struct mqg_tap_msg *m, bool json, size_t max_bytes)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct mqg_tap_fmt fmt = {.json = json, .max_bytes = max_bytes};
    mqg_tap_print(f, &fmt, 1796090584005LL, m);
    fclose(f);
    return buf;
}

static struct mqg_tap_msg s_msg(const char *topic, const void *payload, size_t len, size_t size)
{
    return (struct mqg_tap_msg){.qos = 1,
                                .topic = topic,
                                .topic_len = strlen(topic),
                                .size = size,
                                .payload = payload,
                                .copied = len};
}

static void test_frame_round_trip(void **state)
{
    (void)state;
    struct mqg_tap_frame f = {0};
    struct mqg_wire_rec a = s_rec("services/s/a", "21.5", 4, 1, false);
    struct mqg_wire_rec b = s_rec("services/s/b", "", 0, 0, true);
    assert_int_equal(mqg_tap_frame_add(&f, 7, &a), 0);
    assert_int_equal(mqg_tap_frame_add(&f, 8, &b), 0);
    mqg_tap_frame_seal(&f, 99, 1234);

    struct mqg_tap_view v;
    assert_int_equal(mqg_tap_open(f.buf, f.len, &v), 0);
    assert_int_equal(v.count, 2);
    assert_int_equal(v.first, 7);
    assert_int_equal(v.epoch, 99);
    assert_int_equal(v.wall_ms, 1234);
    size_t off = 0;
    struct mqg_tap_msg m;
    assert_int_equal(mqg_tap_next(&v, &off, &m), 1);
    assert_int_equal(m.topic_len, 12);
    assert_memory_equal(m.topic, "services/s/a", 12);
    assert_int_equal(m.qos, 1);
    assert_false(m.retain);
    assert_int_equal(m.size, 4);
    assert_int_equal(m.copied, 4);
    assert_memory_equal(m.payload, "21.5", 4);
    assert_int_equal(mqg_tap_next(&v, &off, &m), 1);
    assert_true(m.retain);
    assert_int_equal(m.qos, 0);
    assert_int_equal(m.size, 0);
    assert_int_equal(mqg_tap_next(&v, &off, &m), 0);

    /* cut short or not a frame */
    assert_int_equal(mqg_tap_open(f.buf, 10, &v), -EPROTO);
    assert_int_equal(mqg_tap_open("XXXX", 4, &v), -EPROTO);
    assert_int_equal(mqg_tap_open(f.buf, f.len - 1, &v), 0);
    off = 0;
    assert_int_equal(mqg_tap_next(&v, &off, &m), 1);
    assert_int_equal(mqg_tap_next(&v, &off, &m), -EPROTO);

    /* reset: the next frame starts again with its own first seq */
    mqg_tap_frame_reset(&f);
    assert_int_equal(mqg_tap_frame_add(&f, 20, &b), 0);
    mqg_tap_frame_seal(&f, 99, 1);
    assert_int_equal(mqg_tap_open(f.buf, f.len, &v), 0);
    assert_int_equal(v.count, 1);
    assert_int_equal(v.first, 20);
    mqg_tap_frame_free(&f);
}

static void test_large_payload_is_capped(void **state)
{
    (void)state;
    size_t big = MQG_TAP_PAYLOAD_MAX + 1000;
    char *p = calloc(1, big);
    struct mqg_tap_frame f = {0};
    struct mqg_wire_rec a = s_rec("t", p, big, 0, false);
    assert_int_equal(mqg_tap_frame_add(&f, 0, &a), 0);
    mqg_tap_frame_seal(&f, 1, 1);
    struct mqg_tap_view v;
    struct mqg_tap_msg m;
    size_t off = 0;
    assert_int_equal(mqg_tap_open(f.buf, f.len, &v), 0);
    assert_int_equal(mqg_tap_next(&v, &off, &m), 1);
    assert_int_equal(m.size, big);
    assert_int_equal(m.copied, MQG_TAP_PAYLOAD_MAX);
    assert_true(f.len <= MQG_TAP_FRAME_MAX);
    mqg_tap_frame_free(&f);
    free(p);
}

static void test_gaps(void **state)
{
    (void)state;
    struct mqg_tap_gaps g = {0};
    struct mqg_tap_view v = {.epoch = 5, .first = 100, .count = 3};
    assert_int_equal(mqg_tap_gaps_frame(&g, &v), 0); /* the first: nothing missed */
    v.first = 103;
    assert_int_equal(mqg_tap_gaps_frame(&g, &v), 0);
    v.first = 110; /* 106..109 dropped */
    assert_int_equal(mqg_tap_gaps_frame(&g, &v), 4);
    v.epoch = 6; /* a new router: numbers start again */
    v.first = 0;
    assert_int_equal(mqg_tap_gaps_frame(&g, &v), 0);
    v.first = 5;
    assert_int_equal(mqg_tap_gaps_frame(&g, &v), 2);
    assert_int_equal(g.missed, 6);
}

static void test_filters(void **state)
{
    (void)state;
    char *filters[] = {"services/mqttconnectiontest/+", "plant/#"};
    assert_true(mqg_tap_match(filters, 2, "services/mqttconnectiontest/a", 29));
    assert_false(mqg_tap_match(filters, 2, "services/mqttconnectiontest/a/b", 31));
    assert_true(mqg_tap_match(filters, 2, "plant", 5));
    assert_true(mqg_tap_match(filters, 2, "plant/x/y", 9));
    assert_false(mqg_tap_match(filters, 2, "services/other/a", 16));
    /* the topic is not NUL-terminated: only len bytes count */
    assert_true(mqg_tap_match(filters, 2, "plant/x/yZZZ", 9));
    assert_false(mqg_tap_match(filters, 1, "plantX", 6));
    char *all[] = {"#"};
    assert_true(mqg_tap_match(all, 1, "a/b", 3));
    assert_false(mqg_tap_match(all, 1, "$SYS/x", 6)); /* MQTT: # does not match $ topics */
}

static void test_printable(void **state)
{
    (void)state;
    assert_true(mqg_tap_printable((const uint8_t *)"hello", 5, false));
    assert_true(mqg_tap_printable((const uint8_t *)"", 0, false));
    assert_true(mqg_tap_printable((const uint8_t *)"a\tb\nc\r", 6, false));
    assert_true(mqg_tap_printable((const uint8_t *)"\xc3\xa9t\xc3\xa9 \xe2\x82\xac", 9, false));
    assert_false(mqg_tap_printable((const uint8_t *)"a\0b", 3, false));
    assert_false(mqg_tap_printable((const uint8_t *)"\x1b[2J", 4, false));
    assert_false(mqg_tap_printable((const uint8_t *)"\x7f", 1, false));
    assert_false(mqg_tap_printable((const uint8_t *)"\xc2\x85", 2, false)); /* C1 NEL */
    assert_false(mqg_tap_printable((const uint8_t *)"\xff\xfe", 2, false));
    assert_false(mqg_tap_printable((const uint8_t *)"\xc0\xaf", 2, false));     /* overlong */
    assert_false(mqg_tap_printable((const uint8_t *)"\xed\xa0\x80", 3, false)); /* surrogate */
    /* a character cut at the end: only when the payload was cut */
    assert_false(mqg_tap_printable((const uint8_t *)"ab\xe2\x82", 4, false));
    assert_true(mqg_tap_printable((const uint8_t *)"ab\xe2\x82", 4, true));
}

static void test_text_lines(void **state)
{
    (void)state;
    struct mqg_tap_msg m = s_msg("services/s/temp", "21.5", 4, 4);
    char *l = s_line(&m, false, 1024);
    assert_string_equal(l, "2026-12-01T02:03:04.005Z services/s/temp qos=1 retain=0 size=4 "
                           "text 21.5\n");
    free(l);
    m.retain = true;
    m.qos = 0;
    l = s_line(&m, false, 2); /* --max-bytes 2 */
    assert_string_equal(l, "2026-12-01T02:03:04.005Z services/s/temp qos=0 retain=1 size=4 "
                           "text 21 (+2 bytes)\n");
    free(l);
    m = s_msg("t", "\x01\x02\xff", 3, 3);
    l = s_line(&m, false, 1024);
    assert_string_equal(l, "2026-12-01T02:03:04.005Z t qos=1 retain=0 size=3 hex 0102ff\n");
    free(l);
    /* newlines stay on the line; a topic with control characters is escaped */
    m = s_msg("a\x1b", "x\ny", 3, 3);
    l = s_line(&m, false, 1024);
    assert_string_equal(l, "2026-12-01T02:03:04.005Z a\\x1b qos=1 retain=0 size=3 text x\\ny\n");
    free(l);
    /* cut inside a character: the whole character goes */
    m = s_msg("t", "a\xe2\x82\xac", 4, 4);
    l = s_line(&m, false, 3);
    assert_string_equal(l, "2026-12-01T02:03:04.005Z t qos=1 retain=0 size=4 text a (+3 bytes)\n");
    free(l);
    /* only part of the payload came (the router's copy limit) */
    m = s_msg("t", "abc", 3, 100000);
    l = s_line(&m, false, 65536);
    assert_string_equal(l, "2026-12-01T02:03:04.005Z t qos=1 retain=0 size=100000 text abc "
                           "(+99997 bytes)\n");
    free(l);
    m = s_msg("t", "abc", 3, 3);
    l = s_line(&m, false, 0);
    assert_string_equal(l, "2026-12-01T02:03:04.005Z t qos=1 retain=0 size=3 text  (+3 bytes)\n");
    free(l);
}

static void test_json_lines(void **state)
{
    (void)state;
    struct mqg_tap_msg m = s_msg("services/s/\"q\"", "{\"v\":1}\n", 8, 8);
    char *l = s_line(&m, true, 1024);
    assert_string_equal(l,
                        "{\"time\":\"2026-12-01T02:03:04.005Z\",\"topic\":\"services/s/\\\"q\\\"\","
                        "\"qos\":1,\"retain\":false,\"size\":8,\"encoding\":\"text\","
                        "\"payload\":\"{\\\"v\\\":1}\\n\",\"truncated\":false}\n");
    free(l);
    m = s_msg("t", "\x00\x10\xab", 3, 3);
    m.retain = true;
    l = s_line(&m, true, 2);
    assert_string_equal(l, "{\"time\":\"2026-12-01T02:03:04.005Z\",\"topic\":\"t\",\"qos\":1,"
                           "\"retain\":true,\"size\":3,\"encoding\":\"hex\",\"payload\":\"0010\","
                           "\"truncated\":true}\n");
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_round_trip),
        cmocka_unit_test(test_large_payload_is_capped),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_printable),
        cmocka_unit_test(test_text_lines),
        cmocka_unit_test(test_json_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
