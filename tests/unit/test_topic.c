/* test_topic — unit tests of mqg_topic: names, filters, match, covers, patterns, templates.
 *
 * Table-driven cases for the MQTT 3.1.1 section 4.7 edge cases, plus an exhaustive check of
 * match() against a reference matcher and of covers() against its definition over a small
 * universe of filters and topics.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_topic.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct pair_case {
    const char *a;
    const char *b;
    bool want;
};

static char *s_repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- UTF-8, names, filters ----------------------------------------------------------- */

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        bool want;
    } cases[] = {
        {"abc", 3, true},
        {"\xc3\xa4", 2, true},         /* U+00E4 */
        {"\xe2\x82\xac", 3, true},     /* U+20AC */
        {"\xf0\x9f\x98\x80", 4, true}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, true}, /* U+10FFFF */
        {"\xef\xbf\xbf", 3, true},     /* U+FFFF: allowed (SHOULD NOT, not MUST) */
        {"\x7f", 1, true},
        {"", 0, true},
        {"a\0b", 3, false},         /* U+0000 */
        {"\xc3", 1, false},         /* truncated */
        {"\xe2\x82", 2, false},     /* truncated */
        {"\xf0\x9f\x98", 3, false}, /* truncated */
        {"\x80", 1, false},         /* lone continuation */
        {"\xbf", 1, false},
        {"\xc0\xaf", 2, false},             /* overlong '/' */
        {"\xc1\xbf", 2, false},             /* overlong */
        {"\xe0\x80\xaf", 3, false},         /* overlong */
        {"\xf0\x80\x80\xaf", 4, false},     /* overlong */
        {"\xc0\x80", 2, false},             /* overlong NUL */
        {"\xed\xa0\x80", 3, false},         /* U+D800 surrogate */
        {"\xed\xbf\xbf", 3, false},         /* U+DFFF surrogate */
        {"\xf4\x90\x80\x80", 4, false},     /* U+110000 */
        {"\xf8\x88\x80\x80\x80", 5, false}, /* 5-byte form */
        {"\xfe", 1, false},
        {"\xff", 1, false},
        {"\xc3\x28", 2, false}, /* bad continuation */
        {"\xe2\x28\xa1", 3, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        bool got = mqg_topic_utf8_ok(cases[i].s, cases[i].len);
        if (got != cases[i].want) {
            fail_msg("utf8_ok case %zu = %d, want %d", i, got, cases[i].want);
        }
    }
    assert_false(mqg_topic_utf8_ok(NULL, 1));
    assert_true(mqg_topic_utf8_ok(NULL, 0));
}

static void test_valid_name(void **state)
{
    (void)state;
    static const struct pair_case cases[] = {
        {"a", NULL, true},
        {"/", NULL, true},
        {"//", NULL, true},
        {"a/b", NULL, true},
        {"a//b", NULL, true},
        {"/a", NULL, true},
        {"a/", NULL, true},
        {"$SYS/x", NULL, true},
        {"$", NULL, true},
        {" ", NULL, true},
        {"a b/c d", NULL, true},
        {"\xc3\xa4/\xe2\x82\xac", NULL, true},
        {"{x}/$y", NULL, true},
        {"", NULL, false},
        {"+", NULL, false},
        {"#", NULL, false},
        {"a/+", NULL, false},
        {"a/#", NULL, false},
        {"a+b", NULL, false},
        {"a#", NULL, false},
        {"\xc3", NULL, false},
        {"a/\xc0\xaf", NULL, false},
        {"\xed\xa0\x80", NULL, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        if (mqg_topic_valid_name(cases[i].a) != cases[i].want) {
            fail_msg("valid_name(\"%s\") != %d", cases[i].a, cases[i].want);
        }
    }
    assert_false(mqg_topic_valid_name(NULL));

    char *max = s_repeat('x', MQG_TOPIC_MAX);
    assert_true(mqg_topic_valid_name(max));
    free(max);
    char *over = s_repeat('x', MQG_TOPIC_MAX + 1);
    assert_false(mqg_topic_valid_name(over));
    free(over);
}

static void test_name_fault(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        bool strict;
        const char *want; /* a word of the reason, NULL = acceptable */
        size_t at;
    } cases[] = {
        {"a/b", 3, false, NULL, 0},
        {"a/b", 3, true, NULL, 0},
        {"\xc3\xa4/\xe2\x82\xac", 6, true, NULL, 0},
        {"", 0, false, "empty", 0},
        {"a/+", 3, false, "'+'", 2},
        {"a#/+", 4, false, "'#'", 1},
        {"ab\0c", 4, false, "NUL", 2},
        {"a\xc0\xaf"
         "b",
         4, false, "overlong", 1},
        {"ab\xed\xa0\x80", 5, false, "surrogate", 2},
        {"\xf4\x90\x80\x80", 4, false, "above U+10FFFF", 0},
        {"x\xc3", 2, false, "cut off", 1},
        {"xy\xff", 3, false, "not valid UTF-8", 2},
        /* control characters and non-characters: accepted plainly, refused strictly */
        {"a\x01", 2, false, NULL, 0},
        {"a\x01", 2, true, "control", 1},
        {"a\x7f", 2, true, "control", 1},
        {"a\xc2\x9f", 3, true, "control", 1},
        {"a\xc2\xa0", 3, true, NULL, 0},
        {"ab\xef\xbf\xbe", 5, false, NULL, 0},
        {"ab\xef\xbf\xbe", 5, true, "non-character", 2},
        {"\xef\xbf\xbf", 3, true, "non-character", 0},
        {"\xef\xb7\x90", 3, true, "non-character", 0},
        {"\xf0\x9f\xbf\xbe", 4, true, "non-character", 0},
        {"\xef\xbf\xbd", 3, true, NULL, 0}, /* U+FFFD is a character */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t at = 99;
        const char *why = mqg_topic_name_fault(cases[i].s, cases[i].len, cases[i].strict, &at);
        if (!cases[i].want ? why != NULL : !why || !strstr(why, cases[i].want)) {
            fail_msg("name_fault case %zu: '%s', want '%s'", i, why ? why : "(none)",
                     cases[i].want ? cases[i].want : "(none)");
        }
        if (cases[i].want && at != cases[i].at) {
            fail_msg("name_fault case %zu: at %zu, want %zu", i, at, cases[i].at);
        }
    }
    char *over = s_repeat('x', MQG_TOPIC_MAX + 1);
    assert_non_null(mqg_topic_name_fault(over, MQG_TOPIC_MAX + 1, false, NULL));
    assert_null(mqg_topic_name_fault(over, MQG_TOPIC_MAX, true, NULL));
    free(over);
}

static void test_valid_filter(void **state)
{
    (void)state;
    static const struct pair_case cases[] = {
        {"#", NULL, true},       {"+", NULL, true},
        {"a", NULL, true},       {"a/#", NULL, true},
        {"a/+/b", NULL, true},   {"+/+", NULL, true},
        {"/", NULL, true},       {"//", NULL, true},
        {"/#", NULL, true},      {"+/#", NULL, true},
        {"$SYS/#", NULL, true},  {"a//b", NULL, true},
        {"+//+", NULL, true},    {"/+", NULL, true},
        {"+/", NULL, true},      {"$share/g/a/#", NULL, true},
        {"", NULL, false},       {"a#", NULL, false},
        {"a/b#", NULL, false},   {"#/a", NULL, false},
        {"a/#/b", NULL, false},  {"a+", NULL, false},
        {"+a", NULL, false},     {"a/+b/c", NULL, false},
        {"##", NULL, false},     {"++", NULL, false},
        {"a/#/", NULL, false},   {"#/", NULL, false},
        {"+#", NULL, false},     {"#+", NULL, false},
        {"a/\xff", NULL, false}, {"+/\xc3", NULL, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        if (mqg_topic_valid_filter(cases[i].a) != cases[i].want) {
            fail_msg("valid_filter(\"%s\") != %d", cases[i].a, cases[i].want);
        }
    }
    assert_false(mqg_topic_valid_filter(NULL));

    char *max = s_repeat('x', MQG_TOPIC_MAX);
    max[MQG_TOPIC_MAX - 1] = '#';
    max[MQG_TOPIC_MAX - 2] = '/';
    assert_true(mqg_topic_valid_filter(max));
    free(max);
    char *over = s_repeat('x', MQG_TOPIC_MAX + 1);
    assert_false(mqg_topic_valid_filter(over));
    free(over);
}

/* ---- match ------------------------------------------------------------------------------ */

static void test_match_table(void **state)
{
    (void)state;
    static const struct pair_case cases[] = {
        /* '#' alone */
        {"#", "a", true},
        {"#", "a/b/c", true},
        {"#", "/", true},
        {"#", "//", true},
        {"#", "a/$x", true},
        {"#", "$SYS", false},
        {"#", "$SYS/x", false},
        {"#", "$", false},
        /* '+' alone */
        {"+", "a", true},
        {"+", "/", false},
        {"+", "a/b", false},
        {"+", "a/", false},
        {"+", "$SYS", false},
        {"+/+", "/", true},
        {"+/+", "a/", true},
        {"+/+", "/a", true},
        {"+/+", "a", false},
        {"+/x", "a/x", true},
        {"+/x", "$SYS/x", false},
        {"+/+", "a/$x", true},
        /* '$' topics, explicitly named */
        {"$SYS/#", "$SYS/x", true},
        {"$SYS/#", "$SYS/a/b", true},
        {"$SYS/#", "$SYS", true},
        {"$SYS/+", "$SYS/x", true},
        {"$SYS/+", "$SYS", false},
        {"$SYS", "$SYS", true},
        /* parent match of "/#" */
        {"a/#", "a", true},
        {"a/#", "a/", true},
        {"a/#", "a/b", true},
        {"a/#", "a/b/c", true},
        {"a/#", "ab", false},
        {"a/#", "b/a", false},
        {"a/#", "b", false},
        {"a/b/#", "a", false},
        {"a/b/#", "a/b", true},
        {"+/#", "a", true},
        {"+/#", "/", true},
        {"+/#", "a/b/c", true},
        {"+/+/#", "a", false},
        {"+/+/#", "a/b", true},
        {"/#", "/", true},
        {"/#", "/a/b", true},
        {"/#", "a", false},
        {"/#", "a/", false},
        /* '+' and empty levels */
        {"a/+", "a", false},
        {"a/+", "a/", true},
        {"a/+", "a/b", true},
        {"a/+", "a/b/c", false},
        {"a/+/c", "a/b/c", true},
        {"a/+/c", "a//c", true},
        {"a/+/c", "a/c", false},
        {"/+", "/x", true},
        {"/+", "/", true},
        {"+/", "a/", true},
        {"+/", "/", true},
        {"+/", "a", false},
        /* literals */
        {"a", "a", true},
        {"a//b", "a//b", true},
        {"a//b", "a/b", false},
        {"a/b", "a//b", false},
        {"a", "a/b", false},
        {"a/b", "a", false},
        {"A", "a", false},
        {"/a", "a", false},
        {"a/", "a", false},
        {"a/", "a/", true},
        {"/", "/", true},
        {"ab", "a", false},
        {"a", "ab", false},
        {"\xc3\xa4/+", "\xc3\xa4/\xe2\x82\xac", true},
        /* invalid input never matches */
        {"a/#/b", "a", false},
        {"a+", "a+", false},
        {"#", "a/+", false},
        {"#", "a/#", false},
        {"+", "", false},
        {"", "", false},
        {"#", "\xc3", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        if (mqg_topic_match(cases[i].a, cases[i].b) != cases[i].want) {
            fail_msg("match(\"%s\", \"%s\") != %d", cases[i].a, cases[i].b, cases[i].want);
        }
    }
    assert_false(mqg_topic_match(NULL, "a"));
    assert_false(mqg_topic_match("a", NULL));
    assert_false(mqg_topic_match(NULL, NULL));
}

/* A universe of small filters and topics for the exhaustive checks. */
#define U_MAX 400
struct universe {
    char filters[U_MAX][16];
    size_t nfilters;
    char topics[U_MAX][16];
    size_t ntopics;
};

static void s_gen(const char *const *alpha, size_t nalpha, size_t maxdepth, char (*out)[16],
                  size_t *n, const char *prefix, size_t depth)
{
    for (size_t i = 0; i < nalpha; i++) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%s%s%s", prefix, depth ? "/" : "", alpha[i]);
        assert_true(*n < U_MAX);
        strcpy(out[(*n)++], buf);
        if (depth + 1 < maxdepth) {
            s_gen(alpha, nalpha, maxdepth, out, n, buf, depth + 1);
        }
    }
}

static struct universe *s_universe(void)
{
    /* Filters up to 3 levels, topics up to 4: a filter without '#' can then never cover one
     * with '#' by accident of the universe being finite. */
    static const char *const flv[] = {"a", "b", "", "$s", "+", "#"};
    static const char *const tlv[] = {"a", "b", "", "$s"};
    struct universe *u = calloc(1, sizeof(*u));
    assert_non_null(u);
    size_t nf = 0;
    char(*all)[16] = calloc(U_MAX, 16);
    assert_non_null(all);
    s_gen(flv, N_ELEMS(flv), 3, all, &nf, "", 0);
    for (size_t i = 0; i < nf; i++) {
        if (mqg_topic_valid_filter(all[i])) {
            strcpy(u->filters[u->nfilters++], all[i]);
        }
    }
    free(all);
    s_gen(tlv, N_ELEMS(tlv), 4, u->topics, &u->ntopics, "", 0);
    /* "" is not a topic name: drop it */
    size_t w = 0;
    for (size_t i = 0; i < u->ntopics; i++) {
        if (u->topics[i][0] != '\0') {
            memmove(u->topics[w++], u->topics[i], sizeof(u->topics[0]));
        }
    }
    assert_int_equal(w, u->ntopics - 1);
    u->ntopics = w;
    return u;
}

/* Split s into at most 8 levels. */
static size_t s_split(const char *s, char lv[8][16])
{
    size_t n = 0;
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, "/");
        memcpy(lv[n], p, len);
        lv[n][len] = '\0';
        n++;
        if (p[len] == '\0') {
            return n;
        }
        p += len + 1;
    }
}

static bool s_ref_levels(char f[8][16], size_t nf, size_t i, char t[8][16], size_t nt, size_t j)
{
    if (i == nf) {
        return j == nt;
    }
    if (strcmp(f[i], "#") == 0) {
        return true;
    }
    if (j == nt) {
        return false;
    }
    if (strcmp(f[i], "+") != 0 && strcmp(f[i], t[j]) != 0) {
        return false;
    }
    return s_ref_levels(f, nf, i + 1, t, nt, j + 1);
}

/* Reference matcher, written independently of the one under test. */
static bool s_ref_match(const char *filter, const char *topic)
{
    char f[8][16];
    char t[8][16];
    size_t nf = s_split(filter, f);
    size_t nt = s_split(topic, t);
    if (t[0][0] == '$' && (strcmp(f[0], "+") == 0 || strcmp(f[0], "#") == 0)) {
        return false;
    }
    return s_ref_levels(f, nf, 0, t, nt, 0);
}

static void test_match_exhaustive(void **state)
{
    (void)state;
    struct universe *u = s_universe();
    assert_int_equal(u->nfilters, 5 + 5 * 6 + 5 * 5 * 6); /* '#' only last, "" invalid */
    assert_int_equal(u->ntopics, 4 + 16 + 64 + 256 - 1);
    for (size_t f = 0; f < u->nfilters; f++) {
        for (size_t t = 0; t < u->ntopics; t++) {
            bool want = s_ref_match(u->filters[f], u->topics[t]);
            if (mqg_topic_match(u->filters[f], u->topics[t]) != want) {
                fail_msg("match(\"%s\", \"%s\") != %d", u->filters[f], u->topics[t], want);
            }
        }
    }
    free(u);
}

/* ---- covers ----------------------------------------------------------------------------- */

static void test_covers_table(void **state)
{
    (void)state;
    static const struct pair_case cases[] = {
        {"a", "a", true},
        {"#", "#", true},
        {"+", "+", true},
        {"#", "a", true},
        {"#", "+", true},
        {"#", "+/x", true},
        {"#", "a/#", true},
        {"#", "/", true},
        {"#", "+/#", true},
        {"a/#", "a", true},
        {"a/#", "a/b/+", true},
        {"a/#", "a/#", true},
        {"a/#", "a/+", true},
        {"a/#", "a/+/#", true},
        {"a/#", "#", false},
        {"a/#", "ab", false},
        {"a/#", "+", false},
        {"+/x", "#", false},
        {"+", "#", false},
        {"+", "a", true},
        {"+", "a/b", false},
        {"a/+", "a/b", true},
        {"a/b", "a/+", false},
        {"a/+", "a/#", false},
        {"a/+", "a", false},
        {"a/+", "a/+/c", false},
        {"+/+", "a/+", true},
        {"a/+", "+/+", false},
        /* "+/#" matches every topic "#" matches (every topic has a first level) */
        {"+/#", "#", true},
        {"+/#", "a", true},
        {"+/#", "a/#", true},
        {"+/#", "+", true},
        {"#", "+/#", true},
        {"+/+/#", "#", false},
        {"+/+/#", "a/#", false},
        {"+/+/#", "a/+", true},
        {"a/+/#", "a/b", true},
        {"a/+/#", "a/#", false},
        {"a/+/#", "a", false},
        {"a/+/#", "a/+/#", true},
        {"x/+/#", "x/#", false},
        {"/+/#", "/#", true}, /* "/#" cannot match its parent "": not a topic */
        {"/+/#", "/", true},  /* "+" takes the empty level, "#" its parent */
        {"//#", "/#", false},
        {"/+/+/#", "/#", false},
        /* '$' topics */
        {"#", "$SYS/x", false},
        {"#", "$SYS/#", false},
        {"#", "$SYS", false},
        {"+/x", "$SYS/x", false},
        {"+/#", "$SYS/#", false},
        {"+", "$SYS", false},
        {"$SYS/#", "$SYS/x", true},
        {"$SYS/#", "$SYS", true},
        {"$SYS/#", "$SYS/+/y", true},
        {"$SYS/+", "$SYS/x", true},
        {"$SYS/#", "#", false},
        {"$SYS/#", "+/x", false},
        {"$SYS/x", "+/x", false},
        {"a/+", "a/$x", true},
        /* empty levels */
        {"+", "/", false},
        {"+/+", "/", true},
        {"/#", "/", true},
        {"/#", "+", false},
        {"/+", "/", true},
        {"a//b", "a/+/b", false},
        {"a/+/b", "a//b", true},
        {"a//b", "a//b", true},
        {"a/b", "a//b", false},
        /* levels */
        {"a", "a/#", false},
        {"a/b", "a", false},
        {"a", "a/b", false},
        {"a", "b", false},
        /* invalid input covers nothing and is covered by nothing */
        {"a#", "a", false},
        {"a", "a+", false},
        {"#", "a/#/b", false},
        {"#", "", false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        if (mqg_topic_covers(cases[i].a, cases[i].b) != cases[i].want) {
            fail_msg("covers(\"%s\", \"%s\") != %d", cases[i].a, cases[i].b, cases[i].want);
        }
    }
    assert_false(mqg_topic_covers(NULL, "a"));
    assert_false(mqg_topic_covers("#", NULL));
}

/* covers(a, b) must equal "every topic of the universe matched by b is matched by a". */
static void test_covers_exhaustive(void **state)
{
    (void)state;
    struct universe *u = s_universe();
    bool(*m)[U_MAX] = calloc(U_MAX, sizeof(*m));
    assert_non_null(m);
    for (size_t f = 0; f < u->nfilters; f++) {
        for (size_t t = 0; t < u->ntopics; t++) {
            m[f][t] = s_ref_match(u->filters[f], u->topics[t]);
        }
    }
    size_t ncovered = 0;
    for (size_t a = 0; a < u->nfilters; a++) {
        for (size_t b = 0; b < u->nfilters; b++) {
            bool want = true;
            for (size_t t = 0; t < u->ntopics && want; t++) {
                want = !m[b][t] || m[a][t];
            }
            bool got = mqg_topic_covers(u->filters[a], u->filters[b]);
            if (got != want) {
                fail_msg("covers(\"%s\", \"%s\") = %d, want %d", u->filters[a], u->filters[b], got,
                         want);
            }
            ncovered += got;
        }
    }
    /* a sanity check that the universe is not degenerate */
    assert_true(ncovered > u->nfilters);
    assert_true(ncovered < u->nfilters * u->nfilters / 2);
    free(m);
    free(u);
}

/* A topic name is a filter matching only itself: covers(f, t) == match(f, t). */
static void test_covers_names(void **state)
{
    (void)state;
    struct universe *u = s_universe();
    for (size_t f = 0; f < u->nfilters; f++) {
        for (size_t t = 0; t < u->ntopics; t++) {
            bool m = mqg_topic_match(u->filters[f], u->topics[t]);
            if (mqg_topic_covers(u->filters[f], u->topics[t]) != m) {
                fail_msg("covers/match differ on \"%s\" \"%s\"", u->filters[f], u->topics[t]);
            }
        }
    }
    free(u);
}

/* ---- patterns --------------------------------------------------------------------------- */

static void test_pattern_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *filter;
        bool names;
    } ok[] = {
        {"a/b", "a/b", false},
        {"#", "#", false},
        {"+", "+", false},
        {"a/+/#", "a/+/#", false},
        {"+x", "+", true},
        {"#rest", "#", true},
        {"a/+x/#rest", "a/+/#", true},
        {"factory/+line/+machine/temp", "factory/+/+/temp", true},
        {"+_/+a1/+A_b9", "+/+/+", true},
        {"a//+x/", "a//+/", true},
        {"$SYS/+x", "$SYS/+", true},
        {"+/+x/+", "+/+/+", true},
    };
    for (size_t i = 0; i < N_ELEMS(ok); i++) {
        struct mqg_pattern *p = NULL;
        const char *err = NULL;
        int rc = mqg_pattern_new(ok[i].text, &p, &err);
        if (rc != 0) {
            fail_msg("pattern_new(\"%s\") = %d (%s)", ok[i].text, rc, err ? err : "");
        }
        assert_non_null(p);
        assert_string_equal(mqg_pattern_filter(p), ok[i].filter);
        assert_true(mqg_topic_valid_filter(mqg_pattern_filter(p)));
        assert_int_equal(mqg_pattern_has_names(p), ok[i].names);
        mqg_pattern_destroy(&p);
        assert_null(p);
    }

    static const char *const bad[] = {
        "",          /* empty */
        "a/#rest/b", /* '#' not last */
        "#x/a",      /* '#' not last */
        "a/#/b",     /* '#' not last */
        "a/+1x",     /* name starting with a digit */
        "a/+x-y",    /* '-' in a name */
        "a/+x.y",    /* '.' in a name */
        "a/+x/+x",   /* twice */
        "+x/#x",     /* twice */
        "a/b+",      /* '+' inside a level */
        "a/b#c",     /* '#' inside a level */
        "+x+",       /* '+' in a name */
        "++",        /* '+' in a name */
        "##",        /* '#' in a name */
        "a/\xc3",    /* bad UTF-8 */
        "+\xc3\xa4", /* non-ASCII name */
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        struct mqg_pattern *p = (struct mqg_pattern *)0x1;
        const char *err = NULL;
        int rc = mqg_pattern_new(bad[i], &p, &err);
        if (rc != -EINVAL) {
            fail_msg("pattern_new(\"%s\") = %d, want -EINVAL", bad[i], rc);
        }
        assert_null(p);
        assert_non_null(err);
        assert_true(strlen(err) > 5);
        /* errmsg may be NULL */
        assert_int_equal(mqg_pattern_new(bad[i], &p, NULL), -EINVAL);
        assert_null(p);
    }

    struct mqg_pattern *p = NULL;
    assert_int_equal(mqg_pattern_new(NULL, &p, NULL), -EINVAL);
    assert_int_equal(mqg_pattern_new("a", NULL, NULL), -EINVAL);
    char *over = s_repeat('x', MQG_TOPIC_MAX + 1);
    assert_int_equal(mqg_pattern_new(over, &p, NULL), -EINVAL);
    free(over);
    char *max = s_repeat('x', MQG_TOPIC_MAX);
    assert_int_equal(mqg_pattern_new(max, &p, NULL), 0);
    assert_int_equal(strlen(mqg_pattern_filter(p)), MQG_TOPIC_MAX);
    mqg_pattern_destroy(&p);
    free(max);
}

static void test_pattern_destroy_null(void **state)
{
    (void)state;
    mqg_pattern_destroy(NULL);
    struct mqg_pattern *p = NULL;
    mqg_pattern_destroy(&p);
    assert_null(p);
    assert_null(mqg_pattern_filter(NULL));
    assert_false(mqg_pattern_has_names(NULL));
}

static struct mqg_pattern *s_pat(const char *text)
{
    struct mqg_pattern *p = NULL;
    const char *err = NULL;
    int rc = mqg_pattern_new(text, &p, &err);
    if (rc != 0) {
        fail_msg("pattern_new(\"%s\") = %d (%s)", text, rc, err ? err : "");
    }
    return p;
}

static void test_check_template(void **state)
{
    (void)state;
    struct mqg_pattern *p = s_pat("factory/+line/+machine/#rest");
    static const struct {
        const char *tmpl;
        int want;
    } cases[] = {
        {"out/{line}/{machine}", 0},
        {"out/$line/$machine/$rest", 0},
        {"out/{rest}", 0},
        {"{line}{machine}", 0},
        {"x-$line-y", 0},
        {"plain/topic", 0},
        {"a/$/b", 0}, /* '$' + non-identifier: literal */
        {"cost$5", 0},
        {"$", 0},
        {"a/{line", 0},    /* no '}': literal */
        {"a/{line/x}", 0}, /* '}' only after '/': literal */
        {"a/{{line}", 0},  /* first '{' literal */
        {"a}b", 0},
        {"{nope}", -EINVAL},  /* unknown name */
        {"$nope", 0},         /* not a wildcard name: literal text */
        {"$line_x", 0},       /* longest identifier "line_x" is no name: literal */
        {"$SYS/x", 0},        /* literal: publishing to a $ topic is the broker's call */
        {"a/{}", -EINVAL},    /* empty name */
        {"a/{a b}", -EINVAL}, /* not a name */
        {"a/{1}", -EINVAL},
        {"a/+", -EINVAL}, /* not a topic name */
        {"a/#", -EINVAL},
        {"{line}+", -EINVAL},
        {"", -EINVAL},
        {"a/\xc3", -EINVAL},
        /* the literal text passes the strict check (brokers refuse the rest) */
        {"a/\x01/{line}", -EINVAL},
        {"{line}\x7f", -EINVAL},
        {"$line/\xc2\x9f", -EINVAL},
        {"{machine}/\xef\xbf\xbe", -EINVAL},
        {"{line}/\xef\xbf\xbd/\xc2\xa0", 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        const char *err = NULL;
        int rc = mqg_pattern_check_template(p, cases[i].tmpl, &err);
        if (rc != cases[i].want) {
            fail_msg("check_template(\"%s\") = %d, want %d", cases[i].tmpl, rc, cases[i].want);
        }
        if (rc != 0) {
            assert_non_null(err);
        }
        assert_int_equal(mqg_pattern_check_template(p, cases[i].tmpl, NULL), cases[i].want);
    }
    assert_int_equal(mqg_pattern_check_template(p, NULL, NULL), -EINVAL);
    mqg_pattern_destroy(&p);

    /* no pattern, or a pattern without names: no reference is valid */
    assert_int_equal(mqg_pattern_check_template(NULL, "plain/topic", NULL), 0);
    assert_int_equal(mqg_pattern_check_template(NULL, "a/$/b", NULL), 0);
    /* "$word" that is no wildcard name is literal text ("$aws/things/..." stays usable) */
    assert_int_equal(mqg_pattern_check_template(NULL, "$x", NULL), 0);
    assert_int_equal(mqg_pattern_check_template(NULL, "$aws/things/t1/shadow", NULL), 0);
    assert_int_equal(mqg_pattern_check_template(NULL, "{x}", NULL), -EINVAL);
    assert_int_equal(mqg_pattern_check_template(NULL, "a\x1f", NULL), -EINVAL);
    p = s_pat("a/+/#");
    assert_int_equal(mqg_pattern_check_template(p, "b/c", NULL), 0);
    assert_int_equal(mqg_pattern_check_template(p, "b/{x}", NULL), -EINVAL);
    mqg_pattern_destroy(&p);

    char *over = s_repeat('x', MQG_TOPIC_MAX + 1);
    assert_int_equal(mqg_pattern_check_template(NULL, over, NULL), -EINVAL);
    free(over);
}

struct render_case {
    const char *pattern;
    const char *topic;
    const char *tmpl;
    int rc;           /* expected return: length or -errno */
    const char *want; /* expected output when rc >= 0 */
};

static void test_render(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"factory/+line/+machine/#rest", "factory/l1/m2/a/b/c", "out/{line}/$machine/{rest}", 15,
         "out/l1/m2/a/b/c"},
        {"#rest", "a/b/c", "x/{rest}", 7, "x/a/b/c"},
        {"#rest", "a/b/c", "{rest}", 5, "a/b/c"},
        {"#rest", "/", "[{rest}]", 3, "[/]"},
        {"a/#rest", "a", "x/{rest}", 2, "x/"}, /* "a/#" matches "a": rest is empty */
        {"a/#rest", "a/b", "x/$rest", 3, "x/b"},
        {"a/+x/b", "a//b", "<{x}>", 2, "<>"}, /* empty level */
        {"+x/+y", "p/q", "{y}{x}$y$x", 4, "qpqp"},
        {"+x/+y", "p/q", "$x-$y", 3, "p-q"},
        {"+x/+y", "p/q", "$x_/$y", 5, "$x_/q"}, /* "x_" is no name: literal */
        {"+x", "p", "a$/$1/{/}/{x", 12, "a$/$1/{/}/{x"},
        {"+x", "p", "{{x}}", 3, "{p}"},
        {"+x", "p", "{nope}", -EINVAL, ""},
        {"+x", "p", "{a b}", -EINVAL, ""},
        {"+x", "p", "plain", 5, "plain"},
        {"+x", "\xc3\xa4", "-{x}-", 4, "-\xc3\xa4-"},
        {"a/+x", "b/c", "{x}", -EINVAL, ""}, /* topic does not match */
        {"a/+x", "a/c/d", "{x}", -EINVAL, ""},
        {"+x/y", "$SYS/y", "{x}", -EINVAL, ""}, /* '$' topic vs leading wildcard */
        {"#x", "$SYS/y", "{x}", -EINVAL, ""},
        {"$SYS/#x", "$SYS/y/z", "{x}", 3, "y/z"},
        {"+x", "a/+", "{x}", -EINVAL, ""}, /* not a topic name */
        {"+x", "", "{x}", -EINVAL, ""},
        {"a/+/+x/#", "a/1/2/3/4", "{x}", 1, "2"}, /* unnamed wildcards before the name */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        const struct render_case *c = &cases[i];
        struct mqg_pattern *p = s_pat(c->pattern);
        char out[64];
        memset(out, 'Z', sizeof(out));
        int rc = mqg_pattern_render(p, c->topic, c->tmpl, out, sizeof(out));
        if (rc != c->rc) {
            fail_msg("render(\"%s\", \"%s\", \"%s\") = %d, want %d", c->pattern, c->topic, c->tmpl,
                     rc, c->rc);
        }
        if (rc >= 0) {
            assert_string_equal(out, c->want);
            assert_int_equal(strlen(out), (size_t)rc);
        }
        mqg_pattern_destroy(&p);
    }
}

static void test_render_nospc(void **state)
{
    (void)state;
    struct mqg_pattern *p = s_pat("a/+x/#rest");
    const char *topic = "a/bb/c/d";
    const char *tmpl = "out/{x}/{rest}"; /* "out/bb/c/d": 10 bytes */
    char out[32];
    assert_int_equal(mqg_pattern_render(p, topic, tmpl, out, sizeof(out)), 10);
    assert_string_equal(out, "out/bb/c/d");
    for (size_t cap = 0; cap <= 10; cap++) {
        memset(out, 'Z', sizeof(out));
        assert_int_equal(mqg_pattern_render(p, topic, tmpl, out, cap), -ENOSPC);
        if (cap > 0) {
            assert_int_equal(out[0], '\0'); /* never an unterminated buffer */
        }
        assert_int_equal(out[cap], 'Z'); /* never beyond cap */
    }
    memset(out, 'Z', sizeof(out));
    assert_int_equal(mqg_pattern_render(p, topic, tmpl, out, 11), 10);
    assert_string_equal(out, "out/bb/c/d");
    assert_int_equal(out[11], 'Z');
    assert_int_equal(mqg_pattern_render(p, topic, tmpl, NULL, 0), -ENOSPC);
    assert_int_equal(mqg_pattern_render(p, topic, tmpl, NULL, 5), -EINVAL);
    assert_int_equal(mqg_pattern_render(p, topic, NULL, out, sizeof(out)), -EINVAL);
    assert_int_equal(mqg_pattern_render(p, NULL, tmpl, out, sizeof(out)), -EINVAL);
    mqg_pattern_destroy(&p);

    /* "$word" that is not a wildcard name stays literal, next to real references */
    p = s_pat("a/+x");
    assert_int_equal(mqg_pattern_check_template(p, "$aws/{x}/$x/$y", NULL), 0);
    assert_int_equal(mqg_pattern_render(p, "a/1", "$aws/{x}/$x/$y", out, sizeof(out)), 11);
    assert_string_equal(out, "$aws/1/1/$y");
    mqg_pattern_destroy(&p);

    /* without a pattern the template is copied as is */
    assert_int_equal(mqg_pattern_render(NULL, NULL, "a/{x}/$y", out, sizeof(out)), 8);
    assert_string_equal(out, "a/{x}/$y");
    assert_int_equal(mqg_pattern_render(NULL, "ignored", "abc", out, 4), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(mqg_pattern_render(NULL, NULL, "abc", out, 3), -ENOSPC);
    assert_string_equal(out, "");
}

/* A long capture rendered into a big buffer: no truncation, exact length. */
static void test_render_long(void **state)
{
    (void)state;
    struct mqg_pattern *p = s_pat("#all");
    char *topic = s_repeat('t', MQG_TOPIC_MAX);
    for (size_t i = 1; i < MQG_TOPIC_MAX; i += 100) {
        topic[i] = '/';
    }
    size_t cap = 3 * MQG_TOPIC_MAX + 16;
    char *out = malloc(cap);
    assert_non_null(out);
    int rc = mqg_pattern_render(p, topic, "{all}/{all}/$all", out, cap);
    assert_int_equal(rc, 3 * MQG_TOPIC_MAX + 2);
    assert_memory_equal(out, topic, MQG_TOPIC_MAX);
    assert_memory_equal(out + 2 * MQG_TOPIC_MAX + 2, topic, MQG_TOPIC_MAX);
    assert_int_equal(mqg_pattern_render(p, topic, "{all}/{all}/$all", out, (size_t)rc), -ENOSPC);
    free(out);
    free(topic);
    mqg_pattern_destroy(&p);
}

/* Inputs at the size limit, with the most levels or tokens possible: linear time (this test
 * takes minutes if a per-level scan runs to the end of the string). */
static void test_long_inputs(void **state)
{
    (void)state;
    size_t len = MQG_TOPIC_MAX;
    char *f = malloc(len + 1);
    assert_non_null(f);
    for (size_t i = 0; i < len; i++) {
        f[i] = i % 2 ? '/' : '+';
    }
    f[len] = '\0';
    assert_true(mqg_topic_valid_filter(f));
    f[len - 1] = '#';
    assert_true(mqg_topic_valid_filter(f));
    assert_true(mqg_topic_covers(f, f));
    for (int i = 0; i < 20; i++) {
        struct mqg_pattern *p = NULL;
        assert_int_equal(mqg_pattern_new(f, &p, NULL), 0);
        assert_false(mqg_pattern_has_names(p));
        mqg_pattern_destroy(&p);
    }
    f[len - 1] = 'a';
    f[len - 2] = '+'; /* "+/+/.../++a": '+' inside a level */
    assert_false(mqg_topic_valid_filter(f));
    memset(f, '$', len); /* "$$$...": 65535 literal tokens */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(mqg_pattern_check_template(NULL, f, NULL), 0);
    }
    memset(f, '/', len); /* topic of 65536 empty levels */
    struct mqg_pattern *p = s_pat("#all");
    char *out = malloc(len + 1);
    assert_non_null(out);
    assert_int_equal(mqg_pattern_render(p, f, "{all}", out, len + 1), (int)len);
    assert_memory_equal(out, f, len);
    mqg_pattern_destroy(&p);
    /* 10000 references, in and out of level order */
    p = s_pat("+a/+b/#c");
    char *tmpl = malloc(40001);
    assert_non_null(tmpl);
    for (size_t i = 0; i < 10000; i++) {
        memcpy(tmpl + 4 * i, i % 3 == 0 ? "{b}/" : i % 3 == 1 ? "{a}/" : "{c}/", 4);
    }
    tmpl[40000] = '\0';
    assert_int_equal(mqg_pattern_check_template(p, tmpl, NULL), 0);
    char *big = malloc(100000);
    assert_non_null(big);
    int rc = mqg_pattern_render(p, "x/y/z", tmpl, big, 100000);
    assert_int_equal(rc, 3334 * 2 + 3333 * 2 + 3333 * 2);
    assert_memory_equal(big, "y/x/z/y/x/z/", 12);
    free(big);
    free(tmpl);
    free(out);
    mqg_pattern_destroy(&p);
    free(f);
}

/* Shared subscriptions: "$share/<group>/<filter>" only. */
static void test_shared_subscriptions(void **state)
{
    (void)state;
    static const char *const good[] = {"$share/g/a/b", "$share/g/#", "$share/grp/+/x"};
    static const char *const bad[] = {"$share/g/",  "$share/g", "$share//a",
                                      "$share/+/a", "$share/#", "$share/g+/a"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct mqg_pattern *p = NULL;
        assert_true(mqg_topic_valid_filter(good[i]));
        assert_int_equal(mqg_pattern_new(good[i], &p, NULL), 0);
        mqg_pattern_destroy(&p);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mqg_pattern *p = NULL;
        const char *why = NULL;
        if (mqg_topic_valid_filter(bad[i])) {
            fail_msg("'%s' accepted as a filter", bad[i]);
        }
        assert_int_equal(mqg_pattern_new(bad[i], &p, &why), -EINVAL);
        assert_non_null(why);
    }
}

/* mqg_topic_unshare: the filter after "$share/<group>/", a pointer into the argument; any
 * other text (malformed shared subscriptions included) comes back as it is. */
static void test_unshare(void **state)
{
    (void)state;
    static const struct {
        const char *filter;
        size_t skip; /* bytes of "$share/<group>/" skipped; 0: returned as is */
    } cases[] = {
        {"$share/g/a/b", 9},
        {"$share/grp/+/x", 11},
        {"$share/g/#", 9},
        {"$share/g/factory/+line/#rest", 9},
        {"$share/g/$SYS/x", 9},
        {"$share/g/$share/h/a", 9}, /* only the first "$share/<group>/" goes */
        {"$share/g//", 9},
        {"a/b", 0},
        {"#", 0},
        {"$SYS/broker/uptime", 0},
        {"$shared/g/a", 0},
        {"$SHARE/g/a", 0},
        {"share/g/a", 0},
        {"x/$share/g/a", 0},
        {"$share", 0},
        {"$share/g", 0},   /* no filter */
        {"$share/g/", 0},  /* empty filter */
        {"$share//a", 0},  /* empty group */
        {"$share/+/a", 0}, /* wildcards in the group */
        {"$share/#", 0},
        {"$share/g+/a", 0},
        {"$share/g#/a", 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        const char *got = mqg_topic_unshare(cases[i].filter);
        if (got != cases[i].filter + cases[i].skip) {
            fail_msg("unshare('%s') = '%s', want '%s'", cases[i].filter, got,
                     cases[i].filter + cases[i].skip);
        }
    }
    assert_null(mqg_topic_unshare(NULL));
    /* what is left matches what the broker delivers for the shared subscription */
    assert_true(mqg_topic_match(mqg_topic_unshare("$share/g/a/+"), "a/b"));
    assert_false(mqg_topic_match(mqg_topic_unshare("$share/g/a/+"), "$share/g/a/b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_subscriptions),
        cmocka_unit_test(test_unshare),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_valid_name),
        cmocka_unit_test(test_name_fault),
        cmocka_unit_test(test_valid_filter),
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_match_exhaustive),
        cmocka_unit_test(test_covers_table),
        cmocka_unit_test(test_covers_exhaustive),
        cmocka_unit_test(test_covers_names),
        cmocka_unit_test(test_pattern_parse),
        cmocka_unit_test(test_pattern_destroy_null),
        cmocka_unit_test(test_check_template),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_nospc),
        cmocka_unit_test(test_render_long),
        cmocka_unit_test(test_long_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
