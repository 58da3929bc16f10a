/* connector — broker connection process (see connector.h).
 *
 * One poll loop over: the control channel, signals, the paho event fd, the router bus.
 * Inbound (broker -> router): messages go straight to the router unless the startup buffer
 * holds them (router routes not confirmed yet: DESIGN.md "startup buffer") or the bus pushes
 * back; then they wait, in order, in `to_router`. Outbound (router -> broker): every message
 * is queued in `to_broker` and published with at most max_inflight outstanding; an item
 * leaves the queue only when paho reports it done (QoS 0 written, QoS 1/2 acknowledged), so
 * a lost connection re-publishes what was not confirmed, in order, after reconnecting.
 * Messages that can never be delivered are dropped alone, counted and logged at a bounded
 * rate (mqg_ratelog): from the broker, a topic that is not a valid topic name (the router
 * would refuse the whole batch holding it); towards the broker, a topic the broker would
 * close the connection for, or a packet too large for MQTT or for the broker.
 * Reconnects use backoff with jitter from reconnectPeriod; each state change is logged once.
 */
#include "connector.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mqg_backoff.h"
#include "mqg_bus.h"
#include "mqg_child.h"
#include "mqg_error.h"
#include "mqg_fifo.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_ratelog.h"
#include "mqg_subs.h"
#include "mqg_topic.h"
#include "mqtt_link.h"
#include "pubcheck.h"
#include "queue.h"

#define C_HELLO_MS 500
#define C_DRAIN_MS 1500
#define C_MAX_TRIES 5
/* After taking the events paho has produced (messages received, publishes done), the next
 * look is a little later, so that under load they travel as one batch (one wake-up of every
 * thread on the way instead of one per message). The pause is short while events come one
 * at a time (latency) and long once a look finds several (the sources are faster than one
 * message per pause: throughput). */
#define C_COALESCE_US 200
#define C_COALESCE_BUSY_US 1000
#define C_COALESCE_BUSY_EVENTS 2
/* QoS 0 publishes report their completion only every this many (see s_on_pub_result). */
#define C_QOS0_NOTIFY 32
/* Messages dropped for what they are (bad topic, too large): the first of a series is logged
 * at WARN, then one summary per this interval. */
#define C_REPORT_MS 60000
/* A connection that ends sooner than this after its CONNACK counts as a failed attempt: the
 * reconnect delay keeps growing, and repeats are logged at DEBUG (a broker that accepts and
 * then drops us at once must not be retried at the base delay, three log lines each time). */
#define C_STABLE_MS 10000

enum c_state { C_DOWN, C_CONNECTING, C_SUBSCRIBING, C_UP };
static const char *const s_state_names[] = {"down", "connecting", "subscribing", "up"};

struct connector {
    struct mqg_child child;
    const struct mqg_connection *conn;
    struct mqtt_link *link;
    struct mqg_bus *bus;
    struct mqg_sub *subs;
    size_t n_subs;
    enum c_state state;
    struct mqg_backoff backoff;
    int64_t reconnect_at; /* when C_DOWN: next attempt */
    int failures;         /* failed attempts (and short-lived connections) since the last
                           * connection that lasted C_STABLE_MS */
    int short_lived;      /* connections in a row that ended within C_STABLE_MS */
    bool again;           /* the last attempt ended in such a connection (no connect failed
                           * since): its successor is logged at DEBUG */
    int64_t up_at;        /* when the current connection came up; 0 when there is none */
    bool settled;         /* the current connection has lasted C_STABLE_MS */
    bool was_up;          /* connected at least once */
    uint8_t gen;          /* connection generation, tags publishes */
    bool router_ready;
    int64_t hello_at;
    bool holding; /* startup buffer active */
    int64_t hold_until;
    struct mqg_fifo to_router;
    struct cq to_broker;
    size_t cursor; /* index in to_broker of the first item not yet handed to paho */
    int inflight;
    uint64_t seq;             /* header sequence numbers towards the router */
    int64_t link_quiet_until; /* us: paho events are not looked at before */
    uint32_t max_packet;      /* the broker's Maximum Packet Size (MQTT 5), 0 = none */
    uint64_t n_in, n_out, n_dropped, n_malformed;
    uint64_t n_dropped_in, n_dropped_out; /* queue overflows, each direction */
    /* dropped for what they are, each counted in .total: from the broker with an invalid
     * topic; to the broker with a topic it would refuse, or too large */
    struct mqg_ratelog invalid, badtopic, toolarge;
};

/* ---- towards the router ---- */

/* Send what waits for the router, in batches, while the bus takes them. */
static void s_flush_router(struct connector *c)
{
    while (!c->holding && c->to_router.count) {
        size_t len, n;
        const uint8_t *body = mqg_fifo_peek(&c->to_router, MQG_BUS_BATCH_BYTES, &len, &n);
        if (mqg_bus_send_batch(c->bus, NULL, 0, c->seq + 1, body, len) != 0) {
            return; /* pipe full (router busy or restarting): retried from the poll loop */
        }
        c->seq += n;
        c->n_in += n;
        mqg_fifo_consume(&c->to_router, len, n);
    }
}

static void s_release(struct connector *c, const char *why)
{
    if (!c->holding) {
        return;
    }
    c->holding = false;
    if (c->to_router.count) {
        log_info("BUFFER-RELEASE", "releasing %zu buffered messages (%s)", c->to_router.count, why);
    }
    s_flush_router(c);
}

/* Count n dropped messages into *kind (and the total); true when the drops of this kind are
 * to be logged: the first time, and each time the count passes a multiple of 10000. */
static bool s_count_drops(struct connector *c, uint64_t *kind, uint64_t n)
{
    uint64_t before = *kind;
    *kind += n;
    c->n_dropped += n;
    return before == 0 || before / 10000 != *kind / 10000;
}

/* A topic for a log line: printable ASCII as it is, other bytes as \xNN; at most 48 bytes of
 * it (then "..."). out needs 4 * 48 + 4 bytes. */
#define C_SHOWN_MAX 48
static const char *s_shown(const char *topic, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && i < C_SHOWN_MAX; i++) {
        unsigned char b = (unsigned char)topic[i];
        if (b >= 0x20 && b < 0x7f && b != '\\') {
            out[o++] = (char)b;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[b >> 4];
            out[o++] = hex[b & 15];
        }
    }
    if (len > C_SHOWN_MAX) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Level for one more message dropped for what it is: WARN for the first of a series, DEBUG
 * for those a summary counts later (s_report). Call once per message (mqg_log evaluates its
 * level twice). */
static int s_drop_level(struct connector *c, struct mqg_ratelog *rl)
{
    c->n_dropped++;
    return mqg_ratelog_hit(rl, mqg_now_ms()) ? MQG_LOG_WARN : MQG_LOG_DEBUG;
}

/* The summaries that are due (see C_REPORT_MS). */
static void s_report(struct connector *c, int64_t now)
{
    uint64_t n;
    if ((n = mqg_ratelog_summary(&c->invalid, now)) > 0) {
        log_warn("IN-BAD-TOPIC",
                 "%llu more messages from the broker dropped in the last %d s for their "
                 "topics (%llu in all)",
                 (unsigned long long)n, C_REPORT_MS / 1000, (unsigned long long)c->invalid.total);
    }
    if ((n = mqg_ratelog_summary(&c->badtopic, now)) > 0) {
        log_warn("PUB-BAD-TOPIC",
                 "%llu more messages for the broker dropped in the last %d s for their topics "
                 "(%llu in all)",
                 (unsigned long long)n, C_REPORT_MS / 1000, (unsigned long long)c->badtopic.total);
    }
    if ((n = mqg_ratelog_summary(&c->toolarge, now)) > 0) {
        log_warn("PUB-TOO-LARGE",
                 "%llu more messages for the broker dropped in the last %d s as too large "
                 "(%llu in all)",
                 (unsigned long long)n, C_REPORT_MS / 1000, (unsigned long long)c->toolarge.total);
    }
}

/* A message from the broker: queued, and sent with the others of this turn (s_flush_router)
 * unless the startup buffer holds it. One whose topic is not a valid topic name (a broken or
 * hostile broker) is dropped here, alone: the router would refuse the whole batch with it. */
static void s_on_broker_message(struct connector *c, struct link_ev *ev)
{
    size_t at;
    const char *why = mqg_topic_name_fault(ev->topic, ev->topic_len, false, &at);
    if (why) {
        char shown[4 * C_SHOWN_MAX + 4];
        int level = s_drop_level(c, &c->invalid);
        mqg_log(level, "IN-BAD-TOPIC",
                "message from the broker dropped: its topic %s, at byte %zu of '%s' (%zu bytes); "
                "counted as invalid, more are summarised every %d s",
                why, at, s_shown(ev->topic, ev->topic_len, shown), ev->topic_len,
                C_REPORT_MS / 1000);
        return;
    }

    struct mqg_wire_rec rec = {.flags = ev->retain ? MQG_WIRE_F_RETAIN : 0,
                               .qos = (uint8_t)ev->qos,
                               .topic = ev->topic,
                               .topic_len = ev->topic_len,
                               .payload = ev->payload,
                               .payload_len = ev->payload_len};
    int rc = mqg_fifo_push(&c->to_router, &rec);
    if (rc < 0) {
        c->n_dropped++;
        log_warn("IN-DROP", "message on '%s' dropped: %s", ev->topic, strerror(-rc));
    } else if (rc > 0 && s_count_drops(c, &c->n_dropped_in, (uint64_t)rc)) {
        log_warn("IN-DROP",
                 "queue towards the router is full (%zu): dropped %llu oldest messages so far",
                 c->to_router.max, (unsigned long long)c->n_dropped_in);
    }
    if (c->holding && c->to_router.count >= (size_t)c->conn->max_buffered) {
        s_release(c, "maxBufferedMessages reached");
    }
}

/* ---- towards the broker ---- */

/* A publish is tagged with its queue seq and the connection generation, carried through
 * paho as a pointer-sized value: on 32-bit systems only the low bits of seq survive, and
 * s_tag_seq() rebuilds the full seq from the oldest queued one (the queue is far shorter
 * than 2^24 items). */
#define C_GEN_BITS 8
#define C_TAG_SEQ_BITS (sizeof(uintptr_t) * 8 - C_GEN_BITS)

static uint64_t s_tag(const struct connector *c, uint64_t seq)
{
    return (uint64_t)(uintptr_t)(seq << C_GEN_BITS | c->gen);
}

static uint64_t s_tag_seq(const struct connector *c, uint64_t tag)
{
    uint64_t tseq = tag >> C_GEN_BITS;
    if (C_TAG_SEQ_BITS >= 56 || !c->to_broker.count) {
        return tseq;
    }
    uint64_t mask = ((uint64_t)1 << C_TAG_SEQ_BITS) - 1;
    uint64_t head = cq_at(&c->to_broker, 0)->seq;
    return head + ((tseq - head) & mask);
}

static void s_pop_done(struct connector *c)
{
    struct cq_item *it;
    while ((it = cq_at(&c->to_broker, 0)) && it->state == CQ_DONE) {
        cq_pop(&c->to_broker);
        if (c->cursor) {
            c->cursor--;
        }
    }
}

static void s_pump(struct connector *c)
{
    if (c->state < C_SUBSCRIBING) {
        return;
    }
    while (c->inflight < c->child.max_inflight) {
        struct cq_item *it = cq_at(&c->to_broker, c->cursor);
        if (!it) {
            return;
        }
        if (it->state != CQ_UNSENT) {
            c->cursor++;
            continue;
        }
        uint64_t size;
        enum pc_size sz = pc_size_check(c->conn->protocol_version, it->topic_len, it->payload_len,
                                        it->qos, c->max_packet, &size);
        if (sz != PC_SIZE_OK) { /* the broker would close the connection for it */
            int level = s_drop_level(c, &c->toolarge);
            mqg_log(level, "PUB-TOO-LARGE",
                    "message to '%s' dropped: its PUBLISH packet of %llu bytes is larger than %s "
                    "(%llu bytes); counted as toolarge, more are summarised every %d s",
                    it->topic, (unsigned long long)size,
                    sz == PC_SIZE_MQTT ? "MQTT allows" : "the broker's maximum packet size",
                    sz == PC_SIZE_MQTT ? (unsigned long long)PC_MAX_REMAINING + 5
                                       : (unsigned long long)c->max_packet,
                    C_REPORT_MS / 1000);
            it->state = CQ_DONE;
            s_pop_done(c);
            continue;
        }
        /* QoS 0: one completion per C_QOS0_NOTIFY messages, and for the last one of a round */
        bool notify = it->seq % C_QOS0_NOTIFY == 0 || c->inflight + 1 >= c->child.max_inflight ||
                      !cq_at(&c->to_broker, c->cursor + 1);
        int rc = mqtt_link_publish(c->link, it->topic, it->payload, it->payload_len, it->qos,
                                   it->retain, s_tag(c, it->seq), notify);
        if (rc != 0) {
            if (rc == -EIO) { /* paho refused this message itself: it will never go */
                log_warn("PUB-INVALID", "message to '%s' refused by the MQTT library: dropped",
                         it->topic);
                it->state = CQ_DONE;
                c->n_dropped++;
                s_pop_done(c);
                continue;
            }
            return; /* not connected or window full: try again later */
        }
        it->state = CQ_INFLIGHT;
        c->inflight++;
        c->cursor++;
    }
}

/* QoS 0 publishes handed to paho before the one at idx, which asked for no report: paho
 * processed them before it, so its report (done or failed) settles them as done. */
static void s_settle_silent_qos0(struct connector *c, size_t idx)
{
    for (size_t i = 0; i < idx; i++) {
        struct cq_item *x = cq_at(&c->to_broker, i);
        if (x->qos == 0 && x->state == CQ_INFLIGHT) {
            x->state = CQ_DONE;
            c->inflight--;
            c->n_out++;
        }
    }
}

static void s_on_pub_result(struct connector *c, struct link_ev *ev)
{
    size_t idx;
    struct cq_item *it = cq_find(&c->to_broker, s_tag_seq(c, ev->tag), &idx);
    uint8_t gen = (uint8_t)(ev->tag & ((1u << C_GEN_BITS) - 1));
    if (!it) {
        return; /* dropped meanwhile */
    }
    if (it->qos == 0 && (ev->kind == LEV_PUB_OK || gen == c->gen)) {
        s_settle_silent_qos0(c, idx);
    }
    if (ev->kind == LEV_PUB_OK) {
        if (it->state == CQ_INFLIGHT) {
            c->inflight--;
        }
        if (it->state != CQ_DONE) {
            it->state = CQ_DONE;
            c->n_out++;
        }
        s_pop_done(c);
        return;
    }
    if (gen != c->gen || it->state != CQ_INFLIGHT) {
        return; /* from an earlier connection: already rewound */
    }
    c->inflight--;
    if (++it->tries >= C_MAX_TRIES) {
        log_warn("PUB-FAIL", "publish to '%s' failed %d times (code %d): dropped", it->topic,
                 it->tries, ev->rc);
        it->state = CQ_DONE;
        c->n_dropped++;
        s_pop_done(c);
        return;
    }
    it->state = CQ_UNSENT;
    if (idx < c->cursor) {
        c->cursor = idx;
    }
    s_pop_done(c);
}

/* The connection is gone: everything not confirmed goes again after reconnecting. */
static void s_rewind(struct connector *c)
{
    c->gen++;
    for (size_t i = 0; i < c->to_broker.count; i++) {
        struct cq_item *it = cq_at(&c->to_broker, i);
        if (it->state == CQ_INFLIGHT) {
            it->state = CQ_UNSENT;
        }
    }
    c->inflight = 0;
    c->cursor = 0;
}

/* Connected, and as many messages queued for the broker as allowed: read nothing more from
 * the router, so the router holds its copies and, when its queue for us is full too, stops
 * taking new messages from the sources (flow control instead of loss while the broker is
 * merely slower than the sources). While the broker is down, messages keep coming and the
 * oldest are dropped beyond the bound instead (an outage must not stop the other routes). */
static bool s_bus_paused(const struct connector *c)
{
    return c->state >= C_SUBSCRIBING && cq_full(&c->to_broker);
}

static void s_on_router_data(struct connector *c, const struct mqg_wire_rec *rec)
{
    /* a topic the broker would close the connection for (a control character or a
     * non-character, e.g. from a named wildcard): never sent, dropped alone */
    size_t at;
    const char *why = mqg_topic_name_fault(rec->topic, rec->topic_len, true, &at);
    if (why) {
        char shown[4 * C_SHOWN_MAX + 4];
        int level = s_drop_level(c, &c->badtopic);
        mqg_log(level, "PUB-BAD-TOPIC",
                "message for the broker dropped: its topic %s, at byte %zu of '%s', which "
                "brokers refuse; counted as badtopic, more are summarised every %d s",
                why, at, s_shown(rec->topic, rec->topic_len, shown), C_REPORT_MS / 1000);
        return;
    }
    /* connected: nothing is dropped; the queue may overshoot by the one batch being read */
    bool keep_all = c->state >= C_SUBSCRIBING;
    struct cq *q = &c->to_broker;
    size_t dropped = 0;
    while (!keep_all && q->count && cq_over(q, rec->topic_len + rec->payload_len)) {
        if (cq_at(q, 0)->state == CQ_INFLIGHT) {
            c->inflight--; /* its result will find nothing */
        }
        cq_pop(q);
        if (c->cursor) {
            c->cursor--;
        }
        dropped++;
    }
    if (cq_push(q, rec->topic, rec->topic_len, rec->payload, rec->payload_len, rec->qos,
                (rec->flags & MQG_WIRE_F_RETAIN) != 0) != 0) {
        c->n_dropped++;
        log_warn("OUT-DROP", "message on '%.*s' dropped: out of memory", (int)rec->topic_len,
                 rec->topic);
    }
    if (dropped && s_count_drops(c, &c->n_dropped_out, dropped)) {
        log_warn("OUT-DROP",
                 "queue towards the broker is full (%zu messages or %zu bytes): dropped %llu "
                 "oldest messages so far",
                 q->max, q->max_bytes, (unsigned long long)c->n_dropped_out);
    }
}

/* ---- connection state ---- */

static void s_schedule_reconnect(struct connector *c, int64_t now)
{
    uint32_t d = mqg_backoff_next(&c->backoff);
    c->reconnect_at = now + d;
    c->state = C_DOWN;
}

static void s_connect(struct connector *c)
{
    c->state = C_CONNECTING;
    log_debug("CONN-TRY", "connecting to %s", c->conn->uri);
    mqtt_link_connect(c->link); /* failure arrives as an event */
}

static void s_on_connected(struct connector *c, struct link_ev *ev, int64_t now)
{
    if (c->again) { /* the last one ended at once: wait and see (s_check_settled) */
        log_debug("CONN-UP", "connected to %s again (%d connections ended within %d s)%s",
                  c->conn->uri, c->short_lived, C_STABLE_MS / 1000,
                  ev->session_present ? " (session resumed)" : "");
    } else if (c->failures > 0) {
        log_notice("CONN-UP", "connected to %s after %d failed attempts%s", c->conn->uri,
                   c->failures, ev->session_present ? " (session resumed)" : "");
    } else {
        log_notice("CONN-UP", "connected to %s%s", c->conn->uri,
                   ev->session_present ? " (session resumed)" : "");
    }
    c->up_at = now;
    c->settled = false; /* the backoff restarts from its base once it has lasted */
    c->max_packet = ev->max_packet;
    c->was_up = true;
    if (!c->router_ready && !c->holding) {
        c->holding = true;
        c->hold_until = mqg_now_ms() + c->conn->buffer_window_ms;
    }
    c->state = C_SUBSCRIBING;
    mqtt_link_subscribe(c->link, c->subs, c->n_subs);
}

/* The connection has lasted C_STABLE_MS: a success, the backoff starts over; after a series
 * of short-lived ones this is the recovery, at NOTICE. */
static void s_check_settled(struct connector *c, int64_t now)
{
    if (c->state < C_SUBSCRIBING || c->settled || now - c->up_at < C_STABLE_MS) {
        return;
    }
    if (c->short_lived > 0) {
        log_notice("CONN-UP", "connection to %s up for %d s, after %d that ended sooner",
                   c->conn->uri, C_STABLE_MS / 1000, c->short_lived);
    }
    c->settled = true;
    c->short_lived = 0;
    c->again = false;
    c->failures = 0;
    mqg_backoff_reset(&c->backoff);
}

static void s_on_connect_failed(struct connector *c, struct link_ev *ev, int64_t now)
{
    c->failures++;
    c->again = false; /* the next success is a recovery again, at NOTICE */
    s_schedule_reconnect(c, now);
    const char *why = ev->rc ? mqtt_link_strerror(ev->rc) : "connection failed";
    if (c->failures == 1) {
        log_warn("CONN-FAIL", "cannot connect to %s: %s%s%s; retrying with backoff", c->conn->uri,
                 why, ev->text[0] ? " - " : "", ev->text);
    } else {
        log_debug("CONN-FAIL", "attempt %d to %s failed: %s; next in %lld ms", c->failures,
                  c->conn->uri, why, (long long)(c->reconnect_at - now));
    }
}

static void s_on_lost(struct connector *c, struct link_ev *ev, int64_t now)
{
    int64_t lasted = c->up_at ? now - c->up_at : 0;
    bool short_lived = c->up_at && !c->settled;
    const char *why = ev->text[0] ? ev->text : "unknown cause";
    s_rewind(c);
    c->up_at = 0;
    c->failures++; /* so the next success is logged as a recovery */
    s_schedule_reconnect(c, now);
    if (!short_lived) {
        log_warn("CONN-LOST", "connection to %s lost: %s; %zu messages wait for it", c->conn->uri,
                 why, c->to_broker.count);
        return;
    }
    c->again = true;
    if (++c->short_lived == 1) {
        log_warn("CONN-LOST",
                 "connection to %s lost %lld ms after it came up: %s; %zu messages wait for it; "
                 "counts as a failed attempt (retrying with backoff, repeats logged at debug)",
                 c->conn->uri, (long long)lasted, why, c->to_broker.count);
    } else {
        log_debug("CONN-LOST",
                  "connection to %s lost again %lld ms after it came up: %s; %d in a row, next "
                  "attempt in %lld ms",
                  c->conn->uri, (long long)lasted, why, c->short_lived,
                  (long long)(c->reconnect_at - now));
    }
}

/* Handle what paho reported; returns the number of events. */
static int s_on_link_events(struct connector *c)
{
    int n = 0;
    struct link_ev *ev = mqtt_link_take(c->link);
    int64_t now = mqg_now_ms();
    while (ev) {
        struct link_ev *next = ev->next;
        n++;
        switch (ev->kind) {
        case LEV_MSG:
            s_on_broker_message(c, ev);
            break;
        case LEV_CONNECTED:
            s_on_connected(c, ev, now);
            break;
        case LEV_CONNECT_FAILED:
            if (c->state == C_CONNECTING) {
                s_on_connect_failed(c, ev, now);
            }
            break;
        case LEV_LOST:
            s_on_lost(c, ev, now);
            break;
        case LEV_PUB_OK:
        case LEV_PUB_FAIL:
            s_on_pub_result(c, ev);
            break;
        case LEV_SUB_OK:
            if (c->state == C_SUBSCRIBING) {
                c->state = C_UP;
                /* while connections end at once, each would say the same again */
                bool quiet = c->again;
                if (ev->rc > 0) {
                    mqg_log(quiet ? MQG_LOG_DEBUG : MQG_LOG_WARN, "SUB-REFUSED",
                            "the broker refused %d of %zu subscriptions", ev->rc, c->n_subs);
                } else if (c->n_subs) {
                    mqg_log(quiet ? MQG_LOG_DEBUG : MQG_LOG_INFO, "SUBSCRIBED",
                            "subscribed %zu filters", c->n_subs);
                }
            }
            break;
        case LEV_SUB_FAIL:
            if (c->state == C_SUBSCRIBING) {
                c->state = C_UP;
                if (ev->rc == -ENOTCONN) { /* CONN-LOST says it; subscribed again after it */
                    log_debug("SUB-FAIL", "subscribing failed: the connection was lost");
                } else {
                    mqg_log(c->again ? MQG_LOG_DEBUG : MQG_LOG_WARN, "SUB-FAIL",
                            "subscribing failed: %s (code %d)", ev->text[0] ? ev->text : "error",
                            ev->rc);
                }
            }
            break;
        }
        free(ev);
        ev = next;
    }
    return n;
}

static void s_on_bus(struct connector *c)
{
    for (int budget = 0; budget < 256 && !s_bus_paused(c); budget++) {
        struct mqg_bus_msg m;
        int rc = mqg_bus_recv(c->bus, &m);
        if (rc == -EAGAIN) {
            return;
        }
        if (rc == -EPROTO) {
            c->n_malformed++;
            continue;
        }
        if (rc < 0) {
            return;
        }
        if (m.hdr.kind == MQG_MSG_DATA || m.hdr.kind == MQG_MSG_BATCH) {
            size_t off = 0;
            struct mqg_wire_rec rec;
            while (mqg_bus_msg_next(&m, &off, &rec)) {
                s_on_router_data(c, &rec);
            }
        } else if (m.hdr.kind == MQG_MSG_READY && !c->router_ready) {
            c->router_ready = true;
            log_debug("ROUTER-READY", "router routes are ready");
            s_release(c, "router ready");
        }
        mqg_bus_msg_close(&m);
    }
}

static void s_status(const struct connector *c, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "state=%s in=%llu out=%llu dropped=%llu malformed=%llu queued=%zu "
             "buffered=%zu inflight=%d invalid=%llu badtopic=%llu toolarge=%llu",
             s_state_names[c->state], (unsigned long long)c->n_in, (unsigned long long)c->n_out,
             (unsigned long long)c->n_dropped, (unsigned long long)c->n_malformed,
             c->to_broker.count, c->to_router.count, c->inflight,
             (unsigned long long)c->invalid.total, (unsigned long long)c->badtopic.total,
             (unsigned long long)c->toolarge.total);
}

static int s_timeout(struct connector *c, int64_t now, int timeout)
{
    if (c->state == C_DOWN) {
        int64_t d = c->reconnect_at - now;
        timeout = d < timeout ? (int)(d < 0 ? 0 : d) : timeout;
    }
    if (c->holding) {
        int64_t d = c->hold_until - now;
        timeout = d < timeout ? (int)(d < 0 ? 0 : d) : timeout;
    }
    if (c->state >= C_SUBSCRIBING && !c->settled) {
        int64_t d = c->up_at + C_STABLE_MS - now;
        timeout = d < timeout ? (int)(d < 0 ? 0 : d) : timeout;
    }
    if (!c->router_ready && timeout > C_HELLO_MS) {
        timeout = C_HELLO_MS;
    }
    if (c->to_router.count && !c->holding && timeout > 10) {
        timeout = 10;
    }
    return timeout;
}

static void s_timers(struct connector *c, int64_t now)
{
    if (c->state == C_DOWN && now >= c->reconnect_at) {
        s_connect(c);
    }
    s_check_settled(c, now);
    if (c->holding && now >= c->hold_until) {
        s_release(c, "messageBufferWindowMs passed");
    }
    if (!c->router_ready && now >= c->hello_at) {
        mqg_bus_send_ctl(c->bus, NULL, 0, MQG_MSG_HELLO);
        c->hello_at = now + C_HELLO_MS;
    }
    s_report(c, now);
}

/* Long set-up work keeps the heartbeat going (mqg_child_progress). */
static void s_progress(void *child)
{
    mqg_child_progress(child);
}

static int s_setup(struct connector *c)
{
    const struct mqg_model *m = &c->child.model;
    int idx = mqg_model_find_conn(m, c->child.key);
    if (idx < 0) {
        log_error("CONN-UNKNOWN", "connection '%s' is not in the configuration", c->child.key);
        return MQG_EXIT_CONFIG;
    }
    c->conn = &m->conns[idx];
    int rc = mqg_subs_for_conn_progress(m, idx, s_progress, &c->child, &c->subs, &c->n_subs);
    if (rc != 0) {
        log_error("SUBS-BAD", "cannot build the subscriptions of '%s': %s", c->child.key,
                  strerror(-rc));
        return rc == -EINVAL ? MQG_EXIT_CONFIG : MQG_EXIT_TRANSIENT;
    }
    mqg_fifo_init(&c->to_router, (size_t)c->child.queue_max > (size_t)c->conn->max_buffered
                                     ? (size_t)c->child.queue_max
                                     : (size_t)c->conn->max_buffered);
    cq_init(&c->to_broker, (size_t)c->child.queue_max);
    c->to_broker.max_bytes = c->child.queue_max_bytes;
    mqg_ratelog_init(&c->invalid, C_REPORT_MS);
    mqg_ratelog_init(&c->badtopic, C_REPORT_MS);
    mqg_ratelog_init(&c->toolarge, C_REPORT_MS);
    /* first retry after reconnectPeriod, then growing with jitter up to 60 s (or
     * reconnectPeriod, when that is longer) */
    uint32_t base =
        c->conn->reconnect_period_ms > 0 ? (uint32_t)c->conn->reconnect_period_ms : 1000;
    mqg_backoff_init(&c->backoff, base, base > 60000 ? base : 60000, mqg_seed());
    rc = mqtt_link_new(c->conn, c->child.rundir, c->child.max_inflight, &c->link);
    if (rc != 0) {
        return rc == -EINVAL ? MQG_EXIT_CONFIG : MQG_EXIT_TRANSIENT;
    }
    if (mqg_bus_connect(c->child.bus, c->child.key, MQG_BUS_HWM, &c->bus) != 0) {
        return MQG_EXIT_TRANSIENT;
    }
    return 0;
}

static void s_free(struct connector *c)
{
    mqtt_link_destroy(&c->link, 500);
    mqg_bus_destroy(&c->bus);
    mqg_subs_free(c->subs, c->n_subs);
    mqg_fifo_free(&c->to_router);
    cq_free(&c->to_broker);
    mqg_child_free(&c->child);
}

int connector_main(int argc, char **argv)
{
    struct connector c;
    memset(&c, 0, sizeof(c));
    int rc = mqg_child_init(&c.child, "connector", argc, argv);
    if (rc != 0) {
        mqg_child_free(&c.child);
        return rc;
    }
    rc = s_setup(&c);
    if (rc != 0) {
        s_free(&c);
        return rc;
    }
    log_info("CONNECTOR-UP", "broker %s, %zu subscriptions", c.conn->uri, c.n_subs);
    mqg_child_ready(&c.child);
    s_connect(&c);

    int64_t stop_deadline = 0;
    for (;;) {
        int64_t now = mqg_now_ms();
        if (c.child.stop) {
            /* finish what the broker can still take, briefly */
            if (!stop_deadline) {
                stop_deadline = now + C_DRAIN_MS;
            }
            if (c.state < C_SUBSCRIBING || c.to_broker.count == 0 || now >= stop_deadline) {
                break;
            }
        }
        s_timers(&c, now);
        s_pump(&c);
        char status[256];
        status[0] = '\0';
        if (mqg_child_heartbeat_due(&c.child, now)) {
            s_status(&c, status, sizeof(status));
        }
        int timeout = s_timeout(&c, now, mqg_child_tick(&c.child, now, status));
        if (c.child.stop && timeout > 50) {
            timeout = 50;
        }
        int bev = mqg_bus_events(c.bus);
        if ((bev & MQG_BUS_OUT) && c.to_router.count && !c.holding) {
            s_flush_router(&c); /* the pipe to the router has room again */
        }
        if ((bev & MQG_BUS_IN) && !s_bus_paused(&c)) {
            timeout = 0;
        }
        int64_t wait_us = (int64_t)timeout * 1000;
        int64_t quiet = c.link_quiet_until - mqg_now_us();
        if (quiet > 0 && quiet < wait_us) {
            wait_us = quiet;
        }
        struct timespec ts = {.tv_sec = wait_us / 1000000, .tv_nsec = (wait_us % 1000000) * 1000};
        struct pollfd p[4] = {
            {.fd = mqg_child_ctl_fd(&c.child), .events = POLLIN},
            {.fd = c.child.sigfd, .events = POLLIN},
            {.fd = quiet > 0 ? -1 : mqtt_link_fd(c.link), .events = POLLIN},
            {.fd = mqg_bus_fd(c.bus), .events = POLLIN},
        };
        if (ppoll(p, 4, timeout < 0 ? NULL : &ts, NULL) < 0 && errno != EINTR) {
            log_error("CONNECTOR-POLL", "poll: %s", strerror(errno));
            break;
        }
        if (p[0].revents) {
            mqg_child_on_ctl(&c.child);
        }
        if (p[1].revents) {
            mqg_child_on_signal(&c.child);
        }
        if (p[2].revents) {
            int n = s_on_link_events(&c);
            c.link_quiet_until =
                mqg_now_us() + (n >= C_COALESCE_BUSY_EVENTS ? C_COALESCE_BUSY_US : C_COALESCE_US);
        }
        s_on_bus(&c);
        if (c.to_router.count && !c.holding) {
            s_flush_router(&c);
        }
    }
    rc = c.child.exit_code;
    log_info("CONNECTOR-DOWN", "stopping: in=%llu out=%llu dropped=%llu queued=%zu",
             (unsigned long long)c.n_in, (unsigned long long)c.n_out,
             (unsigned long long)c.n_dropped, c.to_broker.count);
    s_free(&c);
    return rc;
}
