/* queue — bounded ordered ring of messages (see queue.h). */
#include "queue.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void cq_init(struct cq *q, size_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max ? max : 1;
    q->max_bytes = SIZE_MAX;
    q->next_seq = 1;
}

bool cq_full(const struct cq *q)
{
    return q->count >= q->max || (q->count && q->bytes >= q->max_bytes);
}

bool cq_over(const struct cq *q, size_t bytes)
{
    return q->count >= q->max || bytes > q->max_bytes || q->bytes > q->max_bytes - bytes;
}

void cq_free(struct cq *q)
{
    while (q->count) {
        cq_pop(q);
    }
    free(q->ring);
    q->ring = NULL;
    q->cap = 0;
}

static int s_grow(struct cq *q)
{
    size_t ncap = q->cap ? q->cap * 2 : 64;
    struct cq_item *nr = malloc(ncap * sizeof(*nr));
    if (!nr) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < q->count; i++) {
        nr[i] = q->ring[(q->head + i) & (q->cap - 1)];
    }
    free(q->ring);
    q->ring = nr;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

int cq_push(struct cq *q, const char *topic, size_t topic_len, const void *payload,
            size_t payload_len, int qos, bool retain)
{
    if (q->count == q->cap && s_grow(q) != 0) {
        return -ENOMEM;
    }
    char *mem = malloc(topic_len + 1 + payload_len);
    if (!mem) {
        return -ENOMEM;
    }
    memcpy(mem, topic, topic_len);
    mem[topic_len] = '\0';
    if (payload_len) {
        memcpy(mem + topic_len + 1, payload, payload_len);
    }
    struct cq_item *it = &q->ring[(q->head + q->count) & (q->cap - 1)];
    it->seq = q->next_seq++;
    it->topic = mem;
    it->topic_len = topic_len;
    it->payload = mem + topic_len + 1;
    it->payload_len = payload_len;
    it->qos = (uint8_t)qos;
    it->retain = retain ? 1 : 0;
    it->state = CQ_UNSENT;
    it->tries = 0;
    it->tracked = false;
    it->src = 0;
    it->rgen = 0;
    it->jseq = 0;
    q->count++;
    q->bytes += topic_len + payload_len;
    return 0;
}

void cq_pop(struct cq *q)
{
    if (!q->count) {
        return;
    }
    struct cq_item *it = &q->ring[q->head];
    q->bytes -= it->topic_len + it->payload_len;
    free(it->topic);
    it->topic = NULL;
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
}
