/* mqg_rstats — per-route counter reports to the supervisor (see mqg_rstats.h). */
#include "mqg_rstats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_HEAD 6 /* version, flags, number of routes */
#define S_FIELDS MQG_RSTATS_FIELDS
#define S_ENTRY_MAX ((S_FIELDS + 1) * 10) /* key and counters, 10 bytes each at most */

int mqg_rstats_init(struct mqg_rstats *r, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->n = n;
    r->reset = true;
    r->sent = calloc(n ? n : 1, sizeof(*r->sent));
    r->pending = calloc(n ? n : 1, sizeof(*r->pending));
    r->pending_rows = calloc(n ? n : 1, sizeof(*r->pending_rows));
    if (!r->sent || !r->pending || !r->pending_rows) {
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
    free(r->pending_rows);
    free(r->buf);
    memset(r, 0, sizeof(*r));
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

size_t mqg_rstats_encode_rows(struct mqg_rstats *r, mqg_rstats_row_fn *row, const void *src,
                              size_t max, const uint8_t **body)
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
        uint64_t key, v[S_FIELDS];
        if (!row(src, i, &key, v) || memcmp(v, r->sent[i], sizeof(v)) == 0) {
            continue;
        }
        len += s_put_varint(p + len, key);
        for (int k = 0; k < S_FIELDS; k++) {
            len += s_put_varint(p + len, v[k]);
        }
        memcpy(r->pending_rows[r->n_pending], v, sizeof(v));
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

void mqg_rstats_commit_rows(struct mqg_rstats *r)
{
    for (size_t k = 0; k < r->n_pending; k++) {
        memcpy(r->sent[r->pending[k]], r->pending_rows[k], sizeof(r->sent[0]));
    }
    r->n_pending = 0;
    r->cursor = r->next_cursor;
    r->reset = false;
}

/* mqg_rstats_row_fn of a route table: keyed by index. */
static bool s_route_row(const void *src, size_t i, uint64_t *key, uint64_t row[S_FIELDS])
{
    const struct mqg_route_stats *st = mqg_route_table_stats(src, i);
    if (!st) {
        return false;
    }
    *key = i;
    memcpy(row, st, sizeof(*st));
    return true;
}

size_t mqg_rstats_encode(struct mqg_rstats *r, const struct mqg_route_table *t, size_t max,
                         const uint8_t **body)
{
    return mqg_rstats_encode_rows(r, s_route_row, t, max, body);
}

void mqg_rstats_commit(struct mqg_rstats *r, const struct mqg_route_table *t)
{
    (void)t;
    mqg_rstats_commit_rows(r);
}

/* One pass over a report's rows: checked only (find NULL; keys below max_key unless it is 0),
 * or stored. */
static int s_walk(const uint8_t *body, size_t len, uint64_t max_key, mqg_rstats_find_fn *find,
                  void *dst)
{
    size_t off = S_HEAD;
    while (off < len) {
        uint64_t key, v[S_FIELDS];
        if (!s_get_varint(body, len, &off, &key) || (max_key && key >= max_key)) {
            return -EPROTO;
        }
        for (int k = 0; k < S_FIELDS; k++) {
            if (!s_get_varint(body, len, &off, &v[k])) {
                return -EPROTO;
            }
        }
        void *at = find ? find(dst, key) : NULL;
        if (at) {
            memcpy(at, v, sizeof(v));
        }
    }
    return 0;
}

/* The header: version, and the reporter's row count. -EPROTO when it is not one of ours. */
static int s_head(const uint8_t *body, size_t len, uint32_t *count)
{
    if (len < S_HEAD || body[0] != MQG_RSTATS_VERSION) {
        return -EPROTO;
    }
    *count = (uint32_t)body[2] << 24 | (uint32_t)body[3] << 16 | (uint32_t)body[4] << 8 |
             (uint32_t)body[5];
    return 0;
}

struct s_table {
    struct mqg_route_stats *rows;
    size_t n;
};

static void *s_table_find(void *dst, uint64_t key)
{
    struct s_table *t = dst;
    return key < t->n ? &t->rows[key] : NULL;
}

int mqg_rstats_apply(const uint8_t *body, size_t len, struct mqg_route_stats *table, size_t n)
{
    uint32_t count;
    if (s_head(body, len, &count) != 0 || count != n || s_walk(body, len, n, NULL, NULL) != 0) {
        return -EPROTO;
    }
    if (body[1] & MQG_RSTATS_F_RESET) {
        memset(table, 0, n * sizeof(*table));
    }
    struct s_table t = {table, n};
    return s_walk(body, len, n, s_table_find, &t);
}

int mqg_rstats_apply_keyed(const uint8_t *body, size_t len, void (*reset)(void *dst),
                           mqg_rstats_find_fn *find, void *dst)
{
    uint32_t count;
    if (s_head(body, len, &count) != 0 || s_walk(body, len, 0, NULL, NULL) != 0) {
        return -EPROTO;
    }
    if ((body[1] & MQG_RSTATS_F_RESET) && reset) {
        reset(dst);
    }
    return s_walk(body, len, 0, find, dst);
}
