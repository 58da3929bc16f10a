/* connector_int — the state of a connector process, shared by its files.
 *
 * Internal to the connector: connector.c (the poll loop, the connection, the router) and
 * intake.c (paho's message callback and the journal). One struct connector per process,
 * owned by connector_main; paho's thread touches only the fields marked atomic and the
 * journal (its own lock).
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
#include "mqg_subs.h"
#include "mqg_wire.h"
#include "mqtt_link.h"
#include "outbox.h"

/* Confirmations (ACK DONE) wait for the loop turn; acknowledgements from the router are
 * written into the journal at most this often. */
#define CONNECTOR_PERSIST_MS 10

enum s_state { S_DOWN, S_CONNECTING, S_SUBSCRIBING, S_UP };

struct connector {
    struct mqg_child child;
    const struct mqg_connection *conn;
    struct mqtt_link *link;
    struct mqg_bus *bus;
    struct mqg_sub *subs;
    size_t n_subs;
    enum s_state state; /* S_SUBSCRIBING and S_UP: the outbox is connected */
    struct mqg_backoff backoff;
    int64_t reconnect_at; /* when S_DOWN: next attempt */
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
    struct mqg_journal *journal;  /* NULL: the journal is off */
    const char **keys;            /* every connection's key by model index (the feed's marks) */
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
    struct mqg_ratelog invalid; /* from the broker with an invalid topic, counted in .total */
    /* test-only (MQG_TEST_DIE_IN_CALLBACK=<n>:<before|after>): _exit inside paho's callback */
    long die_at;
    bool die_after;
    atomic_long die_count;
};

/* The feed's send function (feed_opts.send): one message to the router. */
int connector_send(void *ctx, const struct mqg_wire_hdr *h, const void *body, size_t len);

/* paho's message callback (mqtt_link_on_arrive), on paho's thread: a QoS >= 1 message is
 * appended to the journal before paho acknowledges it to the broker; a full journal holds it
 * up to journal.full_wait_ms, then lets it go on untracked. Never fails. */
void connector_arrive(void *ctx, struct link_ev *ev);

/* Open this connection's journal (when state_dir is set) and make the feed towards the
 * router. Returns 0 or an exit code after a logged error: 78 when the journal's directory
 * cannot be used, 1 when it is busy or memory ran out. */
int connector_setup_journal(struct connector *c, int idx);

/* The journal's housekeeping, once per loop turn: acknowledgements written, the interval
 * sync, JOURNAL-FULL logged once per episode. */
void connector_journal_timers(struct connector *c, int64_t now);

#endif
