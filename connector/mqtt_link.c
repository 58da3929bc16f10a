/* mqtt_link — paho MQTTAsync adapter (see mqtt_link.h).
 *
 * Paho's callbacks get a context pointer; publish callbacks carry the caller's tag in it, so
 * the link they belong to is the process's single link (s_link). Translation of paho codes to
 * errno values and texts happens here only. Loading paho is paho_load.c's.
 */
#include "mqtt_link.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "link_evq.h"
#include "mqg_log.h"
#include "mqg_rundir.h"
#include "paho_load.h"

struct mqtt_link {
    mqtt_link_arrive_fn *arrive; /* called on paho's thread for every message */
    void *arrive_ctx;
    MQTTAsync client;
    const struct mqg_connection *conn;
    int version;
    int max_inflight;
    struct link_evq evq;           /* events for the connector's loop */
    char *files[MQG_SECRET_COUNT]; /* PEM files written for inline certificates */
    char **filters;                /* kept alive for subscribeMany */
    int *qos;
    MQTTSubscribe_options *opts; /* MQTT 5 No Local for each filter (the internal broker) */
    size_t n_filters;
    char rundir[512];
};

static struct mqtt_link *s_link;

/* paho's functions, loaded at run time (paho_load.h) */
static struct paho_api P;

/* ---- events (paho threads) ---- */

static void s_push(struct mqtt_link *l, struct link_ev *ev)
{
    link_evq_push(&l->evq, ev);
}

static void s_push_simple(struct mqtt_link *l, enum link_ev_kind kind, int rc, uint64_t tag,
                          const char *text)
{
    link_evq_push_simple(&l->evq, kind, rc, tag, text);
}

static int s_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct mqtt_link *l = ctx;
    size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t pl = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    struct link_ev *ev = link_ev_msg(topic, tl, m->payload, pl, m->qos, m->retained != 0);
    if (ev) {
        if (l->arrive) {
            l->arrive(l->arrive_ctx, ev);
        }
        s_push(l, ev);
    }
    P.freeMessage(&m);
    P.free_(topic);
    return 1;
}

static void s_on_lost(void *ctx, char *cause)
{
    s_push_simple(ctx, LEV_LOST, 0, 0, cause ? cause : "connection lost");
}

/* Each kind of result has one s_ev_*() that takes plain values; the paho callbacks for MQTT 3
 * and for MQTT 5 are thin adapters that take those values out of paho's data. */

/* Connected; max_packet, receive_max: the broker's Maximum Packet Size and Receive Maximum
 * (MQTT 5), 0 = none. */
static void s_ev_connected(struct mqtt_link *l, bool session_present, uint32_t max_packet,
                           uint16_t receive_max)
{
    struct link_ev *ev = calloc(1, sizeof(*ev));
    if (ev) {
        ev->kind = LEV_CONNECTED;
        ev->session_present = session_present;
        ev->max_packet = max_packet;
        ev->receive_max = receive_max;
        s_push(l, ev);
    }
}

static void s_ev_connect_failed(struct mqtt_link *l, int rc, const char *message)
{
    s_push_simple(l, LEV_CONNECT_FAILED, rc, 0, message);
}

/* A publish's context is its tag; the link is the process's one. */
static void s_ev_pub_done(void *tag)
{
    s_push_simple(s_link, LEV_PUB_OK, 0, (uint64_t)(uintptr_t)tag, NULL);
}

static void s_ev_pub_failed(void *tag, int rc)
{
    s_push_simple(s_link, LEV_PUB_FAIL, rc, (uint64_t)(uintptr_t)tag, NULL);
}

/* refused: how many filters the broker refused. */
static void s_ev_subscribed(struct mqtt_link *l, int refused)
{
    s_push_simple(l, LEV_SUB_OK, refused, 0, NULL);
}

static void s_ev_subscribe_failed(struct mqtt_link *l, int rc, const char *message)
{
    s_push_simple(l, LEV_SUB_FAIL, rc, 0, message);
}

/* The code of an MQTT 5 failure: the broker's reason code when it sent one, else paho's. */
static int s_code5(const MQTTAsync_failureData5 *d, int paho_code)
{
    return d->reasonCode ? (int)d->reasonCode : paho_code;
}

/* A subscribe that failed because the connection went away first: -ENOTCONN. */
static int s_sub_fail_rc(int code)
{
    return code == MQTTASYNC_OPERATION_INCOMPLETE || code == MQTTASYNC_DISCONNECTED ? -ENOTCONN
                                                                                    : code;
}

static void s_on_connect(void *ctx, MQTTAsync_successData *d)
{
    s_ev_connected(ctx, d ? d->alt.connect.sessionPresent != 0 : false, 0, 0);
}

static void s_on_connect5(void *ctx, MQTTAsync_successData5 *d)
{
    /* the CONNACK's properties: a publish larger than the broker's Maximum Packet Size makes
     * it close the connection (read here, not through paho's getters, which mqgate's paho
     * module does not export) */
    uint32_t max_packet = 0;
    uint16_t receive_max = 0;
    for (int i = 0; d && i < d->properties.count; i++) {
        const MQTTProperty *p = &d->properties.array[i];
        if (p->identifier == MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE) {
            max_packet = p->value.integer4;
        } else if (p->identifier == MQTTPROPERTY_CODE_RECEIVE_MAXIMUM) {
            receive_max = p->value.integer2;
        }
    }
    s_ev_connected(ctx, d ? d->alt.connect.sessionPresent != 0 : false, max_packet, receive_max);
}

static void s_on_connect_fail(void *ctx, MQTTAsync_failureData *d)
{
    s_ev_connect_failed(ctx, d ? d->code : MQTTASYNC_FAILURE, d ? d->message : NULL);
}

static void s_on_connect_fail5(void *ctx, MQTTAsync_failureData5 *d)
{
    s_ev_connect_failed(ctx, d ? s_code5(d, d->code) : MQTTASYNC_FAILURE, d ? d->message : NULL);
}

static void s_on_pub(void *ctx, MQTTAsync_successData *d)
{
    s_ev_pub_done(ctx);
}

static void s_on_pub5(void *ctx, MQTTAsync_successData5 *d)
{
    s_ev_pub_done(ctx);
}

static void s_on_pub_fail(void *ctx, MQTTAsync_failureData *d)
{
    s_ev_pub_failed(ctx, d ? d->code : -1);
}

static void s_on_pub_fail5(void *ctx, MQTTAsync_failureData5 *d)
{
    s_ev_pub_failed(ctx, d ? s_code5(d, d->code) : -1);
}

static void s_on_sub(void *ctx, MQTTAsync_successData *d)
{
    struct mqtt_link *l = ctx;
    int refused = 0;
    if (d && l->n_filters == 1) {
        refused = d->alt.qos == 0x80; /* one filter: alt.qos; 0x80 = refused */
    } else if (d && d->alt.qosList) {
        for (size_t i = 0; i < l->n_filters; i++) {
            refused += d->alt.qosList[i] == 0x80;
        }
    }
    s_ev_subscribed(l, refused);
}

static void s_on_sub5(void *ctx, MQTTAsync_successData5 *d)
{
    int refused = 0;
    if (d) {
        if (d->alt.sub.reasonCodeCount <= 1) {
            refused = (int)d->reasonCode >= 0x80;
        }
        for (int i = 0; d->alt.sub.reasonCodeCount > 1 && i < d->alt.sub.reasonCodeCount; i++) {
            refused += (int)d->alt.sub.reasonCodes[i] >= 0x80;
        }
    }
    s_ev_subscribed(ctx, refused);
}

static void s_on_sub_fail(void *ctx, MQTTAsync_failureData *d)
{
    s_ev_subscribe_failed(ctx, d ? s_sub_fail_rc(d->code) : -1, d ? d->message : NULL);
}

static void s_on_sub_fail5(void *ctx, MQTTAsync_failureData5 *d)
{
    s_ev_subscribe_failed(ctx, d ? s_code5(d, s_sub_fail_rc(d->code)) : -1, d ? d->message : NULL);
}

/* ---- set-up ---- */

/* A certificate property is a file path, or PEM text that we write into rundir: always a new
 * file of our own (O_EXCL | O_NOFOLLOW), and only while rundir is a directory nobody else may
 * write to, so no other user can swap the CA we trust. A file written by an earlier attempt is
 * used again while it is there; one removed with the runtime directory is written again.
 * Returns 0 or -errno with why filled. */
static int s_cert_file(struct mqtt_link *l, enum mqg_secret kind, const char *value,
                       const char **path, char *why, size_t cap)
{
    const char *rundir = l->rundir;
    *path = NULL;
    if (!value) {
        return 0;
    }
    if (!strstr(value, "-----BEGIN")) {
        *path = value;
        return 0;
    }
    if (l->files[kind]) {
        struct stat st;
        if (lstat(l->files[kind], &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
            *path = l->files[kind];
            return 0;
        }
        free(l->files[kind]);
        l->files[kind] = NULL;
    }
    char buf[1024];
    int rc = mqg_rundir_secret_path(rundir, kind, getpid(), buf, sizeof(buf));
    if (rc != 0) {
        snprintf(why, cap, "the path of a certificate file in %s is too long", rundir);
        return rc;
    }
    rc = mqg_rundir_check(rundir, NULL, why, cap);
    rc = rc ? rc : mqg_rundir_write_secret(buf, value, strlen(value), why, cap);
    if (rc != 0) {
        return rc;
    }
    l->files[kind] = strdup(buf);
    *path = l->files[kind];
    return l->files[kind] ? 0 : -ENOMEM;
}

int mqtt_link_new(const struct mqg_connection *c, const char *rundir, int max_inflight,
                  struct mqtt_link **out)
{
    bool tls = c->scheme == MQG_SCHEME_MQTTS || c->scheme == MQG_SCHEME_WSS;
    if (paho_load(tls, &P) != 0) {
        return -ENOENT;
    }
    struct mqtt_link *l = calloc(1, sizeof(*l));
    if (!l) {
        return -ENOMEM;
    }
    l->conn = c;
    l->version = c->protocol_version;
    l->max_inflight = max_inflight;
    snprintf(l->rundir, sizeof(l->rundir), "%s", rundir);
    int erc = link_evq_init(&l->evq);
    if (erc != 0) {
        free(l);
        return erc;
    }
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.sendWhileDisconnected = 0;
    /* paho refuses a publish while this many are queued inside it, also when connected
     * (default 100): the connector's own window (max_inflight) is the limit */
    co.maxBufferedMessages = max_inflight > 0 ? max_inflight : 1;
    if (l->version == 5) {
        co.MQTTVersion = MQTTVERSION_5;
    }
    int rc = P.create(&l->client, c->uri, c->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("LINK-CREATE", "cannot create MQTT client for %s: %s", c->uri, P.strerror_(rc));
        link_evq_free(&l->evq);
        free(l);
        return -EINVAL;
    }
    /* paho formats and keeps its own trace of every packet otherwise (seen in profiles) */
    P.setTraceLevel(getenv("MQG_PAHO_TRACE") ? MQTTASYNC_TRACE_PROTOCOL : MQTTASYNC_TRACE_ERROR);
    P.setCallbacks(l->client, l, s_on_lost, s_on_message, NULL);
    s_link = l;
    *out = l;
    return 0;
}

void mqtt_link_set_model(struct mqtt_link *l, const struct mqg_model *m)
{
    (void)l;
    (void)m;
}

void mqtt_link_on_arrive(struct mqtt_link *l, mqtt_link_arrive_fn *fn, void *ctx)
{
    l->arrive = fn;
    l->arrive_ctx = ctx;
}

void mqtt_link_destroy(struct mqtt_link **pl, int timeout_ms)
{
    if (!pl || !*pl) {
        return;
    }
    struct mqtt_link *l = *pl;
    if (P.isConnected(l->client)) {
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
        d.timeout = timeout_ms;
        if (P.disconnect(l->client, &d) == MQTTASYNC_SUCCESS) {
            for (int i = 0; i < timeout_ms / 10 && P.isConnected(l->client); i++) {
                usleep(10000);
            }
        }
    }
    P.destroy(&l->client);
    s_link = NULL;
    for (int i = 0; i < MQG_SECRET_COUNT; i++) {
        if (l->files[i]) {
            unlink(l->files[i]);
            free(l->files[i]);
        }
    }
    if (l->filters) {
        for (size_t i = 0; l->filters[i]; i++) {
            free(l->filters[i]);
        }
        free(l->filters);
    }
    free(l->qos);
    free(l->opts);
    link_evq_free(&l->evq);
    free(l);
    *pl = NULL;
}

int mqtt_link_fd(const struct mqtt_link *l)
{
    return l->evq.efd;
}

struct link_ev *mqtt_link_take(struct mqtt_link *l)
{
    return link_evq_take(&l->evq);
}

/* The TLS options of the link's connection into *ssl, after writing the certificate files
 * given inline (s_cert_file). Returns 0, or -EIO when one cannot be written (logged). */
static int s_tls_options(struct mqtt_link *l, MQTTAsync_SSLOptions *ssl)
{
    const struct mqg_connection *c = l->conn;
    const char *ca = NULL, *cert = NULL, *key = NULL;
    char why[1024] = "";
    if (s_cert_file(l, MQG_SECRET_CA, c->ca_cert, &ca, why, sizeof(why)) != 0 ||
        (c->mutual_auth &&
         (s_cert_file(l, MQG_SECRET_CERT, c->client_cert, &cert, why, sizeof(why)) != 0 ||
          s_cert_file(l, MQG_SECRET_KEY, c->client_key, &key, why, sizeof(why)) != 0))) {
        log_error("TLS-FILES", "cannot write certificate files into %s: %s", l->rundir, why);
        return -EIO;
    }
    ssl->trustStore = ca;
    if (c->mutual_auth) {
        ssl->keyStore = cert;
        ssl->privateKey = key;
    }
    ssl->enableServerCertAuth = c->trust_all ? 0 : 1;
    ssl->verify = c->trust_all ? 0 : 1;
    return 0;
}

int mqtt_link_connect(struct mqtt_link *l)
{
    const struct mqg_connection *c = l->conn;
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions o5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_connectOptions *opt = l->version == 5 ? &o5 : &o;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;

    MQTTProperties props = MQTTProperties_initializer;
    if (l->version == 5) {
        opt->cleanstart = c->clean;
        opt->onSuccess5 = s_on_connect5;
        opt->onFailure5 = s_on_connect_fail5;
        if (!c->clean) {
            /* MQTT 5 ends a session at disconnect unless it is given a lifetime: keep it as
             * long as the broker allows, like an MQTT 3 persistent session */
            MQTTProperty expiry = {.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL,
                                   .value.integer4 = 0xFFFFFFFFu};
            P.props_add(&props, &expiry);
            opt->connectProperties = &props;
        }
    } else {
        opt->cleansession = c->clean;
        opt->MQTTVersion = l->version == 3 ? MQTTVERSION_3_1 : MQTTVERSION_3_1_1;
        opt->onSuccess = s_on_connect;
        opt->onFailure = s_on_connect_fail;
    }
    opt->context = l;
    opt->keepAliveInterval = c->keepalive_s;
    opt->connectTimeout = c->connect_timeout_ms > 0 ? (c->connect_timeout_ms + 999) / 1000 : 30;
    opt->maxInflight = l->max_inflight;
    opt->automaticReconnect = 0;
    opt->username = c->username;
    opt->password = c->password;
    if (c->will.set) {
        will.topicName = c->will.topic;
        will.message = c->will.payload ? c->will.payload : "";
        will.qos = c->will.qos;
        will.retained = c->will.retain;
        opt->will = &will;
    }
    if (c->scheme == MQG_SCHEME_MQTTS || c->scheme == MQG_SCHEME_WSS) {
        if (s_tls_options(l, &ssl) != 0) {
            /* a file that could not be written is tried again at the next attempt */
            s_push_simple(l, LEV_CONNECT_FAILED, MQTTASYNC_FAILURE, 0,
                          "cannot write certificate files");
            P.props_free(&props);
            return -EIO;
        }
        opt->ssl = &ssl;
    }
    int rc = P.connect(l->client, opt);
    P.props_free(&props);
    if (rc != MQTTASYNC_SUCCESS) {
        log_debug("LINK-CONNECT", "MQTTAsync_connect: %s", P.strerror_(rc));
        s_push_simple(l, LEV_CONNECT_FAILED, rc, 0, P.strerror_(rc));
        return -EIO;
    }
    return 0;
}

/* The internal broker: what this client publishes there must not come back to it (MQTT 5
 * No Local on every filter), or it would be routed a second time. paho (1.3.12,
 * MQTTAsync_subscribeMany) reads subscribeOptionsList only for more than one filter and
 * subscribeOptions for a single one: both are set. false when out of memory. */
static bool s_no_local(struct mqtt_link *l, size_t n, MQTTAsync_responseOptions *ro)
{
    if (!l->opts) {
        l->opts = calloc(n, sizeof(*l->opts));
        if (!l->opts) {
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            l->opts[i] = (MQTTSubscribe_options)MQTTSubscribe_options_initializer;
            l->opts[i].noLocal = 1;
        }
    }
    ro->subscribeOptionsCount = (int)n;
    ro->subscribeOptionsList = l->opts;
    ro->subscribeOptions = l->opts[0];
    return true;
}

int mqtt_link_subscribe(struct mqtt_link *l, const struct mqg_sub *subs, size_t n)
{
    if (n == 0) {
        s_push_simple(l, LEV_SUB_OK, 0, 0, NULL);
        return 0;
    }
    if (!l->filters) {
        l->filters = calloc(n + 1, sizeof(*l->filters));
        l->qos = calloc(n, sizeof(*l->qos));
        if (!l->filters || !l->qos) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            l->filters[i] = strdup(subs[i].filter);
            l->qos[i] = subs[i].qos;
            if (!l->filters[i]) {
                return -ENOMEM;
            }
        }
        l->n_filters = n;
    }
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = l;
    if (l->version == 5) {
        ro.onSuccess5 = s_on_sub5;
        ro.onFailure5 = s_on_sub_fail5;
        if (l->conn->internal_broker && !s_no_local(l, n, &ro)) {
            return -ENOMEM;
        }
    } else {
        ro.onSuccess = s_on_sub;
        ro.onFailure = s_on_sub_fail;
    }
    int rc = P.subscribeMany(l->client, (int)n, l->filters, l->qos, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        s_push_simple(l, LEV_SUB_FAIL, rc, 0, P.strerror_(rc));
        return -EIO;
    }
    return 0;
}

int mqtt_link_publish(struct mqtt_link *l, const char *topic, const void *payload, size_t len,
                      int qos, bool retain, uint64_t tag, bool notify)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    m.payload = (void *)payload;
    m.payloadlen = (int)len;
    m.qos = qos;
    m.retained = retain;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = (void *)(uintptr_t)tag;
    if (qos > 0 || notify) {
        if (l->version == 5) {
            ro.onSuccess5 = s_on_pub5;
            ro.onFailure5 = s_on_pub_fail5;
        } else {
            ro.onSuccess = s_on_pub;
            ro.onFailure = s_on_pub_fail;
        }
    }
    int rc = P.sendMessage(l->client, topic, &m, &ro);
    switch (rc) {
    case MQTTASYNC_SUCCESS:
        return 0;
    case MQTTASYNC_DISCONNECTED:
        return -ENOTCONN;
    case MQTTASYNC_MAX_MESSAGES_INFLIGHT:
    case MQTTASYNC_MAX_BUFFERED_MESSAGES:
    case MQTTASYNC_NO_MORE_MSGIDS:
        return -EAGAIN;
    default:
        log_debug("LINK-PUBLISH", "MQTTAsync_sendMessage: %s", P.strerror_(rc));
        return -EIO;
    }
}

void mqtt_link_drops(const struct mqtt_link *l, struct link_drops *d)
{
    (void)l;
    memset(d, 0, sizeof(*d)); /* a broker link drops nothing itself */
}

size_t mqtt_link_rule_stats(struct mqtt_link *l, struct link_rule_row *out, size_t cap)
{
    (void)l;
    (void)out;
    (void)cap;
    return 0; /* a broker link runs no rules */
}

int64_t mqtt_link_pingresps(const struct mqtt_link *l)
{
    (void)l;
    return P.pingresps ? (int64_t)P.pingresps() : -1;
}

const char *mqtt_link_strerror(int rc)
{
    switch (rc) {
    case 1:
        return "refused: unacceptable protocol version";
    case 2:
        return "refused: client identifier rejected";
    case 3:
        return "refused: server unavailable";
    case 4:
        return "refused: bad user name or password";
    case 5:
        return "refused: not authorized";
    case 0x86:
        return "refused: bad user name or password";
    case 0x87:
        return "refused: not authorized";
    case 0x84:
        return "refused: unsupported protocol version";
    case 0x85:
        return "refused: client identifier not valid";
    case 0x88:
        return "refused: server unavailable";
    default:
        break;
    }
    if (rc < 0) {
        const char *s = P.strerror_(rc);
        return s ? s : "connection failed";
    }
    return rc >= 0x80 ? "refused by the broker" : "connection failed";
}
