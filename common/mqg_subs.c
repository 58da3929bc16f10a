/* mqg_subs — minimal subscription sets (see mqg_subs.h). O(n^2) in the number of filters of
 * one connection, which is configuration-sized. */
#include "mqg_subs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_topic.h"

/* Length of the level starting at f. */
static size_t s_lvl(const char *f)
{
    return strcspn(f, "/");
}

static bool s_is(const char *lvl, size_t len, char c)
{
    return len == 1 && lvl[0] == c;
}

/* Can one topic match both plain filters a and b? (Topics starting with '$' are not matched
 * by a leading wildcard, so "+/x" and "$SYS/x" never overlap.) */
static bool s_overlap(const char *a, const char *b)
{
    for (int level = 0;; level++) {
        size_t la = s_lvl(a), lb = s_lvl(b);
        bool wa = s_is(a, la, '+') || s_is(a, la, '#');
        bool wb = s_is(b, lb, '+') || s_is(b, lb, '#');
        if (level == 0 && ((wa && !wb && b[0] == '$') || (wb && !wa && a[0] == '$'))) {
            return false;
        }
        if (s_is(a, la, '#') || s_is(b, lb, '#')) {
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

/* One pass: drop every filter covered by another. Returns true if something changed. */
static bool s_drop_covered(struct mqg_sub *subs, size_t n, bool *gone)
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
static bool s_join_overlapping(struct mqg_sub *subs, size_t n, bool *gone)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n && !gone[i]; j++) {
            if (gone[j] || !s_overlap(subs[i].filter, subs[j].filter)) {
                continue;
            }
            char *joined = s_join(subs[i].filter, subs[j].filter);
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

size_t mqg_subs_minimize(struct mqg_sub *subs, size_t n)
{
    bool *gone = calloc(n ? n : 1, sizeof(*gone));
    if (!gone) {
        return n; /* not minimal, still correct */
    }
    /* Overlapping filters that do not cover each other ("a/+/c", "a/b/+") would make the
     * broker send a message matching both twice: they are replaced by one filter covering
     * both ("a/+/+"); the router drops what no route asked for. */
    do {
        s_drop_covered(subs, n, gone);
    } while (s_join_overlapping(subs, n, gone));
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

int mqg_subs_for_conn(const struct mqg_model *m, int conn, struct mqg_sub **out, size_t *n)
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
    for (size_t r = 0; r < m->n_routes; r++) {
        const struct mqg_route *rt = &m->routes[r];
        for (size_t s = 0; s < rt->n_sources; s++) {
            if (rt->sources[s].conn != conn) {
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
    *n = mqg_subs_minimize(subs, k);
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
