/* mqg_rstats — per-route counters reported to the supervisor.
 *
 * The router counts per route in its routing table (mqg_route_stats, on the path of every
 * message: a few additions next to what is written anyway); the rules process counts per
 * route with rules what its rules did (mqg_rule_stats). Once per heartbeat each sends the
 * supervisor a control message (MQG_CTL_ROUTES, MQG_CTL_RULE_ROUTES) with the rows whose
 * counters changed since the last report that was sent (encode, then commit once it is sent),
 * bounded in size: a report that would grow beyond its bound stops there, and the next one
 * goes on from where it stopped, so every row is reported in turn. The first report of a
 * process says "reset": the supervisor then zeroes what it held for it (a new process counts
 * from 0).
 *
 * A row is six uint64_t counters and a key: the router keys its rows by the route's index in
 * the model (the supervisor checks the number of routes), the rules process by the route's rid
 * (16 hex digits as a number: stable across reloads, and the rules process keeps its own model
 * through a reload that leaves the rules alone).
 *
 * Body: version (1 byte, 2), flags (1 byte, bit 0: reset), the number of rows of the reporter
 * (4 bytes, big-endian), then per row its key and its six counters in order, each as an
 * unsigned LEB128 varint. Pure; one reporter per process, single-threaded.
 */
#ifndef MQG_RSTATS_H
#define MQG_RSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_route.h"

#define MQG_RSTATS_VERSION 2
#define MQG_RSTATS_F_RESET 1u
#define MQG_RSTATS_FIELDS 6

/* What the rules process counts per route with rules (rules/chain; dropped ones count
 * messages, out counts outputs). */
struct mqg_rule_stats {
    uint64_t in;       /* copies the router handed to the rules */
    uint64_t out;      /* outputs handed back (a burst or collect makes fewer) */
    uint64_t filtered; /* a filter or cov said no: wanted, not lost */
    uint64_t not_json; /* the payload was not JSON (or not parse's format) where needed */
    uint64_t timeout;  /* an evaluation ran into rules.time_limit_ms */
    uint64_t error;    /* an evaluation failed, or the target topic could not be rendered */
};

_Static_assert(sizeof(struct mqg_route_stats) == MQG_RSTATS_FIELDS * sizeof(uint64_t),
               "mqg_route_stats is a row of counters");
_Static_assert(sizeof(struct mqg_rule_stats) == MQG_RSTATS_FIELDS * sizeof(uint64_t),
               "mqg_rule_stats is a row of counters");

/* Row i of src: its key and counters (a struct of MQG_RSTATS_FIELDS uint64_t, copied); false
 * when there is no such row now. */
typedef bool mqg_rstats_row_fn(const void *src, size_t i, uint64_t *key,
                               uint64_t row[MQG_RSTATS_FIELDS]);

/* A reporter. */
struct mqg_rstats {
    uint64_t (*sent)[MQG_RSTATS_FIELDS];         /* what the supervisor holds, per row */
    size_t *pending;                             /* rows in the report encoded last ... */
    uint64_t (*pending_rows)[MQG_RSTATS_FIELDS]; /* ... with the counters it carries */
    size_t n_pending;
    size_t n;
    size_t cursor;      /* the next report starts looking here */
    size_t next_cursor; /* ... after the report encoded last is committed */
    bool reset;         /* no report committed yet */
    uint8_t *buf;
    size_t cap;
};

/* A reporter for n rows, all counters 0 as far as the supervisor knows. Returns 0 or -ENOMEM. */
int mqg_rstats_init(struct mqg_rstats *r, size_t n);

/* NULL-safe; frees what r holds and leaves it empty. */
void mqg_rstats_free(struct mqg_rstats *r);

/* Encode the rows of src (row(src, i, ...) for i < n) whose counters differ from what was last
 * committed, looking from where the last committed report stopped, into at most max bytes (at
 * least 128). Returns the body's length and sets *body (valid until the next call), or 0 when
 * nothing is to be reported (nothing changed, and the reset was sent). */
size_t mqg_rstats_encode_rows(struct mqg_rstats *r, mqg_rstats_row_fn *row, const void *src,
                              size_t max, const uint8_t **body);

/* The report encoded last was sent: the supervisor now holds the values it carried. */
void mqg_rstats_commit_rows(struct mqg_rstats *r);

/* The router's: rows are the routes of t (which must have the n given to init), keyed by
 * index. */
size_t mqg_rstats_encode(struct mqg_rstats *r, const struct mqg_route_table *t, size_t max,
                         const uint8_t **body);
void mqg_rstats_commit(struct mqg_rstats *r, const struct mqg_route_table *t);

/* The supervisor's side of the router's reports: apply one to table[0..n). Returns 0; -EPROTO
 * when it is malformed, counts another number of routes or names an index >= n (nothing is
 * changed then). */
int mqg_rstats_apply(const uint8_t *body, size_t len, struct mqg_route_stats *table, size_t n);

/* Where a keyed row goes: a struct of MQG_RSTATS_FIELDS uint64_t, or NULL to skip the row. */
typedef void *mqg_rstats_find_fn(void *dst, uint64_t key);

/* The supervisor's side of keyed reports (any number of rows): after checking the whole body,
 * calls reset(dst) when it says reset, then stores each row where find(dst, key) says.
 * Returns 0 or -EPROTO (malformed: nothing is changed). */
int mqg_rstats_apply_keyed(const uint8_t *body, size_t len, void (*reset)(void *dst),
                           mqg_rstats_find_fn *find, void *dst);

#endif
