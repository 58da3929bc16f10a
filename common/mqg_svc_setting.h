/* mqg_svc_setting — typed settings: one key of a mapping read as text, integer, boolean or
 * mapping, the keys a mapping may have, and topics mqgate publishes to.
 *
 * Internal to the loader. Every reader resolves !ref / !sub first (mqg_svc_value.h), treats
 * an absent key and a null value alike ("not set": the default applies), and reports errors at
 * the node as written with the setting's dotted path. Typing (docs/formats.md §1.4): where an
 * integer or a boolean is expected a quoted string is an error, unless it comes from a
 * parameter (parameters are text).
 */
#ifndef MQG_SVC_SETTING_H
#define MQG_SVC_SETTING_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_svc_value.h"

/* Read map[key] into a fresh *v (clear it with mqg_svc_val_clear in every case) and its path
 * ("parent.key") into path (MQG_SVC_PATH_MAX bytes). Returns 1 if set, 0 if absent or null,
 * or a negative errno. */
int mqg_svc_get(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                const char *key, char *path, struct mqg_svc_val *v);

/* v must be text without NUL ("expected <what>, got a mapping" otherwise). Returns 0 or
 * -EINVAL. */
int mqg_svc_val_text(struct mqg_svc_ctx *c, const struct mqg_svc_val *v, const char *path,
                     const char *what);

/* Optional settings: *out is left unchanged when the setting is absent or null. Return 1 when
 * set, 0 when not, or a negative errno (c->err filled). */

/* Text: *out gets a heap copy (any previous *out is freed). */
int mqg_svc_opt_string(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                       const char *key, char **out);

/* An integer in min..max. */
int mqg_svc_opt_int(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                    const char *key, long long min, long long max, int *out);

/* A boolean: true or false (True, TRUE, False, FALSE). */
int mqg_svc_opt_bool(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                     const char *key, bool *out);

/* targetState of an endpoint or a mapping (`kind`, for messages): enabled (default) or
 * disabled. *enabled gets it. Returns 0 or -EINVAL. */
int mqg_svc_opt_enabled(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                        const char *kind, bool *enabled);

/* A property accepted and ignored (agentName, inputBuffering): text, or a mapping when
 * `mapping`; when present a notice (mqg_svc_notice) says "<key> is ignored: <why>". Returns
 * 0 or a negative errno. */
int mqg_svc_opt_ignored(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                        const char *key, bool mapping, const char *why);

/* A mapping (after resolution): *out gets it, NULL when not set. */
int mqg_svc_opt_map(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                    const char *key, const struct mqg_yaml_node **out);

/* Fail on the first key of `map` that is not text, is a merge key (<<), or is not in `allowed`
 * (NULL-terminated; the error lists them in this order). Returns 0 or -EINVAL. */
int mqg_svc_check_keys(struct mqg_svc_ctx *c, const struct mqg_yaml_node *map, const char *parent,
                       const char *const *allowed);

/* A topic mqgate publishes to as written (write.topic, will.topic, a data topic, the literal
 * text of a mapping's publish.topic): MQTT's rules, and the strict ones brokers such as
 * mosquitto apply, which would otherwise cost the connection at run time. `what` names the
 * topic in the message ("topic to write to"), `shown` is the text quoted in it, `hint` is
 * appended to it; `skip` bytes of `topic` are a prefix mqgate added (the data topic's service
 * root), not counted in the character position. Returns 0 or -EINVAL pointing at `at`. */
int mqg_svc_check_publish_topic(struct mqg_svc_ctx *c, const struct mqg_yaml_node *at,
                                const char *path, const char *topic, size_t skip, const char *shown,
                                const char *what, const char *hint);

#endif
