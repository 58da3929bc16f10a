/* mqg_model — life cycle, lookup and the human-readable listing of the resolved model.
 *
 * See mqg_model.h. Encoding and decoding live in mqg_model_codec.c. mqg_model_free() wipes
 * secrets (passwords, client keys, will payloads) before releasing them. No I/O except the
 * FILE * handed to mqg_model_print(), which escapes what came from the input (mqg_text).
 */
#include "mqg_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_text.h"

void mqg_model_init(struct mqg_model *m)
{
    memset(m, 0, sizeof(*m));
}

/* Wipe and free a secret string. */
static void s_free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void s_free_conn(struct mqg_connection *c)
{
    free(c->service_id);
    free(c->id);
    free(c->key);
    free(c->host);
    free(c->uri);
    free(c->username);
    s_free_secret(c->password);
    free(c->client_id);
    free(c->ca_cert);
    free(c->client_cert);
    s_free_secret(c->client_key);
    free(c->will.topic);
    s_free_secret(c->will.payload);
}

static void s_free_endpoint(struct mqg_endpoint *e)
{
    free(e->service_id);
    free(e->id);
    free(e->topic);
    free(e->data_topic);
}

void mqg_model_rules_free(struct mqg_rule *rules, size_t n)
{
    for (size_t i = 0; rules && i < n; i++) {
        free(rules[i].where);
        free(rules[i].text);
        for (size_t j = 0; j < rules[i].n_vars; j++) {
            free(rules[i].vars[j].name);
            free(rules[i].vars[j].expr);
            free(rules[i].vars[j].where);
        }
        free(rules[i].vars);
    }
    free(rules);
}

static void s_free_route(struct mqg_route *r)
{
    mqg_model_rules_free(r->rules, r->n_rules);
    free(r->rid);
    free(r->name);
    free(r->service_id);
    for (size_t i = 0; i < r->n_sources; i++) {
        free(r->sources[i].filter);
        free(r->sources[i].label);
    }
    free(r->sources);
    free(r->target.topic);
}

void mqg_model_free(struct mqg_model *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->n_services; i++) {
        free(m->services[i].service_id);
        free(m->services[i].name);
        free(m->services[i].file);
    }
    free(m->services);
    for (size_t i = 0; i < m->n_conns; i++) {
        s_free_conn(&m->conns[i]);
    }
    free(m->conns);
    for (size_t i = 0; i < m->n_endpoints; i++) {
        s_free_endpoint(&m->endpoints[i]);
    }
    free(m->endpoints);
    for (size_t i = 0; i < m->n_routes; i++) {
        s_free_route(&m->routes[i]);
    }
    free(m->routes);
    for (size_t i = 0; i < m->n_skipped; i++) {
        free(m->skipped[i].service_id);
        free(m->skipped[i].id);
        free(m->skipped[i].type);
    }
    free(m->skipped);
    for (size_t i = 0; i < m->n_notices; i++) {
        free(m->notices[i]);
    }
    free(m->notices);
    mqg_model_init(m);
}

void mqg_model_drop_routes(struct mqg_model *m, size_t from)
{
    for (size_t i = from; i < m->n_routes; i++) {
        s_free_route(&m->routes[i]);
    }
    if (from < m->n_routes) {
        m->n_routes = from;
    }
}

int mqg_model_add_notice(struct mqg_model *m, const char *text)
{
    char **grown = realloc(m->notices, (m->n_notices + 1) * sizeof(*grown));
    if (!grown) {
        return -ENOMEM;
    }
    m->notices = grown;
    if (!(m->notices[m->n_notices] = strdup(text))) {
        return -ENOMEM;
    }
    m->n_notices++;
    return 0;
}

int mqg_model_internal(const struct mqg_model *m)
{
    for (size_t i = 0; m && i < m->n_conns; i++) {
        if (m->conns[i].internal_broker) {
            return (int)i;
        }
    }
    return MQG_NO_CONN;
}

int mqg_model_find_conn(const struct mqg_model *m, const char *key)
{
    if (!m || !key) {
        return -1;
    }
    for (size_t i = 0; i < m->n_conns; i++) {
        if (m->conns[i].key && strcmp(m->conns[i].key, key) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static const char *s_bool(bool b)
{
    return b ? "true" : "false";
}

static const char *s_scheme(enum mqg_scheme s)
{
    switch (s) {
    case MQG_SCHEME_MQTTS:
        return "mqtts";
    case MQG_SCHEME_WS:
        return "ws";
    case MQG_SCHEME_WSS:
        return "wss";
    default:
        return "mqtt";
    }
}

/* The connection a source/target lives on, as printed: its key or "internal". */
static const char *s_conn_name(const struct mqg_model *m, int conn)
{
    if (conn == MQG_INTERNAL) {
        return "internal";
    }
    if (conn < 0 || (size_t)conn >= m->n_conns || !m->conns[conn].key) {
        return "(invalid connection)";
    }
    return m->conns[conn].key;
}

/* PEM text is summarized, a file path is shown. */
static const char *s_cert(const char *v)
{
    if (!v) {
        return "-";
    }
    return strstr(v, "-----BEGIN") ? "(PEM text)" : v;
}

/* Escaped copies (mqg_text) of the user strings of one printed line; s_esc_done frees them. */
struct s_esc {
    char *s[8];
    size_t n;
};

/* v as it may be printed ("-" for NULL): v itself when it needs no escape, else an escaped
 * copy that e keeps until s_esc_done. */
static const char *s_esc(struct s_esc *e, const char *v)
{
    if (!v) {
        return "-";
    }
    size_t len = strlen(v);
    if (mqg_text_plain(v, len)) {
        return v;
    }
    size_t need = mqg_text_escape(NULL, 0, v, len) + 1;
    char *p = e->n < sizeof(e->s) / sizeof(e->s[0]) ? malloc(need) : NULL;
    if (!p) {
        return "(unprintable)";
    }
    mqg_text_escape(p, need, v, len);
    e->s[e->n++] = p;
    return p;
}

static void s_esc_done(struct s_esc *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->s[i]);
    }
    e->n = 0;
}

const char *mqg_rule_kind_name(enum mqg_rule_kind k)
{
    static const char *const names[] = {[MQG_RULE_TRANSFORM] = "transform",
                                        [MQG_RULE_FILTER] = "filter",
                                        [MQG_RULE_PARSE] = "parse",
                                        [MQG_RULE_SET_CONTEXT_VARS] = "setContextVars",
                                        [MQG_RULE_COV] = "cov",
                                        [MQG_RULE_BURST] = "burst",
                                        [MQG_RULE_COLLECT] = "collect",
                                        [MQG_RULE_STASH] = "stash"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) && names[k] ? names[k] : "?";
}

static void s_print_conn(const struct mqg_connection *c, FILE *f)
{
    struct s_esc e = {.n = 0};
    if (c->rules_engine) {
        fprintf(f,
                "  %s (the rules process, mqgate-rules: runs the routes' rules; no broker)\n"
                "    time limit per evaluation: %d ms\n",
                c->key, c->rules_time_limit_ms);
        return;
    }
    fprintf(f, "  %s%s\n", s_esc(&e, c->key),
            c->internal_broker ? " (the internal broker: endpoint data and internal topics)" : "");
    fprintf(f, "    uri: %s (host %s, port %d, scheme %s)\n", s_esc(&e, c->uri), s_esc(&e, c->host),
            c->port, s_scheme(c->scheme));
    fprintf(f, "    clientId: %s%s\n", s_esc(&e, c->client_id),
            c->client_id_derived ? " (default: unique to this machine and instance)" : "");
    fprintf(f, "    username: %s  password: %s\n", s_esc(&e, c->username),
            c->password ? "***" : "-");
    s_esc_done(&e);
    fprintf(f,
            "    clean: %s  keepalive: %ds  connectTimeout: %dms  reconnectPeriod: %dms  "
            "protocolVersion: %d\n",
            s_bool(c->clean), c->keepalive_s, c->connect_timeout_ms, c->reconnect_period_ms,
            c->protocol_version);
    if (c->reconnect_factor > 0 || c->reconnect_max_ms > 0) {
        fprintf(f, "    reconnect: from %dms", c->reconnect_period_ms);
        if (c->reconnect_factor > 0) {
            fprintf(f, ", x%d each time", c->reconnect_factor);
        }
        fprintf(f, ", at most %dms\n", c->reconnect_max_ms);
    }
    if (c->internal_broker) {
        fprintf(f, "    subscriptions: with No Local (MQTT 5): what mqgate publishes there never "
                   "comes back\n");
    }
    fprintf(f, "    trustAllCertificates: %s  mutualAuthentication: %s\n", s_bool(c->trust_all),
            s_bool(c->mutual_auth));
    fprintf(f, "    caCert: %s  clientCert: %s  clientPrivateKey: %s\n",
            s_esc(&e, s_cert(c->ca_cert)), s_esc(&e, s_cert(c->client_cert)),
            c->client_key ? "***" : "-");
    if (c->will.set) {
        fprintf(f, "    will: topic %s, qos %d, retain %s, payload %zu bytes\n",
                s_esc(&e, c->will.topic), c->will.qos, s_bool(c->will.retain),
                c->will.payload ? strlen(c->will.payload) : (size_t)0);
    } else {
        fprintf(f, "    will: -\n");
    }
    s_esc_done(&e);
    fprintf(f, "    messageBufferWindowMs: %d  maxBufferedMessages: %d  targetState: %s\n",
            c->buffer_window_ms, c->max_buffered,
            c->target_connected ? "connected" : "disconnected");
}

static void s_print_endpoint(const struct mqg_model *m, const struct mqg_endpoint *ep, FILE *f)
{
    struct s_esc e = {.n = 0};
    const char *off = ep->disabled ? " (targetState disabled: no route)" : "";
    if (ep->kind == MQG_EP_WRITE) {
        fprintf(f, "  %s/%s: write %s qos %d retain %s on %s, listens on %s/set%s\n",
                s_esc(&e, ep->service_id), s_esc(&e, ep->id), s_esc(&e, ep->topic), ep->qos,
                s_bool(ep->retain), s_esc(&e, s_conn_name(m, ep->conn)), s_esc(&e, ep->data_topic),
                off);
    } else {
        fprintf(f, "  %s/%s: subscribe %s qos %d on %s, data topic %s%s\n",
                s_esc(&e, ep->service_id), s_esc(&e, ep->id), s_esc(&e, ep->topic), ep->qos,
                s_esc(&e, s_conn_name(m, ep->conn)), s_esc(&e, ep->data_topic), off);
    }
    s_esc_done(&e);
}

/* The options of r worth a look in `mqgate check` (not the expressions). */
static void s_print_opts(const struct mqg_rule *r, FILE *f)
{
    if (r->kind == MQG_RULE_PARSE || r->kind == MQG_RULE_STASH || r->kind == MQG_RULE_COV) {
        fputs(r->kind == MQG_RULE_COV ? " key " : " ", f);
        mqg_text_fput(r->text, f);
    }
    if (r->kind == MQG_RULE_COV && r->cov_mode != 0) {
        fprintf(f, " deadband %g%s", r->deadband, r->cov_mode == 2 ? "%" : "");
    }
    if (r->kind == MQG_RULE_BURST && r->max_size) {
        fprintf(f, " maxSize %u", (unsigned)r->max_size);
    }
    if (r->kind == MQG_RULE_BURST && r->interval_ms) {
        fprintf(f, " interval %ums", (unsigned)r->interval_ms);
    }
    for (size_t j = 0; j < r->n_vars; j++) {
        fputs(j ? ", " : " ", f);
        mqg_text_fput(r->vars[j].name, f);
    }
}

void mqg_model_rules_print(const struct mqg_rule *r, size_t n, FILE *f)
{
    if (n == 0) {
        return;
    }
    fputs("      rules: ", f);
    for (size_t i = 0; i < n; i++) {
        int k = r[i].kind;
        fprintf(f, "%s%s", i ? ", " : "", mqg_rule_kind_name((enum mqg_rule_kind)k));
        s_print_opts(&r[i], f);
        fputs(" (", f);
        mqg_text_fput(r[i].where, f);
        fputs(")", f);
    }
    fputs("\n", f);
}

static void s_print_route(const struct mqg_model *m, const struct mqg_route *r, FILE *f)
{
    struct s_esc e = {.n = 0};
    fprintf(f, "  %s: ", s_esc(&e, r->name));
    s_esc_done(&e);
    for (size_t i = 0; i < r->n_sources; i++) {
        const struct mqg_source *s = &r->sources[i];
        fprintf(f, "%s%s %s (qos %d)", i ? ", " : "", s_esc(&e, s_conn_name(m, s->conn)),
                s_esc(&e, s->filter), s->qos);
        if (s->label) {
            fprintf(f, " label %s", s_esc(&e, s->label));
        }
        s_esc_done(&e);
    }
    fprintf(f, " -> %s %s (qos %d%s)\n", s_esc(&e, s_conn_name(m, r->target.conn)),
            s_esc(&e, r->target.topic), r->target.qos, r->target.retain ? ", retain" : "");
    s_esc_done(&e);
    mqg_model_rules_print(r->rules, r->n_rules, f);
}

void mqg_model_print(const struct mqg_model *m, FILE *f)
{
    struct s_esc e = {.n = 0};
    fprintf(f, "services: %zu\n", m->n_services);
    for (size_t i = 0; i < m->n_services; i++) {
        const struct mqg_service_info *s = &m->services[i];
        fprintf(f, "  %s: \"%s\" from %s\n", s_esc(&e, s->service_id), s_esc(&e, s->name),
                s_esc(&e, s->file));
        s_esc_done(&e);
    }
    fprintf(f, "connections: %zu\n", m->n_conns);
    for (size_t i = 0; i < m->n_conns; i++) {
        s_print_conn(&m->conns[i], f);
    }
    fprintf(f, "endpoints: %zu\n", m->n_endpoints);
    for (size_t i = 0; i < m->n_endpoints; i++) {
        s_print_endpoint(m, &m->endpoints[i], f);
    }
    fprintf(f, "routes: %zu\n", m->n_routes);
    for (size_t i = 0; i < m->n_routes; i++) {
        s_print_route(m, &m->routes[i], f);
    }
    fprintf(f, "skipped: %zu\n", m->n_skipped);
    for (size_t i = 0; i < m->n_skipped; i++) {
        const struct mqg_skipped *s = &m->skipped[i];
        fprintf(f, "  %s/%s: %s (not supported, ignored)\n", s_esc(&e, s->service_id),
                s_esc(&e, s->id), s_esc(&e, s->type));
        s_esc_done(&e);
    }
    if (m->n_notices) {
        fprintf(f, "notices: %zu\n", m->n_notices);
    }
    for (size_t i = 0; i < m->n_notices; i++) {
        fprintf(f, "  %s\n", s_esc(&e, m->notices[i]));
        s_esc_done(&e);
    }
}
