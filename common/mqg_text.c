/* mqg_text — C-style escapes for printing user text (see mqg_text.h).
 *
 * Walks the text once, sequence by sequence, with its own small UTF-8 decoder (the same rules
 * as mqg_topic: no overlong forms, no surrogates, nothing above U+10FFFF).
 */
#include "mqg_text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

size_t mqg_text_utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t min;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        *cp = s[0] & 0x1fu;
        min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        *cp = s[0] & 0x0fu;
        min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        *cp = s[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len < n) {
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80) {
            return 0;
        }
        *cp = (*cp << 6) | (s[k] & 0x3fu);
    }
    if (*cp < min || (*cp >= 0xd800 && *cp <= 0xdfff) || *cp > 0x10ffff) {
        return 0;
    }
    return n;
}

/* The escape for the text at s[0..len) (len >= 1) into esc (at least 7 bytes) and the bytes
 * it stands for in *adv; or "" when the first *adv bytes print as they are. */
static void s_next(const unsigned char *s, size_t len, char *esc, size_t *adv)
{
    static const char hex[] = "0123456789abcdef";
    uint32_t cp;
    esc[0] = '\0';
    *adv = 1;
    if (s[0] >= 0x20 && s[0] < 0x7f) {
        while (*adv < len && s[*adv] >= 0x20 && s[*adv] < 0x7f) {
            (*adv)++; /* a run of printable ASCII in one piece */
        }
        return;
    }
    if (s[0] == '\n' || s[0] == '\r' || s[0] == '\t') {
        esc[0] = '\\';
        esc[1] = s[0] == '\n' ? 'n' : s[0] == '\r' ? 'r' : 't';
        esc[2] = '\0';
        return;
    }
    size_t n = s[0] >= 0x80 ? mqg_text_utf8_seq(s, len, &cp) : 0;
    if (n == 0) {
        memcpy(esc, "\\x", 2);
        esc[2] = hex[s[0] >> 4];
        esc[3] = hex[s[0] & 0xf];
        esc[4] = '\0';
        return;
    }
    *adv = n;
    if (cp <= 0x9f) {
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[cp >> 4];
        esc[5] = hex[cp & 0xf];
        esc[6] = '\0';
    }
}

bool mqg_text_plain(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        char esc[8];
        size_t adv;
        s_next(u + i, len - i, esc, &adv);
        if (esc[0]) {
            return false;
        }
        i += adv;
    }
    return true;
}

size_t mqg_text_escape(char *out, size_t cap, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t pos = 0;    /* length of the whole escaped text */
    size_t w = 0;      /* bytes written to out, always < cap */
    bool full = false; /* nothing more is written after a piece that did not fit */
    for (size_t i = 0; i < len;) {
        char esc[8];
        size_t adv;
        s_next(u + i, len - i, esc, &adv);
        const char *piece = esc[0] ? esc : s + i;
        size_t plen = esc[0] ? strlen(esc) : adv;
        if (!full && w + plen < cap) {
            memcpy(out + w, piece, plen);
            w += plen;
        } else if (!full && !esc[0] && w + 1 < cap) {
            /* a plain run that does not fit whole: as much of it as fits, whole characters */
            size_t k = cap - 1 - w;
            while (k > 0 && (u[i + k] & 0xc0) == 0x80) {
                k--;
            }
            memcpy(out + w, piece, k);
            w += k;
            full = true;
        } else {
            full = true;
        }
        pos += plen;
        i += adv;
    }
    if (cap > 0) {
        out[w] = '\0';
    }
    return pos;
}

void mqg_text_fput(const char *s, FILE *f)
{
    if (!s) {
        fputs("(null)", f);
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        char esc[8];
        size_t adv;
        s_next(u + i, len - i, esc, &adv);
        if (esc[0]) {
            fputs(esc, f);
        } else {
            fwrite(s + i, 1, adv, f);
        }
        i += adv;
    }
}

const char *mqg_text_shown(const char *s, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && i < MQG_TEXT_SHOWN_MAX; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b >= 0x20 && b < 0x7f && b != '\\') {
            out[o++] = (char)b;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[b >> 4];
            out[o++] = hex[b & 15];
        }
    }
    if (len > MQG_TEXT_SHOWN_MAX) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

bool mqg_text_hex(const char *s, size_t n, unsigned *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            return false;
        }
        *v = *v * 16 + (unsigned)d;
    }
    return true;
}

int mqg_text_why(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -EINVAL;
}
