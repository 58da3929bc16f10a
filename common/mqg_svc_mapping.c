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

#include "mqg_svc_rules.h"
#include "mqg_svc_setting.h"
#include "mqg_topic.h"

typedef struct mqg_yaml_node s_node;

/* Exactly one of endpoint and topic in S or P (map); *ek and *tk get their keys. Neither:
 * the error points at `at`. */
static int s_endpoint_or_topic(struct mqg_svc_ctx *c, const s_node *map, const s_node *at,
                               const char *base, const s_node **ek, const s_node **tk)
{
    mqg_yaml_map_get(c->doc, map, "endpoint", ek);
    mqg_yaml_map_get(c->doc, map, "topic", tk);
    if ((*ek != NULL) == (*tk != NULL)) {
        return mqg_svc_fail(
            c, *ek ? *tk : at, base, "%s; expected exactly one of endpoint and topic",
            *ek ? "both endpoint and topic are given" : "neither endpoint nor topic is given");
    }
    return 0;
}

/* An endpoint in S or P (map) has no connection. */
static int s_no_connection(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                           const struct mqg_svc_res *conn)
{
    char path[MQG_SVC_PATH_MAX];
    if (!conn) {
        return 0;
    }
    mqg_svc_path(path, base, "connection");
    return mqg_svc_fail(c, mqg_yaml_map_get(c->doc, map, "connection", NULL), path,
                        "connection goes with topic, not with endpoint; expected either "
                        "{endpoint} or {topic, connection}");
}

/* An endpoint of a protocol mqgate skips (S or P at `at`): the entry, or this subscribe of
 * it, is left out, with a notice. Returns 2 (what the callers pass on), or a negative errno. */
static int s_skipped_endpoint(struct mqg_svc_ctx *c, const s_node *at, const char *base,
                              const struct mqg_svc_res *ep, const char *what)
{
    char path[MQG_SVC_PATH_MAX];
    char key[MQG_SVC_PATH_MAX + 16];
    mqg_svc_path(path, base, "endpoint");
    snprintf(key, sizeof(key), "skipped/%s", path);
    int rc = mqg_svc_notice(c, at, path, key, "'%s' is a %s, which mqgate skips: %s", ep->id,
                            ep->skipped_as, what);
    return rc < 0 ? rc : 2;
}

/* S = {endpoint: !ref E}: listens on E's data topic. 2: E is skipped. */
static int s_source_endpoint(struct mqg_svc_ctx *c, const s_node *sm, const char *sbase,
                             const s_node *ek, const struct mqg_svc_res *conn,
                             struct mqg_source *src)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_res *ep;
    int rc = mqg_svc_resref_endpoint(c, sm, sbase, "endpoint", &ep);
    if (rc < 0) {
        return rc;
    }
    if (rc == 2) {
        return s_skipped_endpoint(c, ek, sbase, ep,
                                  "this subscribe is left out (the entry too, without another)");
    }
    if (!ep) {
        mqg_svc_path(path, sbase, "endpoint");
        return mqg_svc_fail(c, ek, path,
                            "endpoint is empty; expected endpoint: !ref <endpoint id>");
    }
    rc = s_no_connection(c, sm, sbase, conn);
    return rc < 0 ? rc : mqg_svc_dup(c, c->m->endpoints[ep->index].data_topic, &src->filter);
}

/* S = {topic: F, connection?}: filter F, named wildcards parsed into *pat. */
static int s_source_topic(struct mqg_svc_ctx *c, const s_node *sm, const char *sbase,
                          const s_node *tk, const struct mqg_svc_res *conn, struct mqg_source *src,
                          struct mqg_pattern **pat)
{
    char path[MQG_SVC_PATH_MAX];
    if (conn) {
        src->conn = conn->index;
    }
    int rc = mqg_svc_opt_string(c, sm, sbase, "topic", &src->filter);
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

/* One subscribe entry S of a mapping into route source *src (pattern into *pat). 2: it reads
 * from an endpoint mqgate skips (src->filter stays NULL). */
static int s_mapping_source(struct mqg_svc_ctx *c, const s_node *s, const char *sbase,
                            struct mqg_source *src, struct mqg_pattern **pat)
{
    static const char *const keys[] = {"endpoint", "topic", "qos", "connection", "label", NULL};
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
    const s_node *ek;
    const s_node *tk;
    struct mqg_svc_res *conn = NULL;
    rc = mqg_svc_check_keys(c, sm, sbase, keys);
    rc = rc < 0 ? rc : s_endpoint_or_topic(c, sm, s, sbase, &ek, &tk);
    if (rc < 0) {
        return rc;
    }
    src->conn = MQG_INTERNAL;
    rc = mqg_svc_opt_int(c, sm, sbase, "qos", 0, 2, &src->qos);
    /* the key of this entry's value in the collect rule's output: kept as written */
    rc = rc < 0 ? rc : mqg_svc_opt_string(c, sm, sbase, "label", &src->label);
    rc = rc < 0 ? rc : mqg_svc_resref_kind(c, sm, sbase, "connection", MQG_SVC_R_CONN, &conn);
    if (rc < 0) {
        return rc;
    }
    return ek ? s_source_endpoint(c, sm, sbase, ek, conn, src)
              : s_source_topic(c, sm, sbase, tk, conn, src, pat);
}

/* P = {endpoint: !ref W}: W's <data topic>/set, with W's qos and retain. 2: W is skipped. */
static int s_target_endpoint(struct mqg_svc_ctx *c, const s_node *p, const char *pbase,
                             const s_node *ek, const struct mqg_svc_res *conn, struct mqg_target *t)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_res *er;
    int rc = mqg_svc_resref_endpoint(c, p, pbase, "endpoint", &er);
    if (rc < 0) {
        return rc;
    }
    if (rc == 2) {
        return s_skipped_endpoint(c, ek, pbase, er, "the mapping entry is left out");
    }
    mqg_svc_path(path, pbase, "endpoint");
    if (!er) {
        return mqg_svc_fail(c, ek, path,
                            "endpoint is empty; expected endpoint: !ref <write endpoint id>");
    }
    const struct mqg_endpoint *ep = &c->m->endpoints[er->index];
    if (ep->kind != MQG_EP_WRITE) {
        return mqg_svc_fail(c, mqg_yaml_map_get(c->doc, p, "endpoint", NULL), path,
                            "'%s' is a subscribe endpoint; expected a write endpoint to publish "
                            "to",
                            er->id);
    }
    rc = s_no_connection(c, p, pbase, conn);
    if (rc < 0) {
        return rc;
    }
    t->qos = ep->qos;
    t->retain = ep->retain;
    return mqg_svc_aprintf(c, &t->topic, "%s/set", ep->data_topic);
}

/* P = {topic: T, connection?}: T, a template checked against every subscribe pattern and the
 * variables the route's setContextVars rules set. */
static int s_target_topic(struct mqg_svc_ctx *c, const s_node *p, const char *pbase,
                          const s_node *tk, const struct mqg_svc_res *conn,
                          struct mqg_pattern *const *pats, struct mqg_route *rt)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_target *t = &rt->target;
    if (conn) {
        t->conn = conn->index;
    }
    int rc = mqg_svc_opt_string(c, p, pbase, "topic", &t->topic);
    mqg_svc_path(path, pbase, "topic");
    if (rc == 0) {
        return mqg_svc_fail(c, tk, path, "topic is empty; expected a topic to publish to");
    }
    const s_node *tn = mqg_yaml_map_get(c->doc, p, "topic", NULL);
    /* references ({name}, $name) are names, so what the strict rule finds in a template is in
     * its literal text; what they are replaced by is checked at run time */
    if (rc > 0) {
        rc = mqg_svc_check_publish_topic(c, tn, path, t->topic, 0, t->topic, "topic to publish to",
                                         " ({name} placeholders allowed)");
    }
    for (size_t i = 0; rc >= 0 && i < rt->n_sources; i++) {
        const char *why = NULL;
        if (mqg_pattern_check_template_vars(pats[i], t->topic, mqg_rules_sets_var, rt, &why) < 0) {
            rc = mqg_svc_fail(c, tn, path,
                              "'%s' does not fit subscribe[%zu]: %s; expected only "
                              "placeholders named by +name/#name wildcards of every subscribe "
                              "or set by a setContextVars rule of the entry",
                              t->topic, i, why ? why : "unknown placeholder");
        }
    }
    return rc;
}

/* The publish entry P of a mapping into rt's target, checked against the patterns of rt's
 * sources and the variables its rules set. 2: it writes to an endpoint mqgate skips. */
static int s_mapping_target(struct mqg_svc_ctx *c, const s_node *p, const char *pbase,
                            struct mqg_pattern *const *pats, struct mqg_route *rt)
{
    struct mqg_target *t = &rt->target;
    static const char *const keys[] = {"endpoint", "topic", "qos", "retain", "connection", NULL};
    const s_node *ek;
    const s_node *tk;
    struct mqg_svc_res *conn = NULL;
    int rc = mqg_svc_check_keys(c, p, pbase, keys);
    rc = rc < 0 ? rc : s_endpoint_or_topic(c, p, p, pbase, &ek, &tk);
    rc = rc < 0 ? rc : mqg_svc_resref_kind(c, p, pbase, "connection", MQG_SVC_R_CONN, &conn);
    if (rc < 0) {
        return rc;
    }
    t->conn = MQG_INTERNAL;
    rc = ek ? s_target_endpoint(c, p, pbase, ek, conn, t)
            : s_target_topic(c, p, pbase, tk, conn, pats, rt);
    if (rc == 2) {
        return 2;
    }
    rc = rc < 0 ? rc : mqg_svc_opt_int(c, p, pbase, "qos", 0, 2, &t->qos);
    rc = rc < 0 ? rc : mqg_svc_opt_bool(c, p, pbase, "retain", &t->retain);
    return rc < 0 ? rc : 0;
}

/* Entry e resolved into *em: a mapping with only its keys. */
static int s_entry_map(struct mqg_svc_ctx *c, const s_node *e, const char *ebase, const s_node **em)
{
    static const char *const keys[] = {"subscribe", "publish", "rules", NULL};
    struct mqg_svc_val v;
    int rc = mqg_svc_resolve(c, e, ebase, &v);
    *em = v.node;
    mqg_svc_val_clear(&v);
    if (rc < 0) {
        return rc;
    }
    if (mqg_yaml_kind(*em) != MQG_YAML_MAPPING) {
        return mqg_svc_fail(c, e, ebase, "expected a mapping {subscribe: ..., publish: ...}");
    }
    return mqg_svc_check_keys(c, *em, ebase, keys);
}

/* The subscribe part of entry em (e as written): *sub (one S or a list of *n, *list). */
static int s_entry_subscribe(struct mqg_svc_ctx *c, const s_node *e, const s_node *em,
                             const char *ebase, const s_node **sub, size_t *n, bool *list)
{
    char path[MQG_SVC_PATH_MAX];
    const s_node *sk;
    struct mqg_svc_val v;
    mqg_yaml_map_get(c->doc, em, "subscribe", &sk);
    int rc = mqg_svc_get(c, em, ebase, "subscribe", path, &v);
    *sub = v.node;
    mqg_svc_val_clear(&v);
    if (rc <= 0) {
        return rc < 0 ? rc
                      : mqg_svc_fail(c, sk ? sk : e, path,
                                     "subscribe is missing; expected "
                                     "{endpoint: !ref <ep>} or {topic: <filter>} or a list");
    }
    *list = mqg_yaml_kind(*sub) == MQG_YAML_SEQUENCE;
    *n = *list ? mqg_yaml_seq_size(*sub) : 1;
    if (*n == 0) {
        return mqg_svc_fail(c, *sub, path,
                            "subscribe is an empty list; expected at least one entry");
    }
    return 0;
}

/* Leave out the sources of rt that read from skipped endpoints (no filter), with their
 * patterns. Returns how many are left. */
static size_t s_drop_skipped(struct mqg_route *rt, struct mqg_pattern **pats)
{
    size_t k = 0;
    for (size_t i = 0; i < rt->n_sources; i++) {
        if (rt->sources[i].filter) {
            rt->sources[k] = rt->sources[i];
            pats[k++] = pats[i];
        } else {
            free(rt->sources[i].label);
        }
    }
    for (size_t i = k; i < rt->n_sources; i++) {
        pats[i] = NULL;
    }
    rt->n_sources = k;
    return k;
}

/* The sources of route rt from the n subscribe entries (patterns into pats), then its target
 * from publish (pub). 2: it reads only from, or writes to, endpoints mqgate skips. */
static int s_entry_route(struct mqg_svc_ctx *c, const s_node *em, const char *ebase,
                         const s_node *sub, bool list, const s_node *pub, struct mqg_route *rt,
                         struct mqg_pattern **pats)
{
    char path[MQG_SVC_PATH_MAX];
    char sbase[MQG_SVC_PATH_MAX];
    int rc = 0;
    mqg_svc_path(path, ebase, "subscribe");
    for (size_t i = 0; rc >= 0 && i < rt->n_sources; i++) {
        if (list) {
            mqg_svc_path_idx(sbase, path, i);
        } else {
            snprintf(sbase, sizeof(sbase), "%s", path);
        }
        const s_node *s = list ? mqg_yaml_seq_at(c->doc, sub, i)
                               : mqg_yaml_map_get(c->doc, em, "subscribe", NULL);
        rc = s_mapping_source(c, s, sbase, &rt->sources[i], &pats[i]);
    }
    if (rc < 0) {
        return rc;
    }
    bool none = s_drop_skipped(rt, pats) == 0;
    mqg_svc_path(path, ebase, "publish");
    rc = s_mapping_target(c, pub, path, pats, rt);
    return rc < 0 ? rc : (none || rc == 2) ? 2 : 0;
}

/* One entry {subscribe, publish} of a mapping -> one route. */
static int s_mapping_entry(struct mqg_svc_ctx *c, const struct mqg_svc_res *r, const s_node *e,
                           const char *ebase, size_t index)
{
    char path[MQG_SVC_PATH_MAX];
    const s_node *em;
    const s_node *sub;
    const s_node *pub;
    size_t n;
    bool list;
    int rc = s_entry_map(c, e, ebase, &em);
    rc = rc < 0 ? rc : s_entry_subscribe(c, e, em, ebase, &sub, &n, &list);
    rc = rc < 0 ? rc : mqg_svc_opt_map(c, em, ebase, "publish", &pub);
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
    /* before the target: its topic may use the variables setContextVars sets */
    rc = rc < 0 ? rc
                : mqg_svc_rules(c, em, ebase, &c->m->routes[idx].rules, &c->m->routes[idx].n_rules);
    rc = rc < 0 ? rc : s_entry_route(c, em, ebase, sub, list, pub, &c->m->routes[idx], pats);
    for (size_t i = 0; i < n; i++) {
        mqg_pattern_destroy(&pats[i]);
    }
    free(pats);
    if (rc == 2) { /* only skipped endpoints: no route (the notices say which) */
        mqg_rules_clear(&c->m->routes[idx]);
        mqg_model_drop_routes(c->m, idx);
    }
    return rc < 0 ? rc : 0;
}

/* The mapping's own properties besides its entries: targetState (*enabled), and what is
 * accepted and ignored. */
static int s_mapping_props(struct mqg_svc_ctx *c, const struct mqg_svc_res *r, const char *base,
                           bool *enabled)
{
    int rc = mqg_svc_opt_enabled(c, r->props, base, "a mapping", enabled);
    rc = rc < 0 ? rc
                : mqg_svc_opt_ignored(c, r->props, base, "agentName", false,
                                      "everything runs in this gateway");
    rc = rc < 0 ? rc
                : mqg_svc_opt_ignored(c, r->props, base, "inputBuffering", true,
                                      "mqgate's routes take every message in order, through "
                                      "bounded queues");
    return rc;
}

int mqg_svc_build_mapping(struct mqg_svc_ctx *c, struct mqg_svc_res *r)
{
    static const char *const keys[] = {"mappings", "targetState", "agentName", "inputBuffering",
                                       NULL};
    char base[MQG_SVC_PATH_MAX];
    char path[MQG_SVC_PATH_MAX];
    bool enabled = true;
    size_t first = c->m->n_routes;
    snprintf(base, sizeof(base), "resources.%s.properties", r->id);
    int rc = mqg_svc_check_keys(c, r->props, base, keys);
    rc = rc < 0 ? rc : s_mapping_props(c, r, base, &enabled);
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
    if (!enabled) { /* checked like any other, then left out */
        char key[MQG_SVC_NAME_MAX + 16];
        snprintf(key, sizeof(key), "targetState/%s", r->id);
        mqg_svc_path(path, base, "targetState");
        for (size_t i = first; i < c->m->n_routes; i++) {
            mqg_rules_clear(&c->m->routes[i]);
        }
        mqg_model_drop_routes(c->m, first);
        return mqg_svc_notice(c, mqg_yaml_map_get(c->doc, r->props, "targetState", NULL), path, key,
                              "mapping '%s' has targetState disabled: no routes (%zu entries "
                              "checked)",
                              r->id, n);
    }
    return 0;
}
