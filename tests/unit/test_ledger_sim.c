/* test_ledger_sim — a randomized simulation of the delivery ledger (mqg_ledger) at work.
 *
 * One source, two counting targets and one that does not count, with ordered channels between
 * them and the router, target links going up and down, and restarts of targets, the source and
 * the router. Checks that R and the marks never run ahead of what the targets really have, that
 * a replay only asks for what the source's journal still holds, and that nothing is lost. The
 * scenario tests are in test_ledger.c.
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

/* Connection 0 is the source (journal: records 1..J, released through src_R, marks src_W);
 * 1 and 2 are counting targets that go up and down and restart; 3 is a target that does not
 * count and is never up. Record S gets need[t][S] (0 to 2) copies for target t. Messages travel
 * in ordered channels (source -> router, router -> source, target -> router); the router's
 * queue per target is bounded (P_Q) only while the target is down; a target's outbox completes
 * in order and sends DONE(S) when no copy <= S is left in it (the router hands all copies of a
 * record in one batch). Truth: delivered[t][S] copies reached t's broker; frontier[t] = the S
 * through which t has every copy it needs. Checked at every step: R <= every frontier, every
 * reported mark <= its frontier, a REPLAY asks only for what the journal still holds; at the
 * end, with every target up and all channels drained: nothing lost, R = J, no gap left. */

/* Each can be set with -D for a long soak (e.g. -DP_RUNS=100000 -DP_Q=1). */
#ifndef P_N
#define P_N 200 /* records per run */
#endif
#ifndef P_Q
#define P_Q 5 /* router queue bound while the target is down */
#endif
#ifndef P_RUNS
#define P_RUNS 300
#endif
#ifndef P_STEPS
#define P_STEPS 3000
#endif
#define P_C 4 /* connections */

/* LEDGER_SIM_SEED=<n> runs that seed alone and traces it on stderr. */
static bool p_trace;

#define P_LOG(...)                                                                                 \
    do {                                                                                           \
        if (p_trace) {                                                                             \
            fprintf(stderr, __VA_ARGS__);                                                          \
        }                                                                                          \
    } while (0)

/* What happened over all runs, printed at the end: a simulation that never gets into the cases
 * worth testing proves nothing. */
static struct {
    uint64_t gaps, replays, replayed, stale, restarts[3];
} p_seen;

enum p_kind { P_LIVE, P_BATCH, P_RDONE, P_REPLAY, P_ITEM };

struct p_msg {
    enum p_kind kind;
    size_t t;
    uint64_t a, b; /* LIVE: S; BATCH: first, last; RDONE: last, end; REPLAY: from, epoch */
};

struct p_q {
    struct p_msg *m;
    size_t head, tail, cap;
};

struct sim {
    uint64_t rnd, seed;
    struct mqg_ledger *l;
    uint8_t need[P_C][P_N + 2];
    uint32_t delivered[P_C][P_N + 2];
    uint64_t frontier[P_C];
    uint64_t J, send_next, src_R, src_W[P_C], epoch;
    struct p_q s2r, r2s, rq[P_C], outbox[P_C], t2r[P_C];
    bool up[P_C];
};

#define P_CHECK(sim, cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fail_msg("seed %llu: %s (line %d)", (unsigned long long)(sim)->seed, #cond, __LINE__); \
        }                                                                                          \
    } while (0)

static uint64_t p_rnd(struct sim *s, uint64_t n)
{
    s->rnd ^= s->rnd << 13;
    s->rnd ^= s->rnd >> 7;
    s->rnd ^= s->rnd << 17;
    return s->rnd % n;
}

static size_t p_len(const struct p_q *q)
{
    return q->tail - q->head;
}

static void p_push(struct p_q *q, struct p_msg m)
{
    if (q->tail == q->cap && q->head > 0) {
        memmove(q->m, q->m + q->head, p_len(q) * sizeof(*q->m));
        q->tail -= q->head;
        q->head = 0;
    }
    if (q->tail == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->m = realloc(q->m, q->cap * sizeof(*q->m));
        assert_non_null(q->m);
    }
    q->m[q->tail++] = m;
}

static bool p_pop(struct p_q *q, struct p_msg *m)
{
    if (!p_len(q)) {
        return false;
    }
    *m = q->m[q->head++];
    return true;
}

static void p_clear(struct p_q *q)
{
    q->head = q->tail = 0;
}

static void p_advance(struct sim *s, size_t t)
{
    uint64_t *f = &s->frontier[t];
    while (*f < P_N && s->delivered[t][*f + 1] >= s->need[t][*f + 1]) {
        (*f)++;
    }
}

static void p_deliver(struct sim *s, size_t t, uint64_t S)
{
    s->delivered[t][S]++;
    p_advance(s, t);
}

static struct mqg_ledger_pair_info p_pair(struct sim *s, size_t t)
{
    struct mqg_ledger_pair_info p;
    assert_int_equal(mqg_ledger_pair(s->l, 0, t, &p), 0);
    return p;
}

static uint64_t p_truth(const struct sim *s)
{
    return s->frontier[1] < s->frontier[2] ? s->frontier[1] : s->frontier[2];
}

static void p_new_router(struct sim *s)
{
    struct mqg_ledger_mark w[P_C];
    size_t n = 0;
    assert_int_equal(mqg_ledger_new(P_C, &s->l), 0);
    assert_int_equal(mqg_ledger_set_target(s->l, 3, false), 0);
    for (size_t t = 0; t < P_C; t++) {
        if (s->src_W[t]) {
            w[n++] = (struct mqg_ledger_mark){t, s->src_W[t]};
        }
    }
    s->epoch++; /* READY of a new epoch: the source sends MARKS and again from R + 1 */
    assert_int_equal(mqg_ledger_marks(s->l, 0, s->src_R, w, n), 0);
    s->send_next = s->src_R + 1;
}

/* The router handles one message from the source. */
static void p_router_source(struct sim *s)
{
    struct p_msg m;
    if (!p_pop(&s->s2r, &m)) {
        return;
    }
    if (m.kind == P_LIVE) {
        int rc = mqg_ledger_accept(s->l, 0, m.a);
        P_CHECK(s, rc == MQG_LEDGER_ACCEPT || rc == MQG_LEDGER_SKIP);
        for (size_t t = 1; rc == MQG_LEDGER_ACCEPT && t < P_C; t++) {
            for (unsigned k = 0; k < s->need[t][m.a]; k++) {
                bool full = !s->up[t] && p_len(&s->rq[t]) >= P_Q;
                int c = mqg_ledger_copy(s->l, 0, t, m.a, full);
                P_LOG("live %llu -> %zu: %d\n", (unsigned long long)m.a, t, c);
                P_CHECK(s, c == MQG_LEDGER_QUEUE || c == MQG_LEDGER_SKIP ||
                               c == MQG_LEDGER_GAP_STARTED);
                p_seen.gaps += c == MQG_LEDGER_GAP_STARTED;
                if (c == MQG_LEDGER_QUEUE) {
                    p_push(&s->rq[t], (struct p_msg){P_ITEM, t, m.a, 0});
                }
            }
        }
    } else if (m.kind == P_BATCH) {
        for (uint64_t S = m.a; S <= m.b; S++) {
            for (unsigned k = 0; k < s->need[m.t][S]; k++) {
                int c = mqg_ledger_replay_copy(s->l, 0, m.t, S);
                P_LOG("replayed %llu -> %zu: %d\n", (unsigned long long)S, m.t, c);
                P_CHECK(s, c == MQG_LEDGER_QUEUE || c == MQG_LEDGER_SKIP || c == MQG_LEDGER_STALE);
                p_seen.stale += c == MQG_LEDGER_STALE;
                p_seen.replayed += c == MQG_LEDGER_QUEUE;
                if (c == MQG_LEDGER_QUEUE) {
                    p_push(&s->rq[m.t], (struct p_msg){P_ITEM, m.t, S, 0});
                }
            }
        }
    } else {
        int rc = mqg_ledger_replay_done(s->l, 0, m.t, m.a, m.b);
        P_LOG("replay done %zu %llu %d: %d\n", m.t, (unsigned long long)m.a, (int)m.b, rc);
        P_CHECK(s, rc == 0 || rc == MQG_LEDGER_STALE);
        p_seen.stale += rc == MQG_LEDGER_STALE;
    }
}

/* The source answers one REPLAY with one chunk and its REPLAY_DONE. */
static void p_source_replay(struct sim *s)
{
    struct p_msg m;
    if (!p_pop(&s->r2s, &m)) {
        return;
    }
    uint64_t from = m.a;
    P_CHECK(s, m.b == s->epoch);
    P_CHECK(s, from > s->src_R); /* the journal still holds what is asked for */
    uint64_t last = from + p_rnd(s, 6);
    last = last > s->J ? s->J : last;
    if (last >= from) {
        p_push(&s->s2r, (struct p_msg){P_BATCH, m.t, from, last});
    } else {
        last = from - 1;
    }
    p_push(&s->s2r, (struct p_msg){P_RDONE, m.t, last, last >= s->J});
}

struct p_due_arg {
    struct sim *s;
    size_t t;
};

static bool p_start(void *arg, size_t x, uint64_t from)
{
    struct p_due_arg *d = arg;
    assert_int_equal(mqg_ledger_replay_started(d->s->l, x, d->t), 0);
    P_LOG("REPLAY %zu from %llu\n", d->t, (unsigned long long)from);
    p_seen.replays++;
    p_push(&d->s->r2s, (struct p_msg){P_REPLAY, d->t, from, d->s->epoch});
    return true;
}

/* The router's side towards target t: hand a batch over, take a DONE, start replays. */
static bool p_router_target(struct sim *s, size_t t, unsigned what)
{
    struct p_msg m;
    if (what == 0 && s->up[t] && p_pop(&s->rq[t], &m)) {
        p_push(&s->outbox[t], m);
        while (p_len(&s->rq[t]) && s->rq[t].m[s->rq[t].head].a == m.a) {
            p_pop(&s->rq[t], &m);
            p_push(&s->outbox[t], m);
        }
        return true;
    }
    if (what == 1 && p_pop(&s->t2r[t], &m)) {
        assert_int_equal(mqg_ledger_done(s->l, 0, t, m.a), 0);
        P_LOG("DONE %zu %llu\n", t, (unsigned long long)m.a);
        return true;
    }
    if (what == 2 && s->up[t] && !p_len(&s->rq[t])) {
        struct p_due_arg d = {s, t};
        return mqg_ledger_replays_due(s->l, t, p_start, &d) > 0;
    }
    return false;
}

/* Target t publishes the oldest item of its outbox. */
static bool p_target(struct sim *s, size_t t)
{
    struct p_msg m;
    if (!s->up[t] || !p_pop(&s->outbox[t], &m)) {
        return false;
    }
    p_deliver(s, t, m.a);
    P_LOG("delivered %llu at %zu (frontier %llu)\n", (unsigned long long)m.a, t,
          (unsigned long long)s->frontier[t]);
    if (!p_len(&s->outbox[t]) || s->outbox[t].m[s->outbox[t].head].a != m.a) {
        p_push(&s->t2r[t], (struct p_msg){P_ITEM, t, m.a, 0});
    }
    return true;
}

/* The router acknowledges to the source; what it says must be true. */
static void p_acks(struct sim *s)
{
    uint64_t R;
    bool changed;
    struct mqg_ledger_mark m[P_C];
    size_t n;
    int rc = mqg_ledger_acks(s->l, 0, &R, &changed, m, P_C, &n);
    P_CHECK(s, rc == 0);
    P_LOG("acks R %llu, %zu marks\n", (unsigned long long)R, n);
    P_CHECK(s, R <= p_truth(s));
    P_CHECK(s, R >= s->src_R && changed == (R > s->src_R));
    s->src_R = R;
    for (size_t i = 0; i < n; i++) {
        P_LOG("  mark %zu %llu\n", m[i].idx, (unsigned long long)m[i].seq);
        P_CHECK(s, m[i].idx == 1 || m[i].idx == 2);
        P_CHECK(s, m[i].seq <= s->frontier[m[i].idx]);
        s->src_W[m[i].idx] = m[i].seq;
    }
}

/* In-flight items finish without a DONE or are lost, at random. */
static void p_drop_outbox(struct sim *s, size_t t)
{
    struct p_msg m;
    while (p_pop(&s->outbox[t], &m)) {
        if (p_rnd(s, 2)) {
            p_deliver(s, t, m.a);
        }
    }
}

static void p_fault(struct sim *s, unsigned k)
{
    size_t t = 1 + p_rnd(s, 2);
    P_LOG("fault %u target %zu\n", k, t);
    if (k < 6) {
        s->up[t] = !s->up[t];
    } else if (k < 8) {
        /* target t restarts: the router hears of it (HELLO) after the DONEs the old process
         * sent (a restart takes a second) */
        p_seen.restarts[0]++;
        p_drop_outbox(s, t);
        while (p_router_target(s, t, 1)) {
        }
        p_clear(&s->rq[t]);
        assert_int_equal(mqg_ledger_target_restarted(s->l, t), 0);
    } else if (k < 10) {
        /* the source restarts: the router hears of it (HELLO) after what the old process sent
         * (a restart takes a second); its cursors and the requests it did not read are gone */
        p_seen.restarts[1]++;
        while (p_len(&s->s2r)) {
            p_router_source(s);
        }
        p_clear(&s->r2s);
        s->send_next = s->src_R + 1;
        assert_int_equal(mqg_ledger_source_restarted(s->l, 0), 0);
    } else {
        /* the router restarts: what was on its way to it is lost; at READY the source drops
         * its replay cursors (requests of the dead router) before it sends MARKS */
        p_seen.restarts[2]++;
        mqg_ledger_destroy(&s->l);
        p_clear(&s->s2r);
        p_clear(&s->r2s);
        for (size_t i = 0; i < P_C; i++) {
            p_clear(&s->rq[i]);
            p_clear(&s->t2r[i]);
            p_drop_outbox(s, i);
        }
        p_new_router(s);
    }
}

static void p_step(struct sim *s)
{
    unsigned k = (unsigned)p_rnd(s, 100);
    size_t t = 1 + p_rnd(s, 3);
    if (k < 12) {
        s->J += s->J < P_N;
    } else if (k < 24) {
        if (s->send_next <= s->J) {
            p_push(&s->s2r, (struct p_msg){P_LIVE, 0, s->send_next++, 0});
        }
    } else if (k < 44) {
        p_router_source(s);
    } else if (k < 50) {
        p_source_replay(s);
    } else if (k < 80) {
        p_router_target(s, t, k % 3);
    } else if (k < 95) {
        p_target(s, t);
    } else if (k < 98) {
        p_acks(s);
    } else {
        p_fault(s, (unsigned)p_rnd(s, 11));
    }
    struct mqg_ledger_source_info si;
    assert_int_equal(mqg_ledger_source(s->l, 0, &si), 0);
    P_CHECK(s, si.release <= p_truth(s) && si.highest <= s->J);
}

/* Everything up, no more faults: run until nothing moves (a replay chunk takes a pass at
 * most, so 10 passes a record mean a replay that never ends). */
static void p_drain(struct sim *s)
{
    s->J = P_N;
    s->up[1] = s->up[2] = true;
    unsigned passes = 0;
    for (bool moved = true; moved;) {
        P_CHECK(s, ++passes < 10 * P_N);
        moved = false;
        while (s->send_next <= s->J) {
            p_push(&s->s2r, (struct p_msg){P_LIVE, 0, s->send_next++, 0});
        }
        while (p_len(&s->s2r) || p_len(&s->r2s)) {
            p_router_source(s);
            p_source_replay(s);
            moved = true;
        }
        for (size_t t = 1; t <= 2; t++) {
            for (unsigned w = 0; w < 3; w++) {
                while (p_router_target(s, t, w) || p_target(s, t)) {
                    moved = true;
                }
            }
        }
        p_acks(s);
    }
}

static void test_simulation(void **state)
{
    uint64_t first = 1, last = P_RUNS;
    const char *one = getenv("LEDGER_SIM_SEED");
    if (one) {
        first = last = strtoull(one, NULL, 10);
        p_trace = true;
    }
    for (uint64_t seed = first; seed <= last; seed++) {
        struct sim *s = calloc(1, sizeof(*s));
        assert_non_null(s);
        s->seed = seed;
        s->rnd = seed * 0x9E3779B97F4A7C15ull;
        for (size_t t = 1; t < P_C; t++) {
            for (uint64_t S = 1; S <= P_N; S++) {
                uint64_t r = p_rnd(s, 10);
                s->need[t][S] = r < 3 ? 0 : r < 8 ? 1 : 2;
            }
        }
        p_advance(s, 1);
        p_advance(s, 2);
        s->up[1] = s->up[2] = true;
        p_new_router(s);
        for (int i = 0; i < P_STEPS; i++) {
            p_step(s);
        }
        p_drain(s);
        P_CHECK(s, s->frontier[1] == P_N && s->frontier[2] == P_N); /* nothing lost */
        P_CHECK(s, s->src_R == P_N);
        P_CHECK(s, p_pair(s, 1).mode == MQG_LEDGER_LIVE);
        P_CHECK(s, p_pair(s, 2).mode == MQG_LEDGER_LIVE);
        P_CHECK(s, p_pair(s, 1).outstanding == 0 && p_pair(s, 2).outstanding == 0);
        mqg_ledger_destroy(&s->l);
        free(s->s2r.m);
        free(s->r2s.m);
        for (size_t t = 0; t < P_C; t++) {
            free(s->rq[t].m);
            free(s->outbox[t].m);
            free(s->t2r[t].m);
        }
        free(s);
    }
    print_message("%llu gaps, %llu replays, %llu copies replayed, %llu stale answers; restarts: "
                  "%llu targets, %llu sources, %llu routers\n",
                  (unsigned long long)p_seen.gaps, (unsigned long long)p_seen.replays,
                  (unsigned long long)p_seen.replayed, (unsigned long long)p_seen.stale,
                  (unsigned long long)p_seen.restarts[0], (unsigned long long)p_seen.restarts[1],
                  (unsigned long long)p_seen.restarts[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
