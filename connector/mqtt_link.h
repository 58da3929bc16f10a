/* mqtt_link — the connector's one broker connection (with paho_load.c, which loads paho for
 * it, the only user of paho's MQTTAsync.h).
 *
 * Wraps an MQTTAsync client. Every paho callback runs on a paho thread and does one thing:
 * it appends an event to a mutex-protected list and writes the eventfd; the connector's poll
 * loop takes the events in order (mqtt_link_take). Paho threads never touch anything else.
 * Reconnecting is the caller's decision (automatic reconnect is off). One link per process.
 */
#ifndef MQTT_LINK_H
#define MQTT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_model.h"
#include "mqg_rstats.h"
#include "mqg_subs.h"

enum link_ev_kind {
    LEV_MSG = 1,        /* a message arrived */
    LEV_CONNECTED,      /* connect succeeded */
    LEV_CONNECT_FAILED, /* connect failed: rc, text */
    LEV_LOST,           /* connection lost: text */
    LEV_PUB_OK,         /* publish `tag` done (QoS 0: written; QoS 1/2: acknowledged) */
    LEV_PUB_FAIL,       /* publish `tag` failed: rc */
    LEV_SUB_OK,         /* subscribe done; rc = number of filters the broker refused */
    LEV_SUB_FAIL,       /* subscribe failed: rc (-ENOTCONN: the connection went first), text */
};

struct link_ev {
    struct link_ev *next;
    enum link_ev_kind kind;
    int rc;
    uint64_t tag;
    bool session_present;
    uint32_t max_packet;  /* LEV_CONNECTED, MQTT 5: the broker's Maximum Packet Size, 0 = none */
    uint16_t receive_max; /* LEV_CONNECTED, MQTT 5: the broker's Receive Maximum, 0 = none */
    char text[160];       /* reason, for failures */
    char *topic;          /* LEV_MSG: NUL-terminated, inside this allocation */
    size_t topic_len;
    void *payload; /* LEV_MSG: inside this allocation */
    size_t payload_len;
    int qos;
    bool retain;
    uint64_t seq;     /* LEV_MSG: the journal seq the arrival hook gave it, 0 = untracked */
    bool unjournaled; /* LEV_MSG: QoS >= 1 but the hook could not journal it */
};

/* Called on paho's thread for every arriving message (LEV_MSG), before the event is queued
 * and before paho acknowledges a QoS 1/2 message to the broker: what it makes durable is safe
 * (paho 1.3.12 sends the PUBACK after the callback returned). It may set ev->seq and
 * ev->unjournaled, and may block (the broker's flow stops meanwhile). The message is always
 * queued afterwards: the callback never returns 0 to paho. */
typedef void mqtt_link_arrive_fn(void *ctx, struct link_ev *ev);

struct mqtt_link;

/* Create the client for connection c. Files for PEM text given inline are written into
 * rundir (mode 0600). max_inflight bounds paho's in-flight window. Returns 0 or -errno. */
int mqtt_link_new(const struct mqg_connection *c, const char *rundir, int max_inflight,
                  struct mqtt_link **out);

/* The model that connection c belongs to (before connecting; it outlives the link). paho's
 * link does not need it; the rules process's link (rules/rules_link.c) runs its routes' rules. */
void mqtt_link_set_model(struct mqtt_link *l, const struct mqg_model *m);

/* Set the arrival hook (before connecting; NULL: none). */
void mqtt_link_on_arrive(struct mqtt_link *l, mqtt_link_arrive_fn *fn, void *ctx);

/* NULL-safe: disconnects (waiting at most timeout_ms), destroys the client, clears *l. */
void mqtt_link_destroy(struct mqtt_link **l, int timeout_ms);

/* The eventfd to poll for POLLIN. */
int mqtt_link_fd(const struct mqtt_link *l);

/* Take all queued events, oldest first (a list linked by ->next; free each with free()). */
struct link_ev *mqtt_link_take(struct mqtt_link *l);

/* Start connecting; the outcome arrives as LEV_CONNECTED / LEV_CONNECT_FAILED. */
int mqtt_link_connect(struct mqtt_link *l);

/* Subscribe to all filters at once; outcome as LEV_SUB_OK / LEV_SUB_FAIL. */
int mqtt_link_subscribe(struct mqtt_link *l, const struct mqg_sub *subs, size_t n);

/* Publish (paho copies the message); the outcome arrives as LEV_PUB_OK/FAIL with `tag`.
 * A QoS 0 publish with notify false reports nothing: paho writes QoS 0 messages in the order
 * they were given, so the next notified one's LEV_PUB_OK stands for it too.
 * Returns 0, -ENOTCONN when not connected, -EAGAIN when paho's window is full, -EIO. */
int mqtt_link_publish(struct mqtt_link *l, const char *topic, const void *payload, size_t len,
                      int qos, bool retain, uint64_t tag, bool notify);

/* Keepalive answers (PINGRESP) received since the process started, or -1 when the paho in use
 * cannot tell (the system's paho: only mqgate's own build counts them, paho_plugin.c). */
int64_t mqtt_link_pingresps(const struct mqtt_link *l);

/* Messages the link itself dropped (the rules process: its rules dropped them; a broker link
 * drops none). Readable from the connector's thread while the link works. */
struct link_drops {
    uint64_t filtered; /* a filter or cov said no: wanted, not lost */
    uint64_t not_json; /* the payload was not JSON (or not parse's format) where needed */
    uint64_t timeout;  /* an evaluation ran into rules.time_limit_ms */
    uint64_t error;    /* an evaluation failed, or the topic could not be rendered */
};
void mqtt_link_drops(const struct mqtt_link *l, struct link_drops *d);

/* One route's counters in the rules process: rid is the route's rid read as a number. */
struct link_rule_row {
    uint64_t rid;
    struct mqg_rule_stats st;
};

/* The rules process: copies up to cap rows (as of the rules' last look at the time, at least
 * once a second) into out and returns how many routes with rules there are (0 before the rules
 * run). A broker link has none: 0. From the connector's thread. */
size_t mqtt_link_rule_stats(struct mqtt_link *l, struct link_rule_row *out, size_t cap);

/* Text for a connect failure code (CONNACK return codes and paho's negative codes). */
const char *mqtt_link_strerror(int rc);

#endif
