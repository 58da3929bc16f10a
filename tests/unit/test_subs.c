/* test_subs — minimal subscription sets: nothing subscribed twice, nothing overlapping.
 *
 * Hand-written cases; 10,000 distinct and overlapping filters (the size that used to take
 * minutes); and random small sets compared with the pairwise algorithm mqg_subs used before
 * (quadratic per join, kept below verbatim as the reference model).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_subs.h"
#include "mqg_topic.h"
#include "mqg_trie.h"

/* ---- the reference model: mqg_subs_minimize() as it was, O(n^2) per join ---- */

/* Length of the level starting at f. */
static size_t ref_lvl(const char *f)
{
    return strcspn(f, "/");
}

static bool ref_is(const char *lvl, size_t len, char c)
{
    return len == 1 && lvl[0] == c;
}

/* Can one topic match both plain filters a and b? (Topics starting with '$' are not matched
 * by a leading wildcard, so "+/x" and "$SYS/x" never overlap.) */
static bool ref_overlap(const char *a, const char *b)
{
    for (int level = 0;; level++) {
        size_t la = ref_lvl(a), lb = ref_lvl(b);
        bool wa = ref_is(a, la, '+') || ref_is(a, la, '#');
        bool wb = ref_is(b, lb, '+') || ref_is(b, lb, '#');
        if (level == 0 && ((wa && !wb && b[0] == '$') || (wb && !wa && a[0] == '$'))) {
            return false;
        }
        if (ref_is(a, la, '#') || ref_is(b, lb, '#')) {
            return true;
        }
        if (!wa && !wb && (la != lb || memcmp(a, b, la) != 0)) {
            return false;
        }
        a += la;
        b += lb;
        if (!*a || !*b) {
            /* one ended: they overlap if both ended, or the other goes on with just "/#" */
            const char *rest = *a ? a : b;
            return !*rest || strcmp(rest, "/#") == 0;
        }
        a++;
        b++;
    }
}

/* The narrowest filter that covers both a and b (levels that differ become '+', a '#' or
 * a longer side ends it with '#'). Caller frees; NULL on allocation failure. */
static char *ref_join(const char *a, const char *b)
{
    char *out = malloc(strlen(a) + strlen(b) + 3);
    if (!out) {
        return NULL;
    }
    size_t o = 0;
    for (;;) {
        size_t la = ref_lvl(a), lb = ref_lvl(b);
        if (ref_is(a, la, '#') || ref_is(b, lb, '#')) {
            out[o++] = '#';
            break;
        }
        if (la == lb && memcmp(a, b, la) == 0) {
            memcpy(out + o, a, la);
            o += la;
        } else {
            out[o++] = '+';
        }
        a += la;
        b += lb;
        if (!*a && !*b) {
            break;
        }
        out[o++] = '/';
        if (!*a || !*b) {
            out[o++] = '#';
            break;
        }
        a++;
        b++;
    }
    out[o] = '\0';
    return out;
}

/* One pass: drop every filter covered by another. Returns true if something changed. */
static bool ref_drop_covered(struct mqg_sub *subs, size_t n, bool *gone)
{
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n && !gone[i]; j++) {
            if (i == j || gone[j]) {
                continue;
            }
            /* equal filters: the first one stays */
            bool equal = strcmp(subs[i].filter, subs[j].filter) == 0;
            if ((equal && j > i) || (!equal && mqg_topic_covers(subs[i].filter, subs[j].filter))) {
                if (subs[j].qos > subs[i].qos) {
                    subs[i].qos = subs[j].qos;
                }
                gone[j] = true;
                changed = true;
            }
        }
    }
    return changed;
}

/* One pass: merge the first two overlapping filters into their join. */
static bool ref_join_overlapping(struct mqg_sub *subs, size_t n, bool *gone)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n && !gone[i]; j++) {
            if (gone[j] || !ref_overlap(subs[i].filter, subs[j].filter)) {
                continue;
            }
            char *joined = ref_join(subs[i].filter, subs[j].filter);
            if (!joined) {
                return false;
            }
            free(subs[i].filter);
            subs[i].filter = joined;
            if (subs[j].qos > subs[i].qos) {
                subs[i].qos = subs[j].qos;
            }
            gone[j] = true;
            return true;
        }
    }
    return false;
}

size_t ref_minimize(struct mqg_sub *subs, size_t n)
{
    bool *gone = calloc(n ? n : 1, sizeof(*gone));
    if (!gone) {
        return n; /* not minimal, still correct */
    }
    /* Overlapping filters that do not cover each other ("a/+/c", "a/b/+") would make the
     * broker send a message matching both twice: they are replaced by one filter covering
     * both ("a/+/+"); the router drops what no route asked for. */
    do {
        ref_drop_covered(subs, n, gone);
    } while (ref_join_overlapping(subs, n, gone));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (gone[i]) {
            free(subs[i].filter);
        } else {
            subs[k++] = subs[i];
        }
    }
    free(gone);
    return k;
}

static void s_free_entries(struct mqg_sub *subs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(subs[i].filter);
    }
}

/* ---- tests ---- */

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
    struct mqg_source s1[] = {{0, "factory/+line/#rest", 1, NULL}, {1, "other/x", 0, NULL}};
    struct mqg_source s2[] = {{0, "factory/line1/temp", 2, NULL}};
    struct mqg_source s3[] = {{MQG_INTERNAL, "services/x/y", 0, NULL}};
    struct mqg_route routes[] = {
        {"r1", s1, 2, {MQG_INTERNAL, "t", 0, false}, NULL, NULL, 0, NULL},
        {"r2", s2, 1, {MQG_INTERNAL, "t", 0, false}, NULL, NULL, 0, NULL},
        {"r3", s3, 1, {1, "t", 0, false}, NULL, NULL, 0, NULL},
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

/* The internal broker's connection subscribes what the internal namespace's sources need, and
 * nothing of the other connections. */
static void test_for_conn_internal_broker(void **state)
{
    (void)state;
    struct mqg_source s1[] = {{0, "factory/#", 1, NULL}};
    struct mqg_source s2[] = {{MQG_INTERNAL, "services/x/w/set", 1, NULL},
                              {MQG_INTERNAL, "plain/+a/b", 0, NULL}};
    struct mqg_source s3[] = {{MQG_INTERNAL, "plain/#", 2, NULL}};
    struct mqg_route routes[] = {
        {"r1", s1, 1, {MQG_INTERNAL, "services/x/e", 1, false}, NULL, NULL, 0, NULL},
        {"r2", s2, 2, {0, "out", 0, false}, NULL, NULL, 0, NULL},
        {"r3", s3, 1, {0, "out2", 0, false}, NULL, NULL, 0, NULL},
    };
    struct mqg_connection conns[2] = {{.key = "s/c0"}, {.key = "mqgate/internal-broker"}};
    conns[1].internal_broker = true;
    struct mqg_model m = {0};
    m.conns = conns;
    m.n_conns = 2;
    m.routes = routes;
    m.n_routes = 3;
    struct mqg_sub *subs;
    size_t n;
    assert_int_equal(mqg_subs_for_conn(&m, 1, &subs, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(subs[0].filter, "services/x/w/set");
    assert_int_equal(subs[0].qos, 1);
    assert_string_equal(subs[1].filter, "plain/#"); /* covers plain/+/b */
    assert_int_equal(subs[1].qos, 2);
    mqg_subs_free(subs, n);
    assert_int_equal(mqg_subs_for_conn(&m, 0, &subs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(subs[0].filter, "factory/#");
    mqg_subs_free(subs, n);
}

/* 10,000 filters of one connection: lines of 20 machines; in every 50th line a wildcard
 * covers the machines' topics and a filter overlapping it is joined with it; every 100th line
 * ends in a "#" filter; everything given twice, the second time in reverse order. */
#define BIG_N 10000
#define BIG_LINE 20

static void s_big_filter(size_t i, char *buf, size_t cap)
{
    size_t line = i / BIG_LINE;
    if (i % 1000 == 7) {
        snprintf(buf, cap, "site/line%zu/+/temp", line);
    } else if (i % 1000 == 8) {
        snprintf(buf, cap, "site/line%zu/m%zu/+", line, i - 1);
    } else if (i % 2000 == 1999) {
        snprintf(buf, cap, "site/line%zu/#", line);
    } else {
        snprintf(buf, cap, "site/line%zu/m%zu/temp", line, i);
    }
}

/* What the filters of line `line` become. */
static void s_big_expected(size_t line, size_t i, char *buf, size_t cap)
{
    if (line % 50 == 0) {
        snprintf(buf, cap, "site/line%zu/+/+", line);
    } else if (line % 100 == 99) {
        snprintf(buf, cap, "site/line%zu/#", line);
    } else {
        snprintf(buf, cap, "site/line%zu/m%zu/temp", line, i);
    }
}

static int s_big_qos(size_t i)
{
    return i % 7 == 0 ? 2 : (int)(i % 2);
}

static void s_hit_count(void *value, void *arg)
{
    (void)value;
    (*(size_t *)arg)++;
}

static void test_minimize_10000_filters(void **state)
{
    (void)state;
    size_t n = 2 * BIG_N;
    struct mqg_sub *subs = calloc(n, sizeof(*subs));
    assert_non_null(subs);
    char buf[128];
    for (size_t k = 0; k < n; k++) {
        size_t i = k < BIG_N ? k : n - 1 - k;
        s_big_filter(i, buf, sizeof(buf));
        subs[k].filter = strdup(buf);
        subs[k].qos = s_big_qos(i);
        assert_non_null(subs[k].filter);
    }
    size_t k = mqg_subs_minimize(subs, n);
    /* 500 lines: 10 joined, 5 covered by '#', 485 of 20 literal topics */
    assert_int_equal(k, 10 + 5 + 485 * BIG_LINE);
    /* in the order of the first filter of each: line by line, machine by machine */
    size_t out = 0;
    for (size_t i = 0; i < BIG_N; i++) {
        size_t line = i / BIG_LINE;
        if ((line % 50 == 0 || line % 100 == 99) && i % BIG_LINE != 0) {
            continue;
        }
        s_big_expected(line, i, buf, sizeof(buf));
        assert_string_equal(subs[out].filter, buf);
        int qos = s_big_qos(i);
        for (size_t j = i; (line % 50 == 0 || line % 100 == 99) && j / BIG_LINE == line; j++) {
            qos = s_big_qos(j) > qos ? s_big_qos(j) : qos; /* the highest of the group */
        }
        assert_int_equal(subs[out].qos, qos);
        out++;
    }
    assert_int_equal(out, k);
    /* nothing overlaps anything else */
    struct mqg_trie *t = mqg_trie_new();
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(mqg_trie_add(t, subs[i].filter, subs), 0);
    }
    for (size_t i = 0; i < k; i++) {
        size_t hits = 0;
        mqg_trie_overlaps(t, subs[i].filter, s_hit_count, &hits);
        assert_int_equal(hits, 1);
    }
    mqg_trie_destroy(&t);
    mqg_subs_free(subs, k);
}

static void s_count_calls(void *arg)
{
    (*(size_t *)arg)++;
}

/* A connection with many routes: the progress callback (a child's heartbeat) is called at
 * least every 256 routes and every 256 filters. */
static void test_for_conn_reports_progress(void **state)
{
    (void)state;
    enum { ROUTES = 3000 };
    struct mqg_source *src = calloc(ROUTES, sizeof(*src));
    struct mqg_route *routes = calloc(ROUTES, sizeof(*routes));
    char(*filters)[32] = calloc(ROUTES, 32);
    assert_true(src && routes && filters);
    for (size_t i = 0; i < ROUTES; i++) {
        snprintf(filters[i], 32, "a/%zu/b", i);
        src[i] = (struct mqg_source){0, filters[i], 1, NULL};
        routes[i] =
            (struct mqg_route){"r", &src[i], 1, {MQG_INTERNAL, "t", 0, false}, NULL, NULL, 0, NULL};
    }
    struct mqg_model m = {0};
    m.routes = routes;
    m.n_routes = ROUTES;
    struct mqg_sub *subs;
    size_t n;
    size_t calls = 0;
    assert_int_equal(mqg_subs_for_conn_progress(&m, 0, s_count_calls, &calls, &subs, &n), 0);
    assert_int_equal(n, ROUTES);
    assert_true(calls >= 2 * (ROUTES / 256));
    mqg_subs_free(subs, n);
    free(filters);
    free(routes);
    free(src);
}

/* xorshift64: deterministic random inputs */
static uint64_t s_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static int s_cmp_sub(const void *a, const void *b)
{
    const struct mqg_sub *x = a;
    const struct mqg_sub *y = b;
    int c = strcmp(x->filter, y->filter);
    return c ? c : x->qos - y->qos;
}

/* Random sets of up to 12 filters of up to 4 levels, compared with the reference model: the
 * same filters with the same QoS (the order may differ: the reference keeps each joined
 * filter where the last cover or join put it).
 *
 * Not the filter "/#": it matches only topics of two or more levels (its parent, the topic "",
 * is not valid), so it is the same as "/+/#" but joins wider ("/#" and "+/+//a" join into
 * "+/#", "/+/#" and "+/+//a" into "+/+/#"), and what it becomes depends on the order of the
 * joins, in the reference as here. The reference also takes it to overlap "+" (no topic
 * matches both); here it does not. */
static void test_minimize_equals_reference_model(void **state)
{
    (void)state;
    static const char *const lv[] = {"a", "b", "+", "+", "#", "$s", ""};
    uint64_t rng = 0x5eed5eed12345ull;
    size_t compared = 0;
    size_t joined = 0;
    for (int round = 0; round < 50000; round++) {
        struct mqg_sub a[12];
        struct mqg_sub b[12];
        size_t n = 1 + s_rand(&rng) % 12;
        for (size_t i = 0; i < n; i++) {
            char f[32] = "";
            size_t levels = 1 + s_rand(&rng) % 4;
            for (size_t l = 0; l < levels; l++) {
                const char *x = lv[s_rand(&rng) % 7];
                if (x[0] == '#' && l + 1 < levels) {
                    x = "+";
                }
                strcat(f, l ? "/" : "");
                strcat(f, x);
            }
            if (!mqg_topic_valid_filter(f) || strcmp(f, "/#") == 0) {
                strcpy(f, "a"); /* the empty filter; "/#": see above */
            }
            a[i].filter = strdup(f);
            b[i].filter = strdup(f);
            a[i].qos = b[i].qos = (int)(s_rand(&rng) % 3);
        }
        char in[12 * 32] = ""; /* the input, for the failure message */
        for (size_t i = 0; i < n; i++) {
            strcat(strcat(in, " "), a[i].filter);
        }
        size_t ka = mqg_subs_minimize(a, n);
        size_t kb = ref_minimize(b, n);
        qsort(a, ka, sizeof(*a), s_cmp_sub);
        qsort(b, kb, sizeof(*b), s_cmp_sub);
        bool same = ka == kb;
        for (size_t i = 0; same && i < ka; i++) {
            same = strcmp(a[i].filter, b[i].filter) == 0 && a[i].qos == b[i].qos;
        }
        if (!same) {
            for (size_t i = 0; i < ka || i < kb; i++) {
                print_message("  %s (qos %d)   reference: %s (qos %d)\n",
                              i < ka ? a[i].filter : "-", i < ka ? a[i].qos : -1,
                              i < kb ? b[i].filter : "-", i < kb ? b[i].qos : -1);
            }
            fail_msg("round %d, input%s: %zu filters kept, the reference keeps %zu", round, in, ka,
                     kb);
        }
        compared++;
        joined += ka < n;
        s_free_entries(a, ka);
        s_free_entries(b, kb);
    }
    assert_true(joined > compared / 4); /* not trivially disjoint */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimize),
        cmocka_unit_test(test_for_conn_uses_plain_filters_of_that_connection),
        cmocka_unit_test(test_for_conn_internal_broker),
        cmocka_unit_test(test_minimize_10000_filters),
        cmocka_unit_test(test_for_conn_reports_progress),
        cmocka_unit_test(test_minimize_equals_reference_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
