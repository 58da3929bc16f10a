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
    return kind >= MQG_MSG_DATA && kind <= MQG_MSG_READY;
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
    return kind == MQG_MSG_DATA ? 3 : 1;
}

bool mqg_wire_topic_ok(const void *buf, size_t len)
{
    if (!buf || len == 0 || len > MQG_TOPIC_MAX) {
        return false;
    }
    /* mqg_topic_utf8_ok() rejects NUL bytes too. */
    return !memchr(buf, '+', len) && !memchr(buf, '#', len) && mqg_topic_utf8_ok(buf, len);
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
    if (h) {
        *h = hdr;
    }
    return 0;
}
