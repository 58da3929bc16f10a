/* mqg_subs — minimal subscription sets (see mqg_subs.h).
 *
 * The filters are taken one by one into groups, each group kept in a trie (mqg_trie) as the
 * one filter that covers all of its members. A new filter is looked up among the groups it
 * overlaps (mqg_trie_overlaps); these are taken out and merged with it — a filter that covers
 * the other stays as written, otherwise the two are replaced by their join — and a join is
 * looked up again, until the filter overlaps no group; then it is a group of its own. Each
 * filter goes in once and each group comes out at most once, so the work grows about linearly
 * with the number of filters (a '+' level of a new filter looks at every sibling at that
 * level). The result is that of the pairwise algorithm this replaced (joining the first
 * overlapping pair until none overlap; the reference model in tests/unit/test_subs.c), in the
 * order of the first filter of each group; the one exception is the filter "/#", see there.
 */
#include "mqg_subs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_topic.h"
#include "mqg_trie.h"

/* Length of the level starting at f. */
static size_t s_lvl(const char *f)
{
    return strcspn(f, "/");
}

static bool s_is(const char *lvl, size_t len, char c)
{
    return len == 1 && lvl[0] == c;
}

/* The narrowest filter that covers both a and b (levels that differ become '+', a '#' or
 * a longer side ends it with '#'). Caller frees; NULL on allocation failure. */
static char *s_join(const char *a, const char *b)
{
    char *out = malloc(strlen(a) + strlen(b) + 3);
    if (!out) {
        return NULL;
    }
    size_t o = 0;
    for (;;) {
        size_t la = s_lvl(a), lb = s_lvl(b);
        if (s_is(a, la, '#') || s_is(b, lb, '#')) {
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

/* The filter that covers both a and b: the one that covers the other, as written (if each
 * covers the other, as "#" and "+/#" do: a, unless only b is a filter as written, not a
 * join), otherwise their join (new; NULL when out of memory). */
static char *s_cover_both(char *a, bool a_written, char *b, bool b_written)
{
    bool a_covers = mqg_topic_covers(a, b);
    bool b_covers = mqg_topic_covers(b, a);
    if (a_covers && b_covers) {
        return a_written || !b_written ? a : b;
    }
    if (a_covers || b_covers) {
        return a_covers ? a : b;
    }
    return s_join(a, b);
}

struct s_group {
    char *filter; /* covers every member; NULL once merged into another group */
    int qos;      /* the highest of the members */
    size_t first; /* index of the first member in the input */
    bool written; /* filter is a member as written, not a join */
};

struct s_hits {
    size_t *idx; /* indices of groups; room for every group */
    size_t n;
};

static void s_hit(void *value, void *arg)
{
    struct s_hits *h = arg;
    h->idx[h->n++] = (size_t)(uintptr_t)value - 1;
}

static void *s_value(size_t group)
{
    return (void *)(uintptr_t)(group + 1);
}

/* Merge the groups that group f (not in the trie) overlaps into it, taking them out of the
 * trie; again after each join, until it overlaps none. Returns 0, or -ENOMEM with the groups
 * merged so far merged. */
static int s_absorb(struct mqg_trie *t, struct s_group *g, size_t *hits, struct s_group *f)
{
    bool joined = true;
    while (joined) {
        struct s_hits h = {hits, 0};
        mqg_trie_overlaps(t, f->filter, s_hit, &h);
        joined = false;
        for (size_t k = 0; k < h.n; k++) {
            struct s_group *o = &g[h.idx[k]];
            /* the earlier group first: of two filters that cover each other, it stays */
            char *m = s_cover_both(o->filter, o->written, f->filter, f->written);
            if (!m) {
                return -ENOMEM;
            }
            mqg_trie_remove(t, o->filter, s_value(h.idx[k]));
            if (m != o->filter && m != f->filter) {
                joined = true;
                f->written = false;
            } else if (m == o->filter) {
                f->written = o->written;
            }
            if (m != o->filter) {
                free(o->filter);
            }
            if (m != f->filter) {
                free(f->filter);
            }
            f->filter = m;
            o->filter = NULL;
            f->qos = o->qos > f->qos ? o->qos : f->qos;
            f->first = o->first < f->first ? o->first : f->first;
        }
    }
    return 0;
}

static size_t s_minimize(struct mqg_sub *subs, size_t n, mqg_subs_progress_fn progress, void *arg)
{
    struct mqg_trie *t = mqg_trie_new();
    struct s_group *g = calloc(n ? n : 1, sizeof(*g));
    size_t *hits = malloc((n ? n : 1) * sizeof(*hits));
    if (!t || !g || !hits) {
        mqg_trie_destroy(&t);
        free(g);
        free(hits);
        return n; /* not minimal, still correct */
    }
    /* Out of memory on the way, the filters still to come become groups of their own: the
     * set still covers everything, but may overlap. */
    bool merging = true;
    for (size_t i = 0; i < n; i++) {
        if (progress && i % 256 == 0) {
            progress(arg);
        }
        g[i] = (struct s_group){subs[i].filter, subs[i].qos, i, true};
        subs[i].filter = NULL;
        merging = merging && s_absorb(t, g, hits, &g[i]) == 0;
        merging = merging && mqg_trie_add(t, g[i].filter, s_value(i)) == 0;
    }
    mqg_trie_destroy(&t);
    /* the groups in the order of their first members */
    for (size_t i = 0; i < n; i++) {
        hits[i] = SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        if (g[i].filter) {
            hits[g[i].first] = i;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (hits[i] != SIZE_MAX) {
            subs[k].filter = g[hits[i]].filter;
            subs[k].qos = g[hits[i]].qos;
            k++;
        }
    }
    free(g);
    free(hits);
    return k;
}

size_t mqg_subs_minimize(struct mqg_sub *subs, size_t n)
{
    return s_minimize(subs, n, NULL, NULL);
}

int mqg_subs_for_conn(const struct mqg_model *m, int conn, struct mqg_sub **out, size_t *n)
{
    return mqg_subs_for_conn_progress(m, conn, NULL, NULL, out, n);
}

int mqg_subs_for_conn_progress(const struct mqg_model *m, int conn, mqg_subs_progress_fn progress,
                               void *arg, struct mqg_sub **out, size_t *n)
{
    size_t cap = 0;
    for (size_t r = 0; r < m->n_routes; r++) {
        cap += m->routes[r].n_sources;
    }
    struct mqg_sub *subs = calloc(cap ? cap : 1, sizeof(*subs));
    if (!subs) {
        return -ENOMEM;
    }
    size_t k = 0;
    /* the internal broker brings what local applications publish into the internal namespace */
    int want = conn >= 0 && conn == mqg_model_internal(m) ? MQG_INTERNAL : conn;
    for (size_t r = 0; r < m->n_routes; r++) {
        const struct mqg_route *rt = &m->routes[r];
        if (progress && r % 256 == 0) {
            progress(arg);
        }
        for (size_t s = 0; s < rt->n_sources; s++) {
            if (rt->sources[s].conn != want) {
                continue;
            }
            struct mqg_pattern *p;
            if (mqg_pattern_new(rt->sources[s].filter, &p, NULL) != 0) {
                mqg_subs_free(subs, k);
                return -EINVAL;
            }
            subs[k].filter = strdup(mqg_pattern_filter(p));
            subs[k].qos = rt->sources[s].qos;
            mqg_pattern_destroy(&p);
            if (!subs[k].filter) {
                mqg_subs_free(subs, k);
                return -ENOMEM;
            }
            k++;
        }
    }
    *n = s_minimize(subs, k, progress, arg);
    *out = subs;
    return 0;
}

void mqg_subs_free(struct mqg_sub *subs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(subs[i].filter);
    }
    free(subs);
}
