/* feed — what a connector sends to the router: the messages of its broker, live, or read
 * again from its journal (docs/delivery.md).
 *
 * Policy only, over mqg_fifo and mqg_journal, without ZeroMQ: the connector gives it the
 * messages paho delivered (feed_push, with the journal seq paho's callback got for a tracked
 * one), the router's answers (feed_router, feed_on_ack, feed_on_replay), and calls
 * feed_flush() every loop turn; the feed hands finished messages to a send function
 * (mqg_bus in the connector, a fake in tests/unit/test_feed.c).
 *
 * Modes. LIVE: messages wait in a bounded fifo and go out in batches. CATCHUP(from): tracked
 * messages are read from the journal with a cursor instead (after a router restart, or when
 * a tracked message found the fifo full); live tracked messages are ignored meanwhile (they
 * are in the journal), and at the journal's end the feed is LIVE again. REPLAY(T, from), at
 * the router's request, sends the journal's records for one target in one REPLAY_BATCH of
 * about 256 KiB, followed by REPLAY_DONE (the router asks again until the journal's end).
 * Acknowledgements from the router release the journal and move its marks (feed_persist writes
 * them). Without a journal nothing is tracked and the feed is the plain bounded queue it replaces.
 * Single-threaded (the journal's appender is paho's thread; everything here runs on the
 * connector's).
 */
#ifndef CONNECTOR_FEED_H
#define CONNECTOR_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_journal.h"
#include "mqg_wire.h"

/* Send one message to the router: header h, and a body of len bytes when body is not NULL.
 * Returns 0, -EAGAIN (the bus pushes back: try again later) or another negative errno (the
 * message is dropped; for journal records: sent again later). */
typedef int feed_send_fn(void *ctx, const struct mqg_wire_hdr *h, const void *body, size_t len);

struct feed_opts {
    struct mqg_journal *journal; /* borrowed; NULL: nothing is tracked */
    uint16_t self;               /* this connection's index in the model */
    const char *const *keys;     /* every connection's key by index (marks are kept by key) */
    size_t n_conns;
    size_t max_count; /* bound of the live fifo in messages (0 means 1) */
    size_t max_bytes; /* ... and in bytes (0: none) */
    feed_send_fn *send;
    void *ctx;
    int64_t persist_ms; /* acknowledgements are written to the journal at most this often */
};

struct feed_stats {
    size_t buffered;      /* messages waiting in the live fifo */
    bool catching_up;     /* reading tracked messages from the journal */
    uint64_t sent;        /* messages handed to the router (live and from the journal) */
    uint64_t redelivered; /* of them: sent again from the journal (flag DUP) */
    uint64_t dropped;     /* untracked messages dropped because the fifo was full */
    size_t replays;       /* replays for targets in progress */
};

struct feed;

/* A new feed, holding nothing. Returns 0, -EINVAL or -ENOMEM. */
int feed_new(const struct feed_opts *o, struct feed **out);

/* NULL-safe; clears *f. */
void feed_destroy(struct feed **f);

/* A message from the broker; seq: its journal seq (0: untracked). A tracked one is queued
 * only while LIVE and while it fits; otherwise the feed catches up from the journal (from
 * the oldest tracked message it held, or this one). An untracked one that does not fit
 * drops the oldest untracked messages (the number dropped is returned; tracked ones are
 * never dropped). In CATCHUP, a tracked message with seq at or below what the cursor read
 * is ignored. Returns >= 0, or -ENOMEM (dropped). */
int feed_push(struct feed *f, const struct mqg_wire_rec *rec, uint64_t seq);

/* Hold everything back (the startup buffer) or let it go. */
void feed_hold(struct feed *f, bool hold);

/* The router answered with epoch `epoch`. A router this feed has not synced with gets the
 * journal's marks (MARKS) before any tracked message, and everything not yet confirmed is
 * read again from the journal (CATCHUP from the release mark + 1); replays in progress are
 * dropped (the router asks again). Returns true for such a new router. */
bool feed_router(struct feed *f, uint64_t epoch);

/* An entry of an ACK from the router: RELEASE or MARK (DONE entries are not for a source). */
void feed_on_ack(struct feed *f, const struct mqg_wire_ack *a);

/* A reload added connections after this connector started: keys[0..n) (n >= the current
 * count, the known ones in their places; kept by the caller) replace the keys, so that the
 * router's marks for the added ones are kept too. 0, -EINVAL (fewer keys), -ENOMEM. */
int feed_set_keys(struct feed *f, const char *const *keys, size_t n);

/* The router asks for the journal's records from `from` on, for target `target`. A replay
 * in progress for that target starts over at from. */
void feed_on_replay(struct feed *f, uint16_t target, uint64_t from);

/* Send what can be sent now: MARKS first when due, the live fifo, the catch-up, the replays,
 * each as long as the send function takes it (at most a few MiB a call). */
void feed_flush(struct feed *f);

/* Is something waiting that feed_flush could send (the caller then polls again soon)? */
bool feed_pending(const struct feed *f);

/* Write acknowledgements received since the last call into the journal (release, marks), at
 * most every persist_ms. now in ms. Returns 0 or the journal's error. */
int feed_persist(struct feed *f, int64_t now);

void feed_stats(const struct feed *f, struct feed_stats *st);

#endif
