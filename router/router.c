/* router — internal bus process (see router.h).
 *
 * One poll loop: control channel, signals, the ROUTER socket. Which routes a message fires
 * and the copies it makes are decided by mqg_route (the tries per namespace, named wildcards,
 * internal chains); this file takes the messages off the socket, hands each to
 * mqg_route_dispatch, queues the copies per target connection and sends them, and logs what
 * routing reports. Messages a connector cannot take right now (not connected, or its pipe
 * full) wait in a bounded per-target queue, in order; a connected target that cannot keep up
 * pauses the input (flow control). */
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
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_route.h"
#include "mqg_rstats.h"

#define R_RETRY_MS 20
/* A connection whose sends find no connector for this long counts as not connected. ZeroMQ
 * also answers "no such peer" for a moment after a full pipe drains, so one answer is not
 * enough; a restarting connector takes longer than this to come back. */
#define R_UNREACHABLE_MS 1000
/* Bound of one per-route counter report (mqg_rstats.h): well inside the control socket's
 * buffer, so sending it never has to wait for the supervisor. */
#define R_ROUTES_REPORT_MAX (32 * 1024)

struct s_target {
    const char *key;
    size_t key_len;
    bool enabled;        /* has a connector process */
    struct mqg_fifo out; /* copies for this connection, sent as BATCH bodies */
    bool unreachable;    /* no connector for R_UNREACHABLE_MS: copies are dropped when full */
    int64_t ok_ms;       /* last successful send (or router start) */
    bool warned_full;
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
};

/* Queue a copy routing made for connection `conn` (mqg_route_sink.deliver); s_flush sends it
 * with the others of this turn. */
static void s_deliver(void *arg, int conn, const struct mqg_wire_rec *rec)
{
    struct s_router *r = arg;
    struct s_target *t = &r->targets[conn];
    if (!t->enabled) {
        r->n_dropped++;
        return;
    }
    /* a full queue for a connected connector pauses the input (s_paused) instead of losing
     * its oldest copies; the batch being handled may overshoot the bound */
    int rc = t->unreachable ? mqg_fifo_push(&t->out, rec) : mqg_fifo_append(&t->out, rec);
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

/* Send what waits for each connection, in batches, until a connection's pipe is full or it
 * is not connected (then the rest waits for the next try). */
static void s_flush(struct s_router *r)
{
    int64_t now = r->pending ? mqg_now_ms() : 0;
    for (size_t i = 0; i < r->child.model.n_conns && r->pending; i++) {
        struct s_target *t = &r->targets[i];
        while (t->out.count) {
            size_t len, n;
            const uint8_t *body = mqg_fifo_peek(&t->out, MQG_BUS_BATCH_BYTES, &len, &n);
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
    }
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
    }
    free(r->targets);
    mqg_bus_destroy(&r->bus);
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

static void s_on_message(struct s_router *r, struct mqg_bus_msg *m)
{
    int conn = s_peer_conn(r, m->peer, m->peer_len);
    if (conn < 0) {
        r->n_malformed++;
        log_debug("ROUTER-PEER", "message from unknown peer dropped");
        return;
    }
    switch (m->hdr.kind) {
    case MQG_MSG_HELLO: {
        mqg_bus_send_ctl(r->bus, m->peer, m->peer_len, MQG_MSG_READY);
        log_debug("ROUTER-HELLO", "%s connected", r->targets[conn].key);
        break;
    }
    case MQG_MSG_DATA:
    case MQG_MSG_BATCH: {
        size_t off = 0;
        struct mqg_wire_rec rec;
        while (mqg_bus_msg_next(m, &off, &rec)) {
            r->n_in++;
            mqg_route_dispatch(r->routes, conn, &rec, &r->sink);
        }
        break;
    }
    default:
        break; /* ACK and others: nothing to do here yet */
    }
}

/* Flow control: a connected target that cannot keep up and has a full queue stops the
 * router from taking new messages (they wait in the sources' connectors), so nothing is
 * dropped while every broker is connected. A target that is not connected (its connector is
 * restarting) never stops the others: its queue drops its oldest copies. */
static bool s_paused(const struct s_router *r)
{
    for (size_t i = 0; i < r->child.model.n_conns; i++) {
        const struct s_target *t = &r->targets[i];
        if (t->enabled && !t->unreachable && mqg_fifo_full(&t->out)) {
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
    snprintf(buf, cap,
             "state=up in=%llu out=%llu queued=%zu dropped=%llu malformed=%llu "
             "unrouted=%llu render=%llu loops=%llu",
             (unsigned long long)r->n_in, (unsigned long long)r->n_out, r->pending,
             (unsigned long long)s_dropped(r), (unsigned long long)r->n_malformed,
             (unsigned long long)rc->unrouted, (unsigned long long)rc->render_failed,
             (unsigned long long)rc->loops);
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
        if ((mqg_bus_events(r.bus) & MQG_BUS_IN) && !s_paused(&r)) {
            timeout = 0;
        }
        int fd = mqg_bus_fd(r.bus);
        bool ready;
        int err = mqg_child_wait(&r.child, &fd, &ready, 1, (int64_t)timeout * 1000);
        if (err < 0) {
            log_error("ROUTER-POLL", "poll: %s", strerror(-err));
            break;
        }
        s_drain(&r);
        s_flush(&r);
    }
    rc = r.child.exit_code;
    log_info("ROUTER-DOWN", "stopping: in=%llu out=%llu dropped=%llu", (unsigned long long)r.n_in,
             (unsigned long long)r.n_out, (unsigned long long)s_dropped(&r));
    s_free(&r);
    return rc;
}
