/* chain — the rules process's executor: runs each route's rules (docs/rules.md §6) on the
 * messages the router copies to the rules process and hands back what comes out.
 *
 * Input topics are "<rid>/<topic the route's source matched>" (rid: the route's 16 hex digits),
 * outputs "<rid>/<the route's target topic rendered>" with the message as JSON text. $context is
 * {"topic": <topic>, "vars": {<named wildcard or setContextVars name>: <value>, ...}}.
 * Engine-facing (rules/jsengine) and otherwise pure: no threads, no I/O but log lines (mqg_log,
 * once per series per route and cause: RULE-NOT-JSON, RULE-TIMEOUT, RULE-ERROR). Single-threaded:
 * every call on the engine's thread. The model must outlive the set.
 *
 * State is per route and per rule: one cov, burst and collect object per such rule, one stash
 * per route (shared by the route's stash rules, so $last sees every label the route stashes);
 * none of it survives the process.
 */
#ifndef RULES_CHAIN_H
#define RULES_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "jsengine.h"
#include "mqg_model.h"
#include "mqg_rstats.h" /* struct mqg_rule_stats: one route's counters */

struct chain_set;

/* What happened to one message (chain_run's return value when >= 0). */
enum chain_result {
    CHAIN_PASSED = 0,    /* one output emitted */
    CHAIN_HELD,          /* kept by a burst rule (its batch goes out later) */
    CHAIN_FILTERED,      /* filter or cov said no (not an error) */
    CHAIN_NOT_JSON,      /* the payload had to be JSON (or parse's format) and was not */
    CHAIN_TIMEOUT,       /* an evaluation ran into the time limit */
    CHAIN_ERROR,         /* an evaluation failed, or the target topic could not be rendered */
    CHAIN_UNKNOWN_ROUTE, /* no route has this rid, or none of its sources matches the topic */
};

/* One output: topic "<rid>/<rendered target topic>", payload JSON text (len bytes); route is
 * the route it is for (target QoS and retain flag). Returns 0, or a negative errno, which
 * chain_run passes on (the output is then lost for this run). */
typedef int chain_emit_fn(void *arg, const struct mqg_route *route, const char *topic,
                          const char *payload, size_t len);

/* Compile the rules of every route of m that has rules and a rid; make their state. Returns 0,
 * -EINVAL (an expression, parse format or source filter that does not compile: err, when not
 * NULL, says which and why), -ENOMEM. */
int chain_set_new(const struct mqg_model *m, struct jsengine *e, struct chain_set **out, char *err,
                  size_t errcap);

/* NULL-safe; clears *ps. Before the engine. */
void chain_set_destroy(struct chain_set **ps);

/* A message given with a tag (chain_run_tag) is done: what it produced was emitted (or it was
 * dropped). arg is emit's. */
typedef void chain_release_fn(void *arg, uint64_t tag);

/* Tags given to chain_run_tag are released through fn once their message is done: at the end
 * of the run, or — for a message a burst rule holds — after its batch went on through the rest
 * of the rules (so the router's copy is confirmed only after the batch's output was emitted,
 * and a process that dies loses no batch: the router replays the copies). At most max_held
 * tags wait in batches, all bursts together; a message held beyond that is released at once
 * (its batch would be lost with the process), so that held copies never fill the window of
 * unconfirmed copies. Tags still held when the set is destroyed are not released. */
void chain_set_release(struct chain_set *s, chain_release_fn *fn, size_t max_held);

/* Run one message (topic as above, payload len bytes) at now_ms. Returns an enum chain_result,
 * counted on the route, or a negative errno (-ENOMEM, or emit's). chain_run_tag: the same, and
 * *tag (when tag is not NULL) is released as chain_set_release says. */
int chain_run(struct chain_set *s, const char *topic, const void *payload, size_t len,
              uint64_t now_ms, chain_emit_fn *emit, void *arg);
int chain_run_tag(struct chain_set *s, const char *topic, const void *payload, size_t len,
                  uint64_t now_ms, const uint64_t *tag, chain_emit_fn *emit, void *arg);

/* Emit the burst batches due at now_ms (each through the rules after its burst rule, with the
 * context of the batch's last message; then their tags are released), and log the drop
 * summaries that are due. Returns the number of outputs, or a negative errno. */
int chain_tick(struct chain_set *s, uint64_t now_ms, chain_emit_fn *emit, void *arg);

/* When the next burst batch is due (ms, as now_ms), or 0 when none is pending. */
uint64_t chain_due(const struct chain_set *s);

/* Routes with rules, and each one's counters (i < chain_routes). */
size_t chain_routes(const struct chain_set *s);
const struct mqg_route *chain_route(const struct chain_set *s, size_t i, struct mqg_rule_stats *st);

/* Messages whose rid named no route (or whose topic none of its sources matched). */
uint64_t chain_unknown(const struct chain_set *s);

#endif
