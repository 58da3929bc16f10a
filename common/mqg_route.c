/* mqg_route — the router's routing decisions (see mqg_route.h).
 *
 * Every route source is one entry in the trie of its namespace. A message is matched in the
 * trie of the namespace it came from; each route matched fires once (routes are stamped per
 * match, so overlapping sources of one route never duplicate), its target topic is rendered,
 * then it is handed out as a copy or matched again on the internal namespace, each level
 * with its own match list and topic buffer (bounded depth against loops).
 * With an internal broker (mqg_model_internal), every copy for the internal namespace is also
 * handed to its connection, and a message from it is matched as an internal one: so local
 * applications see every internal topic and publish into the internal namespace, while a
 * message that came from the broker is never sent back to it.
 */
#include "mqg_route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_topic.h"
#include "mqg_trie.h"

struct s_route {
    const struct mqg_route *def;
    uint64_t stamp;            /* last match that fired this route */
    struct mqg_route_stats st; /* next to the stamp: the same cache line is written anyway */
};

struct s_entry {
    struct s_route *route;
    struct mqg_pattern *pat;
    bool render; /* the target topic uses named wildcards of pat */
};

/* The routes one level of a dispatch fires. */
struct s_matchset {
    struct s_entry **e;
    size_t n, cap;
    uint64_t stamp;
    char *topic_buf; /* rendered target topics at this level */
};

struct mqg_route_table {
    size_t n_ns;             /* 1 + number of connections */
    size_t n_routes;         /* model->n_routes */
    struct mqg_trie **tries; /* [0] internal, [1 + i] connection i */
    struct s_route *routes;
    struct s_entry *entries;
    size_t n_entries;
    struct s_matchset ms[MQG_ROUTE_MAX_DEPTH];
    uint64_t stamp;
    char *in_topic; /* the message's topic, NUL-terminated */
    struct mqg_route_counters counters;
    int internal; /* the internal broker's connection (mqg_model_internal) or MQG_NO_CONN */
    int rules;    /* the rules process's connection (mqg_model_rules_conn) or MQG_NO_CONN */
    struct s_route **by_rid; /* the routes with rules, sorted by rid */
    size_t n_by_rid;
    const struct mqg_route_sink *sink; /* of the dispatch under way */
    int copies;                        /* delivered by the dispatch under way */
};

/* The arrays and buffers of a table for m; entries are added by s_add_route. */
static int s_alloc(struct mqg_route_table *t, const struct mqg_model *m)
{
    t->n_ns = m->n_conns + 1;
    t->n_routes = m->n_routes;
    t->tries = calloc(t->n_ns, sizeof(*t->tries));
    t->routes = calloc(m->n_routes ? m->n_routes : 1, sizeof(*t->routes));
    t->in_topic = malloc(MQG_TOPIC_MAX + 1);
    size_t n_src = 0;
    for (size_t i = 0; i < m->n_routes; i++) {
        n_src += m->routes[i].n_sources;
    }
    t->entries = calloc(n_src ? n_src : 1, sizeof(*t->entries));
    if (!t->tries || !t->routes || !t->entries || !t->in_topic) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < t->n_ns; i++) {
        if (!(t->tries[i] = mqg_trie_new())) {
            return -ENOMEM;
        }
    }
    for (int d = 0; d < MQG_ROUTE_MAX_DEPTH; d++) {
        if (!(t->ms[d].topic_buf = malloc(MQG_TOPIC_MAX + 1))) {
            return -ENOMEM;
        }
    }
    return 0;
}

/* The namespace of connection conn: 0 for MQG_INTERNAL (-1), 1 + conn for a connection; any
 * other conn gives n_ns or more (negative ones wrap around to large values). */
static size_t s_ns(int conn)
{
    return (size_t)conn + 1;
}

static int s_bad_conn(struct mqg_route_fault *fault, int conn)
{
    fault->bad_conn = true;
    fault->conn = conn;
    return -EINVAL;
}

/* Enter the sources of route i of m. Returns 0, -EINVAL with *fault, -ENOMEM. */
static int s_add_route(struct mqg_route_table *t, const struct mqg_model *m, size_t i,
                       struct mqg_route_fault *fault)
{
    const struct mqg_route *def = &m->routes[i];
    struct s_route *rr = &t->routes[i];
    rr->def = def;
    fault->route = i;
    bool placeholders = strchr(def->target.topic, '{') || strchr(def->target.topic, '$');
    for (size_t s = 0; s < def->n_sources; s++) {
        const struct mqg_source *src = &def->sources[s];
        struct s_entry *e = &t->entries[t->n_entries];
        const char *why = NULL;
        fault->source = s;
        if (mqg_pattern_new(mqg_topic_unshare(src->filter), &e->pat, &why) != 0) {
            fault->why = why ? why : "invalid";
            return -EINVAL;
        }
        t->n_entries++;
        e->route = rr;
        e->render = placeholders && mqg_pattern_has_names(e->pat);
        size_t ns = s_ns(src->conn);
        if (ns >= t->n_ns) {
            return s_bad_conn(fault, src->conn);
        }
        int rc = mqg_trie_add(t->tries[ns], mqg_pattern_filter(e->pat), e);
        if (rc != 0) {
            fault->why = rc == -EINVAL ? "not a valid filter" : NULL; /* not once it parsed */
            return rc;
        }
    }
    fault->source = def->n_sources;
    if (s_ns(def->target.conn) >= t->n_ns) {
        return s_bad_conn(fault, def->target.conn);
    }
    return 0;
}

static int s_rid_cmp(const void *a, const void *b)
{
    const struct s_route *x = *(const struct s_route *const *)a;
    const struct s_route *y = *(const struct s_route *const *)b;
    return strcmp(x->def->rid, y->def->rid);
}

/* The routes with rules by rid, for what comes back from the rules process. */
static int s_index_rids(struct mqg_route_table *t)
{
    t->by_rid = calloc(t->n_routes ? t->n_routes : 1, sizeof(*t->by_rid));
    if (!t->by_rid) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < t->n_routes; i++) {
        if (t->routes[i].def->n_rules && t->routes[i].def->rid) {
            t->by_rid[t->n_by_rid++] = &t->routes[i];
        }
    }
    qsort(t->by_rid, t->n_by_rid, sizeof(*t->by_rid), s_rid_cmp);
    return 0;
}

int mqg_route_table_new(const struct mqg_model *m, mqg_route_progress_fn progress, void *arg,
                        struct mqg_route_table **out, struct mqg_route_fault *fault)
{
    struct mqg_route_fault scratch;
    if (!fault) {
        fault = &scratch;
    }
    memset(fault, 0, sizeof(*fault));
    if (!m || !out) {
        return -EINVAL;
    }
    *out = NULL;
    struct mqg_route_table *t = calloc(1, sizeof(*t));
    int rc = t ? s_alloc(t, m) : -ENOMEM;
    if (rc == 0) {
        t->internal = mqg_model_internal(m);
        t->rules = mqg_model_rules_conn(m);
    }
    for (size_t i = 0; rc == 0 && i < m->n_routes; i++) {
        if (progress && i % 256 == 0) {
            progress(arg); /* many routes: keep the heartbeat going */
        }
        rc = s_add_route(t, m, i, fault);
    }
    if (rc == 0) {
        rc = s_index_rids(t);
    }
    if (rc != 0) {
        mqg_route_table_destroy(&t);
        return rc;
    }
    *out = t;
    return 0;
}

void mqg_route_table_destroy(struct mqg_route_table **tp)
{
    if (!tp || !*tp) {
        return;
    }
    struct mqg_route_table *t = *tp;
    for (size_t i = 0; i < t->n_entries; i++) {
        mqg_pattern_destroy(&t->entries[i].pat);
    }
    for (size_t i = 0; t->tries && i < t->n_ns; i++) {
        mqg_trie_destroy(&t->tries[i]);
    }
    for (int d = 0; d < MQG_ROUTE_MAX_DEPTH; d++) {
        free(t->ms[d].e);
        free(t->ms[d].topic_buf);
    }
    free(t->tries);
    free(t->by_rid);
    free(t->routes);
    free(t->entries);
    free(t->in_topic);
    free(t);
    *tp = NULL;
}

const struct mqg_route_counters *mqg_route_table_counters(const struct mqg_route_table *t)
{
    return &t->counters;
}

const struct mqg_route_stats *mqg_route_table_stats(const struct mqg_route_table *t, size_t route)
{
    return route < t->n_routes ? &t->routes[route].st : NULL;
}

size_t mqg_route_table_size(const struct mqg_route_table *t)
{
    return t->n_routes;
}

/* mqg_trie_match callback: a matching source's route joins the level's list unless it fires
 * already for this match. The list doubles when full; if it cannot, the route is left out. */
static void s_collect(void *value, void *arg)
{
    struct s_matchset *ms = arg;
    struct s_entry *e = value;
    if (e->route->stamp == ms->stamp) {
        return; /* this route already fires for this message */
    }
    e->route->stamp = ms->stamp;
    if (ms->n == ms->cap) {
        size_t ncap = ms->cap ? ms->cap * 2 : 16;
        struct s_entry **ne = realloc(ms->e, ncap * sizeof(*ne));
        if (!ne) {
            return;
        }
        ms->e = ne;
        ms->cap = ncap;
    }
    ms->e[ms->n++] = e;
}

/* Render the target topic of e's route for `topic` into ms->topic_buf: its length, or -1
 * (counted and reported) if it cannot be rendered. */
static int s_render(struct mqg_route_table *t, struct s_matchset *ms, const struct s_entry *e,
                    const char *topic)
{
    const char *tmpl = e->route->def->target.topic;
    int len = mqg_pattern_render(e->pat, topic, tmpl, ms->topic_buf, MQG_TOPIC_MAX + 1);
    if (len > 0) {
        return len;
    }
    t->counters.render_failed++;
    uint64_t n = ++e->route->st.render_failed;
    if (t->sink->render_failed) {
        t->sink->render_failed(t->sink->arg, e->route->def, topic, n);
    }
    return -1;
}

static void s_dispatch(struct mqg_route_table *t, size_t ns, const char *topic,
                       const struct mqg_wire_rec *src, int depth);

/* Carry out route rr for src at level `depth`, its target topic `out` (len bytes) rendered:
 * a copy for an external target, a match one level deeper for an internal one (and a copy
 * for the internal broker, if there is one). */
static void s_hand_out(struct mqg_route_table *t, struct s_route *rr, const char *out, int len,
                       const struct mqg_wire_rec *src, int depth)
{
    const struct mqg_target *tg = &rr->def->target;
    struct mqg_route_stats *st = &rr->st;
    if (tg->conn == MQG_INTERNAL && depth + 1 >= MQG_ROUTE_MAX_DEPTH) {
        st->loops++; /* s_dispatch counts and reports it for the table */
    } else {
        st->out++;
        st->out_bytes += src->payload_len;
    }
    struct mqg_wire_rec copy = {.flags = tg->retain ? MQG_WIRE_F_RETAIN : 0,
                                .qos = (uint8_t)tg->qos,
                                .topic = out,
                                .topic_len = (size_t)len,
                                .payload = src->payload,
                                .payload_len = src->payload_len};
    if (tg->conn == MQG_INTERNAL && t->sink->internal && depth + 1 < MQG_ROUTE_MAX_DEPTH) {
        t->sink->internal(t->sink->arg, &copy);
    }
    /* a copy for the internal namespace also goes to the internal broker, if there is one */
    int to = tg->conn == MQG_INTERNAL ? t->internal : tg->conn;
    if (to != MQG_NO_CONN) {
        t->copies++;
        t->sink->deliver(t->sink->arg, to, &copy);
    }
    if (tg->conn == MQG_INTERNAL) {
        s_dispatch(t, 0, out, src, depth + 1);
    }
}

/* Route rr has rules: the message goes to the rules process as "<rid>/<topic>" with the
 * target's QoS and retain flag; what comes out of its rules comes back (s_from_rules). */
static void s_to_rules(struct mqg_route_table *t, struct s_matchset *ms, struct s_route *rr,
                       const char *topic, const struct mqg_wire_rec *src)
{
    const struct mqg_target *tg = &rr->def->target;
    int len = snprintf(ms->topic_buf, MQG_TOPIC_MAX + 1, "%s/%s", rr->def->rid, topic);
    if (t->rules == MQG_NO_CONN || len < 0 || len > MQG_TOPIC_MAX) {
        t->counters.render_failed++;
        uint64_t n = ++rr->st.render_failed;
        if (t->sink->render_failed) {
            t->sink->render_failed(t->sink->arg, rr->def, topic, n);
        }
        return;
    }
    struct mqg_wire_rec copy = {.flags = tg->retain ? MQG_WIRE_F_RETAIN : 0,
                                .qos = (uint8_t)tg->qos,
                                .topic = ms->topic_buf,
                                .topic_len = (size_t)len,
                                .payload = src->payload,
                                .payload_len = src->payload_len};
    t->copies++;
    t->sink->deliver(t->sink->arg, t->rules, &copy);
}

/* A message from the rules process, "<rid>/<target topic>": for that route's target only.
 * An unknown rid (a route a reload removed) is counted as unrouted. */
static void s_from_rules(struct mqg_route_table *t, const char *topic,
                         const struct mqg_wire_rec *src)
{
    const char *slash = strchr(topic, '/');
    size_t lo = 0, hi = t->n_by_rid;
    size_t n = slash ? (size_t)(slash - topic) : 0;
    while (n && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *rid = t->by_rid[mid]->def->rid;
        int c = strncmp(rid, topic, n);
        c = c ? c : (rid[n] != '\0');
        if (c == 0) {
            struct s_route *rr = t->by_rid[mid];
            const char *out = slash + 1;
            if (*out) {
                s_hand_out(t, rr, out, (int)strlen(out), src, 0);
                return;
            }
            break;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    t->counters.unrouted++;
}

/* Match topic (NUL-terminated) in namespace ns at level `depth` and carry out the routes that
 * fire: a copy of src for each external target, a match one level deeper for each internal
 * one; a route with rules sends it to the rules process instead. */
static void s_dispatch(struct mqg_route_table *t, size_t ns, const char *topic,
                       const struct mqg_wire_rec *src, int depth)
{
    if (depth >= MQG_ROUTE_MAX_DEPTH) {
        t->counters.loops++;
        if (t->sink->loop) {
            t->sink->loop(t->sink->arg, topic, t->counters.loops);
        }
        return;
    }
    struct s_matchset *ms = &t->ms[depth];
    ms->n = 0;
    ms->stamp = ++t->stamp;
    mqg_trie_match(t->tries[ns], topic, s_collect, ms);
    if (ms->n == 0 && depth == 0) {
        t->counters.unrouted++;
    }
    for (size_t i = 0; i < ms->n; i++) {
        const struct s_entry *e = ms->e[i];
        struct mqg_route_stats *st = &e->route->st;
        const char *out = e->route->def->target.topic;
        int len;
        st->in++;
        st->in_bytes += src->payload_len;
        if (e->route->def->n_rules) {
            s_to_rules(t, ms, e->route, topic, src);
            continue;
        }
        if (e->render) {
            if ((len = s_render(t, ms, e, topic)) < 0) {
                continue;
            }
            out = ms->topic_buf;
        } else {
            len = (int)strlen(out);
        }
        s_hand_out(t, e->route, out, len, src, depth);
    }
}

int mqg_route_dispatch(struct mqg_route_table *t, int conn, const struct mqg_wire_rec *msg,
                       const struct mqg_route_sink *sink)
{
    size_t ns = conn >= 0 && conn == t->internal ? 0 : s_ns(conn);
    if (ns >= t->n_ns || msg->topic_len > MQG_TOPIC_MAX) {
        return -EINVAL;
    }
    memcpy(t->in_topic, msg->topic, msg->topic_len);
    t->in_topic[msg->topic_len] = '\0';
    t->sink = sink;
    t->copies = 0;
    if (conn >= 0 && conn == t->rules) {
        s_from_rules(t, t->in_topic, msg);
    } else {
        s_dispatch(t, ns, t->in_topic, msg, 0);
    }
    t->sink = NULL;
    return t->copies;
}
