/* test_prom — unit tests of mqg_prom (the Prometheus text format) and mqg_json (JSON strings). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_json.h"
#include "mqg_prom.h"

/* What fn writes, as a heap string. */
#define CAPTURE(out, stmt)                                                                         \
    do {                                                                                           \
        size_t len_;                                                                               \
        FILE *f = open_memstream(&(out), &len_);                                                   \
        assert_non_null(f);                                                                        \
        stmt;                                                                                      \
        assert_int_equal(fclose(f), 0);                                                            \
    } while (0)

static void test_family_and_samples(void **state)
{
    (void)state;
    char *out = NULL;
    struct mqg_prom_label l[] = {{"service", "plant"}, {"connection", "broker"}, {"cause", NULL}};
    CAPTURE(out, {
        mqg_prom_family(f, "mqgate_x_total", "counter", "Messages.\nSecond \\ line.");
        mqg_prom_u64(f, "mqgate_x_total", l, 3, 18446744073709551615ull);
        mqg_prom_u64(f, "mqgate_x_total", NULL, 0, 0);
    });
    assert_string_equal(out, "# HELP mqgate_x_total Messages.\\nSecond \\\\ line.\n"
                             "# TYPE mqgate_x_total counter\n"
                             "mqgate_x_total{service=\"plant\",connection=\"broker\"} "
                             "18446744073709551615\n"
                             "mqgate_x_total 0\n");
    free(out);
}

/* Label values: backslash, double quote and newline escaped; everything else as it is. */
static void test_label_escaping(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain/name", "plain/name"},
        {"a\"b", "a\\\"b"},
        {"a\\b", "a\\\\b"},
        {"line\nbreak", "line\\nbreak"},
        {"tab\there", "tab\there"},
        {"caf\xc3\xa9 {x}=,", "caf\xc3\xa9 {x}=,"},
        {"", ""},
        {"\\\"\n", "\\\\\\\"\\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        CAPTURE(out, mqg_prom_escape_label(f, cases[i].in));
        assert_string_equal(out, cases[i].out);
        free(out);
        struct mqg_prom_label l = {"route", cases[i].in};
        char want[128];
        snprintf(want, sizeof(want), "m{route=\"%s\"} 1\n", cases[i].out);
        CAPTURE(out, mqg_prom_u64(f, "m", &l, 1, 1));
        assert_string_equal(out, want);
        free(out);
    }
}

static void test_floats(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *out;
    } cases[] = {
        {0.0, "m 0\n"},           {1.5, "m 1.5\n"},        {0.1, "m 0.1\n"},
        {3600.25, "m 3600.25\n"}, {1e21, "m 1e+21\n"},     {-2.0, "m -2\n"},
        {INFINITY, "m +Inf\n"},   {-INFINITY, "m -Inf\n"}, {NAN, "m NaN\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        CAPTURE(out, mqg_prom_f64(f, "m", NULL, 0, cases[i].v));
        assert_string_equal(out, cases[i].out);
        free(out);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_true(mqg_prom_name_ok("mqgate_connection_received_messages_total", false));
    assert_true(mqg_prom_name_ok("a:b_c1", false));
    assert_false(mqg_prom_name_ok("a:b", true)); /* no ':' in label names */
    assert_true(mqg_prom_name_ok("_x", true));
    assert_false(mqg_prom_name_ok("1x", false));
    assert_false(mqg_prom_name_ok("a-b", false));
    assert_false(mqg_prom_name_ok("", false));
    assert_false(mqg_prom_name_ok(NULL, false));
}

static void test_json_strings(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"q\"b\\", 4, "\"q\\\"b\\\\\""},
        {"\n\r\t\x01\x1f\x7f", 6, "\"\\n\\r\\t\\u0001\\u001f\\u007f\""},
        {"nul\0x", 5, "\"nul\\u0000x\""},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
         "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
        {"\xff\xc3(", 3, "\"\\ufffd\\ufffd(\""},
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
        {"a\xe2\x82", 3, "\"a\\ufffd\\ufffd\""},          /* cut off */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        CAPTURE(out, mqg_json_strn(f, cases[i].in, cases[i].len));
        if (strcmp(out, cases[i].out) != 0) {
            fail_msg("case %zu: got %s, want %s", i, out, cases[i].out);
        }
        free(out);
    }
    char *out = NULL;
    CAPTURE(out, mqg_json_str(f, NULL));
    assert_string_equal(out, "null");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_json_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
