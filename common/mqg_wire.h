/* mqg_wire — the framing of messages between connectors and the router (ZeroMQ).
 *
 * Pure encode/decode, no ZeroMQ calls (mqg_bus.c does the sockets). A message is multipart:
 *   frame 1: fixed 16-byte header (this file)
 *   frame 2: topic (UTF-8, no NUL, 1..65535 bytes)          [DATA only]
 *   frame 3: payload (any bytes, may be empty)               [DATA only]
 * or, for BATCH (many messages in one ZeroMQ message, what the gateway itself sends):
 *   frame 1: header;  frame 2: body = one or more records, back to back:
 *     0 flags | 1 qos | 2..3 topic length (uint16) | 4..7 payload length (uint32) | topic |
 *     payload
 * Header layout, network byte order:
 *   0 magic 'M' (0x4d) | 1 version (1) | 2 kind | 3 flags | 4 qos | 5..7 reserved (0)
 *   8..15 sequence number (uint64)
 * A frame that breaks any rule is rejected by the decoder with -EPROTO; the receiver counts
 * and drops it.
 */
#ifndef MQG_WIRE_H
#define MQG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQG_WIRE_MAGIC 0x4d
#define MQG_WIRE_VERSION 1
#define MQG_WIRE_HDR_LEN 16

enum mqg_wire_kind {
    MQG_MSG_DATA = 1,  /* topic + payload */
    MQG_MSG_ACK = 2,   /* seq acknowledged (reserved for hop-by-hop QoS acks) */
    MQG_MSG_HELLO = 3, /* connector -> router: I am here, are your routes ready? */
    MQG_MSG_READY = 4, /* router -> connector: routes are ready */
    MQG_MSG_BATCH = 5, /* records (topic + payload + flags + qos) in one body frame */
};

#define MQG_WIRE_REC_HDR_LEN 8

#define MQG_WIRE_F_RETAIN 0x01
#define MQG_WIRE_F_DUP 0x02
#define MQG_WIRE_F_MASK 0x03

struct mqg_wire_hdr {
    uint8_t kind;
    uint8_t flags;
    uint8_t qos;
    uint64_t seq;
};

/* One message inside a BATCH body (topic/payload point into the body, not NUL-terminated). */
struct mqg_wire_rec {
    uint8_t flags;
    uint8_t qos;
    const char *topic;
    size_t topic_len;
    const void *payload;
    size_t payload_len;
};

/* Bytes a record takes in a body. */
static inline size_t mqg_wire_rec_size(size_t topic_len, size_t payload_len)
{
    return MQG_WIRE_REC_HDR_LEN + topic_len + payload_len;
}

/* Encode r at out (mqg_wire_rec_size() bytes). topic_len must be <= 65535 and payload_len
 * < 2^32; the caller checks. */
void mqg_wire_rec_encode(const struct mqg_wire_rec *r, uint8_t *out);

/* Read the record at *off in body[0..len): returns 1 and advances *off, 0 at the end of the
 * body, -EPROTO if the record is cut short or its flags/qos are invalid (the topic itself is
 * checked by mqg_wire_validate). */
int mqg_wire_rec_next(const void *body, size_t len, size_t *off, struct mqg_wire_rec *out);

/* Write the 16-byte header for h into out. */
void mqg_wire_hdr_encode(const struct mqg_wire_hdr *h, uint8_t out[MQG_WIRE_HDR_LEN]);

/* Parse a header frame. Returns 0, or -EPROTO if len != 16, magic/version differ, kind is
 * unknown, flags have unknown bits, qos > 2 or reserved bytes are not zero. */
int mqg_wire_hdr_decode(const void *buf, size_t len, struct mqg_wire_hdr *out);

/* Number of frames a message of this kind must have (DATA 3, BATCH 2, others 1). */
int mqg_wire_frames(uint8_t kind);

/* Is this a valid topic frame (1..65535 bytes, no NUL, no wildcards, valid UTF-8)? */
bool mqg_wire_topic_ok(const void *buf, size_t len);

/* Validate a whole message given its frames: header decodes, frame count matches the kind,
 * topic frame ok; for BATCH every record of the body is complete and valid and there is at
 * least one. Returns 0 (and fills *h) or -EPROTO. */
int mqg_wire_validate(size_t nframes, const void *const *frames, const size_t *lens,
                      struct mqg_wire_hdr *h);

#endif
