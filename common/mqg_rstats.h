/* mqg_rstats — the router's per-route counters, reported to the supervisor.
 *
 * The router counts per route in its routing table (mqg_route_stats, on the path of every
 * message: a few additions next to what is written anyway). Once per heartbeat it sends the
 * supervisor an MQG_CTL_ROUTES control message with the routes whose counters changed since
 * the last report that was sent (mqg_rstats_encode, then mqg_rstats_commit once it is sent),
 * bounded in size: a report that would grow beyond its bound stops there, and the next one
 * goes on from where it stopped, so every route is reported in turn. The first report of a
 * router process says "reset": the supervisor then zeroes what it held for the routes (a new
 * router counts from 0). The supervisor applies reports with mqg_rstats_apply.
 *
 * Body: version (1 byte, 1), flags (1 byte, bit 0: reset), the number of routes (4 bytes,
 * big-endian), then per route its index and the six counters of mqg_route_stats in order, each
 * as an unsigned LEB128 varint. Pure; one reporter per router, single-threaded.
 */
#ifndef MQG_RSTATS_H
#define MQG_RSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_route.h"

#define MQG_RSTATS_VERSION 1
#define MQG_RSTATS_F_RESET 1u

/* The router's reporter. */
struct mqg_rstats {
    struct mqg_route_stats *sent; /* what the supervisor holds, per route */
    size_t *pending;              /* routes in the report encoded last */
    size_t n_pending;
    size_t n;
    size_t cursor;      /* the next report starts looking here */
    size_t next_cursor; /* ... after the report encoded last is committed */
    bool reset;         /* no report committed yet */
    uint8_t *buf;
    size_t cap;
};

/* A reporter for n_routes routes, all counters 0 as far as the supervisor knows. Returns 0 or
 * -ENOMEM. */
int mqg_rstats_init(struct mqg_rstats *r, size_t n_routes);

/* NULL-safe; frees what r holds and leaves it empty. */
void mqg_rstats_free(struct mqg_rstats *r);

/* Encode the routes of t (which must have the n_routes given to init) whose counters differ
 * from what was last committed, looking from where the last committed report stopped, into at
 * most max bytes (at least 128). Returns the body's length and sets *body (valid until the next
 * call), or 0 when nothing is to be reported (nothing changed, and the reset was sent). */
size_t mqg_rstats_encode(struct mqg_rstats *r, const struct mqg_route_table *t, size_t max,
                         const uint8_t **body);

/* The report encoded last was sent: the supervisor now holds its values. t must not have
 * routed anything since that encode. */
void mqg_rstats_commit(struct mqg_rstats *r, const struct mqg_route_table *t);

/* The supervisor's side: apply a report to table[0..n). Returns 0; -EPROTO when it is malformed
 * or counts another number of routes (nothing is changed then). */
int mqg_rstats_apply(const uint8_t *body, size_t len, struct mqg_route_stats *table, size_t n);

#endif
