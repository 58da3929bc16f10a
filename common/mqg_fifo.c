/* mqg_fifo — bounded queue of encoded records (see mqg_fifo.h). */
#include "mqg_fifo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* An empty fifo gives back a buffer grown beyond this (after a burst or an outage). */
#define F_KEEP_BYTES (1u << 20)

void mqg_fifo_init(struct mqg_fifo *f, size_t max)
{
    memset(f, 0, sizeof(*f));
    f->max = max ? max : 1;
    f->max_bytes = SIZE_MAX;
}

size_t mqg_fifo_bytes(const struct mqg_fifo *f)
{
    return f->tail - f->head;
}

bool mqg_fifo_full(const struct mqg_fifo *f)
{
    return f->count >= f->max || (f->count && mqg_fifo_bytes(f) >= f->max_bytes);
}

void mqg_fifo_free(struct mqg_fifo *f)
{
    free(f->buf);
    memset(f, 0, sizeof(*f));
}

static void s_emptied(struct mqg_fifo *f)
{
    f->head = f->tail = 0;
    if (f->cap > F_KEEP_BYTES) {
        free(f->buf);
        f->buf = NULL;
        f->cap = 0;
    }
}

void mqg_fifo_pop(struct mqg_fifo *f)
{
    size_t off = f->head;
    struct mqg_wire_rec r;
    if (!f->count || mqg_wire_rec_next(f->buf, f->tail, &off, &r) != 1) {
        return;
    }
    f->head = off;
    if (--f->count == 0) {
        s_emptied(f);
    }
}

/* Make room for need more bytes at the tail: move the live bytes to the front if that is
 * enough, else grow. */
static int s_room(struct mqg_fifo *f, size_t need)
{
    if (f->cap - f->tail >= need) {
        return 0;
    }
    size_t live = f->tail - f->head;
    if (f->head && f->cap - live >= need && live <= f->cap / 2) {
        memmove(f->buf, f->buf + f->head, live);
        f->head = 0;
        f->tail = live;
        return 0;
    }
    size_t ncap = f->cap ? f->cap : 4096;
    while (ncap - live < need) {
        if (ncap > SIZE_MAX / 2) {
            return -ENOMEM;
        }
        ncap *= 2;
    }
    uint8_t *nb = malloc(ncap);
    if (!nb) {
        return -ENOMEM;
    }
    if (live) {
        memcpy(nb, f->buf + f->head, live);
    }
    free(f->buf);
    f->buf = nb;
    f->cap = ncap;
    f->head = 0;
    f->tail = live;
    return 0;
}

int mqg_fifo_append(struct mqg_fifo *f, const struct mqg_wire_rec *r)
{
    if (r->topic_len > 0xFFFF || (uint64_t)r->payload_len > 0xFFFFFFFFu) {
        return -EMSGSIZE;
    }
    size_t need = mqg_wire_rec_bytes(r);
    if (s_room(f, need) != 0) {
        return -ENOMEM;
    }
    mqg_wire_rec_encode(r, f->buf + f->tail);
    f->tail += need;
    f->count++;
    return 0;
}

int mqg_fifo_push(struct mqg_fifo *f, const struct mqg_wire_rec *r)
{
    if (r->topic_len > 0xFFFF || (uint64_t)r->payload_len > 0xFFFFFFFFu) {
        return -EMSGSIZE;
    }
    size_t need = mqg_wire_rec_bytes(r);
    int dropped = 0;
    while (f->count &&
           (f->count >= f->max || need > f->max_bytes || mqg_fifo_bytes(f) > f->max_bytes - need)) {
        mqg_fifo_pop(f);
        dropped++;
    }
    int rc = mqg_fifo_append(f, r);
    return rc < 0 ? rc : dropped;
}

const uint8_t *mqg_fifo_peek(const struct mqg_fifo *f, size_t limit, size_t *len, size_t *n)
{
    *len = 0;
    *n = 0;
    if (!f->count) {
        return NULL;
    }
    size_t off = f->head;
    struct mqg_wire_rec r;
    while (*n < f->count) {
        size_t next = off;
        if (mqg_wire_rec_next(f->buf, f->tail, &next, &r) != 1) {
            break;
        }
        if (*n > 0 && next - f->head > limit) {
            break;
        }
        off = next;
        (*n)++;
    }
    *len = off - f->head;
    return f->buf + f->head;
}

void mqg_fifo_consume(struct mqg_fifo *f, size_t len, size_t n)
{
    if (n >= f->count || len >= f->tail - f->head) {
        f->count = 0;
        s_emptied(f);
        return;
    }
    f->head += len;
    f->count -= n;
}
