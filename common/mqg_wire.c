/* mqg_wire — encode and strictly decode the frames exchanged over ZeroMQ (see mqg_wire.h).
 *
 * Pure byte handling, no ZeroMQ calls, no allocation, no global state. Every input is
 * untrusted (it may come from a remote connector over tcp://): the decoder checks every byte
 * of the header and never reads outside the given lengths. Fuzzed by fuzz/fuzz_wire.c.
 */
#include "mqg_wire.h"

#include "mqg_topic.h"

#include <errno.h>
#include <string.h>

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

void mqg_wire_hdr_encode(const struct mqg_wire_hdr *h, uint8_t out[MQG_WIRE_HDR_LEN])
{
    out[0] = MQG_WIRE_MAGIC;
    out[1] = MQG_WIRE_VERSION;
    out[2] = h->kind;
    out[3] = h->flags;
    out[4] = h->qos;
    out[5] = 0;
    out[6] = (uint8_t)(h->aux >> 8);
    out[7] = (uint8_t)h->aux;
    s_put64(out + 8, h->seq);
}

static bool s_kind_known(uint8_t kind)
{
    return kind >= MQG_MSG_DATA && kind <= MQG_MSG_KIND_MAX;
}

/* The kinds whose header carries a target in aux. */
static bool s_kind_has_aux(uint8_t kind)
{
    return kind == MQG_MSG_REPLAY || kind == MQG_MSG_REPLAY_BATCH || kind == MQG_MSG_REPLAY_DONE;
}

int mqg_wire_hdr_decode(const void *buf, size_t len, struct mqg_wire_hdr *out)
{
    const uint8_t *b = buf;
    if (!b || len != MQG_WIRE_HDR_LEN) {
        return -EPROTO;
    }
    if (b[0] != MQG_WIRE_MAGIC || b[1] != MQG_WIRE_VERSION || !s_kind_known(b[2]) ||
        (b[3] & ~MQG_WIRE_F_MASK) != 0 || b[4] > 2 || b[5] != 0 ||
        (!s_kind_has_aux(b[2]) && (b[6] != 0 || b[7] != 0))) {
        return -EPROTO;
    }
    if (out) {
        out->kind = b[2];
        out->flags = b[3];
        out->qos = b[4];
        out->aux = (uint16_t)(b[6] << 8 | b[7]);
        out->seq = s_get64(b + 8);
    }
    return 0;
}

int mqg_wire_frames(uint8_t kind)
{
    if (!s_kind_known(kind)) {
        return -EPROTO;
    }
    switch (kind) {
    case MQG_MSG_DATA:
        return 3;
    case MQG_MSG_BATCH:
    case MQG_MSG_REPLAY_BATCH:
    case MQG_MSG_ACK:
    case MQG_MSG_MARKS:
        return 2;
    default:
        return 1;
    }
}

bool mqg_wire_topic_ok(const void *buf, size_t len)
{
    if (!buf || len == 0 || len > MQG_TOPIC_MAX) {
        return false;
    }
    /* mqg_topic_utf8_ok() rejects NUL bytes too. */
    return !memchr(buf, '+', len) && !memchr(buf, '#', len) && mqg_topic_utf8_ok(buf, len);
}

void mqg_wire_rec_encode(const struct mqg_wire_rec *r, uint8_t *out)
{
    out[0] = r->flags;
    out[1] = r->qos;
    out[2] = (uint8_t)(r->topic_len >> 8);
    out[3] = (uint8_t)r->topic_len;
    out[4] = (uint8_t)(r->payload_len >> 24);
    out[5] = (uint8_t)(r->payload_len >> 16);
    out[6] = (uint8_t)(r->payload_len >> 8);
    out[7] = (uint8_t)r->payload_len;
    out += MQG_WIRE_REC_HDR_LEN;
    if (r->flags & MQG_WIRE_F_TRACK) {
        out[0] = (uint8_t)(r->src >> 8);
        out[1] = (uint8_t)r->src;
        s_put64(out + 2, r->seq);
        out += MQG_WIRE_TRACK_LEN;
    }
    memcpy(out, r->topic, r->topic_len);
    if (r->payload_len) {
        memcpy(out + r->topic_len, r->payload, r->payload_len);
    }
}

int mqg_wire_rec_next(const void *body, size_t len, size_t *off, struct mqg_wire_rec *out)
{
    const uint8_t *b = body;
    size_t o = *off;
    if (o >= len) {
        return 0;
    }
    if (len - o < MQG_WIRE_REC_HDR_LEN) {
        return -EPROTO;
    }
    const uint8_t *h = b + o;
    size_t tl = (size_t)h[2] << 8 | h[3];
    size_t pl = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
    size_t hl = MQG_WIRE_REC_HDR_LEN + ((h[0] & MQG_WIRE_F_TRACK) ? MQG_WIRE_TRACK_LEN : 0);
    if ((h[0] & ~MQG_WIRE_F_MASK) != 0 || h[1] > 2 || len - o < hl || len - o - hl < tl ||
        len - o - hl - tl < pl) {
        return -EPROTO;
    }
    out->flags = h[0];
    out->qos = h[1];
    out->src = 0;
    out->seq = 0;
    if (h[0] & MQG_WIRE_F_TRACK) {
        out->src = (uint16_t)(h[8] << 8 | h[9]);
        out->seq = s_get64(h + 10);
    }
    out->topic = (const char *)h + hl;
    out->topic_len = tl;
    out->payload = h + hl + tl;
    out->payload_len = pl;
    *off = o + hl + tl + pl;
    return 1;
}

void mqg_wire_ack_encode(const struct mqg_wire_ack *a, uint8_t out[MQG_WIRE_ACK_LEN])
{
    out[0] = a->type;
    out[1] = (uint8_t)(a->idx >> 8);
    out[2] = (uint8_t)a->idx;
    s_put64(out + 3, a->seq);
}

int mqg_wire_ack_next(const void *body, size_t len, size_t *off, struct mqg_wire_ack *out)
{
    const uint8_t *b = body;
    size_t o = *off;
    if (o >= len) {
        return 0;
    }
    if (len - o < MQG_WIRE_ACK_LEN || b[o] < MQG_ACK_DONE || b[o] > MQG_ACK_MARK) {
        return -EPROTO;
    }
    out->type = b[o];
    out->idx = (uint16_t)(b[o + 1] << 8 | b[o + 2]);
    out->seq = s_get64(b + o + 3);
    *off = o + MQG_WIRE_ACK_LEN;
    return 1;
}

/* Every record whole, with a valid topic, at least one; all tracked if must_track. */
static int s_batch_ok(const void *body, size_t len, bool must_track)
{
    size_t off = 0;
    int n = 0;
    struct mqg_wire_rec r;
    int rc;
    while ((rc = mqg_wire_rec_next(body, len, &off, &r)) == 1) {
        if (!mqg_wire_topic_ok(r.topic, r.topic_len) ||
            (must_track && !(r.flags & MQG_WIRE_F_TRACK))) {
            return -EPROTO;
        }
        n++;
    }
    return rc == 0 && n > 0 ? 0 : -EPROTO;
}

/* One or more whole entries of known types. */
static int s_acks_ok(const void *body, size_t len)
{
    size_t off = 0;
    struct mqg_wire_ack a;
    int rc;
    while ((rc = mqg_wire_ack_next(body, len, &off, &a)) == 1) {
    }
    return rc == 0 && len > 0 ? 0 : -EPROTO;
}

int mqg_wire_validate(size_t nframes, const void *const *frames, const size_t *lens,
                      struct mqg_wire_hdr *h)
{
    struct mqg_wire_hdr hdr;
    if (nframes == 0 || !frames || !lens) {
        return -EPROTO;
    }
    for (size_t i = 0; i < nframes; i++) {
        if (!frames[i] && lens[i] > 0) {
            return -EPROTO;
        }
    }
    if (mqg_wire_hdr_decode(frames[0], lens[0], &hdr) < 0) {
        return -EPROTO;
    }
    if (nframes != (size_t)mqg_wire_frames(hdr.kind)) {
        return -EPROTO;
    }
    if (hdr.kind == MQG_MSG_DATA && !mqg_wire_topic_ok(frames[1], lens[1])) {
        return -EPROTO;
    }
    if ((hdr.kind == MQG_MSG_BATCH || hdr.kind == MQG_MSG_REPLAY_BATCH) &&
        s_batch_ok(frames[1], lens[1], hdr.kind == MQG_MSG_REPLAY_BATCH) != 0) {
        return -EPROTO;
    }
    if ((hdr.kind == MQG_MSG_ACK || hdr.kind == MQG_MSG_MARKS) &&
        s_acks_ok(frames[1], lens[1]) != 0) {
        return -EPROTO;
    }
    if (h) {
        *h = hdr;
    }
    return 0;
}
