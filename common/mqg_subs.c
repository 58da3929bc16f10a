/* mqg_subs — minimal subscription sets (see mqg_subs.h). O(n^2) in the number of filters of
 * one connection, which is configuration-sized. */
#include "mqg_subs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_topic.h"

size_t mqg_subs_minimize(struct mqg_sub *subs, size_t n)
{
    bool *gone = calloc(n ? n : 1, sizeof(*gone));
    if (!gone) {
        return n; /* not minimal, still correct */
    }
    for (size_t i = 0; i < n; i++) {
        if (gone[i]) {
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            if (i == j || gone[j]) {
                continue;
            }
            /* equal filters: the first one stays */
            bool equal = strcmp(subs[i].filter, subs[j].filter) == 0;
            if ((equal && j > i) || (!equal && mqg_topic_covers(subs[i].filter, subs[j].filter))) {
                if (subs[j].qos > subs[i].qos) {
                    subs[i].qos = subs[j].qos;
                }
                gone[j] = true;
            }
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (gone[i]) {
            free(subs[i].filter);
        } else {
            subs[k++] = subs[i];
        }
    }
    free(gone);
    return k;
}

int mqg_subs_for_conn(const struct mqg_model *m, int conn, struct mqg_sub **out, size_t *n)
{
    size_t cap = 0;
    for (size_t r = 0; r < m->n_routes; r++) {
        cap += m->routes[r].n_sources;
    }
    struct mqg_sub *subs = calloc(cap ? cap : 1, sizeof(*subs));
    if (!subs) {
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t r = 0; r < m->n_routes; r++) {
        const struct mqg_route *rt = &m->routes[r];
        for (size_t s = 0; s < rt->n_sources; s++) {
            if (rt->sources[s].conn != conn) {
                continue;
            }
            struct mqg_pattern *p;
            if (mqg_pattern_new(rt->sources[s].filter, &p, NULL) != 0) {
                mqg_subs_free(subs, k);
                return -EINVAL;
            }
            subs[k].filter = strdup(mqg_pattern_filter(p));
            subs[k].qos = rt->sources[s].qos;
            mqg_pattern_destroy(&p);
            if (!subs[k].filter) {
                mqg_subs_free(subs, k);
                return -ENOMEM;
            }
            k++;
        }
    }
    *n = mqg_subs_minimize(subs, k);
    *out = subs;
    return 0;
}

void mqg_subs_free(struct mqg_sub *subs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(subs[i].filter);
    }
    free(subs);
}
