/* mqg_trie — subscription trie: plain MQTT filters mapped to opaque values (see mqg_trie.h).
 *
 * One node per filter level. A node keeps its literal children in an array sorted by
 * (length, bytes) for binary search, a separate '+' child, the values of filters ending at
 * the node, and the values of filters ending in "/#" below it (so '#' needs no node).
 * Matching walks the topic once, recursing only into '+' children: allocation-free, and its
 * stack depth is bounded by the number of '+' levels of the deepest stored filter.
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

int mqg_trie_add(struct mqg_trie *t, const char *filter, void *value)
{
    if (!t || !mqg_topic_valid_filter(filter)) {
        return -EINVAL;
    }
    struct s_node *n = t->root;
    const char *f = filter;
    for (;;) {
        size_t len = strcspn(f, "/");
        if (len == 1 && f[0] == '#') {
            break; /* valid filter: '#' is the last level */
        }
        if (len == 1 && f[0] == '+') {
            if (!n->plus) {
                n->plus = s_node_new(t, "+", 1);
            }
            n = n->plus;
        } else {
            n = s_child(t, n, f, len);
        }
        if (!n) {
            return -ENOMEM; /* nodes made so far stay, empty; destroy frees them */
        }
        if (f[len] == '\0') {
            break;
        }
        f += len + 1;
    }
    int rc = s_vals_push(f[0] == '#' ? &n->hash : &n->here, value);
    if (rc == 0) {
        t->size++;
    }
    return rc;
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

size_t mqg_trie_size(const struct mqg_trie *t)
{
    return t ? t->size : 0;
}
