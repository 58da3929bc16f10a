/* mqg_kv — `key=value` status texts: parsing and quoting (see mqg_kv.h). */
#include "mqg_kv.h"

#include <string.h>

/* Unescape the quoted value starting after the opening quote at *p, in place; NUL-terminates it
 * and moves *p past the closing quote. False when the closing quote is missing. */
static bool s_unquote(char **p)
{
    char *r = *p;
    char *w = *p;
    while (*r && *r != '"') {
        if (*r == '\\' && (r[1] == '"' || r[1] == '\\')) {
            r++;
        }
        *w++ = *r++;
    }
    if (*r != '"') {
        return false;
    }
    *w = '\0';
    *p = r + 1;
    return true;
}

size_t mqg_kv_parse(const char *text, struct mqg_kv *kv)
{
    kv->n = 0;
    kv->buf[0] = '\0';
    if (!text) {
        return 0;
    }
    size_t len = strnlen(text, MQG_KV_TEXT_MAX);
    memcpy(kv->buf, text, len);
    kv->buf[len] = '\0';
    char *p = kv->buf;
    while (*p) {
        while (*p == ' ') {
            p++;
        }
        if (!*p) {
            break;
        }
        char *key = p;
        size_t klen = strcspn(p, "= ");
        p += klen;
        if (*p != '=' || klen == 0) { /* a word without a value: skipped */
            p += strcspn(p, " ");
            continue;
        }
        *p++ = '\0';
        char *val = p;
        bool ok = true;
        if (*p == '"') {
            val = ++p;
            ok = s_unquote(&p);
        } else {
            p += strcspn(p, " ");
        }
        if (!ok) {
            break; /* cut short: the rest is one broken value */
        }
        bool more = *p == ' ';
        *p = '\0';
        p += more;
        if (kv->n < MQG_KV_MAX) {
            kv->items[kv->n].key = key;
            kv->items[kv->n].val = val;
            kv->n++;
        }
    }
    return kv->n;
}

const char *mqg_kv_get(const struct mqg_kv *kv, const char *key)
{
    for (size_t i = 0; i < kv->n; i++) {
        if (strcmp(kv->items[i].key, key) == 0) {
            return kv->items[i].val;
        }
    }
    return NULL;
}

bool mqg_kv_is_number(const char *s)
{
    if (!s || !*s || strlen(s) > 20) {
        return false;
    }
    return strspn(s, "0123456789") == strlen(s);
}

bool mqg_kv_u64(const struct mqg_kv *kv, const char *key, uint64_t *out)
{
    const char *s = mqg_kv_get(kv, key);
    if (!mqg_kv_is_number(s)) {
        return false;
    }
    uint64_t v = 0;
    for (; *s; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Bytes of the UTF-8 character starting with lead byte c (1 for anything else). */
static size_t s_char_len(unsigned char c)
{
    if (c >= 0xf0 && c < 0xf8) {
        return 4;
    }
    if (c >= 0xe0) {
        return c < 0xf0 ? 3 : 1;
    }
    return c >= 0xc0 ? 2 : 1;
}

size_t mqg_kv_quote(char *out, size_t cap, const char *text)
{
    if (cap < 3) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return 0;
    }
    size_t w = 0;
    out[w++] = '"';
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    while (*s) {
        size_t n = *s == '"' || *s == '\\' ? 2 : s_char_len(*s);
        if (w + n + 2 > cap) { /* room for this one, the closing quote and the NUL */
            break;
        }
        if (n == 2 && (*s == '"' || *s == '\\')) {
            out[w++] = '\\';
            out[w++] = (char)*s++;
            continue;
        }
        size_t k;
        for (k = 0; k < n && s[k]; k++) {
            out[w + k] = s[k] < 0x20 || s[k] == 0x7f ? ' ' : (char)s[k];
        }
        w += k;
        s += k;
    }
    out[w++] = '"';
    out[w] = '\0';
    return w;
}
