/* mqg_bus — the ZeroMQ sockets between connectors and the router (the only zmq.h user).
 *
 * The router binds one ROUTER socket (ipc:// in the runtime directory, or tcp://); every
 * connector connects a DEALER whose routing id is its connection key. Messages are framed by
 * mqg_wire. Sends never block: -EAGAIN means "queue it and retry when writable",
 * -EHOSTUNREACH (router side) means the peer is not connected right now. Not thread-safe:
 * each bus belongs to its process's poll loop.
 */
#ifndef MQG_BUS_H
#define MQG_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "mqg_wire.h"

struct mqg_bus;

/* A received message. topic/payload point into frames owned by the message; they stay valid
 * until mqg_bus_msg_close(). topic is NOT NUL-terminated. */
struct mqg_bus_msg {
    struct mqg_wire_hdr hdr;
    const char *peer; /* router side: sender's routing id (not NUL-terminated) */
    size_t peer_len;
    const char *topic;
    size_t topic_len;
    const void *payload;
    size_t payload_len;
    void *frames; /* internal */
};

/* Router side: bind a ROUTER socket at endpoint. Returns 0 or a negative errno. */
int mqg_bus_bind(const char *endpoint, int hwm, struct mqg_bus **out);

/* Connector side: connect a DEALER with routing id `identity`. Returns 0 or negative errno. */
int mqg_bus_connect(const char *endpoint, const char *identity, int hwm, struct mqg_bus **out);

/* NULL-safe; linger 0; clears *b. The process's ZeroMQ context ends with the last bus. */
void mqg_bus_destroy(struct mqg_bus **b);

/* The fd to poll for POLLIN; after it fires, check mqg_bus_events() (edge-triggered). */
int mqg_bus_fd(const struct mqg_bus *b);

/* Current readiness: bit 1 = a message can be received, bit 2 = a message can be sent. */
int mqg_bus_events(const struct mqg_bus *b);
#define MQG_BUS_IN 1
#define MQG_BUS_OUT 2

/* Receive one message without blocking. Returns 0 (fill *m, close it later), -EAGAIN when
 * nothing is waiting, -EPROTO for a malformed message (already dropped; caller counts it). */
int mqg_bus_recv(struct mqg_bus *b, struct mqg_bus_msg *m);

/* Release the frames of a received message. */
void mqg_bus_msg_close(struct mqg_bus_msg *m);

/* Send a message (copies topic and payload). peer: routing id on the router side, NULL on the
 * connector side. For kinds other than DATA, topic/payload are ignored. Returns 0, -EAGAIN,
 * -EHOSTUNREACH, or another negative errno. */
int mqg_bus_send(struct mqg_bus *b, const char *peer, size_t peer_len, const struct mqg_wire_hdr *h,
                 const char *topic, size_t topic_len, const void *payload, size_t payload_len);

/* Like mqg_bus_send, but the payload frame is shared with the received message src (no copy
 * for large payloads). src stays valid and must still be closed. */
int mqg_bus_forward(struct mqg_bus *b, const char *peer, size_t peer_len,
                    const struct mqg_wire_hdr *h, const char *topic, size_t topic_len,
                    struct mqg_bus_msg *src);

#endif
