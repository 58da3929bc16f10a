/* mqg_topic — MQTT topic names, filters, named wildcards and topic templates (see mqg_topic.h).
 *
 * String logic only: no I/O, no global state, no allocation outside mqg_pattern_new().
 * Everything walks its strings level by level ('/' separated); match, covers and render are
 * linear in the length of their inputs and allocation-free.
 */
#include "mqg_topic.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum s_kind {
    S_LITERAL = 0,
    S_PLUS = 1,
    S_HASH = 2,
};

/* One named wildcard of a pattern: its level index and its name (inside mqg_pattern.text). */
struct s_name {
    size_t level;
    enum s_kind kind;
    const char *name;
    size_t len;
};

struct mqg_pattern {
    char *text;   /* copy of the source, names point into it */
    char *filter; /* plain filter, named wildcards reduced to '+'/'#' */
    struct s_name *names;
    size_t nnames;
};

/* Template scanning: what s_tmpl_next() found at the current position. */
enum s_tok {
    S_TOK_END = 0,
    S_TOK_TEXT,    /* literal bytes, up to the next '$' or '{' */
    S_TOK_REF,     /* "{name}" or "$name" */
    S_TOK_BAD_REF, /* "{...}" whose content is not a name */
};

/* Is cp refused by a strict check: a control character (U+0001..U+001F, U+007F..U+009F)
 * or a Unicode non-character (U+FDD0..U+FDEF, and the last two code points of every plane)? */
static const char *s_strict_fault(uint32_t cp)
{
    if ((cp >= 0x01 && cp <= 0x1f) || (cp >= 0x7f && cp <= 0x9f)) {
        return "contains a control character";
    }
    if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe) {
        return "contains a Unicode non-character";
    }
    return NULL;
}

/* Decode one UTF-8 sequence of s[0..len) (len >= 1) into *cp; returns its length, or 0 with
 * a static reason in *why. */
static size_t s_utf8_next(const uint8_t *s, size_t len, uint32_t *cp, const char **why)
{
    uint8_t c = s[0];
    size_t more;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        more = 1;
        *cp = c & 0x1fu;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        more = 2;
        *cp = c & 0x0fu;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        more = 3;
        *cp = c & 0x07u;
        min = 0x10000;
    } else {
        *why = "is not valid UTF-8"; /* continuation byte first, or 0xf8..0xff */
        return 0;
    }
    if (len - 1 < more) {
        *why = "is not valid UTF-8 (a sequence is cut off)";
        return 0;
    }
    for (size_t k = 1; k <= more; k++) {
        if ((s[k] & 0xc0) != 0x80) {
            *why = "is not valid UTF-8";
            return 0;
        }
        *cp = (*cp << 6) | (s[k] & 0x3fu);
    }
    if (*cp < min) {
        *why = "is not valid UTF-8 (an overlong encoding)";
        return 0;
    }
    if (*cp >= 0xd800 && *cp <= 0xdfff) {
        *why = "is not valid UTF-8 (a UTF-16 surrogate, U+D800..U+DFFF)";
        return 0;
    }
    if (*cp > 0x10ffff) {
        *why = "is not valid UTF-8 (a code point above U+10FFFF)";
        return 0;
    }
    return more + 1;
}

/* The first reason buf[0..len) is not acceptable MQTT UTF-8 text, or NULL; *at = its offset. */
static const char *s_utf8_fault(const void *buf, size_t len, bool strict, size_t *at)
{
    const uint8_t *s = buf;
    if (!s && len > 0) {
        *at = 0;
        return "is missing";
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        const char *why = NULL;
        size_t n = s_utf8_next(s + i, len - i, &cp, &why);
        if (n == 0 || cp == 0 || (strict && (why = s_strict_fault(cp)) != NULL)) {
            *at = i;
            return n == 0 || why ? why : "contains a NUL character";
        }
        i += n;
    }
    return NULL;
}

bool mqg_topic_utf8_ok(const void *buf, size_t len)
{
    size_t at;
    return s_utf8_fault(buf, len, false, &at) == NULL;
}

const char *mqg_topic_name_fault(const void *buf, size_t len, bool strict, size_t *at)
{
    size_t where = 0;
    const char *why = NULL;
    if (len == 0) {
        why = "is empty";
    } else if (len > MQG_TOPIC_MAX) {
        why = "is longer than 65535 bytes";
        where = MQG_TOPIC_MAX;
    } else if ((why = s_utf8_fault(buf, len, strict, &where)) == NULL) {
        const char *w = memchr(buf, '+', len);
        const char *h = memchr(buf, '#', len);
        if (w || h) {
            const char *first = !w ? h : !h ? w : (w < h ? w : h);
            where = (size_t)(first - (const char *)buf);
            why = *first == '+' ? "contains the wildcard '+'" : "contains the wildcard '#'";
        }
    }
    if (at) {
        *at = where;
    }
    return why;
}

/* Length of the level starting at s (up to the next '/' or the end). */
static size_t s_level_len(const char *s)
{
    return strcspn(s, "/");
}

/* Offset of the first '+' or '#' in the level (len bytes), or len if there is none. */
static size_t s_wild_pos(const char *level, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (level[i] == '+' || level[i] == '#') {
            return i;
        }
    }
    return len;
}

/* Length of s if it is 1..MQG_TOPIC_MAX bytes of valid UTF-8, else 0. */
static size_t s_checked_len(const char *s)
{
    if (!s) {
        return 0;
    }
    size_t len = strnlen(s, (size_t)MQG_TOPIC_MAX + 1);
    if (len == 0 || len > MQG_TOPIC_MAX || !mqg_topic_utf8_ok(s, len)) {
        return 0;
    }
    return len;
}

bool mqg_topic_valid_name(const char *topic)
{
    size_t len = s_checked_len(topic);
    return len > 0 && strcspn(topic, "+#") == len;
}

/* "$share/<group>/<filter>" (MQTT 5 shared subscription): the group is one non-empty level
 * without wildcards and a filter follows. Returns that filter (inside f); f itself when f does
 * not start with "$share/"; NULL when it does but breaks the rule. */
static const char *s_share_inner(const char *f)
{
    if (strncmp(f, "$share/", 7) != 0) {
        return f;
    }
    const char *g = f + 7;
    size_t glen = strcspn(g, "/");
    if (glen > 0 && g[glen] == '/' && g[glen + 1] != '\0' && !memchr(g, '+', glen) &&
        !memchr(g, '#', glen)) {
        return g + glen + 1;
    }
    return NULL;
}

/* A shared subscription is well-formed; anything not starting with "$share/" passes. */
static bool s_share_ok(const char *f)
{
    return s_share_inner(f) != NULL;
}

const char *mqg_topic_unshare(const char *filter)
{
    const char *inner = filter ? s_share_inner(filter) : NULL;
    return inner ? inner : filter;
}

bool mqg_topic_valid_filter(const char *filter)
{
    if (s_checked_len(filter) == 0 || !s_share_ok(filter)) {
        return false;
    }
    const char *f = filter;
    for (;;) {
        size_t len = s_level_len(f);
        if (s_wild_pos(f, len) < len) {
            if (len != 1) {
                return false; /* wildcard sharing a level with other characters */
            }
            if (f[0] == '#' && f[1] != '\0') {
                return false; /* '#' not last */
            }
        }
        if (f[len] == '\0') {
            return true;
        }
        f += len + 1;
    }
}

static bool s_is_wild(const char *level, size_t len, char w)
{
    return len == 1 && level[0] == w;
}

/* Match for a valid filter and a valid topic name. */
static bool s_match(const char *filter, const char *topic)
{
    const char *f = filter;
    const char *t = topic;
    if (t[0] == '$' && (f[0] == '+' || f[0] == '#')) {
        return false;
    }
    for (;;) {
        if (f[0] == '#') {
            return true; /* in a valid filter a level starting with '#' is "#" */
        }
        size_t flen = s_level_len(f);
        size_t tlen = s_level_len(t);
        if (!s_is_wild(f, flen, '+') && (flen != tlen || memcmp(f, t, flen) != 0)) {
            return false;
        }
        f += flen;
        t += tlen;
        if (*f == '\0') {
            return *t == '\0';
        }
        if (*t == '\0') {
            return strcmp(f, "/#") == 0; /* "a/#" matches "a" */
        }
        f++;
        t++;
    }
}

bool mqg_topic_match(const char *filter, const char *topic)
{
    if (!mqg_topic_valid_filter(filter) || !mqg_topic_valid_name(topic)) {
        return false;
    }
    return s_match(filter, topic);
}

bool mqg_topic_covers(const char *a, const char *b)
{
    if (!mqg_topic_valid_filter(a) || !mqg_topic_valid_filter(b)) {
        return false;
    }
    /* b starting with '$' matches only '$' topics, which a leading wildcard of a never does. */
    if (b[0] == '$' && (a[0] == '+' || a[0] == '#')) {
        return false;
    }
    const char *x = a;
    const char *y = b;
    for (;;) {
        size_t xl = s_level_len(x);
        size_t yl = s_level_len(y);
        bool xplus = s_is_wild(x, xl, '+');
        if (s_is_wild(x, xl, '#')) {
            return true;
        }
        if (s_is_wild(y, yl, '#')) {
            /* b's '#' matches zero or more further levels; at least one when zero would
             * leave the empty topic, i.e. for "#" and "/#". a, not at '#', covers that only
             * with a final "+/#" in the at-least-one case. */
            bool one_or_more = y == b || (y == b + 1 && b[0] == '/');
            return one_or_more && xplus && strcmp(x + 1, "/#") == 0;
        }
        if (s_is_wild(y, yl, '+')) {
            if (!xplus) {
                return false;
            }
        } else if (!xplus && (xl != yl || memcmp(x, y, xl) != 0)) {
            return false;
        }
        x += xl;
        y += yl;
        if (*y == '\0') {
            return *x == '\0' || strcmp(x, "/#") == 0;
        }
        if (*x == '\0') {
            return false; /* b has more levels than a can match */
        }
        x++;
        y++;
    }
}

/* ---- named wildcards ------------------------------------------------------------------- */

static bool s_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool s_ident_char(char c)
{
    return s_ident_start(c) || (c >= '0' && c <= '9');
}

static bool s_is_ident(const char *s, size_t len)
{
    if (len == 0 || !s_ident_start(s[0])) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (!s_ident_char(s[i])) {
            return false;
        }
    }
    return true;
}

static const struct s_name *s_find_name(const struct mqg_pattern *p, const char *name, size_t len)
{
    if (!p) {
        return NULL;
    }
    for (size_t i = 0; i < p->nnames; i++) {
        if (p->names[i].len == len && memcmp(p->names[i].name, name, len) == 0) {
            return &p->names[i];
        }
    }
    return NULL;
}

static int s_fail(const char **errmsg, const char *msg)
{
    if (errmsg) {
        *errmsg = msg;
    }
    return -EINVAL;
}

/* Parse one level of p->text at `lvl` (len bytes, level index `idx`); append its plain form
 * to *w and record a name. Returns 0 or -EINVAL with *errmsg. */
static int s_parse_level(struct mqg_pattern *p, const char *lvl, size_t len, size_t idx, char **w,
                         const char **errmsg)
{
    size_t wild = s_wild_pos(lvl, len);
    if (wild >= len) {
        memcpy(*w, lvl, len);
        *w += len;
        return 0;
    }
    if (wild != 0) {
        return s_fail(errmsg, "'+' and '#' must occupy a whole topic level");
    }
    if (lvl[0] == '#' && lvl[len] != '\0') {
        return s_fail(errmsg, "'#' must be the last topic level");
    }
    if (len > 1) {
        if (!s_is_ident(lvl + 1, len - 1)) {
            return s_fail(errmsg, "a wildcard name must be a letter or '_' followed by "
                                  "letters, digits or '_'");
        }
        if (s_find_name(p, lvl + 1, len - 1)) {
            return s_fail(errmsg, "the same wildcard name is used twice");
        }
        struct s_name *n = &p->names[p->nnames++];
        n->level = idx;
        n->kind = lvl[0] == '#' ? S_HASH : S_PLUS;
        n->name = lvl + 1;
        n->len = len - 1;
    }
    *(*w)++ = lvl[0];
    return 0;
}

int mqg_pattern_new(const char *text, struct mqg_pattern **out, const char **errmsg)
{
    if (!out) {
        return -EINVAL;
    }
    *out = NULL;
    if (!text || text[0] == '\0') {
        return s_fail(errmsg, "the topic filter is empty");
    }
    size_t tlen = strnlen(text, (size_t)MQG_TOPIC_MAX + 1);
    if (tlen > MQG_TOPIC_MAX) {
        return s_fail(errmsg, "the topic filter is longer than 65535 bytes");
    }
    if (!mqg_topic_utf8_ok(text, tlen)) {
        return s_fail(errmsg, "the topic filter is not valid UTF-8");
    }
    if (!s_share_ok(text)) {
        return s_fail(errmsg, "a shared subscription is $share/<group>/<filter>: the group is "
                              "one level without wildcards, and a filter must follow");
    }
    size_t nlevels = 1;
    for (size_t i = 0; i < tlen; i++) {
        nlevels += text[i] == '/';
    }

    int rc = -ENOMEM;
    struct mqg_pattern *p = calloc(1, sizeof(*p));
    if (!p) {
        goto err;
    }
    p->text = strdup(text);
    p->filter = malloc(tlen + 1);
    p->names = calloc(nlevels, sizeof(*p->names));
    if (!p->text || !p->filter || !p->names) {
        goto err;
    }
    char *w = p->filter;
    const char *lvl = p->text;
    for (size_t idx = 0;; idx++) {
        size_t len = s_level_len(lvl);
        rc = s_parse_level(p, lvl, len, idx, &w, errmsg);
        if (rc < 0) {
            goto err;
        }
        if (lvl[len] == '\0') {
            break;
        }
        *w++ = '/';
        lvl += len + 1;
    }
    *w = '\0';
    *out = p;
    return 0;
err:
    if (rc == -ENOMEM && errmsg) {
        *errmsg = "out of memory";
    }
    mqg_pattern_destroy(&p);
    return rc;
}

void mqg_pattern_destroy(struct mqg_pattern **p)
{
    if (!p || !*p) {
        return;
    }
    free((*p)->text);
    free((*p)->filter);
    free((*p)->names);
    free(*p);
    *p = NULL;
}

const char *mqg_pattern_filter(const struct mqg_pattern *p)
{
    return p ? p->filter : NULL;
}

bool mqg_pattern_has_names(const struct mqg_pattern *p)
{
    return p && p->nnames > 0;
}

/* ---- templates ------------------------------------------------------------------------- */

/* Look at the template at s. Sets *adv to the bytes the token spans and, for references,
 * *name / *nlen to the name. A '{' not closed by '}' in the same level is literal text, and
 * so is a '$' not followed by the name of a named wildcard of p: "$name" is the older
 * spelling, and literal '$' topics such as "$aws/things/x" must stay publishable. */
static enum s_tok s_tmpl_next(const struct mqg_pattern *p, const char *s, size_t *adv,
                              const char **name, size_t *nlen)
{
    *adv = 1;
    if (s[0] == '\0') {
        *adv = 0;
        return S_TOK_END;
    }
    if (s[0] == '$' && s_ident_start(s[1])) {
        size_t n = 1;
        while (s_ident_char(s[1 + n])) {
            n++;
        }
        if (s_find_name(p, s + 1, n)) {
            *name = s + 1;
            *nlen = n;
            *adv = n + 1;
            return S_TOK_REF;
        }
    }
    if (s[0] == '{') {
        size_t n = strcspn(s + 1, "/{}");
        if (s[1 + n] == '}') {
            *name = s + 1;
            *nlen = n;
            *adv = n + 2;
            return s_is_ident(s + 1, n) ? S_TOK_REF : S_TOK_BAD_REF;
        }
    }
    *adv = 1 + strcspn(s + 1, "${");
    return S_TOK_TEXT;
}

int mqg_pattern_check_template(const struct mqg_pattern *p, const char *tmpl, const char **errmsg)
{
    return mqg_pattern_check_template_vars(p, tmpl, NULL, NULL, errmsg);
}

int mqg_pattern_check_template_vars(const struct mqg_pattern *p, const char *tmpl,
                                    bool (*known)(const void *arg, const char *name, size_t len),
                                    const void *arg, const char **errmsg)
{
    if (!tmpl || tmpl[0] == '\0') {
        return s_fail(errmsg, "the topic template is empty");
    }
    size_t len = strnlen(tmpl, (size_t)MQG_TOPIC_MAX + 1);
    if (len > MQG_TOPIC_MAX) {
        return s_fail(errmsg, "the topic template is longer than 65535 bytes");
    }
    if (!mqg_topic_utf8_ok(tmpl, len)) {
        return s_fail(errmsg, "the topic template is not valid UTF-8");
    }
    const char *s = tmpl;
    size_t at;
    for (;;) {
        size_t adv;
        const char *name = NULL;
        size_t nlen = 0;
        switch (s_tmpl_next(p, s, &adv, &name, &nlen)) {
        case S_TOK_END:
            return 0;
        case S_TOK_TEXT:
            if (s_wild_pos(s, adv) < adv) {
                return s_fail(errmsg, "a topic to publish to may not contain '+' or '#'");
            }
            if (s_utf8_fault(s, adv, true, &at) != NULL) {
                return s_fail(errmsg, "a topic to publish to may not contain control characters "
                                      "or Unicode non-characters");
            }
            break;
        case S_TOK_BAD_REF:
            return s_fail(errmsg, "\"{...}\" in a topic template must hold a wildcard name");
        case S_TOK_REF:
            if (!s_find_name(p, name, nlen) && !(known && known(arg, name, nlen))) {
                return s_fail(errmsg, "the topic template uses a name that is not a named "
                                      "wildcard of the subscription");
            }
            break;
        }
        s += adv;
    }
}

/* Where render is in the topic: level `level` starts at `at` (NULL: past the end). */
struct s_cursor {
    const char *topic;
    size_t level;
    const char *at;
};

/* The part of the topic matched by named wildcard n (the topic is known to match the
 * pattern). The cursor only moves forward unless a name lies before it, so references in
 * level order cost one pass over the topic. */
static void s_capture(struct s_cursor *c, const struct s_name *n, const char **start, size_t *len)
{
    if (n->level < c->level) {
        c->level = 0;
        c->at = c->topic;
    }
    while (c->at && c->level < n->level) {
        c->at += s_level_len(c->at);
        c->at = *c->at ? c->at + 1 : NULL;
        c->level++;
    }
    if (!c->at) {
        *start = ""; /* "a/#rest" matched "a": rest is empty */
        *len = 0;
        return;
    }
    *start = c->at;
    *len = n->kind == S_HASH ? strlen(c->at) : s_level_len(c->at);
}

/* Append len bytes to out at *pos, as far as they fit; *pos counts what was wanted. */
static void s_put(char *out, size_t cap, size_t *pos, const char *src, size_t len)
{
    if (*pos < cap) {
        size_t room = cap - *pos;
        memcpy(out + *pos, src, len < room ? len : room);
    }
    *pos += len;
}

int mqg_pattern_render(const struct mqg_pattern *p, const char *topic, const char *tmpl, char *out,
                       size_t cap)
{
    if (!tmpl || (!out && cap > 0)) {
        return -EINVAL;
    }
    if (p && (!mqg_topic_valid_name(topic) || !s_match(p->filter, topic))) {
        return -EINVAL;
    }
    size_t pos = 0;
    struct s_cursor cur = {topic, 0, topic};
    if (!p) {
        s_put(out, cap, &pos, tmpl, strlen(tmpl));
    }
    for (const char *s = tmpl; p;) {
        size_t adv;
        const char *name = NULL;
        size_t nlen = 0;
        enum s_tok tok = s_tmpl_next(p, s, &adv, &name, &nlen);
        if (tok == S_TOK_END) {
            break;
        }
        if (tok == S_TOK_TEXT) {
            s_put(out, cap, &pos, s, adv);
        } else {
            const struct s_name *n = tok == S_TOK_REF ? s_find_name(p, name, nlen) : NULL;
            if (!n) {
                return -EINVAL; /* mqg_pattern_check_template() would have said so */
            }
            const char *v;
            size_t vlen;
            s_capture(&cur, n, &v, &vlen);
            s_put(out, cap, &pos, v, vlen);
        }
        s += adv;
    }
    if (pos >= cap || pos > INT_MAX) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return -ENOSPC;
    }
    out[pos] = '\0';
    return (int)pos;
}
