/* chain_build — the chain's set made and freed: every route's rules compiled (transform as
 * written, filter as `$boolean(<expr>) ? $`, cov's key through $lookup), their state made (see
 * chain.h). */
#include "chain.h"
#include "chain_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_cmp_route(const void *a, const void *b)
{
    return strcmp(((const struct c_route *)a)->r->rid, ((const struct c_route *)b)->r->rid);
}

static int s_fail(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(char *err, size_t cap, int rc, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Compile one expression of route r (rule at where). */
static int s_compile(struct chain_set *s, const struct mqg_route *r, const char *where,
                     const char *expr, struct jsexpr **x, char *err, size_t cap)
{
    struct jsengine_error je;
    int rc = jsengine_compile(s->e, expr, x, &je);
    if (rc == -EINVAL) {
        return s_fail(err, cap, rc, "%s: %s: JSONata %s at line %d column %d: %s",
                      where ? where : "?", r ? r->name : "-", je.code, je.line, je.column,
                      je.message);
    }
    return rc;
}

static int s_build_rule(struct chain_set *s, struct c_route *rt, struct c_rule *cr, char *err,
                        size_t cap)
{
    const struct mqg_rule *r = cr->r;
    const struct mqg_route *route = rt->r;
    char *wrapped = NULL;
    int rc = 0;
    switch (r->kind) {
    case MQG_RULE_TRANSFORM:
        return s_compile(s, route, r->where, r->text, &cr->x, err, cap);
    case MQG_RULE_FILTER:
        if (asprintf(&wrapped, "$boolean(%s\n) ? $", r->text) < 0) {
            return -ENOMEM;
        }
        rc = s_compile(s, route, r->where, wrapped, &cr->x, err, cap);
        free(wrapped);
        return rc;
    case MQG_RULE_PARSE:
        if (!r->text || mqg_parse_format(r->text, &cr->fmt) != 0) {
            return s_fail(err, cap, -EINVAL, "%s: %s: unknown parse format '%s'", r->where,
                          route->name, r->text ? r->text : "");
        }
        return 0;
    case MQG_RULE_SET_CONTEXT_VARS:
        if (r->n_vars && !(cr->vx = calloc(r->n_vars, sizeof(*cr->vx)))) {
            return -ENOMEM;
        }
        for (size_t k = 0; k < r->n_vars && rc == 0; k++) {
            rc = s_compile(s, route, r->vars[k].where ? r->vars[k].where : r->where,
                           r->vars[k].expr, &cr->vx[k], err, cap);
        }
        return rc;
    case MQG_RULE_COV:
        if (!(wrapped = chain_json_quote(r->text ? r->text : "", r->text ? strlen(r->text) : 0)) ||
            asprintf(&cr->bindings, "{\"k\":%s}", wrapped) < 0) {
            cr->bindings = NULL;
            free(wrapped);
            return -ENOMEM;
        }
        free(wrapped);
        if ((rc = mqg_cov_new((enum mqg_cov_mode)r->cov_mode, r->deadband, &cr->cov)) != 0) {
            return s_fail(err, cap, rc, "%s: %s: cov: bad deadband", r->where, route->name);
        }
        return s_compile(s, route, r->where, "$lookup($, $k)", &cr->x, err, cap);
    case MQG_RULE_BURST:
        return mqg_burst_new(r->max_size, r->interval_ms, &cr->burst);
    case MQG_RULE_COLLECT:
        return mqg_collect_new(0, &cr->collect);
    case MQG_RULE_STASH:
        return rt->stash ? 0 : mqg_stash_new(0, &rt->stash);
    }
    return s_fail(err, cap, -EINVAL, "%s: %s: unknown rule kind %d", r->where, route->name,
                  (int)r->kind);
}

static int s_build_route(struct chain_set *s, struct c_route *rt, char *err, size_t cap)
{
    const struct mqg_route *r = rt->r;
    mqg_ratelog_init(&rt->rl[CR_NOT_JSON], CHAIN_REPORT_MS);
    mqg_ratelog_init(&rt->rl[CR_TIMEOUT], CHAIN_REPORT_MS);
    mqg_ratelog_init(&rt->rl[CR_ERROR], CHAIN_REPORT_MS);
    rt->src = calloc(r->n_sources ? r->n_sources : 1, sizeof(*rt->src));
    rt->rules = calloc(r->n_rules, sizeof(*rt->rules));
    if (!rt->src || !rt->rules) {
        return -ENOMEM;
    }
    for (size_t j = 0; j < r->n_sources; j++) {
        const char *why = NULL;
        int rc = mqg_pattern_new(r->sources[j].filter, &rt->src[j].p, &why);
        if (rc == 0) {
            rc = chain_wildcard_names(r->sources[j].filter, &rt->src[j].names, &rt->src[j].n_names);
        }
        if (rc) {
            return s_fail(err, cap, rc, "%s: source '%s': %s", r->name, r->sources[j].filter,
                          why ? why : strerror(-rc));
        }
    }
    for (size_t k = 0; k < r->n_rules; k++) {
        rt->rules[k].r = &r->rules[k];
        rt->rules[k].b_src = -1;
        int rc = s_build_rule(s, rt, &rt->rules[k], err, cap);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* The burst rules, once the routes are in their places. 0 or -ENOMEM. */
static int s_list_bursts(struct chain_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; k < s->routes[i].r->n_rules; k++) {
            if (!s->routes[i].rules[k].burst) {
                continue;
            }
            struct c_burst_at *nb = realloc(s->bursts, (s->n_bursts + 1) * sizeof(*nb));
            if (!nb) {
                return -ENOMEM;
            }
            s->bursts = nb;
            s->bursts[s->n_bursts++] = (struct c_burst_at){.route = i, .rule = k};
        }
    }
    return 0;
}

int chain_set_new(const struct mqg_model *m, struct jsengine *e, struct chain_set **out, char *err,
                  size_t errcap)
{
    *out = NULL;
    struct chain_set *s = calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    s->e = e;
    mqg_ratelog_init(&s->rl_unknown, CHAIN_REPORT_MS);
    size_t n = 0;
    for (size_t i = 0; i < m->n_routes; i++) {
        n += m->routes[i].n_rules > 0 && m->routes[i].rid;
    }
    s->routes = calloc(n ? n : 1, sizeof(*s->routes));
    s->tbuf = malloc(CHAIN_TOPIC_CAP);
    int rc = s->routes && s->tbuf ? 0 : -ENOMEM;
    for (size_t i = 0; i < m->n_routes && rc == 0; i++) {
        if (m->routes[i].n_rules > 0 && m->routes[i].rid) {
            s->routes[s->n].r = &m->routes[i];
            rc = s_build_route(s, &s->routes[s->n++], err, errcap);
        }
    }
    if (rc == 0) {
        rc = s_compile(s, NULL, NULL, "$", &s->ident, err, errcap);
    }
    if (rc) {
        chain_set_destroy(&s);
        return rc;
    }
    qsort(s->routes, s->n, sizeof(*s->routes), s_cmp_route);
    if ((rc = s_list_bursts(s)) != 0) {
        chain_set_destroy(&s);
        return rc;
    }
    *out = s;
    return 0;
}

static void s_free_route(struct c_route *rt)
{
    for (size_t j = 0; rt->src && j < rt->r->n_sources; j++) {
        mqg_pattern_destroy(&rt->src[j].p);
        chain_names_free(rt->src[j].names, rt->src[j].n_names);
    }
    for (size_t k = 0; rt->rules && k < rt->r->n_rules; k++) {
        struct c_rule *cr = &rt->rules[k];
        jsexpr_destroy(&cr->x);
        for (size_t v = 0; cr->vx && v < cr->r->n_vars; v++) {
            jsexpr_destroy(&cr->vx[v]);
        }
        free(cr->vx);
        free(cr->bindings);
        mqg_cov_destroy(&cr->cov);
        mqg_burst_destroy(&cr->burst);
        mqg_collect_destroy(&cr->collect);
        free(cr->b_topic);
        cvars_free(&cr->b_vars);
        free(cr->held.v);
    }
    mqg_stash_destroy(&rt->stash);
    free(rt->src);
    free(rt->rules);
}

void chain_set_destroy(struct chain_set **ps)
{
    struct chain_set *s = ps ? *ps : NULL;
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        s_free_route(&s->routes[i]);
    }
    jsexpr_destroy(&s->ident);
    free(s->bursts);
    free(s->routes);
    free(s->tbuf);
    free(s);
    *ps = NULL;
}
