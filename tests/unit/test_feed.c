/* test_feed — unit tests of connector/feed.c: what a connector sends to the router, live and
 * from its journal (a real mqg_journal in a temporary directory; a fake send function that
 * records every message and can push back).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "feed.h"
#include "mqg_journal.h"
#include "mqg_wire.h"

/* ---- the fake router ---- */

struct sent_rec {
    uint8_t flags;
    uint64_t seq;
    char topic[32];
};

struct sent_msg {
    uint8_t kind, flags;
    uint16_t aux;
    uint64_t seq;
    struct sent_rec *recs; /* BATCH / REPLAY_BATCH */
    size_t n_recs;
    struct mqg_wire_ack acks[16]; /* MARKS */
    size_t n_acks;
};

struct router {
    struct sent_msg msgs[4096];
    size_t n;
    int refuse; /* the next this many sends return -EAGAIN */
};

static int s_send(void *ctx, const struct mqg_wire_hdr *h, const void *body, size_t len)
{
    struct router *r = ctx;
    if (r->refuse > 0) {
        r->refuse--;
        return -EAGAIN;
    }
    assert_true(r->n < sizeof(r->msgs) / sizeof(r->msgs[0]));
    struct sent_msg *m = &r->msgs[r->n++];
    memset(m, 0, sizeof(*m));
    m->kind = h->kind;
    m->flags = h->flags;
    m->aux = h->aux;
    m->seq = h->seq;
    size_t off = 0;
    if (h->kind == MQG_MSG_BATCH || h->kind == MQG_MSG_REPLAY_BATCH) {
        struct mqg_wire_rec rec;
        int rc;
        while ((rc = mqg_wire_rec_next(body, len, &off, &rec)) == 1) {
            m->recs = realloc(m->recs, (m->n_recs + 1) * sizeof(*m->recs));
            struct sent_rec *sr = &m->recs[m->n_recs++];
            sr->flags = rec.flags;
            sr->seq = rec.seq;
            snprintf(sr->topic, sizeof(sr->topic), "%.*s", (int)rec.topic_len, rec.topic);
        }
        assert_int_equal(rc, 0);
    } else if (h->kind == MQG_MSG_MARKS) {
        struct mqg_wire_ack a;
        while (mqg_wire_ack_next(body, len, &off, &a) == 1 && m->n_acks < 16) {
            m->acks[m->n_acks++] = a;
        }
    }
    return 0;
}

static void s_router_clear(struct router *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->msgs[i].recs);
    }
    r->n = 0;
}

/* Every tracked seq the router received in data messages of `kind` (in order), into out. */
static size_t s_seqs(const struct router *r, uint8_t kind, uint64_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->msgs[i].kind != kind) {
            continue;
        }
        for (size_t k = 0; k < r->msgs[i].n_recs && n < cap; k++) {
            if (r->msgs[i].recs[k].flags & MQG_WIRE_F_TRACK) {
                out[n++] = r->msgs[i].recs[k].seq;
            }
        }
    }
    return n;
}

static size_t s_untracked(const struct router *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        for (size_t k = 0; k < r->msgs[i].n_recs; k++) {
            n += !(r->msgs[i].recs[k].flags & MQG_WIRE_F_TRACK);
        }
    }
    return n;
}

/* ---- fixture: a journal in a temporary directory ---- */

static const char *const s_keys[] = {"svc/plant", "svc/cloud", "svc/mes"};

struct fx {
    char dir[64];
    char jdir[96];
    struct mqg_journal *j;
    struct router r;
    struct feed *f;
};

static void s_open(struct fx *x, bool journal, size_t max_count)
{
    if (journal && !x->j) {
        struct mqg_journal_opts o = {.dir = x->jdir};
        assert_int_equal(mqg_journal_open(&o, &x->j), 0);
    }
    struct feed_opts fo = {.journal = journal ? x->j : NULL,
                           .self = 0,
                           .keys = s_keys,
                           .n_conns = 3,
                           .max_count = max_count,
                           .send = s_send,
                           .ctx = &x->r};
    assert_int_equal(feed_new(&fo, &x->f), 0);
}

static int s_setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    snprintf(x->dir, sizeof(x->dir), "/tmp/test_feed.XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->jdir, sizeof(x->jdir), "%s/j", x->dir);
    *state = x;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *x = *state;
    feed_destroy(&x->f);
    mqg_journal_destroy(&x->j);
    s_router_clear(&x->r);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
    assert_int_equal(system(cmd), 0);
    free(x);
    return 0;
}

/* A message as paho's callback would have it: appended to the journal when tracked; returns
 * its seq (0 untracked). Then handed to the feed. */
static uint64_t s_arrive(struct fx *x, int qos, unsigned i)
{
    char topic[32];
    snprintf(topic, sizeof(topic), "t/%u", i);
    uint64_t seq = 0;
    if (qos > 0 && x->j) {
        assert_int_equal(
            mqg_journal_append(x->j, 0, (uint8_t)qos, topic, strlen(topic), "p", 1, &seq), 0);
    }
    struct mqg_wire_rec rec = {.qos = (uint8_t)qos,
                               .topic = topic,
                               .topic_len = strlen(topic),
                               .payload = "p",
                               .payload_len = 1};
    assert_true(feed_push(x->f, &rec, seq) >= 0);
    return seq;
}

/* ---- tests ---- */

/* Without a journal: nothing tracked, a bounded queue that drops its oldest. */
static void test_no_journal(void **state)
{
    struct fx *x = *state;
    s_open(x, false, 4);
    for (unsigned i = 0; i < 6; i++) {
        s_arrive(x, 1, i);
    }
    struct feed_stats st;
    feed_stats(x->f, &st);
    assert_int_equal(st.buffered, 4);
    assert_int_equal(st.dropped, 2);
    assert_false(feed_router(x->f, 7) && x->r.n); /* no MARKS without a journal */
    feed_flush(x->f);
    assert_int_equal(x->r.n, 1);
    assert_int_equal(x->r.msgs[0].kind, MQG_MSG_BATCH);
    assert_int_equal(x->r.msgs[0].n_recs, 4);
    assert_string_equal(x->r.msgs[0].recs[0].topic, "t/2");
    assert_int_equal(s_untracked(&x->r), 4);
}

/* Live: tracked messages carry their journal seq, in order; held while the startup buffer
 * holds; a router that pushes back gets the same batch again. */
static void test_live(void **state)
{
    struct fx *x = *state;
    s_open(x, true, 100);
    assert_true(feed_router(x->f, 1)); /* empty journal: MARKS, then LIVE at once */
    feed_flush(x->f);
    assert_int_equal(x->r.n, 1);
    assert_int_equal(x->r.msgs[0].kind, MQG_MSG_MARKS);
    assert_int_equal(x->r.msgs[0].acks[0].type, MQG_ACK_RELEASE);
    s_router_clear(&x->r);
    feed_hold(x->f, true);
    for (unsigned i = 0; i < 10; i++) {
        s_arrive(x, i % 2 ? 1 : 0, i);
    }
    feed_flush(x->f);
    assert_int_equal(x->r.n, 0);
    feed_hold(x->f, false);
    x->r.refuse = 1;
    feed_flush(x->f);
    assert_int_equal(x->r.n, 0);
    assert_true(feed_pending(x->f));
    feed_flush(x->f);
    uint64_t seqs[16];
    assert_int_equal(s_seqs(&x->r, MQG_MSG_BATCH, seqs, 16), 5);
    for (unsigned i = 0; i < 5; i++) {
        assert_true(seqs[i] == i + 1);
    }
    assert_int_equal(s_untracked(&x->r), 5);
    assert_false(feed_pending(x->f));
    assert_false(feed_router(x->f, 1)); /* the same router: nothing again */
}

/* A new router: MARKS first, then everything after the release mark again from the journal
 * (flag DUP for what may have been sent before), live tracked messages skipped meanwhile. */
static void test_new_router_catch_up(void **state)
{
    struct fx *x = *state;
    s_open(x, true, 100);
    feed_router(x->f, 1);
    feed_flush(x->f);
    for (unsigned i = 0; i < 8; i++) {
        s_arrive(x, 1, i);
    }
    feed_flush(x->f);
    /* the router confirmed 1..3 for everybody, and 1..5 for target 1 */
    struct mqg_wire_ack rel = {.type = MQG_ACK_RELEASE, .seq = 3};
    struct mqg_wire_ack mark = {.type = MQG_ACK_MARK, .idx = 1, .seq = 5};
    feed_on_ack(x->f, &rel);
    feed_on_ack(x->f, &mark);
    /* at INT64_MAX: the last write, at the end of the process (no overflow) */
    assert_int_equal(feed_persist(x->f, INT64_MAX), 0);
    s_router_clear(&x->r);
    /* the router restarts */
    assert_true(feed_router(x->f, 2));
    s_arrive(x, 1, 8); /* seq 9: live, while catching up: ignored, read from the journal */
    feed_flush(x->f);
    assert_int_equal(x->r.msgs[0].kind, MQG_MSG_MARKS);
    assert_int_equal(x->r.msgs[0].n_acks, 2);
    assert_true(x->r.msgs[0].acks[0].seq == 3);
    assert_int_equal(x->r.msgs[0].acks[1].type, MQG_ACK_MARK);
    assert_int_equal(x->r.msgs[0].acks[1].idx, 1);
    assert_true(x->r.msgs[0].acks[1].seq == 5);
    uint64_t seqs[32];
    size_t n = s_seqs(&x->r, MQG_MSG_BATCH, seqs, 32);
    assert_int_equal(n, 6); /* 4..9 */
    for (size_t i = 0; i < n; i++) {
        assert_true(seqs[i] == 4 + i);
    }
    /* 4..8 were sent to the old router: DUP; 9 never was */
    for (size_t i = 1; i < x->r.n; i++) {
        for (size_t k = 0; k < x->r.msgs[i].n_recs; k++) {
            bool dup = x->r.msgs[i].recs[k].flags & MQG_WIRE_F_DUP;
            assert_int_equal(dup, x->r.msgs[i].recs[k].seq <= 8);
        }
    }
    struct feed_stats st;
    feed_stats(x->f, &st);
    assert_false(st.catching_up);
    assert_int_equal(st.redelivered, 5);
    /* live again: a message the cursor read is not sent twice, a new one is */
    s_router_clear(&x->r);
    struct mqg_wire_rec rec = {.qos = 1, .topic = "t/x", .topic_len = 3};
    feed_push(x->f, &rec, 9);
    s_arrive(x, 1, 9); /* seq 10 */
    feed_flush(x->f);
    assert_int_equal(s_seqs(&x->r, MQG_MSG_BATCH, seqs, 32), 1);
    assert_true(seqs[0] == 10);
}

/* The live queue is full of tracked messages: they are not dropped; the feed catches up from
 * the oldest of them, keeps the untracked ones, and loses nothing. */
static void test_overflow_catches_up(void **state)
{
    struct fx *x = *state;
    s_open(x, true, 4);
    feed_router(x->f, 1);
    feed_flush(x->f);
    s_router_clear(&x->r);
    feed_hold(x->f, true);
    for (unsigned i = 0; i < 3; i++) {
        s_arrive(x, 1, i); /* seqs 1..3 queued */
    }
    s_arrive(x, 0, 3); /* untracked: the queue is full now */
    s_arrive(x, 1, 4); /* seq 4: no room: catch up from 1 */
    for (unsigned i = 5; i < 40; i++) {
        s_arrive(x, i % 5 ? 1 : 0, i);
    }
    struct feed_stats st;
    feed_stats(x->f, &st);
    assert_true(st.catching_up);
    assert_true(st.buffered <= 4);
    feed_hold(x->f, false);
    for (int i = 0; i < 10 && feed_pending(x->f); i++) {
        feed_flush(x->f);
    }
    uint64_t seqs[64];
    size_t n = s_seqs(&x->r, MQG_MSG_BATCH, seqs, 64);
    size_t tracked = 3 + 1 + 28; /* i = 0..2, 4, and i in 5..39 not a multiple of 5 */
    assert_int_equal(n, tracked);
    for (size_t i = 0; i < n; i++) {
        assert_true(seqs[i] == i + 1); /* every one, once, in order */
    }
    assert_int_equal(s_untracked(&x->r) + st.dropped, 1 + 7);
    feed_stats(x->f, &st);
    assert_int_equal(st.redelivered, 0); /* never sent before: no DUP */
}

/* REPLAY for one target: REPLAY_BATCH records with the target, then REPLAY_DONE (END at the
 * journal's end); a large journal goes in chunks of about 256 KiB (one REPLAY_BATCH each), each
 * ended by REPLAY_DONE without END (the router asks again). */
static void test_replay(void **state)
{
    struct fx *x = *state;
    s_open(x, true, 100000);
    feed_router(x->f, 1);
    feed_flush(x->f);
    for (unsigned i = 0; i < 20; i++) {
        s_arrive(x, 1, i);
    }
    feed_flush(x->f);
    s_router_clear(&x->r);
    feed_on_replay(x->f, 2, 5);
    feed_flush(x->f);
    uint64_t seqs[64];
    size_t n = s_seqs(&x->r, MQG_MSG_REPLAY_BATCH, seqs, 64);
    assert_int_equal(n, 16);
    assert_true(seqs[0] == 5 && seqs[15] == 20);
    const struct sent_msg *last = &x->r.msgs[x->r.n - 1];
    assert_int_equal(last->kind, MQG_MSG_REPLAY_DONE);
    assert_int_equal(last->aux, 2);
    assert_true(last->seq == 20);
    assert_true(last->flags & MQG_WIRE_F_END);
    for (size_t i = 0; i + 1 < x->r.n; i++) {
        assert_int_equal(x->r.msgs[i].aux, 2);
    }
    /* a target added by a reload after this connector started (index 7 of a model of 3): the
     * replay is answered all the same */
    s_router_clear(&x->r);
    feed_on_replay(x->f, 7, 18);
    feed_flush(x->f);
    n = s_seqs(&x->r, MQG_MSG_REPLAY_BATCH, seqs, 64);
    assert_int_equal(n, 3);
    last = &x->r.msgs[x->r.n - 1];
    assert_int_equal(last->kind, MQG_MSG_REPLAY_DONE);
    assert_int_equal(last->aux, 7);
    assert_true(last->seq == 20 && (last->flags & MQG_WIRE_F_END));
    /* nothing to replay: REPLAY_DONE at from - 1, END */
    s_router_clear(&x->r);
    feed_on_replay(x->f, 1, 21);
    feed_flush(x->f);
    assert_int_equal(x->r.n, 1);
    assert_int_equal(x->r.msgs[0].kind, MQG_MSG_REPLAY_DONE);
    assert_true(x->r.msgs[0].seq == 20);
    /* 3 MiB of messages: chunks */
    s_router_clear(&x->r);
    static char big[8192];
    memset(big, 'b', sizeof(big));
    for (unsigned i = 0; i < 400; i++) {
        uint64_t seq;
        assert_int_equal(mqg_journal_append(x->j, 0, 1, "big", 3, big, sizeof(big), &seq), 0);
    }
    feed_on_replay(x->f, 1, 21);
    feed_flush(x->f);
    last = &x->r.msgs[x->r.n - 1];
    assert_int_equal(last->kind, MQG_MSG_REPLAY_DONE);
    assert_false(last->flags & MQG_WIRE_F_END);
    uint64_t upto = last->seq;
    assert_true(upto > 21 && upto < 420);
    size_t batches = 0;
    for (size_t i = 0; i < x->r.n; i++) {
        batches += x->r.msgs[i].kind == MQG_MSG_REPLAY_BATCH;
    }
    assert_int_equal(batches, 1); /* one REPLAY_BATCH per request */
    feed_on_replay(x->f, 1, upto + 1);
    for (int i = 0; i < 10; i++) {
        feed_flush(x->f);
    }
    last = &x->r.msgs[x->r.n - 1];
    assert_int_equal(last->kind, MQG_MSG_REPLAY_DONE);
    assert_true(last->seq > upto);
}

/* Acknowledgements reach the journal: the release deletes what everybody has, the marks are
 * kept by connection key, and they survive a reopen. */
static void test_acks_persist(void **state)
{
    struct fx *x = *state;
    s_open(x, true, 100);
    feed_router(x->f, 1);
    for (unsigned i = 0; i < 10; i++) {
        s_arrive(x, 1, i);
    }
    feed_flush(x->f);
    struct mqg_wire_ack a[] = {
        {MQG_ACK_MARK, 1, 7},    {MQG_ACK_MARK, 2, 4},
        {MQG_ACK_RELEASE, 0, 4}, {MQG_ACK_MARK, 2, 3}, /* older: ignored */
        {MQG_ACK_MARK, 9, 9},                          /* no such connection: ignored */
    };
    for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
        feed_on_ack(x->f, &a[i]);
    }
    assert_int_equal(feed_persist(x->f, 0), 0);
    struct mqg_journal_stats js;
    mqg_journal_stats(x->j, &js);
    assert_true(js.release_upto == 4);
    assert_int_equal(js.records, 6);
    feed_destroy(&x->f);
    mqg_journal_destroy(&x->j);
    struct mqg_journal_opts o = {.dir = x->jdir};
    assert_int_equal(mqg_journal_open(&o, &x->j), 0);
    uint64_t rel;
    const struct mqg_journal_mark *m;
    size_t n;
    mqg_journal_marks(x->j, &rel, &m, &n);
    assert_true(rel == 4);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].key, "svc/cloud") == 0) {
            assert_true(m[i].upto == 7);
        } else {
            assert_string_equal(m[i].key, "svc/mes");
            assert_true(m[i].upto == 4);
        }
    }
}

/* A reload added connections after the connector started: with their keys (feed_set_keys)
 * the router's marks for them are kept too; fewer keys than known are refused. */
static void test_keys_added_by_a_reload(void **state)
{
    struct fx *x = *state;
    s_open(x, true, 100);
    feed_router(x->f, 1);
    for (unsigned i = 0; i < 10; i++) {
        s_arrive(x, 1, i);
    }
    feed_flush(x->f);
    struct mqg_wire_ack early = {MQG_ACK_MARK, 3, 6}; /* not known yet: ignored */
    feed_on_ack(x->f, &early);
    static const char *const keys[] = {"svc/plant", "svc/cloud", "svc/mes", "svc/erp"};
    assert_int_equal(feed_set_keys(x->f, keys, 2), -EINVAL);
    assert_int_equal(feed_set_keys(x->f, keys, 4), 0);
    struct mqg_wire_ack a = {MQG_ACK_MARK, 3, 8};
    feed_on_ack(x->f, &a);
    assert_int_equal(feed_persist(x->f, 0), 0);
    feed_destroy(&x->f);
    mqg_journal_destroy(&x->j);
    struct mqg_journal_opts o = {.dir = x->jdir};
    assert_int_equal(mqg_journal_open(&o, &x->j), 0);
    uint64_t rel;
    const struct mqg_journal_mark *m;
    size_t n;
    mqg_journal_marks(x->j, &rel, &m, &n);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].key, "svc/erp");
    assert_true(m[0].upto == 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_journal, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_live, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_new_router_catch_up, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_overflow_catches_up, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_replay, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_acks_persist, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keys_added_by_a_reload, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
