/* outbox — the connector's outbound queue: which message is published to the broker when, and
 * what each publish result means (docs/architecture.md §5.2).
 *
 * Policy only, over queue.c and without paho: the connector gives it the messages from the
 * router (outbox_push), the state of the connection (outbox_connected, outbox_lost) and the
 * results paho reports (outbox_result); the outbox hands messages to a publish function
 * (mqtt_link_publish in the connector, a fake in tests/unit/test_outbox.c) with at most
 * max_inflight outstanding. A message leaves the queue only when a result says it is done, so
 * a lost connection re-publishes what was not confirmed, in order. Messages that can never be
 * delivered are dropped alone, counted and logged (PUB-BAD-TOPIC, PUB-TOO-LARGE, PUB-INVALID,
 * PUB-FAIL, OUT-DROP). Single-threaded; the outbox owns copies of the messages it holds.
 */
#ifndef CONNECTOR_OUTBOX_H
#define CONNECTOR_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_wire.h"

/* Hand one message to the MQTT client, which copies it. Returns 0 when the client took it
 * (its result comes back through outbox_result with this tag); -EAGAIN (the client's window
 * is full) or -ENOTCONN (not connected): not taken, tried again at the next outbox_pump;
 * -EIO: the client refuses this message for good, which is dropped. notify is false only for
 * QoS 0: the client reports nothing for this message, and the next QoS 0 result it reports
 * stands for it (QoS 0 messages are written in the order they were given). */
typedef int outbox_publish_fn(void *ctx, const char *topic, const void *payload, size_t len,
                              int qos, bool retain, uint64_t tag, bool notify);

struct outbox_opts {
    size_t max_count;     /* bound in messages (0 means 1) */
    size_t max_bytes;     /* bound in bytes of topic + payload */
    int max_inflight;     /* publishes handed to the client and not yet done, at most (>= 1) */
    int protocol_version; /* of the connection (3, 4, 5): the size of a PUBLISH packet */
    int64_t report_ms;    /* a message dropped for what it is: WARN for the first of a series,
                           * then one summary per report_ms (outbox_report) */
    outbox_publish_fn *publish;
    void *ctx; /* publish's first argument */
    /* tracked copies (docs/delivery.md): when `tracking` is set, a copy with the TRACK flag is
     * confirmed to the router (outbox_take_done) once it leaves the queue, and nothing is
     * dropped for space (outbox_full stops the reading instead, connected or not); n_conns:
     * the number of connections (source indices are below it) */
    bool tracking;
    size_t n_conns;
    /* for tests, 0 = the default: */
    uint64_t first_seq; /* sequence number of the first message (1) */
    unsigned tag_bits;  /* bits of a tag that come back with its result (those of a pointer,
                         * which is how paho carries it: 32 on 32-bit systems); 9..64 */
};

struct outbox_stats {
    size_t queued;     /* messages held: waiting and in flight */
    int inflight;      /* handed to the client, result not yet reported */
    uint64_t out;      /* publishes done (confirmed by the broker, QoS 0: written) */
    uint64_t dropped;  /* every drop: overflow, PUB-FAIL, PUB-INVALID, out of memory, and: */
    uint64_t badtopic; /* ... topics the broker would refuse (PUB-BAD-TOPIC) */
    uint64_t toolarge; /* ... packets too large for MQTT or the broker (PUB-TOO-LARGE) */
    /* for the supervisor's status and /metrics: */
    uint64_t out_bytes; /* payload bytes of the `out` publishes */
    uint64_t overflow;  /* drops by the queue's bounds (OUT-DROP), part of `dropped` */
};

struct outbox;

/* An empty outbox, disconnected. Returns 0 or -ENOMEM / -EINVAL (no publish function, a
 * tag_bits out of range). */
int outbox_new(const struct outbox_opts *opts, struct outbox **out);

/* NULL-safe: frees the messages still held and the outbox, clears *ob. */
void outbox_destroy(struct outbox **ob);

/* Queue a copy of a message from the router. A topic the broker would close the connection
 * for (a control character or a non-character: mqg_topic_name_fault, strict) is never
 * queued: dropped, counted as badtopic, returns -EINVAL. While disconnected, the oldest
 * messages are dropped (even if in flight) as long as this one would go beyond a bound;
 * while connected nothing is dropped (see outbox_full). Returns 0, -EINVAL, or -ENOMEM
 * (dropped). */
int outbox_push(struct outbox *ob, const struct mqg_wire_rec *rec);

/* While connected: publish waiting messages, oldest first, until max_inflight are out or the
 * client takes no more. Before a message is published its PUBLISH packet is checked against
 * MQTT's limit and the broker's Maximum Packet Size (pubcheck): one too large is dropped,
 * counted as toolarge. Call after anything that may have made room. */
void outbox_pump(struct outbox *ob);

/* A result the client reported for `tag`: ok (done), or failed with the client's code rc.
 * A result settles the QoS 0 messages published before it that asked for none. A failure
 * from the current connection puts the message back to be published again; at its 5th it is
 * dropped (PUB-FAIL). A failure from an earlier connection, or for a message no longer held,
 * changes nothing. */
void outbox_result(struct outbox *ob, uint64_t tag, bool ok, int rc);

/* The connection is up (from the moment subscriptions are asked for); max_packet: the
 * broker's Maximum Packet Size (MQTT 5), 0 = none; receive_max: its Receive Maximum (MQTT 5),
 * 0 = none: at most that many publishes are out at once on this connection (and never more
 * than max_inflight). */
void outbox_connected(struct outbox *ob, uint32_t max_packet, uint16_t receive_max);

/* The connection is gone: a new connection generation starts, and every message in flight is
 * published again, in its order, once connected. */
void outbox_lost(struct outbox *ob);

/* Connected, and as many messages queued as allowed: the caller reads no more from the
 * router, so the router holds its copies and, when its own queue for us is full too, stops
 * taking new messages from the sources (flow control, not loss, while the broker is merely
 * slower than the sources). Without tracking, while the broker is down this is never true:
 * messages keep coming and the oldest are dropped beyond the bounds (an outage must not stop
 * the others). With tracking it is true whenever the queue is at a bound: the router then
 * keeps the sources' journals as the outage buffer. */
bool outbox_full(const struct outbox *ob);

/* The sources whose confirmations moved since the last call: fills out[0..cap) with DONE
 * entries (source index, seq through which every tracked copy from it has left the queue:
 * published and acknowledged, or dropped because it can never be delivered) and returns how
 * many. Only copies from the current router generation count (outbox_router_changed). */
size_t outbox_take_done(struct outbox *ob, struct mqg_wire_ack *out, size_t cap);

/* The router restarted: the next generation begins. Tracked copies not yet handed to the
 * client are discarded (the sources send them again from their journals); those in flight
 * finish, but are not confirmed. */
void outbox_router_changed(struct outbox *ob);

/* Messages held (waiting and in flight). */
size_t outbox_queued(const struct outbox *ob);

void outbox_stats(const struct outbox *ob, struct outbox_stats *st);

/* Log the summaries of drops for what messages are (PUB-BAD-TOPIC, PUB-TOO-LARGE) that are
 * due at now (ms). Call now and then (every loop turn is fine). */
void outbox_report(struct outbox *ob, int64_t now);

#endif
