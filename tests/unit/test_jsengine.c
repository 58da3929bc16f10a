/* test_jsengine — unit tests of rules/jsengine: jsonata 2.x in JavaScriptCore.
 *
 * Built only with MQG_RULES (tests/CMakeLists.txt); loads the jsonata.js that the build fetched
 * (MQG_JSONATA_JS). Covers compile errors with jsonata's code and position, the Connectware
 * gallery's documented examples, undefined results, bad input, the time limit (the engine stays
 * usable after it) and RSS over 100,000 evaluations (printed, asserted only loosely).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "jsengine.h"
#include "mqg_rulestate.h"

static struct jsengine *g_e;

/* JavaScriptCore handles SIGSEGV, SIGBUS and SIGUSR1 itself (VM traps, thread suspension).
 * cmocka puts its own SIGSEGV/SIGBUS handlers in place around each test and restores the old
 * ones with signal(), which drops SA_SIGINFO; so the engine is made in main(), before cmocka,
 * and every test first puts JavaScriptCore's handlers back (s_jsc_signals). */
static const int JSC_SIGNALS[] = {SIGSEGV, SIGBUS, SIGUSR1};
static struct sigaction g_jsc_sa[3];

static void s_jsc_signals(void)
{
    for (int i = 0; i < 3; i++) {
        sigaction(JSC_SIGNALS[i], &g_jsc_sa[i], NULL);
    }
}

/* Compile and evaluate expr on input (with context and stash); returns rc, *out as given. */
static int s_run(const char *expr, const char *input, const char *context, const char *stash,
                 unsigned flags, char **out, struct jsengine_error *err)
{
    struct jsexpr *x = NULL;
    int rc = jsengine_compile(g_e, expr, &x, err);
    if (rc) {
        fail_msg("compile %s: %d %s", expr, rc, err->message);
    }
    struct jsengine_args a = {.input = input,
                              .input_len = input ? strlen(input) : 0,
                              .context = context,
                              .stash = stash,
                              .flags = flags};
    rc = jsengine_eval(g_e, x, &a, out, err);
    jsexpr_destroy(&x);
    assert_null(x);
    return rc;
}

/* expr on input gives exactly want (JSON text; NULL = undefined). */
static void s_expect(const char *expr, const char *input, const char *context, const char *stash,
                     const char *want)
{
    struct jsengine_error err;
    char *out = NULL;
    int rc = s_run(expr, input, context, stash, 0, &out, &err);
    if (rc) {
        fail_msg("%s: rc %d %s %s", expr, rc, err.code, err.message);
    }
    if (!want) {
        if (out) {
            fail_msg("%s: expected undefined, got %s", expr, out);
        }
        return;
    }
    if (!out || strcmp(out, want) != 0) {
        fail_msg("%s:\n  got  %s\n  want %s", expr, out ? out : "(undefined)", want);
    }
    free(out);
}

static void test_load_errors(void **state)
{
    s_jsc_signals();
    struct jsengine *e = NULL;
    struct jsengine_error err;
    assert_int_equal(jsengine_new("/nonexistent/jsonata.js", NULL, &e, &err), -ENOENT);
    assert_null(e);
    assert_non_null(strstr(err.message, "/nonexistent/jsonata.js"));

    char path[] = "/tmp/test_jsengine_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char js[] = "var notJsonata = 1;\n";
    assert_int_equal(write(fd, js, sizeof js - 1), (ssize_t)(sizeof js - 1));
    close(fd);
    assert_int_equal(jsengine_new(path, NULL, &e, &err), -EINVAL);
    assert_null(e);
    assert_non_null(strstr(err.message, "no jsonata"));
    unlink(path);
    jsengine_destroy(&e); /* NULL-safe */
}

struct compile_case {
    const char *expr;
    const char *code;
    long position;
    int line;
    int column;
    const char *token;
};

/* jsonata's own codes and positions (the same as jsonata 2.2.2 in Node.js gives). */
static void test_compile_errors(void **state)
{
    s_jsc_signals();
    static const struct compile_case cases[] = {
        {"1 +", "S0207", 3, 1, 3, "(end)"},
        {"{\"a\": }", "S0211", 7, 1, 7, "}"},
        {"$foo(", "S0203", 5, 1, 5, "(end)"},
        {"\"unterminated", "S0101", 13, 1, 13, ""},
        {"(\n  $x := 1;\n  $x +\n)", "S0211", 21, 4, 1, ")"},
        {"{\"machine\": $context.vars.machine,\n \"value\": $.value ]", "S0202", 54, 2, 19, "]"},
        {"{\"é\": 1} ~> $keys() & \"\"  @", "S0214", 27, 1, 27, "@"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct compile_case *c = &cases[i];
        struct jsexpr *x = NULL;
        struct jsengine_error err;
        int rc = jsengine_compile(g_e, c->expr, &x, &err);
        if (rc != -EINVAL) {
            fail_msg("%s: rc %d, expected -EINVAL", c->expr, rc);
        }
        assert_null(x);
        if (strcmp(err.code, c->code) || err.position != c->position || err.line != c->line ||
            err.column != c->column || strcmp(err.token, c->token)) {
            fail_msg("%s: got %s pos %ld %d:%d token '%s' (%s); want %s pos %ld %d:%d '%s'",
                     c->expr, err.code, err.position, err.line, err.column, err.token, err.message,
                     c->code, c->position, c->line, c->column, c->token);
        }
        assert_true(strlen(err.message) > 0);
    }
    struct jsengine_error err;
    struct jsexpr *x = NULL;
    assert_int_equal(jsengine_compile(g_e, "1 +", &x, &err), -EINVAL);
    assert_string_equal(err.message, "Unexpected end of expression");
    assert_int_equal(jsengine_compile(g_e, "\"\xff\"", &x, &err), -EINVAL);
    assert_string_equal(err.message, "the expression is not UTF-8");
    assert_int_equal(jsengine_compile(g_e, "", &x, &err), -EINVAL);
    assert_null(x);
    assert_string_equal(err.code, "S0207"); /* "Unexpected end of expression" */
}

/* Examples from Connectware's public gallery (02_data-processing), with its inputs/outputs. */
static void test_gallery_transform(void **state)
{
    s_jsc_signals();
    /* 05_setContextVars: variables set before, read from $context.vars */
    s_expect("{\n"
             "  \"device_info\": {\n"
             "    \"name\": $context.vars.deviceName,\n"
             "    \"location\": $context.vars.location,\n"
             "    \"type\": $context.vars.sensorType\n"
             "  },\n"
             "  \"reading\": $.value,\n"
             "  \"message\": \"Device \" & $context.vars.deviceName & \" at \" & "
             "$context.vars.location\n"
             "}",
             "{\"device\": {\"name\": \"sensor-01\", \"location\": \"warehouse\"}, \"sensor\": "
             "{\"type\": \"temperature\"}, \"value\": 23.5}",
             "{\"topic\": \"devices/sensors/data\", \"vars\": {\"deviceName\": \"sensor-01\", "
             "\"location\": \"warehouse\", \"sensorType\": \"temperature\"}}",
             NULL,
             "{\"device_info\":{\"name\":\"sensor-01\",\"location\":\"warehouse\",\"type\":"
             "\"temperature\"},\"reading\":23.5,\"message\":\"Device sensor-01 at warehouse\"}");

    /* 01_transform/03_temperature_conversion (without its $now() line) */
    s_expect("{\n"
             "  /* Extract zone identifier from MQTT topic wildcard pattern */\n"
             "  \"zone_id\": $context.vars.zone,\n"
             "  \"fahrenheit\": $.temperature_f,\n"
             "  \"celsius\": $round(($.temperature_f - 32) * 5/9, 2),\n"
             "  \"kelvin\": $round((($.temperature_f - 32) * 5/9) + 273.15, 2),\n"
             "  \"is_comfortable\": ($.temperature_f - 32) * 5/9 >= 20 and "
             "($.temperature_f - 32) * 5/9 <= 24\n"
             "}",
             "{\"temperature_f\": 75.5}",
             "{\"topic\": \"services/hvac/facility/hvac/zone-1/temperature/fahrenheit\", "
             "\"vars\": {\"zone\": \"zone-1\"}}",
             NULL,
             "{\"zone_id\":\"zone-1\",\"fahrenheit\":75.5,\"celsius\":24.17,\"kelvin\":297.32,"
             "\"is_comfortable\":false}");

    /* the issue's example */
    s_expect("{\"machine\": $context.vars.machine, \"value\": $.value}", "{\"value\": 7}",
             "{\"vars\": {\"machine\": \"cnc-001\"}}", NULL,
             "{\"machine\":\"cnc-001\",\"value\":7}");

    /* 07_collect: a transform after collect sees the cache object */
    s_expect("{\"comfort\": ($lookup($, 'temp').value > 20 and $lookup($, 'humidity').value < "
             "60) ? \"good\" : \"poor\"}",
             "{\"temp\": {\"value\": 22.8}, \"humidity\": {\"value\": 55.3}}", NULL, NULL,
             "{\"comfort\":\"good\"}");
}

static void test_gallery_filter(void **state)
{
    s_jsc_signals();
    /* 02_filter: level 1, 3, 4 and 5 (a filter passes on true) */
    s_expect("level = \"ERROR\"", "{\"level\": \"ERROR\", \"message\": \"Service timeout\"}", NULL,
             NULL, "true");
    s_expect("level = \"ERROR\"", "{\"level\": \"INFO\", \"message\": \"System started\"}", NULL,
             NULL, "false");
    const char *defects = "(diameter < 24.95 or diameter > 25.05) and status = \"completed\"";
    s_expect(defects, "{\"diameter\": 25.02, \"status\": \"completed\"}", NULL, NULL, "false");
    s_expect(defects, "{\"diameter\": 24.92, \"status\": \"completed\"}", NULL, NULL, "true");
    s_expect(defects, "{\"diameter\": 25.08, \"status\": \"in_progress\"}", NULL, NULL, "false");
    const char *critical =
        "$count(issues[severity = \"critical\"]) > 0 and equipment.operational = false";
    s_expect(critical,
             "{\"equipment\": {\"id\": \"PRESS-002\", \"operational\": false}, \"issues\": "
             "[{\"type\": \"hydraulic_leak\", \"severity\": \"critical\"}, {\"type\": \"wear\", "
             "\"severity\": \"minor\"}]}",
             NULL, NULL, "true");
    s_expect(critical,
             "{\"equipment\": {\"id\": \"ROBOT-003\", \"operational\": true}, \"issues\": "
             "[{\"type\": \"calibration\", \"severity\": \"critical\"}]}",
             NULL, NULL, "false");
    const char *line_a = "alarm_type = \"production_stop\" and $contains($context.topic, "
                         "\"line-a\")";
    s_expect(line_a, "{\"alarm_type\": \"production_stop\"}",
             "{\"topic\": \"factory/line-a/cnc-001/alarms\"}", NULL, "true");
    s_expect(line_a, "{\"alarm_type\": \"production_stop\"}",
             "{\"topic\": \"factory/line-b/cnc-002/alarms\"}", NULL, "false");
}

/* 04_stash: $last(label) returns what the stash holds for label, null before anything. */
static void test_gallery_stash(void **state)
{
    s_jsc_signals();
    const char *expr = "{\n"
                       "  \"current_temp\": $.temperature,\n"
                       "  \"previous_temp\": $last(\"tempHistory\") ? "
                       "$last(\"tempHistory\").temperature : null,\n"
                       "  \"change\": $last(\"tempHistory\") ?\n"
                       "             $.temperature - $last(\"tempHistory\").temperature : 0\n"
                       "}";
    s_expect(expr, "{\"temperature\": 25, \"sensor\": \"room-01\"}", NULL, NULL,
             "{\"current_temp\":25,\"previous_temp\":null,\"change\":0}");
    s_expect(expr, "{\"temperature\": 27, \"sensor\": \"room-01\"}", NULL,
             "{\"tempHistory\": {\"temperature\": 25, \"sensor\": \"room-01\"}}",
             "{\"current_temp\":27,\"previous_temp\":25,\"change\":2}");
    s_expect(expr, "{\"temperature\": 24, \"sensor\": \"room-01\"}", NULL,
             "{\"tempHistory\": {\"temperature\": 27, \"sensor\": \"room-01\"}}",
             "{\"current_temp\":24,\"previous_temp\":27,\"change\":-3}");
    s_expect("$last(\"nothing\")", "{}", NULL, "{}", "null");
}

static void test_undefined_and_values(void **state)
{
    s_jsc_signals();
    s_expect("$.missing", "{\"a\": 1}", NULL, NULL, NULL);
    s_expect("a[b > 5]", "{\"a\": [{\"b\": 1}]}", NULL, NULL, NULL);
    s_expect("$", NULL, NULL, NULL, NULL);              /* no input */
    s_expect("$context.topic", "{}", NULL, NULL, NULL); /* no context bound */
    s_expect("$", "[1, 2, 3]", NULL, NULL, "[1,2,3]");
    s_expect("$ * 2", "21", NULL, NULL, "42");
    s_expect("$uppercase($)", "\"caf\\u00e9\"", NULL, NULL, "\"CAFÉ\"");
    s_expect("$sum(readings.value)",
             "{\"readings\": [{\"value\": 1.5}, {\"value\": 2.5}, {\"value\": 4}]}", NULL, NULL,
             "8");

    struct jsengine_error err;
    char *out = NULL;
    /* bindings: each member is a variable */
    struct jsexpr *x = NULL;
    assert_int_equal(jsengine_compile(g_e, "$x + $y.z", &x, &err), 0);
    struct jsengine_args a = {.input = "{}",
                              .input_len = 2,
                              .bindings = "{\"x\": 40, \"y\": "
                                          "{\"z\": 2}}"};
    assert_int_equal(jsengine_eval(g_e, x, &a, &out, &err), 0);
    assert_string_equal(out, "42");
    free(out);
    jsexpr_destroy(&x);

    /* canonical output: keys sorted at every level */
    assert_int_equal(s_run("$", "{\"b\": 1, \"a\": {\"d\": [{\"y\": 1, \"x\": 2}], \"c\": 3}}",
                           NULL, NULL, JSENGINE_CANONICAL, &out, &err),
                     0);
    assert_string_equal(out, "{\"a\":{\"c\":3,\"d\":[{\"x\":2,\"y\":1}]},\"b\":1}");
    free(out);
}

static void test_eval_errors(void **state)
{
    s_jsc_signals();
    struct jsengine_error err;
    char *out = (char *)1;
    assert_int_equal(s_run("\"a\" + 1", "{}", NULL, NULL, 0, &out, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.code, "T2001");
    assert_int_equal(err.position, 5);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 5);
    assert_non_null(strstr(err.message, "must evaluate to a number"));

    assert_int_equal(s_run("$number(\"abc\")", "{}", NULL, NULL, 0, &out, &err), -EINVAL);
    assert_string_equal(err.code, "D3030");

    /* jsonata refuses a range above 1e7 items at once */
    assert_int_equal(s_run("[1..100000000]", "{}", NULL, NULL, 0, &out, &err), -EINVAL);
    assert_string_equal(err.code, "D2014");

    /* non-terminating recursion that is not a tail call: the depth guardrail (an engine with
     * a small depth and a long time limit, so that depth, not time, stops it) */
    struct jsengine *e = NULL;
    struct jsengine_opts opts = {.time_limit_ms = 20000, .max_depth = 200};
    assert_int_equal(jsengine_new(MQG_JSONATA_JS, &opts, &e, &err), 0);
    struct jsexpr *x = NULL;
    assert_int_equal(jsengine_compile(e, "($f := function($n){ 1 + $f($n) }; $f(1))", &x, &err), 0);
    struct jsengine_args a = {.input = "{}", .input_len = 2};
    assert_int_equal(jsengine_eval(e, x, &a, &out, &err), -EINVAL);
    assert_string_equal(err.code, "D1011");
    assert_null(out);
    /* a legitimate recursion within the limit */
    jsexpr_destroy(&x);
    assert_int_equal(jsengine_compile(e,
                                      "($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; "
                                      "$f(10))",
                                      &x, &err),
                     0);
    assert_int_equal(jsengine_eval(e, x, &a, &out, &err), 0);
    assert_string_equal(out, "3628800");
    free(out);
    jsexpr_destroy(&x);
    jsengine_destroy(&e);
}

static void test_bad_input(void **state)
{
    s_jsc_signals();
    struct jsexpr *x = NULL;
    struct jsengine_error err;
    char *out = NULL;
    assert_int_equal(jsengine_compile(g_e, "$.a", &x, &err), 0);
    static const char *const bad[] = {
        "", "{", "not json", "{\"a\": 1,}", "{'a': 1}", "\xff\xfe{}", "{\"a\": \"\xc3\x28\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct jsengine_args a = {.input = bad[i], .input_len = strlen(bad[i])};
        int rc = jsengine_eval(g_e, x, &a, &out, &err);
        if (rc != -EBADMSG) {
            fail_msg("input '%s': rc %d, expected -EBADMSG", bad[i], rc);
        }
        assert_null(out);
    }
    /* a NUL byte inside, and the length is what counts (no NUL needed at the end) */
    struct jsengine_args a = {.input = "{\"a\": 1}\0{}", .input_len = 11};
    assert_int_equal(jsengine_eval(g_e, x, &a, &out, &err), -EBADMSG);
    a.input_len = 8;
    assert_int_equal(jsengine_eval(g_e, x, &a, &out, &err), 0);
    assert_string_equal(out, "1");
    free(out);
    out = NULL;
    /* context, stash and bindings must be JSON; stash and bindings objects */
    struct jsengine_args b = {.input = "{}", .input_len = 2, .context = "{oops"};
    assert_int_equal(jsengine_eval(g_e, x, &b, &out, &err), -EBADMSG);
    b.context = NULL;
    b.stash = "[1]";
    assert_int_equal(jsengine_eval(g_e, x, &b, &out, &err), -EBADMSG);
    b.stash = NULL;
    b.bindings = "3";
    assert_int_equal(jsengine_eval(g_e, x, &b, &out, &err), -EBADMSG);
    jsexpr_destroy(&x);
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The time limit (300 ms here) stops runaway expressions; the engine works afterwards. */
static void test_timeout(void **state)
{
    s_jsc_signals();
    static const char *const runaway[] = {
        "($f := function(){ $f() }; $f())",                    /* a tail call loop: promise jobs */
        "$string(function(){ $sum([1..9999999].($ * 2)) }())", /* a long computation */
        "$count([1..9999999].[1..9999999])",                   /* a huge nested range */
        "$match(\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\", /^(a+)+$/)", /* backtracking */
        "$count($distinct([1..1000000]))", /* one quadratic library call: only the watchdog */
    };
    for (size_t i = 0; i < sizeof runaway / sizeof runaway[0]; i++) {
        struct jsengine_error err;
        char *out = NULL;
        double t0 = s_now();
        int rc = s_run(runaway[i], "{}", NULL, NULL, 0, &out, &err);
        double t = s_now() - t0;
        printf("  runaway %zu: rc %d after %.2f s: %s %s\n", i, rc, t, err.code, err.message);
        if (rc != -ETIMEDOUT) {
            fail_msg("%s: rc %d (%s %s), expected -ETIMEDOUT", runaway[i], rc, err.code,
                     err.message);
        }
        assert_null(out);
        assert_true(t < 30.0); /* stopped, even on a slow machine */
        /* still usable, results right */
        s_expect("{\"n\": $.n + 1}", "{\"n\": 1}", NULL, NULL, "{\"n\":2}");
        s_expect("$context.vars.m", "{}", "{\"vars\": {\"m\": \"x\"}}", NULL, "\"x\"");
    }
    struct jsengine_stats st;
    jsengine_get_stats(g_e, &st);
    assert_true(st.timeouts >= 5);
}

/* The intended flow for cov and stash: the engine extracts and canonicalises, mqg_rulestate
 * decides. 06_cov level 7 (whole objects, keys in any order) and 04_stash "stash last". */
static void test_rules_with_state(void **state)
{
    s_jsc_signals();
    struct jsengine_error err;
    struct jsexpr *key = NULL;
    assert_int_equal(jsengine_compile(g_e, "$lookup($, \"settings\")", &key, &err), 0);
    struct mqg_cov *cov = NULL;
    assert_int_equal(mqg_cov_new(MQG_COV_EXACT, 0, &cov), 0);
    static const char *const msgs[] = {
        "{\"settings\": {\"host\": \"db1\", \"port\": 5432}, \"version\": \"1.0\"}",
        "{\"version\": \"1.1\", \"settings\": {\"port\": 5432, \"host\": \"db1\"}}",
        "{\"settings\": {\"host\": \"db2\", \"port\": 5433}, \"version\": \"1.1\"}",
        "{\"version\": \"1.2\"}",
        "{\"version\": \"1.3\"}",
    };
    char got[8] = "";
    for (size_t i = 0; i < 5; i++) {
        struct jsengine_args a = {
            .input = msgs[i], .input_len = strlen(msgs[i]), .flags = JSENGINE_CANONICAL};
        char *value = NULL;
        assert_int_equal(jsengine_eval(g_e, key, &a, &value, &err), 0);
        bool pass = false;
        assert_int_equal(mqg_cov_check(cov, value, value ? strlen(value) : 0, &pass), 0);
        got[i] = pass ? 'P' : 'F';
        free(value);
    }
    assert_string_equal(got, "PFPPF");
    mqg_cov_destroy(&cov);
    jsexpr_destroy(&key);

    /* transform reading $last("processed"), then stash: label processed */
    struct jsexpr *x = NULL;
    assert_int_equal(jsengine_compile(g_e,
                                      "{\"current\": $.temperature, \"previous\": "
                                      "$last(\"processed\") ? $last(\"processed\").current : "
                                      "null, \"sensor\": $.sensor}",
                                      &x, &err),
                     0);
    struct mqg_stash *st = NULL;
    assert_int_equal(mqg_stash_new(0, &st), 0);
    static const char *const in[] = {"{\"temperature\": 25, \"sensor\": \"A1\"}",
                                     "{\"temperature\": 28, \"sensor\": \"A1\"}"};
    static const char *const want[] = {"{\"current\":25,\"previous\":null,\"sensor\":\"A1\"}",
                                       "{\"current\":28,\"previous\":25,\"sensor\":\"A1\"}"};
    for (int i = 0; i < 2; i++) {
        struct jsengine_args a = {
            .input = in[i], .input_len = strlen(in[i]), .stash = mqg_stash_json(st)};
        char *out = NULL;
        assert_int_equal(jsengine_eval(g_e, x, &a, &out, &err), 0);
        assert_string_equal(out, want[i]);
        assert_int_equal(mqg_stash_put(st, "processed", out, strlen(out)), 0);
        assert_int_equal(mqg_stash_commit(st), 0);
        free(out);
    }
    mqg_stash_destroy(&st);
    jsexpr_destroy(&x);
}

/* Without the watchdog, jsonata's guardrails still stop what runs step by step. */
static void test_no_watchdog(void **state)
{
    s_jsc_signals();
    struct jsengine *e = NULL;
    struct jsengine_error err;
    struct jsengine_opts opts = {.time_limit_ms = 200, .no_watchdog = true};
    assert_int_equal(jsengine_new(MQG_JSONATA_JS, &opts, &e, &err), 0);
    struct jsexpr *x = NULL;
    assert_int_equal(jsengine_compile(e, "($f := function(){ $f() }; $f())", &x, &err), 0);
    struct jsengine_args a = {.input = "{}", .input_len = 2};
    char *out = NULL;
    assert_int_equal(jsengine_eval(e, x, &a, &out, &err), -ETIMEDOUT);
    assert_string_equal(err.code, "D1012");
    jsexpr_destroy(&x);
    jsengine_destroy(&e);
}

/* 100,000 evaluations: RSS printed; only a loose bound so that a slow machine never fails. */
static void test_memory(void **state)
{
    s_jsc_signals();
    struct jsexpr *x = NULL;
    struct jsengine_error err;
    assert_int_equal(
        jsengine_compile(g_e, "{\"machine\": $context.vars.machine, \"value\": $.value}", &x, &err),
        0);
    char input[64], context[96];
    /* the runaways before left hundreds of MB that the allocator's scavenger thread gives back
     * after a while (wall time): not this test's growth */
    struct jsengine_stats st0;
    jsengine_collect(g_e);
    for (int i = 0; i < 50; i++) {
        jsengine_get_stats(g_e, &st0);
        if (st0.rss_mb < 120) {
            break;
        }
        usleep(100000);
        jsengine_collect(g_e);
    }
    double t0 = s_now();
    uint32_t first = 0, peak = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(input, sizeof input, "{\"value\": %d, \"quality\": \"good\"}", i);
        snprintf(context, sizeof context, "{\"topic\": \"m/%d\", \"vars\": {\"machine\": \"m%d\"}}",
                 i % 100, i % 100);
        struct jsengine_args a = {.input = input, .input_len = strlen(input), .context = context};
        char *out = NULL;
        int rc = jsengine_eval(g_e, x, &a, &out, &err);
        if (rc) {
            fail_msg("evaluation %d: %d %s", i, rc, err.message);
        }
        free(out);
        if (i % 10000 == 9999) {
            struct jsengine_stats st;
            jsengine_get_stats(g_e, &st);
            first = first ? first : st.rss_mb;
            peak = st.rss_mb > peak ? st.rss_mb : peak;
        }
    }
    struct jsengine_stats st;
    jsengine_get_stats(g_e, &st);
    printf("  100000 evaluations in %.1f s: RSS %u MB after 10000, peak %u MB, %llu "
           "collections\n",
           s_now() - t0, first, peak, (unsigned long long)st.collections);
    jsengine_collect(g_e);
    jsexpr_destroy(&x);
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer's shadow memory and quarantine are part of RSS: nothing to compare */
    printf("  (AddressSanitizer build: RSS not checked)\n");
#else
    assert_true(peak < 200);
#endif
}

static void test_default_path(void **state)
{
    s_jsc_signals();
    char buf[4096];
    setenv("MQG_JSONATA_JS", MQG_JSONATA_JS, 1);
    assert_int_equal(jsengine_default_path(buf, sizeof buf), 0);
    assert_string_equal(buf, MQG_JSONATA_JS);
    assert_int_equal(jsengine_default_path(buf, 4), -ENAMETOOLONG);
    setenv("MQG_JSONATA_JS", "/nonexistent/jsonata.js", 1);
    assert_int_equal(jsengine_default_path(buf, sizeof buf), -ENOENT);
    unsetenv("MQG_JSONATA_JS");
}

/* rules/jsclock.c: on the engine's thread (this one: main made g_e) the CPU clock is an
 * estimate in the CPU clock's scale that never goes backwards and counts a short wait; on
 * other threads, and for other clocks, clock_gettime is the C library's. */
static int64_t s_ns_of(clockid_t id, bool raw)
{
    struct timespec ts;
    if (raw) {
        assert_int_equal(syscall(SYS_clock_gettime, id, &ts), 0);
    } else {
        assert_int_equal(clock_gettime(id, &ts), 0);
    }
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *s_other_thread(void *arg)
{
    int64_t *d = arg;
    volatile unsigned x = 0;
    for (unsigned i = 0; i < 5000000; i++) {
        x += i;
    }
    int64_t est = s_ns_of(CLOCK_THREAD_CPUTIME_ID, false);
    int64_t real = s_ns_of(CLOCK_THREAD_CPUTIME_ID, true);
    *d = real - est;
    return NULL;
}

static void test_clock_estimate(void **state)
{
    s_jsc_signals(); /* cmocka put its own SIGSEGV/SIGBUS handlers back */
    int64_t last = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t v = s_ns_of(CLOCK_THREAD_CPUTIME_ID, false);
        assert_true(v >= last);
        last = v;
    }
    int64_t real = s_ns_of(CLOCK_THREAD_CPUTIME_ID, true);
    assert_true(last - real < 3000000 && real - last < 3000000); /* the CPU clock's scale */
    /* a 300 us sleep right after a read counts in the estimate (the real clock stands still) */
    bool counted = false;
    for (int i = 0; i < 50 && !counted; i++) {
        int64_t m0 = s_ns_of(CLOCK_MONOTONIC, true);
        int64_t a = s_ns_of(CLOCK_THREAD_CPUTIME_ID, false);
        usleep(300);
        int64_t b = s_ns_of(CLOCK_THREAD_CPUTIME_ID, false);
        counted = b - a >= 250000 && s_ns_of(CLOCK_MONOTONIC, true) - m0 < 900000;
    }
    assert_true(counted);
    /* the monotonic clock is the C library's */
    int64_t m = s_ns_of(CLOCK_MONOTONIC, false), mr = s_ns_of(CLOCK_MONOTONIC, true);
    assert_true(mr >= m && mr - m < 5000000);
    /* another thread reads its real CPU clock */
    pthread_t t;
    int64_t d = -1;
    assert_int_equal(pthread_create(&t, NULL, s_other_thread, &d), 0);
    pthread_join(t, NULL);
    assert_true(d >= 0 && d < 1000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),       cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_gallery_transform), cmocka_unit_test(test_gallery_filter),
        cmocka_unit_test(test_gallery_stash),     cmocka_unit_test(test_undefined_and_values),
        cmocka_unit_test(test_eval_errors),       cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_timeout),           cmocka_unit_test(test_no_watchdog),
        cmocka_unit_test(test_rules_with_state),  cmocka_unit_test(test_memory),
        cmocka_unit_test(test_default_path),      cmocka_unit_test(test_clock_estimate),
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
