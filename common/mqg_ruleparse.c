/* mqg_ruleparse — the parse rule: payload bytes to one JSON text as Node.js gives it (see
 * mqg_rulestate.h for the contract and docs/rules.md for the semantics).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_rulestate.h"
#include "mqg_sbuf.h"
#include "mqg_text.h"

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
static void s_put_number(struct mqg_sbuf *b, double x)
{
    if (!isfinite(x)) {
        mqg_sbuf_put(b, "null", 4);
        return;
    }
    if (x == 0) {
        mqg_sbuf_putc(b, '0'); /* -0 too */
        return;
    }
    if (x < 0) {
        mqg_sbuf_putc(b, '-');
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
        mqg_sbuf_put(b, d, (size_t)k);
        for (int i = k; i < n; i++) {
            mqg_sbuf_putc(b, '0');
        }
    } else if (0 < n && n <= 21) {
        mqg_sbuf_put(b, d, (size_t)n);
        mqg_sbuf_putc(b, '.');
        mqg_sbuf_put(b, d + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        mqg_sbuf_put(b, "0.", 2);
        for (int i = n; i < 0; i++) {
            mqg_sbuf_putc(b, '0');
        }
        mqg_sbuf_put(b, d, (size_t)k);
    } else {
        char exp[16];
        mqg_sbuf_putc(b, d[0]);
        if (k > 1) {
            mqg_sbuf_putc(b, '.');
            mqg_sbuf_put(b, d + 1, (size_t)(k - 1));
        }
        snprintf(exp, sizeof exp, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
        mqg_sbuf_put(b, exp, strlen(exp));
    }
}

/* Append code point cp as UTF-8. */
static void s_put_cp(struct mqg_sbuf *b, unsigned cp)
{
    char u[4];
    if (cp < 0x80) {
        mqg_sbuf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        mqg_sbuf_put(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        mqg_sbuf_put(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        mqg_sbuf_put(b, u, 4);
    }
}

/* Bytes as UTF-8 text, each maximal ill-formed subpart replaced by one U+FFFD (the WHATWG
 * decoder's rule, which Node.js's Buffer.toString follows), into a JSON string. */
static void s_put_utf8_string(struct mqg_sbuf *b, const unsigned char *p, size_t len)
{
    struct mqg_sbuf t = {0};
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t l = p[i] < 0x80 ? 1 : mqg_text_utf8_seq(p + i, len - i, &cp);
        if (l) {
            mqg_sbuf_put(&t, (const char *)p + i, l);
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
        mqg_sbuf_put(&t, "\xEF\xBF\xBD", 3);
        i += j;
    }
    if (t.err) {
        b->err = t.err;
    } else {
        mqg_sbuf_json_string_n(b, t.p ? t.p : "", t.len);
    }
    free(t.p);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void s_put_base64(struct mqg_sbuf *b, const unsigned char *p, size_t len)
{
    mqg_sbuf_putc(b, '"');
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        char q[4] = {B64[v >> 18], B64[v >> 12 & 63], i + 1 < len ? B64[v >> 6 & 63] : '=',
                     i + 2 < len ? B64[v & 63] : '='};
        mqg_sbuf_put(b, q, 4);
    }
    mqg_sbuf_putc(b, '"');
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

/* The numbers of a fixed size from the first bytes of p (s_size(f) of them): 0, or -EINVAL
 * for a format that is not one of them. */
static int s_put_fixed(struct mqg_sbuf *b, enum mqg_parse_format f, const unsigned char *p)
{
    switch (f) {
    case MQG_PARSE_INT8:
        s_put_number(b, (int8_t)p[0]);
        return 0;
    case MQG_PARSE_UINT8:
        s_put_number(b, p[0]);
        return 0;
    case MQG_PARSE_INT16BE:
    case MQG_PARSE_INT16LE:
        s_put_number(b, (int16_t)(f == MQG_PARSE_INT16BE ? s_be(p, 2) : s_le(p, 2)));
        return 0;
    case MQG_PARSE_UINT16BE:
    case MQG_PARSE_UINT16LE:
        s_put_number(b, f == MQG_PARSE_UINT16BE ? s_be(p, 2) : s_le(p, 2));
        return 0;
    case MQG_PARSE_INT32BE:
    case MQG_PARSE_INT32LE:
        s_put_number(b, (int32_t)(f == MQG_PARSE_INT32BE ? s_be(p, 4) : s_le(p, 4)));
        return 0;
    case MQG_PARSE_UINT32BE:
    case MQG_PARSE_UINT32LE:
        s_put_number(b, f == MQG_PARSE_UINT32BE ? s_be(p, 4) : s_le(p, 4));
        return 0;
    case MQG_PARSE_FLOATBE:
    case MQG_PARSE_FLOATLE: {
        uint32_t v = f == MQG_PARSE_FLOATBE ? s_be(p, 4) : s_le(p, 4);
        float x;
        memcpy(&x, &v, sizeof x);
        s_put_number(b, x);
        return 0;
    }
    case MQG_PARSE_DOUBLEBE:
    case MQG_PARSE_DOUBLELE: {
        uint64_t v = f == MQG_PARSE_DOUBLEBE ? (uint64_t)s_be(p, 4) << 32 | s_be(p + 4, 4)
                                             : (uint64_t)s_le(p + 4, 4) << 32 | s_le(p, 4);
        double x;
        memcpy(&x, &v, sizeof x);
        s_put_number(b, x);
        return 0;
    }
    default:
        return -EINVAL;
    }
}

int mqg_parse_payload(enum mqg_parse_format f, const void *data, size_t len, char **out)
{
    const unsigned char *p = data;
    struct mqg_sbuf b = {0};
    *out = NULL;
    if (len < s_size(f)) {
        return -EBADMSG;
    }
    switch (f) {
    case MQG_PARSE_JSON:
        mqg_sbuf_put(&b, (const char *)p, len);
        if (!b.p && !b.err) {
            mqg_sbuf_put(&b, "", 0);
        }
        break;
    case MQG_PARSE_UTF8:
        s_put_utf8_string(&b, p, len);
        break;
    case MQG_PARSE_LATIN1:
    case MQG_PARSE_ASCII: {
        struct mqg_sbuf t = {0};
        for (size_t i = 0; i < len; i++) {
            s_put_cp(&t, f == MQG_PARSE_ASCII ? p[i] & 0x7Fu : p[i]);
        }
        if (t.err) {
            b.err = t.err;
        } else {
            mqg_sbuf_json_string_n(&b, t.p ? t.p : "", t.len);
        }
        free(t.p);
        break;
    }
    case MQG_PARSE_BOOLEAN:
        mqg_sbuf_put(&b, p[0] ? "true" : "false", p[0] ? 4 : 5);
        break;
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
        if (s_put_fixed(&b, f, p) != 0) {
            return -EINVAL;
        }
    }
    return mqg_sbuf_take(&b, out);
}
