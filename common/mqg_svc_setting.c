/* mqg_svc_setting — typed settings of a commissioning file: text, integers, booleans,
 * mappings, allowed keys and topics to publish to.
 *
 * Used by every part of the loader that reads a resource (see mqg_svc_setting.h). Each reader
 * resolves the value, checks its type and range, and fails at the node as written.
 */
#include "mqg_svc_setting.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_svc_scalar.h"
#include "mqg_topic.h"

typedef struct mqg_yaml_node s_node;

/* 1-based position of the character that starts at byte `off` of UTF-8 text. */
static size_t s_char_pos(const char *s, size_t off)
{
    size_t n = 1;
    for (size_t i = 0; i < off && s[i]; i++) {
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    }
    return n;
}

static bool s_in_list(const char *s, const char *const *list)
{
    for (; *list; list++) {
        if (strcmp(s, *list) == 0) {
            return true;
        }
    }
    return false;
}

static void s_join(char *buf, size_t cap, const char *const *list)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; list[i] && off < cap; i++) {
        int n = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", list[i]);
        if (n < 0) {
            break;
        }
        off += (size_t)n;
    }
}

/* Read map[key] into v and its path into `path`. Returns 1 if set, 0 if absent or null. */
int mqg_svc_get(struct mqg_svc_ctx *c, const s_node *map, const char *parent, const char *key,
                char *path, struct mqg_svc_val *v)
{
    memset(v, 0, sizeof(*v));
    mqg_svc_path(path, parent, key);
    const s_node *n = mqg_yaml_map_get(c->doc, map, key, NULL);
    if (!n) {
        return 0;
    }
    int rc = mqg_svc_resolve(c, n, path, v);
    if (rc < 0) {
        return rc;
    }
    if (mqg_svc_val_null(v)) {
        mqg_svc_val_clear(v);
        return 0;
    }
    return 1;
}

int mqg_svc_val_text(struct mqg_svc_ctx *c, const struct mqg_svc_val *v, const char *path,
                     const char *what)
{
    char o[MQG_SVC_ORIGIN_MAX];
    if (!v->text) {
        return mqg_svc_fail(c, v->at, path, "expected %s, got a %s%s", what,
                            mqg_yaml_kind_name(v->node), mqg_svc_origin(v, o, sizeof(o)));
    }
    if (strlen(v->text) != v->len) {
        return mqg_svc_fail(c, v->at, path, "expected %s, got text holding a NUL character%s", what,
                            mqg_svc_origin(v, o, sizeof(o)));
    }
    return 0;
}

static int s_val_string(struct mqg_svc_ctx *c, const struct mqg_svc_val *v, const char *path,
                        char **out)
{
    int rc = mqg_svc_val_text(c, v, path, "a string");
    return rc < 0 ? rc : mqg_svc_dup(c, v->text, out);
}

static int s_val_int(struct mqg_svc_ctx *c, const struct mqg_svc_val *v, const char *path,
                     long long min, long long max, int *out)
{
    char o[MQG_SVC_ORIGIN_MAX];
    int rc = mqg_svc_val_text(c, v, path, "an integer");
    if (rc < 0) {
        return rc;
    }
    long long x;
    if (v->quoted && !v->param) {
        return mqg_svc_fail(c, v->at, path, "expected an integer, got the quoted string '%s'%s",
                            v->text, mqg_svc_origin(v, o, sizeof(o)));
    }
    if (!mqg_svc_parse_ll(v->text, &x)) {
        return mqg_svc_fail(c, v->at, path, "expected an integer, got '%s'%s", v->text,
                            mqg_svc_origin(v, o, sizeof(o)));
    }
    if (x < min || x > max) {
        return mqg_svc_fail(c, v->at, path, "%lld is out of range; expected %lld..%lld%s", x, min,
                            max, mqg_svc_origin(v, o, sizeof(o)));
    }
    *out = (int)x;
    return 0;
}

static int s_val_bool(struct mqg_svc_ctx *c, const struct mqg_svc_val *v, const char *path,
                      bool *out)
{
    char o[MQG_SVC_ORIGIN_MAX];
    int rc = mqg_svc_val_text(c, v, path, "a boolean (true or false)");
    if (rc < 0) {
        return rc;
    }
    if ((v->quoted && !v->param) || !mqg_svc_parse_bool(v->text, out)) {
        return mqg_svc_fail(c, v->at, path, "expected a boolean (true or false), got %s'%s'%s",
                            v->quoted && !v->param ? "the quoted string " : "", v->text,
                            mqg_svc_origin(v, o, sizeof(o)));
    }
    return 0;
}

/* Optional settings: leave *out unchanged when absent. Return 1 set, 0 absent, <0 error. */
int mqg_svc_opt_string(struct mqg_svc_ctx *c, const s_node *map, const char *parent,
                       const char *key, char **out)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, map, parent, key, path, &v);
    if (rc > 0) {
        char *s;
        rc = s_val_string(c, &v, path, &s);
        if (rc == 0) {
            free(*out);
            *out = s;
            rc = 1;
        }
    }
    mqg_svc_val_clear(&v);
    return rc;
}

int mqg_svc_opt_int(struct mqg_svc_ctx *c, const s_node *map, const char *parent, const char *key,
                    long long min, long long max, int *out)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, map, parent, key, path, &v);
    if (rc > 0) {
        rc = s_val_int(c, &v, path, min, max, out);
        rc = rc < 0 ? rc : 1;
    }
    mqg_svc_val_clear(&v);
    return rc;
}

int mqg_svc_opt_bool(struct mqg_svc_ctx *c, const s_node *map, const char *parent, const char *key,
                     bool *out)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, map, parent, key, path, &v);
    if (rc > 0) {
        rc = s_val_bool(c, &v, path, out);
        rc = rc < 0 ? rc : 1;
    }
    mqg_svc_val_clear(&v);
    return rc;
}

int mqg_svc_opt_enabled(struct mqg_svc_ctx *c, const s_node *map, const char *parent,
                        const char *kind, bool *enabled)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    *enabled = true;
    int rc = mqg_svc_get(c, map, parent, "targetState", path, &v);
    if (rc > 0) {
        rc = mqg_svc_val_text(c, &v, path, "enabled or disabled");
        if (rc == 0 && strcmp(v.text, "enabled") != 0 && strcmp(v.text, "disabled") != 0) {
            rc = mqg_svc_fail(c, v.at, path,
                              "unknown targetState '%s' of %s; expected enabled or disabled",
                              v.text, kind);
        }
        *enabled = rc == 0 && strcmp(v.text, "enabled") == 0;
    }
    mqg_svc_val_clear(&v);
    return rc < 0 ? rc : 0;
}

int mqg_svc_opt_ignored(struct mqg_svc_ctx *c, const s_node *map, const char *parent,
                        const char *key, bool mapping, const char *why)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, map, parent, key, path, &v);
    if (rc > 0 && mapping && mqg_yaml_kind(v.node) != MQG_YAML_MAPPING) {
        rc = mqg_svc_fail(c, v.at, path, "expected a mapping, got a %s",
                          v.text ? "scalar" : "sequence");
    } else if (rc > 0 && !mapping && mqg_svc_val_text(c, &v, path, "text") < 0) {
        rc = -EINVAL;
    }
    if (rc > 0) {
        rc = mqg_svc_notice(c, v.at, path, key, "%s is ignored: %s", key, why);
    }
    mqg_svc_val_clear(&v);
    return rc < 0 ? rc : 0;
}

/* map[key] must be a mapping (after resolution): *out gets it, NULL if absent. */
int mqg_svc_opt_map(struct mqg_svc_ctx *c, const s_node *map, const char *parent, const char *key,
                    const s_node **out)
{
    char path[MQG_SVC_PATH_MAX];
    char o[MQG_SVC_ORIGIN_MAX];
    struct mqg_svc_val v;
    *out = NULL;
    int rc = mqg_svc_get(c, map, parent, key, path, &v);
    if (rc > 0) {
        if (mqg_yaml_kind(v.node) != MQG_YAML_MAPPING) {
            rc = mqg_svc_fail(c, v.at, path, "expected a mapping, got %s%s",
                              v.text ? "a scalar" : "a sequence", mqg_svc_origin(&v, o, sizeof(o)));
        } else {
            *out = v.node;
        }
    }
    mqg_svc_val_clear(&v);
    return rc;
}

/* Fail on keys of `map` that are not in `allowed` (NULL-terminated). */
int mqg_svc_check_keys(struct mqg_svc_ctx *c, const s_node *map, const char *parent,
                       const char *const *allowed)
{
    char path[MQG_SVC_PATH_MAX];
    size_t n = mqg_yaml_map_size(map);
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        mqg_yaml_map_at(c->doc, map, i, &k, NULL);
        size_t len;
        const char *key = mqg_yaml_scalar(k, &len);
        if (!key || strlen(key) != len) {
            return mqg_svc_fail(c, k, parent, "expected a text key, got a %s",
                                key ? "binary scalar" : mqg_yaml_kind_name(k));
        }
        mqg_svc_path(path, parent, key);
        if (strcmp(key, "<<") == 0) {
            return mqg_svc_fail(c, k, path,
                                "merge keys (<<) are not supported; write the mapping out");
        }
        if (!s_in_list(key, allowed)) {
            char list[400];
            s_join(list, sizeof(list), allowed);
            return mqg_svc_fail(c, k, path, "unknown property '%s'; expected one of: %s", key,
                                list);
        }
    }
    return 0;
}

/* A topic mqgate publishes to as written (write.topic, will.topic, a data topic, the literal
 * text of a mapping's publish.topic): MQTT's rules, and the strict ones brokers such as
 * mosquitto apply, which would otherwise cost the connection at run time. `what` names the
 * topic in the message ("topic to write to"); `skip` bytes of `topic` are a prefix mqgate
 * added (the data topic's service root), not counted in the position. */
int mqg_svc_check_publish_topic(struct mqg_svc_ctx *c, const s_node *at, const char *path,
                                const char *topic, size_t skip, const char *shown, const char *what,
                                const char *hint)
{
    size_t off;
    const char *why = mqg_topic_name_fault(topic, strlen(topic), true, &off);
    if (!why) {
        return 0;
    }
    size_t pos = off >= skip ? s_char_pos(topic + skip, off - skip) : 1;
    return mqg_svc_fail(c, at, path,
                        "'%s' is not a valid %s: it %s (character %zu); expected a topic name "
                        "without '+', '#', control characters or Unicode non-characters%s",
                        shown, what, why, pos, hint);
}
