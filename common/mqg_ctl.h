/* mqg_ctl — the control channel between the supervisor and each child process.
 *
 * A SOCK_STREAM socketpair; the child finds its end on fd 3 (MQG_CTL_FD). Each message is
 * a 4-byte big-endian length (kind + body), a 1-byte kind, then the body. Used by the
 * supervisor (one reader per child) and by mqg_child.c. Not thread-safe: one owner per end.
 */
#ifndef MQG_CTL_H
#define MQG_CTL_H

#include <stddef.h>
#include <stdint.h>

#define MQG_CTL_FD 3
#define MQG_CTL_MAX (64u * 1024u * 1024u) /* largest message accepted */

enum mqg_ctl_kind {
    MQG_CTL_CONFIG = 1,      /* supervisor -> child: encoded model (mqg_model_encode); again
                                while it runs after a reload that added connections (only
                                their keys are taken: mqg_child.update) */
    MQG_CTL_READY = 2,       /* child -> supervisor: configured and serving */
    MQG_CTL_HEARTBEAT = 3,   /* both ways every heartbeat interval; child's body = status text */
    MQG_CTL_TERM = 4,        /* supervisor -> child: stop now, cleanly */
    MQG_CTL_ROUTES = 5,      /* router -> supervisor: per-route counters (mqg_rstats.h) */
    MQG_CTL_HANDOVER = 6,    /* supervisor -> router: take no more input, deliver and have
                                confirmed what it holds (bounded), then stop (a reload) */
    MQG_CTL_LOG_LEVEL = 7,   /* supervisor -> child: body 1 byte, the new log level (MQG_LOG_*;
                                a reload changed log.level) */
    MQG_CTL_RULE_ROUTES = 8, /* rules process -> supervisor: per-route rule counters, keyed by
                                rid (mqg_rstats.h) */
};

struct mqg_ctl {
    int fd;
    uint8_t *buf;
    size_t len; /* bytes held */
    size_t off; /* bytes already handed out by mqg_ctl_next */
    size_t cap;
};

/* Start reading fd (not owned: the caller closes it). */
void mqg_ctl_init(struct mqg_ctl *c, int fd);
/* Free the buffer (not the fd). */
void mqg_ctl_free(struct mqg_ctl *c);

/* Send one message; blocking unless flags has MSG_DONTWAIT. Returns 0, -EAGAIN, -EPIPE or
 * another negative errno. */
int mqg_ctl_send(int fd, uint8_t kind, const void *body, size_t len, int flags);

/* Read what is available (fd should be non-blocking, or known readable). Returns the number
 * of bytes read (> 0), -EAGAIN, -EPIPE on end of file, or a negative errno. */
int mqg_ctl_fill(struct mqg_ctl *c);

/* Take the next complete message: returns 1 and sets kind, body and len (body valid until the
 * next fill/next call), 0 when none is complete, -EPROTO for an oversized length. */
int mqg_ctl_next(struct mqg_ctl *c, uint8_t *kind, const uint8_t **body, size_t *len);

typedef void (*mqg_ctl_cb)(uint8_t kind, const uint8_t *body, size_t len, void *arg);

/* Read all that is available and call cb for every complete message, in order. Returns 0
 * when nothing more can be read now, -EPIPE at end of file (after delivering what was
 * complete), -EPROTO for a malformed length, or another negative errno. */
int mqg_ctl_drain(struct mqg_ctl *c, mqg_ctl_cb cb, void *arg);

#endif
