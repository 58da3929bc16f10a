/* test_svc_props — unit tests of what real commissioning files carry beyond the MQTT basics:
 * the internal broker's built-ins (Cybus::MqttHost, MqttPort, MqttUser, MqttPassword), a
 * connection's agentName and connectionStrategy, a host with a port, targetState of endpoints
 * and mappings, a mapping's agentName and inputBuffering, subscribe labels, mapping entries
 * that name endpoints mqgate skips, and the notices of what is accepted and ignored.
 *
 * Files are given as text (loaded through mqg_service_load_buffer); errors assert line,
 * column, setting and message as in test_service.c.
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

#include "mqg_ibroker.h"
#include "mqg_model.h"
#include "mqg_service.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct load {
    struct mqg_model m;
    struct mqg_error err;
    int rc;
};

/* Load yaml (file name "t.yml"); with `broker`, the internal broker's connection is added
 * first (embedded on 127.0.0.1:11883, user mqgate / password pw), as mqgate run does. */
static void s_load(struct load *l, const char *yaml, bool broker)
{
    memset(l, 0, sizeof(*l));
    mqg_model_init(&l->m);
    if (broker) {
        struct mqg_ib_settings ib;
        char why[100];
        assert_int_equal(mqg_ibroker_defaults(&ib), 0);
        ib.username = strdup("mqgate");
        ib.password = strdup("pw");
        assert_int_equal(mqg_ibroker_add(&l->m, &ib, why, sizeof(why)), 0);
        mqg_ibroker_free(&ib);
    }
    l->rc = mqg_service_load_buffer(&l->m, "t.yml", yaml, strlen(yaml), NULL, 0, NULL, &l->err);
}

static void s_ok(struct load *l, const char *yaml, bool broker)
{
    s_load(l, yaml, broker);
    if (l->rc != 0) {
        print_error("failed: %s:%d:%d: %s: %s\n", l->err.file, l->err.line, l->err.col,
                    l->err.setting, l->err.msg);
    }
    assert_int_equal(l->rc, 0);
}

static void s_error(const char *yaml, int line, int col, const char *setting, const char *msg)
{
    struct load l;
    s_load(&l, yaml, true);
    if (l.rc == 0 || l.err.line != line || l.err.col != col ||
        strcmp(l.err.setting, setting) != 0 || !strstr(l.err.msg, msg)) {
        print_error("rc=%d want %d:%d %s '%s'\n got %d:%d %s '%s'\n", l.rc, line, col, setting, msg,
                    l.err.line, l.err.col, l.err.setting, l.err.msg);
        fail();
    }
    mqg_model_free(&l.m);
}

/* The connection of the file (the internal broker's is index 0 when added). */
static const struct mqg_connection *s_conn(const struct load *l, const char *key)
{
    int i = mqg_model_find_conn(&l->m, key);
    assert_true(i >= 0);
    return &l->m.conns[i];
}

static size_t s_notices_with(const struct load *l, const char *part)
{
    size_t n = 0;
    for (size_t i = 0; i < l->m.n_notices; i++) {
        n += strstr(l->m.notices[i], part) != NULL;
    }
    return n;
}

#define HDR "metadata:\n  name: T\nresources:\n"
#define CONN_START "  c:\n    type: Cybus::Connection\n    properties:\n      protocol: Mqtt\n"

/* The documentation's own example of !ref: a connection to the internal broker. */
static void test_builtins(void **state)
{
    (void)state;
    struct load l;
    s_ok(&l,
         HDR CONN_START "      connection:\n"
                        "        host: !ref Cybus::MqttHost\n"
                        "        port: !ref Cybus::MqttPort\n"
                        "        username: !ref Cybus::MqttUser\n"
                        "        password: !ref Cybus::MqttPassword\n"
                        "        clientId: !sub '${Cybus::MqttHost}:${Cybus::MqttPort}'\n",
         true);
    const struct mqg_connection *c = s_conn(&l, "t/c");
    assert_string_equal(c->host, "127.0.0.1");
    assert_int_equal(c->port, 11883);
    assert_string_equal(c->uri, "tcp://127.0.0.1:11883");
    assert_string_equal(c->username, "mqgate");
    assert_string_equal(c->password, "pw");
    assert_string_equal(c->client_id, "127.0.0.1:11883");
    assert_false(c->internal_broker); /* an ordinary connection that happens to go there */
    mqg_model_free(&l.m);

    /* MqttPort is an integer: quoted it is text, where a port is expected */
    s_error(HDR CONN_START "      connection:\n        host: h\n"
                           "        port: !sub '${Cybus::MqttPort}'\n",
            10, 15, "resources.c.properties.connection.port", "expected an integer");
}

/* agentName is accepted and ignored: one notice for the file however often it appears. */
static void test_agent_name(void **state)
{
    (void)state;
    struct load l;
    s_ok(&l,
         HDR CONN_START "      agentName: edge-7\n      connection: {host: h}\n"
                        "  d:\n    type: Cybus::Connection\n    properties:\n"
                        "      protocol: Mqtt\n      agentName: edge-8\n"
                        "      connection: {host: h2}\n",
         false);
    assert_int_equal(l.m.n_notices, 1);
    assert_string_equal(l.m.notices[0],
                        "t.yml:8:18: resources.c.properties.agentName: agentName is ignored: "
                        "everything runs in this gateway (2 places in this file, the first "
                        "shown)");
    mqg_model_free(&l.m);
    s_error(HDR CONN_START "      agentName: [a]\n      connection: {host: h}\n", 8, 18,
            "resources.c.properties.agentName", "expected text");
}

static void test_connection_strategy(void **state)
{
    (void)state;
    struct load l;
    s_ok(&l,
         HDR CONN_START "      connection:\n        host: h\n        reconnectPeriod: 100\n"
                        "        connectionStrategy:\n          initialDelay: 2000\n"
                        "          maxDelay: 60000\n          incrementFactor: 3\n",
         false);
    const struct mqg_connection *c = s_conn(&l, "t/c");
    assert_int_equal(c->reconnect_period_ms, 2000); /* replaces reconnectPeriod */
    assert_int_equal(c->reconnect_max_ms, 60000);
    assert_int_equal(c->reconnect_factor, 3);
    mqg_model_free(&l.m);

    /* the documented defaults: 1000, 30000, 2 */
    s_ok(&l, HDR CONN_START "      connection:\n        host: h\n        connectionStrategy: {}\n",
         false);
    c = s_conn(&l, "t/c");
    assert_int_equal(c->reconnect_period_ms, 1000);
    assert_int_equal(c->reconnect_max_ms, 30000);
    assert_int_equal(c->reconnect_factor, 2);
    mqg_model_free(&l.m);

    /* without it: reconnectPeriod and jitter, as before */
    s_ok(&l, HDR CONN_START "      connection:\n        host: h\n", false);
    c = s_conn(&l, "t/c");
    assert_int_equal(c->reconnect_period_ms, 1000);
    assert_int_equal(c->reconnect_max_ms, 0);
    assert_int_equal(c->reconnect_factor, 0);
    mqg_model_free(&l.m);

#define STRAT HDR CONN_START "      connection:\n        host: h\n        connectionStrategy:\n"
    s_error(STRAT "          initialDelay: 999\n", 11, 25,
            "resources.c.properties.connection.connectionStrategy.initialDelay",
            "999 is out of range; expected 1000..");
    s_error(STRAT "          incrementFactor: 1\n", 11, 28,
            "resources.c.properties.connection.connectionStrategy.incrementFactor",
            "1 is out of range; expected 2..1000");
    s_error(STRAT "          initialDelay: 5000\n          maxDelay: 5000\n", 12, 21,
            "resources.c.properties.connection.connectionStrategy.maxDelay",
            "maxDelay (5000) must be greater than initialDelay (5000)");
    s_error(STRAT "          initialDelay: 40000\n", 11, 25,
            "resources.c.properties.connection.connectionStrategy.initialDelay",
            "maxDelay (30000, the default) must be greater than initialDelay (40000)");
    s_error(STRAT "          retries: 3\n", 11, 11,
            "resources.c.properties.connection.connectionStrategy.retries",
            "unknown property 'retries'; expected one of: initialDelay, maxDelay, "
            "incrementFactor");
    s_error(HDR CONN_START "      connection:\n        host: h\n        connectionStrategy: 5\n",
            10, 29, "resources.c.properties.connection.connectionStrategy", "expected a mapping");
#undef STRAT
}

/* host: name:port would make a broken URI: refused, with what to write instead. IPv6
 * addresses (two or more ':') stay hosts. */
static void test_host_with_port(void **state)
{
    (void)state;
    s_error(HDR CONN_START "      connection:\n        host: broker.local:1884\n", 9, 15,
            "resources.c.properties.connection.host",
            "invalid host 'broker.local:1884': a host with a port; expected the host alone "
            "(port: 1884), or a url such as mqtt://broker.local:1884");
    struct load l;
    s_ok(&l, HDR CONN_START "      connection:\n        host: 'fe80::1'\n        port: 1884\n",
         false);
    assert_string_equal(s_conn(&l, "t/c")->uri, "tcp://[fe80::1]:1884");
    mqg_model_free(&l.m);
}

#define EP_START                                                                                   \
    HDR CONN_START "      connection: {host: h}\n"                                                 \
                   "  e:\n    type: Cybus::Endpoint\n    properties:\n      protocol: Mqtt\n"      \
                   "      connection: !ref c\n"

/* A disabled endpoint: checked, kept (mappings may name it), without a route of its own. */
static void test_endpoint_target_state(void **state)
{
    (void)state;
    struct load l;
    s_ok(&l,
         EP_START "      targetState: disabled\n      subscribe: {topic: a/b}\n"
                  "  m:\n    type: Cybus::Mapping\n    properties:\n      mappings:\n"
                  "        - subscribe: {endpoint: !ref e}\n          publish: {topic: x}\n",
         false);
    assert_int_equal(l.m.n_endpoints, 1);
    assert_true(l.m.endpoints[0].disabled);
    assert_int_equal(l.m.n_routes, 1); /* the mapping's only */
    assert_string_equal(l.m.routes[0].name, "mapping m[0]");
    assert_string_equal(l.m.routes[0].sources[0].filter, "services/t/e");
    mqg_model_free(&l.m);
    s_ok(&l, EP_START "      targetState: enabled\n      subscribe: {topic: a/b}\n", false);
    assert_false(l.m.endpoints[0].disabled);
    assert_int_equal(l.m.n_routes, 1);
    mqg_model_free(&l.m);
    s_error(EP_START "      targetState: connected\n      subscribe: {topic: a/b}\n", 14, 20,
            "resources.e.properties.targetState",
            "unknown targetState 'connected' of an endpoint; expected enabled or disabled");
}

#define MAP_START                                                                                  \
    HDR CONN_START "      connection: {host: h}\n"                                                 \
                   "  m:\n    type: Cybus::Mapping\n    properties:\n"

/* A mapping: targetState, agentName and inputBuffering; labels kept per subscribe. */
static void test_mapping_properties(void **state)
{
    (void)state;
    struct load l;
    s_ok(&l,
         MAP_START "      agentName: edge\n      inputBuffering:\n        enabled: true\n"
                   "        maxInputBufferSize: 5000\n"
                   "      mappings:\n"
                   "        - subscribe:\n"
                   "            - {topic: 'a/+line', label: 'line_{line}'}\n"
                   "            - {topic: b, label: plain}\n"
                   "            - {topic: c}\n"
                   "          publish: {topic: out}\n",
         false);
    assert_int_equal(l.m.n_routes, 1);
    const struct mqg_route *r = &l.m.routes[0];
    assert_string_equal(r->sources[0].label, "line_{line}");
    assert_string_equal(r->sources[1].label, "plain");
    assert_null(r->sources[2].label);
    assert_int_equal(l.m.n_notices, 2);
    assert_int_equal(s_notices_with(&l, "resources.m.properties.agentName: agentName is ignored"),
                     1);
    assert_int_equal(s_notices_with(&l, "t.yml:14:9: resources.m.properties.inputBuffering: "
                                        "inputBuffering is ignored"),
                     1);
    mqg_model_free(&l.m);

    /* disabled: every entry checked, no route */
    s_ok(&l,
         MAP_START "      targetState: disabled\n      mappings:\n"
                   "        - subscribe: {topic: a}\n          publish: {topic: b}\n"
                   "        - subscribe: {topic: c}\n          publish: {topic: d}\n",
         false);
    assert_int_equal(l.m.n_routes, 0);
    assert_int_equal(s_notices_with(&l, "mapping 'm' has targetState disabled: no routes (2 "
                                        "entries checked)"),
                     1);
    mqg_model_free(&l.m);
    s_error(MAP_START "      targetState: disabled\n      mappings:\n"
                      "        - subscribe: {topic: 'a/#x/b'}\n          publish: {topic: b}\n",
            14, 30, "resources.m.properties.mappings[0].subscribe.topic", "not a valid topic");
    s_error(MAP_START "      targetState: off\n      mappings: []\n", 12, 20,
            "resources.m.properties.targetState", "expected enabled or disabled");
    s_error(MAP_START "      inputBuffering: true\n      mappings: []\n", 12, 23,
            "resources.m.properties.inputBuffering", "expected a mapping");
    s_error(MAP_START "      mappings:\n        - subscribe: {topic: a, label: [x]}\n"
                      "          publish: {topic: b}\n",
            13, 40, "resources.m.properties.mappings[0].subscribe.label", "expected a string");
}

/* Mapping entries that read from or write to endpoints of other protocols are left out (with
 * a notice each), as those endpoints are; what remains is routed. */
static void test_mapping_skipped_endpoints(void **state)
{
    (void)state;
    struct load l;
    s_ok(&l,
         HDR CONN_START "      connection: {host: h}\n"
                        "  plc:\n    type: Cybus::Connection\n    properties:\n"
                        "      protocol: Modbus\n      connection: {host: p}\n"
                        "  reg:\n    type: Cybus::Endpoint\n    properties:\n"
                        "      protocol: Modbus\n      connection: !ref plc\n"
                        "      subscribe: {address: 1}\n"
                        "  m:\n    type: Cybus::Mapping\n    properties:\n      mappings:\n"
                        "        - subscribe: {endpoint: !ref reg}\n"
                        "          publish: {topic: 'plc/{x}'}\n"
                        "        - subscribe: [{endpoint: !ref reg}, {topic: 'a/+x'}]\n"
                        "          publish: {topic: 'out/{x}'}\n"
                        "        - subscribe: {topic: in}\n"
                        "          publish: {endpoint: !ref reg}\n",
         false);
    assert_int_equal(l.m.n_routes, 1);
    const struct mqg_route *r = &l.m.routes[0];
    assert_string_equal(r->name, "mapping m[1]");
    assert_int_equal(r->n_sources, 1);
    assert_string_equal(r->sources[0].filter, "a/+x");
    assert_string_equal(r->target.topic, "out/{x}");
    assert_int_equal(l.m.n_skipped, 2);
    assert_int_equal(s_notices_with(&l, "'reg' is a Cybus::Endpoint (protocol Modbus), which "
                                        "mqgate skips"),
                     3);
    assert_int_equal(s_notices_with(&l, "t.yml:24:23: resources.m.properties.mappings[0]."
                                        "subscribe.endpoint"),
                     1);
    assert_int_equal(s_notices_with(&l, "the mapping entry is left out"), 1);
    mqg_model_free(&l.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_agent_name),
        cmocka_unit_test(test_connection_strategy),
        cmocka_unit_test(test_host_with_port),
        cmocka_unit_test(test_endpoint_target_state),
        cmocka_unit_test(test_mapping_properties),
        cmocka_unit_test(test_mapping_skipped_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
