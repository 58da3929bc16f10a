/* test_outbox — unit tests of the connector's outbound queue policy (connector/outbox.c).
 *
 * A fake publish function stands for paho: it records every call (topic, QoS, retain, tag,
 * notify) and answers with scripted codes (-EAGAIN, -ENOTCONN, -EIO), else 0. Results are fed
 * back with the tags it recorded, as the connector does with paho's events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "mqg_log.h"
#include "outbox.h"

#define MAX_CALLS 2048

struct call {
    char topic[64];
    size_t len;
    int qos;
    bool retain;
    uint64_t tag;
    bool notify;
    int rc; /* what the fake answered */
};

struct fake {
    struct call calls[MAX_CALLS];
    size_t n;    /* calls recorded */
    size_t seen; /* calls already looked at by s_expect */
    int rcs[8];  /* answers for the next calls, then 0 */
    size_t n_rcs, next_rc;
};

static struct fake F;

static int s_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                     bool retain, uint64_t tag, bool notify)
{
    struct fake *f = ctx;
    assert_ptr_equal(f, &F);
    assert_true(f->n < MAX_CALLS);
    struct call *c = &f->calls[f->n++];
    snprintf(c->topic, sizeof(c->topic), "%s", topic);
    assert_true(len == 0 || payload != NULL);
    c->len = len;
    c->qos = qos;
    c->retain = retain;
    c->tag = tag;
    c->notify = notify;
    c->rc = f->next_rc < f->n_rcs ? f->rcs[f->next_rc++] : 0;
    return c->rc;
}

static void s_answer(int rc)
{
    assert_true(F.n_rcs < sizeof(F.rcs) / sizeof(F.rcs[0]));
    F.rcs[F.n_rcs++] = rc;
}

static struct outbox_opts s_opts(int max_inflight)
{
    struct outbox_opts o = {.max_count = 1000,
                            .max_bytes = 1 << 20,
                            .max_inflight = max_inflight,
                            .protocol_version = 4,
                            .report_ms = 60000,
                            .publish = s_publish,
                            .ctx = &F};
    return o;
}

static struct outbox *s_new(const struct outbox_opts *o)
{
    memset(&F, 0, sizeof(F));
    struct outbox *ob = NULL;
    assert_int_equal(outbox_new(o, &ob), 0);
    assert_non_null(ob);
    return ob;
}

static int s_push(struct outbox *ob, const char *topic, size_t payload_len, int qos, bool retain)
{
    static char payload[1024];
    assert_true(payload_len <= sizeof(payload));
    memset(payload, 'p', payload_len);
    struct mqg_wire_rec rec = {.flags = retain ? MQG_WIRE_F_RETAIN : 0,
                               .qos = (uint8_t)qos,
                               .topic = topic,
                               .topic_len = strlen(topic),
                               .payload = payload,
                               .payload_len = payload_len};
    return outbox_push(ob, &rec);
}

/* Push n messages "<prefix><i>" (i from first), 1-byte payloads. */
static void s_push_n(struct outbox *ob, const char *prefix, int first, int n, int qos)
{
    for (int i = first; i < first + n; i++) {
        char t[32];
        snprintf(t, sizeof(t), "%s%d", prefix, i);
        assert_int_equal(s_push(ob, t, 1, qos, false), 0);
    }
}

/* The calls since the last s_expect were accepted publishes of exactly these topics, in this
 * order (a NULL-terminated list). Returns the index of the first of them. */
static size_t s_expect(const char *first, ...)
{
    size_t at = F.seen;
    va_list ap;
    va_start(ap, first);
    for (const char *t = first; t; t = va_arg(ap, const char *)) {
        if (F.seen >= F.n) {
            fail_msg("expected a publish of %s, got none", t);
        }
        if (strcmp(F.calls[F.seen].topic, t) != 0 || F.calls[F.seen].rc != 0) {
            fail_msg("expected a publish of %s, got %s (rc %d)", t, F.calls[F.seen].topic,
                     F.calls[F.seen].rc);
        }
        F.seen++;
    }
    va_end(ap);
    if (F.seen != F.n) {
        fail_msg("unexpected publish of %s", F.calls[F.seen].topic);
    }
    return at;
}

/* The tag of the last accepted publish of topic. */
static uint64_t s_tag(const char *topic)
{
    for (size_t i = F.n; i-- > 0;) {
        if (strcmp(F.calls[i].topic, topic) == 0 && F.calls[i].rc == 0) {
            return F.calls[i].tag;
        }
    }
    fail_msg("%s was never published", topic);
    return 0;
}

static struct outbox_stats s_stats(const struct outbox *ob)
{
    struct outbox_stats st;
    outbox_stats(ob, &st);
    assert_int_equal(st.queued, outbox_queued(ob));
    return st;
}

static void s_check(const struct outbox *ob, size_t queued, int inflight, uint64_t out,
                    uint64_t dropped)
{
    struct outbox_stats st = s_stats(ob);
    assert_int_equal(st.queued, queued);
    assert_int_equal(st.inflight, inflight);
    assert_int_equal(st.out, out);
    assert_int_equal(st.dropped, dropped);
}

static void test_bad_options(void **state)
{
    (void)state;
    struct outbox *ob = NULL;
    struct outbox_opts o = s_opts(10);
    o.publish = NULL;
    assert_int_equal(outbox_new(&o, &ob), -EINVAL);
    o = s_opts(10);
    o.tag_bits = 8; /* nothing left for the seq */
    assert_int_equal(outbox_new(&o, &ob), -EINVAL);
    o.tag_bits = 65;
    assert_int_equal(outbox_new(&o, &ob), -EINVAL);
    assert_null(ob);
    outbox_destroy(&ob); /* NULL-safe */
    outbox_destroy(NULL);
}

/* Nothing goes while disconnected; connected, in order, at most max_inflight at a time; a
 * message leaves the queue only once it and all before it are done. */
static void test_in_order_within_window(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(3);
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "m", 0, 4, 1);
    assert_int_equal(s_push(ob, "m4", 5, 2, true), 0);
    outbox_pump(ob);
    s_expect(NULL);
    s_check(ob, 5, 0, 0, 0);

    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("m0", "m1", "m2", NULL);
    assert_int_equal(F.calls[0].qos, 1);
    assert_false(F.calls[0].retain);
    assert_int_equal(F.calls[0].len, 1);
    outbox_pump(ob); /* the window is full */
    s_expect(NULL);
    s_check(ob, 5, 3, 0, 0);

    outbox_result(ob, s_tag("m1"), true, 0); /* out of order: m0 still holds the front */
    s_check(ob, 5, 2, 1, 0);
    outbox_pump(ob);
    s_expect("m3", NULL);
    outbox_result(ob, s_tag("m0"), true, 0);
    s_check(ob, 3, 2, 2, 0);
    outbox_pump(ob);
    s_expect("m4", NULL);
    assert_int_equal(F.calls[4].qos, 2);
    assert_true(F.calls[4].retain);
    assert_int_equal(F.calls[4].len, 5);
    for (int i = 2; i <= 4; i++) {
        char t[8];
        snprintf(t, sizeof(t), "m%d", i);
        outbox_result(ob, s_tag(t), true, 0);
    }
    s_check(ob, 0, 0, 5, 0);
    outbox_result(ob, s_tag("m2"), true, 0); /* late and repeated: nothing left to find */
    s_check(ob, 0, 0, 5, 0);
    outbox_destroy(&ob);
    assert_null(ob);
}

/* MQTT 5: the broker's Receive Maximum, when lower than max_inflight, is the window (paho
 * holds what goes beyond it and loses some of their results); a higher one, or none, leaves
 * max_inflight; each connection says it anew. */
static void test_receive_maximum(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(3);
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "m", 0, 6, 1);
    outbox_connected(ob, 0, 2);
    outbox_pump(ob);
    s_expect("m0", "m1", NULL);
    outbox_pump(ob);
    s_expect(NULL);
    outbox_result(ob, s_tag("m0"), true, 0);
    outbox_pump(ob);
    s_expect("m2", NULL);
    outbox_lost(ob);
    outbox_connected(ob, 0, 100); /* higher than max_inflight: 3 */
    outbox_pump(ob);
    s_expect("m1", "m2", "m3", NULL);
    outbox_lost(ob);
    outbox_connected(ob, 0, 0); /* none: 3 */
    outbox_pump(ob);
    s_expect("m1", "m2", "m3", NULL);
    outbox_destroy(&ob);
}

/* -EAGAIN and -ENOTCONN: not taken, the same message goes at the next pump; -EIO: dropped. */
static void test_client_refusals(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(10);
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "m", 0, 3, 1);
    outbox_connected(ob, 0, 0);
    s_answer(0);
    s_answer(-EAGAIN);
    outbox_pump(ob);
    assert_int_equal(F.n, 2);
    assert_string_equal(F.calls[1].topic, "m1");
    assert_int_equal(F.calls[1].rc, -EAGAIN);
    F.seen = 2;
    s_check(ob, 3, 1, 0, 0);

    s_answer(-ENOTCONN);
    outbox_pump(ob);
    assert_int_equal(F.n, 3);
    assert_string_equal(F.calls[2].topic, "m1");
    F.seen = 3;
    s_check(ob, 3, 1, 0, 0);

    s_answer(-EIO); /* m1 refused for good: dropped, m2 goes */
    outbox_pump(ob);
    assert_string_equal(F.calls[3].topic, "m1");
    F.seen = 4;
    s_expect("m2", NULL);
    s_check(ob, 3, 2, 0, 1); /* m1 is done but behind m0 */
    outbox_result(ob, s_tag("m0"), true, 0);
    s_check(ob, 1, 1, 1, 1);
    outbox_result(ob, s_tag("m2"), true, 0);
    s_check(ob, 0, 0, 2, 1);
    outbox_destroy(&ob);
}

/* QoS 0: a result is asked for every 32nd message and the last of a round; it settles the
 * silent ones before it, also when it reports a failure of the current connection. */
static void test_qos0_settled_by_later_report(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(100);
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "q", 0, 40, 0);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    assert_int_equal(F.n, 40);
    for (size_t i = 0; i < 40; i++) {
        /* seq 32 (the 32nd, first_seq 1) and the last one */
        assert_int_equal(F.calls[i].notify, i == 31 || i == 39);
    }
    F.seen = 40;
    s_check(ob, 40, 40, 0, 0);

    outbox_result(ob, s_tag("q31"), true, 0);
    s_check(ob, 8, 8, 32, 0);
    outbox_result(ob, s_tag("q39"), false, -1); /* q32..q38 were written before it */
    s_check(ob, 1, 0, 39, 0);
    outbox_pump(ob);
    s_expect("q39", NULL);
    assert_true(F.calls[40].notify);
    outbox_result(ob, s_tag("q39"), true, 0);
    s_check(ob, 0, 0, 40, 0);

    /* a QoS 0 result settles only QoS 0 messages: a QoS 1 one before it waits for its own */
    s_push_n(ob, "m", 0, 1, 1);
    s_push_n(ob, "q", 40, 2, 0);
    outbox_pump(ob);
    s_expect("m0", "q40", "q41", NULL);
    outbox_result(ob, s_tag("q41"), true, 0);
    s_check(ob, 3, 1, 42, 0);
    outbox_result(ob, s_tag("m0"), true, 0);
    s_check(ob, 0, 0, 43, 0);

    /* the last of a round asks for a result also when the window ends the round */
    o = s_opts(3);
    outbox_destroy(&ob);
    ob = s_new(&o);
    s_push_n(ob, "r", 0, 5, 0);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("r0", "r1", "r2", NULL);
    assert_false(F.calls[0].notify);
    assert_false(F.calls[1].notify);
    assert_true(F.calls[2].notify);
    outbox_destroy(&ob);
}

/* After a reconnect, a failure reported for a publish of the earlier connection changes
 * nothing (the message was already put back and published again); a success still counts. */
static void test_earlier_generation_ignored(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(10);
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "m", 0, 2, 1);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("m0", "m1", NULL);
    uint64_t old0 = s_tag("m0"), old1 = s_tag("m1");
    outbox_lost(ob);
    s_check(ob, 2, 0, 0, 0);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("m0", "m1", NULL);
    assert_true(s_tag("m0") != old0);

    outbox_result(ob, old0, false, 0x80);
    s_check(ob, 2, 2, 0, 0);
    outbox_pump(ob);
    s_expect(NULL); /* not put back */
    /* 4 failures of the current connection leave it queued: the old one was not counted */
    for (int i = 0; i < 4; i++) {
        outbox_result(ob, s_tag("m0"), false, 0x80);
        outbox_pump(ob);
        s_expect("m0", NULL);
    }
    s_check(ob, 2, 2, 0, 0);

    outbox_result(ob, old1, true, 0); /* the broker confirmed the first copy */
    s_check(ob, 2, 1, 1, 0);
    outbox_result(ob, s_tag("m1"), true, 0); /* and then the second: counted once */
    s_check(ob, 2, 1, 1, 0);
    outbox_destroy(&ob);

    /* QoS 0: an old failure does not settle the silent messages before it */
    ob = s_new(&o);
    s_push_n(ob, "q", 0, 3, 0);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("q0", "q1", "q2", NULL);
    uint64_t old2 = s_tag("q2");
    outbox_lost(ob);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("q0", "q1", "q2", NULL);
    outbox_result(ob, old2, false, -1);
    s_check(ob, 3, 3, 0, 0);
    outbox_result(ob, s_tag("q2"), true, 0);
    s_check(ob, 0, 0, 3, 0);
    outbox_destroy(&ob);
}

/* A lost connection: what was not confirmed is published again, in its order, once
 * connected again; what was confirmed is not. */
static void test_rewind_republishes_unconfirmed(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(4);
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "m", 0, 6, 1);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("m0", "m1", "m2", "m3", NULL);
    outbox_result(ob, s_tag("m1"), true, 0);
    outbox_result(ob, s_tag("m3"), true, 0);
    s_check(ob, 6, 2, 2, 0);
    outbox_lost(ob);
    s_check(ob, 6, 0, 2, 0);
    assert_false(outbox_full(ob));
    outbox_pump(ob);
    s_expect(NULL);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("m0", "m2", "m4", "m5", NULL);
    const char *all[] = {"m0", "m2", "m4", "m5"};
    for (size_t i = 0; i < 4; i++) {
        outbox_result(ob, s_tag(all[i]), true, 0);
    }
    s_check(ob, 0, 0, 6, 0);
    outbox_destroy(&ob);
}

/* A publish that fails 5 times (reported failures only) is dropped. */
static void test_five_failures_drop(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(1);
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "m", 0, 2, 1);
    outbox_connected(ob, 0, 0);
    for (int i = 1; i <= 5; i++) {
        outbox_pump(ob);
        s_expect("m0", NULL);
        if (i == 3) { /* re-publishing after a reconnect is not a failure */
            outbox_lost(ob);
            outbox_connected(ob, 0, 0);
            outbox_pump(ob);
            s_expect("m0", NULL);
        }
        outbox_result(ob, s_tag("m0"), false, 0x87);
        if (i < 5) {
            s_check(ob, 2, 0, 0, 0);
        }
    }
    s_check(ob, 1, 0, 0, 1);
    outbox_pump(ob);
    s_expect("m1", NULL);
    outbox_destroy(&ob);
}

/* While disconnected the oldest are dropped beyond the bounds, in messages and in bytes;
 * while connected nothing is dropped and outbox_full asks the caller to stop reading. */
static void test_drop_oldest_counts_and_bytes(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(10);
    o.max_count = 3;
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "m", 0, 5, 1);
    s_check(ob, 3, 0, 0, 2);
    assert_false(outbox_full(ob)); /* full, but disconnected: keep reading, drop the oldest */
    outbox_connected(ob, 0, 0);
    assert_true(outbox_full(ob));
    s_push_n(ob, "m", 5, 2, 1); /* the rest of a batch: kept */
    s_check(ob, 5, 0, 0, 2);
    outbox_pump(ob);
    s_expect("m2", "m3", "m4", "m5", "m6", NULL);
    outbox_result(ob, s_tag("m2"), true, 0);
    outbox_result(ob, s_tag("m3"), true, 0);
    assert_true(outbox_full(ob));
    outbox_result(ob, s_tag("m4"), true, 0);
    assert_false(outbox_full(ob));
    /* lost with two in flight: dropped for room like any other */
    outbox_lost(ob);
    s_push_n(ob, "m", 7, 3, 1);
    s_check(ob, 3, 0, 3, 4);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("m7", "m8", "m9", NULL);
    outbox_result(ob, s_tag("m5"), true, 0); /* dropped meanwhile: nothing to find */
    s_check(ob, 3, 3, 3, 4);
    outbox_destroy(&ob);

    /* bytes: topic + payload */
    o = s_opts(10);
    o.max_bytes = 100;
    ob = s_new(&o);
    assert_int_equal(s_push(ob, "t1", 38, 1, false), 0); /* 40 */
    assert_int_equal(s_push(ob, "t2", 38, 1, false), 0); /* 80 */
    assert_int_equal(s_push(ob, "t3", 18, 1, false), 0); /* 100: fits exactly */
    s_check(ob, 3, 0, 0, 0);
    assert_int_equal(s_push(ob, "t4", 38, 1, false), 0); /* t1 makes room */
    s_check(ob, 3, 0, 0, 1);
    assert_int_equal(s_push(ob, "t5", 1, 1, false), 0); /* 102: t2 goes */
    s_check(ob, 3, 0, 0, 2);
    assert_int_equal(s_push(ob, "big", 500, 1, false), 0); /* larger than the bound: alone */
    s_check(ob, 1, 0, 0, 5);
    outbox_connected(ob, 0, 0);
    assert_true(outbox_full(ob));
    outbox_pump(ob);
    s_expect("big", NULL);
    outbox_destroy(&ob);
}

/* What the broker would close the connection for is dropped alone before it is sent: a topic
 * it refuses (when queued), a packet above its Maximum Packet Size (when published). */
static void test_prepublish_drops(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(10);
    o.protocol_version = 5;
    struct outbox *ob = s_new(&o);
    assert_int_equal(s_push(ob, "a/\x01/b", 1, 1, false), -EINVAL);
    assert_int_equal(s_push(ob, "a/\xef\xbf\xbe", 1, 1, false), -EINVAL); /* U+FFFE */
    assert_int_equal(s_push(ob, "ok/0", 1, 1, false), 0);
    /* PUBLISH of topic "big" and 100 bytes, QoS 1, MQTT 5: 1 + 1 + 2 + 3 + 2 + 1 + 100 */
    assert_int_equal(s_push(ob, "big", 100, 1, false), 0);
    assert_int_equal(s_push(ob, "ok/1", 1, 1, false), 0);
    struct outbox_stats st = s_stats(ob);
    assert_int_equal(st.badtopic, 2);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.queued, 3);

    outbox_connected(ob, 110, 0);
    outbox_pump(ob);
    s_expect("ok/0", "big", "ok/1", NULL); /* 110 bytes: fits exactly */
    for (size_t i = 0; i < 3; i++) {
        outbox_result(ob, F.calls[i].tag, true, 0);
    }
    outbox_lost(ob);
    assert_int_equal(s_push(ob, "ok/2", 1, 1, false), 0);
    assert_int_equal(s_push(ob, "big", 101, 1, false), 0);
    assert_int_equal(s_push(ob, "ok/3", 1, 1, false), 0);
    outbox_connected(ob, 110, 0);
    outbox_pump(ob);
    s_expect("ok/2", "ok/3", NULL);
    st = s_stats(ob);
    assert_int_equal(st.toolarge, 1);
    assert_int_equal(st.badtopic, 2);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.queued, 3); /* the dropped one waits behind ok/2, done */
    outbox_result(ob, s_tag("ok/2"), true, 0);
    s_check(ob, 1, 1, 4, 3);
    outbox_report(ob, INT64_MAX / 2); /* the summaries: logged, nothing changes */
    s_check(ob, 1, 1, 4, 3);
    outbox_destroy(&ob);

    /* no maximum announced: only MQTT's own limit */
    o.protocol_version = 4;
    ob = s_new(&o);
    assert_int_equal(s_push(ob, "big", 1000, 1, false), 0);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("big", NULL);
    outbox_destroy(&ob);
}

/* Results find their messages across a wrap: the tag's seq is rebuilt from the oldest queued
 * one. A failure makes exactly that message go again; a stale result finds nothing. */
static void s_wrap_case(unsigned tag_bits, uint64_t first_seq)
{
    struct outbox_opts o = s_opts(10);
    o.tag_bits = tag_bits;
    o.first_seq = first_seq;
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "w", 0, 8, 1);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", NULL);
    bool wrapped = false; /* the tags grow with seq: where seq's bits wrap, they fall */
    for (size_t i = 0; i < 8; i++) {
        if (tag_bits && tag_bits < 64) {
            assert_true(F.calls[i].tag < (uint64_t)1 << tag_bits);
        }
        for (size_t j = 0; j < i; j++) {
            assert_true(F.calls[i].tag != F.calls[j].tag);
        }
        wrapped = wrapped || (i > 0 && F.calls[i].tag < F.calls[i - 1].tag);
    }
    assert_true(wrapped);
    outbox_result(ob, s_tag("w5"), false, 0x80);
    outbox_pump(ob);
    s_expect("w5", NULL);
    outbox_result(ob, s_tag("w3"), false, 0x80);
    outbox_result(ob, s_tag("w1"), false, 0x80);
    outbox_pump(ob);
    s_expect("w1", "w3", NULL);
    uint64_t stale = s_tag("w0");
    outbox_result(ob, stale, true, 0);
    outbox_result(ob, s_tag("w1"), true, 0);
    outbox_result(ob, s_tag("w2"), true, 0);
    s_check(ob, 5, 5, 3, 0);
    outbox_result(ob, stale, true, 0); /* popped: finds nothing */
    outbox_result(ob, stale, false, 0x80);
    s_check(ob, 5, 5, 3, 0);
    const char *rest[] = {"w7", "w6", "w5", "w4", "w3"};
    for (size_t i = 0; i < 5; i++) {
        outbox_result(ob, s_tag(rest[i]), true, 0);
    }
    s_check(ob, 0, 0, 8, 0);
    outbox_destroy(&ob);
}

static void test_seq_wrap(void **state)
{
    (void)state;
    /* the 64-bit counter itself */
    s_wrap_case(0, UINT64_MAX - 3);
    /* the seq bits of a 64-bit tag (56) */
    s_wrap_case(0, ((uint64_t)1 << 56) - 3);
    /* 32-bit systems: 24 bits of seq in the tag */
    s_wrap_case(32, ((uint64_t)1 << 24) - 3);
    s_wrap_case(32, ((uint64_t)1 << 32) - 3);
    s_wrap_case(32, UINT64_MAX - 3);
}

/* The generation in the tags wraps after 256 connections: in every one, also across the
 * wrap, a failure of the connection before is ignored and one of the current connection
 * counts. m0 stays in flight throughout; each connection publishes one more message, which
 * fails once and then succeeds. */
static void test_generation_wrap(void **state)
{
    (void)state;
    struct outbox_opts o = s_opts(10);
    struct outbox *ob = s_new(&o);
    s_push_n(ob, "m", 0, 1, 1);
    uint64_t prev = 0;
    for (int conn = 0; conn < 300; conn++) {
        char c[16];
        snprintf(c, sizeof(c), "c%d", conn);
        assert_int_equal(s_push(ob, c, 1, 1, false), 0);
        outbox_connected(ob, 0, 0);
        outbox_pump(ob);
        s_expect("m0", c, NULL);
        uint64_t tag = s_tag("m0");
        if (conn > 0) {
            assert_true(tag != prev);
            outbox_result(ob, prev, false, 0x80); /* the previous connection's: ignored */
            outbox_pump(ob);
            s_expect(NULL);
        }
        outbox_result(ob, s_tag(c), false, 0x80); /* this connection's: put back */
        outbox_pump(ob);
        s_expect(c, NULL);
        outbox_result(ob, s_tag(c), true, 0);
        s_check(ob, (size_t)conn + 2, 1, (uint64_t)conn + 1, 0);
        prev = tag;
        outbox_lost(ob);
    }
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    s_expect("m0", NULL);
    outbox_result(ob, s_tag("m0"), true, 0);
    s_check(ob, 0, 0, 301, 0);
    outbox_destroy(&ob);
}

/* ---- tracked copies (docs/delivery.md) ---- */

static struct outbox *s_new_tracking(int max_inflight, size_t max_count)
{
    struct outbox_opts o = s_opts(max_inflight);
    o.tracking = true;
    o.n_conns = 4;
    o.max_count = max_count;
    return s_new(&o);
}

/* A tracked copy from source src with its seq. */
static void s_push_tracked(struct outbox *ob, const char *topic, uint16_t src, uint64_t seq)
{
    struct mqg_wire_rec rec = {.flags = MQG_WIRE_F_TRACK,
                               .qos = 1,
                               .topic = topic,
                               .topic_len = strlen(topic),
                               .payload = "p",
                               .payload_len = 1,
                               .src = src,
                               .seq = seq};
    outbox_push(ob, &rec);
}

/* The DONE entries now due, as "src:seq" pairs in a string sorted by src. */
static void s_done(struct outbox *ob, char *out, size_t cap)
{
    struct mqg_wire_ack a[8];
    size_t n = outbox_take_done(ob, a, 8);
    uint64_t by_src[4] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].type, MQG_ACK_DONE);
        assert_true(a[i].idx < 4);
        by_src[a[i].idx] = a[i].seq;
    }
    out[0] = '\0';
    for (int i = 0; i < 4; i++) {
        if (by_src[i]) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%d:%llu", l ? " " : "", i, (unsigned long long)by_src[i]);
        }
    }
}

/* A tracked copy is confirmed when it leaves the queue, in queue order, per source; two copies
 * of one message (two routes) only when the second has left too. */
static void test_tracked_confirmed_in_order(void **state)
{
    (void)state;
    struct outbox *ob = s_new_tracking(10, 100);
    outbox_connected(ob, 0, 0);
    s_push_tracked(ob, "a", 1, 10);
    s_push_tracked(ob, "b", 2, 5);
    s_push_tracked(ob, "c", 1, 11);
    s_push_tracked(ob, "c2", 1, 11); /* the second copy of 11 */
    s_push_tracked(ob, "d", 1, 12);
    outbox_pump(ob);
    size_t at = s_expect("a", "b", "c", "c2", "d", NULL);
    char done[64];
    /* results out of order: nothing leaves before "a" */
    outbox_result(ob, F.calls[at + 1].tag, true, 0);
    outbox_result(ob, F.calls[at + 2].tag, true, 0);
    s_done(ob, done, sizeof(done));
    assert_string_equal(done, "");
    outbox_result(ob, F.calls[at].tag, true, 0); /* a, b, c leave; c2 still in flight */
    s_done(ob, done, sizeof(done));
    assert_string_equal(done, "1:10 2:5");
    outbox_result(ob, F.calls[at + 3].tag, true, 0);
    s_done(ob, done, sizeof(done));
    assert_string_equal(done, "1:11");
    outbox_result(ob, F.calls[at + 4].tag, true, 0);
    s_done(ob, done, sizeof(done));
    assert_string_equal(done, "1:12");
    s_done(ob, done, sizeof(done));
    assert_string_equal(done, ""); /* reported once */
    outbox_destroy(&ob);
}

/* With tracking, nothing is dropped for space, connected or not: the queue says it is full
 * (the connector stops reading the router) instead. A message that can never go (a topic
 * brokers refuse) is confirmed in its turn all the same. */
static void test_tracked_never_dropped(void **state)
{
    (void)state;
    struct outbox *ob = s_new_tracking(10, 3);
    for (uint64_t i = 1; i <= 5; i++) {
        s_push_tracked(ob, "t", 1, i);
    }
    assert_int_equal(outbox_queued(ob), 5);
    assert_true(outbox_full(ob)); /* also while disconnected */
    struct outbox_stats st;
    outbox_stats(ob, &st);
    assert_int_equal(st.dropped, 0);
    s_push_tracked(ob, "bad\x01topic", 1, 6);
    outbox_connected(ob, 0, 0);
    outbox_pump(ob);
    size_t at = s_expect("t", "t", "t", "t", "t", NULL);
    for (size_t i = 0; i < 5; i++) {
        outbox_result(ob, F.calls[at + i].tag, true, 0);
    }
    char done[64];
    s_done(ob, done, sizeof(done));
    assert_string_equal(done, "1:6");
    outbox_destroy(&ob);
}

/* A new router: tracked copies not yet published are discarded (the sources send them again),
 * those in flight finish but are not confirmed to the new router; what comes after is. */
static void test_router_changed(void **state)
{
    (void)state;
    struct outbox *ob = s_new_tracking(2, 100);
    outbox_connected(ob, 0, 0);
    s_push_tracked(ob, "a", 1, 1);
    s_push_tracked(ob, "b", 1, 2);
    s_push_tracked(ob, "c", 1, 3); /* not handed to the client: window of 2 */
    s_push_n(ob, "q", 0, 1, 0);    /* untracked: kept */
    outbox_pump(ob);
    size_t at = s_expect("a", "b", NULL);
    outbox_router_changed(ob);
    assert_int_equal(outbox_queued(ob), 4); /* a, b in flight; c discarded behind them; q */
    outbox_result(ob, F.calls[at].tag, true, 0);
    outbox_result(ob, F.calls[at + 1].tag, true, 0);
    char done[64];
    s_done(ob, done, sizeof(done));
    assert_string_equal(done, "");
    assert_int_equal(outbox_queued(ob), 1); /* q */
    s_push_tracked(ob, "c", 1, 3);          /* replayed by the new router */
    outbox_pump(ob);
    at = s_expect("q0", "c", NULL);
    outbox_result(ob, F.calls[at].tag, true, 0);
    outbox_result(ob, F.calls[at + 1].tag, true, 0);
    s_done(ob, done, sizeof(done));
    assert_string_equal(done, "1:3");
    outbox_destroy(&ob);
}

int main(void)
{
    mqg_log_threshold = MQG_LOG_ERROR + 1; /* the drops log; not needed here */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_in_order_within_window),
        cmocka_unit_test(test_receive_maximum),
        cmocka_unit_test(test_client_refusals),
        cmocka_unit_test(test_qos0_settled_by_later_report),
        cmocka_unit_test(test_earlier_generation_ignored),
        cmocka_unit_test(test_rewind_republishes_unconfirmed),
        cmocka_unit_test(test_five_failures_drop),
        cmocka_unit_test(test_drop_oldest_counts_and_bytes),
        cmocka_unit_test(test_prepublish_drops),
        cmocka_unit_test(test_seq_wrap),
        cmocka_unit_test(test_generation_wrap),
        cmocka_unit_test(test_tracked_confirmed_in_order),
        cmocka_unit_test(test_tracked_never_dropped),
        cmocka_unit_test(test_router_changed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
