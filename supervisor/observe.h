/* observe — what the supervisor knows of each connection and route, beyond the life cycle.
 *
 * Used by supervisor.c, which hands it every heartbeat (observe_heartbeat), every per-route
 * report of the router (observe_routes) and a tick every 0.5 s (observe_tick); read by
 * status.c (the status file, status.json), metrics.c (/metrics) and ops.c (/health) through
 * observe_view(). A connection's state in words (connected, connecting, disconnected, failed)
 * comes from its connector's heartbeat text (mqg_kv: state=...) and, when it has no process or
 * crashed too often, from the supervisor's own life cycle. Single-threaded, the loop's.
 */
#ifndef SUPERVISOR_OBSERVE_H
#define SUPERVISOR_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "mqg_kv.h"
#include "mqg_model.h"

struct sup;
struct sup_child;

enum obs_state { OBS_CONNECTING, OBS_CONNECTED, OBS_DISCONNECTED, OBS_FAILED };

/* Kept in each connector's record (sup_child.obs). */
struct obs_conn {
    bool seen;               /* the state below was computed at least once */
    enum obs_state state;    /* as last computed */
    int64_t since_ms;        /* monotonic: when it became connected, stopped being connected, or
                              * failed (connecting <-> disconnected is one "not connected") */
    int64_t since_wall_ms;   /* the same on the wall clock (ms since the epoch) */
    int64_t active_ms;       /* monotonic: a message moved or a keepalive was answered */
    uint64_t rx, out, pings; /* as last seen, to tell that something moved */
    bool pings_known;        /* its connector counts keepalive answers (pings=) */
};

/* Everything shown about one connection at one moment. */
struct obs_view {
    const struct mqg_connection *conn;
    enum obs_state state;
    int64_t since_wall_ms; /* see obs_conn.since_ms */
    int64_t for_ms;        /* now - since_ms */
    int64_t idle_ms;       /* connected: since a message moved or a keepalive was answered;
                            * -1 when not connected or its connector does not count keepalives */
    struct mqg_kv kv;      /* its connector's last heartbeat text (empty without a process) */
};

/* The route counters of S->model (S->route_stats, S->rule_stats, one per model route, zero).
 * 0 or -ENOMEM. */
int observe_init(struct sup *S);
void observe_free(struct sup *S);

/* A reload installs model next: the route counters are made for its routes, the router's from
 * zero (a new router counts from zero), the rules process's carried over by rid (the rules
 * process may be kept). Before S->model is set to next. 0, or -ENOMEM (nothing changed). */
int observe_model(struct sup *S, const struct mqg_model *next);

/* c's heartbeat text (c->status) has just been updated at now. */
void observe_heartbeat(struct sup *S, struct sup_child *c, int64_t now);

/* An MQG_CTL_ROUTES report of the router (mqg_rstats); a malformed one is ignored (logged at
 * debug, ROUTES-BAD). */
void observe_routes(struct sup *S, const uint8_t *body, size_t len);

/* An MQG_CTL_RULE_ROUTES report of the rules process (mqg_rstats, keyed by rid; rows of rids
 * the model does not have are skipped); a malformed one is ignored (logged at debug,
 * RULE-ROUTES-BAD). */
void observe_rule_routes(struct sup *S, const uint8_t *body, size_t len);

/* Every 0.5 s: the connections' states after changes of the life cycles (exits, failures). */
void observe_tick(struct sup *S, int64_t now);

/* The view of connector c at now. */
void observe_view(const struct sup *S, const struct sup_child *c, int64_t now, struct obs_view *v);

/* "connected", "connecting", "disconnected", "failed". */
const char *observe_state_name(enum obs_state s);

/* A counter of a heartbeat text; 0 when it is missing. */
uint64_t observe_u64(const struct mqg_kv *kv, const char *key);

#endif
