/* test_subs — minimal subscription sets: nothing subscribed twice, nothing overlapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_subs.h"
#include "mqg_topic.h"

struct sub_case {
    const char *in[6];
    int qos[6];
    const char *out[6];
    int out_qos[6];
};

static void s_check(const struct sub_case *c)
{
    struct mqg_sub subs[6];
    size_t n = 0;
    while (n < 6 && c->in[n]) {
        subs[n].filter = strdup(c->in[n]);
        subs[n].qos = c->qos[n];
        n++;
    }
    size_t k = mqg_subs_minimize(subs, n);
    size_t want = 0;
    while (want < 6 && c->out[want]) {
        want++;
    }
    if (k != want) {
        fail_msg("minimize(%s, ...) kept %zu filters, want %zu (first: %s)", c->in[0], k, want,
                 k ? subs[0].filter : "-");
    }
    for (size_t i = 0; i < k; i++) {
        assert_string_equal(subs[i].filter, c->out[i]);
        assert_int_equal(subs[i].qos, c->out_qos[i]);
    }
    /* whatever is left: no two filters can match one topic */
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < k; j++) {
            if (i != j) {
                assert_false(mqg_topic_covers(subs[i].filter, subs[j].filter));
            }
        }
    }
    for (size_t i = 0; i < k; i++) {
        free(subs[i].filter);
    }
}

static void test_minimize(void **state)
{
    (void)state;
    static const struct sub_case cases[] = {
        {{"a/b", "a/#"}, {2, 0}, {"a/#"}, {2}},
        {{"a/b", "c/d"}, {0, 1}, {"a/b", "c/d"}, {0, 1}},
        {{"a/b", "a/b", "a/b"}, {0, 1, 0}, {"a/b"}, {1}},
        {{"x/1", "x/+", "y"}, {1, 0, 0}, {"x/+", "y"}, {1, 0}},
        /* overlapping, neither covers: joined */
        {{"a/+/c", "a/b/+"}, {0, 2}, {"a/+/+"}, {2}},
        {{"a/+", "a/b/#"}, {1, 0}, {"a/+/#"}, {1}},
        {{"+/b", "a/+"}, {0, 0}, {"+/+"}, {0}},
        /* the join then covers a third filter */
        {{"a/+/c", "a/b/+", "a/x/y"}, {0, 0, 1}, {"a/+/+"}, {1}},
        /* "#" and "+/#" match the same topics: one stays */
        {{"#", "+/#"}, {0, 1}, {"#"}, {1}},
        /* '$' topics are not matched by a leading wildcard: no overlap */
        {{"$SYS/x", "#"}, {0, 0}, {"$SYS/x", "#"}, {0, 0}},
        {{"$SYS/+", "+/x"}, {0, 0}, {"$SYS/+", "+/x"}, {0, 0}},
        /* same length, different literals: no overlap */
        {{"a/b/c", "a/b/d"}, {0, 0}, {"a/b/c", "a/b/d"}, {0, 0}},
        /* different lengths without '#': no overlap */
        {{"a/+", "a/b/c"}, {0, 0}, {"a/+", "a/b/c"}, {0, 0}},
        {{NULL}, {0}, {NULL}, {0}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s_check(&cases[i]);
    }
}

static void test_for_conn_uses_plain_filters_of_that_connection(void **state)
{
    (void)state;
    struct mqg_source s1[] = {{0, "factory/+line/#rest", 1}, {1, "other/x", 0}};
    struct mqg_source s2[] = {{0, "factory/line1/temp", 2}};
    struct mqg_source s3[] = {{MQG_INTERNAL, "services/x/y", 0}};
    struct mqg_route routes[] = {
        {"r1", s1, 2, {MQG_INTERNAL, "t", 0, false}},
        {"r2", s2, 1, {MQG_INTERNAL, "t", 0, false}},
        {"r3", s3, 1, {1, "t", 0, false}},
    };
    struct mqg_model m = {0};
    m.routes = routes;
    m.n_routes = 3;
    struct mqg_sub *subs;
    size_t n;
    assert_int_equal(mqg_subs_for_conn(&m, 0, &subs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(subs[0].filter, "factory/+/#");
    assert_int_equal(subs[0].qos, 2);
    mqg_subs_free(subs, n);
    assert_int_equal(mqg_subs_for_conn(&m, 1, &subs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(subs[0].filter, "other/x");
    mqg_subs_free(subs, n);
    assert_int_equal(mqg_subs_for_conn(&m, 2, &subs, &n), 0);
    assert_int_equal(n, 0);
    mqg_subs_free(subs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimize),
        cmocka_unit_test(test_for_conn_uses_plain_filters_of_that_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
