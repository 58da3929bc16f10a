/* mqg_svc_value — !ref and !sub: a setting's value as the loader reads it.
 *
 * Used by the loader's typed settings (mqg_svc_setting.c) and resource references (see
 * mqg_svc_value.h). Resolution walks definitions recursively with a depth; !sub text is built
 * in a growable buffer and counted against the per-value and per-file bounds, whose errors
 * point at the setting being read (c->top), not at the definition deep inside.
 */
#include "mqg_svc_value.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_svc_param.h"
#include "mqg_svc_res.h"

#define S_DEPTH_MAX 16                  /* nesting of !ref / !sub through definitions */
#define S_VALUE_MAX (1024 * 1024)       /* bytes of one value built by !sub */
#define S_EXPAND_MAX (16 * 1024 * 1024) /* bytes !sub may produce in one file, all levels */
#define S_SUBST_MAX 100000              /* ${NAME} substitutions in one file */

typedef struct mqg_yaml_node s_node;

/* " (from parameter 'x')" or "" — where a resolved value came from. */
const char *mqg_svc_origin(const struct mqg_svc_val *v, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (v->from_kind) {
        snprintf(buf, cap, " (from %s '%s')", v->from_kind, v->from_name);
    }
    return buf;
}

void mqg_svc_val_clear(struct mqg_svc_val *v)
{
    free(v->owned);
    memset(v, 0, sizeof(*v));
}

static int s_resolve_node(struct mqg_svc_ctx *c, const s_node *n, const char *path, int depth,
                          struct mqg_svc_val *v);

/* The name written after !ref / inside ${}: a non-empty scalar. */
int mqg_svc_tag_name(struct mqg_svc_ctx *c, const s_node *n, const char *tag, const char *path,
                     const char **out)
{
    size_t len;
    const char *name = mqg_yaml_scalar(n, &len);
    if (!name || len == 0 || strlen(name) != len) {
        return mqg_svc_fail(c, n, path, "%s needs a name, e.g. '%s mqttHost'; got a %s", tag, tag,
                            name ? "empty or binary scalar" : mqg_yaml_kind_name(n));
    }
    *out = name;
    return 0;
}

#define S_BUILTINS                                                                                 \
    "Cybus::ServiceId, Cybus::MqttRoot, Cybus::MqttHost, Cybus::MqttPort, Cybus::MqttUser, "       \
    "Cybus::MqttPassword"

/* The built-in `name` (Cybus::...) into v: the service id, its root topic, or how the internal
 * broker is reached (the connection mqg_ibroker_add put into the model). */
static int s_builtin(struct mqg_svc_ctx *c, const char *name, const s_node *at, const char *path,
                     struct mqg_svc_val *v)
{
    const char *what = name + 7;
    int k = mqg_model_internal(c->m);
    const struct mqg_connection *ib = k >= 0 ? &c->m->conns[k] : NULL;
    v->quoted = true;
    v->node = NULL;
    if (strcmp(what, "ServiceId") == 0 || strcmp(what, "MqttRoot") == 0) {
        v->text = what[0] == 'S' ? c->sid : c->root;
    } else if (strcmp(what, "MqttHost") == 0 && ib) {
        v->text = ib->host;
    } else if (strcmp(what, "MqttPort") == 0 && ib) {
        snprintf(c->mqtt_port, sizeof(c->mqtt_port), "%d", ib->port);
        v->text = c->mqtt_port;
        v->quoted = false; /* an integer, as a port setting expects */
    } else if (strcmp(what, "MqttUser") == 0 && ib) {
        v->text = ib->username ? ib->username : "";
    } else if (strcmp(what, "MqttPassword") == 0 && ib) {
        v->text = ib->password ? ib->password : "";
    } else if (strncmp(what, "Mqtt", 4) == 0 &&
               (strcmp(what, "MqttHost") == 0 || strcmp(what, "MqttPort") == 0 ||
                strcmp(what, "MqttUser") == 0 || strcmp(what, "MqttPassword") == 0)) {
        return mqg_svc_fail(c, at, path,
                            "'%s' names the internal broker, which is off (internal_broker.mode "
                            "= \"off\" in the settings); expected the internal broker on "
                            "(mode \"embedded\" or \"external\")",
                            name);
    } else {
        return mqg_svc_fail(c, at, path, "unknown built-in '%s'; expected one of " S_BUILTINS,
                            name);
    }
    v->len = strlen(v->text);
    return 0;
}

/* Resolve NAME (of !ref NAME or ${NAME}) into v; errors point at `at`. */
static int s_resolve_name(struct mqg_svc_ctx *c, const char *name, const s_node *at,
                          const char *path, int depth, struct mqg_svc_val *v)
{
    if (strncmp(name, "Cybus::", 7) == 0) {
        return s_builtin(c, name, at, path, v);
    }
    if (strstr(name, "::")) {
        return mqg_svc_fail(
            c, at, path,
            "'%s' is a reference to another service, which mqgate does not support; "
            "expected a parameter, definition or resource of this file",
            name);
    }
    const struct mqg_svc_pdef *p = mqg_svc_find_param(c, name);
    if (p) {
        v->text = p->value;
        v->len = strlen(p->value);
        v->quoted = p->type == MQG_SVC_T_STRING;
        v->param = p;
        v->node = NULL;
        if (!v->from_kind) {
            v->from_kind = "parameter";
            v->from_name = p->name;
        }
        return 0;
    }
    const s_node *def = mqg_svc_find_def(c, name);
    if (def) {
        if (!v->from_kind) {
            v->from_kind = "definition";
            v->from_name = name;
        }
        return s_resolve_node(c, def, path, depth + 1, v);
    }
    if (mqg_svc_find_res(c, name)) {
        return mqg_svc_fail(c, at, path,
                            "'%s' is a resource; a resource can only be referenced where a "
                            "connection or endpoint is expected",
                            name);
    }
    return mqg_svc_fail(c, at, path,
                        "unknown name '%s'; expected a parameter, a definition or a built-in "
                        "(" S_BUILTINS ")",
                        name);
}

/* Growable text for !sub. */
struct s_buf {
    char *p;
    size_t len;
    size_t cap;
};

static int s_buf_add(struct s_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            return -ENOMEM;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* Count `add` bytes for the !sub being built in b against the limits of one value and of the
 * file (S_VALUE_MAX, S_EXPAND_MAX); errors point at the setting being resolved. */
static int s_expand_check(struct mqg_svc_ctx *c, const struct s_buf *b, size_t add,
                          const char *path)
{
    char o[MQG_SVC_ORIGIN_MAX];
    const struct mqg_svc_val *top = c->top;
    if (add > S_VALUE_MAX - b->len) {
        return mqg_svc_fail(
            c, top->at, path,
            "!sub makes this value longer than %d bytes (1 MiB)%s; expected at most "
            "1 MiB",
            S_VALUE_MAX, mqg_svc_origin(top, o, sizeof(o)));
    }
    c->expanded += add;
    if (c->expanded > S_EXPAND_MAX) {
        return mqg_svc_fail(
            c, top->at, path,
            "!sub has made more than %d bytes (16 MiB) of text in this file, nested "
            "!sub counted each time they are expanded%s; expected at most 16 MiB",
            S_EXPAND_MAX, mqg_svc_origin(top, o, sizeof(o)));
    }
    return 0;
}

/* The ${NAME} starting at `dollar` in the !sub text at n: its value appended to b; *next gets
 * the text after it. */
static int s_substitute_one(struct mqg_svc_ctx *c, const s_node *n, const char *path, int depth,
                            const char *dollar, struct s_buf *b, const char **next)
{
    char o[MQG_SVC_ORIGIN_MAX];
    const char *end = strchr(dollar + 2, '}');
    size_t nlen = end ? (size_t)(end - dollar - 2) : 0;
    if (!end || nlen == 0 || nlen > MQG_SVC_NAME_MAX) {
        return mqg_svc_fail(c, n, path,
                            "malformed substitution '%.40s' in !sub; expected ${NAME} with the "
                            "name of a parameter, definition or built-in",
                            dollar);
    }
    char name[MQG_SVC_NAME_MAX + 1];
    memcpy(name, dollar + 2, nlen);
    name[nlen] = '\0';
    if (++c->substitutions > S_SUBST_MAX) {
        return mqg_svc_fail(c, c->top->at, path,
                            "more than %d substitutions (${...} in !sub) in this file, nested "
                            "ones counted each time they are expanded%s; expected at most %d",
                            S_SUBST_MAX, mqg_svc_origin(c->top, o, sizeof(o)), S_SUBST_MAX);
    }
    struct mqg_svc_val sv = {.at = n};
    int rc = s_resolve_name(c, name, n, path, depth + 1, &sv);
    if (rc == 0 && !sv.text) {
        rc = mqg_svc_fail(c, n, path, "${%s} in !sub is a %s; expected a scalar value", name,
                          mqg_yaml_kind_name(sv.node));
    }
    rc = rc < 0 ? rc : s_expand_check(c, b, strlen(sv.text), path);
    if (rc == 0) {
        rc = s_buf_add(b, sv.text, strlen(sv.text));
    }
    mqg_svc_val_clear(&sv);
    *next = end + 1;
    return rc;
}

/* !sub 'text ${NAME} text' -> heap string in *out. */
static int s_substitute(struct mqg_svc_ctx *c, const s_node *n, const char *path, int depth,
                        char **out)
{
    size_t len;
    const char *s = mqg_yaml_scalar(n, &len);
    if (!s || strlen(s) != len) {
        return mqg_svc_fail(c, n, path,
                            "!sub needs text, e.g. !sub '${Cybus::MqttRoot}/data'; got a %s",
                            s ? "binary scalar" : mqg_yaml_kind_name(n));
    }
    struct s_buf b = {0};
    int rc = s_buf_add(&b, "", 0);
    while (rc == 0 && *s) {
        const char *dollar = strstr(s, "${");
        size_t lit = dollar ? (size_t)(dollar - s) : strlen(s);
        rc = s_expand_check(c, &b, lit, path);
        rc = rc < 0 ? rc : s_buf_add(&b, s, lit);
        if (rc < 0 || !dollar) {
            break;
        }
        rc = s_substitute_one(c, n, path, depth, dollar, &b, &s);
    }
    if (rc == -ENOMEM) {
        rc = mqg_svc_oom(c);
    }
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}

static int s_resolve_node(struct mqg_svc_ctx *c, const s_node *n, const char *path, int depth,
                          struct mqg_svc_val *v)
{
    if (depth > S_DEPTH_MAX) {
        return mqg_svc_fail(c, v->at, path,
                            "references nested deeper than %d levels; expected no reference cycle",
                            S_DEPTH_MAX);
    }
    const char *tag = mqg_yaml_local_tag(n);
    if (!tag) {
        v->node = n;
        v->text = mqg_yaml_scalar(n, &v->len);
        v->quoted = v->text && !mqg_yaml_plain(n);
        return 0;
    }
    if (strcmp(tag, "!ref") == 0) {
        const char *name;
        int rc = mqg_svc_tag_name(c, n, "!ref", path, &name);
        return rc < 0 ? rc : s_resolve_name(c, name, n, path, depth, v);
    }
    if (strcmp(tag, "!sub") == 0) {
        char *text = NULL;
        int rc = s_substitute(c, n, path, depth, &text);
        if (rc < 0) {
            return rc;
        }
        free(v->owned);
        v->owned = text;
        v->text = text;
        v->len = strlen(text);
        v->quoted = true;
        v->node = NULL;
        return 0;
    }
    if (strcmp(tag, "!merge") == 0) {
        return mqg_svc_fail(c, n, path, "!merge is not supported; write the merged mapping out");
    }
    return mqg_svc_fail(c, n, path, "unknown tag '%s'; expected !ref or !sub", tag);
}

/* Resolve n into a fresh v (clear it with mqg_svc_val_clear). */
int mqg_svc_resolve(struct mqg_svc_ctx *c, const s_node *n, const char *path, struct mqg_svc_val *v)
{
    memset(v, 0, sizeof(*v));
    v->at = n;
    c->top = v;
    int rc = s_resolve_node(c, n, path, 0, v);
    c->top = NULL;
    if (rc < 0) {
        mqg_svc_val_clear(v);
    }
    return rc;
}

bool mqg_svc_val_null(const struct mqg_svc_val *v)
{
    return v->node && mqg_yaml_is_null(v->node);
}
