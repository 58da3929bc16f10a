/* mqg_rulestate — the engine-free rules: cov, burst, collect, stash state (parse: mqg_ruleparse.c).
 *
 * Values stay JSON text; the only JSON this file reads is a number (cov's deadband, with
 * strtod: JSON's number grammar is a subset of strtod's in the "C" locale mqgate runs in).
 * collect and stash share one small ordered map (label -> text, insertion order, hash index).
 * See mqg_rulestate.h for the contracts and docs/rules.md for the semantics.
 */
#include "mqg_rulestate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_sbuf.h"
#include "mqg_topic.h"

/* ---- an ordered map label -> JSON text ---- */

struct omap_entry {
    char *label;
    char *value;
    size_t value_len;
    uint32_t hash;
    bool is_index;  /* an array index as JavaScript sees it ("0".."4294967294") */
    uint32_t index; /* its value */
};

struct omap {
    struct omap_entry *e; /* insertion order */
    size_t n;
    size_t cap;
    size_t max;
    int32_t *slot; /* open addressing: entry index or -1; size nslot (a power of two) */
    size_t nslot;
    uint64_t evicted;
};

static uint32_t s_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

/* "0", or a digit 1-9 followed by digits, below 2^32 - 1: an array index in JavaScript. */
static bool s_is_index(const char *s, uint32_t *v)
{
    if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 10) {
        return false;
    }
    uint64_t x = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        x = x * 10 + (uint64_t)(*p - '0');
    }
    if (x >= 4294967295ull) {
        return false;
    }
    *v = (uint32_t)x;
    return true;
}

static void s_omap_free(struct omap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].label);
        free(m->e[i].value);
    }
    free(m->e);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

static int s_omap_reindex(struct omap *m, size_t nslot)
{
    int32_t *slot = malloc(nslot * sizeof *slot);
    if (!slot) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < nslot; i++) {
        slot[i] = -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        size_t j = m->e[i].hash & (nslot - 1);
        while (slot[j] >= 0) {
            j = (j + 1) & (nslot - 1);
        }
        slot[j] = (int32_t)i;
    }
    free(m->slot);
    m->slot = slot;
    m->nslot = nslot;
    return 0;
}

/* The entry for label, or NULL. */
static struct omap_entry *s_omap_find(const struct omap *m, const char *label, uint32_t h)
{
    if (!m->nslot) {
        return NULL;
    }
    for (size_t j = h & (m->nslot - 1); m->slot[j] >= 0; j = (j + 1) & (m->nslot - 1)) {
        struct omap_entry *e = &m->e[m->slot[j]];
        if (e->hash == h && !strcmp(e->label, label)) {
            return e;
        }
    }
    return NULL;
}

/* Drop the oldest entry (the map is full). */
static int s_omap_evict(struct omap *m)
{
    free(m->e[0].label);
    free(m->e[0].value);
    memmove(m->e, m->e + 1, (m->n - 1) * sizeof *m->e);
    m->n--;
    m->evicted++;
    return s_omap_reindex(m, m->nslot);
}

/* Set label to a copy of value (len bytes). */
static int s_omap_set(struct omap *m, const char *label, const char *value, size_t len)
{
    uint32_t h = s_hash(label);
    char *v = malloc(len + 1);
    if (!v) {
        return -ENOMEM;
    }
    memcpy(v, value, len);
    v[len] = '\0';
    struct omap_entry *e = s_omap_find(m, label, h);
    if (e) {
        free(e->value);
        e->value = v;
        e->value_len = len;
        return 0;
    }
    int rc = 0;
    if (m->n >= m->max && (rc = s_omap_evict(m))) {
        free(v);
        return rc;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct omap_entry *ne = realloc(m->e, cap * sizeof *ne);
        if (!ne) {
            free(v);
            return -ENOMEM;
        }
        m->e = ne;
        m->cap = cap;
    }
    char *l = strdup(label);
    if (!l) {
        free(v);
        return -ENOMEM;
    }
    e = &m->e[m->n++];
    *e = (struct omap_entry){.label = l, .value = v, .value_len = len, .hash = h};
    e->is_index = s_is_index(label, &e->index);
    if (m->n * 2 > m->nslot) {
        size_t nslot = m->nslot ? m->nslot : 32;
        while (m->n * 2 > nslot) {
            nslot *= 2;
        }
        return s_omap_reindex(m, nslot);
    }
    size_t j = h & (m->nslot - 1);
    while (m->slot[j] >= 0) {
        j = (j + 1) & (m->nslot - 1);
    }
    m->slot[j] = (int32_t)(m->n - 1);
    return 0;
}

static int s_cmp_index(const void *a, const void *b)
{
    const struct omap_entry *x = *(const struct omap_entry *const *)a;
    const struct omap_entry *y = *(const struct omap_entry *const *)b;
    return x->index < y->index ? -1 : x->index > y->index;
}

static void s_put_member(struct mqg_sbuf *b, const struct omap_entry *e, bool *first)
{
    if (!*first) {
        mqg_sbuf_putc(b, ',');
    }
    *first = false;
    mqg_sbuf_json_string(b, e->label);
    mqg_sbuf_putc(b, ':');
    mqg_sbuf_put(b, e->value, e->value_len);
}

/* The map as a JSON object, keys in JavaScript's order: array indices ascending, then the
 * other keys in insertion order. */
static int s_omap_json(const struct omap *m, char **out)
{
    struct mqg_sbuf b = {0};
    bool first = true;
    size_t nidx = 0;
    for (size_t i = 0; i < m->n; i++) {
        nidx += m->e[i].is_index;
    }
    mqg_sbuf_putc(&b, '{');
    if (nidx) {
        const struct omap_entry **idx = malloc(nidx * sizeof *idx);
        if (!idx) {
            b.err = -ENOMEM;
        } else {
            size_t k = 0;
            for (size_t i = 0; i < m->n; i++) {
                if (m->e[i].is_index) {
                    idx[k++] = &m->e[i];
                }
            }
            qsort(idx, nidx, sizeof *idx, s_cmp_index);
            for (k = 0; k < nidx; k++) {
                s_put_member(&b, idx[k], &first);
            }
            free(idx);
        }
    }
    for (size_t i = 0; i < m->n; i++) {
        if (!m->e[i].is_index) {
            s_put_member(&b, &m->e[i], &first);
        }
    }
    mqg_sbuf_putc(&b, '}');
    return mqg_sbuf_take(&b, out);
}

/* ---- cov ---- */

struct mqg_cov {
    enum mqg_cov_mode mode;
    double deadband;
    bool have_ref;
    char *ref; /* NULL: the reference message had no such key */
    size_t ref_len;
};

int mqg_cov_new(enum mqg_cov_mode mode, double deadband, struct mqg_cov **out)
{
    *out = NULL;
    if (mode > MQG_COV_RELATIVE || !isfinite(deadband) || deadband < 0) {
        return -EINVAL;
    }
    struct mqg_cov *c = calloc(1, sizeof *c);
    if (!c) {
        return -ENOMEM;
    }
    c->mode = mode;
    c->deadband = deadband;
    *out = c;
    return 0;
}

void mqg_cov_destroy(struct mqg_cov **pc)
{
    if (pc && *pc) {
        free((*pc)->ref);
        free(*pc);
        *pc = NULL;
    }
}

/* The JSON number in s[0..len), if s is exactly one. */
static bool s_number(const char *s, size_t len, double *v)
{
    char buf[64];
    if (!s || len == 0 || len >= sizeof buf || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    *v = strtod(buf, &end);
    return *end == '\0' && isfinite(*v);
}

static bool s_changed(const struct mqg_cov *c, const char *value, size_t len)
{
    double a, b;
    if (c->mode != MQG_COV_EXACT && s_number(c->ref, c->ref_len, &a) && s_number(value, len, &b)) {
        double d = fabs(b - a);
        if (c->mode == MQG_COV_ABSOLUTE) {
            return d > c->deadband;
        }
        /* relative: d / |a| * 100 > deadband, without dividing (a == 0: any change) */
        return d * 100.0 > c->deadband * fabs(a);
    }
    if (!value || !c->ref) {
        return value != c->ref;
    }
    return len != c->ref_len || memcmp(value, c->ref, len) != 0;
}

int mqg_cov_check(struct mqg_cov *c, const char *value, size_t len, bool *pass)
{
    *pass = !c->have_ref || s_changed(c, value, len);
    if (!*pass) {
        return 0;
    }
    char *ref = NULL;
    if (value) {
        ref = malloc(len + 1);
        if (!ref) {
            *pass = false;
            return -ENOMEM;
        }
        memcpy(ref, value, len);
        ref[len] = '\0';
    }
    free(c->ref);
    c->ref = ref;
    c->ref_len = value ? len : 0;
    c->have_ref = true;
    return 0;
}

/* ---- burst ---- */

struct mqg_burst {
    uint32_t max_size;
    uint32_t interval_ms;
    struct mqg_sbuf batch; /* "[m1,m2" while messages are pending */
    size_t count;
    uint64_t first_ms;
};

int mqg_burst_new(uint32_t max_size, uint32_t interval_ms, struct mqg_burst **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) {
        return -ENOMEM;
    }
    (*out)->max_size = max_size;
    (*out)->interval_ms = interval_ms;
    return 0;
}

void mqg_burst_destroy(struct mqg_burst **pb)
{
    if (pb && *pb) {
        free((*pb)->batch.p);
        free(*pb);
        *pb = NULL;
    }
}

/* The pending batch as a JSON array in *out; the batch starts over. */
static int s_burst_flush(struct mqg_burst *b, char **out)
{
    mqg_sbuf_putc(&b->batch, ']');
    int rc = mqg_sbuf_take(&b->batch, out);
    memset(&b->batch, 0, sizeof b->batch);
    b->count = 0;
    b->first_ms = 0;
    return rc;
}

int mqg_burst_push(struct mqg_burst *b, const char *json, size_t len, uint64_t now_ms, char **out)
{
    *out = NULL;
    if (!b->max_size && !b->interval_ms) {
        char *copy = malloc(len + 1);
        if (!copy) {
            return -ENOMEM;
        }
        memcpy(copy, json, len);
        copy[len] = '\0';
        *out = copy;
        return 0;
    }
    mqg_sbuf_putc(&b->batch, b->count ? ',' : '[');
    mqg_sbuf_put(&b->batch, json, len);
    if (b->batch.err) {
        int rc = b->batch.err;
        free(b->batch.p);
        memset(&b->batch, 0, sizeof b->batch);
        b->count = 0;
        return rc;
    }
    if (b->count++ == 0) {
        b->first_ms = now_ms;
    }
    if ((b->max_size && b->count >= b->max_size) || b->count >= MQG_BURST_HARD_MAX) {
        return s_burst_flush(b, out);
    }
    return 0;
}

uint64_t mqg_burst_due(const struct mqg_burst *b)
{
    if (!b->count || !b->interval_ms) {
        return 0;
    }
    return b->first_ms + b->interval_ms;
}

int mqg_burst_tick(struct mqg_burst *b, uint64_t now_ms, char **out)
{
    *out = NULL;
    uint64_t due = mqg_burst_due(b);
    if (!due || now_ms < due) {
        return 0;
    }
    return s_burst_flush(b, out);
}

size_t mqg_burst_pending(const struct mqg_burst *b)
{
    return b->count;
}

/* ---- collect ---- */

struct mqg_collect {
    struct omap map;
};

int mqg_collect_new(size_t max_labels, struct mqg_collect **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) {
        return -ENOMEM;
    }
    (*out)->map.max = max_labels ? max_labels : MQG_COLLECT_MAX_LABELS;
    return 0;
}

void mqg_collect_destroy(struct mqg_collect **pc)
{
    if (pc && *pc) {
        s_omap_free(&(*pc)->map);
        free(*pc);
        *pc = NULL;
    }
}

int mqg_collect_put(struct mqg_collect *c, const char *label, const char *json, size_t len,
                    char **out)
{
    *out = NULL;
    if (!mqg_topic_utf8_ok(label, strlen(label))) {
        return -EINVAL;
    }
    int rc = s_omap_set(&c->map, label, json, len);
    return rc ? rc : s_omap_json(&c->map, out);
}

size_t mqg_collect_count(const struct mqg_collect *c)
{
    return c->map.n;
}

uint64_t mqg_collect_evicted(const struct mqg_collect *c)
{
    return c->map.evicted;
}

/* ---- stash ---- */

struct mqg_stash {
    struct omap visible; /* what $last sees */
    struct omap pending; /* stashed by the message running now */
    char *json;          /* visible as a JSON object */
};

int mqg_stash_new(size_t max_labels, struct mqg_stash **out)
{
    struct mqg_stash *s = calloc(1, sizeof *s);
    if (!s || !(s->json = strdup("{}"))) {
        free(s);
        *out = NULL;
        return -ENOMEM;
    }
    s->visible.max = s->pending.max = max_labels ? max_labels : MQG_COLLECT_MAX_LABELS;
    *out = s;
    return 0;
}

void mqg_stash_destroy(struct mqg_stash **ps)
{
    if (ps && *ps) {
        s_omap_free(&(*ps)->visible);
        s_omap_free(&(*ps)->pending);
        free((*ps)->json);
        free(*ps);
        *ps = NULL;
    }
}

int mqg_stash_put(struct mqg_stash *s, const char *label, const char *json, size_t len)
{
    if (!mqg_topic_utf8_ok(label, strlen(label))) {
        return -EINVAL;
    }
    return s_omap_set(&s->pending, label, json, len);
}

int mqg_stash_commit(struct mqg_stash *s)
{
    if (!s->pending.n) {
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < s->pending.n && !rc; i++) {
        struct omap_entry *e = &s->pending.e[i];
        rc = s_omap_set(&s->visible, e->label, e->value, e->value_len);
    }
    size_t max = s->pending.max;
    s_omap_free(&s->pending);
    s->pending.max = max;
    char *json = NULL;
    int rc2 = s_omap_json(&s->visible, &json);
    if (rc2 == 0) {
        free(s->json);
        s->json = json;
    }
    return rc ? rc : rc2;
}

const char *mqg_stash_json(const struct mqg_stash *s)
{
    return s->json;
}
