/* mqg_ledger — the router's delivery ledger (see mqg_ledger.h).
 *
 * A source's pairs are allocated when it becomes known (MARKS): n_conns pairs of a few words,
 * each with a ring buffer of outstanding seqs that grows by doubling and is given back when it
 * empties after having grown large. Counters of pairs not LIVE (in total and in GAP per target)
 * are kept on every mode change, so stats and replays_due of a target without gaps are O(1).
 */
#include "mqg_ledger.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A FIFO that empties gives its ring back when it has grown beyond this many seqs. */
#define S_KEEP_SEQS 1024u
#define S_FIRST_CAP 16u

struct s_pair {
    uint64_t *ring; /* outstanding seqs, ring of cap (a power of two) entries */
    size_t cap, head, count;
    uint64_t sent_through;
    uint64_t from;     /* GAP and REPLAY */
    uint64_t reported; /* confirmed_through when acks last looked */
    uint32_t asked;    /* REPLAY requests not answered yet */
    enum mqg_ledger_mode mode;
    bool again; /* sent_through was set by queueing this very S: a 2nd copy is OK */
    bool used;  /* a copy was queued once: acks report the pair */
};

struct s_source {
    struct s_pair *pairs; /* n_conns of them; NULL while the source is unknown */
    uint64_t highest;     /* D(X) */
    uint64_t released;    /* R last reported */
    bool dirty;           /* something changed since the last acks */
};

struct mqg_ledger {
    size_t n;
    struct s_source *src; /* n */
    bool *counts;         /* n: the target counts in R */
    size_t *gap_pairs;    /* n: pairs (X,T) in GAP, per T */
    uint64_t not_live, outstanding, replayed;
};

/* ---- the FIFO of a pair ---- */

static uint64_t s_head(const struct s_pair *p)
{
    return p->ring[p->head];
}

static uint64_t s_tail(const struct s_pair *p)
{
    return p->ring[(p->head + p->count - 1) & (p->cap - 1)];
}

/* Append S. Returns 0, -ENOMEM, or -EINVAL for an S below the tail (which cannot happen:
 * every push is above sent_through, or a second copy of it). */
static int s_push(struct mqg_ledger *l, struct s_pair *p, uint64_t S)
{
    if (p->count && S < s_tail(p)) {
        return -EINVAL;
    }
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : S_FIRST_CAP;
        if (cap < p->cap || cap > SIZE_MAX / sizeof(uint64_t)) {
            return -ENOMEM;
        }
        uint64_t *ring = malloc(cap * sizeof(uint64_t));
        if (!ring) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < p->count; i++) {
            ring[i] = p->ring[(p->head + i) & (p->cap - 1)];
        }
        free(p->ring);
        p->ring = ring;
        p->cap = cap;
        p->head = 0;
    }
    p->ring[(p->head + p->count) & (p->cap - 1)] = S;
    p->count++;
    p->used = true;
    l->outstanding++;
    return 0;
}

static void s_emptied(struct s_pair *p)
{
    p->head = 0;
    if (p->cap > S_KEEP_SEQS) {
        free(p->ring);
        p->ring = NULL;
        p->cap = 0;
    }
}

/* Pop while the head is <= S. Returns the number popped. */
static size_t s_pop_through(struct mqg_ledger *l, struct s_pair *p, uint64_t S)
{
    size_t popped = 0;
    while (p->count && s_head(p) <= S) {
        p->head = (p->head + 1) & (p->cap - 1);
        p->count--;
        popped++;
    }
    l->outstanding -= popped;
    if (popped && !p->count) {
        s_emptied(p);
    }
    return popped;
}

static void s_clear(struct mqg_ledger *l, struct s_pair *p)
{
    l->outstanding -= p->count;
    p->count = 0;
    s_emptied(p);
}

/* ---- modes and watermarks ---- */

static void s_set_mode(struct mqg_ledger *l, size_t t, struct s_pair *p, enum mqg_ledger_mode m,
                       uint64_t from)
{
    l->not_live -= p->mode != MQG_LEDGER_LIVE;
    l->gap_pairs[t] -= p->mode == MQG_LEDGER_GAP;
    p->mode = m;
    p->from = m == MQG_LEDGER_LIVE ? 0 : from;
    l->not_live += m != MQG_LEDGER_LIVE;
    l->gap_pairs[t] += m == MQG_LEDGER_GAP;
}

/* A LIVE pair misses S and what follows: GAP(S). A copy of S queued already stays queued (the
 * replay hands S again), so sent_through drops below S for the replay to pass it. */
static void s_start_gap(struct mqg_ledger *l, size_t t, struct s_pair *p, uint64_t S)
{
    if (p->sent_through >= S) {
        p->sent_through = S - 1;
    }
    p->again = false;
    s_set_mode(l, t, p, MQG_LEDGER_GAP, S);
}

static uint64_t s_confirmed(const struct s_source *s, const struct s_pair *p)
{
    uint64_t c;
    if (p->mode == MQG_LEDGER_LIVE) {
        c = s->highest > p->sent_through ? s->highest : p->sent_through;
    } else {
        c = p->from - 1;
    }
    if (p->count && s_head(p) - 1 < c) {
        c = s_head(p) - 1;
    }
    return c;
}

static uint64_t s_release(const struct mqg_ledger *l, const struct s_source *s)
{
    uint64_t r = s->highest;
    for (size_t t = 0; t < l->n; t++) {
        if (l->counts[t]) {
            uint64_t c = s_confirmed(s, &s->pairs[t]);
            r = c < r ? c : r;
        }
    }
    return r;
}

/* Whether a copy of S would be a duplicate of what the pair was handed already. */
static bool s_has(const struct s_pair *p, uint64_t S)
{
    return S < p->sent_through || (S == p->sent_through && !p->again);
}

/* Whether the pair may get its replay now: in GAP, with nothing outstanding at or above from.
 * A copy of S = from may still be on its way when the gap started at a second copy of S: its
 * DONE(S) would also pop the replayed copies of S, which may still sit in the router's queue. */
static bool s_due(const struct s_pair *p)
{
    return p->mode == MQG_LEDGER_GAP && (!p->count || s_tail(p) < p->from);
}

/* ---- looking things up ---- */

/* The source x when known; *rc = -EINVAL (out of range) or MQG_LEDGER_UNKNOWN otherwise. */
static struct s_source *s_source_of(const struct mqg_ledger *l, size_t x, int *rc)
{
    if (!l || x >= l->n) {
        *rc = -EINVAL;
        return NULL;
    }
    if (!l->src[x].pairs) {
        *rc = MQG_LEDGER_UNKNOWN;
        return NULL;
    }
    return &l->src[x];
}

/* The pair (x,t) of a known x, as s_source_of(). */
static struct s_pair *s_pair_of(const struct mqg_ledger *l, size_t x, size_t t, int *rc)
{
    if (!l || t >= l->n) {
        *rc = -EINVAL;
        return NULL;
    }
    struct s_source *s = s_source_of(l, x, rc);
    return s ? &s->pairs[t] : NULL;
}

/* ---- life cycle ---- */

int mqg_ledger_new(size_t n_conns, struct mqg_ledger **out)
{
    if (!out || n_conns > MQG_LEDGER_MAX_CONNS) {
        return -EINVAL;
    }
    *out = NULL;
    struct mqg_ledger *l = calloc(1, sizeof(*l));
    if (!l) {
        return -ENOMEM;
    }
    l->n = n_conns;
    size_t k = n_conns ? n_conns : 1;
    l->src = calloc(k, sizeof(*l->src));
    l->counts = calloc(k, sizeof(*l->counts));
    l->gap_pairs = calloc(k, sizeof(*l->gap_pairs));
    if (!l->src || !l->counts || !l->gap_pairs) {
        mqg_ledger_destroy(&l);
        return -ENOMEM;
    }
    for (size_t t = 0; t < n_conns; t++) {
        l->counts[t] = true;
    }
    *out = l;
    return 0;
}

void mqg_ledger_destroy(struct mqg_ledger **lp)
{
    if (!lp || !*lp) {
        return;
    }
    struct mqg_ledger *l = *lp;
    for (size_t x = 0; l->src && x < l->n; x++) {
        struct s_pair *pairs = l->src[x].pairs;
        for (size_t t = 0; pairs && t < l->n; t++) {
            free(pairs[t].ring);
        }
        free(pairs);
    }
    free(l->src);
    free(l->counts);
    free(l->gap_pairs);
    free(l);
    *lp = NULL;
}

int mqg_ledger_set_target(struct mqg_ledger *l, size_t t, bool counts)
{
    if (!l || t >= l->n) {
        return -EINVAL;
    }
    if (l->counts[t] != counts) {
        l->counts[t] = counts;
        for (size_t x = 0; x < l->n; x++) {
            l->src[x].dirty = true;
        }
    }
    return 0;
}

int mqg_ledger_marks(struct mqg_ledger *l, size_t x, uint64_t R, const struct mqg_ledger_mark *w,
                     size_t n)
{
    if (!l || x >= l->n || R > MQG_LEDGER_SEQ_MAX || (!w && n)) {
        return -EINVAL;
    }
    struct s_source *s = &l->src[x];
    if (s->pairs) {
        return MQG_LEDGER_KNOWN;
    }
    s->pairs = calloc(l->n, sizeof(*s->pairs));
    if (!s->pairs) {
        return -ENOMEM;
    }
    s->highest = R;
    s->released = R;
    s->dirty = false;
    for (size_t t = 0; t < l->n; t++) {
        s->pairs[t].sent_through = R;
    }
    for (size_t i = 0; i < n; i++) {
        if (w[i].idx < l->n) {
            uint64_t W = w[i].seq > MQG_LEDGER_SEQ_MAX ? MQG_LEDGER_SEQ_MAX : w[i].seq;
            struct s_pair *p = &s->pairs[w[i].idx];
            p->sent_through = W > p->sent_through ? W : p->sent_through;
        }
    }
    for (size_t t = 0; t < l->n; t++) {
        s->pairs[t].reported = s_confirmed(s, &s->pairs[t]); /* what x knows already */
    }
    return 0;
}

/* ---- live records ---- */

int mqg_ledger_accept(struct mqg_ledger *l, size_t x, uint64_t S)
{
    int rc;
    struct s_source *s = s_source_of(l, x, &rc);
    if (!s) {
        return rc;
    }
    if (S > MQG_LEDGER_SEQ_MAX) {
        return -EINVAL;
    }
    if (S <= s->highest) {
        return MQG_LEDGER_SKIP;
    }
    s->highest = S;
    s->dirty = true;
    return MQG_LEDGER_ACCEPT;
}

int mqg_ledger_copy(struct mqg_ledger *l, size_t x, size_t t, uint64_t S, bool down_and_full)
{
    int rc;
    struct s_pair *p = s_pair_of(l, x, t, &rc);
    if (!p) {
        return rc;
    }
    struct s_source *s = &l->src[x];
    if (S > s->highest) {
        return -EINVAL;
    }
    if (s_has(p, S) || p->mode != MQG_LEDGER_LIVE) {
        return MQG_LEDGER_SKIP;
    }
    s->dirty = true;
    if (down_and_full || s_push(l, p, S) != 0) {
        s_start_gap(l, t, p, S);
        return MQG_LEDGER_GAP_STARTED;
    }
    p->sent_through = S;
    p->again = true;
    return MQG_LEDGER_QUEUE;
}

int mqg_ledger_done(struct mqg_ledger *l, size_t x, size_t t, uint64_t S)
{
    int rc;
    struct s_pair *p = s_pair_of(l, x, t, &rc);
    if (!p) {
        return rc;
    }
    if (s_pop_through(l, p, S)) {
        l->src[x].dirty = true;
    }
    return 0;
}

/* ---- replays ---- */

int mqg_ledger_replays_due(struct mqg_ledger *l, size_t t, mqg_ledger_due_fn due, void *arg)
{
    if (!l || t >= l->n || !due) {
        return -EINVAL;
    }
    int offered = 0;
    for (size_t x = 0; x < l->n && l->gap_pairs[t]; x++) {
        const struct s_pair *p = l->src[x].pairs ? &l->src[x].pairs[t] : NULL;
        if (p && s_due(p)) {
            offered++;
            if (!due(arg, x, p->from)) {
                break;
            }
        }
    }
    return offered;
}

int mqg_ledger_replay_started(struct mqg_ledger *l, size_t x, size_t t)
{
    int rc;
    struct s_pair *p = s_pair_of(l, x, t, &rc);
    if (!p) {
        return rc;
    }
    if (!s_due(p)) {
        return MQG_LEDGER_SKIP;
    }
    p->asked++;
    s_set_mode(l, t, p, MQG_LEDGER_REPLAY, p->from);
    return 0;
}

int mqg_ledger_replay_copy(struct mqg_ledger *l, size_t x, size_t t, uint64_t S)
{
    int rc;
    struct s_pair *p = s_pair_of(l, x, t, &rc);
    if (!p) {
        return rc;
    }
    if (S > MQG_LEDGER_SEQ_MAX || S == 0) {
        return -EINVAL;
    }
    if (p->mode != MQG_LEDGER_REPLAY || p->asked != 1) {
        return MQG_LEDGER_STALE;
    }
    if (s_has(p, S)) {
        return MQG_LEDGER_SKIP;
    }
    l->src[x].dirty = true;
    if (s_push(l, p, S) != 0) {
        s_start_gap(l, t, p, S);
        return MQG_LEDGER_GAP_STARTED;
    }
    p->sent_through = S;
    p->again = true;
    l->replayed++;
    return MQG_LEDGER_QUEUE;
}

int mqg_ledger_replay_done(struct mqg_ledger *l, size_t x, size_t t, uint64_t last, bool end)
{
    int rc;
    struct s_pair *p = s_pair_of(l, x, t, &rc);
    if (!p) {
        return rc;
    }
    if (p->asked == 0) {
        return MQG_LEDGER_STALE;
    }
    if (--p->asked > 0 || p->mode != MQG_LEDGER_REPLAY) {
        return MQG_LEDGER_STALE;
    }
    last = last < p->from - 1 ? p->from - 1 : last;
    last = last > MQG_LEDGER_SEQ_MAX ? MQG_LEDGER_SEQ_MAX : last;
    p->sent_through = last > p->sent_through ? last : p->sent_through;
    p->again = false;
    s_set_mode(l, t, p, end ? MQG_LEDGER_LIVE : MQG_LEDGER_GAP, last + 1);
    l->src[x].dirty = true;
    return 0;
}

/* ---- restarts ---- */

int mqg_ledger_target_restarted(struct mqg_ledger *l, size_t t)
{
    if (!l || t >= l->n) {
        return -EINVAL;
    }
    for (size_t x = 0; x < l->n; x++) {
        struct s_source *s = &l->src[x];
        struct s_pair *p = s->pairs ? &s->pairs[t] : NULL;
        if (!p || (p->mode == MQG_LEDGER_LIVE && !p->count)) {
            continue;
        }
        uint64_t c = s_confirmed(s, p);
        s_clear(l, p);
        p->sent_through = c;
        p->again = false;
        s_set_mode(l, t, p, MQG_LEDGER_GAP, c + 1);
        s->dirty = true;
    }
    return 0;
}

int mqg_ledger_source_restarted(struct mqg_ledger *l, size_t x)
{
    int rc;
    struct s_source *s = s_source_of(l, x, &rc);
    if (!s) {
        return rc;
    }
    for (size_t t = 0; t < l->n; t++) {
        struct s_pair *p = &s->pairs[t];
        p->asked = 0;
        if (p->mode == MQG_LEDGER_REPLAY) {
            s_set_mode(l, t, p, MQG_LEDGER_GAP, p->from);
        }
    }
    return 0;
}

/* ---- what to tell the source, and looking at the state ---- */

int mqg_ledger_acks(struct mqg_ledger *l, size_t x, uint64_t *release, bool *release_changed,
                    struct mqg_ledger_mark *changed, size_t cap, size_t *n)
{
    if (!release || !release_changed || !n || (!changed && cap)) {
        return -EINVAL;
    }
    *n = 0;
    *release_changed = false;
    int rc;
    struct s_source *s = s_source_of(l, x, &rc);
    if (!s) {
        return rc;
    }
    if (s->dirty) {
        uint64_t r = s_release(l, s);
        if (r > s->released) {
            s->released = r;
            *release_changed = true;
        }
    }
    *release = s->released;
    if (!s->dirty) {
        return 0;
    }
    bool more = false;
    for (size_t t = 0; t < l->n; t++) {
        struct s_pair *p = &s->pairs[t];
        uint64_t c = s_confirmed(s, p);
        if (!l->counts[t] || !p->used || c == p->reported) {
            continue;
        }
        if (c > s->released) {
            if (*n == cap) {
                more = true;
                continue;
            }
            changed[(*n)++] = (struct mqg_ledger_mark){t, c};
        }
        p->reported = c;
    }
    s->dirty = more;
    return more ? MQG_LEDGER_MORE : 0;
}

int mqg_ledger_source(const struct mqg_ledger *l, size_t x, struct mqg_ledger_source_info *out)
{
    int rc;
    const struct s_source *s = s_source_of(l, x, &rc);
    if (!s || !out) {
        return s ? -EINVAL : rc;
    }
    out->highest = s->highest;
    out->release = s_release(l, s);
    out->released = s->released;
    return 0;
}

int mqg_ledger_pair(const struct mqg_ledger *l, size_t x, size_t t,
                    struct mqg_ledger_pair_info *out)
{
    int rc;
    const struct s_pair *p = s_pair_of(l, x, t, &rc);
    if (!p || !out) {
        return p ? -EINVAL : rc;
    }
    out->mode = p->mode;
    out->from = p->from;
    out->sent_through = p->sent_through;
    out->confirmed_through = s_confirmed(&l->src[x], p);
    out->outstanding = p->count;
    return 0;
}

void mqg_ledger_stats(const struct mqg_ledger *l, struct mqg_ledger_stats *out)
{
    if (!out) {
        return;
    }
    memset(out, 0, sizeof(*out));
    if (l) {
        out->gaps = l->not_live;
        out->outstanding = l->outstanding;
        out->replayed = l->replayed;
    }
}
