/* test_wire — unit tests of mqg_wire: header encode/decode, frame counts, topic frames,
 * BATCH records (encode/next) and whole-message validation.
 *
 * Every single-byte corruption of a valid header is tried: the decoder must accept exactly
 * the values the format allows and reject the rest with -EPROTO, leaving *out untouched.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_topic.h"
#include "mqg_wire.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_encode_vector(void **state)
{
    (void)state;
    struct mqg_wire_hdr h = {
        .kind = MQG_MSG_DATA,
        .flags = MQG_WIRE_F_RETAIN,
        .qos = 1,
        .seq = 0x0102030405060708ull,
    };
    uint8_t out[MQG_WIRE_HDR_LEN];
    memset(out, 0xaa, sizeof(out));
    mqg_wire_hdr_encode(&h, out);
    static const uint8_t want[MQG_WIRE_HDR_LEN] = {0x4d, 0x02, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00,
                                                   0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    assert_memory_equal(out, want, sizeof(want));

    h = (struct mqg_wire_hdr){.kind = MQG_MSG_READY, .flags = 0, .qos = 0, .seq = 0};
    mqg_wire_hdr_encode(&h, out);
    static const uint8_t want2[MQG_WIRE_HDR_LEN] = {0x4d, 0x02, 0x04, 0, 0, 0, 0, 0,
                                                    0,    0,    0,    0, 0, 0, 0, 0};
    assert_memory_equal(out, want2, sizeof(want2));

    h = (struct mqg_wire_hdr){.kind = MQG_MSG_BATCH, .flags = 0, .qos = 0, .seq = 0x1234};
    mqg_wire_hdr_encode(&h, out);
    static const uint8_t want3[MQG_WIRE_HDR_LEN] = {0x4d, 0x02, 0x05, 0, 0, 0, 0,    0,
                                                    0,    0,    0,    0, 0, 0, 0x12, 0x34};
    assert_memory_equal(out, want3, sizeof(want3));

    /* the target of a replay in bytes 6..7, the END flag */
    h = (struct mqg_wire_hdr){
        .kind = MQG_MSG_REPLAY_DONE, .flags = MQG_WIRE_F_END, .seq = 7, .aux = 0x0203};
    mqg_wire_hdr_encode(&h, out);
    static const uint8_t want4[MQG_WIRE_HDR_LEN] = {0x4d, 0x02, 0x09, 0x04, 0, 0, 0x02, 0x03,
                                                    0,    0,    0,    0,    0, 0, 0,    7};
    assert_memory_equal(out, want4, sizeof(want4));
}

static void test_roundtrip(void **state)
{
    (void)state;
    static const uint64_t seqs[] = {
        0, 1, 0xff, 0x100, 0x8000000000000000ull, UINT64_MAX, 0x0123456789abcdefull};
    for (uint8_t kind = MQG_MSG_DATA; kind <= MQG_MSG_KIND_MAX; kind++) {
        for (uint8_t flags = 0; flags <= MQG_WIRE_F_MASK; flags++) {
            for (uint8_t qos = 0; qos <= 2; qos++) {
                for (size_t s = 0; s < N_ELEMS(seqs); s++) {
                    bool aux = kind >= MQG_MSG_REPLAY && kind <= MQG_MSG_REPLAY_DONE;
                    struct mqg_wire_hdr in = {kind, flags, qos, seqs[s], aux ? 0xbeef : 0};
                    struct mqg_wire_hdr out;
                    uint8_t buf[MQG_WIRE_HDR_LEN];
                    memset(&out, 0x55, sizeof(out));
                    mqg_wire_hdr_encode(&in, buf);
                    assert_int_equal(mqg_wire_hdr_decode(buf, sizeof(buf), &out), 0);
                    assert_int_equal(out.kind, kind);
                    assert_int_equal(out.flags, flags);
                    assert_int_equal(out.qos, qos);
                    assert_true(out.seq == seqs[s]);
                    assert_int_equal(out.aux, in.aux);
                }
            }
        }
    }
}

static void s_valid_hdr(uint8_t buf[MQG_WIRE_HDR_LEN])
{
    struct mqg_wire_hdr h = {MQG_MSG_DATA, MQG_WIRE_F_DUP, 2, 0xdeadbeefcafef00dull, 0};
    mqg_wire_hdr_encode(&h, buf);
}

/* Is value v allowed at header byte i? */
static bool s_allowed(size_t i, unsigned v)
{
    switch (i) {
    case 0:
        return v == MQG_WIRE_MAGIC;
    case 1:
        return v == MQG_WIRE_VERSION;
    case 2:
        return v >= MQG_MSG_DATA && v <= MQG_MSG_KIND_MAX; /* 1..10 */
    case 3:
        return (v & ~(unsigned)MQG_WIRE_F_MASK) == 0;
    case 4:
        return v <= 2;
    case 5:
    case 6: /* aux: only the REPLAY kinds have one (this header is DATA) */
    case 7:
        return v == 0;
    default:
        return true; /* sequence number: any value */
    }
}

static void test_decode_every_byte(void **state)
{
    (void)state;
    size_t accepted = 0;
    size_t rejected = 0;
    for (size_t i = 0; i < MQG_WIRE_HDR_LEN; i++) {
        for (unsigned v = 0; v < 256; v++) {
            uint8_t buf[MQG_WIRE_HDR_LEN];
            s_valid_hdr(buf);
            buf[i] = (uint8_t)v;
            struct mqg_wire_hdr out;
            memset(&out, 0x55, sizeof(out));
            struct mqg_wire_hdr untouched;
            memset(&untouched, 0x55, sizeof(untouched));
            int rc = mqg_wire_hdr_decode(buf, sizeof(buf), &out);
            if (s_allowed(i, v)) {
                if (rc != 0) {
                    fail_msg("byte %zu = 0x%02x rejected", i, v);
                }
                accepted++;
            } else {
                if (rc != -EPROTO) {
                    fail_msg("byte %zu = 0x%02x: rc %d, want -EPROTO", i, v, rc);
                }
                assert_memory_equal(&out, &untouched, sizeof(out));
                rejected++;
            }
        }
    }
    /* magic 1 + version 1 + kind 10 + flags 8 + qos 3 + reserved 1 + aux 1 + 1 + seq 8 * 256 */
    assert_int_equal(accepted, 26 + 8 * 256);
    assert_int_equal(rejected, 16 * 256 - accepted);
}

static void test_decode_named_corruptions(void **state)
{
    (void)state;
    uint8_t buf[MQG_WIRE_HDR_LEN + 1];
    struct mqg_wire_hdr out;
    static const struct {
        size_t off;
        uint8_t val;
        const char *what;
    } bad[] = {
        {0, 'm', "magic lower case"}, {0, 0x00, "magic zero"},  {1, 0, "version 0"},
        {1, 1, "version 1"},          {2, 0, "kind 0"},         {2, 11, "kind 11"},
        {2, 0xff, "kind 255"},        {3, 0x08, "flag bit 3"},  {3, 0x80, "flag bit 7"},
        {3, 0xff, "all flags"},       {4, 3, "qos 3"},          {4, 0xff, "qos 255"},
        {5, 1, "reserved 5"},         {6, 0x80, "aux of DATA"}, {7, 1, "aux of DATA"},
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        s_valid_hdr(buf);
        buf[bad[i].off] = bad[i].val;
        if (mqg_wire_hdr_decode(buf, MQG_WIRE_HDR_LEN, &out) != -EPROTO) {
            fail_msg("accepted: %s", bad[i].what);
        }
    }
    /* wrong lengths */
    s_valid_hdr(buf);
    buf[MQG_WIRE_HDR_LEN] = 0;
    for (size_t len = 0; len <= MQG_WIRE_HDR_LEN + 1; len++) {
        int want = len == MQG_WIRE_HDR_LEN ? 0 : -EPROTO;
        assert_int_equal(mqg_wire_hdr_decode(buf, len, &out), want);
    }
    assert_int_equal(mqg_wire_hdr_decode(NULL, MQG_WIRE_HDR_LEN, &out), -EPROTO);
    assert_int_equal(mqg_wire_hdr_decode(NULL, 0, &out), -EPROTO);
    /* out may be NULL: validation only */
    assert_int_equal(mqg_wire_hdr_decode(buf, MQG_WIRE_HDR_LEN, NULL), 0);
}

static void test_frames(void **state)
{
    (void)state;
    assert_int_equal(mqg_wire_frames(MQG_MSG_DATA), 3);
    assert_int_equal(mqg_wire_frames(MQG_MSG_ACK), 2);
    assert_int_equal(mqg_wire_frames(MQG_MSG_HELLO), 1);
    assert_int_equal(mqg_wire_frames(MQG_MSG_READY), 1);
    assert_int_equal(mqg_wire_frames(MQG_MSG_BATCH), 2);
    assert_int_equal(mqg_wire_frames(5), 2);
    assert_int_equal(mqg_wire_frames(MQG_MSG_MARKS), 2);
    assert_int_equal(mqg_wire_frames(MQG_MSG_REPLAY), 1);
    assert_int_equal(mqg_wire_frames(MQG_MSG_REPLAY_BATCH), 2);
    assert_int_equal(mqg_wire_frames(MQG_MSG_REPLAY_DONE), 1);
    assert_int_equal(mqg_wire_frames(MQG_MSG_LINK), 1);
    assert_int_equal(mqg_wire_frames(0), -EPROTO);
    assert_int_equal(mqg_wire_frames(11), -EPROTO);
    assert_int_equal(mqg_wire_frames(255), -EPROTO);
}

static void test_topic_ok(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        bool want;
    } cases[] = {
        {"a/b", 3, true},
        {"/", 1, true},
        {"a//b", 4, true},
        {"$SYS/x", 6, true},
        {"\xe2\x82\xac/\xf0\x9f\x98\x80", 8, true},
        {"a/b", 2, true}, /* only len bytes count: "a/" */
        {"a/b\0", 3, true},
        {"", 0, false},
        {"a\0b", 3, false},  /* NUL */
        {"a/b\0", 4, false}, /* trailing NUL */
        {"\0", 1, false},
        {"a+b", 3, false},
        {"a/#", 3, false},
        {"+", 1, false},
        {"\xc3", 1, false},         /* truncated */
        {"\xe2\x82\xac", 2, false}, /* cut by len */
        {"\xc0\xaf", 2, false},     /* overlong */
        {"\xed\xa0\x80", 3, false}, /* surrogate */
        {"\xf4\x90\x80\x80", 4, false},
        {"\xff", 1, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        if (mqg_wire_topic_ok(cases[i].s, cases[i].len) != cases[i].want) {
            fail_msg("topic_ok case %zu != %d", i, cases[i].want);
        }
    }
    assert_false(mqg_wire_topic_ok(NULL, 0));
    assert_false(mqg_wire_topic_ok(NULL, 3));

    /* 65535 bytes ok, 65536 not (no NUL terminator needed) */
    char *big = malloc(MQG_TOPIC_MAX + 1);
    assert_non_null(big);
    memset(big, 'x', MQG_TOPIC_MAX + 1);
    assert_true(mqg_wire_topic_ok(big, MQG_TOPIC_MAX));
    assert_false(mqg_wire_topic_ok(big, MQG_TOPIC_MAX + 1));
    big[MQG_TOPIC_MAX - 1] = '#';
    assert_false(mqg_wire_topic_ok(big, MQG_TOPIC_MAX));
    free(big);
}

struct msg {
    uint8_t hdr[MQG_WIRE_HDR_LEN];
    const void *frames[4];
    size_t lens[4];
};

static void s_msg(struct msg *m, uint8_t kind, const char *topic, const char *payload)
{
    struct mqg_wire_hdr h = {kind, MQG_WIRE_F_RETAIN, 1, 42, 0};
    mqg_wire_hdr_encode(&h, m->hdr);
    m->frames[0] = m->hdr;
    m->lens[0] = sizeof(m->hdr);
    m->frames[1] = topic;
    m->lens[1] = topic ? strlen(topic) : 0;
    m->frames[2] = payload;
    m->lens[2] = payload ? strlen(payload) : 0;
    m->frames[3] = "extra";
    m->lens[3] = 5;
}

static void test_validate(void **state)
{
    (void)state;
    struct msg m;
    struct mqg_wire_hdr h;

    s_msg(&m, MQG_MSG_DATA, "a/b", "payload");
    memset(&h, 0, sizeof(h));
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), 0);
    assert_int_equal(h.kind, MQG_MSG_DATA);
    assert_int_equal(h.flags, MQG_WIRE_F_RETAIN);
    assert_int_equal(h.qos, 1);
    assert_true(h.seq == 42);
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, NULL), 0);

    /* empty payload, also as a NULL pointer; payload bytes are not checked */
    s_msg(&m, MQG_MSG_DATA, "a/b", NULL);
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), 0);
    m.frames[2] = "\0\xff+#";
    m.lens[2] = 4;
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), 0);

    /* DATA with the wrong number of frames */
    s_msg(&m, MQG_MSG_DATA, "a/b", "p");
    for (size_t n = 0; n <= 4; n++) {
        int want = n == 3 ? 0 : -EPROTO;
        assert_int_equal(mqg_wire_validate(n, m.frames, m.lens, &h), want);
    }
    /* bad topic frames */
    static const char *const bad_topics[] = {"", "a/+", "#", "a\xc3"};
    for (size_t i = 0; i < N_ELEMS(bad_topics); i++) {
        s_msg(&m, MQG_MSG_DATA, bad_topics[i], "p");
        assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), -EPROTO);
    }
    s_msg(&m, MQG_MSG_DATA, "a\0b", "p");
    m.lens[1] = 3;
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), -EPROTO);
    s_msg(&m, MQG_MSG_DATA, NULL, "p");
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), -EPROTO);
    /* NULL frame with a length */
    s_msg(&m, MQG_MSG_DATA, "a", "p");
    m.frames[2] = NULL;
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), -EPROTO);

    /* single-frame kinds */
    static const uint8_t single[] = {MQG_MSG_HELLO, MQG_MSG_READY, MQG_MSG_REPLAY,
                                     MQG_MSG_REPLAY_DONE, MQG_MSG_LINK};
    for (size_t k = 0; k < N_ELEMS(single); k++) {
        uint8_t kind = single[k];
        s_msg(&m, kind, "a", "p");
        assert_int_equal(mqg_wire_validate(1, m.frames, m.lens, &h), 0);
        assert_int_equal(h.kind, kind);
        assert_int_equal(mqg_wire_validate(2, m.frames, m.lens, &h), -EPROTO);
        assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), -EPROTO);
    }

    /* a corrupt header fails the message, and *h stays untouched */
    s_msg(&m, MQG_MSG_DATA, "a/b", "p");
    m.hdr[7] = 1;
    memset(&h, 0x55, sizeof(h));
    struct mqg_wire_hdr untouched;
    memset(&untouched, 0x55, sizeof(untouched));
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), -EPROTO);
    assert_memory_equal(&h, &untouched, sizeof(h));
    s_msg(&m, MQG_MSG_DATA, "a/b", "p");
    m.lens[0] = 15;
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), -EPROTO);
    s_msg(&m, MQG_MSG_DATA, "a/b", "p");
    m.frames[0] = NULL;
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), -EPROTO);

    /* NULL arrays */
    s_msg(&m, MQG_MSG_DATA, "a/b", "p");
    assert_int_equal(mqg_wire_validate(3, NULL, m.lens, &h), -EPROTO);
    assert_int_equal(mqg_wire_validate(3, m.frames, NULL, &h), -EPROTO);
}

/* ---- BATCH records ---- */

/* A BATCH body under construction. */
struct body {
    uint8_t *b;
    size_t len;
    size_t cap;
};

static void s_body_add(struct body *bd, uint8_t flags, uint8_t qos, const void *topic, size_t tl,
                       const void *payload, size_t pl)
{
    size_t need = mqg_wire_rec_size(tl, pl);
    assert_int_equal(need, MQG_WIRE_REC_HDR_LEN + tl + pl);
    if (bd->len + need > bd->cap) {
        bd->cap = (bd->len + need) * 2;
        bd->b = realloc(bd->b, bd->cap);
        assert_non_null(bd->b);
    }
    struct mqg_wire_rec r = {.flags = flags,
                             .qos = qos,
                             .topic = topic,
                             .topic_len = tl,
                             .payload = payload,
                             .payload_len = pl};
    memset(bd->b + bd->len, 0xee, need);
    mqg_wire_rec_encode(&r, bd->b + bd->len);
    bd->len += need;
}

static void s_body_str(struct body *bd, uint8_t flags, uint8_t qos, const char *topic,
                       const char *payload)
{
    s_body_add(bd, flags, qos, topic, strlen(topic), payload, payload ? strlen(payload) : 0);
}

static void s_body_free(struct body *bd)
{
    free(bd->b);
    memset(bd, 0, sizeof(*bd));
}

static void test_rec_encode_vector(void **state)
{
    (void)state;
    struct body bd = {0};
    s_body_str(&bd, MQG_WIRE_F_RETAIN | MQG_WIRE_F_DUP, 2, "a/b", "xy");
    s_body_str(&bd, 0, 0, "t", NULL);
    static const uint8_t want[] = {
        0x03, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 'a', '/', 'b', 'x', 'y', /* rec 1 */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 't',                     /* rec 2 */
    };
    assert_int_equal(bd.len, sizeof(want));
    assert_memory_equal(bd.b, want, sizeof(want));
    assert_int_equal(mqg_wire_rec_size(3, 2), 13);
    assert_int_equal(mqg_wire_rec_size(0, 0), MQG_WIRE_REC_HDR_LEN);
    s_body_free(&bd);
}

struct rec_case {
    uint8_t flags;
    uint8_t qos;
    char *topic;
    size_t tl;
    uint8_t *payload;
    size_t pl;
};

static char *s_fill_topic(size_t len)
{
    char *t = malloc(len ? len : 1);
    assert_non_null(t);
    for (size_t i = 0; i < len; i++) {
        t[i] = (i % 7 == 6) ? '/' : (char)('a' + i % 26);
    }
    return t;
}

static uint8_t *s_fill_payload(size_t len, unsigned salt)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 131u + salt + (i >> 8));
    }
    return p;
}

static void test_rec_roundtrip(void **state)
{
    (void)state;
    /* payload lengths chosen so that every byte of the length field is used */
    struct rec_case rc[] = {
        {0, 0, NULL, 1, NULL, 5},
        {MQG_WIRE_F_RETAIN, 1, NULL, 18, NULL, 0}, /* empty payload */
        {MQG_WIRE_F_DUP, 2, NULL, 2, NULL, 4},
        {MQG_WIRE_F_RETAIN | MQG_WIRE_F_DUP, 1, NULL, MQG_TOPIC_MAX, NULL, 0x100},
        {0, 0, NULL, 0x1234, NULL, 0x10203},
        {0, 2, NULL, 3, NULL, 0x01000002},
        {MQG_WIRE_F_RETAIN, 0, NULL, 1, NULL, 0},
    };
    struct body bd = {0};
    size_t want_len = 0;
    for (size_t i = 0; i < N_ELEMS(rc); i++) {
        rc[i].topic = s_fill_topic(rc[i].tl);
        rc[i].payload = s_fill_payload(rc[i].pl, (unsigned)i);
        s_body_add(&bd, rc[i].flags, rc[i].qos, rc[i].topic, rc[i].tl, rc[i].payload, rc[i].pl);
        want_len += MQG_WIRE_REC_HDR_LEN + rc[i].tl + rc[i].pl;
    }
    assert_int_equal(bd.len, want_len);

    size_t off = 0;
    for (size_t i = 0; i < N_ELEMS(rc); i++) {
        /* the record header, byte by byte (big-endian lengths) */
        const uint8_t *h = bd.b + off;
        assert_int_equal(h[0], rc[i].flags);
        assert_int_equal(h[1], rc[i].qos);
        assert_int_equal(h[2], (rc[i].tl >> 8) & 0xff);
        assert_int_equal(h[3], rc[i].tl & 0xff);
        assert_int_equal(h[4], (rc[i].pl >> 24) & 0xff);
        assert_int_equal(h[5], (rc[i].pl >> 16) & 0xff);
        assert_int_equal(h[6], (rc[i].pl >> 8) & 0xff);
        assert_int_equal(h[7], rc[i].pl & 0xff);

        struct mqg_wire_rec r;
        memset(&r, 0x55, sizeof(r));
        size_t before = off;
        assert_int_equal(mqg_wire_rec_next(bd.b, bd.len, &off, &r), 1);
        assert_int_equal(off, before + mqg_wire_rec_size(rc[i].tl, rc[i].pl));
        assert_int_equal(r.flags, rc[i].flags);
        assert_int_equal(r.qos, rc[i].qos);
        assert_int_equal(r.topic_len, rc[i].tl);
        assert_int_equal(r.payload_len, rc[i].pl);
        assert_ptr_equal(r.topic, (const char *)bd.b + before + MQG_WIRE_REC_HDR_LEN);
        assert_ptr_equal(r.payload, bd.b + before + MQG_WIRE_REC_HDR_LEN + rc[i].tl);
        assert_memory_equal(r.topic, rc[i].topic, rc[i].tl);
        if (rc[i].pl) {
            assert_memory_equal(r.payload, rc[i].payload, rc[i].pl);
        }
    }
    assert_int_equal(off, bd.len);
    struct mqg_wire_rec r;
    assert_int_equal(mqg_wire_rec_next(bd.b, bd.len, &off, &r), 0);
    assert_int_equal(mqg_wire_rec_next(bd.b, bd.len, &off, &r), 0); /* stays at the end */
    assert_int_equal(off, bd.len);

    /* the whole body is a valid BATCH (topic of 65535 bytes included) */
    uint8_t hdr[MQG_WIRE_HDR_LEN];
    struct mqg_wire_hdr h = {MQG_MSG_BATCH, 0, 0, 1, 0};
    mqg_wire_hdr_encode(&h, hdr);
    const void *frames[2] = {hdr, bd.b};
    size_t lens[2] = {sizeof(hdr), bd.len};
    assert_int_equal(mqg_wire_validate(2, frames, lens, &h), 0);
    assert_int_equal(h.kind, MQG_MSG_BATCH);

    for (size_t i = 0; i < N_ELEMS(rc); i++) {
        free(rc[i].topic);
        free(rc[i].payload);
    }
    s_body_free(&bd);
}

/* rec_next on body[0..len) from *off: must fail with -EPROTO and touch neither *off nor *out. */
static void s_expect_bad_rec(const uint8_t *body, size_t len, size_t off, const char *what)
{
    struct mqg_wire_rec r, untouched;
    memset(&r, 0x55, sizeof(r));
    memset(&untouched, 0x55, sizeof(untouched));
    size_t o = off;
    int rc = mqg_wire_rec_next(body, len, &o, &r);
    if (rc != -EPROTO) {
        fail_msg("%s (len %zu, off %zu): rc %d, want -EPROTO", what, len, off, rc);
    }
    assert_int_equal(o, off);
    assert_memory_equal(&r, &untouched, sizeof(r));
}

static int s_validate_batch(const void *body, size_t len)
{
    uint8_t hdr[MQG_WIRE_HDR_LEN];
    struct mqg_wire_hdr h = {MQG_MSG_BATCH, 0, 0, 1, 0};
    mqg_wire_hdr_encode(&h, hdr);
    const void *frames[2] = {hdr, body};
    size_t lens[2] = {sizeof(hdr), len};
    return mqg_wire_validate(2, frames, lens, NULL);
}

static void test_rec_truncated(void **state)
{
    (void)state;
    struct body bd = {0};
    s_body_str(&bd, MQG_WIRE_F_RETAIN, 1, "a/b", "payload");
    size_t a = bd.len; /* 8 + 3 + 7 */
    assert_int_equal(a, 18);

    /* every cut of a single record */
    for (size_t cut = 1; cut < a; cut++) {
        /* copy into an exact-size block so a read past the cut would be seen by ASan */
        uint8_t *c = malloc(cut);
        assert_non_null(c);
        memcpy(c, bd.b, cut);
        s_expect_bad_rec(c, cut, 0, "cut record");
        assert_int_equal(s_validate_batch(c, cut), -EPROTO);
        free(c);
    }
    s_expect_bad_rec(bd.b, 7, 0, "cut in the record header");
    s_expect_bad_rec(bd.b, 8, 0, "header only, topic missing");
    s_expect_bad_rec(bd.b, 10, 0, "cut in the topic");
    s_expect_bad_rec(bd.b, 11, 0, "topic only, payload missing");
    s_expect_bad_rec(bd.b, 17, 0, "cut in the payload");

    /* a second record cut short: the first still reads, the second fails */
    s_body_str(&bd, 0, 0, "c", "zz");
    for (size_t cut = a + 1; cut < bd.len; cut++) {
        size_t off = 0;
        struct mqg_wire_rec r;
        assert_int_equal(mqg_wire_rec_next(bd.b, cut, &off, &r), 1);
        assert_int_equal(off, a);
        s_expect_bad_rec(bd.b, cut, off, "second record cut");
        assert_int_equal(s_validate_batch(bd.b, cut), -EPROTO);
    }
    assert_int_equal(s_validate_batch(bd.b, bd.len), 0);

    /* lengths far beyond the body (no wrap-around in the bounds checks) */
    uint8_t big[8 + 16];
    memset(big, 'x', sizeof(big));
    static const uint8_t hdrs[][8] = {
        {0, 0, 0xff, 0xff, 0, 0, 0, 0},
        {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff},
        {0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
        {0, 0, 0, 1, 0x80, 0, 0, 0},
        {0, 0, 0, 1, 0, 0, 0, 16}, /* 1 + 16 > 16 bytes left */
    };
    for (size_t i = 0; i < N_ELEMS(hdrs); i++) {
        memcpy(big, hdrs[i], 8);
        s_expect_bad_rec(big, sizeof(big), 0, "length beyond the body");
    }
    memcpy(big, (const uint8_t[]){0, 0, 0, 1, 0, 0, 0, 15}, 8); /* exactly fits */
    size_t off = 0;
    struct mqg_wire_rec r;
    assert_int_equal(mqg_wire_rec_next(big, sizeof(big), &off, &r), 1);
    assert_int_equal(off, sizeof(big));
    assert_int_equal(r.payload_len, 15);

    /* empty body: no record, not an error for rec_next */
    off = 0;
    assert_int_equal(mqg_wire_rec_next(bd.b, 0, &off, &r), 0);
    assert_int_equal(off, 0);
    s_body_free(&bd);
}

static void test_rec_flags_qos(void **state)
{
    (void)state;
    struct body bd = {0};
    s_body_str(&bd, 0, 0, "a", "p");
    s_body_str(&bd, 0, 0, "b", "q");
    size_t first = mqg_wire_rec_size(1, 1);
    for (unsigned v = 0; v < 256; v++) {
        /* flags byte of the first record */
        bd.b[0] = (uint8_t)v;
        bd.b[1] = 0;
        size_t off = 0;
        struct mqg_wire_rec r;
        if ((v & ~(unsigned)MQG_WIRE_F_MASK) == 0) {
            assert_int_equal(mqg_wire_rec_next(bd.b, bd.len, &off, &r), 1);
            assert_int_equal(r.flags, v);
            assert_int_equal(s_validate_batch(bd.b, bd.len), 0);
        } else {
            s_expect_bad_rec(bd.b, bd.len, 0, "bad flags");
            assert_int_equal(s_validate_batch(bd.b, bd.len), -EPROTO);
        }
        /* qos byte of the first record */
        bd.b[0] = 0;
        bd.b[1] = (uint8_t)v;
        off = 0;
        if (v <= 2) {
            assert_int_equal(mqg_wire_rec_next(bd.b, bd.len, &off, &r), 1);
            assert_int_equal(r.qos, v);
            assert_int_equal(s_validate_batch(bd.b, bd.len), 0);
        } else {
            s_expect_bad_rec(bd.b, bd.len, 0, "bad qos");
            assert_int_equal(s_validate_batch(bd.b, bd.len), -EPROTO);
        }
        bd.b[1] = 0;
    }
    /* the same in the second record: validate looks at every record */
    bd.b[first] = 0x04;
    s_expect_bad_rec(bd.b, bd.len, first, "bad flags, second record");
    assert_int_equal(s_validate_batch(bd.b, bd.len), -EPROTO);
    bd.b[first] = 0;
    bd.b[first + 1] = 3;
    s_expect_bad_rec(bd.b, bd.len, first, "bad qos, second record");
    assert_int_equal(s_validate_batch(bd.b, bd.len), -EPROTO);
    bd.b[first + 1] = 2;
    assert_int_equal(s_validate_batch(bd.b, bd.len), 0);
    s_body_free(&bd);
}

static void test_validate_batch(void **state)
{
    (void)state;
    struct msg m;
    struct mqg_wire_hdr h;
    struct body bd = {0};
    s_body_str(&bd, MQG_WIRE_F_RETAIN, 1, "factory/line1/temp", "{\"v\":21.5}");
    s_body_str(&bd, 0, 0, "a", NULL);
    s_body_str(&bd, MQG_WIRE_F_DUP, 2, "\xe2\x82\xac/$x", "\0\xff+#");

    /* good body */
    s_msg(&m, MQG_MSG_BATCH, NULL, NULL);
    m.frames[1] = bd.b;
    m.lens[1] = bd.len;
    memset(&h, 0, sizeof(h));
    assert_int_equal(mqg_wire_validate(2, m.frames, m.lens, &h), 0);
    assert_int_equal(h.kind, MQG_MSG_BATCH);
    assert_true(h.seq == 42);
    assert_int_equal(mqg_wire_validate(2, m.frames, m.lens, NULL), 0);
    /* one record alone is enough */
    m.lens[1] = mqg_wire_rec_size(18, 10);
    assert_int_equal(mqg_wire_validate(2, m.frames, m.lens, &h), 0);
    m.lens[1] = bd.len;

    /* wrong frame counts */
    for (size_t n = 0; n <= 4; n++) {
        int want = n == 2 ? 0 : -EPROTO;
        assert_int_equal(mqg_wire_validate(n, m.frames, m.lens, &h), want);
    }
    /* a DATA header with a BATCH body (2 frames) fails too */
    s_msg(&m, MQG_MSG_DATA, NULL, NULL);
    m.frames[1] = bd.b;
    m.lens[1] = bd.len;
    assert_int_equal(mqg_wire_validate(2, m.frames, m.lens, &h), -EPROTO);
    /* a BATCH header followed by DATA frames: "a/b" is no record */
    s_msg(&m, MQG_MSG_BATCH, "a/b", "p");
    assert_int_equal(mqg_wire_validate(2, m.frames, m.lens, &h), -EPROTO);
    assert_int_equal(mqg_wire_validate(3, m.frames, m.lens, &h), -EPROTO);

    /* empty body: no record */
    s_msg(&m, MQG_MSG_BATCH, "", NULL);
    assert_int_equal(mqg_wire_validate(2, m.frames, m.lens, &h), -EPROTO);
    m.frames[1] = NULL;
    assert_int_equal(mqg_wire_validate(2, m.frames, m.lens, &h), -EPROTO);
    /* NULL body with a length */
    m.lens[1] = bd.len;
    assert_int_equal(mqg_wire_validate(2, m.frames, m.lens, &h), -EPROTO);

    /* a record with an invalid topic, first, in the middle or last */
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        {"a/+", 3},  {"#", 1},        {"a/#/b", 5}, {"a\0b", 3},         {"a/b\0", 4},
        {"\xc3", 1}, {"\xc0\xaf", 2}, {"a\xff", 2}, {"\xed\xa0\x80", 3}, {"", 0},
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        for (int pos = 0; pos < 3; pos++) {
            struct body b2 = {0};
            for (int k = 0; k < 3; k++) {
                if (k == pos) {
                    s_body_add(&b2, 0, 1, bad[i].s, bad[i].len, "p", 1);
                } else {
                    s_body_str(&b2, 0, 1, "ok/topic", "p");
                }
            }
            /* the records themselves are well formed: only the topic rules reject them */
            size_t off = 0;
            int n = 0;
            struct mqg_wire_rec r;
            while (mqg_wire_rec_next(b2.b, b2.len, &off, &r) == 1) {
                n++;
            }
            assert_int_equal(n, 3);
            assert_int_equal(off, b2.len);
            if (s_validate_batch(b2.b, b2.len) != -EPROTO) {
                fail_msg("bad topic case %zu at record %d accepted", i, pos);
            }
            s_body_free(&b2);
        }
    }

    /* trailing garbage after valid records */
    size_t good = bd.len;
    uint8_t *g = malloc(good + 64);
    assert_non_null(g);
    memcpy(g, bd.b, good);
    for (size_t extra = 1; extra < MQG_WIRE_REC_HDR_LEN; extra++) {
        memset(g + good, 0, extra); /* too short for a record header */
        assert_int_equal(s_validate_batch(g, good + extra), -EPROTO);
        memset(g + good, 'x', extra);
        assert_int_equal(s_validate_batch(g, good + extra), -EPROTO);
    }
    /* a record header promising more than is left */
    memcpy(g + good, (const uint8_t[]){0, 0, 0, 2, 0, 0, 0, 5, 'a', 'b', 'c'}, 11);
    assert_int_equal(s_validate_batch(g, good + 11), -EPROTO);
    /* 8 zero bytes: a complete record, but with an empty topic */
    memset(g + good, 0, 8);
    assert_int_equal(s_validate_batch(g, good + 8), -EPROTO);
    /* ... and a complete valid record appended is fine */
    memcpy(g + good, (const uint8_t[]){0, 0, 0, 1, 0, 0, 0, 0, 'z'}, 9);
    assert_int_equal(s_validate_batch(g, good + 9), 0);
    assert_int_equal(s_validate_batch(g, good), 0);
    free(g);
    s_body_free(&bd);
}

/* A tracked record: source connection and seq between the record header and the topic. */
static void test_rec_tracked(void **state)
{
    (void)state;
    struct mqg_wire_rec in = {.flags = MQG_WIRE_F_TRACK | MQG_WIRE_F_DUP,
                              .qos = 1,
                              .topic = "a/b",
                              .topic_len = 3,
                              .payload = "xy",
                              .payload_len = 2,
                              .src = 0x0102,
                              .seq = 0x1122334455667788ull};
    assert_int_equal(mqg_wire_rec_bytes(&in), 8 + 10 + 3 + 2);
    uint8_t out[23];
    mqg_wire_rec_encode(&in, out);
    static const uint8_t want[23] = {0x06, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02,
                                     0x01, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
                                     0x77, 0x88, 'a',  '/',  'b',  'x',  'y'};
    assert_memory_equal(out, want, sizeof(want));
    size_t off = 0;
    struct mqg_wire_rec r;
    assert_int_equal(mqg_wire_rec_next(out, sizeof(out), &off, &r), 1);
    assert_int_equal(off, sizeof(out));
    assert_int_equal(r.flags, in.flags);
    assert_int_equal(r.src, 0x0102);
    assert_true(r.seq == 0x1122334455667788ull);
    assert_int_equal(r.topic_len, 3);
    assert_memory_equal(r.topic, "a/b", 3);
    assert_int_equal(r.payload_len, 2);
    assert_memory_equal(r.payload, "xy", 2);
    /* cut anywhere, the tracking fields included: refused, nothing touched */
    for (size_t len = 1; len < sizeof(out); len++) {
        s_expect_bad_rec(out, len, 0, "tracked record cut short");
    }
    /* an untracked record has no src/seq: they read as 0 */
    in.flags = 0;
    mqg_wire_rec_encode(&in, out);
    off = 0;
    assert_int_equal(mqg_wire_rec_next(out, mqg_wire_rec_bytes(&in), &off, &r), 1);
    assert_int_equal(r.src, 0);
    assert_true(r.seq == 0);
}

static int s_validate_body(uint8_t kind, const void *body, size_t len)
{
    uint8_t hdr[MQG_WIRE_HDR_LEN];
    struct mqg_wire_hdr h = {kind, 0, 0, 1, kind == MQG_MSG_REPLAY_BATCH ? 3 : 0};
    mqg_wire_hdr_encode(&h, hdr);
    const void *frames[2] = {hdr, body};
    size_t lens[2] = {sizeof(hdr), len};
    return mqg_wire_validate(2, frames, lens, NULL);
}

/* REPLAY_BATCH carries tracked records only. */
static void test_validate_replay_batch(void **state)
{
    (void)state;
    struct mqg_wire_rec r = {.flags = MQG_WIRE_F_TRACK,
                             .qos = 1,
                             .topic = "t",
                             .topic_len = 1,
                             .payload = "p",
                             .payload_len = 1,
                             .src = 2,
                             .seq = 9};
    uint8_t body[64];
    size_t a = mqg_wire_rec_bytes(&r);
    mqg_wire_rec_encode(&r, body);
    assert_int_equal(s_validate_body(MQG_MSG_REPLAY_BATCH, body, a), 0);
    assert_int_equal(s_validate_body(MQG_MSG_BATCH, body, a), 0);
    r.flags = 0;
    mqg_wire_rec_encode(&r, body + a);
    size_t b = mqg_wire_rec_bytes(&r);
    assert_int_equal(s_validate_body(MQG_MSG_BATCH, body, a + b), 0);
    assert_int_equal(s_validate_body(MQG_MSG_REPLAY_BATCH, body, a + b), -EPROTO);
    assert_int_equal(s_validate_body(MQG_MSG_REPLAY_BATCH, body, 0), -EPROTO);
}

/* ACK and MARKS bodies: whole entries of known types, at least one. */
static void test_acks(void **state)
{
    (void)state;
    struct mqg_wire_ack in[3] = {
        {MQG_ACK_DONE, 0x0304, 0x0102030405060708ull},
        {MQG_ACK_RELEASE, 0, UINT64_MAX},
        {MQG_ACK_MARK, 7, 0},
    };
    uint8_t body[3 * MQG_WIRE_ACK_LEN];
    for (size_t i = 0; i < 3; i++) {
        mqg_wire_ack_encode(&in[i], body + i * MQG_WIRE_ACK_LEN);
    }
    static const uint8_t want0[MQG_WIRE_ACK_LEN] = {1, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(body, want0, sizeof(want0));
    size_t off = 0;
    struct mqg_wire_ack a;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(mqg_wire_ack_next(body, sizeof(body), &off, &a), 1);
        assert_int_equal(a.type, in[i].type);
        assert_int_equal(a.idx, in[i].idx);
        assert_true(a.seq == in[i].seq);
    }
    assert_int_equal(mqg_wire_ack_next(body, sizeof(body), &off, &a), 0);
    for (uint8_t kind = MQG_MSG_ACK; kind <= MQG_MSG_MARKS; kind += MQG_MSG_MARKS - MQG_MSG_ACK) {
        assert_int_equal(s_validate_body(kind, body, sizeof(body)), 0);
        assert_int_equal(s_validate_body(kind, body, 0), -EPROTO);
        for (size_t len = 1; len < sizeof(body); len++) {
            if (len % MQG_WIRE_ACK_LEN) {
                assert_int_equal(s_validate_body(kind, body, len), -EPROTO);
            }
        }
    }
    body[MQG_WIRE_ACK_LEN] = 0; /* type 0 */
    assert_int_equal(s_validate_body(MQG_MSG_ACK, body, sizeof(body)), -EPROTO);
    body[MQG_WIRE_ACK_LEN] = 4; /* type 4 */
    assert_int_equal(s_validate_body(MQG_MSG_MARKS, body, sizeof(body)), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_vector),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_decode_every_byte),
        cmocka_unit_test(test_decode_named_corruptions),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_topic_ok),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_rec_encode_vector),
        cmocka_unit_test(test_rec_roundtrip),
        cmocka_unit_test(test_rec_truncated),
        cmocka_unit_test(test_rec_flags_qos),
        cmocka_unit_test(test_validate_batch),
        cmocka_unit_test(test_rec_tracked),
        cmocka_unit_test(test_validate_replay_batch),
        cmocka_unit_test(test_acks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
