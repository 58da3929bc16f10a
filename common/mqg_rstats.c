/* mqg_rstats — per-route counter reports, router to supervisor (see mqg_rstats.h). */
#include "mqg_rstats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_HEAD 6       /* version, flags, number of routes */
#define S_ENTRY_MAX 70 /* index and six counters, 10 bytes each at most */
#define S_FIELDS 6

int mqg_rstats_init(struct mqg_rstats *r, size_t n_routes)
{
    memset(r, 0, sizeof(*r));
    r->n = n_routes;
    r->reset = true;
    r->sent = calloc(n_routes ? n_routes : 1, sizeof(*r->sent));
    r->pending = calloc(n_routes ? n_routes : 1, sizeof(*r->pending));
    if (!r->sent || !r->pending) {
        mqg_rstats_free(r);
        return -ENOMEM;
    }
    return 0;
}

void mqg_rstats_free(struct mqg_rstats *r)
{
    if (!r) {
        return;
    }
    free(r->sent);
    free(r->pending);
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

static void s_fields(const struct mqg_route_stats *s, uint64_t v[S_FIELDS])
{
    v[0] = s->in;
    v[1] = s->in_bytes;
    v[2] = s->out;
    v[3] = s->out_bytes;
    v[4] = s->render_failed;
    v[5] = s->loops;
}

static size_t s_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

/* Read a varint from p[*off..len): false when it is cut off or longer than 64 bits. */
static bool s_get_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64 && *off < len; shift += 7) {
        uint8_t b = p[(*off)++];
        if (shift == 63 && (b & 0x7e)) {
            return false;
        }
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            return true;
        }
    }
    return false;
}

size_t mqg_rstats_encode(struct mqg_rstats *r, const struct mqg_route_table *t, size_t max,
                         const uint8_t **body)
{
    if (max < S_HEAD + S_ENTRY_MAX) {
        max = S_HEAD + S_ENTRY_MAX;
    }
    if (r->cap < max) {
        uint8_t *nb = realloc(r->buf, max);
        if (!nb) {
            return 0;
        }
        r->buf = nb;
        r->cap = max;
    }
    uint8_t *p = r->buf;
    size_t len = S_HEAD;
    size_t i = r->cursor, seen = 0;
    r->n_pending = 0;
    for (; seen < r->n && len + S_ENTRY_MAX <= max; seen++, i = (i + 1) % r->n) {
        const struct mqg_route_stats *now = mqg_route_table_stats(t, i);
        if (!now || memcmp(now, &r->sent[i], sizeof(*now)) == 0) {
            continue;
        }
        uint64_t v[S_FIELDS];
        s_fields(now, v);
        len += s_put_varint(p + len, i);
        for (int k = 0; k < S_FIELDS; k++) {
            len += s_put_varint(p + len, v[k]);
        }
        r->pending[r->n_pending++] = i;
    }
    r->next_cursor = r->n ? i % r->n : 0;
    if (r->n_pending == 0 && !r->reset) {
        return 0;
    }
    p[0] = MQG_RSTATS_VERSION;
    p[1] = r->reset ? MQG_RSTATS_F_RESET : 0;
    uint32_t n = (uint32_t)r->n;
    p[2] = (uint8_t)(n >> 24);
    p[3] = (uint8_t)(n >> 16);
    p[4] = (uint8_t)(n >> 8);
    p[5] = (uint8_t)n;
    *body = p;
    return len;
}

void mqg_rstats_commit(struct mqg_rstats *r, const struct mqg_route_table *t)
{
    for (size_t k = 0; k < r->n_pending; k++) {
        size_t i = r->pending[k];
        r->sent[i] = *mqg_route_table_stats(t, i);
    }
    r->n_pending = 0;
    r->cursor = r->next_cursor;
    r->reset = false;
}

/* One pass over a report's entries: checked only (table NULL), or applied. */
static int s_walk(const uint8_t *body, size_t len, struct mqg_route_stats *table, size_t n)
{
    size_t off = S_HEAD;
    while (off < len) {
        uint64_t idx, v[S_FIELDS];
        if (!s_get_varint(body, len, &off, &idx) || idx >= n) {
            return -EPROTO;
        }
        for (int k = 0; k < S_FIELDS; k++) {
            if (!s_get_varint(body, len, &off, &v[k])) {
                return -EPROTO;
            }
        }
        if (table) {
            table[idx] = (struct mqg_route_stats){.in = v[0],
                                                  .in_bytes = v[1],
                                                  .out = v[2],
                                                  .out_bytes = v[3],
                                                  .render_failed = v[4],
                                                  .loops = v[5]};
        }
    }
    return 0;
}

int mqg_rstats_apply(const uint8_t *body, size_t len, struct mqg_route_stats *table, size_t n)
{
    if (len < S_HEAD || body[0] != MQG_RSTATS_VERSION) {
        return -EPROTO;
    }
    uint32_t count = (uint32_t)body[2] << 24 | (uint32_t)body[3] << 16 | (uint32_t)body[4] << 8 |
                     (uint32_t)body[5];
    if (count != n || s_walk(body, len, NULL, n) != 0) {
        return -EPROTO;
    }
    if (body[1] & MQG_RSTATS_F_RESET) {
        memset(table, 0, n * sizeof(*table));
    }
    return s_walk(body, len, table, n);
}
