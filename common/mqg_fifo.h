/* mqg_fifo — a bounded, ordered queue of messages kept as encoded BATCH records.
 *
 * Messages are stored back to back in one growing byte buffer in exactly the form they take
 * inside a BATCH body (mqg_wire), so sending the oldest messages is handing out a slice of
 * the buffer: no per-message allocation, one copy in, one copy out. Used by the router (one
 * per target connection) and by the connector (towards the router). Single-threaded.
 */
#ifndef MQG_FIFO_H
#define MQG_FIFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqg_wire.h"

struct mqg_fifo {
    uint8_t *buf;
    size_t cap;        /* bytes allocated */
    size_t head, tail; /* records live in buf[head, tail) */
    size_t count;      /* records held */
    size_t max;        /* bound in records: pushing into a full fifo drops the oldest */
    size_t max_bytes;  /* bound in bytes of encoded records (SIZE_MAX after init) */
};

/* An empty fifo bounded to max records (0 means 1) and no byte bound; set max_bytes after. */
void mqg_fifo_init(struct mqg_fifo *f, size_t max);
void mqg_fifo_free(struct mqg_fifo *f);

/* Bytes held (encoded records). */
size_t mqg_fifo_bytes(const struct mqg_fifo *f);

/* Holds max records, or at least max_bytes bytes. */
bool mqg_fifo_full(const struct mqg_fifo *f);

/* Append a copy of r, first dropping the oldest records while the fifo is at its record
 * bound or r would take it beyond its byte bound (r itself is always kept, even when it alone
 * is larger). Returns the number of records dropped (>= 0), or -ENOMEM / -EMSGSIZE (topic
 * longer than 65535 bytes or payload of 4 GiB or more); then nothing changed. */
int mqg_fifo_push(struct mqg_fifo *f, const struct mqg_wire_rec *r);

/* Append a copy of r even when the fifo is full already (a sender that paused its input when
 * the fifo was full may overshoot by the one batch it was handling). Returns 0, -ENOMEM or
 * -EMSGSIZE. */
int mqg_fifo_append(struct mqg_fifo *f, const struct mqg_wire_rec *r);

/* The oldest records that fit in `limit` bytes (always at least one): returns a pointer to
 * them and sets *len (bytes) and *n (records); NULL when empty. Valid until the next push. */
const uint8_t *mqg_fifo_peek(const struct mqg_fifo *f, size_t limit, size_t *len, size_t *n);

/* Remove what the last peek returned (len bytes, n records). */
void mqg_fifo_consume(struct mqg_fifo *f, size_t len, size_t n);

/* Remove the oldest record. */
void mqg_fifo_pop(struct mqg_fifo *f);

#endif
