/* fuzz_wire — libFuzzer target for mqg_wire (frame decoding) and mqg_topic (string logic).
 *
 * Input layout: byte 0 picks 1..3 frames; every frame but the last is preceded by a 2-byte
 * little-endian length (clamped to what is left); the last frame takes the rest. Each frame
 * is copied into its own heap block so ASan sees any read past its length. Besides "no
 * crash", it checks invariants and traps when one breaks: decode/encode round trip, BATCH
 * bodies (validate accepts exactly the bodies that walk cleanly record by record, and a valid
 * body re-encodes to the same bytes), and for the frames read as strings, covers/match
 * consistency and render/check_template agreement. For a BATCH input, byte 0 = 1 (2 frames),
 * then 0x10 0x00 (header length), the 16-byte header, and the body.
 * Built only with clang and MQG_FUZZ=ON (fuzz/CMakeLists.txt).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_topic.h"
#include "mqg_wire.h"

#define S_MAX_FRAMES 3

#define S_CHECK(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk body[0..len) record by record. Every record handed out must lie inside the body, right
 * after the previous one, with valid flags and qos. Returns the number of records if the walk
 * ends exactly at len and every topic passes mqg_wire_topic_ok, else -1. */
static long s_walk(const void *body, size_t len)
{
    const uint8_t *b = body;
    size_t off = 0;
    long n = 0;
    bool topics_ok = true;
    struct mqg_wire_rec r;
    int rc;
    for (;;) {
        size_t prev = off;
        rc = mqg_wire_rec_next(body, len, &off, &r);
        if (rc != 1) {
            S_CHECK(off == prev);
            break;
        }
        S_CHECK(off > prev && off <= len);
        size_t hl = MQG_WIRE_REC_HDR_LEN + ((r.flags & MQG_WIRE_F_TRACK) ? MQG_WIRE_TRACK_LEN : 0);
        S_CHECK(off - prev == mqg_wire_rec_bytes(&r));
        S_CHECK(r.topic == (const char *)b + prev + hl);
        S_CHECK((const uint8_t *)r.payload == b + prev + hl + r.topic_len);
        S_CHECK(r.topic_len <= 0xFFFF && (uint64_t)r.payload_len <= 0xFFFFFFFFu);
        S_CHECK(r.qos <= 2 && (r.flags & ~MQG_WIRE_F_MASK) == 0);
        topics_ok = topics_ok && mqg_wire_topic_ok(r.topic, r.topic_len);
        n++;
    }
    S_CHECK(rc == 0 || rc == -EPROTO);
    S_CHECK(rc != 0 || off == len);
    return rc == 0 && topics_ok ? n : -1;
}

/* A valid BATCH body: >= 1 records, each with a valid topic, ending exactly at len, and
 * encoding the records again gives the same bytes. */
static void s_check_batch(const void *body, size_t len)
{
    S_CHECK(len >= MQG_WIRE_REC_HDR_LEN + 1);
    uint8_t *out = malloc(len);
    if (!out) {
        return;
    }
    memset(out, 0xa5, len);
    size_t off = 0;
    long n = 0;
    struct mqg_wire_rec r;
    int rc;
    while ((rc = mqg_wire_rec_next(body, len, &off, &r)) == 1) {
        S_CHECK(mqg_wire_topic_ok(r.topic, r.topic_len));
        size_t sz = mqg_wire_rec_bytes(&r);
        S_CHECK(sz <= off);
        mqg_wire_rec_encode(&r, out + off - sz);
        n++;
    }
    S_CHECK(rc == 0 && off == len && n >= 1);
    S_CHECK(memcmp(out, body, len) == 0);
    free(out);
}

static void s_fuzz_wire(size_t n, const void *const *frames, const size_t *lens)
{
    struct mqg_wire_hdr h;
    uint8_t enc[MQG_WIRE_HDR_LEN];
    int vrc = mqg_wire_validate(n, frames, lens, &h);
    if (vrc == 0) {
        S_CHECK(mqg_wire_frames(h.kind) == (int)n);
        S_CHECK(h.kind != MQG_MSG_DATA || mqg_wire_topic_ok(frames[1], lens[1]));
        if (h.kind == MQG_MSG_BATCH || h.kind == MQG_MSG_REPLAY_BATCH) {
            S_CHECK(n == 2);
            s_check_batch(frames[1], lens[1]);
        }
        if (h.kind == MQG_MSG_ACK || h.kind == MQG_MSG_MARKS) {
            S_CHECK(n == 2 && lens[1] > 0 && lens[1] % MQG_WIRE_ACK_LEN == 0);
            size_t off = 0;
            struct mqg_wire_ack a;
            uint8_t enc_ack[MQG_WIRE_ACK_LEN];
            while (mqg_wire_ack_next(frames[1], lens[1], &off, &a) == 1) {
                mqg_wire_ack_encode(&a, enc_ack);
                S_CHECK(memcmp(enc_ack, (const uint8_t *)frames[1] + off - MQG_WIRE_ACK_LEN,
                               MQG_WIRE_ACK_LEN) == 0);
            }
            S_CHECK(off == lens[1]);
        }
    }
    if (n >= 2) {
        /* any second frame, read as a BATCH body: never out of bounds, and for a BATCH
         * header validate agrees with the walk */
        long recs = s_walk(frames[1], lens[1]);
        if (n == 2 && mqg_wire_hdr_decode(frames[0], lens[0], &h) == 0 && h.kind == MQG_MSG_BATCH) {
            S_CHECK((vrc == 0) == (recs >= 1));
        }
    }
    if (mqg_wire_hdr_decode(frames[0], lens[0], &h) == 0) {
        S_CHECK(lens[0] == MQG_WIRE_HDR_LEN);
        S_CHECK(h.qos <= 2 && (h.flags & ~MQG_WIRE_F_MASK) == 0);
        mqg_wire_hdr_encode(&h, enc);
        S_CHECK(memcmp(enc, frames[0], MQG_WIRE_HDR_LEN) == 0);
    }
    for (size_t i = 0; i < n; i++) {
        bool ok = mqg_wire_topic_ok(frames[i], lens[i]);
        S_CHECK(!ok || (lens[i] > 0 && mqg_topic_utf8_ok(frames[i], lens[i])));
    }
}

/* Write into out a topic matched by filter f: '+' becomes "" or "x" (bit 0 of variant), a
 * final '#' becomes "x/y" or is dropped with its '/' (bit 1), so "a/#" gives "a". */
static void s_instance(const char *f, unsigned variant, char *out)
{
    char *w = out;
    for (const char *l = f;;) {
        size_t len = strcspn(l, "/");
        if (len == 1 && l[0] == '+') {
            if (variant & 1) {
                *w++ = 'x';
            }
        } else if (len == 1 && l[0] == '#') {
            if (variant & 2 && w > out) {
                w--; /* drop the '/' before '#' */
            } else {
                memcpy(w, "x/y", 3);
                w += 3;
            }
        } else {
            memcpy(w, l, len);
            w += len;
        }
        if (l[len] == '\0') {
            break;
        }
        *w++ = '/';
        l += len + 1;
    }
    *w = '\0';
}

/* If a covers b, a matches every topic b matches: try topics built from b. */
static void s_fuzz_covers(const char *a, const char *b)
{
    if (!mqg_topic_valid_filter(b) || !mqg_topic_covers(a, b)) {
        return;
    }
    char *t = malloc(strlen(b) * 3 + 4);
    if (!t) {
        return;
    }
    for (unsigned v = 0; v < 4; v++) {
        s_instance(b, v, t);
        if (mqg_topic_match(b, t)) {
            S_CHECK(mqg_topic_match(a, t));
        }
    }
    free(t);
}

/* a = filter/pattern, b = topic, c = template (or a second topic). */
static void s_fuzz_topic(const char *a, const char *b, const char *c, size_t cap)
{
    bool fa = mqg_topic_valid_filter(a);
    bool nb = mqg_topic_valid_name(b);
    bool nc = mqg_topic_valid_name(c);
    bool m = mqg_topic_match(a, b);
    S_CHECK(!m || (fa && nb));
    if (fa && nb) {
        S_CHECK(mqg_topic_covers(a, b) == m); /* a name is a filter matching only itself */
    }
    S_CHECK(mqg_topic_covers(a, a) == fa);
    s_fuzz_covers(a, b);
    s_fuzz_covers(b, a);
    if (mqg_topic_covers(a, b) && nc && mqg_topic_match(b, c)) {
        S_CHECK(mqg_topic_match(a, c)); /* covers means what it says */
    }

    struct mqg_pattern *p = NULL;
    const char *err = NULL;
    if (mqg_pattern_new(a, &p, &err) != 0) {
        S_CHECK(p == NULL && err != NULL);
        return;
    }
    const char *f = mqg_pattern_filter(p);
    S_CHECK(mqg_topic_valid_filter(f));
    S_CHECK(mqg_pattern_has_names(p) || strcmp(f, a) == 0);
    char *out = malloc(cap ? cap : 1);
    if (out) {
        bool tmpl_ok = mqg_pattern_check_template(p, c, &err) == 0;
        int rc = mqg_pattern_render(p, b, c, out, cap);
        if (!mqg_topic_match(f, b)) {
            S_CHECK(rc == -EINVAL);
        } else if (rc >= 0) {
            S_CHECK((size_t)rc < cap && strlen(out) == (size_t)rc);
            if (!mqg_pattern_has_names(p) && tmpl_ok) {
                S_CHECK(strcmp(out, c) == 0);
            }
        } else if (rc == -EINVAL) {
            S_CHECK(!tmpl_ok); /* a checked template renders for every matching topic */
        } else {
            S_CHECK(rc == -ENOSPC && (cap == 0 || out[0] == '\0'));
        }
        rc = mqg_pattern_render(NULL, b, c, out, cap);
        S_CHECK(rc == -ENOSPC || (rc >= 0 && strcmp(out, c) == 0));
        free(out);
    }
    mqg_pattern_destroy(&p);
    S_CHECK(p == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t n = (size_t)(data[0] % S_MAX_FRAMES) + 1;
    data++;
    size--;

    void *frames[S_MAX_FRAMES] = {NULL};
    size_t lens[S_MAX_FRAMES] = {0};
    char *str[S_MAX_FRAMES] = {NULL};
    for (size_t i = 0; i < S_MAX_FRAMES; i++) {
        size_t len = size;
        if (i + 1 < n && size >= 2) {
            len = (size_t)data[0] | (size_t)data[1] << 8;
            data += 2;
            size -= 2;
            len = len < size ? len : size;
        } else if (i >= n) {
            len = 0;
        }
        frames[i] = malloc(len ? len : 1);
        str[i] = malloc(len + 1);
        if (!frames[i] || !str[i]) {
            goto out;
        }
        memcpy(frames[i], data, len);
        memcpy(str[i], data, len);
        str[i][len] = '\0'; /* a string stops at its first NUL */
        lens[i] = len;
        data += len;
        size -= len;
    }

    s_fuzz_wire(n, (const void *const *)frames, lens);
    size_t cap = lens[0] ? ((const uint8_t *)frames[0])[0] : 64;
    s_fuzz_topic(str[0], str[1], str[2], cap);
    s_fuzz_topic(str[1], str[2], str[0], 4096);
out:
    for (size_t i = 0; i < S_MAX_FRAMES; i++) {
        free(frames[i]);
        free(str[i]);
    }
    return 0;
}
