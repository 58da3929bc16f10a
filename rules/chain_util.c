/* chain_util — variables, JSON strings, $context and topic templates for the chain (see
 * chain_int.h). Pure: no I/O, no global state.
 */
#include "chain_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_json.h"
#include "mqg_text.h"
#include "mqg_topic.h"

/* ---- variables ---- */

void cvars_free(struct cvars *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        free(vs->v[i].name);
        free(vs->v[i].json);
        free(vs->v[i].str);
    }
    free(vs->v);
    memset(vs, 0, sizeof(*vs));
}

static char *s_dup(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

const struct cvar *cvars_get(const struct cvars *vs, const char *name, size_t nlen)
{
    for (size_t i = 0; i < vs->n; i++) {
        if (strlen(vs->v[i].name) == nlen && memcmp(vs->v[i].name, name, nlen) == 0) {
            return &vs->v[i];
        }
    }
    return NULL;
}

int cvars_set(struct cvars *vs, const char *name, const char *json, size_t jlen, const char *str,
              size_t slen)
{
    char *j = s_dup(json, jlen), *s = s_dup(str, slen);
    if (!j || !s) {
        free(j);
        free(s);
        return -ENOMEM;
    }
    struct cvar *v = (struct cvar *)cvars_get(vs, name, strlen(name));
    if (v) {
        free(v->json);
        free(v->str);
        v->json = j;
        v->str = s;
        return 0;
    }
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 4;
        struct cvar *nv = realloc(vs->v, cap * sizeof(*nv));
        if (!nv) {
            free(j);
            free(s);
            return -ENOMEM;
        }
        vs->v = nv;
        vs->cap = cap;
    }
    char *n = strdup(name);
    if (!n) {
        free(j);
        free(s);
        return -ENOMEM;
    }
    vs->v[vs->n++] = (struct cvar){.name = n, .json = j, .str = s, .wildcard = false};
    return 0;
}

int cvars_copy(struct cvars *dst, const struct cvars *src)
{
    cvars_free(dst);
    for (size_t i = 0; i < src->n; i++) {
        const struct cvar *v = &src->v[i];
        if (cvars_set(dst, v->name, v->json, strlen(v->json), v->str, strlen(v->str)) != 0) {
            cvars_free(dst);
            return -ENOMEM;
        }
        dst->v[dst->n - 1].wildcard = v->wildcard;
    }
    return 0;
}

/* ---- JSON strings ---- */

char *chain_json_quote(const char *s, size_t len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        return NULL;
    }
    mqg_json_strn(f, s, len);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Four hex digits at p (end: the text's end) as *out. 0 or -EINVAL. */
static int s_hex4(const char *p, const char *end, uint32_t *out)
{
    unsigned v;
    if (end - p < 4 || !mqg_text_hex(p, 4, &v)) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static size_t s_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One escape after '\' at *pp (moved past it) into o; returns the bytes written or -EINVAL.
 * A lone surrogate becomes U+FFFD, as JavaScript's UTF-8 encoding of it would. */
static int s_escape(const char **pp, const char *end, char *o)
{
    const char *p = *pp;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *k = p < end ? memchr(from, *p, 8) : NULL;
    if (k) {
        *o = to[k - from];
        *pp = p + 1;
        return 1;
    }
    uint32_t cp, lo;
    if (p >= end || *p != 'u' || s_hex4(p + 1, end, &cp) != 0) {
        return -EINVAL;
    }
    p += 5;
    if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
        s_hex4(p + 2, end, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    } else if (cp >= 0xd800 && cp < 0xe000) {
        cp = 0xfffd;
    }
    *pp = p;
    return (int)s_utf8(cp, o);
}

int chain_json_unquote(const char *json, size_t len, char **out, size_t *olen)
{
    if (len < 2 || json[0] != '"' || json[len - 1] != '"') {
        return -EINVAL;
    }
    char *buf = malloc(len); /* never longer than the escaped text */
    if (!buf) {
        return -ENOMEM;
    }
    const char *p = json + 1, *end = json + len - 1;
    size_t o = 0;
    while (p < end) {
        if (*p == '"') {
            free(buf);
            return -EINVAL;
        }
        if (*p != '\\') {
            buf[o++] = *p++;
            continue;
        }
        p++;
        int n = s_escape(&p, end, buf + o);
        if (n < 0) {
            free(buf);
            return -EINVAL;
        }
        o += (size_t)n;
    }
    buf[o] = '\0';
    *out = buf;
    *olen = o;
    return 0;
}

char *chain_context(const char *topic, const struct cvars *vs)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        return NULL;
    }
    fputs("{\"topic\":", f);
    mqg_json_str(f, topic);
    fputs(",\"vars\":{", f);
    for (size_t i = 0; i < vs->n; i++) {
        if (i) {
            fputc(',', f);
        }
        mqg_json_str(f, vs->v[i].name);
        fputc(':', f);
        fputs(vs->v[i].json, f);
    }
    fputs("}}", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- templates and wildcards ---- */

static bool s_ident(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

static int s_append(char *out, size_t cap, size_t *o, const char *s, size_t len)
{
    if (*o + len + 1 > cap) {
        out[0] = '\0';
        return -ENOSPC;
    }
    memcpy(out + *o, s, len);
    *o += len;
    return 0;
}

int chain_render(const char *tmpl, const struct cvars *vs, char *out, size_t cap, const char **why)
{
    size_t o = 0;
    const char *p = tmpl;
    if (cap == 0) {
        return -ENOSPC;
    }
    while (*p) {
        const struct cvar *v = NULL;
        size_t skip = 0;
        if (*p == '{') {
            size_t j = 1;
            while (p[j] && p[j] != '}' && p[j] != '/' && p[j] != '{') {
                j++;
            }
            if (p[j] == '}') {
                v = cvars_get(vs, p + 1, j - 1);
                if (!v) {
                    *why = p;
                    out[0] = '\0';
                    return -ENOENT;
                }
                skip = j + 1;
            }
        } else if (*p == '$' && s_ident(p[1], true)) {
            size_t j = 2;
            while (s_ident(p[j], false)) {
                j++;
            }
            v = cvars_get(vs, p + 1, j - 1);
            v = v && v->wildcard ? v : NULL;
            skip = j;
        }
        int rc = v ? s_append(out, cap, &o, v->str, strlen(v->str)) : s_append(out, cap, &o, p, 1);
        if (rc) {
            return rc;
        }
        p += v ? skip : 1;
    }
    out[o] = '\0';
    return (int)o;
}

void chain_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

int chain_wildcard_names(const char *filter, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    const char *p = mqg_topic_unshare(filter);
    while (p && *p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 1 && (p[0] == '+' || p[0] == '#')) {
            char **nn = realloc(*names, (*n + 1) * sizeof(*nn));
            char *name = nn ? s_dup(p + 1, len - 1) : NULL;
            if (nn) {
                *names = nn;
            }
            if (!name) {
                chain_names_free(*names, *n);
                *names = NULL;
                *n = 0;
                return -ENOMEM;
            }
            nn[(*n)++] = name;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}
