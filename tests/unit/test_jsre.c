/* test_jsre — unit tests of mqg_jsre: JavaScript patterns (JSON Schema's `pattern`, as ajv
 * runs them) translated for POSIX regcomp, and tested against texts as RegExp.test does.
 * The expected results are JavaScript's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_jsre.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_translation(void **state)
{
    (void)state;
    static const struct {
        const char *js, *ere;
    } cases[] = {
        {"^line\\d+$", "^line[0-9]+$"},
        {"\\w\\W\\s\\S\\D", "[A-Za-z0-9_][^A-Za-z0-9_][[:space:]][^[:space:]][^0-9]"},
        {"(?:ab)+", "(ab)+"},
        {"(?<year>\\d{4})", "([0-9]{4})"},
        {"a*?b+?c??d{2,3}?", "a*b+c?d{2,3}"},
        {"a{", "a\\{"},
        {"{x}", "\\{x\\}"},
        {"a{2,}", "a{2,}"},
        {"\\/\\-\\.\\*", "/-\\.\\*"},
        {"[\\d.]", "[0-9.]"},
        {"[^\\s,]", "[^[:space:],]"},
        {"[\\]a-]", "[]a-]"},
        {"[a^]", "[a^]"},
        {"[\\^]", "\\^"},
        {"[^^]", "[^^]"},
        {"\\x41\\u00e4", "A\xc3\xa4"},
        {"\\uD83D\\uDE00", "\xf0\x9f\x98\x80"},
        {"(a)\\1", "(a)\\1"},
        {"\\bx\\B", "\\bx\\B"},
        {"\\q", "q"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *ere = NULL;
        char why[200] = "";
        int rc = mqg_jsre_to_ere(cases[i].js, &ere, why, sizeof(why));
        if (rc != 0 || strcmp(ere, cases[i].ere) != 0) {
            print_error("'%s': rc %d '%s' (%s), want '%s'\n", cases[i].js, rc, ere ? ere : "", why,
                        cases[i].ere);
            fail();
        }
        free(ere);
    }
}

/* RegExp.test as JavaScript answers it. */
static void test_matching(void **state)
{
    (void)state;
    static const struct {
        const char *js, *text;
        int want;
    } cases[] = {
        /* the example, which POSIX alone read as "line", "d"... */
        {"^line\\d+$", "line12", 1},
        {"^(a{2}){3}$", "aaaaaa", 1},
        {"^(?:ab)+?c{0,2}?$", "ababcc", 1},
        {"^x{1000}$", "xx", 0},
        {"^line\\d+$", "line", 0},
        {"^line\\d+$", "lined", 0},
        {"^line\\d+$", "line1x", 0},
        /* unanchored: a match anywhere */
        {"\\d", "abc7", 1},
        {"^[a-z]+$", "AB", 0},
        {"^\\w+@\\w+\\.com$", "ops@plant.com", 1},
        {"^\\w+@\\w+\\.com$", "ops@plant.org", 0},
        {"^\\S+$", "no spaces", 0},
        {"^\\s*$", " \t\n", 1},
        {"^(?:ab)+c$", "ababc", 1},
        {"^(?:ab)+c$", "abac", 0},
        {"^a.*?b$", "axxb", 1},
        {"^[\\d.]+$", "1.5", 1},
        {"^[\\d.]+$", "1,5", 0},
        {"^(?<y>\\d{4})-\\d{2}$", "2024-05", 1},
        /* characters, not bytes */
        {"^.$", "\xc3\xa4", 1},
        {"^.{3}$",
         "\xc3\xa4"
         "bc",
         1},
        {"^\\u00e4$", "\xc3\xa4", 1},
        {"^[\xc3\xa4\xc3\xb6]+$", "\xc3\xb6\xc3\xa4", 1},
        /* '.' is not a line terminator; [^] is anything */
        {"^.$", "\n", 0},
        {"^[^]$", "\n", 1},
        /* Annex B: a brace that does not make a quantifier is a literal */
        {"^a{$", "a{", 1},
        {"^{x}$", "{x}", 1},
        {"^a{2}$", "aa", 1},
        {"^a{2}$", "a{2}", 0},
        /* escapes and classes */
        {"^\\/opt\\/x$", "/opt/x", 1},
        {"^[\\]]$", "]", 1},
        {"^[a-]$", "-", 1},
        {"^[\\^]$", "^", 1},
        {"^[^^]$", "^", 0},
        {"^[^^]$", "x", 1},
        {"^\\x41$", "A", 1},
        {"\\bfoo\\b", "a foo b", 1},
        {"\\bfoo\\b", "afoob", 0},
        {"^(a)\\1$", "aa", 1},
        {"^(a)\\1$", "ab", 0},
        {"^\\t$", "\t", 1},
        {"^a|b$", "xb", 1},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char why[200] = "";
        int rc = mqg_jsre_test(cases[i].js, cases[i].text, why, sizeof(why));
        if (rc != cases[i].want) {
            print_error("'%s' on '%s': %d (%s), want %d\n", cases[i].js, cases[i].text, rc, why,
                        cases[i].want);
            fail();
        }
    }
}

/* What POSIX cannot express, and malformed patterns: -EINVAL with a reason. */
static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *js, *why;
    } cases[] = {
        {"^(?=a)", "lookahead"},
        {"^(?!a)", "lookahead"},
        {"(?<=a)b", "lookbehind"},
        {"(?<!a)b", "lookbehind"},
        {"(?<n>a)\\k<n>", "named back-references"},
        {"a\\", "ends with a backslash"},
        {"[abc", "not closed"},
        {"[]", "empty class"},
        {"[\\D]", "inside a class"},
        {"[z-a]", "out of order"},
        {"\\0", "NUL"},
        {"(?x)", "not a valid group"},
        {"(a", ""}, /* regcomp's own words */
        /* JavaScript's "Nothing to repeat" (glibc would take these and unroll them) */
        {"a++", "nothing to repeat"},
        {"a{2}*", "nothing to repeat"},
        {"a+?+", "nothing to repeat"},
        {"*a", "nothing to repeat"},
        {"(+a)", "nothing to repeat"},
        {"a|?b", "nothing to repeat"},
        {"^*", "nothing to repeat"},
        {"\\b+", "nothing to repeat"},
        /* what regcomp would unroll into too many states */
        {"a{1001}", "above 1000"},
        {"((a{100}){100}){100}", "repeats too much"},
        {"(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((a)))))))))))))))))))"
         ")))))))))))))))))))))))))))))))))))))))))))))",
         "nested deeper"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char why[200] = "";
        int rc = mqg_jsre_test(cases[i].js, "a", why, sizeof(why));
        if (rc != -EINVAL || !strstr(why, cases[i].why) || !why[0]) {
            print_error("'%s': rc %d why '%s', want -EINVAL '%s'\n", cases[i].js, rc, why,
                        cases[i].why);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translation),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
