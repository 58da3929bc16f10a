/* mqg_ctl — length-prefixed messages on the supervisor/child socketpair (see mqg_ctl.h). */
#include "mqg_ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

void mqg_ctl_init(struct mqg_ctl *c, int fd)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
}

void mqg_ctl_free(struct mqg_ctl *c)
{
    free(c->buf);
    c->buf = NULL;
    c->len = c->off = c->cap = 0;
}

int mqg_ctl_send(int fd, uint8_t kind, const void *body, size_t len, int flags)
{
    if (len + 1 > MQG_CTL_MAX) {
        return -EMSGSIZE;
    }
    uint32_t n = (uint32_t)(len + 1);
    uint8_t head[5] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, kind};
    struct iovec iov[2] = {{head, sizeof(head)}, {(void *)body, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    size_t total = sizeof(head) + len;
    size_t sent = 0;
    while (sent < total) {
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | (sent ? 0 : flags));
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN && sent == 0) {
                return -EAGAIN;
            }
            if (errno == EAGAIN) {
                continue; /* partially sent: finish it, the stream must stay framed */
            }
            return errno == EPIPE || errno == ECONNRESET ? -EPIPE : -errno;
        }
        sent += (size_t)w;
        /* advance the iovecs */
        size_t skip = (size_t)w;
        while (mh.msg_iovlen && skip >= mh.msg_iov[0].iov_len) {
            skip -= mh.msg_iov[0].iov_len;
            mh.msg_iov++;
            mh.msg_iovlen--;
        }
        if (mh.msg_iovlen) {
            mh.msg_iov[0].iov_base = (uint8_t *)mh.msg_iov[0].iov_base + skip;
            mh.msg_iov[0].iov_len -= skip;
        }
    }
    return 0;
}

int mqg_ctl_fill(struct mqg_ctl *c)
{
    if (c->off > 0) { /* compact what was handed out */
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->cap - c->len < 4096) {
        size_t ncap = c->cap ? c->cap * 2 : 8192;
        uint8_t *nb = realloc(c->buf, ncap);
        if (!nb) {
            return -ENOMEM;
        }
        c->buf = nb;
        c->cap = ncap;
    }
    ssize_t r;
    do {
        r = read(c->fd, c->buf + c->len, c->cap - c->len);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
        return -EPIPE;
    }
    if (r < 0) {
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    c->len += (size_t)r;
    return (int)r;
}

int mqg_ctl_next(struct mqg_ctl *c, uint8_t *kind, const uint8_t **body, size_t *len)
{
    size_t avail = c->len - c->off;
    if (avail < 5) {
        return 0;
    }
    const uint8_t *p = c->buf + c->off;
    uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (n == 0 || n > MQG_CTL_MAX) {
        return -EPROTO;
    }
    if (avail < 4 + (size_t)n) {
        return 0;
    }
    *kind = p[4];
    *body = p + 5;
    *len = n - 1;
    c->off += 4 + (size_t)n;
    return 1;
}

int mqg_ctl_drain(struct mqg_ctl *c, mqg_ctl_cb cb, void *arg)
{
    for (;;) {
        int r = mqg_ctl_fill(c);
        uint8_t kind;
        const uint8_t *body;
        size_t len;
        int n;
        while ((n = mqg_ctl_next(c, &kind, &body, &len)) == 1) {
            cb(kind, body, len, arg);
        }
        if (n < 0) {
            return n;
        }
        if (r <= 0) {
            return r == -EAGAIN ? 0 : (r == 0 ? -EPIPE : r);
        }
    }
}
