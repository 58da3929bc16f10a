/* test_chain — unit tests of the rules process: rules/chain (each rule kind on a model built
 * by hand, exact outputs and counters), rules/rules_link (the connector's link API: outputs
 * before the copy's LEV_PUB_OK, burst batches by time) and supervisor/rules_check (through the
 * mqgate-rules program built next to this test).
 *
 * Built only with MQG_RULES (tests/CMakeLists.txt). Like test_jsengine, the engine is made in
 * main() before cmocka, and each test puts JavaScriptCore's signal handlers back first.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "chain.h"
#include "chain_int.h"
#include "jsengine.h"
#include "mqg_proc.h"
#include "mqg_rulestate.h"
#include "mqtt_link.h"
#include "rules_check.h"

static struct jsengine *g_e;

static const int JSC_SIGNALS[] = {SIGSEGV, SIGBUS, SIGUSR1};
static struct sigaction g_jsc_sa[3];

static void s_jsc_signals(void)
{
    for (int i = 0; i < 3; i++) {
        sigaction(JSC_SIGNALS[i], &g_jsc_sa[i], NULL);
    }
}

/* ---- a model by hand ---- */

#define RID(n) "00000000000000" n

static struct mqg_rule r_transform[] = {
    {.kind = MQG_RULE_TRANSFORM,
     .where = "t.yml:1:1",
     .text = "{\"machine\": $context.vars.machine, \"line\": $context.vars.line, \"topic\": "
             "$context.topic, \"v\": value}"}};
static struct mqg_rule r_filter[] = {
    {.kind = MQG_RULE_FILTER, .where = "t.yml:2:1", .text = "level = \"ERROR\""}};
static struct mqg_rule r_parse[] = {
    {.kind = MQG_RULE_PARSE, .where = "t.yml:3:1", .text = "int16BE"},
    {.kind = MQG_RULE_TRANSFORM, .where = "t.yml:3:9", .text = "{\"value\": $}"}};
static struct mqg_rule_var v_prio[] = {
    {.name = "priority", .expr = "$.temperature > 30 ? \"high\" : \"low\"", .where = "t.yml:4:3"}};
static struct mqg_rule r_vars[] = {
    {.kind = MQG_RULE_SET_CONTEXT_VARS, .where = "t.yml:4:1", .vars = v_prio, .n_vars = 1}};
static struct mqg_rule r_cov[] = {{.kind = MQG_RULE_COV,
                                   .where = "t.yml:5:1",
                                   .text = "value",
                                   .cov_mode = MQG_COV_ABSOLUTE,
                                   .deadband = 0.5}};
static struct mqg_rule r_burst3[] = {{.kind = MQG_RULE_BURST, .where = "t.yml:6:1", .max_size = 3}};
static struct mqg_rule r_burst_t[] = {
    {.kind = MQG_RULE_BURST, .where = "t.yml:7:1", .interval_ms = 100}};
static struct mqg_rule r_collect[] = {{.kind = MQG_RULE_COLLECT, .where = "t.yml:8:1"}};
static struct mqg_rule r_stash[] = {
    {.kind = MQG_RULE_TRANSFORM,
     .where = "t.yml:9:1",
     .text = "{\"current\": $.t, \"previous\": $last(\"p\") ? $last(\"p\").current : null}"},
    {.kind = MQG_RULE_STASH, .where = "t.yml:9:5", .text = "p"}};
static struct mqg_rule r_endless[] = {{.kind = MQG_RULE_TRANSFORM,
                                       .where = "t.yml:10:1",
                                       .text = "($f := function(){ $f() }; $f())"}};

static struct mqg_rule r_truthy[] = {{.kind = MQG_RULE_FILTER, .where = "t.yml:11:1", .text = "v"}};
static struct mqg_rule_var v_num[] = {
    {.name = "n", .expr = "$.v * 2", .where = "t.yml:12:3"},
    {.name = "s", .expr = "$context.vars.n & \"x\"", .where = "t.yml:12:9"}};
static struct mqg_rule r_num[] = {
    {.kind = MQG_RULE_SET_CONTEXT_VARS, .where = "t.yml:12:1", .vars = v_num, .n_vars = 2},
    {.kind = MQG_RULE_TRANSFORM, .where = "t.yml:12:20", .text = "$context.vars"}};

static struct mqg_source s_machine[] = {{.filter = "factory/+line/+machine/temp"}};
static struct mqg_source s_logs[] = {{.filter = "logs/#rest"}};
static struct mqg_source s_raw[] = {{.filter = "raw/+id"}};
static struct mqg_source s_temp[] = {{.filter = "temp/+id"}};
static struct mqg_source s_cov[] = {{.filter = "cov/x"}};
static struct mqg_source s_burst[] = {{.filter = "burst/+dev"}};
static struct mqg_source s_bt[] = {{.filter = "bt/+dev"}};
static struct mqg_source s_sensors[] = {{.filter = "sensors/+room/temp", .label = "temp_{room}"},
                                        {.filter = "sensors/+room/hum", .label = "hum_{room}"},
                                        {.filter = "sensors/+room/co2"}};
static struct mqg_source s_stash[] = {{.filter = "stash/x"}};
static struct mqg_source s_endless[] = {{.filter = "endless/x"}};
static struct mqg_source s_truthy[] = {{.filter = "truthy"}};
static struct mqg_source s_num[] = {{.filter = "num/+id"}};

#define ROUTE(nm, rid_, src, tgt, rl)                                                              \
    {                                                                                              \
        .name = nm, .sources = src, .n_sources = sizeof(src) / sizeof(src[0]),                     \
        .target = {.conn = MQG_INTERNAL, .topic = tgt, .qos = 1}, .rules = rl,                     \
        .n_rules = sizeof(rl) / sizeof(rl[0]), .rid = rid_                                         \
    }

/* out of rid order on purpose: the set sorts them */
static struct mqg_route g_routes[] = {
    ROUTE("mapping m[9]", RID("09"), s_stash, "stash/out", r_stash),
    ROUTE("mapping m[1]", RID("01"), s_machine, "out/{machine}", r_transform),
    ROUTE("mapping m[2]", RID("02"), s_logs, "errors/{rest}", r_filter),
    ROUTE("mapping m[3]", RID("03"), s_raw, "parsed/$id", r_parse),
    ROUTE("mapping m[4]", RID("04"), s_temp, "alerts/{priority}", r_vars),
    ROUTE("mapping m[5]", RID("05"), s_cov, "cov/out", r_cov),
    ROUTE("mapping m[6]", RID("06"), s_burst, "b3/{dev}", r_burst3),
    ROUTE("mapping m[7]", RID("07"), s_bt, "bt/out/{dev}", r_burst_t),
    ROUTE("mapping m[8]", RID("08"), s_sensors, "collected", r_collect),
    ROUTE("mapping m[10]", RID("10"), s_endless, "never", r_endless),
    ROUTE("mapping m[11]", RID("11"), s_truthy, "t", r_truthy),
    ROUTE("mapping m[12]", RID("12"), s_num, "n/{n}/{s}/{id}", r_num),
};

static struct mqg_connection g_rules_conn = {
    .key = MQG_RULES_KEY, .rules_engine = true, .rules_time_limit_ms = 300};

static struct mqg_model g_model = {.routes = g_routes,
                                   .n_routes = sizeof(g_routes) / sizeof(g_routes[0]),
                                   .conns = &g_rules_conn,
                                   .n_conns = 1};

/* ---- outputs ---- */

static struct chain_set *g_set;

struct outs {
    int n;
    char topic[8][128];
    char payload[8][256];
    char log[256]; /* "E " per output, "R<tag> " per released tag, in order */
};

static int s_emit(void *arg, const struct mqg_route *route, const char *topic, const char *payload,
                  size_t len)
{
    struct outs *o = arg;
    assert_true(o->n < 8);
    snprintf(o->topic[o->n], sizeof(o->topic[0]), "%s", topic);
    snprintf(o->payload[o->n], sizeof(o->payload[0]), "%.*s", (int)len, payload);
    o->n++;
    strcat(o->log, "E ");
    return 0;
}

static void s_release(void *arg, uint64_t tag)
{
    struct outs *o = arg;
    size_t at = strlen(o->log);
    snprintf(o->log + at, sizeof(o->log) - at, "R%llu ", (unsigned long long)tag);
}

/* Run one message with a tag; returns the result. */
static int s_run_tag(struct outs *o, const char *topic, const char *payload, uint64_t now,
                     uint64_t tag)
{
    return chain_run_tag(g_set, topic, payload, strlen(payload), now, &tag, s_emit, o);
}

/* Run one message; expect rc and (for CHAIN_PASSED) exactly one output topic/payload. */
static void s_run(const char *topic, const char *payload, uint64_t now, int want_rc,
                  const char *want_topic, const char *want_payload)
{
    struct outs o = {0};
    int rc = chain_run(g_set, topic, payload, strlen(payload), now, s_emit, &o);
    if (rc != want_rc) {
        fail_msg("%s %s: rc %d, want %d", topic, payload, rc, want_rc);
    }
    if (!want_topic) {
        assert_int_equal(o.n, 0);
        return;
    }
    assert_int_equal(o.n, 1);
    assert_string_equal(o.topic[0], want_topic);
    assert_string_equal(o.payload[0], want_payload);
}

static struct mqg_rule_stats s_stats(const char *rid)
{
    struct mqg_rule_stats st = {0};
    for (size_t i = 0; i < chain_routes(g_set); i++) {
        const struct mqg_route *r = chain_route(g_set, i, &st);
        if (strcmp(r->rid, rid) == 0) {
            return st;
        }
    }
    fail_msg("no route %s", rid);
    return st;
}

static int s_setup(void **state)
{
    s_jsc_signals();
    char err[256] = "";
    int rc = chain_set_new(&g_model, g_e, &g_set, err, sizeof(err));
    if (rc) {
        fail_msg("chain_set_new: %d %s", rc, err);
    }
    return 0;
}

static int s_teardown(void **state)
{
    chain_set_destroy(&g_set);
    return 0;
}

/* ---- the rule kinds ---- */

static void test_transform(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    s_run(RID("01") "/factory/l1/m7/temp", "{\"value\": 21.5}", 1000, CHAIN_PASSED,
          RID("01") "/out/m7",
          "{\"machine\":\"m7\",\"line\":\"l1\",\"topic\":\"factory/l1/m7/temp\",\"v\":21.5}");
    struct mqg_rule_stats st = s_stats(RID("01"));
    assert_int_equal(st.in, 1);
    assert_int_equal(st.out, 1);
}

static void test_filter(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    /* passes unchanged, written as JSON.stringify writes it */
    s_run(RID("02") "/logs/a/b", "{\"level\": \"ERROR\", \"msg\": \"disk\"}", 1000, CHAIN_PASSED,
          RID("02") "/errors/a/b", "{\"level\":\"ERROR\",\"msg\":\"disk\"}");
    s_run(RID("02") "/logs/a", "{\"level\": \"INFO\"}", 1000, CHAIN_FILTERED, NULL, NULL);
    s_run(RID("02") "/logs/a", "{\"other\": 1}", 1000, CHAIN_FILTERED, NULL, NULL);
    struct mqg_rule_stats st = s_stats(RID("02"));
    assert_int_equal(st.in, 3);
    assert_int_equal(st.out, 1);
    assert_int_equal(st.filtered, 2);
}

/* filter judges its result as jsonata's $boolean does */
static void test_filter_boolean(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    static const char *const pass[][2] = {{"{\"v\": \"x\"}", "{\"v\":\"x\"}"},
                                          {"{\"v\": 1}", "{\"v\":1}"},
                                          {"{\"v\": [0, 1]}", "{\"v\":[0,1]}"},
                                          {"{\"v\": {\"a\": 1}}", "{\"v\":{\"a\":1}}"},
                                          {"{\"v\": true}", "{\"v\":true}"}};
    static const char *const drop[] = {"{\"v\": \"\"}",  "{\"v\": 0}",    "{\"v\": []}",
                                       "{\"v\": [0]}",   "{\"v\": {}}",   "{\"v\": null}",
                                       "{\"v\": false}", "{\"other\": 1}"};
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        s_run(RID("11") "/truthy", pass[i][0], 1000, CHAIN_PASSED, RID("11") "/t", pass[i][1]);
    }
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
        s_run(RID("11") "/truthy", drop[i], 1000, CHAIN_FILTERED, NULL, NULL);
    }
}

/* setContextVars: values that are not strings, one var seeing the one before */
static void test_vars_values(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    s_run(RID("12") "/num/a\"b", "{\"v\": 21}", 1000, CHAIN_PASSED, RID("12") "/n/42/42x/a\"b",
          "{\"id\":\"a\\\"b\",\"n\":42,\"s\":\"42x\"}");
}

static void test_parse(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    struct outs o = {0};
    const char bytes[] = {0x03, 0x20};
    assert_int_equal(chain_run(g_set, RID("03") "/raw/dev1", bytes, 2, 1000, s_emit, &o),
                     CHAIN_PASSED);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.topic[0], RID("03") "/parsed/dev1");
    assert_string_equal(o.payload[0], "{\"value\":800}");
    /* one byte is too short for int16BE */
    assert_int_equal(chain_run(g_set, RID("03") "/raw/dev1", bytes, 1, 1000, s_emit, &o),
                     CHAIN_NOT_JSON);
    assert_int_equal(s_stats(RID("03")).not_json, 1);
}

static void test_set_context_vars(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    s_run(RID("04") "/temp/a", "{\"temperature\": 42}", 1000, CHAIN_PASSED,
          RID("04") "/alerts/high", "{\"temperature\":42}");
    s_run(RID("04") "/temp/a", "{\"temperature\": 12}", 1000, CHAIN_PASSED, RID("04") "/alerts/low",
          "{\"temperature\":12}");
}

static void test_cov(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    s_run(RID("05") "/cov/x", "{\"value\": 22.0}", 1000, CHAIN_PASSED, RID("05") "/cov/out",
          "{\"value\":22}");
    s_run(RID("05") "/cov/x", "{\"value\": 22.1}", 1000, CHAIN_FILTERED, NULL, NULL);
    s_run(RID("05") "/cov/x", "{\"value\": 22.6}", 1000, CHAIN_PASSED, RID("05") "/cov/out",
          "{\"value\":22.6}");
    assert_int_equal(s_stats(RID("05")).filtered, 1);
}

static void test_burst_size(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    s_run(RID("06") "/burst/d1", "{\"v\":1}", 1000, CHAIN_HELD, NULL, NULL);
    s_run(RID("06") "/burst/d1", "{\"v\":2}", 1001, CHAIN_HELD, NULL, NULL);
    s_run(RID("06") "/burst/d2", "{\"v\": 3}", 1002, CHAIN_PASSED, RID("06") "/b3/d2",
          "[{\"v\":1},{\"v\":2},{\"v\":3}]");
    assert_int_equal(chain_due(g_set), 0);
}

static void test_burst_interval(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    s_run(RID("07") "/bt/d1", "{\"v\":1}", 1000, CHAIN_HELD, NULL, NULL);
    s_run(RID("07") "/bt/d2", "{\"v\":2}", 1050, CHAIN_HELD, NULL, NULL);
    assert_int_equal(chain_due(g_set), 1100);
    struct outs o = {0};
    assert_int_equal(chain_tick(g_set, 1099, s_emit, &o), 0);
    assert_int_equal(o.n, 0);
    assert_int_equal(chain_tick(g_set, 1100, s_emit, &o), 1);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.topic[0], RID("07") "/bt/out/d2"); /* the last message's vars */
    assert_string_equal(o.payload[0], "[{\"v\":1},{\"v\":2}]");
    assert_int_equal(chain_due(g_set), 0);
    /* a batch that is due goes out before the next message joins a new one */
    s_run(RID("07") "/bt/d3", "{\"v\":3}", 2000, CHAIN_HELD, NULL, NULL);
    s_run(RID("07") "/bt/d4", "{\"v\":4}", 2200, CHAIN_HELD, RID("07") "/bt/out/d3", "[{\"v\":3}]");
    assert_int_equal(chain_due(g_set), 2300);
    assert_int_equal(s_stats(RID("07")).out, 2);
}

/* Tags: a message done at once is released after its output; messages a burst holds are
 * released after their batch went out (by size or by time), and at once beyond the bound. */
static void test_burst_tags(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    chain_set_release(g_set, s_release, 3);
    struct outs o = {0};
    assert_int_equal(s_run_tag(&o, RID("01") "/factory/l1/m7/temp", "{\"value\": 1}", 1000, 1),
                     CHAIN_PASSED);
    assert_int_equal(s_run_tag(&o, RID("02") "/logs/a", "{\"level\": \"INFO\"}", 1000, 2),
                     CHAIN_FILTERED);
    assert_int_equal(s_run_tag(&o, "ffffffffffffffff/x", "{}", 1000, 3), CHAIN_UNKNOWN_ROUTE);
    assert_string_equal(o.log, "E R1 R2 R3 ");
    /* by size (3): held, held, then the batch and all three */
    o = (struct outs){0};
    assert_int_equal(s_run_tag(&o, RID("06") "/burst/d1", "{\"v\":1}", 1000, 11), CHAIN_HELD);
    assert_int_equal(s_run_tag(&o, RID("06") "/burst/d1", "{\"v\":2}", 1000, 12), CHAIN_HELD);
    assert_string_equal(o.log, "");
    assert_int_equal(s_run_tag(&o, RID("06") "/burst/d1", "{\"v\":3}", 1000, 13), CHAIN_PASSED);
    assert_string_equal(o.log, "E R13 R11 R12 ");
    /* by time: released by the tick that sends the batch */
    o = (struct outs){0};
    assert_int_equal(s_run_tag(&o, RID("07") "/bt/d1", "{\"v\":1}", 2000, 21), CHAIN_HELD);
    assert_int_equal(s_run_tag(&o, RID("07") "/bt/d1", "{\"v\":2}", 2010, 22), CHAIN_HELD);
    assert_int_equal(chain_tick(g_set, 2050, s_emit, &o), 0);
    assert_string_equal(o.log, "");
    assert_int_equal(chain_tick(g_set, 2100, s_emit, &o), 1);
    assert_string_equal(o.log, "E R21 R22 ");
    /* the bound (3 held in all): the fourth held message is released at once */
    o = (struct outs){0};
    assert_int_equal(s_run_tag(&o, RID("07") "/bt/d1", "{\"v\":1}", 3000, 31), CHAIN_HELD);
    assert_int_equal(s_run_tag(&o, RID("06") "/burst/d1", "{\"v\":1}", 3000, 32), CHAIN_HELD);
    assert_int_equal(s_run_tag(&o, RID("06") "/burst/d1", "{\"v\":2}", 3000, 33), CHAIN_HELD);
    assert_int_equal(s_run_tag(&o, RID("07") "/bt/d1", "{\"v\":2}", 3001, 34), CHAIN_HELD);
    assert_string_equal(o.log, "R34 ");
    assert_int_equal(chain_tick(g_set, 3100, s_emit, &o), 1);
    assert_string_equal(o.log, "R34 E R31 ");
    /* room again: held until the size batch completes */
    assert_int_equal(s_run_tag(&o, RID("06") "/burst/d1", "{\"v\":3}", 3200, 35), CHAIN_PASSED);
    assert_string_equal(o.log, "R34 E R31 E R35 R32 R33 ");
    /* a batch that is due goes out (and its tags are released) before the next one starts */
    o = (struct outs){0};
    assert_int_equal(s_run_tag(&o, RID("07") "/bt/d1", "{\"v\":1}", 4000, 41), CHAIN_HELD);
    assert_int_equal(s_run_tag(&o, RID("07") "/bt/d1", "{\"v\":2}", 4200, 42), CHAIN_HELD);
    assert_string_equal(o.log, "E R41 ");
    /* what is still held when the set goes is not released (the router replays it) */
}

static void test_collect(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    s_run(RID("08") "/sensors/office/temp", "{\"t\":21}", 1000, CHAIN_PASSED,
          RID("08") "/collected", "{\"temp_office\":{\"t\":21}}");
    s_run(RID("08") "/sensors/lab/hum", "{\"h\":40}", 1000, CHAIN_PASSED, RID("08") "/collected",
          "{\"temp_office\":{\"t\":21},\"hum_lab\":{\"h\":40}}");
    s_run(RID("08") "/sensors/office/temp", "{\"t\":22}", 1000, CHAIN_PASSED,
          RID("08") "/collected", "{\"temp_office\":{\"t\":22},\"hum_lab\":{\"h\":40}}");
    /* no label: the topic is the key */
    s_run(RID("08") "/sensors/lab/co2", "400", 1000, CHAIN_PASSED, RID("08") "/collected",
          "{\"temp_office\":{\"t\":22},\"hum_lab\":{\"h\":40},\"sensors/lab/co2\":400}");
}

static void test_stash(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    s_run(RID("09") "/stash/x", "{\"t\":1}", 1000, CHAIN_PASSED, RID("09") "/stash/out",
          "{\"current\":1,\"previous\":null}");
    s_run(RID("09") "/stash/x", "{\"t\":2}", 1000, CHAIN_PASSED, RID("09") "/stash/out",
          "{\"current\":2,\"previous\":1}");
}

static void test_not_json_and_unknown(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    s_run(RID("01") "/factory/l1/m7/temp", "not json", 1000, CHAIN_NOT_JSON, NULL, NULL);
    s_run(RID("01") "/factory/l1/m7/temp", "", 1000, CHAIN_NOT_JSON, NULL, NULL);
    assert_int_equal(s_stats(RID("01")).not_json, 2);
    /* burst needs JSON without the engine: read by `$` first */
    s_run(RID("06") "/burst/d1", "{oops", 1000, CHAIN_NOT_JSON, NULL, NULL);
    s_run(RID("99") "/x", "{}", 1000, CHAIN_UNKNOWN_ROUTE, NULL, NULL);
    s_run("no-rid", "{}", 1000, CHAIN_UNKNOWN_ROUTE, NULL, NULL);
    assert_int_equal(chain_unknown(g_set), 2);
}

static void test_timeout(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    int64_t t0 = mqg_now_ms();
    s_run(RID("10") "/endless/x", "{}", 1000, CHAIN_TIMEOUT, NULL, NULL);
    fprintf(stderr, "endless expression stopped after %lld ms\n", (long long)(mqg_now_ms() - t0));
    assert_int_equal(s_stats(RID("10")).timeout, 1);
    /* the engine goes on */
    s_run(RID("01") "/factory/l2/m1/temp", "{\"value\": 1}", 1000, CHAIN_PASSED,
          RID("01") "/out/m1",
          "{\"machine\":\"m1\",\"line\":\"l2\",\"topic\":\"factory/l2/m1/temp\",\"v\":1}");
}

static void test_util(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    char *s = NULL;
    size_t n = 0;
    const char *q = "\"a\\u00e9\\ud83d\\ude00\\n\"";
    assert_int_equal(chain_json_unquote(q, strlen(q), &s, &n), 0);
    assert_string_equal(s, "a\xc3\xa9\xf0\x9f\x98\x80\n");
    free(s);
    assert_int_equal(chain_json_unquote("\"a\"b\"", 5, &s, &n), -EINVAL);
    struct cvars vs = {0};
    assert_int_equal(cvars_set(&vs, "id", "\"x\"", 3, "x", 1), 0);
    vs.v[0].wildcard = true;
    assert_int_equal(cvars_set(&vs, "set", "\"y\"", 3, "y", 1), 0); /* by setContextVars */
    char out[64];
    const char *why = NULL;
    assert_int_equal(chain_render("$aws/{id}/$id/$idx/{", &vs, out, sizeof out, &why), 15);
    assert_string_equal(out, "$aws/x/x/$idx/{");
    /* "$name" is a reference only for a named wildcard */
    assert_int_equal(chain_render("{set}/$set", &vs, out, sizeof out, &why), 6);
    assert_string_equal(out, "y/$set");
    assert_int_equal(chain_render("a/{nope}", &vs, out, sizeof out, &why), -ENOENT);
    assert_string_equal(why, "{nope}");
    assert_int_equal(chain_render("abcdef", &vs, out, 4, &why), -ENOSPC);
    cvars_free(&vs);
    char **names = NULL;
    assert_int_equal(chain_wildcard_names("$share/g/a/+x/+/#rest", &names, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "x");
    assert_string_equal(names[1], "rest");
    chain_names_free(names, n);
}

/* ---- rules_link: the connector's view ---- */

static int g_arrived;

static void s_arrive(void *ctx, struct link_ev *ev)
{
    g_arrived++;
    ev->seq = (uint64_t)g_arrived; /* as the journal would */
}

/* Wait up to ms for events and append them to *list (kinds into kinds[], n). */
static void s_events(struct mqtt_link *l, int ms, struct link_ev **keep, int *kinds, int *n,
                     int want)
{
    int64_t end = mqg_now_ms() + ms;
    while (*n < want && mqg_now_ms() < end) {
        struct pollfd p = {.fd = mqtt_link_fd(l), .events = POLLIN};
        poll(&p, 1, 50);
        for (struct link_ev *ev = mqtt_link_take(l), *nx; ev; ev = nx) {
            nx = ev->next;
            if (*n < 16) {
                kinds[*n] = ev->kind;
                if (ev->kind == LEV_MSG && keep && !*keep) {
                    *keep = ev;
                    ev = NULL;
                }
                (*n)++;
            }
            free(ev);
        }
    }
}

static void test_rules_link(void **state)
{
    s_jsc_signals();
    setenv("MQG_JSONATA_JS", MQG_JSONATA_JS, 1);
    struct mqtt_link *l = NULL;
    assert_int_equal(mqtt_link_new(&g_rules_conn, "/tmp", 4, &l), 0);
    mqtt_link_set_model(l, &g_model);
    mqtt_link_on_arrive(l, s_arrive, NULL);
    assert_int_equal(mqtt_link_publish(l, "x", "{}", 2, 1, false, 1, true), -ENOTCONN);
    assert_int_equal(mqtt_link_connect(l), 0);
    int kinds[16], n = 0;
    s_events(l, 20000, NULL, kinds, &n, 1);
    assert_int_equal(n, 1);
    assert_int_equal(kinds[0], LEV_CONNECTED);
    mqtt_link_subscribe(l, NULL, 0);
    s_events(l, 2000, NULL, kinds, &n, 2);
    assert_int_equal(kinds[1], LEV_SUB_OK);
    assert_int_equal(mqtt_link_pingresps(l), -1);

    /* a copy: its output (through the hook) before its PUB_OK */
    const char *p = "{\"value\": 5}";
    assert_int_equal(
        mqtt_link_publish(l, RID("01") "/factory/a/b/temp", p, strlen(p), 1, false, 42, false), 0);
    struct link_ev *msg = NULL;
    n = 0;
    s_events(l, 5000, &msg, kinds, &n, 2);
    assert_int_equal(n, 2);
    assert_int_equal(kinds[0], LEV_MSG);
    assert_int_equal(kinds[1], LEV_PUB_OK);
    assert_non_null(msg);
    assert_string_equal(msg->topic, RID("01") "/out/b");
    assert_int_equal(msg->seq, 1);
    assert_int_equal(msg->qos, 1);
    assert_int_equal(g_arrived, 1);
    free(msg);
    msg = NULL;

    /* a dropped copy is acknowledged all the same */
    assert_int_equal(mqtt_link_publish(l, RID("02") "/logs/x", "{}", 2, 1, false, 43, false), 0);
    n = 0;
    s_events(l, 5000, NULL, kinds, &n, 1);
    assert_int_equal(kinds[0], LEV_PUB_OK);

    /* a burst by time: the batch comes when due, and only then the copy is acknowledged (a
     * process that died before would have the router replay it) */
    assert_int_equal(mqtt_link_publish(l, RID("07") "/bt/z", "{\"v\":9}", 7, 1, false, 44, false),
                     0);
    n = 0;
    s_events(l, 5000, &msg, kinds, &n, 2);
    assert_int_equal(n, 2);
    assert_int_equal(kinds[0], LEV_MSG);
    assert_int_equal(kinds[1], LEV_PUB_OK);
    assert_string_equal(msg->topic, RID("07") "/bt/out/z");
    assert_memory_equal(msg->payload, "[{\"v\":9}]", 9);
    free(msg);
    mqtt_link_destroy(&l, 500);
    assert_null(l);
}

/* The job queue is bounded at max_inflight: -EAGAIN beyond, as paho's full window. */
static void test_rules_link_window(void **state)
{
    s_jsc_signals();
    setenv("MQG_JSONATA_JS", MQG_JSONATA_JS, 1);
    struct mqtt_link *l = NULL;
    assert_int_equal(mqtt_link_new(&g_rules_conn, "/tmp", 1, &l), 0);
    mqtt_link_set_model(l, &g_model);
    assert_int_equal(mqtt_link_connect(l), 0);
    int kinds[16], n = 0;
    s_events(l, 20000, NULL, kinds, &n, 1);
    assert_int_equal(kinds[0], LEV_CONNECTED);
    /* the first runs for the time limit (300 ms): one waits, one is refused */
    int again = 0;
    for (uint64_t tag = 1; tag <= 3; tag++) {
        int rc = mqtt_link_publish(l, RID("10") "/endless/x", "{}", 2, 1, false, tag, false);
        assert_true(rc == 0 || rc == -EAGAIN);
        again += rc == -EAGAIN;
    }
    assert_true(again >= 1);
    n = 0;
    s_events(l, 10000, NULL, kinds, &n, 3 - again);
    for (int i = 0; i < n; i++) {
        assert_int_equal(kinds[i], LEV_PUB_OK);
    }
    assert_int_equal(n, 3 - again);
    mqtt_link_destroy(&l, 500);
}

/* The engine cannot start: LEV_CONNECT_FAILED with the reason, and again later. */
static void test_rules_link_no_jsonata(void **state)
{
    s_jsc_signals();
    setenv("MQG_JSONATA_JS", "/nonexistent/jsonata.js", 1);
    struct mqtt_link *l = NULL;
    assert_int_equal(mqtt_link_new(&g_rules_conn, "/tmp", 4, &l), 0);
    mqtt_link_set_model(l, &g_model);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(mqtt_link_connect(l), 0);
        int kinds[16], n = 0;
        s_events(l, 5000, NULL, kinds, &n, 1);
        assert_int_equal(n, 1);
        assert_int_equal(kinds[0], LEV_CONNECT_FAILED);
    }
    mqtt_link_destroy(&l, 500);
    setenv("MQG_JSONATA_JS", MQG_JSONATA_JS, 1);
}

/* ---- supervisor/rules_check through bin/mqgate-rules ---- */

static void test_rules_check(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    struct mqg_model none = {0};
    assert_int_equal(rules_check_model(&none, stderr), 0);
    assert_int_equal(rules_check_model(&g_model, stderr), 0);

    struct mqg_rule_var vars[] = {{.name = "a", .expr = "1 +", .where = "s.yml:7:9"}};
    struct mqg_rule bad[] = {
        {.kind = MQG_RULE_TRANSFORM, .where = "s.yml:3:5", .text = "$foo("},
        {.kind = MQG_RULE_FILTER, .where = "s.yml:4:5", .text = "a = 1"},
        {.kind = MQG_RULE_SET_CONTEXT_VARS, .where = "s.yml:6:5", .vars = vars, .n_vars = 1}};
    struct mqg_route r = {.name = "mapping m[0]", .rules = bad, .n_rules = 3, .rid = RID("77")};
    struct mqg_model m = {.routes = &r, .n_routes = 1};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(rules_check_model(&m, f), 78);
    fclose(f);
    assert_string_equal(text,
                        "s.yml:3:5: mapping m[0]: transform: JSONata S0203 at line 1 column 5 "
                        "of the expression (position 5): Expected \")\" before end of "
                        "expression\n"
                        "s.yml:7:9: mapping m[0]: setContextVars 'a': JSONata S0207 at "
                        "line 1 column 3 of the expression (position 3): Unexpected end of "
                        "expression\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_transform, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_filter, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_parse, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_filter_boolean, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_vars_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_set_context_vars, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cov, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_burst_size, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_burst_interval, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_burst_tags, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_collect, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_stash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_not_json_and_unknown, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, s_setup, s_teardown),
        cmocka_unit_test(test_util),
        cmocka_unit_test(test_rules_link),
        cmocka_unit_test(test_rules_link_window),
        cmocka_unit_test(test_rules_link_no_jsonata),
        cmocka_unit_test(test_rules_check),
    };
    struct jsengine_error err;
    struct jsengine_opts opts = {.time_limit_ms = 300};
    int rc = jsengine_new(MQG_JSONATA_JS, &opts, &g_e, &err);
    if (rc) {
        fprintf(stderr, "jsengine_new(%s): %d %s\n", MQG_JSONATA_JS, rc, err.message);
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        sigaction(JSC_SIGNALS[i], NULL, &g_jsc_sa[i]);
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    s_jsc_signals();
    jsengine_destroy(&g_e);
    return rc;
}
