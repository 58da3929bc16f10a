/* tap — `mqgate tap`: print, live, the messages on the internal topics of a running gateway
 * whose topic matches one of the given MQTT filters (the router's side is in router.c, the
 * frames and lines in common/mqg_tap.h). Used by main.c.
 */
#ifndef SUPERVISOR_TAP_H
#define SUPERVISOR_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_settings.h"

struct tap_opts {
    char *const *filters; /* MQTT filters, at least one */
    size_t n_filters;
    uint64_t count;   /* --count: exit after this many messages; 0: no limit */
    size_t max_bytes; /* --max-bytes: of each payload shown */
    bool json;        /* --json: one JSON object per line */
};

/* Tap the gateway of settings s until --count messages were shown, SIGINT/SIGTERM, or the
 * gateway stops. Returns the exit code: 0; 1 when no gateway runs (said on standard error) or
 * it stopped; 2 for a filter that is not one. */
int supervisor_tap(const struct mqg_settings *s, const struct tap_opts *o);

#endif
