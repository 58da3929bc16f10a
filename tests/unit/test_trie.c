/* test_trie — unit tests of mqg_trie: add, match (MQTT 3.1.1 edge cases), duplicates, size,
 * remove, overlaps.
 *
 * Besides the hand-written cases, the trie is compared with mqg_topic_match() over every
 * filter and topic of a small universe, and with many literal siblings (binary search); the
 * overlap search is compared with "some topic of the universe matches both filters".
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

#include "mqg_topic.h"
#include "mqg_trie.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_HITS 4096

/* Values are small integers cast to pointers; hits are counted per value. */
struct hits {
    size_t n;
    unsigned count[MAX_HITS];
};

static void s_collect(void *value, void *arg)
{
    struct hits *h = arg;
    uintptr_t v = (uintptr_t)value;
    assert_true(v < MAX_HITS);
    h->count[v]++;
    h->n++;
}

static void *s_val(uintptr_t v)
{
    return (void *)v;
}

/* Match topic and check the returned count equals the number of callbacks. */
static void s_match(const struct mqg_trie *t, const char *topic, struct hits *h)
{
    memset(h, 0, sizeof(*h));
    size_t n = mqg_trie_match(t, topic, s_collect, h);
    assert_int_equal(n, h->n);
}

static void test_new_destroy(void **state)
{
    (void)state;
    struct mqg_trie *t = mqg_trie_new();
    assert_non_null(t);
    assert_int_equal(mqg_trie_size(t), 0);
    struct hits h;
    s_match(t, "a", &h);
    assert_int_equal(h.n, 0);
    mqg_trie_destroy(&t);
    assert_null(t);
    mqg_trie_destroy(&t);
    mqg_trie_destroy(NULL);
    assert_int_equal(mqg_trie_size(NULL), 0);
    assert_int_equal(mqg_trie_match(NULL, "a", s_collect, &h), 0);
}

static void test_add_invalid(void **state)
{
    (void)state;
    struct mqg_trie *t = mqg_trie_new();
    static const char *const bad[] = {"", "a#", "a/#/b", "#/a", "a+", "+a/b", "a/b#", "\xff"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        assert_int_equal(mqg_trie_add(t, bad[i], s_val(1)), -EINVAL);
    }
    assert_int_equal(mqg_trie_add(t, NULL, s_val(1)), -EINVAL);
    assert_int_equal(mqg_trie_add(NULL, "a", s_val(1)), -EINVAL);
    assert_int_equal(mqg_trie_size(t), 0);
    struct hits h;
    s_match(t, "a", &h);
    assert_int_equal(h.n, 0);
    mqg_trie_destroy(&t);
}

/* Filters with value = index + 1; each case lists the values a topic must hit. */
static const char *const s_filters[] = {
    "#",      /* 1 */
    "+",      /* 2 */
    "a",      /* 3 */
    "a/#",    /* 4 */
    "a/+",    /* 5 */
    "a/b",    /* 6 */
    "a/b/#",  /* 7 */
    "+/b",    /* 8 */
    "+/+",    /* 9 */
    "$SYS/#", /* 10 */
    "$SYS/+", /* 11 */
    "/",      /* 12 */
    "/#",     /* 13 */
    "a//b",   /* 14 */
    "a/+/b",  /* 15 */
    "+/#",    /* 16 */
    "$SYS",   /* 17 */
    "",       /* invalid, never added */
};

struct match_case {
    const char *topic;
    unsigned want[20]; /* values, 0-terminated */
};

static const struct match_case s_cases[] = {
    {"a", {1, 2, 3, 4, 16}},
    {"a/b", {1, 4, 5, 6, 7, 8, 9, 16}},
    {"a/b/c", {1, 4, 7, 16}},
    {"a/", {1, 4, 5, 9, 16}},
    {"a//b", {1, 4, 14, 15, 16}},
    {"/", {1, 9, 12, 13, 16}},
    {"/b", {1, 8, 9, 13, 16}},
    {"//", {1, 13, 16}},
    {"b", {1, 2, 16}},
    {"b/c/d", {1, 16}},
    {"$SYS", {10, 17}},
    {"$SYS/x", {10, 11}},
    {"$SYS/x/y", {10}},
    {"$SYS/b", {10, 11}}, /* not "+/b", "+/+" */
    {"$other", {0}},
    {"x/$SYS", {1, 9, 16}}, /* '$' only matters in the first level */
    {"ab", {1, 2, 16}},
    {"A", {1, 2, 16}},
    {"", {0}},
};

static void s_check_case(const struct mqg_trie *t, const struct match_case *c)
{
    struct hits h;
    s_match(t, c->topic, &h);
    size_t nwant = 0;
    for (size_t j = 0; c->want[j]; j++) {
        nwant++;
        if (h.count[c->want[j]] != 1) {
            fail_msg("topic \"%s\": value %u hit %u times, want 1", c->topic, c->want[j],
                     h.count[c->want[j]]);
        }
    }
    if (h.n != nwant) {
        fail_msg("topic \"%s\": %zu hits, want %zu", c->topic, h.n, nwant);
    }
}

static void test_match_cases(void **state)
{
    (void)state;
    struct mqg_trie *t = mqg_trie_new();
    size_t added = 0;
    for (size_t i = 0; i < N_ELEMS(s_filters); i++) {
        int rc = mqg_trie_add(t, s_filters[i], s_val(i + 1));
        assert_int_equal(rc, mqg_topic_valid_filter(s_filters[i]) ? 0 : -EINVAL);
        added += rc == 0;
    }
    assert_int_equal(mqg_trie_size(t), added);
    assert_int_equal(added, 17);
    for (size_t i = 0; i < N_ELEMS(s_cases); i++) {
        s_check_case(t, &s_cases[i]);
    }
    assert_int_equal(mqg_trie_match(t, NULL, s_collect, NULL), 0);
    mqg_trie_destroy(&t);
}

/* Insertion order must not change the result (sorted children). */
static void test_match_cases_reversed(void **state)
{
    (void)state;
    struct mqg_trie *t = mqg_trie_new();
    for (size_t i = N_ELEMS(s_filters); i-- > 0;) {
        (void)mqg_trie_add(t, s_filters[i], s_val(i + 1));
    }
    for (size_t i = 0; i < N_ELEMS(s_cases); i++) {
        s_check_case(t, &s_cases[i]);
    }
    mqg_trie_destroy(&t);
}

static void test_duplicates(void **state)
{
    (void)state;
    struct mqg_trie *t = mqg_trie_new();
    struct hits h;
    /* the same pair twice is stored twice */
    assert_int_equal(mqg_trie_add(t, "a/b", s_val(7)), 0);
    assert_int_equal(mqg_trie_add(t, "a/b", s_val(7)), 0);
    /* the same value under two matching filters is reported twice */
    assert_int_equal(mqg_trie_add(t, "a/#", s_val(8)), 0);
    assert_int_equal(mqg_trie_add(t, "+/b", s_val(8)), 0);
    /* several values under one filter */
    assert_int_equal(mqg_trie_add(t, "a/b", s_val(9)), 0);
    assert_int_equal(mqg_trie_size(t), 5);
    s_match(t, "a/b", &h);
    assert_int_equal(h.n, 5);
    assert_int_equal(h.count[7], 2);
    assert_int_equal(h.count[8], 2);
    assert_int_equal(h.count[9], 1);
    s_match(t, "a/c", &h);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.count[8], 1);
    /* many values on one node (array growth) */
    for (uintptr_t v = 100; v < 1100; v++) {
        assert_int_equal(mqg_trie_add(t, "x/#", s_val(v)), 0);
    }
    s_match(t, "x", &h);
    assert_int_equal(h.n, 1000);
    for (uintptr_t v = 100; v < 1100; v++) {
        assert_int_equal(h.count[v], 1);
    }
    mqg_trie_destroy(&t);
}

/* Many literal siblings inserted in a scrambled order: every one is found, no other. */
static void test_many_siblings(void **state)
{
    (void)state;
    struct mqg_trie *t = mqg_trie_new();
    const size_t n = 2000;
    char buf[64];
    for (size_t k = 0; k < n; k++) {
        size_t i = (k * 7919) % n; /* 7919 is prime, coprime with n: a permutation */
        snprintf(buf, sizeof(buf), "s/%zu", i);
        assert_int_equal(mqg_trie_add(t, buf, s_val(i + 1)), 0);
    }
    assert_int_equal(mqg_trie_size(t), n);
    struct hits h;
    for (size_t i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "s/%zu", i);
        s_match(t, buf, &h);
        assert_int_equal(h.n, 1);
        assert_int_equal(h.count[i + 1], 1);
    }
    s_match(t, "s/2000", &h);
    assert_int_equal(h.n, 0);
    s_match(t, "s/", &h);
    assert_int_equal(h.n, 0);
    s_match(t, "s", &h);
    assert_int_equal(h.n, 0);
    s_match(t, "s/1/", &h);
    assert_int_equal(h.n, 0);
    mqg_trie_destroy(&t);
}

/* Compare with mqg_topic_match over all filters up to 3 levels and topics up to 4 levels. */
static void s_gen(const char *const *alpha, size_t nalpha, size_t maxdepth, char (*out)[16],
                  size_t *n, size_t max, const char *prefix, size_t depth)
{
    for (size_t i = 0; i < nalpha; i++) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%s%s%s", prefix, depth ? "/" : "", alpha[i]);
        assert_true(*n < max);
        strcpy(out[(*n)++], buf);
        if (depth + 1 < maxdepth) {
            s_gen(alpha, nalpha, maxdepth, out, n, max, buf, depth + 1);
        }
    }
}

static void test_differential(void **state)
{
    (void)state;
    static const char *const flv[] = {"a", "b", "", "$s", "+", "#"};
    static const char *const tlv[] = {"a", "b", "", "$s"};
    enum { MAXN = 400 };
    char(*filters)[16] = calloc(MAXN, 16);
    char(*topics)[16] = calloc(MAXN, 16);
    assert_non_null(filters);
    assert_non_null(topics);
    size_t nf = 0;
    size_t nt = 0;
    s_gen(flv, N_ELEMS(flv), 3, filters, &nf, MAXN, "", 0);
    s_gen(tlv, N_ELEMS(tlv), 4, topics, &nt, MAXN, "", 0);

    struct mqg_trie *t = mqg_trie_new();
    size_t added = 0;
    for (size_t f = 0; f < nf; f++) {
        if (mqg_trie_add(t, filters[f], s_val(f + 1)) == 0) {
            added++;
        }
    }
    assert_int_equal(added, 5 + 5 * 6 + 5 * 5 * 6); /* '#' only last, "" invalid */
    assert_int_equal(mqg_trie_size(t), added);
    struct hits *h = malloc(sizeof(*h));
    assert_non_null(h);
    size_t total = 0;
    for (size_t i = 0; i < nt; i++) {
        s_match(t, topics[i], h);
        total += h->n;
        for (size_t f = 0; f < nf; f++) {
            unsigned want = mqg_topic_match(filters[f], topics[i]) ? 1 : 0;
            if (h->count[f + 1] != want) {
                fail_msg("trie: filter \"%s\" topic \"%s\": %u hits, want %u", filters[f],
                         topics[i], h->count[f + 1], want);
            }
        }
    }
    assert_true(total > nt); /* not trivially empty */
    free(h);
    free(filters);
    free(topics);
    mqg_trie_destroy(&t);
}

/* Overlaps, by hand: the '$' rule, '#' matching its parent level, different lengths. */
static void test_overlaps_cases(void **state)
{
    (void)state;
    struct mqg_trie *t = mqg_trie_new();
    for (size_t i = 0; i < N_ELEMS(s_filters); i++) {
        (void)mqg_trie_add(t, s_filters[i], s_val(i + 1));
    }
    static const struct match_case cases[] = {
        /* values of s_filters overlapping the "topic" (here a filter) */
        {"a", {1, 2, 3, 4, 16}},
        {"a/b/c", {1, 4, 7, 16}},
        {"a/+/c", {1, 4, 7, 16}},
        {"+/b", {1, 4, 5, 6, 7, 8, 9, 13, 16}},
        {"$SYS/x", {10, 11}},
        {"#", {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16}},
        {"$SYS/#", {10, 11, 17}},
        {"/x", {1, 9, 13, 16}},
        {"+", {1, 2, 3, 4, 16}}, /* not "/#": the empty topic is invalid */
        {"x/y/z", {1, 16}},
        {"+/+/+", {1, 4, 7, 13, 14, 15, 16}},
        {"a#", {0}}, /* not a filter */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct hits h;
        memset(&h, 0, sizeof(h));
        size_t n = mqg_trie_overlaps(t, cases[i].topic, s_collect, &h);
        assert_int_equal(n, h.n);
        size_t nwant = 0;
        for (size_t j = 0; cases[i].want[j]; j++, nwant++) {
            if (h.count[cases[i].want[j]] != 1) {
                fail_msg("\"%s\": value %u hit %u times, want 1", cases[i].topic, cases[i].want[j],
                         h.count[cases[i].want[j]]);
            }
        }
        if (h.n != nwant) {
            fail_msg("\"%s\": %zu overlaps, want %zu", cases[i].topic, h.n, nwant);
        }
    }
    assert_int_equal(mqg_trie_overlaps(NULL, "a", s_collect, NULL), 0);
    mqg_trie_destroy(&t);
}

/* Every filter of the universe against every stored one: they overlap exactly when a topic
 * of the universe matches both (it has every level the filters name, up to their depth).
 * Then half of the filters are removed and the other half must still be found. */
static void test_overlaps_differential(void **state)
{
    (void)state;
    static const char *const flv[] = {"a", "b", "", "$s", "+", "#"};
    static const char *const tlv[] = {"a", "b", "", "$s"};
    enum { MAXN = 400 };
    char(*filters)[16] = calloc(MAXN, 16);
    char(*topics)[16] = calloc(MAXN, 16);
    bool *matches = calloc(MAXN * MAXN, sizeof(*matches));
    struct hits *h = malloc(sizeof(*h));
    assert_true(filters && topics && matches && h);
    size_t nf = 0;
    size_t nt = 0;
    s_gen(flv, N_ELEMS(flv), 3, filters, &nf, MAXN, "", 0);
    s_gen(tlv, N_ELEMS(tlv), 3, topics, &nt, MAXN, "", 0);
    for (size_t f = 0; f < nf; f++) {
        for (size_t i = 0; i < nt; i++) {
            matches[f * MAXN + i] = mqg_topic_match(filters[f], topics[i]);
        }
    }
    struct mqg_trie *t = mqg_trie_new();
    for (size_t f = 0; f < nf; f++) {
        (void)mqg_trie_add(t, filters[f], s_val(f + 1));
    }
    for (int round = 0; round < 2; round++) {
        for (size_t q = 0; q < nf; q++) {
            memset(h, 0, sizeof(*h));
            size_t n = mqg_trie_overlaps(t, filters[q], s_collect, h);
            assert_int_equal(n, h->n);
            for (size_t f = 0; f < nf; f++) {
                bool want = false;
                for (size_t i = 0; i < nt && !want; i++) {
                    want = matches[q * MAXN + i] && matches[f * MAXN + i];
                }
                bool stored = mqg_topic_valid_filter(filters[f]) && (round == 0 || f % 2);
                if (h->count[f + 1] != (want && stored)) {
                    fail_msg("round %d: \"%s\" and \"%s\": %u hits, want %d", round, filters[q],
                             filters[f], h->count[f + 1], want && stored);
                }
            }
        }
        for (size_t f = 0; f < nf && round == 0; f += 2) {
            int rc = mqg_trie_remove(t, filters[f], s_val(f + 1));
            assert_int_equal(rc, mqg_topic_valid_filter(filters[f]) ? 0 : -EINVAL);
        }
    }
    free(h);
    free(matches);
    free(filters);
    free(topics);
    mqg_trie_destroy(&t);
}

static void test_remove(void **state)
{
    (void)state;
    struct mqg_trie *t = mqg_trie_new();
    struct hits h;
    assert_int_equal(mqg_trie_add(t, "a/b", s_val(1)), 0);
    assert_int_equal(mqg_trie_add(t, "a/b", s_val(2)), 0);
    assert_int_equal(mqg_trie_add(t, "a/#", s_val(3)), 0);
    assert_int_equal(mqg_trie_remove(t, "a/b", s_val(3)), -ENOENT);
    assert_int_equal(mqg_trie_remove(t, "a/c", s_val(1)), -ENOENT);
    assert_int_equal(mqg_trie_remove(t, "a/+", s_val(1)), -ENOENT);
    assert_int_equal(mqg_trie_remove(t, "a/#/b", s_val(1)), -EINVAL);
    assert_int_equal(mqg_trie_remove(NULL, "a", s_val(1)), -EINVAL);
    assert_int_equal(mqg_trie_remove(t, "a/b", s_val(1)), 0);
    assert_int_equal(mqg_trie_remove(t, "a/b", s_val(1)), -ENOENT);
    assert_int_equal(mqg_trie_size(t), 2);
    s_match(t, "a/b", &h);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.count[2], 1);
    assert_int_equal(h.count[3], 1);
    assert_int_equal(mqg_trie_remove(t, "a/#", s_val(3)), 0);
    assert_int_equal(mqg_trie_remove(t, "a/b", s_val(2)), 0);
    assert_int_equal(mqg_trie_size(t), 0);
    s_match(t, "a/b", &h);
    assert_int_equal(h.n, 0);
    assert_int_equal(mqg_trie_overlaps(t, "#", s_collect, &h), 0);
    /* added again after removal */
    assert_int_equal(mqg_trie_add(t, "a/b", s_val(4)), 0);
    s_match(t, "a/b", &h);
    assert_int_equal(h.count[4], 1);
    mqg_trie_destroy(&t);
}

/* Deep filters: 32768 levels, freed without deep recursion; matched exactly. */
static void test_deep(void **state)
{
    (void)state;
    size_t len = MQG_TOPIC_MAX; /* "a/a/.../a": 32768 levels */
    char *f = malloc(len + 1);
    assert_non_null(f);
    for (size_t i = 0; i < len; i++) {
        f[i] = i % 2 ? '/' : 'a';
    }
    f[len] = '\0';
    struct mqg_trie *t = mqg_trie_new();
    assert_int_equal(mqg_trie_add(t, f, s_val(1)), 0);
    /* '+' levels in the middle of a long literal path */
    char *g = strdup(f);
    assert_non_null(g);
    g[1000] = '+';
    g[len - 1] = '#';
    assert_int_equal(mqg_trie_add(t, g, s_val(2)), 0);
    struct hits h;
    s_match(t, f, &h);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.count[1], 1);
    assert_int_equal(h.count[2], 1);
    f[len - 1] = 'b';
    s_match(t, f, &h);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.count[2], 1);
    f[1000] = 'b';
    s_match(t, f, &h);
    assert_int_equal(h.n, 1);
    f[len - 3] = 'b'; /* breaks g's literal part before its '#' */
    s_match(t, f, &h);
    assert_int_equal(h.n, 0);
    free(g);
    free(f);
    mqg_trie_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_destroy),    cmocka_unit_test(test_add_invalid),
        cmocka_unit_test(test_match_cases),    cmocka_unit_test(test_match_cases_reversed),
        cmocka_unit_test(test_duplicates),     cmocka_unit_test(test_many_siblings),
        cmocka_unit_test(test_differential),   cmocka_unit_test(test_deep),
        cmocka_unit_test(test_overlaps_cases), cmocka_unit_test(test_overlaps_differential),
        cmocka_unit_test(test_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
