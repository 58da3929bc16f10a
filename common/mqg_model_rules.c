/* mqg_model_rules — the model's side of rules (see mqg_model.h): each route with rules named
 * by a stable rid, and the rules process's connection. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_model.h"
#include "mqg_proc.h"

static uint64_t s_mix(uint64_t h, const char *s)
{
    h = mqg_fnv1a64(s ? "s" : "n", 1, h);
    h = mqg_fnv1a64(s ? s : "", s ? strlen(s) + 1 : 0, h);
    return h;
}

static uint64_t s_mix_int(uint64_t h, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return s_mix(h, buf);
}

static const char *s_conn_key(const struct mqg_model *m, int conn)
{
    return conn >= 0 && (size_t)conn < m->n_conns ? m->conns[conn].key : "(internal)";
}

/* Everything that decides what the route does with a message: its owner, sources, target and
 * rules. Two routes with the same rid are interchangeable (a reload keeps the rid of a route
 * that did not change). */
static uint64_t s_route_hash(const struct mqg_model *m, const struct mqg_route *rt)
{
    uint64_t h = s_mix(MQG_FNV64_INIT, rt->service_id);
    h = s_mix(h, rt->name);
    for (size_t j = 0; j < rt->n_sources; j++) {
        const struct mqg_source *s = &rt->sources[j];
        h = s_mix(s_mix(s_mix(h, s_conn_key(m, s->conn)), s->filter), s->label);
        h = s_mix_int(h, s->qos);
    }
    h = s_mix(s_mix(h, s_conn_key(m, rt->target.conn)), rt->target.topic);
    h = s_mix_int(s_mix_int(h, rt->target.qos), rt->target.retain);
    for (size_t j = 0; j < rt->n_rules; j++) {
        const struct mqg_rule *u = &rt->rules[j];
        h = s_mix(s_mix_int(h, u->kind), u->text);
        for (size_t k = 0; k < u->n_vars; k++) {
            h = s_mix(s_mix(h, u->vars[k].name), u->vars[k].expr);
        }
        char db[40];
        snprintf(db, sizeof(db), "%.17g", u->deadband);
        h = s_mix(s_mix_int(h, u->cov_mode), db);
        h = s_mix_int(s_mix_int(h, u->max_size), u->interval_ms);
    }
    return h;
}

static int s_dup(char **dst, const char *s)
{
    *dst = strdup(s);
    return *dst ? 0 : -ENOMEM;
}

static int s_add_conn(struct mqg_model *m, int time_limit_ms)
{
    struct mqg_connection *conns = realloc(m->conns, (m->n_conns + 1) * sizeof(*conns));
    if (!conns) {
        return -ENOMEM;
    }
    m->conns = conns;
    struct mqg_connection *c = &conns[m->n_conns];
    memset(c, 0, sizeof(*c));
    m->n_conns++; /* freed with the model from here on */
    c->port = 0;
    c->clean = true;
    c->keepalive_s = 60;
    c->connect_timeout_ms = 30000;
    c->reconnect_period_ms = 1000;
    c->protocol_version = 4;
    c->target_connected = true;
    c->buffer_window_ms = 10000;
    c->max_buffered = 20000;
    c->rules_engine = true;
    c->rules_time_limit_ms = time_limit_ms;
    if (s_dup(&c->service_id, MQG_RULES_SERVICE) || s_dup(&c->id, MQG_RULES_ID) ||
        s_dup(&c->key, MQG_RULES_KEY) || s_dup(&c->host, "localhost") ||
        s_dup(&c->uri, "rules://" MQG_RULES_ID) ||
        s_dup(&c->client_id, MQG_RULES_SERVICE "-" MQG_RULES_ID)) {
        return -ENOMEM;
    }
    return 0;
}

int mqg_model_rules_engine(struct mqg_model *m, int time_limit_ms)
{
    bool any = false;
    for (size_t i = 0; i < m->n_routes; i++) {
        struct mqg_route *rt = &m->routes[i];
        if (!rt->n_rules) {
            continue;
        }
        any = true;
        free(rt->rid);
        rt->rid = malloc(17);
        if (!rt->rid) {
            return -ENOMEM;
        }
        snprintf(rt->rid, 17, "%016" PRIx64, s_route_hash(m, rt));
    }
    int k = mqg_model_rules_conn(m);
    if (!any || k != MQG_NO_CONN) {
        if (k != MQG_NO_CONN) {
            m->conns[k].rules_time_limit_ms = time_limit_ms;
        }
        return 0;
    }
    return s_add_conn(m, time_limit_ms);
}

int mqg_model_rules_conn(const struct mqg_model *m)
{
    for (size_t i = 0; m && i < m->n_conns; i++) {
        if (m->conns[i].rules_engine) {
            return (int)i;
        }
    }
    return MQG_NO_CONN;
}
