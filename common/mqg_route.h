/* mqg_route — the router's routing: which routes a message fires, and the copies it makes.
 *
 * Used by the router process, which owns the sockets and the queues per target; the decisions
 * are made here, without I/O, logging or ZeroMQ: the copies and the events worth a log line go
 * to the caller's callbacks, and what was lost is counted. Single-threaded, one owner. Routing
 * a message allocates nothing (the match lists only grow, to the largest match seen).
 */
#ifndef MQG_ROUTE_H
#define MQG_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_model.h"
#include "mqg_wire.h"

/* A message from a connection is matched at level 0; an internal target is matched again one
 * level deeper. A chain that reaches this level is cut there (counted in `loops`). */
#define MQG_ROUTE_MAX_DEPTH 8

/* The compiled routes of one model: a trie per namespace (internal, each connection) with one
 * entry per route source. */
struct mqg_route_table;

/* Messages and copies lost in routing, since the table was made. */
struct mqg_route_counters {
    uint64_t unrouted;      /* messages whose first match fired no route */
    uint64_t loops;         /* chains cut at MQG_ROUTE_MAX_DEPTH (the copies on the way stay) */
    uint64_t render_failed; /* copies not made: the target topic could not be rendered */
};

/* What one route did since the table was made (mqg_route_table_stats). Bytes are payload bytes.
 * A route fires at most once per message at each level of a dispatch (an internal chain can
 * fire it again one level deeper). */
struct mqg_route_stats {
    uint64_t in;            /* messages that fired it */
    uint64_t in_bytes;      /* ... their payload bytes */
    uint64_t out;           /* copies it handed on: to a connection, or matched again inside */
    uint64_t out_bytes;     /* ... their payload bytes */
    uint64_t render_failed; /* copies not made: its target topic could not be rendered */
    uint64_t loops;         /* copies not made: its internal target would go deeper than
                             * MQG_ROUTE_MAX_DEPTH */
};

/* Why mqg_route_table_new() failed with -EINVAL. */
struct mqg_route_fault {
    size_t route;  /* index into model->routes */
    size_t source; /* index into its sources; its n_sources when the target is at fault */
    bool bad_conn; /* the source or target names connection `conn`, which the model lacks */
    int conn;
    const char *why; /* otherwise the source's filter does not parse: static reason */
};

/* Called now and then while a table is built, so a child process can keep its heartbeat. */
typedef void (*mqg_route_progress_fn)(void *arg);

/* Build the table for model m, which it borrows: m must outlive the table. A shared
 * subscription's source "$share/<group>/<filter>" is entered as <filter>, the topics the
 * broker delivers for it. progress(arg), if not NULL, is called before every 256th route.
 * Returns 0 with a new table in *out; -EINVAL when a source's filter cannot be parsed (by
 * mqg_pattern_new, whose failure for lack of memory counts too: fault->why says so) or a
 * source or target names a connection m does not have, with *fault (if not NULL) saying
 * which; -ENOMEM. */
int mqg_route_table_new(const struct mqg_model *m, mqg_route_progress_fn progress, void *arg,
                        struct mqg_route_table **out, struct mqg_route_fault *fault);

/* NULL-safe; clears *t. */
void mqg_route_table_destroy(struct mqg_route_table **t);

/* Where mqg_route_dispatch() hands its results. Everything passed is borrowed for the call. */
struct mqg_route_sink {
    /* A copy for connection conn (an index into model->conns): the rendered target topic, the
     * QoS and retain flag (MQG_WIRE_F_RETAIN) of the route's target, the payload of the
     * message. Required. */
    void (*deliver)(void *arg, int conn, const struct mqg_wire_rec *copy);
    /* A chain was cut at MQG_ROUTE_MAX_DEPTH at `topic` (the topic it would have been matched
     * with); n = counters.loops. Optional. */
    void (*loop)(void *arg, const char *topic, uint64_t n);
    /* The target topic of `route` could not be rendered for `topic` (the topic its source
     * matched): empty, or longer than MQG_TOPIC_MAX. n counts this route's failures (1: the
     * first). Optional. */
    void (*render_failed)(void *arg, const struct mqg_route *route, const char *topic, uint64_t n);
    void *arg;
    /* A message published on the internal namespace (an internal target of a route that
     * fired, before it is matched there): its topic, the QoS and retain flag of that target,
     * the payload. Optional (the router sets it while `mqgate tap` listens). */
    void (*internal)(void *arg, const struct mqg_wire_rec *msg);
};

/* Route one message that came from connection conn (MQG_INTERNAL: published on the internal
 * namespace), matching its topic (msg->topic, msg->topic_len bytes, no NUL needed; taken as a
 * valid topic name) in that namespace; a message from the internal broker's connection
 * (mqg_model_internal) is matched in the internal namespace. Every route with a matching source
 * fires once, however many of its sources match. A target topic using named wildcards of the
 * source that matched is rendered from the topic (mqg_pattern_render), any other is used as
 * written. An internal target is matched again in the internal namespace, one level deeper,
 * and, with an internal broker, gets a copy for its connection through sink->deliver (the
 * message itself, when it came from there, does not); an external one gets a copy through
 * sink->deliver. msg's QoS and flags are not used. Returns the number of copies
 * delivered, or -EINVAL for a connection the table does not have or a topic longer than
 * MQG_TOPIC_MAX (then nothing is counted). */
int mqg_route_dispatch(struct mqg_route_table *t, int conn, const struct mqg_wire_rec *msg,
                       const struct mqg_route_sink *sink);

/* The table's counters (borrowed, updated by every dispatch). */
const struct mqg_route_counters *mqg_route_table_counters(const struct mqg_route_table *t);

/* The counters of route `route` (an index into the model's routes; borrowed, updated by every
 * dispatch), or NULL for an index the table does not have. */
const struct mqg_route_stats *mqg_route_table_stats(const struct mqg_route_table *t, size_t route);

/* The number of routes in the table (the model's n_routes). */
size_t mqg_route_table_size(const struct mqg_route_table *t);

#endif
