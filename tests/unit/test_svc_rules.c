/* test_svc_rules — unit tests of the loader's `rules` (mqg_svc_rules): every rule kind read
 * into struct mqg_rule on mapping entries and endpoints, the publish topic's {name} from
 * setContextVars, tests/data/connectware/rules-all-kinds.yml, the errors (line, column,
 * setting, message, as in test_service.c) and the `mqgate check` line (mqg_rules_print).
 *
 * Until mqg_model_free frees rules, s_free() frees them first (mqg_rules_clear leaves the
 * routes without rules, so this stays right afterwards); the suite is leak-free under valgrind.
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
#include "mqg_rulestate.h"
#include "mqg_service.h"
#include "mqg_svc_rules.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define DATA(name) MQG_TEST_DATA "/" name

struct load {
    struct mqg_model m;
    struct mqg_error err;
    int rc;
};

/* A mapping entry in:+x -> out on lines 14-15; RULES adds "rules:" on line 16, so the first
 * rule's kind is at 17:15. */
#define HDR                                                                                        \
    "metadata:\n  name: R\nresources:\n  c:\n    type: Cybus::Connection\n    properties:\n"       \
    "      protocol: Mqtt\n      connection:\n        host: h\n  m:\n"                             \
    "    type: Cybus::Mapping\n    properties:\n      mappings:\n"                                 \
    "        - subscribe: {topic: in/+x}\n          publish: {topic: out}\n"
#define RULES HDR "          rules:\n"
#define R0 "resources.m.properties.mappings[0].rules[0]"

static void s_load(struct load *l, const char *yaml)
{
    memset(l, 0, sizeof(*l));
    mqg_model_init(&l->m);
    l->rc = mqg_service_load_buffer(&l->m, "t.yml", yaml, strlen(yaml), NULL, 0, NULL, &l->err);
}

static void s_free(struct load *l)
{
    for (size_t i = 0; i < l->m.n_routes; i++) {
        mqg_rules_clear(&l->m.routes[i]);
    }
    mqg_model_free(&l->m);
}

static void s_ok(struct load *l, const char *yaml)
{
    s_load(l, yaml);
    if (l->rc != 0) {
        print_error("failed: %s:%d:%d: %s: %s\n", l->err.file, l->err.line, l->err.col,
                    l->err.setting, l->err.msg);
    }
    assert_int_equal(l->rc, 0);
}

/* The rules of the only mapping route (the last route). */
static const struct mqg_route *s_route(const struct load *l)
{
    assert_true(l->m.n_routes > 0);
    return &l->m.routes[l->m.n_routes - 1];
}

struct err_case {
    const char *yaml;
    int line;
    int col;
    const char *setting;
    const char *msg;
};

static void s_run_errors(const struct err_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct load l;
        s_load(&l, cases[i].yaml);
        if (l.rc != -EINVAL || l.err.line != cases[i].line || l.err.col != cases[i].col ||
            strcmp(l.err.setting, cases[i].setting) != 0 || !strstr(l.err.msg, cases[i].msg)) {
            print_error("case %zu: rc=%d want %d:%d %s '%s'\n got %d:%d %s '%s'\n", i, l.rc,
                        cases[i].line, cases[i].col, cases[i].setting, cases[i].msg, l.err.line,
                        l.err.col, l.err.setting, l.err.msg);
            fail();
        }
        s_free(&l);
    }
}

/* ---- one passing case per kind ------------------------------------------------------- */

static void test_transform_block(void **state)
{
    struct load l;
    s_ok(&l,
         RULES "            - transform:\n                expression: |\n"
               "                  {\"v\": $.a + 1,\n                   \"x\": $context.vars.x}\n");
    const struct mqg_route *rt = s_route(&l);
    assert_int_equal(rt->n_rules, 1);
    assert_int_equal(rt->rules[0].kind, MQG_RULE_TRANSFORM);
    assert_string_equal(rt->rules[0].text, "{\"v\": $.a + 1,\n \"x\": $context.vars.x}\n");
    assert_string_equal(rt->rules[0].where, "t.yml:18:29");
    assert_null(rt->rules[0].vars);
    assert_null(rt->rid); /* the lead's: mqg_model_rules_engine */
    s_free(&l);
}

static void test_filter_and_transform(void **state)
{
    struct load l;
    s_ok(&l, RULES "            - filter: {expression: 'x > 1'}\n"
                   "            - transform:\n                expression: $.value\n");
    const struct mqg_route *rt = s_route(&l);
    assert_int_equal(rt->n_rules, 2);
    assert_int_equal(rt->rules[0].kind, MQG_RULE_FILTER);
    assert_string_equal(rt->rules[0].text, "x > 1");
    assert_string_equal(rt->rules[0].where, "t.yml:17:36");
    assert_int_equal(rt->rules[1].kind, MQG_RULE_TRANSFORM);
    assert_string_equal(rt->rules[1].text, "$.value");
    assert_string_equal(rt->rules[1].where, "t.yml:19:29");
    s_free(&l);
}

static void test_parse(void **state)
{
    struct load l;
    s_ok(&l, RULES "            - parse: {format: int16BE}\n            - parse:\n"
                   "                format: fromBase64\n");
    const struct mqg_route *rt = s_route(&l);
    assert_int_equal(rt->n_rules, 2);
    assert_int_equal(rt->rules[0].kind, MQG_RULE_PARSE);
    assert_string_equal(rt->rules[0].text, "int16BE");
    assert_string_equal(rt->rules[0].where, "t.yml:17:31");
    assert_string_equal(rt->rules[1].text, "fromBase64");
    s_free(&l);
}

static void test_set_context_vars(void **state)
{
    struct load l;
    /* the publish topic may use what setContextVars sets, next to the wildcards */
    s_ok(&l, HDR "          rules:\n            - setContextVars:\n                vars:\n"
                 "                  tenant: $.org.id\n"
                 "                  kind_2: '$.level > 2 ? \"urgent\" : \"normal\"'\n"
                 "        - subscribe: {topic: a/+x}\n          publish: {topic: 'b/{x}/{t}'}\n"
                 "          rules: [{setContextVars: {vars: {t: $.t}}}]\n");
    assert_int_equal(l.m.n_routes, 2);
    const struct mqg_route *rt = &l.m.routes[0];
    assert_int_equal(rt->n_rules, 1);
    const struct mqg_rule *r = &rt->rules[0];
    assert_int_equal(r->kind, MQG_RULE_SET_CONTEXT_VARS);
    assert_null(r->text);
    assert_string_equal(r->where, "t.yml:17:15");
    assert_int_equal(r->n_vars, 2);
    assert_string_equal(r->vars[0].name, "tenant");
    assert_string_equal(r->vars[0].expr, "$.org.id");
    assert_string_equal(r->vars[0].where, "t.yml:19:27");
    assert_string_equal(r->vars[1].name, "kind_2");
    assert_string_equal(r->vars[1].expr, "$.level > 2 ? \"urgent\" : \"normal\"");
    assert_string_equal(r->vars[1].where, "t.yml:20:27");
    assert_string_equal(l.m.routes[1].target.topic, "b/{x}/{t}");
    assert_true(mqg_rules_sets_var(&l.m.routes[1], "t", 1));
    assert_false(mqg_rules_sets_var(&l.m.routes[1], "x", 1));
    s_free(&l);
}

static void test_cov(void **state)
{
    struct load l;
    s_ok(&l, RULES "            - cov: {key: value}\n"
                   "            - cov: {key: value, deadband: 0.5}\n"
                   "            - cov: {key: bar, deadband: 5, deadbandMode: relative}\n"
                   "            - cov: {key: a, deadband: 0, deadbandMode: absolute}\n"
                   "            - cov: {key: b, deadbandMode: relative}\n");
    const struct mqg_route *rt = s_route(&l);
    assert_int_equal(rt->n_rules, 5);
    assert_int_equal(rt->rules[0].kind, MQG_RULE_COV);
    assert_string_equal(rt->rules[0].text, "value");
    assert_string_equal(rt->rules[0].where, "t.yml:17:26");
    assert_int_equal(rt->rules[0].cov_mode, MQG_COV_EXACT);
    assert_int_equal(rt->rules[1].cov_mode, MQG_COV_ABSOLUTE);
    assert_true(rt->rules[1].deadband == 0.5);
    assert_int_equal(rt->rules[2].cov_mode, MQG_COV_RELATIVE);
    assert_true(rt->rules[2].deadband == 5);
    assert_int_equal(rt->rules[3].cov_mode, MQG_COV_ABSOLUTE);
    assert_true(rt->rules[3].deadband == 0);
    assert_int_equal(rt->rules[4].cov_mode, MQG_COV_EXACT); /* no deadband, no mode */
    s_free(&l);
}

static void test_burst(void **state)
{
    struct load l;
    s_ok(&l, RULES "            - burst: {maxSize: 10, interval: 2000}\n"
                   "            - burst: {interval: 500}\n            - burst:\n"
                   "            - burst: {maxSize: 200000}\n");
    const struct mqg_route *rt = s_route(&l);
    assert_int_equal(rt->n_rules, 4);
    assert_int_equal(rt->rules[0].kind, MQG_RULE_BURST);
    assert_int_equal(rt->rules[0].max_size, 10);
    assert_int_equal(rt->rules[0].interval_ms, 2000);
    assert_string_equal(rt->rules[0].where, "t.yml:17:15");
    assert_null(rt->rules[0].text);
    assert_int_equal(rt->rules[1].max_size, 0);
    assert_int_equal(rt->rules[1].interval_ms, 500);
    assert_int_equal(rt->rules[2].max_size, 0);
    assert_int_equal(rt->rules[2].interval_ms, 0);
    assert_int_equal(rt->rules[3].max_size, 200000);
    /* above mqgate's bound of a batch: accepted, with a notice */
    assert_int_equal(l.m.n_notices, 1);
    assert_non_null(strstr(
        l.m.notices[0], "t.yml:20:32: resources.m.properties.mappings[0].rules[3].burst.maxSize: "
                        "maxSize 200000 is above"));
    s_free(&l);
}

static void test_collect_and_stash(void **state)
{
    struct load l;
    s_ok(&l, RULES "            - collect: {}\n            - collect:\n"
                   "            - stash: {label: previous}\n");
    const struct mqg_route *rt = s_route(&l);
    assert_int_equal(rt->n_rules, 3);
    assert_int_equal(rt->rules[0].kind, MQG_RULE_COLLECT);
    assert_null(rt->rules[0].text);
    assert_string_equal(rt->rules[0].where, "t.yml:17:15");
    assert_int_equal(rt->rules[1].kind, MQG_RULE_COLLECT);
    assert_int_equal(rt->rules[2].kind, MQG_RULE_STASH);
    assert_string_equal(rt->rules[2].text, "previous");
    assert_string_equal(rt->rules[2].where, "t.yml:19:30");
    s_free(&l);
}

/* !ref and !sub work in rules like anywhere else; where is the place written. */
static void test_refs(void **state)
{
    struct load l;
    s_ok(&l,
         "definitions:\n  e: '$.temp * 2'\n" RULES "            - transform: {expression: !ref e}\n"
         "            - stash: {label: !sub '${Cybus::ServiceId}-last'}\n"
         "        - subscribe: {topic: z}\n          publish: {topic: y}\n"
         "          rules: ~\n");
    const struct mqg_route *rt = &l.m.routes[0];
    assert_int_equal(rt->n_rules, 2);
    assert_string_equal(rt->rules[0].text, "$.temp * 2");
    assert_string_equal(rt->rules[0].where, "t.yml:19:39");
    assert_string_equal(rt->rules[1].text, "r-last");
    assert_int_equal(l.m.routes[1].n_rules, 0);
    s_free(&l);
}

/* Endpoints: subscribe and write endpoints' routes carry their rules; a disabled endpoint has
 * none (its rules are checked all the same). */
static void test_endpoints(void **state)
{
    static const char yaml[] =
        "metadata:\n  name: E\nresources:\n  c:\n    type: Cybus::Connection\n"
        "    properties:\n      protocol: Mqtt\n      connection:\n        host: h\n"
        "  s:\n    type: Cybus::Endpoint\n    properties:\n      protocol: Mqtt\n"
        "      connection: !ref c\n      subscribe: {topic: plc/r}\n      rules:\n"
        "        - parse: {format: int16BE}\n        - transform: {expression: $ / 10}\n"
        "  w:\n    type: Cybus::Endpoint\n    properties:\n      protocol: Mqtt\n"
        "      connection: !ref c\n      write: {topic: plc/w}\n"
        "      rules: [{filter: {expression: $ > 0}}]\n"
        "  d:\n    type: Cybus::Endpoint\n    properties:\n      protocol: Mqtt\n"
        "      connection: !ref c\n      subscribe: {topic: plc/d}\n      targetState: disabled\n"
        "      rules: [{stash: {label: x}}]\n";
    struct load l;
    s_ok(&l, yaml);
    assert_int_equal(l.m.n_routes, 2);
    const struct mqg_route *rt = &l.m.routes[0];
    assert_string_equal(rt->name, "endpoint s");
    assert_int_equal(rt->n_rules, 2);
    assert_int_equal(rt->rules[0].kind, MQG_RULE_PARSE);
    assert_string_equal(rt->rules[0].where, "t.yml:17:27");
    assert_int_equal(rt->rules[1].kind, MQG_RULE_TRANSFORM);
    assert_string_equal(rt->rules[1].text, "$ / 10");
    rt = &l.m.routes[1];
    assert_string_equal(rt->name, "endpoint w");
    assert_int_equal(rt->n_rules, 1);
    assert_int_equal(rt->rules[0].kind, MQG_RULE_FILTER);
    assert_string_equal(rt->rules[0].where, "t.yml:25:37");
    s_free(&l);
}

/* A mapping with targetState disabled, and an entry reading only from a skipped endpoint:
 * their rules are checked, then dropped with the routes (no leak). */
static void test_dropped_routes(void **state)
{
    struct load l;
    s_ok(&l, "metadata:\n  name: D\nresources:\n  plc:\n    type: Cybus::Connection\n"
             "    properties:\n      protocol: Modbus\n  ep:\n    type: Cybus::Endpoint\n"
             "    properties:\n      protocol: Modbus\n      connection: !ref plc\n"
             "  m:\n    type: Cybus::Mapping\n    properties:\n      mappings:\n"
             "        - subscribe: {endpoint: !ref ep}\n          publish: {topic: o}\n"
             "          rules: [{transform: {expression: $}}]\n"
             "  n:\n    type: Cybus::Mapping\n    properties:\n      targetState: disabled\n"
             "      mappings:\n        - subscribe: {topic: a}\n          publish: {topic: o}\n"
             "          rules: [{collect: {}}, {stash: {label: s}}]\n");
    assert_int_equal(l.m.n_routes, 0);
    s_free(&l);
    struct load e;
    s_load(&e, "metadata:\n  name: D\nresources:\n  n:\n    type: Cybus::Mapping\n"
               "    properties:\n      targetState: disabled\n"
               "      mappings:\n        - subscribe: {topic: a}\n          publish: {topic: o}\n"
               "          rules: [{collect: {x: 1}}]\n");
    assert_int_equal(e.rc, -EINVAL);
    assert_string_equal(e.err.setting, "resources.n.properties.mappings[0].rules[0].collect.x");
    s_free(&e);
}

/* Every kind, as docs/rules.md writes them, through mqg_service_load. */
static void test_all_kinds_file(void **state)
{
    static const enum mqg_rule_kind want[][3] = {
        {MQG_RULE_PARSE, MQG_RULE_TRANSFORM},
        {MQG_RULE_TRANSFORM},
        {MQG_RULE_FILTER, MQG_RULE_TRANSFORM},
        {MQG_RULE_SET_CONTEXT_VARS},
        {MQG_RULE_COV},
        {MQG_RULE_COV},
        {MQG_RULE_BURST},
        {MQG_RULE_COLLECT, MQG_RULE_TRANSFORM},
        {MQG_RULE_TRANSFORM, MQG_RULE_STASH},
    };
    struct load l;
    memset(&l, 0, sizeof(l));
    mqg_model_init(&l.m);
    l.rc = mqg_service_load(&l.m, DATA("connectware/rules-all-kinds.yml"), NULL, 0, NULL, &l.err);
    if (l.rc != 0) {
        print_error("%s:%d:%d: %s: %s\n", l.err.file, l.err.line, l.err.col, l.err.setting,
                    l.err.msg);
    }
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.m.n_routes, N_ELEMS(want));
    for (size_t i = 0; i < N_ELEMS(want); i++) {
        const struct mqg_route *rt = &l.m.routes[i];
        size_t n = 0;
        while (n < 3 && want[i][n]) {
            n++;
        }
        assert_int_equal(rt->n_rules, n);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(rt->rules[j].kind, want[i][j]);
            assert_non_null(rt->rules[j].where);
        }
        assert_null(rt->rid);
    }
    assert_string_equal(l.m.routes[0].name, "endpoint rawRegister");
    assert_string_equal(l.m.routes[0].rules[0].where,
                        DATA("connectware/rules-all-kinds.yml") ":33:21");
    assert_string_equal(l.m.routes[3].target.topic, "tenants/{tenant}/{kind}");
    assert_int_equal(l.m.routes[3].rules[0].n_vars, 2);
    assert_int_equal(l.m.routes[5].rules[0].cov_mode, MQG_COV_RELATIVE);
    const struct mqg_route *col = &l.m.routes[7];
    assert_int_equal(col->n_sources, 2);
    assert_string_equal(col->sources[0].label, "temp_{room}");
    assert_string_equal(col->sources[1].label, "outside");
    assert_string_equal(l.m.routes[8].rules[1].text, "previous");
    s_free(&l);
}

/* ---- errors ------------------------------------------------------------------------- */

static void test_item_errors(void **state)
{
    static const struct err_case cases[] = {
        {RULES "            - transfrom: {expression: x}\n", 17, 15, R0 ".transfrom",
         "unknown rule kind 'transfrom'; expected one of: transform, filter, parse, "
         "setContextVars, cov, burst, collect, stash"},
        {RULES "            - transform: {expression: x}\n              filter: {expression: y}\n",
         18, 15, R0 ".filter", "two rule kinds in one list item ('transform' and 'filter')"},
        {RULES "            - transform:\n              expression: x\n", 18, 15, R0 ".expression",
         "'expression' next to the rule kind 'transform'; expected exactly one key per list item"},
        {RULES "            - transform\n", 17, 15, R0,
         "expected a rule {<kind>: {<options>}} with kind one of: transform, filter, parse, "
         "setContextVars, cov, burst, collect, stash, got a scalar"},
        {RULES "            - {}\n", 17, 15, R0, "got an empty mapping"},
        {RULES "            - transform: $.x\n", 17, 26, R0 ".transform",
         "expected transform: {expression: <JSONata>}, got a scalar"},
        {HDR "          rules: {transform: {expression: x}}\n", 16, 18,
         "resources.m.properties.mappings[0].rules",
         "expected a list of rules (- <kind>: {<options>}), got a mapping"},
        {HDR "          rules: transform\n", 16, 18, "resources.m.properties.mappings[0].rules",
         "expected a list of rules"},
        {HDR "          rules:\n            - stash: {label: a}\n            - nope: {}\n", 18, 15,
         "resources.m.properties.mappings[0].rules[1].nope", "unknown rule kind 'nope'"},
        /* an endpoint's rules */
        {"metadata:\n  name: E\nresources:\n  c:\n    type: Cybus::Connection\n"
         "    properties:\n      protocol: Mqtt\n      connection:\n        host: h\n"
         "  e:\n    type: Cybus::Endpoint\n    properties:\n      protocol: Mqtt\n"
         "      connection: !ref c\n      subscribe: {topic: a}\n"
         "      rules: [{parse: {format: int17}}]\n",
         16, 32, "resources.e.properties.rules[0].parse.format", "unknown parse format 'int17'"},
    };
    s_run_errors(cases, N_ELEMS(cases));
}

static void test_expression_errors(void **state)
{
    static const struct err_case cases[] = {
        {RULES "            - filter: {}\n", 17, 15, R0 ".filter.expression",
         "filter.expression is missing; expected filter: {expression: <JSONata>}"},
        {RULES "            - filter:\n", 17, 15, R0 ".filter.expression",
         "filter.expression is missing"},
        {RULES "            - transform: {expression: }\n", 17, 15, R0 ".transform.expression",
         "transform.expression is missing"},
        {RULES "            - transform: {expression: [1]}\n", 17, 39, R0 ".transform.expression",
         "expected a JSONata expression as text, got a sequence"},
        /* a JSONata object written unquoted is a YAML mapping */
        {RULES "            - transform:\n                expression: {\"a\": $.x}\n", 18, 29,
         R0 ".transform.expression",
         "expected a JSONata expression as text, got a mapping (quote it, or write it after | "
         "as a block scalar)"},
        {RULES "            - filter: {expression: ''}\n", 17, 36, R0 ".filter.expression",
         "expression is empty; expected a JSONata expression"},
        {RULES "            - filter: {expression: \"  \\n\"}\n", 17, 36, R0 ".filter.expression",
         "expression is empty"},
        {RULES "            - filter: {expression: \"a\\0b\"}\n", 17, 36, R0 ".filter.expression",
         "holding a NUL character"},
        {RULES "            - filter: {expression: x, language: jsonata}\n", 17, 39,
         R0 ".filter.language", "unknown property 'language'; expected one of: expression"},
    };
    s_run_errors(cases, N_ELEMS(cases));
}

static void test_option_errors(void **state)
{
    static const struct err_case cases[] = {
        {RULES "            - parse: {format: int16be}\n", 17, 31, R0 ".parse.format",
         "unknown parse format 'int16be'; expected one of (case-sensitive): json, utf8,"},
        {RULES "            - parse: {}\n", 17, 15, R0 ".parse.format", "parse.format is missing"},
        {RULES "            - cov: {key: v, deadband: 1, deadbandMode: percent}\n", 17, 56,
         R0 ".cov.deadbandMode", "unknown deadbandMode 'percent'; expected absolute or relative"},
        {RULES "            - cov: {key: v, deadband: -1}\n", 17, 39, R0 ".cov.deadband",
         "-1 is out of range; expected a number >= 0"},
        {RULES "            - cov: {key: v, deadband: '1'}\n", 17, 39, R0 ".cov.deadband",
         "expected a number >= 0, got the quoted string '1'"},
        {RULES "            - cov: {key: v, deadband: .nan}\n", 17, 39, R0 ".cov.deadband",
         "expected a number >= 0, got '.nan'"},
        {RULES "            - cov: {deadband: 1}\n", 17, 15, R0 ".cov.key", "cov.key is missing"},
        {RULES "            - burst: {maxSize: 0}\n", 17, 32, R0 ".burst.maxSize",
         "0 is out of range; expected 1..2147483647"},
        {RULES "            - burst: {interval: 1.5}\n", 17, 33, R0 ".burst.interval",
         "expected an integer, got '1.5'"},
        {RULES "            - burst: {maxSize: 3, timeout: 5}\n", 17, 35, R0 ".burst.timeout",
         "unknown property 'timeout'; expected one of: interval, maxSize"},
        {RULES "            - collect: {labels: [a]}\n", 17, 25, R0 ".collect.labels",
         "unknown property 'labels'; collect has no options, expected collect: {}"},
        {RULES "            - stash: {}\n", 17, 15, R0 ".stash.label", "stash.label is missing"},
        {RULES "            - stash: {label: a, size: 3}\n", 17, 33, R0 ".stash.size",
         "unknown property 'size'; expected one of: label"},
    };
    s_run_errors(cases, N_ELEMS(cases));
}

static void test_vars_errors(void **state)
{
    static const struct err_case cases[] = {
        {RULES "            - setContextVars: {}\n", 17, 15, R0 ".setContextVars.vars",
         "setContextVars.vars is missing; expected setContextVars: {vars: {<name>: <JSONata>, "
         "...}}"},
        {RULES "            - setContextVars:\n", 17, 15, R0 ".setContextVars.vars",
         "setContextVars.vars is missing"},
        {RULES "            - setContextVars: {vars: {}}\n", 17, 38, R0 ".setContextVars.vars",
         "vars is empty; expected at least one <name>: <JSONata>"},
        {RULES "            - setContextVars: {vars: [a]}\n", 17, 38, R0 ".setContextVars.vars",
         "expected a mapping {<name>: <JSONata>, ...}, got a sequence"},
        {RULES "            - setContextVars: {vars: {my-var: $.x}}\n", 17, 39,
         R0 ".setContextVars.vars.my-var",
         "'my-var' is not a usable variable name; expected a letter or '_' followed by letters, "
         "digits or '_'"},
        {RULES "            - setContextVars: {vars: {1a: $.x}}\n", 17, 39,
         R0 ".setContextVars.vars.1a", "'1a' is not a usable variable name"},
        {RULES "            - setContextVars: {vars: {a: }}\n", 17, 39, R0 ".setContextVars.vars.a",
         "a has no expression; expected a: <JSONata>"},
        {RULES "            - setContextVars: {vars: {a: ''}}\n", 17, 42,
         R0 ".setContextVars.vars.a", "a is empty; expected a JSONata expression"},
        /* {name} in the publish topic: a wildcard or a variable set by the entry's rules */
        {HDR "          rules: [{setContextVars: {vars: {t: $.t}}}]\n"
             "        - subscribe: {topic: a}\n          publish: {topic: 'b/{t}'}\n",
         18, 28, "resources.m.properties.mappings[1].publish.topic",
         "'b/{t}' does not fit subscribe[0]: the topic template uses a name that is not a named "
         "wildcard of the subscription; expected only placeholders named by +name/#name "
         "wildcards of every subscribe or set by a setContextVars rule of the entry"},
    };
    s_run_errors(cases, N_ELEMS(cases));
}

/* The formats the unknown-format message lists are the ones mqg_parse_format knows. */
static void test_format_list(void **state)
{
    struct load l;
    s_load(&l, RULES "            - parse: {format: x}\n");
    assert_int_equal(l.rc, -EINVAL);
    const char *list = strstr(l.err.msg, "(case-sensitive): ");
    assert_non_null(list);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", list + strlen("(case-sensitive): "));
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        enum mqg_parse_format f;
        if (mqg_parse_format(tok, &f) != 0) {
            print_error("'%s' is listed but not known\n", tok);
            fail();
        }
        n++;
    }
    assert_int_equal(n, MQG_PARSE_FROMBASE64 + 1);
    s_free(&l);
}

/* ---- mqgate check ------------------------------------------------------------------- */

static void test_print(void **state)
{
    struct load l;
    s_ok(&l, RULES "            - parse: {format: int16BE}\n"
                   "            - transform: {expression: $}\n"
                   "            - setContextVars: {vars: {a: $.a, b: $.b}}\n"
                   "            - cov: {key: \"k\\x1b\", deadband: 2.5, deadbandMode: relative}\n"
                   "            - burst: {maxSize: 10, interval: 2000}\n"
                   "            - collect:\n            - stash: {label: last}\n");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    const struct mqg_route *rt = s_route(&l);
    mqg_model_rules_print(rt->rules, rt->n_rules, f);
    mqg_model_rules_print(rt->rules, 0, f); /* nothing */
    fclose(f);
    assert_string_equal(text, "      rules: parse int16BE (t.yml:17:31), transform (t.yml:18:39), "
                              "setContextVars a, b (t.yml:19:15), cov key k\\x1b deadband 2.5% "
                              "(t.yml:20:26), burst maxSize 10 interval 2000ms (t.yml:21:15), "
                              "collect (t.yml:22:15), stash last (t.yml:23:30)\n");
    free(text);
    s_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transform_block),
        cmocka_unit_test(test_filter_and_transform),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_set_context_vars),
        cmocka_unit_test(test_cov),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_collect_and_stash),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_dropped_routes),
        cmocka_unit_test(test_all_kinds_file),
        cmocka_unit_test(test_item_errors),
        cmocka_unit_test(test_expression_errors),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_vars_errors),
        cmocka_unit_test(test_format_list),
        cmocka_unit_test(test_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
