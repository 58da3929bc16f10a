/* mqg_rulestate — the engine-free rules: cov, burst, collect, stash state; parse.
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

/* ---- a growable text buffer ---- */

struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int err; /* -ENOMEM once an append failed */
};

static void s_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->err) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->err = -ENOMEM;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void s_putc(struct sbuf *b, char c)
{
    s_put(b, &c, 1);
}

/* Hand the text over (0), or free it and return the error. */
static int s_take(struct sbuf *b, char **out)
{
    if (b->err) {
        free(b->p);
        *out = NULL;
        return b->err;
    }
    *out = b->p;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if there is none. */
static size_t s_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    unsigned cp = c & (0x3F >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

static bool s_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n) {
        size_t l = s_utf8_len(p, n);
        if (!l) {
            return false;
        }
        p += l;
        n -= l;
    }
    return true;
}

/* s[0..len) (valid UTF-8) as a JSON string, as JSON.stringify writes it. */
static void s_put_json_string_n(struct sbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    s_putc(b, '"');
    const unsigned char *end = (const unsigned char *)s + len;
    for (const unsigned char *p = (const unsigned char *)s; p < end; p++) {
        switch (*p) {
        case '"':
            s_put(b, "\\\"", 2);
            break;
        case '\\':
            s_put(b, "\\\\", 2);
            break;
        case '\b':
            s_put(b, "\\b", 2);
            break;
        case '\f':
            s_put(b, "\\f", 2);
            break;
        case '\n':
            s_put(b, "\\n", 2);
            break;
        case '\r':
            s_put(b, "\\r", 2);
            break;
        case '\t':
            s_put(b, "\\t", 2);
            break;
        default:
            if (*p < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
                s_put(b, u, 6);
            } else {
                s_putc(b, (char)*p);
            }
        }
    }
    s_putc(b, '"');
}

static void s_put_json_string(struct sbuf *b, const char *s)
{
    s_put_json_string_n(b, s, strlen(s));
}

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

static void s_put_member(struct sbuf *b, const struct omap_entry *e, bool *first)
{
    if (!*first) {
        s_putc(b, ',');
    }
    *first = false;
    s_put_json_string(b, e->label);
    s_putc(b, ':');
    s_put(b, e->value, e->value_len);
}

/* The map as a JSON object, keys in JavaScript's order: array indices ascending, then the
 * other keys in insertion order. */
static int s_omap_json(const struct omap *m, char **out)
{
    struct sbuf b = {0};
    bool first = true;
    size_t nidx = 0;
    for (size_t i = 0; i < m->n; i++) {
        nidx += m->e[i].is_index;
    }
    s_putc(&b, '{');
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
    s_putc(&b, '}');
    return s_take(&b, out);
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
    struct sbuf batch; /* "[m1,m2" while messages are pending */
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
    s_putc(&b->batch, ']');
    int rc = s_take(&b->batch, out);
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
    s_putc(&b->batch, b->count ? ',' : '[');
    s_put(&b->batch, json, len);
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
    if (!s_utf8_valid(label)) {
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
    if (!s_utf8_valid(label)) {
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

/* ---- parse ---- */

static const struct {
    const char *name;
    enum mqg_parse_format f;
} FORMATS[] = {
    {"json", MQG_PARSE_JSON},
    {"utf8", MQG_PARSE_UTF8},
    {"latin1", MQG_PARSE_LATIN1},
    {"ascii", MQG_PARSE_ASCII},
    {"boolean", MQG_PARSE_BOOLEAN},
    {"int8", MQG_PARSE_INT8},
    {"uint8", MQG_PARSE_UINT8},
    {"int16BE", MQG_PARSE_INT16BE},
    {"int16LE", MQG_PARSE_INT16LE},
    {"uint16BE", MQG_PARSE_UINT16BE},
    {"uint16LE", MQG_PARSE_UINT16LE},
    {"int32BE", MQG_PARSE_INT32BE},
    {"int32LE", MQG_PARSE_INT32LE},
    {"uint32BE", MQG_PARSE_UINT32BE},
    {"uint32LE", MQG_PARSE_UINT32LE},
    {"floatBE", MQG_PARSE_FLOATBE},
    {"floatLE", MQG_PARSE_FLOATLE},
    {"doubleBE", MQG_PARSE_DOUBLEBE},
    {"doubleLE", MQG_PARSE_DOUBLELE},
    {"toBase64", MQG_PARSE_TOBASE64},
    {"fromBase64", MQG_PARSE_FROMBASE64},
};

int mqg_parse_format(const char *name, enum mqg_parse_format *f)
{
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++) {
        if (!strcmp(name, FORMATS[i].name)) {
            *f = FORMATS[i].f;
            return 0;
        }
    }
    return -EINVAL;
}

/* x as ECMAScript's Number::toString writes it: the shortest digits that read back as x,
 * plain notation for exponents -7 < e < 21, otherwise d.ddde+N; JSON.stringify's null for
 * NaN and the infinities. */
static void s_put_number(struct sbuf *b, double x)
{
    if (!isfinite(x)) {
        s_put(b, "null", 4);
        return;
    }
    if (x == 0) {
        s_putc(b, '0'); /* -0 too */
        return;
    }
    if (x < 0) {
        s_putc(b, '-');
        x = -x;
    }
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        if (strtod(buf, NULL) == x) {
            break;
        }
    }
    char *e = strchr(buf, 'e');
    int n = (int)strtol(e + 1, NULL, 10) + 1; /* the decimal point after n digits */
    char d[24];
    int k = 0;
    for (char *q = buf; q < e; q++) {
        if (*q != '.') {
            d[k++] = *q;
        }
    }
    while (k > 1 && d[k - 1] == '0') {
        k--;
    }
    if (k <= n && n <= 21) {
        s_put(b, d, (size_t)k);
        for (int i = k; i < n; i++) {
            s_putc(b, '0');
        }
    } else if (0 < n && n <= 21) {
        s_put(b, d, (size_t)n);
        s_putc(b, '.');
        s_put(b, d + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        s_put(b, "0.", 2);
        for (int i = n; i < 0; i++) {
            s_putc(b, '0');
        }
        s_put(b, d, (size_t)k);
    } else {
        char exp[16];
        s_putc(b, d[0]);
        if (k > 1) {
            s_putc(b, '.');
            s_put(b, d + 1, (size_t)(k - 1));
        }
        snprintf(exp, sizeof exp, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
        s_put(b, exp, strlen(exp));
    }
}

/* Append code point cp as UTF-8. */
static void s_put_cp(struct sbuf *b, unsigned cp)
{
    char u[4];
    if (cp < 0x80) {
        s_putc(b, (char)cp);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        s_put(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        s_put(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        s_put(b, u, 4);
    }
}

/* Bytes as UTF-8 text, each maximal ill-formed subpart replaced by one U+FFFD (the WHATWG
 * decoder's rule, which Node.js's Buffer.toString follows), into a JSON string. */
static void s_put_utf8_string(struct sbuf *b, const unsigned char *p, size_t len)
{
    struct sbuf t = {0};
    size_t i = 0;
    while (i < len) {
        size_t l = s_utf8_len(p + i, len - i);
        if (l) {
            s_put(&t, (const char *)p + i, l);
            i += l;
            continue;
        }
        /* how far the bytes could still have been a sequence */
        unsigned c = p[i];
        size_t want = c >= 0xC2 && c <= 0xDF   ? 2
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xF0 && c <= 0xF4 ? 4
                                               : 1;
        size_t j = 1;
        while (j < want && i + j < len) {
            unsigned n = p[i + j];
            unsigned lo = 0x80, hi = 0xBF;
            if (j == 1) {
                lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
                hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
            }
            if (n < lo || n > hi) {
                break;
            }
            j++;
        }
        s_put(&t, "\xEF\xBF\xBD", 3);
        i += j;
    }
    if (t.err) {
        b->err = t.err;
    } else {
        s_put_json_string_n(b, t.p ? t.p : "", t.len);
    }
    free(t.p);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void s_put_base64(struct sbuf *b, const unsigned char *p, size_t len)
{
    s_putc(b, '"');
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        char q[4] = {B64[v >> 18], B64[v >> 12 & 63], i + 1 < len ? B64[v >> 6 & 63] : '=',
                     i + 2 < len ? B64[v & 63] : '='};
        s_put(b, q, 4);
    }
    s_putc(b, '"');
}

/* Base64 text decoded as Node.js's Buffer.from(text, "base64") does: both alphabets, padding
 * optional, other characters skipped, decoding ends at '='. */
static int s_unbase64(const unsigned char *p, size_t len, unsigned char **out, size_t *n)
{
    unsigned char *d = malloc(len / 4 * 3 + 3);
    if (!d) {
        return -ENOMEM;
    }
    unsigned acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < len && p[i] != '='; i++) {
        int v;
        unsigned c = p[i];
        if (c >= 'A' && c <= 'Z') {
            v = (int)(c - 'A');
        } else if (c >= 'a' && c <= 'z') {
            v = (int)(c - 'a') + 26;
        } else if (c >= '0' && c <= '9') {
            v = (int)(c - '0') + 52;
        } else if (c == '+' || c == '-') {
            v = 62;
        } else if (c == '/' || c == '_') {
            v = 63;
        } else {
            continue;
        }
        acc = (acc << 6 | (unsigned)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[k++] = (unsigned char)(acc >> bits);
        }
    }
    *out = d;
    *n = k;
    return 0;
}

static uint32_t s_be(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static uint32_t s_le(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Bytes a format needs at least (0: any). */
static size_t s_size(enum mqg_parse_format f)
{
    switch (f) {
    case MQG_PARSE_BOOLEAN:
    case MQG_PARSE_INT8:
    case MQG_PARSE_UINT8:
        return 1;
    case MQG_PARSE_INT16BE:
    case MQG_PARSE_INT16LE:
    case MQG_PARSE_UINT16BE:
    case MQG_PARSE_UINT16LE:
        return 2;
    case MQG_PARSE_INT32BE:
    case MQG_PARSE_INT32LE:
    case MQG_PARSE_UINT32BE:
    case MQG_PARSE_UINT32LE:
    case MQG_PARSE_FLOATBE:
    case MQG_PARSE_FLOATLE:
        return 4;
    case MQG_PARSE_DOUBLEBE:
    case MQG_PARSE_DOUBLELE:
        return 8;
    default:
        return 0;
    }
}

int mqg_parse_payload(enum mqg_parse_format f, const void *data, size_t len, char **out)
{
    const unsigned char *p = data;
    struct sbuf b = {0};
    *out = NULL;
    if (len < s_size(f)) {
        return -EBADMSG;
    }
    switch (f) {
    case MQG_PARSE_JSON:
        s_put(&b, (const char *)p, len);
        if (!b.p && !b.err) {
            s_put(&b, "", 0);
        }
        break;
    case MQG_PARSE_UTF8:
        s_put_utf8_string(&b, p, len);
        break;
    case MQG_PARSE_LATIN1:
    case MQG_PARSE_ASCII: {
        struct sbuf t = {0};
        for (size_t i = 0; i < len; i++) {
            s_put_cp(&t, f == MQG_PARSE_ASCII ? p[i] & 0x7Fu : p[i]);
        }
        if (t.err) {
            b.err = t.err;
        } else {
            s_put_json_string_n(&b, t.p ? t.p : "", t.len);
        }
        free(t.p);
        break;
    }
    case MQG_PARSE_BOOLEAN:
        s_put(&b, p[0] ? "true" : "false", p[0] ? 4 : 5);
        break;
    case MQG_PARSE_INT8:
        s_put_number(&b, (int8_t)p[0]);
        break;
    case MQG_PARSE_UINT8:
        s_put_number(&b, p[0]);
        break;
    case MQG_PARSE_INT16BE:
        s_put_number(&b, (int16_t)s_be(p, 2));
        break;
    case MQG_PARSE_INT16LE:
        s_put_number(&b, (int16_t)s_le(p, 2));
        break;
    case MQG_PARSE_UINT16BE:
        s_put_number(&b, s_be(p, 2));
        break;
    case MQG_PARSE_UINT16LE:
        s_put_number(&b, s_le(p, 2));
        break;
    case MQG_PARSE_INT32BE:
        s_put_number(&b, (int32_t)s_be(p, 4));
        break;
    case MQG_PARSE_INT32LE:
        s_put_number(&b, (int32_t)s_le(p, 4));
        break;
    case MQG_PARSE_UINT32BE:
        s_put_number(&b, s_be(p, 4));
        break;
    case MQG_PARSE_UINT32LE:
        s_put_number(&b, s_le(p, 4));
        break;
    case MQG_PARSE_FLOATBE:
    case MQG_PARSE_FLOATLE: {
        uint32_t v = f == MQG_PARSE_FLOATBE ? s_be(p, 4) : s_le(p, 4);
        float x;
        memcpy(&x, &v, sizeof x);
        s_put_number(&b, x);
        break;
    }
    case MQG_PARSE_DOUBLEBE:
    case MQG_PARSE_DOUBLELE: {
        uint64_t v = f == MQG_PARSE_DOUBLEBE ? (uint64_t)s_be(p, 4) << 32 | s_be(p + 4, 4)
                                             : (uint64_t)s_le(p + 4, 4) << 32 | s_le(p, 4);
        double x;
        memcpy(&x, &v, sizeof x);
        s_put_number(&b, x);
        break;
    }
    case MQG_PARSE_TOBASE64:
        s_put_base64(&b, p, len);
        break;
    case MQG_PARSE_FROMBASE64: {
        unsigned char *d = NULL;
        size_t n = 0;
        int rc = s_unbase64(p, len, &d, &n);
        if (rc) {
            return rc;
        }
        s_put_utf8_string(&b, d, n);
        free(d);
        break;
    }
    default:
        return -EINVAL;
    }
    return s_take(&b, out);
}
