/* mqg_jsre — JavaScript patterns translated for POSIX regcomp (see mqg_jsre.h).
 *
 * One pass over the pattern, writing the POSIX extended expression into a growing buffer.
 * Outside a class: escapes become what they mean (\d -> [0-9], \w, \s and their negations,
 * \t \n \xHH \uHHHH -> the character), (?: and (?<name> become (, lookarounds are refused,
 * a '?' after a quantifier (lazy) is dropped, a '{' that does not start a quantifier is a
 * literal (JavaScript's Annex B), '.' does not match line terminators. A class [...] is read
 * whole into a set (characters, ranges, POSIX classes) and written back in POSIX's order: ']'
 * first, '-' last, '^' not first. Back-references \1..\9 and \b, \B are glibc extensions of
 * POSIX and kept.
 */
#include "mqg_jsre.h"

#include <errno.h>
#include <locale.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_sbuf.h"
#include "mqg_text.h"

static void s_puts(struct mqg_sbuf *o, const char *s)
{
    mqg_sbuf_put(o, s, strlen(s));
}

/* The UTF-8 of code point cp into buf (at least 5 bytes); its length. */
static size_t s_utf8(unsigned cp, char *buf)
{
    size_t n;
    if (cp < 0x80) {
        buf[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        buf[0] = (char)(0xc0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        buf[0] = (char)(0xe0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        buf[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        buf[0] = (char)(0xf0 | (cp >> 18));
        buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        buf[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf[n] = '\0';
    return n;
}

/* A character escape at s (after the backslash): \t \n \r \v \f \0, \xHH, \uHHHH (a pair of
 * surrogates as one), \cX. *cp gets the code point and *used how many bytes after the
 * backslash it took. false when s is no such escape. */
static bool s_char_escape(const char *s, unsigned *cp, size_t *used)
{
    static const char simple[] = "tnrvf";
    static const unsigned values[] = {'\t', '\n', '\r', '\v', '\f'};
    const char *k = s[0] ? strchr(simple, s[0]) : NULL;
    if (k) {
        *cp = values[k - simple];
        *used = 1;
        return true;
    }
    if (s[0] == 'x' && mqg_text_hex(s + 1, 2, cp)) {
        *used = 3;
        return true;
    }
    if (s[0] == 'u' && mqg_text_hex(s + 1, 4, cp)) {
        *used = 5;
        unsigned lo;
        if (*cp >= 0xd800 && *cp < 0xdc00 && s[5] == '\\' && s[6] == 'u' &&
            mqg_text_hex(s + 7, 4, &lo) && lo >= 0xdc00 && lo < 0xe000) {
            *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
            *used = 11;
        }
        return true;
    }
    if (s[0] == 'c' && ((s[1] >= 'a' && s[1] <= 'z') || (s[1] >= 'A' && s[1] <= 'Z'))) {
        *cp = (unsigned)(s[1] & 0x1f);
        *used = 2;
        return true;
    }
    return false;
}

/* A literal character outside a class, escaped where POSIX ERE gives it a meaning. */
static void s_literal(struct mqg_sbuf *o, unsigned cp)
{
    char buf[8];
    if (cp < 0x80 && strchr(".[]()*+?{}|^$\\", (int)cp) && cp) {
        buf[0] = '\\';
        buf[1] = (char)cp;
        mqg_sbuf_put(o, buf, 2);
        return;
    }
    mqg_sbuf_put(o, buf, s_utf8(cp, buf));
}

/* ---- classes ---- */

/* The members of one class, written back in the order POSIX wants. */
struct s_class {
    bool negated;
    bool has_bracket; /* ']' */
    bool has_dash;    /* '-' */
    bool has_caret;   /* '^' */
    struct mqg_sbuf body;
};

/* One member character (or the start/end of a range, written by the caller). */
static void s_class_char(struct s_class *k, unsigned cp)
{
    char buf[8];
    if (cp == ']') {
        k->has_bracket = true;
    } else if (cp == '-') {
        k->has_dash = true;
    } else if (cp == '^') {
        k->has_caret = true;
    } else {
        mqg_sbuf_put(&k->body, buf, s_utf8(cp, buf));
    }
}

/* One member of a class at *pp (after '[' or a member): a character or escape, maybe the
 * start of a range. Returns 0 and advances *pp, or -EINVAL (why). */
static int s_class_member(struct s_class *k, const char **pp, char *why, size_t cap)
{
    const char *p = *pp;
    unsigned lo;
    size_t used;
    if (p[0] == '\\') {
        char e = p[1];
        const char *set = e == 'd'   ? "0-9"
                          : e == 'w' ? "A-Za-z0-9_"
                          : e == 's' ? "[:space:]"
                                     : NULL;
        if (set) {
            s_puts(&k->body, set);
            *pp = p + 2;
            return 0;
        }
        if (e == 'D' || e == 'W' || e == 'S') {
            return mqg_text_why(why, cap, "\\%c inside a class [...] is not supported", e);
        }
        if (!e) {
            return mqg_text_why(why, cap, "a class ends with a backslash");
        }
        if (e == 'b') { /* backspace, in a class */
            lo = '\b';
            used = 1;
        } else if (!s_char_escape(p + 1, &lo, &used)) {
            lo = (unsigned char)e; /* \] \\ \- \^ \. and other identity escapes */
            used = 1;
        }
        p += 1 + used;
    } else if ((unsigned char)p[0] >= 0x80) { /* a multibyte character, copied whole */
        size_t n = 1;
        while ((unsigned char)p[n] >= 0x80 && (unsigned char)p[n] < 0xc0) {
            n++;
        }
        if (p[n] == '-' && p[n + 1] && p[n + 1] != ']') {
            return mqg_text_why(why, cap, "a range of non-ASCII characters is not supported");
        }
        mqg_sbuf_put(&k->body, p, n);
        *pp = p + n;
        return 0;
    } else {
        lo = (unsigned char)p[0];
        p++;
    }
    if (p[0] == '-' && p[1] && p[1] != ']') { /* a range lo-hi */
        const char *q = p + 1;
        unsigned hi;
        if (q[0] == '\\' && s_char_escape(q + 1, &hi, &used)) {
            q += 1 + used;
        } else if (q[0] == '\\' && q[1] && !strchr("dwsDWS", q[1])) {
            hi = (unsigned char)q[1];
            q += 2;
        } else if (q[0] != '\\' && (unsigned char)q[0] < 0x80) {
            hi = (unsigned char)q[0];
            q++;
        } else {
            return mqg_text_why(why, cap, "a range in a class [...] that mqgate cannot translate");
        }
        if (hi < lo) {
            return mqg_text_why(why, cap, "range out of order in a class [...]");
        }
        if (lo > 0x7f || hi > 0x7f || lo == ']' || hi == ']' || lo == '-' || hi == '-' ||
            lo == '^') {
            return mqg_text_why(why, cap, "a range in a class [...] that mqgate cannot translate");
        }
        char buf[4] = {(char)lo, '-', (char)hi, '\0'};
        s_puts(&k->body, buf);
        *pp = q;
        return 0;
    }
    s_class_char(k, lo);
    *pp = p;
    return 0;
}

/* A class at *pp ('[' ... ']') into o. */
static int s_class(struct mqg_sbuf *o, const char **pp, char *why, size_t cap)
{
    const char *p = *pp + 1;
    struct s_class k;
    memset(&k, 0, sizeof(k));
    if (*p == '^') {
        k.negated = true;
        p++;
    }
    if (*p == ']') { /* [] matches nothing, [^] anything */
        if (!k.negated) {
            return mqg_text_why(why, cap,
                                "the empty class [] (it matches nothing) is not supported");
        }
        s_puts(o, "(.|\n)");
        *pp = p + 1;
        return 0;
    }
    int rc = 0;
    while (rc == 0 && *p && *p != ']') {
        rc = s_class_member(&k, &p, why, cap);
    }
    if (rc == 0 && *p != ']') {
        rc = mqg_text_why(why, cap, "a class [...] is not closed");
    }
    if (rc == 0 && k.has_caret && !k.negated && !k.body.len && !k.has_bracket && !k.has_dash) {
        s_puts(o, "\\^"); /* [\^]: POSIX cannot write "^" alone in brackets */
        *pp = p + 1;
    } else if (rc == 0) {
        s_puts(o, k.negated ? "[^" : "[");
        if (k.has_bracket) {
            s_puts(o, "]");
        }
        if (k.body.len) {
            mqg_sbuf_put(o, k.body.p, k.body.len);
        }
        if (k.has_caret) {
            s_puts(o, "^"); /* never first: something stands before it */
        }
        if (k.has_dash) {
            s_puts(o, "-");
        }
        s_puts(o, "]");
        *pp = p + 1;
    }
    rc = rc ? rc : k.body.err;
    free(k.body.p);
    return rc;
}

/* ---- outside classes ---- */

/* {n}, {n,}, {n,m} at p: its length, or 0 when p does not start a quantifier. */
static size_t s_braces(const char *p)
{
    size_t i = 1;
    size_t digits = strspn(p + i, "0123456789");
    if (!digits) {
        return 0;
    }
    i += digits;
    if (p[i] == ',') {
        i++;
        i += strspn(p + i, "0123456789");
    }
    return p[i] == '}' ? i + 1 : 0;
}

/* An escape outside a class at p ('\'): into o; *used gets its length. */
static int s_escape(struct mqg_sbuf *o, const char *p, size_t *used, char *why, size_t cap)
{
    char e = p[1];
    unsigned cp;
    size_t n;
    static const struct {
        char e;
        const char *ere;
    } sets[] = {
        {'d', "[0-9]"},       {'D', "[^0-9]"},       {'w', "[A-Za-z0-9_]"}, {'W', "[^A-Za-z0-9_]"},
        {'s', "[[:space:]]"}, {'S', "[^[:space:]]"}, {'b', "\\b"},          {'B', "\\B"},
    };
    *used = 2;
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        if (sets[i].e == e) {
            s_puts(o, sets[i].ere);
            return 0;
        }
    }
    if (!e) {
        return mqg_text_why(why, cap, "the pattern ends with a backslash");
    }
    if (e >= '1' && e <= '9') { /* back-reference: a glibc extension of POSIX ERE */
        char buf[3] = {'\\', e, '\0'};
        s_puts(o, buf);
        return 0;
    }
    if (e == 'k' && p[2] == '<') {
        return mqg_text_why(why, cap, "named back-references \\k<...> are not supported");
    }
    if (e == '0' && !(p[2] >= '0' && p[2] <= '9')) {
        return mqg_text_why(why, cap, "\\0 (the NUL character) is not supported");
    }
    if (s_char_escape(p + 1, &cp, &n)) {
        s_literal(o, cp);
        *used = 1 + n;
        return 0;
    }
    s_literal(o, (unsigned char)e); /* identity escape: \. \/ \- \( ... and \q = q */
    return 0;
}

/* A group opening at p ('('): into o; *used gets how much of p it took. */
static int s_group(struct mqg_sbuf *o, const char *p, size_t *used, char *why, size_t cap)
{
    *used = 1;
    if (p[1] != '?') {
        s_puts(o, "(");
        return 0;
    }
    if (p[2] == ':') {
        *used = 3;
    } else if (p[2] == '<' && p[3] != '=' && p[3] != '!') { /* (?<name> */
        const char *end = strchr(p + 3, '>');
        if (!end) {
            return mqg_text_why(why, cap, "a group name (?<... is not closed");
        }
        *used = (size_t)(end - p) + 1;
    } else if (p[2] == '=' || p[2] == '!' || p[2] == '<') {
        return mqg_text_why(why, cap, "%s (?%.*s...) is not supported by POSIX regular expressions",
                            p[2] == '<' ? "lookbehind" : "lookahead", p[2] == '<' ? 2 : 1, p + 2);
    } else {
        return mqg_text_why(why, cap, "(?%c is not a valid group", p[2] ? p[2] : ' ');
    }
    s_puts(o, "(");
    return 0;
}

/* What the pattern's shape allows, checked token by token as JavaScript does, and how much
 * glibc would expand it: a quantifier needs something to repeat ("a++", "(*a)" and "^*" are
 * syntax errors in JavaScript), and repetition counts multiply through nested groups
 * ("((a{1000}){1000})"), which regcomp unrolls into that many states. */
#define S_GROUPS_MAX 64
#define S_COST_MAX 100000

struct s_shape {
    size_t cost[S_GROUPS_MAX + 1]; /* states so far, per open group (0: the whole pattern) */
    int depth;
    size_t last; /* the cost of the last atom, 0 when there is nothing to repeat */
};

/* The count a quantifier at p repeats by (0 for '*', '+', '?': no unrolling), or -1 when p is
 * no quantifier. */
static long s_quant_count(const char *p)
{
    if (*p == '*' || *p == '+' || *p == '?') {
        return 0;
    }
    if (*p != '{' || !s_braces(p)) {
        return -1;
    }
    char *end;
    long lo = strtol(p + 1, &end, 10);
    long hi = *end == ',' && end[1] != '}' ? strtol(end + 1, NULL, 10) : lo;
    return lo > hi ? lo : hi;
}

/* Track the token at p (lazy: a '?' after a quantifier). Returns 0 or -EINVAL with why. */
static int s_track(struct s_shape *sh, const char *p, bool lazy, char *why, size_t cap)
{
    long count = lazy ? -1 : s_quant_count(p);
    if (count >= 0) {
        if (!sh->last) {
            return mqg_text_why(why, cap, "nothing to repeat before '%c'", *p);
        }
        if (count > 1000) {
            return mqg_text_why(why, cap, "a repetition count above 1000 is not supported");
        }
        sh->cost[sh->depth] += sh->last * (size_t)(count > 1 ? count - 1 : 0);
        sh->last = 0;
    } else if (*p == '(') {
        if (sh->depth == S_GROUPS_MAX) {
            return mqg_text_why(why, cap, "groups nested deeper than %d", S_GROUPS_MAX);
        }
        sh->cost[++sh->depth] = 0;
        sh->last = 0;
    } else if (*p == ')' && sh->depth > 0) {
        sh->last = sh->cost[sh->depth--] + 1;
        sh->cost[sh->depth] += sh->last;
    } else if (lazy || *p == '|' || *p == '^' || *p == '$' ||
               (*p == '\\' && (p[1] == 'b' || p[1] == 'B'))) {
        sh->last = 0; /* an assertion or alternation: nothing to repeat */
    } else {
        sh->last = 1;
        sh->cost[sh->depth]++;
    }
    return sh->cost[sh->depth] > S_COST_MAX
               ? mqg_text_why(why, cap, "the pattern repeats too much (more than %d states)",
                              S_COST_MAX)
               : 0;
}

int mqg_jsre_to_ere(const char *js, char **out, char *why, size_t cap)
{
    struct mqg_sbuf o = {0};
    int rc = 0;
    bool quantified = false; /* the last thing written was a quantifier */
    struct s_shape sh = {{0}, 0, 0};
    s_puts(&o, "");
    for (const char *p = js; rc == 0 && *p;) {
        size_t used = 1;
        bool was_quantified = quantified;
        quantified = false;
        rc = s_track(&sh, p, was_quantified && *p == '?', why, cap);
        if (rc) {
            break;
        }
        switch (*p) {
        case '\\':
            rc = s_escape(&o, p, &used, why, cap);
            break;
        case '[':
            rc = s_class(&o, &p, why, cap);
            used = 0; /* s_class moved p */
            break;
        case '(':
            rc = s_group(&o, p, &used, why, cap);
            break;
        case '.':
            s_puts(&o, "[^\n\r\xe2\x80\xa8\xe2\x80\xa9]"); /* not a line terminator */
            break;
        case '*':
        case '+':
            mqg_sbuf_put(&o, p, 1);
            quantified = true;
            break;
        case '?':
            if (!was_quantified) { /* after a quantifier: lazy, which changes no test */
                mqg_sbuf_put(&o, p, 1);
                quantified = true;
            }
            break;
        case '{':
            used = s_braces(p);
            if (used) {
                mqg_sbuf_put(&o, p, used);
                quantified = true;
            } else {
                s_puts(&o, "\\{"); /* not a quantifier: a literal (Annex B) */
                used = 1;
            }
            break;
        case '}':
            s_puts(&o, "\\}");
            break;
        default:
            mqg_sbuf_put(&o, p, 1);
            break;
        }
        p += used;
    }
    rc = rc ? rc : o.err;
    if (rc != 0) {
        free(o.p);
        if (rc == -ENOMEM) {
            snprintf(why, cap, "out of memory");
        }
        return rc;
    }
    *out = o.p;
    return 0;
}

int mqg_jsre_test(const char *js, const char *text, char *why, size_t cap)
{
    char *ere = NULL;
    int rc = mqg_jsre_to_ere(js, &ere, why, cap);
    if (rc != 0) {
        return rc;
    }
    /* characters, not bytes: `.`, classes and {n} count UTF-8 sequences as one */
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
    regex_t rx;
    rc = regcomp(&rx, ere, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &rx, msg, sizeof(msg));
        rc = mqg_text_why(why, cap, "%s", msg);
    } else {
        rc = regexec(&rx, text, 0, NULL, 0) == 0 ? 1 : 0;
        regfree(&rx);
    }
    if (utf8) {
        uselocale(old);
        freelocale(utf8);
    }
    free(ere);
    return rc;
}
