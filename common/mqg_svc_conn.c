/* mqg_svc_conn — Cybus::Connection: address, settings and will of a broker connection.
 *
 * Used by the loader (see mqg_svc_conn.h). Addresses and URLs are parsed by mqg_url.c.
 */
#include "mqg_svc_conn.h"

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

/* The url in v: host, port and scheme of cn, and the path of a WebSocket url (*ws_path). */
static int s_parse_url(struct mqg_svc_ctx *c, const struct mqg_svc_val *v, const char *path,
                       struct mqg_connection *cn, char **ws_path)
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
    cn->port = u.port;
    cn->scheme = u.scheme;
    *ws_path = u.path;
    return 0;
}

/* host, port and scheme (or url) of a connection. */
static int s_conn_host_port(struct mqg_svc_ctx *c, const s_node *cm, const char *base,
                            const s_node *at, struct mqg_connection *cn)
{
    char path[MQG_SVC_PATH_MAX];
    int rc = mqg_svc_opt_string(c, cm, base, "host", &cn->host);
    mqg_svc_path(path, base, "host");
    if (rc == 0) {
        return mqg_svc_fail(c, at, path, "host is missing; expected the broker's host (or a url)");
    }
    if (rc < 0) {
        return rc;
    }
    size_t n = strlen(cn->host);
    if (n > 2 && cn->host[0] == '[' && cn->host[n - 1] == ']') {
        memmove(cn->host, cn->host + 1, n - 2);
        cn->host[n - 2] = '\0';
    }
    if (!mqg_url_valid_host(cn->host)) {
        return mqg_svc_fail(c, mqg_yaml_map_get(c->doc, cm, "host", NULL), path,
                            "invalid host '%s'; expected a host name or an address", cn->host);
    }
    rc = mqg_svc_opt_int(c, cm, base, "port", 1, 65535, &cn->port);
    if (rc < 0) {
        return rc;
    }
    struct mqg_svc_val v;
    rc = mqg_svc_get(c, cm, base, "scheme", path, &v);
    if (rc > 0) {
        rc = mqg_svc_val_text(c, &v, path, "a scheme");
        if (rc == 0 && !mqg_url_scheme(v.text, v.len, false, &cn->scheme)) {
            rc = mqg_svc_fail(c, v.at, path,
                              "unknown scheme '%s'; expected mqtt, tcp, mqtts, tls, ws or wss",
                              v.text);
        }
    }
    mqg_svc_val_clear(&v);
    return rc < 0 ? rc : 0;
}

/* host, port, scheme, url -> host, port, scheme, uri. `at` is where a missing host is
 * reported. */
static int s_conn_address(struct mqg_svc_ctx *c, const s_node *cm, const char *base,
                          const s_node *at, struct mqg_connection *cn)
{
    char path[MQG_SVC_PATH_MAX];
    char *ws_path = NULL;
    struct mqg_svc_val v;
    int rc = mqg_svc_get(c, cm, base, "url", path, &v);
    if (rc > 0) {
        rc = mqg_svc_val_text(c, &v, path, "a url such as mqtt://host:1883");
        rc = rc < 0 ? rc : s_parse_url(c, &v, path, cn, &ws_path);
    } else if (rc == 0) {
        rc = s_conn_host_port(c, cm, base, at, cn);
    }
    mqg_svc_val_clear(&v);
    if (rc < 0) {
        free(ws_path);
        return rc;
    }
    if (cn->port == 0) {
        cn->port = mqg_url_default_port(cn->scheme);
    }
    cn->uri = mqg_url_uri(cn->scheme, cn->host, cn->port, ws_path);
    free(ws_path);
    return cn->uri ? 0 : mqg_svc_oom(c);
}

static int s_conn_will(struct mqg_svc_ctx *c, const s_node *cm, const char *base,
                       struct mqg_connection *cn)
{
    static const char *const keys[] = {"topic", "payload", "qos", "retain", NULL};
    char wbase[MQG_SVC_PATH_MAX];
    char path[MQG_SVC_PATH_MAX];
    const s_node *w;
    int rc = mqg_svc_opt_map(c, cm, base, "will", &w);
    if (rc <= 0) {
        return rc;
    }
    mqg_svc_path(wbase, base, "will");
    rc = mqg_svc_check_keys(c, w, wbase, keys);
    if (rc < 0) {
        return rc;
    }
    cn->will.set = true;
    rc = mqg_svc_opt_string(c, w, wbase, "topic", &cn->will.topic);
    mqg_svc_path(path, wbase, "topic");
    if (rc == 0) {
        return mqg_svc_fail(c, mqg_yaml_map_get(c->doc, cm, "will", NULL), path,
                            "will.topic is missing; expected the topic of the last-will message");
    }
    if (rc > 0) {
        rc = mqg_svc_check_publish_topic(c, mqg_yaml_map_get(c->doc, w, "topic", NULL), path,
                                         cn->will.topic, 0, cn->will.topic, "topic name", "");
    }
    rc = rc < 0 ? rc : mqg_svc_opt_string(c, w, wbase, "payload", &cn->will.payload);
    if (rc == 0 && !cn->will.payload) {
        rc = mqg_svc_dup(c, "", &cn->will.payload);
    }
    rc = rc < 0 ? rc : mqg_svc_opt_int(c, w, wbase, "qos", 0, 2, &cn->will.qos);
    rc = rc < 0 ? rc : mqg_svc_opt_bool(c, w, wbase, "retain", &cn->will.retain);
    return rc < 0 ? rc : 0;
}

/* Optional text settings that mean "none" when empty (credentials, certificates). */
static int s_opt_nonempty(struct mqg_svc_ctx *c, const s_node *map, const char *base,
                          const char *key, char **out, bool secret)
{
    int rc = mqg_svc_opt_string(c, map, base, key, out);
    if (rc > 0 && (*out)[0] == '\0') {
        if (secret) {
            explicit_bzero(*out, 1);
        }
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* Integer and boolean settings of `connection:`, with their ranges. */
struct s_int_setting {
    const char *key;
    long long min;
    long long max;
    size_t offset; /* of the int in struct mqg_connection */
};

static const struct s_int_setting s_conn_ints[] = {
    {"keepalive", 0, 65535, offsetof(struct mqg_connection, keepalive_s)},
    {"connectTimeout", 0, INT_MAX, offsetof(struct mqg_connection, connect_timeout_ms)},
    {"reconnectPeriod", 0, INT_MAX, offsetof(struct mqg_connection, reconnect_period_ms)},
    {"protocolVersion", 3, 5, offsetof(struct mqg_connection, protocol_version)},
    {"messageBufferWindowMs", 0, 30000, offsetof(struct mqg_connection, buffer_window_ms)},
    {"maxBufferedMessages", 1, 300000, offsetof(struct mqg_connection, max_buffered)},
};

struct s_bool_setting {
    const char *key;
    size_t offset; /* of the bool in struct mqg_connection */
};

static const struct s_bool_setting s_conn_bools[] = {
    {"clean", offsetof(struct mqg_connection, clean)},
    {"trustAllCertificates", offsetof(struct mqg_connection, trust_all)},
    {"mutualAuthentication", offsetof(struct mqg_connection, mutual_auth)},
};

static int s_conn_settings(struct mqg_svc_ctx *c, const s_node *cm, const char *base,
                           struct mqg_connection *cn)
{
    char path[MQG_SVC_PATH_MAX];
    int rc = s_opt_nonempty(c, cm, base, "username", &cn->username, false);
    rc = rc < 0 ? rc : s_opt_nonempty(c, cm, base, "password", &cn->password, true);
    rc = rc < 0 ? rc : mqg_svc_opt_string(c, cm, base, "clientId", &cn->client_id);
    if (rc > 0 && (cn->client_id[0] == '\0' || strlen(cn->client_id) > 65535)) {
        mqg_svc_path(path, base, "clientId");
        return mqg_svc_fail(c, mqg_yaml_map_get(c->doc, cm, "clientId", NULL), path,
                            "expected a non-empty client id of at most 65535 bytes");
    }
    for (size_t i = 0; rc >= 0 && i < sizeof(s_conn_ints) / sizeof(s_conn_ints[0]); i++) {
        const struct s_int_setting *t = &s_conn_ints[i];
        rc = mqg_svc_opt_int(c, cm, base, t->key, t->min, t->max, (int *)((char *)cn + t->offset));
    }
    for (size_t i = 0; rc >= 0 && i < sizeof(s_conn_bools) / sizeof(s_conn_bools[0]); i++) {
        const struct s_bool_setting *t = &s_conn_bools[i];
        rc = mqg_svc_opt_bool(c, cm, base, t->key, (bool *)((char *)cn + t->offset));
    }
    rc = rc < 0 ? rc : s_opt_nonempty(c, cm, base, "caCert", &cn->ca_cert, false);
    rc = rc < 0 ? rc : s_opt_nonempty(c, cm, base, "clientCert", &cn->client_cert, false);
    rc = rc < 0 ? rc : s_opt_nonempty(c, cm, base, "clientPrivateKey", &cn->client_key, true);
    rc = rc < 0 ? rc : s_conn_will(c, cm, base, cn);
    if (rc < 0) {
        return rc;
    }
    if (cn->mutual_auth && (!cn->client_cert || !cn->client_key)) {
        mqg_svc_path(path, base, "mutualAuthentication");
        return mqg_svc_fail(
            c, mqg_yaml_map_get(c->doc, cm, "mutualAuthentication", NULL), path,
            "mutualAuthentication is true but %s is missing; expected clientCert and "
            "clientPrivateKey",
            cn->client_cert ? "clientPrivateKey" : "clientCert");
    }
    return 0;
}

int mqg_svc_build_conn(struct mqg_svc_ctx *c, struct mqg_svc_res *r)
{
    static const char *const pkeys[] = {"protocol", "targetState", "connection", NULL};
    static const char *const ckeys[] = {"host",
                                        "port",
                                        "scheme",
                                        "url",
                                        "username",
                                        "password",
                                        "clientId",
                                        "clean",
                                        "keepalive",
                                        "connectTimeout",
                                        "reconnectPeriod",
                                        "protocolVersion",
                                        "trustAllCertificates",
                                        "mutualAuthentication",
                                        "caCert",
                                        "clientCert",
                                        "clientPrivateKey",
                                        "will",
                                        "messageBufferWindowMs",
                                        "maxBufferedMessages",
                                        NULL};
    char base[MQG_SVC_PATH_MAX];
    char cbase[MQG_SVC_PATH_MAX];
    char path[MQG_SVC_PATH_MAX];
    snprintf(base, sizeof(base), "resources.%s.properties", r->id);
    int rc = mqg_svc_check_keys(c, r->props, base, pkeys);
    if (rc < 0) {
        return rc;
    }
    size_t idx;
    rc = mqg_svc_append(c, (void **)&c->m->conns, &c->m->n_conns, sizeof(*c->m->conns), &idx);
    if (rc < 0) {
        return rc;
    }
    r->index = (int)idx;
    struct mqg_connection *cn = &c->m->conns[idx];
    cn->clean = true;
    cn->keepalive_s = 60;
    cn->connect_timeout_ms = 30000;
    cn->reconnect_period_ms = 1000;
    cn->protocol_version = 4;
    cn->target_connected = true;
    cn->buffer_window_ms = 10000;
    cn->max_buffered = 20000;
    cn->scheme = MQG_SCHEME_MQTT;
    if (mqg_svc_dup(c, c->sid, &cn->service_id) < 0 || mqg_svc_dup(c, r->id, &cn->id) < 0 ||
        mqg_svc_aprintf(c, &cn->key, "%s/%s", c->sid, r->id) < 0) {
        return -ENOMEM;
    }
    struct mqg_svc_val v;
    rc = mqg_svc_get(c, r->props, base, "targetState", path, &v);
    if (rc > 0) {
        rc = mqg_svc_val_text(c, &v, path, "connected or disconnected");
        if (rc == 0 && strcmp(v.text, "connected") != 0 && strcmp(v.text, "disconnected") != 0) {
            rc = mqg_svc_fail(c, v.at, path,
                              "unknown targetState '%s'; expected connected or "
                              "disconnected",
                              v.text);
        }
        if (rc == 0) {
            cn->target_connected = strcmp(v.text, "connected") == 0;
        }
    }
    mqg_svc_val_clear(&v);
    if (rc < 0) {
        return rc;
    }
    const s_node *cm;
    rc = mqg_svc_opt_map(c, r->props, base, "connection", &cm);
    if (rc < 0) {
        return rc;
    }
    mqg_svc_path(cbase, base, "connection");
    if (!cm) {
        return mqg_svc_fail(c, r->key, cbase,
                            "connection is missing; expected connection: {host, "
                            "port, ...}");
    }
    rc = mqg_svc_check_keys(c, cm, cbase, ckeys);
    const s_node *ckey = NULL;
    mqg_yaml_map_get(c->doc, r->props, "connection", &ckey);
    rc = rc < 0 ? rc : s_conn_address(c, cm, cbase, ckey ? ckey : r->key, cn);
    rc = rc < 0 ? rc : s_conn_settings(c, cm, cbase, cn);
    if (rc < 0) {
        return rc;
    }
    if (!cn->client_id) {
        cn->client_id_derived = true; /* made unique per instance by mqg_clientid_apply */
        rc = mqg_svc_aprintf(c, &cn->client_id, "%s-%s", c->sid, r->id);
        if (rc == 0 && strlen(cn->client_id) > S_CLIENT_ID_MAX) {
            cn->client_id[S_CLIENT_ID_MAX] = '\0';
        }
    }
    return rc;
}
