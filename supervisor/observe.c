/* observe — connections and routes as the supervisor sees them (see observe.h).
 *
 * A connection's state is recomputed on every heartbeat of its connector and every 0.5 s; its
 * "since" moves only when it becomes connected, stops being connected or fails, so that a
 * connector trying again and again (connecting, down, connecting, ...) stays "not connected
 * since" the moment it was lost. Activity (for the stall rule of /health) is a change of the
 * connector's rx (received), out (published) or pings (keepalive answers) counters.
 */
#include "observe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "mqg_log.h"
#include "mqg_rstats.h"
#include "sup.h"

static const char *const s_names[] = {"connecting", "connected", "disconnected", "failed"};

const char *observe_state_name(enum obs_state s)
{
    return s <= OBS_FAILED ? s_names[s] : "?";
}

uint64_t observe_u64(const struct mqg_kv *kv, const char *key)
{
    uint64_t v = 0;
    return mqg_kv_u64(kv, key, &v) ? v : 0;
}

static int64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A route with rules, by its rid read as a number. */
struct obs_rid {
    uint64_t rid;
    size_t route;
};

static int s_rid_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct obs_rid *)a)->rid, y = ((const struct obs_rid *)b)->rid;
    return x < y ? -1 : x > y;
}

/* The index of the route whose rid is rid, or -1. */
static ssize_t s_rid_find(const struct obs_rid *rids, size_t n, uint64_t rid)
{
    struct obs_rid key = {rid, 0};
    const struct obs_rid *hit = n ? bsearch(&key, rids, n, sizeof(*rids), s_rid_cmp) : NULL;
    return hit ? (ssize_t)hit->route : -1;
}

int observe_model(struct sup *S, const struct mqg_model *next)
{
    size_t n = next->n_routes ? next->n_routes : 1;
    struct mqg_route_stats *rs = calloc(n, sizeof(*rs));
    struct mqg_rule_stats *ru = calloc(n, sizeof(*ru));
    struct obs_rid *rids = calloc(n, sizeof(*rids));
    if (!rs || !ru || !rids) {
        free(rs);
        free(ru);
        free(rids);
        return -ENOMEM;
    }
    size_t n_rids = 0;
    for (size_t i = 0; i < next->n_routes; i++) {
        if (next->routes[i].rid) {
            uint64_t rid = strtoull(next->routes[i].rid, NULL, 16);
            ssize_t was = S->rule_stats ? s_rid_find(S->rids, S->n_rids, rid) : -1;
            if (was >= 0) {
                ru[i] = S->rule_stats[was];
            }
            rids[n_rids++] = (struct obs_rid){rid, i};
        }
    }
    qsort(rids, n_rids, sizeof(*rids), s_rid_cmp);
    observe_free(S);
    S->route_stats = rs;
    S->rule_stats = ru;
    S->rids = rids;
    S->n_rids = n_rids;
    return 0;
}

int observe_init(struct sup *S)
{
    return observe_model(S, S->model);
}

void observe_free(struct sup *S)
{
    free(S->route_stats);
    free(S->rule_stats);
    free(S->rids);
    S->route_stats = NULL;
    S->rule_stats = NULL;
    S->rids = NULL;
    S->n_rids = 0;
}

/* The state of connector c from its life cycle and its heartbeat text kv. */
static enum obs_state s_state_of(const struct sup_child *c, const struct mqg_kv *kv)
{
    switch (c->life.state) {
    case LC_FAILED:
    case LC_CONFIG:
        return OBS_FAILED;
    case LC_WAITING:
    case LC_STOPPED:
        return OBS_DISCONNECTED;
    default:
        break;
    }
    const char *st = mqg_kv_get(kv, "state");
    if (!st || strcmp(st, "starting") == 0 || strcmp(st, "connecting") == 0) {
        return OBS_CONNECTING;
    }
    if (strcmp(st, "up") == 0 || strcmp(st, "subscribing") == 0) {
        return OBS_CONNECTED;
    }
    return OBS_DISCONNECTED;
}

/* The class "since" follows: connected, not connected, failed. */
static int s_class(enum obs_state s)
{
    return s == OBS_CONNECTING ? OBS_DISCONNECTED : (int)s;
}

/* Recompute c's state at now from kv; "since" moves when the class changes. */
static void s_update(struct sup *S, struct sup_child *c, const struct mqg_kv *kv, int64_t now)
{
    struct obs_conn *o = &c->obs;
    enum obs_state st = s_state_of(c, kv);
    if (!o->seen || s_class(st) != s_class(o->state)) {
        o->since_ms = o->seen ? now : S->started_ms;
        o->since_wall_ms = s_wall_ms() - (now - o->since_ms);
        if (st == OBS_CONNECTED) {
            o->active_ms = now; /* the stall clock starts with the connection */
        }
    }
    o->seen = true;
    o->state = st;
}

void observe_heartbeat(struct sup *S, struct sup_child *c, int64_t now)
{
    if (c->conn < 0) {
        return;
    }
    struct mqg_kv kv;
    mqg_kv_parse(c->status, &kv);
    struct obs_conn *o = &c->obs;
    uint64_t rx = observe_u64(&kv, "rx"), out = observe_u64(&kv, "out"), pings = 0;
    o->pings_known = mqg_kv_u64(&kv, "pings", &pings);
    if (rx != o->rx || out != o->out || pings != o->pings) {
        o->active_ms = now;
    }
    o->rx = rx;
    o->out = out;
    o->pings = pings;
    s_update(S, c, &kv, now);
}

void observe_routes(struct sup *S, const uint8_t *body, size_t len)
{
    if (mqg_rstats_apply(body, len, S->route_stats, S->model->n_routes) != 0) {
        log_debug("ROUTES-BAD",
                  "a per-route counter report of the router does not decode (%zu "
                  "bytes): ignored",
                  len);
    }
}

static void s_rules_reset(void *dst)
{
    struct sup *S = dst;
    memset(S->rule_stats, 0,
           (S->model->n_routes ? S->model->n_routes : 1) * sizeof(*S->rule_stats));
}

static void *s_rules_find(void *dst, uint64_t rid)
{
    struct sup *S = dst;
    ssize_t i = s_rid_find(S->rids, S->n_rids, rid);
    return i >= 0 ? &S->rule_stats[i] : NULL;
}

void observe_rule_routes(struct sup *S, const uint8_t *body, size_t len)
{
    if (mqg_rstats_apply_keyed(body, len, s_rules_reset, s_rules_find, S) != 0) {
        log_debug("RULE-ROUTES-BAD",
                  "a per-route counter report of the rules process does not decode (%zu bytes): "
                  "ignored",
                  len);
    }
}

void observe_tick(struct sup *S, int64_t now)
{
    for (size_t i = 0; i < S->n_ch; i++) {
        struct sup_child *c = &S->ch[i];
        if (c->conn < 0) {
            continue;
        }
        struct mqg_kv kv;
        mqg_kv_parse(lifecycle_has_process(c->life.state) ? c->status : NULL, &kv);
        s_update(S, c, &kv, now);
    }
}

void observe_view(const struct sup *S, const struct sup_child *c, int64_t now, struct obs_view *v)
{
    const struct obs_conn *o = &c->obs;
    v->conn = &S->model->conns[c->conn];
    mqg_kv_parse(lifecycle_has_process(c->life.state) ? c->status : NULL, &v->kv);
    /* as it is now: the life cycle may have changed since the last update */
    v->state = s_state_of(c, &v->kv);
    bool same = o->seen && s_class(v->state) == s_class(o->state);
    int64_t since = same ? o->since_ms : o->seen ? now : S->started_ms;
    v->for_ms = now - since;
    v->since_wall_ms = same ? o->since_wall_ms : s_wall_ms() - v->for_ms;
    v->idle_ms = v->state == OBS_CONNECTED && same && o->pings_known ? now - o->active_ms : -1;
}
