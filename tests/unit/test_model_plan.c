/* test_model_plan — a reload's plan: indices of kept connections stay, gone ones leave a
 * disconnected placeholder without secrets, added ones follow; endpoints and routes are
 * renumbered; each connection's action and whether the router needs the new model. */
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
#include "mqg_model_plan.h"

static char *s_dup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* Connections keys[0..n) ("svc/<k>", tcp://<k>:1883) appended to m's and routes given as
 * "SRC>DST:filter" (SRC/DST: a key, or "-" for the internal bus). */
static void s_add(struct mqg_model *m, const char *const *keys, size_t n, const char *const *routes,
                  size_t nr)
{
    size_t n0 = m->n_conns;
    m->conns = realloc(m->conns, (n0 + n + 1) * sizeof(*m->conns));
    assert_non_null(m->conns);
    memset(&m->conns[n0], 0, (n + 1) * sizeof(*m->conns));
    m->n_conns = n0 + n;
    for (size_t i = 0; i < n; i++) {
        struct mqg_connection *c = &m->conns[n0 + i];
        char buf[128];
        c->service_id = s_dup("svc");
        c->id = s_dup(keys[i]);
        snprintf(buf, sizeof(buf), "svc/%s", keys[i]);
        c->key = s_dup(buf);
        c->host = s_dup(keys[i]);
        c->port = 1883;
        snprintf(buf, sizeof(buf), "tcp://%s:1883", keys[i]);
        c->uri = s_dup(buf);
        c->client_id = s_dup(keys[i]);
        c->password = s_dup("secret");
        c->clean = true;
        c->keepalive_s = 60;
        c->protocol_version = 4;
        c->target_connected = true;
    }
    m->routes = calloc(nr ? nr : 1, sizeof(*m->routes));
    m->n_routes = nr;
    for (size_t r = 0; r < nr; r++) {
        char src[32], dst[32], filter[64], key[40];
        assert_int_equal(sscanf(routes[r], "%31[^>]>%31[^:]:%63s", src, dst, filter), 3);
        struct mqg_route *rt = &m->routes[r];
        rt->name = s_dup(routes[r]);
        rt->sources = calloc(1, sizeof(*rt->sources));
        rt->n_sources = 1;
        snprintf(key, sizeof(key), "svc/%s", src);
        rt->sources[0].conn = strcmp(src, "-") ? mqg_model_find_conn(m, key) : MQG_INTERNAL;
        rt->sources[0].filter = s_dup(filter);
        rt->sources[0].qos = 1;
        snprintf(key, sizeof(key), "svc/%s", dst);
        rt->target.conn = strcmp(dst, "-") ? mqg_model_find_conn(m, key) : MQG_INTERNAL;
        rt->target.topic = s_dup("out/{x}");
        rt->target.qos = 1;
    }
}

/* A model of connections keys[0..n) and routes (s_add). */
static void s_model(struct mqg_model *m, const char *const *keys, size_t n,
                    const char *const *routes, size_t nr)
{
    mqg_model_init(m);
    s_add(m, keys, n, routes, nr);
}

/* The same, after the embedded internal broker's connection, as mqgate builds it
 * (mqg_ibroker_add before the services). */
static void s_model_ib(struct mqg_model *m, const char *const *keys, size_t n,
                       const char *const *routes, size_t nr)
{
    struct mqg_ib_settings ib;
    char why[200];
    assert_int_equal(mqg_ibroker_defaults(&ib), 0);
    mqg_model_init(m);
    assert_int_equal(mqg_ibroker_add(m, &ib, why, sizeof(why)), 0);
    mqg_ibroker_free(&ib);
    s_add(m, keys, n, routes, nr);
}

static void t_unchanged(void **state)
{
    (void)state;
    const char *k[] = {"a", "b"};
    const char *r[] = {"a>b:t/#"};
    struct mqg_model cur, next;
    s_model(&cur, k, 2, r, 1);
    s_model(&next, k, 2, r, 1);
    struct mqg_model_plan p;
    assert_int_equal(mqg_model_plan(&cur, &next, &p), 0);
    assert_int_equal(p.n_conns, 2);
    assert_int_equal(p.conn[0], MQG_PLAN_KEEP);
    assert_int_equal(p.conn[1], MQG_PLAN_KEEP);
    assert_false(p.router);
    assert_int_equal(p.n_kept, 2);
    mqg_model_plan_free(&p);
    mqg_model_free(&cur);
    mqg_model_free(&next);
}

/* The new file lists the connections in another order, drops b, adds d: a and c keep their
 * indices, b's place holds a placeholder, d comes last; routes follow. */
static void t_layout(void **state)
{
    (void)state;
    const char *k0[] = {"a", "b", "c"};
    const char *r0[] = {"a>c:t/#", "b>c:u/#"};
    const char *k1[] = {"d", "c", "a"};
    const char *r1[] = {"a>c:t/#", "a>d:v/#"};
    struct mqg_model cur, next;
    s_model(&cur, k0, 3, r0, 2);
    s_model(&next, k1, 3, r1, 2);
    struct mqg_model_plan p;
    assert_int_equal(mqg_model_plan(&cur, &next, &p), 0);
    assert_int_equal(next.n_conns, 4);
    assert_string_equal(next.conns[0].key, "svc/a");
    assert_string_equal(next.conns[1].key, "svc/b");
    assert_string_equal(next.conns[2].key, "svc/c");
    assert_string_equal(next.conns[3].key, "svc/d");
    assert_false(next.conns[1].target_connected); /* the placeholder */
    assert_null(next.conns[1].password);          /* without secrets */
    assert_string_equal(next.conns[0].password, "secret");
    assert_int_equal(next.routes[0].sources[0].conn, 0);
    assert_int_equal(next.routes[0].target.conn, 2);
    assert_int_equal(next.routes[1].sources[0].conn, 0);
    assert_int_equal(next.routes[1].target.conn, 3);
    /* a gained a subscription (v/#): restarted; b stops; c keeps; d starts */
    assert_int_equal(p.conn[0], MQG_PLAN_RESTART);
    assert_int_equal(p.conn[1], MQG_PLAN_STOP);
    assert_int_equal(p.conn[2], MQG_PLAN_KEEP);
    assert_int_equal(p.conn[3], MQG_PLAN_START);
    assert_true(p.router);
    assert_int_equal(p.n_restarted + p.n_stopped + p.n_kept + p.n_started, 4);
    /* a second reload back to the first file: b returns to its old index */
    struct mqg_model again;
    struct mqg_model_plan p2;
    s_model(&again, k0, 3, r0, 2);
    assert_int_equal(mqg_model_plan(&next, &again, &p2), 0);
    assert_int_equal(again.n_conns, 4);
    assert_string_equal(again.conns[1].key, "svc/b");
    assert_true(again.conns[1].target_connected);
    assert_false(again.conns[3].target_connected);
    assert_int_equal(p2.conn[1], MQG_PLAN_START);
    assert_int_equal(p2.conn[3], MQG_PLAN_STOP);
    assert_int_equal(again.routes[1].sources[0].conn, 1);
    mqg_model_plan_free(&p2);
    mqg_model_free(&again);
    mqg_model_plan_free(&p);
    mqg_model_free(&cur);
    mqg_model_free(&next);
}

/* Routes change around connections whose own subscriptions stay: those keep running. */
static void t_routes_only(void **state)
{
    (void)state;
    const char *k[] = {"a", "b", "c"};
    const char *r0[] = {"a>b:t/#", "a>c:t/x"};
    const char *r1[] = {"a>b:t/#", "a>c:t/y"}; /* t/y, like t/x, is inside t/# */
    struct mqg_model cur, next;
    s_model(&cur, k, 3, r0, 2);
    s_model(&next, k, 3, r1, 2);
    struct mqg_model_plan p;
    assert_int_equal(mqg_model_plan(&cur, &next, &p), 0);
    assert_int_equal(p.conn[0], MQG_PLAN_KEEP);
    assert_int_equal(p.conn[1], MQG_PLAN_KEEP);
    assert_int_equal(p.conn[2], MQG_PLAN_KEEP);
    assert_true(p.router);
    mqg_model_plan_free(&p);
    mqg_model_free(&cur);
    mqg_model_free(&next);
}

/* A changed property restarts; targetState disconnected stops, connected again starts. */
static void t_properties(void **state)
{
    (void)state;
    const char *k[] = {"a", "b"};
    const char *r[] = {"a>b:t/#"};
    struct mqg_model cur, next;
    s_model(&cur, k, 2, r, 1);
    s_model(&next, k, 2, r, 1);
    next.conns[0].keepalive_s = 30;
    next.conns[1].target_connected = false;
    struct mqg_model_plan p;
    assert_int_equal(mqg_model_plan(&cur, &next, &p), 0);
    assert_int_equal(p.conn[0], MQG_PLAN_RESTART);
    assert_int_equal(p.conn[1], MQG_PLAN_STOP);
    assert_string_equal(mqg_model_plan_name(p.conn[1]), "stop");
    mqg_model_plan_free(&p);
    struct mqg_model third;
    s_model(&third, k, 2, r, 1);
    third.conns[0].keepalive_s = 30;
    assert_int_equal(mqg_model_plan(&next, &third, &p), 0);
    assert_int_equal(p.conn[0], MQG_PLAN_KEEP);
    assert_int_equal(p.conn[1], MQG_PLAN_START);
    mqg_model_plan_free(&p);
    /* a new password restarts the connector; the router, which has no secrets, stays */
    struct mqg_model fourth;
    s_model(&fourth, k, 2, r, 1);
    fourth.conns[0].keepalive_s = 30;
    free(fourth.conns[0].password);
    fourth.conns[0].password = s_dup("other");
    assert_int_equal(mqg_model_plan(&third, &fourth, &p), 0);
    assert_int_equal(p.conn[0], MQG_PLAN_RESTART);
    assert_int_equal(p.conn[1], MQG_PLAN_KEEP);
    assert_false(p.router);
    mqg_model_plan_free(&p);
    mqg_model_free(&fourth);
    mqg_model_free(&third);
    mqg_model_free(&cur);
    mqg_model_free(&next);
}

/* With the internal broker: its connection keeps index 0 through reloads that add routes and
 * connections; its connector runs on unless its own subscriptions change (a route from the
 * internal namespace). */
static void t_internal_broker(void **state)
{
    (void)state;
    const char *k0[] = {"a", "b"};
    const char *r0[] = {"a>-:t/#"};
    const char *k1[] = {"c", "a", "b"};
    const char *r1[] = {"a>-:t/#", "a>b:t/#", "c>-:u/#"};
    struct mqg_model cur, next;
    s_model_ib(&cur, k0, 2, r0, 1);
    s_model_ib(&next, k1, 3, r1, 3);
    assert_true(cur.conns[0].internal_broker);
    assert_string_equal(cur.conns[0].key, MQG_IB_KEY);
    struct mqg_model_plan p;
    assert_int_equal(mqg_model_plan(&cur, &next, &p), 0);
    assert_int_equal(next.n_conns, 4);
    assert_string_equal(next.conns[0].key, MQG_IB_KEY);
    assert_true(next.conns[0].internal_broker);
    assert_string_equal(next.conns[3].key, "svc/c");
    assert_int_equal(p.conn[0], MQG_PLAN_KEEP);
    assert_int_equal(p.conn[1], MQG_PLAN_KEEP);
    assert_int_equal(p.conn[2], MQG_PLAN_KEEP);
    assert_int_equal(p.conn[3], MQG_PLAN_START);
    assert_true(p.router);
    mqg_model_plan_free(&p);
    /* a route from the internal namespace: the internal broker's connection subscribes more */
    const char *r2[] = {"a>-:t/#", "->b:x/#"};
    struct mqg_model third;
    s_model_ib(&third, k0, 2, r2, 2);
    assert_int_equal(mqg_model_plan(&cur, &third, &p), 0);
    assert_int_equal(p.conn[0], MQG_PLAN_RESTART);
    assert_int_equal(p.conn[1], MQG_PLAN_KEEP);
    mqg_model_plan_free(&p);
    /* connectionStrategy is the connector's: a change restarts it */
    struct mqg_model fourth;
    s_model_ib(&fourth, k0, 2, r0, 1);
    fourth.conns[1].reconnect_factor = 3;
    assert_int_equal(mqg_model_plan(&cur, &fourth, &p), 0);
    assert_int_equal(p.conn[0], MQG_PLAN_KEEP);
    assert_int_equal(p.conn[1], MQG_PLAN_RESTART);
    mqg_model_plan_free(&p);
    mqg_model_free(&fourth);
    mqg_model_free(&third);
    mqg_model_free(&cur);
    mqg_model_free(&next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_unchanged),       cmocka_unit_test(t_layout),
        cmocka_unit_test(t_routes_only),     cmocka_unit_test(t_properties),
        cmocka_unit_test(t_internal_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
