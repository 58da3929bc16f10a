/* mqg_sbuf — a growable text buffer and the JSON strings the rules write (see mqg_sbuf.h). */
#include "mqg_sbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void mqg_sbuf_put(struct mqg_sbuf *b, const char *s, size_t n)
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

void mqg_sbuf_putc(struct mqg_sbuf *b, char c)
{
    mqg_sbuf_put(b, &c, 1);
}

/* Hand the text over (0), or free it and return the error. */
int mqg_sbuf_take(struct mqg_sbuf *b, char **out)
{
    if (b->err) {
        free(b->p);
        *out = NULL;
        return b->err;
    }
    *out = b->p;
    return 0;
}

/* s[0..len) (valid UTF-8) as a JSON string, as JSON.stringify writes it. */
void mqg_sbuf_json_string_n(struct mqg_sbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    mqg_sbuf_putc(b, '"');
    const unsigned char *end = (const unsigned char *)s + len;
    for (const unsigned char *p = (const unsigned char *)s; p < end; p++) {
        switch (*p) {
        case '"':
            mqg_sbuf_put(b, "\\\"", 2);
            break;
        case '\\':
            mqg_sbuf_put(b, "\\\\", 2);
            break;
        case '\b':
            mqg_sbuf_put(b, "\\b", 2);
            break;
        case '\f':
            mqg_sbuf_put(b, "\\f", 2);
            break;
        case '\n':
            mqg_sbuf_put(b, "\\n", 2);
            break;
        case '\r':
            mqg_sbuf_put(b, "\\r", 2);
            break;
        case '\t':
            mqg_sbuf_put(b, "\\t", 2);
            break;
        default:
            if (*p < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
                mqg_sbuf_put(b, u, 6);
            } else {
                mqg_sbuf_putc(b, (char)*p);
            }
        }
    }
    mqg_sbuf_putc(b, '"');
}

void mqg_sbuf_json_string(struct mqg_sbuf *b, const char *s)
{
    mqg_sbuf_json_string_n(b, s, strlen(s));
}
