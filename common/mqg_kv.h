/* mqg_kv — the status text a child sends with every heartbeat: `key=value` pairs.
 *
 * Written by the router and the connectors (mqg_kv_quote for a value that may hold blanks, such
 * as the connector's last error), read by the supervisor for `mqgate status`, /metrics and
 * /health (mqg_kv_parse). Pairs are separated by blanks; a value is a word without blanks, or a
 * quoted text "..." in which \" and \\ stand for " and \. Pure string logic, no allocation, no
 * global state; a parsed text is a value object the caller owns.
 */
#ifndef MQG_KV_H
#define MQG_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQG_KV_TEXT_MAX 1024 /* longest text kept by mqg_kv_parse (the rest is cut off) */
#define MQG_KV_MAX 48        /* most pairs kept by mqg_kv_parse */

struct mqg_kv {
    char buf[MQG_KV_TEXT_MAX + 1]; /* the text, split in place: keys and values point here */
    size_t n;
    struct {
        const char *key;
        const char *val; /* unquoted and unescaped */
    } items[MQG_KV_MAX];
};

/* Parse text (NUL-terminated; NULL is empty) into *kv. A token without '=' or with an empty key
 * is skipped, as is a quoted value without its closing quote (a text cut short); a key given
 * twice keeps its first value for mqg_kv_get. Returns the number of pairs kept. */
size_t mqg_kv_parse(const char *text, struct mqg_kv *kv);

/* The value of key, or NULL when kv has no such pair. */
const char *mqg_kv_get(const struct mqg_kv *kv, const char *key);

/* The value of key as an unsigned decimal integer: true and *out set when it is one (digits
 * only, no sign, fits 64 bits); false otherwise (*out untouched). */
bool mqg_kv_u64(const struct mqg_kv *kv, const char *key, uint64_t *out);

/* Is s a plain decimal number as mqg_kv_u64 takes it? */
bool mqg_kv_is_number(const char *s);

/* Write text as a quoted value into out (cap bytes, NUL-terminated when cap > 0): '"', the text
 * with '"' and '\' escaped and control characters (0x00..0x1f, 0x7f) as blanks, '"'. When it
 * does not fit it is cut before a whole character or escape and still closed with '"' (cap must
 * be at least 3 for that). Returns the length written (without the NUL). */
size_t mqg_kv_quote(char *out, size_t cap, const char *text);

#endif
