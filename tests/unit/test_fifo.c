/* test_fifo — unit tests of mqg_fifo: order, peek limits, drop-oldest, pop, size limits,
 * compaction and growth of the buffer against a simple model, and giving back big buffers.
 *
 * Contents are always checked byte for byte: what peek hands out must be exactly the encoded
 * BATCH records (mqg_wire) of the messages still queued, oldest first.
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

#include "mqg_fifo.h"
#include "mqg_wire.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a model of the queue: owned copies of the messages, oldest first ---- */

struct m_rec {
    uint8_t flags;
    uint8_t qos;
    char *topic;
    size_t tl;
    uint8_t *payload;
    size_t pl;
    uint16_t src; /* tracked records (MQG_WIRE_F_TRACK) */
    uint64_t seq;
};

struct model {
    struct m_rec *r;
    size_t n;
    size_t cap;
};

static uint64_t s_rng = 0x9e3779b97f4a7c15ull;

static uint32_t s_rand(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (uint32_t)((s_rng * 0x2545f4914f6cdd1dull) >> 32);
}

/* A message with a recognisable topic and payload (salt makes every message different). */
static struct m_rec s_make(size_t tl, size_t pl, unsigned salt)
{
    struct m_rec m = {.flags = (uint8_t)(salt & (MQG_WIRE_F_RETAIN | MQG_WIRE_F_DUP)),
                      .qos = (uint8_t)(salt % 3),
                      .tl = tl,
                      .pl = pl,
                      .src = (uint16_t)(salt * 31u),
                      .seq = 0x0102030405060708ull * (salt + 1u)};
    m.topic = malloc(tl ? tl : 1);
    m.payload = malloc(pl ? pl : 1);
    assert_non_null(m.topic);
    assert_non_null(m.payload);
    for (size_t i = 0; i < tl; i++) {
        m.topic[i] = (char)('a' + (i + salt) % 26);
    }
    for (size_t i = 0; i < pl; i++) {
        m.payload[i] = (uint8_t)(i * 7u + salt * 13u + (i >> 8));
    }
    return m;
}

static void s_free_rec(struct m_rec *m)
{
    free(m->topic);
    free(m->payload);
    memset(m, 0, sizeof(*m));
}

static struct mqg_wire_rec s_wrec(const struct m_rec *m)
{
    return (struct mqg_wire_rec){.flags = m->flags,
                                 .qos = m->qos,
                                 .topic = m->topic,
                                 .topic_len = m->tl,
                                 .payload = m->payload,
                                 .payload_len = m->pl,
                                 .src = m->src,
                                 .seq = m->seq};
}

/* Bytes of the tracking fields of m (0 when untracked). */
static size_t s_track_len(const struct m_rec *m)
{
    return (m->flags & MQG_WIRE_F_TRACK) ? MQG_WIRE_TRACK_LEN : 0;
}

static size_t s_size(const struct m_rec *m)
{
    return MQG_WIRE_REC_HDR_LEN + s_track_len(m) + m->tl + m->pl;
}

static void s_model_push(struct model *md, struct m_rec m)
{
    if (md->n == md->cap) {
        md->cap = md->cap ? md->cap * 2 : 16;
        md->r = realloc(md->r, md->cap * sizeof(*md->r));
        assert_non_null(md->r);
    }
    md->r[md->n++] = m;
}

static void s_model_drop(struct model *md, size_t k)
{
    assert_true(k <= md->n);
    if (k == 0) {
        return;
    }
    for (size_t i = 0; i < k; i++) {
        s_free_rec(&md->r[i]);
    }
    memmove(md->r, md->r + k, (md->n - k) * sizeof(*md->r));
    md->n -= k;
}

static void s_model_free(struct model *md)
{
    s_model_drop(md, md->n);
    free(md->r);
    memset(md, 0, sizeof(*md));
}

/* The same, tracked (source connection and seq after the record header). */
static struct m_rec s_make_tracked(size_t tl, size_t pl, unsigned salt)
{
    struct m_rec m = s_make(tl, pl, salt);
    m.flags |= MQG_WIRE_F_TRACK;
    return m;
}

/* Push m into both the fifo and the model (the model drops its oldest when the fifo says so). */
static int s_push(struct mqg_fifo *f, struct model *md, struct m_rec m)
{
    struct mqg_wire_rec w = s_wrec(&m);
    int rc = mqg_fifo_push(f, &w);
    assert_true(rc >= 0);
    s_model_drop(md, (size_t)rc);
    s_model_push(md, m);
    return rc;
}

/* The n records at body[0..len) are exactly md->r[0..n), checked through the decoder and
 * against an independent encoding. */
static void s_check_body(const uint8_t *body, size_t len, size_t n, const struct model *md)
{
    assert_true(n <= md->n);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const struct m_rec *m = &md->r[i];
        assert_true(len - off >= s_size(m));
        const uint8_t *h = body + off;
        const uint8_t want_hdr[MQG_WIRE_REC_HDR_LEN] = {
            m->flags,
            m->qos,
            (uint8_t)(m->tl >> 8),
            (uint8_t)m->tl,
            (uint8_t)(m->pl >> 24),
            (uint8_t)(m->pl >> 16),
            (uint8_t)(m->pl >> 8),
            (uint8_t)m->pl,
        };
        assert_memory_equal(h, want_hdr, MQG_WIRE_REC_HDR_LEN);
        size_t tk = s_track_len(m);
        if (tk) {
            uint8_t want_track[MQG_WIRE_TRACK_LEN] = {(uint8_t)(m->src >> 8), (uint8_t)m->src};
            for (int b = 0; b < 8; b++) {
                want_track[2 + b] = (uint8_t)(m->seq >> (56 - 8 * b));
            }
            assert_memory_equal(h + MQG_WIRE_REC_HDR_LEN, want_track, MQG_WIRE_TRACK_LEN);
        }
        if (m->tl) {
            assert_memory_equal(h + MQG_WIRE_REC_HDR_LEN + tk, m->topic, m->tl);
        }
        if (m->pl) {
            assert_memory_equal(h + MQG_WIRE_REC_HDR_LEN + tk + m->tl, m->payload, m->pl);
        }
        struct mqg_wire_rec r;
        size_t o = off;
        assert_int_equal(mqg_wire_rec_next(body, len, &o, &r), 1);
        assert_int_equal(o, off + s_size(m));
        off = o;
    }
    assert_int_equal(off, len);
}

/* The whole fifo equals the model. */
static void s_check_all(const struct mqg_fifo *f, const struct model *md)
{
    assert_int_equal(f->count, md->n);
    assert_true(f->head <= f->tail && f->tail <= f->cap);
    size_t len = 12345, n = 12345;
    const uint8_t *body = mqg_fifo_peek(f, SIZE_MAX, &len, &n);
    if (md->n == 0) {
        assert_null(body);
        assert_int_equal(len, 0);
        assert_int_equal(n, 0);
        return;
    }
    assert_non_null(body);
    assert_int_equal(n, md->n);
    assert_int_equal(len, f->tail - f->head);
    s_check_body(body, len, n, md);
}

/* ---- tests ---- */

static void test_init_empty(void **state)
{
    (void)state;
    struct mqg_fifo f;
    memset(&f, 0x55, sizeof(f));
    mqg_fifo_init(&f, 10);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.max, 10);
    size_t len = 1, n = 1;
    assert_null(mqg_fifo_peek(&f, SIZE_MAX, &len, &n));
    assert_int_equal(len, 0);
    assert_int_equal(n, 0);
    mqg_fifo_pop(&f); /* no-op */
    assert_int_equal(f.count, 0);
    mqg_fifo_free(&f);
    assert_null(f.buf);
    assert_int_equal(f.cap, 0);

    mqg_fifo_init(&f, 0); /* a bound of 0 means 1 */
    assert_int_equal(f.max, 1);
    mqg_fifo_free(&f);
}

static void test_order(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    mqg_fifo_init(&f, 100);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(s_push(&f, &md, s_make(1 + i * 3, i * 11, i)), 0);
        assert_int_equal(f.count, i + 1);
    }
    /* an empty payload too */
    assert_int_equal(s_push(&f, &md, s_make(4, 0, 9)), 0);
    s_check_all(&f, &md);

    /* the fifo keeps its own copy: changing the caller's buffers changes nothing */
    struct m_rec m = s_make(6, 6, 42);
    struct mqg_wire_rec w = s_wrec(&m);
    assert_int_equal(mqg_fifo_push(&f, &w), 0);
    s_model_push(&md, s_make(6, 6, 42));
    memset(m.topic, 'Z', m.tl);
    memset(m.payload, 0, m.pl);
    s_free_rec(&m);
    s_check_all(&f, &md);

    /* consume the oldest two, then the rest in order */
    size_t lim = s_size(&md.r[0]) + s_size(&md.r[1]);
    size_t len, n;
    const uint8_t *body = mqg_fifo_peek(&f, lim, &len, &n);
    assert_non_null(body);
    assert_int_equal(n, 2);
    assert_int_equal(len, lim);
    s_check_body(body, len, n, &md);
    mqg_fifo_consume(&f, len, n);
    s_model_drop(&md, 2);
    s_check_all(&f, &md);
    while (md.n) {
        body = mqg_fifo_peek(&f, 1, &len, &n);
        assert_int_equal(n, 1);
        s_check_body(body, len, n, &md);
        mqg_fifo_consume(&f, len, n);
        s_model_drop(&md, 1);
        s_check_all(&f, &md);
    }
    mqg_fifo_free(&f);
    s_model_free(&md);
}

static void test_peek_limit(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    mqg_fifo_init(&f, 100);
    s_push(&f, &md, s_make(3, 10, 1));   /* 21 bytes */
    s_push(&f, &md, s_make(5, 100, 2));  /* 113 bytes */
    s_push(&f, &md, s_make(2, 0, 3));    /* 10 bytes */
    s_push(&f, &md, s_make(7, 1000, 4)); /* 1015 bytes */
    size_t s0 = s_size(&md.r[0]), s1 = s_size(&md.r[1]), s2 = s_size(&md.r[2]);
    size_t s3 = s_size(&md.r[3]);
    assert_int_equal(s0, 21);
    assert_int_equal(s1, 113);

    size_t sums[5] = {0, s0, s0 + s1, s0 + s1 + s2, s0 + s1 + s2 + s3};
    const struct {
        size_t lim;
        size_t want; /* records */
    } cases[] = {
        {0, 1},           {1, 1},       {s0 - 1, 1},      {s0, 1},          {s0 + 1, 1},
        {sums[2] - 1, 1}, {sums[2], 2}, {sums[2] + 9, 2}, {sums[3] - 1, 2}, {sums[3], 3},
        {sums[4] - 1, 3}, {sums[4], 4}, {sums[4] + 1, 4}, {SIZE_MAX, 4},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t len = 0, n = 0;
        const uint8_t *body = mqg_fifo_peek(&f, cases[i].lim, &len, &n);
        assert_non_null(body);
        if (n != cases[i].want) {
            fail_msg("limit %zu: %zu records, want %zu", cases[i].lim, n, cases[i].want);
        }
        assert_int_equal(len, sums[cases[i].want]);
        s_check_body(body, len, n, &md);
        assert_int_equal(f.count, 4); /* peek takes nothing */
    }

    /* a first record larger than the limit still comes, alone */
    size_t len, n;
    mqg_fifo_consume(&f, s0 + s1 + s2, 3);
    s_model_drop(&md, 3);
    assert_int_equal(f.count, 1);
    const uint8_t *body = mqg_fifo_peek(&f, 10, &len, &n);
    assert_non_null(body);
    assert_int_equal(n, 1);
    assert_int_equal(len, s3);
    s_check_body(body, len, n, &md);
    body = mqg_fifo_peek(&f, 0, &len, &n);
    assert_int_equal(n, 1);
    assert_int_equal(len, s3);

    /* a big one followed by small ones: only the big one */
    s_push(&f, &md, s_make(1, 1, 5));
    s_push(&f, &md, s_make(1, 1, 6));
    body = mqg_fifo_peek(&f, 500, &len, &n);
    assert_int_equal(n, 1);
    assert_int_equal(len, s3);
    body = mqg_fifo_peek(&f, s3 + 10, &len, &n);
    assert_int_equal(n, 2);
    assert_int_equal(len, s3 + 10);
    s_check_body(body, len, n, &md);
    mqg_fifo_free(&f);
    s_model_free(&md);
}

static void test_drop_oldest(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    mqg_fifo_init(&f, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(s_push(&f, &md, s_make(2, i + 1, i)), 0);
    }
    char first = md.r[0].topic[0];
    /* full: the next push drops the oldest and says so */
    struct m_rec m = s_make(4, 4, 100);
    struct mqg_wire_rec w = s_wrec(&m);
    assert_int_equal(mqg_fifo_push(&f, &w), 1);
    assert_int_equal(f.count, 3);
    s_model_drop(&md, 1);
    s_model_push(&md, m);
    s_check_all(&f, &md);
    /* the one gone is the oldest: the queue now starts with the former second */
    size_t len, n;
    const uint8_t *body = mqg_fifo_peek(&f, 0, &len, &n);
    assert_int_equal(n, 1);
    assert_int_equal(body[MQG_WIRE_REC_HDR_LEN], (uint8_t)('a' + 1));
    assert_int_not_equal(body[MQG_WIRE_REC_HDR_LEN], (uint8_t)first);
    assert_int_equal(body[7], 2); /* payload length of the second message pushed */

    /* many more: always 3, always the newest 3 */
    for (unsigned i = 0; i < 50; i++) {
        assert_int_equal(s_push(&f, &md, s_make(1 + i % 9, i * 37 % 300, 200 + i)), 1);
        assert_int_equal(f.count, 3);
        s_check_all(&f, &md);
    }
    /* after room is made, pushes are plain again */
    mqg_fifo_pop(&f);
    s_model_drop(&md, 1);
    assert_int_equal(s_push(&f, &md, s_make(3, 3, 7)), 0);
    s_check_all(&f, &md);
    mqg_fifo_free(&f);
    s_model_free(&md);

    /* bound 1 */
    mqg_fifo_init(&f, 1);
    assert_int_equal(s_push(&f, &md, s_make(3, 3, 1)), 0);
    assert_int_equal(s_push(&f, &md, s_make(5, 0, 2)), 1);
    assert_int_equal(f.count, 1);
    s_check_all(&f, &md);
    mqg_fifo_free(&f);
    s_model_free(&md);
}

/* Bytes the model's records take encoded. */
static size_t s_model_bytes(const struct model *md)
{
    size_t b = 0;
    for (size_t i = 0; i < md->n; i++) {
        b += s_size(&md->r[i]);
    }
    return b;
}

/* the byte bound: pushes drop the oldest until the new record fits; the newest always stays */
static void test_byte_bound(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    mqg_fifo_init(&f, 1000);
    f.max_bytes = 1000;
    assert_false(mqg_fifo_full(&f));
    /* 100-byte records (8 header + 2 topic + 90 payload): 10 fit exactly */
    for (unsigned i = 0; i < 10; i++) {
        assert_int_equal(s_push(&f, &md, s_make(2, 90, i)), 0);
    }
    assert_int_equal(mqg_fifo_bytes(&f), 1000);
    assert_int_equal(s_model_bytes(&md), 1000);
    assert_true(mqg_fifo_full(&f));
    /* one more 100-byte record: exactly one dropped */
    assert_int_equal(s_push(&f, &md, s_make(2, 90, 10)), 1);
    s_check_all(&f, &md);
    /* a 450-byte record: five dropped */
    assert_int_equal(s_push(&f, &md, s_make(2, 440, 11)), 5);
    assert_int_equal(f.count, 6);
    assert_int_equal(mqg_fifo_bytes(&f), 950);
    assert_false(mqg_fifo_full(&f));
    s_check_all(&f, &md);
    /* a record larger than the bound replaces everything and is kept */
    assert_int_equal(s_push(&f, &md, s_make(3, 2000, 12)), 6);
    assert_int_equal(f.count, 1);
    assert_true(mqg_fifo_full(&f));
    s_check_all(&f, &md);
    /* random sizes: the bound always holds unless one record alone is larger */
    for (unsigned i = 0; i < 500; i++) {
        s_push(&f, &md, s_make(1 + i % 40, (i * 7919u) % 700, 100 + i));
        assert_true(mqg_fifo_bytes(&f) <= f.max_bytes || f.count == 1);
        assert_int_equal(mqg_fifo_bytes(&f), s_model_bytes(&md));
        s_check_all(&f, &md);
    }
    mqg_fifo_free(&f);
    s_model_free(&md);
}

/* append ignores the bound (flow control lets one batch overshoot): nothing is dropped */
static void test_append_beyond_max(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    mqg_fifo_init(&f, 2);
    for (unsigned i = 0; i < 10; i++) {
        struct m_rec m = s_make(1 + i % 5, i * 11 % 70, 300 + i);
        struct mqg_wire_rec w = s_wrec(&m);
        assert_int_equal(mqg_fifo_append(&f, &w), 0);
        s_model_push(&md, m);
        assert_int_equal(f.count, i + 1);
    }
    s_check_all(&f, &md);
    /* a push into the overfull fifo drops the oldest down to the bound again */
    struct m_rec m = s_make(2, 2, 999);
    struct mqg_wire_rec w = s_wrec(&m);
    assert_int_equal(mqg_fifo_push(&f, &w), 9);
    assert_int_equal(f.count, 2);
    s_model_drop(&md, 9);
    s_model_push(&md, m);
    s_check_all(&f, &md);
    char big[70000];
    memset(big, 'a', sizeof(big));
    struct mqg_wire_rec bad = {.topic = big, .topic_len = 65536, .payload = "", .payload_len = 0};
    assert_int_equal(mqg_fifo_append(&f, &bad), -EMSGSIZE);
    assert_int_equal(f.count, 2);
    mqg_fifo_free(&f);
    s_model_free(&md);
}

static void test_pop(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    mqg_fifo_init(&f, 10);
    for (unsigned i = 0; i < 6; i++) {
        s_push(&f, &md, s_make(1 + i, 10 * i, i));
    }
    while (md.n) {
        mqg_fifo_pop(&f);
        s_model_drop(&md, 1);
        s_check_all(&f, &md);
    }
    assert_int_equal(f.head, 0);
    assert_int_equal(f.tail, 0);
    mqg_fifo_pop(&f); /* empty: nothing happens */
    assert_int_equal(f.count, 0);
    assert_int_equal(s_push(&f, &md, s_make(2, 2, 9)), 0);
    s_check_all(&f, &md);
    mqg_fifo_free(&f);
    s_model_free(&md);
}

static void test_msgsize(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    mqg_fifo_init(&f, 2);
    s_push(&f, &md, s_make(3, 3, 1));
    s_push(&f, &md, s_make(3, 3, 2));

    /* a topic of 65536 bytes: refused, and the full fifo drops nothing */
    struct m_rec big = s_make(65536, 1, 3);
    struct mqg_wire_rec w = s_wrec(&big);
    assert_int_equal(mqg_fifo_push(&f, &w), -EMSGSIZE);
    s_check_all(&f, &md);
    w.topic_len = SIZE_MAX;
    assert_int_equal(mqg_fifo_push(&f, &w), -EMSGSIZE);
    s_check_all(&f, &md);
    /* 65535 is the largest allowed */
    big.tl = 65535;
    assert_int_equal(s_push(&f, &md, big), 1);
    s_check_all(&f, &md);

#if SIZE_MAX > 0xFFFFFFFFu
    /* a payload of 4 GiB: refused before a byte of it is read */
    uint8_t small[4] = {1, 2, 3, 4};
    struct mqg_wire_rec huge = {.topic = "a", .topic_len = 1, .payload = small};
    huge.payload_len = (size_t)1 << 32;
    assert_int_equal(mqg_fifo_push(&f, &huge), -EMSGSIZE);
    huge.payload_len = SIZE_MAX;
    assert_int_equal(mqg_fifo_push(&f, &huge), -EMSGSIZE);
    s_check_all(&f, &md);
#endif
    mqg_fifo_free(&f);
    s_model_free(&md);
}

/* Many push/peek/consume/pop cycles with sizes from a few bytes to tens of KiB, checked
 * against the model after every step; the buffer must both compact and grow on the way. */
static void test_model_cycles(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    const size_t max = 64;
    mqg_fifo_init(&f, max);
    size_t grew = 0, compacted = 0, drops = 0;
    unsigned salt = 0;
    for (int step = 0; step < 6000; step++) {
        size_t cap0 = f.cap, head0 = f.head, count0 = f.count;
        const uint8_t *buf0 = f.buf;
        uint32_t op = s_rand() % 100;
        /* phases: mostly pushing, then mostly taking, so the queue fills and drains */
        bool filling = (step / 500) % 2 == 0;
        if (op < (filling ? 80u : 30u)) {
            size_t tl = 1 + s_rand() % 64;
            size_t pl;
            uint32_t k = s_rand() % 100;
            if (k < 60) {
                pl = s_rand() % 64;
            } else if (k < 95) {
                pl = s_rand() % 2000;
            } else {
                pl = 10000 + s_rand() % 40000;
            }
            if (s_rand() % 50 == 0) {
                tl = 1000 + s_rand() % 3000;
            }
            struct m_rec m =
                s_rand() % 3 == 0 ? s_make_tracked(tl, pl, salt) : s_make(tl, pl, salt);
            salt++;
            int rc = s_push(&f, &md, m);
            drops += rc == 1;
            if (rc == 1) {
                assert_int_equal(count0, max);
            }
        } else if (op < (filling ? 95u : 90u)) {
            size_t lim = filling             ? s_rand() % 4000
                         : s_rand() % 3 == 0 ? SIZE_MAX
                                             : s_rand() % 70000;
            size_t len, n;
            const uint8_t *body = mqg_fifo_peek(&f, lim, &len, &n);
            if (!md.n) {
                assert_null(body);
                continue;
            }
            assert_true(n >= 1);
            assert_true(len <= lim || n == 1);
            s_check_body(body, len, n, &md);
            if (n < md.n) {
                /* the next record would have gone over the limit */
                assert_true(len + s_size(&md.r[n]) > lim);
            }
            mqg_fifo_consume(&f, len, n);
            s_model_drop(&md, n);
        } else {
            mqg_fifo_pop(&f);
            if (md.n) {
                s_model_drop(&md, 1);
            }
        }
        if (f.cap > cap0 && count0 > 0 && f.count > 0) {
            grew++;
        }
        if (f.buf == buf0 && f.cap == cap0 && f.count > count0 && head0 > 0 && f.head == 0) {
            compacted++; /* a push moved the live bytes to the front */
        }
        s_check_all(&f, &md);
    }
    print_message("drops %zu, growths %zu, compactions %zu, final cap %zu\n", drops, grew,
                  compacted, f.cap);
    assert_true(drops > 0);
    assert_true(grew > 0);
    assert_true(compacted > 0);
    /* drain */
    size_t len, n;
    while (mqg_fifo_peek(&f, 4096, &len, &n)) {
        mqg_fifo_consume(&f, len, n);
        s_model_drop(&md, n);
        s_check_all(&f, &md);
    }
    assert_int_equal(md.n, 0);
    mqg_fifo_free(&f);
    s_model_free(&md);
}

/* Emptying resets the offsets; a small buffer is kept for the next messages. */
static void test_empty_resets(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    mqg_fifo_init(&f, 100);
    for (unsigned i = 0; i < 10; i++) {
        s_push(&f, &md, s_make(8, 50, i));
    }
    size_t len, n;
    mqg_fifo_peek(&f, 200, &len, &n);
    mqg_fifo_consume(&f, len, n);
    s_model_drop(&md, n);
    assert_true(f.head > 0);
    s_check_all(&f, &md);

    const uint8_t *buf = f.buf;
    size_t cap = f.cap;
    const uint8_t *body = mqg_fifo_peek(&f, SIZE_MAX, &len, &n);
    assert_int_equal(n, md.n);
    mqg_fifo_consume(&f, len, n);
    s_model_drop(&md, n);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.head, 0);
    assert_int_equal(f.tail, 0);
    assert_ptr_equal(f.buf, buf); /* small: kept */
    assert_int_equal(f.cap, cap);
    assert_null(mqg_fifo_peek(&f, SIZE_MAX, &len, &n));
    assert_int_equal(len, 0);
    assert_int_equal(n, 0);

    /* the next message starts at the front again */
    s_push(&f, &md, s_make(5, 5, 77));
    body = mqg_fifo_peek(&f, SIZE_MAX, &len, &n);
    assert_ptr_equal(body, f.buf);
    assert_int_equal(f.head, 0);
    assert_int_equal(f.tail, s_size(&md.r[0]));
    s_check_all(&f, &md);

    /* consume with counts covering everything empties too */
    s_push(&f, &md, s_make(5, 5, 78));
    mqg_fifo_consume(&f, SIZE_MAX, SIZE_MAX);
    s_model_drop(&md, md.n);
    s_check_all(&f, &md);
    assert_int_equal(f.head, 0);
    assert_int_equal(f.tail, 0);
    mqg_fifo_free(&f);
    s_model_free(&md);
}

/* A buffer grown beyond 1 MiB is given back when the fifo empties (consume or pop). */
static void test_free_big(void **state)
{
    (void)state;
    struct mqg_fifo f;
    struct model md = {0};
    mqg_fifo_init(&f, 100);
    for (unsigned i = 0; i < 3; i++) {
        s_push(&f, &md, s_make(10, 600 * 1024, i));
    }
    assert_true(f.cap > (1u << 20));
    s_check_all(&f, &md);
    size_t len, n;
    /* partly consumed: still held */
    mqg_fifo_peek(&f, 1, &len, &n);
    assert_int_equal(n, 1);
    mqg_fifo_consume(&f, len, n);
    s_model_drop(&md, 1);
    assert_true(f.cap > (1u << 20));
    s_check_all(&f, &md);
    /* emptied: given back */
    mqg_fifo_peek(&f, SIZE_MAX, &len, &n);
    mqg_fifo_consume(&f, len, n);
    s_model_drop(&md, n);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.cap, 0);
    assert_null(f.buf);
    assert_int_equal(f.head, 0);
    assert_int_equal(f.tail, 0);
    s_check_all(&f, &md);

    /* usable again, and the same through pop */
    for (unsigned i = 0; i < 3; i++) {
        s_push(&f, &md, s_make(10, 600 * 1024, 10 + i));
    }
    assert_true(f.cap > (1u << 20));
    s_check_all(&f, &md);
    while (md.n) {
        mqg_fifo_pop(&f);
        s_model_drop(&md, 1);
        if (md.n) {
            assert_true(f.cap > (1u << 20));
        }
        s_check_all(&f, &md);
    }
    assert_int_equal(f.cap, 0);
    assert_null(f.buf);
    s_push(&f, &md, s_make(3, 3, 99));
    s_check_all(&f, &md);
    assert_true(f.cap > 0 && f.cap <= (1u << 20));
    mqg_fifo_free(&f);
    s_model_free(&md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_empty),   cmocka_unit_test(test_order),
        cmocka_unit_test(test_peek_limit),   cmocka_unit_test(test_drop_oldest),
        cmocka_unit_test(test_pop),          cmocka_unit_test(test_msgsize),
        cmocka_unit_test(test_model_cycles), cmocka_unit_test(test_empty_resets),
        cmocka_unit_test(test_free_big),     cmocka_unit_test(test_append_beyond_max),
        cmocka_unit_test(test_byte_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
