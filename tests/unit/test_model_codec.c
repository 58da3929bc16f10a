/* test_model_codec — unit tests of mqg_model_encode / mqg_model_decode.
 *
 * Round trips (rich model, NULL vs "", empty model, elements with every string NULL), and
 * hostile input: every truncation, trailing bytes, bad magic/version/counts/indices, and a few
 * thousand random corruptions, which must never crash and, when accepted, re-encode to the
 * same bytes. Run under valgrind for leaks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_model.h"

/* ---- building models ---- */

static char *s_dup(const char *s)
{
    if (!s) {
        return NULL;
    }
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

static void *s_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    assert_non_null(p);
    return p;
}

/* Every field differs from its zero/default value. */
static void s_build_rich(struct mqg_model *m)
{
    mqg_model_init(m);
    m->n_services = 2;
    m->services = s_calloc(2, sizeof(*m->services));
    m->services[0] = (struct mqg_service_info){s_dup("bridge"), s_dup("Bridge"),
                                               s_dup("/etc/mqgate/bridge.yml")};
    m->services[1] =
        (struct mqg_service_info){s_dup("cloud"), s_dup("Cloud ünïcode ✓"), s_dup("cloud.yml")};

    m->n_conns = 2;
    m->conns = s_calloc(2, sizeof(*m->conns));
    struct mqg_connection *c = &m->conns[0];
    c->service_id = s_dup("bridge");
    c->id = s_dup("plantBroker");
    c->key = s_dup("bridge/plantBroker");
    c->host = s_dup("10.0.0.5");
    c->port = 8883;
    c->scheme = MQG_SCHEME_MQTTS;
    c->uri = s_dup("ssl://10.0.0.5:8883");
    c->username = s_dup("plant");
    c->password = s_dup("s3cr3t");
    c->client_id = s_dup("mqgate-plant");
    c->clean = false;
    c->keepalive_s = 17;
    c->connect_timeout_ms = 12345;
    c->reconnect_period_ms = 2500;
    c->reconnect_max_ms = 40000;
    c->reconnect_factor = 3;
    c->protocol_version = 5;
    c->target_connected = false;
    c->trust_all = true;
    c->mutual_auth = true;
    c->ca_cert = s_dup("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    c->client_cert = s_dup("/etc/ssl/client.pem");
    c->client_key = s_dup("/etc/ssl/client.key");
    c->will = (struct mqg_will){true, s_dup("plant/status"), s_dup("offline"), 2, true};
    c->buffer_window_ms = 30000;
    c->max_buffered = 300000;

    c = &m->conns[1];
    c->service_id = s_dup("cloud");
    c->id = s_dup("cloudBroker");
    c->key = s_dup("cloud/cloudBroker");
    c->host = s_dup("cloud.example.com");
    c->port = -1; /* ints travel as they are, negative included */
    c->scheme = MQG_SCHEME_WSS;
    c->uri = s_dup("wss://cloud.example.com:443/mqtt");
    c->client_id = s_dup("x");
    c->clean = true;
    c->keepalive_s = INT32_MAX;
    c->connect_timeout_ms = INT32_MIN;
    c->protocol_version = 3;
    c->target_connected = true;
    c->will.qos = 1;
    c->internal_broker = true;

    m->n_endpoints = 3;
    m->endpoints = s_calloc(3, sizeof(*m->endpoints));
    m->endpoints[0] = (struct mqg_endpoint){s_dup("bridge"),
                                            s_dup("temperature"),
                                            0,
                                            MQG_EP_SUBSCRIBE,
                                            s_dup("plant/+/temp"),
                                            1,
                                            false,
                                            s_dup("services/bridge/temperature"),
                                            false};
    m->endpoints[1] = (struct mqg_endpoint){s_dup("bridge"),
                                            s_dup("command"),
                                            1,
                                            MQG_EP_WRITE,
                                            s_dup("cloud/cmd"),
                                            2,
                                            true,
                                            s_dup("services/bridge/command"),
                                            true};
    m->endpoints[2] = (struct mqg_endpoint){s_dup("cloud"),
                                            s_dup("all"),
                                            1,
                                            MQG_EP_SUBSCRIBE,
                                            s_dup("#"),
                                            0,
                                            false,
                                            s_dup("services/cloud/all"),
                                            false};

    m->n_routes = 3;
    m->routes = s_calloc(3, sizeof(*m->routes));
    struct mqg_route *r = &m->routes[0];
    r->name = s_dup("endpoint temperature");
    r->n_sources = 1;
    r->sources = s_calloc(1, sizeof(*r->sources));
    r->sources[0] = (struct mqg_source){0, s_dup("plant/+/temp"), 1, NULL};
    r->target = (struct mqg_target){MQG_INTERNAL, s_dup("services/bridge/temperature"), 1, false};
    r = &m->routes[1];
    r->name = s_dup("mapping m1[0]");
    r->n_sources = 3;
    r->sources = s_calloc(3, sizeof(*r->sources));
    r->sources[0] = (struct mqg_source){MQG_INTERNAL, s_dup("services/bridge/+machine"), 0,
                                        s_dup("m_{machine}")};
    r->sources[1] = (struct mqg_source){1, s_dup("site/#rest"), 2, s_dup("")};
    r->sources[2] = (struct mqg_source){0, s_dup(""), 1, NULL};
    r->target = (struct mqg_target){1, s_dup("out/{machine}/$rest"), 2, true};
    r = &m->routes[2];
    r->name = s_dup("no sources");
    r->target = (struct mqg_target){0, s_dup("t"), 0, true};

    m->n_skipped = 2;
    m->skipped = s_calloc(2, sizeof(*m->skipped));
    m->skipped[0] = (struct mqg_skipped){s_dup("bridge"), s_dup("box"), s_dup("Cybus::Container")};
    m->skipped[1] = (struct mqg_skipped){s_dup("cloud"), s_dup("v"), s_dup("Cybus::Volume")};
}

/* ---- comparing models ---- */

static void s_str_eq(const char *a, const char *b)
{
    if (!a || !b) {
        assert_ptr_equal(a, b); /* NULL only equals NULL, never "" */
        return;
    }
    assert_string_equal(a, b);
}

static void s_conn_eq(const struct mqg_connection *a, const struct mqg_connection *b)
{
    s_str_eq(a->service_id, b->service_id);
    s_str_eq(a->id, b->id);
    s_str_eq(a->key, b->key);
    s_str_eq(a->host, b->host);
    assert_int_equal(a->port, b->port);
    assert_int_equal(a->scheme, b->scheme);
    s_str_eq(a->uri, b->uri);
    s_str_eq(a->username, b->username);
    s_str_eq(a->password, b->password);
    s_str_eq(a->client_id, b->client_id);
    assert_int_equal(a->clean, b->clean);
    assert_int_equal(a->keepalive_s, b->keepalive_s);
    assert_int_equal(a->connect_timeout_ms, b->connect_timeout_ms);
    assert_int_equal(a->reconnect_period_ms, b->reconnect_period_ms);
    assert_int_equal(a->reconnect_max_ms, b->reconnect_max_ms);
    assert_int_equal(a->reconnect_factor, b->reconnect_factor);
    assert_int_equal(a->internal_broker, b->internal_broker);
    assert_int_equal(a->protocol_version, b->protocol_version);
    assert_int_equal(a->target_connected, b->target_connected);
    assert_int_equal(a->trust_all, b->trust_all);
    assert_int_equal(a->mutual_auth, b->mutual_auth);
    s_str_eq(a->ca_cert, b->ca_cert);
    s_str_eq(a->client_cert, b->client_cert);
    s_str_eq(a->client_key, b->client_key);
    assert_int_equal(a->will.set, b->will.set);
    s_str_eq(a->will.topic, b->will.topic);
    s_str_eq(a->will.payload, b->will.payload);
    assert_int_equal(a->will.qos, b->will.qos);
    assert_int_equal(a->will.retain, b->will.retain);
    assert_int_equal(a->buffer_window_ms, b->buffer_window_ms);
    assert_int_equal(a->max_buffered, b->max_buffered);
}

static void s_model_eq(const struct mqg_model *a, const struct mqg_model *b)
{
    assert_int_equal(a->n_services, b->n_services);
    for (size_t i = 0; i < a->n_services; i++) {
        s_str_eq(a->services[i].service_id, b->services[i].service_id);
        s_str_eq(a->services[i].name, b->services[i].name);
        s_str_eq(a->services[i].file, b->services[i].file);
    }
    assert_int_equal(a->n_conns, b->n_conns);
    for (size_t i = 0; i < a->n_conns; i++) {
        s_conn_eq(&a->conns[i], &b->conns[i]);
    }
    assert_int_equal(a->n_endpoints, b->n_endpoints);
    for (size_t i = 0; i < a->n_endpoints; i++) {
        const struct mqg_endpoint *x = &a->endpoints[i];
        const struct mqg_endpoint *y = &b->endpoints[i];
        s_str_eq(x->service_id, y->service_id);
        s_str_eq(x->id, y->id);
        assert_int_equal(x->conn, y->conn);
        assert_int_equal(x->kind, y->kind);
        s_str_eq(x->topic, y->topic);
        assert_int_equal(x->qos, y->qos);
        assert_int_equal(x->retain, y->retain);
        s_str_eq(x->data_topic, y->data_topic);
        assert_int_equal(x->disabled, y->disabled);
    }
    assert_int_equal(a->n_routes, b->n_routes);
    for (size_t i = 0; i < a->n_routes; i++) {
        const struct mqg_route *x = &a->routes[i];
        const struct mqg_route *y = &b->routes[i];
        s_str_eq(x->name, y->name);
        assert_int_equal(x->n_sources, y->n_sources);
        for (size_t j = 0; j < x->n_sources; j++) {
            assert_int_equal(x->sources[j].conn, y->sources[j].conn);
            s_str_eq(x->sources[j].filter, y->sources[j].filter);
            assert_int_equal(x->sources[j].qos, y->sources[j].qos);
            s_str_eq(x->sources[j].label, y->sources[j].label);
        }
        assert_int_equal(x->target.conn, y->target.conn);
        s_str_eq(x->target.topic, y->target.topic);
        assert_int_equal(x->target.qos, y->target.qos);
        assert_int_equal(x->target.retain, y->target.retain);
    }
    assert_int_equal(a->n_skipped, b->n_skipped);
    for (size_t i = 0; i < a->n_skipped; i++) {
        s_str_eq(a->skipped[i].service_id, b->skipped[i].service_id);
        s_str_eq(a->skipped[i].id, b->skipped[i].id);
        s_str_eq(a->skipped[i].type, b->skipped[i].type);
    }
}

static void s_assert_empty(const struct mqg_model *m)
{
    struct mqg_model zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(m, &zero, sizeof(zero));
}

/* Encode, decode, compare, and check that re-encoding gives the same bytes. */
static void s_round_trip(const struct mqg_model *m)
{
    uint8_t *buf;
    uint8_t *buf2;
    size_t len;
    size_t len2;
    struct mqg_model d;
    assert_int_equal(mqg_model_encode(m, &buf, &len), 0);
    assert_int_equal(mqg_model_decode(buf, len, &d), 0);
    s_model_eq(m, &d);
    assert_int_equal(mqg_model_encode(&d, &buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    mqg_model_free(&d);
    free(buf);
    free(buf2);
}

/* ---- tests: round trips ---- */

static void test_round_trip_rich(void **state)
{
    struct mqg_model m;
    s_build_rich(&m);
    s_round_trip(&m);
    mqg_model_free(&m);
}

/* Each child gets only its own connection's secrets; everything else is unchanged. */
static void test_encode_for_keeps_only_one_connections_secrets(void **state)
{
    (void)state;
    struct mqg_model m, d;
    s_build_rich(&m);
    free(m.conns[1].password);
    m.conns[1].password = s_dup("cloudpw");
    for (int keep = -1; keep <= 1; keep++) {
        uint8_t *buf;
        size_t len;
        assert_int_equal(mqg_model_encode_for(&m, keep, &buf, &len), 0);
        assert_null(memmem(buf, len, keep == 0 ? "cloudpw" : "s3cr3t", 6));
        assert_int_equal(mqg_model_decode(buf, len, &d), 0);
        free(buf);
        for (int i = 0; i < 2; i++) {
            if (i == keep) {
                assert_string_equal(d.conns[i].password, m.conns[i].password);
                s_str_eq(d.conns[i].client_key, m.conns[i].client_key);
            } else {
                assert_null(d.conns[i].password);
                assert_null(d.conns[i].client_key);
            }
            s_str_eq(d.conns[i].username, m.conns[i].username);
            s_str_eq(d.conns[i].client_cert, m.conns[i].client_cert);
        }
        assert_int_equal(d.n_routes, m.n_routes);
        mqg_model_free(&d);
    }
    mqg_model_free(&m);
}

static void test_empty_model(void **state)
{
    struct mqg_model m;
    struct mqg_model d;
    uint8_t *buf;
    size_t len;
    mqg_model_init(&m);
    assert_int_equal(mqg_model_encode(&m, &buf, &len), 0);
    assert_int_equal(len, 4 + 1 + 5 * 4); /* magic, version, five zero counts */
    assert_memory_equal(buf, "MQGM\x02", 5);
    assert_int_equal(mqg_model_decode(buf, len, &d), 0);
    s_assert_empty(&d);
    free(buf);
}

static void test_null_vs_empty_strings(void **state)
{
    struct mqg_model m;
    struct mqg_model d;
    uint8_t *buf;
    size_t len;
    mqg_model_init(&m);
    m.n_conns = 2;
    m.conns = s_calloc(2, sizeof(*m.conns));
    m.conns[0].username = s_dup("");
    m.conns[0].password = NULL;
    m.conns[0].client_id = s_dup("");
    m.conns[1].username = NULL;
    m.conns[1].password = s_dup("");
    m.n_services = 1;
    m.services = s_calloc(1, sizeof(*m.services));
    m.services[0].name = s_dup("");

    assert_int_equal(mqg_model_encode(&m, &buf, &len), 0);
    assert_int_equal(mqg_model_decode(buf, len, &d), 0);
    s_model_eq(&m, &d);
    assert_non_null(d.conns[0].username);
    assert_string_equal(d.conns[0].username, "");
    assert_null(d.conns[0].password);
    assert_null(d.conns[1].username);
    assert_non_null(d.conns[1].password);
    assert_string_equal(d.conns[1].password, "");
    assert_null(d.services[0].service_id);
    assert_string_equal(d.services[0].name, "");
    mqg_model_free(&d);
    mqg_model_free(&m);
    free(buf);
}

/* Elements at their smallest encoding (all strings NULL, no sources): counts near the end of
 * the buffer must still be accepted. */
static void test_minimal_elements(void **state)
{
    struct mqg_model m;
    mqg_model_init(&m);
    m.n_services = 3;
    m.services = s_calloc(3, sizeof(*m.services));
    m.n_conns = 3;
    m.conns = s_calloc(3, sizeof(*m.conns));
    m.n_endpoints = 3;
    m.endpoints = s_calloc(3, sizeof(*m.endpoints));
    for (size_t i = 0; i < 3; i++) {
        m.endpoints[i].kind = MQG_EP_WRITE;
    }
    m.n_routes = 3;
    m.routes = s_calloc(3, sizeof(*m.routes));
    m.routes[2].n_sources = 2;
    m.routes[2].sources = s_calloc(2, sizeof(*m.routes[2].sources));
    m.n_skipped = 3;
    m.skipped = s_calloc(3, sizeof(*m.skipped));
    s_round_trip(&m);
    mqg_model_free(&m);
}

/* ---- tests: hostile input ---- */

static void test_truncation(void **state)
{
    struct mqg_model m;
    struct mqg_model d;
    uint8_t *buf;
    size_t len;
    s_build_rich(&m);
    assert_int_equal(mqg_model_encode(&m, &buf, &len), 0);
    for (size_t n = 0; n < len; n++) {
        /* a copy of exactly n bytes, so valgrind/ASan see any read past the end */
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, buf, n);
        memset(&d, 0xa5, sizeof(d));
        assert_int_equal(mqg_model_decode(cut, n, &d), -EPROTO);
        s_assert_empty(&d);
        free(cut);
    }
    assert_int_equal(mqg_model_decode(NULL, 0, &d), -EPROTO);
    s_assert_empty(&d);
    free(buf);
    mqg_model_free(&m);
}

static void test_trailing_and_header(void **state)
{
    struct mqg_model m;
    struct mqg_model d;
    uint8_t *buf;
    size_t len;
    s_build_rich(&m);
    assert_int_equal(mqg_model_encode(&m, &buf, &len), 0);
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_int_equal(mqg_model_decode(longer, len + 1, &d), -EPROTO);
    s_assert_empty(&d);
    free(longer);

    buf[0] = 'X';
    assert_int_equal(mqg_model_decode(buf, len, &d), -EPROTO);
    buf[0] = 'M';
    buf[4] = 1; /* an older version */
    assert_int_equal(mqg_model_decode(buf, len, &d), -EPROTO);
    buf[4] = 2;
    assert_int_equal(mqg_model_decode(buf, len, &d), 0);
    mqg_model_free(&d);
    free(buf);
    mqg_model_free(&m);
}

/* Hand-made buffers: huge counts, NUL inside a string, bool not 0/1. */
static void test_crafted(void **state)
{
    struct mqg_model d;
    /* services count 0xffffffff: rejected before allocating */
    static const uint8_t huge[] = {'M', 'Q', 'G', 'M', 2, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(mqg_model_decode(huge, sizeof(huge), &d), -EPROTO);
    s_assert_empty(&d);

    /* one service whose id is "a\0b" */
    static const uint8_t nul[] = {
        'M',  'Q',  'G',  'M',  2, 1, 0, 0, 0, 3, 0, 0, 0, 'a', 0, 'b', 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   0, 0,   0,    0,    0,    0};
    assert_int_equal(mqg_model_decode(nul, sizeof(nul), &d), -EPROTO);
    s_assert_empty(&d);

    /* the same with "a.b" is fine */
    uint8_t ok[sizeof(nul)];
    memcpy(ok, nul, sizeof(ok));
    ok[14] = '.';
    assert_int_equal(mqg_model_decode(ok, sizeof(ok), &d), 0);
    assert_int_equal(d.n_services, 1);
    assert_string_equal(d.services[0].service_id, "a.b");
    assert_null(d.services[0].name);
    mqg_model_free(&d);

    /* a string length past the end */
    static const uint8_t past[] = {'M', 'Q', 'G', 'M', 2, 1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff};
    assert_int_equal(mqg_model_decode(past, sizeof(past), &d), -EPROTO);
    s_assert_empty(&d);
}

/* Decode validates what children index with: enums, QoS, connection indices; encode refuses
 * a model that decode would reject. */
static void test_invalid_values(void **state)
{
    struct mqg_model m;
    struct mqg_model d;
    uint8_t *buf;
    size_t len;

    s_build_rich(&m);
    m.routes[0].target.conn = 2; /* only 2 connections */
    assert_int_equal(mqg_model_encode(&m, &buf, &len), -EINVAL);
    assert_null(buf);
    m.routes[0].target.conn = MQG_INTERNAL;
    m.endpoints[0].conn = MQG_INTERNAL; /* endpoints live on a broker */
    assert_int_equal(mqg_model_encode(&m, &buf, &len), -EINVAL);
    m.endpoints[0].conn = 0;
    m.endpoints[0].kind = 0;
    assert_int_equal(mqg_model_encode(&m, &buf, &len), -EINVAL);
    m.endpoints[0].kind = MQG_EP_SUBSCRIBE;
    m.conns[1].scheme = (enum mqg_scheme)4;
    assert_int_equal(mqg_model_encode(&m, &buf, &len), -EINVAL);
    m.conns[1].scheme = MQG_SCHEME_WS;
    m.routes[1].sources[1].qos = 3;
    assert_int_equal(mqg_model_encode(&m, &buf, &len), -EINVAL);
    m.routes[1].sources[1].qos = 0;
    m.conns[0].internal_broker = true; /* two internal brokers */
    assert_int_equal(mqg_model_encode(&m, &buf, &len), -EINVAL);
    m.conns[0].internal_broker = false;
    assert_int_equal(mqg_model_encode(&m, &buf, &len), 0);
    free(buf);
    mqg_model_free(&m);

    /* patch the last route's target connection in an encoded buffer: index 1 of 1 */
    mqg_model_init(&m);
    m.n_conns = 1;
    m.conns = s_calloc(1, sizeof(*m.conns));
    m.n_routes = 1;
    m.routes = s_calloc(1, sizeof(*m.routes));
    m.routes[0].target = (struct mqg_target){0, s_dup("tt"), 1, false};
    assert_int_equal(mqg_model_encode(&m, &buf, &len), 0);
    /* ... target.conn(4) topic(4+2) qos(4) retain(1) n_rules(4) rid(4) n_skipped(4) */
    size_t off = len - 4 - 4 - 4 - 1 - 4 - (4 + 2) - 4;
    assert_int_equal(buf[off], 0);
    buf[off] = 1;
    assert_int_equal(mqg_model_decode(buf, len, &d), -EPROTO);
    s_assert_empty(&d);
    buf[off] = 0xff; /* with the next three bytes still 0: 255, not MQG_INTERNAL */
    assert_int_equal(mqg_model_decode(buf, len, &d), -EPROTO);
    memset(buf + off, 0xff, 4); /* -1 = MQG_INTERNAL */
    assert_int_equal(mqg_model_decode(buf, len, &d), 0);
    assert_int_equal(d.routes[0].target.conn, MQG_INTERNAL);
    mqg_model_free(&d);
    /* retain byte 2 is not a bool (after it: n_rules, rid, n_skipped) */
    buf[len - 13] = 2;
    assert_int_equal(mqg_model_decode(buf, len, &d), -EPROTO);
    s_assert_empty(&d);
    free(buf);
    mqg_model_free(&m);
}

/* Rules and the rules process's connection travel whole; a route with rules needs its rid. */
static void test_rules_roundtrip(void **state)
{
    struct mqg_model m, d;
    uint8_t *buf;
    size_t len;
    s_build_rich(&m);
    struct mqg_route *rt = &m.routes[0];
    rt->n_rules = 3;
    rt->rules = s_calloc(3, sizeof(*rt->rules));
    rt->rules[0] = (struct mqg_rule){
        .kind = MQG_RULE_TRANSFORM, .where = s_dup("a.yml:3:7"), .text = s_dup("{\"v\": $.value}")};
    rt->rules[1] = (struct mqg_rule){
        .kind = MQG_RULE_COV, .text = s_dup("value"), .cov_mode = 2, .deadband = 0.25};
    rt->rules[2] = (struct mqg_rule){.kind = MQG_RULE_SET_CONTEXT_VARS, .n_vars = 1};
    rt->rules[2].vars = s_calloc(1, sizeof(*rt->rules[2].vars));
    rt->rules[2].vars[0] =
        (struct mqg_rule_var){s_dup("prio"), s_dup("$.p > 1 ? \"high\" : \"low\""), NULL};
    assert_int_equal(mqg_model_encode(&m, &buf, &len), -EINVAL); /* no rid */
    assert_int_equal(mqg_model_rules_engine(&m, 700), 0);
    assert_non_null(rt->rid);
    assert_int_equal(strlen(rt->rid), 16);
    int k = mqg_model_rules_conn(&m);
    assert_int_equal(k, 2);
    assert_string_equal(m.conns[k].key, MQG_RULES_KEY);
    assert_int_equal(mqg_model_encode(&m, &buf, &len), 0);
    assert_int_equal(mqg_model_decode(buf, len, &d), 0);
    assert_int_equal(mqg_model_rules_conn(&d), 2);
    assert_int_equal(d.conns[2].rules_time_limit_ms, 700);
    assert_int_equal(d.routes[0].n_rules, 3);
    assert_string_equal(d.routes[0].rid, rt->rid);
    assert_int_equal(d.routes[0].rules[0].kind, MQG_RULE_TRANSFORM);
    assert_string_equal(d.routes[0].rules[0].where, "a.yml:3:7");
    assert_string_equal(d.routes[0].rules[0].text, "{\"v\": $.value}");
    assert_int_equal(d.routes[0].rules[1].cov_mode, 2);
    assert_true(d.routes[0].rules[1].deadband == 0.25);
    assert_null(d.routes[0].rules[1].where);
    assert_string_equal(d.routes[0].rules[2].vars[0].name, "prio");
    assert_int_equal(d.routes[1].n_rules, 0);
    assert_null(d.routes[1].rid);
    mqg_model_free(&d);
    /* the same rules give the same rid; another expression another */
    char rid[17];
    memcpy(rid, rt->rid, sizeof(rid));
    assert_int_equal(mqg_model_rules_engine(&m, 700), 0);
    assert_string_equal(rt->rid, rid);
    assert_int_equal(m.n_conns, 3); /* not added twice */
    free(rt->rules[0].text);
    rt->rules[0].text = s_dup("$");
    assert_int_equal(mqg_model_rules_engine(&m, 700), 0);
    assert_string_not_equal(rt->rid, rid);
    /* a rule kind out of range is refused */
    rt->rules[0].kind = (enum mqg_rule_kind)(MQG_RULE_KIND_MAX + 1);
    free(buf);
    assert_int_equal(mqg_model_encode(&m, &buf, &len), -EINVAL);
    mqg_model_free(&m);
}

/* xorshift64*: local state, reproducible. */
static uint64_t s_rand(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * 0x2545F4914F6CDD1DULL;
}

static void test_random_corruption(void **state)
{
    struct mqg_model m;
    struct mqg_model d;
    uint8_t *buf;
    size_t len;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int accepted = 0;
    s_build_rich(&m);
    assert_int_equal(mqg_model_encode(&m, &buf, &len), 0);
    uint8_t *mut = malloc(len);
    assert_non_null(mut);
    for (int iter = 0; iter < 5000; iter++) {
        memcpy(mut, buf, len);
        int flips = 1 + (int)(s_rand(&rng) % 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = (size_t)(s_rand(&rng) % len);
            if (s_rand(&rng) & 1) {
                mut[pos] ^= (uint8_t)(1u << (s_rand(&rng) % 8));
            } else {
                mut[pos] = (uint8_t)s_rand(&rng);
            }
        }
        size_t n = len;
        if (iter % 5 == 0) {
            n = (size_t)(s_rand(&rng) % len); /* corrupted and truncated */
        }
        int rc = mqg_model_decode(mut, n, &d);
        if (rc == 0) {
            /* accepted input is canonical: it re-encodes to the same bytes */
            uint8_t *again;
            size_t again_len;
            accepted++;
            assert_int_equal(mqg_model_encode(&d, &again, &again_len), 0);
            assert_int_equal(again_len, n);
            assert_memory_equal(again, mut, n);
            free(again);
            mqg_model_free(&d);
        } else {
            assert_int_equal(rc, -EPROTO);
            s_assert_empty(&d);
        }
    }
    /* flips inside string bytes or ints are accepted: make sure both paths ran */
    assert_true(accepted > 0);
    free(mut);
    free(buf);
    mqg_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_rich),
        cmocka_unit_test(test_empty_model),
        cmocka_unit_test(test_encode_for_keeps_only_one_connections_secrets),
        cmocka_unit_test(test_null_vs_empty_strings),
        cmocka_unit_test(test_minimal_elements),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_trailing_and_header),
        cmocka_unit_test(test_crafted),
        cmocka_unit_test(test_invalid_values),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_rules_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
