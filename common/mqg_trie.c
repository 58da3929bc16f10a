/* mqg_trie — subscription trie: plain MQTT filters mapped to opaque values (see mqg_trie.h).
 *
 * One node per filter level. A node keeps its literal children in an array sorted by
 * (length, bytes) for binary search, a separate '+' child, the values of filters ending at
 * the node, and the values of filters ending in "/#" below it (so '#' needs no node).
 * Matching walks the topic once, recursing only into '+' children: allocation-free, and its
 * stack depth is bounded by the number of '+' levels of the deepest stored filter.
 * Each node also counts the values stored in its subtree, so that removing leaves no cost
 * behind: the overlap search (used to build minimal subscription sets) skips empty subtrees.
 * Nodes emptied by removal stay until the trie is destroyed.
 */
#include "mqg_trie.h"

#include "mqg_topic.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct s_vals {
    void **v;
    size_t n;
    size_t cap;
};

struct s_node {
    struct s_node **kids; /* literal children, sorted by s_cmp() */
    size_t nkids;
    size_t capkids;
    struct s_node *plus; /* '+' child */
    struct s_vals here;  /* filters ending at this node */
    struct s_vals hash;  /* filters ending with '#' right below this node */
    struct s_node *all;  /* next node in the trie's list of all nodes (for destroy) */
    size_t count;        /* values here, in hash and in all nodes below */
    size_t keylen;
    char key[]; /* this level's text, not NUL-terminated */
};

struct mqg_trie {
    struct s_node *root;
    struct s_node *all; /* every node, so destroy needs neither recursion nor a stack */
    size_t size;
};

static struct s_node *s_node_new(struct mqg_trie *t, const char *key, size_t len)
{
    struct s_node *n = calloc(1, sizeof(*n) + len);
    if (!n) {
        return NULL;
    }
    memcpy(n->key, key, len);
    n->keylen = len;
    n->all = t->all;
    t->all = n;
    return n;
}

struct mqg_trie *mqg_trie_new(void)
{
    struct mqg_trie *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->root = s_node_new(t, "", 0);
    if (!t->root) {
        free(t);
        return NULL;
    }
    return t;
}

void mqg_trie_destroy(struct mqg_trie **t)
{
    if (!t || !*t) {
        return;
    }
    struct s_node *n = (*t)->all;
    while (n) {
        struct s_node *next = n->all;
        free(n->kids);
        free(n->here.v);
        free(n->hash.v);
        free(n);
        n = next;
    }
    free(*t);
    *t = NULL;
}

/* Order of literal children: shorter keys first, then bytewise. */
static int s_cmp(const struct s_node *n, const char *key, size_t len)
{
    if (n->keylen != len) {
        return n->keylen < len ? -1 : 1;
    }
    return memcmp(n->key, key, len);
}

/* Index of the child with this key, or (if none) where it would be inserted; *found says
 * which. */
static size_t s_search(const struct s_node *n, const char *key, size_t len, bool *found)
{
    size_t lo = 0;
    size_t hi = n->nkids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = s_cmp(n->kids[mid], key, len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

static const struct s_node *s_find(const struct s_node *n, const char *key, size_t len)
{
    bool found;
    size_t i = s_search(n, key, len, &found);
    return found ? n->kids[i] : NULL;
}

/* The literal child of n with this key, created if missing; NULL on allocation failure. */
static struct s_node *s_child(struct mqg_trie *t, struct s_node *n, const char *key, size_t len)
{
    bool found;
    size_t i = s_search(n, key, len, &found);
    if (found) {
        return n->kids[i];
    }
    if (n->nkids == n->capkids) {
        size_t cap = n->capkids ? n->capkids * 2 : 4;
        struct s_node **kids = realloc(n->kids, cap * sizeof(*kids));
        if (!kids) {
            return NULL;
        }
        n->kids = kids;
        n->capkids = cap;
    }
    struct s_node *k = s_node_new(t, key, len);
    if (!k) {
        return NULL;
    }
    memmove(&n->kids[i + 1], &n->kids[i], (n->nkids - i) * sizeof(*n->kids));
    n->kids[i] = k;
    n->nkids++;
    return k;
}

static int s_vals_push(struct s_vals *vs, void *value)
{
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 2;
        void **v = realloc(vs->v, cap * sizeof(*v));
        if (!v) {
            return -ENOMEM;
        }
        vs->v = v;
        vs->cap = cap;
    }
    vs->v[vs->n++] = value;
    return 0;
}

/* The node of a valid filter's last level before any '#' (created with create), or NULL;
 * *hash tells whether the filter ends with '#'. */
static struct s_node *s_locate(struct mqg_trie *t, const char *filter, bool create, bool *hash)
{
    struct s_node *n = t->root;
    const char *f = filter;
    *hash = false;
    for (;;) {
        size_t len = strcspn(f, "/");
        if (len == 1 && f[0] == '#') {
            *hash = true;
            return n; /* valid filter: '#' is the last level */
        }
        if (len == 1 && f[0] == '+') {
            if (!n->plus && create) {
                n->plus = s_node_new(t, "+", 1);
            }
            n = n->plus;
        } else if (create) {
            n = s_child(t, n, f, len);
        } else {
            n = (struct s_node *)s_find(n, f, len);
        }
        if (!n || f[len] == '\0') {
            return n; /* NULL: allocation failure, or not there */
        }
        f += len + 1;
    }
}

/* Add delta to the count of every node on the path of a stored filter. */
static void s_count_path(struct mqg_trie *t, const char *filter, int delta)
{
    struct s_node *n = t->root;
    const char *f = filter;
    for (;;) {
        n->count += (size_t)delta;
        size_t len = strcspn(f, "/");
        if (len == 1 && f[0] == '#') {
            return;
        }
        n = len == 1 && f[0] == '+' ? n->plus : (struct s_node *)s_find(n, f, len);
        if (f[len] == '\0') {
            n->count += (size_t)delta;
            return;
        }
        f += len + 1;
    }
}

int mqg_trie_add(struct mqg_trie *t, const char *filter, void *value)
{
    if (!t || !mqg_topic_valid_filter(filter)) {
        return -EINVAL;
    }
    bool hash;
    struct s_node *n = s_locate(t, filter, true, &hash);
    if (!n) {
        return -ENOMEM; /* nodes made so far stay, empty; destroy frees them */
    }
    int rc = s_vals_push(hash ? &n->hash : &n->here, value);
    if (rc == 0) {
        t->size++;
        s_count_path(t, filter, 1);
    }
    return rc;
}

int mqg_trie_remove(struct mqg_trie *t, const char *filter, void *value)
{
    if (!t || !mqg_topic_valid_filter(filter)) {
        return -EINVAL;
    }
    bool hash;
    struct s_node *n = s_locate(t, filter, false, &hash);
    struct s_vals *vs = n ? (hash ? &n->hash : &n->here) : NULL;
    for (size_t i = 0; vs && i < vs->n; i++) {
        if (vs->v[i] == value) {
            memmove(&vs->v[i], &vs->v[i + 1], (vs->n - i - 1) * sizeof(*vs->v));
            vs->n--;
            t->size--;
            s_count_path(t, filter, -1);
            return 0;
        }
    }
    return -ENOENT;
}

static size_t s_emit(const struct s_vals *vs, mqg_trie_cb cb, void *arg)
{
    for (size_t i = 0; i < vs->n; i++) {
        cb(vs->v[i], arg);
    }
    return vs->n;
}

/* Start of the level after the one at t (len bytes), or NULL if it was the last level. */
static const char *s_next_level(const char *t, size_t len)
{
    return t[len] == '/' ? t + len + 1 : NULL;
}

/* n has consumed the levels before t; t is the next level, NULL when the topic is used up. */
static size_t s_walk(const struct s_node *n, const char *t, mqg_trie_cb cb, void *arg)
{
    size_t calls = 0;
    while (n) {
        calls += s_emit(&n->hash, cb, arg); /* "x/#" matches "x" and everything below */
        if (!t) {
            return calls + s_emit(&n->here, cb, arg);
        }
        size_t len = strcspn(t, "/");
        const char *next = s_next_level(t, len);
        if (n->plus) {
            calls += s_walk(n->plus, next, cb, arg);
        }
        n = s_find(n, t, len);
        t = next;
    }
    return calls;
}

size_t mqg_trie_match(const struct mqg_trie *t, const char *topic, mqg_trie_cb cb, void *arg)
{
    if (!t || !topic || topic[0] == '\0' || !cb) {
        return 0;
    }
    const struct s_node *root = t->root;
    size_t len = strcspn(topic, "/");
    const char *next = s_next_level(topic, len);
    size_t calls = 0;
    if (topic[0] != '$') { /* "#" and "+/..." do not match "$SYS/..." */
        calls += s_emit(&root->hash, cb, arg);
        if (root->plus) {
            calls += s_walk(root->plus, next, cb, arg);
        }
    }
    return calls + s_walk(s_find(root, topic, len), next, cb, arg);
}

/* A first-level key starting with '$': such topics are not matched by a leading wildcard. */
static bool s_dollar(const struct s_node *n)
{
    return n->keylen > 0 && n->key[0] == '$';
}

/* Every value at n and below; below the root (skip_dollar) not those under '$' levels. Loops
 * into the fullest child and recurses into the others, so the stack depth stays below
 * log2(values) levels. */
static size_t s_emit_all(const struct s_node *n, bool skip_dollar, mqg_trie_cb cb, void *arg)
{
    size_t calls = 0;
    while (n && n->count) {
        calls += s_emit(&n->hash, cb, arg) + s_emit(&n->here, cb, arg);
        const struct s_node *big = n->plus;
        for (size_t i = 0; i < n->nkids; i++) {
            const struct s_node *k = n->kids[i];
            if (!k->count || (skip_dollar && s_dollar(k))) {
                continue;
            }
            if (!big || k->count > big->count) {
                if (big) {
                    calls += s_emit_all(big, false, cb, arg);
                }
                big = k;
            } else {
                calls += s_emit_all(k, false, cb, arg);
            }
        }
        n = big;
        skip_dollar = false;
    }
    return calls;
}

/* n has consumed the levels of the query before q (NULL when the query is used up); root:
 * n is the root, where the '$' rule applies; bare: the levels consumed are one empty level,
 * so they alone are not a topic (the empty topic is invalid: "/#" and "+" do not overlap). */
static size_t s_overlap_walk(const struct s_node *n, const char *q, bool root, bool bare,
                             mqg_trie_cb cb, void *arg)
{
    size_t calls = 0;
    while (n && n->count) {
        /* "P/#" stored here matches P and all below: whatever the query matches from here on,
         * except a '$' topic for the stored "#" and the empty topic */
        if (!(root && q && q[0] == '$') && !(bare && !q)) {
            calls += s_emit(&n->hash, cb, arg);
        }
        if (!q) {
            return calls + (bare ? 0 : s_emit(&n->here, cb, arg));
        }
        size_t len = strcspn(q, "/");
        const char *next = s_next_level(q, len);
        if (len == 1 && q[0] == '#') { /* matches this level's topic and all below */
            calls += bare ? 0 : s_emit(&n->here, cb, arg);
            for (size_t i = 0; i < n->nkids; i++) {
                if (!(root && s_dollar(n->kids[i]))) {
                    calls += s_emit_all(n->kids[i], false, cb, arg);
                }
            }
            return calls + s_emit_all(n->plus, false, cb, arg);
        }
        if (len == 1 && q[0] == '+') {
            for (size_t i = 0; i < n->nkids; i++) {
                const struct s_node *k = n->kids[i];
                if (!(root && s_dollar(k))) {
                    calls += s_overlap_walk(k, next, false, root && k->keylen == 0, cb, arg);
                }
            }
            n = n->plus;
            bare = false;
        } else {
            bare = root && len == 0;
            if (!(root && q[0] == '$')) {
                calls += s_overlap_walk(n->plus, next, false, bare, cb, arg);
            }
            n = s_find(n, q, len);
        }
        q = next;
        root = false;
    }
    return calls;
}

size_t mqg_trie_overlaps(const struct mqg_trie *t, const char *filter, mqg_trie_cb cb, void *arg)
{
    if (!t || !cb || !mqg_topic_valid_filter(filter)) {
        return 0;
    }
    return s_overlap_walk(t->root, filter, true, false, cb, arg);
}

size_t mqg_trie_size(const struct mqg_trie *t)
{
    return t ? t->size : 0;
}
