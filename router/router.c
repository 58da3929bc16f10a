/* router — internal bus process (see router.h).
 *
 * One poll loop: control channel, signals, the ROUTER socket. Routes come from the model:
 * every route source is one trie entry in the namespace of its connection (or the internal
 * namespace). A message from connector C on topic T is matched in C's trie; each route
 * matched fires once (routes are stamped per message, so overlapping filters of one route
 * never duplicate), its target topic is rendered, then it is either delivered to the target
 * connector or routed again on the internal namespace (bounded depth against loops).
 * Messages a connector cannot take right now (not connected, or its pipe full) wait in a
 * bounded per-target queue, in order.
 */
#include "router.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqg_bus.h"
#include "mqg_child.h"
#include "mqg_error.h"
#include "mqg_fifo.h"
#include "mqg_log.h"
#include "mqg_proc.h"
#include "mqg_topic.h"
#include "mqg_trie.h"

#define R_MAX_DEPTH 8
#define R_RETRY_MS 20
/* A connection whose sends find no connector for this long counts as not connected. ZeroMQ
 * also answers "no such peer" for a moment after a full pipe drains, so one answer is not
 * enough; a restarting connector takes longer than this to come back. */
#define R_UNREACHABLE_MS 1000

struct r_route {
    const struct mqg_route *def;
    uint64_t stamp; /* last message that fired this route */
    bool warned;    /* a render failure of this route was logged */
};

struct r_entry {
    struct r_route *route;
    struct mqg_pattern *pat;
    bool render; /* the target topic uses named wildcards of pat */
};

/* A shared subscription "$share/<group>/<filter>" delivers topics matching <filter>. */
static const char *s_unshare(const char *filter)
{
    if (strncmp(filter, "$share/", 7) != 0) {
        return filter;
    }
    const char *group_end = strchr(filter + 7, '/');
    return group_end ? group_end + 1 : filter;
}

struct r_target {
    const char *key;
    size_t key_len;
    bool enabled;        /* has a connector process */
    struct mqg_fifo out; /* copies for this connection, sent as BATCH bodies */
    bool unreachable;    /* no connector for R_UNREACHABLE_MS: copies are dropped when full */
    int64_t ok_ms;       /* last successful send (or router start) */
    bool warned_full;
};

struct r_matchset {
    struct r_entry **e;
    size_t n, cap;
    uint64_t stamp;
    char *topic_buf; /* rendered target topics at this depth */
};

struct router {
    struct mqg_child child;
    struct mqg_bus *bus;
    size_t n_ns;             /* 1 + number of connections */
    struct mqg_trie **tries; /* [0] internal, [1 + i] connection i */
    struct r_route *routes;
    struct r_entry *entries;
    size_t n_entries;
    struct r_target *targets; /* per connection */
    struct r_matchset ms[R_MAX_DEPTH];
    uint64_t stamp;
    char *in_topic;
    size_t pending; /* messages waiting in all target queues */
    uint64_t n_in, n_out, n_dropped, n_malformed, n_unrouted, n_loops;
};

static int s_build(struct router *r)
{
    const struct mqg_model *m = &r->child.model;
    r->n_ns = m->n_conns + 1;
    r->tries = calloc(r->n_ns, sizeof(*r->tries));
    r->routes = calloc(m->n_routes ? m->n_routes : 1, sizeof(*r->routes));
    r->targets = calloc(m->n_conns ? m->n_conns : 1, sizeof(*r->targets));
    r->in_topic = malloc(MQG_TOPIC_MAX + 1);
    size_t n_src = 0;
    for (size_t i = 0; i < m->n_routes; i++) {
        n_src += m->routes[i].n_sources;
    }
    r->entries = calloc(n_src ? n_src : 1, sizeof(*r->entries));
    if (!r->tries || !r->routes || !r->targets || !r->entries || !r->in_topic) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < r->n_ns; i++) {
        if (!(r->tries[i] = mqg_trie_new())) {
            return -ENOMEM;
        }
    }
    for (int d = 0; d < R_MAX_DEPTH; d++) {
        if (!(r->ms[d].topic_buf = malloc(MQG_TOPIC_MAX + 1))) {
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < m->n_conns; i++) {
        r->targets[i].key = m->conns[i].key;
        r->targets[i].key_len = strlen(m->conns[i].key);
        r->targets[i].enabled = m->conns[i].target_connected;
        mqg_fifo_init(&r->targets[i].out, (size_t)r->child.queue_max);
        r->targets[i].out.max_bytes = r->child.queue_max_bytes;
        r->targets[i].ok_ms = mqg_now_ms();
    }
    for (size_t i = 0; i < m->n_routes; i++) {
        const struct mqg_route *def = &m->routes[i];
        struct r_route *rr = &r->routes[i];
        if (i % 256 == 0) {
            mqg_child_progress(&r->child); /* many routes: keep the heartbeat going */
        }
        rr->def = def;
        bool placeholders = strchr(def->target.topic, '{') || strchr(def->target.topic, '$');
        for (size_t s = 0; s < def->n_sources; s++) {
            const struct mqg_source *src = &def->sources[s];
            struct r_entry *e = &r->entries[r->n_entries];
            const char *why = NULL;
            if (mqg_pattern_new(s_unshare(src->filter), &e->pat, &why) != 0) {
                log_error("ROUTE-BAD", "%s: filter '%s': %s", def->name, src->filter,
                          why ? why : "invalid");
                return -EINVAL;
            }
            r->n_entries++;
            e->route = rr;
            e->render = placeholders && mqg_pattern_has_names(e->pat);
            size_t ns = src->conn == MQG_INTERNAL ? 0 : (size_t)src->conn + 1;
            if (ns >= r->n_ns) {
                log_error("ROUTE-BAD", "%s: unknown connection %d", def->name, src->conn);
                return -EINVAL;
            }
            int rc = mqg_trie_add(r->tries[ns], mqg_pattern_filter(e->pat), e);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

static void s_free(struct router *r)
{
    for (size_t i = 0; i < r->n_entries; i++) {
        mqg_pattern_destroy(&r->entries[i].pat);
    }
    for (size_t i = 0; r->tries && i < r->n_ns; i++) {
        mqg_trie_destroy(&r->tries[i]);
    }
    for (size_t i = 0; r->targets && i < r->child.model.n_conns; i++) {
        mqg_fifo_free(&r->targets[i].out);
    }
    for (int d = 0; d < R_MAX_DEPTH; d++) {
        free(r->ms[d].e);
        free(r->ms[d].topic_buf);
    }
    free(r->tries);
    free(r->routes);
    free(r->entries);
    free(r->targets);
    free(r->in_topic);
    mqg_bus_destroy(&r->bus);
    mqg_child_free(&r->child);
}

/* Queue a copy for connection `conn`; s_flush sends it with the others of this turn. */
static void s_deliver(struct router *r, int conn, const struct mqg_wire_rec *rec)
{
    struct r_target *t = &r->targets[conn];
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
static void s_flush(struct router *r)
{
    int64_t now = r->pending ? mqg_now_ms() : 0;
    for (size_t i = 0; i < r->child.model.n_conns && r->pending; i++) {
        struct r_target *t = &r->targets[i];
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

static void s_collect(void *value, void *arg)
{
    struct r_matchset *ms = arg;
    struct r_entry *e = value;
    if (e->route->stamp == ms->stamp) {
        return; /* this route already fires for this message */
    }
    e->route->stamp = ms->stamp;
    if (ms->n == ms->cap) {
        size_t ncap = ms->cap ? ms->cap * 2 : 16;
        struct r_entry **ne = realloc(ms->e, ncap * sizeof(*ne));
        if (!ne) {
            return;
        }
        ms->e = ne;
        ms->cap = ncap;
    }
    ms->e[ms->n++] = e;
}

static void s_dispatch(struct router *r, size_t ns, const char *topic,
                       const struct mqg_wire_rec *src, int depth)
{
    if (depth >= R_MAX_DEPTH) {
        r->n_loops++;
        if (r->n_loops == 1 || r->n_loops % 10000 == 0) {
            log_warn("ROUTE-LOOP",
                     "routes chain deeper than %d hops at topic '%s': dropped, "
                     "%llu so far (check mappings that publish to topics they subscribe)",
                     R_MAX_DEPTH, topic, (unsigned long long)r->n_loops);
        }
        return;
    }
    struct r_matchset *ms = &r->ms[depth];
    ms->n = 0;
    ms->stamp = ++r->stamp;
    mqg_trie_match(r->tries[ns], topic, s_collect, ms);
    if (ms->n == 0 && depth == 0) {
        r->n_unrouted++;
    }
    for (size_t i = 0; i < ms->n; i++) {
        struct r_entry *e = ms->e[i];
        const struct mqg_target *t = &e->route->def->target;
        const char *out = t->topic;
        int len;
        if (e->render) {
            len = mqg_pattern_render(e->pat, topic, t->topic, ms->topic_buf, MQG_TOPIC_MAX + 1);
            if (len <= 0) {
                r->n_dropped++;
                if (!e->route->warned) {
                    log_warn("ROUTE-RENDER",
                             "%s: cannot build the target topic from '%s' for "
                             "'%s' (too long?): message dropped (logged once per route)",
                             e->route->def->name, t->topic, topic);
                    e->route->warned = true;
                }
                continue;
            }
            out = ms->topic_buf;
        } else {
            len = (int)strlen(out);
        }
        if (t->conn == MQG_INTERNAL) {
            s_dispatch(r, 0, out, src, depth + 1);
        } else {
            struct mqg_wire_rec copy = {.flags = t->retain ? MQG_WIRE_F_RETAIN : 0,
                                        .qos = (uint8_t)t->qos,
                                        .topic = out,
                                        .topic_len = (size_t)len,
                                        .payload = src->payload,
                                        .payload_len = src->payload_len};
            s_deliver(r, t->conn, &copy);
        }
    }
}

static int s_peer_conn(const struct router *r, const char *peer, size_t len)
{
    for (size_t i = 0; i < r->child.model.n_conns; i++) {
        if (r->targets[i].key_len == len && memcmp(r->targets[i].key, peer, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static void s_on_message(struct router *r, struct mqg_bus_msg *m)
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
            memcpy(r->in_topic, rec.topic, rec.topic_len);
            r->in_topic[rec.topic_len] = '\0';
            s_dispatch(r, (size_t)conn + 1, r->in_topic, &rec, 0);
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
static bool s_paused(const struct router *r)
{
    for (size_t i = 0; i < r->child.model.n_conns; i++) {
        const struct r_target *t = &r->targets[i];
        if (t->enabled && !t->unreachable && mqg_fifo_full(&t->out)) {
            return true;
        }
    }
    return false;
}

static void s_drain(struct router *r)
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

static void s_status(const struct router *r, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "state=up in=%llu out=%llu queued=%zu dropped=%llu malformed=%llu "
             "unrouted=%llu",
             (unsigned long long)r->n_in, (unsigned long long)r->n_out, r->pending,
             (unsigned long long)r->n_dropped, (unsigned long long)r->n_malformed,
             (unsigned long long)r->n_unrouted);
}

int router_main(int argc, char **argv)
{
    struct router r;
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
        char status[256];
        status[0] = '\0';
        if (mqg_child_heartbeat_due(&r.child, now)) {
            s_status(&r, status, sizeof(status));
        }
        int timeout = mqg_child_tick(&r.child, now, status);
        if (r.pending && timeout > R_RETRY_MS) {
            timeout = R_RETRY_MS; /* copies a connection could not take: s_flush tries again */
        }
        if ((mqg_bus_events(r.bus) & MQG_BUS_IN) && !s_paused(&r)) {
            timeout = 0;
        }
        struct pollfd p[3] = {
            {.fd = mqg_child_ctl_fd(&r.child), .events = POLLIN},
            {.fd = r.child.sigfd, .events = POLLIN},
            {.fd = mqg_bus_fd(r.bus), .events = POLLIN},
        };
        if (poll(p, 3, timeout) < 0 && errno != EINTR) {
            log_error("ROUTER-POLL", "poll: %s", strerror(errno));
            break;
        }
        if (p[0].revents) {
            mqg_child_on_ctl(&r.child);
        }
        if (p[1].revents) {
            mqg_child_on_signal(&r.child);
        }
        s_drain(&r);
        s_flush(&r);
    }
    rc = r.child.exit_code;
    log_info("ROUTER-DOWN", "stopping: in=%llu out=%llu dropped=%llu", (unsigned long long)r.n_in,
             (unsigned long long)r.n_out, (unsigned long long)r.n_dropped);
    s_free(&r);
    return rc;
}
