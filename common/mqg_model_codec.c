/* mqg_model_codec — compact binary serialization of the resolved model (mqg_model_encode/decode).
 *
 * The supervisor encodes the model once and sends it to every child over the control channel;
 * children decode it. No I/O, no global state. Format (all integers little-endian):
 *   "MQGM" u8 version, then services, connections, endpoints, routes, skipped, each as
 *   u32 count + elements; strings are u32 length + bytes (no NUL inside), 0xffffffff = NULL;
 *   bools are one byte 0/1; ints and enums are i32. Nothing may follow the last element.
 * Decode trusts nothing: every read is bounds-checked, counts are checked against the bytes
 * left before allocating, and the decoded model is validated (enums, QoS, connection indices)
 * with the same rules encode applies, so a child may index model->conns without checking.
 */
#include "mqg_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "MQGM"
#define MAGIC_LEN 4
#define VERSION 2
#define STR_NULL 0xffffffffu

/* Smallest encoded size of one element of each array; a count that could not fit in the bytes
 * left is rejected before anything is allocated. */
#define MIN_STR 4
#define MIN_SERVICE (3 * MIN_STR)
#define MIN_WILL (1 + 2 * MIN_STR + 4 + 1)
#define MIN_CONN (11 * MIN_STR + 11 * 4 + 6 + MIN_WILL)
#define MIN_ENDPOINT (4 * MIN_STR + 3 * 4 + 2)
#define MIN_SOURCE (4 + 2 * MIN_STR + 4)
#define MIN_TARGET (4 + MIN_STR + 4 + 1)
#define MIN_ROUTE (MIN_STR + 4 + MIN_TARGET + 4 + MIN_STR)
#define MIN_RULE (4 + 2 * MIN_STR + 4 + 4 + 8 + 2 * 4)
#define MIN_VAR (3 * MIN_STR)
#define MIN_SKIPPED (3 * MIN_STR)

/* ---- writer: growing buffer, sticky error ---- */

struct s_wr {
    uint8_t *buf;
    size_t len;
    size_t cap;
    int err;
};

static void s_put(struct s_wr *w, const void *p, size_t n)
{
    if (w->err) {
        return;
    }
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 256;
        while (n > cap - w->len) {
            if (cap > SIZE_MAX / 2) {
                w->err = -ENOMEM;
                return;
            }
            cap *= 2;
        }
        /* not realloc: the old block may hold a password and is wiped before it is freed */
        uint8_t *nb = malloc(cap);
        if (!nb) {
            w->err = -ENOMEM;
            return;
        }
        if (w->buf) {
            memcpy(nb, w->buf, w->len);
            explicit_bzero(w->buf, w->cap);
            free(w->buf);
        }
        w->buf = nb;
        w->cap = cap;
    }
    if (n) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    }
}

static void s_put_u8(struct s_wr *w, uint8_t v)
{
    s_put(w, &v, 1);
}

static void s_put_bool(struct s_wr *w, bool v)
{
    s_put_u8(w, v ? 1 : 0);
}

static void s_put_u32(struct s_wr *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    s_put(w, b, sizeof(b));
}

static void s_put_i32(struct s_wr *w, int32_t v)
{
    s_put_u32(w, (uint32_t)v);
}

static void s_put_count(struct s_wr *w, size_t n)
{
    if (!w->err && n > UINT32_MAX) {
        w->err = -EOVERFLOW;
        return;
    }
    s_put_u32(w, (uint32_t)n);
}

/* Optional string: NULL and "" are distinct. */
static void s_put_str(struct s_wr *w, const char *s)
{
    if (!s) {
        s_put_u32(w, STR_NULL);
        return;
    }
    size_t n = strlen(s);
    if (!w->err && n >= STR_NULL) {
        w->err = -EOVERFLOW;
        return;
    }
    s_put_u32(w, (uint32_t)n);
    s_put(w, s, n);
}

/* ---- reader: bounds-checked cursor, sticky -EPROTO (or -ENOMEM) ---- */

struct s_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
    int err;
};

static const uint8_t *s_take(struct s_rd *r, size_t n)
{
    if (r->err) {
        return NULL;
    }
    if (n > r->len - r->off) {
        r->err = -EPROTO;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint32_t s_get_u32(struct s_rd *r)
{
    const uint8_t *b = s_take(r, 4);
    if (!b) {
        return 0;
    }
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int s_get_i32(struct s_rd *r)
{
    uint32_t u = s_get_u32(r);
    /* two's complement without implementation-defined conversion */
    return u <= INT32_MAX ? (int)u : (int)(u - 0x80000000u) + INT32_MIN;
}

static bool s_get_bool(struct s_rd *r)
{
    const uint8_t *b = s_take(r, 1);
    if (!b) {
        return false;
    }
    if (*b > 1) {
        r->err = -EPROTO;
        return false;
    }
    return *b == 1;
}

/* Heap copy of an optional string; NULL for a NULL string or on error (check r->err). */
static char *s_get_str(struct s_rd *r)
{
    uint32_t n = s_get_u32(r);
    if (r->err || n == STR_NULL) {
        return NULL;
    }
    const uint8_t *b = s_take(r, n);
    if (!b) {
        return NULL;
    }
    if (memchr(b, '\0', n)) {
        r->err = -EPROTO;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->err = -ENOMEM;
        return NULL;
    }
    memcpy(s, b, n);
    s[n] = '\0';
    return s;
}

/* Read an element count and allocate a zeroed array for it (NULL for 0). The count must fit in
 * the bytes left at min_size each. */
static void *s_get_array(struct s_rd *r, size_t elem_size, size_t min_size, size_t *count)
{
    *count = 0;
    uint32_t n = s_get_u32(r);
    if (r->err || n == 0) {
        return NULL;
    }
    if (n > (r->len - r->off) / min_size) {
        r->err = -EPROTO;
        return NULL;
    }
    void *a = calloc(n, elem_size);
    if (!a) {
        r->err = -ENOMEM;
        return NULL;
    }
    *count = n;
    return a;
}

/* ---- validation shared by encode and decode ---- */

static bool s_qos_ok(int qos)
{
    return qos >= 0 && qos <= 2;
}

static bool s_conn_ref_ok(const struct mqg_model *m, int conn, bool internal_ok)
{
    if (conn == MQG_INTERNAL) {
        return internal_ok;
    }
    return conn >= 0 && (size_t)conn < m->n_conns;
}

/* Rule kinds and options in range; a route with rules has its rid. */
static bool s_rules_valid(const struct mqg_route *rt)
{
    for (size_t j = 0; j < rt->n_rules; j++) {
        const struct mqg_rule *u = &rt->rules[j];
        bool text = u->kind == MQG_RULE_TRANSFORM || u->kind == MQG_RULE_FILTER ||
                    u->kind == MQG_RULE_PARSE || u->kind == MQG_RULE_COV ||
                    u->kind == MQG_RULE_STASH;
        if ((int)u->kind < MQG_RULE_TRANSFORM || (int)u->kind > MQG_RULE_KIND_MAX ||
            (text && !u->text) || u->cov_mode < 0 || u->cov_mode > 2 || !(u->deadband >= 0)) {
            return false;
        }
        for (size_t k = 0; k < u->n_vars; k++) {
            if (!u->vars[k].name || !u->vars[k].expr) {
                return false;
            }
        }
    }
    return rt->n_rules == 0 || rt->rid != NULL;
}

/* True when every enum, QoS and connection index in m is in range. */
static bool s_model_valid(const struct mqg_model *m)
{
    size_t internal = 0, rules = 0;
    for (size_t i = 0; i < m->n_conns; i++) {
        const struct mqg_connection *c = &m->conns[i];
        internal += c->internal_broker;
        rules += c->rules_engine;
        if (rules > 1 || (int)c->scheme < MQG_SCHEME_MQTT || (int)c->scheme > MQG_SCHEME_WSS ||
            !s_qos_ok(c->will.qos) || internal > 1) {
            return false;
        }
    }
    for (size_t i = 0; i < m->n_endpoints; i++) {
        const struct mqg_endpoint *e = &m->endpoints[i];
        if ((e->kind != MQG_EP_SUBSCRIBE && e->kind != MQG_EP_WRITE) || !s_qos_ok(e->qos) ||
            !s_conn_ref_ok(m, e->conn, false)) {
            return false;
        }
    }
    for (size_t i = 0; i < m->n_routes; i++) {
        const struct mqg_route *rt = &m->routes[i];
        if (!s_qos_ok(rt->target.qos) || !s_conn_ref_ok(m, rt->target.conn, true)) {
            return false;
        }
        for (size_t j = 0; j < rt->n_sources; j++) {
            if (!s_qos_ok(rt->sources[j].qos) || !s_conn_ref_ok(m, rt->sources[j].conn, true)) {
                return false;
            }
        }
        if (!s_rules_valid(rt)) {
            return false;
        }
    }
    return true;
}

/* ---- encode ---- */

static void s_put_conn(struct s_wr *w, const struct mqg_connection *c, bool secrets)
{
    s_put_str(w, c->service_id);
    s_put_str(w, c->id);
    s_put_str(w, c->key);
    s_put_str(w, c->host);
    s_put_i32(w, c->port);
    s_put_i32(w, (int32_t)c->scheme);
    s_put_str(w, c->uri);
    s_put_str(w, c->username);
    s_put_str(w, secrets ? c->password : NULL);
    s_put_str(w, c->client_id);
    s_put_bool(w, c->clean);
    s_put_i32(w, c->keepalive_s);
    s_put_i32(w, c->connect_timeout_ms);
    s_put_i32(w, c->reconnect_period_ms);
    s_put_i32(w, c->reconnect_max_ms);
    s_put_i32(w, c->reconnect_factor);
    s_put_i32(w, c->protocol_version);
    s_put_bool(w, c->target_connected);
    s_put_bool(w, c->trust_all);
    s_put_bool(w, c->mutual_auth);
    s_put_str(w, c->ca_cert);
    s_put_str(w, c->client_cert);
    s_put_str(w, secrets ? c->client_key : NULL);
    s_put_bool(w, c->will.set);
    s_put_str(w, c->will.topic);
    s_put_str(w, c->will.payload);
    s_put_i32(w, c->will.qos);
    s_put_bool(w, c->will.retain);
    s_put_i32(w, c->buffer_window_ms);
    s_put_i32(w, c->max_buffered);
    s_put_bool(w, c->internal_broker);
    s_put_bool(w, c->rules_engine);
    s_put_i32(w, c->rules_time_limit_ms);
}

static void s_put_endpoint(struct s_wr *w, const struct mqg_endpoint *e)
{
    s_put_str(w, e->service_id);
    s_put_str(w, e->id);
    s_put_i32(w, e->conn);
    s_put_i32(w, (int32_t)e->kind);
    s_put_str(w, e->topic);
    s_put_i32(w, e->qos);
    s_put_bool(w, e->retain);
    s_put_str(w, e->data_topic);
    s_put_bool(w, e->disabled);
}

static void s_put_u64(struct s_wr *w, uint64_t v)
{
    s_put_u32(w, (uint32_t)v);
    s_put_u32(w, (uint32_t)(v >> 32));
}

static void s_put_rule(struct s_wr *w, const struct mqg_rule *u)
{
    s_put_i32(w, (int32_t)u->kind);
    s_put_str(w, u->where);
    s_put_str(w, u->text);
    s_put_count(w, u->n_vars);
    for (size_t k = 0; k < u->n_vars; k++) {
        s_put_str(w, u->vars[k].name);
        s_put_str(w, u->vars[k].expr);
        s_put_str(w, u->vars[k].where);
    }
    s_put_i32(w, u->cov_mode);
    uint64_t bits;
    memcpy(&bits, &u->deadband, sizeof(bits));
    s_put_u64(w, bits);
    s_put_u32(w, u->max_size);
    s_put_u32(w, u->interval_ms);
}

static void s_put_route(struct s_wr *w, const struct mqg_route *rt)
{
    s_put_str(w, rt->name);
    s_put_count(w, rt->n_sources);
    for (size_t j = 0; j < rt->n_sources; j++) {
        s_put_i32(w, rt->sources[j].conn);
        s_put_str(w, rt->sources[j].filter);
        s_put_i32(w, rt->sources[j].qos);
        s_put_str(w, rt->sources[j].label);
    }
    s_put_i32(w, rt->target.conn);
    s_put_str(w, rt->target.topic);
    s_put_i32(w, rt->target.qos);
    s_put_bool(w, rt->target.retain);
    s_put_count(w, rt->n_rules);
    for (size_t j = 0; j < rt->n_rules; j++) {
        s_put_rule(w, &rt->rules[j]);
    }
    s_put_str(w, rt->rid);
}

/* Returns 0, -ENOMEM, -EINVAL for a model decode would reject (enum, QoS or connection index
 * out of range: a bug in whoever built it), or -EOVERFLOW for a count or string over 4 GiB. */
int mqg_model_encode(const struct mqg_model *m, uint8_t **out, size_t *len)
{
    return mqg_model_encode_for(m, MQG_MODEL_ALL_SECRETS, out, len);
}

int mqg_model_encode_for(const struct mqg_model *m, int secrets_of, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!s_model_valid(m)) {
        return -EINVAL;
    }
    struct s_wr w = {0};
    s_put(&w, MAGIC, MAGIC_LEN);
    s_put_u8(&w, VERSION);

    s_put_count(&w, m->n_services);
    for (size_t i = 0; i < m->n_services; i++) {
        s_put_str(&w, m->services[i].service_id);
        s_put_str(&w, m->services[i].name);
        s_put_str(&w, m->services[i].file);
    }
    s_put_count(&w, m->n_conns);
    for (size_t i = 0; i < m->n_conns; i++) {
        s_put_conn(&w, &m->conns[i], secrets_of == MQG_MODEL_ALL_SECRETS || secrets_of == (int)i);
    }
    s_put_count(&w, m->n_endpoints);
    for (size_t i = 0; i < m->n_endpoints; i++) {
        s_put_endpoint(&w, &m->endpoints[i]);
    }
    s_put_count(&w, m->n_routes);
    for (size_t i = 0; i < m->n_routes; i++) {
        s_put_route(&w, &m->routes[i]);
    }
    s_put_count(&w, m->n_skipped);
    for (size_t i = 0; i < m->n_skipped; i++) {
        s_put_str(&w, m->skipped[i].service_id);
        s_put_str(&w, m->skipped[i].id);
        s_put_str(&w, m->skipped[i].type);
    }

    if (w.err) {
        /* the buffer may hold a password: wipe before free */
        if (w.buf) {
            explicit_bzero(w.buf, w.len);
        }
        free(w.buf);
        return w.err;
    }
    *out = w.buf;
    *len = w.len;
    return 0;
}

/* ---- decode ---- */

static void s_get_conn(struct s_rd *r, struct mqg_connection *c)
{
    c->service_id = s_get_str(r);
    c->id = s_get_str(r);
    c->key = s_get_str(r);
    c->host = s_get_str(r);
    c->port = s_get_i32(r);
    c->scheme = (enum mqg_scheme)s_get_i32(r);
    c->uri = s_get_str(r);
    c->username = s_get_str(r);
    c->password = s_get_str(r);
    c->client_id = s_get_str(r);
    c->clean = s_get_bool(r);
    c->keepalive_s = s_get_i32(r);
    c->connect_timeout_ms = s_get_i32(r);
    c->reconnect_period_ms = s_get_i32(r);
    c->reconnect_max_ms = s_get_i32(r);
    c->reconnect_factor = s_get_i32(r);
    c->protocol_version = s_get_i32(r);
    c->target_connected = s_get_bool(r);
    c->trust_all = s_get_bool(r);
    c->mutual_auth = s_get_bool(r);
    c->ca_cert = s_get_str(r);
    c->client_cert = s_get_str(r);
    c->client_key = s_get_str(r);
    c->will.set = s_get_bool(r);
    c->will.topic = s_get_str(r);
    c->will.payload = s_get_str(r);
    c->will.qos = s_get_i32(r);
    c->will.retain = s_get_bool(r);
    c->buffer_window_ms = s_get_i32(r);
    c->max_buffered = s_get_i32(r);
    c->internal_broker = s_get_bool(r);
    c->rules_engine = s_get_bool(r);
    c->rules_time_limit_ms = s_get_i32(r);
}

static void s_get_endpoint(struct s_rd *r, struct mqg_endpoint *e)
{
    e->service_id = s_get_str(r);
    e->id = s_get_str(r);
    e->conn = s_get_i32(r);
    e->kind = (enum mqg_ep_kind)s_get_i32(r);
    e->topic = s_get_str(r);
    e->qos = s_get_i32(r);
    e->retain = s_get_bool(r);
    e->data_topic = s_get_str(r);
    e->disabled = s_get_bool(r);
}

static void s_get_rule(struct s_rd *r, struct mqg_rule *u)
{
    u->kind = (enum mqg_rule_kind)s_get_i32(r);
    u->where = s_get_str(r);
    u->text = s_get_str(r);
    u->vars = s_get_array(r, sizeof(*u->vars), MIN_VAR, &u->n_vars);
    for (size_t k = 0; k < u->n_vars && !r->err; k++) {
        u->vars[k].name = s_get_str(r);
        u->vars[k].expr = s_get_str(r);
        u->vars[k].where = s_get_str(r);
    }
    u->cov_mode = s_get_i32(r);
    uint64_t bits = s_get_u32(r);
    bits |= (uint64_t)s_get_u32(r) << 32;
    memcpy(&u->deadband, &bits, sizeof(bits));
    u->max_size = s_get_u32(r);
    u->interval_ms = s_get_u32(r);
}

static void s_get_route(struct s_rd *r, struct mqg_route *rt)
{
    rt->name = s_get_str(r);
    rt->sources = s_get_array(r, sizeof(*rt->sources), MIN_SOURCE, &rt->n_sources);
    for (size_t j = 0; j < rt->n_sources && !r->err; j++) {
        rt->sources[j].conn = s_get_i32(r);
        rt->sources[j].filter = s_get_str(r);
        rt->sources[j].qos = s_get_i32(r);
        rt->sources[j].label = s_get_str(r);
    }
    rt->target.conn = s_get_i32(r);
    rt->target.topic = s_get_str(r);
    rt->target.qos = s_get_i32(r);
    rt->target.retain = s_get_bool(r);
    rt->rules = s_get_array(r, sizeof(*rt->rules), MIN_RULE, &rt->n_rules);
    for (size_t j = 0; j < rt->n_rules && !r->err; j++) {
        s_get_rule(r, &rt->rules[j]);
    }
    rt->rid = s_get_str(r);
}

/* Arrays are attached to m (with their count) before they are filled, so that on any error
 * mqg_model_free() releases exactly what was read so far. */
int mqg_model_decode(const uint8_t *buf, size_t len, struct mqg_model *m)
{
    mqg_model_init(m);
    struct s_rd r = {.p = buf, .len = buf ? len : 0};

    const uint8_t *hdr = s_take(&r, MAGIC_LEN + 1);
    if (!hdr || memcmp(hdr, MAGIC, MAGIC_LEN) != 0 || hdr[MAGIC_LEN] != VERSION) {
        return -EPROTO;
    }

    m->services = s_get_array(&r, sizeof(*m->services), MIN_SERVICE, &m->n_services);
    for (size_t i = 0; i < m->n_services && !r.err; i++) {
        m->services[i].service_id = s_get_str(&r);
        m->services[i].name = s_get_str(&r);
        m->services[i].file = s_get_str(&r);
    }
    m->conns = s_get_array(&r, sizeof(*m->conns), MIN_CONN, &m->n_conns);
    for (size_t i = 0; i < m->n_conns && !r.err; i++) {
        s_get_conn(&r, &m->conns[i]);
    }
    m->endpoints = s_get_array(&r, sizeof(*m->endpoints), MIN_ENDPOINT, &m->n_endpoints);
    for (size_t i = 0; i < m->n_endpoints && !r.err; i++) {
        s_get_endpoint(&r, &m->endpoints[i]);
    }
    m->routes = s_get_array(&r, sizeof(*m->routes), MIN_ROUTE, &m->n_routes);
    for (size_t i = 0; i < m->n_routes && !r.err; i++) {
        s_get_route(&r, &m->routes[i]);
    }
    m->skipped = s_get_array(&r, sizeof(*m->skipped), MIN_SKIPPED, &m->n_skipped);
    for (size_t i = 0; i < m->n_skipped && !r.err; i++) {
        m->skipped[i].service_id = s_get_str(&r);
        m->skipped[i].id = s_get_str(&r);
        m->skipped[i].type = s_get_str(&r);
    }

    if (!r.err && (r.off != r.len || !s_model_valid(m))) {
        r.err = -EPROTO;
    }
    if (r.err) {
        mqg_model_free(m);
        return r.err;
    }
    return 0;
}
