/* mqg_topic — MQTT topic names, filters, named wildcards and topic templates.
 *
 * Pure logic, no I/O, no global state; used by the service loader (validation), the
 * connector (minimal subscription set) and the router (topic rewriting). Follows MQTT 3.1.1
 * section 4.7: '+' and '#' occupy whole levels, '#' only last, topics starting with '$' are
 * not matched by a leading wildcard.
 */
#ifndef MQG_TOPIC_H
#define MQG_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#define MQG_TOPIC_MAX 65535

/* Is buf[0..len) well-formed UTF-8 without U+0000, as MQTT 3.1.1 section 1.5.3 requires
 * (no overlong forms, no surrogates, nothing above U+10FFFF)? Also used by mqg_wire. */
bool mqg_topic_utf8_ok(const void *buf, size_t len);

/* Why buf[0..len) cannot be a topic name, as a static phrase ("is empty", "contains the
 * wildcard '+'", "is not valid UTF-8 (an overlong encoding)", ...), or NULL when it can; *at
 * (if not NULL) gets the byte offset of the fault. The plain check is MQTT's own rule (1..65535
 * bytes of UTF-8 without NUL, surrogates or overlong forms; no '+' or '#'), which a receiver
 * must enforce. `strict` also refuses control characters (U+0001..U+001F, U+007F..U+009F)
 * and Unicode non-characters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF), which MQTT 5 (1.5.4) lets a
 * receiver close the connection for and brokers such as mosquitto do: what is published
 * must pass the strict check. */
const char *mqg_topic_name_fault(const void *buf, size_t len, bool strict, size_t *at);

/* A topic name to publish to: 1..65535 bytes of UTF-8, no '+', '#' or NUL. */
bool mqg_topic_valid_name(const char *topic);

/* A plain subscription filter: 1..65535 bytes of UTF-8, wildcards only as whole levels, '#'
 * only as the last level. */
bool mqg_topic_valid_filter(const char *filter);

/* The filter whose topics a subscription to `filter` delivers: for a shared subscription
 * "$share/<group>/<filter>" (MQTT 5; the group one non-empty level without wildcards) the
 * <filter> after the group, as a pointer into `filter`; otherwise `filter` itself, also when it
 * starts with "$share/" but is not such a subscription (mqg_topic_valid_filter and
 * mqg_pattern_new refuse those). Named wildcards are kept. NULL gives NULL. */
const char *mqg_topic_unshare(const char *filter);

/* Does `filter` (plain) match topic name `topic`? False if either is invalid. */
bool mqg_topic_match(const char *filter, const char *topic);

/* Does plain filter a cover plain filter b, i.e. does every topic matched by b match a?
 * (a == b covers; "a/#" covers "a/b/+" and "a"; "+/x" does not cover "#".) False if either
 * is invalid. */
bool mqg_topic_covers(const char *a, const char *b);

/* A filter as written in a mapping: levels may be "+name" or "#name" (named wildcards). A name
 * is a letter or '_' followed by letters, digits or '_', and is used once per pattern. */
struct mqg_pattern;

/* Parse `text`. On success *out is a new pattern (free with mqg_pattern_destroy) and 0 is
 * returned; on a malformed filter returns -EINVAL (-ENOMEM if out of memory) and, if errmsg
 * is not NULL, a static description in *errmsg. */
int mqg_pattern_new(const char *text, struct mqg_pattern **out, const char **errmsg);

/* NULL-safe; clears *p. */
void mqg_pattern_destroy(struct mqg_pattern **p);

/* The plain filter (named wildcards reduced to '+'/'#'): what is subscribed on the wire.
 * Borrowed, valid while the pattern lives. */
const char *mqg_pattern_filter(const struct mqg_pattern *p);

/* True if the pattern has at least one named wildcard. */
bool mqg_pattern_has_names(const struct mqg_pattern *p);

/* Check a publish topic template against the pattern: every "{name}" in tmpl must name a
 * wildcard of p (p may be NULL = no names). Returns 0, or -EINVAL with a static message in
 * *errmsg (if not NULL). "$name" (the longest run of identifier characters after '$') is a
 * reference when p has a wildcard of that name and literal text otherwise, so topics such
 * as "$aws/things/x" can be published to. A '{' with no '}' before the next
 * '/' or '{' is literal; "{...}" holding anything but a name is an error. The template must
 * also be a usable topic: 1..65535 bytes of UTF-8, no '+' or '#' outside references, and its
 * literal text must pass the strict check of mqg_topic_name_fault (no control characters or
 * non-characters); what references are replaced by is not known here. */
int mqg_pattern_check_template(const struct mqg_pattern *p, const char *tmpl, const char **errmsg);

/* mqg_pattern_check_template, where a "{name}" is also allowed when known(arg, name, len) says
 * so (the variables a mapping entry's setContextVars rule sets; known may be NULL). "$name" is
 * still a reference only for a wildcard of p. */
int mqg_pattern_check_template_vars(const struct mqg_pattern *p, const char *tmpl,
                                    bool (*known)(const void *arg, const char *name, size_t len),
                                    const void *arg, const char **errmsg);

/* Render tmpl for a topic matched by p: "{name}" / "$name" become the level matched by
 * "+name", or the whole remaining path for "#name" ("" when "a/#rest" matched "a"). Writes a
 * NUL-terminated string of at most cap bytes into out. Returns the length, or -ENOSPC if it
 * does not fit (out is then ""), or -EINVAL if topic does not match p or tmpl names an
 * unknown wildcard (see mqg_pattern_check_template). p may be NULL (tmpl is copied as is).
 * Allocation-free. */
int mqg_pattern_render(const struct mqg_pattern *p, const char *topic, const char *tmpl, char *out,
                       size_t cap);

#endif
