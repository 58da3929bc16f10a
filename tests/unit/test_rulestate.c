/* test_rulestate — unit tests of mqg_rulestate: cov, burst, collect and stash.
 *
 * The sequences are the input and output messages of Connectware's public gallery
 * (02_data-processing/06_cov, 08_burst, 07_collect, 04_stash; docs/rules.md), plus the edges
 * the gallery leaves open, pinned to the behaviour docs/rules.md chooses. Values are JSON text as
 * the engine writes it (22.0 is "22").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_rulestate.h"

/* Feed values (NULL = key missing) and compare the pass/filter pattern ("PFFP..."). */
static void s_cov_seq(enum mqg_cov_mode mode, double deadband, const char *const *values, size_t n,
                      const char *want)
{
    struct mqg_cov *c = NULL;
    assert_int_equal(mqg_cov_new(mode, deadband, &c), 0);
    char got[64] = "";
    for (size_t i = 0; i < n; i++) {
        bool pass = false;
        assert_int_equal(mqg_cov_check(c, values[i], values[i] ? strlen(values[i]) : 0, &pass), 0);
        got[i] = pass ? 'P' : 'F';
    }
    mqg_cov_destroy(&c);
    assert_null(c);
    if (strcmp(got, want)) {
        fail_msg("cov pattern %s, want %s", got, want);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_cov_gallery(void **state)
{
    /* level 1: key state, no deadband */
    static const char *const states[] = {"\"running\"", "\"running\"", "\"stopped\"", "\"stopped\"",
                                         "\"error\""};
    s_cov_seq(MQG_COV_EXACT, 0, states, N(states), "PFPFP");
    /* level 2: temperature, deadband 0.5 absolute: compared with the last value passed */
    static const char *const temps[] = {"22", "22.1", "22.3", "22.6", "22.8", "21.9"};
    s_cov_seq(MQG_COV_ABSOLUTE, 0.5, temps, N(temps), "PFFPFP");
    /* level 3: pressure_bar, deadband 5 relative (per cent of the last value passed) */
    static const char *const bars[] = {"100", "102", "106", "108", "115"};
    s_cov_seq(MQG_COV_RELATIVE, 5, bars, N(bars), "PFPFP");
    /* level 5: diameter_mm, deadband 0.01 absolute */
    static const char *const mm[] = {"25.05", "25.052", "25.062", "25.065", "25.035"};
    s_cov_seq(MQG_COV_ABSOLUTE, 0.01, mm, N(mm), "PFPFP");
    /* level 7: a whole object (canonical text: keys sorted) */
    static const char *const settings[] = {"{\"host\":\"db1\",\"port\":5432}",
                                           "{\"host\":\"db1\",\"port\":5432}",
                                           "{\"host\":\"db2\",\"port\":5433}"};
    s_cov_seq(MQG_COV_EXACT, 0, settings, N(settings), "PFP");
}

static void test_cov_edges(void **state)
{
    /* exactly the deadband is not a change (as OPC UA's "exceeds"; docs/rules.md) */
    static const char *const edge[] = {"22", "22.5", "23.1"};
    s_cov_seq(MQG_COV_ABSOLUTE, 0.5, edge, N(edge), "PFP");
    /* deadband 0: any numeric change */
    static const char *const zero[] = {"1", "1", "1.0000001"};
    s_cov_seq(MQG_COV_ABSOLUTE, 0, zero, N(zero), "PFP");
    /* relative from 0: any change passes */
    static const char *const from0[] = {"0", "0", "0.001", "0.001"};
    s_cov_seq(MQG_COV_RELATIVE, 5, from0, N(from0), "PFPF");
    /* a missing key is a value of its own; the first message always passes */
    static const char *const missing[] = {NULL, NULL, "1", NULL, "1"};
    s_cov_seq(MQG_COV_EXACT, 0, missing, N(missing), "PFPPP");
    /* with a deadband, values that are not both numbers are compared exactly */
    static const char *const mixed[] = {"\"a\"", "\"a\"", "5", "5.1", "\"5.1\"", "null"};
    s_cov_seq(MQG_COV_ABSOLUTE, 1, mixed, N(mixed), "PFPFPP");
    /* number texts are JSON numbers, not prefixes */
    static const char *const texts[] = {"1", "1e0", "1x"};
    s_cov_seq(MQG_COV_ABSOLUTE, 0.5, texts, N(texts), "PFP");

    struct mqg_cov *c = (struct mqg_cov *)1;
    assert_int_equal(mqg_cov_new(MQG_COV_ABSOLUTE, -1, &c), -EINVAL);
    assert_null(c);
    assert_int_equal(mqg_cov_new(MQG_COV_RELATIVE, 1.0 / 0.0, &c), -EINVAL);
    assert_int_equal(mqg_cov_new((enum mqg_cov_mode)7, 1, &c), -EINVAL);
    mqg_cov_destroy(&c);
    mqg_cov_destroy(NULL);
}

static void s_push(struct mqg_burst *b, const char *m, uint64_t t, const char *want)
{
    char *out = NULL;
    assert_int_equal(mqg_burst_push(b, m, strlen(m), t, &out), 0);
    if (!want) {
        if (out) {
            fail_msg("push %s at %llu: unexpected %s", m, (unsigned long long)t, out);
        }
        return;
    }
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void s_tick(struct mqg_burst *b, uint64_t t, const char *want)
{
    char *out = NULL;
    assert_int_equal(mqg_burst_tick(b, t, &out), 0);
    if (!want) {
        if (out) {
            fail_msg("tick at %llu: unexpected %s", (unsigned long long)t, out);
        }
        return;
    }
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void test_burst_gallery(void **state)
{
    struct mqg_burst *b = NULL;
    /* example 1: maxSize 3 */
    assert_int_equal(mqg_burst_new(3, 0, &b), 0);
    s_push(b, "{\"value\":23.1}", 100, NULL);
    s_push(b, "{\"value\":23.2}", 200, NULL);
    assert_int_equal(mqg_burst_pending(b), 2);
    assert_int_equal(mqg_burst_due(b), 0); /* no interval: no timer */
    s_push(b, "{\"value\":23.3}", 300, "[{\"value\":23.1},{\"value\":23.2},{\"value\":23.3}]");
    assert_int_equal(mqg_burst_pending(b), 0);
    mqg_burst_destroy(&b);

    /* example 2: interval 2000, from the first message of the batch */
    assert_int_equal(mqg_burst_new(0, 2000, &b), 0);
    s_tick(b, 0, NULL);
    s_push(b, "{\"value\":1013.2}", 0, NULL);
    s_push(b, "{\"value\":1013.1}", 500, NULL);
    assert_int_equal(mqg_burst_due(b), 2000);
    s_tick(b, 1999, NULL);
    s_tick(b, 2000, "[{\"value\":1013.2},{\"value\":1013.1}]");
    /* no messages, no output (no empty arrays) */
    assert_int_equal(mqg_burst_due(b), 0);
    s_tick(b, 4000, NULL);
    s_tick(b, 6000, NULL);
    /* the next countdown starts with the next message, not on a fixed grid */
    s_push(b, "1", 10500, NULL);
    assert_int_equal(mqg_burst_due(b), 12500);
    s_tick(b, 12500, "[1]");
    mqg_burst_destroy(&b);

    /* example 3: maxSize 5 or interval 3000, whichever first */
    assert_int_equal(mqg_burst_new(5, 3000, &b), 0);
    s_push(b, "45.1", 0, NULL);
    s_push(b, "45.2", 100, NULL);
    s_push(b, "45.3", 200, NULL);
    s_push(b, "45.4", 300, NULL);
    s_push(b, "45.5", 400, "[45.1,45.2,45.3,45.4,45.5]");
    s_tick(b, 3000, NULL); /* the size burst reset the timer */
    s_push(b, "44.8", 5000, NULL);
    s_push(b, "44.9", 6000, NULL);
    s_tick(b, 7999, NULL);
    s_tick(b, 8000, "[44.8,44.9]");
    mqg_burst_destroy(&b);
    assert_null(b);
}

static void test_burst_edges(void **state)
{
    struct mqg_burst *b = NULL;
    /* neither option: the rule is inactive, each message passes as it is */
    assert_int_equal(mqg_burst_new(0, 0, &b), 0);
    s_push(b, "{\"a\":1}", 0, "{\"a\":1}");
    s_push(b, "\"x\"", 1, "\"x\"");
    assert_int_equal(mqg_burst_pending(b), 0);
    mqg_burst_destroy(&b);
    /* maxSize 1: every message is its own array */
    assert_int_equal(mqg_burst_new(1, 0, &b), 0);
    s_push(b, "7", 0, "[7]");
    mqg_burst_destroy(&b);
    /* interval only: mqgate's hard bound ends a batch that grows too large */
    assert_int_equal(mqg_burst_new(0, 60000, &b), 0);
    for (int i = 1; i < MQG_BURST_HARD_MAX; i++) {
        char *out = NULL;
        assert_int_equal(mqg_burst_push(b, "0", 1, (uint64_t)i, &out), 0);
        assert_null(out);
    }
    char *out = NULL;
    assert_int_equal(mqg_burst_push(b, "0", 1, 0, &out), 0);
    assert_non_null(out);
    assert_int_equal(strlen(out), 2 * MQG_BURST_HARD_MAX + 1);
    free(out);
    assert_int_equal(mqg_burst_pending(b), 0);
    mqg_burst_destroy(&b);
    mqg_burst_destroy(NULL);
}

static void s_collect(struct mqg_collect *c, const char *label, const char *m, const char *want)
{
    char *out = NULL;
    assert_int_equal(mqg_collect_put(c, label, m, strlen(m), &out), 0);
    assert_non_null(out);
    if (strcmp(out, want)) {
        fail_msg("collect %s:\n  got  %s\n  want %s", label, out, want);
    }
    free(out);
}

static void test_collect_gallery(void **state)
{
    struct mqg_collect *c = NULL;
    /* example 1: no labels, the topics are the keys; every message gives the whole cache */
    assert_int_equal(mqg_collect_new(0, &c), 0);
    s_collect(c, "sensors/temperature", "{\"value\":23.5,\"unit\":\"°C\"}",
              "{\"sensors/temperature\":{\"value\":23.5,\"unit\":\"°C\"}}");
    s_collect(c, "sensors/humidity", "{\"value\":65.2,\"unit\":\"%\"}",
              "{\"sensors/temperature\":{\"value\":23.5,\"unit\":\"°C\"},"
              "\"sensors/humidity\":{\"value\":65.2,\"unit\":\"%\"}}");
    s_collect(c, "sensors/pressure", "{\"value\":1013.1,\"unit\":\"hPa\"}",
              "{\"sensors/temperature\":{\"value\":23.5,\"unit\":\"°C\"},"
              "\"sensors/humidity\":{\"value\":65.2,\"unit\":\"%\"},"
              "\"sensors/pressure\":{\"value\":1013.1,\"unit\":\"hPa\"}}");
    /* a newer value replaces the old one in its place */
    s_collect(c, "sensors/humidity", "{\"value\":66}",
              "{\"sensors/temperature\":{\"value\":23.5,\"unit\":\"°C\"},"
              "\"sensors/humidity\":{\"value\":66},"
              "\"sensors/pressure\":{\"value\":1013.1,\"unit\":\"hPa\"}}");
    assert_int_equal(mqg_collect_count(c), 3);
    mqg_collect_destroy(&c);

    /* example 3: dynamic labels temp_{room} (the caller renders them) */
    assert_int_equal(mqg_collect_new(0, &c), 0);
    s_collect(c, "temp_office-a", "{\"value\":23.2}", "{\"temp_office-a\":{\"value\":23.2}}");
    s_collect(c, "temp_conference", "{\"value\":26.8}",
              "{\"temp_office-a\":{\"value\":23.2},\"temp_conference\":{\"value\":26.8}}");
    s_collect(c, "temp_lobby", "{\"value\":21.5}",
              "{\"temp_office-a\":{\"value\":23.2},\"temp_conference\":{\"value\":26.8},"
              "\"temp_lobby\":{\"value\":21.5}}");
    mqg_collect_destroy(&c);
    assert_null(c);
}

static void test_collect_edges(void **state)
{
    struct mqg_collect *c = NULL;
    /* JavaScript's key order: array indices first, ascending */
    assert_int_equal(mqg_collect_new(0, &c), 0);
    s_collect(c, "b", "1", "{\"b\":1}");
    s_collect(c, "10", "2", "{\"10\":2,\"b\":1}");
    s_collect(c, "2", "3", "{\"2\":3,\"10\":2,\"b\":1}");
    s_collect(c, "02", "4", "{\"2\":3,\"10\":2,\"b\":1,\"02\":4}");
    s_collect(c, "4294967295", "5", "{\"2\":3,\"10\":2,\"b\":1,\"02\":4,\"4294967295\":5}");
    /* labels are escaped as JSON strings */
    s_collect(c, "q\"\\\n\x01", "0",
              "{\"2\":3,\"10\":2,\"b\":1,\"02\":4,\"4294967295\":5,\"q\\\"\\\\\\n\\u0001\":0}");
    char *out = (char *)1;
    assert_int_equal(mqg_collect_put(c, "bad\xff", "1", 1, &out), -EINVAL);
    assert_null(out);
    mqg_collect_destroy(&c);

    /* bounded: beyond max_labels the oldest label goes */
    assert_int_equal(mqg_collect_new(2, &c), 0);
    s_collect(c, "a", "1", "{\"a\":1}");
    s_collect(c, "b", "2", "{\"a\":1,\"b\":2}");
    s_collect(c, "c", "3", "{\"b\":2,\"c\":3}");
    s_collect(c, "b", "4", "{\"b\":4,\"c\":3}");
    assert_int_equal(mqg_collect_evicted(c), 1);
    mqg_collect_destroy(&c);

    /* many labels: the hash index grows */
    assert_int_equal(mqg_collect_new(0, &c), 0);
    for (int i = 0; i < 2000; i++) {
        char label[32];
        snprintf(label, sizeof label, "room-%d", i % 1000);
        assert_int_equal(mqg_collect_put(c, label, "1", 1, &out), 0);
        free(out);
    }
    assert_int_equal(mqg_collect_count(c), 1000);
    assert_int_equal(mqg_collect_evicted(c), 0);
    mqg_collect_destroy(&c);
}

/* 04_stash, "stash first" and multiple stashes: a value stashed while a message runs is
 * what $last returns from the next message on, never for the message itself. */
static void test_stash_gallery(void **state)
{
    struct mqg_stash *s = NULL;
    assert_int_equal(mqg_stash_new(0, &s), 0);
    assert_string_equal(mqg_stash_json(s), "{}");
    /* message 1: stash rawData first, then the transform sees $last("rawData") = null */
    const char *m1 = "{\"temperature\":25,\"sensor\":\"A1\"}";
    assert_int_equal(mqg_stash_put(s, "rawData", m1, strlen(m1)), 0);
    assert_string_equal(mqg_stash_json(s), "{}");
    assert_int_equal(mqg_stash_commit(s), 0);
    assert_string_equal(mqg_stash_json(s), "{\"rawData\":{\"temperature\":25,\"sensor\":\"A1\"}}");
    /* message 2: sees message 1's value while it stashes its own */
    const char *m2 = "{\"temperature\":28,\"sensor\":\"A1\"}";
    assert_int_equal(mqg_stash_put(s, "rawData", m2, strlen(m2)), 0);
    assert_string_equal(mqg_stash_json(s), "{\"rawData\":{\"temperature\":25,\"sensor\":\"A1\"}}");
    assert_int_equal(mqg_stash_commit(s), 0);
    assert_string_equal(mqg_stash_json(s), "{\"rawData\":{\"temperature\":28,\"sensor\":\"A1\"}}");
    mqg_stash_destroy(&s);

    /* multiple stashes: original (raw input) and processed (a later step's output) */
    assert_int_equal(mqg_stash_new(0, &s), 0);
    assert_int_equal(mqg_stash_put(s, "original", "{\"reading\":10}", 14), 0);
    assert_int_equal(mqg_stash_put(s, "processed", "{\"doubled_value\":20}", 20), 0);
    assert_int_equal(mqg_stash_commit(s), 0);
    assert_string_equal(mqg_stash_json(s),
                        "{\"original\":{\"reading\":10},\"processed\":{\"doubled_value\":20}}");
    assert_int_equal(mqg_stash_put(s, "original", "{\"reading\":15}", 14), 0);
    assert_int_equal(mqg_stash_commit(s), 0);
    /* a message that stashed nothing changes nothing */
    const char *before = mqg_stash_json(s);
    assert_int_equal(mqg_stash_commit(s), 0);
    assert_ptr_equal(mqg_stash_json(s), before);
    assert_string_equal(mqg_stash_json(s),
                        "{\"original\":{\"reading\":15},\"processed\":{\"doubled_value\":20}}");
    assert_int_equal(mqg_stash_put(s, "\xc3\x28", "1", 1), -EINVAL);
    mqg_stash_destroy(&s);
    assert_null(s);
    mqg_stash_destroy(NULL);
}

static void s_parse(const char *format, const void *data, size_t len, const char *want)
{
    enum mqg_parse_format f;
    assert_int_equal(mqg_parse_format(format, &f), 0);
    char *out = NULL;
    int rc = mqg_parse_payload(f, data, len, &out);
    if (!want) {
        assert_int_equal(rc, -EBADMSG);
        assert_null(out);
        return;
    }
    if (rc || strcmp(out, want)) {
        fail_msg("parse %s: rc %d, got %s, want %s", format, rc, out ? out : "-", want);
    }
    free(out);
}

#define P(fmt, want, ...)                                                                          \
    do {                                                                                           \
        static const unsigned char d_[] = {__VA_ARGS__};                                           \
        s_parse(fmt, d_, sizeof d_, want);                                                         \
    } while (0)

/* 03_parse's examples; the expected texts are what Node.js's Buffer and JSON.stringify give. */
static void test_parse(void **state)
{
    P("int16BE", "800", 0x03, 0x20);  /* Modbus register */
    P("uint16BE", "256", 0x01, 0x00); /* S7 counter */
    P("int16LE", "1", 0x01, 0x00);
    P("int16BE", "2500", 0x09, 0xC4, 0x0A, 0x28, 0x09, 0xF6); /* the first of a block */
    P("floatBE", "40", 0x42, 0x20, 0x00, 0x00);               /* OPC UA float */
    P("int8", "-1", 0xFF);
    P("uint8", "255", 0xFF);
    P("int32BE", "-2", 0xFF, 0xFF, 0xFF, 0xFE);
    P("uint32LE", "4294967294", 0xFE, 0xFF, 0xFF, 0xFF);
    P("int32LE", "-2147483648", 0x00, 0x00, 0x00, 0x80);
    P("uint16LE", "65535", 0xFF, 0xFF);
    P("int16LE", "-32768", 0x00, 0x80);
    P("floatLE", "0.10000000149011612", 0xCD, 0xCC, 0xCC, 0x3D);
    P("doubleLE", "0.1", 0x9A, 0x99, 0x99, 0x99, 0x99, 0x99, 0xB9, 0x3F);
    P("doubleBE", "1e+21", 0x44, 0x4B, 0x1A, 0xE4, 0xD6, 0xE2, 0xEF, 0x50);
    P("doubleBE", "1e-7", 0x3E, 0x7A, 0xD7, 0xF2, 0x9A, 0xBC, 0xAF, 0x48);
    P("doubleBE", "123456789012345680000", 0x44, 0x1A, 0xC5, 0x3A, 0x7E, 0x04, 0xBC, 0xDA);
    P("doubleBE", "0.000001", 0x3E, 0xB0, 0xC6, 0xF7, 0xA0, 0xB5, 0xED, 0x8D);
    P("doubleBE", "0", 0x80, 0, 0, 0, 0, 0, 0, 0); /* -0 */
    P("floatBE", "null", 0x7F, 0x80, 0x00, 0x00);  /* infinity: JSON.stringify's null */
    P("boolean", "false", 0x00);
    P("boolean", "true", 0x02, 0x00);
    P("latin1", "\"\xc3\xa9\"", 0xE9);
    P("ascii", "\"i\"", 0xE9);
    /* too short */
    P("int32BE", NULL, 0x01, 0x02, 0x03);
    P("doubleLE", NULL, 1, 2, 3, 4, 5, 6, 7);
    s_parse("boolean", "", 0, NULL);

    const char csv[] = "TEMP01,23.5";
    s_parse("utf8", csv, strlen(csv), "\"TEMP01,23.5\"");
    s_parse("utf8", "a\nb\"c\x01", 6, "\"a\\nb\\\"c\\u0001\"");
    /* ill-formed UTF-8: one U+FFFD per maximal subpart, as Node.js decodes */
    P("utf8",
      "\"a\xef\xbf\xbd"
      "A\"",
      0x61, 0xE2, 0x82, 0x41);
    P("utf8", "\"\xef\xbf\xbd\"", 0xF0, 0x9F, 0x98);
    P("utf8", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", 0xED, 0xA0, 0x80);
    s_parse("utf8", "", 0, "\"\"");
    const char hello[] = "Hello World";
    s_parse("toBase64", hello, strlen(hello), "\"SGVsbG8gV29ybGQ=\"");
    const char b64[] = "SGVsbG8gV29ybGQ=";
    s_parse("fromBase64", b64, strlen(b64), "\"Hello World\"");
    s_parse("fromBase64", "SGVsbG8", 7, "\"Hello\"");
    const char odd[] = "SGV s-_bG8=xyz";
    s_parse("fromBase64", odd, strlen(odd), "\"Hel\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    const char json[] = "{\"data\": [1]}";
    s_parse("json", json, strlen(json), json);

    enum mqg_parse_format f;
    assert_int_equal(mqg_parse_format("int16be", &f), -EINVAL); /* names are case-sensitive */
    assert_int_equal(mqg_parse_format("hex", &f), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cov_gallery),     cmocka_unit_test(test_cov_edges),
        cmocka_unit_test(test_burst_gallery),   cmocka_unit_test(test_burst_edges),
        cmocka_unit_test(test_collect_gallery), cmocka_unit_test(test_collect_edges),
        cmocka_unit_test(test_stash_gallery),   cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
