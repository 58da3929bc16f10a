/* link_evq — the links' event list (see link_evq.h). */
#include "link_evq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int link_evq_init(struct link_evq *q)
{
    memset(q, 0, sizeof(*q));
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0) {
        return -errno;
    }
    pthread_mutex_init(&q->lock, NULL);
    return 0;
}

void link_evq_free(struct link_evq *q)
{
    for (struct link_ev *ev = q->head, *nx; ev; ev = nx) {
        nx = ev->next;
        free(ev);
    }
    q->head = q->tail = NULL;
    if (q->efd >= 0) {
        close(q->efd);
        pthread_mutex_destroy(&q->lock);
    }
    q->efd = -1;
}

void link_evq_push(struct link_evq *q, struct link_ev *ev)
{
    ev->next = NULL;
    pthread_mutex_lock(&q->lock);
    bool was_empty = q->head == NULL;
    if (q->tail) {
        q->tail->next = ev;
    } else {
        q->head = ev;
    }
    q->tail = ev;
    pthread_mutex_unlock(&q->lock);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w = write(q->efd, &one, sizeof(one));
        (void)w;
    }
}

void link_evq_push_simple(struct link_evq *q, enum link_ev_kind kind, int rc, uint64_t tag,
                          const char *text)
{
    struct link_ev *ev = calloc(1, sizeof(*ev));
    if (!ev) {
        return;
    }
    ev->kind = kind;
    ev->rc = rc;
    ev->tag = tag;
    if (text) {
        snprintf(ev->text, sizeof(ev->text), "%s", text);
    }
    link_evq_push(q, ev);
}

struct link_ev *link_evq_take(struct link_evq *q)
{
    uint64_t v;
    ssize_t r = read(q->efd, &v, sizeof(v));
    (void)r;
    pthread_mutex_lock(&q->lock);
    struct link_ev *h = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    return h;
}

struct link_ev *link_ev_msg(const char *topic, size_t topic_len, const void *payload,
                            size_t payload_len, int qos, bool retain)
{
    struct link_ev *ev = malloc(sizeof(*ev) + topic_len + 1 + payload_len);
    if (!ev) {
        return NULL;
    }
    memset(ev, 0, sizeof(*ev));
    ev->kind = LEV_MSG;
    ev->topic = (char *)(ev + 1);
    memcpy(ev->topic, topic, topic_len);
    ev->topic[topic_len] = '\0';
    ev->topic_len = topic_len;
    ev->payload = ev->topic + topic_len + 1;
    if (payload_len) {
        memcpy(ev->payload, payload, payload_len);
    }
    ev->payload_len = payload_len;
    ev->qos = qos;
    ev->retain = retain;
    return ev;
}
