/* mqg_json — JSON strings (see mqg_json.h). UTF-8 is checked with mqg_topic's decoder rules. */
#include "mqg_json.h"

#include "mqg_topic.h"

/* Bytes of the UTF-8 sequence a lead byte >= 0x80 announces (0: not a lead byte). */
static size_t s_seq_len(unsigned char c)
{
    if ((c & 0xe0) == 0xc0) {
        return 2;
    }
    if ((c & 0xf0) == 0xe0) {
        return 3;
    }
    return (c & 0xf8) == 0xf0 ? 4 : 0;
}

void mqg_json_strn(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = s_seq_len(c);
            if (n && i + n <= len && mqg_topic_utf8_ok(p + i, n)) {
                fwrite(p + i, 1, n, f);
                i += n;
            } else {
                fputs("\\ufffd", f);
                i++;
            }
            continue;
        }
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\r') {
            fputs("\\r", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
        i++;
    }
    fputc('"', f);
}

void mqg_json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    mqg_json_strn(f, s, n);
}
