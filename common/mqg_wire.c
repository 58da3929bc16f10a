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

void mqg_wire_hdr_encode(const struct mqg_wire_hdr *h, uint8_t out[MQG_WIRE_HDR_LEN])
{
    out[0] = MQG_WIRE_MAGIC;
    out[1] = MQG_WIRE_VERSION;
    out[2] = h->kind;
    out[3] = h->flags;
    out[4] = h->qos;
    out[5] = 0;
    out[6] = 0;
    out[7] = 0;
    for (int i = 0; i < 8; i++) {
        out[8 + i] = (uint8_t)(h->seq >> (56 - 8 * i));
    }
}

static bool s_kind_known(uint8_t kind)
{
    return kind >= MQG_MSG_DATA && kind <= MQG_MSG_BATCH;
}

int mqg_wire_hdr_decode(const void *buf, size_t len, struct mqg_wire_hdr *out)
{
    const uint8_t *b = buf;
    if (!b || len != MQG_WIRE_HDR_LEN) {
        return -EPROTO;
    }
    if (b[0] != MQG_WIRE_MAGIC || b[1] != MQG_WIRE_VERSION || !s_kind_known(b[2]) ||
        (b[3] & ~MQG_WIRE_F_MASK) != 0 || b[4] > 2 || b[5] != 0 || b[6] != 0 || b[7] != 0) {
        return -EPROTO;
    }
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++) {
        seq = (seq << 8) | b[8 + i];
    }
    if (out) {
        out->kind = b[2];
        out->flags = b[3];
        out->qos = b[4];
        out->seq = seq;
    }
    return 0;
}

int mqg_wire_frames(uint8_t kind)
{
    if (!s_kind_known(kind)) {
        return -EPROTO;
    }
    return kind == MQG_MSG_DATA ? 3 : kind == MQG_MSG_BATCH ? 2 : 1;
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
    memcpy(out + MQG_WIRE_REC_HDR_LEN, r->topic, r->topic_len);
    if (r->payload_len) {
        memcpy(out + MQG_WIRE_REC_HDR_LEN + r->topic_len, r->payload, r->payload_len);
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
    if ((h[0] & ~MQG_WIRE_F_MASK) != 0 || h[1] > 2 || len - o - MQG_WIRE_REC_HDR_LEN < tl ||
        len - o - MQG_WIRE_REC_HDR_LEN - tl < pl) {
        return -EPROTO;
    }
    out->flags = h[0];
    out->qos = h[1];
    out->topic = (const char *)h + MQG_WIRE_REC_HDR_LEN;
    out->topic_len = tl;
    out->payload = h + MQG_WIRE_REC_HDR_LEN + tl;
    out->payload_len = pl;
    *off = o + MQG_WIRE_REC_HDR_LEN + tl + pl;
    return 1;
}

static int s_batch_ok(const void *body, size_t len)
{
    size_t off = 0;
    int n = 0;
    struct mqg_wire_rec r;
    int rc;
    while ((rc = mqg_wire_rec_next(body, len, &off, &r)) == 1) {
        if (!mqg_wire_topic_ok(r.topic, r.topic_len)) {
            return -EPROTO;
        }
        n++;
    }
    return rc == 0 && n > 0 ? 0 : -EPROTO;
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
    if (hdr.kind == MQG_MSG_BATCH && s_batch_ok(frames[1], lens[1]) != 0) {
        return -EPROTO;
    }
    if (h) {
        *h = hdr;
    }
    return 0;
}
