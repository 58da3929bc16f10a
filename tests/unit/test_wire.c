/* test_wire — unit tests of mqg_wire: header encode/decode, frame counts, topic frames and
 * whole-message validation.
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
    static const uint8_t want[MQG_WIRE_HDR_LEN] = {0x4d, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00,
                                                   0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    assert_memory_equal(out, want, sizeof(want));

    h = (struct mqg_wire_hdr){.kind = MQG_MSG_READY, .flags = 0, .qos = 0, .seq = 0};
    mqg_wire_hdr_encode(&h, out);
    static const uint8_t want2[MQG_WIRE_HDR_LEN] = {0x4d, 0x01, 0x04, 0, 0, 0, 0, 0,
                                                    0,    0,    0,    0, 0, 0, 0, 0};
    assert_memory_equal(out, want2, sizeof(want2));
}

static void test_roundtrip(void **state)
{
    (void)state;
    static const uint64_t seqs[] = {
        0, 1, 0xff, 0x100, 0x8000000000000000ull, UINT64_MAX, 0x0123456789abcdefull};
    for (uint8_t kind = MQG_MSG_DATA; kind <= MQG_MSG_READY; kind++) {
        for (uint8_t flags = 0; flags <= MQG_WIRE_F_MASK; flags++) {
            for (uint8_t qos = 0; qos <= 2; qos++) {
                for (size_t s = 0; s < N_ELEMS(seqs); s++) {
                    struct mqg_wire_hdr in = {kind, flags, qos, seqs[s]};
                    struct mqg_wire_hdr out;
                    uint8_t buf[MQG_WIRE_HDR_LEN];
                    memset(&out, 0x55, sizeof(out));
                    mqg_wire_hdr_encode(&in, buf);
                    assert_int_equal(mqg_wire_hdr_decode(buf, sizeof(buf), &out), 0);
                    assert_int_equal(out.kind, kind);
                    assert_int_equal(out.flags, flags);
                    assert_int_equal(out.qos, qos);
                    assert_true(out.seq == seqs[s]);
                }
            }
        }
    }
}

static void s_valid_hdr(uint8_t buf[MQG_WIRE_HDR_LEN])
{
    struct mqg_wire_hdr h = {MQG_MSG_DATA, MQG_WIRE_F_DUP, 2, 0xdeadbeefcafef00dull};
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
        return v >= MQG_MSG_DATA && v <= MQG_MSG_READY;
    case 3:
        return (v & ~(unsigned)MQG_WIRE_F_MASK) == 0;
    case 4:
        return v <= 2;
    case 5:
    case 6:
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
    /* 1 + 1 + 4 + 4 + 3 + 1 + 1 + 1 + 8 * 256 accepted */
    assert_int_equal(accepted, 16 + 8 * 256);
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
        {0, 'm', "magic lower case"}, {0, 0x00, "magic zero"}, {1, 0, "version 0"},
        {1, 2, "version 2"},          {2, 0, "kind 0"},        {2, 5, "kind 5"},
        {2, 0xff, "kind 255"},        {3, 0x04, "flag bit 2"}, {3, 0x80, "flag bit 7"},
        {3, 0xff, "all flags"},       {4, 3, "qos 3"},         {4, 0xff, "qos 255"},
        {5, 1, "reserved 5"},         {6, 0x80, "reserved 6"}, {7, 1, "reserved 7"},
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
    assert_int_equal(mqg_wire_frames(MQG_MSG_ACK), 1);
    assert_int_equal(mqg_wire_frames(MQG_MSG_HELLO), 1);
    assert_int_equal(mqg_wire_frames(MQG_MSG_READY), 1);
    assert_int_equal(mqg_wire_frames(0), -EPROTO);
    assert_int_equal(mqg_wire_frames(5), -EPROTO);
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
    struct mqg_wire_hdr h = {kind, MQG_WIRE_F_RETAIN, 1, 42};
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
    for (uint8_t kind = MQG_MSG_ACK; kind <= MQG_MSG_READY; kind++) {
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
