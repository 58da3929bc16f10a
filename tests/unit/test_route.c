/* test_route — unit tests of mqg_route: building the tables from a model, and dispatch.
 *
 * Models are built in memory (connections c0, c1, c2 and hand-written routes); every copy
 * handed to the sink is recorded with its connection, topic, QoS, flags and payload, and every
 * loop and render failure with what the sink was told. Covers: one copy per route however many
 * sources match, one per route when several routes match, namespaces, named wildcards, internal
 * chains, the depth bound, shared subscriptions, $ topics, the counters, the internal broker,
 * build errors.
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

#include "mqg_route.h"
#include "mqg_topic.h"

#define MAX_COPIES 512

/* ---- building models ---- */

static char *s_dup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* A model with n connections "svc/c<i>" and no routes. */
static void s_model(struct mqg_model *m, size_t n)
{
    mqg_model_init(m);
    m->n_conns = n;
    m->conns = calloc(n ? n : 1, sizeof(*m->conns));
    assert_non_null(m->conns);
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "svc/c%zu", i);
        m->conns[i].key = s_dup(key);
        m->conns[i].target_connected = true;
    }
}

/* Add a route without sources; returns its index. */
static size_t s_route(struct mqg_model *m, int conn, const char *topic, int qos, bool retain)
{
    struct mqg_route *r = realloc(m->routes, (m->n_routes + 1) * sizeof(*r));
    assert_non_null(r);
    m->routes = r;
    r = &m->routes[m->n_routes];
    memset(r, 0, sizeof(*r));
    char name[32];
    snprintf(name, sizeof(name), "route %zu", m->n_routes);
    r->name = s_dup(name);
    r->target = (struct mqg_target){conn, s_dup(topic), qos, retain};
    return m->n_routes++;
}

static void s_source(struct mqg_model *m, size_t route, int conn, const char *filter)
{
    struct mqg_route *r = &m->routes[route];
    struct mqg_source *s = realloc(r->sources, (r->n_sources + 1) * sizeof(*s));
    assert_non_null(s);
    r->sources = s;
    r->sources[r->n_sources++] = (struct mqg_source){conn, s_dup(filter), 1, NULL};
}

/* A route with one source. */
static size_t s_route1(struct mqg_model *m, int src_conn, const char *filter, int conn,
                       const char *topic)
{
    size_t i = s_route(m, conn, topic, 1, false);
    s_source(m, i, src_conn, filter);
    return i;
}

static struct mqg_route_table *s_table(const struct mqg_model *m)
{
    struct mqg_route_table *t = NULL;
    struct mqg_route_fault f;
    int rc = mqg_route_table_new(m, NULL, NULL, &t, &f);
    if (rc != 0) {
        fail_msg("table: %d (route %zu source %zu: %s)", rc, f.route, f.source,
                 f.why ? f.why : "bad connection");
    }
    assert_non_null(t);
    return t;
}

/* ---- recording what dispatch hands out ---- */

struct copy {
    int conn;
    char *topic;
    uint8_t qos, flags;
    const void *payload;
    size_t payload_len;
};

struct record {
    size_t n;
    struct copy c[MAX_COPIES];
    size_t n_loop;
    char *loop_topic;
    uint64_t loop_n;
    size_t n_render;
    const struct mqg_route *render_route;
    char *render_topic;
    uint64_t render_n;
};

static void s_clear(struct record *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->c[i].topic);
    }
    free(r->loop_topic);
    free(r->render_topic);
    memset(r, 0, sizeof(*r));
}

static void s_on_deliver(void *arg, int conn, const struct mqg_wire_rec *copy)
{
    struct record *r = arg;
    assert_true(r->n < MAX_COPIES);
    struct copy *c = &r->c[r->n++];
    assert_int_equal(strlen(copy->topic), copy->topic_len); /* NUL-terminated, len agrees */
    c->conn = conn;
    c->topic = s_dup(copy->topic);
    c->qos = copy->qos;
    c->flags = copy->flags;
    c->payload = copy->payload;
    c->payload_len = copy->payload_len;
}

static void s_on_loop(void *arg, const char *topic, uint64_t n)
{
    struct record *r = arg;
    r->n_loop++;
    free(r->loop_topic);
    r->loop_topic = s_dup(topic);
    r->loop_n = n;
}

static void s_on_render(void *arg, const struct mqg_route *route, const char *topic, uint64_t n)
{
    struct record *r = arg;
    r->n_render++;
    r->render_route = route;
    free(r->render_topic);
    r->render_topic = s_dup(topic);
    r->render_n = n;
}

static const char s_payload[] = "21.5";

/* Dispatch topic from conn (payload s_payload, QoS 0, no flags) after clearing rec; checks
 * that the result is the number of copies recorded, and returns it. */
static int s_send(struct mqg_route_table *t, int conn, const char *topic, struct record *rec)
{
    struct mqg_route_sink sink = {s_on_deliver, s_on_loop, s_on_render, rec, NULL};
    struct mqg_wire_rec msg = {.topic = topic,
                               .topic_len = strlen(topic),
                               .payload = s_payload,
                               .payload_len = sizeof(s_payload) - 1};
    s_clear(rec);
    int n = mqg_route_dispatch(t, conn, &msg, &sink);
    assert_int_equal(n, rec->n);
    return n;
}

/* Copies for conn with this topic. */
static size_t s_count(const struct record *r, int conn, const char *topic)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        n += r->c[i].conn == conn && strcmp(r->c[i].topic, topic) == 0;
    }
    return n;
}

static const struct copy *s_find(const struct record *r, int conn, const char *topic)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->c[i].conn == conn && strcmp(r->c[i].topic, topic) == 0) {
            return &r->c[i];
        }
    }
    fail_msg("no copy for c%d on '%s' (%zu copies)", conn, topic, r->n);
    return NULL;
}

static const struct mqg_route_counters *s_cnt(const struct mqg_route_table *t)
{
    return mqg_route_table_counters(t);
}

/* ---- tests ---- */

/* A route fires once per message, however many of its sources match it. */
static void test_one_copy_per_route(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    size_t r = s_route(&m, 1, "out", 1, false);
    s_source(&m, r, 0, "a/b");
    s_source(&m, r, 0, "a/#");
    s_source(&m, r, 0, "+/b");
    s_source(&m, r, 0, "a/+");
    s_source(&m, r, 0, "a/b"); /* the same filter twice */
    s_source(&m, r, 0, "a/+name");
    struct mqg_route_table *t = s_table(&m);

    assert_int_equal(s_send(t, 0, "a/b", &rec), 1); /* all six match */
    assert_int_equal(s_count(&rec, 1, "out"), 1);
    assert_int_equal(s_send(t, 0, "a/b", &rec), 1); /* and again for the next message */
    assert_int_equal(s_send(t, 0, "a/c", &rec), 1);
    assert_int_equal(s_send(t, 0, "x/b", &rec), 1);
    assert_int_equal(s_send(t, 0, "a", &rec), 1); /* "a/#" matches its parent */
    assert_int_equal(s_send(t, 0, "x/y", &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, 1);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    assert_null(t);
    mqg_model_free(&m);
}

/* Two routes that match one message make two copies, also to the same topic; a namespace
 * only sees the messages of its own connection. */
static void test_routes_and_namespaces(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 3);
    s_route1(&m, 0, "a/b", 1, "same");
    s_route1(&m, 0, "a/#", 1, "same");
    s_route1(&m, 0, "+/b", 2, "other");
    s_route1(&m, 1, "a/b", 0, "back");
    s_route1(&m, MQG_INTERNAL, "a/b", 2, "internal");
    struct mqg_route_table *t = s_table(&m);

    assert_int_equal(s_send(t, 0, "a/b", &rec), 3);
    assert_int_equal(s_count(&rec, 1, "same"), 2);
    assert_int_equal(s_count(&rec, 2, "other"), 1);
    assert_int_equal(s_send(t, 1, "a/b", &rec), 1);
    assert_int_equal(s_count(&rec, 0, "back"), 1);
    assert_int_equal(s_send(t, MQG_INTERNAL, "a/b", &rec), 1);
    assert_int_equal(s_count(&rec, 2, "internal"), 1);
    assert_int_equal(s_send(t, 2, "a/b", &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, 1);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Many routes for one topic, at two levels: each level keeps its own list of routes. */
static void test_fan_out(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    for (int i = 0; i < 20; i++) {
        s_route1(&m, 0, i % 2 ? "f/#" : "f/+", MQG_INTERNAL, "g");
        char topic[16];
        snprintf(topic, sizeof(topic), "o%d", i);
        s_route1(&m, MQG_INTERNAL, "g", 1, topic);
    }
    struct mqg_route_table *t = s_table(&m);
    assert_int_equal(s_send(t, 0, "f/x", &rec), 400);
    for (int i = 0; i < 20; i++) {
        char topic[16];
        snprintf(topic, sizeof(topic), "o%d", i);
        assert_int_equal(s_count(&rec, 1, topic), 20);
    }
    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Named wildcards: {name}, $name, #name with the rest of the path or nothing. */
static void test_render(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    s_route1(&m, 0, "factory/+line/#rest", 1, "plant/{line}/{rest}");
    s_route1(&m, 0, "dev/+id", 1, "$id/x/$aws/{id}"); /* $aws is no wildcard: literal */
    s_route1(&m, 0, "lit/+", 1, "lit/{x}/$y");        /* no names: used as written */
    s_route1(&m, 0, "keep/+k", 1, "kept/as/written"); /* names, no placeholders */
    size_t r = s_route(&m, 1, "out/$id", 1, false);   /* docs §4.4: $id of one source */
    s_source(&m, r, 0, "a/+id");
    s_source(&m, r, 0, "b/+x");
    struct mqg_route_table *t = s_table(&m);

    assert_int_equal(s_send(t, 0, "factory/line1/temperature", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "plant/line1/temperature"), 1);
    assert_int_equal(s_send(t, 0, "factory/line2/press/pressure", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "plant/line2/press/pressure"), 1);
    assert_int_equal(s_send(t, 0, "factory/line2", &rec), 1); /* #rest matched nothing */
    assert_int_equal(s_count(&rec, 1, "plant/line2/"), 1);
    assert_int_equal(s_send(t, 0, "dev/7", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "7/x/$aws/7"), 1);
    assert_int_equal(s_send(t, 0, "lit/q", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "lit/{x}/$y"), 1);
    assert_int_equal(s_send(t, 0, "keep/q", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "kept/as/written"), 1);
    assert_int_equal(s_send(t, 0, "a/7", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "out/7"), 1);
    assert_int_equal(s_send(t, 0, "b/7", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "out/$id"), 1);
    assert_int_equal(s_cnt(t)->render_failed, 0);
    assert_int_equal(rec.n_render, 0);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* A target topic that renders empty or too long is not delivered, counted per table and per
 * route; the other routes of the message still deliver, and it is not unrouted. */
static void test_render_failed(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    size_t empty = s_route1(&m, 0, "e/#rest", 1, "{rest}");
    s_route1(&m, 0, "e/#", 1, "fine");
    size_t big = s_route1(&m, 0, "L/+a", 1, "{a}/{a}");
    struct mqg_route_table *t = s_table(&m);

    assert_int_equal(s_send(t, 0, "e/x", &rec), 2);
    assert_int_equal(s_count(&rec, 1, "x"), 1);
    assert_int_equal(s_send(t, 0, "e", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "fine"), 1);
    assert_int_equal(rec.n_render, 1);
    assert_ptr_equal(rec.render_route, &m.routes[empty]);
    assert_string_equal(rec.render_topic, "e");
    assert_int_equal(rec.render_n, 1);
    assert_int_equal(s_cnt(t)->render_failed, 1);
    assert_int_equal(s_send(t, 0, "e", &rec), 1);
    assert_int_equal(rec.render_n, 2); /* the second failure of this route */
    assert_int_equal(s_cnt(t)->render_failed, 2);

    /* 2 * 40000 + 1 bytes do not fit in a topic */
    char *topic = malloc(40003);
    assert_non_null(topic);
    memcpy(topic, "L/", 2);
    memset(topic + 2, 'x', 40000);
    topic[40002] = '\0';
    assert_int_equal(s_send(t, 0, topic, &rec), 0);
    assert_int_equal(rec.n_render, 1);
    assert_ptr_equal(rec.render_route, &m.routes[big]);
    assert_int_equal(rec.render_n, 1); /* counted per route: this one's first */
    assert_int_equal(s_cnt(t)->render_failed, 3);
    topic[20002] = '\0'; /* 2 * 20000 + 1 bytes do */
    assert_int_equal(s_send(t, 0, topic, &rec), 1);
    assert_int_equal(strlen(rec.c[0].topic), 40001);
    free(topic);
    assert_int_equal(s_cnt(t)->unrouted, 0);
    mqg_route_table_destroy(&t);

    /* on an internal level: the topic reported is the one matched there */
    size_t deep = s_route1(&m, MQG_INTERNAL, "deep/#rest", 1, "{rest}");
    s_route1(&m, 0, "d", MQG_INTERNAL, "deep");
    t = s_table(&m);
    assert_int_equal(s_send(t, 0, "d", &rec), 0);
    assert_int_equal(rec.n_render, 1);
    assert_ptr_equal(rec.render_route, &m.routes[deep]);
    assert_string_equal(rec.render_topic, "deep");
    assert_int_equal(s_cnt(t)->render_failed, 1);
    assert_int_equal(s_cnt(t)->unrouted, 0);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* docs/architecture.md §3.3: endpoint -> mapping -> write endpoint through the internal
 * namespace, beside a mapping with named wildcards; QoS and retain come from each route's
 * target, the payload is the message's. */
static void test_internal_chain(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2); /* c0 plantBroker, c1 cloudBroker */
    size_t r = s_route(&m, MQG_INTERNAL, "services/pb/temperature", 1, false);
    s_source(&m, r, 0, "factory/line1/temperature");
    r = s_route(&m, MQG_INTERNAL, "services/pb/cloudTemperature/set", 1, true);
    s_source(&m, r, MQG_INTERNAL, "services/pb/temperature");
    r = s_route(&m, 1, "dashboard/line1/temperature", 1, true);
    s_source(&m, r, MQG_INTERNAL, "services/pb/cloudTemperature/set");
    r = s_route(&m, 1, "plant/{line}/{rest}", 1, false);
    s_source(&m, r, 0, "factory/+line/#rest");
    struct mqg_route_table *t = s_table(&m);

    assert_int_equal(s_send(t, 0, "factory/line1/temperature", &rec), 2);
    const struct copy *c = s_find(&rec, 1, "dashboard/line1/temperature");
    assert_int_equal(c->qos, 1);
    assert_int_equal(c->flags, MQG_WIRE_F_RETAIN);
    assert_ptr_equal(c->payload, s_payload);
    assert_int_equal(c->payload_len, 4);
    c = s_find(&rec, 1, "plant/line1/temperature");
    assert_int_equal(c->flags, 0);
    assert_ptr_equal(c->payload, s_payload);

    assert_int_equal(s_send(t, 0, "factory/line2/press/pressure", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "plant/line2/press/pressure"), 1);
    /* published on the internal namespace: the write endpoint alone */
    assert_int_equal(s_send(t, MQG_INTERNAL, "services/pb/cloudTemperature/set", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "dashboard/line1/temperature"), 1);
    /* the connection's namespace has no such route */
    assert_int_equal(s_send(t, 0, "services/pb/cloudTemperature/set", &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, 1);
    assert_int_equal(s_cnt(t)->loops, 0);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* sink.internal (mqgate tap) sees every message published on the internal namespace, with
 * the QoS and retain flag of the route that published it, in the order of the chain. */
static char s_seen[4][64];
static int s_seen_qos[4], s_seen_flags[4], s_n_seen;

static void s_on_internal(void *arg, const struct mqg_wire_rec *msg)
{
    (void)arg;
    assert_true(s_n_seen < 4);
    snprintf(s_seen[s_n_seen], sizeof(s_seen[0]), "%.*s", (int)msg->topic_len, msg->topic);
    assert_ptr_equal(msg->payload, s_payload);
    s_seen_qos[s_n_seen] = msg->qos;
    s_seen_flags[s_n_seen++] = msg->flags;
}

static void test_internal_hook(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    size_t r = s_route(&m, MQG_INTERNAL, "services/pb/temperature", 1, false);
    s_source(&m, r, 0, "factory/line1/temperature");
    r = s_route(&m, MQG_INTERNAL, "services/pb/cloudTemperature/set", 0, true);
    s_source(&m, r, MQG_INTERNAL, "services/pb/temperature");
    r = s_route(&m, 1, "dashboard/line1/temperature", 1, true);
    s_source(&m, r, MQG_INTERNAL, "services/pb/cloudTemperature/set");
    struct mqg_route_table *t = s_table(&m);
    struct mqg_route_sink sink = {s_on_deliver, NULL, NULL, &rec, s_on_internal};
    struct mqg_wire_rec msg = {.topic = "factory/line1/temperature",
                               .topic_len = strlen("factory/line1/temperature"),
                               .payload = s_payload,
                               .payload_len = sizeof(s_payload) - 1};
    s_n_seen = 0;
    assert_int_equal(mqg_route_dispatch(t, 0, &msg, &sink), 1);
    assert_int_equal(s_n_seen, 2);
    assert_string_equal(s_seen[0], "services/pb/temperature");
    assert_int_equal(s_seen_qos[0], 1);
    assert_int_equal(s_seen_flags[0], 0);
    assert_string_equal(s_seen[1], "services/pb/cloudTemperature/set");
    assert_int_equal(s_seen_qos[1], 0);
    assert_int_equal(s_seen_flags[1], MQG_WIRE_F_RETAIN);
    /* a message to a connection only: nothing on the internal namespace */
    s_n_seen = 0;
    msg.topic = "services/pb/cloudTemperature/set";
    msg.topic_len = strlen(msg.topic);
    assert_int_equal(mqg_route_dispatch(t, MQG_INTERNAL, &msg, &sink), 1);
    assert_int_equal(s_n_seen, 0);
    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Internal topics rendered at one level are matched at the next while that level renders its
 * own: each level has its own buffer. */
static void test_chain_render(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    s_route1(&m, 0, "r/+a/+b", MQG_INTERNAL, "s/{b}/{a}");
    s_route1(&m, 0, "r/#all", MQG_INTERNAL, "t/{all}");
    s_route1(&m, MQG_INTERNAL, "s/+x/+y", 1, "o/{y}/{x}");
    s_route1(&m, MQG_INTERNAL, "s/#all", 1, "all/{all}");
    s_route1(&m, MQG_INTERNAL, "t/+p/#q", MQG_INTERNAL, "s/{q}/{p}");
    struct mqg_route_table *t = s_table(&m);

    /* r/1/2 -> s/2/1 -> o/1/2, all/2/1; r/1/2 -> t/1/2 -> s/2/1 -> o/1/2, all/2/1 */
    assert_int_equal(s_send(t, 0, "r/1/2", &rec), 4);
    assert_int_equal(s_count(&rec, 1, "o/1/2"), 2);
    assert_int_equal(s_count(&rec, 1, "all/2/1"), 2);
    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* A chain of `hops` internal levels: c0 "t0" -> internal t1 -> ... -> internal t<hops>,
 * and internal t<hops> -> c1 "end". */
static void s_chain(struct mqg_model *m, int hops)
{
    char from[16], to[16];
    s_route1(m, 0, "t0", MQG_INTERNAL, "t1");
    for (int k = 1; k < hops; k++) {
        snprintf(from, sizeof(from), "t%d", k);
        snprintf(to, sizeof(to), "t%d", k + 1);
        s_route1(m, MQG_INTERNAL, from, MQG_INTERNAL, to);
    }
    snprintf(from, sizeof(from), "t%d", hops);
    s_route1(m, MQG_INTERNAL, from, 1, "end");
}

/* Chains: 7 internal levels deliver, the 8th level is cut and counted. */
static void test_depth_bound(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    assert_int_equal(MQG_ROUTE_MAX_DEPTH, 8); /* docs/architecture.md §4.5 */
    s_model(&m, 2);
    s_chain(&m, MQG_ROUTE_MAX_DEPTH - 1);
    struct mqg_route_table *t = s_table(&m);
    assert_int_equal(s_send(t, 0, "t0", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "end"), 1);
    assert_int_equal(rec.n_loop, 0);
    assert_int_equal(s_cnt(t)->loops, 0);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);

    s_model(&m, 2);
    s_chain(&m, MQG_ROUTE_MAX_DEPTH);
    t = s_table(&m);
    assert_int_equal(s_send(t, 0, "t0", &rec), 0);
    assert_int_equal(rec.n_loop, 1);
    assert_string_equal(rec.loop_topic, "t8");
    assert_int_equal(rec.loop_n, 1);
    assert_int_equal(s_cnt(t)->loops, 1);
    assert_int_equal(s_cnt(t)->unrouted, 0);
    /* started on the internal namespace one level further down, it arrives */
    assert_int_equal(s_send(t, MQG_INTERNAL, "t1", &rec), 1);
    assert_int_equal(s_cnt(t)->loops, 1);
    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* A mapping that publishes to a topic it subscribes: the copies on the way (one per level)
 * are delivered, the chain is cut at the bound, each cut is counted. */
static void test_loop(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    s_route1(&m, 0, "in", MQG_INTERNAL, "loop/x");
    s_route1(&m, MQG_INTERNAL, "loop/#", MQG_INTERNAL, "loop/x");
    s_route1(&m, MQG_INTERNAL, "loop/x", 1, "seen");
    struct mqg_route_table *t = s_table(&m);

    assert_int_equal(s_send(t, 0, "in", &rec), MQG_ROUTE_MAX_DEPTH - 1);
    assert_int_equal(s_count(&rec, 1, "seen"), MQG_ROUTE_MAX_DEPTH - 1);
    assert_int_equal(rec.n_loop, 1);
    assert_string_equal(rec.loop_topic, "loop/x");
    assert_int_equal(rec.loop_n, 1);
    assert_int_equal(s_send(t, 0, "in", &rec), MQG_ROUTE_MAX_DEPTH - 1);
    assert_int_equal(rec.loop_n, 2);
    assert_int_equal(s_cnt(t)->loops, 2);
    assert_int_equal(s_cnt(t)->unrouted, 0);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* "$share/<group>/<filter>" routes the topics <filter> matches, named wildcards included. */
static void test_shared_subscription(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    s_route1(&m, 0, "$share/g/factory/+line", 1, "x/{line}");
    size_t r = s_route(&m, 1, "both", 0, false);
    s_source(&m, r, 0, "$share/g1/a/#");
    s_source(&m, r, 0, "a/b");
    struct mqg_route_table *t = s_table(&m);

    assert_int_equal(s_send(t, 0, "factory/l1", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "x/l1"), 1);
    assert_int_equal(s_send(t, 0, "$share/g/factory/l1", &rec), 0);
    assert_int_equal(s_send(t, 0, "a/b", &rec), 1); /* one route, shared or not */
    assert_int_equal(s_count(&rec, 1, "both"), 1);
    assert_int_equal(s_send(t, 0, "a/c/d", &rec), 1);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Topics starting with '$' are not matched by a leading wildcard, here or internally. */
static void test_dollar_topics(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    s_route1(&m, 0, "#", 1, "all");
    s_route1(&m, 0, "+/uptime", 1, "uptime");
    s_route1(&m, 0, "$SYS/#", 1, "sys");
    s_route1(&m, 0, "$SYS/+n", 1, "sys/{n}");
    s_route1(&m, MQG_INTERNAL, "#", 1, "internal");
    struct mqg_route_table *t = s_table(&m);

    assert_int_equal(s_send(t, 0, "$SYS/uptime", &rec), 2);
    assert_int_equal(s_count(&rec, 1, "sys"), 1);
    assert_int_equal(s_count(&rec, 1, "sys/uptime"), 1);
    assert_int_equal(s_send(t, 0, "x/uptime", &rec), 2);
    assert_int_equal(s_count(&rec, 1, "all"), 1);
    assert_int_equal(s_count(&rec, 1, "uptime"), 1);
    assert_int_equal(s_send(t, 0, "$other", &rec), 0);
    assert_int_equal(s_send(t, MQG_INTERNAL, "$x/y", &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, 2);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Unrouted counts messages whose first match fires nothing; a chain that ends nowhere, a
 * render failure or a loop is not unrouted. */
static void test_unrouted(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    s_route1(&m, 0, "a/+", MQG_INTERNAL, "nowhere");
    struct mqg_route_table *t = s_table(&m);

    assert_int_equal(s_cnt(t)->unrouted, 0);
    assert_int_equal(s_send(t, 0, "b/x", &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, 1);
    assert_int_equal(s_send(t, 0, "a", &rec), 0);
    assert_int_equal(s_send(t, 1, "a/x", &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, 3);
    assert_int_equal(s_send(t, 0, "a/x", &rec), 0); /* routed to an internal dead end */
    assert_int_equal(s_cnt(t)->unrouted, 3);
    assert_int_equal(s_cnt(t)->loops, 0);
    assert_int_equal(s_cnt(t)->render_failed, 0);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* The copy's QoS and retain flag are those of the route's target, never the message's. */
static void test_qos_retain(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    size_t r = s_route(&m, 1, "q0", 0, false);
    s_source(&m, r, 0, "m");
    r = s_route(&m, 1, "q1r", 1, true);
    s_source(&m, r, 0, "m");
    r = s_route(&m, 0, "q2", 2, false);
    s_source(&m, r, 0, "m");
    struct mqg_route_table *t = s_table(&m);

    struct mqg_route_sink sink = {s_on_deliver, NULL, NULL, &rec, NULL};
    static const uint8_t payload[3] = {0, 1, 2};
    struct mqg_wire_rec msg = {.flags = MQG_WIRE_F_RETAIN | MQG_WIRE_F_DUP,
                               .qos = 2,
                               .topic = "m/ignored",
                               .topic_len = 1, /* "m": the topic need not end in NUL */
                               .payload = payload,
                               .payload_len = sizeof(payload)};
    s_clear(&rec);
    assert_int_equal(mqg_route_dispatch(t, 0, &msg, &sink), 3);
    const struct copy *c = s_find(&rec, 1, "q0");
    assert_int_equal(c->qos, 0);
    assert_int_equal(c->flags, 0);
    c = s_find(&rec, 1, "q1r");
    assert_int_equal(c->qos, 1);
    assert_int_equal(c->flags, MQG_WIRE_F_RETAIN);
    c = s_find(&rec, 0, "q2");
    assert_int_equal(c->qos, 2);
    assert_int_equal(c->flags, 0);
    for (size_t i = 0; i < rec.n; i++) {
        assert_ptr_equal(rec.c[i].payload, payload);
        assert_int_equal(rec.c[i].payload_len, sizeof(payload));
    }
    msg.qos = 0;
    msg.flags = 0;
    s_clear(&rec);
    assert_int_equal(mqg_route_dispatch(t, 0, &msg, &sink), 3);
    assert_int_equal(s_find(&rec, 0, "q2")->qos, 2);
    assert_int_equal(s_find(&rec, 1, "q1r")->flags, MQG_WIRE_F_RETAIN);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* A message from a connection the table does not have, or with a topic too long, is refused
 * and not counted. */
static void test_dispatch_refused(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    struct mqg_route_table *t = s_table(&m); /* no routes at all */
    struct mqg_route_sink sink = {s_on_deliver, s_on_loop, s_on_render, &rec, NULL};
    struct mqg_wire_rec msg = {.topic = "a", .topic_len = 1};
    assert_int_equal(mqg_route_dispatch(t, 2, &msg, &sink), -EINVAL);
    assert_int_equal(mqg_route_dispatch(t, -2, &msg, &sink), -EINVAL);
    assert_int_equal(s_cnt(t)->unrouted, 0);
    msg.topic_len = MQG_TOPIC_MAX + 1;
    assert_int_equal(mqg_route_dispatch(t, 0, &msg, &sink), -EINVAL);
    assert_int_equal(s_cnt(t)->unrouted, 0);
    msg.topic_len = 1;
    assert_int_equal(mqg_route_dispatch(t, 1, &msg, &sink), 0);
    assert_int_equal(s_cnt(t)->unrouted, 1);
    mqg_route_table_destroy(&t);
    mqg_route_table_destroy(&t); /* NULL-safe */
    mqg_route_table_destroy(NULL);
    mqg_model_free(&m);
}

/* The internal broker (connection 2): every copy for the internal namespace is also published
 * there, with the route's QoS and retain, at every level of a chain; a message from it is routed
 * as an internal one and is not sent back to it; a topic nobody maps still reaches it. */
static void test_internal_broker(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 3);
    m.conns[2].internal_broker = true;
    /* endpoint: c0 factory/t -> internal services/s/ep (qos 1) */
    s_route1(&m, 0, "factory/t", MQG_INTERNAL, "services/s/ep");
    /* mapping: internal services/s/ep -> internal plain/+ rendered, retained, qos 2 */
    size_t r = s_route(&m, MQG_INTERNAL, "plain/{x}", 2, true);
    s_source(&m, r, MQG_INTERNAL, "services/s/+x");
    /* write endpoint: internal services/s/w/set -> c1 out/w */
    s_route1(&m, MQG_INTERNAL, "services/s/w/set", 1, "out/w");
    /* an unmapped endpoint: c0 other -> internal services/s/lonely */
    s_route1(&m, 0, "other", MQG_INTERNAL, "services/t/lonely");
    struct mqg_route_table *t = s_table(&m);

    /* from a broker: the data topic and the mapping's topic reach the internal broker */
    assert_int_equal(s_send(t, 0, "factory/t", &rec), 2);
    assert_int_equal(s_count(&rec, 2, "services/s/ep"), 1);
    assert_int_equal(s_count(&rec, 2, "plain/ep"), 1);
    assert_int_equal(s_find(&rec, 2, "services/s/ep")->qos, 1);
    assert_int_equal(s_find(&rec, 2, "services/s/ep")->flags, 0);
    assert_int_equal(s_find(&rec, 2, "plain/ep")->qos, 2);
    assert_int_equal(s_find(&rec, 2, "plain/ep")->flags, MQG_WIRE_F_RETAIN);
    assert_ptr_equal(s_find(&rec, 2, "plain/ep")->payload, s_payload);

    /* nobody maps it: still on the internal broker, and not unrouted */
    assert_int_equal(s_send(t, 0, "other", &rec), 1);
    assert_int_equal(s_count(&rec, 2, "services/t/lonely"), 1);
    assert_int_equal(s_cnt(t)->unrouted, 0);

    /* from the internal broker: a write is written, and not sent back there */
    assert_int_equal(s_send(t, 2, "services/s/w/set", &rec), 1);
    assert_int_equal(s_count(&rec, 1, "out/w"), 1);
    /* a local application publishing on a data topic: the mapping fires, its own target is
     * published there (once), the message itself is not */
    assert_int_equal(s_send(t, 2, "services/s/ep", &rec), 1);
    assert_int_equal(s_count(&rec, 2, "plain/ep"), 1);
    assert_int_equal(s_count(&rec, 2, "services/s/ep"), 0);
    /* what nothing reads from there is unrouted, as from any broker */
    assert_int_equal(s_send(t, 2, "nobody/reads", &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, 1);
    /* the internal broker's own namespace is the internal one: "factory/t" means nothing */
    assert_int_equal(s_send(t, 2, "factory/t", &rec), 0);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Give route r one transform rule (the rid comes from mqg_model_rules_engine). */
static void s_rules(struct mqg_model *m, size_t r, const char *expr)
{
    struct mqg_route *rt = &m->routes[r];
    rt->rules = calloc(1, sizeof(*rt->rules));
    assert_non_null(rt->rules);
    rt->n_rules = 1;
    rt->rules[0].kind = MQG_RULE_TRANSFORM;
    rt->rules[0].text = s_dup(expr);
}

/* A route with rules sends what fires it to the rules process as "<rid>/<topic>" with its
 * target's QoS and retain flag; what comes back as "<rid>/<topic>" goes to that route's
 * target only (internal ones are matched again); an unknown rid is unrouted. */
static void test_rules(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    size_t r0 = s_route(&m, 1, "out/{line}", 2, true);
    s_source(&m, r0, 0, "lines/+line/state");
    s_source(&m, r0, 0, "lines/#");
    s_rules(&m, r0, "$");
    size_t r1 = s_route(&m, MQG_INTERNAL, "services/s/x", 1, false);
    s_source(&m, r1, 0, "lines/+line/state");
    s_rules(&m, r1, "{\"a\": 1}");
    s_route1(&m, MQG_INTERNAL, "services/s/x", 1, "plain/x"); /* no rules */
    s_route1(&m, 0, "lines/l1/state", 1, "copy/plain");       /* no rules */
    assert_int_equal(mqg_model_rules_engine(&m, 500), 0);
    int rules = mqg_model_rules_conn(&m);
    assert_int_equal(rules, 2);
    const char *rid0 = m.routes[r0].rid, *rid1 = m.routes[r1].rid;
    assert_string_not_equal(rid0, rid1);
    struct mqg_route_table *t = s_table(&m);
    char want[300];

    /* to the rules process: once per route with rules (two sources match r0: one copy) */
    assert_int_equal(s_send(t, 0, "lines/l1/state", &rec), 3);
    snprintf(want, sizeof(want), "%s/lines/l1/state", rid0);
    assert_int_equal(s_count(&rec, rules, want), 1);
    assert_int_equal(s_find(&rec, rules, want)->qos, 2);
    assert_int_equal(s_find(&rec, rules, want)->flags, MQG_WIRE_F_RETAIN);
    snprintf(want, sizeof(want), "%s/lines/l1/state", rid1);
    assert_int_equal(s_find(&rec, rules, want)->qos, 1);
    assert_int_equal(s_count(&rec, 1, "copy/plain"), 1);
    assert_int_equal(mqg_route_table_stats(t, r0)->in, 1);
    assert_int_equal(mqg_route_table_stats(t, r0)->out, 0);

    /* back from it: the topic as the rules process rendered it, to r0's target */
    snprintf(want, sizeof(want), "%s/out/l1", rid0);
    assert_int_equal(s_send(t, rules, want, &rec), 1);
    assert_int_equal(s_count(&rec, 1, "out/l1"), 1);
    assert_int_equal(s_find(&rec, 1, "out/l1")->qos, 2);
    assert_int_equal(mqg_route_table_stats(t, r0)->out, 1);
    /* r1's target is internal: matched there again, the plain route fires */
    snprintf(want, sizeof(want), "%s/services/s/x", rid1);
    assert_int_equal(s_send(t, rules, want, &rec), 1);
    assert_int_equal(s_count(&rec, 1, "plain/x"), 1);
    /* unknown rid, no topic, no slash: unrouted, nothing delivered */
    uint64_t before = s_cnt(t)->unrouted;
    assert_int_equal(s_send(t, rules, "0123456789abcdef/out/l1", &rec), 0);
    snprintf(want, sizeof(want), "%s/", rid0);
    assert_int_equal(s_send(t, rules, want, &rec), 0);
    assert_int_equal(s_send(t, rules, rid0, &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, before + 3);

    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Without an internal broker, internal targets make no copies (today's behaviour). */
static void test_no_internal_broker(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    s_model(&m, 2);
    s_route1(&m, 0, "factory/t", MQG_INTERNAL, "services/s/ep");
    struct mqg_route_table *t = s_table(&m);
    assert_int_equal(s_send(t, 0, "factory/t", &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, 0);
    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Build: a filter that does not parse, a source or target on a connection the model does not
 * have; the fault names the route and source. */
static void test_build_errors(void **state)
{
    (void)state;
    static const char *const bad_filters[] = {"a/b#",      "",          "a/#/b",
                                              "$share//a", "$share/g/", "a/+x/+x"};
    for (size_t i = 0; i < sizeof(bad_filters) / sizeof(bad_filters[0]); i++) {
        struct mqg_model m;
        s_model(&m, 2);
        s_route1(&m, 0, "ok/#", 1, "fine");
        size_t r = s_route(&m, 1, "x", 0, false);
        s_source(&m, r, 0, "ok");
        s_source(&m, r, 1, bad_filters[i]);
        static char sentinel;
        struct mqg_route_table *t = (struct mqg_route_table *)&sentinel; /* must be cleared */
        struct mqg_route_fault f;
        assert_int_equal(mqg_route_table_new(&m, NULL, NULL, &t, &f), -EINVAL);
        assert_null(t);
        assert_int_equal(f.route, 1);
        assert_int_equal(f.source, 1);
        assert_false(f.bad_conn);
        assert_non_null(f.why);
        mqg_model_free(&m);
    }
    static const struct {
        int src, dst;
        size_t source; /* what the fault names */
        int conn;
    } bad_conns[] = {{2, 0, 0, 2}, {-2, 0, 0, -2}, {0, 2, 1, 2}, {MQG_INTERNAL, -5, 1, -5}};
    for (size_t i = 0; i < sizeof(bad_conns) / sizeof(bad_conns[0]); i++) {
        struct mqg_model m;
        s_model(&m, 2);
        s_route1(&m, bad_conns[i].src, "a", bad_conns[i].dst, "b");
        struct mqg_route_table *t = NULL;
        struct mqg_route_fault f;
        assert_int_equal(mqg_route_table_new(&m, NULL, NULL, &t, &f), -EINVAL);
        assert_null(t);
        assert_int_equal(f.route, 0);
        assert_int_equal(f.source, bad_conns[i].source);
        assert_true(f.bad_conn);
        assert_int_equal(f.conn, bad_conns[i].conn);
        assert_int_equal(mqg_route_table_new(&m, NULL, NULL, &t, NULL), -EINVAL);
        mqg_model_free(&m);
    }
}

static void s_count_progress(void *arg)
{
    (*(int *)arg)++;
}

/* An empty model; progress every 256 routes. */
static void test_build(void **state)
{
    (void)state;
    struct mqg_model m;
    struct record rec = {0};
    mqg_model_init(&m);
    struct mqg_route_table *t = s_table(&m);
    assert_int_equal(s_send(t, MQG_INTERNAL, "a", &rec), 0);
    assert_int_equal(s_cnt(t)->unrouted, 1);
    mqg_route_table_destroy(&t);

    s_model(&m, 1);
    static const struct {
        int routes, calls; /* before routes 0, 256, 512, ... */
    } progress[] = {{0, 0}, {1, 1}, {256, 1}, {257, 2}, {512, 2}, {600, 3}};
    int made = 0;
    for (size_t i = 0; i < sizeof(progress) / sizeof(progress[0]); i++) {
        for (; made < progress[i].routes; made++) {
            char f[16];
            snprintf(f, sizeof(f), "f/%d", made);
            s_route1(&m, 0, f, 0, "out");
        }
        int calls = 0;
        assert_int_equal(mqg_route_table_new(&m, s_count_progress, &calls, &t, NULL), 0);
        assert_int_equal(calls, progress[i].calls);
        mqg_route_table_destroy(&t);
    }
    t = s_table(&m);
    assert_int_equal(s_send(t, 0, "f/599", &rec), 1);
    assert_int_equal(s_send(t, 0, "f/600", &rec), 0);
    s_clear(&rec);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_copy_per_route),
        cmocka_unit_test(test_routes_and_namespaces),
        cmocka_unit_test(test_fan_out),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_failed),
        cmocka_unit_test(test_internal_chain),
        cmocka_unit_test(test_internal_hook),
        cmocka_unit_test(test_chain_render),
        cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_loop),
        cmocka_unit_test(test_shared_subscription),
        cmocka_unit_test(test_dollar_topics),
        cmocka_unit_test(test_unrouted),
        cmocka_unit_test(test_qos_retain),
        cmocka_unit_test(test_dispatch_refused),
        cmocka_unit_test(test_internal_broker),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_no_internal_broker),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
