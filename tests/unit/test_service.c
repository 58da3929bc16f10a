/* test_service — unit tests of the commissioning file loader (mqg_service, mqg_yaml, mqg_model).
 *
 * Fixtures live in tests/data (MQG_TEST_DATA); small variations are written to temporary
 * files by s_load_text(). Every error case asserts the exact line, column and setting path,
 * and frees the (partial) model, so the suite is also run under valgrind.
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
#include <unistd.h>

#include <cmocka.h>

#include "mqg_model.h"
#include "mqg_service.h"
#include "mqg_svc_rules.h"
#include "mqg_yaml.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define DATA(name) MQG_TEST_DATA "/" name

/* A loaded (or failed) service: the model, the error and the return code. */
struct load {
    struct mqg_model m;
    struct mqg_error err;
    int rc;
};

static void s_load_file(struct load *l, const char *path, struct mqg_param *params, size_t n)
{
    memset(l, 0, sizeof(*l));
    mqg_model_init(&l->m);
    l->rc = mqg_service_load(&l->m, path, params, n, NULL, &l->err);
}

/* Write `yaml` to a temporary file and load it. */
static void s_load_text(struct load *l, const char *yaml, struct mqg_param *params, size_t n)
{
    char path[] = "/tmp/mqg-test-service-XXXXXX.yml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    size_t len = strlen(yaml);
    assert_int_equal(write(fd, yaml, len), (ssize_t)len);
    close(fd);
    s_load_file(l, path, params, n);
    unlink(path);
}

/* The routes' rules first (mqg_rules_clear: mqg_model_free does not free them yet, and will
 * find none), then the model. */
static void s_free(struct load *l)
{
    for (size_t i = 0; i < l->m.n_routes; i++) {
        mqg_rules_clear(&l->m.routes[i]);
    }
    mqg_model_free(&l->m);
}

/* Assert a failed load: line, column, setting and a part of the message. */
static void s_assert_error(const struct load *l, int line, int col, const char *setting,
                           const char *msg_part)
{
    if (l->rc == 0 || l->err.line != line || l->err.col != col ||
        strcmp(l->err.setting, setting) != 0 || !strstr(l->err.msg, msg_part)) {
        print_error("rc=%d want %d:%d %s '%s'\n got %d:%d %s '%s'\n", l->rc, line, col, setting,
                    msg_part, l->err.line, l->err.col, l->err.setting, l->err.msg);
        fail();
    }
    assert_int_equal(l->rc, -EINVAL);
}

static struct mqg_param s_param(const char *name, const char *value)
{
    struct mqg_param p = {.name = name, .value = value, .used = false};
    return p;
}

/* ---- the seed example ---------------------------------------------------------------- */

static void test_seed_example(void **state)
{
    struct mqg_param p[] = {s_param("mqttHost", "broker.local"), s_param("mqttUsername", "user"),
                            s_param("mqttPassword", "s3cret")};
    struct load l;
    s_load_file(&l, DATA("seed-mqtt-example.yml"), p, N_ELEMS(p));
    assert_int_equal(l.rc, 0);
    assert_int_equal(mqg_service_check_unused(p, N_ELEMS(p), DATA("seed-mqtt-example.yml"), &l.err),
                     0);
    assert_int_equal(l.m.n_services, 1);
    assert_string_equal(l.m.services[0].service_id, "mqttconnectiontest");
    assert_string_equal(l.m.services[0].name, "MQTT Connection Test");
    assert_string_equal(l.m.services[0].file, DATA("seed-mqtt-example.yml"));

    assert_int_equal(l.m.n_conns, 1);
    const struct mqg_connection *c = &l.m.conns[0];
    assert_string_equal(c->key, "mqttconnectiontest/mqttConnection");
    assert_string_equal(c->id, "mqttConnection");
    assert_string_equal(c->service_id, "mqttconnectiontest");
    assert_string_equal(c->host, "broker.local");
    assert_int_equal(c->port, 8883);
    assert_int_equal(c->scheme, MQG_SCHEME_MQTTS);
    assert_string_equal(c->uri, "ssl://broker.local:8883");
    assert_string_equal(c->username, "user");
    assert_string_equal(c->password, "s3cret");
    assert_string_equal(c->client_id, "mqttconnectiontest-mqttConnection");
    assert_false(c->trust_all);
    assert_int_equal(mqg_model_find_conn(&l.m, "mqttconnectiontest/mqttConnection"), 0);
    assert_int_equal(mqg_model_find_conn(&l.m, "mqttConnection"), -1);

    assert_int_equal(l.m.n_endpoints, 1);
    const struct mqg_endpoint *e = &l.m.endpoints[0];
    assert_string_equal(e->id, "temperatureEndpoint");
    assert_int_equal(e->kind, MQG_EP_SUBSCRIBE);
    assert_int_equal(e->conn, 0);
    assert_string_equal(e->topic, "factory/line1/temperature");
    assert_int_equal(e->qos, 0);
    assert_string_equal(e->data_topic, "services/mqttconnectiontest/temperatureEndpoint");

    assert_int_equal(l.m.n_routes, 1);
    const struct mqg_route *r = &l.m.routes[0];
    assert_string_equal(r->name, "endpoint temperatureEndpoint");
    assert_int_equal(r->n_sources, 1);
    assert_int_equal(r->sources[0].conn, 0);
    assert_string_equal(r->sources[0].filter, "factory/line1/temperature");
    assert_int_equal(r->target.conn, MQG_INTERNAL);
    assert_string_equal(r->target.topic, "services/mqttconnectiontest/temperatureEndpoint");
    assert_false(r->target.retain);
    assert_int_equal(l.m.n_skipped, 0);
    s_free(&l);
}

static void test_seed_example_without_params(void **state)
{
    struct load l;
    s_load_file(&l, DATA("seed-mqtt-example.yml"), NULL, 0);
    s_assert_error(&l, 8, 3, "parameters.mqttHost",
                   "parameter 'mqttHost' has no value and no default");
    assert_string_equal(l.err.file, DATA("seed-mqtt-example.yml"));
    s_free(&l);
}

static void test_examples_load(void **state)
{
    struct mqg_param p[] = {s_param("mqttHost", "h"),
                            s_param("mqttUsername", "u"),
                            s_param("mqttPassword", "p"),
                            s_param("sourceHost", "plant.local"),
                            s_param("targetHost", "cloud.example.com"),
                            s_param("targetPort", "8884")};
    struct load l;
    s_load_file(&l, MQG_TEST_DATA "/../../examples/seed-mqtt-example.yml", p, N_ELEMS(p));
    assert_int_equal(l.rc, 0);
    l.rc = mqg_service_load(&l.m, MQG_TEST_DATA "/../../examples/bridge.yml", p, N_ELEMS(p), NULL,
                            &l.err);
    assert_int_equal(l.rc, 0);
    assert_int_equal(mqg_service_check_unused(p, N_ELEMS(p), "x.yml", &l.err), 0);
    assert_int_equal(l.m.n_services, 2);
    assert_int_equal(l.m.n_conns, 3);
    int cloud = mqg_model_find_conn(&l.m, "plantbridge/cloudBroker");
    int plant = mqg_model_find_conn(&l.m, "plantbridge/plantBroker");
    assert_int_equal(cloud, 2);
    assert_int_equal(plant, 1);
    assert_string_equal(l.m.conns[cloud].uri, "ssl://cloud.example.com:8884");
    assert_string_equal(l.m.conns[plant].uri, "tcp://plant.local:1883");
    assert_false(l.m.conns[plant].clean);
    assert_string_equal(l.m.conns[plant].client_id, "plantbridge-plant");
    assert_true(l.m.conns[cloud].will.set);
    assert_string_equal(l.m.conns[cloud].will.topic, "plant/plantbridge/status");
    /* the wildcard mapping: plant broker -> cloud broker */
    const struct mqg_route *r = &l.m.routes[l.m.n_routes - 1];
    assert_string_equal(r->name, "mapping plantToCloud[0]");
    assert_int_equal(r->sources[0].conn, plant);
    assert_string_equal(r->sources[0].filter, "factory/+line/#rest");
    assert_int_equal(r->sources[0].qos, 1);
    assert_int_equal(r->target.conn, cloud);
    assert_string_equal(r->target.topic, "plant/{line}/{rest}");
    assert_int_equal(r->target.qos, 1);
    s_free(&l);
}

static void test_missing_file(void **state)
{
    struct load l;
    s_load_file(&l, DATA("no-such-file.yml"), NULL, 0);
    assert_int_equal(l.rc, -ENOENT);
    assert_string_equal(l.err.file, DATA("no-such-file.yml"));
    assert_non_null(strstr(l.err.msg, "No such file"));
    s_free(&l);
    s_load_file(&l, MQG_TEST_DATA, NULL, 0);
    assert_int_equal(l.rc, -EIO);
    s_free(&l);
}

/* The loader over text in memory (the fuzzer's entry): same model, same errors. */
static void test_load_buffer(void **state)
{
    static const char text[] = "metadata:\n  name: Buf\nresources:\n  c:\n"
                               "    type: Cybus::Connection\n    properties:\n"
                               "      protocol: Mqtt\n      connection:\n        host: h\n";
    struct load l;
    memset(&l, 0, sizeof(l));
    mqg_model_init(&l.m);
    l.rc = mqg_service_load_buffer(&l.m, "mem.yml", text, sizeof(text) - 1, NULL, 0, NULL, &l.err);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.m.services[0].file, "mem.yml");
    assert_string_equal(l.m.conns[0].key, "buf/c");
    /* not NUL-terminated: the length counts, the byte after it is never read */
    l.rc =
        mqg_service_load_buffer(&l.m, "mem2.yml", text, sizeof(text) - 3, NULL, 0, "other", &l.err);
    s_assert_error(&l, 8, 7, "resources.c.properties.connection.host", "host is missing");
    s_free(&l);
    mqg_model_init(&l.m);
    l.rc = mqg_service_load_buffer(&l.m, "empty.yml", "", 0, NULL, 0, NULL, &l.err);
    s_assert_error(&l, 0, 0, "", "the file holds no YAML document");
    assert_string_equal(l.err.file, "empty.yml");
    s_free(&l);
}

/* ---- !ref, !sub, definitions ----------------------------------------------------------- */

static void test_refs_subs_definitions(void **state)
{
    struct mqg_param p[] = {s_param("area", "south"), s_param("user", "operator")};
    struct load l;
    s_load_file(&l, DATA("service-refs.yml"), p, N_ELEMS(p));
    assert_int_equal(l.rc, 0);
    assert_true(p[0].used && p[1].used);
    const struct mqg_connection *c = &l.m.conns[0];
    assert_string_equal(c->host, "broker.example.com");
    assert_int_equal(c->port, 1884);
    assert_string_equal(c->uri, "tcp://broker.example.com:1884");
    assert_string_equal(c->username, "operator");
    assert_null(c->password);
    assert_false(c->clean);
    assert_int_equal(c->keepalive_s, 15);
    assert_int_equal(l.m.n_endpoints, 2);
    const struct mqg_endpoint *rd = &l.m.endpoints[0];
    assert_string_equal(rd->topic, "site/south/+/value");
    assert_int_equal(rd->qos, 1);
    assert_string_equal(rd->data_topic, "services/reftest1/south/reader");
    const struct mqg_endpoint *wr = &l.m.endpoints[1];
    assert_int_equal(wr->kind, MQG_EP_WRITE);
    assert_string_equal(wr->topic, "site/south/cmd");
    assert_true(wr->retain);
    assert_string_equal(wr->data_topic, "services/reftest1/writer");
    assert_string_equal(l.m.routes[1].sources[0].filter, "services/reftest1/writer/set");
    const struct mqg_route *m = &l.m.routes[2];
    assert_string_equal(m->name, "mapping copy[0]");
    assert_int_equal(m->sources[0].conn, MQG_INTERNAL);
    assert_string_equal(m->sources[0].filter, "services/reftest1/in");
    assert_string_equal(m->target.topic, "out/reftest1/south");
    assert_int_equal(m->target.qos, 1);
    s_free(&l);
}

static void test_service_id_override(void **state)
{
    struct mqg_param p[] = {s_param("mqttHost", "h"), s_param("mqttUsername", "u"),
                            s_param("mqttPassword", "p")};
    struct load l;
    memset(&l, 0, sizeof(l));
    mqg_model_init(&l.m);
    l.rc = mqg_service_load(&l.m, DATA("seed-mqtt-example.yml"), p, 3, "plant7", &l.err);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.m.conns[0].key, "plant7/mqttConnection");
    assert_string_equal(l.m.endpoints[0].data_topic, "services/plant7/temperatureEndpoint");
    /* the same file again under its own id is fine, the same id twice is not */
    l.rc = mqg_service_load(&l.m, DATA("seed-mqtt-example.yml"), p, 3, NULL, &l.err);
    assert_int_equal(l.rc, 0);
    l.rc = mqg_service_load(&l.m, DATA("seed-mqtt-example.yml"), p, 3, NULL, &l.err);
    s_assert_error(&l, 5, 9, "metadata.name", "service id 'mqttconnectiontest' is already used");
    l.rc = mqg_service_load(&l.m, DATA("seed-mqtt-example.yml"), p, 3, "Bad-Id", &l.err);
    assert_int_equal(l.rc, -EINVAL);
    assert_string_equal(l.err.setting, "--service-id");
    s_free(&l);
}

static void test_service_id_from_name(void **state)
{
    char out[16];
    mqg_service_id_from_name("MQTT Connection Test", out, sizeof(out));
    assert_string_equal(out, "mqttconnectiont"); /* truncated to the buffer */
    mqg_service_id_from_name("Line-2 \xc3\x9c"
                             "bung_A",
                             out, sizeof(out));
    assert_string_equal(out, "line2bunga");
    mqg_service_id_from_name("!!!", out, sizeof(out));
    assert_string_equal(out, "");
}

/* Errors in values and references. Each text is loaded alone. */
struct err_case {
    const char *yaml;
    int line;
    int col;
    const char *setting;
    const char *msg;
};

#define HDR "metadata:\n  name: T\nresources:\n"
#define CONN                                                                                       \
    "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"                   \
    "      connection:\n        host: h\n"

static void s_run_cases(const struct err_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct load l;
        s_load_text(&l, cases[i].yaml, NULL, 0);
        if (l.rc == 0) {
            print_error("case %zu loaded but should fail:\n%s\n", i, cases[i].yaml);
        }
        s_assert_error(&l, cases[i].line, cases[i].col, cases[i].setting, cases[i].msg);
        s_free(&l);
    }
}

static void test_reference_errors(void **state)
{
    static const struct err_case cases[] = {
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        host: !ref nothing\n",
         9, 15, "resources.c.properties.connection.host", "unknown name 'nothing'"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        host: !ref other::broker\n",
         9, 15, "resources.c.properties.connection.host", "reference to another service"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        host: !ref Cybus::MqttServer\n",
         9, 15, "resources.c.properties.connection.host",
         "unknown built-in 'Cybus::MqttServer'; expected one of Cybus::ServiceId, Cybus::MqttRoot, "
         "Cybus::MqttHost, Cybus::MqttPort, Cybus::MqttUser, Cybus::MqttPassword"},
        /* the internal broker's built-ins without one (no mqg_ibroker_add: mode off) */
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        host: !ref Cybus::MqttHost\n",
         9, 15, "resources.c.properties.connection.host",
         "'Cybus::MqttHost' names the internal broker, which is off"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        host: !sub 'x${nothing}y'\n",
         9, 15, "resources.c.properties.connection.host", "unknown name 'nothing'"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        host: !sub 'x${oops'\n",
         9, 15, "resources.c.properties.connection.host", "malformed substitution '${oops'"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection: !merge\n        host: h\n",
         8, 19, "resources.c.properties.connection", "!merge is not supported"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        host: !GetAtt x\n",
         9, 15, "resources.c.properties.connection.host", "unknown tag '!GetAtt'"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        host: !ref c\n",
         9, 15, "resources.c.properties.connection.host", "'c' is a resource"},
        /* a definition that refers to itself */
        {"definitions:\n  a: !ref b\n  b: !ref a\n" HDR CONN "        username: !ref a\n", 13, 19,
         "resources.c.properties.connection.username", "nested deeper than 16 levels"},
        /* a mapping where text is expected, through a definition */
        {"definitions:\n  d: {x: 1}\n" HDR CONN "        username: !ref d\n", 12, 19,
         "resources.c.properties.connection.username",
         "expected a string, got a mapping (from definition 'd')"},
        {"definitions:\n  d: [1]\n" HDR CONN "        username: !sub '${d}'\n", 12, 19,
         "resources.c.properties.connection.username", "${d} in !sub is a sequence"},
        {"parameters:\n  h: {default: x}\ndefinitions:\n  h: 1\n" HDR, 4, 3, "definitions.h",
         "declared as a parameter and as a definition"},
        {"definitions:\n  c: 1\n" HDR CONN, 6, 3, "resources.c", "also the name of a definition"},
    };
    s_run_cases(cases, N_ELEMS(cases));
}

/* definitions d0..d4 (d1 = 16 x d0 ... d3 = 256 KiB, d4 = 4 x d3 = 1 MiB exactly), d5 = d4
 * plus one byte; then the header, a connection per name in `users` with username: !ref it. */
static char *s_expansion_text(const char *users[], size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    fprintf(f, "definitions:\n  d0: '%064d'\n", 0);
    for (int i = 1; i <= 3; i++) {
        fprintf(f, "  d%d: !sub '", i);
        for (int k = 0; k < 16; k++) {
            fprintf(f, "${d%d}", i - 1);
        }
        fprintf(f, "'\n");
    }
    fprintf(f, "  d4: !sub '${d3}${d3}${d3}${d3}'\n  d5: !sub '${d4}x'\n" HDR);
    for (size_t i = 0; i < n; i++) {
        fprintf(f,
                "  c%zu:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
                "      connection:\n        host: h\n        username: !ref %s\n",
                i, users[i]);
    }
    fclose(f);
    return text;
}

/* !sub expansion is bounded: 1 MiB per value, 16 MiB of text and 100,000 substitutions per
 * file, nested !sub counted each time (issue 8, item 9: a 1.4 KB file took 590 MB and 8 s). */
static void test_expansion_limits(void **state)
{
    struct load l;
    const char *one_mib[] = {"d4"};
    char *text = s_expansion_text(one_mib, 1);
    s_load_text(&l, text, NULL, 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(strlen(l.m.conns[0].username), 1024 * 1024);
    s_free(&l);
    free(text);

    const char *too_big[] = {"d5"};
    text = s_expansion_text(too_big, 1);
    s_load_text(&l, text, NULL, 0);
    s_assert_error(&l, 17, 19, "resources.c0.properties.connection.username",
                   "!sub makes this value longer than 1048576 bytes (1 MiB) (from definition "
                   "'d5'); expected at most 1 MiB");
    s_free(&l);
    free(text);

    /* each d4 costs 4 MiB (1 MiB for d4, 4 x 768 KiB for d3 and what it is made of): the fifth
     * goes beyond 16 MiB */
    const char *five[] = {"d4", "d4", "d4", "d4", "d4"};
    text = s_expansion_text(five, 5);
    s_load_text(&l, text, NULL, 0);
    s_assert_error(&l, 45, 19, "resources.c4.properties.connection.username",
                   "!sub has made more than 16777216 bytes (16 MiB) of text in this file");
    s_free(&l);
    free(text);

    /* empty text, but 10 + 100 + ... + 100000 substitutions */
    static const char empty[] =
        "definitions:\n  e0: ''\n"
        "  e1: !sub '${e0}${e0}${e0}${e0}${e0}${e0}${e0}${e0}${e0}${e0}'\n"
        "  e2: !sub '${e1}${e1}${e1}${e1}${e1}${e1}${e1}${e1}${e1}${e1}'\n"
        "  e3: !sub '${e2}${e2}${e2}${e2}${e2}${e2}${e2}${e2}${e2}${e2}'\n"
        "  e4: !sub '${e3}${e3}${e3}${e3}${e3}${e3}${e3}${e3}${e3}${e3}'\n"
        "  e5: !sub '${e4}${e4}${e4}${e4}${e4}${e4}${e4}${e4}${e4}${e4}'\n" HDR CONN
        "        username: !ref e4\n        password: !ref e5\n";
    s_load_text(&l, empty, NULL, 0);
    s_assert_error(&l, 18, 19, "resources.c.properties.connection.password",
                   "more than 100000 substitutions (${...} in !sub) in this file, nested ones "
                   "counted each time they are expanded (from definition 'e5'); expected at most "
                   "100000");
    s_free(&l);
}

/* ---- parameters ----------------------------------------------------------------------- */

#define PARAMS                                                                                     \
    "metadata:\n  name: T\n"                                                                       \
    "parameters:\n"                                                                                \
    "  port:\n    type: integer\n    minimum: 1000\n    maximum: 2000\n    default: 1883\n"        \
    "  mode:\n    type: string\n    enum: [fast, slow]\n    default: fast\n"                       \
    "  name:\n    type: string\n    minLength: 2\n    maxLength: 4\n"                              \
    "    pattern: '^[a-z]+$'\n    default: ab\n"                                                   \
    "  ratio:\n    type: number\n    maximum: 1.5\n    default: 0.5\n"                             \
    "  flag:\n    type: boolean\n    default: true\n"                                              \
    "resources:\n"                                                                                 \
    "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"                   \
    "      connection:\n        host: h\n        port: !ref port\n"                                \
    "        trustAllCertificates: !ref flag\n"

struct param_case {
    const char *name;
    const char *value;
    int line;
    int col;
    const char *setting;
    const char *msg;
};

static void test_parameter_checks(void **state)
{
    static const struct param_case cases[] = {
        {"port", "abc", 5, 11, "parameters.port.type",
         "parameter 'port': value 'abc' given with -p is not a valid integer"},
        {"port", "1.5", 5, 11, "parameters.port.type", "is not a valid integer"},
        {"port", "999", 6, 14, "parameters.port.minimum", "is too small; expected >= 1000"},
        {"port", "2001", 7, 14, "parameters.port.maximum", "is too large; expected <= 2000"},
        {"mode", "medium", 11, 11, "parameters.mode.enum",
         "value 'medium' given with -p is not allowed; expected one of: fast, slow"},
        {"name", "a", 15, 16, "parameters.name.minLength", "is too short; expected at least 2"},
        {"name", "abcde", 16, 16, "parameters.name.maxLength", "is too long; expected at most 4"},
        {"name", "AB", 17, 14, "parameters.name.pattern", "does not match the pattern"},
        {"ratio", "2", 21, 14, "parameters.ratio.maximum", "is too large; expected <= 1.5"},
        {"ratio", "x", 20, 11, "parameters.ratio.type", "is not a valid number"},
        {"flag", "yes", 24, 11, "parameters.flag.type", "is not a valid boolean (true or false)"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct mqg_param p[] = {s_param(cases[i].name, cases[i].value)};
        struct load l;
        s_load_text(&l, PARAMS, p, 1);
        s_assert_error(&l, cases[i].line, cases[i].col, cases[i].setting, cases[i].msg);
        s_free(&l);
    }
    /* good values; an integer parameter's text is accepted where an integer is expected */
    struct mqg_param ok[] = {s_param("port", "1999"), s_param("mode", "slow"),
                             s_param("name", "abcd"), s_param("ratio", "1.5"),
                             s_param("flag", "false")};
    struct load l;
    s_load_text(&l, PARAMS, ok, N_ELEMS(ok));
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.m.conns[0].port, 1999);
    assert_false(l.m.conns[0].trust_all);
    for (size_t i = 0; i < N_ELEMS(ok); i++) {
        assert_true(ok[i].used);
    }
    s_free(&l);
    /* defaults */
    s_load_text(&l, PARAMS, NULL, 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.m.conns[0].port, 1883);
    assert_true(l.m.conns[0].trust_all);
    s_free(&l);
}

static void test_parameter_declaration_errors(void **state)
{
    static const struct err_case cases[] = {
        {"parameters:\n  p:\n    type: integer\n    default: abc\n" HDR, 4, 14, "parameters.p.type",
         "parameter 'p': default 'abc' is not a valid integer"},
        {"parameters:\n  p:\n    type: text\n" HDR, 3, 11, "parameters.p.type",
         "expected a type (null, boolean, number, integer, string, array, object)"},
        {"parameters:\n  p:\n    default: x\n    minimum: x\n" HDR, 4, 14, "parameters.p.minimum",
         "expected a number"},
        {"parameters:\n  p:\n    default: x\n    pattern: '('\n" HDR, 4, 14, "parameters.p.pattern",
         "invalid regular expression"},
        {"parameters:\n  p:\n    default: c\n    enum: {a: 1}\n" HDR, 4, 11, "parameters.p.enum",
         "expected a list of allowed values"},
        {"parameters:\n  p:\n    type: string\n    default: [1]\n" HDR, 3, 11, "parameters.p.type",
         "parameter 'p': default '[1]' is an array; expected string"},
        {"parameters:\n  p:\n    default: !ref x\n" HDR, 3, 14, "parameters.p.default",
         "expected a literal value in a parameter declaration (no !ref or !sub)"},
        {"parameters:\n  p:\n    type: string\n  q:\n    type: string\n" HDR, 2, 3, "parameters.p",
         "parameter 'p' has no value and no default; expected -p p=VALUE"},
    };
    s_run_cases(cases, N_ELEMS(cases));
}

static void test_unknown_param(void **state)
{
    struct mqg_param p[] = {s_param("mqttHost", "h"), s_param("mqttUsername", "u"),
                            s_param("mqttPassword", "p"), s_param("mqttPort", "1883")};
    struct load l;
    s_load_file(&l, DATA("seed-mqtt-example.yml"), p, N_ELEMS(p));
    assert_int_equal(l.rc, 0);
    assert_false(p[3].used);
    l.rc = mqg_service_check_unused(p, N_ELEMS(p), DATA("seed-mqtt-example.yml"), &l.err);
    s_assert_error(&l, 7, 1, "parameters", "unknown parameter 'mqttPort' given with -p");
    assert_string_equal(l.err.file, DATA("seed-mqtt-example.yml"));
    /* a file without parameters: its first line */
    l.rc = mqg_service_check_unused(p, N_ELEMS(p), DATA("service-both.yml"), &l.err);
    s_assert_error(&l, 1, 1, "parameters", "unknown parameter 'mqttPort'");
    s_free(&l);
}

/* ---- connections ---------------------------------------------------------------------- */

static void test_connection_defaults(void **state)
{
    struct load l;
    s_load_text(&l, HDR CONN, NULL, 0);
    assert_int_equal(l.rc, 0);
    const struct mqg_connection *c = &l.m.conns[0];
    assert_string_equal(c->key, "t/c");
    assert_string_equal(c->host, "h");
    assert_int_equal(c->port, 1883);
    assert_int_equal(c->scheme, MQG_SCHEME_MQTT);
    assert_string_equal(c->uri, "tcp://h:1883");
    assert_null(c->username);
    assert_null(c->password);
    assert_string_equal(c->client_id, "t-c");
    assert_true(c->clean);
    assert_int_equal(c->keepalive_s, 60);
    assert_int_equal(c->connect_timeout_ms, 30000);
    assert_int_equal(c->reconnect_period_ms, 1000);
    assert_int_equal(c->protocol_version, 4);
    assert_true(c->target_connected);
    assert_false(c->trust_all);
    assert_false(c->mutual_auth);
    assert_null(c->ca_cert);
    assert_null(c->client_cert);
    assert_null(c->client_key);
    assert_false(c->will.set);
    assert_int_equal(c->buffer_window_ms, 10000);
    assert_int_equal(c->max_buffered, 20000);
    assert_int_equal(l.m.n_endpoints, 0);
    assert_int_equal(l.m.n_routes, 0);
    s_free(&l);
}

static void test_connection_all_settings(void **state)
{
    static const char yaml[] =
        "metadata:\n  name: A very long service name that is used for the client id, really\n"
        "resources:\n"
        "  aConnectionWithAQuiteLongResourceIdentifier:\n"
        "    type: Cybus::Connection\n"
        "    properties:\n"
        "      protocol: MQTT\n"
        "      targetState: disconnected\n"
        "      connection:\n"
        "        host: '[::1]'\n"
        "        port: 8884\n"
        "        scheme: tls\n"
        "        username: u\n"
        "        password: pw\n"
        "        clean: false\n"
        "        keepalive: 0\n"
        "        connectTimeout: 5000\n"
        "        reconnectPeriod: 250\n"
        "        protocolVersion: 5\n"
        "        trustAllCertificates: true\n"
        "        mutualAuthentication: true\n"
        "        caCert: /etc/ca.pem\n"
        "        clientCert: |\n"
        "          -----BEGIN CERTIFICATE-----\n"
        "          abc\n"
        "        clientPrivateKey: /etc/key.pem\n"
        "        will: {topic: state/gone, payload: 'bye', qos: 2, retain: true}\n"
        "        messageBufferWindowMs: 30000\n"
        "        maxBufferedMessages: 300000\n";
    struct load l;
    s_load_text(&l, yaml, NULL, 0);
    assert_int_equal(l.rc, 0);
    const struct mqg_connection *c = &l.m.conns[0];
    assert_string_equal(c->host, "::1");
    assert_string_equal(c->uri, "ssl://[::1]:8884");
    assert_int_equal(c->scheme, MQG_SCHEME_MQTTS);
    assert_string_equal(c->client_id,
                        "averylongservicenamethatisusedfortheclientidreally-aConnectionWi");
    assert_int_equal(strlen(c->client_id), 64);
    assert_false(c->clean);
    assert_false(c->target_connected);
    assert_int_equal(c->keepalive_s, 0);
    assert_int_equal(c->connect_timeout_ms, 5000);
    assert_int_equal(c->reconnect_period_ms, 250);
    assert_int_equal(c->protocol_version, 5);
    assert_true(c->trust_all);
    assert_true(c->mutual_auth);
    assert_string_equal(c->ca_cert, "/etc/ca.pem");
    assert_string_equal(c->client_cert, "-----BEGIN CERTIFICATE-----\nabc\n");
    assert_string_equal(c->client_key, "/etc/key.pem");
    assert_true(c->will.set);
    assert_string_equal(c->will.topic, "state/gone");
    assert_string_equal(c->will.payload, "bye");
    assert_int_equal(c->will.qos, 2);
    assert_true(c->will.retain);
    assert_int_equal(c->buffer_window_ms, 30000);
    assert_int_equal(c->max_buffered, 300000);

    /* the listing hides secrets */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    mqg_model_print(&l.m, f);
    fclose(f);
    assert_non_null(strstr(buf, "password: ***"));
    assert_non_null(strstr(buf, "clientPrivateKey: ***"));
    assert_non_null(strstr(buf, "clientCert: (PEM text)"));
    assert_non_null(strstr(buf, "uri: ssl://[::1]:8884"));
    assert_null(strstr(buf, "pw"));
    assert_null(strstr(buf, "/etc/key.pem"));
    assert_null(strstr(buf, "bye"));
    free(buf);
    s_free(&l);
}

struct url_case {
    const char *url;
    const char *uri;
    const char *host;
    int port;
    enum mqg_scheme scheme;
};

static void test_url_parsing(void **state)
{
    static const struct url_case cases[] = {
        {"mqtt://broker:1884", "tcp://broker:1884", "broker", 1884, MQG_SCHEME_MQTT},
        {"mqtt://broker", "tcp://broker:1883", "broker", 1883, MQG_SCHEME_MQTT},
        {"tcp://10.0.0.1:1883/", "tcp://10.0.0.1:1883", "10.0.0.1", 1883, MQG_SCHEME_MQTT},
        {"mqtts://broker", "ssl://broker:8883", "broker", 8883, MQG_SCHEME_MQTTS},
        {"ssl://broker:9999", "ssl://broker:9999", "broker", 9999, MQG_SCHEME_MQTTS},
        {"TLS://broker", "ssl://broker:8883", "broker", 8883, MQG_SCHEME_MQTTS},
        {"ws://broker:9001/mqtt", "ws://broker:9001/mqtt", "broker", 9001, MQG_SCHEME_WS},
        {"ws://broker", "ws://broker:80", "broker", 80, MQG_SCHEME_WS},
        {"wss://broker/ws?x=1", "wss://broker:443/ws?x=1", "broker", 443, MQG_SCHEME_WSS},
        {"mqtt://[fe80::1]:1885", "tcp://[fe80::1]:1885", "fe80::1", 1885, MQG_SCHEME_MQTT},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char yaml[512];
        /* url wins over host, port and scheme */
        snprintf(yaml, sizeof(yaml),
                 HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
                     "      connection:\n        host: ignored\n        port: 1\n"
                     "        scheme: wss\n        url: '%s'\n",
                 cases[i].url);
        struct load l;
        s_load_text(&l, yaml, NULL, 0);
        if (l.rc != 0) {
            print_error("%s: %s\n", cases[i].url, l.err.msg);
        }
        assert_int_equal(l.rc, 0);
        assert_string_equal(l.m.conns[0].uri, cases[i].uri);
        assert_string_equal(l.m.conns[0].host, cases[i].host);
        assert_int_equal(l.m.conns[0].port, cases[i].port);
        assert_int_equal(l.m.conns[0].scheme, cases[i].scheme);
        s_free(&l);
    }
    static const char *const bad[] = {
        "http://broker",   "broker:1883", "mqtt://",      "mqtt://b:0",
        "mqtt://b:65536",  "mqtt://b:x",  "mqtt://u:p@b", "mqtt://b/path",
        "mqtt://::1:1883", "mqtt://[::1", "mqtt://b:+1",  "mqtt://b:",
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
                     "      connection:\n        url: '%s'\n",
                 bad[i]);
        struct load l;
        s_load_text(&l, yaml, NULL, 0);
        if (l.rc == 0) {
            print_error("url %s accepted\n", bad[i]);
        }
        s_assert_error(&l, 9, 14, "resources.c.properties.connection.url", "url");
        s_free(&l);
    }
}

static void test_connection_errors(void **state)
{
    static const struct err_case cases[] = {
        {HDR CONN "        port: 0\n", 10, 15, "resources.c.properties.connection.port",
         "0 is out of range; expected 1..65535"},
        {HDR CONN "        port: '1883'\n", 10, 15, "resources.c.properties.connection.port",
         "expected an integer, got the quoted string '1883'"},
        {HDR CONN "        port: abc\n", 10, 15, "resources.c.properties.connection.port",
         "expected an integer, got 'abc'"},
        {HDR CONN "        port: [1]\n", 10, 15, "resources.c.properties.connection.port",
         "expected an integer, got a sequence"},
        {HDR CONN "        protocolVersion: 6\n", 10, 26,
         "resources.c.properties.connection.protocolVersion", "expected 3..5"},
        {HDR CONN "        keepalive: -1\n", 10, 20, "resources.c.properties.connection.keepalive",
         "expected 0..65535"},
        {HDR CONN "        connectTimeout: -5\n", 10, 25,
         "resources.c.properties.connection.connectTimeout", "out of range"},
        {HDR CONN "        messageBufferWindowMs: 30001\n", 10, 32,
         "resources.c.properties.connection.messageBufferWindowMs", "expected 0..30000"},
        {HDR CONN "        maxBufferedMessages: 0\n", 10, 30,
         "resources.c.properties.connection.maxBufferedMessages", "expected 1..300000"},
        {HDR CONN "        scheme: http\n", 10, 17, "resources.c.properties.connection.scheme",
         "unknown scheme 'http'; expected mqtt, tcp, mqtts, tls, ws or wss"},
        {HDR CONN "        clean: maybe\n", 10, 16, "resources.c.properties.connection.clean",
         "expected a boolean (true or false), got 'maybe'"},
        {HDR CONN "        clean: 'true'\n", 10, 16, "resources.c.properties.connection.clean",
         "got the quoted string 'true'"},
        {HDR CONN "        colour: red\n", 10, 9, "resources.c.properties.connection.colour",
         "unknown property 'colour'; expected one of: host, port,"},
        {HDR CONN "        clientId: ''\n", 10, 19, "resources.c.properties.connection.clientId",
         "expected a non-empty client id"},
        {HDR CONN "        mutualAuthentication: true\n        clientCert: c.pem\n", 10, 31,
         "resources.c.properties.connection.mutualAuthentication", "clientPrivateKey is missing"},
        {HDR CONN "        will: {payload: x}\n", 10, 15,
         "resources.c.properties.connection.will.topic", "will.topic is missing"},
        {HDR CONN "        will: {topic: a/#}\n", 10, 23,
         "resources.c.properties.connection.will.topic", "'a/#' is not a valid topic name"},
        /* what brokers refuse (issue 8, item 5): the reason and the character */
        {HDR CONN "        will: {topic: \"\u00e4/\\x01\"}\n", 10, 23,
         "resources.c.properties.connection.will.topic",
         "is not a valid topic name: it contains a control character (character 3); expected a "
         "topic name without '+', '#', control characters or Unicode non-characters"},
        {HDR CONN "        will: {topic: \"a\\uFDD0\"}\n", 10, 23,
         "resources.c.properties.connection.will.topic",
         "it contains a Unicode non-character (character 2)"},
        {HDR CONN "        will: {topic: a, qos: 3}\n", 10, 31,
         "resources.c.properties.connection.will.qos", "expected 0..2"},
        {HDR CONN "        host: h\n", 10, 9, "",
         "duplicate key 'host' (first given at line 9, "
         "column 9)"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        port: 1883\n",
         8, 7, "resources.c.properties.connection.host", "host is missing"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      connection:\n        host: 'a b'\n",
         9, 15, "resources.c.properties.connection.host", "invalid host 'a b'"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n", 4, 3,
         "resources.c.properties.connection", "connection is missing"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
             "      targetState: up\n      connection: {host: h}\n",
         8, 20, "resources.c.properties.targetState", "unknown targetState 'up'"},
        {HDR "  c:\n    type: Cybus::Connection\n    properties:\n"
             "      connection: {host: h}\n",
         6, 5, "resources.c.properties", "protocol is missing; expected protocol: Mqtt"},
        {HDR "  c:\n    type: Cybus::Connection\n", 4, 3, "resources.c.properties",
         "properties is missing"},
        {HDR "  c:\n    properties: {}\n", 4, 3, "resources.c.type", "type is missing"},
        {HDR "  c/d:\n    type: Cybus::Connection\n", 4, 3, "resources",
         "invalid resource id 'c/d'"},
        {HDR "  my-conn:\n    type: Cybus::Connection\n", 4, 3, "resources",
         "invalid resource id 'my-conn'; expected 1..128 letters, digits, '_' and '.'"},
        {HDR "  _conn:\n    type: Cybus::Connection\n", 4, 3, "resources",
         "invalid resource id '_conn'"},
    };
    s_run_cases(cases, N_ELEMS(cases));
}

/* The settings of `connection:` come from one table (mqg_svc_conn.c): its key list, and the
 * order in which settings are read, which decides the error reported when there are several —
 * the address (url, else host, port, scheme), then username, password, clientId, the integers,
 * the booleans, the certificates, the will; the order of the keys in the file does not count. */
static void test_connection_settings_table(void **state)
{
    static const struct err_case cases[] = {
        {HDR CONN "        colour: red\n", 10, 9, "resources.c.properties.connection.colour",
         "unknown property 'colour'; expected one of: host, port, scheme, url, username, "
         "password, clientId, clean, keepalive, connectTimeout, reconnectPeriod, "
         "protocolVersion, trustAllCertificates, mutualAuthentication, caCert, clientCert, "
         "clientPrivateKey, will, messageBufferWindowMs, maxBufferedMessages"},
        {HDR CONN "        will: {topic: a, colour: red}\n", 10, 26,
         "resources.c.properties.connection.will.colour",
         "unknown property 'colour'; expected one of: topic, payload, qos, retain"},
        /* an unknown key is found before any value is read */
        {HDR CONN "        port: 0\n        colour: red\n", 11, 9,
         "resources.c.properties.connection.colour", "unknown property 'colour'"},
        /* integers before booleans, though clean is listed first */
        {HDR CONN "        clean: maybe\n        keepalive: -1\n", 11, 20,
         "resources.c.properties.connection.keepalive", "expected 0..65535"},
        {HDR CONN "        maxBufferedMessages: 0\n        trustAllCertificates: 1\n", 10, 30,
         "resources.c.properties.connection.maxBufferedMessages", "expected 1..300000"},
        /* the client settings before the integers, the certificates after the booleans */
        {HDR CONN "        keepalive: -1\n        clientId: ''\n", 11, 19,
         "resources.c.properties.connection.clientId", "expected a non-empty client id"},
        {HDR CONN "        caCert: [x]\n        mutualAuthentication: maybe\n", 11, 31,
         "resources.c.properties.connection.mutualAuthentication", "expected a boolean"},
        {HDR CONN "        will: {topic: a/#}\n        caCert: [x]\n", 11, 17,
         "resources.c.properties.connection.caCert", "expected a string, got a sequence"},
        /* the address first: port and scheme after host, all of them after the url */
        {HDR CONN "        scheme: http\n        port: 0\n", 11, 15,
         "resources.c.properties.connection.port", "0 is out of range"},
        {HDR CONN "        username: [u]\n        scheme: http\n", 11, 17,
         "resources.c.properties.connection.scheme", "unknown scheme 'http'"},
        {HDR CONN "        password: [p]\n        url: 'mqtt://b:0'\n", 11, 14,
         "resources.c.properties.connection.url", "cannot use url 'mqtt://b:0': invalid port"},
        /* with a url, host, port and scheme are not read */
        {HDR CONN "        port: 0\n        scheme: http\n        url: mqtt://b\n"
                  "        password: [p]\n",
         13, 19, "resources.c.properties.connection.password", "expected a string"},
        /* mutualAuthentication is checked against the certificates after everything else */
        {HDR CONN "        mutualAuthentication: true\n        will: {topic: a/#}\n", 11, 23,
         "resources.c.properties.connection.will.topic", "is not a valid topic name"},
    };
    s_run_cases(cases, N_ELEMS(cases));

    /* "" is no username, password or certificate; the will's payload defaults to "" */
    struct load l;
    s_load_text(&l,
                HDR CONN "        username: ''\n        password: ''\n        caCert: ''\n"
                         "        clientCert: ''\n        clientPrivateKey: ''\n"
                         "        will: {topic: gone}\n        port: ~\n        scheme: ~\n",
                NULL, 0);
    assert_int_equal(l.rc, 0);
    const struct mqg_connection *c = &l.m.conns[0];
    assert_null(c->username);
    assert_null(c->password);
    assert_null(c->ca_cert);
    assert_null(c->client_cert);
    assert_null(c->client_key);
    assert_true(c->will.set);
    assert_string_equal(c->will.payload, "");
    assert_int_equal(c->will.qos, 0);
    assert_false(c->will.retain);
    assert_string_equal(c->uri, "tcp://h:1883");
    s_free(&l);
}

/* ---- endpoints ------------------------------------------------------------------------ */

#define EP HDR CONN "  e:\n    type: Cybus::Endpoint\n    properties:\n      protocol: Mqtt\n"

static void test_endpoint_both_or_neither(void **state)
{
    struct load l;
    s_load_file(&l, DATA("service-both.yml"), NULL, 0);
    s_assert_error(&l, 19, 7, "resources.confused.properties.write",
                   "endpoint 'confused' has both subscribe and write; expected exactly one");
    s_free(&l);
    s_load_text(&l, EP "      connection: !ref c\n", NULL, 0);
    s_assert_error(&l, 10, 3, "resources.e.properties",
                   "endpoint 'e' has neither subscribe nor write");
    s_free(&l);
}

static void test_endpoint_write(void **state)
{
    struct load l;
    s_load_text(&l,
                EP "      connection: !ref c\n      topic: my/data\n"
                   "      write:\n        topic: cmd/set\n        qos: 2\n        retain: true\n",
                NULL, 0);
    assert_int_equal(l.rc, 0);
    const struct mqg_endpoint *e = &l.m.endpoints[0];
    assert_int_equal(e->kind, MQG_EP_WRITE);
    assert_string_equal(e->topic, "cmd/set");
    assert_int_equal(e->qos, 2);
    assert_true(e->retain);
    assert_string_equal(e->data_topic, "services/t/my/data");
    const struct mqg_route *r = &l.m.routes[0];
    assert_string_equal(r->name, "endpoint e");
    assert_int_equal(r->sources[0].conn, MQG_INTERNAL);
    assert_string_equal(r->sources[0].filter, "services/t/my/data/set");
    assert_int_equal(r->sources[0].qos, 2);
    assert_int_equal(r->target.conn, 0);
    assert_string_equal(r->target.topic, "cmd/set");
    assert_int_equal(r->target.qos, 2);
    assert_true(r->target.retain);
    s_free(&l);
}

/* A resource reference may go through a parameter holding the resource id; a plain id works. */
static void test_resource_ref_via_parameter(void **state)
{
    struct mqg_param p[] = {s_param("broker", "c")};
    struct load l;
    s_load_text(&l,
                "parameters:\n  broker: {type: string}\n" EP
                "      connection: !ref broker\n      subscribe: {topic: a}\n"
                "  e2:\n    type: Cybus::Endpoint\n    properties:\n      protocol: mqtt\n"
                "      connection: c\n      write: {topic: b}\n",
                p, 1);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.m.n_endpoints, 2);
    assert_int_equal(l.m.endpoints[0].conn, 0);
    assert_int_equal(l.m.endpoints[1].conn, 0);
    s_free(&l);
    p[0].value = "nothing";
    s_load_text(&l,
                "parameters:\n  broker: {type: string}\n" EP
                "      connection: !ref broker\n      subscribe: {topic: a}\n",
                p, 1);
    s_assert_error(&l, 16, 19, "resources.e.properties.connection", "unknown resource 'nothing'");
    s_free(&l);
}

static void test_endpoint_errors(void **state)
{
    static const struct err_case cases[] = {
        {EP "      connection: !ref c\n      subscribe:\n        topic: a/#/b\n", 16, 16,
         "resources.e.properties.subscribe.topic", "'a/#/b' is not a valid topic filter"},
        {EP "      connection: !ref c\n      subscribe:\n        topic: a/+name\n", 16, 16,
         "resources.e.properties.subscribe.topic", "not a valid topic filter"},
        {EP "      connection: !ref c\n      write:\n        topic: a/+\n", 16, 16,
         "resources.e.properties.write.topic", "'a/+' is not a valid topic to write to"},
        {EP "      connection: !ref c\n      write:\n        topic: \"a/b\\x01\"\n", 16, 16,
         "resources.e.properties.write.topic",
         "is not a valid topic to write to: it contains a control character (character 4); "
         "expected a topic name without '+', '#', control characters or Unicode "
         "non-characters"},
        {EP "      connection: !ref c\n      write:\n        topic: \"x\\uFFFE\"\n", 16, 16,
         "resources.e.properties.write.topic", "it contains a Unicode non-character (character 2)"},
        {EP "      connection: !ref c\n      write:\n        topic: \"\\u0085\"\n", 16, 16,
         "resources.e.properties.write.topic", "it contains a control character (character 1)"},
        {EP "      connection: !ref c\n      write:\n        topic: !sub "
            "\"${Cybus::MqttRoot}\\x7f\"\n",
         16, 16, "resources.e.properties.write.topic",
         "it contains a control character (character 11)"},
        {EP "      connection: !ref c\n      topic: \"d\\t\"\n      subscribe: {topic: a}\n", 15,
         14, "resources.e.properties.topic",
         "is not a valid data topic: it contains a control character (character 2)"},
        {EP "      connection: !ref c\n      subscribe:\n        topic: a\n        qos: 3\n", 17,
         14, "resources.e.properties.subscribe.qos", "3 is out of range; expected 0..2"},
        {EP "      connection: !ref c\n      subscribe:\n        qos: 1\n", 15, 7,
         "resources.e.properties.subscribe.topic", "subscribe.topic is missing"},
        {EP "      connection: !ref c\n      subscribe:\n        topic: a\n        retain: true\n",
         17, 9, "resources.e.properties.subscribe.retain", "unknown property 'retain'"},
        {EP "      connection: !ref c\n      subscribe:\n", 15, 7,
         "resources.e.properties.subscribe", "subscribe is empty"},
        {EP "      connection: !ref c\n      rules: {transform: {expression: $}}\n"
            "      subscribe: {topic: a}\n",
         15, 14, "resources.e.properties.rules",
         "expected a list of rules (- <kind>: {<options>}), got a mapping"},
        {EP "      connection: !ref c\n      topic: a/+\n      subscribe: {topic: a}\n", 15, 14,
         "resources.e.properties.topic", "'a/+' is not a valid data topic"},
        {EP "      subscribe: {topic: a}\n", 10, 3, "resources.e.properties.connection",
         "connection is missing"},
        {EP "      connection: !ref e\n      subscribe: {topic: a}\n", 14, 19,
         "resources.e.properties.connection",
         "'e' is a Cybus::Endpoint; expected a Cybus::Connection"},
        {EP "      connection: !ref other::c\n      subscribe: {topic: a}\n", 14, 19,
         "resources.e.properties.connection", "reference to another service"},
    };
    s_run_cases(cases, N_ELEMS(cases));

    struct load l;
    s_load_file(&l, DATA("service-unknown-ref.yml"), NULL, 0);
    s_assert_error(&l, 16, 19, "resources.reading.properties.connection",
                   "unknown resource 'brokr'; expected the id of a resource of this file");
    s_free(&l);
    s_load_file(&l, DATA("service-skipped-ref.yml"), NULL, 0);
    s_assert_error(&l, 16, 19, "resources.reading.properties.connection",
                   "'plc' is a Cybus::Connection (protocol Modbus), which mqgate skips");
    s_free(&l);
}

static void test_bad_port_fixture(void **state)
{
    struct load l;
    s_load_file(&l, DATA("service-badport.yml"), NULL, 0);
    s_assert_error(&l, 11, 15, "resources.mqttConnection.properties.connection.port",
                   "70000 is out of range; expected 1..65535");
    char buf[1400];
    mqg_error_format(&l.err, buf, sizeof(buf));
    assert_string_equal(
        buf, DATA("service-badport.yml") ":11:15: "
                                         "resources.mqttConnection.properties.connection.port: "
                                         "70000 is out of range; expected 1..65535");
    s_free(&l);
}

/* ---- mappings, rules, skipped --------------------------------------------------------- */

static void test_mapping_wildcards(void **state)
{
    struct load l;
    s_load_file(&l, DATA("service-mapping.yml"), NULL, 0);
    assert_int_equal(l.rc, 0);
    int plant = mqg_model_find_conn(&l.m, "mappingtest/plant");
    int cloud = mqg_model_find_conn(&l.m, "mappingtest/cloud");
    assert_true(plant >= 0 && cloud >= 0);
    assert_string_equal(l.m.conns[cloud].uri, "wss://cloud.example.com:443/mqtt");
    assert_int_equal(l.m.n_routes, 4);
    /* endpoint -> endpoint, defined before both endpoints */
    const struct mqg_route *r = &l.m.routes[2];
    assert_string_equal(r->name, "mapping toCloud[0]");
    assert_int_equal(r->n_sources, 1);
    assert_int_equal(r->sources[0].conn, MQG_INTERNAL);
    assert_string_equal(r->sources[0].filter, "services/mappingtest/temperature");
    assert_int_equal(r->target.conn, MQG_INTERNAL);
    assert_string_equal(r->target.topic, "services/mappingtest/cloud/temperature/set");
    assert_int_equal(r->target.qos, 1);
    assert_true(r->target.retain);
    /* named wildcards, two subscriptions, external source and target */
    r = &l.m.routes[3];
    assert_string_equal(r->name, "mapping toCloud[1]");
    assert_int_equal(r->n_sources, 2);
    assert_int_equal(r->sources[0].conn, plant);
    assert_string_equal(r->sources[0].filter, "factory/+line/#rest");
    assert_int_equal(r->sources[0].qos, 1);
    assert_int_equal(r->sources[1].conn, MQG_INTERNAL);
    assert_string_equal(r->sources[1].filter, "legacy/+line/#rest");
    assert_int_equal(r->sources[1].qos, 0);
    assert_int_equal(r->target.conn, cloud);
    assert_string_equal(r->target.topic, "plant/{line}/$rest");
    assert_int_equal(r->target.qos, 2);
    assert_true(r->target.retain);
    s_free(&l);
}

#define MAP HDR CONN "  m:\n    type: Cybus::Mapping\n    properties:\n      mappings:\n"

static void test_mapping_errors(void **state)
{
    static const struct err_case cases[] = {
        {MAP "        - subscribe:\n            topic: a/+x\n"
             "          publish:\n            topic: b/{y}\n",
         17, 20, "resources.m.properties.mappings[0].publish.topic",
         "'b/{y}' does not fit subscribe[0]"},
        {MAP "        - subscribe:\n            - topic: a/+x\n            - topic: c/+y\n"
             "          publish:\n            topic: b/{x}\n",
         18, 20, "resources.m.properties.mappings[0].publish.topic",
         "'b/{x}' does not fit subscribe[1]"},
        {MAP "        - subscribe:\n            topic: a/#x/b\n"
             "          publish:\n            topic: b\n",
         15, 20, "resources.m.properties.mappings[0].subscribe.topic",
         "'a/#x/b' is not a valid topic filter"},
        {MAP "        - subscribe:\n            topic: a/+x/+x\n"
             "          publish:\n            topic: b\n",
         15, 20, "resources.m.properties.mappings[0].subscribe.topic", "used twice"},
        {MAP "        - subscribe:\n            topic: a\n"
             "          publish:\n            topic: b/#\n",
         17, 20, "resources.m.properties.mappings[0].publish.topic",
         "'b/#' is not a valid topic to publish to"},
        {MAP "        - subscribe:\n            topic: a\n"
             "          publish:\n            topic: \"b/\\x1f\"\n",
         17, 20, "resources.m.properties.mappings[0].publish.topic",
         "is not a valid topic to publish to: it contains a control character (character 3); "
         "expected a topic name without '+', '#', control characters or Unicode non-characters "
         "({name} placeholders allowed)"},
        {MAP "        - subscribe:\n            topic: a\n          publish:\n"
             "            topic: \"b/\\U0001FFFF\"\n            connection: !ref c\n",
         17, 20, "resources.m.properties.mappings[0].publish.topic",
         "it contains a Unicode non-character (character 3)"},
        /* in a template, the literal text is checked: references are checked at run time */
        {MAP "        - subscribe:\n            topic: a/+x\n          publish:\n"
             "            topic: \"b/{x}/\\x01\"\n",
         17, 20, "resources.m.properties.mappings[0].publish.topic",
         "it contains a control character (character 7)"},
        {MAP "        - subscribe:\n            topic: a\n            endpoint: !ref c\n"
             "          publish:\n            topic: b\n",
         15, 13, "resources.m.properties.mappings[0].subscribe",
         "both endpoint and topic are given"},
        {MAP "        - subscribe:\n            qos: 1\n          publish:\n            topic: b\n",
         15, 13, "resources.m.properties.mappings[0].subscribe",
         "neither endpoint nor topic is given"},
        {MAP "        - subscribe:\n            endpoint: !ref c\n"
             "          publish:\n            topic: b\n",
         15, 23, "resources.m.properties.mappings[0].subscribe.endpoint",
         "'c' is a Cybus::Connection; expected a Cybus::Endpoint"},
        {MAP "        - subscribe:\n            topic: a\n            connection: !ref m\n"
             "          publish:\n            topic: b\n",
         16, 25, "resources.m.properties.mappings[0].subscribe.connection",
         "'m' is a Cybus::Mapping; expected a Cybus::Connection"},
        {MAP "        - subscribe: []\n          publish:\n            topic: b\n", 14, 22,
         "resources.m.properties.mappings[0].subscribe", "subscribe is an empty list"},
        {MAP "        - subscribe: {topic: a}\n", 14, 11,
         "resources.m.properties.mappings[0].publish", "publish is missing"},
        {MAP "        - publish: {topic: a}\n", 14, 11,
         "resources.m.properties.mappings[0].subscribe", "subscribe is missing"},
        {MAP "        - subscribe: {topic: a}\n          publish: {topic: b}\n"
             "          rules: [{transform: {expression: ''}}]\n",
         16, 44, "resources.m.properties.mappings[0].rules[0].transform.expression",
         "expression is empty; expected a JSONata expression"},
        /* an empty endpoint reference (issue 8, item 2: was a NULL dereference) */
        {MAP "        - subscribe:\n            topic: a\n          publish:\n"
             "            endpoint:\n",
         17, 13, "resources.m.properties.mappings[0].publish.endpoint", "endpoint is empty"},
        {MAP "        - subscribe:\n            topic: a\n          publish:\n"
             "            endpoint: ~\n",
         17, 13, "resources.m.properties.mappings[0].publish.endpoint",
         "endpoint is empty; expected endpoint: !ref <write endpoint id>"},
        {MAP "        - subscribe: {topic: a}\n          publish: {endpoint: null}\n", 15, 21,
         "resources.m.properties.mappings[0].publish.endpoint", "endpoint is empty"},
        {MAP "        - subscribe:\n            endpoint:\n"
             "          publish:\n            topic: b\n",
         15, 13, "resources.m.properties.mappings[0].subscribe.endpoint",
         "endpoint is empty; expected endpoint: !ref <endpoint id>"},
        {MAP "        - subscribe:\n            - endpoint: NULL\n          publish:\n"
             "            topic: b\n",
         15, 15, "resources.m.properties.mappings[0].subscribe[0].endpoint", "endpoint is empty"},
        {MAP "        - subscribe: {endpoint: ~}\n          publish: {topic: b}\n", 14, 23,
         "resources.m.properties.mappings[0].subscribe.endpoint", "endpoint is empty"},
        {HDR CONN "  m:\n    type: Cybus::Mapping\n    properties:\n      mappings: []\n", 13, 17,
         "resources.m.properties.mappings", "expected a non-empty list"},
        {HDR CONN "  m:\n    type: Cybus::Mapping\n    properties:\n      mapping: []\n", 13, 7,
         "resources.m.properties.mapping",
         "unknown property 'mapping'; expected one of: "
         "mappings"},
    };
    s_run_cases(cases, N_ELEMS(cases));

    /* publish to a subscribe endpoint */
    struct load l;
    s_load_text(&l,
                EP "      connection: !ref c\n      subscribe: {topic: a}\n"
                   "  m:\n    type: Cybus::Mapping\n    properties:\n      mappings:\n"
                   "        - subscribe: {topic: x}\n          publish:\n"
                   "            endpoint: !ref e\n",
                NULL, 0);
    s_assert_error(&l, 22, 23, "resources.m.properties.mappings[0].publish.endpoint",
                   "'e' is a subscribe endpoint; expected a write endpoint");
    s_free(&l);
}

/* Rules are read into the entry's route (every kind and error: test_svc_rules.c). */
static void test_rules_fixture(void **state)
{
    struct load l;
    s_load_file(&l, DATA("service-rules.yml"), NULL, 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.m.n_routes, 1);
    const struct mqg_route *r = &l.m.routes[0];
    assert_int_equal(r->n_rules, 1);
    assert_int_equal(r->rules[0].kind, MQG_RULE_TRANSFORM);
    assert_string_equal(r->rules[0].text, "{\"value\": $}");
    assert_string_equal(r->rules[0].where, DATA("service-rules.yml") ":22:29");
    assert_null(r->rid);
    s_free(&l);
}

static void test_skipped_resources(void **state)
{
    struct load l;
    s_load_file(&l, DATA("service-skipped.yml"), NULL, 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.m.n_conns, 1);
    assert_string_equal(l.m.conns[0].key, "skippedtest/broker");
    assert_int_equal(l.m.n_skipped, 3);
    assert_string_equal(l.m.skipped[0].id, "opcua");
    assert_string_equal(l.m.skipped[0].type, "Cybus::Connection (protocol Opcua)");
    assert_string_equal(l.m.skipped[0].service_id, "skippedtest");
    assert_string_equal(l.m.skipped[1].id, "container");
    assert_string_equal(l.m.skipped[1].type, "Cybus::Container");
    assert_string_equal(l.m.skipped[2].id, "volume");
    assert_string_equal(l.m.skipped[2].type, "Cybus::Volume");

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    mqg_model_print(&l.m, f);
    fclose(f);
    assert_non_null(strstr(buf, "skipped: 3\n"));
    assert_non_null(strstr(buf, "skippedtest/container: Cybus::Container"));
    free(buf);
    s_free(&l);
}

/* What the user wrote is echoed with its control characters escaped: in errors and in the
 * listing of `mqgate check` (issue 8, item 9). */
static void test_print_escapes(void **state)
{
    struct load l;
    s_load_text(&l,
                "metadata:\n  name: \"Ctl\\e[2J\"\nresources:\n"
                "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"
                "      connection:\n        host: h\n        clientId: \"id\\nx\"\n"
                "        username: \"u\\tv\\x7f\\u0085\"\n"
                "  e:\n    type: Cybus::Endpoint\n    properties:\n      protocol: Mqtt\n"
                "      connection: !ref c\n      subscribe: {topic: \"in/\\x01\"}\n"
                "  k:\n    type: \"Cybus::Odd\\r\"\n",
                NULL, 0);
    assert_int_equal(l.rc, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    mqg_model_print(&l.m, f);
    fclose(f);
    assert_non_null(strstr(buf, "  ctl2j: \"Ctl\\x1b[2J\" from "));
    assert_non_null(strstr(buf, "    clientId: id\\nx\n"));
    assert_non_null(strstr(buf, "    username: u\\tv\\x7f\\u0085  password: -\n"));
    assert_non_null(strstr(buf, "subscribe in/\\x01 qos 0"));
    assert_non_null(strstr(buf, "  endpoint e: ctl2j/c in/\\x01 (qos 0) -> internal"));
    assert_non_null(strstr(buf, "ctl2j/k: Cybus::Odd\\r (not supported"));
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if ((ch < 0x20 && ch != '\n') || ch == 0x7f ||
            (ch == 0xc2 && (unsigned char)buf[i + 1] < 0xa0)) {
            fail_msg("raw control character 0x%02x at %zu in:\n%s", ch, i, buf);
        }
    }
    free(buf);
    s_free(&l);

    s_load_text(&l, HDR CONN "        url: \"mqtt://\\x1b\"\n", NULL, 0);
    s_assert_error(&l, 10, 14, "resources.c.properties.connection.url", "cannot use url");
    char msg[1400];
    mqg_error_format(&l.err, msg, sizeof(msg));
    assert_non_null(strstr(msg, "cannot use url 'mqtt://\\x1b': invalid host"));
    assert_null(strchr(msg, '\x1b'));
    s_free(&l);
    s_load_text(&l, HDR CONN "        \"bad\\nkey\": 1\n", NULL, 0);
    mqg_error_format(&l.err, msg, sizeof(msg));
    assert_non_null(strstr(msg, ":10:9: resources.c.properties.connection.bad\\nkey: unknown "
                                "property 'bad\\nkey'"));
    s_free(&l);
}

/* ---- document structure --------------------------------------------------------------- */

static void test_document_errors(void **state)
{
    static const struct err_case cases[] = {
        {"metadata:\n  name: T\nresources: {}\nfoo: 1\n", 4, 1, "foo",
         "unknown property 'foo'; expected one of: version, description, metadata, parameters, "
         "definitions, resources"},
        {"version: [1]\nmetadata:\n  name: T\nresources: {}\n", 1, 10, "version",
         "expected text, got a sequence"},
        {"resources: {}\n", 1, 1, "metadata", "metadata is missing"},
        {"metadata:\n  version: 1\nresources: {}\n", 2, 3, "metadata.name",
         "metadata.name is missing"},
        {"metadata:\n  name: '!!!'\nresources: {}\n", 2, 9, "metadata.name",
         "gives an empty service id"},
        {"metadata:\n  name: !ref x\nresources: {}\n", 2, 9, "metadata.name",
         "expected literal text (no !ref or !sub)"},
        {"metadata:\n  name: "
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
         "resources: {}\n",
         2, 9, "metadata.name", "name has 81 characters; expected at most 80"},
        {"metadata:\n  name: T\n  owner: me\nresources: {}\n", 3, 3, "metadata.owner",
         "unknown property 'owner'"},
        {"metadata:\n  name: T\n", 1, 1, "resources", "resources is missing"},
        {"metadata:\n  name: T\nresources:\n", 3, 1, "resources",
         "expected a mapping of "
         "resources"},
        {"- a\n- b\n", 1, 1, "", "expected a mapping with metadata and resources"},
        {"metadata:\n  name: T\nresources: {}\n<<: {a: 1}\n", 4, 1, "<<",
         "merge keys (<<) are not supported"},
        {"metadata:\n  name: T\n  name: U\nresources: {}\n", 3, 3, "",
         "duplicate key 'name' (first given at line 2, column 3)"},
        {"metadata:\n  name: T\nresources: {}\n---\nmetadata: {}\n", 4, 1, "",
         "a second YAML document starts here"},
        {"", 0, 0, "", "the file holds no YAML document"},
        {"metadata:\n  name: \"T\n", 3, 1, "",
         "YAML syntax error: found unexpected end of "
         "stream"},
        {"metadata:\n\tname: T\n", 2, 1, "",
         "YAML syntax error: found character that cannot "
         "start any token"},
        {"metadata: *nothing\n", 1, 11, "", "YAML syntax error: found undefined alias"},
        {"metadata: {name: \"\xff\"}\n", 1, 19, "", "invalid YAML input"},
        /* the byte named is the first of the offending sequence (issue 8, item 9) */
        {"metadata: {name: \"a\xed\xa0\x80\"}\n", 1, 20, "",
         "invalid Unicode character: U+D800 (byte 0xed); expected UTF-8 text"},
        {"metadata: {name: a\xc2\x80}\n", 1, 19, "",
         "control characters are not allowed: U+0080 (byte 0xc2)"},
        {"metadata: {name: a\xef\xbf\xbe}\n", 1, 19, "",
         "control characters are not allowed: U+FFFE (byte 0xef)"},
        {"metadata: {name: a\x01}\n", 1, 19, "",
         "control characters are not allowed: U+0001 (byte 0x01)"},
        {"metadata: {name: a\xc3\x28}\n", 1, 20, "", "invalid trailing UTF-8 octet (byte 0x28)"},
        {"metadata: {name: a\xe0\x80\x80}\n", 1, 19, "",
         "invalid length of a UTF-8 sequence (byte 0xe0)"},
    };
    s_run_cases(cases, N_ELEMS(cases));

    struct load l;
    s_load_file(&l, DATA("service-syntax.yml"), NULL, 0);
    s_assert_error(&l, 7, 1, "",
                   "YAML syntax error: did not find expected ',' or ']' (while "
                   "parsing a flow sequence at line 6, column 17)");
    s_free(&l);
}

/* Global tags and the non-specific tag are errors wherever they are written, with the setting
 * path; local tags other than !ref and !sub are named by the loader where it reads them. */
static void test_tags(void **state)
{
    static const struct err_case cases[] = {
        {HDR CONN "        port: !!str 1883\n", 10, 15, "resources.c.properties.connection.port",
         "tag '!!str' is not supported; expected no tag (quote a value to make it text), !ref "
         "or !sub"},
        {HDR CONN "        password: !!binary aGVsbG8=\n", 10, 19,
         "resources.c.properties.connection.password", "tag '!!binary' is not supported"},
        {HDR CONN "        username: !<tag:yaml.org,2002:str> u\n", 10, 19,
         "resources.c.properties.connection.username", "tag '!!str' is not supported"},
        {HDR CONN "        username: !<tag:example.com,2024:x> u\n", 10, 19,
         "resources.c.properties.connection.username",
         "tag '!<tag:example.com,2024:x>' is not supported"},
        {HDR CONN "        username: ! u\n", 10, 19, "resources.c.properties.connection.username",
         "the non-specific tag '!' is not supported"},
        {"metadata: !!map\n  name: T\nresources: {}\n", 1, 11, "metadata",
         "tag '!!map' is not supported"},
        {"metadata:\n  !!str name: T\nresources: {}\n", 2, 3, "metadata.name",
         "tag '!!str' is not supported"},
        {"definitions:\n  d: [a, !!int 1]\n" HDR, 2, 10, "definitions.d[1]",
         "tag '!!int' is not supported"},
        {"definitions:\n  d: !!seq [a]\n" HDR, 2, 6, "definitions.d",
         "tag '!!seq' is not supported"},
        {"!!map\nmetadata:\n  name: T\nresources: {}\n", 1, 1, "", "tag '!!map'"},
        /* a %TAG directive that makes ! global turns !ref into a tag mqgate does not know */
        {"%TAG ! tag:example.com,2024:\n---\nmetadata:\n  name: T\nresources:\n"
         "  c: !ref x\n",
         6, 6, "resources.c", "tag '!<tag:example.com,2024:ref>' is not supported"},
        /* a verbatim local tag is the local tag */
        {HDR CONN "        username: !<!ref> nothing\n", 10, 19,
         "resources.c.properties.connection.username", "unknown name 'nothing'"},
        {HDR CONN "        username: !<!GetAtt> x\n", 10, 19,
         "resources.c.properties.connection.username", "unknown tag '!GetAtt'"},
    };
    s_run_cases(cases, N_ELEMS(cases));
}

/* Load len bytes (which may hold NUL) as a file's text. */
static void s_load_bytes(struct load *l, const char *buf, size_t len)
{
    memset(l, 0, sizeof(*l));
    mqg_model_init(&l->m);
    l->rc = mqg_service_load_buffer(&l->m, "bytes.yml", buf, len, NULL, 0, NULL, &l->err);
}

/* UTF-16 and UTF-32 are refused (libyaml would decode UTF-16 after its byte order mark); a
 * UTF-8 byte order mark is fine. */
static void test_encodings(void **state)
{
    static const char text[] = "metadata:\n  name: T\nresources: {}\n";
    char buf[2 * sizeof(text) + 4];
    struct load l;
    for (int be = 0; be < 2; be++) {
        buf[0] = be ? '\xfe' : '\xff';
        buf[1] = be ? '\xff' : '\xfe';
        for (size_t i = 0; i + 1 < sizeof(text); i++) {
            buf[2 + 2 * i + (be ? 1 : 0)] = text[i];
            buf[2 + 2 * i + (be ? 0 : 1)] = '\0';
        }
        s_load_bytes(&l, buf, 2 * sizeof(text));
        s_assert_error(&l, 1, 1, "",
                       be ? "the byte order mark 0xfe 0xff); expected UTF-8 text"
                          : "the byte order mark 0xff 0xfe); expected UTF-8 text");
        s_free(&l);
    }
    memcpy(buf, "\x00\x00\xfe\xff", 4);
    s_load_bytes(&l, buf, 8);
    s_assert_error(&l, 1, 1, "", "UTF-32");
    s_free(&l);
    /* UTF-16 without a byte order mark: a NUL byte */
    s_load_bytes(&l, "m\0e\0", 4);
    s_assert_error(&l, 1, 2, "", "U+0000 (byte 0x00)");
    s_free(&l);
    memcpy(buf, "\xef\xbb\xbf", 3);
    memcpy(buf + 3, text, sizeof(text));
    s_load_bytes(&l, buf, 3 + sizeof(text) - 1);
    assert_int_equal(l.rc, 0);
    s_free(&l);
}

/* Collections nested deeper than 64 levels are refused while parsing, wherever they are
 * (100,000 levels of flow sequences took 45 s, of flow mappings 98 s, before). */
static void test_nesting_depth(void **state)
{
    static const char head[] = "metadata:\n  name: T\nresources: {}\ndefinitions:\n  d:";
    static const struct {
        const char *open;  /* one level */
        const char *inner; /* after the last one */
        char close;        /* closes one level, or '\0' */
        int line, col;     /* of the 63rd level */
        const char *setting;
    } kinds[] = {
        {"[", " ", ']', 5, 68, "definitions.d[0][0]"},
        {"{a: ", "1", '}', 5, 254, "definitions.d.a.a.a"},
        {"- ", "1", '\0', 6, 129, "definitions.d[0][0]"},
    };
    size_t levels = 100000;
    char *buf = malloc(sizeof(head) + 6 * levels + 8);
    assert_non_null(buf);
    for (size_t kind = 0; kind < N_ELEMS(kinds); kind++) {
        /* root and definitions are levels 1 and 2: 62 more are fine, 63 are not */
        size_t counts[] = {62, 63, levels};
        for (size_t k = 0; k < N_ELEMS(counts); k++) {
            size_t off = sizeof(head) - 1;
            memcpy(buf, head, off);
            off += (size_t)sprintf(buf + off, "%s", kinds[kind].close ? " " : "\n    ");
            for (size_t i = 0; i < counts[k]; i++) {
                off += (size_t)sprintf(buf + off, "%s", kinds[kind].open);
            }
            off += (size_t)sprintf(buf + off, "%s", kinds[kind].inner);
            for (size_t i = 0; kinds[kind].close && i < counts[k]; i++) {
                buf[off++] = kinds[kind].close;
            }
            buf[off++] = '\n';
            struct load l;
            s_load_bytes(&l, buf, off);
            bool refused =
                l.rc != 0 && l.err.line == kinds[kind].line && l.err.col == kinds[kind].col &&
                strstr(l.err.msg, "nested more than 64 levels deep; expected at "
                                  "most 64 levels") &&
                strncmp(l.err.setting, kinds[kind].setting, strlen(kinds[kind].setting)) == 0;
            if (k == 0 ? l.rc != 0 : !refused) {
                fail_msg("kind %zu, %zu levels: rc %d %d:%d %s: %s", kind, counts[k], l.rc,
                         l.err.line, l.err.col, l.err.setting, l.err.msg);
            }
            s_free(&l);
        }
    }
    free(buf);
}

/* ---- mqg_yaml ------------------------------------------------------------------------- */

static void test_yaml_wrapper(void **state)
{
    char path[] = "/tmp/mqg-test-yaml-XXXXXX.yml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    static const char text[] = "a: plain\n"
                               "b: 'quoted'\n"
                               "c: !ref name\n"
                               "d: [1, \"two\", ~]\n"
                               "e: {x: !sub 'v${y}'}\n"
                               "f:\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct mqg_yaml_doc *doc = NULL;
    struct mqg_error err;
    assert_int_equal(mqg_yaml_load(path, &doc, &err), 0);
    unlink(path);
    const struct mqg_yaml_node *root = mqg_yaml_root(doc);
    assert_int_equal(mqg_yaml_kind(root), MQG_YAML_MAPPING);
    assert_int_equal(mqg_yaml_map_size(root), 6);
    assert_int_equal(mqg_yaml_line(root), 1);
    assert_int_equal(mqg_yaml_col(root), 1);

    const struct mqg_yaml_node *key = NULL;
    const struct mqg_yaml_node *a = mqg_yaml_map_get(doc, root, "a", &key);
    assert_string_equal(mqg_yaml_scalar(a, NULL), "plain");
    assert_true(mqg_yaml_plain(a));
    assert_null(mqg_yaml_local_tag(a));
    assert_int_equal(mqg_yaml_col(a), 4);
    assert_int_equal(mqg_yaml_col(key), 1);
    const struct mqg_yaml_node *b = mqg_yaml_map_get(doc, root, "b", NULL);
    assert_false(mqg_yaml_plain(b));
    assert_int_equal(mqg_yaml_line(b), 2);
    const struct mqg_yaml_node *c = mqg_yaml_map_get(doc, root, "c", NULL);
    assert_string_equal(mqg_yaml_local_tag(c), "!ref");
    assert_string_equal(mqg_yaml_scalar(c, NULL), "name");
    const struct mqg_yaml_node *d = mqg_yaml_map_get(doc, root, "d", NULL);
    assert_int_equal(mqg_yaml_kind(d), MQG_YAML_SEQUENCE);
    assert_int_equal(mqg_yaml_seq_size(d), 3);
    assert_string_equal(mqg_yaml_scalar(mqg_yaml_seq_at(doc, d, 1), NULL), "two");
    assert_false(mqg_yaml_is_null(mqg_yaml_seq_at(doc, d, 1)));
    assert_true(mqg_yaml_is_null(mqg_yaml_seq_at(doc, d, 2)));
    assert_int_equal(mqg_yaml_col(mqg_yaml_seq_at(doc, d, 2)), 15);
    assert_null(mqg_yaml_seq_at(doc, d, 3));
    const struct mqg_yaml_node *e = mqg_yaml_map_get(doc, root, "e", NULL);
    const struct mqg_yaml_node *k = NULL;
    const struct mqg_yaml_node *v = NULL;
    assert_int_equal(mqg_yaml_map_at(doc, e, 0, &k, &v), 0);
    assert_string_equal(mqg_yaml_scalar(k, NULL), "x");
    assert_string_equal(mqg_yaml_local_tag(v), "!sub");
    assert_int_equal(mqg_yaml_map_at(doc, e, 1, &k, &v), -EINVAL);
    assert_true(mqg_yaml_is_null(mqg_yaml_map_get(doc, root, "f", NULL)));
    assert_null(mqg_yaml_map_get(doc, root, "g", &key));
    assert_null(key);
    assert_null(mqg_yaml_scalar(root, NULL));
    assert_int_equal(mqg_yaml_seq_size(root), 0);
    mqg_yaml_destroy(&doc);
    assert_null(doc);
    mqg_yaml_destroy(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_example),
        cmocka_unit_test(test_seed_example_without_params),
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_load_buffer),
        cmocka_unit_test(test_refs_subs_definitions),
        cmocka_unit_test(test_service_id_override),
        cmocka_unit_test(test_service_id_from_name),
        cmocka_unit_test(test_reference_errors),
        cmocka_unit_test(test_expansion_limits),
        cmocka_unit_test(test_parameter_checks),
        cmocka_unit_test(test_parameter_declaration_errors),
        cmocka_unit_test(test_unknown_param),
        cmocka_unit_test(test_connection_defaults),
        cmocka_unit_test(test_connection_all_settings),
        cmocka_unit_test(test_url_parsing),
        cmocka_unit_test(test_connection_errors),
        cmocka_unit_test(test_connection_settings_table),
        cmocka_unit_test(test_endpoint_both_or_neither),
        cmocka_unit_test(test_endpoint_write),
        cmocka_unit_test(test_endpoint_errors),
        cmocka_unit_test(test_resource_ref_via_parameter),
        cmocka_unit_test(test_bad_port_fixture),
        cmocka_unit_test(test_mapping_wildcards),
        cmocka_unit_test(test_mapping_errors),
        cmocka_unit_test(test_rules_fixture),
        cmocka_unit_test(test_skipped_resources),
        cmocka_unit_test(test_print_escapes),
        cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_nesting_depth),
        cmocka_unit_test(test_yaml_wrapper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
