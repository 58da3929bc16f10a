/* mqg_svc_conn — Cybus::Connection: one table row per `connection.` setting.
 *
 * Used by the loader (see mqg_svc_conn.h). s_conn_table names each setting once, with its type,
 * bounds, default and the field of struct mqg_connection it fills; the key list of "unknown
 * property" errors, the defaults and the reading all come from it. The will is a table of its
 * own (s_will_table) read by the same code. Addresses and URLs are parsed by mqg_url.c.
 */
#include "mqg_svc_conn.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_svc_setting.h"
#include "mqg_url.h"

#define S_CLIENT_ID_MAX 64 /* derived client id, bytes */

typedef struct mqg_yaml_node s_node;

/* How a setting is read and checked, and the C type of its field. */
enum s_type {
    S_TYPE_HOST,      /* char *: a host name or an address; "[v6]" loses its brackets */
    S_TYPE_SCHEME,    /* enum mqg_scheme: mqtt, tcp, mqtts, tls, ws or wss, any case */
    S_TYPE_URL,       /* char * (the uri): scheme://host[:port][/path], sets the address too */
    S_TYPE_TEXT,      /* char *: text */
    S_TYPE_CLIENT_ID, /* char *: text of min..max bytes (min 1: "a non-empty client id") */
    S_TYPE_TOPIC,     /* char *: a topic to publish to */
    S_TYPE_INT,       /* int: an integer in min..max */
    S_TYPE_BOOL,      /* bool: true or false */
    S_TYPE_WILL,      /* struct mqg_will: a mapping read with s_will_table */
    S_TYPE_STRATEGY,  /* the reconnect_* fields: a mapping read with s_strategy_table */
};

/* When a setting is read: stage by stage, in table order within a stage. With several errors
 * in one connection the first one reported stays the one it has always been. */
enum s_stage {
    S_STAGE_URL,      /* url: when given, the address stage is not read */
    S_STAGE_ADDRESS,  /* host, port, scheme */
    S_STAGE_CLIENT,   /* credentials, client id */
    S_STAGE_LIMITS,   /* times and bounds */
    S_STAGE_STRATEGY, /* connectionStrategy (after reconnectPeriod, which it replaces) */
    S_STAGE_SWITCHES, /* booleans */
    S_STAGE_TLS,      /* certificates and key */
    S_STAGE_WILL,     /* the will, and every setting of the will itself */
};

#define S_REQUIRED 0x1      /* not set: error `missing` */
#define S_NONE_IF_EMPTY 0x2 /* "" means not set: the field stays NULL */
#define S_SECRET 0x4        /* wiped before it is freed */

/* One setting: everything the loader knows about it. */
struct s_setting {
    const char *key;
    enum s_type type;
    enum s_stage stage;
    unsigned flags;
    long long min; /* S_TYPE_INT: range; S_TYPE_CLIENT_ID: length in bytes */
    long long max;
    long long def;        /* S_TYPE_INT, S_TYPE_BOOL, S_TYPE_SCHEME: the value when not set */
    const char *def_text; /* text types: the value when not set (NULL: none) */
    const char *missing;  /* S_REQUIRED: the message when not set */
    size_t field;         /* offset of the value in the struct the table fills */
};

/* offsetof(type, member); does not compile unless the member has the C type `ctype`. */
#define S_FIELD(type, member, ctype)                                                               \
    (offsetof(type, member) + 0 * sizeof(_Generic(((type *)0)->member, ctype : 1)))
#define S_CONN(member, ctype) S_FIELD(struct mqg_connection, member, ctype)
#define S_WILL(member, ctype) S_FIELD(struct mqg_will, member, ctype)

/* A row: key, type, stage, field, then whatever else the setting has (.flags, .min, .max,
 * .def, .def_text, .missing); what is not given is 0 / NULL. */
#define S_ROW(key_, type_, stage_, field_, ...)                                                    \
    {                                                                                              \
        .key = key_, .type = type_, .stage = stage_, .field = field_, __VA_ARGS__                  \
    }

/* `connection.` of a Cybus::Connection, in the order of docs/formats.md §1.6 and of the key
 * list in errors. */
static const struct s_setting s_conn_table[] = {
    S_ROW("host", S_TYPE_HOST, S_STAGE_ADDRESS, S_CONN(host, char *), .flags = S_REQUIRED,
          .missing = "host is missing; expected the broker's host (or a url)"),
    /* port 0: the scheme's default, once the address is read */
    S_ROW("port", S_TYPE_INT, S_STAGE_ADDRESS, S_CONN(port, int), .min = 1, .max = 65535),
    S_ROW("scheme", S_TYPE_SCHEME, S_STAGE_ADDRESS, S_CONN(scheme, enum mqg_scheme),
          .def = MQG_SCHEME_MQTT),
    S_ROW("url", S_TYPE_URL, S_STAGE_URL, S_CONN(uri, char *)),
    S_ROW("username", S_TYPE_TEXT, S_STAGE_CLIENT, S_CONN(username, char *),
          .flags = S_NONE_IF_EMPTY),
    S_ROW("password", S_TYPE_TEXT, S_STAGE_CLIENT, S_CONN(password, char *),
          .flags = S_NONE_IF_EMPTY | S_SECRET),
    S_ROW("clientId", S_TYPE_CLIENT_ID, S_STAGE_CLIENT, S_CONN(client_id, char *), .min = 1,
          .max = 65535),
    S_ROW("clean", S_TYPE_BOOL, S_STAGE_SWITCHES, S_CONN(clean, bool), .def = true),
    S_ROW("keepalive", S_TYPE_INT, S_STAGE_LIMITS, S_CONN(keepalive_s, int), .min = 0, .max = 65535,
          .def = 60),
    S_ROW("connectTimeout", S_TYPE_INT, S_STAGE_LIMITS, S_CONN(connect_timeout_ms, int), .min = 0,
          .max = INT_MAX, .def = 30000),
    S_ROW("reconnectPeriod", S_TYPE_INT, S_STAGE_LIMITS, S_CONN(reconnect_period_ms, int), .min = 0,
          .max = INT_MAX, .def = 1000),
    S_ROW("protocolVersion", S_TYPE_INT, S_STAGE_LIMITS, S_CONN(protocol_version, int), .min = 3,
          .max = 5, .def = 4),
    S_ROW("trustAllCertificates", S_TYPE_BOOL, S_STAGE_SWITCHES, S_CONN(trust_all, bool),
          .def = false),
    S_ROW("mutualAuthentication", S_TYPE_BOOL, S_STAGE_SWITCHES, S_CONN(mutual_auth, bool),
          .def = false),
    S_ROW("caCert", S_TYPE_TEXT, S_STAGE_TLS, S_CONN(ca_cert, char *), .flags = S_NONE_IF_EMPTY),
    S_ROW("clientCert", S_TYPE_TEXT, S_STAGE_TLS, S_CONN(client_cert, char *),
          .flags = S_NONE_IF_EMPTY),
    S_ROW("clientPrivateKey", S_TYPE_TEXT, S_STAGE_TLS, S_CONN(client_key, char *),
          .flags = S_NONE_IF_EMPTY | S_SECRET),
    S_ROW("will", S_TYPE_WILL, S_STAGE_WILL, S_CONN(will, struct mqg_will)),
    S_ROW("messageBufferWindowMs", S_TYPE_INT, S_STAGE_LIMITS, S_CONN(buffer_window_ms, int),
          .min = 0, .max = 30000, .def = 10000),
    S_ROW("maxBufferedMessages", S_TYPE_INT, S_STAGE_LIMITS, S_CONN(max_buffered, int), .min = 1,
          .max = 300000, .def = 20000),
    S_ROW("connectionStrategy", S_TYPE_STRATEGY, S_STAGE_STRATEGY,
          S_CONN(reconnect_period_ms, int)),
};

/* `connection.connectionStrategy.`: the delays between reconnect attempts as the platform
 * documents them for its connections (initialDelay at least 1000, incrementFactor at least 2,
 * maxDelay greater than initialDelay). */
struct s_strategy {
    int initial;
    int max;
    int factor;
};
#define S_STRAT(member) S_FIELD(struct s_strategy, member, int)
static const struct s_setting s_strategy_table[] = {
    S_ROW("initialDelay", S_TYPE_INT, S_STAGE_STRATEGY, S_STRAT(initial), .min = 1000,
          .max = INT_MAX, .def = 1000),
    S_ROW("maxDelay", S_TYPE_INT, S_STAGE_STRATEGY, S_STRAT(max), .min = 1, .max = INT_MAX,
          .def = 30000),
    S_ROW("incrementFactor", S_TYPE_INT, S_STAGE_STRATEGY, S_STRAT(factor), .min = 2, .max = 1000,
          .def = 2),
};
#define S_N_STRATEGY (sizeof(s_strategy_table) / sizeof(s_strategy_table[0]))

/* `connection.will.` */
static const struct s_setting s_will_table[] = {
    S_ROW("topic", S_TYPE_TOPIC, S_STAGE_WILL, S_WILL(topic, char *), .flags = S_REQUIRED,
          .missing = "will.topic is missing; expected the topic of the last-will message"),
    S_ROW("payload", S_TYPE_TEXT, S_STAGE_WILL, S_WILL(payload, char *), .def_text = ""),
    S_ROW("qos", S_TYPE_INT, S_STAGE_WILL, S_WILL(qos, int), .min = 0, .max = 2, .def = 0),
    S_ROW("retain", S_TYPE_BOOL, S_STAGE_WILL, S_WILL(retain, bool), .def = false),
};

#define S_N_CONN (sizeof(s_conn_table) / sizeof(s_conn_table[0]))
#define S_N_WILL (sizeof(s_will_table) / sizeof(s_will_table[0]))
_Static_assert(S_N_WILL <= S_N_CONN && S_N_STRATEGY <= S_N_CONN,
               "s_check_keys() sizes its key list by s_conn_table");

static int s_read_stage(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                        const struct s_setting *t, size_t n, enum s_stage stage, void *obj,
                        const s_node *missing_at);

/* ---------------------------------------------------------------------------------------- */
/* the table                                                                                 */

/* Set every field of obj that has a default. */
static void s_defaults(const struct s_setting *t, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++) {
        void *field = (char *)obj + t[i].field;
        switch (t[i].type) {
        case S_TYPE_INT:
            *(int *)field = (int)t[i].def;
            break;
        case S_TYPE_BOOL:
            *(bool *)field = t[i].def != 0;
            break;
        case S_TYPE_SCHEME:
            *(enum mqg_scheme *)field = (enum mqg_scheme)t[i].def;
            break;
        default:
            break;
        }
    }
}

/* Fail on a key of `map` that is not in the table. */
static int s_check_keys(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                        const struct s_setting *t, size_t n)
{
    const char *keys[S_N_CONN + 1];
    assert(n <= S_N_CONN);
    for (size_t i = 0; i < n; i++) {
        keys[i] = t[i].key;
    }
    keys[n] = NULL;
    return mqg_svc_check_keys(c, map, base, keys);
}

/* What a text setting must be beyond text, once it is set into *out. */
static int s_check_text(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                        const struct s_setting *s, char **out)
{
    char path[MQG_SVC_PATH_MAX];
    const s_node *at = mqg_yaml_map_get(c->doc, map, s->key, NULL);
    size_t n = strlen(*out);
    mqg_svc_path(path, base, s->key);
    switch (s->type) {
    case S_TYPE_HOST: {
        const char *colon = strchr(*out, ':');
        if (colon && !strchr(colon + 1, ':') && (*out)[0] != '[') {
            /* one ':' is not an IPv6 address: a host with a port, which would make a broken
             * URI (the platform documents host and port as settings of their own) */
            return mqg_svc_fail(c, at, path,
                                "invalid host '%s': a host with a port; expected the host alone "
                                "(port: %s), or a url such as mqtt://%s",
                                *out, colon + 1, *out);
        }
        if (n > 2 && (*out)[0] == '[' && (*out)[n - 1] == ']') {
            memmove(*out, *out + 1, n - 2);
            (*out)[n - 2] = '\0';
        }
        if (!mqg_url_valid_host(*out)) {
            return mqg_svc_fail(c, at, path,
                                "invalid host '%s'; expected a host name or an address", *out);
        }
        return 0;
    }
    case S_TYPE_CLIENT_ID:
        if ((long long)n < s->min || (long long)n > s->max) {
            return mqg_svc_fail(c, at, path, "expected a non-empty client id of at most %lld bytes",
                                s->max);
        }
        return 0;
    case S_TYPE_TOPIC:
        return mqg_svc_check_publish_topic(c, at, path, *out, 0, *out, "topic name", "");
    default:
        if (n == 0 && (s->flags & S_NONE_IF_EMPTY)) {
            if (s->flags & S_SECRET) {
                explicit_bzero(*out, 1);
            }
            free(*out);
            *out = NULL;
        }
        return 0;
    }
}

/* A text setting (S_TYPE_HOST, _TEXT, _CLIENT_ID, _TOPIC) into *out. */
static int s_read_text(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                       const struct s_setting *s, char **out)
{
    int rc = mqg_svc_opt_string(c, map, base, s->key, out);
    if (rc > 0) {
        rc = s_check_text(c, map, base, s, out);
        return rc < 0 ? rc : 1;
    }
    if (rc == 0 && s->def_text && !*out) {
        rc = mqg_svc_dup(c, s->def_text, out);
    }
    return rc;
}

/* scheme: into *out. */
static int s_read_scheme(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                         const struct s_setting *s, enum mqg_scheme *out)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, map, base, s->key, path, &v);
    if (rc > 0) {
        rc = mqg_svc_val_text(c, &v, path, "a scheme");
        if (rc == 0 && !mqg_url_scheme(v.text, v.len, false, out)) {
            rc = mqg_svc_fail(c, v.at, path,
                              "unknown scheme '%s'; expected mqtt, tcp, mqtts, tls, ws or wss",
                              v.text);
        }
        rc = rc < 0 ? rc : 1;
    }
    mqg_svc_val_clear(&v);
    return rc;
}

/* The url in v: host, port, scheme and uri of cn. */
static int s_use_url(struct mqg_svc_ctx *c, const struct mqg_svc_val *v, const char *path,
                     struct mqg_connection *cn)
{
    char why[sizeof(c->err->msg)];
    struct mqg_url u;
    int rc = mqg_url_parse(v->text, &u, why, sizeof(why));
    if (rc == -ENOMEM) {
        return mqg_svc_oom(c);
    }
    if (rc < 0) {
        return mqg_svc_fail(c, v->at, path, "%s", why);
    }
    free(cn->host);
    cn->host = u.host;
    u.host = NULL;
    cn->scheme = u.scheme;
    cn->port = u.port;
    cn->uri = mqg_url_uri(cn->scheme, cn->host, cn->port, u.path);
    mqg_url_clear(&u);
    return cn->uri ? 0 : mqg_svc_oom(c);
}

/* url: the whole address of cn. */
static int s_read_url(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                      const struct s_setting *s, struct mqg_connection *cn)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, map, base, s->key, path, &v);
    if (rc > 0) {
        rc = mqg_svc_val_text(c, &v, path, "a url such as mqtt://host:1883");
        rc = rc < 0 ? rc : s_use_url(c, &v, path, cn);
        rc = rc < 0 ? rc : 1;
    }
    mqg_svc_val_clear(&v);
    return rc;
}

/* will: a mapping of s_will_table's settings into *w. */
static int s_read_will(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                       const struct s_setting *s, struct mqg_will *w)
{
    char wbase[MQG_SVC_PATH_MAX];
    const s_node *wm;
    int rc = mqg_svc_opt_map(c, map, base, s->key, &wm);
    if (rc <= 0) {
        return rc;
    }
    mqg_svc_path(wbase, base, s->key);
    rc = s_check_keys(c, wm, wbase, s_will_table, S_N_WILL);
    if (rc < 0) {
        return rc;
    }
    w->set = true;
    s_defaults(s_will_table, S_N_WILL, w);
    rc = s_read_stage(c, wm, wbase, s_will_table, S_N_WILL, S_STAGE_WILL, w,
                      mqg_yaml_map_get(c->doc, map, s->key, NULL));
    return rc < 0 ? rc : 1;
}

/* connectionStrategy: a mapping of s_strategy_table's settings into the reconnect delays of
 * cn (initialDelay replaces reconnectPeriod). */
static int s_read_strategy(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                           const struct s_setting *s, struct mqg_connection *cn)
{
    char sbase[MQG_SVC_PATH_MAX];
    char path[MQG_SVC_PATH_MAX];
    const s_node *sm;
    int rc = mqg_svc_opt_map(c, map, base, s->key, &sm);
    if (rc <= 0) {
        return rc;
    }
    mqg_svc_path(sbase, base, s->key);
    rc = s_check_keys(c, sm, sbase, s_strategy_table, S_N_STRATEGY);
    if (rc < 0) {
        return rc;
    }
    struct s_strategy st;
    s_defaults(s_strategy_table, S_N_STRATEGY, &st);
    rc = s_read_stage(c, sm, sbase, s_strategy_table, S_N_STRATEGY, S_STAGE_STRATEGY, &st, NULL);
    if (rc < 0) {
        return rc;
    }
    if (st.max <= st.initial) {
        const s_node *at = mqg_yaml_map_get(c->doc, sm, "maxDelay", NULL);
        mqg_svc_path(path, sbase, at ? "maxDelay" : "initialDelay");
        return mqg_svc_fail(c, at ? at : mqg_yaml_map_get(c->doc, sm, "initialDelay", NULL), path,
                            "maxDelay (%d%s) must be greater than initialDelay (%d)", st.max,
                            at ? "" : ", the default", st.initial);
    }
    cn->reconnect_period_ms = st.initial;
    cn->reconnect_max_ms = st.max;
    cn->reconnect_factor = st.factor;
    return 1;
}

/* One setting of a table into obj. Returns 1 when set, 0 when not (a required one: error at
 * missing_at), or a negative errno. */
static int s_read(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                  const struct s_setting *s, void *obj, const s_node *missing_at)
{
    char path[MQG_SVC_PATH_MAX];
    void *field = (char *)obj + s->field;
    int rc;
    switch (s->type) {
    case S_TYPE_INT:
        rc = mqg_svc_opt_int(c, map, base, s->key, s->min, s->max, field);
        break;
    case S_TYPE_BOOL:
        rc = mqg_svc_opt_bool(c, map, base, s->key, field);
        break;
    case S_TYPE_SCHEME:
        rc = s_read_scheme(c, map, base, s, field);
        break;
    case S_TYPE_URL:
        rc = s_read_url(c, map, base, s, obj);
        break;
    case S_TYPE_WILL:
        rc = s_read_will(c, map, base, s, field);
        break;
    case S_TYPE_STRATEGY:
        rc = s_read_strategy(c, map, base, s, obj);
        break;
    default:
        rc = s_read_text(c, map, base, s, field);
        break;
    }
    if (rc == 0 && (s->flags & S_REQUIRED)) {
        mqg_svc_path(path, base, s->key);
        return mqg_svc_fail(c, missing_at, path, "%s", s->missing);
    }
    return rc;
}

/* The settings of one stage, in table order. Returns how many were set, or a negative errno. */
static int s_read_stage(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                        const struct s_setting *t, size_t n, enum s_stage stage, void *obj,
                        const s_node *missing_at)
{
    int given = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].stage != stage) {
            continue;
        }
        int rc = s_read(c, map, base, &t[i], obj, missing_at);
        if (rc < 0) {
            return rc;
        }
        given += rc;
    }
    return given;
}

/* ---------------------------------------------------------------------------------------- */
/* Cybus::Connection                                                                         */

/* The uri from host, port (0: the scheme's default) and scheme, unless the url made it. */
static int s_conn_uri(struct mqg_svc_ctx *c, struct mqg_connection *cn)
{
    if (cn->uri) {
        return 0;
    }
    if (cn->port == 0) {
        cn->port = mqg_url_default_port(cn->scheme);
    }
    cn->uri = mqg_url_uri(cn->scheme, cn->host, cn->port, NULL);
    return cn->uri ? 0 : mqg_svc_oom(c);
}

/* Every stage of s_conn_table from the mapping cm into cn; `at` is where a missing host is
 * reported. */
static int s_conn_settings(struct mqg_svc_ctx *c, const s_node *cm, const char *base,
                           const s_node *at, struct mqg_connection *cn)
{
    char path[MQG_SVC_PATH_MAX];
    int rc = s_read_stage(c, cm, base, s_conn_table, S_N_CONN, S_STAGE_URL, cn, at);
    if (rc == 0) {
        rc = s_read_stage(c, cm, base, s_conn_table, S_N_CONN, S_STAGE_ADDRESS, cn, at);
    }
    rc = rc < 0 ? rc : s_conn_uri(c, cn);
    for (int st = S_STAGE_CLIENT; rc >= 0 && st <= S_STAGE_WILL; st++) {
        rc = s_read_stage(c, cm, base, s_conn_table, S_N_CONN, (enum s_stage)st, cn, at);
    }
    if (rc < 0) {
        return rc;
    }
    if (cn->mutual_auth && (!cn->client_cert || !cn->client_key)) {
        mqg_svc_path(path, base, "mutualAuthentication");
        return mqg_svc_fail(c, mqg_yaml_map_get(c->doc, cm, "mutualAuthentication", NULL), path,
                            "mutualAuthentication is true but %s is missing; expected clientCert "
                            "and clientPrivateKey",
                            cn->client_cert ? "clientPrivateKey" : "clientCert");
    }
    return 0;
}

/* A new connection in the model with its ids and defaults; r->index gets its index. */
static int s_conn_new(struct mqg_svc_ctx *c, struct mqg_svc_res *r, struct mqg_connection **out)
{
    size_t idx;
    int rc = mqg_svc_append(c, (void **)&c->m->conns, &c->m->n_conns, sizeof(*c->m->conns), &idx);
    if (rc < 0) {
        return rc;
    }
    r->index = (int)idx;
    struct mqg_connection *cn = &c->m->conns[idx];
    s_defaults(s_conn_table, S_N_CONN, cn);
    cn->target_connected = true;
    *out = cn;
    if (mqg_svc_dup(c, c->sid, &cn->service_id) < 0 || mqg_svc_dup(c, r->id, &cn->id) < 0 ||
        mqg_svc_aprintf(c, &cn->key, "%s/%s", c->sid, r->id) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* properties.targetState: connected (default) or disconnected. */
static int s_conn_target(struct mqg_svc_ctx *c, const s_node *props, const char *base,
                         struct mqg_connection *cn)
{
    char path[MQG_SVC_PATH_MAX];
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, props, base, "targetState", path, &v);
    if (rc > 0) {
        rc = mqg_svc_val_text(c, &v, path, "connected or disconnected");
        if (rc == 0 && strcmp(v.text, "connected") != 0 && strcmp(v.text, "disconnected") != 0) {
            rc = mqg_svc_fail(c, v.at, path,
                              "unknown targetState '%s'; expected connected or disconnected",
                              v.text);
        }
        if (rc == 0) {
            cn->target_connected = strcmp(v.text, "connected") == 0;
        }
    }
    mqg_svc_val_clear(&v);
    return rc < 0 ? rc : 0;
}

/* properties.connection: the mapping of s_conn_table's settings. */
static int s_conn_mapping(struct mqg_svc_ctx *c, struct mqg_svc_res *r, const char *base,
                          struct mqg_connection *cn)
{
    char cbase[MQG_SVC_PATH_MAX];
    const s_node *cm;
    const s_node *ckey = NULL;
    int rc = mqg_svc_opt_map(c, r->props, base, "connection", &cm);
    if (rc < 0) {
        return rc;
    }
    mqg_svc_path(cbase, base, "connection");
    if (!cm) {
        return mqg_svc_fail(c, r->key, cbase,
                            "connection is missing; expected connection: {host, port, ...}");
    }
    rc = s_check_keys(c, cm, cbase, s_conn_table, S_N_CONN);
    mqg_yaml_map_get(c->doc, r->props, "connection", &ckey);
    return rc < 0 ? rc : s_conn_settings(c, cm, cbase, ckey ? ckey : r->key, cn);
}

int mqg_svc_build_conn(struct mqg_svc_ctx *c, struct mqg_svc_res *r)
{
    static const char *const keys[] = {"protocol", "targetState", "agentName", "connection", NULL};
    char base[MQG_SVC_PATH_MAX];
    struct mqg_connection *cn = NULL;
    snprintf(base, sizeof(base), "resources.%s.properties", r->id);
    int rc = mqg_svc_check_keys(c, r->props, base, keys);
    rc = rc < 0 ? rc : s_conn_new(c, r, &cn);
    rc = rc < 0 ? rc : s_conn_target(c, r->props, base, cn);
    /* the platform's agent (a protocol-mapper elsewhere) that serves it: here, this gateway */
    rc = rc < 0 ? rc
                : mqg_svc_opt_ignored(c, r->props, base, "agentName", false,
                                      "everything runs in this gateway");
    rc = rc < 0 ? rc : s_conn_mapping(c, r, base, cn);
    if (rc < 0 || cn->client_id) {
        return rc;
    }
    cn->client_id_derived = true; /* made unique per instance by mqg_clientid_apply */
    rc = mqg_svc_aprintf(c, &cn->client_id, "%s-%s", c->sid, r->id);
    if (rc == 0 && strlen(cn->client_id) > S_CLIENT_ID_MAX) {
        cn->client_id[S_CLIENT_ID_MAX] = '\0';
    }
    return rc;
}
