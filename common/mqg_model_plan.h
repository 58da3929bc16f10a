/* mqg_model_plan — what a reload changes: the new model laid out on the running one's
 * connection indices, and what becomes of each connection's process and of the router's.
 *
 * The connection indices travel on the bus (a tracked record's source, the ACK and REPLAY
 * entries) and key the router's ledger and every connector's tables, so a reload keeps the
 * index of every connection that stays: the new model's connection with the same key moves to
 * that index; a connection that is gone leaves a placeholder there (a copy of the old one
 * without its secrets and with targetState disconnected: no process, no route uses it); added
 * connections follow at the end. Endpoints and routes are renumbered to match. Pure logic:
 * the supervisor (reload.c) carries the plan out.
 */
#ifndef MQG_MODEL_PLAN_H
#define MQG_MODEL_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_model.h"

enum mqg_plan_action {
    MQG_PLAN_NONE = 0, /* no process before or after (a placeholder, or disconnected) */
    MQG_PLAN_KEEP,     /* unchanged: its process and broker session run on */
    MQG_PLAN_RESTART,  /* its properties or its subscriptions changed: stopped, started anew */
    MQG_PLAN_START,    /* added (or its targetState became connected): started */
    MQG_PLAN_STOP,     /* removed (or its targetState became disconnected): stopped */
};

struct mqg_model_plan {
    enum mqg_plan_action *conn; /* per connection of the laid-out new model */
    size_t n_conns;
    size_t n_kept, n_restarted, n_started, n_stopped; /* connections, by action */
    bool router; /* the router needs the new model (anything but secrets changed) */
};

/* Lay `next` out on the indices of `cur` (in place, as above) and fill *plan. Returns 0,
 * -EINVAL when a source filter of either model does not parse, or -ENOMEM (then `next` may
 * be half laid out: free it). */
int mqg_model_plan(const struct mqg_model *cur, struct mqg_model *next,
                   struct mqg_model_plan *plan);

void mqg_model_plan_free(struct mqg_model_plan *plan);

/* The action's name for logs: "keep", "restart", "start", "stop", "none". */
const char *mqg_model_plan_name(enum mqg_plan_action a);

#endif
