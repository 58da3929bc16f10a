/* mqg_wire — the framing of messages between connectors and the router (ZeroMQ).
 *
 * Pure encode/decode, no ZeroMQ calls (mqg_bus.c does the sockets). A message is multipart:
 *   frame 1: fixed 16-byte header (this file)
 *   frame 2: topic (UTF-8, no NUL, 1..65535 bytes)          [DATA only]
 *   frame 3: payload (any bytes, may be empty)               [DATA only]
 * or, for BATCH and REPLAY_BATCH (many messages in one ZeroMQ message, what the gateway
 * itself sends):
 *   frame 1: header;  frame 2: body = one or more records, back to back:
 *     0 flags | 1 qos | 2..3 topic length (uint16) | 4..7 payload length (uint32) |
 *     [tracked (flag TRACK): 8..9 source connection (uint16) | 10..17 source seq (uint64)] |
 *     topic | payload
 * or, for ACK and MARKS: frame 1: header; frame 2: entries of 11 bytes:
 *     0 type | 1..2 connection index (uint16) | 3..10 seq (uint64)
 * Header layout, network byte order:
 *   0 magic 'M' (0x4d) | 1 version (2) | 2 kind | 3 flags | 4 qos | 5 reserved (0) |
 *   6..7 aux (uint16: the target of the REPLAY kinds, 0 otherwise) |
 *   8..15 sequence number (uint64)
 * The delivery protocol these kinds carry (journal, acknowledgements, replays) is described
 * in docs/delivery.md.
 * A frame that breaks any rule is rejected by the decoder with -EPROTO; the receiver counts
 * and drops it.
 */
#ifndef MQG_WIRE_H
#define MQG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQG_WIRE_MAGIC 0x4d
#define MQG_WIRE_VERSION 2
#define MQG_WIRE_HDR_LEN 16

enum mqg_wire_kind {
    MQG_MSG_DATA = 1,         /* topic + payload */
    MQG_MSG_ACK = 2,          /* entries: DONE (target -> router), RELEASE and MARK (router ->
                               * source) */
    MQG_MSG_HELLO = 3,        /* connector -> router, every second: I am here; seq = the
                               * connector's incarnation id */
    MQG_MSG_READY = 4,        /* router -> connector: routes are ready; seq = router's epoch */
    MQG_MSG_BATCH = 5,        /* records (topic + payload + flags + qos) in one body frame */
    MQG_MSG_MARKS = 6,        /* source -> router: entries RELEASE and MARK from its journal */
    MQG_MSG_REPLAY = 7,       /* router -> source: replay for target aux from seq */
    MQG_MSG_REPLAY_BATCH = 8, /* source -> router: tracked records replayed for target aux */
    MQG_MSG_REPLAY_DONE = 9,  /* source -> router: replay for target aux sent through seq;
                               * flag END: the journal's end was reached */
    MQG_MSG_LINK = 10,        /* connector -> router: qos 1 = broker connected, 0 = not */
};
#define MQG_MSG_KIND_MAX MQG_MSG_LINK

#define MQG_WIRE_REC_HDR_LEN 8
#define MQG_WIRE_TRACK_LEN 10 /* source connection and seq of a tracked record */

/* Record flags (and the header flags of DATA). */
#define MQG_WIRE_F_RETAIN 0x01
#define MQG_WIRE_F_DUP 0x02   /* a redelivery: this message may have been sent before */
#define MQG_WIRE_F_TRACK 0x04 /* a tracked QoS >= 1 message: src and seq follow the header */
#define MQG_WIRE_F_MASK 0x07
/* Header flag of REPLAY_DONE. */
#define MQG_WIRE_F_END 0x04

struct mqg_wire_hdr {
    uint8_t kind;
    uint8_t flags;
    uint8_t qos;
    uint64_t seq;
    uint16_t aux;
};

/* One message inside a BATCH body (topic/payload point into the body, not NUL-terminated).
 * src and seq are meaningful when flags has MQG_WIRE_F_TRACK. */
struct mqg_wire_rec {
    uint8_t flags;
    uint8_t qos;
    const char *topic;
    size_t topic_len;
    const void *payload;
    size_t payload_len;
    uint16_t src;
    uint64_t seq;
};

/* Bytes an untracked record takes in a body. */
static inline size_t mqg_wire_rec_size(size_t topic_len, size_t payload_len)
{
    return MQG_WIRE_REC_HDR_LEN + topic_len + payload_len;
}

/* Bytes record r takes in a body (tracked records carry MQG_WIRE_TRACK_LEN more). */
static inline size_t mqg_wire_rec_bytes(const struct mqg_wire_rec *r)
{
    return mqg_wire_rec_size(r->topic_len, r->payload_len) +
           ((r->flags & MQG_WIRE_F_TRACK) ? MQG_WIRE_TRACK_LEN : 0);
}

/* Encode r at out (mqg_wire_rec_bytes() bytes). topic_len must be <= 65535 and payload_len
 * < 2^32; the caller checks. */
void mqg_wire_rec_encode(const struct mqg_wire_rec *r, uint8_t *out);

/* One entry of an ACK or MARKS body. */
enum mqg_wire_ack_type {
    MQG_ACK_DONE = 1,    /* target -> router: copies from source idx done through seq */
    MQG_ACK_RELEASE = 2, /* router -> source (and MARKS): all through seq confirmed; idx 0 */
    MQG_ACK_MARK = 3,    /* router -> source (and MARKS): target idx has all through seq */
};
#define MQG_WIRE_ACK_LEN 11

struct mqg_wire_ack {
    uint8_t type;
    uint16_t idx;
    uint64_t seq;
};

/* Encode a at out (MQG_WIRE_ACK_LEN bytes). */
void mqg_wire_ack_encode(const struct mqg_wire_ack *a, uint8_t out[MQG_WIRE_ACK_LEN]);

/* Read the entry at *off of body[0..len): 1 (and advance *off), 0 at the end, -EPROTO if the
 * entry is cut short or its type is unknown. */
int mqg_wire_ack_next(const void *body, size_t len, size_t *off, struct mqg_wire_ack *out);

/* Read the record at *off in body[0..len): returns 1 and advances *off, 0 at the end of the
 * body, -EPROTO if the record is cut short or its flags/qos are invalid (the topic itself is
 * checked by mqg_wire_validate). */
int mqg_wire_rec_next(const void *body, size_t len, size_t *off, struct mqg_wire_rec *out);

/* Write the 16-byte header for h into out. */
void mqg_wire_hdr_encode(const struct mqg_wire_hdr *h, uint8_t out[MQG_WIRE_HDR_LEN]);

/* Parse a header frame. Returns 0, or -EPROTO if len != 16, magic/version differ, kind is
 * unknown, flags have unknown bits, qos > 2, the reserved byte is not zero or aux is not zero
 * for a kind that has none. */
int mqg_wire_hdr_decode(const void *buf, size_t len, struct mqg_wire_hdr *out);

/* Number of frames a message of this kind must have (DATA 3; BATCH, REPLAY_BATCH, ACK and
 * MARKS 2; others 1). */
int mqg_wire_frames(uint8_t kind);

/* Is this a valid topic frame (1..65535 bytes, no NUL, no wildcards, valid UTF-8)? */
bool mqg_wire_topic_ok(const void *buf, size_t len);

/* Validate a whole message given its frames: header decodes, frame count matches the kind,
 * topic frame ok; for BATCH and REPLAY_BATCH every record of the body is complete and valid
 * and there is at least one (REPLAY_BATCH: all tracked); for ACK and MARKS the body is one or
 * more whole entries of known types. Returns 0 (and fills *h) or -EPROTO. */
int mqg_wire_validate(size_t nframes, const void *const *frames, const size_t *lens,
                      struct mqg_wire_hdr *h);

#endif
