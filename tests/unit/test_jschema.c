/* test_jschema — unit tests of mqg_jschema: schemas checked (malformed keywords refused with
 * their path, unknown keywords handed to the caller) and values validated as ajv validates
 * them (JSON Schema draft 7), table-driven. Schemas and values are written as JSON text.
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

#include "mqg_jschema.h"
#include "mqg_jval.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void s_parse(const char *text, struct mqg_jval *v)
{
    char why[200] = "";
    int rc = mqg_jval_parse(text, strlen(text), v, why, sizeof(why));
    if (rc != 0) {
        print_error("'%s': %s\n", text, why);
    }
    assert_int_equal(rc, 0);
}

struct unknown_log {
    char paths[200];
};

static void s_unknown(void *arg, const char *path, const struct mqg_jval *at)
{
    struct unknown_log *u = arg;
    size_t l = strlen(u->paths);
    snprintf(u->paths + l, sizeof(u->paths) - l, "%s%s", l ? " " : "", path);
    (void)at;
}

/* Values against schemas: fits (0) or the failing keyword path, value place and message. */
static void test_validate(void **state)
{
    (void)state;
    static const struct {
        const char *schema, *value;
        const char *keyword; /* NULL: the value fits */
        const char *where, *msg;
    } cases[] = {
        {"{\"type\":\"string\",\"pattern\":\"^line\\\\d+$\"}", "\"line12\"", NULL, NULL, NULL},
        {"{\"type\":\"string\",\"pattern\":\"^line\\\\d+$\"}", "\"lined\"", "pattern", "",
         "does not match the pattern '^line\\d+$'"},
        {"{\"type\":\"integer\"}", "3.5", "type", "", "is a number; expected integer"},
        {"{\"type\":[\"integer\",\"null\"]}", "null", NULL, NULL, NULL},
        {"{\"type\":\"integer\"}", "3.0", NULL, NULL, NULL},
        {"{\"minimum\":1000}", "999", "minimum", "", "is too small; expected >= 1000"},
        {"{\"exclusiveMaximum\":2}", "2", "exclusiveMaximum", "", "is too large; expected < 2"},
        {"{\"multipleOf\":0.1}", "0.3", NULL, NULL, NULL},
        {"{\"multipleOf\":2}", "3", "multipleOf", "", "is not a multiple of 2"},
        {"{\"minimum\":5}", "\"abc\"", NULL, NULL, NULL}, /* applies to numbers only */
        {"{\"maxLength\":2}", "\"\xc3\xa4\xc3\xb6\"", NULL, NULL, NULL}, /* characters */
        {"{\"minLength\":3}", "\"ab\"", "minLength", "", "is too short; expected at least 3"},
        {"{\"enum\":[\"a\",1,[2]]}", "[2]", NULL, NULL, NULL},
        {"{\"enum\":[\"fast\",\"slow\"]}", "\"medium\"", "enum", "",
         "is not allowed; expected one of: fast, slow"},
        {"{\"const\":{\"a\":1}}", "{\"a\":1.0}", NULL, NULL, NULL},
        {"{\"type\":\"array\",\"items\":{\"type\":\"string\",\"pattern\":\"^line\\\\d+$\"}}",
         "[\"line1\",\"x\"]", "items.pattern", "[1]", "does not match"},
        {"{\"items\":[{\"type\":\"string\"}],\"additionalItems\":false}", "[\"a\",1]",
         "additionalItems", "[1]", "is not allowed"},
        {"{\"minItems\":2,\"uniqueItems\":true}", "[1,1.0]", "uniqueItems", "",
         "has items 0 and 1 equal; expected unique items"},
        {"{\"contains\":{\"const\":3}}", "[1,2]", "contains", "", ""},
        {"{\"type\":\"object\",\"required\":[\"host\"],\"properties\":{\"host\":{\"type\":"
         "\"string\"}}}",
         "{\"port\":1}", "required", "", "host"},
        {"{\"properties\":{\"a\":{\"type\":\"integer\"}},\"additionalProperties\":false}",
         "{\"a\":1,\"b\":2}", "additionalProperties", "", "has property 'b', which is not allowed"},
        {"{\"patternProperties\":{\"^x\":{\"type\":\"string\"}}}", "{\"xa\":1}",
         "patternProperties.^x.type", ".xa", "is an integer; expected string"},
        {"{\"propertyNames\":{\"maxLength\":2}}", "{\"abc\":1}", "propertyNames.maxLength", "",
         "is too long"},
        {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "true", "anyOf", "", ""},
        {"{\"oneOf\":[{\"minimum\":1},{\"minimum\":2}]}", "3", "oneOf", "", ""},
        {"{\"not\":{\"type\":\"string\"}}", "\"a\"", "not", "", ""},
        {"{\"if\":{\"minimum\":10},\"then\":{\"multipleOf\":10}}", "15", "then.multipleOf", "",
         "is not a multiple of 10"},
        {"{\"format\":\"ipv4\"}", "\"10.0.0.256\"", "format", "", "is not a valid ipv4"},
        {"{\"format\":\"date-time\"}", "\"2024-02-29T10:00:00Z\"", NULL, NULL, NULL},
        {"{\"format\":\"hostname\"}", "\"plant-1.example.com\"", NULL, NULL, NULL},
        {"{\"allowedValues\":[1]}", "2", NULL, NULL, NULL}, /* not a keyword: ignored */
        {"false", "1", "", "", "is not allowed"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct mqg_jval s;
        struct mqg_jval v;
        struct mqg_jschema_err e;
        s_parse(cases[i].schema, &s);
        s_parse(cases[i].value, &v);
        assert_int_equal(mqg_jschema_check(&s, NULL, NULL, &e), 0);
        int rc = mqg_jschema_validate(&s, &v, &e);
        bool ok = cases[i].keyword
                      ? rc == 1 && strcmp(e.keyword, cases[i].keyword) == 0 &&
                            strcmp(e.where, cases[i].where) == 0 && strstr(e.msg, cases[i].msg)
                      : rc == 0;
        if (!ok) {
            print_error("case %zu %s / %s: rc %d keyword '%s' where '%s' msg '%s'\n", i,
                        cases[i].schema, cases[i].value, rc, e.keyword, e.where, e.msg);
            fail();
        }
        mqg_jval_free(&s);
        mqg_jval_free(&v);
    }
}

/* Malformed schemas: the keyword's path and why; unknown keywords reported, not refused. */
static void test_check(void **state)
{
    (void)state;
    static const struct {
        const char *schema, *keyword, *msg;
    } cases[] = {
        {"{\"type\":\"text\"}", "type", "expected a type"},
        {"{\"type\":[]}", "type", "expected a type"},
        {"{\"minimum\":\"1\"}", "minimum", "expected a number"},
        {"{\"multipleOf\":0}", "multipleOf", "greater than 0"},
        {"{\"maxLength\":-1}", "maxLength", "non-negative integer"},
        {"{\"pattern\":\"(?=a)\"}", "pattern", "invalid regular expression"},
        {"{\"pattern\":\"(\"}", "pattern", "invalid regular expression"},
        {"{\"format\":\"colour\"}", "format", "unknown format colour"},
        {"{\"items\":{\"enum\":1}}", "items.enum", "expected a list"},
        {"{\"properties\":{\"a\":{\"type\":1}}}", "properties.a.type", "expected a type"},
        {"{\"anyOf\":[]}", "anyOf", "non-empty list"},
        {"{\"required\":[1]}", "required", "expected a list of names"},
        {"{\"$ref\":\"#/definitions/x\"}", "$ref", "not supported"},
        {"3", "", "expected a schema"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct mqg_jval s;
        struct mqg_jschema_err e;
        s_parse(cases[i].schema, &s);
        int rc = mqg_jschema_check(&s, NULL, NULL, &e);
        if (rc != -EINVAL || strcmp(e.keyword, cases[i].keyword) != 0 ||
            !strstr(e.msg, cases[i].msg)) {
            print_error("%s: rc %d keyword '%s' msg '%s'\n", cases[i].schema, rc, e.keyword, e.msg);
            fail();
        }
        mqg_jval_free(&s);
    }
    struct mqg_jval s;
    struct mqg_jschema_err e;
    struct unknown_log u = {""};
    s_parse("{\"allowedValues\":[1],\"items\":{\"x-ui\":1},\"title\":\"t\",\"default\":2}", &s);
    assert_int_equal(mqg_jschema_check(&s, s_unknown, &u, &e), 0);
    assert_string_equal(u.paths, "allowedValues items.x-ui");
    mqg_jval_free(&s);
}

/* Formats as ajv-formats defines them. */
static void test_formats(void **state)
{
    (void)state;
    static const struct {
        const char *format, *text;
        bool ok;
    } cases[] = {
        {"date", "2024-02-29", true},
        {"date", "2023-02-29", false},
        {"time", "10:00:00Z", true},
        {"time", "25:00:00Z", false},
        {"uri", "mqtts://h:8883/x", true},
        {"uri", "no scheme", false},
        {"email", "a@b.example", true},
        {"email", "a@", false},
        {"ipv6", "::1", true},
        {"ipv6", "1::2::3", false},
        {"uuid", "123e4567-e89b-12d3-a456-426614174000", true},
        {"uuid", "123e4567", false},
        {"hostname", "-bad", false},
        {"duration", "P1DT2H", true},
        {"duration", "P", false},
        {"regex", "^a\\d$", true},
        {"regex", "(", false},
        {"json-pointer", "/a/b~1c", true},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        assert_true(mqg_jschema_format_known(cases[i].format));
        if (mqg_jschema_format(cases[i].format, cases[i].text) != cases[i].ok) {
            print_error("%s '%s' want %d\n", cases[i].format, cases[i].text, cases[i].ok);
            fail();
        }
    }
    assert_false(mqg_jschema_format_known("colour"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
