/* mqg_ledger — the router's delivery ledger: which tracked records (QoS >= 1, seq S per source)
 * each target has been handed and has confirmed, and how far each source may release its journal.
 *
 * Used by the router process, which calls it for every tracked record, every copy, every DONE,
 * every replay message and every restart, and asks it what to send (RELEASE and MARK acks,
 * REPLAY requests); the rules are the "Router" section of the crash-safe QoS 1 design (issue 10).
 * Pure logic: no I/O, ZeroMQ, logging or clock. Single-threaded, one owner. accept, copy and done
 * are O(1) amortised; acks and the R of a source are O(n_conns), computed only when asked.
 *
 * Terms. Connections are indices 0..n_conns-1; each can be a source X and a target T. D(X): the
 * highest S accepted from X. Per pair (X,T): a FIFO of outstanding S (copies handed towards T,
 * not yet confirmed; the same S twice when two routes give T two copies), sent_through (the
 * highest S handed to T or known to be there) and a mode: LIVE, GAP(from) (T misses the copies
 * from `from` on; live copies are skipped until a replay covers them) or REPLAY(from) (a REPLAY
 * was requested from X). confirmed_through(X,T), the S through which T has every copy it is due:
 *     LIVE:         FIFO empty ? max(D(X), sent_through) : head - 1
 *     GAP, REPLAY:  FIFO empty ? from - 1 : min(from - 1, head - 1)
 * (in GAP and REPLAY too, copies still in the FIFO are not confirmed: those queued before the
 * gap started and those of a replay chunk), and
 * R(X) = min(D(X), confirmed_through(X,T) over every target T that counts).
 * Seqs only ever increase per source: a seq at or below what is already known (an old S, a DONE
 * below the FIFO's head, a REPLAY_DONE before `from`) changes nothing. Seqs above
 * MQG_LEDGER_SEQ_MAX are refused with -EINVAL. Indices out of range give -EINVAL and change
 * nothing; no input makes the ledger crash or lose count.
 *
 * What the ledger relies on (else R may pass a copy that a restart then loses):
 * - the router hands all copies of one record for one target over together (one BATCH), and a
 *   target sends DONE(x, S) only when no copy <= S from x is left in its outbox;
 * - a source answers each REPLAY with at most one REPLAY_BATCH and then one REPLAY_DONE, and at
 *   a READY of a new epoch drops its replay cursors before it sends MARKS;
 * - the router calls mqg_ledger_target_restarted() and mqg_ledger_source_restarted() only
 *   after it has handled what the old incarnation sent (the new one's HELLO comes a restart,
 *   i.e. a second, later): a DONE of the old target handled after the restart would confirm
 *   replayed copies the new one has not had.
 */
#ifndef MQG_LEDGER_H
#define MQG_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQG_LEDGER_MAX_CONNS 65536u         /* the wire's u16 idx */
#define MQG_LEDGER_SEQ_MAX (UINT64_MAX - 1) /* so that S + 1 never wraps */

/* Results that are not errors (errors are -errno); each function says which it returns. */
enum mqg_ledger_result {
    MQG_LEDGER_ACCEPT = 1,  /* a new record: route it */
    MQG_LEDGER_QUEUE,       /* queue the copy for T (tracked: TRACK, src X, seq S) */
    MQG_LEDGER_SKIP,        /* nothing to do: a duplicate, or covered by a gap */
    MQG_LEDGER_GAP_STARTED, /* do not queue the copy: the pair went to GAP(S), a replay follows */
    MQG_LEDGER_UNKNOWN,     /* X is not known (no MARKS yet): answer READY, do not dispatch */
    MQG_LEDGER_KNOWN,       /* MARKS for an X already known: ignored */
    MQG_LEDGER_STALE,       /* a replay message that answers no current request: ignored */
    MQG_LEDGER_MORE,        /* acks: more changes than fitted, call again */
};

enum mqg_ledger_mode {
    MQG_LEDGER_LIVE = 0,
    MQG_LEDGER_GAP,
    MQG_LEDGER_REPLAY,
};

/* A per-target watermark: MARKS from a source (target idx has everything through seq), or a
 * change reported by mqg_ledger_acks(). */
struct mqg_ledger_mark {
    size_t idx;
    uint64_t seq;
};

struct mqg_ledger;

/* A ledger for n_conns connections (0 is allowed: every index is then out of range), no source
 * known, every connection a target that counts. Returns 0 with the ledger in *out, -EINVAL (more
 * than MQG_LEDGER_MAX_CONNS, out NULL) or -ENOMEM. */
int mqg_ledger_new(size_t n_conns, struct mqg_ledger **out);

/* NULL-safe; clears *l. */
void mqg_ledger_destroy(struct mqg_ledger **l);

/* Whether connection t is a target that counts in R(X) (it has a process; true after new).
 * Pairs towards a target that does not count keep their FIFO and mode; they only stop holding
 * R back and are left out of acks. Returns 0 or -EINVAL. */
int mqg_ledger_set_target(struct mqg_ledger *l, size_t t, bool counts);

/* MARKS(R, W) from source x: x becomes known with D(x) = R and every pair (x,T) LIVE with an
 * empty FIFO and sent_through = max(W(T), R), where W(T) is the largest w[i].seq with
 * w[i].idx == T (entries with an index out of range are skipped, seqs above
 * MQG_LEDGER_SEQ_MAX are taken as MQG_LEDGER_SEQ_MAX). w is borrowed. Returns 0;
 * MQG_LEDGER_KNOWN when x is known already (nothing changed: MARKS count once per ledger, i.e.
 * per router epoch); -EINVAL (x out of range, R above MQG_LEDGER_SEQ_MAX, w NULL with n > 0);
 * -ENOMEM (x stays unknown). */
int mqg_ledger_marks(struct mqg_ledger *l, size_t x, uint64_t R, const struct mqg_ledger_mark *w,
                     size_t n);

/* A live tracked record S from x. Returns MQG_LEDGER_ACCEPT (D(x) = S: route it, then give
 * each QoS >= 1 copy to mqg_ledger_copy), MQG_LEDGER_SKIP (S <= D(x): already routed, drop it),
 * MQG_LEDGER_UNKNOWN (x not known: answer READY, do not dispatch) or -EINVAL. */
int mqg_ledger_accept(struct mqg_ledger *l, size_t x, uint64_t S);

/* A live copy of record S (the one just accepted from x, so S <= D(x)) for target t; QoS 0
 * copies are not tracked and never given to the ledger. down_and_full: t is down (link down or
 * unreachable) and its router queue is at its bound. Returns MQG_LEDGER_QUEUE (FIFO push,
 * sent_through = S; a second copy of the same S for the same t is queued too),
 * MQG_LEDGER_SKIP (S below sent_through, or equal to it and not the S just queued: t has it;
 * or the pair is not LIVE: its gap covers S), MQG_LEDGER_GAP_STARTED (the pair was LIVE and t is
 * down and full, or the FIFO could not grow: GAP(S), do not queue), MQG_LEDGER_UNKNOWN, or -EINVAL
 * (an index out of range, S > D(x)). */
int mqg_ledger_copy(struct mqg_ledger *l, size_t x, size_t t, uint64_t S, bool down_and_full);

/* Ask which pairs (x,t) in GAP may now get their replay. The router calls it when t is up and
 * its queue for t is empty. A pair is due when nothing at or above `from` is outstanding in its
 * FIFO: when a gap starts at the second copy of S, the first copy must be confirmed before the
 * replay hands S again, or its DONE(S) would also take the replayed copies of S for confirmed
 * while they wait in the router's queue. due(arg, x, from) is called for each such pair in
 * order of x, and may call mqg_ledger_replay_started(l, x, t) (and send REPLAY(t, from) to x);
 * returning false stops the walk. Returns the number of pairs offered, or -EINVAL (t out of
 * range, due NULL). */
typedef bool (*mqg_ledger_due_fn)(void *arg, size_t x, uint64_t from);
int mqg_ledger_replays_due(struct mqg_ledger *l, size_t t, mqg_ledger_due_fn due, void *arg);

/* REPLAY(t, from) was sent to x: GAP(from) becomes REPLAY(from). Returns 0, MQG_LEDGER_SKIP
 * (the pair is not due, see mqg_ledger_replays_due: send nothing), MQG_LEDGER_UNKNOWN or
 * -EINVAL. The ledger counts the requests x has not answered yet, so that the answer to a
 * request made before t restarted is recognised and ignored (MQG_LEDGER_STALE). */
int mqg_ledger_replay_started(struct mqg_ledger *l, size_t x, size_t t);

/* A copy for t of record S from a REPLAY_BATCH of x (the router routes the record and gives
 * the ledger only its copies for t). Returns MQG_LEDGER_QUEUE (FIFO push, sent_through = S),
 * MQG_LEDGER_SKIP (S <= sent_through, unless S was just queued: a second copy),
 * MQG_LEDGER_STALE (the pair is not in REPLAY for its latest request: drop the copy),
 * MQG_LEDGER_GAP_STARTED (the FIFO could not grow: GAP(S), the rest of this answer is stale),
 * MQG_LEDGER_UNKNOWN or -EINVAL. D(x) is not changed by replayed records. */
int mqg_ledger_replay_copy(struct mqg_ledger *l, size_t x, size_t t, uint64_t S);

/* REPLAY_DONE(t, last, end) from x: sent_through = max(sent_through, last); end: LIVE, else
 * GAP(last + 1). A last below from - 1 is taken as from - 1; above MQG_LEDGER_SEQ_MAX as
 * MQG_LEDGER_SEQ_MAX. Returns 0, MQG_LEDGER_STALE (no request outstanding, an answer to an older
 * request, or the pair left REPLAY since: nothing changed), MQG_LEDGER_UNKNOWN or -EINVAL. */
int mqg_ledger_replay_done(struct mqg_ledger *l, size_t x, size_t t, uint64_t last, bool end);

/* DONE(x, S) from t: t finished every copy of x through S; pops FIFO(x,t) while its head <= S
 * (nothing when the FIFO is empty or its head is above S), in any mode. Returns 0,
 * MQG_LEDGER_UNKNOWN or -EINVAL. */
int mqg_ledger_done(struct mqg_ledger *l, size_t x, size_t t, uint64_t S);

/* Target t restarted (HELLO of a new incarnation; the router clears its queue for t): every
 * pair (x,t) that has copies outstanding or is not LIVE goes to GAP(c + 1) with
 * c = confirmed_through(x,t), sent_through = c, FIFO cleared. A LIVE pair with an empty FIFO
 * stays LIVE: t confirmed everything it was handed. Returns 0 or -EINVAL. */
int mqg_ledger_target_restarted(struct mqg_ledger *l, size_t t);

/* Source x restarted (same HELLO; call it with mqg_ledger_target_restarted for the same index):
 * its replay cursors are gone, so every pair (x,T) in REPLAY(from) goes back to GAP(from) and no
 * request is outstanding any more. D(x) is kept (x sends again from its R + 1: SKIP). Returns
 * 0, MQG_LEDGER_UNKNOWN or -EINVAL. */
int mqg_ledger_source_restarted(struct mqg_ledger *l, size_t x);

/* What to acknowledge to x (call it at most every 10 ms, between records: not between
 * accepting a record and giving the ledger its copies). *release = R(x), never lower than
 * what was reported before (a target that starts to count cannot take a release back);
 * *release_changed: it rose since the last call. changed[0..*n) gets the targets whose
 * confirmed_through changed since the last call, at most cap of them, leaving out targets that
 * do not count, pairs never handed a copy by this ledger (nothing for x to remember) and values
 * at or below *release (a mark at or below R says nothing that R does not). Returns 0,
 * MQG_LEDGER_MORE (more changes than cap: the rest come with the next call),
 * MQG_LEDGER_UNKNOWN (*n = 0) or -EINVAL (x out of range, an output NULL, changed NULL with
 * cap > 0). */
int mqg_ledger_acks(struct mqg_ledger *l, size_t x, uint64_t *release, bool *release_changed,
                    struct mqg_ledger_mark *changed, size_t cap, size_t *n);

/* The state of source x. */
struct mqg_ledger_source_info {
    uint64_t highest;  /* D(x) */
    uint64_t release;  /* R(x) now (may be below `released`) */
    uint64_t released; /* R last reported by mqg_ledger_acks (R of the MARKS before) */
};

/* Fills *out. Returns 0, MQG_LEDGER_UNKNOWN or -EINVAL. */
int mqg_ledger_source(const struct mqg_ledger *l, size_t x, struct mqg_ledger_source_info *out);

/* The state of pair (x,t). */
struct mqg_ledger_pair_info {
    enum mqg_ledger_mode mode;
    uint64_t from; /* GAP and REPLAY: the first S t misses; 0 when LIVE */
    uint64_t sent_through;
    uint64_t confirmed_through;
    size_t outstanding; /* S in the FIFO */
};

/* Fills *out. Returns 0, MQG_LEDGER_UNKNOWN or -EINVAL. */
int mqg_ledger_pair(const struct mqg_ledger *l, size_t x, size_t t,
                    struct mqg_ledger_pair_info *out);

struct mqg_ledger_stats {
    uint64_t gaps;        /* pairs not LIVE (waiting for or in a replay): status `gaps=` */
    uint64_t outstanding; /* S in all FIFOs */
    uint64_t replayed;    /* copies queued from replays since new: status `replayed=` */
};

/* Fills *out (zeros for a NULL ledger; nothing for a NULL out). */
void mqg_ledger_stats(const struct mqg_ledger *l, struct mqg_ledger_stats *out);

#endif
