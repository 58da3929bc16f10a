/* connector — broker connection process (see connector.h).
 *
 * One poll loop over: the control channel, signals, the paho event fd, the router bus; each
 * turn dispatches what is ready to its s_handle_*() (or mqg_child's handler).
 * Inbound (broker -> router): paho's callback appends every QoS >= 1 message to the
 * connection's journal before paho acknowledges it (s_arrive, docs/delivery.md); the feed
 * (feed.c) sends the messages to the router, live or read again from the journal, unless the
 * startup buffer holds them (router routes not confirmed yet: DESIGN.md "startup buffer").
 * A message whose topic is not a valid topic name is dropped alone (the router would refuse
 * the whole batch holding it), counted and logged at a bounded rate (mqg_ratelog).
 * Outbound (router -> broker): the outbox (outbox.c) queues every message, decides what is
 * published when and what each result means; this file hands it the messages, paho's results
 * and the connection's ups and downs, stops reading the bus while it is full, and confirms
 * tracked copies to the router (ACK DONE) once they left it.
 * Reconnects use backoff with jitter from reconnectPeriod, or the delays of connectionStrategy;
 * each state change is logged once.
 */
#include "connector.h"
#include "connector_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdatomic.h>
#include <sys/stat.h>

#include "feed.h"
#include "mqg_backoff.h"
#include "mqg_bus.h"
#include "mqg_child.h"
#include "mqg_error.h"
#include "mqg_journal.h"
#include "mqg_kv.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_ratelog.h"
#include "mqg_settings.h"
#include "mqg_subs.h"
#include "mqg_text.h"
#include "mqg_topic.h"
#include "mqtt_link.h"
#include "outbox.h"

#define S_HELLO_MS 500
/* HELLO goes to the router this often also once it answered: a restarted router answers
 * with a new epoch, and the feed then syncs with it. */
#define S_HELLO_UP_MS 1000
/* Confirmations (ACK DONE) wait for the loop turn; acknowledgements from the router are
 * written into the journal at most this often. */
#define S_PERSIST_MS 10
#define S_DRAIN_MS 1500
/* A stopping connector waits at most this long for its last messages to reach the router. */
#define S_LINGER_MS 500
/* After taking the events paho has produced (messages received, publishes done), the next
 * look is a little later, so that under load they travel as one batch (one wake-up of every
 * thread on the way instead of one per message). The pause is short while events come one
 * at a time (latency) and long once a look finds several (the sources are faster than one
 * message per pause: throughput). */
#define S_COALESCE_US 200
#define S_COALESCE_BUSY_US 1000
#define S_COALESCE_BUSY_EVENTS 2
/* Messages dropped for what they are (bad topic, too large): the first of a series is logged
 * at WARN, then one summary per this interval. */
#define S_REPORT_MS 60000
/* A connection that ends sooner than this after its CONNACK counts as a failed attempt: the
 * reconnect delay keeps growing, and repeats are logged at DEBUG (a broker that accepts and
 * then drops us at once must not be retried at the base delay, three log lines each time). */
#define S_STABLE_MS 10000

/* ---- towards the router ---- */

/* The feed's send function: one message to the router. */
static int s_send(void *ctx, const struct mqg_wire_hdr *h, const void *body, size_t len)
{
    struct connector *c = ctx;
    return body ? mqg_bus_send_body(c->bus, NULL, 0, h, body, len)
                : mqg_bus_send_hdr(c->bus, NULL, 0, h);
}

/* Send what waits for the router, while the bus takes it (the feed keeps the rest). */
static void s_flush_router(struct connector *c)
{
    feed_flush(c->feed);
}

static void s_release(struct connector *c, const char *why)
{
    if (!c->holding) {
        return;
    }
    c->holding = false;
    feed_hold(c->feed, false);
    struct feed_stats fs;
    feed_stats(c->feed, &fs);
    if (fs.buffered) {
        log_info("BUFFER-RELEASE", "releasing %zu buffered messages (%s)", fs.buffered, why);
    }
    s_flush_router(c);
}

/* The summaries that are due (see S_REPORT_MS): ours, then the outbox's. */
static void s_report(struct connector *c, int64_t now)
{
    uint64_t n;
    if ((n = mqg_ratelog_summary(&c->invalid, now)) > 0) {
        log_warn("IN-BAD-TOPIC",
                 "%llu more messages from the broker dropped in the last %d s for their "
                 "topics (%llu in all)",
                 (unsigned long long)n, S_REPORT_MS / 1000, (unsigned long long)c->invalid.total);
    }
    outbox_report(c->outbox, now);
}

/* A message from the broker: queued, and sent with the others of this turn (s_flush_router)
 * unless the startup buffer holds it. One whose topic is not a valid topic name (a broken or
 * hostile broker) is dropped here, alone: the router would refuse the whole batch with it. */
static void s_on_broker_message(struct connector *c, struct link_ev *ev)
{
    c->n_rx++;
    c->n_rx_bytes += ev->payload_len;
    size_t at;
    const char *why = mqg_topic_name_fault(ev->topic, ev->topic_len, false, &at);
    if (why) {
        char shown[MQG_TEXT_SHOWN_CAP];
        c->n_dropped++;
        /* once per message: mqg_log evaluates its level twice */
        int level = mqg_ratelog_hit(&c->invalid, mqg_now_ms()) ? MQG_LOG_WARN : MQG_LOG_DEBUG;
        mqg_log(level, "IN-BAD-TOPIC",
                "message from the broker dropped: its topic %s, at byte %zu of '%s' (%zu bytes); "
                "counted as invalid, more are summarised every %d s",
                why, at, mqg_text_shown(ev->topic, ev->topic_len, shown), ev->topic_len,
                S_REPORT_MS / 1000);
        return;
    }

    struct mqg_wire_rec rec = {.flags = ev->retain ? MQG_WIRE_F_RETAIN : 0,
                               .qos = (uint8_t)ev->qos,
                               .topic = ev->topic,
                               .topic_len = ev->topic_len,
                               .payload = ev->payload,
                               .payload_len = ev->payload_len};
    c->n_in++;
    c->n_unjournaled += ev->unjournaled;
    int rc = feed_push(c->feed, &rec, ev->seq);
    if (rc < 0) {
        c->n_dropped++;
        log_warn("IN-DROP", "message on '%s' dropped: %s", ev->topic, strerror(-rc));
    } else if (rc > 0) {
        c->n_dropped += (uint64_t)rc;
        if (mqg_ratelog_tally(&c->n_dropped_in, (uint64_t)rc)) {
            log_warn("IN-DROP",
                     "queue towards the router is full (%d messages): dropped %llu oldest "
                     "untracked (QoS 0) messages so far",
                     c->child.queue_max, (unsigned long long)c->n_dropped_in);
        }
    }
    struct feed_stats fs;
    feed_stats(c->feed, &fs);
    if (c->holding && fs.buffered >= (size_t)c->conn->max_buffered) {
        s_release(c, "maxBufferedMessages reached");
    }
}

/* ---- towards the broker ---- */

/* The outbox's publish function. */
static int s_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                     bool retain, uint64_t tag, bool notify)
{
    struct connector *c = ctx;
    return mqtt_link_publish(c->link, topic, payload, len, qos, retain, tag, notify);
}

/* Connected, and as many messages queued for the broker as allowed: read nothing more from
 * the router (flow control; see outbox_full). */
static bool s_bus_paused(const struct connector *c)
{
    return outbox_full(c->outbox);
}

/* ---- connection state ---- */

static void s_schedule_reconnect(struct connector *c, int64_t now)
{
    uint32_t d = mqg_backoff_next(&c->backoff);
    c->reconnect_at = now + d;
    c->state = CONN_DOWN;
}

static void s_connect(struct connector *c)
{
    c->state = CONN_CONNECTING;
    log_debug("CONN-TRY", "connecting to %s", c->conn->uri);
    mqtt_link_connect(c->link); /* failure arrives as an event */
}

static void s_on_connected(struct connector *c, struct link_ev *ev, int64_t now)
{
    if (c->again) { /* the last one ended at once: wait and see (s_check_settled) */
        log_debug("CONN-UP", "connected to %s again (%d connections ended within %d s)%s",
                  c->conn->uri, c->short_lived, S_STABLE_MS / 1000,
                  ev->session_present ? " (session resumed)" : "");
    } else if (c->failures > 0) {
        log_notice("CONN-UP", "connected to %s after %d failed attempts%s", c->conn->uri,
                   c->failures, ev->session_present ? " (session resumed)" : "");
    } else {
        log_notice("CONN-UP", "connected to %s%s", c->conn->uri,
                   ev->session_present ? " (session resumed)" : "");
    }
    c->up_at = now;
    c->n_connects++;
    c->settled = false; /* the backoff restarts from its base once it has lasted */
    c->was_up = true;
    if (!c->router_ready && !c->holding) {
        c->holding = true;
        feed_hold(c->feed, true);
        c->hold_until = mqg_now_ms() + c->conn->buffer_window_ms;
    }
    c->state = CONN_SUBSCRIBING;
    c->link_due = true;
    outbox_connected(c->outbox, ev->max_packet, ev->receive_max);
    mqtt_link_subscribe(c->link, c->subs, c->n_subs);
}

/* The connection has lasted S_STABLE_MS: a success, the backoff starts over; after a series
 * of short-lived ones this is the recovery, at NOTICE. */
static void s_check_settled(struct connector *c, int64_t now)
{
    if (c->state < CONN_SUBSCRIBING || c->settled || now - c->up_at < S_STABLE_MS) {
        return;
    }
    if (c->short_lived > 0) {
        log_notice("CONN-UP", "connection to %s up for %d s, after %d that ended sooner",
                   c->conn->uri, S_STABLE_MS / 1000, c->short_lived);
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
    snprintf(c->last_error, sizeof(c->last_error), "cannot connect: %s%s%s", why,
             ev->text[0] ? " - " : "", ev->text);
    if (c->failures == 1) {
        log_warn("CONN-FAIL", "cannot connect to %s: %s%s%s; retrying with backoff", c->conn->uri,
                 why, ev->text[0] ? " - " : "", ev->text);
    } else {
        log_debug("CONN-FAIL", "attempt %d to %s failed: %s; next in %lld ms", c->failures,
                  c->conn->uri, why, (long long)(c->reconnect_at - now));
    }
}

/* The connection is gone: everything not confirmed goes again after reconnecting. */
static void s_on_lost(struct connector *c, struct link_ev *ev, int64_t now)
{
    int64_t lasted = c->up_at ? now - c->up_at : 0;
    bool short_lived = c->up_at && !c->settled;
    const char *why = ev->text[0] ? ev->text : "unknown cause";
    snprintf(c->last_error, sizeof(c->last_error), "connection lost: %s", why);
    outbox_lost(c->outbox);
    c->link_due = true;
    c->up_at = 0;
    c->failures++; /* so the next success is logged as a recovery */
    s_schedule_reconnect(c, now);
    size_t waiting = outbox_queued(c->outbox);
    if (!short_lived) {
        log_warn("CONN-LOST", "connection to %s lost: %s; %zu messages wait for it", c->conn->uri,
                 why, waiting);
        return;
    }
    c->again = true;
    if (++c->short_lived == 1) {
        log_warn("CONN-LOST",
                 "connection to %s lost %lld ms after it came up: %s; %zu messages wait for it; "
                 "counts as a failed attempt (retrying with backoff, repeats logged at debug)",
                 c->conn->uri, (long long)lasted, why, waiting);
    } else {
        log_debug("CONN-LOST",
                  "connection to %s lost again %lld ms after it came up: %s; %d in a row, next "
                  "attempt in %lld ms",
                  c->conn->uri, (long long)lasted, why, c->short_lived,
                  (long long)(c->reconnect_at - now));
    }
}

static void s_on_subscribed(struct connector *c, struct link_ev *ev)
{
    if (c->state != CONN_SUBSCRIBING) {
        return;
    }
    c->state = CONN_UP;
    /* while connections end at once, each would say the same again */
    bool quiet = c->again;
    if (ev->rc > 0) {
        snprintf(c->last_error, sizeof(c->last_error), "the broker refused %d of %zu subscriptions",
                 ev->rc, c->n_subs);
        mqg_log(quiet ? MQG_LOG_DEBUG : MQG_LOG_WARN, "SUB-REFUSED",
                "the broker refused %d of %zu subscriptions", ev->rc, c->n_subs);
    } else if (c->n_subs) {
        mqg_log(quiet ? MQG_LOG_DEBUG : MQG_LOG_INFO, "SUBSCRIBED", "subscribed %zu filters",
                c->n_subs);
    }
}

static void s_on_subscribe_failed(struct connector *c, struct link_ev *ev)
{
    if (c->state != CONN_SUBSCRIBING) {
        return;
    }
    c->state = CONN_UP;
    if (ev->rc == -ENOTCONN) { /* CONN-LOST says it; subscribed again after it */
        log_debug("SUB-FAIL", "subscribing failed: the connection was lost");
    } else {
        snprintf(c->last_error, sizeof(c->last_error), "subscribing failed: %s (code %d)",
                 ev->text[0] ? ev->text : "error", ev->rc);
        mqg_log(c->again ? MQG_LOG_DEBUG : MQG_LOG_WARN, "SUB-FAIL",
                "subscribing failed: %s (code %d)", ev->text[0] ? ev->text : "error", ev->rc);
    }
}

/* ---- the poll loop ---- */

static void s_on_link_event(struct connector *c, struct link_ev *ev, int64_t now)
{
    switch (ev->kind) {
    case LEV_MSG:
        s_on_broker_message(c, ev);
        break;
    case LEV_CONNECTED:
        s_on_connected(c, ev, now);
        break;
    case LEV_CONNECT_FAILED:
        if (c->state == CONN_CONNECTING) {
            s_on_connect_failed(c, ev, now);
        }
        break;
    case LEV_LOST:
        s_on_lost(c, ev, now);
        break;
    case LEV_PUB_OK:
    case LEV_PUB_FAIL:
        outbox_result(c->outbox, ev->tag, ev->kind == LEV_PUB_OK, ev->rc);
        break;
    case LEV_SUB_OK:
        s_on_subscribed(c, ev);
        break;
    case LEV_SUB_FAIL:
        s_on_subscribe_failed(c, ev);
        break;
    }
}

/* What paho reported, in order; then paho's events are not looked at for a moment (see
 * S_COALESCE_US). */
static void s_handle_link(struct connector *c)
{
    int n = 0;
    struct link_ev *ev = mqtt_link_take(c->link);
    int64_t now = mqg_now_ms();
    while (ev) {
        struct link_ev *next = ev->next;
        n++;
        s_on_link_event(c, ev, now);
        free(ev);
        ev = next;
    }
    c->link_quiet_until =
        mqg_now_us() + (n >= S_COALESCE_BUSY_EVENTS ? S_COALESCE_BUSY_US : S_COALESCE_US);
}

/* READY from the router with its epoch: the first from this router releases the startup
 * buffer; a router the feed has not synced with (the first, or a restarted one) gets the
 * journal's marks and the unconfirmed messages again, and copies from the router before it
 * that were not published yet are dropped from the outbox (the sources send them again). */
static void s_on_ready(struct connector *c, uint64_t epoch)
{
    if (feed_router(c->feed, epoch)) {
        if (c->router_ready) {
            log_info("ROUTER-NEW", "the router restarted: sending what it has not confirmed again");
        }
        outbox_router_changed(c->outbox);
        c->link_due = true;
    }
    if (!c->router_ready) {
        c->router_ready = true;
        log_debug("ROUTER-READY", "router routes are ready");
        s_release(c, "router ready");
    }
}

static void s_on_router_message(struct connector *c, const struct mqg_bus_msg *m)
{
    size_t off = 0;
    switch (m->hdr.kind) {
    case MQG_MSG_DATA:
    case MQG_MSG_BATCH: {
        struct mqg_wire_rec rec;
        while (mqg_bus_msg_next(m, &off, &rec)) {
            outbox_push(c->outbox, &rec); /* a drop is counted and logged there */
        }
        break;
    }
    case MQG_MSG_READY:
        s_on_ready(c, m->hdr.seq);
        break;
    case MQG_MSG_ACK: {
        struct mqg_wire_ack a;
        while (mqg_bus_msg_next_ack(m, &off, &a)) {
            feed_on_ack(c->feed, &a);
        }
        break;
    }
    case MQG_MSG_REPLAY:
        feed_on_replay(c->feed, m->hdr.aux, m->hdr.seq);
        break;
    default:
        c->n_malformed++; /* not for a connector */
        break;
    }
}

/* What the router is to hear from us every turn: the broker's state when it changed, and the
 * tracked copies that left the outbox (ACK DONE). */
static void s_tell_router(struct connector *c)
{
    if (c->link_due) {
        struct mqg_wire_hdr h = {.kind = MQG_MSG_LINK, .qos = c->state >= CONN_SUBSCRIBING};
        c->link_due = mqg_bus_send_hdr(c->bus, NULL, 0, &h) != 0;
    }
    size_t cap = sizeof(c->acks) / sizeof(c->acks[0]);
    if (c->n_acks < cap) {
        c->n_acks += outbox_take_done(c->outbox, c->acks + c->n_acks, cap - c->n_acks);
    }
    if (c->n_acks) {
        uint8_t body[sizeof(c->acks) / sizeof(c->acks[0]) * MQG_WIRE_ACK_LEN];
        for (size_t i = 0; i < c->n_acks; i++) {
            mqg_wire_ack_encode(&c->acks[i], body + i * MQG_WIRE_ACK_LEN);
        }
        struct mqg_wire_hdr h = {.kind = MQG_MSG_ACK};
        if (mqg_bus_send_body(c->bus, NULL, 0, &h, body, c->n_acks * MQG_WIRE_ACK_LEN) == 0) {
            c->n_acks = 0;
        }
    }
}

/* Read from the router, at most 256 messages a turn, while the outbox takes them. */
static void s_read_bus(struct connector *c)
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
        s_on_router_message(c, &m);
        mqg_bus_msg_close(&m);
    }
}

/* The bus, every turn: what the router sent, then what waits for the router. */
static void s_handle_bus(struct connector *c)
{
    s_read_bus(c);
    s_flush_router(c);
    s_tell_router(c);
}

static int s_timeout(struct connector *c, int64_t now, int timeout)
{
    if (c->state == CONN_DOWN) {
        int64_t d = c->reconnect_at - now;
        timeout = d < timeout ? (int)(d < 0 ? 0 : d) : timeout;
    }
    if (c->holding) {
        int64_t d = c->hold_until - now;
        timeout = d < timeout ? (int)(d < 0 ? 0 : d) : timeout;
    }
    if (c->state >= CONN_SUBSCRIBING && !c->settled) {
        int64_t d = c->up_at + S_STABLE_MS - now;
        timeout = d < timeout ? (int)(d < 0 ? 0 : d) : timeout;
    }
    if (!c->router_ready && timeout > S_HELLO_MS) {
        timeout = S_HELLO_MS;
    }
    if (feed_pending(c->feed) && timeout > 2) {
        timeout = 2; /* the router pushed back: try again soon */
    }
    if ((c->link_due || c->n_acks) && timeout > 10) {
        timeout = 10;
    }
    return timeout;
}

/* The journal's housekeeping: acknowledgements written, the interval sync, JOURNAL-FULL. */
static void s_journal_timers(struct connector *c, int64_t now)
{
    if (!c->journal) {
        return;
    }
    int rc = feed_persist(c->feed, now);
    if (rc < 0) {
        log_warn("JOURNAL-MARKS", "cannot write the journal's marks: %s", strerror(-rc));
    }
    if (c->child.journal_sync == MQG_SETTINGS_SYNC_INTERVAL && now >= c->sync_at) {
        mqg_journal_sync(c->journal);
        c->sync_at = now + c->child.journal_sync_ms;
    }
    /* once per episode: it ends when the journal is below 90 % of its bound again */
    if (atomic_exchange(&c->journal_full, false) && !c->full_warned) {
        c->full_warned = true;
        log_warn("JOURNAL-FULL",
                 "the journal is full (journal.max_bytes %lld): messages from the broker wait "
                 "up to %d ms each for room, then go on without the journal (counted as "
                 "unjournaled)",
                 c->child.journal_max_bytes, c->child.journal_wait_ms);
    } else if (c->full_warned) {
        struct mqg_journal_stats js;
        mqg_journal_stats(c->journal, &js);
        c->full_warned = js.file_bytes >= (uint64_t)c->child.journal_max_bytes / 10 * 9;
    }
}

static void s_timers(struct connector *c, int64_t now)
{
    if (c->state == CONN_DOWN && now >= c->reconnect_at) {
        s_connect(c);
    }
    s_check_settled(c, now);
    if (c->holding && now >= c->hold_until) {
        s_release(c, "messageBufferWindowMs passed");
    }
    if (now >= c->hello_at) {
        struct mqg_wire_hdr h = {.kind = MQG_MSG_HELLO, .seq = c->incarnation};
        mqg_bus_send_hdr(c->bus, NULL, 0, &h);
        c->hello_at = now + (c->router_ready ? S_HELLO_UP_MS : S_HELLO_MS);
    }
    s_report(c, now);
    s_journal_timers(c, now);
}

/* Asked to stop: finish what the broker can still take, briefly. True when the loop ends. */
static bool s_stop_due(struct connector *c, int64_t now)
{
    if (!c->child.stop) {
        return false;
    }
    if (!c->stop_at) {
        c->stop_at = now + S_DRAIN_MS;
    }
    return c->state < CONN_SUBSCRIBING || outbox_queued(c->outbox) == 0 || now >= c->stop_at;
}

/* The work of a turn before waiting: timers, publishing, the heartbeat, the bus's room.
 * Returns how long to wait, in ms (-1: no limit). */
static int s_prepare(struct connector *c, int64_t now)
{
    s_timers(c, now);
    outbox_pump(c->outbox);
    if (c->conn->rules_engine && mqg_child_heartbeat_due(&c->child, now)) {
        conn_rule_report(c);
    }
    int timeout = s_timeout(c, now, mqg_child_turn(&c->child, now, conn_status, c));
    if (c->child.stop && timeout > 50) {
        timeout = 50;
    }
    int bev = mqg_bus_events(c->bus);
    if ((bev & MQG_BUS_OUT) && feed_pending(c->feed)) {
        s_flush_router(c); /* the pipe to the router has room again */
    }
    if ((bev & MQG_BUS_IN) && !s_bus_paused(c)) {
        timeout = 0;
    }
    return timeout;
}

/* Wait at most timeout ms (paho's events: not before link_quiet_until) and dispatch what is
 * ready. Returns 0, or -1 when poll failed (the connector exits). */
static int s_wait_and_dispatch(struct connector *c, int timeout)
{
    int64_t wait_us = (int64_t)timeout * 1000;
    int64_t quiet = c->link_quiet_until - mqg_now_us();
    if (quiet > 0 && quiet < wait_us) {
        wait_us = quiet;
    }
    int fds[2] = {quiet > 0 ? -1 : mqtt_link_fd(c->link), mqg_bus_fd(c->bus)};
    bool ready[2];
    int err = mqg_child_wait(&c->child, fds, ready, 2, timeout < 0 ? -1 : wait_us);
    if (err < 0) {
        log_error("CONNECTOR-POLL", "poll: %s", strerror(-err));
        return -1;
    }
    if (ready[0]) {
        s_handle_link(c);
    }
    if (c->child.update) {
        conn_journal_update(c);
    }
    s_handle_bus(c);
    return 0;
}

/* ---- set-up ---- */

/* The journal of this connection (journal on, conn_journal.c) and the feed towards the router.
 * Returns 0 or an exit code after a logged error (conn_journal_open). */
static int s_setup_journal(struct connector *c, int idx)
{
    const struct mqg_model *m = &c->child.model;
    c->keys = calloc(m->n_conns ? m->n_conns : 1, sizeof(*c->keys));
    if (!c->keys) {
        return MQG_EXIT_TRANSIENT;
    }
    for (size_t i = 0; i < m->n_conns; i++) {
        c->keys[i] = m->conns[i].key;
    }
    c->n_keys = m->n_conns;
    int rc = c->child.state_dir[0] ? conn_journal_open(c) : 0;
    if (rc != 0) {
        return rc;
    }
    size_t maxn = (size_t)c->child.queue_max > (size_t)c->conn->max_buffered
                      ? (size_t)c->child.queue_max
                      : (size_t)c->conn->max_buffered;
    struct feed_opts fo = {.journal = c->journal,
                           .self = (uint16_t)idx,
                           .keys = c->keys,
                           .n_conns = m->n_conns,
                           .max_count = maxn,
                           /* without the journal, in messages only: the source
                            * broker already has its PUBACK, a byte bound would lose */
                           .max_bytes = c->journal ? c->child.queue_max_bytes : 0,
                           .send = s_send,
                           .ctx = c,
                           .persist_ms = S_PERSIST_MS};
    return feed_new(&fo, &c->feed) == 0 ? 0 : MQG_EXIT_TRANSIENT;
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
    if ((rc = s_setup_journal(c, idx)) != 0) {
        return rc;
    }
    struct outbox_opts oo = {.max_count = (size_t)c->child.queue_max,
                             .max_bytes = c->child.queue_max_bytes,
                             .max_inflight = c->child.max_inflight,
                             .protocol_version = c->conn->protocol_version,
                             .report_ms = S_REPORT_MS,
                             .publish = s_publish,
                             .ctx = c,
                             .tracking = c->child.state_dir[0] != '\0',
                             .n_conns = m->n_conns};
    if (outbox_new(&oo, &c->outbox) != 0) {
        return MQG_EXIT_TRANSIENT;
    }
    mqg_ratelog_init(&c->invalid, S_REPORT_MS);
    /* reconnectPeriod with jitter, or connectionStrategy (mqg_backoff_init_conn) */
    mqg_backoff_init_conn(&c->backoff, c->conn, mqg_seed());
    rc = mqtt_link_new(c->conn, c->child.rundir, c->child.max_inflight, &c->link);
    if (rc != 0) {
        return rc == -EINVAL ? MQG_EXIT_CONFIG : MQG_EXIT_TRANSIENT;
    }
    mqtt_link_set_model(c->link, m);
    mqtt_link_on_arrive(c->link, conn_journal_arrive, c);
    c->incarnation = mqg_seed() | 1;
    if (mqg_bus_connect(c->child.bus, c->child.key, MQG_BUS_HWM, &c->bus) != 0) {
        return MQG_EXIT_TRANSIENT;
    }
    return 0;
}

static void s_free(struct connector *c)
{
    mqtt_link_destroy(&c->link, 500); /* paho's threads end: nothing appends any more */
    conn_rule_report_free(c);
    mqg_bus_destroy(&c->bus);
    mqg_subs_free(c->subs, c->n_subs);
    if (c->feed) {
        feed_persist(c->feed, INT64_MAX);
    }
    feed_destroy(&c->feed);
    if (c->journal) {
        mqg_journal_sync(c->journal);
    }
    mqg_journal_destroy(&c->journal);
    free(c->keys);
    if (c->keys_model) {
        mqg_model_free(c->keys_model);
        free(c->keys_model);
    }
    outbox_destroy(&c->outbox);
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

    for (;;) {
        int64_t now = mqg_now_ms();
        if (s_stop_due(&c, now) || s_wait_and_dispatch(&c, s_prepare(&c, now)) != 0) {
            break;
        }
    }
    rc = c.child.exit_code;
    /* the last confirmations (ACK DONE) of what the broker took: if they were lost with the
     * socket, the router would give those messages to the next connector again (duplicates) */
    s_tell_router(&c);
    mqg_bus_set_linger(c.bus, S_LINGER_MS);
    struct outbox_stats ob;
    outbox_stats(c.outbox, &ob);
    log_info("CONNECTOR-DOWN", "stopping: in=%llu out=%llu dropped=%llu queued=%zu",
             (unsigned long long)c.n_in, (unsigned long long)ob.out,
             (unsigned long long)(c.n_dropped + ob.dropped), ob.queued);
    s_free(&c);
    return rc;
}
