/* mqg_bus — ZeroMQ adapter (see mqg_bus.h). One context per process, created with the first
 * bus and terminated with the last. Receiving validates every message with mqg_wire before
 * handing it out; malformed ones are dropped here and reported as -EPROTO. */
#include "mqg_bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "mqg_log.h"

struct mqg_bus {
    void *sock;
    bool is_router;
    int fd;
};

/* frames of one received message: [peer] header topic payload (+ spares to drain extras) */
#define S_MAX_FRAMES 5
struct s_frames {
    zmq_msg_t f[S_MAX_FRAMES];
    int n;
};

static void *s_ctx;
static int s_ctx_users;

static void *s_ctx_get(void)
{
    if (!s_ctx) {
        s_ctx = zmq_ctx_new();
        if (s_ctx) {
            zmq_ctx_set(s_ctx, ZMQ_IO_THREADS, 1);
        }
    }
    if (s_ctx) {
        s_ctx_users++;
    }
    return s_ctx;
}

static void s_ctx_put(void)
{
    if (s_ctx && --s_ctx_users == 0) {
        zmq_ctx_term(s_ctx);
        s_ctx = NULL;
    }
}

static int s_new(int type, int hwm, struct mqg_bus **out)
{
    void *ctx = s_ctx_get();
    if (!ctx) {
        return -ENOMEM;
    }
    struct mqg_bus *b = calloc(1, sizeof(*b));
    if (!b) {
        s_ctx_put();
        return -ENOMEM;
    }
    b->sock = zmq_socket(ctx, type);
    if (!b->sock) {
        int e = errno;
        free(b);
        s_ctx_put();
        return -e;
    }
    int zero = 0;
    zmq_setsockopt(b->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(b->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(b->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    int bufsz = 4 * 1024 * 1024;
    zmq_setsockopt(b->sock, ZMQ_SNDBUF, &bufsz, sizeof(bufsz));
    zmq_setsockopt(b->sock, ZMQ_RCVBUF, &bufsz, sizeof(bufsz));
    int ivl = 100;
    zmq_setsockopt(b->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    int ivl_max = 1000;
    zmq_setsockopt(b->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    size_t fdlen = sizeof(b->fd);
    zmq_getsockopt(b->sock, ZMQ_FD, &b->fd, &fdlen);
    *out = b;
    return 0;
}

int mqg_bus_bind(const char *endpoint, int hwm, struct mqg_bus **out)
{
    struct mqg_bus *b;
    int rc = s_new(ZMQ_ROUTER, hwm, &b);
    if (rc < 0) {
        return rc;
    }
    b->is_router = true;
    int one = 1;
    zmq_setsockopt(b->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    /* a restarted connector reuses its routing id: hand it over to the new connection */
    zmq_setsockopt(b->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    if (zmq_bind(b->sock, endpoint) != 0) {
        int e = errno;
        log_error("BUS-BIND", "cannot bind %s: %s", endpoint, zmq_strerror(e));
        mqg_bus_destroy(&b);
        return -e;
    }
    *out = b;
    return 0;
}

int mqg_bus_connect(const char *endpoint, const char *identity, int hwm, struct mqg_bus **out)
{
    struct mqg_bus *b;
    int rc = s_new(ZMQ_DEALER, hwm, &b);
    if (rc < 0) {
        return rc;
    }
    zmq_setsockopt(b->sock, ZMQ_ROUTING_ID, identity, strlen(identity));
    if (zmq_connect(b->sock, endpoint) != 0) {
        int e = errno;
        log_error("BUS-CONNECT", "cannot connect %s: %s", endpoint, zmq_strerror(e));
        mqg_bus_destroy(&b);
        return -e;
    }
    *out = b;
    return 0;
}

void mqg_bus_set_linger(struct mqg_bus *b, int ms)
{
    if (b && b->sock) {
        zmq_setsockopt(b->sock, ZMQ_LINGER, &ms, sizeof(ms));
    }
}

void mqg_bus_destroy(struct mqg_bus **pb)
{
    if (!pb || !*pb) {
        return;
    }
    struct mqg_bus *b = *pb;
    if (b->sock) {
        zmq_close(b->sock);
        s_ctx_put();
    }
    free(b);
    *pb = NULL;
}

int mqg_bus_fd(const struct mqg_bus *b)
{
    return b->fd;
}

int mqg_bus_events(const struct mqg_bus *b)
{
    int ev = 0;
    size_t len = sizeof(ev);
    if (zmq_getsockopt(b->sock, ZMQ_EVENTS, &ev, &len) != 0) {
        return 0;
    }
    return ((ev & ZMQ_POLLIN) ? MQG_BUS_IN : 0) | ((ev & ZMQ_POLLOUT) ? MQG_BUS_OUT : 0);
}

static void s_frames_close(struct s_frames *fr)
{
    for (int i = 0; i < fr->n; i++) {
        zmq_msg_close(&fr->f[i]);
    }
    fr->n = 0;
}

int mqg_bus_recv(struct mqg_bus *b, struct mqg_bus_msg *m)
{
    struct s_frames *fr = malloc(sizeof(*fr));
    if (!fr) {
        return -ENOMEM;
    }
    fr->n = 0;
    int more = 1;
    int total = 0;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, b->sock, total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = errno;
            zmq_msg_close(&tmp);
            s_frames_close(fr);
            free(fr);
            return e == EAGAIN ? -EAGAIN : -e;
        }
        more = zmq_msg_more(&tmp);
        if (fr->n < S_MAX_FRAMES) {
            fr->f[fr->n++] = tmp;
        } else {
            zmq_msg_close(&tmp);
        }
        total++;
    }
    int base = b->is_router ? 1 : 0;
    int nf = total - base;
    const void *ptrs[3] = {NULL, NULL, NULL};
    size_t lens[3] = {0, 0, 0};
    if (nf < 1 || nf > 3 || total > S_MAX_FRAMES) {
        s_frames_close(fr);
        free(fr);
        return -EPROTO;
    }
    for (int i = 0; i < nf; i++) {
        ptrs[i] = zmq_msg_data(&fr->f[base + i]);
        lens[i] = zmq_msg_size(&fr->f[base + i]);
    }
    memset(m, 0, sizeof(*m));
    if (mqg_wire_validate((size_t)nf, ptrs, lens, &m->hdr) != 0) {
        s_frames_close(fr);
        free(fr);
        return -EPROTO;
    }
    if (b->is_router) {
        m->peer = zmq_msg_data(&fr->f[0]);
        m->peer_len = zmq_msg_size(&fr->f[0]);
    }
    if (nf == 2) { /* BATCH, REPLAY_BATCH, ACK, MARKS */
        m->body = ptrs[1];
        m->body_len = lens[1];
    } else if (nf == 3) {
        m->topic = ptrs[1];
        m->topic_len = lens[1];
        m->payload = ptrs[2];
        m->payload_len = lens[2];
    }
    m->frames = fr;
    return 0;
}

int mqg_bus_msg_next(const struct mqg_bus_msg *m, size_t *off, struct mqg_wire_rec *rec)
{
    if (m->hdr.kind == MQG_MSG_BATCH || m->hdr.kind == MQG_MSG_REPLAY_BATCH) {
        return mqg_wire_rec_next(m->body, m->body_len, off, rec) == 1 ? 1 : 0;
    }
    if (m->hdr.kind != MQG_MSG_DATA || *off) {
        return 0;
    }
    rec->flags = m->hdr.flags;
    rec->qos = m->hdr.qos;
    rec->topic = m->topic;
    rec->topic_len = m->topic_len;
    rec->payload = m->payload;
    rec->payload_len = m->payload_len;
    rec->src = 0;
    rec->seq = 0;
    *off = 1;
    return 1;
}

int mqg_bus_msg_next_ack(const struct mqg_bus_msg *m, size_t *off, struct mqg_wire_ack *a)
{
    if (m->hdr.kind != MQG_MSG_ACK && m->hdr.kind != MQG_MSG_MARKS) {
        return 0;
    }
    return mqg_wire_ack_next(m->body, m->body_len, off, a) == 1 ? 1 : 0;
}

void mqg_bus_msg_close(struct mqg_bus_msg *m)
{
    if (m->frames) {
        s_frames_close(m->frames);
        free(m->frames);
        m->frames = NULL;
    }
}

static int s_send_head(struct mqg_bus *b, const char *peer, size_t peer_len,
                       const struct mqg_wire_hdr *h, bool more)
{
    if (b->is_router) {
        if (zmq_send(b->sock, peer, peer_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            return -errno;
        }
    }
    uint8_t hdr[MQG_WIRE_HDR_LEN];
    mqg_wire_hdr_encode(h, hdr);
    /* after the routing id went out, the rest of a multipart message never blocks */
    if (zmq_send(b->sock, hdr, sizeof(hdr), (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0) {
        return -errno;
    }
    return 0;
}

int mqg_bus_send_ctl(struct mqg_bus *b, const char *peer, size_t peer_len, uint8_t kind)
{
    struct mqg_wire_hdr h = {.kind = kind};
    return s_send_head(b, peer, peer_len, &h, false);
}

int mqg_bus_send_hdr(struct mqg_bus *b, const char *peer, size_t peer_len,
                     const struct mqg_wire_hdr *h)
{
    return s_send_head(b, peer, peer_len, h, false);
}

int mqg_bus_send_body(struct mqg_bus *b, const char *peer, size_t peer_len,
                      const struct mqg_wire_hdr *h, const void *body, size_t len)
{
    int rc = s_send_head(b, peer, peer_len, h, true);
    if (rc < 0) {
        return rc;
    }
    if (zmq_send(b->sock, body, len, ZMQ_DONTWAIT) < 0) {
        return -errno;
    }
    return 0;
}

int mqg_bus_send_batch(struct mqg_bus *b, const char *peer, size_t peer_len, uint64_t seq,
                       const void *body, size_t len)
{
    struct mqg_wire_hdr h = {.kind = MQG_MSG_BATCH, .seq = seq};
    return mqg_bus_send_body(b, peer, peer_len, &h, body, len);
}

/* ---- the tap (mqgate tap) ---- */

int mqg_bus_tap_bind(const char *endpoint, int hwm, struct mqg_bus **out)
{
    struct mqg_bus *b;
    int rc = s_new(ZMQ_XPUB, hwm, &b);
    if (rc < 0) {
        return rc;
    }
    int small = 256 * 1024; /* what a stopped tap holds in the kernel, besides the hwm */
    zmq_setsockopt(b->sock, ZMQ_SNDBUF, &small, sizeof(small));
    int one = 1; /* every tap's subscription comes through (the end: only the last one's) */
    zmq_setsockopt(b->sock, ZMQ_XPUB_VERBOSE, &one, sizeof(one));
    if (zmq_bind(b->sock, endpoint) != 0) {
        int e = errno;
        log_warn("TAP-BIND", "cannot bind %s: %s; mqgate tap will not work", endpoint,
                 zmq_strerror(e));
        mqg_bus_destroy(&b);
        return -e;
    }
    *out = b;
    return 0;
}

int mqg_bus_tap_connect(const char *endpoint, int hwm, struct mqg_bus **out)
{
    struct mqg_bus *b;
    int rc = s_new(ZMQ_SUB, hwm, &b);
    if (rc < 0) {
        return rc;
    }
    if (zmq_setsockopt(b->sock, ZMQ_SUBSCRIBE, "", 0) != 0 || zmq_connect(b->sock, endpoint) != 0) {
        int e = errno;
        mqg_bus_destroy(&b);
        return -e;
    }
    *out = b;
    return 0;
}

int mqg_bus_tap_changes(struct mqg_bus *b, int *joined, bool *listened)
{
    uint8_t ev[256];
    for (;;) {
        int len = zmq_recv(b->sock, ev, sizeof(ev), ZMQ_DONTWAIT);
        if (len < 0) {
            return errno == EAGAIN ? 0 : -errno;
        }
        if (len >= 1 && ev[0] == 1) {
            (*joined)++;
            *listened = true;
        } else if (len >= 1 && ev[0] == 0) {
            *listened = false;
        }
    }
}

int mqg_bus_tap_send(struct mqg_bus *b, const void *buf, size_t len)
{
    return zmq_send(b->sock, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
}

int mqg_bus_tap_recv(struct mqg_bus *b, void *buf, size_t cap, size_t *len)
{
    int n = zmq_recv(b->sock, buf, cap, ZMQ_DONTWAIT);
    if (n < 0) {
        return -errno;
    }
    *len = (size_t)n;
    return (size_t)n > cap ? -EMSGSIZE : 0;
}
