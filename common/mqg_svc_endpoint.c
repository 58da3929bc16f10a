/* mqg_svc_endpoint — Cybus::Endpoint: subscribe or write on a connection, and its data topic.
 *
 * Used by the loader (see mqg_svc_endpoint.h). The endpoint's own route is added here; mappings
 * refer to the endpoint later through its model index.
 */
#include "mqg_svc_endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_svc_rules.h"
#include "mqg_svc_setting.h"
#include "mqg_topic.h"

typedef struct mqg_yaml_node s_node;

/* The endpoint's route: broker filter -> data topic (subscribe), or <data topic>/set -> broker
 * topic with the endpoint's qos and retain (write). Once the route exists it takes over *rules
 * (n of them; *rules becomes NULL); before that they stay the caller's. */
static int s_endpoint_route(struct mqg_svc_ctx *c, const struct mqg_endpoint *ep,
                            struct mqg_rule **rules, size_t n)
{
    size_t idx;
    int rc = mqg_svc_add_route(c, 1, &idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_route *rt = &c->m->routes[idx];
    rt->rules = *rules;
    rt->n_rules = n;
    *rules = NULL;
    struct mqg_source *s = &rt->sources[0];
    rc = mqg_svc_aprintf(c, &rt->name, "endpoint %s", ep->id);
    if (ep->kind == MQG_EP_SUBSCRIBE) {
        s->conn = ep->conn;
        s->qos = ep->qos;
        rc = rc < 0 ? rc : mqg_svc_dup(c, ep->topic, &s->filter);
        rt->target.conn = MQG_INTERNAL;
        rt->target.qos = ep->qos;
        rt->target.retain = false;
        rc = rc < 0 ? rc : mqg_svc_dup(c, ep->data_topic, &rt->target.topic);
    } else {
        s->conn = MQG_INTERNAL;
        s->qos = ep->qos;
        rc = rc < 0 ? rc : mqg_svc_aprintf(c, &s->filter, "%s/set", ep->data_topic);
        rt->target.conn = ep->conn;
        rt->target.qos = ep->qos;
        rt->target.retain = ep->retain;
        rc = rc < 0 ? rc : mqg_svc_dup(c, ep->topic, &rt->target.topic);
    }
    return rc;
}

/* subscribe: {topic, qos} or write: {topic, qos, retain} of an endpoint. */
static int s_endpoint_op(struct mqg_svc_ctx *c, const s_node *props, const char *base, bool write,
                         struct mqg_endpoint *ep)
{
    static const char *const skeys[] = {"topic", "qos", NULL};
    static const char *const wkeys[] = {"topic", "qos", "retain", NULL};
    const char *key = write ? "write" : "subscribe";
    char obase[MQG_SVC_PATH_MAX];
    char path[MQG_SVC_PATH_MAX];
    const s_node *op;
    const s_node *okey;
    mqg_yaml_map_get(c->doc, props, key, &okey);
    mqg_svc_path(obase, base, key);
    int rc = mqg_svc_opt_map(c, props, base, key, &op);
    if (rc < 0) {
        return rc;
    }
    if (!op) {
        return mqg_svc_fail(c, okey, obase, "%s is empty; expected %s: {topic: ...}", key, key);
    }
    rc = mqg_svc_check_keys(c, op, obase, write ? wkeys : skeys);
    rc = rc < 0 ? rc : mqg_svc_opt_string(c, op, obase, "topic", &ep->topic);
    mqg_svc_path(path, obase, "topic");
    if (rc == 0) {
        return mqg_svc_fail(c, okey, path, "%s.topic is missing; expected the topic %s", key,
                            write ? "to publish to" : "to subscribe to");
    }
    if (rc > 0 && write) {
        rc = mqg_svc_check_publish_topic(c, mqg_yaml_map_get(c->doc, op, "topic", NULL), path,
                                         ep->topic, 0, ep->topic, "topic to write to", "");
        rc = rc < 0 ? rc : 1;
    }
    if (rc > 0 && !write && !mqg_topic_valid_filter(ep->topic)) {
        return mqg_svc_fail(
            c, mqg_yaml_map_get(c->doc, op, "topic", NULL), path,
            "'%s' is not a valid topic filter; expected levels separated by '/', with "
            "'+' or '#' only as a whole level and '#' only last",
            ep->topic);
    }
    rc = rc < 0 ? rc : mqg_svc_opt_int(c, op, obase, "qos", 0, 2, &ep->qos);
    if (write) {
        rc = rc < 0 ? rc : mqg_svc_opt_bool(c, op, obase, "retain", &ep->retain);
    }
    return rc < 0 ? rc : 0;
}

/* connection: required, a Cybus::Connection of this file. */
static int s_endpoint_conn(struct mqg_svc_ctx *c, const struct mqg_svc_res *r, const char *base,
                           struct mqg_svc_res **conn)
{
    char path[MQG_SVC_PATH_MAX];
    int rc = mqg_svc_resref_kind(c, r->props, base, "connection", MQG_SVC_R_CONN, conn);
    if (rc < 0) {
        return rc;
    }
    if (!*conn) {
        mqg_svc_path(path, base, "connection");
        return mqg_svc_fail(c, r->key, path,
                            "connection is missing; expected connection: !ref "
                            "<Cybus::Connection id>");
    }
    return 0;
}

/* Exactly one of subscribe and write (both: the error points at the later one). */
static int s_endpoint_kind(struct mqg_svc_ctx *c, const struct mqg_svc_res *r, const char *base,
                           bool *write)
{
    char path[MQG_SVC_PATH_MAX];
    const s_node *sk;
    const s_node *wk;
    mqg_yaml_map_get(c->doc, r->props, "subscribe", &sk);
    mqg_yaml_map_get(c->doc, r->props, "write", &wk);
    if (sk && wk) {
        bool sub_later =
            mqg_yaml_line(sk) > mqg_yaml_line(wk) ||
            (mqg_yaml_line(sk) == mqg_yaml_line(wk) && mqg_yaml_col(sk) > mqg_yaml_col(wk));
        mqg_svc_path(path, base, sub_later ? "subscribe" : "write");
        return mqg_svc_fail(
            c, sub_later ? sk : wk, path,
            "endpoint '%s' has both subscribe and write; expected exactly one of them", r->id);
    }
    if (!sk && !wk) {
        return mqg_svc_fail(c, r->key, base,
                            "endpoint '%s' has neither subscribe nor write; expected exactly one "
                            "of them",
                            r->id);
    }
    *write = wk != NULL;
    return 0;
}

/* A new endpoint in the model on connection conn; r->index gets its index. */
static int s_endpoint_new(struct mqg_svc_ctx *c, struct mqg_svc_res *r,
                          const struct mqg_svc_res *conn, bool write, struct mqg_endpoint **out)
{
    size_t idx;
    int rc = mqg_svc_append(c, (void **)&c->m->endpoints, &c->m->n_endpoints,
                            sizeof(*c->m->endpoints), &idx);
    if (rc < 0) {
        return rc;
    }
    r->index = (int)idx;
    struct mqg_endpoint *ep = &c->m->endpoints[idx];
    ep->conn = conn->index;
    ep->kind = write ? MQG_EP_WRITE : MQG_EP_SUBSCRIBE;
    *out = ep;
    if (mqg_svc_dup(c, c->sid, &ep->service_id) < 0 || mqg_svc_dup(c, r->id, &ep->id) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* The data topic: <Cybus::MqttRoot>/<topic property or endpoint id>, a topic to publish to. */
static int s_endpoint_data_topic(struct mqg_svc_ctx *c, const struct mqg_svc_res *r,
                                 const char *base, struct mqg_endpoint *ep)
{
    char path[MQG_SVC_PATH_MAX];
    char *topic = NULL;
    int rc = mqg_svc_opt_string(c, r->props, base, "topic", &topic);
    if (rc >= 0) {
        rc = mqg_svc_aprintf(c, &ep->data_topic, "%s/%s", c->root, topic ? topic : r->id);
    }
    mqg_svc_path(path, base, "topic");
    const s_node *tn = mqg_yaml_map_get(c->doc, r->props, "topic", NULL);
    if (rc >= 0 && topic && !topic[0]) {
        rc = mqg_svc_fail(c, tn, path, "'' is not a valid data topic; expected a topic name");
    } else if (rc >= 0) {
        rc = mqg_svc_check_publish_topic(c, tn, path, ep->data_topic, strlen(c->root) + 1,
                                         topic ? topic : r->id, "data topic", "");
    }
    free(topic);
    return rc;
}

int mqg_svc_build_endpoint(struct mqg_svc_ctx *c, struct mqg_svc_res *r)
{
    static const char *const keys[] = {"protocol", "connection", "topic",       "subscribe",
                                       "write",    "rules",      "targetState", NULL};
    char base[MQG_SVC_PATH_MAX];
    struct mqg_svc_res *conn = NULL;
    struct mqg_endpoint *ep = NULL;
    bool write = false;
    snprintf(base, sizeof(base), "resources.%s.properties", r->id);
    struct mqg_rule *rules = NULL;
    size_t n_rules = 0;
    int rc = mqg_svc_check_keys(c, r->props, base, keys);
    rc = rc < 0 ? rc : s_endpoint_conn(c, r, base, &conn);
    rc = rc < 0 ? rc : s_endpoint_kind(c, r, base, &write);
    rc = rc < 0 ? rc : s_endpoint_new(c, r, conn, write, &ep);
    rc = rc < 0 ? rc : s_endpoint_op(c, r->props, base, write, ep);
    rc = rc < 0 ? rc : s_endpoint_data_topic(c, r, base, ep);
    bool enabled = true;
    rc = rc < 0 ? rc : mqg_svc_opt_enabled(c, r->props, base, "an endpoint", &enabled);
    /* checked also when disabled, like everything else; kept only with the route */
    rc = rc < 0 ? rc : mqg_svc_rules(c, r->props, base, &rules, &n_rules);
    if (rc < 0) {
        return rc;
    }
    ep->disabled = !enabled; /* mappings may still refer to it; it has no route of its own */
    rc = enabled ? s_endpoint_route(c, ep, &rules, n_rules) : 0;
    mqg_model_rules_free(rules, n_rules); /* disabled, or the route was not made */
    return rc;
}
