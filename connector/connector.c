/* connector — broker connection process (see connector.h).
 *
 * One poll loop over: the control channel, signals, the paho event fd, the router bus; each
 * turn dispatches what is ready to its s_handle_*() (or mqg_child's handler).
 * Inbound (broker -> router): messages go straight to the router unless the startup buffer
 * holds them (router routes not confirmed yet: DESIGN.md "startup buffer") or the bus pushes
 * back; then they wait, in order, in `to_router`. A message whose topic is not a valid topic
 * name is dropped alone (the router would refuse the whole batch holding it), counted and
 * logged at a bounded rate (mqg_ratelog).
 * Outbound (router -> broker): the outbox (outbox.c) queues every message, decides what is
 * published when and what each result means; this file hands it the messages, paho's results
 * and the connection's ups and downs, and stops reading the bus while it is full.
 * Reconnects use backoff with jitter from reconnectPeriod; each state change is logged once.
 */
#include "connector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqg_backoff.h"
#include "mqg_bus.h"
#include "mqg_child.h"
#include "mqg_error.h"
#include "mqg_fifo.h"
#include "mqg_kv.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_ratelog.h"
#include "mqg_subs.h"
#include "mqg_text.h"
#include "mqg_topic.h"
#include "mqtt_link.h"
#include "outbox.h"

#define S_HELLO_MS 500
#define S_DRAIN_MS 1500
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

enum s_state { S_DOWN, S_CONNECTING, S_SUBSCRIBING, S_UP };
static const char *const s_state_names[] = {"down", "connecting", "subscribing", "up"};

struct s_connector {
    struct mqg_child child;
    const struct mqg_connection *conn;
    struct mqtt_link *link;
    struct mqg_bus *bus;
    struct mqg_sub *subs;
    size_t n_subs;
    enum s_state state; /* S_SUBSCRIBING and S_UP: the outbox is connected */
    struct mqg_backoff backoff;
    int64_t reconnect_at; /* when S_DOWN: next attempt */
    int failures;         /* failed attempts (and short-lived connections) since the last
                           * connection that lasted S_STABLE_MS */
    int short_lived;      /* connections in a row that ended within S_STABLE_MS */
    bool again;           /* the last attempt ended in such a connection (no connect failed
                           * since): its successor is logged at DEBUG */
    int64_t up_at;        /* when the current connection came up; 0 when there is none */
    bool settled;         /* the current connection has lasted S_STABLE_MS */
    bool was_up;          /* connected at least once */
    bool router_ready;
    int64_t hello_at;
    bool holding; /* startup buffer active */
    int64_t hold_until;
    int64_t stop_at; /* stopping: drain the outbox until then; 0 before */
    struct mqg_fifo to_router;
    struct outbox *outbox;
    uint64_t seq;                          /* header sequence numbers towards the router */
    int64_t link_quiet_until;              /* us: paho events are not looked at before */
    uint64_t n_in, n_dropped, n_malformed; /* n_dropped: inbound; the outbox counts its own */
    uint64_t n_dropped_in;                 /* overflows of to_router */
    struct mqg_ratelog invalid; /* from the broker with an invalid topic, counted in .total */
    uint64_t n_rx, n_rx_bytes;  /* received from the broker (payload bytes), before any check */
    uint64_t n_connects;        /* connections made (CONNACKs) */
    char last_error[320];       /* the last failure of the connection, for the status */
};

/* ---- towards the router ---- */

/* Send what waits for the router, in batches, while the bus takes them. */
static void s_flush_router(struct s_connector *c)
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

static void s_release(struct s_connector *c, const char *why)
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

/* The summaries that are due (see S_REPORT_MS): ours, then the outbox's. */
static void s_report(struct s_connector *c, int64_t now)
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
static void s_on_broker_message(struct s_connector *c, struct link_ev *ev)
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
    int rc = mqg_fifo_push(&c->to_router, &rec);
    if (rc < 0) {
        c->n_dropped++;
        log_warn("IN-DROP", "message on '%s' dropped: %s", ev->topic, strerror(-rc));
    } else if (rc > 0) {
        c->n_dropped += (uint64_t)rc;
        if (mqg_ratelog_tally(&c->n_dropped_in, (uint64_t)rc)) {
            log_warn("IN-DROP",
                     "queue towards the router is full (%zu): dropped %llu oldest messages so far",
                     c->to_router.max, (unsigned long long)c->n_dropped_in);
        }
    }
    if (c->holding && c->to_router.count >= (size_t)c->conn->max_buffered) {
        s_release(c, "maxBufferedMessages reached");
    }
}

/* ---- towards the broker ---- */

/* The outbox's publish function. */
static int s_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                     bool retain, uint64_t tag, bool notify)
{
    struct s_connector *c = ctx;
    return mqtt_link_publish(c->link, topic, payload, len, qos, retain, tag, notify);
}

/* Connected, and as many messages queued for the broker as allowed: read nothing more from
 * the router (flow control; see outbox_full). */
static bool s_bus_paused(const struct s_connector *c)
{
    return outbox_full(c->outbox);
}

/* ---- connection state ---- */

static void s_schedule_reconnect(struct s_connector *c, int64_t now)
{
    uint32_t d = mqg_backoff_next(&c->backoff);
    c->reconnect_at = now + d;
    c->state = S_DOWN;
}

static void s_connect(struct s_connector *c)
{
    c->state = S_CONNECTING;
    log_debug("CONN-TRY", "connecting to %s", c->conn->uri);
    mqtt_link_connect(c->link); /* failure arrives as an event */
}

static void s_on_connected(struct s_connector *c, struct link_ev *ev, int64_t now)
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
        c->hold_until = mqg_now_ms() + c->conn->buffer_window_ms;
    }
    c->state = S_SUBSCRIBING;
    outbox_connected(c->outbox, ev->max_packet);
    mqtt_link_subscribe(c->link, c->subs, c->n_subs);
}

/* The connection has lasted S_STABLE_MS: a success, the backoff starts over; after a series
 * of short-lived ones this is the recovery, at NOTICE. */
static void s_check_settled(struct s_connector *c, int64_t now)
{
    if (c->state < S_SUBSCRIBING || c->settled || now - c->up_at < S_STABLE_MS) {
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

static void s_on_connect_failed(struct s_connector *c, struct link_ev *ev, int64_t now)
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
static void s_on_lost(struct s_connector *c, struct link_ev *ev, int64_t now)
{
    int64_t lasted = c->up_at ? now - c->up_at : 0;
    bool short_lived = c->up_at && !c->settled;
    const char *why = ev->text[0] ? ev->text : "unknown cause";
    snprintf(c->last_error, sizeof(c->last_error), "connection lost: %s", why);
    outbox_lost(c->outbox);
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

static void s_on_subscribed(struct s_connector *c, struct link_ev *ev)
{
    if (c->state != S_SUBSCRIBING) {
        return;
    }
    c->state = S_UP;
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

static void s_on_subscribe_failed(struct s_connector *c, struct link_ev *ev)
{
    if (c->state != S_SUBSCRIBING) {
        return;
    }
    c->state = S_UP;
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

static void s_on_link_event(struct s_connector *c, struct link_ev *ev, int64_t now)
{
    switch (ev->kind) {
    case LEV_MSG:
        s_on_broker_message(c, ev);
        break;
    case LEV_CONNECTED:
        s_on_connected(c, ev, now);
        break;
    case LEV_CONNECT_FAILED:
        if (c->state == S_CONNECTING) {
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
static void s_handle_link(struct s_connector *c)
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

/* Read from the router, at most 256 messages a turn, while the outbox takes them. */
static void s_read_bus(struct s_connector *c)
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
                outbox_push(c->outbox, &rec); /* a drop is counted and logged there */
            }
        } else if (m.hdr.kind == MQG_MSG_READY && !c->router_ready) {
            c->router_ready = true;
            log_debug("ROUTER-READY", "router routes are ready");
            s_release(c, "router ready");
        }
        mqg_bus_msg_close(&m);
    }
}

/* The bus, every turn: what the router sent, then what waits for the router. */
static void s_handle_bus(struct s_connector *c)
{
    s_read_bus(c);
    if (c->to_router.count && !c->holding) {
        s_flush_router(c);
    }
}

/* What the supervisor's status, /metrics and /health need besides the counters: appended to
 * the status text in buf (mqg_kv; the keys are listed in docs/architecture.md §8.1). */
static void s_status_ops(const struct s_connector *c, const struct outbox_stats *ob, char *buf,
                         size_t cap)
{
    size_t off = strlen(buf);
    int64_t pings = mqtt_link_pingresps(c->link);
    int n = snprintf(
        buf + off, cap - off, " rx=%llu rx_bytes=%llu out_bytes=%llu overflow=%llu reconnects=%llu",
        (unsigned long long)c->n_rx, (unsigned long long)c->n_rx_bytes,
        (unsigned long long)ob->out_bytes, (unsigned long long)(c->n_dropped_in + ob->overflow),
        (unsigned long long)(c->n_connects ? c->n_connects - 1 : 0));
    off = n > 0 && (size_t)n < cap - off ? off + (size_t)n : cap - 1;
    if (pings >= 0 && off < cap - 1) {
        n = snprintf(buf + off, cap - off, " pings=%lld", (long long)pings);
        off = n > 0 && (size_t)n < cap - off ? off + (size_t)n : cap - 1;
    }
    if (c->last_error[0] && off + 8 < cap) {
        memcpy(buf + off, " error=", 7);
        mqg_kv_quote(buf + off + 7, cap - off - 7, c->last_error);
    }
}

static void s_status(const void *arg, char *buf, size_t cap)
{
    const struct s_connector *c = arg;
    struct outbox_stats ob;
    outbox_stats(c->outbox, &ob);
    snprintf(buf, cap,
             "state=%s in=%llu out=%llu dropped=%llu malformed=%llu queued=%zu "
             "buffered=%zu inflight=%d invalid=%llu badtopic=%llu toolarge=%llu",
             s_state_names[c->state], (unsigned long long)c->n_in, (unsigned long long)ob.out,
             (unsigned long long)(c->n_dropped + ob.dropped), (unsigned long long)c->n_malformed,
             ob.queued, c->to_router.count, ob.inflight, (unsigned long long)c->invalid.total,
             (unsigned long long)ob.badtopic, (unsigned long long)ob.toolarge);
    s_status_ops(c, &ob, buf, cap);
}

static int s_timeout(struct s_connector *c, int64_t now, int timeout)
{
    if (c->state == S_DOWN) {
        int64_t d = c->reconnect_at - now;
        timeout = d < timeout ? (int)(d < 0 ? 0 : d) : timeout;
    }
    if (c->holding) {
        int64_t d = c->hold_until - now;
        timeout = d < timeout ? (int)(d < 0 ? 0 : d) : timeout;
    }
    if (c->state >= S_SUBSCRIBING && !c->settled) {
        int64_t d = c->up_at + S_STABLE_MS - now;
        timeout = d < timeout ? (int)(d < 0 ? 0 : d) : timeout;
    }
    if (!c->router_ready && timeout > S_HELLO_MS) {
        timeout = S_HELLO_MS;
    }
    if (c->to_router.count && !c->holding && timeout > 10) {
        timeout = 10;
    }
    return timeout;
}

static void s_timers(struct s_connector *c, int64_t now)
{
    if (c->state == S_DOWN && now >= c->reconnect_at) {
        s_connect(c);
    }
    s_check_settled(c, now);
    if (c->holding && now >= c->hold_until) {
        s_release(c, "messageBufferWindowMs passed");
    }
    if (!c->router_ready && now >= c->hello_at) {
        mqg_bus_send_ctl(c->bus, NULL, 0, MQG_MSG_HELLO);
        c->hello_at = now + S_HELLO_MS;
    }
    s_report(c, now);
}

/* Asked to stop: finish what the broker can still take, briefly. True when the loop ends. */
static bool s_stop_due(struct s_connector *c, int64_t now)
{
    if (!c->child.stop) {
        return false;
    }
    if (!c->stop_at) {
        c->stop_at = now + S_DRAIN_MS;
    }
    return c->state < S_SUBSCRIBING || outbox_queued(c->outbox) == 0 || now >= c->stop_at;
}

/* The work of a turn before waiting: timers, publishing, the heartbeat, the bus's room.
 * Returns how long to wait, in ms (-1: no limit). */
static int s_prepare(struct s_connector *c, int64_t now)
{
    s_timers(c, now);
    outbox_pump(c->outbox);
    int timeout = s_timeout(c, now, mqg_child_turn(&c->child, now, s_status, c));
    if (c->child.stop && timeout > 50) {
        timeout = 50;
    }
    int bev = mqg_bus_events(c->bus);
    if ((bev & MQG_BUS_OUT) && c->to_router.count && !c->holding) {
        s_flush_router(c); /* the pipe to the router has room again */
    }
    if ((bev & MQG_BUS_IN) && !s_bus_paused(c)) {
        timeout = 0;
    }
    return timeout;
}

/* Wait at most timeout ms (paho's events: not before link_quiet_until) and dispatch what is
 * ready. Returns 0, or -1 when poll failed (the connector exits). */
static int s_wait_and_dispatch(struct s_connector *c, int timeout)
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
    s_handle_bus(c);
    return 0;
}

/* ---- set-up ---- */

/* Long set-up work keeps the heartbeat going (mqg_child_progress). */
static void s_progress(void *child)
{
    mqg_child_progress(child);
}

static int s_setup(struct s_connector *c)
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
    struct outbox_opts oo = {.max_count = (size_t)c->child.queue_max,
                             .max_bytes = c->child.queue_max_bytes,
                             .max_inflight = c->child.max_inflight,
                             .protocol_version = c->conn->protocol_version,
                             .report_ms = S_REPORT_MS,
                             .publish = s_publish,
                             .ctx = c};
    if (outbox_new(&oo, &c->outbox) != 0) {
        return MQG_EXIT_TRANSIENT;
    }
    mqg_ratelog_init(&c->invalid, S_REPORT_MS);
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

static void s_free(struct s_connector *c)
{
    mqtt_link_destroy(&c->link, 500);
    mqg_bus_destroy(&c->bus);
    mqg_subs_free(c->subs, c->n_subs);
    mqg_fifo_free(&c->to_router);
    outbox_destroy(&c->outbox);
    mqg_child_free(&c->child);
}

int connector_main(int argc, char **argv)
{
    struct s_connector c;
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
    struct outbox_stats ob;
    outbox_stats(c.outbox, &ob);
    log_info("CONNECTOR-DOWN", "stopping: in=%llu out=%llu dropped=%llu queued=%zu",
             (unsigned long long)c.n_in, (unsigned long long)ob.out,
             (unsigned long long)(c.n_dropped + ob.dropped), ob.queued);
    s_free(&c);
    return rc;
}
