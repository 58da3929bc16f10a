/* mqg_jval — JSON values and a small recursive-descent parser (see mqg_jval.h).
 *
 * The parser follows RFC 8259: objects, arrays, strings with every escape (\uXXXX pairs into
 * UTF-8), numbers (strtod after the grammar is checked), true, false, null; whitespace
 * between tokens; nothing after the value. Depth is bounded so that a hostile -p value
 * cannot exhaust the stack.
 */
#include "mqg_jval.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_text.h"

#define S_DEPTH_MAX 64

struct s_parser {
    const char *p, *end, *start;
    char *why;
    size_t cap;
    int err;
};

static int s_fail(struct s_parser *ps, const char *what)
{
    if (!ps->err) {
        snprintf(ps->why, ps->cap, "%s at byte %zu", what, (size_t)(ps->p - ps->start) + 1);
        ps->err = -EINVAL;
    }
    return ps->err;
}

static void s_ws(struct s_parser *ps)
{
    while (ps->p < ps->end && strchr(" \t\r\n", *ps->p) && *ps->p) {
        ps->p++;
    }
}

static int s_value(struct s_parser *ps, struct mqg_jval *v, int depth);

/* Append code point cp as UTF-8 to buf. */
static size_t s_put_utf8(char *buf, unsigned cp)
{
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (char)(0xc0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (char)(0xe0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        buf[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    buf[0] = (char)(0xf0 | (cp >> 18));
    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    buf[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The 4 hex digits at p (before end) into *v. */
static bool s_hex4(const char *p, const char *end, unsigned *v)
{
    return end - p >= 4 && mqg_text_hex(p, 4, v);
}

/* One escape after the backslash at ps->p into out; returns bytes written or -1. */
static int s_escape(struct s_parser *ps, char *out)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *k = ps->p < ps->end && *ps->p ? strchr(from, *ps->p) : NULL;
    if (k) {
        ps->p++;
        out[0] = to[k - from];
        return 1;
    }
    unsigned cp, lo;
    if (ps->p >= ps->end || *ps->p != 'u' || !s_hex4(ps->p + 1, ps->end, &cp)) {
        return -1;
    }
    ps->p += 5;
    if (cp >= 0xd800 && cp < 0xdc00) {
        if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
            !s_hex4(ps->p + 2, ps->end, &lo) || lo < 0xdc00 || lo >= 0xe000) {
            return -1;
        }
        ps->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    } else if (cp >= 0xdc00 && cp < 0xe000) {
        return -1;
    }
    return (int)s_put_utf8(out, cp);
}

static int s_string_raw(struct s_parser *ps, char **out, size_t *len)
{
    ps->p++; /* the opening quote */
    size_t cap = 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        return ps->err = -ENOMEM;
    }
    while (ps->p < ps->end && *ps->p != '"') {
        if (n + 8 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return ps->err = -ENOMEM;
            }
            buf = nb;
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            free(buf);
            return s_fail(ps, "a control character in a string");
        }
        if (c == '\\') {
            ps->p++;
            int k = s_escape(ps, buf + n);
            if (k < 0) {
                free(buf);
                return s_fail(ps, "an invalid escape in a string");
            }
            n += (size_t)k;
        } else {
            buf[n++] = (char)c;
            ps->p++;
        }
    }
    if (ps->p >= ps->end) {
        free(buf);
        return s_fail(ps, "a string is not closed");
    }
    ps->p++;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int s_number(struct s_parser *ps, struct mqg_jval *v)
{
    const char *s = ps->p;
    const char *q = s;
    if (q < ps->end && *q == '-') {
        q++;
    }
    if (q < ps->end && *q == '0') {
        q++;
    } else if (q < ps->end && *q >= '1' && *q <= '9') {
        while (q < ps->end && *q >= '0' && *q <= '9') {
            q++;
        }
    } else {
        return s_fail(ps, "an unexpected character");
    }
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            return s_fail(ps, "a number without digits after '.'");
        }
        while (q < ps->end && *q >= '0' && *q <= '9') {
            q++;
        }
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) {
            q++;
        }
        if (q >= ps->end || *q < '0' || *q > '9') {
            return s_fail(ps, "a number without an exponent");
        }
        while (q < ps->end && *q >= '0' && *q <= '9') {
            q++;
        }
    }
    char buf[64];
    size_t n = (size_t)(q - s);
    if (n >= sizeof(buf)) {
        return s_fail(ps, "a number too long");
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    v->type = MQG_JVAL_NUMBER;
    v->num = strtod(buf, NULL);
    if (!isfinite(v->num)) {
        return s_fail(ps, "a number out of range");
    }
    ps->p = q;
    return 0;
}

static int s_grow(struct mqg_jval *v, size_t *cap, bool keys)
{
    if (v->n < *cap) {
        return 0;
    }
    size_t nc = *cap ? *cap * 2 : 4;
    struct mqg_jval *ni = realloc(v->items, nc * sizeof(*ni));
    if (!ni) {
        return -ENOMEM;
    }
    v->items = ni;
    if (keys) {
        char **nk = realloc(v->keys, nc * sizeof(*nk));
        if (!nk) {
            return -ENOMEM;
        }
        v->keys = nk;
    }
    *cap = nc;
    return 0;
}

static int s_container(struct s_parser *ps, struct mqg_jval *v, int depth, bool object)
{
    char close = object ? '}' : ']';
    size_t cap = 0;
    v->type = object ? MQG_JVAL_OBJECT : MQG_JVAL_ARRAY;
    ps->p++;
    s_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (s_grow(v, &cap, object) != 0) {
            return ps->err = -ENOMEM;
        }
        struct mqg_jval *item = &v->items[v->n];
        memset(item, 0, sizeof(*item));
        if (object) {
            size_t klen;
            s_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"') {
                return s_fail(ps, "expected a key (a string)");
            }
            char *key = NULL;
            if (s_string_raw(ps, &key, &klen) != 0) {
                return ps->err;
            }
            v->keys[v->n] = key;
            s_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                v->n++;
                return s_fail(ps, "expected ':'");
            }
            ps->p++;
        }
        v->n++;
        if (s_value(ps, item, depth + 1) != 0) {
            return ps->err;
        }
        s_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return 0;
        }
        return s_fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int s_word(struct s_parser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) {
        return s_fail(ps, "an unexpected character");
    }
    ps->p += n;
    return 0;
}

static int s_value(struct s_parser *ps, struct mqg_jval *v, int depth)
{
    if (depth > S_DEPTH_MAX) {
        return s_fail(ps, "nesting deeper than 64");
    }
    s_ws(ps);
    if (ps->p >= ps->end) {
        return s_fail(ps, "a value is missing");
    }
    switch (*ps->p) {
    case '{':
        return s_container(ps, v, depth, true);
    case '[':
        return s_container(ps, v, depth, false);
    case '"':
        v->type = MQG_JVAL_STRING;
        return s_string_raw(ps, &v->str, &v->len);
    case 't':
        v->type = MQG_JVAL_BOOL;
        v->b = true;
        return s_word(ps, "true");
    case 'f':
        v->type = MQG_JVAL_BOOL;
        return s_word(ps, "false");
    case 'n':
        v->type = MQG_JVAL_NULL;
        return s_word(ps, "null");
    default:
        return s_number(ps, v);
    }
}

int mqg_jval_parse(const char *text, size_t len, struct mqg_jval *out, char *why, size_t cap)
{
    struct s_parser ps = {.p = text, .end = text + len, .start = text, .why = why, .cap = cap};
    memset(out, 0, sizeof(*out));
    int rc = s_value(&ps, out, 0);
    s_ws(&ps);
    if (rc == 0 && ps.p != ps.end) {
        rc = s_fail(&ps, "something after the value");
    }
    if (rc != 0) {
        mqg_jval_free(out);
        if (rc == -ENOMEM) {
            snprintf(why, cap, "out of memory");
        }
    }
    return rc;
}

void mqg_jval_free(struct mqg_jval *v)
{
    if (!v) {
        return;
    }
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        mqg_jval_free(&v->items[i]);
        if (v->keys) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof(*v));
}

const struct mqg_jval *mqg_jval_get(const struct mqg_jval *obj, const char *key)
{
    for (size_t i = 0; obj && obj->type == MQG_JVAL_OBJECT && i < obj->n; i++) {
        if (strcmp(obj->keys[i], key) == 0) {
            return &obj->items[i];
        }
    }
    return NULL;
}

bool mqg_jval_equal(const struct mqg_jval *a, const struct mqg_jval *b)
{
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case MQG_JVAL_NULL:
        return true;
    case MQG_JVAL_BOOL:
        return a->b == b->b;
    case MQG_JVAL_NUMBER:
        return a->num == b->num;
    case MQG_JVAL_STRING:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case MQG_JVAL_ARRAY:
        if (a->n != b->n) {
            return false;
        }
        for (size_t i = 0; i < a->n; i++) {
            if (!mqg_jval_equal(&a->items[i], &b->items[i])) {
                return false;
            }
        }
        return true;
    case MQG_JVAL_OBJECT:
        if (a->n != b->n) {
            return false;
        }
        for (size_t i = 0; i < a->n; i++) {
            const struct mqg_jval *other = mqg_jval_get(b, a->keys[i]);
            if (!other || !mqg_jval_equal(&a->items[i], other)) {
                return false;
            }
        }
        return true;
    }
    return false;
}

bool mqg_jval_is_integer(const struct mqg_jval *v)
{
    return v->type == MQG_JVAL_NUMBER && v->num == floor(v->num);
}

const char *mqg_jval_type_name(const struct mqg_jval *v, bool integral)
{
    static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
    if (integral && mqg_jval_is_integer(v)) {
        return "integer";
    }
    return names[v->type];
}

/* ---- compact text ---- */

struct s_text {
    char *buf;
    size_t cap, len;
};

static void s_add(struct s_text *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n && t->len + 1 < t->cap; i++) {
        t->buf[t->len++] = s[i];
    }
    t->buf[t->len] = '\0';
}

/* A string's bytes with '"', '\\' and control characters escaped as JSON writes them. */
static void s_add_escaped(struct s_text *t, const char *s, size_t n)
{
    char esc[8];
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            s_add(t, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", ch);
            s_add(t, esc, 6);
        } else {
            s_add(t, s + i, 1);
        }
    }
}

static void s_text(struct s_text *t, const struct mqg_jval *v)
{
    char num[40];
    switch (v->type) {
    case MQG_JVAL_NULL:
        s_add(t, "null", 4);
        break;
    case MQG_JVAL_BOOL:
        s_add(t, v->b ? "true" : "false", v->b ? 4 : 5);
        break;
    case MQG_JVAL_NUMBER:
        snprintf(num, sizeof(num), "%.17g", v->num);
        if (strtod(num, NULL) == v->num) { /* the shortest that reads back */
            for (int prec = 1; prec <= 17; prec++) {
                snprintf(num, sizeof(num), "%.*g", prec, v->num);
                if (strtod(num, NULL) == v->num) {
                    break;
                }
            }
        }
        s_add(t, num, strlen(num));
        break;
    case MQG_JVAL_STRING:
        s_add(t, "\"", 1);
        s_add_escaped(t, v->str, v->len);
        s_add(t, "\"", 1);
        break;
    case MQG_JVAL_ARRAY:
    case MQG_JVAL_OBJECT:
        s_add(t, v->type == MQG_JVAL_ARRAY ? "[" : "{", 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i) {
                s_add(t, ",", 1);
            }
            if (v->type == MQG_JVAL_OBJECT) {
                s_add(t, "\"", 1);
                s_add(t, v->keys[i], strlen(v->keys[i]));
                s_add(t, "\":", 2);
            }
            s_text(t, &v->items[i]);
        }
        s_add(t, v->type == MQG_JVAL_ARRAY ? "]" : "}", 1);
        break;
    }
}

void mqg_jval_text(const struct mqg_jval *v, char *buf, size_t cap)
{
    if (cap == 0) {
        return;
    }
    struct s_text t = {.buf = buf, .cap = cap, .len = 0};
    buf[0] = '\0';
    s_text(&t, v);
    if (t.len + 1 >= cap && cap > 4) {
        memcpy(buf + cap - 4, "...", 4);
    }
}

char *mqg_jval_dup_text(const struct mqg_jval *v)
{
    for (size_t cap = 256; cap <= ((size_t)1 << 30); cap *= 2) {
        char *buf = malloc(cap);
        if (!buf) {
            return NULL;
        }
        struct s_text t = {.buf = buf, .cap = cap, .len = 0};
        buf[0] = '\0';
        s_text(&t, v);
        if (t.len + 1 < cap) {
            return buf;
        }
        free(buf);
    }
    return NULL;
}
