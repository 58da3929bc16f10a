/* mqg_subs — the minimal set of subscriptions a connector makes on its broker.
 *
 * Pure logic, used by the connector and `mqgate check`. Every route source on a connection
 * contributes its plain filter; a filter covered by another one is left out (its QoS raises
 * the covering filter's QoS), and two filters that overlap without either covering the other
 * are replaced by the narrowest filter covering both, so the broker never sends one message
 * twice because of overlapping subscriptions of ours.
 */
#ifndef MQG_SUBS_H
#define MQG_SUBS_H

#include <stddef.h>

#include "mqg_model.h"

struct mqg_sub {
    char *filter; /* plain filter, owned */
    int qos;
};

/* Make the set free of overlaps: remove every entry covered by another (equal filters
 * collapse into one; of two filters that cover each other the earlier stays) and merge
 * overlapping ones into their join, raising the QoS of the one kept to the maximum. Frees the
 * filters removed. Returns the new count; each kept entry stands where the first of the
 * entries it replaces stood, in their order. About linear in n (see mqg_subs.c). */
size_t mqg_subs_minimize(struct mqg_sub *subs, size_t n);

/* The minimal subscriptions of connection `conn` in model m: of the sources on it, or, for
 * the internal broker's connection (mqg_model_internal), of the internal namespace's sources.
 * Returns 0 with *out (free with mqg_subs_free) and *n set, -EINVAL if a source filter does not
 * parse, -ENOMEM. */
int mqg_subs_for_conn(const struct mqg_model *m, int conn, struct mqg_sub **out, size_t *n);

/* Called now and then during long work, so that a child process can keep its heartbeat. */
typedef void (*mqg_subs_progress_fn)(void *arg);

/* mqg_subs_for_conn, calling progress(arg) (if not NULL) at least every 256 routes and every
 * 256 filters. */
int mqg_subs_for_conn_progress(const struct mqg_model *m, int conn, mqg_subs_progress_fn progress,
                               void *arg, struct mqg_sub **out, size_t *n);

void mqg_subs_free(struct mqg_sub *subs, size_t n);

#endif
