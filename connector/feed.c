/* feed — what a connector sends to the router (see feed.h).
 *
 * Batches are built into a byte buffer as BATCH bodies (mqg_wire records) of at most
 * MQG_BUS_BATCH_BYTES; a batch the send function refused (-EAGAIN) is kept and offered again
 * at the next flush, so a record read from the journal is never read twice for one pass.
 */
#include "feed.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_bus.h"
#include "mqg_fifo.h"
#include "mqg_log.h"

/* How much a replay sends for one REPLAY request (one REPLAY_BATCH, then REPLAY_DONE: the
 * router's ledger counts on one batch per request), and how much one flush reads from the
 * journal at most (the loop must stay responsive while a large backlog goes out). */
#define S_REPLAY_CREDIT (256u << 10)
#define S_FLUSH_BUDGET (4u << 20)

/* A BATCH body being built. */
struct s_batch {
    uint8_t *b;
    size_t len, cap;
    size_t n;
};

struct s_replay {
    uint16_t target;
    struct mqg_journal_cursor *cur;
    uint64_t last; /* last seq put into a batch (from - 1 before the first) */
    size_t credit; /* bytes still to send for this request */
    bool end;      /* the cursor reached the journal's end */
    bool done_due; /* the batches went out; REPLAY_DONE is next */
    struct s_batch batch;
};

struct feed {
    struct feed_opts o;
    struct mqg_fifo fifo;
    size_t fifo_tracked; /* tracked records in the fifo */
    bool hold;
    bool synced; /* with the router of `epoch` */
    uint64_t epoch;
    bool marks_due; /* MARKS to send before any tracked record */
    /* catch-up from the journal */
    bool catching;
    struct mqg_journal_cursor *cur;
    uint64_t cur_last;  /* last seq put into a batch */
    uint64_t live_skip; /* live tracked records up to this seq were read from the journal */
    uint64_t dup_upto;  /* records up to this seq may have been sent before: DUP */
    uint64_t sent_hw;   /* highest tracked seq ever handed to a router (incl. before a restart) */
    struct s_batch batch;
    /* replays for targets */
    struct s_replay *rp;
    size_t n_rp;
    /* acknowledgements */
    uint64_t rel;
    uint64_t *marks; /* per connection index; 0 = none */
    bool acks_dirty;
    int64_t persist_at;
    uint64_t n_sent, n_redelivered, n_dropped;
};

/* ---- batches ---- */

static int s_batch_add(struct s_batch *b, const struct mqg_wire_rec *r)
{
    size_t need = mqg_wire_rec_bytes(r);
    if (b->cap - b->len < need) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap - b->len < need) {
            ncap *= 2;
        }
        uint8_t *nb = realloc(b->b, ncap);
        if (!nb) {
            return -ENOMEM;
        }
        b->b = nb;
        b->cap = ncap;
    }
    mqg_wire_rec_encode(r, b->b + b->len);
    b->len += need;
    b->n++;
    return 0;
}

static void s_batch_clear(struct s_batch *b)
{
    b->len = 0;
    b->n = 0;
}

static void s_batch_free(struct s_batch *b)
{
    free(b->b);
    memset(b, 0, sizeof(*b));
}

/* Send batch b as `kind` (aux: target of a REPLAY_BATCH). 0: sent (b emptied) or nothing to
 * send; otherwise the send function's error, and b is kept for the next try (journal
 * records are never given up on). */
static int s_batch_send(struct feed *f, struct s_batch *b, uint8_t kind, uint16_t aux)
{
    if (!b->n) {
        return 0;
    }
    struct mqg_wire_hdr h = {.kind = kind, .aux = aux};
    int rc = f->o.send(f->o.ctx, &h, b->b, b->len);
    if (rc != 0) {
        return rc;
    }
    f->n_sent += b->n;
    s_batch_clear(b);
    return 0;
}

/* A journal record as a tracked wire record. */
static struct mqg_wire_rec s_tracked(const struct feed *f, const struct mqg_journal_rec *jr,
                                     bool dup)
{
    return (struct mqg_wire_rec){
        .flags = (uint8_t)((jr->flags & MQG_WIRE_F_RETAIN) | MQG_WIRE_F_TRACK |
                           (dup ? MQG_WIRE_F_DUP : 0)),
        .qos = jr->qos,
        .topic = jr->topic,
        .topic_len = jr->topic_len,
        .payload = jr->payload,
        .payload_len = jr->payload_len,
        .src = f->o.self,
        .seq = jr->seq,
    };
}

/* ---- the live fifo ---- */

/* Count the tracked records of a slice of the fifo that was sent, and note their seqs. */
static void s_note_sent(struct feed *f, const uint8_t *body, size_t len)
{
    if (!f->fifo_tracked) {
        return;
    }
    size_t off = 0;
    struct mqg_wire_rec r;
    while (mqg_wire_rec_next(body, len, &off, &r) == 1) {
        if (r.flags & MQG_WIRE_F_TRACK) {
            f->fifo_tracked--;
            f->sent_hw = r.seq > f->sent_hw ? r.seq : f->sent_hw;
        }
    }
}

/* Take every tracked record out of the fifo; returns the smallest seq among them (UINT64_MAX
 * when there was none). */
static uint64_t s_purge_tracked(struct feed *f)
{
    uint64_t min = UINT64_MAX;
    if (!f->fifo_tracked) {
        return min;
    }
    struct mqg_fifo keep;
    mqg_fifo_init(&keep, f->fifo.max);
    keep.max_bytes = f->fifo.max_bytes;
    size_t len, n;
    const uint8_t *body = mqg_fifo_peek(&f->fifo, SIZE_MAX, &len, &n);
    size_t off = 0;
    struct mqg_wire_rec r;
    while (body && mqg_wire_rec_next(body, len, &off, &r) == 1) {
        if (r.flags & MQG_WIRE_F_TRACK) {
            min = r.seq < min ? r.seq : min;
        } else if (mqg_fifo_append(&keep, &r) != 0) {
            f->n_dropped++;
        }
    }
    mqg_fifo_free(&f->fifo);
    f->fifo = keep;
    f->fifo_tracked = 0;
    return min;
}

/* Send the fifo in batches while the router takes them. Returns 0 or -EAGAIN. */
static int s_flush_fifo(struct feed *f)
{
    while (f->fifo.count) {
        size_t len, n;
        const uint8_t *body = mqg_fifo_peek(&f->fifo, MQG_BUS_BATCH_BYTES, &len, &n);
        struct mqg_wire_hdr h = {.kind = MQG_MSG_BATCH};
        int rc = f->o.send(f->o.ctx, &h, body, len);
        if (rc != 0) {
            return -EAGAIN; /* kept: tried again at the next flush */
        }
        f->n_sent += n;
        s_note_sent(f, body, len);
        mqg_fifo_consume(&f->fifo, len, n);
    }
    return 0;
}

/* ---- catch-up ---- */

static void s_stop_catchup(struct feed *f)
{
    mqg_journal_cursor_destroy(&f->cur);
    s_batch_clear(&f->batch);
    f->catching = false;
}

/* Read tracked records from the journal from `from` on instead of the live fifo. */
static void s_start_catchup(struct feed *f, uint64_t from)
{
    uint64_t min = s_purge_tracked(f);
    from = min < from ? min : from;
    if (f->catching) {
        if (from > f->cur_last) {
            return; /* the cursor gets there */
        }
        s_stop_catchup(f);
    }
    if (mqg_journal_cursor_new(f->o.journal, from, &f->cur) != 0) {
        log_error("FEED-JOURNAL", "cannot read the journal from seq %llu",
                  (unsigned long long)from);
        return;
    }
    f->catching = true;
    f->cur_last = from ? from - 1 : 0;
    f->dup_upto = f->sent_hw;
}

/* Go on with the catch-up; *budget: bytes it may still read. Returns 0 (LIVE again, or the
 * budget is spent) or -EAGAIN. */
static int s_flush_catchup(struct feed *f, size_t *budget)
{
    while (f->catching) {
        if (f->batch.len >= MQG_BUS_BATCH_BYTES && s_batch_send(f, &f->batch, MQG_MSG_BATCH, 0)) {
            return -EAGAIN;
        }
        if (*budget == 0) {
            return s_batch_send(f, &f->batch, MQG_MSG_BATCH, 0) ? -EAGAIN : 0;
        }
        struct mqg_journal_rec jr;
        int rc = mqg_journal_cursor_next(f->cur, &jr);
        if (rc == 1) {
            bool dup = jr.seq <= f->dup_upto;
            struct mqg_wire_rec r = s_tracked(f, &jr, dup);
            if (s_batch_add(&f->batch, &r) != 0) {
                return 0; /* out of memory: try again at the next flush */
            }
            f->cur_last = jr.seq;
            f->n_redelivered += dup;
            f->sent_hw = jr.seq > f->sent_hw ? jr.seq : f->sent_hw;
            size_t sz = mqg_wire_rec_bytes(&r);
            *budget = sz >= *budget ? 0 : *budget - sz;
            continue;
        }
        if (rc < 0) {
            log_warn("FEED-JOURNAL", "reading the journal after seq %llu failed: %s",
                     (unsigned long long)f->cur_last, strerror(-rc));
        }
        if (s_batch_send(f, &f->batch, MQG_MSG_BATCH, 0)) {
            return -EAGAIN;
        }
        f->live_skip = f->cur_last;
        s_stop_catchup(f);
    }
    return 0;
}

/* ---- replays ---- */

static void s_replay_free(struct s_replay *rp)
{
    mqg_journal_cursor_destroy(&rp->cur);
    s_batch_free(&rp->batch);
}

static void s_replay_remove(struct feed *f, size_t i)
{
    s_replay_free(&f->rp[i]);
    f->rp[i] = f->rp[--f->n_rp];
}

static void s_drop_replays(struct feed *f)
{
    while (f->n_rp) {
        s_replay_remove(f, f->n_rp - 1);
    }
}

/* One replay's next step: read up to its credit into one batch, send it as REPLAY_BATCH, then
 * REPLAY_DONE. Returns 0 when it is finished (remove it), -EAGAIN when the router pushes back
 * (the batch is kept, and sent first next time). */
static int s_replay_step(struct feed *f, struct s_replay *rp, size_t *budget)
{
    while (!rp->done_due && rp->cur && !rp->end && rp->credit > 0) {
        struct mqg_journal_rec jr;
        int rc = mqg_journal_cursor_next(rp->cur, &jr);
        if (rc != 1) {
            rp->end = rc == 0; /* an error: not at the end, the router asks again */
            break;
        }
        struct mqg_wire_rec r = s_tracked(f, &jr, true);
        if (s_batch_add(&rp->batch, &r) != 0) {
            break; /* out of memory: what is in the batch goes, the router asks again */
        }
        rp->last = jr.seq;
        f->n_redelivered++;
        size_t sz = mqg_wire_rec_bytes(&r);
        rp->credit = sz >= rp->credit ? 0 : rp->credit - sz;
        *budget = sz >= *budget ? 0 : *budget - sz;
    }
    if (s_batch_send(f, &rp->batch, MQG_MSG_REPLAY_BATCH, rp->target)) {
        return -EAGAIN;
    }
    rp->done_due = true;
    struct mqg_wire_hdr h = {.kind = MQG_MSG_REPLAY_DONE,
                             .flags = rp->end ? MQG_WIRE_F_END : 0,
                             .seq = rp->last,
                             .aux = rp->target};
    return f->o.send(f->o.ctx, &h, NULL, 0) == 0 ? 0 : -EAGAIN;
}

static int s_flush_replays(struct feed *f, size_t *budget)
{
    while (f->n_rp && *budget > 0) {
        if (s_replay_step(f, &f->rp[0], budget) != 0) {
            return -EAGAIN;
        }
        s_replay_remove(f, 0);
    }
    return 0;
}

/* ---- marks ---- */

/* MARKS: the journal's release mark and the marks of the connections of this model. */
static int s_send_marks(struct feed *f)
{
    uint64_t rel;
    const struct mqg_journal_mark *jm;
    size_t n;
    mqg_journal_marks(f->o.journal, &rel, &jm, &n);
    uint8_t *body = malloc((1 + n) * MQG_WIRE_ACK_LEN);
    if (!body) {
        return -ENOMEM;
    }
    struct mqg_wire_ack a = {.type = MQG_ACK_RELEASE, .seq = rel};
    mqg_wire_ack_encode(&a, body);
    size_t len = MQG_WIRE_ACK_LEN;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < f->o.n_conns; k++) {
            if (strcmp(f->o.keys[k], jm[i].key) == 0) {
                a = (struct mqg_wire_ack){
                    .type = MQG_ACK_MARK, .idx = (uint16_t)k, .seq = jm[i].upto};
                mqg_wire_ack_encode(&a, body + len);
                len += MQG_WIRE_ACK_LEN;
                break;
            }
        }
    }
    struct mqg_wire_hdr h = {.kind = MQG_MSG_MARKS};
    int rc = f->o.send(f->o.ctx, &h, body, len);
    free(body);
    return rc;
}

/* ---- the API ---- */

int feed_new(const struct feed_opts *o, struct feed **out)
{
    if (!o || !o->send || (o->journal && (!o->keys || o->self >= o->n_conns))) {
        return -EINVAL;
    }
    struct feed *f = calloc(1, sizeof(*f));
    if (!f) {
        return -ENOMEM;
    }
    f->o = *o;
    mqg_fifo_init(&f->fifo, o->max_count);
    if (o->max_bytes) {
        f->fifo.max_bytes = o->max_bytes;
    }
    if (o->journal) {
        f->marks = calloc(o->n_conns ? o->n_conns : 1, sizeof(*f->marks));
        if (!f->marks) {
            feed_destroy(&f);
            return -ENOMEM;
        }
        struct mqg_journal_stats st;
        mqg_journal_stats(o->journal, &st);
        f->sent_hw = st.last_seq; /* may have gone to a router before a restart */
        f->rel = st.release_upto;
        f->live_skip = st.last_seq;
    }
    *out = f;
    return 0;
}

void feed_destroy(struct feed **fp)
{
    if (!fp || !*fp) {
        return;
    }
    struct feed *f = *fp;
    s_stop_catchup(f);
    s_drop_replays(f);
    free(f->rp);
    s_batch_free(&f->batch);
    mqg_fifo_free(&f->fifo);
    free(f->marks);
    free(f);
    *fp = NULL;
}

int feed_push(struct feed *f, const struct mqg_wire_rec *rec, uint64_t seq)
{
    if (seq && f->o.journal) {
        if (f->catching || seq <= f->live_skip) {
            return 0; /* in the journal: the cursor reads it (or has read it) */
        }
        struct mqg_wire_rec r = *rec;
        r.flags |= MQG_WIRE_F_TRACK;
        r.src = f->o.self;
        r.seq = seq;
        if (mqg_fifo_full(&f->fifo) ||
            mqg_fifo_bytes(&f->fifo) + mqg_wire_rec_bytes(&r) > f->fifo.max_bytes) {
            s_start_catchup(f, seq);
            return 0;
        }
        int rc = mqg_fifo_append(&f->fifo, &r);
        if (rc == 0) {
            f->fifo_tracked++;
        }
        return rc == -ENOMEM ? rc : 0;
    }
    if (f->fifo_tracked && mqg_fifo_full(&f->fifo)) {
        s_start_catchup(f, UINT64_MAX); /* from the oldest tracked one: frees their room */
    }
    struct mqg_wire_rec r = *rec;
    r.flags &= (uint8_t)~MQG_WIRE_F_TRACK;
    int rc = mqg_fifo_push(&f->fifo, &r);
    if (rc > 0) {
        f->n_dropped += (uint64_t)rc;
    }
    return rc;
}

void feed_hold(struct feed *f, bool hold)
{
    f->hold = hold;
}

bool feed_router(struct feed *f, uint64_t epoch)
{
    if (f->synced && f->epoch == epoch) {
        return false;
    }
    f->synced = true;
    f->epoch = epoch;
    s_drop_replays(f);
    if (!f->o.journal) {
        return true;
    }
    f->marks_due = true;
    uint64_t rel;
    const struct mqg_journal_mark *jm;
    size_t n;
    mqg_journal_marks(f->o.journal, &rel, &jm, &n);
    f->rel = rel > f->rel ? rel : f->rel;
    s_stop_catchup(f);
    s_start_catchup(f, f->rel + 1);
    return true;
}

void feed_on_ack(struct feed *f, const struct mqg_wire_ack *a)
{
    if (!f->o.journal) {
        return;
    }
    if (a->type == MQG_ACK_RELEASE && a->seq > f->rel) {
        f->rel = a->seq;
        f->acks_dirty = true;
    } else if (a->type == MQG_ACK_MARK && a->idx < f->o.n_conns && a->seq > f->marks[a->idx]) {
        f->marks[a->idx] = a->seq;
        f->acks_dirty = true;
    }
}

int feed_set_keys(struct feed *f, const char *const *keys, size_t n)
{
    if (n < f->o.n_conns) {
        return -EINVAL;
    }
    if (f->o.journal) {
        uint64_t *marks = realloc(f->marks, (n ? n : 1) * sizeof(*marks));
        if (!marks) {
            return -ENOMEM;
        }
        for (size_t i = f->o.n_conns; i < n; i++) {
            marks[i] = 0;
        }
        f->marks = marks;
    }
    f->o.keys = keys;
    f->o.n_conns = n;
    return 0;
}

void feed_on_replay(struct feed *f, uint16_t target, uint64_t from)
{
    /* any target index: a reload may have added connections after this connector started
     * (it runs on with the model it was given; the router knows them). Unanswered, the
     * router's ledger would wait for this replay and hold the release back for ever. */
    if (!f->o.journal) {
        return;
    }
    for (size_t i = 0; i < f->n_rp; i++) {
        if (f->rp[i].target == target) {
            s_replay_remove(f, i);
            break;
        }
    }
    struct s_replay *nr = realloc(f->rp, (f->n_rp + 1) * sizeof(*nr));
    if (!nr) {
        return;
    }
    f->rp = nr;
    struct s_replay *rp = &f->rp[f->n_rp];
    memset(rp, 0, sizeof(*rp));
    if (mqg_journal_cursor_new(f->o.journal, from, &rp->cur) != 0) {
        rp->cur = NULL; /* answered with REPLAY_DONE, not at the end: the router asks again */
    }
    rp->target = target;
    rp->last = from ? from - 1 : 0;
    rp->credit = S_REPLAY_CREDIT;
    f->n_rp++;
}

void feed_flush(struct feed *f)
{
    if (f->hold) {
        return;
    }
    if (f->marks_due) {
        if (s_send_marks(f) == -EAGAIN) {
            return;
        }
        f->marks_due = false;
    }
    size_t budget = S_FLUSH_BUDGET;
    if (s_flush_fifo(f) != 0 || s_flush_catchup(f, &budget) != 0) {
        return;
    }
    s_flush_replays(f, &budget);
}

bool feed_pending(const struct feed *f)
{
    return !f->hold && (f->fifo.count || f->catching || f->n_rp || f->marks_due);
}

int feed_persist(struct feed *f, int64_t now)
{
    if (!f->acks_dirty || now < f->persist_at) {
        return 0;
    }
    /* now may be INT64_MAX (the last write, at the end) */
    f->persist_at = now > INT64_MAX - f->o.persist_ms ? INT64_MAX : now + f->o.persist_ms;
    f->acks_dirty = false;
    struct mqg_journal_mark *m = malloc((f->o.n_conns ? f->o.n_conns : 1) * sizeof(*m));
    if (!m) {
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < f->o.n_conns; i++) {
        if (f->marks[i]) {
            m[n++] = (struct mqg_journal_mark){.key = f->o.keys[i], .upto = f->marks[i]};
        }
    }
    int rc = mqg_journal_set_marks(f->o.journal, f->rel, m, n);
    free(m);
    return rc;
}

void feed_stats(const struct feed *f, struct feed_stats *st)
{
    st->buffered = f->fifo.count;
    st->catching_up = f->catching;
    st->sent = f->n_sent;
    st->redelivered = f->n_redelivered;
    st->dropped = f->n_dropped;
    st->replays = f->n_rp;
}
