/* test_kv — unit tests of mqg_kv: the status text of the heartbeats, parsed and quoted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_kv.h"

static void test_parse_connector_text(void **state)
{
    (void)state;
    struct mqg_kv kv;
    const char *text = "state=up in=5 out=0 dropped=0 malformed=0 queued=0 buffered=0 "
                       "inflight=0 invalid=0 badtopic=0 toolarge=0 rx=5 rx_bytes=40 "
                       "out_bytes=0 overflow=0 reconnects=2 pings=7 "
                       "error=\"connection lost: socket error \\\"x\\\" \\\\ y\"";
    assert_int_equal(mqg_kv_parse(text, &kv), 18);
    assert_string_equal(mqg_kv_get(&kv, "state"), "up");
    assert_string_equal(mqg_kv_get(&kv, "error"), "connection lost: socket error \"x\" \\ y");
    uint64_t v = 0;
    assert_true(mqg_kv_u64(&kv, "rx_bytes", &v));
    assert_int_equal(v, 40);
    assert_true(mqg_kv_u64(&kv, "reconnects", &v));
    assert_int_equal(v, 2);
    assert_false(mqg_kv_u64(&kv, "state", &v));   /* not a number */
    assert_false(mqg_kv_u64(&kv, "journal", &v)); /* not there */
    assert_null(mqg_kv_get(&kv, "journal"));
}

static void test_parse_odd_input(void **state)
{
    (void)state;
    struct mqg_kv kv;
    assert_int_equal(mqg_kv_parse(NULL, &kv), 0);
    assert_int_equal(mqg_kv_parse("", &kv), 0);
    assert_int_equal(mqg_kv_parse("   ", &kv), 0);
    /* words without '=' and empty keys are skipped; an empty value is a value */
    assert_int_equal(mqg_kv_parse("(retry in 42s) a=1 =2 b= c=3", &kv), 3);
    assert_string_equal(mqg_kv_get(&kv, "a"), "1");
    assert_string_equal(mqg_kv_get(&kv, "b"), "");
    assert_string_equal(mqg_kv_get(&kv, "c"), "3");
    /* blanks anywhere, a key twice: the first one counts */
    assert_int_equal(mqg_kv_parse("  a=1   a=2  ", &kv), 2);
    assert_string_equal(mqg_kv_get(&kv, "a"), "1");
    /* a quoted value cut short ends the text */
    assert_int_equal(mqg_kv_parse("a=1 error=\"cut off b=2", &kv), 1);
    assert_string_equal(mqg_kv_get(&kv, "a"), "1");
    assert_null(mqg_kv_get(&kv, "error"));
    /* an empty quoted value, and one followed by more pairs */
    assert_int_equal(mqg_kv_parse("e=\"\" f=\"x y\" g=1", &kv), 3);
    assert_string_equal(mqg_kv_get(&kv, "e"), "");
    assert_string_equal(mqg_kv_get(&kv, "f"), "x y");
    assert_string_equal(mqg_kv_get(&kv, "g"), "1");
}

static void test_numbers(void **state)
{
    (void)state;
    struct mqg_kv kv;
    uint64_t v = 7;
    mqg_kv_parse("max=18446744073709551615 over=18446744073709551616 neg=-1 sp=1x e=", &kv);
    assert_true(mqg_kv_u64(&kv, "max", &v));
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_false(mqg_kv_u64(&kv, "over", &v));
    assert_false(mqg_kv_u64(&kv, "neg", &v));
    assert_false(mqg_kv_u64(&kv, "sp", &v));
    assert_false(mqg_kv_u64(&kv, "e", &v));
    assert_int_equal(v, 7);
    assert_true(mqg_kv_is_number("0"));
    assert_false(mqg_kv_is_number(""));
    assert_false(mqg_kv_is_number(NULL));
}

/* Whatever text is quoted, parsing gives it back (control characters as blanks). */
static void test_quote_round_trip(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "",           "plain",          "two words",
        "say \"hi\"", "back\\slash",    "end\\",
        "\"",         "tab\tnew\nline", "caf\xc3\xa9 \xe2\x82\xac",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char quoted[128], text[160];
        mqg_kv_quote(quoted, sizeof(quoted), texts[i]);
        snprintf(text, sizeof(text), "a=1 error=%s z=2", quoted);
        struct mqg_kv kv;
        assert_int_equal(mqg_kv_parse(text, &kv), 3);
        char want[64];
        snprintf(want, sizeof(want), "%s", texts[i]);
        for (char *p = want; *p; p++) {
            *p = *p == '\t' || *p == '\n' ? ' ' : *p;
        }
        assert_string_equal(mqg_kv_get(&kv, "error"), want);
        assert_string_equal(mqg_kv_get(&kv, "z"), "2");
    }
}

/* Cut to fit: never inside an escape or a UTF-8 character, always closed. */
static void test_quote_truncates(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(mqg_kv_quote(out, sizeof(out), "abcdefgh"), 7);
    assert_string_equal(out, "\"abcde\"");
    assert_int_equal(mqg_kv_quote(out, sizeof(out), "abcd\"x"), 6);
    assert_string_equal(out, "\"abcd\"");
    assert_int_equal(mqg_kv_quote(out, sizeof(out), "abc\xe2\x82\xac"), 5);
    assert_string_equal(out, "\"abc\"");
    assert_int_equal(mqg_kv_quote(out, 3, "abc"), 2);
    assert_string_equal(out, "\"\"");
    assert_int_equal(mqg_kv_quote(out, 2, "abc"), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_connector_text),
        cmocka_unit_test(test_parse_odd_input),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_quote_round_trip),
        cmocka_unit_test(test_quote_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
