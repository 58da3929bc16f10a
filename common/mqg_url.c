/* mqg_url — broker addresses: schemes, default ports, host names, broker URLs and paho's URI.
 *
 * Used by the commissioning loader (mqg_svc_conn.c) and tested alone (tests/unit/test_url.c).
 * A url is checked in a fixed order (scheme, user info, brackets, host, port, path) so that the
 * first fault is the one reported. No I/O, no global state.
 */
#include "mqg_url.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqg_text.h"

struct s_scheme_name {
    const char *name;
    enum mqg_scheme scheme;
};

static const struct s_scheme_name s_schemes[] = {
    {"mqtt", MQG_SCHEME_MQTT}, {"tcp", MQG_SCHEME_MQTT},  {"mqtts", MQG_SCHEME_MQTTS},
    {"tls", MQG_SCHEME_MQTTS}, {"ssl", MQG_SCHEME_MQTTS}, {"ws", MQG_SCHEME_WS},
    {"wss", MQG_SCHEME_WSS},   {NULL, MQG_SCHEME_MQTT},
};

/* host[:port] of a url: where each part starts and its length (port NULL: not given). */
struct s_authority {
    const char *host;
    size_t hlen;
    const char *port;
    size_t plen;
};

bool mqg_url_scheme(const char *s, size_t len, bool allow_ssl, enum mqg_scheme *out)
{
    for (const struct s_scheme_name *p = s_schemes; p->name; p++) {
        if (strlen(p->name) == len && strncasecmp(p->name, s, len) == 0) {
            if (!allow_ssl && strcmp(p->name, "ssl") == 0) {
                return false;
            }
            *out = p->scheme;
            return true;
        }
    }
    return false;
}

int mqg_url_default_port(enum mqg_scheme s)
{
    switch (s) {
    case MQG_SCHEME_MQTTS:
        return 8883;
    case MQG_SCHEME_WS:
        return 80;
    case MQG_SCHEME_WSS:
        return 443;
    default:
        return 1883;
    }
}

bool mqg_url_valid_host(const char *h)
{
    if (!h[0] || strlen(h) > 253) {
        return false;
    }
    for (; *h; h++) {
        unsigned char ch = (unsigned char)*h;
        if (ch <= ' ' || ch == '/' || ch == '@' || ch == '[' || ch == ']' || ch == '?' ||
            ch == '#' || ch == 0x7f) {
            return false;
        }
    }
    return true;
}

/* Split auth[0..alen) (between "://" and the path) into host and port. */
static int s_authority(const char *url, const char *auth, size_t alen, struct s_authority *a,
                       char *why, size_t cap)
{
    const char *end = auth + alen;
    *a = (struct s_authority){.host = auth, .hlen = alen};
    if (memchr(auth, '@', alen)) {
        return mqg_text_why(
            why, cap,
            "credentials in the url are not supported; expected username and password "
            "as their own properties");
    }
    if (alen > 0 && auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close) {
            return mqg_text_why(why, cap, "unterminated '[' in url '%s'; expected [IPv6]:port",
                                url);
        }
        a->host = auth + 1;
        a->hlen = (size_t)(close - a->host);
        if (close + 1 < end) {
            if (close[1] != ':') {
                return mqg_text_why(why, cap, "cannot use url '%s'; expected [IPv6]:port", url);
            }
            a->port = close + 2;
            a->plen = (size_t)(end - a->port);
        }
        return 0;
    }
    const char *colon = memchr(auth, ':', alen);
    if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
        return mqg_text_why(
            why, cap, "cannot use url '%s'; expected an IPv6 address in brackets ([::1])", url);
    }
    if (colon) {
        a->hlen = (size_t)(colon - auth);
        a->port = colon + 1;
        a->plen = (size_t)(end - a->port);
    }
    return 0;
}

/* A port as written in a url: 1..7 digits, no sign or blank, value 1..65535. */
static bool s_port(const char *s, size_t len, int *out)
{
    long p = 0;
    if (len == 0 || len > 7) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        p = p * 10 + (s[i] - '0');
    }
    if (p < 1 || p > 65535) {
        return false;
    }
    *out = (int)p;
    return true;
}

/* Host, port and path of the url, whose scheme is already in u->scheme. */
static int s_parse_rest(const char *url, const char *auth, struct mqg_url *u, char *why, size_t cap)
{
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    struct s_authority a;
    int rc = s_authority(url, auth, alen, &a, why, cap);
    if (rc < 0) {
        return rc;
    }
    u->host = strndup(a.host, a.hlen);
    if (!u->host) {
        return -ENOMEM;
    }
    if (!mqg_url_valid_host(u->host)) {
        return mqg_text_why(
            why, cap, "cannot use url '%s': invalid host; expected scheme://host[:port]", url);
    }
    u->port = mqg_url_default_port(u->scheme);
    if (a.port && !s_port(a.port, a.plen, &u->port)) {
        return mqg_text_why(why, cap, "cannot use url '%s': invalid port; expected 1..65535", url);
    }
    if (rest[0] && strcmp(rest, "/") != 0) {
        if (u->scheme != MQG_SCHEME_WS && u->scheme != MQG_SCHEME_WSS) {
            return mqg_text_why(
                why, cap, "url '%s' has a path; expected a path only with ws:// or wss://", url);
        }
        u->path = strdup(rest);
        if (!u->path) {
            return -ENOMEM;
        }
    }
    return 0;
}

int mqg_url_parse(const char *url, struct mqg_url *out, char *why, size_t cap)
{
    memset(out, 0, sizeof(*out));
    const char *sep = strstr(url, "://");
    if (!sep || !mqg_url_scheme(url, (size_t)(sep - url), true, &out->scheme)) {
        return mqg_text_why(
            why, cap,
            "cannot use url '%s'; expected mqtt://, mqtts://, tcp://, ssl://, tls://, "
            "ws:// or wss:// followed by host[:port]",
            url);
    }
    int rc = s_parse_rest(url, sep + 3, out, why, cap);
    if (rc < 0) {
        mqg_url_clear(out);
    }
    return rc;
}

void mqg_url_clear(struct mqg_url *u)
{
    if (!u) {
        return;
    }
    free(u->host);
    free(u->path);
    memset(u, 0, sizeof(*u));
}

char *mqg_url_uri(enum mqg_scheme scheme, const char *host, int port, const char *path)
{
    static const char *const prefix[] = {"tcp", "ssl", "ws", "wss"};
    bool v6 = strchr(host, ':') != NULL;
    char *uri = NULL;
    if (asprintf(&uri, "%s://%s%s%s:%d%s", prefix[scheme], v6 ? "[" : "", host, v6 ? "]" : "", port,
                 path ? path : "") < 0) {
        return NULL;
    }
    return uri;
}
