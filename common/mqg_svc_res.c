/* mqg_svc_res — the first pass over a file's resources, and references between resources.
 *
 * Used by the loader (see mqg_svc_res.h). Only `type` and `properties` are read here (and
 * `properties.protocol` of connections and endpoints); the builders read the rest.
 */
#include "mqg_svc_res.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqg_svc_param.h"
#include "mqg_svc_setting.h"

#define S_RES_ID_MAX 128 /* resource id, bytes */

typedef struct mqg_yaml_node s_node;

struct mqg_svc_res *mqg_svc_find_res(const struct mqg_svc_ctx *c, const char *id)
{
    for (size_t i = 0; i < c->n_res; i++) {
        if (strcmp(c->res[i].id, id) == 0) {
            return &c->res[i];
        }
    }
    return NULL;
}

/* Resource ids as the platform defines them: [a-zA-Z0-9][a-zA-Z0-9_.]* ('-' is the separator
 * of service id and resource id in derived names such as the client id). */
static bool s_valid_res_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > S_RES_ID_MAX || !isalnum((unsigned char)s[0])) {
        return false;
    }
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.') {
            return false;
        }
    }
    return true;
}

static int s_skip(struct mqg_svc_ctx *c, struct mqg_svc_res *r, const char *type,
                  const char *protocol)
{
    int rc = protocol ? mqg_svc_aprintf(c, &r->skipped_as, "%s (protocol %s)", type, protocol)
                      : mqg_svc_dup(c, type, &r->skipped_as);
    if (rc < 0) {
        return rc;
    }
    r->kind = MQG_SVC_R_SKIPPED;
    size_t idx;
    rc = mqg_svc_append(c, (void **)&c->m->skipped, &c->m->n_skipped, sizeof(*c->m->skipped), &idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_skipped *s = &c->m->skipped[idx];
    if (mqg_svc_dup(c, c->sid, &s->service_id) < 0 || mqg_svc_dup(c, r->id, &s->id) < 0 ||
        mqg_svc_dup(c, r->skipped_as, &s->type) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* properties.protocol of a connection or an endpoint: other than Mqtt, r is skipped. */
static int s_collect_protocol(struct mqg_svc_ctx *c, struct mqg_svc_res *r, const s_node *body,
                              const char *base, const char *type)
{
    char path[MQG_SVC_PATH_MAX];
    char pbase[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    mqg_svc_path(pbase, base, "properties");
    int rc = mqg_svc_get(c, r->props, pbase, "protocol", path, &v);
    if (rc == 0) {
        const s_node *pk;
        mqg_yaml_map_get(c->doc, body, "properties", &pk);
        return mqg_svc_fail(c, pk, pbase, "protocol is missing; expected protocol: Mqtt");
    }
    rc = rc < 0 ? rc : mqg_svc_val_text(c, &v, path, "a protocol name such as Mqtt");
    if (rc == 0 && strcasecmp(v.text, "mqtt") != 0) {
        rc = s_skip(c, r, type, v.text);
        r->props = NULL;
    }
    mqg_svc_val_clear(&v);
    return rc;
}

/* Type and protocol of one resource; skipped kinds are recorded in the model. */
static int s_collect_res(struct mqg_svc_ctx *c, struct mqg_svc_res *r, const s_node *body)
{
    static const char *const keys[] = {"type", "properties", NULL};
    char base[MQG_SVC_PATH_MAX];
    char path[MQG_SVC_PATH_MAX];
    mqg_svc_path(base, "resources", r->id);
    if (mqg_yaml_kind(body) != MQG_YAML_MAPPING || mqg_yaml_local_tag(body)) {
        return mqg_svc_fail(c, body, base, "expected a mapping with type and properties");
    }
    int rc = mqg_svc_check_keys(c, body, base, keys);
    if (rc < 0) {
        return rc;
    }
    mqg_svc_path(path, base, "type");
    const s_node *tn = mqg_yaml_map_get(c->doc, body, "type", NULL);
    const char *type = mqg_yaml_scalar(tn, NULL);
    if (!tn || mqg_yaml_is_null(tn)) {
        return mqg_svc_fail(c, r->key, path, "type is missing; expected e.g. Cybus::Connection");
    }
    if (!type || mqg_yaml_local_tag(tn)) {
        return mqg_svc_fail(c, tn, path,
                            "expected a literal resource type such as Cybus::Endpoint");
    }
    if (strcmp(type, "Cybus::Connection") == 0) {
        r->kind = MQG_SVC_R_CONN;
    } else if (strcmp(type, "Cybus::Endpoint") == 0) {
        r->kind = MQG_SVC_R_EP;
    } else if (strcmp(type, "Cybus::Mapping") == 0) {
        r->kind = MQG_SVC_R_MAP;
    } else {
        return s_skip(c, r, type, NULL);
    }
    rc = mqg_svc_opt_map(c, body, base, "properties", &r->props);
    if (rc < 0) {
        return rc;
    }
    mqg_svc_path(path, base, "properties");
    if (!r->props) {
        return mqg_svc_fail(c, r->key, path,
                            "properties is missing; expected the properties of the %s", type);
    }
    return r->kind == MQG_SVC_R_MAP ? 0 : s_collect_protocol(c, r, body, base, type);
}

int mqg_svc_collect(struct mqg_svc_ctx *c, const s_node *root)
{
    const s_node *rkey;
    const s_node *rs = mqg_yaml_map_get(c->doc, root, "resources", &rkey);
    if (!rs) {
        return mqg_svc_fail(c, root, "resources",
                            "resources is missing; expected a mapping of "
                            "resources (ID: {type, properties})");
    }
    if (mqg_yaml_kind(rs) != MQG_YAML_MAPPING || mqg_yaml_local_tag(rs)) {
        return mqg_svc_fail(c, mqg_yaml_is_null(rs) ? rkey : rs, "resources",
                            "expected a mapping of resources (ID: {type, properties})");
    }
    size_t n = mqg_yaml_map_size(rs);
    c->res = calloc(n ? n : 1, sizeof(*c->res));
    if (!c->res) {
        return mqg_svc_oom(c);
    }
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        const s_node *body;
        mqg_yaml_map_at(c->doc, rs, i, &k, &body);
        const char *id = mqg_yaml_scalar(k, NULL);
        if (!id || !s_valid_res_id(id)) {
            return mqg_svc_fail(c, k, "resources",
                                "invalid resource id '%s'; expected 1..%d letters, digits, '_' and "
                                "'.', starting with a letter or digit",
                                id ? id : "", S_RES_ID_MAX);
        }
        if (mqg_svc_find_param(c, id) || mqg_svc_find_def(c, id)) {
            char path[MQG_SVC_PATH_MAX];
            mqg_svc_path(path, "resources", id);
            return mqg_svc_fail(
                c, k, path,
                "resource id '%s' is also the name of a %s; expected distinct names "
                "(!ref would be ambiguous)",
                id, mqg_svc_find_param(c, id) ? "parameter" : "definition");
        }
        struct mqg_svc_res *r = &c->res[c->n_res++];
        r->id = id;
        r->key = k;
        r->index = -1;
        int rc = s_collect_res(c, r, body);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* A resource reference (`connection: !ref conn`): *out gets the resource, NULL if absent. A
 * plain id, or a parameter/definition holding an id, is accepted too. */
static int s_opt_resref(struct mqg_svc_ctx *c, const s_node *map, const char *parent,
                        const char *key, struct mqg_svc_res **out)
{
    char path[MQG_SVC_PATH_MAX];
    *out = NULL;
    mqg_svc_path(path, parent, key);
    const s_node *n = mqg_yaml_map_get(c->doc, map, key, NULL);
    if (!n || mqg_yaml_is_null(n)) {
        return 0;
    }
    const char *tag = mqg_yaml_local_tag(n);
    const char *name = NULL;
    if (tag && strcmp(tag, "!ref") == 0) {
        int rc = mqg_svc_tag_name(c, n, "!ref", path, &name);
        if (rc < 0) {
            return rc;
        }
        if (strstr(name, "::") && strncmp(name, "Cybus::", 7) != 0) {
            return mqg_svc_fail(c, n, path,
                                "'%s' is a reference to another service, which mqgate does not "
                                "support; expected a resource of this file",
                                name);
        }
        *out = mqg_svc_find_res(c, name);
        if (*out) {
            return 1;
        }
        if (!mqg_svc_find_param(c, name) && !mqg_svc_find_def(c, name) &&
            strncmp(name, "Cybus::", 7) != 0) {
            return mqg_svc_fail(c, n, path,
                                "unknown resource '%s'; expected the id of a resource of this file",
                                name);
        }
    }
    struct mqg_svc_val v;
    int rc = mqg_svc_resolve(c, n, path, &v);
    if (rc < 0) {
        return rc;
    }
    rc = mqg_svc_val_text(c, &v, path, "a reference to a resource (!ref <resource id>)");
    if (rc == 0) {
        *out = mqg_svc_find_res(c, v.text);
        if (!*out) {
            rc = mqg_svc_fail(c, n, path,
                              "unknown resource '%s'; expected the id of a resource of this "
                              "file",
                              v.text);
        }
    }
    mqg_svc_val_clear(&v);
    return rc < 0 ? rc : 1;
}

static const char *s_kind_name(const struct mqg_svc_res *r)
{
    switch (r->kind) {
    case MQG_SVC_R_CONN:
        return "Cybus::Connection";
    case MQG_SVC_R_EP:
        return "Cybus::Endpoint";
    case MQG_SVC_R_MAP:
        return "Cybus::Mapping";
    default:
        return r->skipped_as;
    }
}

/* A required/optional reference to a resource of kind `want`; a skipped one is 2 when
 * skipped_ok, else an error. */
static int s_resref(struct mqg_svc_ctx *c, const s_node *map, const char *parent, const char *key,
                    enum mqg_svc_rkind want, bool skipped_ok, struct mqg_svc_res **out)
{
    char path[MQG_SVC_PATH_MAX];
    int rc = s_opt_resref(c, map, parent, key, out);
    if (rc <= 0) {
        return rc;
    }
    if ((*out)->kind == MQG_SVC_R_SKIPPED && skipped_ok) {
        return 2;
    }
    const char *want_name = want == MQG_SVC_R_CONN ? "Cybus::Connection" : "Cybus::Endpoint";
    const s_node *at = mqg_yaml_map_get(c->doc, map, key, NULL);
    mqg_svc_path(path, parent, key);
    if ((*out)->kind == MQG_SVC_R_SKIPPED) {
        return mqg_svc_fail(c, at, path,
                            "'%s' is a %s, which mqgate skips; expected a %s with protocol Mqtt",
                            (*out)->id, (*out)->skipped_as, want_name);
    }
    if ((*out)->kind != want) {
        return mqg_svc_fail(c, at, path, "'%s' is a %s; expected a %s", (*out)->id,
                            s_kind_name(*out), want_name);
    }
    return 1;
}

int mqg_svc_resref_kind(struct mqg_svc_ctx *c, const s_node *map, const char *parent,
                        const char *key, enum mqg_svc_rkind want, struct mqg_svc_res **out)
{
    return s_resref(c, map, parent, key, want, false, out);
}

int mqg_svc_resref_endpoint(struct mqg_svc_ctx *c, const s_node *map, const char *parent,
                            const char *key, struct mqg_svc_res **out)
{
    return s_resref(c, map, parent, key, MQG_SVC_R_EP, true, out);
}
