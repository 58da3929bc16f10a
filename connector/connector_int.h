/* connector_int — what the connector's source files share (internal to connector/connector.c,
 * conn_journal.c and conn_status.c): the connector process's state and the functions of one
 * file another calls. Nothing here is for other modules: they use connector.h.
 */
#ifndef CONNECTOR_INT_H
#define CONNECTOR_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feed.h"
#include "mqg_backoff.h"
#include "mqg_bus.h"
#include "mqg_child.h"
#include "mqg_journal.h"
#include "mqg_ratelog.h"
#include "mqg_rstats.h"
#include "mqg_subs.h"
#include "mqg_wire.h"
#include "mqtt_link.h"
#include "outbox.h"

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_SUBSCRIBING, CONN_UP };

/* One connector process (connector.c describes how it works). */
struct connector {
    struct mqg_child child;
    const struct mqg_connection *conn;
    struct mqtt_link *link;
    struct mqg_bus *bus;
    struct mqg_sub *subs;
    size_t n_subs;
    enum conn_state state; /* CONN_SUBSCRIBING and CONN_UP: the outbox is connected */
    struct mqg_backoff backoff;
    int64_t reconnect_at; /* when CONN_DOWN: next attempt */
    int failures;         /* failed attempts (and short-lived connections) since the last
                           * connection that lasted S_STABLE_MS */
    int short_lived;      /* connections in a row that ended within S_STABLE_MS */
    bool again;           /* the last attempt ended in such a connection (no connect failed
                           * since): its successor is logged at DEBUG */
    int64_t up_at;        /* when the current connection came up; 0 when there is none */
    bool settled;         /* the current connection has lasted S_STABLE_MS */
    bool was_up;          /* connected at least once */
    bool router_ready;
    int64_t hello_at;
    bool holding; /* startup buffer active */
    int64_t hold_until;
    int64_t stop_at; /* stopping: drain the outbox until then; 0 before */
    struct feed *feed;
    struct outbox *outbox;
    struct mqg_journal *journal; /* NULL: the journal is off */
    const char **keys;           /* every connection's key by model index (the feed's marks) */
    size_t n_keys;
    struct mqg_model *keys_model; /* a reload's model the keys point into (NULL: the child's) */
    uint64_t incarnation;         /* this process, in HELLO */
    bool link_due;                /* LINK (broker up/down) to send to the router */
    struct mqg_wire_ack acks[64]; /* DONE entries not yet sent */
    size_t n_acks;
    int64_t sync_at;                       /* journal.sync = "interval": next fdatasync */
    int64_t link_quiet_until;              /* us: paho events are not looked at before */
    uint64_t n_in, n_dropped, n_malformed; /* n_dropped: inbound; the outbox counts its own */
    uint64_t n_dropped_in;                 /* untracked messages the feed had no room for */
    uint64_t n_unjournaled;                /* QoS >= 1 passed on without the journal */
    atomic_bool journal_full;              /* set by paho's thread: log JOURNAL-FULL */
    bool full_warned; /* JOURNAL-FULL logged for this episode (the journal still near full) */
    struct mqg_ratelog invalid; /* from the broker with an invalid topic, counted in .total */
    uint64_t n_rx, n_rx_bytes;  /* received from the broker (payload bytes), before any check */
    uint64_t n_connects;        /* connections made (CONNACKs) */
    char last_error[320];       /* the last failure of the connection, for the status */
    /* the rules process: its per-route counters, reported with the heartbeat (conn_status.c) */
    struct mqg_rstats rule_rep;
    struct link_rule_row *rule_rows;
    size_t n_rule_rows;
    /* test-only (MQG_TEST_DIE_IN_CALLBACK=<n>:<before|after>): _exit inside paho's callback */
    long die_at;
    bool die_after;
    atomic_long die_count;
};

/* The status text of the heartbeat (mqg_child_status_fn; conn_status.c). */
void conn_status(const void *arg, char *buf, size_t cap);

/* The rules process, when a heartbeat is due: the routes' rule counters that changed, to the
 * supervisor (MQG_CTL_RULE_ROUTES, mqg_rstats.h); what cannot be sent now goes with the next.
 * conn_rule_report_free at the end. */
void conn_rule_report(struct connector *c);
void conn_rule_report_free(struct connector *c);

/* Opens this connection's journal in <state_dir>/<key> (conn_journal.c). Returns 0 or an exit
 * code after a logged error: 78 when the journal's directory cannot be used (a setting to
 * fix), 1 when it is busy (an earlier connector of ours still ends) or memory is short. */
int conn_journal_open(struct connector *c);

/* A reload's model arrived (c->child.update): the keys of connections added since this
 * connector started are taken from it, nothing else (conn_journal.c). */
void conn_journal_update(struct connector *c);

/* paho's callback (link_arrive_fn, paho's thread): journals a QoS >= 1 message (conn_journal.c). */
void conn_journal_arrive(void *ctx, struct link_ev *ev);

#endif
