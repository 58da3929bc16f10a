/* mqg_model_plan — the new model on the running one's connection indices (see
 * mqg_model_plan.h). */
#include "mqg_model_plan.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_subs.h"

static bool s_str_same(const char *a, const char *b)
{
    return (a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0);
}

/* Whether a connector for a would be started just as one for b (everything it is given of
 * its connection). */
static bool s_conn_same(const struct mqg_connection *a, const struct mqg_connection *b)
{
    bool strs = s_str_same(a->service_id, b->service_id) && s_str_same(a->id, b->id) &&
                s_str_same(a->key, b->key) && s_str_same(a->host, b->host) &&
                s_str_same(a->uri, b->uri) && s_str_same(a->username, b->username) &&
                s_str_same(a->password, b->password) && s_str_same(a->client_id, b->client_id) &&
                s_str_same(a->ca_cert, b->ca_cert) && s_str_same(a->client_cert, b->client_cert) &&
                s_str_same(a->client_key, b->client_key);
    bool ints =
        a->port == b->port && a->scheme == b->scheme && a->clean == b->clean &&
        a->keepalive_s == b->keepalive_s && a->connect_timeout_ms == b->connect_timeout_ms &&
        a->reconnect_period_ms == b->reconnect_period_ms &&
        a->reconnect_max_ms == b->reconnect_max_ms && a->reconnect_factor == b->reconnect_factor &&
        a->internal_broker == b->internal_broker && a->protocol_version == b->protocol_version &&
        a->target_connected == b->target_connected && a->trust_all == b->trust_all &&
        a->mutual_auth == b->mutual_auth && a->buffer_window_ms == b->buffer_window_ms &&
        a->max_buffered == b->max_buffered && a->rules_engine == b->rules_engine &&
        a->rules_time_limit_ms == b->rules_time_limit_ms;
    const struct mqg_will *wa = &a->will, *wb = &b->will;
    bool will =
        wa->set == wb->set &&
        (!wa->set || (s_str_same(wa->topic, wb->topic) && s_str_same(wa->payload, wb->payload) &&
                      wa->qos == wb->qos && wa->retain == wb->retain));
    return strs && ints && will;
}

static int s_sub_cmp(const void *pa, const void *pb)
{
    const struct mqg_sub *a = pa, *b = pb;
    int c = strcmp(a->filter, b->filter);
    return c ? c : a->qos - b->qos;
}

/* Whether connection i subscribes to the same filters in both models: 1, 0, or -errno. */
static int s_subs_same(const struct mqg_model *a, const struct mqg_model *b, int i)
{
    struct mqg_sub *sa = NULL, *sb = NULL;
    size_t na = 0, nb = 0;
    int rc = mqg_subs_for_conn(a, i, &sa, &na);
    if (rc == 0) {
        rc = mqg_subs_for_conn(b, i, &sb, &nb);
    }
    if (rc == 0) {
        rc = na == nb;
        qsort(sa, na, sizeof(*sa), s_sub_cmp);
        qsort(sb, nb, sizeof(*sb), s_sub_cmp);
        for (size_t k = 0; rc == 1 && k < na; k++) {
            rc = s_sub_cmp(&sa[k], &sb[k]) == 0;
        }
    }
    mqg_subs_free(sa, na);
    mqg_subs_free(sb, nb);
    return rc;
}

/* The laid-out index of each of next's connections (map[j]) and the new count. */
static int s_layout(const struct mqg_model *cur, const struct mqg_model *next, int *map,
                    size_t *n_out)
{
    size_t n = cur->n_conns;
    for (size_t j = 0; j < next->n_conns; j++) {
        int i = mqg_model_find_conn(cur, next->conns[j].key);
        map[j] = i >= 0 ? i : (int)n++;
    }
    *n_out = n;
    return 0;
}

/* Move next's connections to their indices; copies of cur's (decoded without secrets) fill
 * the places of those that are gone. */
static int s_move_conns(const struct mqg_model *cur, struct mqg_model *next, const int *map,
                        size_t n, bool *gone)
{
    struct mqg_connection *conns = calloc(n ? n : 1, sizeof(*conns));
    if (!conns) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        gone[i] = i < cur->n_conns;
    }
    for (size_t j = 0; j < next->n_conns; j++) {
        conns[map[j]] = next->conns[j];
        gone[map[j]] = false;
    }
    struct mqg_model copy;
    uint8_t *blob = NULL;
    size_t len = 0;
    int rc = mqg_model_encode_for(cur, -1, &blob, &len);
    if (rc == 0) {
        rc = mqg_model_decode(blob, len, &copy);
    }
    free(blob);
    if (rc != 0) {
        free(conns);
        return rc;
    }
    for (size_t i = 0; i < cur->n_conns; i++) {
        if (gone[i]) {
            conns[i] = copy.conns[i];
            conns[i].target_connected = false;
            memset(&copy.conns[i], 0, sizeof(copy.conns[i]));
        }
    }
    mqg_model_free(&copy);
    free(next->conns);
    next->conns = conns;
    next->n_conns = n;
    return 0;
}

/* Endpoints and routes follow their connections' new indices. */
static void s_renumber(struct mqg_model *next, const int *map)
{
    for (size_t e = 0; e < next->n_endpoints; e++) {
        next->endpoints[e].conn = map[next->endpoints[e].conn];
    }
    for (size_t r = 0; r < next->n_routes; r++) {
        struct mqg_route *rt = &next->routes[r];
        for (size_t s = 0; s < rt->n_sources; s++) {
            if (rt->sources[s].conn != MQG_INTERNAL) {
                rt->sources[s].conn = map[rt->sources[s].conn];
            }
        }
        if (rt->target.conn != MQG_INTERNAL) {
            rt->target.conn = map[rt->target.conn];
        }
    }
}

static int s_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The rids of m's routes with rules, sorted (*n of them; NULL when none or out of memory). */
static const char **s_rids(const struct mqg_model *m, size_t *n)
{
    const char **v = calloc(m->n_routes ? m->n_routes : 1, sizeof(*v));
    *n = 0;
    for (size_t r = 0; v && r < m->n_routes; r++) {
        if (m->routes[r].n_rules && m->routes[r].rid) {
            v[(*n)++] = m->routes[r].rid;
        }
    }
    if (v) {
        qsort(v, *n, sizeof(*v), s_str_cmp);
    }
    return v;
}

/* The rules process runs the rules of every route that has them: it is kept only when they
 * are all the same (a rid names a route and its rules). 1, 0, or -ENOMEM. */
static int s_rules_same(const struct mqg_model *a, const struct mqg_model *b)
{
    size_t na, nb;
    const char **ra = s_rids(a, &na), **rb = s_rids(b, &nb);
    int rc = !ra || !rb ? -ENOMEM : na == nb;
    for (size_t k = 0; rc == 1 && k < na; k++) {
        rc = strcmp(ra[k], rb[k]) == 0;
    }
    free(ra);
    free(rb);
    return rc;
}

/* What becomes of connection i's process. 0 or -errno. */
static int s_action(const struct mqg_model *cur, const struct mqg_model *next, size_t i,
                    enum mqg_plan_action *a)
{
    bool before = i < cur->n_conns && cur->conns[i].target_connected;
    bool after = next->conns[i].target_connected;
    if (!before || !after) {
        *a = before ? MQG_PLAN_STOP : after ? MQG_PLAN_START : MQG_PLAN_NONE;
        return 0;
    }
    int same = s_conn_same(&cur->conns[i], &next->conns[i]);
    if (same) {
        same = s_subs_same(cur, next, (int)i);
    }
    if (same == 1 && next->conns[i].rules_engine) {
        same = s_rules_same(cur, next);
    }
    *a = same == 1 ? MQG_PLAN_KEEP : MQG_PLAN_RESTART;
    return same < 0 ? same : 0;
}

/* Whether the two models differ in anything the router is given (no secrets). */
static int s_differ(const struct mqg_model *a, const struct mqg_model *b, bool *differ)
{
    uint8_t *ea = NULL, *eb = NULL;
    size_t la = 0, lb = 0;
    int rc = mqg_model_encode_for(a, -1, &ea, &la);
    if (rc == 0) {
        rc = mqg_model_encode_for(b, -1, &eb, &lb);
    }
    *differ = rc != 0 || la != lb || memcmp(ea, eb, la) != 0;
    free(ea);
    free(eb);
    return rc;
}

static int s_plan(const struct mqg_model *cur, struct mqg_model *next, struct mqg_model_plan *p)
{
    size_t n = 0;
    int *map = calloc(next->n_conns ? next->n_conns : 1, sizeof(*map));
    if (!map || s_layout(cur, next, map, &n) != 0) {
        free(map);
        return -ENOMEM;
    }
    bool *gone = calloc(n ? n : 1, sizeof(*gone));
    p->conn = calloc(n ? n : 1, sizeof(*p->conn));
    int rc = gone && p->conn ? s_move_conns(cur, next, map, n, gone) : -ENOMEM;
    if (rc == 0) {
        s_renumber(next, map);
        p->n_conns = n;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = s_action(cur, next, i, &p->conn[i]);
        p->n_kept += p->conn[i] == MQG_PLAN_KEEP;
        p->n_restarted += p->conn[i] == MQG_PLAN_RESTART;
        p->n_started += p->conn[i] == MQG_PLAN_START;
        p->n_stopped += p->conn[i] == MQG_PLAN_STOP;
    }
    if (rc == 0) {
        rc = s_differ(cur, next, &p->router);
    }
    free(gone);
    free(map);
    return rc;
}

int mqg_model_plan(const struct mqg_model *cur, struct mqg_model *next, struct mqg_model_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    int rc = s_plan(cur, next, plan);
    if (rc != 0) {
        mqg_model_plan_free(plan);
    }
    return rc;
}

void mqg_model_plan_free(struct mqg_model_plan *plan)
{
    free(plan->conn);
    memset(plan, 0, sizeof(*plan));
}

const char *mqg_model_plan_name(enum mqg_plan_action a)
{
    static const char *const names[] = {"none", "keep", "restart", "start", "stop"};
    return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}
