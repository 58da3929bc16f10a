/* mqg_sbuf — a growable text buffer and JSON strings written as
 * JSON.stringify writes them; for the rules' engine-free parts (mqg_rulestate, mqg_ruleparse).
 * An append that fails for memory sets err once; later appends do nothing.
 */
#ifndef MQG_SBUF_H
#define MQG_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct mqg_sbuf {
    char *p; /* NUL-terminated after any append; NULL before the first */
    size_t len;
    size_t cap;
    int err; /* -ENOMEM once an append failed */
};

void mqg_sbuf_put(struct mqg_sbuf *b, const char *s, size_t n);
void mqg_sbuf_putc(struct mqg_sbuf *b, char c);

/* Hand the text over (0, *out the caller's), or free it and return the error. */
int mqg_sbuf_take(struct mqg_sbuf *b, char **out);

/* s[0..len) (valid UTF-8) as a JSON string, as JSON.stringify writes it. */
void mqg_sbuf_json_string_n(struct mqg_sbuf *b, const char *s, size_t len);
void mqg_sbuf_json_string(struct mqg_sbuf *b, const char *s);

#endif
