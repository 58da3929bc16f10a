/* mqg_svc_mapping — Cybus::Mapping: routes from subscriptions to a publish target.
 *
 * Used by the loader (see mqg_svc_mapping.h). Each entry's subscribe filters are parsed as
 * patterns (named wildcards) so that the publish topic's {name} placeholders can be checked
 * against every one of them before the route is kept.
 */
#include "mqg_svc_mapping.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_svc_setting.h"
#include "mqg_topic.h"

typedef struct mqg_yaml_node s_node;

/* One subscribe entry S of a mapping into route source *src (pattern into *pat). */
static int s_mapping_source(struct mqg_svc_ctx *c, const s_node *s, const char *sbase,
                            struct mqg_source *src, struct mqg_pattern **pat)
{
    static const char *const keys[] = {"endpoint", "topic", "qos", "connection", NULL};
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_resolve(c, s, sbase, &v);
    if (rc < 0) {
        return rc;
    }
    const s_node *sm = v.node;
    mqg_svc_val_clear(&v);
    if (mqg_yaml_kind(sm) != MQG_YAML_MAPPING) {
        return mqg_svc_fail(c, s, sbase,
                            "expected {endpoint: !ref <endpoint>} or {topic: <filter>}, "
                            "got a %s",
                            sm ? mqg_yaml_kind_name(sm) : "scalar");
    }
    rc = mqg_svc_check_keys(c, sm, sbase, keys);
    if (rc < 0) {
        return rc;
    }
    const s_node *ek;
    const s_node *tk;
    mqg_yaml_map_get(c->doc, sm, "endpoint", &ek);
    mqg_yaml_map_get(c->doc, sm, "topic", &tk);
    if ((ek != NULL) == (tk != NULL)) {
        return mqg_svc_fail(c, ek ? tk : s, sbase, "%s; expected exactly one of endpoint and topic",
                            ek ? "both endpoint and topic are given"
                               : "neither endpoint nor topic is "
                                 "given");
    }
    src->conn = MQG_INTERNAL;
    rc = mqg_svc_opt_int(c, sm, sbase, "qos", 0, 2, &src->qos);
    if (rc < 0) {
        return rc;
    }
    struct mqg_svc_res *conn;
    rc = mqg_svc_resref_kind(c, sm, sbase, "connection", MQG_SVC_R_CONN, &conn);
    if (rc < 0) {
        return rc;
    }
    if (ek) {
        struct mqg_svc_res *ep;
        rc = mqg_svc_resref_kind(c, sm, sbase, "endpoint", MQG_SVC_R_EP, &ep);
        if (rc < 0) {
            return rc;
        }
        if (!ep) {
            mqg_svc_path(path, sbase, "endpoint");
            return mqg_svc_fail(c, ek, path,
                                "endpoint is empty; expected endpoint: !ref <endpoint id>");
        }
        if (conn) {
            mqg_svc_path(path, sbase, "connection");
            return mqg_svc_fail(c, mqg_yaml_map_get(c->doc, sm, "connection", NULL), path,
                                "connection goes with topic, not with endpoint; expected either "
                                "{endpoint} or {topic, connection}");
        }
        return mqg_svc_dup(c, c->m->endpoints[ep->index].data_topic, &src->filter);
    }
    if (conn) {
        src->conn = conn->index;
    }
    rc = mqg_svc_opt_string(c, sm, sbase, "topic", &src->filter);
    mqg_svc_path(path, sbase, "topic");
    if (rc == 0) {
        return mqg_svc_fail(c, tk, path, "topic is empty; expected a topic filter");
    }
    if (rc < 0) {
        return rc;
    }
    const char *why = NULL;
    if (mqg_pattern_new(src->filter, pat, &why) < 0) {
        return mqg_svc_fail(
            c, mqg_yaml_map_get(c->doc, sm, "topic", NULL), path,
            "'%s' is not a valid topic filter: %s; expected levels separated by '/', "
            "wildcards +, #, +name, #name as whole levels",
            src->filter, why ? why : "malformed");
    }
    return 0;
}

/* The publish entry P of a mapping into route target *t, checked against the patterns. */
static int s_mapping_target(struct mqg_svc_ctx *c, const s_node *p, const char *pbase,
                            struct mqg_pattern *const *pats, size_t n_pats, struct mqg_target *t)
{
    static const char *const keys[] = {"endpoint", "topic", "qos", "retain", "connection", NULL};
    char path[MQG_SVC_PATH_MAX];
    const s_node *ek;
    const s_node *tk;
    int rc = mqg_svc_check_keys(c, p, pbase, keys);
    if (rc < 0) {
        return rc;
    }
    mqg_yaml_map_get(c->doc, p, "endpoint", &ek);
    mqg_yaml_map_get(c->doc, p, "topic", &tk);
    if ((ek != NULL) == (tk != NULL)) {
        return mqg_svc_fail(c, ek ? tk : p, pbase, "%s; expected exactly one of endpoint and topic",
                            ek ? "both endpoint and topic are given"
                               : "neither endpoint nor topic is "
                                 "given");
    }
    struct mqg_svc_res *conn;
    rc = mqg_svc_resref_kind(c, p, pbase, "connection", MQG_SVC_R_CONN, &conn);
    if (rc < 0) {
        return rc;
    }
    t->conn = MQG_INTERNAL;
    if (ek) {
        struct mqg_svc_res *er;
        rc = mqg_svc_resref_kind(c, p, pbase, "endpoint", MQG_SVC_R_EP, &er);
        if (rc < 0) {
            return rc;
        }
        mqg_svc_path(path, pbase, "endpoint");
        if (!er) {
            return mqg_svc_fail(c, ek, path,
                                "endpoint is empty; expected endpoint: !ref <write endpoint id>");
        }
        const struct mqg_endpoint *ep = &c->m->endpoints[er->index];
        if (ep->kind != MQG_EP_WRITE) {
            return mqg_svc_fail(
                c, mqg_yaml_map_get(c->doc, p, "endpoint", NULL), path,
                "'%s' is a subscribe endpoint; expected a write endpoint to publish "
                "to",
                er->id);
        }
        if (conn) {
            mqg_svc_path(path, pbase, "connection");
            return mqg_svc_fail(c, mqg_yaml_map_get(c->doc, p, "connection", NULL), path,
                                "connection goes with topic, not with endpoint; expected either "
                                "{endpoint} or {topic, connection}");
        }
        t->qos = ep->qos;
        t->retain = ep->retain;
        rc = mqg_svc_aprintf(c, &t->topic, "%s/set", ep->data_topic);
    } else {
        if (conn) {
            t->conn = conn->index;
        }
        rc = mqg_svc_opt_string(c, p, pbase, "topic", &t->topic);
        mqg_svc_path(path, pbase, "topic");
        if (rc == 0) {
            return mqg_svc_fail(c, tk, path, "topic is empty; expected a topic to publish to");
        }
        const s_node *tn = mqg_yaml_map_get(c->doc, p, "topic", NULL);
        /* references ({name}, $name) are names, so what the strict rule finds in a template
         * is in its literal text; what they are replaced by is checked at run time */
        if (rc > 0) {
            rc = mqg_svc_check_publish_topic(c, tn, path, t->topic, 0, t->topic,
                                             "topic to publish to",
                                             " ({name} placeholders allowed)");
            rc = rc < 0 ? rc : 1;
        }
        for (size_t i = 0; rc >= 0 && i < n_pats; i++) {
            const char *why = NULL;
            if (mqg_pattern_check_template(pats[i], t->topic, &why) < 0) {
                rc = mqg_svc_fail(c, tn, path,
                                  "'%s' does not fit subscribe[%zu]: %s; expected only "
                                  "placeholders named by +name/#name wildcards of every subscribe",
                                  t->topic, i, why ? why : "unknown placeholder");
            }
        }
    }
    rc = rc < 0 ? rc : mqg_svc_opt_int(c, p, pbase, "qos", 0, 2, &t->qos);
    rc = rc < 0 ? rc : mqg_svc_opt_bool(c, p, pbase, "retain", &t->retain);
    return rc < 0 ? rc : 0;
}

/* One entry {subscribe, publish} of a mapping -> one route. */
static int s_mapping_entry(struct mqg_svc_ctx *c, const struct mqg_svc_res *r, const s_node *e,
                           const char *ebase, size_t index)
{
    static const char *const keys[] = {"subscribe", "publish", "rules", NULL};
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_resolve(c, e, ebase, &v);
    const s_node *em = v.node;
    mqg_svc_val_clear(&v);
    if (rc < 0) {
        return rc;
    }
    if (mqg_yaml_kind(em) != MQG_YAML_MAPPING) {
        return mqg_svc_fail(c, e, ebase, "expected a mapping {subscribe: ..., publish: ...}");
    }
    rc = mqg_svc_check_keys(c, em, ebase, keys);
    if (rc < 0) {
        return rc;
    }
    const s_node *k;
    if (mqg_yaml_map_get(c->doc, em, "rules", &k), k) {
        mqg_svc_path(path, ebase, "rules");
        return mqg_svc_fail(c, k, path,
                            "rules are not supported yet (mapping '%s'); expected a "
                            "mapping entry without rules",
                            r->id);
    }
    const s_node *sub;
    const s_node *sk;
    const s_node *pub;
    mqg_yaml_map_get(c->doc, em, "subscribe", &sk);
    mqg_svc_path(path, ebase, "subscribe");
    rc = mqg_svc_get(c, em, ebase, "subscribe", path, &v);
    sub = v.node;
    mqg_svc_val_clear(&v);
    if (rc <= 0) {
        return rc < 0 ? rc
                      : mqg_svc_fail(c, sk ? sk : e, path,
                                     "subscribe is missing; expected "
                                     "{endpoint: !ref <ep>} or {topic: <filter>} or a list");
    }
    bool list = mqg_yaml_kind(sub) == MQG_YAML_SEQUENCE;
    size_t n = list ? mqg_yaml_seq_size(sub) : 1;
    if (n == 0) {
        return mqg_svc_fail(c, sub, path,
                            "subscribe is an empty list; expected at least one entry");
    }
    rc = mqg_svc_opt_map(c, em, ebase, "publish", &pub);
    if (rc <= 0) {
        mqg_svc_path(path, ebase, "publish");
        return rc < 0 ? rc
                      : mqg_svc_fail(c, e, path,
                                     "publish is missing; expected {endpoint: !ref "
                                     "<write endpoint>} or {topic: <topic>}");
    }
    struct mqg_pattern **pats = calloc(n, sizeof(*pats));
    size_t idx;
    if (!pats) {
        return mqg_svc_oom(c);
    }
    rc = mqg_svc_add_route(c, n, &idx);
    rc = rc < 0 ? rc : mqg_svc_aprintf(c, &c->m->routes[idx].name, "mapping %s[%zu]", r->id, index);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        char sbase[MQG_SVC_PATH_MAX];
        if (list) {
            mqg_svc_path_idx(sbase, path, i);
        } else {
            snprintf(sbase, sizeof(sbase), "%s", path);
        }
        const s_node *s = list ? mqg_yaml_seq_at(c->doc, sub, i)
                               : mqg_yaml_map_get(c->doc, em, "subscribe", NULL);
        rc = s_mapping_source(c, s, sbase, &c->m->routes[idx].sources[i], &pats[i]);
    }
    if (rc >= 0) {
        mqg_svc_path(path, ebase, "publish");
        rc = s_mapping_target(c, pub, path, pats, n, &c->m->routes[idx].target);
    }
    for (size_t i = 0; i < n; i++) {
        mqg_pattern_destroy(&pats[i]);
    }
    free(pats);
    return rc < 0 ? rc : 0;
}

int mqg_svc_build_mapping(struct mqg_svc_ctx *c, struct mqg_svc_res *r)
{
    static const char *const keys[] = {"mappings", NULL};
    char base[MQG_SVC_PATH_MAX];
    char path[MQG_SVC_PATH_MAX];
    snprintf(base, sizeof(base), "resources.%s.properties", r->id);
    int rc = mqg_svc_check_keys(c, r->props, base, keys);
    if (rc < 0) {
        return rc;
    }
    struct mqg_svc_val v;
    rc = mqg_svc_get(c, r->props, base, "mappings", path, &v);
    const s_node *list = v.node;
    const s_node *at = v.at;
    mqg_svc_val_clear(&v);
    if (rc <= 0) {
        return rc < 0 ? rc
                      : mqg_svc_fail(c, r->key, path,
                                     "mappings is missing; expected a list of "
                                     "{subscribe, publish}");
    }
    if (mqg_yaml_kind(list) != MQG_YAML_SEQUENCE || mqg_yaml_seq_size(list) == 0) {
        return mqg_svc_fail(c, at, path, "expected a non-empty list of {subscribe, publish}");
    }
    size_t n = mqg_yaml_seq_size(list);
    for (size_t i = 0; i < n; i++) {
        char ebase[MQG_SVC_PATH_MAX];
        mqg_svc_path_idx(ebase, path, i);
        rc = s_mapping_entry(c, r, mqg_yaml_seq_at(c->doc, list, i), ebase, i);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}
