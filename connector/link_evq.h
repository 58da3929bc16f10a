/* link_evq — the events a link hands to the connector's loop (mqtt_link.h): a mutex-protected
 * list that any thread appends to, and an eventfd that wakes the loop when the list becomes
 * non-empty. Shared by the two links: paho's (connector/mqtt_link.c, paho's threads push) and
 * the rules engine's (rules/rules_link.c, its worker pushes).
 */
#ifndef LINK_EVQ_H
#define LINK_EVQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt_link.h"

struct link_evq {
    pthread_mutex_t lock;
    int efd; /* readable while events wait */
    struct link_ev *head, *tail;
};

/* 0, or -errno (no eventfd). */
int link_evq_init(struct link_evq *q);

/* Free the events still queued, close the eventfd. */
void link_evq_free(struct link_evq *q);

/* Append ev (taken over); any thread. */
void link_evq_push(struct link_evq *q, struct link_ev *ev);

/* Append an event without message (kind, rc, tag, text: NULL for none); lost when out of
 * memory, as paho's own events would be. */
void link_evq_push_simple(struct link_evq *q, enum link_ev_kind kind, int rc, uint64_t tag,
                          const char *text);

/* All queued events, oldest first (mqtt_link_take). */
struct link_ev *link_evq_take(struct link_evq *q);

/* A LEV_MSG event in one allocation (topic NUL-terminated and payload inside it), or NULL. */
struct link_ev *link_ev_msg(const char *topic, size_t topic_len, const void *payload,
                            size_t payload_len, int qos, bool retain);

#endif
