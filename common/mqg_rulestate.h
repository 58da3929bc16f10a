/* mqg_rulestate — the rules that need no JavaScript engine: the state of cov (change of
 * value), burst (by count and by time), collect (the latest value per label) and stash (what
 * $last(label) returns), and parse (payload bytes to JSON). docs/rules.md gives the semantics
 * and their sources.
 *
 * For the rules process (later): the process runs the engine (rules/jsengine) for transform,
 * filter and setContextVars and keeps one of these objects per rule instance. Values are JSON
 * text as the engine writes it (cov wants its canonical form: JSENGINE_CANONICAL); nothing here
 * parses JSON except numbers. Pure: no I/O, no clock (callers pass now_ms), single-threaded.
 * Every function returns 0 or -errno; text handed out (char **) is the caller's to free.
 */
#ifndef MQG_RULESTATE_H
#define MQG_RULESTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- cov: pass a message only when the watched value changed ---- */

enum mqg_cov_mode {
    MQG_COV_EXACT = 0, /* no deadband: any change of the JSON value */
    MQG_COV_ABSOLUTE,  /* deadbandMode: absolute — |new - ref| > deadband */
    MQG_COV_RELATIVE,  /* deadbandMode: relative — |new - ref| > deadband % of |ref| */
};

struct mqg_cov;

/* deadband >= 0 (ignored for MQG_COV_EXACT). -EINVAL for a negative or non-finite deadband. */
int mqg_cov_new(enum mqg_cov_mode mode, double deadband, struct mqg_cov **out);
void mqg_cov_destroy(struct mqg_cov **pc);

/* One message: value is the canonical JSON text of its watched key (len bytes), NULL when the
 * message has no such key. *pass says whether the message goes on; when it does, value becomes
 * the reference the next messages are compared with (the last value passed, not the last one
 * seen). The first message always passes. With a deadband, values that are not both JSON
 * numbers are compared exactly. */
int mqg_cov_check(struct mqg_cov *c, const char *value, size_t len, bool *pass);

/* ---- burst: messages batched into one JSON array, by count and/or by time ---- */

#define MQG_BURST_HARD_MAX 100000 /* mqgate's bound: a batch never holds more messages */

struct mqg_burst;

/* max_size (messages) and interval_ms may each be 0 (not set); with neither, the rule is
 * inactive and messages pass unchanged. */
int mqg_burst_new(uint32_t max_size, uint32_t interval_ms, struct mqg_burst **out);
void mqg_burst_destroy(struct mqg_burst **pb);

/* Add one message (JSON text) at now_ms; call mqg_burst_tick first so that a batch that is due
 * goes out before it. *out is NULL, or the JSON array of a batch that this message completed
 * (max_size, or MQG_BURST_HARD_MAX), or the message itself when the rule is inactive. */
int mqg_burst_push(struct mqg_burst *b, const char *json, size_t len, uint64_t now_ms, char **out);

/* When the pending batch is due (its first message's time + interval), or 0 when nothing is
 * pending or no interval is set. */
uint64_t mqg_burst_due(const struct mqg_burst *b);

/* *out is the pending batch as a JSON array if it is due at now_ms (and the batch starts over),
 * else NULL. No messages, no output. */
int mqg_burst_tick(struct mqg_burst *b, uint64_t now_ms, char **out);

/* Messages waiting in the current batch. */
size_t mqg_burst_pending(const struct mqg_burst *b);

/* ---- collect: a last-value cache keyed by the subscription's label (or topic) ---- */

#define MQG_COLLECT_MAX_LABELS 10000 /* default bound; beyond it the oldest label goes */

struct mqg_collect;

/* max_labels 0 = MQG_COLLECT_MAX_LABELS. */
int mqg_collect_new(size_t max_labels, struct mqg_collect **out);
void mqg_collect_destroy(struct mqg_collect **pc);

/* Store json (len bytes) as label's latest value and give the whole cache as one JSON object
 * in *out: labels in the order a JavaScript object has them (integer-like labels ascending,
 * then the others in the order they first came). -EINVAL for a label that is not UTF-8. */
int mqg_collect_put(struct mqg_collect *c, const char *label, const char *json, size_t len,
                    char **out);
size_t mqg_collect_count(const struct mqg_collect *c);
/* Labels evicted so far because the cache was full. */
uint64_t mqg_collect_evicted(const struct mqg_collect *c);

/* ---- stash: values kept for $last(label) in later messages ---- */

struct mqg_stash;

/* max_labels 0 = MQG_COLLECT_MAX_LABELS. */
int mqg_stash_new(size_t max_labels, struct mqg_stash **out);
void mqg_stash_destroy(struct mqg_stash **ps);

/* The stash rule: json (len bytes) is label's value for the messages after this one. */
int mqg_stash_put(struct mqg_stash *s, const char *label, const char *json, size_t len);

/* The end of one message's run through its rules (passed or dropped): what it stashed becomes
 * what $last returns from the next message on. */
int mqg_stash_commit(struct mqg_stash *s);

/* The values $last sees now, as a JSON object (label -> value), "{}" when empty; borrowed,
 * valid until the next commit (jsengine_args.stash). */
const char *mqg_stash_json(const struct mqg_stash *s);

/* ---- parse: raw payload bytes to one JSON value ---- */

enum mqg_parse_format {
    MQG_PARSE_JSON, /* the bytes are JSON text: copied, the engine parses them */
    MQG_PARSE_UTF8, /* a string; invalid sequences become U+FFFD (as Node.js decodes) */
    MQG_PARSE_LATIN1,
    MQG_PARSE_ASCII,   /* each byte & 0x7f (Node.js's "ascii") */
    MQG_PARSE_BOOLEAN, /* the first byte non-zero */
    MQG_PARSE_INT8,
    MQG_PARSE_UINT8,
    MQG_PARSE_INT16BE,
    MQG_PARSE_INT16LE,
    MQG_PARSE_UINT16BE,
    MQG_PARSE_UINT16LE,
    MQG_PARSE_INT32BE,
    MQG_PARSE_INT32LE,
    MQG_PARSE_UINT32BE,
    MQG_PARSE_UINT32LE,
    MQG_PARSE_FLOATBE,
    MQG_PARSE_FLOATLE,
    MQG_PARSE_DOUBLEBE,
    MQG_PARSE_DOUBLELE,
    MQG_PARSE_TOBASE64,   /* the bytes as a base64 string */
    MQG_PARSE_FROMBASE64, /* the bytes are base64 text: decoded, then as utf8 */
};

/* The format named as in a commissioning file ("int16BE", "utf8", ...); -EINVAL if unknown. */
int mqg_parse_format(const char *name, enum mqg_parse_format *f);

/* data (len bytes) as JSON text in *out. Numbers use the first bytes of a longer input (the
 * gallery's 20-byte block); a shorter one is -EBADMSG, as is an empty input for boolean.
 * Numbers are written as JavaScript writes them (NaN and infinities as null). */
int mqg_parse_payload(enum mqg_parse_format f, const void *data, size_t len, char **out);

#endif
