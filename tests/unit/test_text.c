/* test_text — unit tests of mqg_text: escaping user text for printing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_text.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct esc_case {
    const char *in;
    size_t len;
    const char *out;
};

static void test_escape(void **state)
{
    (void)state;
    static const struct esc_case cases[] = {
        {"plain/topic", 11, "plain/topic"},
        {"", 0, ""},
        {"a\nb\rc\td", 7, "a\\nb\\rc\\td"},
        {"\x01\x1b[2J\x7f", 6, "\\x01\\x1b[2J\\x7f"},
        {"nul\0x", 5, "nul\\x00x"},
        {"back\\slash \\x01", 15, "back\\slash \\x01"}, /* a backslash stays as it is */
        {"\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80"},
        {"\xc2\x80\xc2\x9b\xc2\x9f\xc2\xa0", 8, "\\u0080\\u009b\\u009f\xc2\xa0"}, /* C1 */
        {"\xef\xbf\xbe", 3, "\xef\xbf\xbe"}, /* a non-character is printable */
        {"\xff\xfe", 2, "\\xff\\xfe"},
        {"\xed\xa0\x80", 3, "\\xed\\xa0\\x80"},          /* a surrogate */
        {"\xc0\xaf", 2, "\\xc0\\xaf"},                   /* overlong */
        {"\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
        {"a\xc3", 2, "a\\xc3"},                          /* cut off */
        {"\xc3(", 2, "\\xc3("},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char out[128];
        size_t n = mqg_text_escape(out, sizeof(out), cases[i].in, cases[i].len);
        if (strcmp(out, cases[i].out) != 0 || n != strlen(cases[i].out)) {
            fail_msg("case %zu: got '%s' (%zu), want '%s'", i, out, n, cases[i].out);
        }
        assert_int_equal(mqg_text_plain(cases[i].in, cases[i].len),
                         strlen(cases[i].out) == cases[i].len &&
                             memcmp(cases[i].in, cases[i].out, cases[i].len) == 0);
    }
}

/* Cut where it does not fit: whole escapes and whole characters only, always terminated. */
static void test_escape_truncates(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(mqg_text_escape(out, sizeof(out), "abcdefghij", 10), 10);
    assert_string_equal(out, "abcdefg");
    assert_int_equal(mqg_text_escape(out, sizeof(out), "abcde\x01z", 7), 10);
    assert_string_equal(out, "abcde"); /* "\x01" does not fit: nothing after it either */
    assert_int_equal(mqg_text_escape(out, sizeof(out), "abcdef\xc3\xa4", 8), 8);
    assert_string_equal(out, "abcdef"); /* no half character */
    assert_int_equal(mqg_text_escape(out, 1, "abc", 3), 3);
    assert_string_equal(out, "");
    assert_int_equal(mqg_text_escape(NULL, 0, "a\n", 2), 3);
}

static void test_fput(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    mqg_text_fput("x\x1b]0;title\x07y\xc2\x85", f);
    mqg_text_fput(NULL, f);
    fclose(f);
    assert_string_equal(buf, "x\\x1b]0;title\\x07y\\u0085(null)");
    free(buf);
}

static void test_shown(void **state)
{
    (void)state;
    char out[MQG_TEXT_SHOWN_CAP];
    assert_string_equal(mqg_text_shown("a/b c", 5, out), "a/b c");
    assert_ptr_equal(mqg_text_shown("", 0, out), out);
    assert_string_equal(out, "");
    /* bytes, not characters: UTF-8, controls, NUL and the backslash are escaped */
    assert_string_equal(mqg_text_shown("x\x01\xc3\xa4\\\0\x7f", 7, out),
                        "x\\x01\\xc3\\xa4\\x5c\\x00\\x7f");
    /* cut after MQG_TEXT_SHOWN_MAX bytes */
    char in[100];
    memset(in, 't', sizeof(in));
    mqg_text_shown(in, MQG_TEXT_SHOWN_MAX, out);
    assert_int_equal(strlen(out), MQG_TEXT_SHOWN_MAX);
    mqg_text_shown(in, MQG_TEXT_SHOWN_MAX + 1, out);
    assert_int_equal(strlen(out), MQG_TEXT_SHOWN_MAX + 3);
    assert_string_equal(out + MQG_TEXT_SHOWN_MAX, "...");
    /* the longest form fits in MQG_TEXT_SHOWN_CAP */
    memset(in, 0x01, sizeof(in));
    mqg_text_shown(in, sizeof(in), out);
    assert_int_equal(strlen(out) + 1, MQG_TEXT_SHOWN_CAP);
}

static void test_hex_and_why(void **state)
{
    (void)state;
    unsigned v;
    assert_true(mqg_text_hex("00fF", 4, &v));
    assert_int_equal(v, 0xff);
    assert_true(mqg_text_hex("D83dX", 4, &v));
    assert_int_equal(v, 0xd83d);
    assert_false(mqg_text_hex("12g4", 4, &v));
    assert_false(mqg_text_hex("1", 2, &v)); /* stops at the NUL */
    char why[32];
    assert_int_equal(mqg_text_why(why, sizeof(why), "bad %s at %d", "pattern", 7), -EINVAL);
    assert_string_equal(why, "bad pattern at 7");
    assert_int_equal(mqg_text_why(why, 4, "%s", "truncated"), -EINVAL);
    assert_string_equal(why, "tru");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),      cmocka_unit_test(test_escape_truncates),
        cmocka_unit_test(test_fput),        cmocka_unit_test(test_shown),
        cmocka_unit_test(test_hex_and_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
