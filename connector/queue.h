/* queue — a bounded, ordered queue of messages (a growable ring) with sequence numbers.
 *
 * The storage under the connector's outbound queue (outbox.c, which holds the policy: what is
 * published when, what a result means, what is dropped). Each item gets the next sequence
 * number (one more than the last, modulo 2^64), so a late result finds its item (or learns it
 * is gone) in O(1), also across the wrap. Items own one allocation holding topic
 * (NUL-terminated) and payload. Single-threaded.
 */
#ifndef CONNECTOR_QUEUE_H
#define CONNECTOR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cq_state { CQ_UNSENT = 0, CQ_INFLIGHT = 1, CQ_DONE = 2 };

struct cq_item {
    uint64_t seq;
    char *topic; /* NUL-terminated; start of the item's allocation */
    size_t topic_len;
    void *payload; /* inside the same allocation */
    size_t payload_len;
    uint8_t qos;
    uint8_t retain;
    uint8_t state; /* enum cq_state; the queue itself sets only CQ_UNSENT */
    uint8_t tries; /* for the user; 0 when pushed */
    /* for the user, 0 when pushed: a tracked copy's source connection, its seq there, and
     * the router generation it came from (docs/delivery.md) */
    bool tracked;
    uint16_t src;
    uint32_t rgen;
    uint64_t jseq;
};

struct cq {
    struct cq_item *ring;
    size_t cap;  /* power of two, 0 before the first push */
    size_t head; /* index of the oldest item */
    size_t count;
    size_t bytes;      /* topic + payload bytes of the items held */
    size_t max;        /* bound in items */
    size_t max_bytes;  /* bound in bytes (SIZE_MAX after init) */
    uint64_t next_seq; /* seq of the next pushed item */
};

/* An empty queue bounded to max items (0 means 1) and no byte bound; set max_bytes after. */
void cq_init(struct cq *q, size_t max);
void cq_free(struct cq *q);

/* Holds max items, or at least max_bytes bytes. */
bool cq_full(const struct cq *q);

/* Whether one more item of `bytes` bytes would go beyond a bound: the caller drops the oldest
 * (cq_pop) while this holds and the queue is not empty. */
bool cq_over(const struct cq *q, size_t bytes);

/* Append a copy (the bounds are the caller's: see cq_over). Returns 0 or -ENOMEM. */
int cq_push(struct cq *q, const char *topic, size_t topic_len, const void *payload,
            size_t payload_len, int qos, bool retain);

/* i-th item from the oldest (i < count), or NULL. Inline: on the path of every message. */
static inline struct cq_item *cq_at(const struct cq *q, size_t i)
{
    if (i >= q->count) {
        return NULL;
    }
    return &q->ring[(q->head + i) & (q->cap - 1)];
}

/* The item with this seq if it is still queued, else NULL. *index (may be NULL) gets its
 * position. Inline: on the path of every publish result. */
static inline struct cq_item *cq_find(const struct cq *q, uint64_t seq, size_t *index)
{
    if (!q->count) {
        return NULL;
    }
    /* the distance modulo 2^64: an older seq is very far ahead, also across the wrap */
    uint64_t first = q->ring[q->head].seq;
    if (seq - first >= q->count) {
        return NULL;
    }
    size_t i = (size_t)(seq - first);
    if (index) {
        *index = i;
    }
    return cq_at(q, i);
}

/* Remove the oldest item. */
void cq_pop(struct cq *q);

#endif
