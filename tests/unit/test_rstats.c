/* test_rstats — unit tests of the per-route counters: what mqg_route counts per route, and the
 * reports of mqg_rstats (router -> supervisor): only what changed, bounded, in turn, reset on
 * the first, nothing lost when a report could not be sent, malformed ones refused. */
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
#include "mqg_rstats.h"

static char *s_dup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* Connection svc/c0; route i: c0 "t/<i>" -> c0 "out/<i>"; plus, when chain, route n: c0 "in/#"
 * -> internal "loop/x" and route n+1: internal "loop/#" -> internal "loop/x" (a loop), and
 * route n+2: c0 "+name/r" -> c0 "{name}" (renders nothing for "/r"). */
static void s_model(struct mqg_model *m, size_t n, bool chain)
{
    mqg_model_init(m);
    m->n_conns = 1;
    m->conns = calloc(1, sizeof(*m->conns));
    assert_non_null(m->conns);
    m->conns[0].key = s_dup("svc/c0");
    m->conns[0].target_connected = true;
    size_t total = n + (chain ? 3 : 0);
    m->routes = calloc(total, sizeof(*m->routes));
    assert_non_null(m->routes);
    for (size_t i = 0; i < total; i++) {
        char f[32], t[32];
        snprintf(f, sizeof(f), "t/%zu", i);
        snprintf(t, sizeof(t), "out/%zu", i);
        int src = 0, dst = 0;
        if (i == n) {
            snprintf(f, sizeof(f), "in/#");
            snprintf(t, sizeof(t), "loop/x");
            dst = MQG_INTERNAL;
        } else if (i == n + 1) {
            snprintf(f, sizeof(f), "loop/#");
            snprintf(t, sizeof(t), "loop/x");
            src = dst = MQG_INTERNAL;
        } else if (i == n + 2) {
            snprintf(f, sizeof(f), "+name/r");
            snprintf(t, sizeof(t), "{name}");
        }
        struct mqg_route *r = &m->routes[i];
        r->name = s_dup(f);
        r->sources = calloc(1, sizeof(*r->sources));
        assert_non_null(r->sources);
        r->sources[0] = (struct mqg_source){src, s_dup(f), 1, NULL};
        r->n_sources = 1;
        r->target = (struct mqg_target){dst, s_dup(t), 1, false};
    }
    m->n_routes = total;
}

static void s_deliver(void *arg, int conn, const struct mqg_wire_rec *copy)
{
    (*(int *)arg)++;
}

static void s_send(struct mqg_route_table *t, const char *topic, size_t payload_len)
{
    static const char payload[64];
    int copies = 0;
    struct mqg_route_sink sink = {.deliver = s_deliver, .arg = &copies};
    struct mqg_wire_rec rec = {
        .topic = topic, .topic_len = strlen(topic), .payload = payload, .payload_len = payload_len};
    assert_true(mqg_route_dispatch(t, 0, &rec, &sink) >= 0);
}

static void test_route_counts(void **state)
{
    (void)state;
    struct mqg_model m;
    s_model(&m, 2, true);
    struct mqg_route_table *t;
    assert_int_equal(mqg_route_table_new(&m, NULL, NULL, &t, NULL), 0);
    assert_int_equal(mqg_route_table_size(t), 5);
    for (int i = 0; i < 3; i++) {
        s_send(t, "t/0", 10);
    }
    s_send(t, "in/a", 7); /* route 2, then route 3 matched again down to the depth bound */
    s_send(t, "/r", 4);   /* route 4: "{name}" with name "": not rendered */
    s_send(t, "none", 4); /* unrouted */
    const struct mqg_route_stats *st = mqg_route_table_stats(t, 0);
    assert_int_equal(st->in, 3);
    assert_int_equal(st->in_bytes, 30);
    assert_int_equal(st->out, 3);
    assert_int_equal(st->out_bytes, 30);
    assert_int_equal(mqg_route_table_stats(t, 1)->in, 0);
    st = mqg_route_table_stats(t, 2);
    assert_int_equal(st->in, 1);
    assert_int_equal(st->out, 1);
    st = mqg_route_table_stats(t, 3); /* levels 1..7 fire it; the 7th copy would go too deep */
    assert_int_equal(st->in, MQG_ROUTE_MAX_DEPTH - 1);
    assert_int_equal(st->in_bytes, 7 * (MQG_ROUTE_MAX_DEPTH - 1));
    assert_int_equal(st->out, MQG_ROUTE_MAX_DEPTH - 2);
    assert_int_equal(st->loops, 1);
    assert_int_equal(mqg_route_table_counters(t)->loops, 1);
    st = mqg_route_table_stats(t, 4);
    assert_int_equal(st->in, 1);
    assert_int_equal(st->out, 0);
    assert_int_equal(st->render_failed, 1);
    assert_null(mqg_route_table_stats(t, 5));
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

static void test_reports(void **state)
{
    (void)state;
    struct mqg_model m;
    s_model(&m, 3, false);
    struct mqg_route_table *t;
    assert_int_equal(mqg_route_table_new(&m, NULL, NULL, &t, NULL), 0);
    struct mqg_rstats r;
    assert_int_equal(mqg_rstats_init(&r, 3), 0);
    struct mqg_route_stats sup[3];
    memset(sup, 0xff, sizeof(sup)); /* what a supervisor held for an earlier router */
    const uint8_t *body;
    size_t len = mqg_rstats_encode(&r, t, 4096, &body);
    assert_int_equal(len, 6); /* nothing counted yet, but the first report resets */
    assert_int_equal(body[1], MQG_RSTATS_F_RESET);
    assert_int_equal(mqg_rstats_apply(body, len, sup, 3), 0);
    mqg_rstats_commit(&r, t);
    assert_int_equal(sup[0].in, 0);
    assert_int_equal(sup[2].out_bytes, 0);
    assert_int_equal(mqg_rstats_encode(&r, t, 4096, &body), 0); /* nothing new */

    s_send(t, "t/1", 300);
    len = mqg_rstats_encode(&r, t, 4096, &body);
    assert_true(len > 6);
    assert_int_equal(body[1], 0);
    /* not sent (channel full): nothing committed, the next report carries it again */
    s_send(t, "t/1", 300);
    len = mqg_rstats_encode(&r, t, 4096, &body);
    assert_int_equal(mqg_rstats_apply(body, len, sup, 3), 0);
    mqg_rstats_commit(&r, t);
    assert_int_equal(sup[1].in, 2);
    assert_int_equal(sup[1].in_bytes, 600);
    assert_int_equal(sup[1].out, 2);
    assert_int_equal(mqg_rstats_encode(&r, t, 4096, &body), 0);

    /* a report for another number of routes, or a cut one, changes nothing */
    s_send(t, "t/2", 1);
    len = mqg_rstats_encode(&r, t, 4096, &body);
    assert_int_equal(mqg_rstats_apply(body, len, sup, 2), -EPROTO);
    assert_int_equal(mqg_rstats_apply(body, len - 1, sup, 3), -EPROTO);
    assert_int_equal(mqg_rstats_apply(body, 3, sup, 3), -EPROTO);
    assert_int_equal(sup[2].in, 0);
    assert_int_equal(mqg_rstats_apply(body, len, sup, 3), 0);
    assert_int_equal(sup[2].in, 1);
    mqg_rstats_free(&r);
    mqg_rstats_free(&r); /* twice: NULL-safe */
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Many busy routes, small reports: each report stops where it is full, the next goes on from
 * there, and after enough of them the supervisor has every route. */
static void test_bounded_reports_go_round(void **state)
{
    (void)state;
    enum { N = 300 };
    struct mqg_model m;
    s_model(&m, N, false);
    struct mqg_route_table *t;
    assert_int_equal(mqg_route_table_new(&m, NULL, NULL, &t, NULL), 0);
    struct mqg_rstats r;
    assert_int_equal(mqg_rstats_init(&r, N), 0);
    for (size_t i = 0; i < N; i++) {
        char topic[16];
        snprintf(topic, sizeof(topic), "t/%zu", i);
        for (size_t k = 0; k <= i % 5; k++) {
            s_send(t, topic, 1000 + i);
        }
    }
    struct mqg_route_stats *sup = calloc(N, sizeof(*sup));
    assert_non_null(sup);
    int reports = 0;
    const uint8_t *body;
    size_t len;
    while ((len = mqg_rstats_encode(&r, t, 128, &body)) > 0) {
        assert_true(len <= 128);
        assert_int_equal(mqg_rstats_apply(body, len, sup, N), 0);
        mqg_rstats_commit(&r, t);
        reports++;
        assert_true(reports < 100);
    }
    assert_true(reports > 10);
    for (size_t i = 0; i < N; i++) {
        assert_memory_equal(&sup[i], mqg_route_table_stats(t, i), sizeof(sup[i]));
        assert_int_equal(sup[i].in, i % 5 + 1);
        assert_int_equal(sup[i].in_bytes, (i % 5 + 1) * (1000 + i));
    }
    free(sup);
    mqg_rstats_free(&r);
    mqg_route_table_destroy(&t);
    mqg_model_free(&m);
}

/* Rows keyed by rid (the rules process's): big keys, rows the supervisor does not know are
 * skipped, reset zeroes, a cut report changes nothing. */
struct s_keyed {
    uint64_t rid[3];
    struct mqg_rule_stats st[3];
    int resets;
};

static bool s_keyed_row(const void *src, size_t i, uint64_t *key, uint64_t row[MQG_RSTATS_FIELDS])
{
    const struct s_keyed *k = src;
    *key = k->rid[i];
    memcpy(row, &k->st[i], sizeof(k->st[i]));
    return true;
}

static void *s_keyed_find(void *dst, uint64_t key)
{
    struct s_keyed *k = dst;
    for (size_t i = 0; i < 3; i++) {
        if (k->rid[i] == key) {
            return &k->st[i];
        }
    }
    return NULL;
}

static void s_keyed_reset(void *dst)
{
    struct s_keyed *k = dst;
    memset(k->st, 0, sizeof(k->st));
    k->resets++;
}

static void test_keyed_reports(void **state)
{
    (void)state;
    struct s_keyed src = {.rid = {0xffffffffffffff01ull, 7, 0x2f2af7e053472efeull}};
    src.st[0] = (struct mqg_rule_stats){.in = 3, .out = 2, .not_json = 1};
    src.st[2] = (struct mqg_rule_stats){.in = 5, .out = 2, .filtered = 3};
    /* the supervisor knows rows 0 and 2 (its model), not 7; it held old values */
    struct s_keyed sup = {.rid = {0xffffffffffffff01ull, 99, 0x2f2af7e053472efeull}};
    sup.st[1].in = 42;
    struct mqg_rstats r;
    assert_int_equal(mqg_rstats_init(&r, 3), 0);
    const uint8_t *body;
    size_t len = mqg_rstats_encode_rows(&r, s_keyed_row, &src, 4096, &body);
    assert_true(len > 6);
    assert_int_equal(mqg_rstats_apply_keyed(body, len - 1, s_keyed_reset, s_keyed_find, &sup),
                     -EPROTO);
    assert_int_equal(sup.resets, 0);
    assert_int_equal(sup.st[1].in, 42);
    assert_int_equal(mqg_rstats_apply_keyed(body, len, s_keyed_reset, s_keyed_find, &sup), 0);
    mqg_rstats_commit_rows(&r);
    assert_int_equal(sup.resets, 1);
    assert_memory_equal(&sup.st[0], &src.st[0], sizeof(src.st[0]));
    assert_memory_equal(&sup.st[2], &src.st[2], sizeof(src.st[2]));
    assert_int_equal(sup.st[1].in, 0); /* reset; row 7 was not stored anywhere */
    /* only what changed, no reset any more */
    assert_int_equal(mqg_rstats_encode_rows(&r, s_keyed_row, &src, 4096, &body), 0);
    src.st[2].error++;
    len = mqg_rstats_encode_rows(&r, s_keyed_row, &src, 4096, &body);
    assert_int_equal(body[1], 0);
    assert_int_equal(mqg_rstats_apply_keyed(body, len, s_keyed_reset, s_keyed_find, &sup), 0);
    mqg_rstats_commit_rows(&r);
    assert_int_equal(sup.resets, 1);
    assert_int_equal(sup.st[2].error, 1);
    /* a router's report (index keys) is no keyed report for a table of another size */
    assert_int_equal(mqg_rstats_apply(body, len, (struct mqg_route_stats *)sup.st, 2), -EPROTO);
    mqg_rstats_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_counts),
        cmocka_unit_test(test_reports),
        cmocka_unit_test(test_bounded_reports_go_round),
        cmocka_unit_test(test_keyed_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
