/* outbox — the connector's outbound queue policy (see outbox.h).
 *
 * Every queued item is UNSENT, INFLIGHT (handed to the client) or DONE (may still sit behind
 * an older item that is not: items leave from the front only). `cursor` is the index of the
 * first item not yet handed to the client; everything before it is in flight or done.
 */
#include "outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_ratelog.h"
#include "mqg_text.h"
#include "mqg_topic.h"
#include "pubcheck.h"
#include "queue.h"

#define S_MAX_TRIES 5
/* QoS 0 publishes ask for a result only every this many (and the last one of a round). */
#define S_QOS0_NOTIFY 32
/* A publish is tagged with its seq and the connection generation, seq << S_GEN_BITS | gen;
 * only tag_bits of it come back (paho carries it as a pointer: on 32-bit systems 24 bits of
 * seq survive). s_tag_seq() rebuilds the full seq from the oldest queued one: the items a
 * result can name lie far less than 2^24 after it. */
#define S_GEN_BITS 8

struct outbox {
    struct cq q;
    size_t cursor; /* index in q of the first item not yet handed to the client */
    int inflight;
    int max_inflight;
    int window; /* out at once: max_inflight, or the broker's Receive Maximum when lower */
    bool connected;
    uint8_t gen;         /* connection generation, in the tags */
    uint32_t max_packet; /* the broker's Maximum Packet Size (MQTT 5), 0 = none */
    int version;
    int64_t report_ms;
    uint64_t tag_mask; /* the bits of a tag that come back */
    uint64_t seq_mask; /* the bits of seq in a tag that come back */
    outbox_publish_fn *publish;
    void *ctx;
    uint64_t n_out, n_dropped;
    uint64_t n_out_bytes; /* payload bytes of the n_out publishes */
    uint64_t n_overflow;  /* dropped by the bounds */
    /* dropped for what they are, each counted in .total (and in n_dropped) */
    struct mqg_ratelog badtopic, toolarge;
    /* tracked copies */
    bool tracking;
    uint32_t rgen; /* router generation */
    size_t n_conns;
    uint64_t *done;  /* per source: confirmed through */
    uint16_t *dirty; /* sources whose done moved since outbox_take_done */
    size_t n_dirty;
    bool *is_dirty;
};

int outbox_new(const struct outbox_opts *opts, struct outbox **out)
{
    unsigned bits = opts->tag_bits ? opts->tag_bits : (unsigned)(sizeof(uintptr_t) * 8);
    if (!opts->publish || bits <= S_GEN_BITS || bits > 64) {
        return -EINVAL;
    }
    struct outbox *ob = calloc(1, sizeof(*ob));
    if (!ob) {
        return -ENOMEM;
    }
    cq_init(&ob->q, opts->max_count);
    ob->q.max_bytes = opts->max_bytes;
    if (opts->first_seq) {
        ob->q.next_seq = opts->first_seq;
    }
    ob->max_inflight = opts->max_inflight;
    ob->window = opts->max_inflight;
    ob->version = opts->protocol_version;
    ob->report_ms = opts->report_ms;
    ob->tag_mask = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    ob->seq_mask = ((uint64_t)1 << (bits - S_GEN_BITS)) - 1;
    ob->publish = opts->publish;
    ob->ctx = opts->ctx;
    mqg_ratelog_init(&ob->badtopic, opts->report_ms);
    mqg_ratelog_init(&ob->toolarge, opts->report_ms);
    if (opts->tracking) {
        size_t n = opts->n_conns ? opts->n_conns : 1;
        ob->tracking = true;
        ob->n_conns = opts->n_conns;
        ob->done = calloc(n, sizeof(*ob->done));
        ob->dirty = calloc(n, sizeof(*ob->dirty));
        ob->is_dirty = calloc(n, sizeof(*ob->is_dirty));
        if (!ob->done || !ob->dirty || !ob->is_dirty) {
            outbox_destroy(&ob);
            return -ENOMEM;
        }
    }
    *out = ob;
    return 0;
}

void outbox_destroy(struct outbox **pob)
{
    if (!pob || !*pob) {
        return;
    }
    cq_free(&(*pob)->q);
    free((*pob)->done);
    free((*pob)->dirty);
    free((*pob)->is_dirty);
    free(*pob);
    *pob = NULL;
}

static uint64_t s_tag(const struct outbox *ob, uint64_t seq)
{
    return (seq << S_GEN_BITS | ob->gen) & ob->tag_mask;
}

static uint64_t s_tag_seq(const struct outbox *ob, uint64_t tag)
{
    uint64_t tseq = tag >> S_GEN_BITS;
    if (!ob->q.count) {
        return tseq;
    }
    uint64_t head = cq_at(&ob->q, 0)->seq;
    return head + ((tseq - head) & ob->seq_mask);
}

/* Level for one more message dropped for what it is: WARN for the first of a series, DEBUG
 * for those a summary counts later (outbox_report). Call once per message (mqg_log evaluates
 * its level twice). */
static int s_drop_level(struct outbox *ob, struct mqg_ratelog *rl)
{
    ob->n_dropped++;
    return mqg_ratelog_hit(rl, mqg_now_ms()) ? MQG_LOG_WARN : MQG_LOG_DEBUG;
}

void outbox_report(struct outbox *ob, int64_t now)
{
    uint64_t n;
    if ((n = mqg_ratelog_summary(&ob->badtopic, now)) > 0) {
        log_warn("PUB-BAD-TOPIC",
                 "%llu more messages for the broker dropped in the last %d s for their topics "
                 "(%llu in all)",
                 (unsigned long long)n, (int)(ob->report_ms / 1000),
                 (unsigned long long)ob->badtopic.total);
    }
    if ((n = mqg_ratelog_summary(&ob->toolarge, now)) > 0) {
        log_warn("PUB-TOO-LARGE",
                 "%llu more messages for the broker dropped in the last %d s as too large "
                 "(%llu in all)",
                 (unsigned long long)n, (int)(ob->report_ms / 1000),
                 (unsigned long long)ob->toolarge.total);
    }
}

/* ---- queueing ---- */

/* Room for source index src: a reload may add connections after this connector started (it
 * runs on, with the model it was given; the indices of the others stay). 0 or -ENOMEM. */
static int s_grow_sources(struct outbox *ob, size_t src)
{
    size_t n = src + 1;
    uint64_t *done = realloc(ob->done, n * sizeof(*done));
    if (done) {
        ob->done = done;
    }
    uint16_t *dirty = realloc(ob->dirty, n * sizeof(*dirty));
    if (dirty) {
        ob->dirty = dirty;
    }
    bool *is_dirty = realloc(ob->is_dirty, n * sizeof(*is_dirty));
    if (is_dirty) {
        ob->is_dirty = is_dirty;
    }
    if (!done || !dirty || !is_dirty) {
        return -ENOMEM;
    }
    for (size_t i = ob->n_conns; i < n; i++) {
        ob->done[i] = 0;
        ob->is_dirty[i] = false;
    }
    ob->n_conns = n;
    return 0;
}

/* Mark the newest item as a tracked copy of the current router generation. */
static void s_track_last(struct outbox *ob, const struct mqg_wire_rec *rec)
{
    if (!ob->tracking || !(rec->flags & MQG_WIRE_F_TRACK)) {
        return;
    }
    if (rec->src >= ob->n_conns && s_grow_sources(ob, rec->src) != 0) {
        return;
    }
    struct cq_item *it = cq_at(&ob->q, ob->q.count - 1);
    it->tracked = true;
    it->src = rec->src;
    it->jseq = rec->seq;
    it->rgen = ob->rgen;
}

static void s_pop_done(struct outbox *ob);

/* A copy whose topic brokers refuse: counted and logged; a tracked one is queued as done, so
 * that it is confirmed in its turn. Returns -EINVAL. */
static int s_bad_topic(struct outbox *ob, const struct mqg_wire_rec *rec, const char *why,
                       size_t at)
{
    char shown[MQG_TEXT_SHOWN_CAP];
    int level = s_drop_level(ob, &ob->badtopic);
    mqg_log(level, "PUB-BAD-TOPIC",
            "message for the broker dropped: its topic %s, at byte %zu of '%s', which "
            "brokers refuse; counted as badtopic, more are summarised every %d s",
            why, at, mqg_text_shown(rec->topic, rec->topic_len, shown),
            (int)(ob->report_ms / 1000));
    if (ob->tracking && (rec->flags & MQG_WIRE_F_TRACK) &&
        cq_push(&ob->q, rec->topic, rec->topic_len, NULL, 0, rec->qos, false) == 0) {
        s_track_last(ob, rec);
        cq_at(&ob->q, ob->q.count - 1)->state = CQ_DONE;
        s_pop_done(ob);
    }
    return -EINVAL;
}

int outbox_push(struct outbox *ob, const struct mqg_wire_rec *rec)
{
    /* a topic the broker would close the connection for (a control character or a
     * non-character, e.g. from a named wildcard): never sent, dropped alone */
    size_t at;
    const char *why = mqg_topic_name_fault(rec->topic, rec->topic_len, true, &at);
    if (why) {
        return s_bad_topic(ob, rec, why, at);
    }
    /* connected (or tracking): nothing is dropped; the queue may overshoot by the one batch
     * being read */
    struct cq *q = &ob->q;
    size_t dropped = 0;
    while (!ob->connected && !ob->tracking && q->count &&
           cq_over(q, rec->topic_len + rec->payload_len)) {
        if (cq_at(q, 0)->state == CQ_INFLIGHT) {
            ob->inflight--; /* its result will find nothing */
        }
        cq_pop(q);
        if (ob->cursor) {
            ob->cursor--;
        }
        dropped++;
    }
    int rc = cq_push(q, rec->topic, rec->topic_len, rec->payload, rec->payload_len, rec->qos,
                     (rec->flags & MQG_WIRE_F_RETAIN) != 0);
    if (rc == 0) {
        s_track_last(ob, rec);
    } else {
        ob->n_dropped++;
        log_warn("OUT-DROP", "message on '%.*s' dropped: out of memory", (int)rec->topic_len,
                 rec->topic);
    }
    if (dropped) {
        ob->n_dropped += dropped;
        if (mqg_ratelog_tally(&ob->n_overflow, dropped)) {
            log_warn("OUT-DROP",
                     "queue towards the broker is full (%zu messages or %zu bytes): dropped "
                     "%llu oldest messages so far",
                     q->max, q->max_bytes, (unsigned long long)ob->n_overflow);
        }
    }
    return rc;
}

/* A tracked copy of the current router generation leaves the queue: its source's
 * confirmations reach it. */
static void s_confirm(struct outbox *ob, const struct cq_item *it)
{
    if (!it->tracked || it->rgen != ob->rgen || it->jseq <= ob->done[it->src]) {
        return;
    }
    /* two routes give one message two copies, queued one after the other: S is confirmed
     * when the last of them leaves */
    const struct cq_item *next = cq_at(&ob->q, 1);
    if (next && next->tracked && next->src == it->src && next->jseq == it->jseq &&
        next->rgen == it->rgen) {
        return;
    }
    ob->done[it->src] = it->jseq;
    if (!ob->is_dirty[it->src]) {
        ob->is_dirty[it->src] = true;
        ob->dirty[ob->n_dirty++] = it->src;
    }
}

static void s_pop_done(struct outbox *ob)
{
    struct cq_item *it;
    while ((it = cq_at(&ob->q, 0)) && it->state == CQ_DONE) {
        s_confirm(ob, it);
        cq_pop(&ob->q);
        if (ob->cursor) {
            ob->cursor--;
        }
    }
}

/* ---- publishing ---- */

/* Whether the broker would take it; if not, the item is dropped (done) and counted. */
static bool s_fits(struct outbox *ob, struct cq_item *it)
{
    uint64_t size;
    enum pc_size sz =
        pc_size_check(ob->version, it->topic_len, it->payload_len, it->qos, ob->max_packet, &size);
    if (sz == PC_SIZE_OK) {
        return true;
    }
    /* the broker would close the connection for it */
    int level = s_drop_level(ob, &ob->toolarge);
    mqg_log(level, "PUB-TOO-LARGE",
            "message to '%s' dropped: its PUBLISH packet of %llu bytes is larger than %s "
            "(%llu bytes); counted as toolarge, more are summarised every %d s",
            it->topic, (unsigned long long)size,
            sz == PC_SIZE_MQTT ? "MQTT allows" : "the broker's maximum packet size",
            sz == PC_SIZE_MQTT ? (unsigned long long)PC_MAX_REMAINING + 5
                               : (unsigned long long)ob->max_packet,
            (int)(ob->report_ms / 1000));
    it->state = CQ_DONE;
    s_pop_done(ob);
    return false;
}

void outbox_pump(struct outbox *ob)
{
    if (!ob->connected) {
        return;
    }
    while (ob->inflight < ob->window) {
        struct cq_item *it = cq_at(&ob->q, ob->cursor);
        if (!it) {
            return;
        }
        if (it->state != CQ_UNSENT) {
            ob->cursor++;
            continue;
        }
        if (!s_fits(ob, it)) {
            continue;
        }
        /* QoS 0: one result per S_QOS0_NOTIFY messages, and for the last one of a round */
        bool notify = it->seq % S_QOS0_NOTIFY == 0 || ob->inflight + 1 >= ob->window ||
                      !cq_at(&ob->q, ob->cursor + 1);
        int rc = ob->publish(ob->ctx, it->topic, it->payload, it->payload_len, it->qos, it->retain,
                             s_tag(ob, it->seq), notify);
        if (rc != 0) {
            if (rc == -EIO) { /* the client refused this message itself: it will never go */
                log_warn("PUB-INVALID", "message to '%s' refused by the MQTT library: dropped",
                         it->topic);
                it->state = CQ_DONE;
                ob->n_dropped++;
                s_pop_done(ob);
                continue;
            }
            return; /* not connected or window full: try again later */
        }
        it->state = CQ_INFLIGHT;
        ob->inflight++;
        ob->cursor++;
    }
}

/* ---- results ---- */

/* QoS 0 publishes handed to the client before the one at idx, which asked for no result: the
 * client processed them before it, so its result (done or failed) settles them as done. */
static void s_settle_silent_qos0(struct outbox *ob, size_t idx)
{
    for (size_t i = 0; i < idx; i++) {
        struct cq_item *x = cq_at(&ob->q, i);
        if (x->qos == 0 && x->state == CQ_INFLIGHT) {
            x->state = CQ_DONE;
            ob->inflight--;
            ob->n_out++;
            ob->n_out_bytes += x->payload_len;
        }
    }
}

void outbox_result(struct outbox *ob, uint64_t tag, bool ok, int rc)
{
    size_t idx;
    struct cq_item *it = cq_find(&ob->q, s_tag_seq(ob, tag), &idx);
    uint8_t gen = (uint8_t)(tag & ((1u << S_GEN_BITS) - 1));
    if (!it) {
        return; /* dropped meanwhile */
    }
    if (it->qos == 0 && (ok || gen == ob->gen)) {
        s_settle_silent_qos0(ob, idx);
    }
    if (ok) {
        if (it->state == CQ_INFLIGHT) {
            ob->inflight--;
        }
        if (it->state != CQ_DONE) {
            it->state = CQ_DONE;
            ob->n_out++;
            ob->n_out_bytes += it->payload_len;
        }
        s_pop_done(ob);
        return;
    }
    if (gen != ob->gen || it->state != CQ_INFLIGHT) {
        return; /* from an earlier connection: already rewound */
    }
    ob->inflight--;
    if (++it->tries >= S_MAX_TRIES) {
        log_warn("PUB-FAIL", "publish to '%s' failed %d times (code %d): dropped", it->topic,
                 it->tries, rc);
        it->state = CQ_DONE;
        ob->n_dropped++;
        s_pop_done(ob);
        return;
    }
    it->state = CQ_UNSENT;
    if (idx < ob->cursor) {
        ob->cursor = idx;
    }
    s_pop_done(ob);
}

/* ---- the connection ---- */

void outbox_connected(struct outbox *ob, uint32_t max_packet, uint16_t receive_max)
{
    ob->connected = true;
    ob->max_packet = max_packet;
    /* more than the broker's Receive Maximum waits inside paho, which then loses the results of
     * some of them (paho 1.3.12): never hand it more */
    ob->window = receive_max && receive_max < ob->max_inflight ? receive_max : ob->max_inflight;
}

void outbox_lost(struct outbox *ob)
{
    ob->connected = false;
    ob->gen++;
    for (size_t i = 0; i < ob->q.count; i++) {
        struct cq_item *it = cq_at(&ob->q, i);
        if (it->state == CQ_INFLIGHT) {
            it->state = CQ_UNSENT;
        }
    }
    ob->inflight = 0;
    ob->cursor = 0;
}

bool outbox_full(const struct outbox *ob)
{
    return (ob->connected || ob->tracking) && cq_full(&ob->q);
}

size_t outbox_take_done(struct outbox *ob, struct mqg_wire_ack *out, size_t cap)
{
    size_t n = 0;
    while (ob->n_dirty && n < cap) {
        uint16_t src = ob->dirty[--ob->n_dirty];
        ob->is_dirty[src] = false;
        out[n++] = (struct mqg_wire_ack){.type = MQG_ACK_DONE, .idx = src, .seq = ob->done[src]};
    }
    return n;
}

void outbox_router_changed(struct outbox *ob)
{
    ob->rgen++;
    /* the new router learns confirmations afresh: what the old one was told means nothing */
    for (size_t i = 0; i < ob->n_conns; i++) {
        ob->done[i] = 0;
        ob->is_dirty[i] = false;
    }
    ob->n_dirty = 0;
    for (size_t i = ob->cursor; i < ob->q.count; i++) {
        struct cq_item *it = cq_at(&ob->q, i);
        if (it->tracked && it->state == CQ_UNSENT) {
            it->state = CQ_DONE; /* not published, not confirmed: the sources replay it */
        }
    }
    s_pop_done(ob);
}

size_t outbox_queued(const struct outbox *ob)
{
    return ob->q.count;
}

void outbox_stats(const struct outbox *ob, struct outbox_stats *st)
{
    st->queued = ob->q.count;
    st->inflight = ob->inflight;
    st->out = ob->n_out;
    st->out_bytes = ob->n_out_bytes;
    st->overflow = ob->n_overflow;
    st->dropped = ob->n_dropped;
    st->badtopic = ob->badtopic.total;
    st->toolarge = ob->toolarge.total;
}
