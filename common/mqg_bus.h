/* mqg_bus — the ZeroMQ sockets between connectors and the router (the only zmq.h user).
 *
 * The router binds one ROUTER socket at an endpoint (the gateway uses ipc:// in the runtime
 * directory; nothing here is specific to ipc://, so tcp:// works too); every connector connects a
 * DEALER whose routing id is its connection key. Messages are framed by mqg_wire. Sends never
 * block: -EAGAIN means "queue it and retry when writable", -EHOSTUNREACH (router side) means the
 * peer is not connected right now. Not thread-safe: each bus belongs to its process's poll loop.
 * The router also offers copies of the internal topics' messages to `mqgate tap` on a second
 * socket (XPUB/SUB, mqg_bus_tap_* below; the frames are mqg_tap.h's).
 */
#ifndef MQG_BUS_H
#define MQG_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_wire.h"

struct mqg_bus;

/* A received message. topic/payload point into frames owned by the message; they stay valid
 * until mqg_bus_msg_close(). topic is NOT NUL-terminated. body: the second frame of BATCH,
 * REPLAY_BATCH, ACK and MARKS. */
struct mqg_bus_msg {
    struct mqg_wire_hdr hdr;
    const char *peer; /* router side: sender's routing id (not NUL-terminated) */
    size_t peer_len;
    const char *topic;
    size_t topic_len;
    const void *payload;
    size_t payload_len;
    const void *body; /* BATCH: the records */
    size_t body_len;
    void *frames; /* internal */
};

/* Messages (DATA or BATCH) a bus pipe holds in each direction before sends return -EAGAIN;
 * the processes keep their own bounded queues behind it. A BATCH carries up to about
 * MQG_BUS_BATCH_BYTES, so this bounds a pipe to about 4 MiB; more does not go faster. */
#define MQG_BUS_HWM 64

/* A BATCH body is cut at about this many bytes (one larger record still goes alone). */
#define MQG_BUS_BATCH_BYTES 65536

/* Router side: bind a ROUTER socket at endpoint. Returns 0 or a negative errno. */
int mqg_bus_bind(const char *endpoint, int hwm, struct mqg_bus **out);

/* Connector side: connect a DEALER with routing id `identity`. Returns 0 or negative errno. */
int mqg_bus_connect(const char *endpoint, const char *identity, int hwm, struct mqg_bus **out);

/* NULL-safe; clears *b (linger 0 unless mqg_bus_set_linger). The process's ZeroMQ context
 * ends with the last bus. */
void mqg_bus_destroy(struct mqg_bus **b);

/* Sockets are made with no linger: what is still queued when one is destroyed is dropped
 * (a process that is killed or restarted must not wait for a router that is gone). A clean
 * stop that has just sent what the peer must not miss (a connector's last confirmations)
 * sets a linger first: mqg_bus_destroy then waits up to ms for it to be sent. */
void mqg_bus_set_linger(struct mqg_bus *b, int ms);

/* The fd to poll for POLLIN; after it fires, check mqg_bus_events() (edge-triggered). */
int mqg_bus_fd(const struct mqg_bus *b);

/* Current readiness: bit 1 = a message can be received, bit 2 = a message can be sent. */
int mqg_bus_events(const struct mqg_bus *b);
#define MQG_BUS_IN 1
#define MQG_BUS_OUT 2

/* Receive one message without blocking. Returns 0 (fill *m, close it later), -EAGAIN when
 * nothing is waiting, -EPROTO for a malformed message (already dropped; caller counts it). */
int mqg_bus_recv(struct mqg_bus *b, struct mqg_bus_msg *m);

/* The messages of a received DATA or BATCH message, one per call: start with *off = 0.
 * Returns 1 (rec filled), 0 when there are no more. (mqg_bus_recv validated them all.) */
int mqg_bus_msg_next(const struct mqg_bus_msg *m, size_t *off, struct mqg_wire_rec *rec);

/* The entries of a received ACK or MARKS message, one per call: start with *off = 0.
 * Returns 1 (a filled), 0 when there are no more (or the message is of another kind). */
int mqg_bus_msg_next_ack(const struct mqg_bus_msg *m, size_t *off, struct mqg_wire_ack *a);

/* Release the frames of a received message. */
void mqg_bus_msg_close(struct mqg_bus_msg *m);

/* Send a header-only message (HELLO, READY, ACK) of this kind. peer: routing id on the router
 * side, NULL on the connector side. Returns 0, -EAGAIN, -EHOSTUNREACH, or another negative
 * errno. (Data always goes as BATCH: mqg_bus_send_batch.) */
int mqg_bus_send_ctl(struct mqg_bus *b, const char *peer, size_t peer_len, uint8_t kind);

/* Send a header-only message with every header field given (HELLO with an incarnation id,
 * READY with an epoch, REPLAY, REPLAY_DONE, LINK). Returns like mqg_bus_send_ctl. */
int mqg_bus_send_hdr(struct mqg_bus *b, const char *peer, size_t peer_len,
                     const struct mqg_wire_hdr *h);

/* Send a two-frame message: header h and a body of len bytes (copied): BATCH, REPLAY_BATCH,
 * ACK, MARKS. Returns like mqg_bus_send_ctl. */
int mqg_bus_send_body(struct mqg_bus *b, const char *peer, size_t peer_len,
                      const struct mqg_wire_hdr *h, const void *body, size_t len);

/* Send a BATCH whose body is len bytes of encoded records (copied; see mqg_fifo). Returns
 * like mqg_bus_send_ctl. */
int mqg_bus_send_batch(struct mqg_bus *b, const char *peer, size_t peer_len, uint64_t seq,
                       const void *body, size_t len);

/* ---- the tap (mqgate tap) ----
 * The router binds an XPUB socket; taps connect a SUB socket subscribed to everything. The
 * router sends only while someone listens; a tap that does not read fills its pipe up to hwm
 * messages, after which ZeroMQ drops what is sent to it (never blocking the router). */

/* Router side: bind the tap socket at endpoint (a warning TAP-BIND when it cannot). Returns 0
 * or a negative errno. */
int mqg_bus_tap_bind(const char *endpoint, int hwm, struct mqg_bus **out);

/* Tap side: connect a SUB socket subscribed to everything. Returns 0 or a negative errno. */
int mqg_bus_tap_connect(const char *endpoint, int hwm, struct mqg_bus **out);

/* Router side: read the subscription changes waiting: *joined counts the taps that
 * subscribed, *listened becomes false when the last tap left and true when one subscribed
 * (the state after the changes read; unchanged when there were none). 0 or a negative errno. */
int mqg_bus_tap_changes(struct mqg_bus *b, int *joined, bool *listened);

/* Router side: offer one frame to every tap without blocking. 0 or a negative errno. */
int mqg_bus_tap_send(struct mqg_bus *b, const void *buf, size_t len);

/* Tap side: receive one frame into buf without blocking. 0 (*len: its size), -EAGAIN,
 * -EMSGSIZE (it was longer than cap and is cut), or another negative errno. */
int mqg_bus_tap_recv(struct mqg_bus *b, void *buf, size_t cap, size_t *len);

#endif
