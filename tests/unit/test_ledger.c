/* test_ledger — unit tests of mqg_ledger, the router's delivery ledger for crash-safe QoS 1.
 *
 * Scenario tests follow the design's "Router" section: live copies and DONEs moving R, a slow
 * target, two copies of one record for one target, a target restart in a fan-out, a gap while a
 * target is down and its replay in chunks, source and router restarts, stale replay answers,
 * acks reporting only changes, targets that do not count, bad input. The randomized
 * simulation is in test_ledger_sim.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqg_ledger.h"

/* ---- helpers ---- */

static struct mqg_ledger *s_new(size_t n)
{
    struct mqg_ledger *l = NULL;
    assert_int_equal(mqg_ledger_new(n, &l), 0);
    assert_non_null(l);
    return l;
}

static void s_know(struct mqg_ledger *l, size_t x, uint64_t R)
{
    assert_int_equal(mqg_ledger_marks(l, x, R, NULL, 0), 0);
}

static struct mqg_ledger_pair_info s_pair(struct mqg_ledger *l, size_t x, size_t t)
{
    struct mqg_ledger_pair_info p;
    assert_int_equal(mqg_ledger_pair(l, x, t, &p), 0);
    return p;
}

/* R(x) as the ledger computes it now. */
static uint64_t s_R(struct mqg_ledger *l, size_t x)
{
    struct mqg_ledger_source_info s;
    assert_int_equal(mqg_ledger_source(l, x, &s), 0);
    return s.release;
}

/* Accept S from x and queue one copy for every target whose bit is set in `to`. */
static void s_live(struct mqg_ledger *l, size_t x, uint64_t S, unsigned to)
{
    assert_int_equal(mqg_ledger_accept(l, x, S), MQG_LEDGER_ACCEPT);
    for (size_t t = 0; t < 32; t++) {
        if (to & (1u << t)) {
            assert_int_equal(mqg_ledger_copy(l, x, t, S, false), MQG_LEDGER_QUEUE);
        }
    }
}

static uint64_t s_gaps(struct mqg_ledger *l)
{
    struct mqg_ledger_stats st;
    mqg_ledger_stats(l, &st);
    return st.gaps;
}

/* A replays_due callback that starts every replay offered and remembers the last one. */
struct due {
    struct mqg_ledger *l;
    size_t t, n, x;
    uint64_t from;
};

static bool s_due_start(void *arg, size_t x, uint64_t from)
{
    struct due *d = arg;
    d->n++;
    d->x = x;
    d->from = from;
    assert_int_equal(mqg_ledger_replay_started(d->l, x, d->t), 0);
    return true;
}

/* Start the replays due for t; returns how many were offered (the last one in *d). */
static size_t s_replays(struct mqg_ledger *l, size_t t, struct due *d)
{
    *d = (struct due){.l = l, .t = t};
    int n = mqg_ledger_replays_due(l, t, s_due_start, d);
    assert_true(n >= 0);
    assert_int_equal((size_t)n, d->n);
    return d->n;
}

/* ---- scenarios ---- */

static void test_live_and_done(void **state)
{
    struct mqg_ledger *l = s_new(2);
    s_know(l, 0, 0);
    for (uint64_t S = 1; S <= 3; S++) {
        s_live(l, 0, S, 1u << 1);
    }
    assert_int_equal(s_R(l, 0), 0);
    assert_int_equal(s_pair(l, 0, 1).outstanding, 3);
    assert_int_equal(s_pair(l, 0, 1).sent_through, 3);
    assert_int_equal(s_pair(l, 0, 0).confirmed_through, 3); /* nothing routed to 0 */
    assert_int_equal(mqg_ledger_done(l, 0, 1, 1), 0);
    assert_int_equal(s_R(l, 0), 1);
    assert_int_equal(mqg_ledger_done(l, 0, 1, 3), 0);
    assert_int_equal(s_R(l, 0), 3);
    assert_int_equal(s_pair(l, 0, 1).outstanding, 0);
    assert_int_equal(mqg_ledger_accept(l, 0, 4), MQG_LEDGER_ACCEPT); /* routed nowhere */
    assert_int_equal(s_R(l, 0), 4);
    assert_int_equal(mqg_ledger_accept(l, 0, 4), MQG_LEDGER_SKIP);
    assert_int_equal(mqg_ledger_accept(l, 0, 2), MQG_LEDGER_SKIP);
    struct mqg_ledger_stats st;
    mqg_ledger_stats(l, &st);
    assert_int_equal(st.gaps, 0);
    assert_int_equal(st.outstanding, 0);
    mqg_ledger_destroy(&l);
    assert_null(l);
    mqg_ledger_destroy(&l);
    mqg_ledger_destroy(NULL);
}

static void test_slow_target(void **state)
{
    struct mqg_ledger *l = s_new(3);
    s_know(l, 0, 0);
    for (uint64_t S = 1; S <= 5; S++) {
        s_live(l, 0, S, 1u << 1 | 1u << 2);
    }
    mqg_ledger_done(l, 0, 1, 5);
    mqg_ledger_done(l, 0, 2, 2);
    assert_int_equal(s_pair(l, 0, 1).confirmed_through, 5);
    assert_int_equal(s_pair(l, 0, 2).confirmed_through, 2);
    assert_int_equal(s_R(l, 0), 2);
    mqg_ledger_done(l, 0, 2, 4);
    assert_int_equal(s_R(l, 0), 4);
    s_live(l, 0, 6, 1u << 1); /* only for 1 */
    assert_int_equal(s_R(l, 0), 4);
    mqg_ledger_done(l, 0, 2, 5);
    assert_int_equal(s_pair(l, 0, 2).confirmed_through, 6);
    assert_int_equal(s_R(l, 0), 5); /* now 1 is the slower */
    mqg_ledger_done(l, 0, 1, 6);
    assert_int_equal(s_R(l, 0), 6);
    mqg_ledger_destroy(&l);
}

static void test_two_copies_one_target(void **state)
{
    struct mqg_ledger *l = s_new(2);
    s_know(l, 0, 0);
    assert_int_equal(mqg_ledger_accept(l, 0, 1), MQG_LEDGER_ACCEPT);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 1, false), MQG_LEDGER_QUEUE);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 1, false), MQG_LEDGER_QUEUE);
    assert_int_equal(s_pair(l, 0, 1).outstanding, 2);
    s_live(l, 0, 2, 1u << 1);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 1, false), MQG_LEDGER_SKIP); /* S is past */
    assert_int_equal(mqg_ledger_done(l, 0, 1, 1), 0);                      /* both copies */
    assert_int_equal(s_pair(l, 0, 1).outstanding, 1);
    assert_int_equal(s_R(l, 0), 1);
    /* a second copy that finds the target down and full: the replay hands both again */
    s_live(l, 0, 3, 1u << 1);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 3, true), MQG_LEDGER_GAP_STARTED);
    struct mqg_ledger_pair_info p = s_pair(l, 0, 1);
    assert_int_equal(p.mode, MQG_LEDGER_GAP);
    assert_int_equal(p.from, 3);
    assert_int_equal(p.sent_through, 2);
    assert_int_equal(p.confirmed_through, 1); /* 2 and 3 outstanding */
    /* not before the first copy is confirmed: its DONE(3) would pop the replayed ones too */
    struct due d;
    assert_int_equal(s_replays(l, 1, &d), 0);
    assert_int_equal(mqg_ledger_replay_started(l, 0, 1), MQG_LEDGER_SKIP);
    mqg_ledger_done(l, 0, 1, 2);
    assert_int_equal(s_replays(l, 1, &d), 0);
    assert_int_equal(s_R(l, 0), 2);
    mqg_ledger_done(l, 0, 1, 3);
    assert_int_equal(s_R(l, 0), 2); /* still the gap's from - 1 */
    assert_int_equal(s_replays(l, 1, &d), 1);
    assert_int_equal(d.from, 3);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 3), MQG_LEDGER_QUEUE);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 3), MQG_LEDGER_QUEUE);
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 3, true), 0);
    assert_int_equal(s_pair(l, 0, 1).outstanding, 2);
    assert_int_equal(s_R(l, 0), 2);
    mqg_ledger_done(l, 0, 1, 3);
    assert_int_equal(s_R(l, 0), 3);
    mqg_ledger_destroy(&l);

    /* after MARKS, S = sent_through is a record the target has: no copy, not even one */
    l = s_new(2);
    struct mqg_ledger_mark w = {1, 5};
    assert_int_equal(mqg_ledger_marks(l, 0, 0, &w, 1), 0);
    for (uint64_t S = 1; S <= 5; S++) {
        assert_int_equal(mqg_ledger_accept(l, 0, S), MQG_LEDGER_ACCEPT);
        assert_int_equal(mqg_ledger_copy(l, 0, 1, S, false), MQG_LEDGER_SKIP);
    }
    assert_int_equal(mqg_ledger_accept(l, 0, 6), MQG_LEDGER_ACCEPT);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 6, false), MQG_LEDGER_QUEUE);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 6, false), MQG_LEDGER_QUEUE);
    assert_int_equal(s_pair(l, 0, 1).outstanding, 2);
    mqg_ledger_destroy(&l);
}

static void test_fan_out_target_restart(void **state)
{
    struct mqg_ledger *l = s_new(4);
    s_know(l, 0, 0);
    for (uint64_t S = 1; S <= 10; S++) {
        s_live(l, 0, S, 1u << 1 | 1u << 2 | 1u << 3);
    }
    mqg_ledger_done(l, 0, 1, 10);
    mqg_ledger_done(l, 0, 2, 4);
    mqg_ledger_done(l, 0, 3, 8);
    assert_int_equal(mqg_ledger_target_restarted(l, 2), 0);
    struct mqg_ledger_pair_info p = s_pair(l, 0, 2);
    assert_int_equal(p.mode, MQG_LEDGER_GAP);
    assert_int_equal(p.from, 5);
    assert_int_equal(p.sent_through, 4);
    assert_int_equal(p.outstanding, 0);
    assert_int_equal(s_pair(l, 0, 1).mode, MQG_LEDGER_LIVE);
    assert_int_equal(s_pair(l, 0, 1).sent_through, 10);
    assert_int_equal(s_pair(l, 0, 3).sent_through, 10);
    assert_int_equal(s_pair(l, 0, 3).outstanding, 2);
    assert_int_equal(s_gaps(l), 1);
    assert_int_equal(s_R(l, 0), 4);

    struct due d;
    assert_int_equal(s_replays(l, 1, &d), 0);
    assert_int_equal(s_replays(l, 3, &d), 0);
    assert_int_equal(s_replays(l, 2, &d), 1);
    assert_int_equal(d.x, 0);
    assert_int_equal(d.from, 5);
    assert_int_equal(s_pair(l, 0, 2).mode, MQG_LEDGER_REPLAY);
    assert_int_equal(s_replays(l, 2, &d), 0); /* asked already */

    /* a live record during the replay: the others get it, 2 not (the replay will) */
    assert_int_equal(mqg_ledger_accept(l, 0, 11), MQG_LEDGER_ACCEPT);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 11, false), MQG_LEDGER_QUEUE);
    assert_int_equal(mqg_ledger_copy(l, 0, 2, 11, false), MQG_LEDGER_SKIP);
    assert_int_equal(mqg_ledger_copy(l, 0, 3, 11, false), MQG_LEDGER_QUEUE);
    for (uint64_t S = 5; S <= 11; S++) {
        assert_int_equal(mqg_ledger_replay_copy(l, 0, 2, S), MQG_LEDGER_QUEUE);
    }
    assert_int_equal(mqg_ledger_replay_done(l, 0, 2, 11, true), 0);
    assert_int_equal(s_pair(l, 0, 2).mode, MQG_LEDGER_LIVE);
    assert_int_equal(s_gaps(l), 0);
    s_live(l, 0, 12, 1u << 1 | 1u << 2 | 1u << 3);
    /* no duplicates for 1 and 3: only 11 and 12 (and 9, 10 for 3) are outstanding */
    assert_int_equal(s_pair(l, 0, 1).outstanding, 2);
    assert_int_equal(s_pair(l, 0, 3).outstanding, 4);
    assert_int_equal(s_pair(l, 0, 2).outstanding, 8);
    struct mqg_ledger_stats st;
    mqg_ledger_stats(l, &st);
    assert_int_equal(st.replayed, 7);
    assert_int_equal(st.outstanding, 14);
    for (size_t t = 1; t <= 3; t++) {
        mqg_ledger_done(l, 0, t, 12);
    }
    assert_int_equal(s_R(l, 0), 12);
    /* a restart of a target with nothing outstanding loses nothing: it stays LIVE */
    assert_int_equal(mqg_ledger_target_restarted(l, 1), 0);
    assert_int_equal(s_pair(l, 0, 1).mode, MQG_LEDGER_LIVE);
    assert_int_equal(s_gaps(l), 0);
    mqg_ledger_destroy(&l);
}

static void test_gap_and_replay_in_chunks(void **state)
{
    struct mqg_ledger *l = s_new(2);
    s_know(l, 0, 0);
    s_live(l, 0, 1, 1u << 1);
    s_live(l, 0, 2, 1u << 1);
    assert_int_equal(mqg_ledger_accept(l, 0, 3), MQG_LEDGER_ACCEPT);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 3, true), MQG_LEDGER_GAP_STARTED);
    assert_int_equal(s_gaps(l), 1);
    for (uint64_t S = 4; S <= 5; S++) {
        assert_int_equal(mqg_ledger_accept(l, 0, S), MQG_LEDGER_ACCEPT);
        assert_int_equal(mqg_ledger_copy(l, 0, 1, S, false), MQG_LEDGER_SKIP);
    }
    assert_int_equal(s_R(l, 0), 0);
    mqg_ledger_done(l, 0, 1, 2);
    assert_int_equal(s_R(l, 0), 2); /* the gap holds R at from - 1 */

    struct due d;
    assert_int_equal(s_replays(l, 1, &d), 1);
    assert_int_equal(d.from, 3);
    assert_int_equal(mqg_ledger_replay_started(l, 0, 1), MQG_LEDGER_SKIP);
    s_live(l, 0, 6, 0);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 6, false), MQG_LEDGER_SKIP);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 3), MQG_LEDGER_QUEUE);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 4), MQG_LEDGER_QUEUE);
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 4, false), 0); /* first chunk */
    struct mqg_ledger_pair_info p = s_pair(l, 0, 1);
    assert_int_equal(p.mode, MQG_LEDGER_GAP);
    assert_int_equal(p.from, 5);
    assert_int_equal(p.sent_through, 4);
    assert_int_equal(p.confirmed_through, 2); /* 3 and 4 are queued, not confirmed */
    assert_int_equal(s_R(l, 0), 2);
    mqg_ledger_done(l, 0, 1, 4);
    assert_int_equal(s_R(l, 0), 4);

    assert_int_equal(s_replays(l, 1, &d), 1);
    assert_int_equal(d.from, 5);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 4), MQG_LEDGER_SKIP); /* has it */
    for (uint64_t S = 5; S <= 7; S++) { /* 7: in the journal, not sent live yet */
        assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, S), MQG_LEDGER_QUEUE);
    }
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 7, true), 0);
    p = s_pair(l, 0, 1);
    assert_int_equal(p.mode, MQG_LEDGER_LIVE);
    assert_int_equal(p.sent_through, 7);
    assert_int_equal(s_gaps(l), 0);
    assert_int_equal(mqg_ledger_accept(l, 0, 7), MQG_LEDGER_ACCEPT);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 7, false), MQG_LEDGER_SKIP); /* <= last */
    s_live(l, 0, 8, 1u << 1);
    mqg_ledger_done(l, 0, 1, 7);
    assert_int_equal(s_R(l, 0), 7);
    mqg_ledger_done(l, 0, 1, 8);
    assert_int_equal(s_R(l, 0), 8);
    struct mqg_ledger_stats st;
    mqg_ledger_stats(l, &st);
    assert_int_equal(st.replayed, 5);
    mqg_ledger_destroy(&l);
}

static void test_source_restart(void **state)
{
    struct mqg_ledger *l = s_new(2);
    s_know(l, 0, 0);
    for (uint64_t S = 1; S <= 5; S++) {
        s_live(l, 0, S, 1u << 1);
    }
    /* the source restarts and sends again from its R + 1 */
    assert_int_equal(mqg_ledger_source_restarted(l, 0), 0);
    for (uint64_t S = 3; S <= 5; S++) {
        assert_int_equal(mqg_ledger_accept(l, 0, S), MQG_LEDGER_SKIP);
    }
    s_live(l, 0, 6, 1u << 1);
    s_live(l, 0, 7, 1u << 1);
    assert_int_equal(s_pair(l, 0, 1).outstanding, 7);

    /* a restart during a replay: the request is lost with the process, the pair asks again */
    assert_int_equal(mqg_ledger_accept(l, 0, 8), MQG_LEDGER_ACCEPT);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 8, true), MQG_LEDGER_GAP_STARTED);
    struct due d;
    assert_int_equal(s_replays(l, 1, &d), 1);
    assert_int_equal(mqg_ledger_source_restarted(l, 0), 0);
    assert_int_equal(s_pair(l, 0, 1).mode, MQG_LEDGER_GAP);
    assert_int_equal(s_pair(l, 0, 1).from, 8);
    assert_int_equal(s_replays(l, 1, &d), 1); /* the old request will never be answered */
    assert_int_equal(d.from, 8);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 8), MQG_LEDGER_QUEUE);
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 8, true), 0);
    assert_int_equal(s_pair(l, 0, 1).mode, MQG_LEDGER_LIVE);
    mqg_ledger_done(l, 0, 1, 8);
    assert_int_equal(s_R(l, 0), 8);
    mqg_ledger_destroy(&l);
}

static void test_stale_replay_answers(void **state)
{
    struct mqg_ledger *l = s_new(2);
    s_know(l, 0, 0);
    for (uint64_t S = 1; S <= 3; S++) {
        s_live(l, 0, S, 1u << 1);
    }
    /* answers to nothing */
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 4), MQG_LEDGER_STALE);
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 4, true), MQG_LEDGER_STALE);
    assert_int_equal(s_pair(l, 0, 1).sent_through, 3);

    s_live(l, 0, 4, 0);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 4, true), MQG_LEDGER_GAP_STARTED);
    s_live(l, 0, 5, 0);
    struct due d;
    assert_int_equal(s_replays(l, 1, &d), 1);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 4), MQG_LEDGER_QUEUE);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 5), MQG_LEDGER_QUEUE);
    /* the target restarts before the answer's REPLAY_DONE: what was queued is gone */
    assert_int_equal(mqg_ledger_target_restarted(l, 1), 0);
    struct mqg_ledger_pair_info p = s_pair(l, 0, 1);
    assert_int_equal(p.mode, MQG_LEDGER_GAP);
    assert_int_equal(p.from, 1);
    assert_int_equal(p.sent_through, 0);
    assert_int_equal(s_replays(l, 1, &d), 1); /* asked again at once */
    assert_int_equal(d.from, 1);
    /* the old answer ends: ignored, it does not close the new request */
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 5, true), MQG_LEDGER_STALE);
    assert_int_equal(s_pair(l, 0, 1).mode, MQG_LEDGER_REPLAY);
    assert_int_equal(s_pair(l, 0, 1).sent_through, 0);
    for (uint64_t S = 1; S <= 5; S++) {
        assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, S), MQG_LEDGER_QUEUE);
    }
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 5, true), 0);
    assert_int_equal(s_pair(l, 0, 1).outstanding, 5);
    assert_int_equal(s_R(l, 0), 0);

    /* the old answer's copies, still arriving after a second request: dropped */
    s_live(l, 0, 6, 0);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 6, true), MQG_LEDGER_GAP_STARTED);
    assert_int_equal(s_replays(l, 1, &d), 1);
    assert_int_equal(mqg_ledger_target_restarted(l, 1), 0);
    assert_int_equal(s_replays(l, 1, &d), 1);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 6), MQG_LEDGER_STALE);
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 6, true), MQG_LEDGER_STALE);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 1), MQG_LEDGER_QUEUE);
    mqg_ledger_destroy(&l);
}

static void test_router_restart(void **state)
{
    struct mqg_ledger *a = s_new(3);
    s_know(a, 0, 0);
    for (uint64_t S = 1; S <= 6; S++) {
        s_live(a, 0, S, 1u << 1 | 1u << 2);
    }
    mqg_ledger_done(a, 0, 1, 6);
    mqg_ledger_done(a, 0, 2, 3);
    uint64_t R;
    bool changed;
    struct mqg_ledger_mark m[4];
    size_t n;
    assert_int_equal(mqg_ledger_acks(a, 0, &R, &changed, m, 4, &n), 0);
    assert_int_equal(R, 3);
    assert_true(changed);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].idx, 1);
    assert_int_equal(m[0].seq, 6);
    mqg_ledger_destroy(&a); /* the router dies; the source kept R = 3 and the mark (1, 6) */

    struct mqg_ledger *b = s_new(3);
    assert_int_equal(mqg_ledger_accept(b, 0, 4), MQG_LEDGER_UNKNOWN);
    assert_int_equal(mqg_ledger_copy(b, 0, 1, 4, false), MQG_LEDGER_UNKNOWN);
    assert_int_equal(mqg_ledger_done(b, 0, 1, 4), MQG_LEDGER_UNKNOWN);
    struct mqg_ledger_mark w[] = {{1, 2}, {1, 6}, {7, 99}}; /* 7: no such connection */
    assert_int_equal(mqg_ledger_marks(b, 0, 3, w, 3), 0);
    assert_int_equal(mqg_ledger_marks(b, 0, 9, NULL, 0), MQG_LEDGER_KNOWN);
    assert_int_equal(s_pair(b, 0, 1).sent_through, 6);
    assert_int_equal(s_pair(b, 0, 2).sent_through, 3);
    assert_int_equal(s_R(b, 0), 3);
    /* nothing to report: the source knows all this */
    assert_int_equal(mqg_ledger_acks(b, 0, &R, &changed, m, 4, &n), 0);
    assert_int_equal(R, 3);
    assert_false(changed);
    assert_int_equal(n, 0);
    /* the source sends again from R + 1 = 4: 1 has 4..6, 2 gets them again */
    for (uint64_t S = 4; S <= 7; S++) {
        assert_int_equal(mqg_ledger_accept(b, 0, S), MQG_LEDGER_ACCEPT);
        assert_int_equal(mqg_ledger_copy(b, 0, 1, S, false),
                         S <= 6 ? MQG_LEDGER_SKIP : MQG_LEDGER_QUEUE);
        assert_int_equal(mqg_ledger_copy(b, 0, 2, S, false), MQG_LEDGER_QUEUE);
    }
    assert_int_equal(s_R(b, 0), 3);
    mqg_ledger_done(b, 0, 2, 7);
    assert_int_equal(s_R(b, 0), 6);
    mqg_ledger_done(b, 0, 1, 7);
    assert_int_equal(s_R(b, 0), 7);
    mqg_ledger_destroy(&b);
}

static void test_acks_report_changes(void **state)
{
    struct mqg_ledger *l = s_new(4);
    uint64_t R;
    bool changed;
    struct mqg_ledger_mark m[4];
    size_t n = 9;
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 4, &n), MQG_LEDGER_UNKNOWN);
    assert_int_equal(n, 0);
    s_know(l, 0, 0);
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 4, &n), 0);
    assert_int_equal(R, 0);
    assert_false(changed);
    assert_int_equal(n, 0);
    for (uint64_t S = 1; S <= 5; S++) {
        s_live(l, 0, S, 1u << 1 | 1u << 2 | 1u << 3);
    }
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 4, &n), 0);
    assert_false(changed); /* nothing confirmed yet */
    assert_int_equal(n, 0);
    mqg_ledger_done(l, 0, 1, 5);
    mqg_ledger_done(l, 0, 2, 4);
    mqg_ledger_done(l, 0, 3, 3);
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 1, &n), MQG_LEDGER_MORE);
    assert_int_equal(R, 3);
    assert_true(changed);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].idx, 1);
    assert_int_equal(m[0].seq, 5);
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 1, &n), 0);
    assert_false(changed);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].idx, 2);
    assert_int_equal(m[0].seq, 4);
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 4, &n), 0);
    assert_int_equal(n, 0);
    /* 3 catches up: R moves, the marks at or below R are left out */
    mqg_ledger_done(l, 0, 3, 5);
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 4, &n), 0);
    assert_int_equal(R, 4);
    assert_true(changed);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].idx, 3);
    assert_int_equal(m[0].seq, 5);
    mqg_ledger_done(l, 0, 2, 5);
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 4, &n), 0);
    assert_int_equal(R, 5);
    assert_int_equal(n, 0);
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, NULL, 0, &n), 0);
    assert_false(changed);
    assert_int_equal(mqg_ledger_acks(l, 0, NULL, &changed, m, 4, &n), -EINVAL);
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, NULL, 4, &n), -EINVAL);
    mqg_ledger_destroy(&l);
}

static void test_targets_that_do_not_count(void **state)
{
    struct mqg_ledger *l = s_new(3);
    assert_int_equal(mqg_ledger_set_target(l, 2, false), 0);
    s_know(l, 0, 0);
    for (uint64_t S = 1; S <= 4; S++) {
        s_live(l, 0, S, 1u << 1 | 1u << 2);
    }
    mqg_ledger_done(l, 0, 1, 4);
    assert_int_equal(s_R(l, 0), 4);                               /* 2 holds nothing back */
    assert_int_equal(mqg_ledger_copy(l, 0, 2, 5, true), -EINVAL); /* not accepted yet */
    assert_int_equal(mqg_ledger_accept(l, 0, 5), MQG_LEDGER_ACCEPT);
    assert_int_equal(mqg_ledger_copy(l, 0, 2, 5, true), MQG_LEDGER_GAP_STARTED);
    assert_int_equal(s_R(l, 0), 5);
    uint64_t R;
    bool changed;
    struct mqg_ledger_mark m[3];
    size_t n;
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 3, &n), 0);
    assert_int_equal(R, 5);
    assert_int_equal(n, 0);
    /* 2 counts again: R as computed falls back, the reported R does not */
    assert_int_equal(mqg_ledger_set_target(l, 2, true), 0);
    assert_int_equal(s_R(l, 0), 0);
    assert_int_equal(mqg_ledger_acks(l, 0, &R, &changed, m, 3, &n), 0);
    assert_int_equal(R, 5);
    assert_false(changed);
    assert_int_equal(n, 0);
    mqg_ledger_destroy(&l);

    /* R never passes D(X), even when every counting target has more (MARKS above R) */
    l = s_new(2);
    assert_int_equal(mqg_ledger_set_target(l, 0, false), 0);
    struct mqg_ledger_mark w = {1, 6};
    assert_int_equal(mqg_ledger_marks(l, 0, 3, &w, 1), 0);
    assert_int_equal(s_pair(l, 0, 1).confirmed_through, 6);
    assert_int_equal(s_R(l, 0), 3);
    mqg_ledger_destroy(&l);
}

static void test_bad_input(void **state)
{
    struct mqg_ledger *l = NULL;
    assert_int_equal(mqg_ledger_new(MQG_LEDGER_MAX_CONNS + 1, &l), -EINVAL);
    assert_int_equal(mqg_ledger_new(2, NULL), -EINVAL);
    l = s_new(0);
    assert_int_equal(mqg_ledger_marks(l, 0, 0, NULL, 0), -EINVAL);
    mqg_ledger_destroy(&l);

    l = s_new(2);
    struct mqg_ledger_pair_info p;
    struct mqg_ledger_source_info si;
    struct due d = {.l = l};
    uint64_t R;
    bool ch;
    size_t n;
    /* unknown source */
    assert_int_equal(mqg_ledger_accept(l, 0, 1), MQG_LEDGER_UNKNOWN);
    assert_int_equal(mqg_ledger_replay_started(l, 0, 1), MQG_LEDGER_UNKNOWN);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 1), MQG_LEDGER_UNKNOWN);
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 1, true), MQG_LEDGER_UNKNOWN);
    assert_int_equal(mqg_ledger_source_restarted(l, 0), MQG_LEDGER_UNKNOWN);
    assert_int_equal(mqg_ledger_source(l, 0, &si), MQG_LEDGER_UNKNOWN);
    assert_int_equal(mqg_ledger_pair(l, 0, 1, &p), MQG_LEDGER_UNKNOWN);
    assert_int_equal(mqg_ledger_target_restarted(l, 1), 0);
    assert_int_equal(mqg_ledger_replays_due(l, 1, s_due_start, &d), 0);
    /* out of range, NULL */
    struct mqg_ledger_mark w = {0, 1};
    assert_int_equal(mqg_ledger_marks(l, 2, 0, NULL, 0), -EINVAL);
    assert_int_equal(mqg_ledger_marks(l, 0, 0, NULL, 1), -EINVAL);
    assert_int_equal(mqg_ledger_marks(l, 0, MQG_LEDGER_SEQ_MAX + 1, &w, 1), -EINVAL);
    assert_int_equal(mqg_ledger_marks(NULL, 0, 0, NULL, 0), -EINVAL);
    s_know(l, 0, 10);
    assert_int_equal(mqg_ledger_set_target(l, 2, true), -EINVAL);
    assert_int_equal(mqg_ledger_set_target(NULL, 0, true), -EINVAL);
    assert_int_equal(mqg_ledger_accept(l, 2, 11), -EINVAL);
    assert_int_equal(mqg_ledger_accept(NULL, 0, 11), -EINVAL);
    assert_int_equal(mqg_ledger_accept(l, 0, UINT64_MAX), -EINVAL);
    assert_int_equal(mqg_ledger_copy(l, 0, 2, 10, false), -EINVAL);
    assert_int_equal(mqg_ledger_copy(l, 2, 1, 10, false), -EINVAL);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 11, false), -EINVAL); /* S > D */
    assert_int_equal(mqg_ledger_done(l, 0, 2, 1), -EINVAL);
    assert_int_equal(mqg_ledger_done(l, 5, 1, 1), -EINVAL);
    assert_int_equal(mqg_ledger_replays_due(l, 2, s_due_start, &d), -EINVAL);
    assert_int_equal(mqg_ledger_replays_due(l, 1, NULL, &d), -EINVAL);
    assert_int_equal(mqg_ledger_replay_started(l, 0, 2), -EINVAL);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 2, 1), -EINVAL);
    assert_int_equal(mqg_ledger_replay_done(l, 2, 1, 1, false), -EINVAL);
    assert_int_equal(mqg_ledger_target_restarted(l, 2), -EINVAL);
    assert_int_equal(mqg_ledger_source_restarted(l, 2), -EINVAL);
    assert_int_equal(mqg_ledger_acks(l, 2, &R, &ch, NULL, 0, &n), -EINVAL);
    assert_int_equal(mqg_ledger_pair(l, 0, 2, &p), -EINVAL);
    assert_int_equal(mqg_ledger_pair(l, 0, 1, NULL), -EINVAL);
    assert_int_equal(mqg_ledger_source(l, 0, NULL), -EINVAL);
    /* seqs that go backwards, DONEs for nothing */
    assert_int_equal(mqg_ledger_accept(l, 0, 3), MQG_LEDGER_SKIP);
    assert_int_equal(mqg_ledger_done(l, 0, 1, 100), 0); /* empty FIFO */
    s_live(l, 0, 12, 1u << 1);
    assert_int_equal(mqg_ledger_done(l, 0, 1, 11), 0); /* below the head */
    assert_int_equal(s_pair(l, 0, 1).outstanding, 1);
    assert_int_equal(s_R(l, 0), 11);
    assert_int_equal(mqg_ledger_replay_started(l, 0, 1), MQG_LEDGER_SKIP); /* LIVE */
    s_live(l, 0, 13, 0);
    assert_int_equal(mqg_ledger_copy(l, 0, 1, 13, true), MQG_LEDGER_GAP_STARTED);
    assert_int_equal(s_replays(l, 1, &d), 1);
    assert_int_equal(mqg_ledger_replay_copy(l, 0, 1, 0), -EINVAL);
    assert_int_equal(mqg_ledger_replay_done(l, 0, 1, 2, false), 0); /* last before from */
    p = s_pair(l, 0, 1);
    assert_int_equal(p.mode, MQG_LEDGER_GAP);
    assert_int_equal(p.from, 13);
    assert_int_equal(p.sent_through, 12);
    struct mqg_ledger_stats st;
    mqg_ledger_stats(NULL, &st);
    assert_int_equal(st.gaps + st.outstanding + st.replayed, 0);
    mqg_ledger_stats(l, NULL);
    mqg_ledger_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_and_done),
        cmocka_unit_test(test_slow_target),
        cmocka_unit_test(test_two_copies_one_target),
        cmocka_unit_test(test_fan_out_target_restart),
        cmocka_unit_test(test_gap_and_replay_in_chunks),
        cmocka_unit_test(test_source_restart),
        cmocka_unit_test(test_stale_replay_answers),
        cmocka_unit_test(test_router_restart),
        cmocka_unit_test(test_acks_report_changes),
        cmocka_unit_test(test_targets_that_do_not_count),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
