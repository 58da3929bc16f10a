/* test_svc_pschema — unit tests of parameter declarations read as JSON Schema by the loader:
 * JavaScript patterns (^line\d+$), array and object parameters from -p JSON text and from
 * YAML defaults, formats, keywords JSON Schema does not define (one NOTICE), and errors with
 * FILE:LINE:COL, the setting path and the place in the value.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_model.h"
#include "mqg_service.h"

struct load {
    struct mqg_model m;
    struct mqg_error err;
    int rc;
};

#define CONN                                                                                       \
    "resources:\n  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"       \
    "      connection:\n        host: h\n        port: 1883\n"                                     \
    "  e:\n    type: Cybus::Endpoint\n    properties:\n      protocol: Mqtt\n"                     \
    "      connection: !ref c\n      subscribe:\n        topic: !sub 'plant/${line}'\n"

/* name = value given with -p (value NULL: none). */
static void s_load(struct load *l, const char *yaml, const char *name, const char *value)
{
    struct mqg_param p = {.name = name, .value = value, .used = false};
    memset(l, 0, sizeof(*l));
    mqg_model_init(&l->m);
    l->rc = mqg_service_load_buffer(&l->m, "t.yml", yaml, strlen(yaml), &p, value ? 1 : 0, NULL,
                                    &l->err);
}

static void s_ok(const char *yaml, const char *name, const char *value)
{
    struct load l;
    s_load(&l, yaml, name, value);
    if (l.rc != 0) {
        print_error("failed: %s:%d:%d: %s: %s\n", l.err.file, l.err.line, l.err.col, l.err.setting,
                    l.err.msg);
    }
    assert_int_equal(l.rc, 0);
    mqg_model_free(&l.m);
}

static void s_error(const char *yaml, const char *name, const char *value, int line, int col,
                    const char *setting, const char *msg)
{
    struct load l;
    s_load(&l, yaml, name, value);
    if (l.rc != -EINVAL || strcmp(l.err.file, "t.yml") != 0 || l.err.line != line ||
        l.err.col != col || strcmp(l.err.setting, setting) != 0 || !strstr(l.err.msg, msg)) {
        print_error("rc=%d want %d:%d %s '%s'\n got %d:%d %s '%s'\n", l.rc, line, col, setting, msg,
                    l.err.line, l.err.col, l.err.setting, l.err.msg);
        fail();
    }
    mqg_model_free(&l.m);
}

#define LINE_PARAM                                                                                 \
    "metadata:\n  name: T\nparameters:\n  line:\n    type: string\n"                               \
    "    pattern: '^line\\d+$'\n    default: line1\n" CONN

/* The example: a JavaScript \d in a pattern. */
static void test_js_pattern(void **state)
{
    (void)state;
    s_ok(LINE_PARAM, NULL, NULL);
    s_ok(LINE_PARAM, "line", "line12");
    s_error(LINE_PARAM, "line", "lined", 6, 14, "parameters.line.pattern",
            "parameter 'line': value 'lined' given with -p does not match the pattern "
            "'^line\\d+$'");
    /* the value reaches the topic through ${line} */
    struct load l;
    s_load(&l, LINE_PARAM, "line", "line7");
    assert_int_equal(l.rc, 0);
    bool found = false;
    for (size_t i = 0; i < l.m.n_endpoints; i++) {
        found =
            found || (l.m.endpoints[i].topic && strcmp(l.m.endpoints[i].topic, "plant/line7") == 0);
    }
    assert_true(found);
    mqg_model_free(&l.m);
}

#define LINES_PARAM                                                                                \
    "metadata:\n  name: T\nparameters:\n  lines:\n    type: array\n    minItems: 1\n"              \
    "    items:\n      type: string\n      pattern: '^line\\d+$'\n"                                \
    "    default: [line1, line2]\n  line:\n    default: line1\n" CONN

/* type: array, from a YAML default and from -p JSON text; the failing item is named. */
static void test_array_param(void **state)
{
    (void)state;
    s_ok(LINES_PARAM, NULL, NULL);
    s_ok(LINES_PARAM, "lines", "[\"line3\"]");
    s_error(LINES_PARAM, "lines", "[\"line3\", \"x\"]", 9, 16, "parameters.lines.items.pattern",
            "given with -p at [1] does not match the pattern");
    s_error(LINES_PARAM, "lines", "[]", 6, 15, "parameters.lines.minItems", "expected at least 1");
    s_error(LINES_PARAM, "lines", "line3", 5, 11, "parameters.lines.type",
            "value 'line3' given with -p is not a valid array: ");
    s_error(LINES_PARAM, "lines", "{\"a\":1}", 5, 11, "parameters.lines.type",
            "is not a valid array: JSON text of an object");
}

#define OBJ_PARAM                                                                                  \
    "metadata:\n  name: T\nparameters:\n  target:\n    type: object\n"                             \
    "    required: [host]\n    properties:\n      host: {type: string, format: hostname}\n"        \
    "      port: {type: integer, maximum: 65535}\n"                                                \
    "    default: {host: plant.local, port: 1883}\n  line:\n    default: line1\n" CONN

/* type: object with required, properties and format. */
static void test_object_param(void **state)
{
    (void)state;
    s_ok(OBJ_PARAM, NULL, NULL);
    s_ok(OBJ_PARAM, "target", "{\"host\": \"a.example\"}");
    s_error(OBJ_PARAM, "target", "{\"port\": 1}", 6, 15, "parameters.target.required", "host");
    s_error(OBJ_PARAM, "target", "{\"host\": \"a\", \"port\": 70000}", 9, 38,
            "parameters.target.properties.port.maximum", "at .port is too large");
    s_error(OBJ_PARAM, "target", "{\"host\": \"-x\"}", 8, 36,
            "parameters.target.properties.host.format", "is not a valid hostname");
}

#define ALLOWED                                                                                    \
    "metadata:\n  name: T\nparameters:\n  line:\n    type: string\n"                               \
    "    allowedValues: [line1, line2]\n    default: line1\n"                                      \
    "  other:\n    allowedValues: [a]\n    default: a\n" CONN

/* A keyword JSON Schema does not define: accepted, ignored, one NOTICE for the file. */
static void test_unknown_keyword_notice(void **state)
{
    (void)state;
    struct load l;
    s_load(&l, ALLOWED, "line", "line9");
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.m.n_notices, 1);
    assert_string_equal(l.m.notices[0],
                        "t.yml:6:20: parameters.line.allowedValues: 'allowedValues' is not a JSON "
                        "Schema keyword: accepted and ignored (2 places in this file, the first "
                        "shown)");
    mqg_model_free(&l.m);
}

/* Types given with -p and as defaults; malformed declarations. */
static void test_types_and_declarations(void **state)
{
    (void)state;
    static const char *const head = "metadata:\n  name: T\nparameters:\n  line:\n    default: l\n";
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), "%s  n:\n    type: [integer, 'null']\n    default: null\n%s", head,
             CONN);
    s_ok(yaml, NULL, NULL);
    s_ok(yaml, "n", "3");
    s_error(yaml, "n", "x", 7, 11, "parameters.n.type", "is not a valid integer or null");
    snprintf(yaml, sizeof(yaml), "%s  n:\n    type: number\n    default: '2.5'\n%s", head, CONN);
    s_ok(yaml, NULL, NULL);
    snprintf(yaml, sizeof(yaml), "%s  n:\n    type: boolean\n    default: maybe\n%s", head, CONN);
    s_error(yaml, NULL, NULL, 8, 14, "parameters.n.type",
            "parameter 'n': default 'maybe' is not a valid boolean (true or false)");
    snprintf(yaml, sizeof(yaml), "%s  n:\n    anyOf: [{type: string}, 3]\n    default: x\n%s", head,
             CONN);
    s_error(yaml, NULL, NULL, 7, 29, "parameters.n.anyOf[1]", "expected a schema");
    snprintf(yaml, sizeof(yaml), "%s  n:\n    pattern: '(?<=a)b'\n    default: x\n%s", head, CONN);
    s_error(yaml, NULL, NULL, 7, 14, "parameters.n.pattern", "invalid regular expression");
    snprintf(yaml, sizeof(yaml), "%s  n:\n    enum: [1, 2]\n%s", head, CONN);
    s_error(yaml, "n", "3", 7, 11, "parameters.n.enum", "expected one of: 1, 2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_js_pattern),
        cmocka_unit_test(test_array_param),
        cmocka_unit_test(test_object_param),
        cmocka_unit_test(test_unknown_keyword_notice),
        cmocka_unit_test(test_types_and_declarations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
