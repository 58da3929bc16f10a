/* test_jval — unit tests of mqg_jval: parsing JSON text (-p values of array and object
 * parameters), equality as JSON Schema defines it, and writing compact JSON back.
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

#include "mqg_jval.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void s_parse(const char *text, struct mqg_jval *v)
{
    char why[200] = "";
    int rc = mqg_jval_parse(text, strlen(text), v, why, sizeof(why));
    if (rc != 0) {
        print_error("'%s': %d %s\n", text, rc, why);
    }
    assert_int_equal(rc, 0);
}

/* Values of every kind, and their compact text. */
static void test_parse_and_text(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"null", "null"},
        {" true ", "true"},
        {"false", "false"},
        {"-12.5e1", "-125"},
        {"0.1", "0.1"},
        {"\"a\\\"b\\\\c\\n\\u00e4\"", "\"a\\\"b\\\\c\\u000a\xc3\xa4\""},
        {"[1, [2, {}], []]", "[1,[2,{}],[]]"},
        {"{\"b\": 1, \"a\": [true, null]}", "{\"b\":1,\"a\":[true,null]}"},
        {"\"\\uD83D\\uDE00\"", "\"\xf0\x9f\x98\x80\""},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct mqg_jval v;
        s_parse(cases[i].in, &v);
        char *text = mqg_jval_dup_text(&v);
        assert_non_null(text);
        assert_string_equal(text, cases[i].out);
        free(text);
        mqg_jval_free(&v);
    }
}

/* Malformed text: -EINVAL with a reason, nothing leaked. */
static void test_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",      "[1,]",  "{\"a\" 1}", "{a: 1}",      "01",     "1.",     "tru",
        "[1] 2", "\"abc", "\"\\x\"",   "\"\\uD800\"", "[[[[[[", "\"\t\"", "{\"a\":1,}",
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        struct mqg_jval v;
        char why[200] = "";
        int rc = mqg_jval_parse(bad[i], strlen(bad[i]), &v, why, sizeof(why));
        if (rc != -EINVAL || !why[0]) {
            print_error("'%s' gave %d '%s'\n", bad[i], rc, why);
            fail();
        }
    }
    /* nesting is bounded */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    struct mqg_jval v;
    char why[200];
    assert_int_equal(mqg_jval_parse(deep, sizeof(deep), &v, why, sizeof(why)), -EINVAL);
}

/* Equality: numbers by value, objects whatever the order of their keys. */
static void test_equal(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        bool eq;
    } cases[] = {
        {"1", "1.0", true},
        {"1", "\"1\"", false},
        {"{\"a\":1,\"b\":[2]}", "{\"b\":[2],\"a\":1}", true},
        {"{\"a\":1}", "{\"a\":1,\"b\":2}", false},
        {"[1,2]", "[2,1]", false},
        {"null", "false", false},
        {"\"x\"", "\"x\"", true},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct mqg_jval a;
        struct mqg_jval b;
        s_parse(cases[i].a, &a);
        s_parse(cases[i].b, &b);
        assert_int_equal(mqg_jval_equal(&a, &b), cases[i].eq);
        mqg_jval_free(&a);
        mqg_jval_free(&b);
    }
}

/* get, type names, integer, text cut to a buffer. */
static void test_helpers(void **state)
{
    (void)state;
    struct mqg_jval v;
    s_parse("{\"n\": 3, \"f\": 2.5, \"s\": \"abcdefghij\"}", &v);
    assert_true(mqg_jval_is_integer(mqg_jval_get(&v, "n")));
    assert_false(mqg_jval_is_integer(mqg_jval_get(&v, "f")));
    assert_null(mqg_jval_get(&v, "x"));
    assert_string_equal(mqg_jval_type_name(mqg_jval_get(&v, "n"), true), "integer");
    assert_string_equal(mqg_jval_type_name(mqg_jval_get(&v, "n"), false), "number");
    assert_string_equal(mqg_jval_type_name(&v, true), "object");
    char buf[12];
    mqg_jval_text(mqg_jval_get(&v, "s"), buf, sizeof(buf));
    assert_string_equal(buf, "\"abcdefg...");
    mqg_jval_free(&v);
    mqg_jval_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_text),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
