/* mqg_tap — what `mqgate tap` shows: the frames the router offers on its tap socket
 * (mqg_bus_tap_*), the MQTT filters a tap picks messages with, and the lines it prints. Pure
 * logic, no ZeroMQ, no global state.
 *
 * A frame (little endian): a header of MQG_TAP_HDR_LEN bytes — "MQT1", u32 count, u64 epoch
 * (the router process that sent it), u64 seq of its first message (the router numbers every
 * message it offers, so a tap sees from a gap how many it missed), i64 wall-clock ms when the
 * router took the messages — then `count` messages, each: u8 flags (bit 0: retain), u8 QoS,
 * u16 topic length, u32 payload size, u32 bytes of the payload that follow (at most
 * MQG_TAP_PAYLOAD_MAX: the rest is not copied), the topic, those bytes.
 */
#ifndef MQG_TAP_H
#define MQG_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mqg_wire.h"

#define MQG_TAP_HDR_LEN 32
#define MQG_TAP_REC_HDR_LEN 12
/* Bytes of a payload the router copies for the tap; --max-bytes cannot show more. */
#define MQG_TAP_PAYLOAD_MAX 65536
/* The router sends a frame once it holds this much (and at the end of every turn). */
#define MQG_TAP_FRAME_BYTES 65536
/* The largest frame: a full one plus one more message. */
#define MQG_TAP_FRAME_MAX (MQG_TAP_FRAME_BYTES + MQG_TAP_REC_HDR_LEN + 65535 + MQG_TAP_PAYLOAD_MAX)

/* ---- the router's side: building a frame ---- */

struct mqg_tap_frame {
    uint8_t *buf; /* header, then the messages */
    size_t len, cap;
    uint32_t count;
    uint64_t first; /* seq of the first message */
};

/* Append a message (the topic of rec, its QoS and retain flag, its payload up to
 * MQG_TAP_PAYLOAD_MAX bytes) numbered seq; the first of a frame sets its first seq. Returns 0,
 * -EINVAL (topic longer than 65535 bytes) or -ENOMEM. */
int mqg_tap_frame_add(struct mqg_tap_frame *f, uint64_t seq, const struct mqg_wire_rec *rec);

/* Write the header: the frame in f->buf[0..f->len) is then ready to send. An empty frame
 * (count 0) carries f->first as the caller set it: the number the next message will get. */
void mqg_tap_frame_seal(struct mqg_tap_frame *f, uint64_t epoch, int64_t wall_ms);

/* Empty it for the next messages (the buffer stays). */
void mqg_tap_frame_reset(struct mqg_tap_frame *f);

/* Free the buffer; clears *f. */
void mqg_tap_frame_free(struct mqg_tap_frame *f);

/* ---- the tap's side: reading a frame ---- */

struct mqg_tap_view {
    const uint8_t *buf;
    size_t len;
    uint32_t count;
    uint64_t epoch, first;
    int64_t wall_ms;
};

struct mqg_tap_msg {
    bool retain;
    uint8_t qos;
    const char *topic; /* not NUL-terminated */
    size_t topic_len;
    size_t size; /* of the whole payload */
    const uint8_t *payload;
    size_t copied; /* bytes of it at payload (<= size) */
};

/* Read a frame's header. Returns 0, or -EPROTO when it is not one. */
int mqg_tap_open(const void *buf, size_t len, struct mqg_tap_view *v);

/* The frame's messages one per call, starting with *off = 0. Returns 1 (m filled), 0 after
 * the last, -EPROTO when the frame is cut or damaged. */
int mqg_tap_next(const struct mqg_tap_view *v, size_t *off, struct mqg_tap_msg *m);

/* Messages the router offered that a tap did not get: count the gaps between frames. */
struct mqg_tap_gaps {
    bool started;
    uint64_t epoch, next; /* the seq expected next from this router process */
    uint64_t missed;
};

/* Account for frame v; returns how many were missed just before it (0 for the first frame and
 * the first of a new router process). */
uint64_t mqg_tap_gaps_frame(struct mqg_tap_gaps *g, const struct mqg_tap_view *v);

/* ---- picking and printing ---- */

/* Whether topic[0..len) matches one of the n MQTT filters. */
bool mqg_tap_match(char *const *filters, size_t n, const char *topic, size_t len);

/* Whether p[0..n) is text to show as it is: well-formed UTF-8 without control characters
 * other than tab, newline and carriage return. incomplete_ok: a multi-byte character cut at
 * the end is allowed (a payload cut short). */
bool mqg_tap_printable(const uint8_t *p, size_t n, bool incomplete_ok);

/* How the messages are printed. */
struct mqg_tap_fmt {
    bool json;
    size_t max_bytes; /* of the payload shown */
};

/* One line for m, taken at wall_ms: "TIME TOPIC qos=Q retain=0|1 size=N text|hex PAYLOAD" with
 * " (+M bytes)" when the payload is cut, or one JSON object: {"time", "topic", "qos",
 * "retain", "size", "encoding": "text"|"hex", "payload", "truncated"}. The payload is text
 * when the shown part is printable (mqg_tap_printable; in a line, tab, newline and carriage
 * return as \t \n \r), else hex. */
void mqg_tap_print(FILE *f, const struct mqg_tap_fmt *fmt, int64_t wall_ms,
                   const struct mqg_tap_msg *m);

#endif
