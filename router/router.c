/* router — internal bus process (see router.h).
 *
 * One poll loop: control channel, signals, the ROUTER socket. Which routes a message fires
 * and the copies it makes are decided by mqg_route (the tries per namespace, named wildcards,
 * internal chains); this file takes the messages off the socket, hands each to
 * mqg_route_dispatch, queues the copies per target connection and sends them, and logs what
 * routing reports. Messages a connector cannot take right now (not connected, or its pipe
 * full) wait in a bounded per-target queue, in order; a connected target that cannot keep up
 * pauses the input (flow control).
 * With the journal on, QoS >= 1 messages are tracked (docs/delivery.md): the ledger
 * (mqg_ledger) decides which copies a target gets and when a source may release its journal;
 * this file carries its decisions over the bus (READY with the router's epoch, MARKS, ACK,
 * REPLAY, REPLAY_BATCH, REPLAY_DONE, LINK) and restarts of connectors to it. */
#include "router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mqg_bus.h"
#include "mqg_child.h"
#include "mqg_error.h"
#include "mqg_fifo.h"
#include "mqg_ledger.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_route.h"
#include "mqg_rstats.h"
#include "mqg_tap.h"

#define R_RETRY_MS 20
/* A connection whose sends find no connector this long counts as not connected (ZeroMQ also
 * says "no such peer" briefly after a full pipe drains; a restart takes longer than this). */
#define R_UNREACHABLE_MS 1000
/* Bound of a per-route counter report (mqg_rstats.h): well inside the control socket's buffer. */
#define R_ROUTES_REPORT_MAX (32 * 1024)
/* Acknowledgements to the sources and replay requests go out at most this often. */
#define R_ACK_MS 10
/* A reload's handover waits at most this long for what it holds (< the default stop grace). */
#define R_HANDOVER_MS 2500
/* Frames a tap's pipe holds before ZeroMQ drops what is sent to it (a slow or stopped tap). */
#define R_TAP_HWM 16
/* A tap gets a frame at least this often while it listens (an empty one when idle). */
#define R_TAP_IDLE_MS 1000

struct s_target {
    const char *key;
    size_t key_len;
    bool enabled;        /* has a connector process */
    struct mqg_fifo out; /* copies for this connection, sent as BATCH bodies */
    bool unreachable;    /* no connector for R_UNREACHABLE_MS: copies are dropped when full */
    int64_t ok_ms;       /* last successful send (or router start) */
    bool warned_full;
    bool link_up;         /* its broker is connected (LINK); true until told otherwise */
    uint64_t incarnation; /* of its connector (HELLO); 0 before the first */
    int64_t ready_at;     /* READY was sent to it (answering data from an unknown source) */
    uint8_t *ack;         /* ACK for it as a source, not sent yet (RELEASE and MARKs) */
    size_t ack_len;
    bool decoupled; /* the rules process with the journal on: its full queue never pauses the
                     * input (tracked copies start a gap, replayed from the sources' journals
                     * when it has caught up; QoS 0 copies are dropped) */
};

struct s_router {
    struct mqg_child child;
    struct mqg_bus *bus;
    struct mqg_route_table *routes;
    struct mqg_route_sink sink; /* s_deliver and the log lines of routing */
    struct s_target *targets;   /* per connection */
    size_t pending;             /* messages waiting in all target queues */
    uint64_t n_in, n_out, n_dropped, n_malformed;
    struct mqg_rstats rstats; /* per-route counters reported to the supervisor */
    /* tracked delivery (journal on) */
    struct mqg_ledger *ledger; /* NULL: nothing is tracked */
    uint64_t epoch;            /* this router process, in READY */
    int64_t acks_at;           /* next round of acknowledgements and replay requests */
    /* the record being dispatched */
    bool cur_tracked;
    size_t cur_src;
    uint64_t cur_seq;
    int cur_replay_for; /* a replayed record: only copies for this target; -1 otherwise */
    /* mqgate tap: copies of the internal topics' messages, offered while a tap listens */
    struct mqg_bus *tap; /* NULL: not bound (TAP-BIND) */
    bool tap_on;
    uint64_t tap_seq; /* messages offered so far (a tap counts the gaps) */
    int64_t tap_sent; /* ms of the last frame sent */
    struct mqg_tap_frame tap_frame;
};

/* Nothing can be sent to t now: away, or (journal on) not heard from yet (s_flush). */
static bool s_unsendable(const struct s_router *r, const struct s_target *t)
{
    return t->unreachable || (r->ledger && !t->incarnation);
}

/* Whether target t's full queue must not hold the input back (s_paused): its connector or
 * broker is away, or it is the rules process (decoupled). */
static bool s_away(const struct s_router *r, const struct s_target *t)
{
    return s_unsendable(r, t) || !t->link_up || t->decoupled;
}

/* Whether target t is away and its queue at its bound: a tracked copy then starts a gap (the
 * source's journal keeps it), an untracked one is dropped. */
static bool s_down_and_full(const struct s_router *r, const struct s_target *t)
{
    return s_away(r, t) && mqg_fifo_full(&t->out);
}

/* The ledger's word on a tracked copy for conn: true to queue it (marked as tracked). */
static bool s_track_copy(struct s_router *r, int conn, struct mqg_wire_rec *copy)
{
    int res = r->cur_replay_for >= 0
                  ? mqg_ledger_replay_copy(r->ledger, r->cur_src, (size_t)conn, r->cur_seq)
                  : mqg_ledger_copy(r->ledger, r->cur_src, (size_t)conn, r->cur_seq,
                                    s_down_and_full(r, &r->targets[conn]));
    if (res != MQG_LEDGER_QUEUE) {
        return false;
    }
    copy->flags |= MQG_WIRE_F_TRACK;
    copy->src = (uint16_t)r->cur_src;
    copy->seq = r->cur_seq;
    return true;
}

/* Queue a copy routing made for connection `conn` (mqg_route_sink.deliver); s_flush sends it
 * with the others of this turn. */
static void s_deliver(void *arg, int conn, const struct mqg_wire_rec *copy_in)
{
    struct s_router *r = arg;
    struct s_target *t = &r->targets[conn];
    if (r->cur_replay_for >= 0 && conn != r->cur_replay_for) {
        return; /* a replay for another target */
    }
    if (!t->enabled) {
        r->n_dropped++;
        return;
    }
    struct mqg_wire_rec copy = *copy_in;
    bool tracked = r->cur_tracked && copy.qos > 0;
    if (tracked && !s_track_copy(r, conn, &copy)) {
        return; /* the target has it, or a replay brings it */
    }
    int rc;
    if (!tracked && t->decoupled && mqg_fifo_full(&t->out)) {
        rc = -ENOSPC; /* the rules process is behind: a QoS 0 copy is not kept for it */
    } else if (tracked || !s_unsendable(r, t)) {
        /* a full queue for a connected connector pauses the input (s_paused) instead of
         * losing copies; the batch being handled may overshoot the bound */
        rc = mqg_fifo_append(&t->out, &copy);
    } else if (r->ledger) {
        rc = mqg_fifo_full(&t->out) ? -ENOSPC : mqg_fifo_append(&t->out, &copy);
    } else {
        rc = mqg_fifo_push(&t->out, &copy); /* drops the oldest */
    }
    if (rc < 0) {
        r->n_dropped++;
        return;
    }
    r->pending++;
    if (rc > 0) {
        r->pending -= (size_t)rc;
        r->n_dropped += (uint64_t)rc;
        if (!t->warned_full) {
            log_warn("ROUTER-QUEUE-FULL",
                     "queue for %s is full (%d messages or %zu bytes): dropping oldest messages",
                     t->key, r->child.queue_max, r->child.queue_max_bytes);
            t->warned_full = true;
        }
    }
}

/* The next batch of a target's queue: as mqg_fifo_peek, but the copies of one tracked message
 * (two routes, two copies) never go in two batches: the target confirms a message once its
 * last copy left, and must have them all by then. */
static const uint8_t *s_peek(const struct mqg_fifo *f, size_t *len, size_t *n)
{
    const uint8_t *body = mqg_fifo_peek(f, MQG_BUS_BATCH_BYTES, len, n);
    if (!body || *n == f->count) {
        return body;
    }
    size_t off = 0;
    struct mqg_wire_rec last = {0}, next;
    while (off < *len && mqg_wire_rec_next(body, *len, &off, &last) == 1) {
    }
    const uint8_t *end = f->buf + f->tail;
    while (*n < f->count && (last.flags & MQG_WIRE_F_TRACK)) {
        size_t o = *len;
        if (mqg_wire_rec_next(body, (size_t)(end - body), &o, &next) != 1 ||
            !(next.flags & MQG_WIRE_F_TRACK) || next.src != last.src || next.seq != last.seq) {
            break;
        }
        *len = o;
        (*n)++;
    }
    return body;
}

/* Send what waits for each connection, in batches, until a connection's pipe is full or it
 * is not connected (then the rest waits for the next try). */
static void s_flush(struct s_router *r)
{
    int64_t now = r->pending ? mqg_now_ms() : 0;
    for (size_t i = 0; i < r->child.model.n_conns && r->pending; i++) {
        struct s_target *t = &r->targets[i];
        if (r->ledger && !t->incarnation) {
            /* not before it has our READY (on a new epoch it drops the old router's unsent
             * copies, ours too) */
            continue;
        }
        while (t->out.count) {
            size_t len, n;
            const uint8_t *body = s_peek(&t->out, &len, &n);
            int rc = mqg_bus_send_batch(r->bus, t->key, t->key_len, r->n_out + 1, body, len);
            if (rc != 0) {
                if (rc != -EAGAIN && rc != -EHOSTUNREACH) {
                    log_warn("ROUTER-SEND", "send to %s failed: %s", t->key, strerror(-rc));
                }
                t->unreachable = rc == -EHOSTUNREACH && now - t->ok_ms > R_UNREACHABLE_MS;
                break;
            }
            t->unreachable = false;
            t->ok_ms = now;
            mqg_fifo_consume(&t->out, len, n);
            r->n_out += n;
            r->pending -= n;
            if (!t->out.count) {
                t->warned_full = false;
            }
        }
    }
}

static void s_on_loop(void *arg, const char *topic, uint64_t n)
{
    if (n == 1 || n % 10000 == 0) {
        log_warn("ROUTE-LOOP",
                 "routes chain deeper than %d hops at topic '%s': dropped, "
                 "%llu so far (check mappings that publish to topics they subscribe)",
                 MQG_ROUTE_MAX_DEPTH, topic, (unsigned long long)n);
    }
}

static void s_on_render_failed(void *arg, const struct mqg_route *route, const char *topic,
                               uint64_t n)
{
    if (n == 1) {
        log_warn("ROUTE-RENDER",
                 "%s: cannot build the target topic from '%s' for "
                 "'%s' (too long?): message dropped (logged once per route)",
                 route->name, route->target.topic, topic);
    }
}

/* Messages lost here: full queues, disconnected targets, target topics not rendered. */
static uint64_t s_dropped(const struct s_router *r)
{
    return r->n_dropped + mqg_route_table_counters(r->routes)->render_failed;
}

static void s_progress(void *arg)
{
    struct s_router *r = arg;
    mqg_child_progress(&r->child);
}

/* The routes of the model; a route the model cannot have is a configuration error. */
static int s_build_routes(struct s_router *r)
{
    const struct mqg_model *m = &r->child.model;
    struct mqg_route_fault f;
    int rc = mqg_route_table_new(m, s_progress, r, &r->routes, &f);
    if (rc == -EINVAL) {
        const struct mqg_route *def = &m->routes[f.route];
        if (f.bad_conn) {
            log_error("ROUTE-BAD", "%s: unknown connection %d", def->name, f.conn);
        } else {
            log_error("ROUTE-BAD", "%s: filter '%s': %s", def->name, def->sources[f.source].filter,
                      f.why);
        }
    }
    return rc;
}

static int s_build(struct s_router *r)
{
    const struct mqg_model *m = &r->child.model;
    r->targets = calloc(m->n_conns ? m->n_conns : 1, sizeof(*r->targets));
    if (!r->targets) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->n_conns; i++) {
        r->targets[i].key = m->conns[i].key;
        r->targets[i].key_len = strlen(m->conns[i].key);
        r->targets[i].enabled = m->conns[i].target_connected;
        mqg_fifo_init(&r->targets[i].out, (size_t)r->child.queue_max);
        r->targets[i].out.max_bytes = r->child.queue_max_bytes;
        r->targets[i].ok_ms = mqg_now_ms();
        r->targets[i].link_up = true;
    }
    if (r->child.state_dir[0]) { /* the journal is on: track QoS >= 1 */
        if (mqg_ledger_new(m->n_conns, &r->ledger) != 0) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_conns; i++) {
            mqg_ledger_set_target(r->ledger, i, m->conns[i].target_connected);
            /* a slow rules process must not slow the routes without rules */
            r->targets[i].decoupled = m->conns[i].rules_engine;
        }
    }
    r->epoch = mqg_seed() | 1;
    r->sink = (struct mqg_route_sink){
        .deliver = s_deliver, .loop = s_on_loop, .render_failed = s_on_render_failed, .arg = r};
    if (mqg_rstats_init(&r->rstats, m->n_routes) != 0) {
        return -ENOMEM;
    }
    return s_build_routes(r);
}

static void s_free(struct s_router *r)
{
    mqg_rstats_free(&r->rstats);
    mqg_route_table_destroy(&r->routes);
    for (size_t i = 0; r->targets && i < r->child.model.n_conns; i++) {
        mqg_fifo_free(&r->targets[i].out);
        free(r->targets[i].ack);
    }
    mqg_ledger_destroy(&r->ledger);
    free(r->targets);
    mqg_bus_destroy(&r->bus);
    mqg_bus_destroy(&r->tap);
    mqg_tap_frame_free(&r->tap_frame);
    mqg_child_free(&r->child);
}

static int s_peer_conn(const struct s_router *r, const char *peer, size_t len)
{
    for (size_t i = 0; i < r->child.model.n_conns; i++) {
        if (r->targets[i].key_len == len && memcmp(r->targets[i].key, peer, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static void s_send_ready(struct s_router *r, int conn)
{
    struct s_target *t = &r->targets[conn];
    struct mqg_wire_hdr h = {.kind = MQG_MSG_READY, .seq = r->epoch};
    mqg_bus_send_hdr(r->bus, t->key, t->key_len, &h);
    t->ready_at = mqg_now_ms();
}

/* HELLO, every second from every connector: READY with our epoch; a new incarnation of a
 * connector we knew means it restarted: what it held is gone. */
static void s_on_hello(struct s_router *r, int conn, uint64_t incarnation)
{
    struct s_target *t = &r->targets[conn];
    if (t->incarnation && incarnation != t->incarnation) {
        log_debug("ROUTER-HELLO", "%s restarted", t->key);
        if (r->ledger) {
            r->pending -= t->out.count;
            mqg_fifo_consume(&t->out, SIZE_MAX, SIZE_MAX); /* its sources send them again */
            mqg_ledger_target_restarted(r->ledger, (size_t)conn);
            mqg_ledger_source_restarted(r->ledger, (size_t)conn);
        }
        t->link_up = true; /* until it says otherwise */
    } else if (!t->incarnation) {
        log_debug("ROUTER-HELLO", "%s connected", t->key);
    }
    t->incarnation = incarnation;
    /* it is there, even when nothing waits for it (its queue empty, its pairs in a gap: no
     * send would find out that it is reachable again, and no replay would be asked for) */
    t->unreachable = false;
    t->ok_ms = mqg_now_ms();
    s_send_ready(r, conn);
}

/* ---- mqgate tap ---- */

/* Send the frame being filled to the taps (ZeroMQ drops it for a tap whose pipe is full: the
 * tap sees the gap in the numbers). */
static void s_tap_flush(struct s_router *r)
{
    if (r->tap_frame.count) {
        mqg_tap_frame_seal(&r->tap_frame, r->epoch, mqg_now_wall_ms());
        (void)mqg_bus_tap_send(r->tap, r->tap_frame.buf, r->tap_frame.len);
        mqg_tap_frame_reset(&r->tap_frame);
        r->tap_sent = mqg_now_ms();
    }
}

/* mqg_route_sink.internal while a tap listens: a message on the internal topics. */
static void s_tap_offer(void *arg, const struct mqg_wire_rec *msg)
{
    struct s_router *r = arg;
    (void)mqg_tap_frame_add(&r->tap_frame, r->tap_seq++, msg); /* failed: a gap */
    if (r->tap_frame.len >= MQG_TAP_FRAME_BYTES) {
        s_tap_flush(r);
    }
}

/* Bind the tap socket <rundir>/tap; without it the router works as ever. */
static void s_tap_open(struct s_router *r)
{
    char ep[600];
    if (snprintf(ep, sizeof(ep), "ipc://%s/tap", r->child.rundir) < 108) {
        (void)mqg_bus_tap_bind(ep, R_TAP_HWM, &r->tap);
    }
}

/* Each turn: whether a tap listens (taps come and go), and the frame filled. */
static void s_tap_turn(struct s_router *r)
{
    int joined = 0;
    bool on = r->tap_on;
    if (r->tap && mqg_bus_tap_changes(r->tap, &joined, &on) == 0) {
        if (joined) {
            log_info("TAP", "%d tap%s joined: the internal topics' messages are offered", joined,
                     joined > 1 ? "s" : "");
        }
        if (r->tap_on && !on) {
            log_info("TAP", "no tap listens any more");
        }
        r->tap_on = on;
    }
    s_tap_flush(r);
    if (r->tap_on && mqg_now_ms() - r->tap_sent >= R_TAP_IDLE_MS) {
        /* no messages: an empty frame with the next number, so that a tap also counts the
         * messages it missed at the end of a burst */
        r->tap_frame.first = r->tap_seq;
        mqg_tap_frame_seal(&r->tap_frame, r->epoch, mqg_now_wall_ms());
        (void)mqg_bus_tap_send(r->tap, r->tap_frame.buf, r->tap_frame.len);
        mqg_tap_frame_reset(&r->tap_frame);
        r->tap_sent = mqg_now_ms();
    }
}

/* One record from a source (live, or replayed for one target). */
static void s_on_record(struct s_router *r, int conn, const struct mqg_wire_rec *rec, int replay)
{
    r->cur_tracked = r->ledger && (rec->flags & MQG_WIRE_F_TRACK) && rec->src == conn;
    r->cur_replay_for = replay;
    if (r->cur_tracked) {
        r->cur_src = (size_t)conn;
        r->cur_seq = rec->seq;
        if (replay < 0) {
            int res = mqg_ledger_accept(r->ledger, (size_t)conn, rec->seq);
            if (res == MQG_LEDGER_UNKNOWN && mqg_now_ms() - r->targets[conn].ready_at > 100) {
                s_send_ready(r, conn); /* it sends MARKS, then this again */
            }
            if (res != MQG_LEDGER_ACCEPT) {
                return;
            }
        }
    } else if (replay >= 0) {
        return; /* a replay carries tracked records only */
    }
    r->n_in += replay < 0;
    r->sink.internal = r->tap_on && replay < 0 ? s_tap_offer : NULL; /* a replay: no news */
    mqg_route_dispatch(r->routes, conn, rec, &r->sink);
}

/* ACK (DONE entries from a target) and MARKS (RELEASE and MARKs from a source). */
static void s_on_acks(struct s_router *r, int conn, const struct mqg_bus_msg *m)
{
    if (!r->ledger) {
        return;
    }
    size_t off = 0;
    struct mqg_wire_ack a;
    if (m->hdr.kind == MQG_MSG_ACK) {
        while (mqg_bus_msg_next_ack(m, &off, &a)) {
            if (a.type == MQG_ACK_DONE) {
                mqg_ledger_done(r->ledger, a.idx, (size_t)conn, a.seq);
            }
        }
        return;
    }
    uint64_t rel = 0;
    struct mqg_ledger_mark w[256];
    size_t n = 0;
    while (mqg_bus_msg_next_ack(m, &off, &a)) {
        if (a.type == MQG_ACK_RELEASE) {
            rel = a.seq;
        } else if (a.type == MQG_ACK_MARK && n < sizeof(w) / sizeof(w[0])) {
            w[n++] = (struct mqg_ledger_mark){.idx = a.idx, .seq = a.seq};
        }
    }
    mqg_ledger_marks(r->ledger, (size_t)conn, rel, w, n);
}

static void s_on_message(struct s_router *r, struct mqg_bus_msg *m)
{
    int conn = s_peer_conn(r, m->peer, m->peer_len);
    if (conn < 0) {
        r->n_malformed++;
        log_debug("ROUTER-PEER", "message from unknown peer dropped");
        return;
    }
    uint8_t kind = m->hdr.kind;
    if (r->child.handover &&
        (kind == MQG_MSG_DATA || kind == MQG_MSG_BATCH || kind == MQG_MSG_REPLAY_BATCH)) {
        return; /* no more input: the sources resend what is not confirmed to the next router */
    }
    size_t off = 0;
    struct mqg_wire_rec rec;
    switch (kind) {
    case MQG_MSG_HELLO:
        s_on_hello(r, conn, m->hdr.seq);
        break;
    case MQG_MSG_DATA:
    case MQG_MSG_BATCH:
        while (mqg_bus_msg_next(m, &off, &rec)) {
            s_on_record(r, conn, &rec, -1);
        }
        break;
    case MQG_MSG_REPLAY_BATCH:
        while (m->hdr.aux < r->child.model.n_conns && mqg_bus_msg_next(m, &off, &rec)) {
            s_on_record(r, conn, &rec, m->hdr.aux);
        }
        break;
    case MQG_MSG_REPLAY_DONE:
        if (r->ledger && m->hdr.aux < r->child.model.n_conns) {
            mqg_ledger_replay_done(r->ledger, (size_t)conn, m->hdr.aux, m->hdr.seq,
                                   (m->hdr.flags & MQG_WIRE_F_END) != 0);
        }
        break;
    case MQG_MSG_ACK:
    case MQG_MSG_MARKS:
        s_on_acks(r, conn, m);
        break;
    case MQG_MSG_LINK:
        r->targets[conn].link_up = m->hdr.qos != 0;
        break;
    default:
        r->n_malformed++; /* not for the router */
        break;
    }
}

/* ---- acknowledgements to the sources, replay requests (journal on) ---- */

/* The ACK for source x: its release mark and the marks that moved. Kept until it is sent. */
static void s_ack_source(struct s_router *r, size_t x)
{
    struct s_target *t = &r->targets[x];
    if (t->ack_len) {
        if (mqg_bus_send_body(r->bus, t->key, t->key_len,
                              &(struct mqg_wire_hdr){.kind = MQG_MSG_ACK}, t->ack,
                              t->ack_len) != 0) {
            return;
        }
        t->ack_len = 0;
    }
    uint64_t rel;
    bool rel_changed;
    struct mqg_ledger_mark marks[64];
    size_t n = 0;
    int rc = mqg_ledger_acks(r->ledger, x, &rel, &rel_changed, marks, 64, &n);
    if (rc < 0 || rc == MQG_LEDGER_UNKNOWN || (!rel_changed && n == 0)) {
        return;
    }
    uint8_t *body = realloc(t->ack, (n + 1) * MQG_WIRE_ACK_LEN);
    if (!body) {
        return;
    }
    t->ack = body;
    struct mqg_wire_ack a = {.type = MQG_ACK_RELEASE, .seq = rel};
    mqg_wire_ack_encode(&a, body);
    for (size_t i = 0; i < n; i++) {
        a = (struct mqg_wire_ack){
            .type = MQG_ACK_MARK, .idx = (uint16_t)marks[i].idx, .seq = marks[i].seq};
        mqg_wire_ack_encode(&a, body + (i + 1) * MQG_WIRE_ACK_LEN);
    }
    t->ack_len = (n + 1) * MQG_WIRE_ACK_LEN;
    if (mqg_bus_send_body(r->bus, t->key, t->key_len, &(struct mqg_wire_hdr){.kind = MQG_MSG_ACK},
                          body, t->ack_len) == 0) {
        t->ack_len = 0;
    }
}

struct s_due {
    struct s_router *r;
    size_t t;
};

/* A pair (x, t) may get its replay: ask x for it. */
static bool s_request_replay(void *arg, size_t x, uint64_t from)
{
    struct s_due *d = arg;
    struct s_target *src = &d->r->targets[x];
    struct mqg_wire_hdr h = {.kind = MQG_MSG_REPLAY, .seq = from, .aux = (uint16_t)d->t};
    if (mqg_bus_send_hdr(d->r->bus, src->key, src->key_len, &h) != 0) {
        return false;
    }
    mqg_ledger_replay_started(d->r->ledger, x, d->t);
    return true;
}

static void s_acks_and_replays(struct s_router *r, int64_t now)
{
    if (!r->ledger || now < r->acks_at) {
        return;
    }
    r->acks_at = now + R_ACK_MS;
    for (size_t i = 0; i < r->child.model.n_conns; i++) {
        struct s_target *t = &r->targets[i];
        s_ack_source(r, i);
        if (t->enabled && t->link_up && !t->unreachable && t->incarnation && !t->out.count) {
            struct s_due d = {r, i};
            mqg_ledger_replays_due(r->ledger, i, s_request_replay, &d);
        }
    }
}

/* Flow control: a connected target that cannot keep up and has a full queue stops the
 * router from taking new messages (they wait in the sources' connectors), so nothing is
 * dropped while every broker is connected. One that is away (s_unsendable: restarting, or
 * not heard from yet, whose HELLO the router must go on reading to hear) never
 * stops the others: its queue drops its oldest copies, or its tracked copies start a gap. */
static bool s_paused(const struct s_router *r)
{
    for (size_t i = 0; i < r->child.model.n_conns; i++) {
        const struct s_target *t = &r->targets[i];
        if (t->enabled && !s_away(r, t) && mqg_fifo_full(&t->out)) {
            return true;
        }
    }
    return false;
}

static void s_drain(struct s_router *r)
{
    for (int budget = 0; budget < 256 && !s_paused(r); budget++) {
        struct mqg_bus_msg m;
        int rc = mqg_bus_recv(r->bus, &m);
        if (rc == -EAGAIN) {
            return;
        }
        if (rc == -EPROTO) {
            r->n_malformed++;
            log_debug("ROUTER-MALFORMED", "malformed message dropped (%llu so far)",
                      (unsigned long long)r->n_malformed);
            continue;
        }
        if (rc < 0) {
            return;
        }
        s_on_message(r, &m);
        mqg_bus_msg_close(&m);
    }
}

static void s_status(const void *arg, char *buf, size_t cap)
{
    const struct s_router *r = arg;
    const struct mqg_route_counters *rc = mqg_route_table_counters(r->routes);
    int n = snprintf(buf, cap,
                     "state=up in=%llu out=%llu queued=%zu dropped=%llu malformed=%llu "
                     "unrouted=%llu render=%llu loops=%llu",
                     (unsigned long long)r->n_in, (unsigned long long)r->n_out, r->pending,
                     (unsigned long long)s_dropped(r), (unsigned long long)r->n_malformed,
                     (unsigned long long)rc->unrouted, (unsigned long long)rc->render_failed,
                     (unsigned long long)rc->loops);
    if (r->ledger && n > 0 && (size_t)n < cap) {
        struct mqg_ledger_stats ls;
        mqg_ledger_stats(r->ledger, &ls);
        snprintf(buf + n, cap - (size_t)n, " gaps=%llu outstanding=%llu replayed=%llu",
                 (unsigned long long)ls.gaps, (unsigned long long)ls.outstanding,
                 (unsigned long long)ls.replayed);
    }
}

/* With every heartbeat: the per-route counters that changed, to the supervisor (mqg_rstats.h).
 * Not sent now (the channel is full): the next report carries them. */
static void s_report_routes(struct s_router *r)
{
    const uint8_t *body;
    size_t len = mqg_rstats_encode(&r->rstats, r->routes, R_ROUTES_REPORT_MAX, &body);
    int fd = mqg_child_ctl_fd(&r->child);
    if (len && fd >= 0 && mqg_ctl_send(fd, MQG_CTL_ROUTES, body, len, MSG_DONTWAIT) == 0) {
        mqg_rstats_commit(&r->rstats, r->routes);
    }
}

/* Whether everything this router took is delivered and, with the ledger, confirmed and the
 * sources were told (their ACKs sent). */
static bool s_handed_over(struct s_router *r)
{
    if (r->pending) {
        return false;
    }
    if (!r->ledger) {
        return true;
    }
    struct mqg_ledger_stats ls;
    mqg_ledger_stats(r->ledger, &ls);
    bool acked = true;
    for (size_t i = 0; i < r->child.model.n_conns; i++) {
        s_ack_source(r, i);
        acked = acked && !r->targets[i].ack_len;
    }
    return ls.outstanding == 0 && acked;
}

/* A handover (MQG_CTL_HANDOVER, a reload): no more input (s_on_message); the copies queued
 * go out, their confirmations come in and the sources hear of them (RELEASE, MARK), for at
 * most R_HANDOVER_MS. With the journal the sources resend to the next router only what was
 * not confirmed: nothing lost, and nothing twice when this finished in time. */
static void s_handover(struct s_router *r)
{
    int64_t now = mqg_now_ms(), until = now + R_HANDOVER_MS;
    while (!s_handed_over(r) && now < until) {
        mqg_child_turn(&r->child, now, s_status, r);
        int fds[1] = {mqg_bus_fd(r->bus)};
        bool ready[1];
        if (mqg_child_wait(&r->child, fds, ready, 1, 5000) < 0) {
            break;
        }
        s_drain(r);
        s_flush(r);
        now = mqg_now_ms();
    }
    struct mqg_ledger_stats ls = {0};
    if (r->ledger) {
        mqg_ledger_stats(r->ledger, &ls);
    }
    log_info("ROUTER-HANDOVER", "handover %s: %zu copies queued, %llu not confirmed",
             s_handed_over(r) ? "complete" : "timed out", r->pending,
             (unsigned long long)ls.outstanding);
}

int router_main(int argc, char **argv)
{
    struct s_router r;
    memset(&r, 0, sizeof(r));
    int rc = mqg_child_init(&r.child, "router", argc, argv);
    if (rc != 0) {
        mqg_child_free(&r.child);
        return rc;
    }
    rc = s_build(&r);
    if (rc != 0) {
        s_free(&r);
        return rc == -EINVAL ? MQG_EXIT_CONFIG : MQG_EXIT_TRANSIENT;
    }
    rc = mqg_bus_bind(r.child.bus, MQG_BUS_HWM, &r.bus);
    if (rc != 0) {
        s_free(&r);
        return MQG_EXIT_TRANSIENT;
    }
    s_tap_open(&r);
    log_info("ROUTER-UP", "routing %zu routes for %zu connections on %s", r.child.model.n_routes,
             r.child.model.n_conns, r.child.bus);
    mqg_child_ready(&r.child);

    while (!r.child.stop) {
        int64_t now = mqg_now_ms();
        if (mqg_child_heartbeat_due(&r.child, now)) {
            s_report_routes(&r);
        }
        int timeout = mqg_child_turn(&r.child, now, s_status, &r);
        if (r.pending && timeout > R_RETRY_MS) {
            timeout = R_RETRY_MS; /* copies a connection could not take: s_flush tries again */
        }
        if (r.ledger && timeout > R_ACK_MS) {
            timeout = R_ACK_MS; /* acknowledgements and replay requests */
        }
        if ((mqg_bus_events(r.bus) & MQG_BUS_IN) && !s_paused(&r)) {
            timeout = 0;
        }
        int fds[2] = {mqg_bus_fd(r.bus), r.tap ? mqg_bus_fd(r.tap) : -1};
        bool ready[2];
        int err = mqg_child_wait(&r.child, fds, ready, 2, (int64_t)timeout * 1000);
        if (err < 0) {
            log_error("ROUTER-POLL", "poll: %s", strerror(-err));
            break;
        }
        s_drain(&r);
        s_tap_turn(&r);
        s_flush(&r);
        s_acks_and_replays(&r, mqg_now_ms());
    }
    if (r.child.handover) {
        s_handover(&r);
    }
    rc = r.child.exit_code;
    log_info("ROUTER-DOWN", "stopping: in=%llu out=%llu dropped=%llu", (unsigned long long)r.n_in,
             (unsigned long long)r.n_out, (unsigned long long)s_dropped(&r));
    s_free(&r);
    return rc;
}
