/* mqg_ibroker — the internal broker's settings, connection and mosquitto.conf (see
 * mqg_ibroker.h).
 *
 * The connection is an ordinary one in the model (one more connector, same code); what makes
 * it the internal broker is its flag internal_broker, which the router and the subscription builder
 * read: internal targets are published there too, and what arrives from it is routed as
 * internal (mqg_route.c, mqg_subs.c). mosquitto.conf is text built here, tested alone
 * (tests/unit/test_ibroker.c).
 */
#include "mqg_ibroker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mqg_url.h"

/* The internal connector reconnects quickly: the broker is on this machine (or close), and
 * after a restart of the embedded one data should flow again at once. */
#define S_RECONNECT_MS 250
#define S_RECONNECT_MAX_MS 5000

static void s_free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

int mqg_ibroker_defaults(struct mqg_ib_settings *ib)
{
    memset(ib, 0, sizeof(*ib));
    ib->mode = MQG_IB_EMBEDDED;
    ib->listen_host = strdup(MQG_IB_DEFAULT_HOST);
    ib->listen_port = MQG_IB_DEFAULT_PORT;
    ib->mosquitto = strdup("mosquitto");
    if (!ib->listen_host || !ib->mosquitto) {
        mqg_ibroker_free(ib);
        return -ENOMEM;
    }
    return 0;
}

void mqg_ibroker_free(struct mqg_ib_settings *ib)
{
    if (!ib) {
        return;
    }
    free(ib->listen_host);
    free(ib->mosquitto);
    free(ib->password_file);
    for (size_t i = 0; i < ib->n_listeners; i++) {
        struct mqg_ib_listener *l = &ib->listeners[i];
        free(l->host);
        free(l->cafile);
        free(l->certfile);
        free(l->keyfile);
    }
    free(ib->listeners);
    free(ib->url);
    free(ib->username);
    s_free_secret(ib->password);
    free(ib->ca_cert);
    free(ib->client_cert);
    s_free_secret(ib->client_key);
    memset(ib, 0, sizeof(*ib));
}

static const char *const s_modes[] = {
    [MQG_IB_EMBEDDED] = "embedded",
    [MQG_IB_EXTERNAL] = "external",
    [MQG_IB_OFF] = "off",
};

int mqg_ibroker_mode_parse(const char *text)
{
    for (size_t i = 0; text && i < sizeof(s_modes) / sizeof(s_modes[0]); i++) {
        if (strcmp(text, s_modes[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *mqg_ibroker_mode_name(enum mqg_ib_mode mode)
{
    return (unsigned)mode < sizeof(s_modes) / sizeof(s_modes[0]) ? s_modes[mode] : "?";
}

int mqg_ibroker_parse_listen(const char *text, char **host, int *port, char *why, size_t cap)
{
    const char *colon = strrchr(text, ':');
    const char *h = text;
    size_t hlen = colon ? (size_t)(colon - text) : 0;
    if (text[0] == '[') { /* [v6]:port */
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            snprintf(why, cap, "expected \"[ADDRESS]:PORT\" for an IPv6 address, got \"%s\"", text);
            return -EINVAL;
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else if (colon && memchr(text, ':', hlen)) {
        snprintf(why, cap, "expected \"HOST:PORT\" (an IPv6 address in brackets), got \"%s\"",
                 text);
        return -EINVAL;
    }
    char *end = NULL;
    long p = colon && colon[1] >= '0' && colon[1] <= '9' ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || hlen == 0 || !end || *end || p < 1 || p > 65535) {
        snprintf(why, cap, "expected \"HOST:PORT\" with a port of 1..65535, got \"%s\"", text);
        return -EINVAL;
    }
    char *copy = strndup(h, hlen);
    if (!copy) {
        return -ENOMEM;
    }
    if (!mqg_url_valid_host(copy)) {
        snprintf(why, cap, "invalid host \"%s\"; expected an address or a host name", copy);
        free(copy);
        return -EINVAL;
    }
    *host = copy;
    *port = (int)p;
    return 0;
}

const char *mqg_ibroker_connect_host(const char *host)
{
    if (strcmp(host, "0.0.0.0") == 0) {
        return "127.0.0.1";
    }
    if (strcmp(host, "::") == 0) {
        return "::1";
    }
    return host;
}

/* *dst = a heap copy of src (NULL stays NULL). 0 or -ENOMEM. */
static int s_dup(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? -ENOMEM : 0;
}

/* The address of the connection: the loopback listener, or the external url. */
static int s_address(struct mqg_connection *c, const struct mqg_ib_settings *ib, char *why,
                     size_t cap)
{
    if (ib->mode == MQG_IB_EMBEDDED) {
        c->scheme = MQG_SCHEME_MQTT;
        c->port = ib->listen_port;
        if (s_dup(&c->host, mqg_ibroker_connect_host(ib->listen_host)) != 0) {
            return -ENOMEM;
        }
        c->uri = mqg_url_uri(c->scheme, c->host, c->port, NULL);
        return c->uri ? 0 : -ENOMEM;
    }
    struct mqg_url u;
    int rc = mqg_url_parse(ib->url ? ib->url : "", &u, why, cap);
    if (rc != 0) {
        return rc;
    }
    c->scheme = u.scheme;
    c->port = u.port;
    c->host = u.host;
    u.host = NULL;
    c->uri = mqg_url_uri(c->scheme, c->host, c->port, u.path);
    mqg_url_clear(&u);
    return c->uri ? 0 : -ENOMEM;
}

/* Everything of the connection but its address. */
static int s_fill(struct mqg_connection *c, const struct mqg_ib_settings *ib)
{
    c->clean = true;
    c->keepalive_s = 60;
    c->connect_timeout_ms = 30000;
    c->reconnect_period_ms = S_RECONNECT_MS;
    c->reconnect_max_ms = S_RECONNECT_MAX_MS;
    c->protocol_version = 5; /* No Local needs MQTT 5 */
    c->internal_broker = true;
    c->target_connected = true;
    c->trust_all = ib->trust_all;
    c->mutual_auth = ib->client_cert != NULL;
    c->buffer_window_ms = 10000;
    c->max_buffered = 20000;
    c->client_id_derived = true; /* made unique per machine and instance (mqg_clientid) */
    bool ext = ib->mode == MQG_IB_EXTERNAL;
    if (s_dup(&c->service_id, MQG_IB_SERVICE) || s_dup(&c->id, MQG_IB_ID) ||
        s_dup(&c->key, MQG_IB_KEY) || s_dup(&c->client_id, MQG_IB_SERVICE "-" MQG_IB_ID) ||
        s_dup(&c->username, ib->username) || s_dup(&c->password, ib->password) ||
        s_dup(&c->ca_cert, ext ? ib->ca_cert : NULL) ||
        s_dup(&c->client_cert, ext ? ib->client_cert : NULL) ||
        s_dup(&c->client_key, ext ? ib->client_key : NULL)) {
        return -ENOMEM;
    }
    if (!ext) {
        c->mutual_auth = false;
    }
    return 0;
}

int mqg_ibroker_add(struct mqg_model *m, const struct mqg_ib_settings *ib, char *why, size_t cap)
{
    if (ib->mode == MQG_IB_OFF) {
        return 0;
    }
    struct mqg_connection *grown = realloc(m->conns, (m->n_conns + 1) * sizeof(*grown));
    if (!grown) {
        return -ENOMEM;
    }
    m->conns = grown;
    struct mqg_connection *c = &m->conns[m->n_conns];
    memset(c, 0, sizeof(*c));
    m->n_conns++; /* freed with the model whatever happens below */
    int rc = s_address(c, ib, why, cap);
    return rc ? rc : s_fill(c, ib);
}

/* ---- mosquitto.conf ---- */

static void s_listener(FILE *f, const char *host, int port)
{
    fprintf(f, "listener %d %s\n", port, host);
}

char *mqg_ibroker_conf(const struct mqg_ib_settings *ib, const char *user)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        return NULL;
    }
    fprintf(f, "# mosquitto.conf of mqgate's internal broker: written by mqgate at every start\n"
               "# from the internal_broker settings (mqgate.cfg); changes here are lost.\n");
    if (user) {
        fprintf(f, "user %s\n", user);
    }
    fprintf(f, "per_listener_settings false\n");
    if (ib->password_file) {
        fprintf(f, "allow_anonymous false\npassword_file %s\n", ib->password_file);
    } else {
        fprintf(f, "allow_anonymous true\n");
    }
    fprintf(f, "persistence false\n"
               "log_dest stderr\n"
               "log_timestamp false\n"
               "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n");
    s_listener(f, ib->listen_host, ib->listen_port);
    for (size_t i = 0; i < ib->n_listeners; i++) {
        const struct mqg_ib_listener *l = &ib->listeners[i];
        s_listener(f, l->host, l->port);
        if (l->cafile) {
            fprintf(f, "cafile %s\n", l->cafile);
        }
        if (l->certfile) {
            fprintf(f, "certfile %s\nkeyfile %s\n", l->certfile, l->keyfile ? l->keyfile : "");
            fprintf(f, "require_certificate %s\n", l->require_certificate ? "true" : "false");
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- the machine ---- */

static bool s_executable(const char *path)
{
    return access(path, X_OK) == 0;
}

int mqg_ibroker_find_mosquitto(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/')) {
        snprintf(out, cap, "%s", name);
        return s_executable(out) ? 0 : -ENOENT;
    }
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/local/sbin", path ? path : "/usr/bin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        int n = snprintf(out, cap, "%s/%s", d[0] ? d : ".", name);
        if (n > 0 && (size_t)n < cap && s_executable(out)) {
            return 0;
        }
    }
    out[0] = '\0';
    return -ENOENT;
}

int mqg_ibroker_port_free(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        len = sizeof(*a6);
    } else {
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int rc = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}
